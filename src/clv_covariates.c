/*-------------------------------------------------------------------------
 *
 * src/clv_covariates.c
 *
 * BG/NBD with time-invariant covariates, the idea of Fader and Hardie
 * (2007, "Incorporating time-invariant covariates into the Pareto/NBD and
 * BG/NBD models", note 019) and of CLVTools' static covariates: each
 * client's own BG/NBD parameters are
 *
 *   alpha_i = alpha_0 exp(-g_p . z_p)   (purchase rate ~ Gamma(r, alpha_i):
 *                                        its mean r/alpha_i is multiplied
 *                                        by exp(g_p . z_p))
 *   a_i     = a_0 exp(g_d . z_d)        (drop-out probability ~ Beta(a_i, b):
 *                                        the odds a_i/b at its mean are
 *                                        multiplied by exp(g_d . z_d))
 *
 * with r and b common.  Pareto/NBD, as in CLVTools: alpha_i as above and
 *
 *   beta_i  = beta_0 exp(-g_d . z_d)    (drop-out rate ~ Gamma(s, beta_i): its
 *                                        mean s/beta_i is multiplied by
 *                                        exp(g_d . z_d))
 *
 * with r and s common.  The fits behind crm.bgnbd_cov_fit and
 * crm.pareto_nbd_cov_fit keep the rows
 * (frequency, recency, t, z_p, z_d) in an internal state (serialised for
 * parallel query), standardises the covariates, scales time so that the
 * largest t is 1, and maximises the log-likelihood by BFGS in
 * (ln r, ln alpha_0, ln a_0, ln b, g_p, g_d) (Pareto/NBD: ln s, ln beta_0)
 * with the analytic gradient (Pareto/NBD: each client's gradient in its
 * four parameters by central differences of crm's Pareto/NBD likelihood);
 * the coefficients are then put back on the covariates' own scale.
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
#include "utils/lsyscache.h"

#include "clv.h"

PG_FUNCTION_INFO_V1(clv_cov_trans);
PG_FUNCTION_INFO_V1(clv_cov_combine);
PG_FUNCTION_INFO_V1(clv_cov_serial);
PG_FUNCTION_INFO_V1(clv_cov_deserial);
PG_FUNCTION_INFO_V1(clv_bgnbd_cov_final);
PG_FUNCTION_INFO_V1(clv_bgnbd_cov_client);
PG_FUNCTION_INFO_V1(clv_pareto_cov_final);
PG_FUNCTION_INFO_V1(clv_pareto_cov_client);

/* the most covariates per process */
#define CLV_COV_MAX		20
#define CLV_COV_DIM		(4 + 2 * CLV_COV_MAX)

typedef struct CovState
{
	int32		k1;				/* purchase covariates, -1 before the first row */
	int32		k2;				/* drop-out covariates */
	double		penalty;
	int64		n;				/* rows */
	int64		cap;
	double	   *v;				/* n rows of 3 + k1 + k2 values */
} CovState;

/* the serialised state: this header, then the values */
typedef struct CovStateHeader
{
	int32		k1;
	int32		k2;
	double		penalty;
	int64		n;
} CovStateHeader;

static CovState *
cov_state_new(MemoryContext ctx)
{
	CovState   *st = MemoryContextAllocZero(ctx, sizeof(CovState));

	st->k1 = -1;
	st->k2 = -1;
	return st;
}

/* room for `more` rows, allocated in the state's context */
static void
cov_state_reserve(CovState *st, int64 more, MemoryContext ctx)
{
	int64		width = 3 + st->k1 + st->k2;
	int64		cap = Max(st->cap, 64);

	if (st->n + more <= st->cap)
		return;
	while (cap < st->n + more)
		cap *= 2;
	if ((Size) (cap * width) > MaxAllocHugeSize / sizeof(double))
		CLV_ERROR((errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				   errmsg("too many clients for a covariate fit")));
	if (st->v == NULL)
		st->v = MemoryContextAllocHuge(ctx, cap * width * sizeof(double));
	else
		st->v = repalloc_huge(st->v, cap * width * sizeof(double));
	st->cap = cap;
}

