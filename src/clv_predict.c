/*-------------------------------------------------------------------------
 *
 * src/clv_predict.c
 *
 * Per-client predictions at scan speed and their uncertainty:
 *
 * - clv_model_params_cached: the parameters of a model argument decoded and
 *   checked once per query (per call site), not once per row.  The decoded
 *   parameters are kept in fn_extra with a copy of the model's bytes; a row
 *   whose model has the same bytes (every row, in the usual query that
 *   joins the clients to one fitted model) reuses them after a memcmp.
 * - crm.bgnbd_probability_of_purchases, crm.pareto_nbd_probability_of_purchases:
 *   P(exactly n purchases in (T, T+t] | x, t_x, T).
 * - the *_interval functions: a prediction with its standard error and a
 *   confidence interval by the delta method, from the covariance of the
 *   fitted parameters (src/clv_hessian.c).
 *
 * BG/NBD, P(Y(t) = n | x, t_x, T).  A client alive at T has, a posteriori,
 * lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x), independent.  From T
 * on, purchases come as a Poisson process; after each the client drops out
 * with probability p.  With K ~ NB the purchases in t had the client
 * stayed and G the purchase after which the client leaves, Y = min(K, G):
 *
 *   P(Y = n | alive) = E[(1-p)^n] P(K = n)
 *                    + [n > 0] E[p (1-p)^(n-1)] P(K >= n)
 *   E[(1-p)^n]       = B(a, b+x+n) / B(a, b+x)
 *   E[p (1-p)^(n-1)] = B(a+1, b+x+n-1) / B(a, b+x)
 *   P(K = j)         = G(r+x+j) / (G(r+x) j!) (A/(A+t))^(r+x) (t/(A+t))^j,  A = alpha+T
 *
 * and P(Y = n) = [n = 0] (1 - P(alive)) + P(alive) P(Y = n | alive): for
 * x = T = 0 the paper's eq. 8 (a new client).
 *
 * Pareto/NBD.  A client alive at T has lambda ~ Gamma(r+x, alpha+T) and a
 * drop-out rate mu ~ Gamma(s, beta+T); the remaining lifetime tau is
 * exponential(mu), so it exceeds t with probability (B/(B+t))^s, B = beta+T,
 * and has density s B^s (B+u)^(-s-1) below; given tau the purchases are
 * NB(r+x, A) over min(tau, t):
 *
 *   P(Y = n | alive) = (B/(B+t))^s NB(n; t) + int_0^t s B^s (B+u)^(-s-1) NB(n; u) du
 *
 * The integral is taken by composite Gauss-Legendre quadrature in
 * v = u/(A+u) (where NB(n; u) is a Beta-shaped v^n (1-v)^(r+x)), the
 * panels doubled until two successive sums agree to 1e-13.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "clv.h"

/* ---------------------------------------------------------------------
 * Model arguments decoded once per query
 * ---------------------------------------------------------------------
 */

/* one model argument's decoded form, kept in fn_extra */
typedef struct ClvModelCache
{
	char	   *bytes;			/* a copy of the composite's bytes */
	Size		len;
	Size		alloc;
	int			nparams;
	double		p[CLV_MAXPARAMS];
	bool		has_cov;		/* the model carries a covariance */
	double		cov[CLV_MAXPARAMS * CLV_MAXPARAMS];
} ClvModelCache;

#define CLV_CACHE_ARGS	2		/* model arguments per function: at most two */

static const char *const clv_gamma_param_names[3] = {"p", "q", "v"};

/*
 * The covariance field of a model (attribute nparams + 6), when the type
 * has it and it is not null: a nparams x nparams float8 matrix, or an
 * error.
 */
static bool
clv_decode_covariance(HeapTupleHeader model, int nparams, const char *typname,
					  double *cov)
{
	bool		isnull;
	Datum		d;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;

	if (HeapTupleHeaderGetNatts(model) < nparams + 6)
		return false;
	d = GetAttributeByNum(model, nparams + 6, &isnull);
	if (isnull)
		return false;
	arr = DatumGetArrayTypeP(d);
	if (ARR_NDIM(arr) != 2 || ARR_DIMS(arr)[0] != nparams ||
		ARR_DIMS(arr)[1] != nparams || ARR_ELEMTYPE(arr) != FLOAT8OID)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s covariance is not a %d x %d matrix", typname,
						nparams, nparams)));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &nelems);
	for (i = 0; i < nelems; i++)
	{
		if (nulls[i])
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s covariance has a null element", typname)));
		cov[i] = DatumGetFloat8(elems[i]);
		if (!isfinite(cov[i]))
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s covariance element %s is not finite", typname,
							clv_fmt(cov[i]))));
	}
	for (i = 0; i < nparams; i++)
		if (cov[i * nparams + i] < 0)
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s covariance has a negative variance %s", typname,
							clv_fmt(cov[i * nparams + i]))));
	return true;
}

