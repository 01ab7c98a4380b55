/*-------------------------------------------------------------------------
 *
 * src/clv_state.c
 *
 * The transition state of the CLV fitting aggregates, the type
 * crm.clv_fit_state: the distinct client summaries seen so far, each with the
 * number of clients that share it.  Identical summaries are merged as they
 * arrive (an open-addressing hash inside the varlena), so a fit over a
 * million clients costs what their distinct summaries cost.
 *
 * The state is a real, non-internal type whose text form round-trips
 * exactly (the shortest decimal form of every double), so that a cluster
 * can ship partial states between nodes.  Text form:
 *
 *		kind;penalty;v1,v2,v3,count;v1,v2,v3,count;...
 *
 * with kind bgnbd, pareto_nbd (rows frequency,recency,t,count) or
 * gamma_gamma (rows frequency,monetary,count).
 *
 * The transition and combine functions modify the state in place when they
 * are called as an aggregate (the state then lives in the aggregate
 * context); a state that must grow is rebuilt in the per-call context and
 * handed back, and the executor copies it into the aggregate context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "access/htup_details.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "clv.h"

PG_FUNCTION_INFO_V1(clv_fit_state_in);
PG_FUNCTION_INFO_V1(clv_fit_state_out);
PG_FUNCTION_INFO_V1(clv_bgnbd_trans);
PG_FUNCTION_INFO_V1(clv_pareto_trans);
PG_FUNCTION_INFO_V1(clv_gamma_trans);
PG_FUNCTION_INFO_V1(clv_fit_combine);
PG_FUNCTION_INFO_V1(clv_bgbb_trans);

#define CLV_INITIAL_CAPACITY	64
#define CLV_MAX_CAPACITY \
	((int32) ((MaxAllocSize - CLV_STATE_HDRSZ) / (sizeof(ClvRow) + 2 * sizeof(int32))))

/*
 * The shortest decimal text that reads back as the same double.
 */
char *
clv_fmt(double v)
{
	char	   *buf = palloc(DOUBLE_SHORTEST_DECIMAL_LEN);

	if (isnan(v))
		strcpy(buf, "NaN");
	else if (isinf(v))
		strcpy(buf, v > 0 ? "Infinity" : "-Infinity");
	else
		double_to_shortest_decimal_buf(v, buf);
	return buf;
}

const char *
clv_kind_name(int kind)
{
	switch (kind)
	{
		case CLV_KIND_BGNBD:
			return "bgnbd";
		case CLV_KIND_PARETO:
			return "pareto_nbd";
		case CLV_KIND_GAMMA:
			return "gamma_gamma";
		case CLV_KIND_BGBB:
			return "bgbb";
	}
	return "unknown";
}

/*
 * Reject a summary the models cannot have produced, naming the row.
 */
void
clv_validate_row(int kind, const double *v)
{
	if (kind == CLV_KIND_BGBB)
		clv_bgbb_validate_row(v);
	else if (kind == CLV_KIND_GAMMA)
	{
		double		x = v[0],
					m = v[1];

		if (!isfinite(x) || x < 0 || x != floor(x) || x > CLV_MAX_FREQUENCY)
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("frequency %s is not a non-negative whole number",
							clv_fmt(x)),
					 errdetail("The client summary is frequency %s, monetary %s.",
							   clv_fmt(x), clv_fmt(m))));
		if (x > 0 && (!isfinite(m) || m <= 0))
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("monetary %s of a repeat buyer is not a positive number",
							clv_fmt(m)),
					 errdetail("The client summary is frequency %s, monetary %s.",
							   clv_fmt(x), clv_fmt(m))));
		return;
	}
	else
	{
		double		x = v[0],
					tx = v[1],
					T = v[2];
		const char *problem = NULL;

		if (!isfinite(x) || x < 0 || x != floor(x) || x > CLV_MAX_FREQUENCY)
			problem = psprintf("frequency %s is not a non-negative whole number",
							   clv_fmt(x));
		else if (!isfinite(tx) || tx < 0)
			problem = psprintf("recency %s is not a non-negative number",
							   clv_fmt(tx));
		else if (!isfinite(T) || T < 0)
			problem = psprintf("t %s is not a non-negative number", clv_fmt(T));
		else if (tx > T)
			problem = psprintf("recency %s exceeds t %s", clv_fmt(tx), clv_fmt(T));
		else if (x == 0 && tx != 0)
			problem = psprintf("recency %s is not 0 for a client without repeat purchases",
							   clv_fmt(tx));
		if (problem)
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg_internal("%s", problem),
					 errdetail("The client summary is frequency %s, recency %s, t %s.",
							   clv_fmt(x), clv_fmt(tx), clv_fmt(T))));
	}
}