/* the covariates of one row: a one-dimensional array without nulls, finite values */
static int
cov_array(ArrayType *arr, const char *what, double *out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;

	if (ARR_NDIM(arr) > 1)
		CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				   errmsg("%s must be a one-dimensional array", what)));
	deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	if (n > CLV_COV_MAX)
		CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				   errmsg("%s has %d elements, more than %d", what, n, CLV_COV_MAX)));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			CLV_ERROR((errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					   errmsg("%s element %d is null", what, i + 1)));
		out[i] = DatumGetFloat8(elems[i]);
		if (!isfinite(out[i]))
			CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					   errmsg("%s element %d is %s, not a finite number", what, i + 1,
							  clv_fmt(out[i]))));
	}
	return n;
}

/*
 * crm.clv_cov_trans(state, frequency, recency, t, purchase_covariates,
 * dropout_covariates [, penalty])
 */
Datum
clv_cov_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	CovState   *st;
	double		v[3];
	double		z1[CLV_COV_MAX],
				z2[CLV_COV_MAX];
	int			k1,
				k2,
				i;
	double		penalty = 0;
	double	   *row;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "clv_cov_trans called in a non-aggregate context");
	st = PG_ARGISNULL(0) ? cov_state_new(aggctx) : (CovState *) PG_GETARG_POINTER(0);

	if (PG_NARGS() > 6)
	{
		if (PG_ARGISNULL(6))
			CLV_ERROR((errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					   errmsg("penalty must not be null")));
		penalty = PG_GETARG_FLOAT8(6);
		if (!isfinite(penalty) || penalty < 0)
			CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					   errmsg("penalty %s is not a non-negative number", clv_fmt(penalty))));
	}
	/* a row with a null is skipped, as aggregates skip nulls */
	for (i = 1; i <= 5; i++)
		if (PG_ARGISNULL(i))
			PG_RETURN_POINTER(st);
	for (i = 0; i < 3; i++)
		v[i] = PG_GETARG_FLOAT8(i + 1);
	clv_validate_row(CLV_KIND_BGNBD, v);
	k1 = cov_array(PG_GETARG_ARRAYTYPE_P(4), "purchase_covariates", z1);
	k2 = cov_array(PG_GETARG_ARRAYTYPE_P(5), "dropout_covariates", z2);

	if (st->k1 < 0)
	{
		st->k1 = k1;
		st->k2 = k2;
		st->penalty = penalty;
	}
	else if (st->k1 != k1 || st->k2 != k2)
		CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				   errmsg("a row with %d purchase and %d dropout covariates after rows with %d and %d",
						  k1, k2, st->k1, st->k2),
				   errhint("Give every client the same covariates.")));
	else if (st->penalty != penalty)
		CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				   errmsg("penalty %s differs from the penalty %s of earlier rows",
						  clv_fmt(penalty), clv_fmt(st->penalty)),
				   errhint("Pass one penalty to the whole fit.")));

	cov_state_reserve(st, 1, aggctx);
	row = st->v + st->n * (3 + k1 + k2);
	memcpy(row, v, 3 * sizeof(double));
	memcpy(row + 3, z1, k1 * sizeof(double));
	memcpy(row + 3 + k1, z2, k2 * sizeof(double));
	st->n++;
	PG_RETURN_POINTER(st);
}

Datum
clv_cov_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	CovState   *st1,
			   *st2;
	int64		width;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "clv_cov_combine called in a non-aggregate context");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));
	}
	st2 = (CovState *) PG_GETARG_POINTER(1);
	st1 = PG_ARGISNULL(0) ? cov_state_new(aggctx) : (CovState *) PG_GETARG_POINTER(0);
	if (st2->k1 < 0)
		PG_RETURN_POINTER(st1);
	if (st1->k1 < 0)
	{
		st1->k1 = st2->k1;
		st1->k2 = st2->k2;
		st1->penalty = st2->penalty;
	}
	else if (st1->k1 != st2->k1 || st1->k2 != st2->k2)
		CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				   errmsg("a row with %d purchase and %d dropout covariates after rows with %d and %d",
						  st2->k1, st2->k2, st1->k1, st1->k2),
				   errhint("Give every client the same covariates.")));
	else if (st1->penalty != st2->penalty)
		CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				   errmsg("penalty %s differs from the penalty %s of earlier rows",
						  clv_fmt(st2->penalty), clv_fmt(st1->penalty)),
				   errhint("Pass one penalty to the whole fit.")));
	width = 3 + st1->k1 + st1->k2;
	cov_state_reserve(st1, st2->n, aggctx);
	memcpy(st1->v + st1->n * width, st2->v, st2->n * width * sizeof(double));
	st1->n += st2->n;
	PG_RETURN_POINTER(st1);
}

