/*-------------------------------------------------------------------------
 *
 * src/rfm_scores.c
 *
 * crm.rfm_scores(as_of, map_name, monetary_by) in C: one pass over
 * crm.orders into a compact per-client table (count, last purchase time,
 * spend), then the three quantile scores and the segment in memory.
 *
 * The result is, row for row, that of crm.rfm_scores_sql, its definition in
 * SQL (the purchase profile grouped by client, crm.quantile_breaks and
 * crm.threshold_score): amounts, times and recency are read with the
 * profile's own routines and the breakpoints with the rule of
 * crm.quantile_breaks.  Only what RFM needs is kept per client (48 bytes,
 * against the 256 of the full profile), and the scan, the grouping and the
 * scoring run without the executor's per-row machinery.
 *
 * The C pass reads the table only where it reads exactly what a query
 * would (fastpath_open_read, src/fastpath.c: plain heap tables, the leaves
 * of a partitioned table or a table with children, SELECT held by the
 * caller, no row security applying to the caller, the columns read as
 * installed), and only for a usual call.  Otherwise the call runs
 * crm.rfm_scores_sql (fastpath_call_sql), which a query plans as usual
 * (row security, column privileges, parallel workers).  Both return
 * crm.rfm_scores_row.  The C pass runs in one process.  On a Citus
 * cluster, where crm.orders is a shell on the coordinator, the per-client
 * values come from a query Citus runs on the shards instead (the shards
 * path, gather_purchases), and the scoring is the same.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "profile.h"
#include "rfm.h"
#include "fastpath.h"
#include "profiles.h"
#include "scan.h"

/*
 * One client's purchases so far, kept in the hash table itself so that a
 * row touches one cache line: 48 bytes, the spend total as two halves of
 * an int128 (which would align the entry to 16 bytes).
 */
typedef struct ScoredClient
{
	int64		client_id;		/* the hash key */
	int64		n;				/* purchases */
	TimestampTz last;			/* latest purchase time */
	uint64		total_lo;		/* spend in millionths, low 64 bits */
	int64		total_hi;		/* and high 64 bits */
	int32		scale;			/* largest display scale seen, <= 6 */
	char		status;			/* used by simplehash */
} ScoredClient;

static inline int128
client_total(const ScoredClient *c)
{
	return (int128) (((uint128) (uint64) c->total_hi << 64) | c->total_lo);
}

static inline void
client_set_total(ScoredClient *c, int128 total)
{
	c->total_lo = (uint64) total;
	c->total_hi = (int64) (total >> 64);
}

#define SH_PREFIX clientmap
#define SH_ELEMENT_TYPE ScoredClient
#define SH_KEY_TYPE int64
#define SH_KEY client_id
#define SH_HASH_KEY(tb, key) scan_client_hash(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

PG_FUNCTION_INFO_V1(rfm_scores);

typedef struct PurchaseRow
{
	ScanPurchase p;
	uint32		hash;
} PurchaseRow;

/* Adds a batch of purchases to their clients' entries. */
static void
add_purchases(clientmap_hash *map, PurchaseRow *rows, int nrows)
{
	int			i;

	for (i = 0; i < nrows; i++)
		__builtin_prefetch(&map->data[rows[i].hash & map->sizemask], 1);
	for (i = 0; i < nrows; i++)
	{
		const ScanPurchase *r = &rows[i].p;
		bool		found;
		ScoredClient *c = clientmap_insert_hash(map, r->client_id, rows[i].hash, &found);
		int128		total;

		if (!found)
		{
			c->n = 0;
			c->last = r->t;
			c->scale = 0;
			client_set_total(c, 0);
		}
		c->n++;
		total = client_total(c);
		profile_add_amount(&total, r->amount);
		client_set_total(c, total);
		c->scale = Max(c->scale, Min(r->dscale, PROFILE_SCALE));
		if (r->t > c->last)
			c->last = r->t;
	}
}

/*
 * The memory a client takes in a call: its hash entry (the table is
 * between half and 90% full), its place in clients[], its recency, three
 * values and a sorted copy of one.
 */
#define RFM_CLIENT_BYTES	(2 * sizeof(ScoredClient) + sizeof(ScoredClient *) + \
							 sizeof(int32) + 4 * sizeof(float8))

/*
 * One pass over crm.orders: for every client with a purchase (placed or
 * paid) at or before as_of, the count, last time and spend, exactly as
 * crm.purchase_profile accumulates them.  NULL when a purchase is unusual
 * (a time or amount that is not finite, a second currency), or when the
 * clients would take more than crm.pass_memory_limit (*over): the call
 * goes to SQL.
 */