/*
 * The decoded model argument argno: from the cache when its bytes are the
 * ones decoded last time at this call site, else decoded (every parameter
 * checked: finite and positive, 22023 otherwise) and cached.
 */
static ClvModelCache *
clv_model_cache_key(FunctionCallInfo fcinfo, int argno, int nparams,
					const char *const *names, const char *typname,
					bool need_cov)
{
	HeapTupleHeader model = PG_GETARG_HEAPTUPLEHEADER(argno);
	Size		len = HeapTupleHeaderGetDatumLength(model);
	ClvModelCache *c;

	Assert(argno < CLV_CACHE_ARGS && nparams <= CLV_MAXPARAMS);
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
								   sizeof(ClvModelCache) * CLV_CACHE_ARGS);
	c = &((ClvModelCache *) fcinfo->flinfo->fn_extra)[argno];

	/*
	 * The key: the whole composite where the covariance is used, else its
	 * header (null bitmap included) and the parameters that come first, all
	 * a prediction reads.
	 */
	if (!need_cov)
	{
		Size		key = Min(len, (Size) model->t_hoff + sizeof(float8) * nparams);

		if (c->len >= key && c->nparams == nparams &&
			memcmp(c->bytes, model, key) == 0)
			return c;
	}
	else if (c->len == len && c->nparams == nparams &&
			 memcmp(c->bytes, model, len) == 0)
		return c;

	/* decode and check first: a bad model leaves the cache as it was */
	{
		double		p[CLV_MAXPARAMS];
		double		cov[CLV_MAXPARAMS * CLV_MAXPARAMS];
		bool		has_cov;

		clv_model_params(model, nparams, names, typname, p);
		has_cov = clv_decode_covariance(model, nparams, typname, cov);
		if (c->alloc < len)
		{
			if (c->bytes)
				pfree(c->bytes);
			c->bytes = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, len);
			c->alloc = len;
		}
		memcpy(c->bytes, model, len);
		c->len = len;
		c->nparams = nparams;
		memcpy(c->p, p, sizeof(double) * nparams);
		c->has_cov = has_cov;
		if (has_cov)
			memcpy(c->cov, cov, sizeof(double) * nparams * nparams);
	}
	return c;
}

static ClvModelCache *
clv_model_cache(FunctionCallInfo fcinfo, int argno, int nparams,
				const char *const *names, const char *typname)
{
	return clv_model_cache_key(fcinfo, argno, nparams, names, typname, true);
}

void
clv_model_params_cached(FunctionCallInfo fcinfo, int argno, int nparams,
						const char *const *names, const char *typname,
						double *out)
{
	ClvModelCache *c = clv_model_cache_key(fcinfo, argno, nparams, names,
										   typname, false);

	memcpy(out, c->p, sizeof(double) * nparams);
}

/* ---------------------------------------------------------------------
 * P(exactly n purchases)
 * ---------------------------------------------------------------------
 */

static const char *const bg_names[4] = {"r", "alpha", "a", "b"};
static const char *const pn_names[4] = {"r", "alpha", "s", "beta"};

/* the number of purchases n of the probability functions: a whole number >= 0 */
static double
clv_count_arg(int32 n)
{
	if (n < 0)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of purchases %d is negative", n)));
	return (double) n;
}

/*
 * ln P(K = j) for K ~ NB: ln G(R+j) - ln G(R) - ln j! + R lq + j lp, with
 * lq = ln(A/(A+t)), lp = ln(t/(A+t)).
 */
static double
clv_log_nb(double R, double j, double lq, double lp)
{
	return clv_lgamma_ratio(R, j) - lgamma(j + 1) + R * lq + (j > 0 ? j * lp : 0);
}

