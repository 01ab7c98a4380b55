/*-------------------------------------------------------------------------
 *
 * src/churn_signals.c
 *
 * crm.churn_signals(as_of, options) in C: one pass over crm.orders into a
 * per-client table (the purchase profile with offers, and the purchases and
 * spend of the recent and the previous window), one pass over
 * crm.interactions (the last engagement, the offers sent since the last
 * purchase, and which of the profile's latest purchases came soon after an
 * offer), the population's rhythm, then crm.churn_signal's computation for
 * every client.
 *
 * The rows are those of crm.churn_signals_sql, its definition in SQL: the
 * profile is accumulated by the aggregate's own routine (profile_state_add)
 * and read by its own final step, and every signal is computed by the code
 * of crm.churn_signal (churn_compute).  The population's rhythm, the
 * geometric mean of the clients' recent gaps, sums its logarithms as
 * numeric, exactly, so that the order of the clients (which differs
 * between plans) does not change its last bits: the rows are the same bit
 * for bit.
 *
 * As crm.rfm_scores does, the C passes run only where they read what a
 * query reads, and for a usual call (src/fastpath.c); otherwise the call
 * runs crm.churn_signals_sql.  Both return crm.churn_signals_row.  On a
 * Citus cluster the per-client table is filled from the twin's own
 * per-client queries, which Citus runs on the shards (the shards path,
 * gather_clients), and the rest is the same.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <float.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "executor/spi.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "churn.h"
#include "profile.h"
#include "fastpath.h"
#include "profiles.h"
#include "scan.h"

/* purchases and spend in one window */
typedef ProfileWindow WindowSum;

/* one client */
typedef struct ChurnClient
{
	ProfileState profile;		/* with offers */
	WindowSum	recent;			/* ordered_at in (recent_from, as_of] */
	WindowSum	previous;		/* ordered_at in (previous_from, recent_from] */
	int64		client_id;
	int64		offers;			/* campaign messages after the last purchase */
	TimestampTz engagement;		/* last inbound contact other than a sale */
	bool		engaged;
	uint16		after_offer;	/* bit i: the profile's win[i] came soon after an offer */
} ChurnClient;

/* client_id -> index of the client */
typedef struct ChurnSlot
{
	int64		key;
	uint32		idx;
	char		status;
} ChurnSlot;

#define SH_PREFIX churnmap
#define SH_ELEMENT_TYPE ChurnSlot
#define SH_KEY_TYPE int64
#define SH_KEY key
#define SH_HASH_KEY(tb, key) scan_client_hash(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* clients in chunks, so that the table grows without moving them */
#define CHUNK_BITS	14
#define CHUNK_SIZE	(1 << CHUNK_BITS)

typedef struct ChurnClients
{
	churnmap_hash *map;
	ChurnClient **chunks;
	int64		nchunks_max;
	int64		n;
	bool		over;			/* beyond crm.pass_memory_limit */
} ChurnClients;

static inline ChurnClient *
client_at(const ChurnClients *cs, int64 i)
{
	return &cs->chunks[i >> CHUNK_BITS][i & (CHUNK_SIZE - 1)];
}

/* the columns of crm.interactions read */
enum
{
	IC_CLIENT, IC_OCCURRED_AT, IC_DIRECTION, IC_KIND, IC_CAMPAIGN, IC_N
};

static const FastPathColumn interactions_columns[IC_N] = {
	{"client_id", INT8OID, true},
	{"occurred_at", TIMESTAMPTZOID, true},
	{"direction", TEXTOID, true},
	{"kind", TEXTOID, true},
	{"campaign", TEXTOID, false}
};

/*
 * The columns of crm.churn_signals, the row shape it shares with
 * crm.churn_signals_sql.
 */
enum
{
	OC_CLIENT, OC_PURCHASES, OC_FIRST, OC_LAST, OC_MONETARY, OC_AGE, OC_SILENCE,
	OC_OWN_GAP, OC_EXPECTED_GAP, OC_GAP_CV, OC_OVERDUE, OC_P_GAP, OC_RECENT_N,
	OC_PREVIOUS_N, OC_PURCHASE_TREND, OC_RECENT_SPEND, OC_PREVIOUS_SPEND,
	OC_SPEND_TREND, OC_ENGAGEMENT, OC_ENGAGEMENT_SILENCE, OC_OFFERS, OC_OFFER_SHARE,
	OC_SEASON_SHARE, OC_POPULATION_GAP, OC_STATUS, OC_CLASS, OC_AFTER_OFFER,
	OC_CONFIDENCE, OC_RUNNER_UP, OUT_NATTS
};

