/*-------------------------------------------------------------------------
 *
 * src/clv_paretonbd.c
 *
 * The Pareto/NBD model (Schmittlein, Morrison and Colombo 1987, "Counting
 * your customers: who are they and what will they do next?", Management
 * Science 33(1); likelihood as in Fader and Hardie's note "A note on
 * deriving the Pareto/NBD model and related expressions", 2005): the fit
 * behind crm.pareto_nbd_fit, the per-client log-likelihood, P(alive) and
 * expected purchases.
 *
 * The likelihood is used in its all-positive form (no difference of nearly
 * equal terms when t_x is close to T).  With m = max(alpha, beta),
 * d = |alpha - beta|, A = r+s+x and (b1, b2) = (s+1, s) when alpha >= beta,
 * (r+x, r+x+1) otherwise:
 *
 *   L = G(r+x) alpha^r beta^s / G(r) *
 *       [ s/A   2F1(A, b1; A+1; d/(m+t_x)) / (m+t_x)^A
 *       + (r+x)/A 2F1(A, b2; A+1; d/(m+T)) / (m+T)^A ]
 *
 * and P(alive) = 1 / ((alpha+T)^(r+x) (beta+T)^s [...]).  The 2F1 are
 * evaluated in log space by clv_log_hyp2f1_c_eq_a_plus_1.  The gradient is
 * analytic: the derivatives of the series S in its parameters are summed
 * along with it (clv_log_s_series).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "clv.h"

PG_FUNCTION_INFO_V1(clv_pareto_final);
PG_FUNCTION_INFO_V1(clv_pareto_loglik);
PG_FUNCTION_INFO_V1(clv_pareto_p_alive);
PG_FUNCTION_INFO_V1(clv_pareto_expected);
PG_FUNCTION_INFO_V1(clv_pareto_expected_new);
PG_FUNCTION_INFO_V1(clv_pareto_clv);

static const char *const pareto_names[] = {"r", "alpha", "s", "beta"};

/* a result of the per-client functions, refused when not finite */
static double
pareto_finite(double value, const char *what, const double *p, const double *v)
{
	return clv_finite(value, what, "pareto_nbd_model", pareto_names, p, 4,
					  clv_summary_names, v, v ? 3 : 0);
}

/*
 * The two terms of the bracket [...] above, in logs: the first depends on
 * (x, t_x), the second on (x, T).
 */
static double
pareto_log_term(double r, double alpha, double s, double beta, double x,
				double t, bool at_T)
{
	double		A = r + s + x;
	double		m,
				mn,
				bb;

	if (alpha >= beta)
	{
		m = alpha;
		mn = beta;
		bb = at_T ? s : s + 1;
	}
	else
	{
		m = beta;
		mn = alpha;
		bb = at_T ? r + x + 1 : r + x;
	}
	/* 1 - z = (mn + t)/(m + t), taken as a ratio to avoid cancellation */
	return (at_T ? log(r + x) : log(s)) - log(A) - A * log(m + t)
		+ clv_log_hyp2f1_c_eq_a_plus_1(A, bb, (m - mn) / (m + t),
									   log(mn + t) - log(m + t));
}

/*
 * pareto_log_term and its gradient g in (r, alpha, s, beta).  With
 * u = coef - ln A - A ln(m+t) + (1-b) L + ln S(e, c, z), A = r+s+x,
 * L = ln(mn+t) - ln(m+t), z = (m-mn)/(m+t), e = A+1-b, c = A+1:
 *   du/dA  = -1/A - ln(m+t) + dlnS/de + dlnS/dc
 *   du/db  = -L - dlnS/de
 *   du/dm  = -(A + 1 - b)/(m+t) + dlnS/dz (mn+t)/(m+t)^2
 *   du/dmn = (1-b)/(mn+t) - dlnS/dz / (m+t)
 * and coef = ln s (first term) or ln(r+x) (second term).
 */
static double
pareto_log_term_grad(double r, double alpha, double s, double beta, double x,
					 double t, bool at_T, double *g)
{
	bool		ageb = alpha >= beta;
	double		A = r + s + x;
	double		m = ageb ? alpha : beta;
	double		mn = ageb ? beta : alpha;
	double		b;
	double		lmt = log(m + t);
	double		L = log(mn + t) - lmt;
	double		z = (m - mn) / (m + t);
	double		dle,
				dlc,
				dlz,
				lnS,
				dA,
				db,
				dm,
				dmn;

	if (ageb)
		b = at_T ? s : s + 1;
	else
		b = at_T ? r + x + 1 : r + x;
	lnS = clv_log_s_series(A + 1 - b, A + 1, z, &dle, &dlc, &dlz);
	dA = -1 / A - lmt + dle + dlc;
	db = -L - dle;
	dm = -(A + 1 - b) / (m + t) + dlz * (mn + t) / ((m + t) * (m + t));
	dmn = (1 - b) / (mn + t) - dlz / (m + t);

	/* r, alpha, s, beta */
	g[0] = dA + (ageb ? 0 : db) + (at_T ? 1 / (r + x) : 0);
	g[1] = ageb ? dm : dmn;
	g[2] = dA + (ageb ? db : 0) + (at_T ? 0 : 1 / s);
	g[3] = ageb ? dmn : dm;
	return (at_T ? log(r + x) : log(s)) - log(A) - A * lmt + (1 - b) * L + lnS;
}

