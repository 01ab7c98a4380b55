/*-------------------------------------------------------------------------
 *
 * src/clv_special.c
 *
 * Special functions of the CLV models: the digamma function and the two
 * forms of the Gaussian hypergeometric function 2F1 that the models need.
 *
 * - Pareto/NBD's likelihood needs ln 2F1(a, b; a+1; z), 0 <= z < 1.  By
 *   Euler's transformation 2F1(a, b; a+1; z) = (1-z)^(1-b) S with
 *   S = 2F1(1, a+1-b; a+1; z) = sum_j (a+1-b)_j / (a+1)_j z^j, whose terms
 *   are all positive when a+1-b > 0 (true in all four calls) and shrink
 *   faster than z^j; so ln 2F1 = (1-b) ln(1-z) + ln S stays finite where
 *   2F1 itself overflows.
 * - BG/NBD's expectations need, after Euler's transformation (see
 *   clv_bgnbd.c), the series sum_{j>=1} (A)_j (a)_{j-1} / ((C)_j j!) z^j,
 *   kept signed: it can be negative, and C can be negative.
 *
 * The first series (positive terms) is summed in double, the second
 * (signed) in long double, until a term no longer changes the sum.  Near
 * z = 1 they converge slowly (about ln(eps)/ln(z) terms); past
 * CLV_SERIES_MAX_TERMS the remainder is estimated as a geometric tail.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "clv.h"

#define CLV_SERIES_MAX_TERMS	2000000

/*
 * Terms summed by the positive series since the last clv_series_work_reset:
 * the Pareto/NBD fit bounds its work with it.
 */
static int64 clv_series_terms = 0;

void
clv_series_work_reset(void)
{
	clv_series_terms = 0;
}

int64
clv_series_work(void)
{
	return clv_series_terms;
}

/*
 * Digamma psi(x) for x > 0: the recurrence psi(x) = psi(x+1) - 1/x up to
 * x >= 10, then the asymptotic series.
 */
double
clv_digamma(double x)
{
	double		acc = 0.0;
	double		x2;

	if (!(x > 0))
		return NAN;
	while (x < 10.0)
	{
		acc -= 1.0 / x;
		x += 1.0;
	}
	x2 = 1.0 / (x * x);
	return acc + log(x) - 0.5 / x
		- x2 * (1.0 / 12 - x2 * (1.0 / 120 - x2 * (1.0 / 252 - x2 * (1.0 / 240
																	- x2 * (1.0 / 132)))));
}

/*
 * ln 2F1(a, b; a+1; z) for a > 0, a+1-b > 0 and 0 <= z < 1, given
 * log1mz = ln(1-z) computed by the caller without cancellation.
 */
double
clv_log_hyp2f1_c_eq_a_plus_1(double a, double b, double z, double log1mz)
{
	double		sum = 1.0;
	double		term = 1.0;
	double		e = a + 1.0 - b;
	double		c = a + 1.0;
	double		ratio = 0.0;
	int			j;

	/* positive terms: double precision loses at most a few ulps per term */
	if (z > 0)
	{
		for (j = 0; j < CLV_SERIES_MAX_TERMS; j++)
		{
			ratio = (e + j) / (c + j) * z;
			term *= ratio;
			if (term <= sum * 1e-17)
				break;
			sum += term;
		}
		if (j == CLV_SERIES_MAX_TERMS && ratio < 1.0)
			sum += term * ratio / (1.0 - ratio);
		clv_series_terms += j;
	}
	return (1.0 - b) * log1mz + log(sum);
}

/*
 * ln S, S = sum_j (e)_j / (c)_j z^j (e, c > 0, 0 <= z < 1), and its partial
 * derivatives in e, c and z: the series of clv_log_hyp2f1_c_eq_a_plus_1
 * with e = a+1-b, c = a+1, for the analytic Pareto/NBD gradient.
 */
double
clv_log_s_series(double e, double c, double z, double *dle, double *dlc,
				 double *dlz)
{
	double		sum = 1.0,
				se = 0.0,
				sc = 0.0,
				sz = 0.0;
	double		term = 1.0,
				he = 0.0,
				hc = 0.0,
				ratio = 0.0;
	int			j;

	if (z > 0)
	{
		for (j = 0; j < CLV_SERIES_MAX_TERMS; j++)
		{
			/* term_{j+1} = term_j (e+j)/(c+j) z; H_{j+1} = H_j + 1/(e+j) */
			ratio = (e + j) / (c + j) * z;
			term *= ratio;
			he += 1.0 / (e + j);
			hc += 1.0 / (c + j);
			if (term <= sum * 1e-17)
				break;
			sum += term;
			se += term * he;
			sc += term * hc;
			sz += term * (j + 1);
		}
		clv_series_terms += j;
		*dle = se / sum;
		*dlc = -sc / sum;
		*dlz = sz / (z * sum);
	}
	else
	{
		*dle = 0;
		*dlc = 0;
		*dlz = e / c;			/* the j = 1 term's derivative at z = 0 */
	}
	return log(sum);
}

