/*-------------------------------------------------------------------------
 *
 * src/discount.c
 *
 * crm.price_cart(client_id bigint, cart jsonb, at timestamptz): the SQL
 * entry point of discount evaluation.  One call reads, with three prepared
 * SPI queries, the cart's products, prices and category paths; the
 * client's turnover to date; and every active rule that concerns the
 * client with its per-client use count (plus, when a rule needs a tier
 * the cart does not give, the client's tiers from crm.loyalty_accounts if
 * that table exists).  The rules become an array of DiscRule, evaluated in
 * C by discount_eval.c; the answer is a jsonb that explains every rule
 * considered.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "discount.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(discount_price_cart);

/* the largest amount numeric(14,2) holds, in cents */
#define DISC_MAX_AMOUNT		INT64CONST(99999999999999)

static SPIPlanPtr plan_lines = NULL;
static SPIPlanPtr plan_client = NULL;
static SPIPlanPtr plan_rules = NULL;

static const char *sql_lines =
"SELECT l.ord::int4, p.product_id IS NOT NULL, (p.unit_cost * 100)::int8,"
"       pl.price_list_id IS NOT NULL, pl.valid @> $3, pl.currency,"
"       (pr.price * 100)::int8,"
"       (WITH RECURSIVE up(id, depth) AS ("
"            SELECT p.category_id, 0"
"            UNION ALL"
"            SELECT k.parent_id, up.depth + 1"
"              FROM crm.categories k JOIN up ON k.category_id = up.id"
"             WHERE k.parent_id IS NOT NULL AND up.depth < 1000)"
"        SELECT pg_catalog.array_agg(up.id) FROM up WHERE up.id IS NOT NULL)"
"  FROM ROWS FROM (pg_catalog.unnest($1::int8[]), pg_catalog.unnest($2::int4[]))"
"       WITH ORDINALITY AS l(product_id, price_list_id, ord)"
"  LEFT JOIN crm.products p ON p.product_id = l.product_id"
"  LEFT JOIN crm.price_lists pl ON pl.price_list_id = l.price_list_id"
"  LEFT JOIN crm.prices pr ON pr.price_list_id = l.price_list_id AND pr.product_id = l.product_id"
" ORDER BY l.ord";

static const char *sql_client =
"SELECT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = $1),"
"       ((SELECT coalesce(sum(o.net_amount), 0) FROM crm.orders o"
"          WHERE o.client_id = $1 AND o.status IN ('placed', 'paid')"
"            AND o.ordered_at < $2) * 100)::int8,"
"       pg_catalog.to_regclass('crm.loyalty_accounts') IS NOT NULL";

static const char *sql_rules =
"SELECT r.rule_id, r.code, r.rank, r.level = 'order', r.action,"
"       (CASE WHEN r.action = 'fixed' THEN r.value * 100 ELSE r.value * 10000 END)::int8,"
"       (r.cap * 100)::int8, r.stacking, r.base = 'original', r.client_id IS NOT NULL,"
"       r.price_list_id, r.category_id,"
"       CASE WHEN r.valid @> $2 THEN 0"
"            WHEN r.valid >> pg_catalog.tstzrange($2, $2, '[]') THEN -1 ELSE 1 END,"
"       (r.min_order_amount * 100)::int8, (r.min_turnover * 100)::int8,"
"       (r.crossing_threshold * 100)::int8, r.segment, r.tier, r.uses_per_client,"
"       coalesce(u.uses, 0)::int8, (r.point_value * 10000)::int8"
"  FROM crm.discount_rules r"
"  LEFT JOIN crm.discount_usage u ON u.client_id = $1 AND u.rule_id = r.rule_id"
" WHERE r.active AND (r.client_id IS NULL OR r.client_id = $1)";

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

