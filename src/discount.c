/*-------------------------------------------------------------------------
 *
 * src/discount.c
 *
 * crm.price_cart(client_id bigint, cart jsonb, at timestamptz): the SQL
 * entry point of discount evaluation.  One call reads, with prepared SPI
 * queries: the client and its turnover to date; the cart's products,
 * prices and price lists (a few key lookups per line); the general rules
 * and the category tree from the backend's cache (discount_cache.c), or,
 * when the call may not use it, every active rule that concerns the client
 * (one query, received slot by slot into an array of DiscRule) and the
 * category paths of the cart's categories (one recursive query); with the
 * cache, the client's own rules (one query, when there are any); the
 * client's use counts of the rules, when a rule has a limit; the loyalty
 * programme; and, only when a rule needs a tier the cart does not give,
 * the client's tiers from crm.loyalty_accounts.  With the cache, the rows
 * of these per-call statements are kept under one snapshot (run(), and the
 * memo in discount_cache.c), so that the calls of one statement run each
 * once.  The rules are evaluated in C by discount_eval.c; the answer, which
 * explains every rule considered, is a tree of JsonbValues written out in
 * jsonb's binary form.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "discount.h"
#include "fastpath.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "tcop/dest.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(discount_price_cart);

/* the largest amount numeric(14,2) holds, in cents */
#define DISC_MAX_AMOUNT		INT64CONST(99999999999999)

static SPIPlanPtr plan_lines = NULL;
static SPIPlanPtr plan_ancestors = NULL;
static SPIPlanPtr plan_client = NULL;
static SPIPlanPtr plan_turnover = NULL;
static SPIPlanPtr plan_rules = NULL;
static SPIPlanPtr plan_rules_general = NULL;
static SPIPlanPtr plan_rules_client = NULL;
static SPIPlanPtr plan_categories = NULL;
static SPIPlanPtr plan_any_client_rule = NULL;
static SPIPlanPtr plan_usage = NULL;
static SPIPlanPtr plan_tiers = NULL;
static SPIPlanPtr plan_segment = NULL;
static SPIPlanPtr plan_segment_stored = NULL;
static SPIPlanPtr plan_program = NULL;
static SPIPlanPtr plan_program_named = NULL;
static SPIPlanPtr plan_program_tier = NULL;
static SPIPlanPtr plan_program_terms = NULL;

/*
 * Working memory of one price_cart call: SPI's own contexts come and go
 * with its calls, so the loaders switch back to it after each.  It is
 * keep_cxt, a context kept for the backend and emptied at the end of every
 * call (also on error): its first megabyte stays allocated, so that a call
 * does not ask the system for memory and fault it in again.  The large
 * arrays (rules, the rule-by-line matrices) go to scratch buffers that are
 * kept too.  A call cannot start while another runs (in_call).
 */
static MemoryContext work_cxt = NULL;
static MemoryContext keep_cxt = NULL;
static bool in_call = false;

#define SCRATCH_RULES		0
#define SCRATCH_ORDER		1
#define SCRATCH_HELD		2
#define SCRATCH_AMT			3
#define SCRATCH_MARK		4
#define SCRATCH_N			5
static void *scratch_buf[SCRATCH_N];
static Size scratch_size[SCRATCH_N];

/* a buffer of at least size bytes kept for the backend, zeroed if asked */
static void *
scratch(int slot, Size size, bool zero)
{
	if (scratch_size[slot] < size)
	{
		Size		want = Max(size, scratch_size[slot] * 2);

		if (scratch_buf[slot])
			pfree(scratch_buf[slot]);
		scratch_buf[slot] = NULL;
		scratch_size[slot] = 0;
		scratch_buf[slot] = MemoryContextAllocHuge(TopMemoryContext, want);
		scratch_size[slot] = want;
	}
	if (zero)
		memset(scratch_buf[slot], 0, size);
	return scratch_buf[slot];
}

/*
 * One row per cart line, in cart order.  The lateral subqueries (kept
 * apart by OFFSET 0) make each line a few primary-key lookups instead of a
 * hash join over the whole catalogue.
 */
static const char *sql_lines =
"SELECT l.ord::int4, p.product_id IS NOT NULL, (p.unit_cost * 100)::int8,"
"       pl.price_list_id IS NOT NULL, pl.valid @> $3, pl.currency,"
"       (pr.price * 100)::int8, p.category_id"
"  FROM ROWS FROM (pg_catalog.unnest($1::int8[]), pg_catalog.unnest($2::int4[]))"
"       WITH ORDINALITY AS l(product_id, price_list_id, ord)"
"  LEFT JOIN LATERAL (SELECT p.product_id, p.category_id, p.unit_cost FROM crm.products p"
"                      WHERE p.product_id = l.product_id OFFSET 0) p ON true"
"  LEFT JOIN LATERAL (SELECT pl.price_list_id, pl.valid, pl.currency FROM crm.price_lists pl"
"                      WHERE pl.price_list_id = l.price_list_id OFFSET 0) pl ON true"
"  LEFT JOIN LATERAL (SELECT pr.price FROM crm.prices pr"
"                      WHERE pr.price_list_id = l.price_list_id AND pr.product_id = l.product_id"
"                     OFFSET 0) pr ON true"
" ORDER BY l.ord";

/* each category of the cart with its ancestors, itself first */
static const char *sql_ancestors =
"WITH RECURSIVE up(start, id, depth) AS ("
"    SELECT DISTINCT c, c, 0 FROM pg_catalog.unnest($1::int4[]) c"
"    UNION ALL"
"    SELECT up.start, k.parent_id, up.depth + 1"
"      FROM crm.categories k JOIN up ON k.category_id = up.id"
"     WHERE k.parent_id IS NOT NULL AND up.depth < 1000)"
"SELECT up.start, up.id FROM up ORDER BY up.start, up.depth";

static const char *sql_client =
"SELECT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = $1), t.amount, t.currency"
"  FROM (SELECT (coalesce(sum(o.net_amount), 0) * 100)::int8,"
"               CASE WHEN min(o.currency COLLATE \"C\") = max(o.currency COLLATE \"C\")"
"                    THEN min(o.currency COLLATE \"C\") END"
"          FROM crm.orders o"
"         WHERE o.client_id = $1 AND o.status IN ('placed', 'paid')"
"           AND o.ordered_at < $2) t(amount, currency)";

/*
 * The client's turnover in one currency, when the purchases are in more
 * than one, or in another than the cart's: amounts of different
 * currencies are never added.
 */
static const char *sql_turnover =
"SELECT (coalesce(sum(o.net_amount), 0) * 100)::int8 FROM crm.orders o"
" WHERE o.client_id = $1 AND o.status IN ('placed', 'paid')"
"   AND o.ordered_at < $2 AND o.currency = $3";

/* the segment the last refresh stored for the client, and since when */
static const char *sql_segment_stored =
"SELECT s.rfm_segment, s.since FROM crm.client_segments s WHERE s.client_id = $1";

/* whether a segment the cart gives is one of a segment map */
static const char *sql_segment =
"SELECT EXISTS (SELECT 1 FROM crm.segment_map_rules r WHERE r.segment = $1)";

/*
 * The client's ($1) programmes, with the client's tier in each: those of
 * the households the client is in now (the family card the client pays
 * with, whether or not they have earned on it themselves), else those
 * the client has an account in; the programme named $1, and the client's
 * ($2) tier in it.  (Each reads crm.loyalty_accounts and
 * crm.household_members for one client, so that on a Citus cluster it
 * runs on that client's shard.)
 */
static const char *sql_program =
"WITH h AS (SELECT m.program_id FROM crm.household_members m"
"            WHERE m.client_id = $1 AND m.left_at IS NULL),"
"     c AS (SELECT h.program_id FROM h"
"           UNION ALL"
"           SELECT a.program_id FROM crm.loyalty_accounts a"
"            WHERE a.client_id = $1 AND NOT EXISTS (SELECT 1 FROM h))"
"SELECT p.program_id, p.code, p.currency,"
"       (SELECT a.tier_code::text FROM crm.loyalty_accounts a"
"         WHERE a.client_id = $1 AND a.program_id = p.program_id),"
"       (p.point_value * 10000)::int8"
"  FROM c JOIN crm.loyalty_programs p ON p.program_id = c.program_id"
" ORDER BY p.program_id LIMIT 2";
static const char *sql_program_named =
"SELECT p.program_id, p.code, p.currency, NULL::text, (p.point_value * 10000)::int8"
"  FROM crm.loyalty_programs p WHERE p.code = $1";
static const char *sql_program_tier =
"SELECT a.tier_code::text FROM crm.loyalty_accounts a"
" WHERE a.client_id = $1 AND a.program_id = $2";

