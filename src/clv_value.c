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

/* the checks of crm.clv's horizon-independent arguments */
void
clv_discount_args(double horizon, double rate, double period)
{
	double		steps;

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
}

/*
 * Discounted CLV over the horizon, period by period:
 *
 *   CLV = E[M] sum_{k=1}^{n} (E[Y(t_k)] - E[Y(t_{k-1})]) / (1 + d)^k,
 *   t_k = min(k * period, horizon), n = ceil(horizon / period),
 *
 * for a client with summary v = (frequency, recency, t) and mean repeat
 * spend m, transaction model parameters p and spend model parameters g
 * (all checked).  E[Y(t_k)] = P(alive) E[Y(t_k) | alive]: where the model
 * gives the two factors, P(alive) (and the logarithms it needs) is computed
 * once for the client, not once per period.
 */
double
clv_discounted_v(const ClvTransactionModel *model, const double *p,
				 const double *v, const double *g, double m, double horizon,
				 double rate, double period)
{
	double		spend,
				steps,
				total = 0,
				prev = 0,
				disc = 1,
				pa = 0;
	double		gv[3] = {v[0], m, 0};
	bool		split = model->p_alive != NULL && model->expected_alive != NULL;
	double		tks[CLV_MULTI_MAX],
				block[CLV_MULTI_MAX];
	int			k,
				n;

	steps = ceil(horizon / period - 1e-9);
	n = (int) Max(steps, 0);
	clv_validate_row(CLV_KIND_GAMMA, gv);
	spend = clv_gamma_spend_v(g, v[0], m);
	if (split && n > 0)
		pa = model->p_alive(p, v[0], v[1], v[2]);

	for (k = 1; k <= n; k++)
	{
		double		tk = Min(k * period, horizon);
		double		e;

		/* a block of periods' expectations at once, where the model can */
		if (split && model->expected_alive_multi && (k - 1) % CLV_MULTI_MAX == 0)
		{
			int			m = Min(CLV_MULTI_MAX, n - k + 1);
			int			i;

			for (i = 0; i < m; i++)
				tks[i] = Min((k + i) * period, horizon);
			model->expected_alive_multi(p, tks, m, v[0], v[2], block);
		}
		if (split && model->expected_alive_multi)
			e = block[(k - 1) % CLV_MULTI_MAX] * pa;
		else if (split)
			e = tk == 0 ? 0 : model->expected_alive(p, tk, v[0], v[2]) * pa;
		else
			e = model->expected(p, tk, v[0], v[1], v[2]);
		if (unlikely(!isfinite(e)))
			clv_finite(e, model->expected_label, model->arg_name, model->param_names, p, 4,
					   clv_summary_names, v, 3);
		disc /= (1 + rate);
		total += (e - prev) * disc;
		prev = e;
	}
	return clv_finite(spend * total, "CLV", "gamma_gamma_model", clv_gamma_names, g, 3,
					  clv_spend_names, gv, 2);
}

/*
 * crm.clv(transaction model, gamma_gamma_model, frequency, recency, t,
 * monetary, horizon, discount_rate, period); p and v hold the transaction
 * model's parameters and the summary, already checked.
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

	clv_model_params_cached(fcinfo, 1, 3, clv_gamma_names, "gamma_gamma_model", g);
	clv_discount_args(horizon, rate, period);
	return clv_discounted_v(model, p, v, g, m, horizon, rate, period);
}
