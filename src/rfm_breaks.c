/*-------------------------------------------------------------------------
 *
 * src/rfm_breaks.c
 *
 * Quantile scoring across clients, ties kept together.
 *
 *	- crm.quantile_state: the state of the cross-client aggregate
 *	  crm.quantile_breaks, a real (non-internal) varlena type whose text form
 *	  round-trips exactly, so that a cluster can ship partial states between
 *	  servers as text.  It holds the number of classes, the direction, and
 *	  the exact distribution of the values seen: distinct values with their
 *	  counts.
 *	- crm.quantile_breaks(value, classes, higher_is_better): the k - 1
 *	  ascending breakpoints of the population's values.
 *	- crm.threshold_score(value, thresholds, higher_is_better): a value's
 *	  score 1..k against ascending breakpoints, quantile or fixed.
 *
 * The rule, for a population of N values and k classes: a value's score is
 * 1 + floor(k * w / N), where w is the number of values strictly worse than
 * it (smaller when higher is better, larger when lower is better).  Equal
 * values get the same score; a tie group takes the score of its worst-ranked
 * position.  With sorted values s_1 <= ... <= s_N and m_j = ceil(j N / k),
 * the breakpoints are b_j = s_(m_j) (higher is better) or s_(N + 1 - m_j)
 * (lower is better), and the rule becomes: the score is 1 + the number of
 * breakpoints strictly worse than the value.  So a value equal to a
 * breakpoint always falls in the worse class, for quantile and fixed
 * thresholds alike.
 *
 * The state keeps a sorted, merged run of (value, count) pairs followed by an
 * unsorted tail of new values; when the space runs out the tail is sorted
 * and merged into the run, and the space doubles if still more than half
 * full.  Inside an aggregate the state is updated in place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "compat.h"
#include "rfm.h"

#define BREAKS_MIN_CLASSES	2
#define BREAKS_MAX_CLASSES	100
#define BREAKS_INITIAL_PAIRS 64

typedef struct BreaksPair
{
	float8		value;
	int64		count;
} BreaksPair;

typedef struct BreaksState
{
	int32		vl_len_;		/* varlena header */
	int32		classes;		/* number of score classes */
	int32		higher;			/* 1: higher values are better, 0: lower */
	int32		nsorted;		/* pairs[0 .. nsorted-1]: sorted, distinct */
	int32		nused;			/* pairs[nsorted .. nused-1]: unsorted tail */
	int32		pad;			/* always 0 */
	BreaksPair	pairs[FLEXIBLE_ARRAY_MEMBER];
} BreaksState;

#define BREAKS_HDRSZ		offsetof(BreaksState, pairs)
#define BREAKS_SIZE(n)		(BREAKS_HDRSZ + (n) * sizeof(BreaksPair))
#define BREAKS_CAPACITY(s)	((int32) ((VARSIZE(s) - BREAKS_HDRSZ) / sizeof(BreaksPair)))
#define BREAKS_MAX_PAIRS	((int32) ((MaxAllocSize - BREAKS_HDRSZ) / sizeof(BreaksPair)))

PG_FUNCTION_INFO_V1(rfm_quantile_state_in);
PG_FUNCTION_INFO_V1(rfm_quantile_state_out);
PG_FUNCTION_INFO_V1(rfm_quantile_state_recv);
PG_FUNCTION_INFO_V1(rfm_quantile_state_send);
PG_FUNCTION_INFO_V1(rfm_breaks_transfn);
PG_FUNCTION_INFO_V1(rfm_breaks_combinefn);
PG_FUNCTION_INFO_V1(rfm_breaks_finalfn);
PG_FUNCTION_INFO_V1(rfm_threshold_score);

static BreaksState *
breaks_alloc(int32 capacity, int32 classes, bool higher)
{
	BreaksState *s;

	if (capacity > BREAKS_MAX_PAIRS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("quantile state would exceed %d distinct values",
						BREAKS_MAX_PAIRS)));
	s = (BreaksState *) palloc0(BREAKS_SIZE(capacity));
	SET_VARSIZE(s, BREAKS_SIZE(capacity));
	s->classes = classes;
	s->higher = higher ? 1 : 0;
	return s;
}

