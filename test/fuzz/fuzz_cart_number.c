/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_cart_number.c
 *
 * libFuzzer target: the number reader of crm.price_cart's cart parser,
 * parse_scaled() in src/discount_cart.c (included here, as it is static),
 * which reads ids, quantities and points from the text of jsonb numbers
 * and strings.  The first byte picks the scale (0 for ids and points, 3
 * for quantities), the rest is the text.  The answer is checked against an
 * independent reading: a plain decimal [-+]digits[.digits] is accepted
 * when its value times 10^scale is a whole number that fits a bigint, and
 * then equals it.  The jsonb walk around it is fuzzed at SQL level
 * (test/fuzz/sql_fuzz.py).
 *
 *-------------------------------------------------------------------------
 */
#include "fakepg.h"

#include "../../src/discount_cart.c"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 0 and *out, or 1: not a decimal, 2: too many decimals, 3: out of range */
static int
reference(const char *s, int scale, int64 *out)
{
	bool		neg = false;
	const char *ip;
	size_t		ilen;
	const char *fp = "";
	size_t		flen = 0;
	char		digits[64];
	size_t		nd = 0;
	const char *dot;
	size_t		i;

	if (*s == '-' || *s == '+')
		neg = (*s++ == '-');
	dot = strchr(s, '.');
	ip = s;
	ilen = dot ? (size_t) (dot - s) : strlen(s);
	if (dot)
	{
		fp = dot + 1;
		flen = strlen(fp);
	}
	if (ilen + flen == 0)
		return 1;
	for (i = 0; i < ilen; i++)
		if (!isdigit((unsigned char) ip[i]))
			return 1;
	for (i = 0; i < flen; i++)
		if (!isdigit((unsigned char) fp[i]))
			return 1;
	for (i = scale; i < flen; i++)
		if (fp[i] != '0')
			return 2;
	/* the integer part without leading zeros, then scale decimals */
	while (ilen > 0 && *ip == '0')
		ip++, ilen--;
	if (ilen > 40)
		return 3;
	memcpy(digits, ip, ilen);
	nd = ilen;
	for (i = 0; i < (size_t) scale; i++)
		digits[nd++] = i < flen ? fp[i] : '0';
	digits[nd] = '\0';
	{
		const char *d = digits;

		while (*d == '0' && d[1] != '\0')
			d++;
		if (strlen(d) > 19 || (strlen(d) == 19 && strcmp(d, "9223372036854775807") > 0))
			return 3;
		*out = strtoll(d, NULL, 10);
		if (neg)
			*out = -*out;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			scale;
	char	   *s;
	int64		got = 0;
	int64		want = 0;
	int			rc;
	int			ref;

	if (size < 1)
		return 0;
	scale = (data[0] & 1) ? 3 : 0;
	s = fuzz_cstring(data + 1, size - 1);
	rc = parse_scaled(s, scale, &got);
	ref = reference(s, scale, &want);

	/* the first problem met decides the code; only success must agree */
	if ((rc == 0) != (ref == 0))
		fuzz_fail("parse_scaled(\"%s\", %d) = %d, reference %d", s, scale, rc, ref);
	if (rc == 0 && got != want)
		fuzz_fail("parse_scaled(\"%s\", %d) read %lld, reference %lld", s, scale,
				  (long long) got, (long long) want);
	if (rc == 1 && ref == 0)
		fuzz_fail("parse_scaled(\"%s\") called a decimal not a number", s);
	fuzz_reset();
	return 0;
}
