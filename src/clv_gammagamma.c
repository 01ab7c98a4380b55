/*-------------------------------------------------------------------------
 *
 * src/clv_gammagamma.c
 *
 * The Gamma-Gamma model of spend per transaction (Fader, Hardie and Lee
 * 2005, "RFM and CLV: using iso-value curves for customer base analysis",
 * Journal of Marketing Research 42(4); Fader and Hardie 2013, "The
 * Gamma-Gamma model of monetary value"): the fit behind
 * crm.gamma_gamma_fit, the per-client log-likelihood and the expected spend
 * (which the discounted CLV of src/clv_value.c combines with a transaction
 * model).
 *
 * For a client with x > 0 repeat purchases of mean value m:
 *
 *   ll = lnG(px+q) - lnG(px) - lnG(q) + q ln v + (px-1) ln m + px ln x
 *        - (px+q) ln(v + x m)
 *   E[M | x, m] = p (v + x m) / (px + q - 1)
 *
 * The fit runs on spend scaled by its weighted mean (then v is scaled
 * back), with the analytic gradient.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "clv.h"

PG_FUNCTION_INFO_V1(clv_gamma_final);
PG_FUNCTION_INFO_V1(clv_gamma_loglik);
PG_FUNCTION_INFO_V1(clv_gamma_expected_spend);

const char *const clv_gamma_names[3] = {"p", "q", "v"};
const char *const clv_spend_names[2] = {"frequency", "monetary"};

double
clv_gamma_row_ll(double p, double q, double v, double x, double m)
{
	double		px = p * x;

	return lgamma(px + q) - lgamma(px) - lgamma(q) + q * log(v)
		+ (px - 1) * log(m) + px * log(x) - (px + q) * log(v + x * m);
}

static double
gamma_objective(const double *theta, double *grad, void *arg)
{
	ClvData    *d = (ClvData *) arg;
	double		p = exp(theta[0]),
				q = exp(theta[1]),
				v = exp(theta[2]);
	double		lgq = lgamma(q),
				lnv = log(v),
				psq = grad ? clv_digamma(q) : 0;
	double		sll = 0,
				gp = 0,
				gq = 0,
				gv = 0;
	double		lastx = -1,
				lgpxq = 0,
				lgpx = 0,
				pspxq = 0,
				pspx = 0,
				lnx = 0;
	int			i;

	/* rows are sorted by frequency: the lnG terms once per x */
	for (i = 0; i < d->n; i++)
	{
		double		x = d->x[i],
					m = d->tx[i],
					w = d->w[i];
		double		px = p * x;
		double		lnm = log(m),
					lvxm = log(v + x * m);

		if (x != lastx)
		{
			lgpxq = lgamma(px + q);
			lgpx = lgamma(px);
			lnx = log(x);
			if (grad)
			{
				pspxq = clv_digamma(px + q);
				pspx = clv_digamma(px);
			}
			lastx = x;
		}
		sll += w * (lgpxq - lgpx - lgq + q * lnv + (px - 1) * lnm + px * lnx
					- (px + q) * lvxm);
		if (grad)
		{
			gp += w * x * (pspxq - pspx + lnm + lnx - lvxm);
			gq += w * (pspxq - psq + lnv - lvxm);
			gv += w * (q / v - (px + q) / (v + x * m));
		}
	}
	if (grad)
	{
		double		pen2 = 2 * d->penalty;

		grad[0] = -gp * p / d->wsum + pen2 * p * p;
		grad[1] = -gq * q / d->wsum + pen2 * q * q;
		grad[2] = -gv * v / d->wsum + pen2 * v * v;
	}
	return -sll / d->wsum + d->penalty * (p * p + q * q + v * v);
}