Datum
clv_cov_serial(PG_FUNCTION_ARGS)
{
	CovState   *st = (CovState *) PG_GETARG_POINTER(0);
	CovStateHeader h;
	int64		width = st->k1 < 0 ? 0 : 3 + st->k1 + st->k2;
	Size		len = VARHDRSZ + sizeof(h) + st->n * width * sizeof(double);
	bytea	   *out;

	if (len > MaxAllocSize)
		CLV_ERROR((errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				   errmsg("too many clients for a parallel covariate fit")));
	out = palloc(len);
	SET_VARSIZE(out, len);
	h.k1 = st->k1;
	h.k2 = st->k2;
	h.penalty = st->penalty;
	h.n = st->n;
	memcpy(VARDATA(out), &h, sizeof(h));
	if (st->n > 0)
		memcpy(VARDATA(out) + sizeof(h), st->v, st->n * width * sizeof(double));
	PG_RETURN_BYTEA_P(out);
}

Datum
clv_cov_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggctx;
	CovState   *st;
	CovStateHeader h;
	int64		width;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		elog(ERROR, "clv_cov_deserial called in a non-aggregate context");
	if (VARSIZE_ANY_EXHDR(in) < sizeof(h))
		CLV_ERROR((errcode(ERRCODE_DATA_CORRUPTED),
				   errmsg("invalid covariate fit state")));
	memcpy(&h, VARDATA_ANY(in), sizeof(h));
	width = h.k1 < 0 ? 0 : 3 + h.k1 + h.k2;
	if (h.k1 < -1 || h.k1 > CLV_COV_MAX || h.k2 < -1 || h.k2 > CLV_COV_MAX || h.n < 0 ||
		VARSIZE_ANY_EXHDR(in) != sizeof(h) + h.n * width * sizeof(double))
		CLV_ERROR((errcode(ERRCODE_DATA_CORRUPTED),
				   errmsg("invalid covariate fit state")));
	st = cov_state_new(aggctx);
	st->k1 = h.k1;
	st->k2 = h.k2;
	st->penalty = h.penalty;
	if (h.n > 0)
	{
		cov_state_reserve(st, h.n, aggctx);
		memcpy(st->v, VARDATA_ANY(in) + sizeof(h), h.n * width * sizeof(double));
	}
	st->n = h.n;
	PG_RETURN_POINTER(st);
}

/* the rows of a fit, time scaled and covariates standardised */
typedef struct CovFit
{
	int64		n;
	int			k1,
				k2;
	double	   *x,
			   *tx,
			   *T;
	double	   *z;				/* n rows of k1 + k2 standardised covariates */
	double		penalty;
	bool		pareto;			/* Pareto/NBD, else BG/NBD */
} CovFit;

/*
 * One client's BG/NBD log-likelihood at p = (r, alpha, a, b) and its
 * gradient in p (clv-models.md section 2.3).
 */