/*
 * P(K >= n): beyond the mean R t/A (q = t/(A+t) = e^lp) the tail itself,
 * summed upwards from n until its terms no longer count; below it
 * 1 - sum_{j<n} P(K = j).  Either way no small tail is the difference of
 * two numbers near 1.  Summed in long double.
 */
static double
clv_nb_tail(double R, double n, double lq, double lp)
{
	long double sum = 0;
	long double term;
	long double q = expl((long double) lp);
	double		j;

	if (n <= 0)
		return 1;
	if (n > R * q / (1 - q))
	{
		term = expl((long double) clv_log_nb(R, n, lq, lp));
		for (j = n; term > sum * 1e-20L; j++)
		{
			sum += term;
			term *= ((long double) R + j) / (j + 1) * q;
			if ((((int64) j) & 0xFFFF) == 0xFFFF)
				CHECK_FOR_INTERRUPTS();
		}
		return Min((double) sum, 1.0);
	}
	term = expl((long double) R * lq);
	for (j = 0; j < n; j++)
	{
		if (term == 0 && j == 0)
			break;
		sum += term;
		term *= ((long double) R + j) / (j + 1) * q;
		if ((((int64) j) & 0xFFFF) == 0xFFFF)
			CHECK_FOR_INTERRUPTS();
	}
	if (term == 0 && sum == 0)
	{
		/* (A/(A+t))^R below the long double range: term by term in logs */
		for (j = 0; j < n; j++)
			sum += expl((long double) clv_log_nb(R, j, lq, lp));
	}
	return sum >= 1 ? 0 : (double) (1 - sum);
}

/* BG/NBD P(Y(t) = n | x, t_x, T) */
double
clv_bgnbd_pmf_v(const double *p, double n, double t, double x, double tx, double T)
{
	double		r = p[0],
				alpha = p[1],
				a = p[2],
				b = p[3];
	double		pa,
				R = r + x,
				A = alpha + T,
				B = b + x,
				lq,
				lp,
				given;

	if (t == 0)
		return n == 0 ? 1 : 0;
	pa = clv_bgnbd_p_alive_v(p, x, tx, T);
	lq = -log1p(t / A);
	lp = -log1p(A / t);
	/* E[(1-p)^n] P(K = n) */
	given = exp(clv_lgamma_ratio(B, n) - clv_lgamma_ratio(a + B, n)
				+ clv_log_nb(R, n, lq, lp));
	/* E[p (1-p)^(n-1)] P(K >= n) */
	if (n > 0)
		given += a / (a + B + n - 1)
			* exp(clv_lgamma_ratio(B, n - 1) - clv_lgamma_ratio(a + B, n - 1))
			* clv_nb_tail(R, n, lq, lp);
	return (n == 0 ? 1 - pa : 0) + pa * given;
}

/* Gauss-Legendre nodes and weights on [-1, 1], computed once */
#define CLV_GL_POINTS	20
static double clv_gl_x[CLV_GL_POINTS];
static double clv_gl_w[CLV_GL_POINTS];
static bool clv_gl_ready = false;

static void
clv_gl_init(void)
{
	int			i,
				k,
				it;
	int			m = CLV_GL_POINTS;

	for (i = 0; i < m; i++)
	{
		/* Newton on P_m from the Chebyshev-like guess */
		double		x = cos(M_PI * (i + 0.75) / (m + 0.5));
		double		dp = 1;

		for (it = 0; it < 100; it++)
		{
			double		p0 = 1,
						p1 = x,
						dx;

			for (k = 2; k <= m; k++)
			{
				double		p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;

				p0 = p1;
				p1 = p2;
			}
			/* p1 = P_m(x), p0 = P_(m-1)(x) */
			dp = m * (x * p1 - p0) / (x * x - 1);
			dx = p1 / dp;
			x -= dx;
			if (fabs(dx) < 1e-16)
				break;
		}
		clv_gl_x[i] = x;
		clv_gl_w[i] = 2 / ((1 - x * x) * dp * dp);
	}
	clv_gl_ready = true;
}

/* the Pareto/NBD integrand in v = u/(A+u), in logs */
typedef struct PnbdPmf
{
	double		R,
				A,
				S,
				B,
				n,
				lc;				/* ln G(R+n) - ln G(R) - ln n! */
} PnbdPmf;