static const FastPathColumn result_columns[OUT_NATTS] = {
	{"client_id", INT8OID}, {"purchases", INT8OID},
	{"first_purchase", TIMESTAMPTZOID}, {"last_purchase", TIMESTAMPTZOID},
	{"monetary", NUMERICOID}, {"age_days", FLOAT8OID}, {"silence_days", FLOAT8OID},
	{"own_gap_days", FLOAT8OID}, {"expected_gap_days", FLOAT8OID},
	{"gap_cv", FLOAT8OID}, {"overdue_ratio", FLOAT8OID}, {"p_gap", FLOAT8OID},
	{"recent_purchases", INT8OID}, {"previous_purchases", INT8OID},
	{"purchase_trend", FLOAT8OID}, {"recent_spend", NUMERICOID},
	{"previous_spend", NUMERICOID}, {"spend_trend", FLOAT8OID},
	{"last_engagement", TIMESTAMPTZOID}, {"engagement_silence_days", FLOAT8OID},
	{"offers_since_last_purchase", INT8OID}, {"offer_share", FLOAT8OID},
	{"season_share", FLOAT8OID}, {"population_gap_days", FLOAT8OID},
	{"status", TEXTOID}, {"behaviour_class", TEXTOID},
	{"purchases_after_offer", INT8OID}, {"class_confidence", FLOAT8OID},
	{"runner_up_class", TEXTOID}
};

PG_FUNCTION_INFO_V1(churn_signals);

/* a row read ahead: a purchase, or an interaction (client and time) */
typedef struct ChurnRow
{
	ScanPurchase p;
	uint32		hash;
	bool		engagement;		/* an interaction: an engagement, not an offer */
	int64		idx;			/* the client's index, -1: none */
} ChurnRow;

/* A new client at the end of the table, zeroed; its index. */
static int64
new_client(ChurnClients *cs, int64 client_id)
{
	ChurnClient *c;

	if ((cs->n >> CHUNK_BITS) >= cs->nchunks_max)
	{
		cs->nchunks_max *= 2;
		cs->chunks = (ChurnClient **)
			repalloc_huge(cs->chunks, cs->nchunks_max * sizeof(ChurnClient *));
	}
	if ((cs->n & (CHUNK_SIZE - 1)) == 0)
		cs->chunks[cs->n >> CHUNK_BITS] = (ChurnClient *)
			MemoryContextAllocHuge(CurrentMemoryContext,
								   CHUNK_SIZE * sizeof(ChurnClient));
	c = client_at(cs, cs->n);
	memset(c, 0, sizeof(ChurnClient));
	c->client_id = client_id;
	return cs->n++;
}

/* The index of each row's client; new clients are added when add is true. */
static void
find_clients(ChurnClients *cs, ChurnRow *rows, int nrows, bool add)
{
	int			i;

	for (i = 0; i < nrows; i++)
		__builtin_prefetch(&cs->map->data[rows[i].hash & cs->map->sizemask]);
	for (i = 0; i < nrows; i++)
	{
		ChurnRow   *r = &rows[i];
		ChurnSlot  *slot;
		bool		found = true;

		if (add)
			slot = churnmap_insert_hash(cs->map, r->p.client_id, r->hash, &found);
		else
			slot = churnmap_lookup_hash(cs->map, r->p.client_id, r->hash);
		if (slot == NULL)
		{
			r->idx = -1;
			continue;
		}
		if (!found)
			slot->idx = (uint32) new_client(cs, r->p.client_id);
		r->idx = slot->idx;
		__builtin_prefetch(client_at(cs, r->idx), 1);
	}
}

/*
 * The memory a client takes in a call: its entry, its hash slot (the
 * table is between half and 90% full) and its place in the chunk list.
 */
#define CHURN_CLIENT_BYTES	(sizeof(ChurnClient) + 2 * sizeof(ChurnSlot) + 1)

static void
add_purchases(ChurnClients *cs, ChurnRow *rows, int nrows,
			  TimestampTz recent_from, TimestampTz previous_from)
{
	int			i;

	find_clients(cs, rows, nrows, true);
	for (i = 0; i < nrows; i++)
	{
		const ScanPurchase *r = &rows[i].p;
		ChurnClient *c = client_at(cs, rows[i].idx);

		profile_state_add(&c->profile, r->t, r->amount, r->dscale, r->offer);
		if (r->t > recent_from)
			profile_window_sum_add(&c->recent, r->amount, r->dscale);
		else if (r->t > previous_from)
			profile_window_sum_add(&c->previous, r->amount, r->dscale);
	}
}

/*
 * The purchases (placed or paid, at or before as_of): each client's profile
 * and windows, exactly as crm.churn_signals_sql aggregates them.  False
 * when a purchase is unusual (a time or amount that is not finite, a
 * second currency).
 */