static void
clv_validate_penalty(double penalty)
{
	if (!isfinite(penalty) || penalty < 0)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("penalty %s is not a non-negative number",
						clv_fmt(penalty))));
}

static uint32
clv_row_hash(const double *v)
{
	static const uint64 mul[3] = {UINT64CONST(0x9E3779B97F4A7C15),
		UINT64CONST(0xC2B2AE3D27D4EB4F), UINT64CONST(0x165667B19E3779F9)};
	uint64		h = 0;
	int			i;

	/*
	 * The three values' bits, each times its odd constant, rotated apart,
	 * then murmur3's 64-bit finaliser: a few multiplications, where
	 * hash_bytes over the 24 bytes took a tenth of the transition step.
	 */
	for (i = 0; i < 3; i++)
	{
		double		x = (v[i] == 0.0) ? 0.0 : v[i];	/* -0 and 0 alike */
		uint64		k;

		memcpy(&k, &x, sizeof(k));
		k *= mul[i];
		h ^= (k << (21 * i)) | (i ? k >> (64 - 21 * i) : 0);
	}
	h ^= h >> 33;
	h *= UINT64CONST(0xFF51AFD7ED558CCD);
	h ^= h >> 33;
	h *= UINT64CONST(0xC4CEB9FE1A85EC53);
	h ^= h >> 33;
	return (uint32) h;
}

static void
clv_state_rehash(ClvFitState *st)
{
	int32	   *slots = CLV_STATE_SLOTS(st);
	uint32		mask = (uint32) st->capacity * 2 - 1;
	int32		i;

	for (i = 0; i < st->capacity * 2; i++)
		slots[i] = -1;
	for (i = 0; i < st->nrows; i++)
	{
		uint32		h = clv_row_hash(st->rows[i].v) & mask;

		while (slots[h] >= 0)
			h = (h + 1) & mask;
		slots[h] = i;
	}
}

/*
 * A new state of the given capacity (a power of two), in the current memory
 * context, holding the rows of `from` if given.
 */
static ClvFitState *
clv_state_make(int kind, double penalty, int32 capacity, const ClvFitState *from)
{
	ClvFitState *st;

	if (capacity > CLV_MAX_CAPACITY)
		CLV_ERROR(
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct client summaries for one fit"),
				 errhint("Round the times to whole days or weeks.")));
	st = palloc(CLV_STATE_SIZE(capacity));
	SET_VARSIZE(st, CLV_STATE_SIZE(capacity));
	st->magic = CLV_STATE_MAGIC;
	st->kind = kind;
	st->reserved = 0;
	st->capacity = capacity;
	st->penalty = penalty;
	if (from)
	{
		st->nrows = from->nrows;
		st->nclients = from->nclients;
		memcpy(st->rows, from->rows, sizeof(ClvRow) * from->nrows);
	}
	else
	{
		st->nrows = 0;
		st->nclients = 0;
	}
	clv_state_rehash(st);
	return st;
}

/*
 * Add `count` clients with summary v; returns the state, which is `st`
 * modified in place when `inplace` allows, else a new one.
 */
