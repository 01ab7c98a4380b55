/*-------------------------------------------------------------------------
 *
 * src/clv_value.c
 *
 * The discounted customer lifetime value, crm.clv: a transaction model's
 * expected purchases, period by period, times the Gamma-Gamma expected
 * spend, discounted.  The transaction models (src/clv_bgnbd.c,
 * src/clv_paretonbd.c) call clv_discounted with a description of
 * themselves (ClvTransactionModel, clv.h); this file calls the spend model
 * (src/clv_gammagamma.c) and nothing of theirs by name, so that the calls
 * go one way: model -> value -> spend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"

#include "clv.h"

/* the most periods a CLV sums */
#define CLV_MAX_STEPS	100000

const char *const clv_summary_names[3] = {"frequency", "recency", "t"};

double
clv_horizon(double t)
{
	if (!isfinite(t) || t < 0)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon %s is not a non-negative number", clv_fmt(t))));
	return t;
}

/*
 * Discounted CLV over the horizon, period by period:
 *
 *   CLV = E[M] sum_{k=1}^{n} (E[Y(t_k)] - E[Y(t_{k-1})]) / (1 + d)^k,
 *   t_k = min(k * period, horizon), n = ceil(horizon / period),
 *
 * the arguments being (transaction model, gamma_gamma_model, frequency,
 * recency, t, monetary, horizon, discount_rate, period); p and v hold the
 * transaction model's parameters and the summary, already checked.
 */
double
clv_discounted(FunctionCallInfo fcinfo, const ClvTransactionModel *model,
			   const double *p, const double *v)
{
	double		g[3];
	double		m = PG_GETARG_FLOAT8(5);
	double		horizon = clv_horizon(PG_GETARG_FLOAT8(6));
	double		rate = PG_GETARG_FLOAT8(7);
	double		period = PG_GETARG_FLOAT8(8);
	double		spend,
				steps,
				total = 0,
				prev = 0,
				disc = 1;
	double		gv[3] = {v[0], m, 0};
	int			k,
				n;

	clv_model_params(PG_GETARG_HEAPTUPLEHEADER(1), 3, clv_gamma_names,
					 "gamma_gamma_model", g);
	if (!isfinite(rate) || rate < 0)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("discount rate %s is not a non-negative number",
						clv_fmt(rate))));
	if (!isfinite(period) || period <= 0)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period %s is not a positive number", clv_fmt(period))));
	steps = ceil(horizon / period - 1e-9);
	if (steps > CLV_MAX_STEPS)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon %s is more than %d periods of %s",
						clv_fmt(horizon), CLV_MAX_STEPS, clv_fmt(period))));
	n = (int) Max(steps, 0);
	clv_validate_row(CLV_KIND_GAMMA, gv);
	spend = clv_gamma_spend_v(g, v[0], m);

	for (k = 1; k <= n; k++)
	{
		double		tk = Min(k * period, horizon);
		double		e = model->expected(p, tk, v[0], v[1], v[2]);

		clv_finite(e, model->expected_label, model->arg_name, model->param_names, p, 4,
				   clv_summary_names, v, 3);
		disc /= (1 + rate);
		total += (e - prev) * disc;
		prev = e;
	}
	return clv_finite(spend * total, "CLV", "gamma_gamma_model", clv_gamma_names, g, 3,
					  clv_spend_names, gv, 2);
}