static bool
scan_orders(FastPathTable *orders, TimestampTz as_of,
			TimestampTz recent_from, TimestampTz previous_from,
			ChurnClients *cs)
{
	ScanPass	pass;
	TupleTableSlot *slot;
	ChurnRow	rows[SCAN_BATCH];
	int			nrows = 0;
	ScanCurrency cur = {0};

	scan_begin(&pass, orders);
	while ((slot = scan_next(&pass)) != NULL)
	{
		ChurnRow   *r = &rows[nrows];
		int			is = scan_purchase(slot, pass.att, as_of, &cur, &r->p);

		if (is == 0)
			continue;
		if (is < 0)
		{
			scan_end(&pass);
			return false;
		}
		r->hash = scan_client_hash(r->p.client_id);
		if (++nrows == SCAN_BATCH)
		{
			add_purchases(cs, rows, nrows, recent_from, previous_from);
			nrows = 0;
			if (!pass_memory_within(cs->n, CHURN_CLIENT_BYTES))
			{
				cs->over = true;
				scan_end(&pass);
				return false;
			}
		}
	}
	add_purchases(cs, rows, nrows, recent_from, previous_from);
	scan_end(&pass);
	return true;
}

/*
 * Marks the purchases of the client's window (its latest PROFILE_WINDOW)
 * that an offer at time t came soon before: t < purchase <= t + lag.
 */
static inline void
mark_after_offer(ChurnClient *c, TimestampTz t, int64 lag)
{
	for (int i = 0; i < c->profile.nwin; i++)
	{
		TimestampTz p = c->profile.win[i];

		if (t < p && t >= p - lag)
			c->after_offer |= (uint16) (1 << i);
	}
}

static void
add_interactions(ChurnClients *cs, ChurnRow *rows, int nrows, int64 lag)
{
	int			i;

	find_clients(cs, rows, nrows, false);
	for (i = 0; i < nrows; i++)
	{
		const ChurnRow *r = &rows[i];
		ChurnClient *c;

		if (r->idx < 0)
			continue;
		c = client_at(cs, r->idx);
		if (r->engagement)
		{
			if (!c->engaged || r->p.t > c->engagement)
				c->engagement = r->p.t;
			c->engaged = true;
		}
		else
		{
			if (r->p.t > c->profile.last)
				c->offers++;
			else
				mark_after_offer(c, r->p.t, lag);
		}
	}
}

/*
 * The interactions at or before as_of of the clients with a purchase: the
 * last inbound one that is not a sale, and the outbound campaign messages
 * after the client's last purchase.  False when a time is not finite.
 */
static bool
scan_interactions(FastPathTable *interactions, TimestampTz as_of, int64 lag,
				  ChurnClients *cs)
{
	ScanPass	pass;
	TupleTableSlot *slot;
	ChurnRow	rows[SCAN_BATCH];
	int			nrows = 0;

	scan_begin(&pass, interactions);
	while ((slot = scan_next(&pass)) != NULL)
	{
		ChurnRow   *r = &rows[nrows];
		Datum		direction;

		r->p.t = DatumGetTimestampTz(slot->tts_values[pass.att[IC_OCCURRED_AT] - 1]);
		if (r->p.t > as_of)
			continue;
		if (TIMESTAMP_NOT_FINITE(r->p.t))
		{
			scan_end(&pass);
			return false;
		}
		direction = slot->tts_values[pass.att[IC_DIRECTION] - 1];
		if (scan_text_is(direction, "inbound", 7))
		{
			if (scan_text_is(slot->tts_values[pass.att[IC_KIND] - 1], "sale", 4))
				continue;
			r->engagement = true;
		}
		else if (scan_text_is(direction, "outbound", 8) &&
				 !slot->tts_isnull[pass.att[IC_CAMPAIGN] - 1])
			r->engagement = false;
		else
			continue;
		r->p.client_id = DatumGetInt64(slot->tts_values[pass.att[IC_CLIENT] - 1]);
		r->hash = scan_client_hash(r->p.client_id);
		if (++nrows == SCAN_BATCH)
		{
			add_interactions(cs, rows, nrows, lag);
			nrows = 0;
		}
	}
	add_interactions(cs, rows, nrows, lag);
	scan_end(&pass);
	return true;
}

/*
 * The shards path (crm.orders held by Citus): crm.churn_signals_sql's three
 * per-client queries, each grouped by client_id and joined on client_id in
 * one query, so that Citus runs it whole on each shard (one task per shard,
 * one round trip), read back here.  The purchases come as the profile's
 * state with the two windows (the aggregate crm.purchase_profile_state
 * with window bounds: the twin's crm.purchase_profile before its final
 * step, and each window's purchases and spend, accumulated as the direct
 * pass does, in one pass), grouped by currency too, so that a client's
 * purchases in a second currency come as a second row: the call then goes
 * to SQL.  Then the last inbound contact that is not a sale, and the times
 * of the campaign messages (outbound, with a campaign), read here as the
 * direct pass reads them: those after the client's last purchase are the
 * offers since, the others mark the purchases of the profile's window that
 * came soon after them.
 */