static Datum
col(int row, int colno, bool *isnull)
{
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

static int32
col_int32(int row, int colno, int32 if_null)
{
	bool		isnull;
	Datum		d = col(row, colno, &isnull);

	return isnull ? if_null : DatumGetInt32(d);
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

/* products, prices, price lists and category paths of the cart's lines */
static void
load_lines(DiscCart *c)
{
	Oid			types[3] = {INT8ARRAYOID, INT4ARRAYOID, TIMESTAMPTZOID};
	Datum	   *pids = palloc(sizeof(Datum) * c->nlines);
	Datum	   *lids = palloc(sizeof(Datum) * c->nlines);
	Datum		args[3];
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
	rc = SPI_execute_plan(prepare(&plan_lines, sql_lines, 3, types), args, NULL,
						  true, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != (uint64) c->nlines)
		elog(ERROR, "reading the cart's products failed");

	for (int i = 0; i < c->nlines; i++)
	{
		DiscLine   *l = &c->lines[i];
		bool		isnull;
		Datum		d;
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
		g = discount_round_div((int128) l->qty_milli * l->unit_cost, 1000);
		l->cost = g > DISC_MAX_AMOUNT ? DISC_MAX_AMOUNT : (int64) g;

		d = col(i, 8, &isnull);
		if (!isnull)
		{
			ArrayType  *a = DatumGetArrayTypeP(d);
			Datum	   *elems;
			int			ne;

			deconstruct_array(a, INT4OID, 4, true, TYPALIGN_INT, &elems, NULL, &ne);
			l->categories = palloc(sizeof(int32) * Max(ne, 1));
			for (int k = 0; k < ne; k++)
				l->categories[k] = DatumGetInt32(elems[k]);
			l->ncategories = ne;
		}
	}
}

static void
load_client(DiscCart *c, bool *loyalty)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		args[2] = {Int64GetDatum(c->client_id), TimestampTzGetDatum(c->at)};
	int			rc;

	rc = SPI_execute_plan(prepare(&plan_client, sql_client, 2, types), args, NULL,
						  true, 0);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "reading the client failed");
	if (!col_bool(0, 1))
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("client " INT64_FORMAT " does not exist", c->client_id)));
	c->turnover = col_int64(0, 2, 0);
	*loyalty = col_bool(0, 3);
}

static void
load_rules(DiscCart *c)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		args[2] = {Int64GetDatum(c->client_id), TimestampTzGetDatum(c->at)};
	int			rc;

	rc = SPI_execute_plan(prepare(&plan_rules, sql_rules, 2, types), args, NULL,
						  true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the discount rules failed");
	c->nrules = (int) SPI_processed;
	c->rules = palloc0(sizeof(DiscRule) * Max(c->nrules, 1));
	for (int i = 0; i < c->nrules; i++)
	{
		DiscRule   *r = &c->rules[i];
		char	   *action = col_text(i, 5);
		char	   *stacking = col_text(i, 8);

		r->rule_id = col_int64(i, 1, 0);
		r->code = col_text(i, 2);
		r->rank = col_int32(i, 3, 0);
		r->action = strcmp(action, "percent") == 0 ? DISC_PERCENT :
			strcmp(action, "fixed") == 0 ? DISC_FIXED :
			strcmp(action, "cashback") == 0 ? DISC_CASHBACK :
			strcmp(action, "points_multiplier") == 0 ? DISC_MULTIPLIER : DISC_SHARE;
		if (r->action == DISC_CASHBACK || r->action == DISC_MULTIPLIER ||
			r->action == DISC_SHARE)
			r->phase = DISC_PHASE_BONUS;
		else
			r->phase = col_bool(i, 4) ? DISC_PHASE_ORDER : DISC_PHASE_LINE;
		r->value = col_int64(i, 6, 0);
		r->cap = col_int64(i, 7, -1);
		r->stacking = stacking[2] == 'a' ? DISC_STACK :
			stacking[2] == 'o' ? DISC_STOP : DISC_EXCLUSIVE;
		r->base_original = col_bool(i, 9);
		r->per_client = col_bool(i, 10);
		r->price_list_id = col_int32(i, 11, -1);
		r->has_price_list = r->price_list_id >= 0;
		r->category_id = col_int32(i, 12, -1);
		r->has_category = r->category_id >= 0;
		r->window = col_int32(i, 13, 0);
		r->min_order = col_int64(i, 14, -1);
		r->min_turnover = col_int64(i, 15, -1);
		r->crossing = col_int64(i, 16, -1);
		r->segment = col_text(i, 17);
		r->tier = col_text(i, 18);
		r->uses_limit = col_int32(i, 19, -1);
		r->uses = col_int64(i, 20, 0);
		r->point_value = col_int64(i, 21, 100);
	}
}