static double
pnbd_integrand(const PnbdPmf *q, double v)
{
	double		u,
				l1v;

	if (v <= 0)
		return q->n == 0 ? q->S / q->B * q->A : 0;
	l1v = log1p(-v);
	u = q->A * v / (1 - v);
	return exp(log(q->S) + q->S * log(q->B) - (q->S + 1) * log(q->B + u)
			   + q->lc + (q->R - 2) * l1v + (q->n > 0 ? q->n * log(v) : 0)
			   + log(q->A));
}

static double
pnbd_quadrature(const PnbdPmf *q, double V, int panels)
{
	double		h = V / panels,
				sum = 0;
	int			i,
				k;

	for (i = 0; i < panels; i++)
	{
		double		mid = (i + 0.5) * h;

		for (k = 0; k < CLV_GL_POINTS; k++)
			sum += clv_gl_w[k] * pnbd_integrand(q, mid + 0.5 * h * clv_gl_x[k]);
	}
	return sum * 0.5 * h;
}

/* Pareto/NBD P(Y(t) = n | x, t_x, T) */
double
clv_pareto_pmf_v(const double *p, double n, double t, double x, double tx, double T)
{
	PnbdPmf		q;
	double		pa,
				V,
				lq,
				lp,
				stay,
				prev,
				cur;
	int			panels;

	if (t == 0)
		return n == 0 ? 1 : 0;
	if (!clv_gl_ready)
		clv_gl_init();
	pa = clv_pareto_p_alive_v(p, x, tx, T);
	q.R = p[0] + x;
	q.A = p[1] + T;
	q.S = p[2];
	q.B = p[3] + T;
	q.n = n;
	q.lc = clv_lgamma_ratio(q.R, n) - lgamma(n + 1);
	lq = -log1p(t / q.A);
	lp = -log1p(q.A / t);
	/* alive all through t */
	stay = exp(-q.S * log1p(t / q.B) + clv_log_nb(q.R, n, lq, lp));
	/* left at u < t: v from 0 to V = t/(A+t) */
	V = t / (q.A + t);
	prev = pnbd_quadrature(&q, V, 1);
	for (panels = 2; panels <= 65536; panels *= 2)
	{
		cur = pnbd_quadrature(&q, V, panels);
		if (fabs(cur - prev) <= 1e-13 * fabs(cur) || cur + stay < 1e-300)
			break;
		prev = cur;
		CHECK_FOR_INTERRUPTS();
	}
	return (n == 0 ? 1 - pa : 0) + pa * (stay + cur);
}

static double
clv_pmf_result(double v, const char *what, const char *typname,
			   const char *const *names, const double *p, const double *s)
{
	v = clv_finite(v, what, typname, names, p, 4, clv_summary_names, s, 3);
	/* rounding can leave a probability a hair outside [0, 1] */
	return Min(Max(v, 0.0), 1.0);
}

PG_FUNCTION_INFO_V1(clv_bgnbd_probability);
PG_FUNCTION_INFO_V1(clv_pareto_probability);

/* crm.bgnbd_probability_of_purchases(model, n, horizon, frequency, recency, t) */
Datum
clv_bgnbd_probability(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3],
				n,
				t;
	int			i;

	clv_model_params_cached(fcinfo, 0, 4, bg_names, "bgnbd_model", p);
	n = clv_count_arg(PG_GETARG_INT32(1));
	t = clv_horizon(PG_GETARG_FLOAT8(2));
	for (i = 0; i < 3; i++)
		v[i] = PG_GETARG_FLOAT8(i + 3);
	clv_validate_row(CLV_KIND_BGNBD, v);
	PG_RETURN_FLOAT8(clv_pmf_result(clv_bgnbd_pmf_v(p, n, t, v[0], v[1], v[2]),
									"BG/NBD probability of purchases",
									"bgnbd_model", bg_names, p, v));
}