/*
 * e^lscale * sum_{j>=1} (A)_j (a)_{j-1} / ((C)_j j!) z^j for 0 <= z < 1,
 * signed.  The factor is applied in long double, where the sum may be far
 * beyond the range of a double (about (1-z)^-a) and e^lscale far below it.
 */
double
clv_hyp2f1_series_tail(double A, double a, double C, double z, double lscale)
{
	long double sum = 0.0L;
	long double term;
	long double ratio = 0.0L;
	int			j;

	if (z == 0)
		return 0.0;
	term = (long double) A / C * z;		/* j = 1 */
	sum = term;
	for (j = 1; j < CLV_SERIES_MAX_TERMS; j++)
	{
		/*
		 * term_{j+1} / term_j = (A+j)(a+j-1) / ((C+j)(j+1)) z: the ratio in
		 * double (its rounding, 1e-16 a term, is far below what the
		 * result keeps), the terms and their sum in long double (range).
		 */
		double		rd = (A + j) * (a + j - 1) / ((C + j) * (j + 1)) * z;

		ratio = rd;
		term *= ratio;
		if (sum + term == sum && fabs(rd) < 1.0)
			break;
		sum += term;
	}
	if (j == CLV_SERIES_MAX_TERMS && fabsl(ratio) < 1.0L)
		sum += term * ratio / (1.0L - ratio);
	if (sum == 0)
		return 0.0;
	/* e^lscale sum: in double where both are in its range, else in long double */
	{
		double		sd = (double) sum;

		if (fabs(lscale) < 700 && fabs(sd) > 1e-290 && fabs(sd) < 1e290)
		{
			double		v = sd * exp(lscale);

			if (v != 0 && isfinite(v))
				return v;
		}
	}
	return (double) copysignl(expl((long double) lscale + logl(fabsl(sum))), sum);
}

/*
 * ln G(y+x) - ln G(y) for y > 0, x >= 0, without the cancellation of the
 * two lgamma calls when y is large (lgamma(1e9) is about 2e10: its rounding
 * error alone would be 1e-6).  For y >= 100 the difference of the Stirling
 * series is taken term by term:
 *   (y-1/2) ln(1+x/y) + x ln(y+x) - x + [1/(12z) - 1/(360z^3) + ...]_y^{y+x}
 * (the next term of the series, 1/(1188 z^9), is below 1e-20 there).
 */
double
clv_lgamma_ratio(double y, double x)
{
	double		z,
				c;

	if (x == 0)
		return 0.0;
	if (y < 100.0)
		return lgamma(y + x) - lgamma(y);
	z = y + x;
	c = -x / (12.0 * y * z)
		- (1.0 / (z * z * z) - 1.0 / (y * y * y)) / 360.0
		+ (1.0 / pow(z, 5) - 1.0 / pow(y, 5)) / 1260.0
		- (1.0 / pow(z, 7) - 1.0 / pow(y, 7)) / 1680.0;
	return (y - 0.5) * log1p(x / y) + x * log(z) - x + c;
}

/*
 * psi(y+x) - psi(y) for y > 0, x >= 0, without cancellation for large y:
 * for y >= 100 the difference of the asymptotic series, with its leading
 * terms in closed form (ln(1+x/y), x/(2y(y+x)), ...).
 */
double
clv_digamma_diff(double y, double x)
{
	double		z,
				y2,
				z2;

	if (x == 0)
		return 0.0;
	if (y < 100.0)
		return clv_digamma(y + x) - clv_digamma(y);
	z = y + x;
	y2 = 1.0 / (y * y);
	z2 = 1.0 / (z * z);
	return log1p(x / y) + x / (2.0 * y * z)
		+ x * (2.0 * y + x) * y2 * z2 / 12.0
		+ (z2 * z2 - y2 * y2) / 120.0
		- (z2 * z2 * z2 - y2 * y2 * y2) / 252.0
		+ (z2 * z2 * z2 * z2 - y2 * y2 * y2 * y2) / 240.0;
}
