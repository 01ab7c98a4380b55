/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_profile_deserial.c
 *
 * libFuzzer target: the deserialise function of crm.purchase_profile's
 * internal state, profile_deserialfn, which reads bytes that another
 * process wrote.  Errors must be 22P03; an accepted state must serialise
 * back to exactly the bytes it was read from; combined with a copy of
 * itself it must count every purchase twice; and the final function must
 * build its result from either without a sanitizer report.
 *
 *-------------------------------------------------------------------------
 */
#include "fakepg.h"

#include <math.h>

extern PGDLLEXPORT Datum profile_serialfn(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum profile_deserialfn(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum profile_combinefn(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum profile_finalfn(PG_FUNCTION_ARGS);

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const errors[] = {"22P03", NULL};

static bytea *
as_bytea(const uint8_t *data, size_t size)
{
	bytea	   *b = palloc(VARHDRSZ + size);

	SET_VARSIZE(b, VARHDRSZ + size);
	memcpy(VARDATA(b), data, size);
	return b;
}

static Datum
final(Datum state)
{
	Datum		r;
	bool		isnull;
	bool		argnull = false;

	if (!fuzz_call(profile_finalfn, 1, &state, &argnull, &r, &isnull))
		fuzz_fail("profile final function failed: %s", fuzz_error.message);
	if (isnull)
		fuzz_fail("profile final function returned NULL for a state");
	/* purchases (column 3) */
	return fuzz_tuple_values[2];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Datum		arg = PointerGetDatum(as_bytea(data, size));
	Datum		v;

	fuzz_agg_context = AGG_CONTEXT_AGGREGATE;
	fuzz_result_natts = 17;
	if (!fuzz_call1(profile_deserialfn, arg, &v))
		fuzz_expect_error("profile_deserialfn", errors);
	else
	{
		Datum		ser;
		bytea	   *b;
		Datum		args[2];
		bool		nulls[2] = {false, false};
		Datum		combined;
		int64		n;

		if (!fuzz_call1(profile_serialfn, v, &ser))
			fuzz_fail("profile_serialfn failed: %s", fuzz_error.message);
		b = DatumGetByteaPP(ser);
		if (VARSIZE_ANY_EXHDR(b) != size || memcmp(VARDATA_ANY(b), data, size) != 0)
			fuzz_fail("deserialise then serialise changed the bytes");

		n = DatumGetInt64(final(v));

		/* a copy combined with the state */
		if (!fuzz_call1(profile_deserialfn, arg, &args[0]))
			fuzz_fail("a second deserialise failed: %s", fuzz_error.message);
		args[1] = v;
		if (!fuzz_call(profile_combinefn, 2, args, nulls, &combined, NULL))
		{
			/* only the sums may overflow */
			static const char *const overflow[] = {"22003", NULL};

			fuzz_expect_error("profile_combinefn", overflow);
		}
		else if (DatumGetInt64(final(combined)) != 2 * n)
			fuzz_fail("a state combined with itself does not count twice");
	}
	fuzz_agg_context = 0;
	fuzz_reset();
	return 0;
}