/* crm.pareto_nbd_probability_of_purchases(model, n, horizon, frequency, recency, t) */
Datum
clv_pareto_probability(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3],
				n,
				t;
	int			i;

	clv_model_params_cached(fcinfo, 0, 4, pn_names, "pareto_nbd_model", p);
	n = clv_count_arg(PG_GETARG_INT32(1));
	t = clv_horizon(PG_GETARG_FLOAT8(2));
	for (i = 0; i < 3; i++)
		v[i] = PG_GETARG_FLOAT8(i + 3);
	clv_validate_row(CLV_KIND_PARETO, v);
	PG_RETURN_FLOAT8(clv_pmf_result(clv_pareto_pmf_v(p, n, t, v[0], v[1], v[2]),
									"Pareto/NBD probability of purchases",
									"pareto_nbd_model", pn_names, p, v));
}

/* ---------------------------------------------------------------------
 * Confidence intervals by the delta method
 * ---------------------------------------------------------------------
 */

/* the scale on which an interval is symmetric */
#define CLV_SCALE_LOGIT	1		/* probabilities: the interval stays in [0, 1] */
#define CLV_SCALE_LOG	2		/* positive predictions: it stays positive */

/* a prediction as a function of all the parameters (one or two models) */
typedef double (*ClvPrediction) (const double *params, const void *ctx);

/* relative step of the prediction's numerical derivatives */
#define CLV_DELTA_STEP	1e-6

/* the standard normal quantile for a two-sided level, by Newton on erfc */
static double
clv_normal_quantile(double level)
{
	double		q = (1 + level) / 2;
	double		x = 0;
	int			i;

	if (!(level > 0 && level < 1))
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("level %s is not between 0 and 1", clv_fmt(level))));
	for (i = 0; i < 200; i++)
	{
		double		cdf = 0.5 * erfc(-x / M_SQRT2);
		double		pdf = exp(-0.5 * x * x) / sqrt(2 * M_PI);
		double		dx = (cdf - q) / pdf;

		if (!isfinite(dx))
			break;
		x -= dx;
		if (fabs(dx) < 1e-15 * Max(1.0, fabs(x)))
			break;
	}
	return x;
}

/*
 * The prediction at params, its delta-method standard error from the
 * block-diagonal covariance (model A's nA parameters with covA, then model
 * B's nB with covB), and the interval at the level, symmetric on the given
 * scale.  Returns the crm.clv_interval composite; without a covariance
 * (covA or, when nB > 0, covB NULL) the standard error and bounds are null.
 */