/*
 * The programme's terms for the order (net in cents, points paid): the
 * most points it may be paid with, and the programme's cashback, by the
 * functions crm.redeem_points and crm.award_order_points use.  The
 * programme's row comes from a function, not a table: on a Citus cluster a
 * query over the (reference) table would run on a worker, where a
 * whole-row value is of the shard's row type, not crm.loyalty_programs.
 */
static const char *sql_program_terms =
"SELECT crm.loyalty_redeem_cap(p, $2::numeric / 100),"
"       crm.loyalty_earn(p, $3, $2::numeric / 100, $4)"
"  FROM crm.loyalty_program_row($1) p";

/*
 * The client's tier codes: in the cart's programme ($2), or in any when the
 * cart names none ($2 NULL).
 */
static const char *sql_tiers =
"SELECT DISTINCT a.tier_code::text FROM crm.loyalty_accounts a"
"  JOIN crm.loyalty_programs p ON p.program_id = a.program_id"
" WHERE a.client_id = $1 AND a.tier_code IS NOT NULL"
"   AND ($2::text IS NULL OR p.code = $2::text)"
" ORDER BY 1";

/*
 * The rule queries share their columns: RULE_SELECT_HEAD, then the window
 * (at the moment $2, or 0 with the bounds at the end for the cache), then
 * RULE_SELECT_TAIL.
 */
#define RULE_SELECT_HEAD \
"SELECT r.rule_id, r.code, r.rank, r.level = 'order', r.action," \
"       (CASE WHEN r.action = 'fixed' THEN r.value * 100 ELSE r.value * 10000 END)::int8," \
"       (r.cap * 100)::int8, r.stacking, r.base = 'original'," \
"       r.price_list_id, r.category_id,"
#define RULE_WINDOW_AT \
"       CASE WHEN r.valid @> $2 THEN 0" \
"            WHEN r.valid >> pg_catalog.tstzrange($2, $2, '[]') THEN -1 ELSE 1 END,"
#define RULE_SELECT_TAIL \
"       (r.min_order_amount * 100)::int8, (r.min_turnover * 100)::int8," \
"       (r.crossing_threshold * 100)::int8, r.segment, r.tier, r.uses_per_client," \
"       CASE WHEN r.action IN ('cashback', 'points_share')" \
"            THEN (r.point_value * 10000)::int8 END"

/* every active rule that concerns the client ($1) at the moment $2 */
static const char *sql_rules =
RULE_SELECT_HEAD RULE_WINDOW_AT RULE_SELECT_TAIL
"  FROM crm.discount_rules r"
" WHERE r.active AND (r.client_id IS NULL OR r.client_id = $1)";

/*
 * The cached rules (discount_cache.c): the general ones, with their
 * windows' bounds instead of the window at a moment (found per call).
 */
static const char *sql_rules_general =
RULE_SELECT_HEAD " 0," RULE_SELECT_TAIL ","
"       pg_catalog.lower(r.valid), pg_catalog.upper(r.valid),"
"       pg_catalog.lower_inc(r.valid), pg_catalog.upper_inc(r.valid),"
"       pg_catalog.lower_inf(r.valid), pg_catalog.upper_inf(r.valid)"
"  FROM crm.discount_rules r"
" WHERE r.active AND r.client_id IS NULL";

/* with the cache: the client's own rules, by query (the same columns as sql_rules) */
static const char *sql_rules_client =
RULE_SELECT_HEAD RULE_WINDOW_AT RULE_SELECT_TAIL
"  FROM crm.discount_rules r"
" WHERE r.active AND r.client_id = $1";

/* whether any active rule is a client's own */
static const char *sql_any_client_rule =
"SELECT EXISTS (SELECT 1 FROM crm.discount_rules r WHERE r.active AND r.client_id IS NOT NULL)";

/* the cached category tree */
static const char *sql_categories =
"SELECT k.category_id, k.parent_id FROM crm.categories k ORDER BY k.category_id";

static const char *sql_usage =
"SELECT u.rule_id, u.uses::int8 FROM crm.discount_usage u"
" WHERE u.client_id = $1 ORDER BY u.rule_id";

static void cached_ancestors(DiscCart *c, DiscCache *cache, Datum *cats);
static void precompute_no_line(DiscCache *cache);

static SPIPlanPtr
prepare(SPIPlanPtr *cache, const char *sql, int nargs, Oid *types)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*cache = p;
	}
	return *cache;
}

/*
 * The per-call statements run through run(): with the memo
 * (discount_cache.c) on for the call, a statement already run under the
 * same snapshot with the same arguments is not run again, and its rows come
 * from the memo (rows); otherwise from SPI_tuptable.  qrows is the count
 * either way.
 */
static bool memo_on = false;
static DiscRows *rows = NULL;
static uint64 qrows = 0;

static int
run(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types, Datum *args,
	const char *nulls, long tcount)
{
	SPIPlanPtr	plan = prepare(slot, sql, nargs, types);
	StringInfoData key;
	int			rc;

	rows = NULL;
	if (memo_on)
	{
		initStringInfo(&key);
		appendBinaryStringInfo(&key, (char *) &slot, sizeof(slot));
		appendBinaryStringInfo(&key, (char *) &tcount, sizeof(tcount));
		for (int i = 0; i < nargs; i++)
		{
			bool		isnull = nulls != NULL && nulls[i] == 'n';

			appendStringInfoChar(&key, isnull ? 'n' : ' ');
			if (isnull)
				continue;
			if (types[i] == INT8OID || types[i] == INT4OID || types[i] == TIMESTAMPTZOID)
				appendBinaryStringInfo(&key, (char *) &args[i], sizeof(Datum));
			else
			{
				struct varlena *v = PG_DETOAST_DATUM_PACKED(args[i]);
				int32		len = VARSIZE_ANY(v);

				appendBinaryStringInfo(&key, (char *) &len, sizeof(len));
				appendBinaryStringInfo(&key, (char *) v, len);
			}
		}
		rows = discount_memo_get(key.data, key.len);
		if (rows)
		{
			qrows = rows->nrows;
			return SPI_OK_SELECT;
		}
	}
	rc = SPI_execute_plan(plan, args, nulls, true, tcount);
	MemoryContextSwitchTo(work_cxt);
	qrows = SPI_processed;
	if (memo_on && rc == SPI_OK_SELECT && SPI_tuptable != NULL)
		rows = discount_memo_put(key.data, key.len, SPI_tuptable, (int) SPI_processed);
	return rc;
}

static Datum
col(int row, int colno, bool *isnull)
{
	if (rows)
	{
		*isnull = rows->nulls[row * rows->ncols + colno - 1];
		return rows->values[row * rows->ncols + colno - 1];
	}
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 colno, isnull);
}

static int64
col_int64(int row, int colno, int64 if_null)
{
	bool		isnull;
	Datum		d = col(row, colno, &isnull);

	return isnull ? if_null : DatumGetInt64(d);
}

static bool
col_bool(int row, int colno)
{
	bool		isnull;
	Datum		d = col(row, colno, &isnull);

	return !isnull && DatumGetBool(d);
}

