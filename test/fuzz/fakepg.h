/*-------------------------------------------------------------------------
 *
 * test/fuzz/fakepg.h
 *
 * The fuzz targets' side of the small fake backend in fakepg.c: calling an
 * fmgr function and catching an ERROR it raises, the error it raised, the
 * per-input memory arena, and what AggCheckCallContext answers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_FUZZ_FAKEPG_H
#define CRM_FUZZ_FAKEPG_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"

/* the last error raised inside fuzz_call() */
typedef struct FuzzError
{
	int			elevel;
	int			sqlerrcode;
	char		sqlstate[6];
	char		message[1024];
	char		detail[1024];
} FuzzError;

extern FuzzError fuzz_error;

/* AggCheckCallContext's answer: 0 (not an aggregate) or AGG_CONTEXT_* */
extern int	fuzz_agg_context;

/* number of columns get_call_result_type reports for a composite result */
extern int	fuzz_result_natts;

/* the values heap_form_tuple was last given (copied), and how many */
extern Datum fuzz_tuple_values[64];
extern bool fuzz_tuple_nulls[64];
extern int	fuzz_tuple_natts;

/*
 * Calls fn with the arguments; true and *result if it returned, false if it
 * raised an ERROR (then fuzz_error says which).  A NULL result is reported
 * through *isnull when given, otherwise it is a finding.
 */
extern bool fuzz_call(PGFunction fn, int nargs, const Datum *args,
					  const bool *nulls, Datum *result, bool *isnull);
extern bool fuzz_call1(PGFunction fn, Datum a, Datum *result);
extern bool fuzz_call2(PGFunction fn, Datum a, Datum b, Datum *result);

/* abort (a finding) unless the last error has one of the SQLSTATEs */
extern void fuzz_expect_error(const char *target, const char *const *sqlstates);

/* a finding: print and abort, so that libFuzzer keeps the input */
extern void fuzz_fail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

/* frees everything palloc'd since the last reset */
extern void fuzz_reset(void);

/* a palloc'd, NUL-terminated copy of the bytes, cut at the first NUL */
extern char *fuzz_cstring(const uint8_t *data, size_t size);

/* a StringInfo over a palloc'd copy of the bytes, as a recv function gets */
extern StringInfo fuzz_message(const char *data, size_t size);

/* a varlena's bytes, both with 4-byte headers: equal? */
extern bool fuzz_varlena_equal(const void *a, const void *b);

#endif							/* CRM_FUZZ_FAKEPG_H */