static clientmap_hash *
scan_purchases(FastPathTable *orders, TimestampTz as_of, bool *over)
{
	clientmap_hash *map = clientmap_create(CurrentMemoryContext, 1024, NULL);
	ScanPass	pass;
	TupleTableSlot *slot;
	PurchaseRow rows[SCAN_BATCH];
	int			nrows = 0;
	ScanCurrency cur = {0};

	scan_begin(&pass, orders);
	while ((slot = scan_next(&pass)) != NULL)
	{
		PurchaseRow *r = &rows[nrows];
		int			is = scan_purchase(slot, pass.att, as_of, &cur, &r->p);

		if (is == 0)
			continue;
		if (is < 0)
		{
			scan_end(&pass);
			return NULL;
		}
		r->hash = scan_client_hash(r->p.client_id);
		if (++nrows == SCAN_BATCH)
		{
			add_purchases(map, rows, nrows);
			nrows = 0;
			if (!pass_memory_within(map->members, RFM_CLIENT_BYTES))
			{
				*over = true;
				scan_end(&pass);
				return NULL;
			}
		}
	}
	add_purchases(map, rows, nrows);
	scan_end(&pass);
	return map;
}

/*
 * The same per-client values from the profile store (src/profiles.c), when
 * it is current: each client's count, last time and spend are its
 * profile's.  NULL for an unusual row (purchases in a second currency) or
 * beyond crm.pass_memory_limit (*over).
 */
static clientmap_hash *
read_profiles(bool *over)
{
	clientmap_hash *map = clientmap_create(CurrentMemoryContext, 1024, NULL);
	ProfileSource src;
	ProfileRow	r;
	int			is;

	profiles_begin(&src);
	while ((is = profiles_next(&src, &r)) > 0)
	{
		bool		found;
		ScoredClient *c = clientmap_insert(map, r.client_id, &found);

		if (found)
		{
			is = -1;
			break;
		}
		c->n = r.state.n;
		c->last = r.state.last;
		c->scale = r.state.scale;
		client_set_total(c, r.state.total);
		if ((map->members & (SCAN_BATCH - 1)) == 0 &&
			!pass_memory_within(map->members, RFM_CLIENT_BYTES))
		{
			*over = true;
			is = -1;
			break;
		}
	}
	profiles_end(&src);
	return is == 0 ? map : NULL;
}

/*
 * The shards path (crm.orders held by Citus): the same per-client values
 * from the query below, which groups by client_id and so runs whole on the
 * shards; only its answer, a row per client, comes back.  The purchases
 * are those of crm.rfm_scores_sql (placed or paid, at or before as_of),
 * the count, last time and spend those of its profile: sum(net_amount) is
 * the profile's total where every amount has at most 6 decimals, which
 * the sum's own scale shows (the largest of its terms').  NULL when a
 * client's row is unusual (an amount or time that is not finite, more
 * decimals, a sum out of the profile's range, purchases in a currency
 * other than those before: grouped by currency too, a client's second
 * currency is a second row): the call goes to SQL, which raises the error
 * or gives the exact answer.
 */
static const char gather_sql[] =
"SELECT o.client_id, count(*), max(o.ordered_at), min(o.ordered_at), sum(o.net_amount),"
"       o.currency"
"  FROM crm.orders o"
" WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= $1"
" GROUP BY o.client_id, o.currency";

static clientmap_hash *
gather_purchases(TimestampTz as_of)
{
	clientmap_hash *map = clientmap_create(CurrentMemoryContext, 1024, NULL);
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		args[1] = {TimestampTzGetDatum(as_of)};
	GatherCall	g;
	Portal		portal;
	bool		usual = true;
	ScanCurrency cur = {0};

	gather_begin(&g);
	portal = gather_open(&g, gather_sql, 1, types, args);
	while (usual && gather_fetch(&g, portal))
	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		nrows = SPI_processed;

		for (uint64 i = 0; i < nrows && usual; i++)
		{
			Datum		v[6];
			bool		n[6];
			ScoredClient *c;
			bool		found;
			int128		total;
			int			dscale;

			heap_deform_tuple(tt->vals[i], tt->tupdesc, v, n);
			if (n[0] || n[1] || n[2] || n[3] || n[4] || n[5] ||
				!scan_same_currency(&cur, v[5]) ||
				TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(v[3])) ||
				!profile_numeric_exact_micro(v[4], &total, &dscale))
			{
				usual = false;
				break;
			}
			c = clientmap_insert(map, DatumGetInt64(v[0]), &found);
			if (found)
			{
				usual = false;	/* a second currency of the client */
				break;
			}
			c->n = DatumGetInt64(v[1]);
			c->last = DatumGetTimestampTz(v[2]);
			c->scale = dscale;
			client_set_total(c, total);
		}
		SPI_freetuptable(tt);
	}
	if (!usual)
		SPI_cursor_close(portal);
	gather_end(&g);
	return usual ? map : NULL;
}

