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
 * sum_{j>=1} (A)_j (a)_{j-1} / ((C)_j j!) z^j for 0 <= z < 1, signed.
 */
double
clv_hyp2f1_series_tail(double A, double a, double C, double z)
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
		/* term_{j+1} / term_j = (A+j)(a+j-1) / ((C+j)(j+1)) z */
		ratio = ((long double) A + j) * ((long double) a + j - 1)
			/ (((long double) C + j) * (j + 1)) * z;
		term *= ratio;
		if (sum + term == sum && fabsl(ratio) < 1.0L)
			break;
		sum += term;
	}
	if (j == CLV_SERIES_MAX_TERMS && fabsl(ratio) < 1.0L)
		sum += term * ratio / (1.0L - ratio);
	return (double) sum;
}
