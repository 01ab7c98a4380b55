/*-------------------------------------------------------------------------
 *
 * src/clv_bgnbd.c
 *
 * The BG/NBD model (Fader, Hardie and Lee 2005, "Counting your customers
 * the easy way: an alternative to the Pareto/NBD model", Marketing Science
 * 24(2)): the maximum-likelihood fit behind crm.bgnbd_fit, the per-client
 * log-likelihood, P(alive), expected purchases and discounted CLV.
 *
 * Log-likelihood of one client (x, t_x, T), in the form of Fader and Hardie
 * (2013, note 027) so that nothing overflows:
 *
 *   ll = lnG(r+x) - lnG(r) + lnG(a+b) + lnG(b+x) - lnG(b) - lnG(a+b+x)
 *        + r ln(alpha) + logsumexp(-(r+x) ln(alpha+T),
 *                                  [x>0] ln(a/(b+x-1)) - (r+x) ln(alpha+t_x))
 *
 * with the analytic gradient of clv-models.md section 2.3.  The fit runs in
 * scaled time (the largest t becomes 1), then alpha is scaled back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "clv.h"

PG_FUNCTION_INFO_V1(clv_bgnbd_final);
PG_FUNCTION_INFO_V1(clv_bgnbd_loglik);
PG_FUNCTION_INFO_V1(clv_bgnbd_p_alive);
PG_FUNCTION_INFO_V1(clv_bgnbd_expected);
PG_FUNCTION_INFO_V1(clv_bgnbd_expected_new);
PG_FUNCTION_INFO_V1(clv_bgnbd_clv);

static const char *const bgnbd_names[] = {"r", "alpha", "a", "b"};

/* a result of the per-client functions, refused when not finite */
static double
bgnbd_finite(double value, const char *what, const double *p, const double *v)
{
	return clv_finite(value, what, "bgnbd_model", bgnbd_names, p, 4,
					  clv_summary_names, v, v ? 3 : 0);
}

/* the data of a fit and its work arrays */
typedef struct BgnbdFit
{
	ClvData    *d;
	int			nux,
				nuT,
				nut;
	double	   *ux,
			   *uT,
			   *ut;
	int		   *ix,
			   *iT,
			   *it;
	/* per distinct x */
	double	   *cx,				/* the lnG terms */
			   *l4,				/* ln(a/(b+x-1)) */
			   *psrx,			/* psi(r+x) - psi(r) */
			   *psbx,			/* psi(b+x) - psi(b) */
			   *psabx;			/* psi(a+b+x) - psi(a+b) */
	/* per distinct T and t_x */
	double	   *lT,
			   *iTv,
			   *lt,
			   *itv;
} BgnbdFit;

double
clv_bgnbd_row_ll(double r, double alpha, double a, double b,
				 double x, double tx, double T)
{
	double		ll = (r < 100 && a + b < 100)
		? lgamma(r + x) - lgamma(r) + lgamma(a + b) + lgamma(b + x)
		- lgamma(b) - lgamma(a + b + x) + r * log(alpha)
		: clv_lgamma_ratio(r, x) + clv_lgamma_ratio(b, x)
		- clv_lgamma_ratio(a + b, x) + r * log(alpha);
	double		t3 = -(r + x) * log(alpha + T);

	if (x > 0)
	{
		double		t4 = log(a) - log(b + x - 1) - (r + x) * log(alpha + tx);
		double		m = Max(t3, t4);

		return ll + m + log1p(exp(Min(t3, t4) - m));
	}
	return ll + t3;
}

/*
 * Mean negative log-likelihood plus penalty at (r, alpha, a, b), and, when
 * g is not NULL, the total log-likelihood's gradient in the natural
 * parameters.  The lnG and psi
 * differences are taken without cancellation (clv_lgamma_ratio,
 * clv_digamma_diff), so the value and the gradient stay accurate when a and
 * b are huge.  The two branches of a repeat buyer's likelihood combine as
 * m + ln(1 + e), e = e^-|t3 - t4| <= 1: log rather than log1p, several
 * times faster, its rounding (2e-16 absolute) far below what a row's
 * log-likelihood (of the order of 1 to 100) keeps.
 */
/*
 * The terms of the log-likelihood and its gradient that depend on one
 * distinct x, T or t_x only, at (r, alpha, a, b); with g false the
 * gradient's terms are not computed.
 */
static void
bgnbd_prepare(BgnbdFit *f, double r, double alpha, double a, double b, bool g)
{
	double		lna = log(a),
				lnalpha = log(alpha);
	int			k;

	/*
	 * With small parameters the plain differences are exact enough (and
	 * are what the published-value tests were fixed with); large ones need
	 * the cancellation-free forms.  psrx, psbx, psabx hold the parts of the
	 * gradient that do not depend on the row's branch weights.
	 */
	bool		small = (r < 100 && a + b < 100);
	double		lgr = small ? lgamma(r) : 0,
				lgab = small ? lgamma(a + b) : 0,
				lgb = small ? lgamma(b) : 0,
				psr = (small && g) ? clv_digamma(r) : 0,
				psab = (small && g) ? clv_digamma(a + b) : 0,
				psb = (small && g) ? clv_digamma(b) : 0;

	for (k = 0; k < f->nux; k++)
	{
		double		x = f->ux[k];

		if (small)
			f->cx[k] = lgamma(r + x) - lgr + lgab + lgamma(b + x) - lgb
				- lgamma(a + b + x) + r * lnalpha;
		else
			f->cx[k] = clv_lgamma_ratio(r, x) + clv_lgamma_ratio(b, x)
				- clv_lgamma_ratio(a + b, x) + r * lnalpha;
		f->l4[k] = x > 0 ? lna - log(b + x - 1) : 0;
		if (g && small)
		{
			double		psabx = clv_digamma(a + b + x);

			f->psrx[k] = clv_digamma(r + x) - psr;
			f->psbx[k] = psab + clv_digamma(b + x) - psb - psabx;
			f->psabx[k] = psab - psabx;
		}
		else if (g)
		{
			double		dab = clv_digamma_diff(a + b, x);

			f->psrx[k] = clv_digamma_diff(r, x);
			f->psbx[k] = clv_digamma_diff(b, x) - dab;
			f->psabx[k] = -dab;
		}
	}
	for (k = 0; k < f->nuT; k++)
	{
		f->lT[k] = log(alpha + f->uT[k]);
		f->iTv[k] = 1 / (alpha + f->uT[k]);
	}
	for (k = 0; k < f->nut; k++)
	{
		f->lt[k] = log(alpha + f->ut[k]);
		f->itv[k] = 1 / (alpha + f->ut[k]);
	}
}