/* The monetary value: the total spend, or the mean order value rounded to cents. */
static Datum
client_monetary(const ScoredClient *c, bool by_mean)
{
	Datum		total = profile_micro_to_numeric(client_total(c), c->scale);

	if (!by_mean)
		return total;
	return DirectFunctionCall2(numeric_round,
							   DirectFunctionCall2(numeric_div, total,
												   NumericGetDatum(int64_to_numeric(c->n))),
							   Int32GetDatum(2));
}

/* The monetary value as float8, as numeric_float8 gives it. */
static float8
client_monetary_float(const ScoredClient *c, bool by_mean)
{
	static const int64 unit[] = {1000000, 100000, 10000, 1000, 100, 10, 1};
	int128		total = client_total(c);

	/*
	 * An integer of at most 2^53 millionths converts exactly, and the one
	 * IEEE division rounds correctly, as the text conversion does.
	 */
	if (!by_mean && total > -((int128) 1 << 53) && total < ((int128) 1 << 53) &&
		total % unit[PROFILE_SCALE - c->scale] == 0)
		return (float8) (int64) total / 1e6;
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, client_monetary(c, by_mean)));
}

/*
 * The number of classes of a map and the segment of every score cell,
 * indexed by the crm.rfm code; -1 when there is no such map, -2 when the
 * map is not a partition of its cells (crm.rfm_scores_sql raises the
 * errors of both, without a query of its own in their context).
 */
