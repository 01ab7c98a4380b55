/*-------------------------------------------------------------------------
 *
 * src/clv_optim.c
 *
 * The optimiser of the CLV fits: BFGS (Nocedal and Wright, Numerical
 * Optimization, algorithm 6.1) on the logarithms of the parameters, with a
 * backtracking line search under the Armijo condition.  The gradient is the
 * model's analytic one, or central differences where the model has none.
 *
 * A fit has converged when the largest gradient component of the mean
 * negative log-likelihood (in log-parameters) is at most gtol, or when the
 * objective stops decreasing measurably (the limit of double precision)
 * while that component is at most 1e-6.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "clv.h"

#define CLV_MAXDIM			4
#define CLV_MAX_STEP		4.0		/* largest change of a log-parameter per step */
#define CLV_MAX_LOGPARAM	30.0	/* beyond e^30 a parameter has run away */
#define CLV_STALL_GTOL		1e-6	/* gradient small enough when f stalls */

/* the objective and its gradient, +infinity for NaN */
static double
clv_eval(const double *theta, double *grad, ClvObjective fn, void *arg)
{
	double		f = fn(theta, grad, arg);

	return isnan(f) ? INFINITY : f;
}

/* the objective alone, +infinity for NaN */
static double
clv_value(const double *theta, ClvObjective fn, void *arg)
{
	double		f = fn(theta, NULL, arg);

	return isnan(f) ? INFINITY : f;
}

static double
clv_maxabs(int n, const double *v)
{
	double		m = 0;
	int			i;

	for (i = 0; i < n; i++)
		m = Max(m, fabs(v[i]));
	return m;
}

/*
 * Whether the objective is finite at the starting point; when not, the data
 * or the penalty make the fit meaningless from the start: an error, or in
 * a fit_or_null aggregate a notice and false.
 */
bool
clv_check_start(int n, const double *theta, ClvObjective fn, void *arg,
				const char *model)
{
	double		f = fn(theta, NULL, arg);

	if (isfinite(f))
		return true;
	return clv_unidentified(model,
							psprintf("the %s log-likelihood is not finite at the starting point",
									 model),
							NULL);
}