static char *
col_text(int row, int colno)
{
	bool		isnull;
	Datum		d = col(row, colno, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static char *
at_text(TimestampTz at)
{
	char		buf[MAXDATELEN + 1];
	int			utc = 0;

	return pstrdup(JsonEncodeDateTime(buf, TimestampTzGetDatum(at),
									  TIMESTAMPTZOID, &utc));
}

/*
 * The category paths of the lines: one recursive query for all the cart's
 * categories; rows come sorted by category, each path from the category up.
 */
static void
load_ancestors(DiscCart *c, Datum *cats)
{
	Oid			types[1] = {INT4ARRAYOID};
	Datum		args[1];
	int			rc;
	int			nrows;
	int32	   *start;
	int32	   *id;

	args[0] = PointerGetDatum(construct_array(cats, c->nlines, INT4OID, 4,
											  true, TYPALIGN_INT));
	rc = SPI_execute_plan(prepare(&plan_ancestors, sql_ancestors, 1, types), args,
						  NULL, true, 0);
	rows = NULL;
	MemoryContextSwitchTo(work_cxt);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the category paths failed");
	nrows = (int) SPI_processed;
	start = palloc(sizeof(int32) * Max(nrows, 1));
	id = palloc(sizeof(int32) * Max(nrows, 1));
	for (int k = 0; k < nrows; k++)
	{
		bool		isnull;

		start[k] = DatumGetInt32(col(k, 1, &isnull));
		id[k] = DatumGetInt32(col(k, 2, &isnull));
	}
	for (int i = 0; i < c->nlines; i++)
	{
		int32		cat = DatumGetInt32(cats[i]);
		int			lo = 0,
					hi = nrows;

		/* the first row of this category */
		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (start[mid] < cat)
				lo = mid + 1;
			else
				hi = mid;
		}
		c->lines[i].categories = &id[lo];
		c->lines[i].ncategories = 0;
		for (int k = lo; k < nrows && start[k] == cat; k++)
			c->lines[i].ncategories++;
	}
}

/* products, prices, price lists and category paths of the cart's lines */
static void
load_lines(DiscCart *c, DiscCache *cache)
{
	Oid			types[3] = {INT8ARRAYOID, INT4ARRAYOID, TIMESTAMPTZOID};
	Datum	   *pids = palloc(sizeof(Datum) * c->nlines);
	Datum	   *lids = palloc(sizeof(Datum) * c->nlines);
	Datum		args[3];
	Datum	   *cats = palloc(sizeof(Datum) * c->nlines);
	int64		total_gross = 0;
	int			rc;

	for (int i = 0; i < c->nlines; i++)
	{
		pids[i] = Int64GetDatum(c->lines[i].product_id);
		lids[i] = Int32GetDatum(c->lines[i].price_list_id);
	}
	args[0] = PointerGetDatum(construct_array(pids, c->nlines, INT8OID, 8,
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(lids, c->nlines, INT4OID, 4,
											  true, TYPALIGN_INT));
	args[2] = TimestampTzGetDatum(c->at);
	rc = run(&plan_lines, sql_lines, 3, types, args, NULL, 0);
	if (rc != SPI_OK_SELECT || qrows != (uint64) c->nlines)
		elog(ERROR, "reading the cart's products failed");

	for (int i = 0; i < c->nlines; i++)
	{
		DiscLine   *l = &c->lines[i];
		bool		isnull;
		char	   *currency;
		int128		g;

		if (!col_bool(i, 2))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cart line %d: product_id " INT64_FORMAT " does not exist",
							l->line_no, l->product_id)));
		if (!col_bool(i, 4))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cart line %d: price_list_id %d does not exist",
							l->line_no, l->price_list_id)));
		if (!col_bool(i, 5))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cart line %d: price list %d is not valid at %s",
							l->line_no, l->price_list_id, at_text(c->at))));
		l->unit_price = col_int64(i, 7, -1);
		if (l->unit_price < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cart line %d: product " INT64_FORMAT " has no price on price list %d",
							l->line_no, l->product_id, l->price_list_id)));
		currency = col_text(i, 6);
		if (c->currency == NULL)
			c->currency = currency;
		else if (strcmp(currency, c->currency) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cart line %d: price list %d is in %s, the cart's first line in %s",
							l->line_no, l->price_list_id, currency, c->currency)));
		l->unit_cost = col_int64(i, 3, 0);
		g = discount_round_div((int128) l->qty_milli * l->unit_price, 1000);
		if (g > DISC_MAX_AMOUNT)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("cart line %d: amount of the line is out of range", l->line_no)));
		l->gross = (int64) g;
		total_gross += l->gross;
		if (total_gross > DISC_MAX_AMOUNT)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("cart line %d: the cart's total amount is out of range", l->line_no)));
		g = discount_round_div((int128) l->qty_milli * l->unit_cost, 1000);
		l->cost = g > DISC_MAX_AMOUNT ? DISC_MAX_AMOUNT : (int64) g;

		l->ncategories = 0;
		l->categories = NULL;
		cats[i] = col(i, 8, &isnull);
	}
	if (cache)
		cached_ancestors(c, cache, cats);
	else
		load_ancestors(c, cats);
}

static void
load_client(DiscCart *c)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		args[2] = {Int64GetDatum(c->client_id), TimestampTzGetDatum(c->at)};
	int			rc;

	rc = run(&plan_client, sql_client, 2, types, args, NULL, 0);
	if (rc != SPI_OK_SELECT || qrows != 1)
		elog(ERROR, "reading the client failed");
	if (!col_bool(0, 1))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("client " INT64_FORMAT " does not exist", c->client_id)));
	c->turnover = col_int64(0, 2, 0);
	c->turnover_currency = col_text(0, 3);
	if (c->segment == NULL)
	{
		/* the segment the last refresh stored for the client, if any */
		Oid			ctypes[1] = {INT8OID};
		Datum		cargs[1] = {Int64GetDatum(c->client_id)};
		bool		isnull;
		Datum		since;

		rc = run(&plan_segment_stored, sql_segment_stored, 1, ctypes, cargs, NULL, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "reading the client's segment failed");
		if (qrows == 1)
		{
			c->segment = col_text(0, 1);
			since = col(0, 2, &isnull);
			if (c->segment != NULL && !isnull)
			{
				c->segment_stored = true;
				c->segment_since = DatumGetTimestampTz(since);
			}
			else
				c->segment = NULL;
		}
	}
	else
	{
		/* a segment the cart names must be one of a segment map */
		Oid			stypes[1] = {TEXTOID};
		Datum		sargs[1] = {CStringGetTextDatum(c->segment)};

		rc = run(&plan_segment, sql_segment, 1, stypes, sargs, NULL, 1);
		if (rc != SPI_OK_SELECT || qrows != 1)
			elog(ERROR, "reading the segment maps failed");
		if (!col_bool(0, 1))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cart: segment \"%s\" is not a segment of any segment map", c->segment),
					 errhint("The segments are those of crm.segment_map_rules; without \"segment\", the client's stored segment (crm.client_segments) is used.")));
	}
}

/* the programme's terms for the order, once its net is known */
static void
program_terms(DiscCart *c)
{
	Oid			types[4] = {TEXTOID, INT8OID, TEXTOID, INT8OID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', c->program_tier ? ' ' : 'n', ' '};
	int			rc;

	args[0] = CStringGetTextDatum(c->program);
	args[1] = Int64GetDatum(c->net);
	args[2] = c->program_tier ? CStringGetTextDatum(c->program_tier) : (Datum) 0;
	args[3] = Int64GetDatum(c->points_paid);
	rc = run(&plan_program_terms, sql_program_terms, 4, types, args, nulls, 1);
	if (rc != SPI_OK_SELECT || qrows != 1)
		elog(ERROR, "reading the loyalty programme's terms failed");
	c->program_cap = col_int64(0, 1, 0);
	c->program_earned = col_int64(0, 2, 0);
}

/*
 * The loyalty programme: the one the cart names (it must exist and be in
 * the cart's currency), or else the one of the client's household when
 * the client is in exactly one, or else the one the client has an account
 * in when there is exactly one (in the cart's currency); otherwise none.
 */
static void
load_program(DiscCart *c)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Oid			text_type[1] = {TEXTOID};
	Datum		args[2];
	int			rc;
	char	   *currency;
	char	   *tier = NULL;

	if (c->program)
	{
		args[0] = CStringGetTextDatum(c->program);
		rc = run(&plan_program_named, sql_program_named, 1, text_type, args, NULL, 0);
	}
	else
	{
		args[0] = Int64GetDatum(c->client_id);
		rc = run(&plan_program, sql_program, 1, types, args, NULL, 0);
	}
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the loyalty programmes failed");
	if (c->program && qrows == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cart: loyalty programme \"%s\" does not exist", c->program)));
	if (qrows != 1)
		return;					/* no account, or several: no programme */
	currency = col_text(0, 3);
	if (strcmp(currency, c->currency) != 0)
	{
		if (c->program)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cart: loyalty programme \"%s\" is in %s, the cart in %s",
							c->program, currency, c->currency)));
		return;
	}
	c->program_named = c->program != NULL;
	c->has_program = true;
	c->program_id = col_int64(0, 1, 0);
	c->program_point_value = col_int64(0, 5, 100);
	if (c->program_named)
	{
		args[0] = Int64GetDatum(c->client_id);
		args[1] = Int64GetDatum(c->program_id);
		rc = run(&plan_program_tier, sql_program_tier, 2, types, args, NULL, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "reading the client's loyalty account failed");
		if (qrows == 1)
			tier = col_text(0, 1);
	}
	else
	{
		tier = col_text(0, 4);
		c->program = col_text(0, 2);
	}
	c->program_tier = tier;
	c->program_terms = program_terms;
}

/*
 * The turnover in the cart's currency (its price lists'): the client's
 * purchases in that currency only.  Read again only when the purchases are
 * not all in it (no purchase: 0 in any currency).
 */
static void
turnover_in_cart_currency(DiscCart *c)
{
	Oid			types[3] = {INT8OID, TIMESTAMPTZOID, TEXTOID};
	Datum		args[3];
	int			rc;

	if (c->turnover == 0 && c->turnover_currency == NULL)
		return;
	if (c->currency != NULL && c->turnover_currency != NULL &&
		strcmp(c->currency, c->turnover_currency) == 0)
		return;
	if (c->currency == NULL)
	{
		c->turnover = 0;		/* an empty cart has no currency */
		return;
	}
	args[0] = Int64GetDatum(c->client_id);
	args[1] = TimestampTzGetDatum(c->at);
	args[2] = CStringGetTextDatum(c->currency);
	rc = run(&plan_turnover, sql_turnover, 3, types, args, NULL, 0);
	if (rc != SPI_OK_SELECT || qrows != 1)
		elog(ERROR, "reading the client's turnover failed");
	c->turnover = col_int64(0, 1, 0);
	c->turnover_currency = c->currency;
}