static ClvFitState *
clv_state_add(ClvFitState *st, const double *v, int64 count, bool inplace)
{
	int32	   *slots;
	uint32		mask;
	uint32		h;

	if (!inplace || st->nrows >= st->capacity)
	{
		int32		cap = st->capacity;

		while (st->nrows >= cap)
			cap *= 2;
		st = clv_state_make(st->kind, st->penalty, cap, st);
	}
	slots = CLV_STATE_SLOTS(st);
	mask = (uint32) st->capacity * 2 - 1;
	h = clv_row_hash(v) & mask;
	while (slots[h] >= 0)
	{
		ClvRow	   *row = &st->rows[slots[h]];

		if (row->v[0] == v[0] && row->v[1] == v[1] && row->v[2] == v[2])
		{
			row->count += count;
			st->nclients += count;
			return st;
		}
		h = (h + 1) & mask;
	}
	slots[h] = st->nrows;
	st->rows[st->nrows].v[0] = v[0];
	st->rows[st->nrows].v[1] = v[1];
	st->rows[st->nrows].v[2] = v[2];
	st->rows[st->nrows].count = count;
	st->nrows++;
	st->nclients += count;
	return st;
}

/*
 * Check that the bytes are a consistent state (they may come from anywhere)
 * and return it detoasted.
 */
ClvFitState *
clv_state_detoast(Datum d)
{
	ClvFitState *st = (ClvFitState *) PG_DETOAST_DATUM(d);

	if (VARSIZE(st) < CLV_STATE_HDRSZ || st->magic != CLV_STATE_MAGIC ||
		st->kind < CLV_KIND_BGNBD || st->kind > CLV_KIND_BGBB ||
		st->capacity < 1 || st->capacity > CLV_MAX_CAPACITY ||
		(st->capacity & (st->capacity - 1)) != 0 ||
		st->nrows < 0 || st->nrows > st->capacity ||
		VARSIZE(st) != CLV_STATE_SIZE(st->capacity))
		CLV_ERROR(
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid clv_fit_state value")));
	return st;
}

/*
 * The transition step shared by the three aggregates.
 */
static Datum
clv_trans(FunctionCallInfo fcinfo, int kind, int nvalues)
{
	ClvFitState *st = PG_ARGISNULL(0) ? NULL : (ClvFitState *) PG_GETARG_POINTER(0);
	bool		inplace = AggCheckCallContext(fcinfo, NULL) != 0;
	double		penalty = 0.0;
	double		v[3] = {0.0, 0.0, 0.0};
	int			i;

	if (PG_NARGS() > nvalues + 1)
	{
		if (PG_ARGISNULL(nvalues + 1))
			CLV_ERROR(
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("penalty must not be null")));
		penalty = PG_GETARG_FLOAT8(nvalues + 1);
		clv_validate_penalty(penalty);
	}

	/* a row with a null value is skipped, as aggregates skip nulls */
	for (i = 0; i < nvalues; i++)
	{
		if (PG_ARGISNULL(i + 1))
		{
			if (st == NULL)
				PG_RETURN_NULL();
			PG_RETURN_POINTER(st);
		}
		v[i] = PG_GETARG_FLOAT8(i + 1);
	}
	clv_validate_row(kind, v);

	if (st == NULL)
	{
		st = clv_state_make(kind, penalty, CLV_INITIAL_CAPACITY, NULL);
		inplace = true;
	}
	else
	{
		st = clv_state_detoast(PointerGetDatum(st));
		if (st->kind != kind)
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot add a %s row to a %s fit state",
							clv_kind_name(kind), clv_kind_name(st->kind))));
		if (st->penalty != penalty)
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("penalty %s differs from the penalty %s of earlier rows",
							clv_fmt(penalty), clv_fmt(st->penalty)),
					 errhint("Pass one penalty to the whole fit.")));
	}

	/* Gamma-Gamma ignores clients without repeat purchases */
	if (kind == CLV_KIND_GAMMA && v[0] == 0)
		PG_RETURN_POINTER(st);

	PG_RETURN_POINTER(clv_state_add(st, v, 1, inplace));
}

Datum
clv_bgnbd_trans(PG_FUNCTION_ARGS)
{
	return clv_trans(fcinfo, CLV_KIND_BGNBD, 3);
}

Datum
clv_pareto_trans(PG_FUNCTION_ARGS)
{
	return clv_trans(fcinfo, CLV_KIND_PARETO, 3);
}

Datum
clv_gamma_trans(PG_FUNCTION_ARGS)
{
	return clv_trans(fcinfo, CLV_KIND_GAMMA, 2);
}

Datum
clv_bgbb_trans(PG_FUNCTION_ARGS)
{
	return clv_trans(fcinfo, CLV_KIND_BGBB, 3);
}