static double
bgnbd_nll(BgnbdFit *f, double r, double alpha, double a, double b, double *g)
{
	ClvData    *d = f->d;
	double		lnalpha = log(alpha);
	double		sll = 0,
				gr = 0,
				galpha = 0,
				ga = 0,
				gb = 0;
	int			i;

	bgnbd_prepare(f, r, alpha, a, b, g != NULL);
	for (i = 0; i < d->n; i++)
	{
		int			kx = f->ix[i],
					kT = f->iT[i],
					kt = f->it[i];
		double		x = d->x[i],
					w = d->w[i];
		double		rx = r + x;
		double		t3 = -rx * f->lT[kT];
		double		ll,
					w3,
					w4;

		if (x > 0)
		{
			double		t4 = f->l4[kx] - rx * f->lt[kt];

			if (t3 >= t4)
			{
				double		e = exp(t4 - t3);

				ll = t3 + log(1 + e);
				w3 = 1 / (1 + e);
				w4 = e / (1 + e);
			}
			else
			{
				double		e = exp(t3 - t4);

				ll = t4 + log(1 + e);
				w3 = e / (1 + e);
				w4 = 1 / (1 + e);
			}
		}
		else
		{
			ll = t3;
			w3 = 1;
			w4 = 0;
		}
		sll += w * (f->cx[kx] + ll);
		if (g)
		{
			gr += w * (f->psrx[kx] + lnalpha - w3 * f->lT[kT] - w4 * f->lt[kt]);
			galpha += w * (r / alpha - rx * (w3 * f->iTv[kT] + w4 * f->itv[kt]));
			ga += w * (f->psabx[kx] + w4 / a);
			gb += w * (f->psbx[kx] - (x > 0 ? w4 / (b + x - 1) : 0));
		}
	}

	if (g)
	{
		/* the log-likelihood's gradient summed over the clients */
		g[0] = gr;
		g[1] = galpha;
		g[2] = ga;
		g[3] = gb;
	}
	return -sll / d->wsum + d->penalty * (r * r + alpha * alpha + a * a + b * b);
}

/* the objective at theta = ln(r, alpha, a, b) and its gradient in theta */
static double
bgnbd_objective(const double *theta, double *grad, void *arg)
{
	BgnbdFit   *f = (BgnbdFit *) arg;
	double		p[4];
	double		g[4];
	double		v;
	int			i;

	for (i = 0; i < 4; i++)
		p[i] = exp(theta[i]);
	v = bgnbd_nll(f, p[0], p[1], p[2], p[3], grad ? g : NULL);
	if (grad)
		for (i = 0; i < 4; i++)
			grad[i] = -g[i] * p[i] / f->d->wsum + 2 * f->d->penalty * p[i] * p[i];
	return v;
}

/*
 * The objective on the boundary a + b = CLV_BGNBD_KAPPA_CAP, at
 * theta = (ln r, ln alpha, logit q), a = q K, b = (1-q) K: the drop-out
 * probability is (all but) the same q for every client.
 */
static double
bgnbd_objective_capped(const double *theta, double *grad, void *arg)
{
	double		r = exp(theta[0]),
				alpha = exp(theta[1]);
	double		q = 1 / (1 + exp(-theta[2])),
				q1 = 1 / (1 + exp(theta[2]));
	double		a = q * CLV_BGNBD_KAPPA_CAP,
				b = q1 * CLV_BGNBD_KAPPA_CAP;
	double		g[4];
	double		v;

	BgnbdFit   *f = (BgnbdFit *) arg;
	int			i;

	v = bgnbd_nll(f, r, alpha, a, b, grad ? g : NULL);
	if (grad)
	{
		double		p[4] = {r, alpha, a, b};

		for (i = 0; i < 4; i++)
			g[i] = -g[i] / f->d->wsum + 2 * f->d->penalty * p[i];
		grad[0] = g[0] * r;
		grad[1] = g[1] * alpha;
		/* da/dlogit q = a (1-q), db/dlogit q = -b q */
		grad[2] = g[2] * a * q1 - g[3] * b * q;
	}
	return v;
}

/* the work arrays of a fit over data d */
static void
bgnbd_fit_init(BgnbdFit *f, ClvData *d)
{
	memset(f, 0, sizeof(*f));
	f->d = d;
	f->nux = clv_unique(d->x, d->n, &f->ux, &f->ix);
	f->nuT = clv_unique(d->T, d->n, &f->uT, &f->iT);
	f->nut = clv_unique(d->tx, d->n, &f->ut, &f->it);
	f->cx = palloc(sizeof(double) * f->nux);
	f->l4 = palloc(sizeof(double) * f->nux);
	f->psrx = palloc(sizeof(double) * f->nux);
	f->psbx = palloc(sizeof(double) * f->nux);
	f->psabx = palloc(sizeof(double) * f->nux);
	f->lT = palloc(sizeof(double) * f->nuT);
	f->iTv = palloc(sizeof(double) * f->nuT);
	f->lt = palloc(sizeof(double) * f->nut);
	f->itv = palloc(sizeof(double) * f->nut);
}

/*
 * The mean objective at theta = ln(r, alpha, a, b), its gradient and its
 * Hessian in theta, in one pass over the rows, from the analytic Hessian of
 * one client's log-likelihood in the natural parameters: with w3 = P(alive),
 * w4 = 1 - w3 and the two branches t3, t4 of the log-sum-exp,
 *   d2 ll = d2 c(x) + w3 d2 t3 + w4 d2 t4 + w3 w4 (d t3 - d t4)(d t3 - d t4)'
 * where c(x) holds the lnG terms (trigamma in its second derivatives).
 * Only for parameters below 100 (the plain lnG differences).  Returns NaN
 * when the objective is not finite.
 */