static const char gather_clients_sql[] =
"SELECT p.client_id, p.state, p.currency, e.engaged, f.offers"
"  FROM (SELECT o.client_id, o.currency,"
"               crm.purchase_profile_state(o.ordered_at, o.net_amount, o.promo_used, $2, $3) AS state"
"          FROM crm.orders o"
"         WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= $1"
"         GROUP BY o.client_id, o.currency) p"
"  LEFT JOIN (SELECT i.client_id, max(i.occurred_at) AS engaged"
"               FROM crm.interactions i"
"              WHERE i.direction = 'inbound' AND i.kind <> 'sale' AND i.occurred_at <= $1"
"              GROUP BY i.client_id) e ON e.client_id = p.client_id"
"  LEFT JOIN (SELECT c.client_id, array_agg(c.occurred_at) AS offers"
"               FROM crm.interactions c"
"              WHERE c.direction = 'outbound' AND c.campaign IS NOT NULL AND c.occurred_at <= $1"
"              GROUP BY c.client_id) f ON f.client_id = p.client_id";

/*
 * The rows of one query (client_id first, then ncols more) in batches,
 * each row's client found (added when add is true; -1 when absent and
 * not added), handed to take(); false when take() says a row is
 * unusual.
 */
typedef bool (*GatherTake) (ChurnClients *cs, ChurnClient *c, const Datum *v, const bool *n,
							void *arg);

static bool
gather_rows(GatherCall *g, ChurnClients *cs, const char *sql, int nargs, const Oid *types,
			const Datum *args, bool add, GatherTake take, void *arg)
{
	Portal		portal = gather_open(g, sql, nargs, types, args);
	ChurnRow	rows[SCAN_BATCH];
	Datum		v[SCAN_BATCH][8];
	bool		n[SCAN_BATCH][8];
	bool		usual = true;

	while (usual && gather_fetch(g, portal))
	{
		SPITupleTable *tt = SPI_tuptable;
		uint64		nrows = SPI_processed;

		Assert(tt->tupdesc->natts <= 8);
		for (uint64 first = 0; first < nrows && usual; first += SCAN_BATCH)
		{
			int			batch = (int) Min(nrows - first, SCAN_BATCH);

			for (int i = 0; i < batch && usual; i++)
			{
				heap_deform_tuple(tt->vals[first + i], tt->tupdesc, v[i], n[i]);
				if (n[i][0])
					usual = false;	/* a NULL client: as SQL says */
				rows[i].p.client_id = DatumGetInt64(v[i][0]);
				rows[i].hash = scan_client_hash(rows[i].p.client_id);
			}
			if (!usual)
				break;
			find_clients(cs, rows, batch, add);
			for (int i = 0; i < batch && usual; i++)
				if (rows[i].idx >= 0)
					usual = take(cs, client_at(cs, rows[i].idx), v[i], n[i], arg);
		}
		SPI_freetuptable(tt);
	}
	if (!usual)
		SPI_cursor_close(portal);
	return usual;
}

typedef struct GatherClientsArg
{
	ScanCurrency cur;
	int64		lag;			/* offer_lag_days, in microseconds */
} GatherClientsArg;

static bool
take_client(ChurnClients *cs, ChurnClient *c, const Datum *v, const bool *n, void *arg)
{
	GatherClientsArg *a = (GatherClientsArg *) arg;
	ProfileWindow w[2];

	/* a second row of the client: purchases in a second currency */
	if (c->profile.n > 0 || n[1] || n[2] || !scan_same_currency(&a->cur, v[2]))
		return false;
	profile_windows_read(DatumGetByteaPP(v[1]), &c->profile, w);
	c->recent = w[0];
	c->previous = w[1];
	c->engaged = !n[3];
	c->engagement = n[3] ? 0 : DatumGetTimestampTz(v[3]);
	c->offers = 0;
	if (!n[4])
	{
		ArrayType  *times = DatumGetArrayTypeP(v[4]);
		const TimestampTz *t = (const TimestampTz *) ARR_DATA_PTR(times);
		int			nt = ArrayGetNItems(ARR_NDIM(times), ARR_DIMS(times));

		if (ARR_ELEMTYPE(times) != TIMESTAMPTZOID || ARR_HASNULL(times))
			return false;
		for (int i = 0; i < nt; i++)
		{
			/* as the direct pass: a time that is not finite is the twin's */
			if (TIMESTAMP_NOT_FINITE(t[i]))
				return false;
			if (t[i] > c->profile.last)
				c->offers++;
			else
				mark_after_offer(c, t[i], a->lag);
		}
	}
	return true;
}

