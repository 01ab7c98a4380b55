/*-------------------------------------------------------------------------
 *
 * src/clv_bgbb.c
 *
 * The BG/BB model (Fader, Hardie and Shang 2010, "Customer-base analysis
 * in a discrete-time noncontractual setting", Marketing Science 29(6)):
 * one transaction opportunity per period; while alive a client transacts
 * at each opportunity with probability p ~ Beta(alpha, beta) and, before
 * each opportunity, drops out with probability theta ~ Beta(gamma, delta).
 * A client's summary is x transactions in the n opportunities after the
 * first transaction, the last at opportunity t_x (0 when x = 0).
 *
 *   L = B(alpha+x, beta+n-x)/B(alpha,beta) B(gamma, delta+n)/B(gamma,delta)
 *     + sum_{i=0}^{n-t_x-1} B(alpha+x, beta+t_x-x+i)/B(alpha,beta)
 *                           B(gamma+1, delta+t_x+i)/B(gamma,delta)
 *
 * summed in logs; the terms of the sum follow each other by a ratio of two
 * factors, so a client costs O(n - t_x) logarithms, and the gradient is
 * carried along the same recurrence.
 *
 *   P(alive at n+1) = B(alpha+x, beta+n-x)/B(alpha,beta)
 *                     B(gamma, delta+n+1)/B(gamma,delta) / L
 *   E[X(n, n+n*)]   = B(alpha+x+1, beta+n-x)/B(alpha,beta) / L
 *                     sum_{k=1}^{n*} B(gamma, delta+n+k)/B(gamma,delta)
 *   E[X(n*)]        = alpha/(alpha+beta) sum_{k=1}^{n*} B(gamma, delta+k)/B(gamma,delta)
 *
 * (the sums as products of ratios, which have no singularity at gamma = 1,
 * unlike the paper's closed forms).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "clv.h"

PG_FUNCTION_INFO_V1(clv_bgbb_final);
PG_FUNCTION_INFO_V1(clv_bgbb_loglik);
PG_FUNCTION_INFO_V1(clv_bgbb_p_alive);
PG_FUNCTION_INFO_V1(clv_bgbb_expected);
PG_FUNCTION_INFO_V1(clv_bgbb_expected_new);

static const char *const bgbb_names[] = {"alpha", "beta", "gamma", "delta"};
static const char *const bgbb_summary_names[] = {"frequency", "recency", "periods"};

static double
bgbb_finite(double value, const char *what, const double *p, const double *v)
{
	return clv_finite(value, what, "bgbb_model", bgbb_names, p, 4,
					  bgbb_summary_names, v, v ? 3 : 0);
}

/*
 * Reject a summary BG/BB cannot have produced: whole numbers with
 * x <= t_x <= n, t_x = 0 exactly when x = 0, n at most
 * CLV_BGBB_MAX_PERIODS.
 */
void
clv_bgbb_validate_row(const double *v)
{
	double		x = v[0],
				tx = v[1],
				n = v[2];
	const char *problem = NULL;

	if (!isfinite(x) || x < 0 || x != floor(x) || x > CLV_MAX_FREQUENCY)
		problem = psprintf("frequency %s is not a non-negative whole number",
						   clv_fmt(x));
	else if (!isfinite(tx) || tx < 0 || tx != floor(tx))
		problem = psprintf("recency %s is not a non-negative whole number",
						   clv_fmt(tx));
	else if (!isfinite(n) || n < 0 || n != floor(n))
		problem = psprintf("periods %s is not a non-negative whole number",
						   clv_fmt(n));
	else if (n > CLV_BGBB_MAX_PERIODS)
		problem = psprintf("periods %s exceeds %s", clv_fmt(n),
						   clv_fmt(CLV_BGBB_MAX_PERIODS));
	else if (tx > n)
		problem = psprintf("recency %s exceeds periods %s", clv_fmt(tx),
						   clv_fmt(n));
	else if (x > tx)
		problem = psprintf("frequency %s exceeds recency %s", clv_fmt(x),
						   clv_fmt(tx));
	else if (x == 0 && tx != 0)
		problem = psprintf("recency %s is not 0 for a client without repeat purchases",
						   clv_fmt(tx));
	if (problem)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", problem),
				 errdetail("The client summary is frequency %s, recency %s, periods %s.",
						   clv_fmt(x), clv_fmt(tx), clv_fmt(n))));
}

/* a running log-sum-exp with the weighted sum of the terms' gradients */
typedef struct BgbbSum
{
	double		m;				/* largest log term so far */
	double		s;				/* sum of exp(term - m) */
	double		g[4];			/* sum of exp(term - m) * gradient */
} BgbbSum;