static double
cov_bgnbd_row(const double *p, double x, double tx, double T, double *g)
{
	double		r = p[0],
				alpha = p[1],
				a = p[2],
				b = p[3];
	double		rx = r + x;
	double		lT = log(alpha + T),
				lt = log(alpha + tx);
	double		c = clv_lgamma_ratio(r, x) + clv_lgamma_ratio(b, x)
		- clv_lgamma_ratio(a + b, x) + r * log(alpha);
	double		t3 = -rx * lT;
	double		ll,
				w3 = 1,
				w4 = 0;

	if (x > 0)
	{
		double		t4 = log(a) - log(b + x - 1) - rx * lt;
		double		m = Max(t3, t4);
		double		e3 = exp(t3 - m),
					e4 = exp(t4 - m);

		ll = c + m + log(e3 + e4);
		w3 = e3 / (e3 + e4);
		w4 = e4 / (e3 + e4);
	}
	else
		ll = c + t3;
	if (g)
	{
		double		dab = clv_digamma_diff(a + b, x);

		g[0] = clv_digamma_diff(r, x) + log(alpha) - w3 * lT - w4 * lt;
		g[1] = r / alpha - rx * (w3 / (alpha + T) + w4 / (alpha + tx));
		g[2] = -dab + w4 / a;
		g[3] = clv_digamma_diff(b, x) - dab - (x > 0 ? w4 / (b + x - 1) : 0);
	}
	return ll;
}

/*
 * One client's Pareto/NBD log-likelihood at p = (r, alpha, s, beta) and its
 * gradient in p by central differences in the logarithms of the parameters
 * (step 1e-5: truncation error about 1e-10, rounding about 1e-11 relative).
 */
static double
cov_pareto_row(const double *p, double x, double tx, double T, double *g)
{
	double		ll = clv_pareto_row_ll(p[0], p[1], p[2], p[3], x, tx, T);
	int			k;

	if (g)
	{
		const double h = 1e-5;

		for (k = 0; k < 4; k++)
		{
			double		q[4] = {p[0], p[1], p[2], p[3]};
			double		up,
						down;

			q[k] = p[k] * exp(h);
			up = clv_pareto_row_ll(q[0], q[1], q[2], q[3], x, tx, T);
			q[k] = p[k] * exp(-h);
			down = clv_pareto_row_ll(q[0], q[1], q[2], q[3], x, tx, T);
			g[k] = (up - down) / (2 * h * p[k]);
		}
	}
	return ll;
}

/*
 * Mean negative log-likelihood plus penalty at theta = (ln r, ln alpha_0,
 * ln a_0, ln b, g_p, g_d), and its gradient in theta.
 */
static double
cov_objective(const double *theta, double *grad, const CovFit *f)
{
	int			d = 4 + f->k1 + f->k2;
	double		base[4];
	double		sll = 0;
	double		sg[CLV_COV_DIM];
	int64		i;
	int			k;

	for (k = 0; k < 4; k++)
		base[k] = exp(theta[k]);
	memset(sg, 0, sizeof(sg));
	for (i = 0; i < f->n; i++)
	{
		const double *z = f->z + i * (f->k1 + f->k2);
		double		e1 = 0,
					e2 = 0;
		double		p[4],
					g[4];

		for (k = 0; k < f->k1; k++)
			e1 += theta[4 + k] * z[k];
		for (k = 0; k < f->k2; k++)
			e2 += theta[4 + f->k1 + k] * z[f->k1 + k];
		p[0] = base[0];
		p[1] = base[1] * exp(-e1);
		p[2] = f->pareto ? base[2] : base[2] * exp(e2);
		p[3] = f->pareto ? base[3] * exp(-e2) : base[3];
		sll += f->pareto ? cov_pareto_row(p, f->x[i], f->tx[i], f->T[i], grad ? g : NULL)
			: cov_bgnbd_row(p, f->x[i], f->tx[i], f->T[i], grad ? g : NULL);
		if (grad)
		{
			double		ga = g[1] * p[1],	/* d ll / d ln alpha_i */
						gA = f->pareto ? -g[3] * p[3] : g[2] * p[2];	/* d ll / d (g_d . z_d) */

			sg[0] += g[0] * p[0];
			sg[1] += ga;
			sg[2] += f->pareto ? g[2] * p[2] : gA;
			sg[3] += g[3] * p[3];
			for (k = 0; k < f->k1; k++)
				sg[4 + k] -= ga * z[k];
			for (k = 0; k < f->k2; k++)
				sg[4 + f->k1 + k] += gA * z[f->k1 + k];
		}
	}
	if (grad)
	{
		for (k = 0; k < d; k++)
		{
			double		pk = k < 4 ? base[k] : theta[k];

			grad[k] = -sg[k] / f->n
				+ 2 * f->penalty * pk * (k < 4 ? pk : 1);
		}
	}
	{
		double		pen = 0;

		for (k = 0; k < d; k++)
		{
			double		pk = k < 4 ? base[k] : theta[k];

			pen += pk * pk;
		}
		return -sll / f->n + f->penalty * pen;
	}
}