Datum
clv_gamma_final(PG_FUNCTION_ARGS)
{
	ClvFitState *st = clv_state_detoast(PG_GETARG_DATUM(0));
	ClvData		data;
	double		scale = 0;
	double		theta[3] = {0, 0, 0};
	double		params[3];
	double		loglik = 0;
	double		cov[9];
	bool		have_cov = false;
	bool		spread = false;
	ClvOptimResult res;
	int			i;

	clv_state_to_data(st, &data);
	if (data.n == 0)
	{
		clv_unidentified("gamma_gamma",
						 "cannot fit the gamma_gamma model: no client made a repeat purchase",
						 "The model uses only clients with frequency above 0.");
		PG_RETURN_NULL();
	}
	for (i = 0; i < data.n; i++)
	{
		scale += data.w[i] * data.tx[i];
		if (data.tx[i] != data.tx[0])
			spread = true;
	}
	if (!spread)
	{
		clv_unidentified("gamma_gamma",
						 psprintf("cannot fit the gamma_gamma model: every repeat buyer has monetary %s",
								  clv_fmt(data.tx[0])),
						 "Spend without any spread does not identify the model.");
		PG_RETURN_NULL();
	}
	scale /= data.wsum;

	/* scaled money; the rows come sorted by (x, m), as the objective wants */
	for (i = 0; i < data.n; i++)
		data.tx[i] /= scale;

	if (!clv_check_start(3, theta, gamma_objective, &data, "gamma_gamma"))
		PG_RETURN_NULL();
	clv_bfgs(3, theta, gamma_objective, &data, 1000, 1e-9, &res);

	for (i = 0; i < 3; i++)
		params[i] = exp(theta[i]);
	if (res.converged)
	{
		double		unscale[3] = {1, 1, scale};

		have_cov = clv_covariance(3, gamma_objective, &data, theta, data.wsum,
								  unscale, cov);
	}
	params[2] *= scale;
	for (i = 0; i < data.n; i++)
		loglik += data.w[i] * clv_gamma_row_ll(params[0], params[1], params[2],
											   data.x[i], data.tx[i] * scale);
	if (!isfinite(loglik) && res.converged)
	{
		res.converged = false;
		clv_set_fit_why("the log-likelihood is not finite at the estimate");
	}
	return clv_model_result_cov(fcinfo, 3, params, have_cov ? cov : NULL,
								loglik, st->nclients, res.iterations,
								res.converged);
}

Datum
clv_gamma_loglik(PG_FUNCTION_ARGS)
{
	double		p[3],
				v[3] = {0, 0, 0};

	clv_model_params_cached(fcinfo, 0, 3, clv_gamma_names,
					 "gamma_gamma_model", p);
	v[0] = PG_GETARG_FLOAT8(1);
	v[1] = PG_GETARG_FLOAT8(2);
	clv_validate_row(CLV_KIND_GAMMA, v);
	if (v[0] == 0)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the gamma_gamma log-likelihood needs frequency above 0")));
	PG_RETURN_FLOAT8(clv_finite(clv_gamma_row_ll(p[0], p[1], p[2], v[0], v[1]),
								"Gamma-Gamma log-likelihood", "gamma_gamma_model",
								clv_gamma_names, p, 3, clv_spend_names, v, 2));
}

/*
 * E[M | x, m] = p (v + x m) / (px + q - 1); for x = 0 the population mean
 * p v / (q - 1), which exists only when q > 1.
 */
double
clv_gamma_spend_v(const double *p, double x, double m)
{
	double		den = p[0] * x + p[1] - 1;

	if (x == 0)
		m = 0;
	if (!(den > 0))
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected spend is infinite: gamma_gamma_model q %s with frequency %s",
						clv_fmt(p[1]), clv_fmt(x)),
				 errdetail("The expected spend p (v + x m) / (p x + q - 1) needs p x + q > 1.")));
	return clv_finite(p[0] * (p[2] + x * m) / den, "Gamma-Gamma expected spend",
					  "gamma_gamma_model", clv_gamma_names, p, 3, clv_spend_names,
					  (const double[]) {x, m}, 2);
}

Datum
clv_gamma_expected_spend(PG_FUNCTION_ARGS)
{
	double		p[3],
				v[3] = {0, 0, 0};

	clv_model_params_cached(fcinfo, 0, 3, clv_gamma_names,
					 "gamma_gamma_model", p);
	v[0] = PG_GETARG_FLOAT8(1);
	v[1] = PG_GETARG_FLOAT8(2);
	clv_validate_row(CLV_KIND_GAMMA, v);
	PG_RETURN_FLOAT8(clv_gamma_spend_v(p, v[0], v[1]));
}

/* the final function of crm.gamma_gamma_fit_or_null */
CLV_FIT_OR_NULL(clv_gamma_final)