/* The clients, from the shards; false when a row is unusual. */
static bool
gather_clients(ChurnClients *cs, TimestampTz as_of, TimestampTz recent_from,
			   TimestampTz previous_from, int64 lag)
{
	Oid			types[3] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[3] = {TimestampTzGetDatum(as_of), TimestampTzGetDatum(recent_from),
	TimestampTzGetDatum(previous_from)};
	GatherCall	g;
	bool		usual;
	GatherClientsArg a = {{0}, lag};

	gather_begin(&g);
	usual = gather_rows(&g, cs, gather_clients_sql, 3, types, args, true, take_client, &a);
	gather_end(&g);
	return usual;
}

/*
 * The clients from the profile store (src/profiles.c), when it is current:
 * each client's profile, windows, last engagement and offers are the
 * store's.  False for an unusual row (purchases in a second currency) or
 * beyond crm.pass_memory_limit.
 */
static bool
read_profiles(ChurnClients *cs)
{
	ProfileSource src;
	ProfileRow	r;
	int			is;

	/*
	 * a row per client (the store's primary key): appended, without the
	 * hash table that the passes over the orders group by
	 */
	profiles_begin(&src);
	while ((is = profiles_next(&src, &r)) > 0)
	{
		ChurnClient *c = client_at(cs, new_client(cs, r.client_id));

		c->profile = r.state;
		c->recent = r.window[0];
		c->previous = r.window[1];
		c->engaged = r.engaged;
		c->engagement = r.engagement;
		c->offers = r.offers;
		/* the count, as the twin gives it: the first after_offer bits */
		c->after_offer = (uint16) ((UINT64CONST(1) << r.after_offer) - 1);
		if ((cs->n & (SCAN_BATCH - 1)) == 0 && !pass_memory_within(cs->n, CHURN_CLIENT_BYTES))
		{
			cs->over = true;
			is = -1;
			break;
		}
	}
	profiles_end(&src);
	return is == 0;
}

/*
 * The population's rhythm: the option, or the geometric mean of the recent
 * mean gaps (each at least min_gap_days) of the clients with a gap, or
 * max(30, min_gap_days) when no client has one.  As in
 * crm.churn_signals_sql, the logarithms are summed as numeric (each one
 * converted as float8::numeric does), an exact sum whatever the order of
 * the clients, and averaged as avg(numeric) does.
 */
/*
 * A double as float8::numeric reads it (the text of "%.*g" with DBL_DIG
 * digits): *digits x 10^-*dscale, with the numeric's display scale; false
 * for a value that is not finite.
 */
static bool
float8_decimal(double v, int64 *digits, int *dscale)
{
	char		buf[64];
	const char *p = buf;
	bool		negative = false;
	int64		m = 0;
	int			after = 0;
	bool		point = false;
	int			exponent = 0;

	if (!isfinite(v))
		return false;
	snprintf(buf, sizeof(buf), "%.*g", DBL_DIG, v);
	if (*p == '-')
	{
		negative = true;
		p++;
	}
	for (; *p != '\0' && *p != 'e'; p++)
	{
		if (*p == '.')
			point = true;
		else if (*p >= '0' && *p <= '9')
		{
			m = m * 10 + (*p - '0');	/* at most DBL_DIG digits */
			if (point)
				after++;
		}
		else
			return false;
	}
	if (*p == 'e')
		exponent = atoi(p + 1);
	/* set_var_from_str: the digits after the point, less the exponent */
	after -= exponent;
	if (after < 0)
	{
		for (; after < 0; after++)
		{
			if (__builtin_mul_overflow(m, (int64) 10, &m))
				return false;
		}
	}
	*digits = negative ? -m : m;
	*dscale = after;
	return true;
}

#define GAP_SCALE_MAX	36

/*
 * The numeric sum of the logarithms (float8::numeric each) of the clients'
 * recent mean gaps, added exactly as integers at the largest display scale
 * among them (the sum numeric_add gives: the exact value, at that scale);
 * false when a value does not fit (the caller then adds numerics).
 */