static void
bgbb_add(BgbbSum *acc, double l, const double *g)
{
	int			k;

	if (l > acc->m)
	{
		double		f = exp(acc->m - l);	/* 0 for the first term */

		acc->s = acc->s * f + 1;
		for (k = 0; k < 4; k++)
			acc->g[k] = acc->g[k] * f + (g ? g[k] : 0);
		acc->m = l;
	}
	else
	{
		double		e = exp(l - acc->m);

		acc->s += e;
		if (g)
			for (k = 0; k < 4; k++)
				acc->g[k] += e * g[k];
	}
}

/*
 * ln B(alpha+x, beta+n-x)/B(alpha,beta) + ln B(gamma, delta+n)/B(gamma,delta),
 * the log-probability of x transactions at n opportunities while alive
 * throughout, and its gradient.
 */
static double
bgbb_alive_term(const double *p, double x, double n, double *g)
{
	double		al = p[0],
				be = p[1],
				ga = p[2],
				de = p[3];

	if (g)
	{
		double		dab = clv_digamma_diff(al + be, n);
		double		dgd = clv_digamma_diff(ga + de, n);

		g[0] = clv_digamma_diff(al, x) - dab;
		g[1] = clv_digamma_diff(be, n - x) - dab;
		g[2] = -dgd;
		g[3] = clv_digamma_diff(de, n) - dgd;
	}
	return clv_lgamma_ratio(al, x) + clv_lgamma_ratio(be, n - x)
		- clv_lgamma_ratio(al + be, n)
		+ clv_lgamma_ratio(de, n) - clv_lgamma_ratio(ga + de, n);
}

/* one client's log-likelihood and, when g is not NULL, its gradient */
static double
bgbb_row(const double *p, double x, double tx, double n, double *g)
{
	double		al = p[0],
				be = p[1],
				ga = p[2],
				de = p[3];
	BgbbSum		acc = {-INFINITY, 0, {0, 0, 0, 0}};
	double		gt[4];
	double		l;
	int64		i,
				terms = (int64) (n - tx);
	int			k;

	l = bgbb_alive_term(p, x, n, g ? gt : NULL);
	bgbb_add(&acc, l, g ? gt : NULL);

	if (terms > 0)
	{
		/* i = 0: alive through opportunity t_x, gone before t_x + 1 */
		l = clv_lgamma_ratio(al, x) + clv_lgamma_ratio(be, tx - x)
			- clv_lgamma_ratio(al + be, tx)
			+ log(ga) + clv_lgamma_ratio(de, tx) - clv_lgamma_ratio(ga + de, tx + 1);
		if (g)
		{
			double		dab = clv_digamma_diff(al + be, tx);
			double		dgd = clv_digamma_diff(ga + de, tx + 1);

			gt[0] = clv_digamma_diff(al, x) - dab;
			gt[1] = clv_digamma_diff(be, tx - x) - dab;
			gt[2] = 1 / ga - dgd;
			gt[3] = clv_digamma_diff(de, tx) - dgd;
		}
		for (i = 0;; i++)
		{
			double		u = be + tx - x + i,
						v = al + be + tx + i,
						w = de + tx + i,
						z = ga + de + tx + i + 1;

			bgbb_add(&acc, l, g ? gt : NULL);
			if (i + 1 >= terms)
				break;
			/* term i+1 / term i = u/v * w/z */
			l += log(u / v) + log(w / z);
			if (g)
			{
				gt[0] -= 1 / v;
				gt[1] += 1 / u - 1 / v;
				gt[2] -= 1 / z;
				gt[3] += 1 / w - 1 / z;
			}
		}
	}
	if (g)
		for (k = 0; k < 4; k++)
			g[k] = acc.g[k] / acc.s;
	return acc.m + log(acc.s);
}

double
clv_bgbb_row_ll(const double *p, double x, double tx, double n)
{
	return bgbb_row(p, x, tx, n, NULL);
}

static double
bgbb_objective(const double *theta, double *grad, void *arg)
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

		sll += d->w[i] * bgbb_row(p, d->x[i], d->tx[i], d->T[i],
								  grad ? g : NULL);
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