static double
bgnbd_objective_hessian(BgnbdFit *f, const double *theta, double *grad, double *hess)
{
	ClvData    *d = f->d;
	double		p[4];
	double		r,
				alpha,
				a,
				b;
	double		sll = 0,
				g[4] = {0, 0, 0, 0},
				H[16];
	double		tgr,
				tgab,
				tgb;
	double	   *ttrx,
			   *ttabx,
			   *ttbx;
	int			i,
				j,
				k;

	for (i = 0; i < 4; i++)
		p[i] = exp(theta[i]);
	r = p[0];
	alpha = p[1];
	a = p[2];
	b = p[3];
	memset(H, 0, sizeof(H));
	/* the lnG and psi terms per distinct x, T and t_x */
	bgnbd_prepare(f, r, alpha, a, b, true);
	tgr = clv_trigamma(r);
	tgab = clv_trigamma(a + b);
	tgb = clv_trigamma(b);
	ttrx = palloc(sizeof(double) * f->nux * 3);
	ttabx = ttrx + f->nux;
	ttbx = ttabx + f->nux;
	for (k = 0; k < f->nux; k++)
	{
		double		x = f->ux[k];

		ttrx[k] = clv_trigamma(r + x) - tgr;
		ttabx[k] = tgab - clv_trigamma(a + b + x);
		ttbx[k] = ttabx[k] + clv_trigamma(b + x) - tgb;
	}
	for (i = 0; i < d->n; i++)
	{
		int			kx = f->ix[i],
					kT = f->iT[i],
					kt = f->it[i];
		double		x = d->x[i],
					w = d->w[i];
		double		rx = r + x;
		double		lT = f->lT[kT],
					iT = f->iTv[kT];
		double		t3 = -rx * lT;
		double		ll,
					w3,
					w4;

		if (x > 0)
		{
			double		lt = f->lt[kt],
						it = f->itv[kt];
			double		t4 = f->l4[kx] - rx * lt;
			double		ib = 1 / (b + x - 1);
			double		e,
						dd[4],
						c34;

			if (t3 >= t4)
			{
				e = exp(t4 - t3);
				ll = t3 + log(1 + e);
				w3 = 1 / (1 + e);
				w4 = e * w3;
			}
			else
			{
				e = exp(t3 - t4);
				ll = t4 + log(1 + e);
				w4 = 1 / (1 + e);
				w3 = e * w4;
			}
			g[0] += w * (f->psrx[kx] - w3 * lT - w4 * lt);
			g[1] += w * (-rx * (w3 * iT + w4 * it));
			g[2] += w * (f->psabx[kx] + w4 / a);
			g[3] += w * (f->psbx[kx] - w4 * ib);
			/* branch curvatures, then the mixing term */
			H[1] += w * (-(w3 * iT + w4 * it));
			H[5] += w * rx * (w3 * iT * iT + w4 * it * it);
			H[10] += w * (-w4 / (a * a));
			H[15] += w * (w4 * ib * ib);
			dd[0] = lt - lT;
			dd[1] = rx * (it - iT);
			dd[2] = -1 / a;
			dd[3] = ib;
			c34 = w * w3 * w4;
			for (j = 0; j < 4; j++)
				for (k = j; k < 4; k++)
					H[j * 4 + k] += c34 * dd[j] * dd[k];
		}
		else
		{
			ll = t3;
			g[0] += w * (f->psrx[kx] - lT);
			g[1] += w * (-rx * iT);
			g[2] += w * f->psabx[kx];
			g[3] += w * f->psbx[kx];
			H[1] += w * (-iT);
			H[5] += w * rx * iT * iT;
		}
		sll += w * (f->cx[kx] + ll);
		/* the lnG terms */
		H[0] += w * ttrx[kx];
		H[10] += w * ttabx[kx];
		H[11] += w * ttabx[kx];
		H[15] += w * ttbx[kx];
	}
	pfree(ttrx);
	/* r ln alpha: d/dr = ln alpha, d/dalpha = r/alpha */
	g[0] += d->wsum * log(alpha);
	g[1] += d->wsum * r / alpha;
	H[1] += d->wsum / alpha;
	H[5] += -d->wsum * r / (alpha * alpha);
	for (j = 0; j < 4; j++)
		for (k = 0; k < j; k++)
			H[j * 4 + k] = H[k * 4 + j];

	/* the mean objective F(p) = -sll/W + pen |p|^2, then in theta */
	for (j = 0; j < 4; j++)
		grad[j] = (-g[j] / d->wsum + 2 * d->penalty * p[j]) * p[j];
	for (j = 0; j < 4; j++)
		for (k = 0; k < 4; k++)
			hess[j * 4 + k] = p[j] * p[k] * (-H[j * 4 + k] / d->wsum
											 + (j == k ? 2 * d->penalty : 0))
				+ (j == k ? grad[j] : 0);
	{
		double		v = -sll / d->wsum + d->penalty * (r * r + alpha * alpha + a * a + b * b);

		return isfinite(v) ? v : NAN;
	}
}

/*
 * Newton's method on the full data from theta (a fit on a subsample), with
 * the analytic Hessian and a backtracking line search.  True when the
 * largest gradient component is at most gtol at a point with a positive
 * definite Hessian (left in hess, with the gradient in grad); false
 * whenever anything is amiss: the caller then fits the slow, sure way.
 */