#define RULE_COLUMNS 19
#define RULE_COLUMNS_BOUNDS 25

/*
 * The rules are received straight from the executor's slots by a
 * DestReceiver of our own: no tuple is formed and copied per rule.
 */
typedef struct RuleReceiver
{
	DestReceiver pub;
	DiscCart   *c;
	int			allocated;
	MemoryContext cxt;			/* where the rules go */
} RuleReceiver;

static bool
rule_receive(TupleTableSlot *slot, DestReceiver *self)
{
	RuleReceiver *rr = (RuleReceiver *) self;
	DiscCart   *c = rr->c;
	MemoryContext old = MemoryContextSwitchTo(rr->cxt);
	Datum	   *v;
	bool	   *n;
	DiscRule   *r;
	char	   *action;
	char	   *stacking;
	int			natts = slot->tts_tupleDescriptor->natts;

	if (natts != RULE_COLUMNS && natts != RULE_COLUMNS_BOUNDS)
		elog(ERROR, "reading the discount rules failed");
	if (c->nrules == rr->allocated)
	{
		rr->allocated *= 2;
		c->rule_store = repalloc(c->rule_store, sizeof(DiscRule) * rr->allocated);
	}
	r = &c->rule_store[c->nrules++];
	memset(r, 0, sizeof(DiscRule));

	slot_getallattrs(slot);
	v = slot->tts_values;
	n = slot->tts_isnull;
#define I64(k, dflt)	(n[(k) - 1] ? (dflt) : DatumGetInt64(v[(k) - 1]))
#define I32(k, dflt)	(n[(k) - 1] ? (dflt) : DatumGetInt32(v[(k) - 1]))
#define BOOL(k)			(!n[(k) - 1] && DatumGetBool(v[(k) - 1]))
#define TEXT(k)			(n[(k) - 1] ? NULL : TextDatumGetCString(v[(k) - 1]))
	action = TEXT(5);
	stacking = TEXT(8);
	r->rule_id = I64(1, 0);
	r->code = TEXT(2);
	r->codelen = strlen(r->code);
	r->rank = I32(3, 0);
	r->action = strcmp(action, "percent") == 0 ? DISC_PERCENT :
		strcmp(action, "fixed") == 0 ? DISC_FIXED :
		strcmp(action, "cashback") == 0 ? DISC_CASHBACK :
		strcmp(action, "points_multiplier") == 0 ? DISC_MULTIPLIER : DISC_SHARE;
	if (r->action == DISC_CASHBACK || r->action == DISC_MULTIPLIER ||
		r->action == DISC_SHARE)
		r->phase = DISC_PHASE_BONUS;
	else
		r->phase = BOOL(4) ? DISC_PHASE_ORDER : DISC_PHASE_LINE;
	r->value = I64(6, 0);
	r->cap = I64(7, -1);
	r->stacking = strcmp(stacking, "stack") == 0 ? DISC_STACK :
		strcmp(stacking, "stop") == 0 ? DISC_STOP : DISC_EXCLUSIVE;
	r->base_original = BOOL(9);
	r->has_price_list = !n[9];
	r->price_list_id = I32(10, 0);
	r->has_category = !n[10];
	r->category_id = I32(11, 0);
	r->window = I32(12, 0);
	r->min_order = I64(13, -1);
	r->min_turnover = I64(14, -1);
	r->crossing = I64(15, -1);
	r->segment = TEXT(16);
	r->tier = TEXT(17);
	r->uses_limit = I32(18, -1);
	r->point_value = I64(19, 100);
	r->uses = 0;
	if (natts == RULE_COLUMNS_BOUNDS)
	{
		r->lower_inf = BOOL(24);
		r->upper_inf = BOOL(25);
		r->lower_inc = BOOL(22);
		r->upper_inc = BOOL(23);
		r->lower = r->lower_inf ? 0 : DatumGetTimestampTz(v[19]);
		r->upper = r->upper_inf ? 0 : DatumGetTimestampTz(v[20]);
		if (r->has_price_list && r->has_category)
			r->no_line_reason = psprintf("no line is on price list %d in category %d",
										 r->price_list_id, r->category_id);
		else if (r->has_price_list)
			r->no_line_reason = psprintf("no line is on price list %d", r->price_list_id);
		else if (r->has_category)
			r->no_line_reason = psprintf("no line is in category %d", r->category_id);
	}
#undef I64
#undef I32
#undef BOOL
#undef TEXT
	pfree(action);
	pfree(stacking);
	MemoryContextSwitchTo(old);
	return true;
}

static void
rule_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
rule_shutdown(DestReceiver *self)
{
}

static void
rule_destroy(DestReceiver *self)
{
}

/*
 * Runs a rule query (sql_rules, sql_rules_client: $1 client, $2 moment;
 * sql_rules_general: none) and appends its rules to c->rule_store, which
 * grows in cxt.
 */
static void
receive_rules(DiscCart *c, SPIPlanPtr plan, bool with_params, MemoryContext cxt)
{
	ParamListInfo params = makeParamList(2);
	SPIExecuteOptions options;
	RuleReceiver rr;
	int			rc;

	params->params[0].value = Int64GetDatum(c->client_id);
	params->params[0].isnull = false;
	params->params[0].pflags = PARAM_FLAG_CONST;
	params->params[0].ptype = INT8OID;
	params->params[1].value = TimestampTzGetDatum(c->at);
	params->params[1].isnull = false;
	params->params[1].pflags = PARAM_FLAG_CONST;
	params->params[1].ptype = TIMESTAMPTZOID;

	memset(&rr, 0, sizeof(rr));
	rr.pub.receiveSlot = rule_receive;
	rr.pub.rStartup = rule_startup;
	rr.pub.rShutdown = rule_shutdown;
	rr.pub.rDestroy = rule_destroy;
	rr.pub.mydest = DestNone;
	rr.c = c;
	rr.cxt = cxt;
	if (c->rule_store == NULL)
	{
		rr.allocated = 256;
		c->nrules = 0;
		c->rule_store = MemoryContextAlloc(cxt, sizeof(DiscRule) * rr.allocated);
	}
	else
		rr.allocated = c->nrules;	/* grows on the next rule */

	memset(&options, 0, sizeof(options));
	options.params = with_params ? params : NULL;
	options.read_only = true;
	options.dest = (DestReceiver *) &rr;
	rc = SPI_execute_plan_extended(plan, &options);
	MemoryContextSwitchTo(work_cxt);
	/* with a receiver of its own (DestNone), SPI reports SPI_OK_UTILITY */
	if (rc < 0)
		elog(ERROR, "reading the discount rules failed: %s", SPI_result_code_string(rc));
}

/* every active rule that concerns the client, by query */
static void
load_rules(DiscCart *c)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};

	receive_rules(c, prepare(&plan_rules, sql_rules, 2, types), true, work_cxt);
}

/*
 * Fills the cache: the general rules, sorted into evaluation order, and
 * the category tree, read under the call's snapshot.
 */
static void
fill_cache(DiscCache *cache, int64 version, TransactionId xmin)
{
	uint64		begun = discount_cache_begin(cache);
	DiscCart	tmp;
	DiscRule  **order;
	int			rc;

	memset(&tmp, 0, sizeof(tmp));
	receive_rules(&tmp, prepare(&plan_rules_general, sql_rules_general, 0, NULL), false,
				  cache->cxt);
	order = palloc(sizeof(DiscRule *) * Max(tmp.nrules, 1));
	for (int i = 0; i < tmp.nrules; i++)
		order[i] = &tmp.rule_store[i];
	qsort(order, tmp.nrules, sizeof(DiscRule *), discount_rule_cmp);
	cache->rules = MemoryContextAlloc(cache->cxt, sizeof(DiscRule) * Max(tmp.nrules, 1));
	for (int i = 0; i < tmp.nrules; i++)
		cache->rules[i] = *order[i];
	cache->nrules = tmp.nrules;
	precompute_no_line(cache);

	/*
	 * Whether there is any active rule of one client at all, when this role
	 * reads every rule: if not, no role sees one until the version changes,
	 * and the calls need not look for the client's own rules.
	 */
	if (cache->reader_sees_all)
	{
		rc = SPI_execute_plan(prepare(&plan_any_client_rule, sql_any_client_rule, 0, NULL),
							  NULL, NULL, true, 1);
		rows = NULL;
		MemoryContextSwitchTo(work_cxt);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "reading the discount rules failed");
		cache->client_rules = col_bool(0, 1) ? 1 : 0;
	}

	rc = SPI_execute_plan(prepare(&plan_categories, sql_categories, 0, NULL), NULL, NULL,
						  true, 0);
	rows = NULL;
	MemoryContextSwitchTo(work_cxt);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the categories failed");
	cache->ncategories = (int) SPI_processed;
	cache->category_id = MemoryContextAlloc(cache->cxt, sizeof(int32) * Max(cache->ncategories, 1));
	cache->parent_id = MemoryContextAlloc(cache->cxt, sizeof(int32) * Max(cache->ncategories, 1));
	cache->has_parent = MemoryContextAlloc(cache->cxt, sizeof(bool) * Max(cache->ncategories, 1));
	for (int k = 0; k < cache->ncategories; k++)
	{
		bool		isnull;

		cache->category_id[k] = DatumGetInt32(col(k, 1, &isnull));
		cache->parent_id[k] = DatumGetInt32(col(k, 2, &isnull));
		cache->has_parent[k] = !isnull;
		if (isnull)
			cache->parent_id[k] = 0;
	}
	discount_cache_done(cache, begun, version, xmin);
}