/*
 * Combine two partial states.  The first is modified in place when called
 * as an aggregate; the second is only read.  A null first state gives a
 * copy of the second.
 */
Datum
clv_fit_combine(PG_FUNCTION_ARGS)
{
	ClvFitState *st1;
	ClvFitState *st2;
	bool		inplace = AggCheckCallContext(fcinfo, NULL) != 0;
	int32		i;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	st2 = clv_state_detoast(PG_GETARG_DATUM(1));
	if (PG_ARGISNULL(0))
	{
		int32		cap = CLV_INITIAL_CAPACITY;

		while (cap < st2->nrows)
			cap *= 2;
		PG_RETURN_POINTER(clv_state_make(st2->kind, st2->penalty, cap, st2));
	}
	st1 = clv_state_detoast(PG_GETARG_DATUM(0));
	if (st1->kind != st2->kind)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine a %s fit state with a %s fit state",
						clv_kind_name(st1->kind), clv_kind_name(st2->kind))));
	if (st1->penalty != st2->penalty)
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("penalty %s differs from the penalty %s of earlier rows",
						clv_fmt(st2->penalty), clv_fmt(st1->penalty)),
				 errhint("Pass one penalty to the whole fit.")));
	if ((Pointer) st1 != DatumGetPointer(PG_GETARG_DATUM(0)))
		inplace = true;			/* detoasting made a private copy */
	for (i = 0; i < st2->nrows; i++)
	{
		ClvFitState *next = clv_state_add(st1, st2->rows[i].v,
										  st2->rows[i].count, inplace);

		if (next != st1)
			inplace = true;		/* a fresh copy of ours from now on */
		st1 = next;
	}
	PG_RETURN_POINTER(st1);
}

/*
 * Text input: parse, validate every row with the rules of the model, and
 * rebuild the hash.  Duplicate rows are merged.
 */
static double
clv_parse_double(char **p, const char *input, char term1, char term2)
{
	char	   *end;
	double		v;

	errno = 0;
	v = strtod(*p, &end);
	if (end == *p || (*end != term1 && *end != term2) ||
		(errno == ERANGE && (v == 0 || isinf(v))))
		CLV_ERROR(
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type crm.clv_fit_state: \"%s\"",
						input)));
	*p = end;
	return v;
}

bool		clv_keep_context = false;

static Datum clv_fit_state_parse(FunctionCallInfo fcinfo);

/* the text input, its errors with their position in the query (LINE 1: ...) */
Datum
clv_fit_state_in(PG_FUNCTION_ARGS)
{
	Datum		result;

	clv_keep_context = true;
	PG_TRY();
	{
		result = clv_fit_state_parse(fcinfo);
	}
	PG_FINALLY();
	{
		clv_keep_context = false;
	}
	PG_END_TRY();
	return result;
}

static Datum
clv_fit_state_parse(FunctionCallInfo fcinfo)
{
	char	   *input = PG_GETARG_CSTRING(0);
	char	   *p = input;
	char	   *semi;
	int			kind;
	int			nvalues;
	double		penalty;
	ClvFitState *st;

	semi = strchr(p, ';');
	if (semi == NULL)
		goto syntax;
	if (semi - p == 5 && strncmp(p, "bgnbd", 5) == 0)
		kind = CLV_KIND_BGNBD;
	else if (semi - p == 10 && strncmp(p, "pareto_nbd", 10) == 0)
		kind = CLV_KIND_PARETO;
	else if (semi - p == 11 && strncmp(p, "gamma_gamma", 11) == 0)
		kind = CLV_KIND_GAMMA;
	else if (semi - p == 4 && strncmp(p, "bgbb", 4) == 0)
		kind = CLV_KIND_BGBB;
	else
		goto syntax;
	nvalues = (kind == CLV_KIND_GAMMA) ? 2 : 3;
	p = semi + 1;
	penalty = clv_parse_double(&p, input, ';', '\0');
	clv_validate_penalty(penalty);
	st = clv_state_make(kind, penalty, CLV_INITIAL_CAPACITY, NULL);

	while (*p == ';')
	{
		double		v[3] = {0.0, 0.0, 0.0};
		double		count;
		int			i;

		p++;
		for (i = 0; i < nvalues; i++)
		{
			v[i] = clv_parse_double(&p, input, ',', ',');
			p++;
		}
		count = clv_parse_double(&p, input, ';', '\0');
		if (!(count >= 1 && count <= 1e15 && count == floor(count)))
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid count %s in crm.clv_fit_state", clv_fmt(count))));
		clv_validate_row(kind, v);
		if (kind == CLV_KIND_GAMMA && v[0] == 0)
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("gamma_gamma fit state row with frequency 0")));
		st = clv_state_add(st, v, (int64) count, true);
		if (st->nclients > (int64) 1e15)
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("too many clients in crm.clv_fit_state")));
	}
	if (*p != '\0')
		goto syntax;
	PG_RETURN_POINTER(st);