static bool
bgnbd_newton(BgnbdFit *f, double *theta, double gtol, double *grad,
			 double *hess, int *iterations)
{
	double		fval = 0;
	bool		have = false;	/* fval, grad and hess are theta's */
	int			it,
				i,
				j;

	for (it = 0; it < 30; it++)
	{
		double		inv[16],
					dir[4],
					gd = 0,
					dmax = 0,
					step = 1;
		bool		accepted = false;
		int			tries;

		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < 4; i++)
			if (!(fabs(theta[i]) < 20) || exp(theta[i]) >= 100)
				return false;
		if (!have)
			fval = bgnbd_objective_hessian(f, theta, grad, hess);
		have = false;
		(*iterations)++;
		if (isnan(fval) || !clv_spd_inverse(4, hess, inv))
			return false;
		for (i = 0; i < 4; i++)
			if (fabs(grad[i]) > dmax)
				dmax = fabs(grad[i]);
		if (dmax <= gtol)
			return true;
		dmax = 0;
		for (i = 0; i < 4; i++)
		{
			dir[i] = 0;
			for (j = 0; j < 4; j++)
				dir[i] -= inv[i * 4 + j] * grad[j];
			gd += grad[i] * dir[i];
			dmax = Max(dmax, fabs(dir[i]));
		}
		if (dmax > 4)
			step = 4 / dmax;

		/*
		 * Near the optimum the decrease Newton's step promises, -gd/2, is
		 * below the rounding of the objective (a sum over all the rows):
		 * the line search cannot see it, and the quadratic model is exact
		 * there.  Take the full step.
		 */
		if (-gd < 1e-12 * fabs(fval))
		{
			for (i = 0; i < 4; i++)
				theta[i] += dir[i];
			continue;
		}
		/*
		 * The line search's first try (a full step, but far from the
		 * optimum) takes the Hessian with the objective: one pass over the
		 * rows for both, and the step is almost always accepted, its
		 * point the next iteration's.
		 */
		for (tries = 0; tries < 30; tries++)
		{
			double		t[4],
						fn,
						g2[4],
						h2[16];

			for (i = 0; i < 4; i++)
				t[i] = theta[i] + step * dir[i];
			if (tries == 0)
			{
				for (i = 0; i < 4; i++)
					if (!(fabs(t[i]) < 20) || exp(t[i]) >= 100)
						break;
				fn = i == 4 ? bgnbd_objective_hessian(f, t, g2, h2)
					: bgnbd_objective(t, NULL, f);
				have = i == 4;
			}
			else
			{
				fn = bgnbd_objective(t, NULL, f);
				have = false;
			}
			if (isfinite(fn) && fn <= fval + 1e-4 * step * gd)
			{
				memcpy(theta, t, sizeof(t));
				if (have)
				{
					fval = fn;
					memcpy(grad, g2, sizeof(g2));
					memcpy(hess, h2, sizeof(h2));
				}
				accepted = true;
				break;
			}
			have = false;
			step *= 0.5;
		}
		if (!accepted)
			return false;
	}
	return false;
}

/*
 * Rescale the times of a fit so that the clients' median t is 1, as
 * clv_median_rescale does, with the median taken from the distinct t
 * (no sort of the rows).
 */
static double
bgnbd_median_rescale(BgnbdFit *f)
{
	ClvData    *d = f->d;
	double	   *cnt = palloc0(sizeof(double) * Max(f->nuT, 1));
	double		acc = 0,
				med = 0;
	int			i,
				k;

	for (i = 0; i < d->n; i++)
		cnt[f->iT[i]] += d->w[i];
	for (k = 0; k < f->nuT; k++)
	{
		acc += cnt[k];
		if (acc >= d->wsum / 2)
		{
			med = f->uT[k];
			break;
		}
	}
	pfree(cnt);
	if (!(med > 0) || !isfinite(1 / med))
		return 1;
	for (i = 0; i < d->n; i++)
	{
		d->tx[i] /= med;
		d->T[i] /= med;
	}
	for (k = 0; k < f->nuT; k++)
		f->uT[k] /= med;
	for (k = 0; k < f->nut; k++)
		f->ut[k] /= med;
	return med;
}

/*
 * Every k-th row of the sorted data, its count times k: a subsample whose
 * fit starts Newton's method on the full data close to the optimum.
 */
#define BGNBD_SUBSAMPLE_ROWS	16384

/* r beyond this: the rates have no spread left (see clv_bgnbd_final) */
#define CLV_BGNBD_R_EDGE		1.0e4

static void
bgnbd_subsample(const ClvData *d, ClvData *sub)
{
	int			k = (d->n + BGNBD_SUBSAMPLE_ROWS - 1) / BGNBD_SUBSAMPLE_ROWS;
	int			i,
				m = 0;
	double		wsum = 0;

	sub->x = palloc(sizeof(double) * (d->n / k + 1));
	sub->tx = palloc(sizeof(double) * (d->n / k + 1));
	sub->T = palloc(sizeof(double) * (d->n / k + 1));
	sub->w = palloc(sizeof(double) * (d->n / k + 1));
	for (i = k / 2; i < d->n; i += k)
	{
		sub->x[m] = d->x[i];
		sub->tx[m] = d->tx[i];
		sub->T[m] = d->T[i];
		sub->w[m] = d->w[i];
		wsum += d->w[i];
		m++;
	}
	sub->n = m;
	/* the subsample's counts scaled to the whole: the mean objective is the same */
	for (i = 0; i < m; i++)
		sub->w[i] *= d->wsum / wsum;
	sub->wsum = d->wsum;
	sub->penalty = d->penalty;
}

