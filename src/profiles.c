/*-------------------------------------------------------------------------
 *
 * src/profiles.c
 *
 * The profile store as the source of crm.rfm_scores and crm.churn_signals.
 * crm.refresh_profiles (sql/install/79_profiles.sql) keeps in
 * crm.profile_store, for every client with a purchase at the store's
 * as_of, what the passes of those functions accumulate per client: the
 * purchase profile's state with the two churn windows (the bytes of
 * crm.purchase_profile_state with window bounds), the last engagement and
 * the offers since the last purchase.  When the store is current for a
 * call (profiles_current), the call reads those rows (by a pass over the
 * store's heap where no row security applies to the caller, by a query as
 * the caller otherwise) instead of passing over every order and
 * interaction, and
 * does the rest (scores, signals) as it does after its own pass: the rows
 * are the same.  Row security and privileges apply to the store as to the
 * orders (the store has the orders' policies), and the call uses the store
 * only when the caller may read what its pass would read.
 *
 * Also here: the memory bound of the passes, crm.pass_memory_limit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "profiles.h"

static bool read_profiles = true;
static int	pass_memory_limit = -1;

void
profiles_define_settings(void)
{
	DefineCustomBoolVariable("crm.read_profiles",
							 "Lets crm.rfm_scores and crm.churn_signals read the profile store when it is current.",
							 "Off: they pass over the orders and interactions (or run their SQL twins) as if there were no store.",
							 &read_profiles, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("crm.pass_memory_limit",
							"The memory the per-client table of a C pass of crm.rfm_scores or crm.churn_signals may take.",
							"Beyond it the call runs its SQL twin, whose hash aggregates spill to disk within work_mem. -1: no limit.",
							&pass_memory_limit, -1, -1, MAX_KILOBYTES, PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);
}

bool
pass_memory_within(int64 clients, Size per_client)
{
	if (pass_memory_limit < 0)
		return true;
	return (double) clients * (double) per_client <= (double) pass_memory_limit * 1024.0;
}

/* crm.<relname>, InvalidOid when there is none */
static Oid
crm_relid(const char *relname)
{
	Oid			nsp = get_namespace_oid("crm", true);

	return OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
}

/*
 * Whether an ordinary table has inheritance children now (relhassubclass
 * stays set after the last child goes, until a VACUUM clears it).
 */
static bool
has_inheritance_children(Oid relid)
{
	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION || !has_subclass(relid))
		return false;
	return find_inheritance_children(relid, AccessShareLock) != NIL;
}