static double
pareto_log_bracket(double r, double alpha, double s, double beta,
				   double x, double tx, double T)
{
	double		t1 = pareto_log_term(r, alpha, s, beta, x, tx, false);
	double		t2 = pareto_log_term(r, alpha, s, beta, x, T, true);
	double		mx = Max(t1, t2);

	return mx + log1p(exp(Min(t1, t2) - mx));
}

double
clv_pareto_row_ll(double r, double alpha, double s, double beta,
				  double x, double tx, double T)
{
	return lgamma(r + x) - lgamma(r) + r * log(alpha) + s * log(beta)
		+ pareto_log_bracket(r, alpha, s, beta, x, tx, T);
}

/*
 * The data of a fit: the first term of the bracket depends only on (x, t_x)
 * and the second only on (x, T), and there are far fewer distinct pairs
 * than distinct rows, so each is computed once per pair.
 */
typedef struct ParetoFit
{
	ClvData    *d;
	int			n1,
				n2,
				nx;
	double	   *x1,
			   *t1,
			   *x2,
			   *t2,
			   *ux;
	int		   *i1,
			   *i2,
			   *ix;
	double	   *v1,
			   *v2,
			   *g1,				/* gradients of the terms, 4 per pair */
			   *g2,
			   *lg,
			   *ps;
	bool		exhausted;		/* the work budget ran out */
	int64		budget;			/* series terms allowed */
} ParetoFit;

static double
pareto_objective(const double *theta, double *grad, void *arg)
{
	ParetoFit  *f = (ParetoFit *) arg;
	ClvData    *d = f->d;
	double		r = exp(theta[0]),
				alpha = exp(theta[1]),
				s = exp(theta[2]),
				beta = exp(theta[3]);
	double		common;
	double		sll = 0;
	double		gs[4] = {0, 0, 0, 0};
	double		gpsi = 0;
	int			k,
				i,
				j;

	/*
	 * Near the boundary of the parameter space (s and beta, or r and alpha,
	 * growing together; one of alpha, beta far above the other) the 2F1
	 * series need millions of terms.  Past the budget the objective is not
	 * finite any more, so the optimiser stops and the fit is reported as
	 * not converged.
	 */
	if (f->exhausted || clv_series_work() > f->budget)
	{
		f->exhausted = true;
		return NAN;
	}
	common = -lgamma(r) + r * log(alpha) + s * log(beta);
	for (k = 0; k < f->nx; k++)
	{
		f->lg[k] = lgamma(r + f->ux[k]);
		if (grad)
			f->ps[k] = clv_digamma(r + f->ux[k]);
	}
	for (k = 0; k < f->n1; k++)
		f->v1[k] = grad
			? pareto_log_term_grad(r, alpha, s, beta, f->x1[k], f->t1[k], false, &f->g1[4 * k])
			: pareto_log_term(r, alpha, s, beta, f->x1[k], f->t1[k], false);
	for (k = 0; k < f->n2; k++)
		f->v2[k] = grad
			? pareto_log_term_grad(r, alpha, s, beta, f->x2[k], f->t2[k], true, &f->g2[4 * k])
			: pareto_log_term(r, alpha, s, beta, f->x2[k], f->t2[k], true);
	for (i = 0; i < d->n; i++)
	{
		int			k1 = f->i1[i],
					k2 = f->i2[i];
		double		a1 = f->v1[k1],
					a2 = f->v2[k2],
					mx = Max(a1, a2),
					lse = mx + log1p(exp(Min(a1, a2) - mx)),
					w = d->w[i];

		sll += w * (f->lg[f->ix[i]] + lse);
		if (grad)
		{
			double		w1 = exp(a1 - lse),
						w2 = exp(a2 - lse);

			gpsi += w * f->ps[f->ix[i]];
			for (j = 0; j < 4; j++)
				gs[j] += w * (w1 * f->g1[4 * k1 + j] + w2 * f->g2[4 * k2 + j]);
		}
	}
	sll += d->wsum * common;
	if (grad)
	{
		double		pen2 = 2 * d->penalty;
		double		psr = clv_digamma(r);

		/* d ll / d param, then times the parameter for the log-parameter */
		gs[0] += gpsi - d->wsum * psr + d->wsum * log(alpha);
		gs[1] += d->wsum * r / alpha;
		gs[2] += d->wsum * log(beta);
		gs[3] += d->wsum * s / beta;
		grad[0] = -gs[0] * r / d->wsum + pen2 * r * r;
		grad[1] = -gs[1] * alpha / d->wsum + pen2 * alpha * alpha;
		grad[2] = -gs[2] * s / d->wsum + pen2 * s * s;
		grad[3] = -gs[3] * beta / d->wsum + pen2 * beta * beta;
	}
	return -sll / d->wsum + d->penalty * (r * r + alpha * alpha + s * s + beta * beta);
}