static int32
load_segment_map(text *map_name, text **segments)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1] = {PointerGetDatum(map_name)};
	MemoryContext outer = CurrentMemoryContext;
	int32		classes;
	bool		isnull;
	uint64		i;

	SPI_connect();
	if (SPI_execute_with_args("SELECT classes FROM crm.segment_maps WHERE map_name = $1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm.segment_maps");
	if (SPI_processed == 0)
	{
		SPI_finish();
		return -1;				/* crm.rfm_scores_sql says so */
	}
	classes = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (SPI_execute_with_args("SELECT 1 FROM crm.segment_map_problems($1) LIMIT 1",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not check a segment map");
	if (SPI_processed > 0)
	{
		SPI_finish();
		return -2;
	}

	if (SPI_execute_with_args("SELECT rfm, segment FROM crm.segment_map_cells($1)",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the cells of a segment map");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		int16		code = DatumGetInt16(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		Datum		seg = SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull && rfm_is_valid(code))
		{
			MemoryContext old = MemoryContextSwitchTo(outer);

			segments[code] = DatumGetTextPP(datumCopy(seg, false, -1));
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	return classes;
}

/* the columns of crm.rfm_scores, the row shape it shares with crm.rfm_scores_sql */
enum
{
	RS_CLIENT, RS_RECENCY, RS_FREQUENCY, RS_MONETARY, RS_RFM, RS_SEGMENT, RS_N
};

static const FastPathColumn result_columns[RS_N] = {
	{"client_id", INT8OID}, {"recency_days", INT4OID}, {"frequency", INT8OID},
	{"monetary", NUMERICOID}, {"rfm", InvalidOid}, {"segment", TEXTOID}
};

/*
 * crm.rfm_scores(as_of, map_name, monetary_by): client_id, recency_days,
 * frequency, monetary, rfm, segment of every client with a purchase.
 */
Datum
rfm_scores(PG_FUNCTION_ARGS)
{
	TimestampTz as_of;
	text	   *map_name;
	char	   *monetary_by;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FastPath	fp;
	FastPathColumn shape[RS_N];
	int			pos[RS_N];
	TupleDesc	desc;
	bool		by_mean;
	FastPathTable orders;
	bool		on_shards = false;
	bool		from_profiles = false;
	bool		over = false;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext work;
	MemoryContext row;
	clientmap_hash *map;
	clientmap_iterator it;
	ScoredClient **clients;
	ScoredClient *entry;
	int64		nclients = 0;
	text	   *segments[1000] = {0};
	int32		classes;
	float8	   *value[3];
	float8	   *sorted;
	float8		breaks[3][9];
	int32	   *recency;
	int64		i;
	int			d;

	/* not STRICT: a NULL argument is an error, as in crm.rfm_scores_sql */
	for (d = 0; d < 3; d++)
		if (PG_ARGISNULL(d))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL",
							d == 0 ? "as_of" : d == 1 ? "map_name" : "monetary_by")));
	as_of = PG_GETARG_TIMESTAMPTZ(0);
	map_name = PG_GETARG_TEXT_PP(1);
	monetary_by = text_to_cstring(PG_GETARG_TEXT_PP(2));

	fastpath_init(&fp, "crm.rfm_scores");
	memcpy(shape, result_columns, sizeof(shape));
	shape[RS_RFM].type = fastpath_type_oid("rfm");
	if ((strcmp(monetary_by, "total") != 0 && strcmp(monetary_by, "mean") != 0) ||
		TIMESTAMP_NOT_FINITE(as_of))
		fastpath_decline(&fp, "arguments", NULL);
	else if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
			 !fastpath_result_layout(desc, shape, RS_N, pos))
		fastpath_decline(&fp, "result shape", NULL);
	if (fp.reason == NULL && profiles_current(as_of, NULL, 0, false))
		from_profiles = true;
	else if (fp.reason || !fastpath_open_read(&fp, &orders, "orders", scan_orders_columns, PC_N))
	{
		if (!fastpath_may_gather(&fp))
			return fastpath_call_sql(&fp, fcinfo, "rfm_scores_sql");
		on_shards = true;
	}
	by_mean = strcmp(monetary_by, "mean") == 0;

	work = AllocSetContextCreate(CurrentMemoryContext, "crm.rfm_scores",
								 ALLOCSET_DEFAULT_SIZES);
	row = AllocSetContextCreate(work, "crm.rfm_scores row", ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(work);

	classes = load_segment_map(map_name, segments);
	if (classes < 0)
		map = NULL;
	else if (from_profiles)
		map = read_profiles(&over);
	else if (on_shards)
		map = gather_purchases(as_of);
	else
		map = scan_purchases(&orders, as_of, &over);
	if (!on_shards && !from_profiles)
		fastpath_close(&orders);
	if (map == NULL)
	{
		fastpath_decline(&fp, classes == -1 ? "unknown segment map" :
						 classes == -2 ? "segment map not a partition" :
						 over ? "memory limit" : "unusual data", NULL);
		MemoryContextSwitchTo(outer);
		MemoryContextDelete(work);
		return fastpath_call_sql(&fp, fcinfo, "rfm_scores_sql");
	}
	if (from_profiles)
		fastpath_taken_from_profiles(&fp);
	else if (on_shards)
		fastpath_taken_on_shards(&fp);
	else
		fastpath_taken(&fp);
	MemoryContextSwitchTo(outer);
	InitMaterializedSRF(fcinfo, 0);
	MemoryContextSwitchTo(work);

	clients = (ScoredClient **) MemoryContextAllocHuge(work, Max(map->members, 1) * sizeof(ScoredClient *));
	clientmap_start_iterate(map, &it);
	while ((entry = clientmap_iterate(map, &it)) != NULL)
		clients[nclients++] = entry;

	if (nclients > 0)
	{
		/* the three values of every client, then the breakpoints of each */
		recency = (int32 *) MemoryContextAllocHuge(work, nclients * sizeof(int32));
		for (d = 0; d < 3; d++)
			value[d] = (float8 *) MemoryContextAllocHuge(work, nclients * sizeof(float8));
		sorted = (float8 *) MemoryContextAllocHuge(work, nclients * sizeof(float8));
		for (i = 0; i < nclients; i++)
		{
			const ScoredClient *c = clients[i];

			recency[i] = profile_days_since(c->last, as_of);
			value[0][i] = recency[i];
			value[1][i] = (float8) c->n;
			MemoryContextSwitchTo(row);
			value[2][i] = client_monetary_float(c, by_mean);
			MemoryContextSwitchTo(work);
			MemoryContextReset(row);
		}
		for (d = 0; d < 3; d++)
		{
			memcpy(sorted, value[d], nclients * sizeof(float8));
			/* recency: fewer days is better */
			rfm_breaks_of_values(sorted, nclients, classes, d != 0, breaks[d]);
		}

		for (i = 0; i < nclients; i++)
		{
			const ScoredClient *c = clients[i];
			Datum		values[RS_N];
			bool		nulls[RS_N] = {false, false, false, false, false, false};
			int16		code;

			CHECK_FOR_INTERRUPTS();
			code = RFM_MAKE(rfm_score_of(value[0][i], breaks[0], classes - 1, false),
							rfm_score_of(value[1][i], breaks[1], classes - 1, true),
							rfm_score_of(value[2][i], breaks[2], classes - 1, true));
			MemoryContextSwitchTo(row);
			values[pos[RS_CLIENT]] = Int64GetDatum(c->client_id);
			values[pos[RS_RECENCY]] = Int32GetDatum(recency[i]);
			values[pos[RS_FREQUENCY]] = Int64GetDatum(c->n);
			values[pos[RS_MONETARY]] = client_monetary(c, by_mean);
			values[pos[RS_RFM]] = Int16GetDatum(code);
			if (segments[code] != NULL)
				values[pos[RS_SEGMENT]] = PointerGetDatum(segments[code]);
			else
				nulls[pos[RS_SEGMENT]] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			MemoryContextSwitchTo(work);
			MemoryContextReset(row);
		}
	}

	MemoryContextSwitchTo(outer);
	MemoryContextDelete(work);
	PG_RETURN_NULL();
}