/*
 * With the cache: the client's own rules by query, then a copy of the
 * cached general rules with their windows at the call's moment; the
 * evaluation order is the merge of the two sorted lists.
 */
static void
load_rules_cached(DiscCart *c, DiscCache *cache)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	int			nown;
	DiscRule  **own;
	int			i,
				j,
				k;

	if (cache->client_rules != 0)
		receive_rules(c, prepare(&plan_rules_client, sql_rules_client, 2, types), true, work_cxt);
	else
	{
		/* no rule is any client's own (known when the cache was read) */
		c->nrules = 0;
		c->rule_store = palloc(sizeof(DiscRule));
	}
	nown = c->nrules;
	if ((int64) nown + cache->nrules > (int64) (MaxAllocSize / sizeof(DiscRule)))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many discount rules: %d", nown + cache->nrules)));
	{
		DiscRule   *store = scratch(SCRATCH_RULES, sizeof(DiscRule) * Max(nown + cache->nrules, 1), false);

		memcpy(store, c->rule_store, sizeof(DiscRule) * nown);
		memcpy(&store[nown], cache->rules, sizeof(DiscRule) * cache->nrules);
		c->rule_store = store;
	}
	c->nrules = nown + cache->nrules;
	for (i = nown; i < c->nrules; i++)
		discount_cache_window(&c->rule_store[i], c->at);

	own = palloc(sizeof(DiscRule *) * Max(nown, 1));
	for (i = 0; i < nown; i++)
		own[i] = &c->rule_store[i];
	qsort(own, nown, sizeof(DiscRule *), discount_rule_cmp);
	c->rules = scratch(SCRATCH_ORDER, sizeof(DiscRule *) * Max(c->nrules, 1), false);
	i = 0;
	j = nown;
	k = 0;
	while (i < nown || j < c->nrules)
	{
		DiscRule   *g = j < c->nrules ? &c->rule_store[j] : NULL;

		if (i < nown && (g == NULL || discount_rule_cmp(&own[i], &g) <= 0))
			c->rules[k++] = own[i++];
		else
		{
			c->rules[k++] = g;
			j++;
		}
	}
}

/*
 * With the cache: the category paths of the lines from the cached tree, as
 * the recursive query gives them (the category itself first, at most 1000
 * steps up).
 */
static void
cached_ancestors(DiscCart *c, DiscCache *cache, Datum *cats)
{
	for (int i = 0; i < c->nlines; i++)
	{
		int32		cat = DatumGetInt32(cats[i]);
		int32	   *path = palloc(sizeof(int32) * 8);
		int			n = 0,
					size = 8;

		path[n++] = cat;
		for (int depth = 0; depth < 1000; depth++)
		{
			int			lo = 0,
						hi = cache->ncategories - 1,
						at = -1;

			while (lo <= hi)
			{
				int			mid = (lo + hi) / 2;

				if (cache->category_id[mid] == cat)
				{
					at = mid;
					break;
				}
				if (cache->category_id[mid] < cat)
					lo = mid + 1;
				else
					hi = mid - 1;
			}
			if (at < 0 || !cache->has_parent[at])
				break;
			cat = cache->parent_id[at];
			if (n == size)
			{
				size *= 2;
				path = repalloc(path, sizeof(int32) * size);
			}
			path[n++] = cat;
		}
		c->lines[i].categories = path;
		c->lines[i].ncategories = n;
	}
}

/*
 * The client's use counts of the rules, merged into the rules.  Only a
 * rule with uses_per_client looks at them: without one, they are not read
 * (unless the caller may not read them, so that the query raises the same
 * error as always).
 */
static void
load_usage(DiscCart *c)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(c->client_id)};
	int			rc;
	int			nuse;
	bool		limited = false;
	Oid			usage;

	for (int i = 0; i < c->nrules && !limited; i++)
		limited = c->rule_store[i].uses_limit >= 0;
	usage = get_relname_relid("discount_usage", get_namespace_oid("crm", true));
	if (!limited && OidIsValid(usage) &&
		pg_class_aclcheck(usage, GetUserId(), ACL_SELECT) == ACLCHECK_OK)
		return;

	rc = run(&plan_usage, sql_usage, 1, types, args, NULL, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the client's rule uses failed");
	nuse = (int) qrows;
	if (nuse == 0)
		return;
	for (int i = 0; i < c->nrules; i++)
	{
		int			lo = 0,
					hi = nuse - 1;

		while (lo <= hi)
		{
			int			mid = (lo + hi) / 2;
			int64		id = col_int64(mid, 1, 0);

			if (id == c->rule_store[i].rule_id)
			{
				c->rule_store[i].uses = col_int64(mid, 2, 0);
				break;
			}
			if (id < c->rule_store[i].rule_id)
				lo = mid + 1;
			else
				hi = mid - 1;
		}
	}
}

/* the client's tiers, from the loyalty accounts */
static void
load_tiers(DiscCart *c)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		args[2];
	char		nulls[2] = {' ', c->program ? ' ' : 'n'};
	int			rc;

	args[0] = Int64GetDatum(c->client_id);
	args[1] = c->program ? CStringGetTextDatum(c->program) : (Datum) 0;
	rc = run(&plan_tiers, sql_tiers, 2, types, args, nulls, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the client's tiers failed");
	c->ntiers = (int) qrows;
	c->tiers = palloc(sizeof(char *) * Max(c->ntiers, 1));
	for (int i = 0; i < c->ntiers; i++)
		c->tiers[i] = col_text(i, 1);
	c->tiers_known = true;
}

static int
line_cmp(const void *a, const void *b)
{
	const DiscLine *x = *(DiscLine *const *) a;
	const DiscLine *y = *(DiscLine *const *) b;

	if (x->product_id != y->product_id)
		return x->product_id < y->product_id ? -1 : 1;
	if (x->price_list_id != y->price_list_id)
		return x->price_list_id < y->price_list_id ? -1 : 1;
	if (x->qty_milli != y->qty_milli)
		return x->qty_milli < y->qty_milli ? -1 : 1;
	return x->line_no < y->line_no ? -1 : x->line_no > y->line_no;
}

/* tie ranks: lines in (product, price list, quantity, position) order */
static void
rank_lines(DiscCart *c)
{
	DiscLine  **p = palloc(sizeof(DiscLine *) * c->nlines);

	for (int i = 0; i < c->nlines; i++)
		p[i] = &c->lines[i];
	qsort(p, c->nlines, sizeof(DiscLine *), line_cmp);
	for (int i = 0; i < c->nlines; i++)
		p[i]->tie_rank = i;
	pfree(p);
}

/*
 * Output: the answer is built as a JsonbValue tree, each object and array
 * allocated at its size and filled in place, then turned into a jsonb
 * once: no JSON text is written and parsed again, and no parse state
 * grows value by value.  The builders emit each object's keys in jsonb's
 * own order (shorter keys first, then bytewise); jo_end checks the order
 * and sorts when it is not (the totals), as jsonb's own input does.
 * Amounts are numerics with two decimals (12.30); quantities and rule
 * values with the decimals they need.
 */

/* an object of at most n pairs */
static JsonbValue *
jo_begin(int n)
{
	JsonbValue *o = palloc(sizeof(JsonbValue));

	o->type = jbvObject;
	o->val.object.nPairs = 0;
	o->val.object.pairs = palloc(sizeof(JsonbPair) * Max(n, 1));
	return o;
}

static JsonbValue *
jo_key(JsonbValue *o, const char *key)
{
	JsonbPair  *p = &o->val.object.pairs[o->val.object.nPairs];

	p->key.type = jbvString;
	p->key.val.string.val = (char *) key;
	p->key.val.string.len = strlen(key);
	p->order = o->val.object.nPairs++;
	return &p->value;
}