/* the objective, +infinity where it is not a number */
static double
cov_eval(const double *theta, double *grad, const CovFit *f)
{
	double		v = cov_objective(theta, grad, f);

	return isnan(v) ? INFINITY : v;
}

/*
 * BFGS (Nocedal and Wright, algorithm 6.1) with a backtracking Armijo line
 * search, steps of at most 4 in any coordinate; converged when the largest
 * gradient component is at most 1e-9, or at most 1e-6 when the objective no
 * longer decreases measurably.
 */
static void
cov_bfgs(int d, double *theta, const CovFit *f, ClvOptimResult *res)
{
	double		H[CLV_COV_DIM][CLV_COV_DIM];
	double		g[CLV_COV_DIM],
				gn[CLV_COV_DIM],
				dir[CLV_COV_DIM],
				tn[CLV_COV_DIM],
				s[CLV_COV_DIM],
				y[CLV_COV_DIM];
	double		fv,
				fn = 0;
	int			iter,
				i,
				j,
				stalled = 0;

	for (i = 0; i < d; i++)
		for (j = 0; j < d; j++)
			H[i][j] = (i == j);
	fv = cov_eval(theta, g, f);
	res->converged = false;
	clv_fit_why = NULL;
	for (iter = 0; iter < 2000; iter++)
	{
		double		gmax = 0,
					slope = 0,
					dmax = 0,
					step = 1,
					sy = 0;
		bool		found = false;

		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < d; i++)
			gmax = Max(gmax, fabs(g[i]));
		if (gmax <= 1e-9 || (stalled >= 2 && gmax <= 1e-6))
		{
			res->converged = true;
			break;
		}
		for (i = 0; i < d; i++)
		{
			dir[i] = 0;
			for (j = 0; j < d; j++)
				dir[i] -= H[i][j] * g[j];
			slope += dir[i] * g[i];
		}
		if (slope >= 0)
		{
			/* not a descent direction: restart from steepest descent */
			for (i = 0; i < d; i++)
			{
				for (j = 0; j < d; j++)
					H[i][j] = (i == j);
				dir[i] = -g[i];
			}
			slope = 0;
			for (i = 0; i < d; i++)
				slope -= g[i] * g[i];
		}
		for (i = 0; i < d; i++)
			dmax = Max(dmax, fabs(dir[i]));
		if (dmax > 4)
			step = 4 / dmax;
		for (j = 0; j < 60; j++)
		{
			for (i = 0; i < d; i++)
				tn[i] = theta[i] + step * dir[i];
			fn = cov_eval(tn, NULL, f);
			if (fn <= fv + 1e-4 * step * slope)
			{
				found = true;
				break;
			}
			step *= 0.5;
		}
		if (!found)
		{
			if (gmax <= 1e-6)
				res->converged = true;
			else
				clv_set_fit_why("no step lowers the objective any more, with the gradient still at %.3g (above %g)",
								gmax, 1e-6);
			break;
		}
		stalled = (fv - fn <= 1e-15 * (1 + fabs(fv))) ? stalled + 1 : 0;
		(void) cov_eval(tn, gn, f);
		for (i = 0; i < d; i++)
		{
			s[i] = tn[i] - theta[i];
			y[i] = gn[i] - g[i];
			sy += s[i] * y[i];
		}
		if (sy > 1e-18)
		{
			double		Hy[CLV_COV_DIM];
			double		yHy = 0;

			for (i = 0; i < d; i++)
			{
				Hy[i] = 0;
				for (j = 0; j < d; j++)
					Hy[i] += H[i][j] * y[j];
				yHy += y[i] * Hy[i];
			}
			if (iter == 0)
			{
				/* scale the first inverse Hessian (Nocedal and Wright 6.20) */
				double		yy = 0;

				for (i = 0; i < d; i++)
					yy += y[i] * y[i];
				for (i = 0; i < d; i++)
				{
					for (j = 0; j < d; j++)
						H[i][j] *= sy / yy;
					Hy[i] *= sy / yy;
				}
				yHy *= sy / yy;
			}
			for (i = 0; i < d; i++)
				for (j = 0; j < d; j++)
					H[i][j] += (sy + yHy) * s[i] * s[j] / (sy * sy)
						- (Hy[i] * s[j] + s[i] * Hy[j]) / sy;
		}
		memcpy(theta, tn, d * sizeof(double));
		memcpy(g, gn, d * sizeof(double));
		fv = fn;
	}
	if (iter == 2000)
		clv_set_fit_why("the iteration limit %d was reached", 2000);
	res->fval = fv;
	res->iterations = iter;
}

