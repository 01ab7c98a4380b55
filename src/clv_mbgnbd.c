/*-------------------------------------------------------------------------
 *
 * src/clv_mbgnbd.c
 *
 * The MBG/NBD model (Batislam, Denizel and Filiztekin 2007, "Empirical
 * validation and comparison of models for customer base analysis",
 * International Journal of Research in Marketing 24(3); erratum Wagner and
 * Hoppe 2008): BG/NBD in which a client may also drop out right after the
 * first purchase, so that a client without repeat purchases is not
 * certainly alive.  The fit behind crm.mbgnbd_fit reads the BG/NBD state
 * (crm.clv_bgnbd_trans: the same summaries), then:
 *
 *   ll = lnG(r+x) - lnG(r) + r ln(alpha)
 *        + lnG(a+b) + lnG(b+x+1) - lnG(b) - lnG(a+b+x+1)
 *        + logsumexp(-(r+x) ln(alpha+T), ln(a/(b+x)) - (r+x) ln(alpha+t_x))
 *
 *   P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))
 *   E[Y(t) | x, t_x, T] = P(alive) * (the BG/NBD expectation given alive,
 *                          with b+1 for b)
 *
 * The fit runs in scaled time (the largest t becomes 1), as BG/NBD's does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "clv.h"

PG_FUNCTION_INFO_V1(clv_mbgnbd_final);
PG_FUNCTION_INFO_V1(clv_mbgnbd_loglik);
PG_FUNCTION_INFO_V1(clv_mbgnbd_p_alive);
PG_FUNCTION_INFO_V1(clv_mbgnbd_expected);
PG_FUNCTION_INFO_V1(clv_mbgnbd_expected_new);
PG_FUNCTION_INFO_V1(clv_mbgnbd_clv);

static const char *const mbgnbd_names[] = {"r", "alpha", "a", "b"};

static double
mbgnbd_finite(double value, const char *what, const double *p, const double *v)
{
	return clv_finite(value, what, "mbgnbd_model", mbgnbd_names, p, 4,
					  clv_summary_names, v, v ? 3 : 0);
}

/*
 * One client's log-likelihood and, when g is not NULL, its gradient in
 * (r, alpha, a, b).  The lnG and psi differences are taken without
 * cancellation (clv_lgamma_ratio, clv_digamma_diff).
 */
static double
mbgnbd_row(double r, double alpha, double a, double b,
		   double x, double tx, double T, double *g)
{
	double		rx = r + x;
	double		lT = log(alpha + T),
				lt = log(alpha + tx);
	double		c = clv_lgamma_ratio(r, x) + r * log(alpha)
		+ clv_lgamma_ratio(b, x + 1) - clv_lgamma_ratio(a + b, x + 1);
	double		t3 = -rx * lT;
	double		t4 = log(a) - log(b + x) - rx * lt;
	double		m = Max(t3, t4);
	double		e3 = exp(t3 - m),
				e4 = exp(t4 - m);
	double		w3 = e3 / (e3 + e4),
				w4 = e4 / (e3 + e4);

	if (g)
	{
		double		dab = clv_digamma_diff(a + b, x + 1);

		g[0] = clv_digamma_diff(r, x) + log(alpha) - w3 * lT - w4 * lt;
		g[1] = r / alpha - rx * (w3 / (alpha + T) + w4 / (alpha + tx));
		g[2] = -dab + w4 / a;
		g[3] = clv_digamma_diff(b, x + 1) - dab - w4 / (b + x);
	}
	return c + m + log(e3 + e4);
}

double
clv_mbgnbd_row_ll(double r, double alpha, double a, double b,
				  double x, double tx, double T)
{
	return mbgnbd_row(r, alpha, a, b, x, tx, T, NULL);
}