/* A copy with room for at least capacity pairs. */
static BreaksState *
breaks_copy(const BreaksState *src, int32 capacity)
{
	BreaksState *s = breaks_alloc(Max(capacity, src->nused), src->classes,
								  src->higher != 0);

	s->nsorted = src->nsorted;
	s->nused = src->nused;
	memcpy(s->pairs, src->pairs, src->nused * sizeof(BreaksPair));
	return s;
}

/* breaks_sort(pairs, n): an inlined sort of pairs by value (no NaN here) */
#define ST_SORT breaks_sort
#define ST_ELEMENT_TYPE BreaksPair
#define ST_COMPARE(a, b) (((a)->value > (b)->value) - ((a)->value < (b)->value))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* rfm_sort_float8(values, n): an inlined sort of float8 values (no NaN) */
#define ST_SORT rfm_sort_float8
#define ST_ELEMENT_TYPE float8
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Sorts the tail and merges it into the sorted run, equal values summed.
 * The counts of a state must add up to a bigint: the sorted run always
 * does (every way of making one checks it), but a combined state or one
 * with new rows may not, which is an error here, before any count is
 * merged.
 */
static void
breaks_compact(BreaksState *s)
{
	BreaksPair *tail = s->pairs + s->nsorted;
	int32		ntail = s->nused - s->nsorted;
	BreaksPair *out;
	int32		i = 0;
	int32		j = 0;
	int32		n = 0;
	int64		total = 0;

	if (ntail == 0)
		return;
	for (i = 0; i < s->nused; i++)
		if (pg_add_s64_overflow(total, s->pairs[i].count, &total))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("quantile state counts add up to more than a bigint holds")));
	i = 0;
	breaks_sort(tail, ntail);

	out = (BreaksPair *) palloc(s->nused * sizeof(BreaksPair));
	while (i < s->nsorted || j < ntail)
	{
		BreaksPair	next;

		if (j >= ntail || (i < s->nsorted && s->pairs[i].value <= tail[j].value))
			next = s->pairs[i++];
		else
			next = tail[j++];
		if (n > 0 && out[n - 1].value == next.value)
			out[n - 1].count += next.count;
		else
			out[n++] = next;
	}
	memcpy(s->pairs, out, n * sizeof(BreaksPair));
	pfree(out);
	s->nsorted = s->nused = n;
}

static void
breaks_check_params(int32 classes)
{
	if (classes < BREAKS_MIN_CLASSES || classes > BREAKS_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of classes %d is out of range", classes),
				 errdetail("The number of classes must be between %d and %d.",
						   BREAKS_MIN_CLASSES, BREAKS_MAX_CLASSES)));
}

static void
breaks_check_value(float8 v)
{
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot score NaN"),
				 errdetail("Scored values must be numbers; NaN has no rank.")));
}

/*
 * The untrusted text form:  "<classes> higher|lower [<value>:<count> ...]",
 * values in float8's shortest exact form, ascending and distinct on output;
 * on input any order is accepted and equal values are merged.
 */
Datum
rfm_quantile_state_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	char	   *p = str;
	char	   *end;
	long		classes;
	bool		higher;
	int32		cap = BREAKS_INITIAL_PAIRS;
	int64		total = 0;
	BreaksState *s;