static int
key_cmp(const JsonbValue *a, const JsonbValue *b)
{
	if (a->val.string.len != b->val.string.len)
		return a->val.string.len < b->val.string.len ? -1 : 1;
	return memcmp(a->val.string.val, b->val.string.val, a->val.string.len);
}

/* the pairs in jsonb's key order (an insertion sort: they nearly are) */
static void
jo_end(JsonbValue *o)
{
	JsonbPair  *p = o->val.object.pairs;

	for (int i = 1; i < o->val.object.nPairs; i++)
	{
		JsonbPair	x = p[i];
		int			j = i - 1;

		while (j >= 0 && key_cmp(&p[j].key, &x.key) > 0)
		{
			p[j + 1] = p[j];
			j--;
		}
		p[j + 1] = x;
	}
}

static void
ja_init(JsonbValue *a, int n)
{
	a->type = jbvArray;
	a->val.array.nElems = 0;
	a->val.array.rawScalar = false;
	a->val.array.elems = palloc(sizeof(JsonbValue) * Max(n, 1));
}

static JsonbValue *
ja_next(JsonbValue *a)
{
	return &a->val.array.elems[a->val.array.nElems++];
}

static void
jv_str(JsonbValue *v, const char *str)
{
	if (str == NULL)
	{
		v->type = jbvNull;
		return;
	}
	v->type = jbvString;
	v->val.string.val = (char *) str;
	v->val.string.len = strlen(str);
}

/* val / 10^scale as a numeric, trailing zeros dropped down to min_scale */
static Numeric
scaled_numeric(int64 val, int scale, int min_scale)
{
	while (scale > min_scale && val % 10 == 0)
	{
		val /= 10;
		scale--;
	}
	return scale == 0 ? int64_to_numeric(val) : int64_div_fast_to_numeric(val, scale);
}

static void
jv_num(JsonbValue *v, int64 val, int scale, int min_scale)
{
	v->type = jbvNumeric;
	v->val.numeric = scaled_numeric(val, scale, min_scale);
}

/*
 * Small integers (ranks, line numbers, small ids) recur through every
 * answer: their numerics are made once per backend (a numeric does not
 * change).
 */
#define SMALL_INTS 4096
static Numeric *small_ints = NULL;

static void
jv_int(JsonbValue *v, int64 val)
{
	if (val < 0 || val >= SMALL_INTS)
	{
		jv_num(v, val, 0, 0);
		return;
	}
	if (small_ints == NULL)
		small_ints = MemoryContextAllocZero(TopMemoryContext, sizeof(Numeric) * SMALL_INTS);
	if (small_ints[val] == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		small_ints[val] = int64_to_numeric(val);
		MemoryContextSwitchTo(old);
	}
	v->type = jbvNumeric;
	v->val.numeric = small_ints[val];
}

static void
jv_money(JsonbValue *v, int64 cents)
{
	jv_num(v, cents, 2, 2);
}

/* a jsonb container (the cart) as a tree of JsonbValues */
static void
jv_container(JsonbValue *out, JsonbContainer *jc)
{
	JsonbIterator *it = JsonbIteratorInit(jc);
	JsonbValue	v;
	JsonbIteratorToken tok;

	tok = JsonbIteratorNext(&it, &v, true);
	if (tok == WJB_BEGIN_ARRAY)
	{
		ja_init(out, v.val.array.nElems);
		out->val.array.rawScalar = v.val.array.rawScalar;
		while ((tok = JsonbIteratorNext(&it, &v, true)) == WJB_ELEM)
		{
			JsonbValue *e = ja_next(out);

			if (v.type == jbvBinary)
				jv_container(e, v.val.binary.data);
			else
				*e = v;
		}
	}
	else
	{
		JsonbValue *o = jo_begin(v.val.object.nPairs);

		while ((tok = JsonbIteratorNext(&it, &v, true)) == WJB_KEY)
		{
			JsonbPair  *p = &o->val.object.pairs[o->val.object.nPairs];

			p->key = v;
			p->order = o->val.object.nPairs++;
			tok = JsonbIteratorNext(&it, &v, true);
			Assert(tok == WJB_VALUE);
			if (v.type == jbvBinary)
				jv_container(&p->value, v.val.binary.data);
			else
				p->value = v;
		}
		*out = *o;
	}
}

static const char *
action_name(char a)
{
	switch (a)
	{
		case DISC_PERCENT:
			return "percent";
		case DISC_FIXED:
			return "fixed";
		case DISC_CASHBACK:
			return "cashback";
		case DISC_MULTIPLIER:
			return "points_multiplier";
		default:
			return "points_share";
	}
}

static const char *
stacking_name(char st)
{
	return st == DISC_STACK ? "stack" : st == DISC_STOP ? "stop" : "exclusive";
}

static char *
line_reason(DiscCart *c, int ri, int i)
{
	switch (DISC_MARK(c, ri, i))
	{
		case DISC_MARK_STOPPED:
			return psprintf("held by stop rule \"%s\"",
							c->rules[c->lines[i].stopped_by - 1]->code);
		case DISC_MARK_NOTHING:
			return "nothing left to discount";
		default:
			return NULL;
	}
}

/*
 * A line; applied[] lists the discount rules that applied (n of them), in
 * evaluation order: only those can have discounted or skipped the line.
 */
static void
build_line(JsonbValue *out, DiscCart *c, int i, const int *applied, int n)
{
	DiscLine   *l = &c->lines[i];
	JsonbValue *o = jo_begin(11);
	JsonbValue *a;

	jv_money(jo_key(o, "net"), l->remaining);
	jv_money(jo_key(o, "cost"), l->cost);
	jv_int(jo_key(o, "line"), l->line_no);
	jv_money(jo_key(o, "gross"), l->gross);

	a = jo_key(o, "skipped");
	ja_init(a, n);
	for (int k = 0; k < n; k++)
	{
		int			ri = applied[k];
		DiscRule   *r = c->rules[ri];
		char	   *why;
		JsonbValue *e;

		why = line_reason(c, ri, i);
		if (why == NULL)
			continue;
		e = jo_begin(3);
		jv_str(jo_key(e, "code"), r->code);
		jv_str(jo_key(e, "reason"), why);
		jv_int(jo_key(e, "rule_id"), r->rule_id);
		jo_end(e);
		*ja_next(a) = *e;
	}

	jv_money(jo_key(o, "discount"), l->gross - l->remaining);
	jv_num(jo_key(o, "quantity"), l->qty_milli, 3, 0);

	a = jo_key(o, "discounts");
	ja_init(a, n);
	for (int k = 0; k < n; k++)
	{
		int			ri = applied[k];
		DiscRule   *r = c->rules[ri];
		JsonbValue *e;

		if (DISC_MARK(c, ri, i) != DISC_MARK_APPLIED)
			continue;
		e = jo_begin(3);
		jv_str(jo_key(e, "code"), r->code);
		jv_money(jo_key(e, "amount"), DISC_AMT(c, ri, i));
		jv_int(jo_key(e, "rule_id"), r->rule_id);
		jo_end(e);
		*ja_next(a) = *e;
	}

	jv_int(jo_key(o, "product_id"), l->product_id);
	jv_money(jo_key(o, "unit_price"), l->unit_price);
	jv_int(jo_key(o, "price_list_id"), l->price_list_id);
	jo_end(o);
	*out = *o;
}

/*
 * A rule that applied is described in full; a skipped rule by its id, code,
 * rank and the reason (its other fields are in crm.discount_rules), which
 * out_skipped writes.
 */
static void
build_rule(JsonbValue *out, DiscCart *c, int ri)
{
	DiscRule   *r = c->rules[ri];
	bool		discount = r->phase != DISC_PHASE_BONUS;
	JsonbValue *o;

	Assert(r->status == DISC_APPLIED);	/* out_skipped writes the others */
	o = jo_begin(13);
	if (discount)
		jv_str(jo_key(o, "base"), r->base_original ? "original" : "remaining");
	jv_str(jo_key(o, "code"), r->code);
	jv_int(jo_key(o, "rank"), r->rank);
	jv_str(jo_key(o, "level"), r->phase == DISC_PHASE_LINE ? "line" : "order");
	if (discount)
	{
		JsonbValue *a = jo_key(o, "lines");

		ja_init(a, c->nlines);
		for (int i = 0; i < c->nlines; i++)
			if (DISC_MARK(c, ri, i) == DISC_MARK_APPLIED)
				jv_int(ja_next(a), c->lines[i].line_no);
	}
	if (r->action == DISC_FIXED)
		jv_money(jo_key(o, "value"), r->value);
	else
		jv_num(jo_key(o, "value"), r->value, 4, 0);
	jv_str(jo_key(o, "action"), action_name(r->action));
	if (discount)
	{
		jv_money(jo_key(o, "amount"), r->amount);
		if (r->capped)
		{
			JsonbValue *b = jo_key(o, "capped");

			b->type = jbvBool;
			b->val.boolean = true;
		}
	}
	else
		jv_int(jo_key(o, "points"), r->points);
	jv_str(jo_key(o, "status"), "applied");
	jv_int(jo_key(o, "rule_id"), r->rule_id);
	if (discount)
		jv_str(jo_key(o, "stacking"), stacking_name(r->stacking));
	jo_end(o);
	*out = *o;
}