/* rows in the order of their values, so that a fit does not depend on the order rows arrived in */
static int
cov_row_cmp(const void *a, const void *b, void *arg)
{
	const CovState *st = (const CovState *) arg;
	int64		width = 3 + st->k1 + st->k2;
	const double *x = st->v + *(const int64 *) a * width;
	const double *y = st->v + *(const int64 *) b * width;
	int64		j;

	for (j = 0; j < width; j++)
		if (x[j] != y[j])
			return x[j] < y[j] ? -1 : 1;
	return 0;
}

static ArrayType *
cov_float8_array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return construct_array(d, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
}

static Datum
cov_final(FunctionCallInfo fcinfo, bool pareto)
{
	const char *model = pareto ? "pareto_nbd_cov" : "bgnbd_cov";
	CovState   *st = (CovState *) PG_GETARG_POINTER(0);
	CovFit		f;
	int			k = st->k1 + st->k2;
	int			d = 4 + k;
	double		mean[2 * CLV_COV_MAX],
				sd[2 * CLV_COV_MAX];
	double		theta[CLV_COV_DIM];
	double		gam[2 * CLV_COV_MAX];
	double		scale = 0,
				loglik = 0,
				alpha0,
				a0;
	bool		repeat = false;
	int64	   *order;
	ClvOptimResult res;
	TupleDesc	tupdesc;
	Datum		values[10];
	bool		nulls[10] = {false};
	int64		i;
	int			j;

	if (st->n == 0 || st->k1 < 0)
		PG_RETURN_NULL();
	f.n = st->n;
	f.k1 = st->k1;
	f.k2 = st->k2;
	f.penalty = st->penalty;
	f.pareto = pareto;
	f.x = palloc(sizeof(double) * st->n);
	f.tx = palloc(sizeof(double) * st->n);
	f.T = palloc(sizeof(double) * st->n);
	f.z = palloc(sizeof(double) * st->n * Max(k, 1));
	for (j = 0; j < k; j++)
		mean[j] = sd[j] = 0;
	order = palloc(sizeof(int64) * st->n);
	for (i = 0; i < st->n; i++)
		order[i] = i;
	qsort_arg(order, st->n, sizeof(int64), cov_row_cmp, st);
	for (i = 0; i < st->n; i++)
	{
		const double *row = st->v + order[i] * (3 + k);

		f.x[i] = row[0];
		f.tx[i] = row[1];
		f.T[i] = row[2];
		scale = Max(scale, row[2]);
		if (row[0] > 0)
			repeat = true;
		for (j = 0; j < k; j++)
			mean[j] += row[3 + j];
	}
	if (!repeat &&
		!clv_unidentified(model,
						  psprintf("cannot fit the %s model: no client made a repeat purchase", model),
						  psprintf("All %lld clients have frequency 0, which does not identify the model.",
								   (long long) st->n)))
		PG_RETURN_NULL();
	if (scale <= 0)
		scale = 1;
	for (j = 0; j < k; j++)
		mean[j] /= st->n;
	for (i = 0; i < st->n; i++)
	{
		const double *row = st->v + order[i] * (3 + k);

		f.tx[i] /= scale;
		f.T[i] /= scale;
		for (j = 0; j < k; j++)
			sd[j] += (row[3 + j] - mean[j]) * (row[3 + j] - mean[j]);
	}
	for (j = 0; j < k; j++)
	{
		sd[j] = sqrt(sd[j] / st->n);
		if (!(sd[j] > 1e-12 * Max(1.0, fabs(mean[j]))) &&
			!clv_unidentified(model,
							  psprintf("%s covariate %d is the same for every client",
									   j < st->k1 ? "purchase" : "dropout",
									   j < st->k1 ? j + 1 : j - st->k1 + 1),
							  "A constant covariate does not identify its coefficient."))
			PG_RETURN_NULL();
	}
	for (i = 0; i < st->n; i++)
		for (j = 0; j < k; j++)
			f.z[i * k + j] = (st->v[order[i] * (3 + k) + 3 + j] - mean[j]) / sd[j];

	for (j = 0; j < d; j++)
		theta[j] = 0;
	if (!isfinite(cov_objective(theta, NULL, &f)) &&
		!clv_unidentified(model,
						  psprintf("the %s log-likelihood is not finite at the starting point", model),
						  NULL))
		PG_RETURN_NULL();
	cov_bfgs(d, theta, &f, &res);

	/* back to the covariates' own scale and the caller's time unit */
	/* a0: BG/NBD's a_0, or Pareto/NBD's beta_0 (a rate, scaled back like alpha) */
	alpha0 = exp(theta[1]) * scale;
	a0 = pareto ? exp(theta[3]) * scale : exp(theta[2]);
	for (j = 0; j < k; j++)
	{
		gam[j] = theta[4 + j] / sd[j];
		if (j < st->k1)
			alpha0 *= exp(gam[j] * mean[j]);
		else if (pareto)
			a0 *= exp(gam[j] * mean[j]);
		else
			a0 *= exp(-gam[j] * mean[j]);
	}
	for (i = 0; i < st->n; i++)
	{
		const double *row = st->v + order[i] * (3 + k);
		double		e1 = 0,
					e2 = 0,
					p[4];

		for (j = 0; j < st->k1; j++)
			e1 += gam[j] * row[3 + j];
		for (j = st->k1; j < k; j++)
			e2 += gam[j] * row[3 + j];
		p[0] = exp(theta[0]);
		p[1] = alpha0 * exp(-e1);
		p[2] = pareto ? exp(theta[2]) : a0 * exp(e2);
		p[3] = pareto ? a0 * exp(-e2) : exp(theta[3]);
		loglik += pareto ? clv_pareto_row_ll(p[0], p[1], p[2], p[3], row[0], row[1], row[2])
			: cov_bgnbd_row(p, row[0], row[1], row[2], NULL);
	}
	if (!isfinite(loglik) || !isfinite(alpha0) || !isfinite(a0))
	{
		char	   *detail = psprintf("The fit gives alpha %s, %s %s, log-likelihood %s after %d iterations.",
									  clv_fmt(alpha0), pareto ? "beta" : "a", clv_fmt(a0),
									  clv_fmt(loglik), res.iterations);

		if (!clv_fit_soft)
			CLV_ERROR((errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					   errmsg("fitted crm.%s_model out of range", model),
					   errdetail_internal("%s", detail)));
		clv_unidentified(model, psprintf("fitted crm.%s_model out of range", model), detail);
		PG_RETURN_NULL();
	}

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	/* as the other fits: a notice, or in a fit_or_null a notice and null */
	if (!res.converged)
	{
		if (clv_fit_soft)
		{
			clv_unidentified(model,
							 psprintf("the %s fit did not converge", model),
							 psprintf("The optimiser stopped after %d iterations without reaching a maximum of the likelihood: %s.",
									  res.iterations,
									  clv_fit_why ? clv_fit_why : "its stopping rule was not met"));
			PG_RETURN_NULL();
		}
		clv_notice_not_converged(tupdesc, res.iterations);
	}
	values[0] = Float8GetDatum(exp(theta[0]));
	values[1] = Float8GetDatum(alpha0);
	values[2] = Float8GetDatum(pareto ? exp(theta[2]) : a0);
	values[3] = Float8GetDatum(pareto ? a0 : exp(theta[3]));
	values[4] = PointerGetDatum(cov_float8_array(gam, st->k1));
	values[5] = PointerGetDatum(cov_float8_array(gam + st->k1, st->k2));
	values[6] = Float8GetDatum(loglik);
	values[7] = Int64GetDatum(st->n);
	values[8] = Int32GetDatum(res.iterations);
	values[9] = BoolGetDatum(res.converged);
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

Datum
clv_bgnbd_cov_final(PG_FUNCTION_ARGS)
{
	return cov_final(fcinfo, false);
}

Datum
clv_pareto_cov_final(PG_FUNCTION_ARGS)
{
	return cov_final(fcinfo, true);
}

/* the final functions of crm.bgnbd_cov_fit_or_null and crm.pareto_nbd_cov_fit_or_null */
CLV_FIT_OR_NULL(clv_bgnbd_cov_final)
CLV_FIT_OR_NULL(clv_pareto_cov_final)

/*
 * crm.bgnbd_cov_client(model, purchase_covariates, dropout_covariates): the
 * client's own BG/NBD model, for every BG/NBD prediction; the same for
 * Pareto/NBD.
 */
static Datum
cov_client(FunctionCallInfo fcinfo, bool pareto)
{
	HeapTupleHeader model = PG_GETARG_HEAPTUPLEHEADER(0);
	static const char *const bnames[] = {"r", "alpha", "a", "b"};
	static const char *const pnames[] = {"r", "alpha", "s", "beta"};
	const char *const *names = pareto ? pnames : bnames;
	const char *typname = pareto ? "pareto_nbd_cov_model" : "bgnbd_cov_model";
	double		p[4];
	double		z1[CLV_COV_MAX],
				z2[CLV_COV_MAX],
				c1[CLV_COV_MAX],
				c2[CLV_COV_MAX];
	int			k1,
				k2,
				m1 = 0,
				m2 = 0,
				j;
	bool		isnull;
	double		e1 = 0,
				e2 = 0;
	TupleDesc	tupdesc;
	Datum		values[16];
	bool		nulls[16];

	clv_model_params(model, 4, names, typname, p);
	for (j = 0; j < 2; j++)
	{
		Datum		a = GetAttributeByNum(model, 5 + j, &isnull);

		if (isnull)
			CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					   errmsg("%s parameter %s is null", typname,
							  j == 0 ? "purchase_coefficients" : "dropout_coefficients")));
		if (j == 0)
			m1 = cov_array(DatumGetArrayTypeP(a), "purchase_coefficients", c1);
		else
			m2 = cov_array(DatumGetArrayTypeP(a), "dropout_coefficients", c2);
	}
	k1 = cov_array(PG_GETARG_ARRAYTYPE_P(1), "purchase_covariates", z1);
	k2 = cov_array(PG_GETARG_ARRAYTYPE_P(2), "dropout_covariates", z2);
	if (k1 != m1 || k2 != m2)
		CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				   errmsg("%d purchase and %d dropout covariates for a model of %d and %d",
						  k1, k2, m1, m2)));
	for (j = 0; j < k1; j++)
		e1 += c1[j] * z1[j];
	for (j = 0; j < k2; j++)
		e2 += c2[j] * z2[j];
	p[1] *= exp(-e1);
	if (pareto)
		p[3] *= exp(-e2);
	else
		p[2] *= exp(e2);
	for (j = 0; j < 4; j++)
		if (!isfinite(p[j]) || p[j] <= 0)
			CLV_ERROR((errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					   errmsg("the client's %s parameter %s is out of range: %s",
							  pareto ? "Pareto/NBD" : "BG/NBD", names[j], clv_fmt(p[j]))));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	if (tupdesc->natts < 4 || tupdesc->natts > lengthof(values))
		elog(ERROR, "%s has %d fields", typname, tupdesc->natts);
	/* the four parameters; every other field (the fit's own) is null */
	for (j = 0; j < tupdesc->natts; j++)
	{
		values[j] = j < 4 ? Float8GetDatum(p[j]) : (Datum) 0;
		nulls[j] = j >= 4;
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

Datum
clv_bgnbd_cov_client(PG_FUNCTION_ARGS)
{
	return cov_client(fcinfo, false);
}

Datum
clv_pareto_cov_client(PG_FUNCTION_ARGS)
{
	return cov_client(fcinfo, true);
}