static bool
population_log_sum(const ChurnSettings *s, const ChurnClients *cs, Datum *sum, int64 *count)
{
	int128		acc = 0;
	int			scale = 0;
	int64		n = 0;
	char		buf[GAP_SCALE_MAX + 48];
	char		digits[48];
	int			len;
	int128		a;
	bool		negative;

	for (int64 i = 0; i < cs->n; i++)
	{
		double		gap;
		int64		m;
		int			d;
		int128		v;

		if (!profile_state_recent_gap(&client_at(cs, i)->profile, &gap))
			continue;
		if (!float8_decimal(log(Max(gap, s->min_gap_days)), &m, &d) || d > GAP_SCALE_MAX)
			return false;
		for (; scale < d; scale++)
		{
			if (__builtin_mul_overflow(acc, (int128) 10, &acc))
				return false;
		}
		v = m;
		for (int k = d; k < scale; k++)
		{
			if (__builtin_mul_overflow(v, (int128) 10, &v))
				return false;
		}
		if (__builtin_add_overflow(acc, v, &acc))
			return false;
		n++;
	}
	/* the sum's text, read as numeric: its value at that display scale */
	negative = acc < 0;
	a = negative ? -acc : acc;
	len = 0;
	do
	{
		digits[len++] = '0' + (int) (a % 10);
		a /= 10;
	} while (a != 0);
	{
		char	   *p = buf;

		if (negative)
			*p++ = '-';
		if (len <= scale)
		{
			*p++ = '0';
			*p++ = '.';
			for (int k = scale; k > len; k--)
				*p++ = '0';
			while (len > 0)
				*p++ = digits[--len];
		}
		else
		{
			while (len > 0)
			{
				if (len == scale)
					*p++ = '.';
				*p++ = digits[--len];
			}
		}
		*p = '\0';
	}
	*sum = DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	*count = n;
	return true;
}

static double
population_gap(const ChurnSettings *s, const ChurnClients *cs)
{
	MemoryContext step = AllocSetContextCreate(CurrentMemoryContext, "population gap",
											   ALLOCSET_SMALL_SIZES);
	MemoryContext cur = AllocSetContextCreate(CurrentMemoryContext, "population gap sum",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext other = AllocSetContextCreate(CurrentMemoryContext, "population gap sum",
												ALLOCSET_SMALL_SIZES);
	MemoryContext old = CurrentMemoryContext;
	Datum		sum = NumericGetDatum(int64_to_numeric(0));
	int64		n = 0;
	int64		i;
	double		result;

	if (!isnan(s->population_gap_days))
		result = s->population_gap_days;
	else
	{
		if (!population_log_sum(s, cs, &sum, &n))
		{
			/* the numeric additions, value by value */
			sum = NumericGetDatum(int64_to_numeric(0));
			n = 0;
			for (i = 0; i < cs->n; i++)
			{
				double		gap;
				Datum		next;
				MemoryContext swap;

				if (!profile_state_recent_gap(&client_at(cs, i)->profile, &gap))
					continue;
				/* the new sum in one context, the old one freed with the other */
				MemoryContextSwitchTo(step);
				next = DirectFunctionCall2(numeric_add, sum,
										   DirectFunctionCall1(float8_numeric,
															   Float8GetDatum(log(Max(gap, s->min_gap_days)))));
				MemoryContextReset(other);
				MemoryContextSwitchTo(other);
				sum = datumCopy(next, false, -1);
				MemoryContextReset(step);
				swap = cur;
				cur = other;
				other = swap;
				n++;
			}
		}
		MemoryContextSwitchTo(step);
		if (n > 0)
			result = exp(DatumGetFloat8(DirectFunctionCall1(numeric_float8,
															DirectFunctionCall2(numeric_div, sum,
																				NumericGetDatum(int64_to_numeric(n))))));
		else
			result = Max(30, s->min_gap_days);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(step);
	MemoryContextDelete(cur);
	MemoryContextDelete(other);
	return result;
}

/*
 * The population's counts that the shares are shrunk toward: integer sums
 * over the clients, exact whatever their order (shards, the store).
 */
static void
population_counts(const ChurnClients *cs, ChurnPopulation *p)
{
	memset(p, 0, sizeof(*p));
	for (int64 i = 0; i < cs->n; i++)
	{
		const ChurnClient *c = client_at(cs, i);

		p->purchases += c->profile.n;
		p->offer_purchases += c->profile.n_offer;
		p->window_purchases += c->profile.nwin;
		p->after_offer += __builtin_popcount(c->after_offer);
		for (int m = 0; m < 12; m++)
			p->months[m] += c->profile.months[m];
	}
}

/* A window's spend as crm.churn_signals_sql gives it: 0 when empty. */
static Datum
window_spend(const WindowSum *w)
{
	if (w->n == 0)
		return NumericGetDatum(int64_to_numeric(0));
	return profile_micro_to_numeric(w->total, w->scale);
}

/* make_interval(secs => secs), as in SQL */
static Datum
seconds_interval(double secs)
{
	return DirectFunctionCall7(make_interval, Int32GetDatum(0), Int32GetDatum(0),
							   Int32GetDatum(0), Int32GetDatum(0),
							   Int32GetDatum(0), Int32GetDatum(0),
							   Float8GetDatum(secs));
}

/* The time as_of - secs seconds, with interval arithmetic as in SQL. */
static TimestampTz
seconds_before(TimestampTz as_of, double secs, double times)
{
	Datum		w = seconds_interval(secs);

	if (times != 1)
		w = DirectFunctionCall2(interval_mul, w, Float8GetDatum(times));
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
												   TimestampTzGetDatum(as_of), w));
}