/*
 * The tree is written out in jsonb's binary form here rather than by
 * JsonbValueToJsonb, for two reasons: into one buffer of the answer's
 * size (an answer is some hundred kilobytes, which a buffer grown from 1 kB
 * for every call copies again and again), and so that the explanations of
 * the rules, most of an answer, are built one at a time as they are
 * written (an array whose elems is NULL is the rules' array); those of the
 * cached rules that cover no line of the cart are copied as written when
 * the cache was filled (precompute_no_line).
 * The layout is jsonb's own (utils/jsonb.h), written exactly as
 * convertToJsonb writes it: a container's header, its JEntrys (keys first,
 * then values, for an object), an offset instead of a length in every
 * JB_OFFSET_STRIDE'th, numerics and containers aligned to 4 bytes with the
 * padding counted in their length.
 */
static DiscCart *out_cart;

static int
out_pad(StringInfo b)
{
	int			padlen = INTALIGN(b->len) - b->len;

	if (padlen > 0)
	{
		enlargeStringInfo(b, padlen);
		memset(b->data + b->len, 0, padlen);
		b->len += padlen;
	}
	return padlen;
}

static int
out_reserve(StringInfo b, int len)
{
	int			offset = b->len;

	enlargeStringInfo(b, len);
	b->len += len;
	return offset;
}

static void out_value(StringInfo b, JEntry *header, JsonbValue *v, int level);

static void
out_scalar(StringInfo b, JEntry *header, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			*header = JENTRY_ISNULL;
			break;
		case jbvString:
			appendBinaryStringInfoNT(b, v->val.string.val, v->val.string.len);
			*header = v->val.string.len;
			break;
		case jbvNumeric:
			{
				int			numlen = VARSIZE_ANY(v->val.numeric);
				int			padlen = out_pad(b);

				appendBinaryStringInfoNT(b, (char *) v->val.numeric, numlen);
				*header = JENTRY_ISNUMERIC | (padlen + numlen);
				break;
			}
		case jbvBool:
			*header = v->val.boolean ? JENTRY_ISBOOL_TRUE : JENTRY_ISBOOL_FALSE;
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d in an answer", (int) v->type);
	}
}

/* one child written: its JEntry, with the running total as the offset every stride */
static void
out_entry(StringInfo b, int *jentry_offset, JEntry meta, int i, int *totallen)
{
	*totallen += JBE_OFFLENFLD(meta);
	if (*totallen > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb array elements exceeds the maximum of %d bytes",
						JENTRY_OFFLENMASK)));
	if ((i % JB_OFFSET_STRIDE) == 0)
		meta = (meta & JENTRY_TYPEMASK) | *totallen | JENTRY_HAS_OFF;
	memcpy(b->data + *jentry_offset, &meta, sizeof(JEntry));
	*jentry_offset += sizeof(JEntry);
}

static void
out_container_end(StringInfo b, JEntry *header, int base_offset)
{
	int			totallen = b->len - base_offset;

	if (totallen > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb array elements exceeds the maximum of %d bytes",
						JENTRY_OFFLENMASK)));
	*header = JENTRY_ISCONTAINER | totallen;
}

static void build_rule(JsonbValue *out, DiscCart *c, int ri);

static void
put_numeric(char *buf, int *len, Numeric n, uint32 *entry)
{
	int			numlen = VARSIZE_ANY(n);
	int			padlen = INTALIGN(*len) - *len;

	memset(buf + *len, 0, padlen);
	memcpy(buf + *len + padlen, n, numlen);
	*len += padlen + numlen;
	*entry = JENTRY_ISNUMERIC | (padlen + numlen);
}

/*
 * A skipped rule's explanation, {"code", "rank", "reason", "status":
 * "skipped", "rule_id"}, written in one piece: what build_rule and
 * out_object would write for it (five pairs, fewer than a stride: lengths
 * only, the first of the ten JEntrys an offset).
 */
static void
out_skipped(StringInfo b, JEntry *header, DiscRule *r)
{
	static const char keys[] = "coderankreasonstatusrule_id";
	static const int keylen[5] = {4, 4, 6, 6, 7};
	const char *reason = r->reason ? r->reason : "not evaluated";
	int			codelen = r->codelen;
	int			reasonlen = strlen(reason);
	JsonbValue	rank;
	JsonbValue	id;
	int			base_offset;
	int			start;
	int			len;
	uint32		entries[10];
	uint32		head = 5 | JB_FOBJECT;
	int			total = 0;
	char	   *p;

	base_offset = b->len;
	out_pad(b);
	start = b->len;
	if (r->no_line_out != NULL && r->reason == r->no_line_reason)
	{
		/* written when the cache was filled */
		enlargeStringInfo(b, r->no_line_outlen);
		memcpy(b->data + start, r->no_line_out, r->no_line_outlen);
		b->len = start + r->no_line_outlen;
		b->data[b->len] = '\0';
		*header = JENTRY_ISCONTAINER | (b->len - base_offset);
		return;
	}
	jv_int(&rank, r->rank);
	jv_int(&id, r->rule_id);
	/* the most it takes: header, entries, keys, values with two paddings */
	enlargeStringInfo(b, 4 + 40 + 27 + codelen + reasonlen + 7 + 6 +
					  VARSIZE_ANY(rank.val.numeric) + VARSIZE_ANY(id.val.numeric));
	p = b->data + start;
	memcpy(p, &head, 4);
	len = 4 + 40;
	memcpy(p + len, keys, 27);
	len += 27;
	for (int k = 0; k < 5; k++)
		entries[k] = keylen[k];
	memcpy(p + len, r->code, codelen);
	len += codelen;
	entries[5] = codelen;
	/* numerics are aligned as in the whole answer: p is at an aligned offset */
	put_numeric(p, &len, rank.val.numeric, &entries[6]);
	memcpy(p + len, reason, reasonlen);
	len += reasonlen;
	entries[7] = reasonlen;
	memcpy(p + len, "skipped", 7);
	len += 7;
	entries[8] = 7;
	put_numeric(p, &len, id.val.numeric, &entries[9]);
	for (int k = 0; k < 10; k++)
	{
		total += JBE_OFFLENFLD(entries[k]);
		if (k == 0)
			entries[k] = (entries[k] & JENTRY_TYPEMASK) | total | JENTRY_HAS_OFF;
	}
	memcpy(p + 4, entries, 40);
	b->len = start + len;
	b->data[b->len] = '\0';
	*header = JENTRY_ISCONTAINER | (b->len - base_offset);
}

static void
out_array(StringInfo b, JEntry *header, JsonbValue *v, int level)
{
	int			base_offset = b->len;
	int			n = v->val.array.nElems;
	uint32		head = n | JB_FARRAY;
	int			jentry_offset;
	int			totallen = 0;

	out_pad(b);
	if (v->val.array.rawScalar)
		head |= JB_FSCALAR;
	appendBinaryStringInfoNT(b, (char *) &head, sizeof(uint32));
	jentry_offset = out_reserve(b, sizeof(JEntry) * n);
	for (int i = 0; i < n; i++)
	{
		JEntry		meta;

		if (v->val.array.elems == NULL && out_cart->rules[i]->status != DISC_APPLIED)
			out_skipped(b, &meta, out_cart->rules[i]);
		else if (v->val.array.elems == NULL)
		{
			/* the rules: each explanation built as it is written */
			JsonbValue	rule;

			build_rule(&rule, out_cart, i);
			out_value(b, &meta, &rule, level + 1);
		}
		else
			out_value(b, &meta, &v->val.array.elems[i], level + 1);
		out_entry(b, &jentry_offset, meta, i, &totallen);
	}
	out_container_end(b, header, base_offset);
}

static void
out_object(StringInfo b, JEntry *header, JsonbValue *v, int level)
{
	int			base_offset = b->len;
	int			n = v->val.object.nPairs;
	uint32		head = n | JB_FOBJECT;
	int			jentry_offset;
	int			totallen = 0;

	out_pad(b);
	appendBinaryStringInfoNT(b, (char *) &head, sizeof(uint32));
	jentry_offset = out_reserve(b, sizeof(JEntry) * n * 2);
	for (int i = 0; i < n; i++)
	{
		JEntry		meta;

		out_scalar(b, &meta, &v->val.object.pairs[i].key);
		out_entry(b, &jentry_offset, meta, i, &totallen);
	}
	for (int i = 0; i < n; i++)
	{
		JEntry		meta;

		out_value(b, &meta, &v->val.object.pairs[i].value, level + 1);
		out_entry(b, &jentry_offset, meta, i + n, &totallen);
	}
	out_container_end(b, header, base_offset);
}