syntax:
	CLV_ERROR(
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type crm.clv_fit_state: \"%s\"",
					input)));
	PG_RETURN_NULL();			/* keep compiler quiet */
}

Datum
clv_fit_state_out(PG_FUNCTION_ARGS)
{
	ClvFitState *st = clv_state_detoast(PG_GETARG_DATUM(0));
	StringInfoData buf;
	int			nvalues = (st->kind == CLV_KIND_GAMMA) ? 2 : 3;
	int32		i;
	int			j;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s;%s", clv_kind_name(st->kind), clv_fmt(st->penalty));
	for (i = 0; i < st->nrows; i++)
	{
		appendStringInfoChar(&buf, ';');
		for (j = 0; j < nvalues; j++)
			appendStringInfo(&buf, "%s,", clv_fmt(st->rows[i].v[j]));
		appendStringInfo(&buf, INT64_FORMAT, st->rows[i].count);
	}
	PG_RETURN_CSTRING(buf.data);
}

/*
 * The rows as flat arrays for the optimiser, sorted, so that a fit does
 * not depend on the order in which rows and partial states arrived (the
 * state is not modified).
 */
void
clv_state_to_data(const ClvFitState *st, ClvData *data)
{
	ClvRow	   *rows = palloc(sizeof(ClvRow) * Max(st->nrows, 1));
	int32		i;

	memcpy(rows, st->rows, sizeof(ClvRow) * st->nrows);
	clv_sort_rows(rows, st->nrows);
	data->n = st->nrows;
	data->x = palloc(sizeof(double) * Max(st->nrows, 1));
	data->tx = palloc(sizeof(double) * Max(st->nrows, 1));
	data->T = palloc(sizeof(double) * Max(st->nrows, 1));
	data->w = palloc(sizeof(double) * Max(st->nrows, 1));
	data->wsum = 0;
	data->penalty = st->penalty;
	for (i = 0; i < st->nrows; i++)
	{
		data->x[i] = rows[i].v[0];
		data->tx[i] = rows[i].v[1];
		data->T[i] = rows[i].v[2];
		data->w[i] = (double) rows[i].count;
		data->wsum += data->w[i];
	}
	pfree(rows);
}

/*
 * The rows of a transaction-model fit (BG/NBD, Pareto/NBD) with time
 * scaled so that the largest t is 1, which keeps the optimiser's start
 * point sensible whatever unit the caller chose.  Returns the scale (the
 * largest t, or 1 when every t is 0), or 0 when there are no rows.  Data
 * in which nobody made a repeat purchase cannot identify either model: an
 * error naming the model, or in a fit_or_null aggregate a notice and -1.
 */
double
clv_scaled_time_data(const ClvFitState *st, ClvData *data, const char *model)
{
	double		scale = 0;
	bool		repeat = false;
	int			i;

	clv_state_to_data(st, data);
	if (data->n == 0)
		return 0;
	for (i = 0; i < data->n; i++)
	{
		scale = Max(scale, data->T[i]);
		if (data->x[i] > 0)
			repeat = true;
	}
	if (scale <= 0)
		scale = 1;				/* every t is 0 */
	if (!repeat &&
		!clv_unidentified(model,
						  psprintf("cannot fit the %s model: no client made a repeat purchase",
								   model),
						  psprintf("All %lld clients have frequency 0, which does not identify the model.",
								   (long long) st->nclients)))
		return -1;
	for (i = 0; i < data->n; i++)
	{
		data->tx[i] /= scale;
		data->T[i] /= scale;
	}
	return scale;
}