/* whether the current user may SELECT these columns of crm.<relname> (all: NULL) */
static bool
may_read(const char *relname, const char *const *columns)
{
	Oid			nsp = get_namespace_oid("crm", true);
	Oid			relid;
	Oid			user = GetUserId();

	if (!OidIsValid(nsp))
		return false;
	relid = get_relname_relid(relname, nsp);
	if (!OidIsValid(relid))
		return false;
	/* row_security off where policies apply: the pass over the tables raises the error */
	if (!row_security && check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		return false;
	if (pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK)
		return true;
	if (columns == NULL)
		return false;
	for (int i = 0; columns[i] != NULL; i++)
	{
		AttrNumber	att = get_attnum(relid, columns[i]);

		if (att == InvalidAttrNumber ||
			pg_attribute_aclcheck(relid, att, user, ACL_SELECT) != ACLCHECK_OK)
			return false;
	}
	return true;
}

/*
 * The store is current when its state row says so, the log shows nothing
 * and the four triggers that keep the log are there and fire (a disabled
 * trigger, or session_replication_role = replica for ENABLE triggers,
 * would let changes pass unlogged: the store is then not trusted).
 */
static const char current_sql[] =
"SELECT s.as_of = $1 AND ($4 OR (s.recent_from = $2 AND s.previous_from = $3"
"                                AND s.offer_lag_days = $5))"
"   AND NOT EXISTS (SELECT 1 FROM crm.profile_changes)"
"   AND (SELECT count(*) FROM pg_catalog.pg_trigger t"
"         WHERE t.tgrelid IN ('crm.orders'::pg_catalog.regclass, 'crm.interactions'::pg_catalog.regclass)"
"           AND t.tgname IN ('orders_profile_insert', 'orders_profile_update',"
"                            'interactions_profile_insert', 'interactions_profile_update')"
"           AND (t.tgenabled = 'A' OR (t.tgenabled = 'O' AND"
"                pg_catalog.current_setting('session_replication_role') <> 'replica'))) = 4"
"  FROM crm.profile_store_state s";

bool
profiles_current(TimestampTz as_of, const TimestampTz *windows, double offer_lag_days,
				 bool interactions)
{
	static const char *const interaction_columns[] = {
		"client_id", "occurred_at", "direction", "kind", "campaign", NULL
	};
	Oid			types[5] = {TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, BOOLOID, FLOAT8OID};
	Datum		args[5];
	GatherCall	g;
	bool		current = false;

	if (!read_profiles || fastpath_in_citus_task())
		return false;
	/*
	 * On a Citus cluster the log is not kept (its triggers do nothing on the
	 * shards): a store distributed with the tables is not trusted
	 */
	if (fastpath_citus_table(crm_relid("orders")) || fastpath_citus_table(crm_relid("interactions")))
		return false;
	/*
	 * Inheritance children (not partitions) do not fire the parent's
	 * triggers: their rows would change unlogged
	 */
	if (has_inheritance_children(crm_relid("orders")) ||
		has_inheritance_children(crm_relid("interactions")))
		return false;
	/* what the pass would read, and the store */
	if (!may_read("orders", NULL) ||
		(interactions && !may_read("interactions", interaction_columns)) ||
		!may_read("profile_store", NULL) || !may_read("profile_store_state", NULL) ||
		!may_read("profile_changes", NULL))
		return false;

	args[0] = TimestampTzGetDatum(as_of);
	args[1] = TimestampTzGetDatum(windows ? windows[0] : 0);
	args[2] = TimestampTzGetDatum(windows ? windows[1] : 0);
	args[3] = BoolGetDatum(windows == NULL);
	args[4] = Float8GetDatum(offer_lag_days);
	gather_begin(&g);
	if (SPI_execute_with_args(current_sql, 5, types, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read crm.profile_store_state");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		current = !isnull && DatumGetBool(d);
	}
	gather_end(&g);
	return current;
}

/* the columns read, in this order */
enum
{
	SC_CLIENT, SC_CURRENCY, SC_STATE, SC_ENGAGEMENT, SC_OFFERS, SC_AFTER_OFFER, SC_N
};

static const FastPathColumn store_columns[SC_N] = {
	{"client_id", INT8OID, true},
	{"currency", TEXTOID, false},
	{"state", BYTEAOID, false},
	{"last_engagement", TIMESTAMPTZOID, false},
	{"offers_since_last_purchase", INT8OID, true},
	{"purchases_after_offer", INT8OID, true}
};

static const char rows_sql[] =
"SELECT p.client_id, p.currency, p.state, p.last_engagement, p.offers_since_last_purchase,"
"       p.purchases_after_offer"
"  FROM crm.profile_store p"
" WHERE p.state IS NOT NULL";

/*
 * A pass over the store's heap where it reads what the query would (the
 * rules of fastpath_open_read: no row security applying to the caller, a
 * plain table, SELECT held), with the query's snapshot, the one in which
 * profiles_current looked; otherwise the query, as the caller.
 */
void
profiles_begin(ProfileSource *src)
{
	FastPath	fp;

	memset(src, 0, sizeof(*src));
	fastpath_init(&fp, "profile store");
	if (fastpath_open_read(&fp, &src->table, "profile_store", store_columns, SC_N))
	{
		src->direct = true;
		scan_begin(&src->pass, &src->table);
		return;
	}
	gather_begin(&src->g);
	src->portal = gather_open(&src->g, rows_sql, 0, NULL, NULL);
	src->open = true;
}

int
profiles_next(ProfileSource *src, ProfileRow *row)
{
	Datum		v[SC_N];
	bool		n[SC_N];

	if (src->direct)
	{
		TupleTableSlot *slot;

		/* not the rows without state: every purchase after the store's as_of */
		do
		{
			slot = scan_next(&src->pass);
			if (slot == NULL)
				return 0;
		} while (slot->tts_isnull[src->pass.att[SC_STATE] - 1]);
		for (int i = 0; i < SC_N; i++)
		{
			v[i] = slot->tts_values[src->pass.att[i] - 1];
			n[i] = slot->tts_isnull[src->pass.att[i] - 1];
		}
	}
	else
	{
		if (src->tt == NULL || src->next == src->nrows)
		{
			if (src->tt != NULL)
				SPI_freetuptable(src->tt);
			src->tt = NULL;
			if (!src->open || !gather_fetch(&src->g, src->portal))
			{
				src->open = false;	/* gather_fetch closed the cursor */
				return 0;
			}
			src->tt = SPI_tuptable;
			src->nrows = SPI_processed;
			src->next = 0;
		}
		heap_deform_tuple(src->tt->vals[src->next++], src->tt->tupdesc, v, n);
	}
	/* a NULL currency: the client's purchases are in more than one */
	if (n[0] || n[1] || n[2] || n[4] || n[5] || !scan_same_currency(&src->cur, v[1]))
		return -1;
	row->client_id = DatumGetInt64(v[0]);
	profile_windows_read(DatumGetByteaPP(v[2]), &row->state, row->window);
	row->engaged = !n[3];
	row->engagement = n[3] ? 0 : DatumGetTimestampTz(v[3]);
	row->offers = DatumGetInt64(v[4]);
	row->after_offer = DatumGetInt64(v[5]);
	/* a count of the profile's window (its latest purchases) */
	if (row->after_offer < 0 || row->after_offer > row->state.nwin)
		return -1;
	return 1;
}

void
profiles_end(ProfileSource *src)
{
	if (src->direct)
	{
		scan_end(&src->pass);
		fastpath_close(&src->table);
		src->direct = false;
		return;
	}
	if (src->tt != NULL)
		SPI_freetuptable(src->tt);
	src->tt = NULL;
	if (src->open)
		SPI_cursor_close(src->portal);
	src->open = false;
	gather_end(&src->g);
}