/* the client's tiers, where the loyalty tables exist */
static void
load_tiers(DiscCart *c)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(c->client_id)};
	int			rc;

	rc = SPI_execute_with_args("SELECT DISTINCT a.tier_code::text FROM crm.loyalty_accounts a"
							   " WHERE a.client_id = $1 AND a.tier_code IS NOT NULL ORDER BY 1",
							   1, types, args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading the client's tiers failed");
	c->ntiers = (int) SPI_processed;
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

/* output */

static void
put_money(StringInfo s, int64 cents)
{
	appendStringInfoString(s, discount_money(cents));
}

static void
put_qty(StringInfo s, int64 milli)
{
	appendStringInfo(s, INT64_FORMAT, milli / 1000);
	if (milli % 1000)
	{
		char		frac[8];
		int			n;

		snprintf(frac, sizeof(frac), ".%03d", (int) (milli % 1000));
		n = strlen(frac);
		while (frac[n - 1] == '0')
			frac[--n] = '\0';
		appendStringInfoString(s, frac);
	}
}

static void
put_value(StringInfo s, DiscRule *r)
{
	if (r->action == DISC_FIXED)
		put_money(s, r->value);
	else
	{
		char	   *v = psprintf(INT64_FORMAT ".%04d", r->value / 10000,
								 (int) (r->value % 10000));
		int			n = strlen(v);

		while (v[n - 1] == '0')
			v[--n] = '\0';
		if (v[n - 1] == '.')
			v[--n] = '\0';
		appendStringInfoString(s, v);
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
							c->rules[c->lines[i].stopped_by - 1].code);
		case DISC_MARK_NOTHING:
			return "nothing left to discount";
		default:
			return NULL;
	}
}