/* pairs (T, count) ordered by T, for the weighted median */
typedef struct ClvTW
{
	double		T;
	double		w;
} ClvTW;

static int
clv_tw_cmp(const void *a, const void *b)
{
	double		x = ((const ClvTW *) a)->T;
	double		y = ((const ClvTW *) b)->T;

	return (x > y) - (x < y);
}

/*
 * Rescale the (already max-scaled) times of a fit so that the median t of
 * the clients (weighted by their counts) is 1, and return the factor the
 * times were divided by.  The median, not the largest t: one client with a
 * t a million times the others' would otherwise put everybody else's
 * times near 0, far from the start point, where the fit stops short.  A
 * median of 0 (most clients at t = 0) keeps the scale.
 */
double
clv_median_rescale(ClvData *data)
{
	ClvTW   *tw = palloc(sizeof(ClvTW) * data->n);
	double		half = data->wsum / 2,
				acc = 0,
				med = 0;
	int			i;

	for (i = 0; i < data->n; i++)
	{
		tw[i].T = data->T[i];
		tw[i].w = data->w[i];
	}
	qsort(tw, data->n, sizeof(ClvTW), clv_tw_cmp);
	for (i = 0; i < data->n; i++)
	{
		acc += tw[i].w;
		if (acc >= half)
		{
			med = tw[i].T;
			break;
		}
	}
	pfree(tw);
	if (!(med > 0) || !isfinite(1 / med))
		return 1;
	for (i = 0; i < data->n; i++)
	{
		data->tx[i] /= med;
		data->T[i] /= med;
	}
	return med;
}

/*
 * Set while a fit_or_null aggregate's final function runs: a model that the
 * data cannot identify is then a notice and a null model, not an error.
 */
bool		clv_fit_soft = false;

/*
 * A fit that cannot identify its model (no repeat buyer, no spread of
 * spend, a log-likelihood that is not finite, parameters out of range, no
 * convergence): an error (SQLSTATE 22023), or while clv_fit_soft a notice
 * and false, the caller then returning a null model.  Neither carries the
 * context of the statement that ran the fit.
 */
bool
clv_unidentified(const char *model, const char *message, const char *detail)
{
	ErrorContextCallback *saved = error_context_stack;

	if (!clv_fit_soft)
		CLV_ERROR((errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				   errmsg_internal("%s", message),
				   detail ? errdetail_internal("%s", detail) : 0));
	error_context_stack = NULL;
	ereport(NOTICE,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg_internal("%s", message),
			 detail ? errdetail_internal("%s", detail) : 0,
			 errhint("The %s model is null, and so is every prediction made with it.",
					 model)));
	error_context_stack = saved;
	return false;
}

/* Runs a fit's final function with clv_fit_soft set. */
Datum
clv_fit_or_null(PGFunction final, FunctionCallInfo fcinfo)
{
	Datum		result;

	clv_fit_soft = true;
	PG_TRY();
	{
		result = final(fcinfo);
	}
	PG_FINALLY();
	{
		clv_fit_soft = false;
	}
	PG_END_TRY();
	return result;
}

/*
 * The first nparams fields of a model composite, each a positive finite
 * number, or an error naming the bad one.
 */
void
clv_model_params(HeapTupleHeader model, int nparams, const char *const *names,
				 const char *typname, double *out)
{
	int			i;

	for (i = 0; i < nparams; i++)
	{
		bool		isnull;
		Datum		d = GetAttributeByNum(model, i + 1, &isnull);

		if (isnull)
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s parameter %s is null", typname, names[i])));
		out[i] = DatumGetFloat8(d);
		if (!isfinite(out[i]) || out[i] <= 0)
			CLV_ERROR(
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s parameter %s %s is not a positive number",
							typname, names[i], clv_fmt(out[i]))));
	}
}

/*
 * The result of a prediction or a log-likelihood, refused when it is not a
 * finite number: extreme parameters or summaries can overflow (infinite
 * expected spend) or break down (NaN), and neither is a value to present.
 * The detail names the model's parameters and the client summary.
 */