Datum
clv_bgnbd_final(PG_FUNCTION_ARGS)
{
	ClvFitState *st = clv_state_detoast(PG_GETARG_DATUM(0));
	ClvData		data;
	BgnbdFit	f;
	double		scale;
	double		theta[4] = {0, 0, 0, 0};
	double		params[4];
	double		loglik = 0;
	double		cov[16];
	bool		have_cov = false;
	bool		done = false;
	ClvOptimResult res;
	int			i;

	scale = clv_scaled_time_data(st, &data, "bgnbd");
	if (scale <= 0)
		PG_RETURN_NULL();
	bgnbd_fit_init(&f, &data);
	/* the penalty is defined on the parameters in time scaled by the largest t */
	if (data.penalty == 0)
		scale *= bgnbd_median_rescale(&f);
	if (!clv_check_start(4, theta, bgnbd_objective, &f, "bgnbd"))
		PG_RETURN_NULL();

	/*
	 * Many distinct rows: BFGS on a subsample of them, then Newton's method
	 * with the analytic Hessian on all of them, a handful of passes over
	 * the rows instead of some forty.  Where that does not end cleanly at a
	 * maximum, the fit is done as for few rows: BFGS on all the rows from
	 * the start.
	 */
	if (data.n > 2 * BGNBD_SUBSAMPLE_ROWS)
	{
		ClvData		sub;
		BgnbdFit	fs;
		double		ts[4] = {0, 0, 0, 0};
		double		g[4],
					H[16];
		int			newton_iter = 0;

		bgnbd_subsample(&data, &sub);
		bgnbd_fit_init(&fs, &sub);
		clv_bfgs(4, ts, bgnbd_objective, &fs, 1000, 1e-9, &res);
		if (res.converged &&
			bgnbd_newton(&f, ts, 1e-9, g, H, &newton_iter))
		{
			double		unscale[4] = {1, scale, 1, 1};

			memcpy(theta, ts, sizeof(ts));
			res.iterations += newton_iter;
			have_cov = clv_covariance_from_hessian(4, theta, H, g, data.wsum,
												   unscale, cov);
			done = true;
		}
	}
	if (!done)
	{
		clv_bfgs(4, theta, bgnbd_objective, &f, 1000, 1e-9, &res);
		if (res.converged)
		{
			double		unscale[4] = {1, scale, 1, 1};
			double		g[4],
						H[16];
			bool		small = true;

			for (i = 0; i < 4; i++)
				small = small && exp(theta[i]) < 100;
			/* the analytic Hessian where it applies, else differences of the gradient */
			if (small && !isnan(bgnbd_objective_hessian(&f, theta, g, H)))
				have_cov = clv_covariance_from_hessian(4, theta, H, g, data.wsum,
													   unscale, cov);
			else
				have_cov = clv_covariance(4, bgnbd_objective, &f, theta,
										  data.wsum, unscale, cov);
		}
	}
	for (i = 0; i < 4; i++)
		params[i] = exp(theta[i]);

	/*
	 * A fit that runs towards a, b -> infinity: fitted again on the boundary
	 * a + b = CLV_BGNBD_KAPPA_CAP (clv_kappa_refit), which has no interior
	 * maximum and so no covariance.  A penalty keeps a and b finite, so this
	 * is done without one only.
	 */
	if (data.penalty == 0 && params[2] + params[3] > CLV_BGNBD_KAPPA_SWITCH &&
		clv_kappa_refit(theta, params, &res, bgnbd_objective_capped, &f))
		have_cov = false;

	/*
	 * r past 1e4 (a Gamma distribution of the purchase rates with no spread
	 * left): the fit is running to the boundary r, alpha -> infinity, along
	 * which the likelihood only flattens out; a small gradient there is not
	 * a maximum.
	 */
	if (params[0] > CLV_BGNBD_R_EDGE && res.converged)
	{
		res.converged = false;
		have_cov = false;
		clv_set_fit_why("r passed %g: the purchase rates' spread vanishes (r and alpha growing together) and the likelihood only flattens out towards that edge",
						CLV_BGNBD_R_EDGE);
	}
	if (data.n > 2 * BGNBD_SUBSAMPLE_ROWS)
	{
		/*
		 * In scaled time every client's ll is its ll in the caller's unit
		 * plus x ln(scale): one pass of the objective instead of six lgamma
		 * calls per row.
		 */
		double		sx = 0;

		for (i = 0; i < data.n; i++)
			sx += data.w[i] * data.x[i];
		loglik = -(bgnbd_nll(&f, params[0], params[1], params[2], params[3], NULL)
				   - data.penalty * (params[0] * params[0] + params[1] * params[1] +
									 params[2] * params[2] + params[3] * params[3]))
			* data.wsum - sx * log(scale);
		params[1] *= scale;
	}
	else
	{
		params[1] *= scale;
		for (i = 0; i < data.n; i++)
			loglik += data.w[i] * clv_bgnbd_row_ll(params[0], params[1], params[2],
												   params[3], data.x[i],
												   data.tx[i] * scale,
												   data.T[i] * scale);
	}
	if (!isfinite(loglik) && res.converged)
	{
		res.converged = false;
		clv_set_fit_why("the log-likelihood is not finite at the estimate");
	}
	return clv_model_result_cov(fcinfo, 4, params, have_cov ? cov : NULL,
								loglik, st->nclients, res.iterations,
								res.converged);
}

static void
bgnbd_args(FunctionCallInfo fcinfo, double *p, double *v)
{
	int			i;

	clv_model_params_cached(fcinfo, 0, 4, bgnbd_names,
					 "bgnbd_model", p);
	for (i = 0; i < 3; i++)
		v[i] = PG_GETARG_FLOAT8(i + 1);
	clv_validate_row(CLV_KIND_BGNBD, v);
}

Datum
clv_bgnbd_loglik(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];

	bgnbd_args(fcinfo, p, v);
	PG_RETURN_FLOAT8(bgnbd_finite(clv_bgnbd_row_ll(p[0], p[1], p[2], p[3],
												   v[0], v[1], v[2]),
								  "BG/NBD log-likelihood", p, v));
}

/* ln of the odds that the client is dead: [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x) */
static double
bgnbd_log_odds_dead(const double *p, double x, double tx, double T)
{
	double		ratio;

	if (x == 0)
		return -INFINITY;
	/* ln((alpha+T)/(alpha+t_x)) with one logarithm where the ratio is in range */
	ratio = (p[1] + T) / (p[1] + tx);
	if (likely(ratio < 1e300))
		return log(p[2]) - log(p[3] + x - 1) + (p[0] + x) * log(ratio);
	return log(p[2]) - log(p[3] + x - 1)
		+ (p[0] + x) * (log(p[1] + T) - log(p[1] + tx));
}

double
clv_bgnbd_p_alive_v(const double *p, double x, double tx, double T)
{
	double		lo = bgnbd_log_odds_dead(p, x, tx, T);

	return isinf(lo) ? 1.0 : clv_logistic_neg(lo);
}

