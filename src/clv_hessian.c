/*-------------------------------------------------------------------------
 *
 * src/clv_hessian.c
 *
 * The uncertainty of the CLV fits: the covariance of the fitted parameters
 * from the observed information (the Hessian of the negative
 * log-likelihood at the optimum, inverted), and the fitted model as the
 * composite the fits return, carrying the standard errors and the
 * covariance after the optimiser's figures.
 *
 * The Hessian is differentiated numerically from each model's analytic
 * gradient (central differences in the log-parameters), unless the model
 * hands over an analytic one (BG/NBD).  With theta = ln p and f the mean
 * objective,
 *
 *   d2f/dtheta_i dtheta_j = p_i p_j d2f/dp_i dp_j + [i = j] p_i df/dp_i
 *
 * so the Hessian in the natural parameters follows from the one in theta
 * exactly, at any point (the gradient term vanishes at an interior
 * optimum).  The information is the total one: the mean objective's
 * Hessian times the number of clients.  Its inverse (by Cholesky: a
 * matrix that is not positive definite gives no covariance) is the
 * asymptotic covariance of the estimates; a rate parameter fitted in
 * scaled time is scaled back with its variance.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "clv.h"

/*
 * Trigamma psi'(x) for x > 0: the recurrence psi'(x) = psi'(x+1) + 1/x^2 up
 * to x >= 10, then the asymptotic series.
 */
double
clv_trigamma(double x)
{
	double		acc = 0.0;
	double		x2;

	if (!(x > 0))
		return NAN;
	while (x < 10.0)
	{
		acc += 1.0 / (x * x);
		x += 1.0;
	}
	x2 = 1.0 / (x * x);
	return acc + 1.0 / x + x2 / 2
		+ x2 / x * (1.0 / 6 - x2 * (1.0 / 30 - x2 * (1.0 / 42 - x2 * (1.0 / 30 - x2 * (5.0 / 66)))));
}

/* relative step of the central differences of the gradient, in theta */
#define CLV_HESS_STEP	1e-5

/*
 * Invert the symmetric positive definite n x n matrix a (row major) into
 * inv by its Cholesky factor; false when a is not positive definite.
 */
bool
clv_spd_inverse(int n, const double *a, double *inv)
{
	double		L[CLV_MAXPARAMS * CLV_MAXPARAMS];
	double		Li[CLV_MAXPARAMS * CLV_MAXPARAMS];
	int			i,
				j,
				k;

	Assert(n <= CLV_MAXPARAMS);
	for (j = 0; j < n; j++)
	{
		double		d = a[j * n + j];

		for (k = 0; k < j; k++)
			d -= L[j * n + k] * L[j * n + k];
		if (!(d > 0) || !isfinite(d))
			return false;
		L[j * n + j] = sqrt(d);
		for (i = j + 1; i < n; i++)
		{
			double		s = a[i * n + j];

			for (k = 0; k < j; k++)
				s -= L[i * n + k] * L[j * n + k];
			L[i * n + j] = s / L[j * n + j];
		}
	}
	/* Li = L^-1, lower triangular */
	for (j = 0; j < n; j++)
	{
		for (i = 0; i < n; i++)
			Li[i * n + j] = 0;
		Li[j * n + j] = 1 / L[j * n + j];
		for (i = j + 1; i < n; i++)
		{
			double		s = 0;

			for (k = j; k < i; k++)
				s -= L[i * n + k] * Li[k * n + j];
			Li[i * n + j] = s / L[i * n + i];
		}
	}
	/* inv = Li' Li */
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
		{
			double		s = 0;

			for (k = Max(i, j); k < n; k++)
				s += Li[k * n + i] * Li[k * n + j];
			inv[i * n + j] = s;
			if (!isfinite(s))
				return false;
		}
	return true;
}

/*
 * The covariance of natural parameters from the Hessian of the mean
 * objective in theta (hth, row major) and its gradient in theta (g) at
 * theta: false when the information is not positive definite.  wsum is
 * the number of clients, unscale[i] the factor that takes parameter i
 * back to the caller's units (NULL: none).
 */
bool
clv_covariance_from_hessian(int n, const double *theta, const double *hth,
							const double *g, double wsum,
							const double *unscale, double *cov)
{
	double		info[CLV_MAXPARAMS * CLV_MAXPARAMS];
	double		p[CLV_MAXPARAMS];
	int			i,
				j;

	for (i = 0; i < n; i++)
		p[i] = exp(theta[i]);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++)
		{
			double		h = hth[i * n + j] - (i == j ? g[i] : 0);

			info[i * n + j] = wsum * h / (p[i] * p[j]);
		}
	if (!clv_spd_inverse(n, info, cov))
		return false;
	if (unscale)
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				cov[i * n + j] *= unscale[i] * unscale[j];
	return true;
}