double
clv_finite(double value, const char *what, const char *typname,
		   const char *const *names, const double *params, int nparams,
		   const char *const *vnames, const double *v, int nv)
{
	StringInfoData buf;
	int			i;

	if (likely(isfinite(value)))
		return value;
	initStringInfo(&buf);
	appendStringInfoString(&buf, typname);
	for (i = 0; i < nparams; i++)
		appendStringInfo(&buf, "%s %s %s", i == 0 ? "" : ",", names[i],
						 clv_fmt(params[i]));
	for (i = 0; i < nv; i++)
		appendStringInfo(&buf, "%s %s %s", i == 0 ? ";" : ",", vnames[i],
						 clv_fmt(v[i]));
	CLV_ERROR(
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s out of range: %s", what, clv_fmt(value)),
			 errdetail("For %s.", buf.data)));
	return value;				/* not reached */
}

/* the name of a model type without its schema and _model: bgnbd, pareto_nbd, gamma_gamma */
static char *
clv_model_name(Oid type)
{
	char	   *name = pstrdup(format_type_be_qualified(type));
	char	   *dot = strrchr(name, '.');
	int			len;

	if (dot)
		name = dot + 1;
	len = strlen(name);
	if (len > 6 && strcmp(name + len - 6, "_model") == 0)
		name[len - 6] = '\0';
	return name;
}

/*
 * Why the last fit did not converge, in a sentence (set by the optimiser
 * and by the final functions; NULL when it converged).
 */
const char *clv_fit_why = NULL;
static char clv_fit_why_buf[256];

void
clv_set_fit_why(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(clv_fit_why_buf, sizeof(clv_fit_why_buf), fmt, ap);
	va_end(ap);
	clv_fit_why = clv_fit_why_buf;
}

/* the detail of a fit that did not converge: the iterations and why */
static char *
clv_not_converged_detail(int iterations)
{
	return psprintf("The optimiser stopped after %d iterations without reaching a maximum of the likelihood: %s.",
					iterations,
					clv_fit_why ? clv_fit_why : "its stopping rule was not met");
}

/*
 * A fit that ends with converged false says why, in a notice (the model is
 * returned all the same).
 */
void
clv_notice_not_converged(TupleDesc tupdesc, int iterations)
{
	ErrorContextCallback *saved = error_context_stack;
	char	   *model = clv_model_name(tupdesc->tdtypeid);

	error_context_stack = NULL;
	ereport(NOTICE,
			(errmsg_internal("the %s fit did not converge", model),
			 errdetail_internal("%s", clv_not_converged_detail(iterations)),
			 errhint("The model is returned with converged false; a penalty, or a look at the data, may help.")));
	error_context_stack = saved;
}

/*
 * Whether a fitted model may be presented: its parameters and
 * log-likelihood finite (an error otherwise, or in a fit_or_null aggregate
 * a notice and false) and, in a fit_or_null aggregate, converged (a notice
 * and false otherwise).  On false fcinfo->isnull is set.
 */
bool
clv_model_check(FunctionCallInfo fcinfo, TupleDesc tupdesc, int nparams,
				const double *params, double loglik, int iterations,
				bool converged)
{
	int			i;

	/*
	 * Summaries spanning the whole float8 range can drive a parameter to
	 * infinity (the scaled fit is scaled back) or the log-likelihood to NaN
	 * or -Infinity: such a model is not one to present or to predict with.
	 */
	for (i = 0; i <= nparams; i++)
	{
		double		x = i < nparams ? params[i] : loglik;

		if (!isfinite(x))
		{
			StringInfoData buf;
			int			j;

			initStringInfo(&buf);
			for (j = 0; j < nparams; j++)
				appendStringInfo(&buf, "%s%s %s", j == 0 ? "" : ", ",
								 NameStr(TupleDescAttr(tupdesc, j)->attname),
								 clv_fmt(params[j]));
			if (!clv_fit_soft)
				CLV_ERROR(
						  (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						   errmsg("fitted %s out of range: %s %s",
								  format_type_be(tupdesc->tdtypeid),
								  NameStr(TupleDescAttr(tupdesc, i)->attname), clv_fmt(x)),
						   errdetail("The fit gives %s after %d iterations.", buf.data, iterations)));
			clv_unidentified(clv_model_name(tupdesc->tdtypeid),
							 psprintf("fitted %s out of range: %s %s",
									  format_type_be(tupdesc->tdtypeid),
									  NameStr(TupleDescAttr(tupdesc, i)->attname), clv_fmt(x)),
							 psprintf("The fit gives %s after %d iterations.", buf.data, iterations));
			fcinfo->isnull = true;
			return false;
		}
	}
	/* a fit_or_null aggregate presents only a maximum it found */
	if (clv_fit_soft && !converged)
	{
		clv_unidentified(clv_model_name(tupdesc->tdtypeid),
						 psprintf("the %s fit did not converge",
								  clv_model_name(tupdesc->tdtypeid)),
						 clv_not_converged_detail(iterations));
		fcinfo->isnull = true;
		return false;
	}
	return true;
}