/*
 * E[Y(t) | alive at T, x, t_x, T] for large a.  Given p and alive at T,
 * lambda ~ Gamma(r+x, alpha+T) and E[Y(t) | lambda, p] = (1 - e^(-lambda p t))/p,
 * so the expectation is E[h(p)] with p ~ Beta(a, b+x) and
 *   h(p) = [1 - (1 + c p)^-(r+x)] / p,   c = t/(alpha+T).
 * When a is large the Beta distribution is narrow around its mean
 * mu = a/(a+b+x) (relative spread at most 1/sqrt(a)), and
 * E[h(p)] = sum_k h_k M_k, with h_k the Taylor coefficients of h at mu and
 * M_k the central moments of the Beta distribution, which satisfy
 *   (K+k) M_(k+1) = k [mu(1-mu) M_(k-1) + (1-2mu) M_k],  K = a+b+x.
 * The terms fall like (k-1)!! a^(-k/2): from a = 1000 on, 20-odd of them
 * reach double precision.  The first term, h(mu), is the limit of a, b -> oo
 * with a/(a+b) fixed.
 */
static double
bgnbd_expected_alive_expand(double r, double alpha, double a, double b,
							double t, double x, double T)
{
	double		n = r + x,
				c = t / (alpha + T),
				K = a + b + x,
				mu = a / K,
				mu1 = (b + x) / K,
				w = c / (1 + c * mu),
				lg = -n * log1p(c * mu),
				G0 = exp(lg),
				gk = G0,
				hk,
				Mkm2 = 0,		/* M_(k-2) */
				Mkm1 = 1,		/* M_(k-1) */
				Mk,
				sum;
	int			k,
				small = 0;

	/* h_0 = (1 - G0)/mu; (mu + d) h(d) = 1 - g(d) gives h_k = (q_k - h_(k-1))/mu */
	hk = -expm1(lg) / mu;
	sum = hk;
	for (k = 1; k <= 60; k++)
	{
		double		term;

		/* g_k = G0 (-n choose k) w^k;  q_k = -g_k */
		gk *= -(n + k - 1) / k * w;
		hk = (-gk - hk) / mu;
		Mk = (k - 1) * (mu * mu1 * Mkm2 + (mu1 - mu) * Mkm1) / (K + k - 1);
		Mkm2 = Mkm1;
		Mkm1 = Mk;
		term = hk * Mk;
		sum += term;
		if (k >= 4 && fabs(term) <= 1e-17 * fabs(sum))
		{
			if (++small >= 2)
				break;
		}
		else
			small = 0;
	}
	return sum;
}

/*
 * sum_{j>=1} (A)_j (a)_(j-1) / ((C)_j j!) z^j, 0 <= z < 1, in double.
 * For a < 20, C > 0 and |A| < 1e6, where the coefficients stay in the range
 * of a double (they grow like j^(a-2)); NaN where the sum leaves that range
 * or needs more than BGNBD_DOUBLE_TERMS terms (z within about 1e-5 of 1):
 * the caller then takes clv_hyp2f1_series_tail, whose sum is in long double
 * and whose remainder past its last term is estimated.
 */
#define BGNBD_DOUBLE_TERMS	1000000

static double
bgnbd_series_double(double A, double a, double C, double z)
{
	double		coef = A / C,	/* the j = 1 coefficient */
				pw = z,
				z2 = z * z,
				z4 = z2 * z2,
				s = 0;
	int			j;

	if (z == 0)
		return 0;

	/*
	 * Four terms a step, ((c_j + c_(j+1) z) + (c_(j+2) + c_(j+3) z) z^2) z^j,
	 * the coefficients from c_j by products of the ratios (two divisions),
	 * so that one multiplication a step chains c_j to c_(j+4).
	 */
	for (j = 1; j < BGNBD_DOUBLE_TERMS; j += 4)
	{
		double		n1 = (A + j) * (a + j - 1),
					d1 = (C + j) * (j + 1),
					n2 = (A + j + 1) * (a + j),
					d2 = (C + j + 1) * (j + 2),
					n3 = (A + j + 2) * (a + j + 1),
					d3 = (C + j + 2) * (j + 3),
					n4 = (A + j + 3) * (a + j + 2),
					d4 = (C + j + 3) * (j + 4),
					i12 = 1 / (d1 * d2),
					i34 = 1 / (d3 * d4),
					r12 = n1 * n2 * i12,	/* c_(j+2) / c_j */
					r34 = n3 * n4 * i34,
					c2 = coef * (n1 * d2 * i12),
					c3 = coef * r12,
					c4 = c3 * (n3 * d4 * i34),
					ratio = n4 * d3 * i34;	/* c_(j+4) / c_(j+3) */

		s += ((coef + c2 * z) + (c3 + c4 * z) * z2) * pw;
		pw *= z4;
		coef *= r12 * r34;
		if (fabs(ratio) * z < 1 && fabs(coef * pw) <= 1e-17 * fabs(s))
			return s;
		if (!isfinite(s))
			break;
	}
	return NAN;
}

/*
 * -expm1(e L)/e - e^(e L) s, the bracket of clv_bgnbd_expected_alive_v;
 * e^(e L) as 1 + expm1(e L) where that loses nothing (e^(e L) > 1/2), one
 * exp call less a horizon.
 */
static inline double
bgnbd_bracket(double e, double L, double s)
{
	double		em;

	if (e == 0)
		return -L - s;
	em = expm1(e * L);
	return -em / e - (em > -0.5 ? 1 + em : exp(e * L)) * s;
}

/*
 * E[Y(t) | x, t_x, T], expected purchases in (T, T+t].  By Euler's
 * transformation the paper's eq. 10 numerator becomes
 *   (a+b+x-1) [1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)] / (a-1),
 * z = t/(alpha+T+t); with e = a-1 and L = ln(1-z) the bracket over (a-1) is
 *   -expm1(e L)/e - e^(e L) sum_{j>=1} (a+b-1-r)_j (a)_(j-1) / ((a+b+x-1)_j j!) z^j,
 * which has no singularity at a = 1 and does not overflow for large x.  The
 * series needs about a z/(1-z) terms and overflows for large a: from
 * a = CLV_BGNBD_A_EXPAND on, the expansion above is used instead.  The series
 * is summed in double where it stays in range, else in long double.  The
 * MBG/NBD model (src/clv_mbgnbd.c) calls this with b + 1 in place of b: a
 * client alive at T has survived x + 1 drop-out opportunities there, not x.
 */