Datum
clv_bgbb_final(PG_FUNCTION_ARGS)
{
	ClvFitState *st = clv_state_detoast(PG_GETARG_DATUM(0));
	ClvData		data;
	double		theta[4] = {0, 0, 0, 0};
	double		params[4];
	double		loglik = 0;
	bool		repeat = false;
	ClvOptimResult res;
	int			i;

	if (st->kind != CLV_KIND_BGBB)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot fit the bgbb model to a %s fit state",
						clv_kind_name(st->kind))));
	clv_state_to_data(st, &data);
	if (data.n == 0)
		PG_RETURN_NULL();
	for (i = 0; i < data.n; i++)
		if (data.x[i] > 0)
			repeat = true;
	if (!repeat &&
		!clv_unidentified("bgbb",
						  "cannot fit the bgbb model: no client made a repeat purchase",
						  psprintf("All %lld clients have frequency 0, which does not identify the model.",
								   (long long) st->nclients)))
		PG_RETURN_NULL();
	if (!clv_check_start(4, theta, bgbb_objective, &data, "bgbb"))
		PG_RETURN_NULL();
	clv_bfgs(4, theta, bgbb_objective, &data, 1000, 1e-9, &res);
	for (i = 0; i < 4; i++)
		params[i] = exp(theta[i]);
	for (i = 0; i < data.n; i++)
		loglik += data.w[i] * bgbb_row(params, data.x[i], data.tx[i], data.T[i],
									   NULL);
	if (!isfinite(loglik))
		res.converged = false;
	return clv_model_result(fcinfo, 4, params, loglik, st->nclients,
							res.iterations, res.converged);
}

/* the final function of crm.bgbb_fit_or_null */
CLV_FIT_OR_NULL(clv_bgbb_final)

static void
bgbb_args(FunctionCallInfo fcinfo, int first, double *p, double *v)
{
	int			i;

	clv_model_params(PG_GETARG_HEAPTUPLEHEADER(0), 4, bgbb_names,
					 "bgbb_model", p);
	for (i = 0; i < 3; i++)
		v[i] = PG_GETARG_FLOAT8(first + i);
	clv_bgbb_validate_row(v);
}

/* a horizon in whole periods */
static double
bgbb_horizon(double h)
{
	if (!isfinite(h) || h < 0 || h != floor(h) || h > CLV_BGBB_MAX_PERIODS)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("horizon %s is not a whole number of periods from 0 to %s",
						clv_fmt(h), clv_fmt(CLV_BGBB_MAX_PERIODS))));
	return h;
}

/*
 * sum_{k=1}^{h} B(gamma, delta+n+k)/B(gamma, delta+n): the expected number
 * of the next h opportunities at which a client alive at opportunity n is
 * still alive.
 */
static double
bgbb_alive_periods(const double *p, double n, double h)
{
	long double prod = 1,
				sum = 0;
	double		k;

	for (k = 0; k < h; k++)
	{
		prod *= (long double) (p[3] + n + k) / (long double) (p[2] + p[3] + n + k);
		sum += prod;
	}
	return (double) sum;
}

Datum
clv_bgbb_loglik(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];

	bgbb_args(fcinfo, 1, p, v);
	PG_RETURN_FLOAT8(bgbb_finite(bgbb_row(p, v[0], v[1], v[2], NULL),
								 "BG/BB log-likelihood", p, v));
}

/* P(alive at opportunity n+1 | x, t_x, n) */
Datum
clv_bgbb_p_alive(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];
	double		lp;

	bgbb_args(fcinfo, 1, p, v);
	lp = bgbb_alive_term(p, v[0], v[2], NULL)
		+ log((p[3] + v[2]) / (p[2] + p[3] + v[2]))
		- bgbb_row(p, v[0], v[1], v[2], NULL);
	PG_RETURN_FLOAT8(bgbb_finite(Min(exp(lp), 1.0), "BG/BB P(alive)", p, v));
}

/* crm.bgbb_expected_purchases(model, horizon, frequency, recency, periods) */
Datum
clv_bgbb_expected(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];
	double		h,
				lp;

	clv_model_params(PG_GETARG_HEAPTUPLEHEADER(0), 4, bgbb_names,
					 "bgbb_model", p);
	h = bgbb_horizon(PG_GETARG_FLOAT8(1));
	bgbb_args(fcinfo, 2, p, v);
	if (h == 0)
		PG_RETURN_FLOAT8(0);
	/* P(alive at n | data) E[p | data, alive] */
	lp = bgbb_alive_term(p, v[0], v[2], NULL)
		+ log((p[0] + v[0]) / (p[0] + p[1] + v[2]))
		- bgbb_row(p, v[0], v[1], v[2], NULL);
	PG_RETURN_FLOAT8(bgbb_finite(exp(lp) * bgbb_alive_periods(p, v[2], h),
								 "BG/BB expected purchases", p, v));
}

/* crm.bgbb_expected_purchases(model, horizon): a new client, E[X(n*)] */
Datum
clv_bgbb_expected_new(PG_FUNCTION_ARGS)
{
	double		p[4];
	double		h;

	clv_model_params(PG_GETARG_HEAPTUPLEHEADER(0), 4, bgbb_names,
					 "bgbb_model", p);
	h = bgbb_horizon(PG_GETARG_FLOAT8(1));
	PG_RETURN_FLOAT8(bgbb_finite(p[0] / (p[0] + p[1]) * bgbb_alive_periods(p, 0, h),
								 "BG/BB expected purchases", p, NULL));
}