#define BAD_STATE(why) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION), \
			 errmsg("invalid input syntax for type crm.quantile_state: \"%s\"", str), \
			 errdetail why))

	errno = 0;
	classes = strtol(p, &end, 10);
	if (end == p || errno != 0)
		BAD_STATE(("It must start with the number of classes."));
	if (classes < BREAKS_MIN_CLASSES || classes > BREAKS_MAX_CLASSES)
		BAD_STATE(("The number of classes must be between %d and %d.",
				   BREAKS_MIN_CLASSES, BREAKS_MAX_CLASSES));
	p = end;
	while (*p == ' ')
		p++;
	if (strncmp(p, "higher", 6) == 0)
	{
		higher = true;
		p += 6;
	}
	else if (strncmp(p, "lower", 5) == 0)
	{
		higher = false;
		p += 5;
	}
	else
		BAD_STATE(("The number of classes must be followed by \"higher\" or \"lower\"."));

	s = breaks_alloc(cap, (int32) classes, higher);
	for (;;)
	{
		float8		v;
		long long	c;

		if (*p != ' ' && *p != '\0')
			BAD_STATE(("Values must be separated by spaces."));
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		v = crm_float8in(p, &end, "crm.quantile_state", str);
		if (isnan(v))
			BAD_STATE(("NaN cannot be a value."));
		if (v == 0)
			v = 0;				/* no negative zero */
		if (*end != ':')
			BAD_STATE(("Each value must be followed by a colon and its count."));
		p = end + 1;
		if (*p < '0' || *p > '9')
			BAD_STATE(("Each count must be a positive integer."));
		errno = 0;
		c = strtoll(p, &end, 10);
		if (end == p || errno != 0 || c < 1)
			BAD_STATE(("Each count must be a positive integer."));
		p = end;
		/* before equal values are merged, which must not overflow */
		if (pg_add_s64_overflow(total, (int64) c, &total))
			BAD_STATE(("The counts add up to more than a bigint holds."));

		if (s->nused == cap)
		{
			BreaksState *t;

			cap *= 2;
			t = breaks_copy(s, cap);
			pfree(s);
			s = t;
		}
		s->pairs[s->nused].value = v;
		s->pairs[s->nused].count = (int64) c;
		s->nused++;
	}
	breaks_compact(s);
#undef BAD_STATE

	PG_RETURN_POINTER(s);
}

/* Returns s itself when compact, otherwise a compacted copy. */
static const BreaksState *
breaks_compacted(const BreaksState *s)
{
	BreaksState *c;

	if (s->nsorted == s->nused)
		return s;
	c = breaks_copy(s, s->nused);
	breaks_compact(c);
	return c;
}

Datum
rfm_quantile_state_out(PG_FUNCTION_ARGS)
{
	const BreaksState *s = breaks_compacted((BreaksState *) PG_GETARG_VARLENA_P(0));
	StringInfoData buf;
	int32		i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%d %s", s->classes, s->higher ? "higher" : "lower");
	for (i = 0; i < s->nused; i++)
	{
		char	   *v = float8out_internal(s->pairs[i].value);

		appendStringInfo(&buf, " %s:" INT64_FORMAT, v, s->pairs[i].count);
		pfree(v);
	}
	PG_RETURN_CSTRING(buf.data);
}

/*
 * Binary form: int32 classes, byte higher (1) or lower (0), int32 number of
 * pairs, then each pair as float8 value and int64 count, values ascending
 * and distinct.  The bytes are untrusted: every rule of the text form is
 * checked again.
 */
Datum
rfm_quantile_state_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		classes = pq_getmsgint(buf, 4);
	int			higher = pq_getmsgbyte(buf);
	int32		n = pq_getmsgint(buf, 4);
	int64		total = 0;
	BreaksState *s;
	int32		i;

#define BAD_BINARY(...) \
	ereport(ERROR, \
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION), \
			 errmsg("invalid binary crm.quantile_state: " __VA_ARGS__)))

	if (classes < BREAKS_MIN_CLASSES || classes > BREAKS_MAX_CLASSES)
		BAD_BINARY("%d classes", classes);
	if (higher != 0 && higher != 1)
		BAD_BINARY("direction byte %d", higher);
	if (n < 0 || n > BREAKS_MAX_PAIRS || (buf->len - buf->cursor) != (int64) n * 16)
		BAD_BINARY("%d values do not match %d bytes", n, buf->len - buf->cursor);

	s = breaks_alloc(Max(n, 1), classes, higher == 1);
	for (i = 0; i < n; i++)
	{
		float8		v = pq_getmsgfloat8(buf);
		int64		c = pq_getmsgint64(buf);

		if (isnan(v))
			BAD_BINARY("NaN value");
		if (i > 0 && !(v > s->pairs[i - 1].value))
			BAD_BINARY("values not ascending and distinct at value %d", i + 1);
		if (c < 1 || pg_add_s64_overflow(total, c, &total))
			BAD_BINARY("count " INT64_FORMAT " of value %d", c, i + 1);
		s->pairs[i].value = (v == 0) ? 0 : v;
		s->pairs[i].count = c;
	}
	s->nsorted = s->nused = n;