double
clv_bgnbd_expected_alive_v(const double *p, double t, double x, double T)
{
	double		r = p[0],
				alpha = p[1],
				a = p[2],
				b = p[3];
	double		z,
				L,
				e = a - 1,
				A = a + b - 1 - r,
				C = a + b + x - 1,
				G;

	if (t == 0)
		return 0;
	if (a >= CLV_BGNBD_A_EXPAND)
		return bgnbd_expected_alive_expand(r, alpha, a, b, t, x, T);
	z = t / (alpha + T + t);
	L = -log1p(t / (alpha + T));
	if (a < 20 && C > 0 && fabs(A) < 1e6 && z < 0.999)
	{
		/*
		 * in double where it stays in range (see bgnbd_series_double) and
		 * needs at most some tens of thousands of terms (their rounding
		 * errors add up: 1e-13 of the result at 1e5 terms)
		 */
		double		s = bgnbd_series_double(A, a, C, z);

		if (isfinite(s))
		{
			double		v = C * bgnbd_bracket(e, L, s);

			if (isfinite(v))
				return v;
		}
	}
	G = (e == 0 ? -L : -expm1(e * L) / e)
		- clv_hyp2f1_series_tail(A, a, C, z, e * L);
	return C * G;
}

#if defined(__GNUC__) && CLV_MULTI_MAX <= 16 && !defined(CLV_NO_VECTORS)
#define BGNBD_V2
/* two doubles, the width of SSE2's registers (GCC's and clang's vectors) */
typedef double bgnbd_v2 __attribute__((vector_size(16)));

#define BGNBD_PAIRS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define BGNBD_DECL(k) \
	bgnbd_v2	vz##k = {0, 0}, vq##k = {0, 0}, vp##k = {0, 0}, vs##k = {0, 0};
#define BGNBD_INIT(k) \
	if (NB > k) \
	{ \
		vz##k = (bgnbd_v2) {z[2 * k], z[2 * k + 1]}; \
		vq##k = (bgnbd_v2) {z2[2 * k], z2[2 * k + 1]}; \
		vp##k = vz##k; \
	}
#define BGNBD_STEP(k) \
	if (NB > k && k >= lo) \
	{ \
		vs##k += (c1v + c2v * vz##k) * vp##k; \
		vp##k *= vq##k; \
	}