static char *
build_result(DiscCart *c)
{
	StringInfoData s;
	bool		first;

	initStringInfo(&s);
	appendStringInfo(&s, "{\"client_id\": " INT64_FORMAT ", \"at\": ", c->client_id);
	escape_json(&s, at_text(c->at));
	appendStringInfoString(&s, ", \"cart\": ");
	appendStringInfoString(&s, JsonbToCString(NULL, &c->cart->root, VARSIZE(c->cart)));
	appendStringInfoString(&s, ", \"currency\": ");
	escape_json(&s, c->currency);
	appendStringInfo(&s, ", \"turnover_before\": %s", discount_money(c->turnover));
	appendStringInfoString(&s, ", \"segment\": ");
	if (c->segment)
		escape_json(&s, c->segment);
	else
		appendStringInfoString(&s, "null");
	appendStringInfoString(&s, ", \"tiers\": ");
	if (c->tiers_known)
	{
		appendStringInfoChar(&s, '[');
		for (int k = 0; k < c->ntiers; k++)
		{
			if (k)
				appendStringInfoString(&s, ", ");
			escape_json(&s, c->tiers[k]);
		}
		appendStringInfoChar(&s, ']');
	}
	else
		appendStringInfoString(&s, "null");

	/* lines */
	appendStringInfoString(&s, ", \"lines\": [");
	for (int i = 0; i < c->nlines; i++)
	{
		DiscLine   *l = &c->lines[i];

		appendStringInfo(&s, "%s{\"line\": %d, \"product_id\": " INT64_FORMAT
						 ", \"price_list_id\": %d, \"quantity\": ",
						 i ? ", " : "", l->line_no, l->product_id, l->price_list_id);
		put_qty(&s, l->qty_milli);
		appendStringInfoString(&s, ", \"unit_price\": ");
		put_money(&s, l->unit_price);
		appendStringInfoString(&s, ", \"gross\": ");
		put_money(&s, l->gross);
		appendStringInfoString(&s, ", \"discount\": ");
		put_money(&s, l->gross - l->remaining);
		appendStringInfoString(&s, ", \"net\": ");
		put_money(&s, l->remaining);
		appendStringInfoString(&s, ", \"cost\": ");
		put_money(&s, l->cost);
		appendStringInfoString(&s, ", \"discounts\": [");
		first = true;
		for (int ri = 0; ri < c->nrules; ri++)
		{
			DiscRule   *r = &c->rules[ri];

			if (r->status != DISC_APPLIED || r->phase == DISC_PHASE_BONUS ||
				DISC_MARK(c, ri, i) != DISC_MARK_APPLIED)
				continue;
			appendStringInfo(&s, "%s{\"rule_id\": " INT64_FORMAT ", \"code\": ",
							 first ? "" : ", ", r->rule_id);
			escape_json(&s, r->code);
			appendStringInfoString(&s, ", \"amount\": ");
			put_money(&s, DISC_AMT(c, ri, i));
			appendStringInfoChar(&s, '}');
			first = false;
		}
		appendStringInfoString(&s, "], \"skipped\": [");
		first = true;
		for (int ri = 0; ri < c->nrules; ri++)
		{
			DiscRule   *r = &c->rules[ri];
			char	   *why;

			if (r->status != DISC_APPLIED || r->phase == DISC_PHASE_BONUS)
				continue;
			why = line_reason(c, ri, i);
			if (why == NULL)
				continue;
			appendStringInfo(&s, "%s{\"rule_id\": " INT64_FORMAT ", \"code\": ",
							 first ? "" : ", ", r->rule_id);
			escape_json(&s, r->code);
			appendStringInfoString(&s, ", \"reason\": ");
			escape_json(&s, why);
			appendStringInfoChar(&s, '}');
			first = false;
		}
		appendStringInfoString(&s, "]}");
	}
	appendStringInfoChar(&s, ']');

	/* rules, in evaluation order */
	appendStringInfoString(&s, ", \"rules\": [");
	for (int ri = 0; ri < c->nrules; ri++)
	{
		DiscRule   *r = &c->rules[ri];

		appendStringInfo(&s, "%s{\"rule_id\": " INT64_FORMAT ", \"code\": ",
						 ri ? ", " : "", r->rule_id);
		escape_json(&s, r->code);
		appendStringInfo(&s, ", \"rank\": %d, \"level\": \"%s\", \"action\": \"%s\", \"value\": ",
						 r->rank,
						 r->phase == DISC_PHASE_LINE ? "line" : "order",
						 action_name(r->action));
		put_value(&s, r);
		if (r->phase != DISC_PHASE_BONUS)
			appendStringInfo(&s, ", \"stacking\": \"%s\", \"base\": \"%s\"",
							 stacking_name(r->stacking),
							 r->base_original ? "original" : "remaining");
		if (r->status == DISC_APPLIED)
		{
			appendStringInfoString(&s, ", \"status\": \"applied\"");
			if (r->phase == DISC_PHASE_BONUS)
				appendStringInfo(&s, ", \"points\": " INT64_FORMAT, r->points);
			else
			{
				appendStringInfoString(&s, ", \"amount\": ");
				put_money(&s, r->amount);
				if (r->capped)
					appendStringInfoString(&s, ", \"capped\": true");
				appendStringInfoString(&s, ", \"lines\": [");
				first = true;
				for (int i = 0; i < c->nlines; i++)
				{
					if (DISC_MARK(c, ri, i) != DISC_MARK_APPLIED)
						continue;
					appendStringInfo(&s, "%s%d", first ? "" : ", ", c->lines[i].line_no);
					first = false;
				}
				appendStringInfoChar(&s, ']');
			}
		}
		else
		{
			appendStringInfoString(&s, ", \"status\": \"skipped\", \"reason\": ");
			escape_json(&s, r->reason ? r->reason : "not evaluated");
		}
		appendStringInfoChar(&s, '}');
	}
	appendStringInfoChar(&s, ']');

	appendStringInfoString(&s, ", \"totals\": {\"gross\": ");
	put_money(&s, c->gross);
	appendStringInfoString(&s, ", \"discount\": ");
	put_money(&s, c->discount);
	appendStringInfoString(&s, ", \"net\": ");
	put_money(&s, c->net);
	appendStringInfo(&s, ", \"points_earned\": " INT64_FORMAT
					 ", \"max_points_payable\": " INT64_FORMAT
					 ", \"points_paid\": " INT64_FORMAT "}}",
					 c->points_earned, c->max_points, c->points_paid);

	return s.data;
}

Datum
discount_price_cart(PG_FUNCTION_ARGS)
{
	DiscCart	c;
	MemoryContext caller = CurrentMemoryContext;
	Jsonb	   *result;
	bool		loyalty;
	bool		need_tier = false;

	memset(&c, 0, sizeof(c));
	c.client_id = PG_GETARG_INT64(0);
	c.at = PG_GETARG_TIMESTAMPTZ(2);
	c.share_rule = -1;
	c.multiplier_rule = -1;
	discount_parse_cart(&c, PG_GETARG_JSONB_P(1));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	load_client(&c, &loyalty);
	load_lines(&c);
	load_rules(&c);
	for (int i = 0; i < c.nrules; i++)
		if (c.rules[i].tier)
			need_tier = true;
	if (!c.tier_given && need_tier && loyalty)
		load_tiers(&c);
	if ((int128) c.nrules * c.nlines > MaxAllocSize / sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many rules (%d) for a cart of %d lines", c.nrules, c.nlines)));
	rank_lines(&c);
	discount_evaluate(&c);

	{
		char	   *text = build_result(&c);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	PG_RETURN_JSONB_P(result);
}