/*
 * One client's row of crm.churn_signals, each column at its place pos[]
 * in the result descriptor.
 */
static void
client_row(const ChurnSettings *s, const ChurnClient *c, TimestampTz as_of,
		   double gap, const ChurnPopulation *population, const int *pos,
		   Datum *values, bool *nulls)
{
	Datum		pv[PROFILE_NATTS];
	bool		pn[PROFILE_NATTS];
	Datum		sv[CS_NATTS];
	bool		sn[CS_NATTS];
	int			after = __builtin_popcount(c->after_offer);
	Datum		rs,
				ps;
	/* the signals churn_compute gives, and where each goes */
	static const int from_signals[][2] = {
		{CS_AGE, OC_AGE}, {CS_SILENCE, OC_SILENCE}, {CS_OWN_GAP, OC_OWN_GAP},
		{CS_EXPECTED_GAP, OC_EXPECTED_GAP}, {CS_GAP_CV, OC_GAP_CV},
		{CS_OVERDUE, OC_OVERDUE}, {CS_P_GAP, OC_P_GAP},
		{CS_SEASON_SHARE, OC_SEASON_SHARE},
		{CS_ENGAGEMENT_SILENCE, OC_ENGAGEMENT_SILENCE},
		{CS_STATUS, OC_STATUS}, {CS_CLASS, OC_CLASS},
		{CS_CONFIDENCE, OC_CONFIDENCE}, {CS_RUNNER_UP, OC_RUNNER_UP}
	};

	profile_state_values(&c->profile, pv, pn);
	churn_compute(s, pv, pn, as_of, gap, c->recent.n, c->previous.n,
				  c->engaged, c->engagement, c->offers, after, population, sv, sn, NULL);
	rs = window_spend(&c->recent);
	ps = window_spend(&c->previous);

	memset(nulls, 0, sizeof(bool) * OUT_NATTS);
	values[pos[OC_CLIENT]] = Int64GetDatum(c->client_id);
	values[pos[OC_PURCHASES]] = pv[PF_PURCHASES];
	values[pos[OC_FIRST]] = pv[PF_FIRST];
	values[pos[OC_LAST]] = pv[PF_LAST];
	values[pos[OC_MONETARY]] = pv[PF_TOTAL];
	for (int i = 0; i < lengthof(from_signals); i++)
	{
		values[pos[from_signals[i][1]]] = sv[from_signals[i][0]];
		nulls[pos[from_signals[i][1]]] = sn[from_signals[i][0]];
	}
	values[pos[OC_RECENT_N]] = Int64GetDatum(c->recent.n);
	values[pos[OC_PREVIOUS_N]] = Int64GetDatum(c->previous.n);
	if (c->previous.n > 0)
		values[pos[OC_PURCHASE_TREND]] = Float8GetDatum((double) c->recent.n / (double) c->previous.n);
	else
		nulls[pos[OC_PURCHASE_TREND]] = true;
	values[pos[OC_RECENT_SPEND]] = rs;
	values[pos[OC_PREVIOUS_SPEND]] = ps;
	if (c->previous.n > 0 && c->previous.total > 0)
		values[pos[OC_SPEND_TREND]] = DirectFunctionCall1(numeric_float8,
														  DirectFunctionCall2(numeric_div, rs, ps));
	else
		nulls[pos[OC_SPEND_TREND]] = true;
	values[pos[OC_ENGAGEMENT]] = TimestampTzGetDatum(c->engagement);
	nulls[pos[OC_ENGAGEMENT]] = !c->engaged;
	values[pos[OC_OFFERS]] = Int64GetDatum(c->offers);
	values[pos[OC_OFFER_SHARE]] = pv[PF_OFFER_SHARE];
	values[pos[OC_POPULATION_GAP]] = Float8GetDatum(gap);
	values[pos[OC_AFTER_OFFER]] = Int64GetDatum(after);
}

/*
 * crm.churn_signals(as_of, options): the churn signals, status and
 * behavioural class of every client with a purchase at or before as_of.
 */