#undef BAD_BINARY
	PG_RETURN_POINTER(s);
}

Datum
rfm_quantile_state_send(PG_FUNCTION_ARGS)
{
	const BreaksState *s = breaks_compacted((BreaksState *) PG_GETARG_VARLENA_P(0));
	StringInfoData buf;
	int32		i;

	pq_begintypsend(&buf);
	pq_sendint32(&buf, s->classes);
	pq_sendbyte(&buf, s->higher ? 1 : 0);
	pq_sendint32(&buf, s->nused);
	for (i = 0; i < s->nused; i++)
	{
		pq_sendfloat8(&buf, s->pairs[i].value);
		pq_sendint64(&buf, s->pairs[i].count);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* crm.quantile_breaks transition: (state, value, classes, higher_is_better) */
Datum
rfm_breaks_transfn(PG_FUNCTION_ARGS)
{
	BreaksState *s;
	float8		v;
	int32		classes;
	bool		higher;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("number of classes and direction of crm.quantile_breaks must not be null")));

	v = PG_GETARG_FLOAT8(1);
	classes = PG_GETARG_INT32(2);
	higher = PG_GETARG_BOOL(3);
	breaks_check_value(v);
	if (v == 0)
		v = 0;					/* no negative zero */

	if (PG_ARGISNULL(0))
	{
		breaks_check_params(classes);
		s = breaks_alloc(BREAKS_INITIAL_PAIRS, classes, higher);
	}
	else
	{
		s = (BreaksState *) PG_GETARG_VARLENA_P(0);
		if (s->classes != classes || (s->higher != 0) != higher)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("number of classes and direction must be the same for every row"),
					 errdetail("The aggregate started with %d classes, %s is better; this row asks for %d classes, %s is better.",
							   s->classes, s->higher ? "higher" : "lower",
							   classes, higher ? "higher" : "lower")));
		/* in place inside an aggregate only; otherwise work on a copy */
		if (!AggCheckCallContext(fcinfo, NULL) ||
			(Pointer) s != DatumGetPointer(PG_GETARG_DATUM(0)))
			s = breaks_copy(s, BREAKS_CAPACITY(s));
	}

	if (s->nused == BREAKS_CAPACITY(s))
	{
		breaks_compact(s);
		if (s->nused > BREAKS_CAPACITY(s) / 2)
		{
			/*
			 * A new, larger state in the per-call context: the executor
			 * copies it into the aggregate context and frees the old one.
			 */
			s = breaks_copy(s, 2 * BREAKS_CAPACITY(s));
		}
	}
	s->pairs[s->nused].value = v;
	s->pairs[s->nused].count = 1;
	s->nused++;

	PG_RETURN_POINTER(s);
}

Datum
rfm_breaks_combinefn(PG_FUNCTION_ARGS)
{
	BreaksState *a;
	BreaksState *b;
	int32		need;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	b = (BreaksState *) PG_GETARG_VARLENA_P(1);
	if (b->classes < BREAKS_MIN_CLASSES || b->classes > BREAKS_MAX_CLASSES)
		elog(ERROR, "invalid crm.quantile_state");
	if (PG_ARGISNULL(0))
		PG_RETURN_POINTER(breaks_copy(b, b->nused));

	a = (BreaksState *) PG_GETARG_VARLENA_P(0);
	if (a->classes != b->classes || a->higher != b->higher)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine quantile states with different classes or directions"),
				 errdetail("One state has %d classes, %s is better; the other %d classes, %s is better.",
						   a->classes, a->higher ? "higher" : "lower",
						   b->classes, b->higher ? "higher" : "lower")));

	need = a->nused + b->nused;
	if (!AggCheckCallContext(fcinfo, NULL) ||
		(Pointer) a != DatumGetPointer(PG_GETARG_DATUM(0)) ||
		need > BREAKS_CAPACITY(a))
		a = breaks_copy(a, Max(need, Min(2 * BREAKS_CAPACITY(a), BREAKS_MAX_PAIRS)));
	memcpy(a->pairs + a->nused, b->pairs, b->nused * sizeof(BreaksPair));
	a->nused = need;
	PG_RETURN_POINTER(a);
}