static void
out_value(StringInfo b, JEntry *header, JsonbValue *v, int level)
{
	check_stack_depth();
	if (v->type == jbvArray)
		out_array(b, header, v, level);
	else if (v->type == jbvObject)
		out_object(b, header, v, level);
	else
		out_scalar(b, header, v);
}

/*
 * The tree as a jsonb, written straight into memory of cxt: a buffer of the
 * size of the last answer (and a little more), so that an answer of some
 * hundred kilobytes is neither grown by doubling nor copied once written.
 */
static int	last_answer_len = 0;

static Jsonb *
out_jsonb(JsonbValue *root, DiscCart *c, MemoryContext cxt)
{
	JEntry		header;
	Jsonb	   *res;
	StringInfoData b;
	int			size = Min(Max(last_answer_len + last_answer_len / 16, 1024),
						   16 * 1024 * 1024);

	b.data = MemoryContextAlloc(cxt, size);
	b.maxlen = size;
	b.len = 0;
	b.cursor = 0;
	b.data[0] = '\0';
	out_cart = c;
	out_reserve(&b, VARHDRSZ);
	out_value(&b, &header, root, 0);
	res = (Jsonb *) b.data;
	SET_VARSIZE(res, b.len);
	last_answer_len = b.len;
	return res;
}

/*
 * The explanation of each cached rule skipped because it covers no line of
 * the cart, written once when the cache is filled: out_skipped copies it.
 * (It is the same wherever it goes in an answer: an object starts at an
 * aligned offset, and its numerics' padding depends only on what precedes
 * them in it.)
 */
static void
precompute_no_line(DiscCache *cache)
{
	StringInfoData b;

	initStringInfo(&b);
	for (int i = 0; i < cache->nrules; i++)
	{
		DiscRule   *r = &cache->rules[i];
		JEntry		header;

		if (r->no_line_reason == NULL)
			continue;
		resetStringInfo(&b);
		r->reason = r->no_line_reason;
		r->no_line_out = NULL;
		out_skipped(&b, &header, r);
		r->reason = NULL;
		Assert(b.len == (int) JBE_OFFLENFLD(header));
		r->no_line_out = MemoryContextAlloc(cache->cxt, b.len);
		memcpy(r->no_line_out, b.data, b.len);
		r->no_line_outlen = b.len;
	}
	pfree(b.data);
}

static Jsonb *
build_result(DiscCart *c, MemoryContext caller)
{
	JsonbValue *o = jo_begin(13);
	JsonbValue *a;
	JsonbValue *t;
	int		   *applied;
	int			napplied = 0;

	jv_str(jo_key(o, "at"), at_text(c->at));
	jv_container(jo_key(o, "cart"), &c->cart->root);

	applied = palloc(sizeof(int) * Max(c->nrules, 1));
	for (int ri = 0; ri < c->nrules; ri++)
		if (c->rules[ri]->status == DISC_APPLIED && c->rules[ri]->phase != DISC_PHASE_BONUS)
			applied[napplied++] = ri;
	a = jo_key(o, "lines");
	ja_init(a, c->nlines);
	for (int i = 0; i < c->nlines; i++)
		build_line(ja_next(a), c, i, applied, napplied);

	/* the rules' explanations are built as they are written (out_array) */
	a = jo_key(o, "rules");
	a->type = jbvArray;
	a->val.array.nElems = c->nrules;
	a->val.array.rawScalar = false;
	a->val.array.elems = NULL;

	a = jo_key(o, "tiers");
	if (c->tiers_known)
	{
		ja_init(a, c->ntiers);
		for (int k = 0; k < c->ntiers; k++)
			jv_str(ja_next(a), c->tiers[k]);
	}
	else
		a->type = jbvNull;

	t = jo_begin(8);
	jv_money(jo_key(t, "net"), c->net);
	jv_money(jo_key(t, "gross"), c->gross);
	jv_money(jo_key(t, "discount"), c->discount);
	jv_int(jo_key(t, "points_paid"), c->points_paid);
	jv_int(jo_key(t, "points_earned"), c->points_earned);
	jv_int(jo_key(t, "points_earned_program"), c->program_earned);
	jv_int(jo_key(t, "points_earned_rules"), c->rules_earned);
	jv_int(jo_key(t, "max_points_payable"), c->max_points);
	jo_end(t);
	*jo_key(o, "totals") = *t;

	jv_str(jo_key(o, "program"), c->has_program ? c->program : NULL);
	jv_str(jo_key(o, "segment"), c->segment);
	jv_str(jo_key(o, "segment_from"), c->segment == NULL ? NULL :
		   c->segment_stored ? "stored" : "cart");
	jv_str(jo_key(o, "segment_since"), c->segment_stored ? at_text(c->segment_since) : NULL);
	jv_str(jo_key(o, "currency"), c->currency);
	jv_int(jo_key(o, "client_id"), c->client_id);
	jv_money(jo_key(o, "turnover_before"), c->turnover);
	jo_end(o);
	return out_jsonb(o, c, caller);
}

static Jsonb *price_cart(FunctionCallInfo fcinfo, MemoryContext caller);

Datum
discount_price_cart(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	Jsonb	   *volatile result = NULL;

	/* not STRICT: a NULL argument is an error naming it */
	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be NULL",
							i == 0 ? "client_id" : i == 1 ? "cart" : "at")));
	fastpath_refuse_in_citus_task("crm.price_cart");
	/* every rule window and price list validity is looked up at this moment */
	if (TIMESTAMP_NOT_FINITE(PG_GETARG_TIMESTAMPTZ(2)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the moment to price at must be finite: %s",
						timestamptz_to_str(PG_GETARG_TIMESTAMPTZ(2)))));

	if (in_call)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("crm.price_cart cannot be called while it prices a cart")));
	if (keep_cxt == NULL)
		keep_cxt = AllocSetContextCreate(TopMemoryContext, "crm price_cart",
										 1024 * 1024, 1024 * 1024, ALLOCSET_DEFAULT_MAXSIZE);
	in_call = true;
	PG_TRY();
	{
		result = price_cart(fcinfo, caller);
	}
	PG_FINALLY();
	{
		in_call = false;
		memo_on = false;
		rows = NULL;
		MemoryContextSwitchTo(caller);
		MemoryContextReset(keep_cxt);
		work_cxt = NULL;
	}
	PG_END_TRY();
	PG_RETURN_JSONB_P(result);
}

/* the body of crm.price_cart, in work_cxt */
static Jsonb *
price_cart(FunctionCallInfo fcinfo, MemoryContext caller)
{
	DiscCart	c;
	Jsonb	   *result;
	bool		need_tier = false;
	FastPath	fp;
	DiscCache  *cache;
	int64		version = 0;
	TransactionId xmin = InvalidTransactionId;

	work_cxt = keep_cxt;
	MemoryContextSwitchTo(work_cxt);

	memset(&c, 0, sizeof(c));
	c.client_id = PG_GETARG_INT64(0);
	c.at = PG_GETARG_TIMESTAMPTZ(2);
	c.share_rule = -1;
	c.multiplier_rule = -1;
	discount_parse_cart(&c, PG_GETARG_JSONB_P(1));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(work_cxt);
	fastpath_init(&fp, "crm.price_cart");
	cache = discount_cache_usable(&fp, &version, &xmin);
	if (cache && !(cache->valid && cache->version == version && cache->xmin == xmin))
		fill_cache(cache, version, xmin);
	memo_on = cache != NULL && discount_memo_usable();
	load_client(&c);
	load_lines(&c, cache);
	turnover_in_cart_currency(&c);
	if (cache)
		load_rules_cached(&c, cache);
	else
		load_rules(&c);
	load_usage(&c);
	load_program(&c);
	for (int i = 0; i < c.nrules; i++)
		if (c.rule_store[i].tier)
			need_tier = true;
	if (!c.tier_given && need_tier)
		load_tiers(&c);
	if ((int128) c.nrules * c.nlines > MaxAllocSize / sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many rules (%d) for a cart of %d lines", c.nrules, c.nlines)));
	rank_lines(&c);
	c.held_reason = scratch(SCRATCH_HELD, sizeof(char *) * Max(c.nrules, 1), true);
	c.amt = scratch(SCRATCH_AMT, sizeof(int64) * Max(1, (size_t) c.nrules * c.nlines), true);
	c.mark = scratch(SCRATCH_MARK, sizeof(uint8) * Max(1, (size_t) c.nrules * c.nlines), true);
	discount_evaluate(&c);

	result = build_result(&c, caller);

	SPI_finish();
	return result;
}
