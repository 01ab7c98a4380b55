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

static double
clv_eval(int n, const double *theta, double *grad, ClvObjective fn,
		 void *arg, bool numeric_gradient)
{
	double		f;

	if (!numeric_gradient)
		f = fn(theta, grad, arg);
	else
	{
		double		t[CLV_MAXDIM];
		int			i;

		f = fn(theta, NULL, arg);
		memcpy(t, theta, sizeof(double) * n);
		for (i = 0; i < n; i++)
		{
			double		h = 1e-5;
			double		fp,
						fm;

			t[i] = theta[i] + h;
			fp = fn(t, NULL, arg);
			t[i] = theta[i] - h;
			fm = fn(t, NULL, arg);
			t[i] = theta[i];
			grad[i] = (fp - fm) / (2 * h);
		}
	}
	if (isnan(f))
		f = INFINITY;
	return f;
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
 * Error out when the objective is not finite at the starting point: the
 * data or the penalty make the fit meaningless from the start.
 */
void
clv_check_start(int n, const double *theta, ClvObjective fn, void *arg,
				const char *model)
{
	double		f = fn(theta, NULL, arg);

	if (!isfinite(f))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the %s log-likelihood is not finite at the starting point",
						model)));
}

void
clv_bfgs(int n, double *theta, ClvObjective fn, void *arg,
		 bool numeric_gradient, int maxiter, double gtol, ClvOptimResult *res)
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

	f = clv_eval(n, theta, g, fn, arg, numeric_gradient);
	res->converged = false;
	for (iter = 0; iter < maxiter; iter++)
	{
		double		gd = 0,
					dmax,
					step = 1.0;
		bool		accepted = false;
		int			tries;

		CHECK_FOR_INTERRUPTS();
		if (!isfinite(f) || clv_maxabs(n, theta) > CLV_MAX_LOGPARAM)
			break;
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

		for (tries = 0; tries < 60; tries++)
		{
			for (i = 0; i < n; i++)
				tn[i] = theta[i] + step * d[i];
			fnew = clv_eval(n, tn, gn, fn, arg, numeric_gradient);
			if (isfinite(fnew) && fnew <= f + 1e-4 * step * gd)
			{
				accepted = true;
				break;
			}
			step *= 0.5;
		}
		if (accepted && tries == 0)
		{
			/*
			 * The full step was accepted; while the slope along d is still
			 * steep (the curvature condition fails), try longer steps.
			 */
			int			grow;

			for (grow = 0; grow < 20; grow++)
			{
				double		t2[CLV_MAXDIM],
							g2[CLV_MAXDIM];
				double		f2,
							slope = 0;

				for (i = 0; i < n; i++)
					slope += gn[i] * d[i];
				if (slope >= 0.9 * gd || step * 2 * dmax > CLV_MAX_STEP)
					break;
				for (i = 0; i < n; i++)
					t2[i] = theta[i] + 2 * step * d[i];
				f2 = clv_eval(n, t2, g2, fn, arg, numeric_gradient);
				if (!(isfinite(f2) && f2 < fnew))
					break;
				step *= 2;
				fnew = f2;
				memcpy(tn, t2, sizeof(double) * n);
				memcpy(gn, g2, sizeof(double) * n);
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
			iter++;
			break;
		}
	}
	if (iter == maxiter && clv_maxabs(n, g) <= gtol)
		res->converged = true;
	res->fval = f;
	res->iterations = iter;
}