/*
 * The 1-based sorted position of the i-th ascending breakpoint (0 <= i <
 * k - 1) of n values: m_j = ceil(j n / k), counted from the top when lower
 * is better.
 */
static int64
breaks_position(int32 i, int64 n, int32 k, bool higher)
{
	int32		j = higher ? i + 1 : k - 1 - i;
	int64		m = (int64) (((int128) j * n + k - 1) / k);

	return higher ? m : n - m + 1;
}

/*
 * The k - 1 ascending breakpoints of n values (n >= 1, no NaN), sorting the
 * values in place: the same rule as crm.quantile_breaks.
 */
void
rfm_breaks_of_values(float8 *values, int64 n, int32 k, bool higher,
					 float8 *breaks)
{
	int32		i;

	breaks_check_params(k);
	for (i = 0; i < n; i++)
		if (values[i] == 0)
			values[i] = 0;		/* no negative zero */
	rfm_sort_float8(values, n);
	for (i = 0; i < k - 1; i++)
		breaks[i] = values[breaks_position(i, n, k, higher) - 1];
}

/* 1 + the number of breakpoints strictly worse than v: crm.threshold_score */
int32
rfm_score_of(float8 v, const float8 *breaks, int32 nbreaks, bool higher)
{
	int32		score = 1;
	int32		i;

	for (i = 0; i < nbreaks; i++)
		if (higher ? breaks[i] < v : breaks[i] > v)
			score++;
	return score;
}

/* The value at 1-based sorted position pos (1 <= pos <= N). */
static float8
breaks_value_at(const BreaksState *s, int64 pos, int32 *cursor, int64 *below)
{
	/* cursor/below walk forward: positions must be asked in ascending order */
	while (*below + s->pairs[*cursor].count < pos)
	{
		*below += s->pairs[*cursor].count;
		(*cursor)++;
	}
	return s->pairs[*cursor].value;
}

Datum
rfm_breaks_finalfn(PG_FUNCTION_ARGS)
{
	const BreaksState *s;
	int64		n = 0;
	int32		k;
	int32		i;
	int32		cursor = 0;
	int64		below = 0;
	Datum	   *breaks;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = breaks_compacted((BreaksState *) PG_GETARG_VARLENA_P(0));
	for (i = 0; i < s->nused; i++)
		n += s->pairs[i].count;
	if (n == 0)
		PG_RETURN_NULL();

	k = s->classes;
	breaks = (Datum *) palloc(sizeof(Datum) * (k - 1));
	for (i = 0; i < k - 1; i++)
		breaks[i] = Float8GetDatum(breaks_value_at(s,
												   breaks_position(i, n, k, s->higher != 0),
												   &cursor, &below));
	PG_RETURN_ARRAYTYPE_P(construct_array(breaks, k - 1, FLOAT8OID,
										  sizeof(float8), FLOAT8PASSBYVAL,
										  TYPALIGN_DOUBLE));
}

/*
 * crm.threshold_score(value, thresholds, higher_is_better): 1 + the number
 * of thresholds strictly worse than the value.
 */
Datum
rfm_threshold_score(PG_FUNCTION_ARGS)
{
	float8		v = PG_GETARG_FLOAT8(0);
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(1);
	bool		higher = PG_GETARG_BOOL(2);
	int			nt;
	const float8 *t;
	int			i;

	breaks_check_value(v);
	if (ARR_ELEMTYPE(a) != FLOAT8OID)
		elog(ERROR, "expected a float8 array");
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("thresholds must be a one-dimensional array")));
	if (ARR_HASNULL(a) && array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("thresholds must not contain nulls")));
	nt = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	if (nt + 1 > BREAKS_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%d thresholds make more than %d classes", nt,
						BREAKS_MAX_CLASSES)));
	t = (const float8 *) ARR_DATA_PTR(a);

	for (i = 0; i < nt; i++)
		if (isnan(t[i]) || (i > 0 && t[i] < t[i - 1]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("thresholds must be ascending numbers: threshold %d is %s after %s",
							i + 1, float8out_internal(t[i]),
							i > 0 ? float8out_internal(t[i - 1]) : "nothing")));
	PG_RETURN_INT32(rfm_score_of(v, t, nt, higher));
}