void
clv_bfgs(int n, double *theta, ClvObjective fn, void *arg,
		 int maxiter, double gtol, ClvOptimResult *res)
{
	double		H[CLV_MAXDIM][CLV_MAXDIM];
	double		g[CLV_MAXDIM],
				gn[CLV_MAXDIM],
				d[CLV_MAXDIM],
				tn[CLV_MAXDIM],
				s[CLV_MAXDIM],
				y[CLV_MAXDIM];
	double		f,
				fnew = 0;
	bool		identity = true;
	bool		first = true;
	int			stalled = 0;
	int			iter;
	int			i,
				j;

	Assert(n <= CLV_MAXDIM);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
			H[i][j] = (i == j) ? 1.0 : 0.0;

	f = clv_eval(theta, g, fn, arg);
	res->converged = false;
	clv_fit_why = NULL;
	for (iter = 0; iter < maxiter; iter++)
	{
		double		gd = 0,
					dmax,
					step = 1.0;
		bool		accepted = false;
		int			tries;

		CHECK_FOR_INTERRUPTS();
		if (!isfinite(f))
		{
			clv_set_fit_why("the log-likelihood is not finite at the last point");
			break;
		}
		if (clv_maxabs(n, theta) > CLV_MAX_LOGPARAM)
		{
			clv_set_fit_why("a parameter ran past e^%g (in the fit's scaled units): the likelihood keeps rising towards the edge of the parameter space",
							CLV_MAX_LOGPARAM);
			break;
		}
		if (clv_maxabs(n, g) <= gtol)
		{
			res->converged = true;
			break;
		}

		for (i = 0; i < n; i++)
		{
			d[i] = 0;
			for (j = 0; j < n; j++)
				d[i] -= H[i][j] * g[j];
			gd += g[i] * d[i];
		}
		if (!(gd < 0))
		{
			/* not a descent direction: restart from steepest descent */
			for (i = 0; i < n; i++)
			{
				for (j = 0; j < n; j++)
					H[i][j] = (i == j) ? 1.0 : 0.0;
				d[i] = -g[i];
			}
			gd = 0;
			for (i = 0; i < n; i++)
				gd += g[i] * d[i];
			identity = true;
		}
		dmax = clv_maxabs(n, d);
		if (dmax > CLV_MAX_STEP)
			step = CLV_MAX_STEP / dmax;

		/* trial points need the objective only */
		for (tries = 0; tries < 60; tries++)
		{
			for (i = 0; i < n; i++)
				tn[i] = theta[i] + step * d[i];
			fnew = clv_value(tn, fn, arg);
			if (isfinite(fnew) && fnew <= f + 1e-4 * step * gd)
			{
				accepted = true;
				break;
			}
			step *= 0.5;
		}
		if (accepted)
		{
			fnew = clv_eval(tn, gn, fn, arg);
			if (tries == 0)
			{
				/*
				 * The full step was accepted.  While the slope along d is
				 * still steep there (the curvature condition fails), try
				 * longer steps as long as they lower the objective.
				 */
				double		slope = 0;
				bool		grown = false;
				int			grow;

				for (i = 0; i < n; i++)
					slope += gn[i] * d[i];
				for (grow = 0; grow < 20 && slope < 0.9 * gd; grow++)
				{
					double		t2[CLV_MAXDIM];
					double		f2;

					if (step * 2 * dmax > CLV_MAX_STEP)
						break;
					for (i = 0; i < n; i++)
						t2[i] = theta[i] + 2 * step * d[i];
					f2 = clv_value(t2, fn, arg);
					if (!(isfinite(f2) && f2 < fnew))
						break;
					step *= 2;
					fnew = f2;
					memcpy(tn, t2, sizeof(double) * n);
					grown = true;
				}
				if (grown)
					fnew = clv_eval(tn, gn, fn, arg);
			}
			/* the objective refused the point (a work budget ran out) */
			if (!isfinite(fnew))
			{
				clv_set_fit_why("the log-likelihood could not be evaluated at the next point");
				break;
			}
		}
		if (!accepted)
		{
			if (!identity)
			{
				/* retry once along steepest descent */
				for (i = 0; i < n; i++)
					for (j = 0; j < n; j++)
						H[i][j] = (i == j) ? 1.0 : 0.0;
				identity = true;
				continue;
			}
			/* no further decrease possible in double precision */
			if (clv_maxabs(n, g) <= CLV_STALL_GTOL)
				res->converged = true;
			else
				clv_set_fit_why("no step lowers the objective any more, with the gradient still at %.3g (above %g)",
								clv_maxabs(n, g), CLV_STALL_GTOL);
			break;
		}

		for (i = 0; i < n; i++)
		{
			s[i] = tn[i] - theta[i];
			y[i] = gn[i] - g[i];
		}
		{
			double		sy = 0,
						yy = 0;

			for (i = 0; i < n; i++)
			{
				sy += s[i] * y[i];
				yy += y[i] * y[i];
			}
			if (sy > 1e-12 * sqrt(yy) * clv_maxabs(n, s))
			{
				double		rho = 1.0 / sy;
				double		Hy[CLV_MAXDIM];
				double		yHy = 0;

				if (first)
				{
					/* scale the first approximation (Nocedal-Wright 6.20) */
					for (i = 0; i < n; i++)
						H[i][i] = sy / yy;
					first = false;
				}
				for (i = 0; i < n; i++)
				{
					Hy[i] = 0;
					for (j = 0; j < n; j++)
						Hy[i] += H[i][j] * y[j];
					yHy += y[i] * Hy[i];
				}
				/* H += rho^2 (yHy + sy) s s' - rho (Hy s' + s Hy') */
				for (i = 0; i < n; i++)
					for (j = 0; j < n; j++)
						H[i][j] += rho * rho * (yHy + sy) * s[i] * s[j]
							- rho * (Hy[i] * s[j] + s[i] * Hy[j]);
				identity = false;
			}
		}
		/* no measurable progress: the limit of double precision */
		if (f - fnew <= 1e-15 * fabs(f))
			stalled++;
		else
			stalled = 0;
		memcpy(theta, tn, sizeof(double) * n);
		memcpy(g, gn, sizeof(double) * n);
		f = fnew;
		if (stalled >= 3)
		{
			res->converged = clv_maxabs(n, g) <= CLV_STALL_GTOL;
			if (!res->converged)
				clv_set_fit_why("the objective stopped decreasing in double precision, with the gradient still at %.3g (above %g)",
								clv_maxabs(n, g), CLV_STALL_GTOL);
			iter++;
			break;
		}
	}
	if (iter == maxiter && clv_maxabs(n, g) <= gtol)
		res->converged = true;
	else if (iter == maxiter)
		clv_set_fit_why("the iteration limit %d was reached, with the gradient at %.3g",
						maxiter, clv_maxabs(n, g));
	res->fval = f;
	res->iterations = iter;
}

/*
 * The boundary refit of the BG/NBD and MBG/NBD fits.  A fit running towards
 * a, b -> infinity (the Beta distribution of the drop-out probability
 * collapsing to a point) has no interior maximum in that direction: the
 * likelihood keeps rising ever more slowly.  The model is fitted again on
 * the boundary a + b = CLV_BGNBD_KAPPA_CAP, where it equals its limit (one
 * drop-out probability for every client) to within about 1/a, by the
 * objective capped at theta = (ln r, ln alpha, logit q), a = q K,
 * b = (1-q) K, from the first fit's ln parameters theta (params their
 * values, res its result); the boundary fit is kept where it is better or
 * the first went beyond the boundary (a + b <= CLV_BGNBD_KAPPA_CAP is the
 * parameter space).  True when it is kept: params and res->converged are
 * then the boundary fit's.  The iterations of both count.
 */
bool
clv_kappa_refit(const double *theta, double *params, ClvOptimResult *res,
				ClvObjective capped, void *arg)
{
	double		theta2[3];
	double		q = params[2] / (params[2] + params[3]);
	ClvOptimResult res2;
	bool		kept = false;

	theta2[0] = theta[0];
	theta2[1] = theta[1];
	theta2[2] = log(q) - log1p(-q);
	if (!isfinite(theta2[2]))
		theta2[2] = q > 0.5 ? 30.0 : -30.0;
	clv_bfgs(3, theta2, capped, arg, 1000, 1e-9, &res2);
	/* a first point beyond the cap is outside the parameter space */
	if (isfinite(res2.fval) &&
		(params[2] + params[3] > CLV_BGNBD_KAPPA_CAP || !(res2.fval > res->fval)))
	{
		q = 1 / (1 + exp(-theta2[2]));
		params[0] = exp(theta2[0]);
		params[1] = exp(theta2[1]);
		params[2] = q * CLV_BGNBD_KAPPA_CAP;
		params[3] = CLV_BGNBD_KAPPA_CAP / (1 + exp(theta2[2]));
		res->converged = res2.converged;
		kept = true;
	}
	res->iterations += res2.iterations;
	return kept;
}