Datum
churn_signals(PG_FUNCTION_ARGS)
{
	TimestampTz as_of;
	Jsonb	   *options;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	FastPath	fp;
	int			pos[OUT_NATTS];
	TupleDesc	desc;
	ChurnSettings settings;
	FastPathTable orders;
	FastPathTable interactions;
	TimestampTz recent_from;
	TimestampTz previous_from;
	int64		lag;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext work;
	MemoryContext row;
	ChurnClients cs;
	bool		on_shards = false;
	bool		from_profiles = false;
	bool		usual;
	double		gap;
	ChurnPopulation population;
	int64		i;

	/* not STRICT: a NULL argument is an error, as in crm.churn_signals_sql */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", PG_ARGISNULL(0) ? "as_of" : "options")));
	as_of = PG_GETARG_TIMESTAMPTZ(0);
	options = PG_GETARG_JSONB_P(1);

	fastpath_init(&fp, "crm.churn_signals");
	if (TIMESTAMP_NOT_FINITE(as_of))
		fastpath_decline(&fp, "arguments", NULL);
	else if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE ||
			 !fastpath_result_layout(desc, result_columns, OUT_NATTS, pos))
		fastpath_decline(&fp, "result shape", NULL);
	if (fp.reason == NULL)
	{
		TimestampTz windows[2];

		/* the options' checks are those of crm.churn_options, which the twin calls */
		churn_settings_parse(options, &settings);
		windows[0] = seconds_before(as_of, settings.window_days * 86400, 1);
		windows[1] = seconds_before(as_of, settings.window_days * 86400, 2);
		from_profiles = profiles_current(as_of, windows, settings.offer_lag_days, true);
	}
	if (from_profiles)
		;						/* the store: no table is opened */
	else if (fp.reason ||
			 !fastpath_open_read(&fp, &orders, "orders", scan_orders_columns, PC_N))
	{
		if (!fastpath_may_gather(&fp))
			return fastpath_call_sql(&fp, fcinfo, "churn_signals_sql");
		on_shards = true;
	}
	else if (!fastpath_open_read(&fp, &interactions, "interactions", interactions_columns, IC_N))
	{
		fastpath_close(&orders);
		return fastpath_call_sql(&fp, fcinfo, "churn_signals_sql");
	}
	/* the options' checks are those of crm.churn_options, which the twin calls */
	churn_settings_parse(options, &settings);

	recent_from = seconds_before(as_of, settings.window_days * 86400, 1);
	previous_from = seconds_before(as_of, settings.window_days * 86400, 2);
	/* an offer's lag, in microseconds, as the twin's interval arithmetic gives it */
	lag = as_of - seconds_before(as_of, settings.offer_lag_days * 86400, 1);

	work = AllocSetContextCreate(CurrentMemoryContext, "crm.churn_signals",
								 ALLOCSET_DEFAULT_SIZES);
	row = AllocSetContextCreate(work, "crm.churn_signals row", ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(work);

	cs.map = churnmap_create(work, 1024, NULL);
	cs.nchunks_max = 16;
	cs.chunks = (ChurnClient **) palloc(cs.nchunks_max * sizeof(ChurnClient *));
	cs.n = 0;
	cs.over = false;

	if (from_profiles)
		usual = read_profiles(&cs);
	else if (on_shards)
		usual = gather_clients(&cs, as_of, recent_from, previous_from, lag);
	else
	{
		usual = scan_orders(&orders, as_of, recent_from, previous_from, &cs) &&
			scan_interactions(&interactions, as_of, lag, &cs);
		fastpath_close(&orders);
		fastpath_close(&interactions);
	}
	if (!usual)
	{
		MemoryContextSwitchTo(outer);
		MemoryContextDelete(work);
		fastpath_decline(&fp, cs.over ? "memory limit" : "unusual data", NULL);
		return fastpath_call_sql(&fp, fcinfo, "churn_signals_sql");
	}
	if (from_profiles)
		fastpath_taken_from_profiles(&fp);
	else if (on_shards)
		fastpath_taken_on_shards(&fp);
	else
		fastpath_taken(&fp);

	gap = population_gap(&settings, &cs);
	population_counts(&cs, &population);

	MemoryContextSwitchTo(outer);
	InitMaterializedSRF(fcinfo, 0);
	MemoryContextSwitchTo(work);
	for (i = 0; i < cs.n; i++)
	{
		Datum		values[OUT_NATTS];
		bool		nulls[OUT_NATTS];

		CHECK_FOR_INTERRUPTS();
		MemoryContextSwitchTo(row);
		client_row(&settings, client_at(&cs, i), as_of, gap, &population, pos, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(work);
		MemoryContextReset(row);
	}

	MemoryContextSwitchTo(outer);
	MemoryContextDelete(work);
	PG_RETURN_NULL();
}