Datum
clv_pareto_final(PG_FUNCTION_ARGS)
{
	ClvFitState *st = clv_state_detoast(PG_GETARG_DATUM(0));
	ClvData		data;
	ParetoFit	f;
	double		scale;
	double		theta[4] = {0, 0, 0, 0};
	double		params[4];
	double		loglik = 0;
	double		cov[16];
	bool		have_cov = false;
	ClvOptimResult res;
	int			i;

	scale = clv_scaled_time_data(st, &data, "pareto_nbd");
	if (scale <= 0)
		PG_RETURN_NULL();
	/* the penalty is defined on the parameters in time scaled by the largest t */
	if (data.penalty == 0)
		scale *= clv_median_rescale(&data);

	f.d = &data;
	f.nx = clv_unique(data.x, data.n, &f.ux, &f.ix);
	f.n1 = clv_unique_pairs(data.x, data.tx, data.n, &f.x1, &f.t1, &f.i1);
	f.n2 = clv_unique_pairs(data.x, data.T, data.n, &f.x2, &f.t2, &f.i2);
	f.lg = palloc(sizeof(double) * f.nx);
	f.ps = palloc(sizeof(double) * f.nx);
	f.g1 = palloc(sizeof(double) * 4 * f.n1);
	f.g2 = palloc(sizeof(double) * 4 * f.n2);
	f.v1 = palloc(sizeof(double) * f.n1);
	f.v2 = palloc(sizeof(double) * f.n2);

	f.exhausted = false;
	f.budget = CLV_PARETO_WORK_BUDGET + (int64) 20000 * (f.n1 + f.n2);
	clv_series_work_reset();
	if (!clv_check_start(4, theta, pareto_objective, &f, "pareto_nbd"))
		PG_RETURN_NULL();
	clv_bfgs(4, theta, pareto_objective, &f, 1000, 1e-9, &res);
	elog(DEBUG1, "pareto_nbd fit: %lld series terms", (long long) clv_series_work());

	/*
	 * A parameter past 1e6 (in scaled time) means the fit is running to the
	 * boundary (r and alpha, or s and beta, growing together: no spread of
	 * the rates), where the likelihood only flattens out: a small gradient
	 * there is not a maximum.
	 */
	for (i = 0; i < 4; i++)
	{
		params[i] = exp(theta[i]);
		if (params[i] > 1e6 && !f.exhausted)
		{
			if (res.converged)
				clv_set_fit_why("parameter %s passed 1e6 (in the fit's scaled time): the rates' spread vanishes and the likelihood only flattens out towards that edge",
								pareto_names[i]);
			res.converged = false;
		}
	}
	if (res.converged && !f.exhausted)
	{
		double		unscale[4] = {1, scale, 1, scale};

		clv_series_work_reset();
		have_cov = clv_covariance(4, pareto_objective, &f, theta, data.wsum,
								  unscale, cov);
	}
	if (f.exhausted)
	{
		/*
		 * The log-likelihood of the last accepted point, from the optimiser's
		 * objective (evaluating it again would cost as much as the budget):
		 * minus the penalty, times the clients, and the rates back in the
		 * caller's time unit (L scales by scale^-x).
		 */
		double		sx = 0;

		for (i = 0; i < data.n; i++)
			sx += data.w[i] * data.x[i];
		loglik = -(res.fval - data.penalty * (params[0] * params[0] +
											   params[1] * params[1] +
											   params[2] * params[2] +
											   params[3] * params[3]))
			* data.wsum - sx * log(scale);
		res.converged = false;
		clv_set_fit_why("the 2F1 series of the likelihood needed more than the work budget of %lld terms near the edge of the parameter space",
						(long long) f.budget);
	}
	params[1] *= scale;
	params[3] *= scale;
	if (!f.exhausted)
		for (i = 0; i < data.n; i++)
			loglik += data.w[i] * clv_pareto_row_ll(params[0], params[1], params[2],
													params[3], data.x[i],
													data.tx[i] * scale,
													data.T[i] * scale);
	if (!isfinite(loglik) && res.converged)
	{
		res.converged = false;
		clv_set_fit_why("the log-likelihood is not finite at the estimate");
	}
	return clv_model_result_cov(fcinfo, 4, params, have_cov ? cov : NULL,
								loglik, st->nclients, res.iterations,
								res.converged);
}