/* pair k done: its next terms no longer count (and decrease) */
#define BGNBD_CHECK(k) \
	if (NB > k && lo == k) \
	{ \
		if (fabs(ratio) * Max(vz##k[0], vz##k[1]) < 1 && \
			fabs(coef * vp##k[0]) <= 1e-17 * fabs(vs##k[0]) && \
			fabs(coef * vp##k[1]) <= 1e-17 * fabs(vs##k[1])) \
			lo = k + 1; \
	}
#define BGNBD_STORE(k) \
	if (NB > k) \
	{ \
		s[2 * k] = vs##k[0]; \
		s[2 * k + 1] = vs##k[1]; \
	}

/*
 * The series of clv_bgnbd_expected_alive_multi for NB pairs of horizons
 * (z[], z2[] = z^2, padded with zeros), their sums into s[]: the same
 * operations, lane by lane, as the loop below, with NB a constant where
 * this is inlined so that the sums and powers stay in registers.  The
 * horizons come in increasing order (the periods of crm.clv), and a short
 * horizon's series ends sooner: the pairs whose next terms no longer count
 * stop, from the first on (a horizon of a year after a short T needs ten
 * times the terms of its first month).
 */
static pg_attribute_always_inline void
bgnbd_multi_sum(const int NB, double A, double a, double C,
				const double *z, const double *z2, double *s)
{
	double		coef = A / C;	/* the j = 1 coefficient */
	int			j,
				lo = 0;			/* the pairs before it are done */

	BGNBD_PAIRS(BGNBD_DECL)
	BGNBD_PAIRS(BGNBD_INIT)
	for (j = 1; j < 1000000; j += 2)
	{
		double		num1 = (A + j) * (a + j - 1),
					den1 = (C + j) * (j + 1),
					num2 = (A + j + 1) * (a + j),
					den2 = (C + j + 1) * (j + 2),
					inv = 1 / (den1 * den2),
					c2 = coef * (num1 * den2 * inv),
					ratio = num2 * den1 * inv;
		bgnbd_v2	c1v = {coef, coef},
					c2v = {c2, c2};

		BGNBD_PAIRS(BGNBD_STEP)
		coef = c2 * ratio;
		if ((j & 7) == 7)
		{
			BGNBD_PAIRS(BGNBD_CHECK)
			if (lo >= NB)
				break;
		}
	}
	BGNBD_PAIRS(BGNBD_STORE)
}
#endif

/*
 * clv_bgnbd_expected_alive_v at n horizons t[] at once, for the discounted
 * value's periods: the series' coefficients (A)_j (a)_{j-1} / ((C)_j j!)
 * do not depend on z and are computed once per term for every horizon, the
 * horizons' sums running side by side in double (the compiler vectorises
 * them).  In double the coefficients stay in range for a below 20 (they
 * grow like j^(a-2)); beyond, and where the sums could overflow, each
 * horizon is taken alone as clv_bgnbd_expected_alive_v takes it.  Terms
 * are summed until, for every horizon, the next one no longer counts.
 */
static void
clv_bgnbd_expected_alive_multi(const double *p, const double *t, int n,
							   double x, double T, double *out)
{
	double		r = p[0],
				alpha = p[1],
				a = p[2],
				b = p[3];
	double		e = a - 1,
				A = a + b - 1 - r,
				C = a + b + x - 1;
	double		z[CLV_MULTI_MAX + 3],
				z2[CLV_MULTI_MAX + 3],
				s[CLV_MULTI_MAX + 3];
	double		zmax = 0;
	int			k,
				nb;

	if (n <= 0)
		return;
	if (!(a < 20) || n > CLV_MULTI_MAX || !(C > 0) || !(fabs(A) < 1e6))
	{
		for (k = 0; k < n; k++)
			out[k] = clv_bgnbd_expected_alive_v(p, t[k], x, T);
		return;
	}
	/* lanes in blocks of 4 (the unused ones at z = 0): loops the compiler vectorises */
	nb = (n + 3) / 4;
	for (k = 0; k < nb * 4; k++)
	{
		z[k] = k < n ? t[k] / (alpha + T + t[k]) : 0;
		z2[k] = z[k] * z[k];
		s[k] = 0;
		zmax = Max(zmax, z[k]);
	}
#ifdef BGNBD_V2
	/* the sums and powers in registers, for the number of pairs of lanes */
	switch ((n + 1) / 2)
	{
		case 1:
			bgnbd_multi_sum(1, A, a, C, z, z2, s);
			break;
		case 2:
			bgnbd_multi_sum(2, A, a, C, z, z2, s);
			break;
		case 3:
			bgnbd_multi_sum(3, A, a, C, z, z2, s);
			break;
		case 4:
			bgnbd_multi_sum(4, A, a, C, z, z2, s);
			break;
		case 5:
			bgnbd_multi_sum(5, A, a, C, z, z2, s);
			break;
		case 6:
			bgnbd_multi_sum(6, A, a, C, z, z2, s);
			break;
		case 7:
			bgnbd_multi_sum(7, A, a, C, z, z2, s);
			break;
		default:
			bgnbd_multi_sum(8, A, a, C, z, z2, s);
			break;
	}
#else

	/*
	 * Two terms a step, c_j z^j + c_(j+1) z^(j+1) = (c_j + c_(j+1) z) z^j,
	 * their two coefficient ratios with one division.
	 */
	{
	double		coef = A / C,	/* the j = 1 coefficient */
				ratio,
				pw[CLV_MULTI_MAX + 3];
	int			j;

	for (k = 0; k < nb * 4; k++)
		pw[k] = z[k];
	for (j = 1; j < 1000000; j += 2)
	{
		double		num1 = (A + j) * (a + j - 1),
					den1 = (C + j) * (j + 1),
					num2 = (A + j + 1) * (a + j),
					den2 = (C + j + 1) * (j + 2),
					inv = 1 / (den1 * den2),
					c1 = coef,
					c2 = coef * (num1 * den2 * inv);
		int			blk,
					i;

		for (blk = 0; blk < nb; blk++)
		{
			double	   *sb = s + 4 * blk,
					   *pb = pw + 4 * blk;
			const double *zb = z + 4 * blk,
					   *z2b = z2 + 4 * blk;

			for (i = 0; i < 4; i++)
			{
				sb[i] += (c1 + c2 * zb[i]) * pb[i];
				pb[i] *= z2b[i];
			}
		}
		ratio = num2 * den1 * inv;
		coef = c2 * ratio;
		if ((j & 7) == 7 && fabs(ratio) * zmax < 1)
		{
			bool		done = true;

			for (k = 0; k < n; k++)
				if (fabs(coef * pw[k]) > 1e-17 * fabs(s[k]))
					done = false;
			if (done)
				break;
		}
	}
	}
#endif
	for (k = 0; k < n; k++)
	{
		double		L = -log1p(t[k] / (alpha + T));

		out[k] = t[k] == 0 ? 0 : C * bgnbd_bracket(e, L, s[k]);
		if (!isfinite(out[k]))
			out[k] = clv_bgnbd_expected_alive_v(p, t[k], x, T);
	}
}

double
clv_bgnbd_expected_v(const double *p, double t, double x, double tx, double T)
{
	if (t == 0)
		return 0;
	return clv_bgnbd_expected_alive_v(p, t, x, T) * clv_bgnbd_p_alive_v(p, x, tx, T);
}

/* the model as the discounted value (src/clv_value.c) calls it */
const ClvTransactionModel clv_bgnbd_tmodel = {
	"BG/NBD expected purchases", "bgnbd_model", bgnbd_names, clv_bgnbd_expected_v,
	clv_bgnbd_p_alive_v, clv_bgnbd_expected_alive_v, clv_bgnbd_expected_alive_multi
};

Datum
clv_bgnbd_p_alive(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];

	bgnbd_args(fcinfo, p, v);
	PG_RETURN_FLOAT8(bgnbd_finite(clv_bgnbd_p_alive_v(p, v[0], v[1], v[2]),
								  "BG/NBD P(alive)", p, v));
}

/* crm.bgnbd_expected_purchases(model, horizon, frequency, recency, t) */
Datum
clv_bgnbd_expected(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];
	double		t;
	int			i;

	clv_model_params_cached(fcinfo, 0, 4, bgnbd_names,
					 "bgnbd_model", p);
	t = clv_horizon(PG_GETARG_FLOAT8(1));
	for (i = 0; i < 3; i++)
		v[i] = PG_GETARG_FLOAT8(i + 2);
	clv_validate_row(CLV_KIND_BGNBD, v);
	PG_RETURN_FLOAT8(bgnbd_finite(clv_bgnbd_expected_v(p, t, v[0], v[1], v[2]),
								  "BG/NBD expected purchases", p, v));
}

/* crm.bgnbd_expected_purchases(model, horizon): a new client, E[X(t)] */
Datum
clv_bgnbd_expected_new(PG_FUNCTION_ARGS)
{
	double		p[4];
	double		t;

	clv_model_params_cached(fcinfo, 0, 4, bgnbd_names,
					 "bgnbd_model", p);
	t = clv_horizon(PG_GETARG_FLOAT8(1));
	PG_RETURN_FLOAT8(bgnbd_finite(clv_bgnbd_expected_v(p, t, 0, 0, 0),
								  "BG/NBD expected purchases", p, NULL));
}

/*
 * crm.clv(bgnbd_model, gamma_gamma_model, frequency, recency, t, monetary,
 *         horizon, discount_rate, period)
 */
Datum
clv_bgnbd_clv(PG_FUNCTION_ARGS)
{
	double		p[4],
				v[3];
	int			i;

	clv_model_params_cached(fcinfo, 0, 4, bgnbd_names,
					 "bgnbd_model", p);
	for (i = 0; i < 3; i++)
		v[i] = PG_GETARG_FLOAT8(i + 2);
	clv_validate_row(CLV_KIND_BGNBD, v);
	PG_RETURN_FLOAT8(clv_discounted(fcinfo, &clv_bgnbd_tmodel, p, v));
}

/* the final function of crm.bgnbd_fit_or_null */
CLV_FIT_OR_NULL(clv_bgnbd_final)
