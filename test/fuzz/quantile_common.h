/*-------------------------------------------------------------------------
 *
 * test/fuzz/quantile_common.h
 *
 * The checks both crm.quantile_state targets make on a state that was
 * accepted: text and binary round trips, and the aggregate's combine and
 * final functions on it (a state combined with itself doubles every count,
 * which must leave the breakpoints where they were; the breakpoints must
 * ascend and be values of the state).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_FUZZ_QUANTILE_COMMON_H
#define CRM_FUZZ_QUANTILE_COMMON_H

#include "fakepg.h"

#include "utils/array.h"
#include "utils/float.h"

extern PGDLLEXPORT Datum rfm_quantile_state_in(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_quantile_state_out(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_quantile_state_recv(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_quantile_state_send(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_breaks_combinefn(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_breaks_finalfn(PG_FUNCTION_ARGS);

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *
state_text(Datum v)
{
	Datum		out;

	if (!fuzz_call1(rfm_quantile_state_out, v, &out))
		fuzz_fail("quantile_state_out failed: %s", fuzz_error.message);
	return DatumGetCString(out);
}

static bytea *
state_bytes(Datum v)
{
	Datum		out;

	if (!fuzz_call1(rfm_quantile_state_send, v, &out))
		fuzz_fail("quantile_state_send failed: %s", fuzz_error.message);
	return DatumGetByteaPP(out);
}

static Datum
state_from_text(const char *text)
{
	Datum		v;

	if (!fuzz_call1(rfm_quantile_state_in, CStringGetDatum(text), &v))
		fuzz_fail("the output \"%.200s\" does not read back: %s", text,
				  fuzz_error.message);
	return v;
}

static Datum
state_from_bytes(bytea *b)
{
	StringInfo	msg = fuzz_message(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	Datum		v;

	if (!fuzz_call1(rfm_quantile_state_recv, PointerGetDatum(msg), &v))
		fuzz_fail("the binary output does not read back: %s", fuzz_error.message);
	if (msg->cursor != msg->len)
		fuzz_fail("recv read %d of the %d bytes send wrote", msg->cursor, msg->len);
	return v;
}

/* the sum of the counts of a state's text form; false if beyond a bigint */
static bool
text_total(const char *text, int64 *total)
{
	const char *p = text;

	*total = 0;
	while ((p = strchr(p, ':')) != NULL)
	{
		int64		c = strtoll(++p, NULL, 10);

		if (c < 1)
			fuzz_fail("count %lld in the output \"%.200s\"", (long long) c, text);
		if (__builtin_add_overflow(*total, c, total))
			return false;
	}
	return true;
}

/* the breakpoints, or NULL; *failed: the final function raised 22003 */
static ArrayType *
state_breaks(Datum v, bool *failed)
{
	Datum		r;
	bool		isnull;
	bool		argnull = false;
	static const char *const errors[] = {"22003", NULL};

	*failed = false;
	fuzz_agg_context = AGG_CONTEXT_AGGREGATE;
	if (!fuzz_call(rfm_breaks_finalfn, 1, &v, &argnull, &r, &isnull))
	{
		fuzz_agg_context = 0;
		fuzz_expect_error("quantile_breaks final function", errors);
		*failed = true;
		return NULL;
	}
	fuzz_agg_context = 0;
	return isnull ? NULL : DatumGetArrayTypeP(r);
}

static void
check_state(Datum v)
{
	char	   *text = state_text(v);
	bytea	   *bin = state_bytes(v);
	Datum		v2;
	Datum		args[2];
	bool		nulls[2] = {false, false};
	Datum		doubled;
	ArrayType  *b1;
	ArrayType  *b2;
	int64		total;
	bool		failed;

	/* text and binary forms read back to the same state */
	v2 = state_from_text(text);
	if (strcmp(state_text(v2), text) != 0)
		fuzz_fail("text round trip changed \"%.200s\"", text);
	if (!fuzz_varlena_equal(state_bytes(v2), bin))
		fuzz_fail("text round trip changed the binary form of \"%.200s\"", text);
	v2 = state_from_bytes(bin);
	if (strcmp(state_text(v2), text) != 0)
		fuzz_fail("binary round trip changed \"%.200s\"", text);

	/* combined with a copy of itself, inside an aggregate */
	args[0] = state_from_text(text);
	args[1] = state_from_bytes(bin);
	fuzz_agg_context = AGG_CONTEXT_AGGREGATE;
	if (!fuzz_call(rfm_breaks_combinefn, 2, args, nulls, &doubled, NULL))
		fuzz_fail("combining \"%.200s\" with itself failed: %s", text,
				  fuzz_error.message);
	fuzz_agg_context = 0;

	if (!text_total(text, &total))
		fuzz_fail("the counts of the output \"%.200s\" overflow", text);
	b1 = state_breaks(v, &failed);
	if (failed)
		fuzz_fail("final function failed on \"%.200s\"", text);
	b2 = state_breaks(doubled, &failed);
	if (failed != (total > PG_INT64_MAX / 2))
		fuzz_fail("final function on the double of \"%.200s\": %s", text,
				  failed ? fuzz_error.message : "no overflow error");
	if (failed)
		return;
	if ((b1 == NULL) != (b2 == NULL))
		fuzz_fail("a state and its double disagree on having breakpoints");
	if (b1)
	{
		int			n = ARR_DIMS(b1)[0];
		float8	   *x = (float8 *) ARR_DATA_PTR(b1);

		if (ARR_NDIM(b1) != 1 || ARR_NDIM(b2) != 1 || ARR_DIMS(b2)[0] != n ||
			memcmp(ARR_DATA_PTR(b1), ARR_DATA_PTR(b2), n * sizeof(float8)) != 0)
			fuzz_fail("doubling every count moved the breakpoints of \"%.200s\"", text);
		for (int i = 1; i < n; i++)
			if (!(x[i - 1] <= x[i]))
				fuzz_fail("breakpoints of \"%.200s\" do not ascend", text);
		for (int i = 0; i < n; i++)
		{
			char	   *s = psprintf(" %s:", float8out_internal(x[i]));

			if (strstr(text, s) == NULL)
				fuzz_fail("breakpoint %s is not a value of \"%.200s\"", s, text);
		}
	}
}

#endif							/* CRM_FUZZ_QUANTILE_COMMON_H */