/* mean negative log-likelihood plus penalty at theta = ln(r, alpha, a, b) */
static double
mbgnbd_objective(const double *theta, double *grad, void *arg)
{
	ClvData    *d = (ClvData *) arg;
	double		p[4];
	double		sll = 0,
				sg[4] = {0, 0, 0, 0};
	int			i,
				k;

	for (k = 0; k < 4; k++)
		p[k] = exp(theta[k]);
	for (i = 0; i < d->n; i++)
	{
		double		g[4];

		sll += d->w[i] * mbgnbd_row(p[0], p[1], p[2], p[3], d->x[i], d->tx[i],
									d->T[i], grad ? g : NULL);
		if (grad)
			for (k = 0; k < 4; k++)
				sg[k] += d->w[i] * g[k];
	}
	if (grad)
		for (k = 0; k < 4; k++)
			grad[k] = -sg[k] * p[k] / d->wsum + 2 * d->penalty * p[k] * p[k];
	return -sll / d->wsum
		+ d->penalty * (p[0] * p[0] + p[1] * p[1] + p[2] * p[2] + p[3] * p[3]);
}

/*
 * The objective on the boundary a + b = CLV_BGNBD_KAPPA_CAP, at
 * theta = (ln r, ln alpha, logit q), a = q K, b = (1-q) K, as for BG/NBD
 * (src/clv_bgnbd.c): one drop-out probability for every client.
 */
static double
mbgnbd_objective_capped(const double *theta, double *grad, void *arg)
{
	double		lnk = log(CLV_BGNBD_KAPPA_CAP);
	double		q = 1 / (1 + exp(-theta[2])),
				q1 = 1 / (1 + exp(theta[2]));
	double		t4[4] = {theta[0], theta[1],
		lnk - log1p(exp(-theta[2])), lnk - log1p(exp(theta[2]))};
	double		g4[4];
	double		v = mbgnbd_objective(t4, grad ? g4 : NULL, arg);

	if (grad)
	{
		/* d ln a / d logit q = 1 - q, d ln b / d logit q = -q */
		grad[0] = g4[0];
		grad[1] = g4[1];
		grad[2] = g4[2] * q1 - g4[3] * q;
	}
	return v;
}

/* r beyond this: the rates have no spread left (as for BG/NBD) */
#define CLV_MBGNBD_R_EDGE		1.0e4

Datum
clv_mbgnbd_final(PG_FUNCTION_ARGS)
{
	ClvFitState *st = clv_state_detoast(PG_GETARG_DATUM(0));
	ClvData		data;
	double		scale;
	double		theta[4] = {0, 0, 0, 0};
	double		params[4];
	double		loglik = 0;
	ClvOptimResult res;
	int			i;

	if (st->kind != CLV_KIND_BGNBD)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit the mbgnbd model to a %s fit state",
						clv_kind_name(st->kind)),
				 errhint("The mbgnbd model reads a bgnbd fit state.")));
	scale = clv_scaled_time_data(st, &data, "mbgnbd");
	if (scale <= 0)
		PG_RETURN_NULL();
	if (!clv_check_start(4, theta, mbgnbd_objective, &data, "mbgnbd"))
		PG_RETURN_NULL();
	clv_bfgs(4, theta, mbgnbd_objective, &data, 1000, 1e-9, &res);
	for (i = 0; i < 4; i++)
		params[i] = exp(theta[i]);

	/*
	 * As BG/NBD's: a fit running towards a, b -> infinity (the drop-out
	 * probability the same for every client) is fitted again on the
	 * boundary a + b = CLV_BGNBD_KAPPA_CAP (clv_kappa_refit).  Without a
	 * penalty only (one keeps a and b finite).
	 */
	if (data.penalty == 0 && params[2] + params[3] > CLV_BGNBD_KAPPA_SWITCH)
		(void) clv_kappa_refit(theta, params, &res, mbgnbd_objective_capped, &data);
	/* r past 1e4: the rates' spread vanishing, not a maximum (as for BG/NBD) */
	if (params[0] > CLV_MBGNBD_R_EDGE && res.converged)
	{
		res.converged = false;
		clv_set_fit_why("r passed %g: the purchase rates' spread vanishes (r and alpha growing together) and the likelihood only flattens out towards that edge",
						CLV_MBGNBD_R_EDGE);
	}
	params[1] *= scale;
	for (i = 0; i < data.n; i++)
		loglik += data.w[i] * clv_mbgnbd_row_ll(params[0], params[1], params[2],
												params[3], data.x[i],
												data.tx[i] * scale,
												data.T[i] * scale);
	if (!isfinite(loglik))
		res.converged = false;
	return clv_model_result(fcinfo, 4, params, loglik, st->nclients,
							res.iterations, res.converged);
}

