/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_clv_fit_state_in.c
 *
 * libFuzzer target: crm.clv_fit_state's text input, clv_fit_state_in
 * ("kind;penalty;v1,v2[,v3],count;...").  Errors must be 22P02 (bad text),
 * 22023 (a row the model cannot have produced, a bad penalty) or 54000 (too
 * many distinct rows).  An accepted state must print as text that reads
 * back to the same text, and combined with a copy of itself (as the
 * aggregate's combine function does) must hold every row with its count
 * doubled; its rows as the optimiser's arrays must weigh what it counts.
 *
 *-------------------------------------------------------------------------
 */
#include "fakepg.h"

#include "clv.h"

extern PGDLLEXPORT Datum clv_fit_state_in(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum clv_fit_state_out(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum clv_fit_combine(PG_FUNCTION_ARGS);

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const errors[] = {"22P02", "22023", "54000", NULL};

static char *
state_text(Datum v)
{
	Datum		out;

	if (!fuzz_call1(clv_fit_state_out, v, &out))
		fuzz_fail("clv_fit_state_out failed: %s", fuzz_error.message);
	return DatumGetCString(out);
}

static Datum
state_from_text(const char *text)
{
	Datum		v;

	if (!fuzz_call1(clv_fit_state_in, CStringGetDatum(text), &v))
		fuzz_fail("the output \"%.300s\" does not read back: %s", text,
				  fuzz_error.message);
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = fuzz_cstring(data, size);
	Datum		v;

	if (!fuzz_call1(clv_fit_state_in, CStringGetDatum(s), &v))
		fuzz_expect_error("clv_fit_state_in", errors);
	else
	{
		char	   *text = state_text(v);
		ClvFitState *st = clv_state_detoast(v);
		ClvFitState *dbl;
		Datum		args[2];
		bool		nulls[2] = {false, false};
		Datum		r;
		ClvData		d;

		if (strcmp(state_text(state_from_text(text)), text) != 0)
			fuzz_fail("text round trip changed \"%.300s\"", text);

		/* combine: a copy of the state with a copy of itself */
		args[0] = state_from_text(text);
		args[1] = state_from_text(text);
		fuzz_agg_context = AGG_CONTEXT_AGGREGATE;
		if (!fuzz_call(clv_fit_combine, 2, args, nulls, &r, NULL))
			fuzz_fail("combining \"%.300s\" with itself failed: %s", text,
					  fuzz_error.message);
		fuzz_agg_context = 0;
		dbl = clv_state_detoast(r);
		if (dbl->nrows != st->nrows || dbl->nclients != 2 * st->nclients ||
			dbl->kind != st->kind || dbl->penalty != st->penalty)
			fuzz_fail("combining \"%.300s\" with itself gave %d rows, %lld clients",
					  text, dbl->nrows, (long long) dbl->nclients);
		for (int i = 0; i < st->nrows; i++)
			if (memcmp(dbl->rows[i].v, st->rows[i].v, sizeof(st->rows[i].v)) != 0 ||
				dbl->rows[i].count != 2 * st->rows[i].count)
				fuzz_fail("combining \"%.300s\" with itself changed row %d", text, i);

		clv_state_to_data(st, &d);
		if (d.n != st->nrows || d.wsum != (double) st->nclients)
			fuzz_fail("\"%.300s\" as arrays: %d rows weighing %g", text, d.n, d.wsum);
		for (int i = 1; i < d.n; i++)
			if (d.x[i - 1] > d.x[i])
				fuzz_fail("rows of \"%.300s\" not sorted", text);
	}
	fuzz_reset();
	return 0;
}