static Datum
clv_interval_result(FunctionCallInfo fcinfo, ClvPrediction f, const void *ctx,
					const double *params, int nA, const double *covA,
					int nB, const double *covB, int scale, double level,
					const char *what)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	double		est = f(params, ctx);
	double		z = clv_normal_quantile(level);
	int			n = nA + nB;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (!isfinite(est))
		CLV_ERROR(
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s out of range: %s", what, clv_fmt(est))));
	values[0] = Float8GetDatum(est);
	if (covA == NULL || (nB > 0 && covB == NULL))
		nulls[1] = nulls[2] = nulls[3] = true;
	else
	{
		double		g[2 * CLV_MAXPARAMS];
		double		var = 0,
					se,
					lo,
					hi;
		int			i,
					j;

		for (j = 0; j < n; j++)
		{
			double		t[2 * CLV_MAXPARAMS];
			double		h = CLV_DELTA_STEP * params[j];
			double		fp,
						fm;

			memcpy(t, params, sizeof(double) * n);
			t[j] = params[j] + h;
			fp = f(t, ctx);
			t[j] = params[j] - h;
			fm = f(t, ctx);
			g[j] = (fp - fm) / (2 * h);
			if (!isfinite(g[j]))
				CLV_ERROR(
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("derivative of the %s out of range", what)));
		}
		for (i = 0; i < nA; i++)
			for (j = 0; j < nA; j++)
				var += g[i] * g[j] * covA[i * nA + j];
		for (i = 0; i < nB; i++)
			for (j = 0; j < nB; j++)
				var += g[nA + i] * g[nA + j] * covB[i * nB + j];
		se = sqrt(Max(var, 0.0));
		if (scale == CLV_SCALE_LOGIT && est > 0 && est < 1)
		{
			double		l = log(est) - log1p(-est),
						sl = se / (est * (1 - est));

			lo = 1 / (1 + exp(-(l - z * sl)));
			hi = 1 / (1 + exp(-(l + z * sl)));
		}
		else if (scale == CLV_SCALE_LOG && est > 0)
		{
			double		sl = se / est;

			lo = est * exp(-z * sl);
			hi = est * exp(z * sl);
		}
		else
		{
			/* on the edge of its range (P(alive) 1, nothing expected): no spread */
			lo = hi = est;
		}
		values[1] = Float8GetDatum(se);
		values[2] = Float8GetDatum(lo);
		values[3] = Float8GetDatum(hi);
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/* what a prediction needs besides the parameters */
typedef struct ClvPredCtx
{
	const ClvTransactionModel *model;
	double		v[3];			/* frequency, recency, t */
	double		t;				/* horizon */
	double		n;				/* purchases */
	double		m;				/* monetary */
	double		rate,
				period;
	bool		pareto;
} ClvPredCtx;

static double
pred_p_alive(const double *p, const void *arg)
{
	const ClvPredCtx *c = arg;

	return c->model->p_alive(p, c->v[0], c->v[1], c->v[2]);
}

static double
pred_expected(const double *p, const void *arg)
{
	const ClvPredCtx *c = arg;

	return c->model->expected(p, c->t, c->v[0], c->v[1], c->v[2]);
}

static double
pred_pmf(const double *p, const void *arg)
{
	const ClvPredCtx *c = arg;

	return c->pareto ? clv_pareto_pmf_v(p, c->n, c->t, c->v[0], c->v[1], c->v[2])
		: clv_bgnbd_pmf_v(p, c->n, c->t, c->v[0], c->v[1], c->v[2]);
}

static double
pred_spend(const double *p, const void *arg)
{
	const ClvPredCtx *c = arg;

	return clv_gamma_spend_v(p, c->v[0], c->m);
}

static double
pred_clv(const double *p, const void *arg)
{
	const ClvPredCtx *c = arg;

	return clv_discounted_v(c->model, p, c->v, p + 4, c->m, c->t, c->rate,
							c->period);
}

/* the transaction model argument 0 and the summary from argument `first` on */
static ClvModelCache *
clv_interval_model(FunctionCallInfo fcinfo, ClvPredCtx *c, bool pareto, int first)
{
	ClvModelCache *mc;
	int			i;

	memset(c, 0, sizeof(*c));
	c->pareto = pareto;
	c->model = pareto ? &clv_pareto_tmodel : &clv_bgnbd_tmodel;
	mc = clv_model_cache(fcinfo, 0, 4, pareto ? pn_names : bg_names,
						 pareto ? "pareto_nbd_model" : "bgnbd_model");
	for (i = 0; i < 3; i++)
		c->v[i] = PG_GETARG_FLOAT8(first + i);
	clv_validate_row(pareto ? CLV_KIND_PARETO : CLV_KIND_BGNBD, c->v);
	return mc;
}

static Datum
clv_p_alive_interval(FunctionCallInfo fcinfo, bool pareto)
{
	ClvPredCtx	c;
	ClvModelCache *mc = clv_interval_model(fcinfo, &c, pareto, 1);

	return clv_interval_result(fcinfo, pred_p_alive, &c, mc->p, 4,
							   mc->has_cov ? mc->cov : NULL, 0, NULL,
							   CLV_SCALE_LOGIT, PG_GETARG_FLOAT8(4),
							   pareto ? "Pareto/NBD P(alive)" : "BG/NBD P(alive)");
}

static Datum
clv_expected_interval(FunctionCallInfo fcinfo, bool pareto)
{
	ClvPredCtx	c;
	ClvModelCache *mc = clv_interval_model(fcinfo, &c, pareto, 2);

	c.t = clv_horizon(PG_GETARG_FLOAT8(1));
	return clv_interval_result(fcinfo, pred_expected, &c, mc->p, 4,
							   mc->has_cov ? mc->cov : NULL, 0, NULL,
							   CLV_SCALE_LOG, PG_GETARG_FLOAT8(5),
							   c.model->expected_label);
}

static Datum
clv_probability_interval(FunctionCallInfo fcinfo, bool pareto)
{
	ClvPredCtx	c;
	ClvModelCache *mc = clv_interval_model(fcinfo, &c, pareto, 3);

	c.n = clv_count_arg(PG_GETARG_INT32(1));
	c.t = clv_horizon(PG_GETARG_FLOAT8(2));
	return clv_interval_result(fcinfo, pred_pmf, &c, mc->p, 4,
							   mc->has_cov ? mc->cov : NULL, 0, NULL,
							   CLV_SCALE_LOGIT, PG_GETARG_FLOAT8(6),
							   pareto ? "Pareto/NBD probability of purchases"
							   : "BG/NBD probability of purchases");
}

static Datum
clv_clv_interval(FunctionCallInfo fcinfo, bool pareto)
{
	ClvPredCtx	c;
	ClvModelCache *mc = clv_interval_model(fcinfo, &c, pareto, 2);
	ClvModelCache *gc = clv_model_cache(fcinfo, 1, 3, clv_gamma_param_names,
										"gamma_gamma_model");
	double		params[7];

	c.m = PG_GETARG_FLOAT8(5);
	c.t = clv_horizon(PG_GETARG_FLOAT8(6));
	c.rate = PG_GETARG_FLOAT8(7);
	c.period = PG_GETARG_FLOAT8(8);
	clv_discount_args(c.t, c.rate, c.period);
	memcpy(params, mc->p, sizeof(double) * 4);
	memcpy(params + 4, gc->p, sizeof(double) * 3);
	return clv_interval_result(fcinfo, pred_clv, &c, params, 4,
							   mc->has_cov ? mc->cov : NULL, 3,
							   gc->has_cov ? gc->cov : NULL,
							   CLV_SCALE_LOG, PG_GETARG_FLOAT8(9), "CLV");
}

PG_FUNCTION_INFO_V1(clv_bgnbd_p_alive_interval);
PG_FUNCTION_INFO_V1(clv_pareto_p_alive_interval);
PG_FUNCTION_INFO_V1(clv_bgnbd_expected_interval);
PG_FUNCTION_INFO_V1(clv_pareto_expected_interval);
PG_FUNCTION_INFO_V1(clv_bgnbd_probability_interval);
PG_FUNCTION_INFO_V1(clv_pareto_probability_interval);
PG_FUNCTION_INFO_V1(clv_bgnbd_clv_interval);
PG_FUNCTION_INFO_V1(clv_pareto_clv_interval);
PG_FUNCTION_INFO_V1(clv_gamma_spend_interval);

Datum
clv_bgnbd_p_alive_interval(PG_FUNCTION_ARGS)
{
	return clv_p_alive_interval(fcinfo, false);
}

Datum
clv_pareto_p_alive_interval(PG_FUNCTION_ARGS)
{
	return clv_p_alive_interval(fcinfo, true);
}

Datum
clv_bgnbd_expected_interval(PG_FUNCTION_ARGS)
{
	return clv_expected_interval(fcinfo, false);
}

Datum
clv_pareto_expected_interval(PG_FUNCTION_ARGS)
{
	return clv_expected_interval(fcinfo, true);
}

Datum
clv_bgnbd_probability_interval(PG_FUNCTION_ARGS)
{
	return clv_probability_interval(fcinfo, false);
}

Datum
clv_pareto_probability_interval(PG_FUNCTION_ARGS)
{
	return clv_probability_interval(fcinfo, true);
}

Datum
clv_bgnbd_clv_interval(PG_FUNCTION_ARGS)
{
	return clv_clv_interval(fcinfo, false);
}

Datum
clv_pareto_clv_interval(PG_FUNCTION_ARGS)
{
	return clv_clv_interval(fcinfo, true);
}

/* crm.gamma_gamma_expected_spend_interval(model, frequency, monetary, level) */
Datum
clv_gamma_spend_interval(PG_FUNCTION_ARGS)
{
	ClvPredCtx	c;
	ClvModelCache *gc = clv_model_cache(fcinfo, 0, 3, clv_gamma_param_names,
										"gamma_gamma_model");
	double		gv[3] = {0, 0, 0};

	memset(&c, 0, sizeof(c));
	gv[0] = PG_GETARG_FLOAT8(1);
	gv[1] = PG_GETARG_FLOAT8(2);
	clv_validate_row(CLV_KIND_GAMMA, gv);
	c.v[0] = gv[0];
	c.m = gv[1];
	return clv_interval_result(fcinfo, pred_spend, &c, gc->p, 3,
							   gc->has_cov ? gc->cov : NULL, 0, NULL,
							   CLV_SCALE_LOG, PG_GETARG_FLOAT8(3),
							   "Gamma-Gamma expected spend");
}