/*
 * A fitted model as the composite the function returns, without a
 * covariance (see clv_model_result_cov, src/clv_hessian.c).
 */
Datum
clv_model_result(FunctionCallInfo fcinfo, int nparams, const double *params,
				 double loglik, int64 n, int iterations, bool converged)
{
	return clv_model_result_cov(fcinfo, nparams, params, NULL, loglik, n,
								iterations, converged);
}

/*
 * Sorted distinct values of v[0..n-1] and, for each i, the index of v[i]
 * among them.
 */
int
clv_unique(const double *v, int n, double **uniq, int **index)
{
	ClvValueIndex *pairs = palloc(sizeof(ClvValueIndex) * Max(n, 1));
	double	   *u = palloc(sizeof(double) * Max(n, 1));
	int		   *ix = palloc(sizeof(int) * Max(n, 1));
	int			nu = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		pairs[i].value = v[i];
		pairs[i].index = i;
	}
	clv_sort_values(pairs, n);
	for (i = 0; i < n; i++)
	{
		if (nu == 0 || u[nu - 1] != pairs[i].value)
			u[nu++] = pairs[i].value;
		ix[pairs[i].index] = nu - 1;
	}
	pfree(pairs);
	*uniq = u;
	*index = ix;
	return nu;
}

/* log(1 + exp(x)) without overflow */
double
clv_log1pexp(double x)
{
	return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* 1 / (1 + exp(x)) without overflow */
double
clv_logistic_neg(double x)
{
	if (x > 0)
	{
		double		e = exp(-x);

		return e / (1 + e);
	}
	return 1 / (1 + exp(x));
}

/*
 * Distinct pairs (a[i], b[i]) and, for each i, the index of its pair.
 */
static const double *clv_pair_a;
static const double *clv_pair_b;

static int
clv_cmp_pair(const void *x, const void *y)
{
	int			i = *(const int *) x;
	int			j = *(const int *) y;

	if (clv_pair_a[i] != clv_pair_a[j])
		return clv_pair_a[i] < clv_pair_a[j] ? -1 : 1;
	if (clv_pair_b[i] != clv_pair_b[j])
		return clv_pair_b[i] < clv_pair_b[j] ? -1 : 1;
	return 0;
}

int
clv_unique_pairs(const double *a, const double *b, int n,
				 double **ua, double **ub, int **index)
{
	int		   *order = palloc(sizeof(int) * Max(n, 1));
	int		   *ix = palloc(sizeof(int) * Max(n, 1));
	double	   *pa = palloc(sizeof(double) * Max(n, 1));
	double	   *pb = palloc(sizeof(double) * Max(n, 1));
	int			nu = 0;
	int			i;

	for (i = 0; i < n; i++)
		order[i] = i;
	clv_pair_a = a;
	clv_pair_b = b;
	qsort(order, n, sizeof(int), clv_cmp_pair);
	for (i = 0; i < n; i++)
	{
		int			k = order[i];

		if (nu == 0 || pa[nu - 1] != a[k] || pb[nu - 1] != b[k])
		{
			pa[nu] = a[k];
			pb[nu] = b[k];
			nu++;
		}
		ix[k] = nu - 1;
	}
	pfree(order);
	*ua = pa;
	*ub = pb;
	*index = ix;
	return nu;
}