/*
 * The covariance of the natural parameters at theta (an optimum of fn,
 * the mean objective in log-parameters), with the Hessian differentiated
 * numerically from fn's analytic gradient.
 */
bool
clv_covariance(int n, ClvObjective fn, void *arg, const double *theta,
			   double wsum, const double *unscale, double *cov)
{
	double		hth[CLV_MAXPARAMS * CLV_MAXPARAMS];
	double		g[CLV_MAXPARAMS];
	double		gp[CLV_MAXPARAMS],
				gm[CLV_MAXPARAMS];
	double		t[CLV_MAXPARAMS];
	int			i,
				j;

	Assert(n <= CLV_MAXPARAMS);
	if (!isfinite(fn(theta, g, arg)))
		return false;
	for (j = 0; j < n; j++)
	{
		memcpy(t, theta, sizeof(double) * n);
		t[j] = theta[j] + CLV_HESS_STEP;
		if (!isfinite(fn(t, gp, arg)))
			return false;
		t[j] = theta[j] - CLV_HESS_STEP;
		if (!isfinite(fn(t, gm, arg)))
			return false;
		for (i = 0; i < n; i++)
			hth[i * n + j] = (gp[i] - gm[i]) / (2 * CLV_HESS_STEP);
	}
	/* symmetric by construction in theory, by averaging in practice */
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
		{
			double		s = (hth[i * n + j] + hth[j * n + i]) / 2;

			hth[i * n + j] = hth[j * n + i] = s;
		}
	return clv_covariance_from_hessian(n, theta, hth, g, wsum, unscale, cov);
}

static Datum
clv_float8_array(const double *v, int n, bool matrix)
{
	Datum		elems[CLV_MAXPARAMS * CLV_MAXPARAMS];
	int			dims[2] = {n, n};
	int			lbs[2] = {1, 1};
	int			i;
	int			count = matrix ? n * n : n;

	for (i = 0; i < count; i++)
		elems[i] = Float8GetDatum(v[i]);
	return PointerGetDatum(construct_md_array(elems, NULL, matrix ? 2 : 1, dims,
											  lbs, FLOAT8OID, sizeof(float8),
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * The fitted model as the composite the function returns: the parameters,
 * then loglik, n, iterations, converged, and, where the type has them,
 * std_errors and covariance (null when cov is NULL: no positive definite
 * information, a fit that did not converge or ended on a boundary).
 */
Datum
clv_model_result_cov(FunctionCallInfo fcinfo, int nparams, const double *params,
					 const double *cov, double loglik, int64 n, int iterations,
					 bool converged)
{
	TupleDesc	tupdesc;
	Datum		values[CLV_MAXPARAMS + 6];
	bool		nulls[CLV_MAXPARAMS + 6] = {false};
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (tupdesc->natts != nparams + 4 && tupdesc->natts != nparams + 6)
		elog(ERROR, "unexpected model type with %d attributes", tupdesc->natts);
	Assert(nparams <= CLV_MAXPARAMS);

	/* refuses a model that is not finite, or, in a fit_or_null, one that did not converge */
	if (!clv_model_check(fcinfo, tupdesc, nparams, params, loglik, iterations,
						 converged))
		return (Datum) 0;
	if (!converged && !clv_fit_soft)
		clv_notice_not_converged(tupdesc, iterations);

	for (i = 0; i < nparams; i++)
		values[i] = Float8GetDatum(params[i]);
	values[nparams] = Float8GetDatum(loglik);
	values[nparams + 1] = Int64GetDatum(n);
	values[nparams + 2] = Int32GetDatum(iterations);
	values[nparams + 3] = BoolGetDatum(converged);
	if (tupdesc->natts == nparams + 6)
	{
		if (cov && converged)
		{
			double		se[CLV_MAXPARAMS];

			for (i = 0; i < nparams; i++)
				se[i] = sqrt(cov[i * nparams + i]);
			values[nparams + 4] = clv_float8_array(se, nparams, false);
			values[nparams + 5] = clv_float8_array(cov, nparams, true);
		}
		else
			nulls[nparams + 4] = nulls[nparams + 5] = true;
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}
