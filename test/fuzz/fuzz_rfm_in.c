/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_rfm_in.c
 *
 * libFuzzer target: crm.rfm's text input, rfm_in.  Checks the answer
 * against an independent reading of the rule (three digits 1-9, or
 * d-d-d, surrounded by optional blanks), that only 22P02 is raised, and
 * the round trips text -> value -> text and value -> binary -> value.
 *
 *-------------------------------------------------------------------------
 */
#include "fakepg.h"

#include "../../src/rfm.h"

extern PGDLLEXPORT Datum rfm_in(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_out(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_recv(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_send(PG_FUNCTION_ARGS);

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const errors[] = {"22P02", NULL};

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* the expected value, or -1 for an error */
static int
expected(const char *s)
{
	size_t		b = 0;
	size_t		e = strlen(s);
	const char *p;
	size_t		len;
	char		d[3];

	while (b < e && blank(s[b]))
		b++;
	while (e > b && blank(s[e - 1]))
		e--;
	p = s + b;
	len = e - b;
	if (len == 3)
	{
		d[0] = p[0];
		d[1] = p[1];
		d[2] = p[2];
	}
	else if (len == 5 && p[1] == '-' && p[3] == '-')
	{
		d[0] = p[0];
		d[1] = p[2];
		d[2] = p[4];
	}
	else
		return -1;
	for (int i = 0; i < 3; i++)
		if (d[i] < '1' || d[i] > '9')
			return -1;
	return (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = fuzz_cstring(data, size);
	int			want = expected(s);
	Datum		v;
	Datum		v2;
	Datum		out;
	Datum		bin;

	if (!fuzz_call1(rfm_in, CStringGetDatum(s), &v))
	{
		fuzz_expect_error("rfm_in", errors);
		if (want >= 0)
			fuzz_fail("rfm_in rejected \"%s\", expected %d", s, want);
	}
	else
	{
		int16		x = DatumGetInt16(v);
		bytea	   *b;
		StringInfo	msg;

		if (x != want)
			fuzz_fail("rfm_in(\"%s\") = %d, expected %d", s, x, want);
		if (!rfm_is_valid(x))
			fuzz_fail("rfm_in(\"%s\") = %d is not a valid rfm", s, x);
		if (!fuzz_call1(rfm_out, v, &out))
			fuzz_fail("rfm_out(%d) failed: %s", x, fuzz_error.message);
		if (!fuzz_call1(rfm_in, out, &v2) || DatumGetInt16(v2) != x)
			fuzz_fail("rfm %d does not round-trip through \"%s\"", x,
					  DatumGetCString(out));
		if (!fuzz_call1(rfm_send, v, &bin))
			fuzz_fail("rfm_send(%d) failed: %s", x, fuzz_error.message);
		b = DatumGetByteaPP(bin);
		msg = fuzz_message(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
		if (!fuzz_call1(rfm_recv, PointerGetDatum(msg), &v2) ||
			DatumGetInt16(v2) != x || msg->cursor != msg->len)
			fuzz_fail("rfm %d does not round-trip through its binary form", x);
	}
	fuzz_reset();
	return 0;
}