/* the final function of crm.mbgnbd_fit_or_null */
CLV_FIT_OR_NULL(clv_mbgnbd_final)

static void
mbgnbd_summary(FunctionCallInfo fcinfo, int first, double *v)
{
	int			i;

	for (i = 0; i < 3; i++)
		v[i] = PG_GETARG_FLOAT8(first + i);
	clv_validate_row(CLV_KIND_BGNBD, v);
}

static void
mbgnbd_params(FunctionCallInfo fcinfo, double *p)
{
	clv_model_params(PG_GETARG_HEAPTUPLEHEADER(0), 4, mbgnbd_names,
					 "mbgnbd_model", p);
}

Datum
clv_mbgnbd_loglik(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];

	mbgnbd_params(fcinfo, p);
	mbgnbd_summary(fcinfo, 1, v);
	PG_RETURN_FLOAT8(mbgnbd_finite(clv_mbgnbd_row_ll(p[0], p[1], p[2], p[3],
													 v[0], v[1], v[2]),
								   "MBG/NBD log-likelihood", p, v));
}

static double
mbgnbd_p_alive_v(const double *p, double x, double tx, double T)
{
	/* ln of the odds that the client is dead */
	double		lo = log(p[2]) - log(p[3] + x)
		+ (p[0] + x) * (log(p[1] + T) - log(p[1] + tx));

	return clv_logistic_neg(lo);
}

static double
mbgnbd_expected_v(const double *p, double t, double x, double tx, double T)
{
	double		q[4] = {p[0], p[1], p[2], p[3] + 1};

	if (t == 0)
		return 0;
	return clv_bgnbd_expected_alive_v(q, t, x, T) * mbgnbd_p_alive_v(p, x, tx, T);
}

static const ClvTransactionModel mbgnbd_model = {
	"MBG/NBD expected purchases", "mbgnbd_model", mbgnbd_names, mbgnbd_expected_v
};

Datum
clv_mbgnbd_p_alive(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];

	mbgnbd_params(fcinfo, p);
	mbgnbd_summary(fcinfo, 1, v);
	PG_RETURN_FLOAT8(mbgnbd_finite(mbgnbd_p_alive_v(p, v[0], v[1], v[2]),
								   "MBG/NBD P(alive)", p, v));
}

/* crm.mbgnbd_expected_purchases(model, horizon, frequency, recency, t) */
Datum
clv_mbgnbd_expected(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];
	double		t;

	mbgnbd_params(fcinfo, p);
	t = clv_horizon(PG_GETARG_FLOAT8(1));
	mbgnbd_summary(fcinfo, 2, v);
	PG_RETURN_FLOAT8(mbgnbd_finite(mbgnbd_expected_v(p, t, v[0], v[1], v[2]),
								   "MBG/NBD expected purchases", p, v));
}

/* crm.mbgnbd_expected_purchases(model, horizon): a new client, E[X(t)] */
Datum
clv_mbgnbd_expected_new(PG_FUNCTION_ARGS)
{
	double		p[4];
	double		t;

	mbgnbd_params(fcinfo, p);
	t = clv_horizon(PG_GETARG_FLOAT8(1));
	PG_RETURN_FLOAT8(mbgnbd_finite(mbgnbd_expected_v(p, t, 0, 0, 0),
								   "MBG/NBD expected purchases", p, NULL));
}

/*
 * crm.clv(mbgnbd_model, gamma_gamma_model, frequency, recency, t, monetary,
 *         horizon, discount_rate, period)
 */
Datum
clv_mbgnbd_clv(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];

	mbgnbd_params(fcinfo, p);
	mbgnbd_summary(fcinfo, 2, v);
	PG_RETURN_FLOAT8(clv_discounted(fcinfo, &mbgnbd_model, p, v));
}