double
clv_pareto_p_alive_v(const double *p, double x, double tx, double T)
{
	double		lp = -(p[0] + x) * log(p[1] + T) - p[2] * log(p[3] + T)
		- pareto_log_bracket(p[0], p[1], p[2], p[3], x, tx, T);

	return Min(exp(lp), 1.0);
}

/* [1 - u^(s-1)] / (s-1) with lu = ln u, continuous at s = 1 */
static double
pareto_ratio(double s, double lu)
{
	double		e = s - 1;

	return e == 0 ? -lu : -expm1(e * lu) / e;
}

/*
 * E[Y(t) | x, t_x, T] = (r+x)(beta+T)/(alpha+T) [1 - ((beta+T)/(beta+T+t))^(s-1)]/(s-1)
 *                       * P(alive)
 */
double
clv_pareto_expected_alive_v(const double *p, double t, double x, double T)
{
	double		r = p[0],
				alpha = p[1],
				s = p[2],
				beta = p[3];

	if (t == 0)
		return 0;
	return (r + x) * (beta + T) / (alpha + T)
		* pareto_ratio(s, -log1p(t / (beta + T)));
}

double
clv_pareto_expected_v(const double *p, double t, double x, double tx, double T)
{
	if (t == 0)
		return 0;
	return clv_pareto_expected_alive_v(p, t, x, T) * clv_pareto_p_alive_v(p, x, tx, T);
}

/* the model as the discounted value (src/clv_value.c) calls it */
const ClvTransactionModel clv_pareto_tmodel = {
	"Pareto/NBD expected purchases", "pareto_nbd_model", pareto_names, clv_pareto_expected_v,
	clv_pareto_p_alive_v, clv_pareto_expected_alive_v
};

static void
pareto_args(FunctionCallInfo fcinfo, int first, double *p, double *v)
{
	int			i;

	clv_model_params_cached(fcinfo, 0, 4, pareto_names,
					 "pareto_nbd_model", p);
	for (i = 0; i < 3; i++)
		v[i] = PG_GETARG_FLOAT8(first + i);
	clv_validate_row(CLV_KIND_PARETO, v);
}

Datum
clv_pareto_loglik(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];

	pareto_args(fcinfo, 1, p, v);
	PG_RETURN_FLOAT8(pareto_finite(clv_pareto_row_ll(p[0], p[1], p[2], p[3],
													 v[0], v[1], v[2]),
								   "Pareto/NBD log-likelihood", p, v));
}

Datum
clv_pareto_p_alive(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];

	pareto_args(fcinfo, 1, p, v);
	PG_RETURN_FLOAT8(pareto_finite(clv_pareto_p_alive_v(p, v[0], v[1], v[2]),
								   "Pareto/NBD P(alive)", p, v));
}

Datum
clv_pareto_expected(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];
	double		t = clv_horizon(PG_GETARG_FLOAT8(1));

	pareto_args(fcinfo, 2, p, v);
	PG_RETURN_FLOAT8(pareto_finite(clv_pareto_expected_v(p, t, v[0], v[1], v[2]),
								   "Pareto/NBD expected purchases", p, v));
}

/* E[X(t)] = r beta / alpha [1 - (beta/(beta+t))^(s-1)]/(s-1), a new client */
Datum
clv_pareto_expected_new(PG_FUNCTION_ARGS)
{
	double		p[4];
	double		t = clv_horizon(PG_GETARG_FLOAT8(1));

	clv_model_params_cached(fcinfo, 0, 4, pareto_names,
					 "pareto_nbd_model", p);
	if (t == 0)
		PG_RETURN_FLOAT8(0);
	PG_RETURN_FLOAT8(pareto_finite(p[0] * p[3] / p[1] *
								   pareto_ratio(p[2], -log1p(t / p[3])),
								   "Pareto/NBD expected purchases", p, NULL));
}

Datum
clv_pareto_clv(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];

	pareto_args(fcinfo, 2, p, v);
	PG_RETURN_FLOAT8(clv_discounted(fcinfo, &clv_pareto_tmodel, p, v));
}

/* the final function of crm.pareto_nbd_fit_or_null */
CLV_FIT_OR_NULL(clv_pareto_final)
