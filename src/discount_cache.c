/*-------------------------------------------------------------------------
 *
 * src/discount_cache.c
 *
 * What crm.price_cart keeps between calls in a backend: the active general
 * rules of crm.discount_rules (client_id NULL), already in evaluation
 * order, and the category tree (crm.categories), read once and used again
 * for as long as they are what the call's own snapshot would read.
 *
 * When the cache is right.  Every statement that writes crm.discount_rules
 * or crm.categories first adds one to crm.pricing_version.version (the
 * statement trigger crm.pricing_changed(), below), in the writer's own
 * transaction.  A call reads that one row under its snapshot, like any
 * query: a snapshot that sees a change of the rules sees the new version
 * row too, and one that does not see the change does not see the new row
 * either.  Committed versions only ever grow, so the version (with the xmin
 * of the row version, which tells rewritten rows apart) names one committed
 * state of the rules and categories: the cache keeps the one it was read
 * at, and is read again when the call sees another.
 *   - A change made by the calling transaction itself, not committed yet:
 *     the version row's xmin is the transaction's own; the call reads the
 *     rules by query (as without a cache) and nothing is cached, so that an
 *     uncommitted state is never kept.  After a rollback (or a rollback to
 *     a savepoint) the call sees the committed version again.
 *   - Another session's change: seen when the call's snapshot sees its
 *     commit, whatever the isolation level (under REPEATABLE READ the
 *     version a transaction sees does not move, nor do its rules).
 *   - Two versions in turn (sessions at different snapshots): each call
 *     reads the rules again when the version differs from the cached one.
 * A relcache invalidation of either table or of the version table (DDL,
 * TRUNCATE, triggers disabled or enabled, DROP EXTENSION) also empties the
 * cache.
 *
 * When it is used.  Only when the call would read every general rule and
 * every category by query: the caller holds SELECT on both tables, and
 * row security either does not apply to the caller or lets it read every
 * row the cache holds (a permissive policy for SELECT that applies to the
 * role, whose USING clause is true, or true for every general rule: an OR
 * with "client_id IS NULL", as crm's manager policy; no restrictive policy
 * applies; no policy hook is installed).  Otherwise, on a Citus cluster
 * (crm's tables managed by Citus), with crm.price_cart_cache off, or inside
 * a transaction that changed the rules, the rules and categories are read
 * by query.  The client's own rules (client_id set) are always read by
 * query, as are the client, the cart's products and prices, the use counts,
 * segments and loyalty accounts: they are per call (but kept under one
 * snapshot: the memo, at the end of this file).  crm.fast_path_stats()
 * counts the calls on each path, with the reason (docs/fastpath.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_authid.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "rewrite/rowsecurity.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/datum.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_inherits.h"
#include "nodes/value.h"
#include "common/hashfn.h"

#include "discount.h"
#include "fastpath.h"

static bool cache_enabled = true;
static DiscCache cache;
static uint64 invalidations = 0;	/* relcache invalidations seen */
static bool callback_registered = false;

static void memo_reset(void);

static void
relcache_callback(Datum arg, Oid relid)
{
	memo_reset();
	if (relid == InvalidOid || relid == cache.rules_relid ||
		relid == cache.categories_relid || relid == cache.version_relid)
	{
		cache.valid = false;
		invalidations++;
	}
}

static void
syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	memo_reset();
}

static void
xact_callback(XactEvent event, void *arg)
{
	memo_reset();
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		memo_reset();
}

void
discount_cache_define_settings(void)
{
	DefineCustomBoolVariable("crm.price_cart_cache",
							 "Lets crm.price_cart keep the general discount rules and the category tree between calls, and the rows of its statements for the client and the cart under one snapshot.",
							 "Off: every call reads them by query. The answers are the same either way.",
							 &cache_enabled, true, PGC_USERSET, 0, NULL, NULL, NULL);
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, syscache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, syscache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, syscache_callback, (Datum) 0);
		RegisterXactCallback(xact_callback, NULL);
		RegisterSubXactCallback(subxact_callback, NULL);
		callback_registered = true;
	}
}

/* whether the role is one of those the policy is for */
static bool
policy_applies(RowSecurityPolicy *p, Oid user)
{
	Oid		   *roles = (Oid *) ARR_DATA_PTR(p->roles);
	int			n = ARR_DIMS(p->roles)[0];

	for (int i = 0; i < n; i++)
		if (roles[i] == ACL_ID_PUBLIC || has_privs_of_role(user, roles[i]))
			return true;
	return false;
}

/*
 * Whether a USING clause is true for every row the cache holds: the
 * constant true, or (for the rules) "client_id IS NULL", or an OR with one
 * such arm, or an AND of such.
 */
static bool
qual_holds(Node *q, AttrNumber client_att)
{
	if (q == NULL)
		return false;
	if (IsA(q, Const))
	{
		Const	   *k = (Const *) q;

		return k->consttype == BOOLOID && !k->constisnull && DatumGetBool(k->constvalue);
	}
	if (IsA(q, NullTest))
	{
		NullTest   *t = (NullTest *) q;
		Var		   *v = (Var *) t->arg;

		return client_att != InvalidAttrNumber && t->nulltesttype == IS_NULL &&
			!t->argisrow && v != NULL && IsA(v, Var) && v->varlevelsup == 0 &&
			v->varattno == client_att;
	}
	if (IsA(q, BoolExpr))
	{
		BoolExpr   *b = (BoolExpr *) q;
		ListCell   *lc;

		if (b->boolop == OR_EXPR)
		{
			foreach(lc, b->args)
			{
				if (qual_holds(lfirst(lc), client_att))
					return true;
			}
			return false;
		}
		if (b->boolop == AND_EXPR)
		{
			foreach(lc, b->args)
			{
				if (!qual_holds(lfirst(lc), client_att))
					return false;
			}
			return true;
		}
	}
	return false;
}

/*
 * Whether a query by the current user would read every row of the table
 * that the cache holds (for the rules, those whose client_column is NULL);
 * *whole: and every row of the table, whatever its client_column.
 */
static bool reads_every_row_ext(FastPath *fp, Oid relid, const char *client_column,
								bool *whole, bool check_privilege);

static bool
reads_every_row(FastPath *fp, Oid relid, const char *client_column, bool *whole)
{
	return reads_every_row_ext(fp, relid, client_column, whole, true);
}

/* the same, without the check of SELECT on the table (the caller checks columns) */
static bool
reads_every_row_ext(FastPath *fp, Oid relid, const char *client_column, bool *whole,
					bool check_privilege)
{
	Oid			user = GetUserId();
	Relation	rel;
	RowSecurityDesc *rs;
	ListCell   *lc;
	bool		all = false;
	AttrNumber	client_att = InvalidAttrNumber;

	/*
	 * Locked as a query would lock it, until the transaction ends: a change
	 * of its policies waits, and invalidations are taken in first.
	 */
	rel = table_open(relid, AccessShareLock);
	table_close(rel, NoLock);
	*whole = false;
	if (check_privilege && pg_class_aclcheck(relid, user, ACL_SELECT) != ACLCHECK_OK)
		return fastpath_decline(fp, "privileges", get_rel_name(relid));
	switch (check_enable_rls(relid, InvalidOid, true))
	{
		case RLS_NONE:
		case RLS_NONE_ENV:
			*whole = true;
			return true;
		default:
			break;
	}
	if (!row_security || row_security_policy_hook_permissive != NULL ||
		row_security_policy_hook_restrictive != NULL)
		return fastpath_decline(fp, "row security", get_rel_name(relid));
	if (client_column)
		client_att = get_attnum(relid, client_column);
	rel = RelationIdGetRelation(relid);
	if (!RelationIsValid(rel))
		return fastpath_decline(fp, "row security", get_rel_name(relid));
	rs = rel->rd_rsdesc;
	if (rs != NULL)
	{
		foreach(lc, rs->policies)
		{
			RowSecurityPolicy *p = lfirst(lc);

			if ((p->polcmd != '*' && p->polcmd != ACL_SELECT_CHR) ||
				!policy_applies(p, user))
				continue;
			if (!p->permissive)
			{
				all = false;
				*whole = false;
				break;
			}
			if (qual_holds((Node *) p->qual, client_att))
				all = true;
			if (qual_holds((Node *) p->qual, InvalidAttrNumber))
				*whole = true;
		}
	}
	RelationClose(rel);
	if (!all)
		return fastpath_decline(fp, "row security", get_rel_name(relid));
	return true;
}

/*
 * The cache, when this call may use it, with the version the call's
 * snapshot sees in *version and *xmin (the caller compares them with the
 * cache's and reads the rules again when they differ).  NULL, with fp's
 * reason, when the call must read the rules by query.
 */
static DiscCache *cache_usable(FastPath *fp, int64 *version, TransactionId *xmin);

DiscCache *
discount_cache_usable(FastPath *fp, int64 *version, TransactionId *xmin)
{

	DiscCache  *c = cache_usable(fp, version, xmin);

	if (c)
		fastpath_taken(fp);
	else
		fastpath_declined(fp);
	return c;
}

static DiscCache *
cache_usable(FastPath *fp, int64 *version, TransactionId *xmin)
{
	bool		whole;
	bool		whole_categories;
	Oid			ns;
	Oid			rules,
				categories,
				ver;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	if (!cache_enabled)
	{
		fastpath_decline(fp, "crm.price_cart_cache is off", NULL);
		return NULL;
	}
	ns = get_namespace_oid("crm", true);
	rules = get_relname_relid("discount_rules", ns);
	categories = get_relname_relid("categories", ns);
	ver = get_relname_relid("pricing_version", ns);
	if (!OidIsValid(rules) || !OidIsValid(categories) || !OidIsValid(ver) ||
		get_rel_relkind(rules) != RELKIND_RELATION ||
		get_rel_relkind(categories) != RELKIND_RELATION ||
		get_rel_relkind(ver) != RELKIND_RELATION)
	{
		fastpath_decline(fp, "unusual tables", NULL);
		return NULL;
	}
	if (fastpath_citus_table(rules) || fastpath_citus_table(categories))
	{
		fastpath_decline(fp, "managed by Citus", NULL);
		return NULL;
	}
	if (!reads_every_row(fp, rules, "client_id", &whole) ||
		!reads_every_row(fp, categories, NULL, &whole_categories))
		return NULL;
	cache.reader_sees_all = whole;

	/* the version row, under the call's snapshot */
	rel = table_open(ver, AccessShareLock);
	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID ||
		RelationGetDescr(rel)->natts != 2 ||
		TupleDescAttr(RelationGetDescr(rel), 1)->atttypid != INT8OID)
	{
		table_close(rel, AccessShareLock);
		fastpath_decline(fp, "unusual tables", NULL);
		return NULL;
	}
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	tup = heap_getnext(scan, ForwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, 2, RelationGetDescr(rel), &isnull);

		if (!isnull)
		{
			found = true;
			*version = DatumGetInt64(d);
			*xmin = HeapTupleHeaderGetXmin(tup->t_data);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!found)
	{
		fastpath_decline(fp, "no pricing version", NULL);
		return NULL;
	}
	if (TransactionIdIsCurrentTransactionId(*xmin))
	{
		fastpath_decline(fp, "rules changed in this transaction", NULL);
		return NULL;
	}
	if (cache.rules_relid != rules || cache.categories_relid != categories ||
		cache.version_relid != ver)
	{
		cache.valid = false;
		cache.rules_relid = rules;
		cache.categories_relid = categories;
		cache.version_relid = ver;
	}
	return &cache;
}

/*
 * Empties the cache before it is filled again; returns the count of
 * invalidations, for discount_cache_done.
 */
uint64
discount_cache_begin(DiscCache *c)
{
	MemoryContext old = c->cxt;

	c->valid = false;
	c->cxt = AllocSetContextCreate(CacheMemoryContext, "crm price_cart cache",
								   ALLOCSET_DEFAULT_SIZES);
	if (old)
		MemoryContextDelete(old);
	c->nrules = 0;
	c->rules = NULL;
	c->ncategories = 0;
	c->client_rules = -1;
	return invalidations;
}

/*
 * The cache is filled, as of this version: valid unless an invalidation
 * came while it was read.
 */
void
discount_cache_done(DiscCache *c, uint64 begun, int64 version, TransactionId xmin)
{
	c->version = version;
	c->xmin = xmin;
	c->valid = (begun == invalidations);
}

/*
 * A cached rule's window at this moment, as the query's
 * CASE WHEN valid @> at THEN 0 WHEN valid >> [at, at] THEN -1 ELSE 1 END.
 */
void
discount_cache_window(DiscRule *r, TimestampTz at)
{
	bool		after_lower = r->lower_inf || r->lower < at ||
		(r->lower == at && r->lower_inc);
	bool		before_upper = r->upper_inf || at < r->upper ||
		(at == r->upper && r->upper_inc);

	if (after_lower && before_upper)
		r->window = 0;
	else if (!r->lower_inf && (r->lower > at || (r->lower == at && !r->lower_inc)))
		r->window = -1;
	else
		r->window = 1;
}

/*
 * crm.pricing_changed(): BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ...
 * FOR EACH STATEMENT on crm.discount_rules and crm.categories.  Adds one to
 * crm.pricing_version in the writer's transaction (SECURITY DEFINER: as the
 * owner of crm's tables).  Nothing in a query a Citus node sent, nor when
 * Citus manages the version table (on a cluster the cache is not used).
 */
PG_FUNCTION_INFO_V1(discount_pricing_changed);

Datum
discount_pricing_changed(PG_FUNCTION_ARGS)
{
	Oid			ver;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm.pricing_changed() must be called as a trigger")));
	if (fastpath_in_citus_task())
		return PointerGetDatum(NULL);
	ver = get_relname_relid("pricing_version", get_namespace_oid("crm", false));
	if (!OidIsValid(ver) || fastpath_citus_table(ver))
		return PointerGetDatum(NULL);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("UPDATE crm.pricing_version SET version = version + 1", false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "updating crm.pricing_version failed");
	SPI_finish();
	return PointerGetDatum(NULL);
}

/*
 * The memo of the per-call statements (the client, its turnover, segment,
 * programme, tiers and use counts; the cart's products and prices; the
 * programme's terms): their rows kept by statement and arguments for as
 * long as the calls run under the same snapshot in the same transaction,
 * so that pricing many carts of one client, or one cart for many clients,
 * in one statement (or, under REPEATABLE READ, one transaction) reads each
 * once.
 *
 * When it is right.  These statements read tables only, through functions
 * whose results depend on their arguments and the rows they read; under
 * one snapshot (the same xmin, xmax, running transactions and command id)
 * they read the same rows, so they return the same answer.  The memo is
 * emptied when the snapshot differs from the one it was filled under, when
 * the transaction ends, when a subtransaction is rolled back (its rows
 * vanish from a snapshot that does not change), on any relcache
 * invalidation (DDL, TRUNCATE) and on a change of a function or of roles.
 * It is used only by a call that may use the rule cache, when the tables
 * are plain tables without partitions or children, whose role holds
 * SELECT on every table the statements read (or on the columns they read)
 * and EXECUTE on the functions they call, and reads every row of each (no
 * row security applies to it, or a permissive policy that is true for
 * every row and no restrictive one): a statement's answer then does not
 * depend on settings such as a policy might read.  These checks are made
 * on every call, so that a privilege revoked meanwhile is seen as a fresh
 * statement would see it.
 */
#define MEMO_SLOTS		2048	/* a power of 2 */
#define MEMO_MAX_ENTRIES	1024
#define MEMO_MAX_BYTES	(8 * 1024 * 1024)

typedef struct MemoEntry
{
	uint32		hash;
	int			keylen;			/* 0: an empty slot */
	char	   *key;
	DiscRows	rows;
} MemoEntry;

/*
 * The tables the statements read, with the columns they read: a role with
 * SELECT on those columns only (crm_app on crm.client_segments) runs them
 * as well as one with SELECT on the table.  NULL: every column (a whole row
 * is read).
 */
typedef struct MemoTable
{
	const char *name;
	const char *columns[6];
} MemoTable;

static const MemoTable memo_tables[] = {
	{"clients", {"client_id"}},
	{"orders", {"client_id", "net_amount", "currency", "status", "ordered_at"}},
	{"client_segments", {"client_id", "rfm_segment", "since"}},
	{"segment_map_rules", {"segment"}},
	{"household_members", {"client_id", "program_id", "left_at"}},
	{"loyalty_accounts", {"client_id", "program_id", "tier_code"}},
	{"loyalty_programs", {NULL}},
	{"loyalty_tiers", {"program_id", "tier_code", "earn_multiplier"}},
	{"products", {"product_id", "category_id", "unit_cost"}},
	{"prices", {"price_list_id", "product_id", "price"}},
	{"price_lists", {"price_list_id", "valid", "currency"}},
	{"discount_usage", {"client_id", "rule_id", "uses"}}
};

#define MEMO_NTABLES lengthof(memo_tables)

static struct
{
	MemoryContext cxt;			/* the entries; NULL: empty */
	MemoEntry  *slots;
	int			nentries;
	bool		have_snapshot;
	Oid			user;
	TransactionId xmin;
	TransactionId xmax;
	uint32		xcnt;
	int32		subxcnt;
	bool		suboverflowed;
	bool		during_recovery;
	CommandId	curcid;
	TransactionId *xip;
	TransactionId *subxip;
	/* the tables and functions the statements use, looked up again after a reset */
	bool		have_oids;
	Oid			tables[MEMO_NTABLES];
	AttrNumber	columns[MEMO_NTABLES][6];	/* InvalidAttrNumber: no more */
	Oid			functions[3];
	uint64		hits;
	uint64		misses;
} memo;

static void
memo_reset(void)
{
	if (memo.cxt)
		MemoryContextDelete(memo.cxt);
	memo.cxt = NULL;
	memo.slots = NULL;
	memo.nentries = 0;
	memo.have_snapshot = false;
	memo.have_oids = false;
}

/* whether the snapshot is the one the memo was filled under */
static bool
memo_same_snapshot(Snapshot s)
{
	return memo.have_snapshot && memo.user == GetUserId() &&
		s->xmin == memo.xmin && s->xmax == memo.xmax && s->xcnt == memo.xcnt &&
		s->subxcnt == memo.subxcnt && s->suboverflowed == memo.suboverflowed &&
		s->takenDuringRecovery == memo.during_recovery && s->curcid == memo.curcid &&
		(s->xcnt == 0 ||
		 memcmp(s->xip, memo.xip, sizeof(TransactionId) * s->xcnt) == 0) &&
		(s->subxcnt <= 0 ||
		 memcmp(s->subxip, memo.subxip, sizeof(TransactionId) * s->subxcnt) == 0);
}

static bool
memo_lookup_oids(void)
{
	Oid			ns = get_namespace_oid("crm", true);
	static const char *const fnames[3] = {"loyalty_redeem_cap", "loyalty_earn",
	"loyalty_program_row"};

	if (!OidIsValid(ns))
		return false;
	for (int i = 0; i < (int) MEMO_NTABLES; i++)
	{
		memo.tables[i] = get_relname_relid(memo_tables[i].name, ns);
		if (!OidIsValid(memo.tables[i]))
			return false;
		for (int k = 0; k < (int) lengthof(memo_tables[i].columns); k++)
		{
			const char *col = memo_tables[i].columns[k];

			memo.columns[i][k] = col ? get_attnum(memo.tables[i], col) : InvalidAttrNumber;
			if (col && memo.columns[i][k] <= 0)
				return false;
		}
	}
	for (int i = 0; i < 3; i++)
	{
		List	   *names = list_make2(makeString("crm"), makeString((char *) fnames[i]));
		FuncCandidateList fc = FuncnameGetCandidates(names, -1, NIL, false, false, false, true);

		if (fc == NULL || fc->next != NULL)
			return false;
		memo.functions[i] = fc->oid;
	}
	memo.have_oids = true;
	return true;
}

/*
 * Whether this call may use the memo (the caller has found that it may use
 * the rule cache); the memo is emptied when the call's snapshot is not the
 * one it holds rows of.
 */
bool
discount_memo_usable(void)
{
	Snapshot	s = GetActiveSnapshot();
	Oid			user = GetUserId();
	FastPath	fp;

	if (s == NULL || s->snapshot_type != SNAPSHOT_MVCC)
		return false;
	if (!memo.have_oids && !memo_lookup_oids())
		return false;
	fastpath_init(&fp, "crm.price_cart");
	for (int i = 0; i < (int) MEMO_NTABLES; i++)
	{
		bool		whole;

		/*
		 * Plain tables only: rows of a foreign table (or of a partition or
		 * child that is one) may change under one snapshot.
		 */
		if (get_rel_relkind(memo.tables[i]) != RELKIND_RELATION ||
			has_subclass(memo.tables[i]))
			return false;
		if (!reads_every_row_ext(&fp, memo.tables[i], NULL, &whole, false) || !whole)
			return false;
		if (pg_class_aclcheck(memo.tables[i], user, ACL_SELECT) == ACLCHECK_OK)
			continue;
		if (memo_tables[i].columns[0] == NULL)
		{
			if (pg_attribute_aclcheck_all(memo.tables[i], user, ACL_SELECT,
										  ACLMASK_ALL) != ACLCHECK_OK)
				return false;
			continue;
		}
		for (int k = 0; k < (int) lengthof(memo_tables[i].columns) &&
			 memo.columns[i][k] != InvalidAttrNumber; k++)
			if (pg_attribute_aclcheck(memo.tables[i], memo.columns[i][k], user,
									  ACL_SELECT) != ACLCHECK_OK)
				return false;
	}
	for (int i = 0; i < 3; i++)
#if PG_VERSION_NUM >= 160000
		if (object_aclcheck(ProcedureRelationId, memo.functions[i], user,
							ACL_EXECUTE) != ACLCHECK_OK)
#else
		if (pg_proc_aclcheck(memo.functions[i], user, ACL_EXECUTE) != ACLCHECK_OK)
#endif
			return false;
	if (!memo_same_snapshot(s))
	{
		MemoryContext old;

		if (memo.cxt)
			MemoryContextDelete(memo.cxt);
		memo.cxt = AllocSetContextCreate(TopMemoryContext, "crm price_cart memo",
										 ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(memo.cxt);
		memo.slots = palloc0(sizeof(MemoEntry) * MEMO_SLOTS);
		memo.nentries = 0;
		memo.user = user;
		memo.xmin = s->xmin;
		memo.xmax = s->xmax;
		memo.xcnt = s->xcnt;
		memo.subxcnt = s->subxcnt;
		memo.suboverflowed = s->suboverflowed;
		memo.during_recovery = s->takenDuringRecovery;
		memo.curcid = s->curcid;
		memo.xip = palloc(sizeof(TransactionId) * Max(s->xcnt, 1));
		if (s->xcnt > 0)
			memcpy(memo.xip, s->xip, sizeof(TransactionId) * s->xcnt);
		memo.subxip = palloc(sizeof(TransactionId) * Max(s->subxcnt, 1));
		if (s->subxcnt > 0)
			memcpy(memo.subxip, s->subxip, sizeof(TransactionId) * s->subxcnt);
		memo.have_snapshot = true;
		MemoryContextSwitchTo(old);
	}
	return true;
}

static MemoEntry *
memo_slot(const char *key, int keylen, uint32 hash)
{
	uint32		i = hash & (MEMO_SLOTS - 1);

	for (;;)
	{
		MemoEntry  *e = &memo.slots[i];

		if (e->keylen == 0 ||
			(e->hash == hash && e->keylen == keylen && memcmp(e->key, key, keylen) == 0))
			return e;
		i = (i + 1) & (MEMO_SLOTS - 1);
	}
}

/* the rows kept for this key, or NULL */
DiscRows *
discount_memo_get(const char *key, int keylen)
{
	MemoEntry  *e;

	if (memo.slots == NULL)
		return NULL;
	e = memo_slot(key, keylen, hash_bytes((const unsigned char *) key, keylen));
	if (e->keylen == 0)
	{
		memo.misses++;
		return NULL;
	}
	memo.hits++;
	return &e->rows;
}

/*
 * Keeps a copy of the statement's rows (SPI_tuptable, n of them) for this
 * key; returns the copy.  A full memo is emptied first.
 */
DiscRows *
discount_memo_put(const char *key, int keylen, SPITupleTable *tt, int n)
{
	uint32		hash = hash_bytes((const unsigned char *) key, keylen);
	MemoEntry  *e;
	MemoryContext old;
	TupleDesc	desc = tt->tupdesc;
	int			ncols = desc->natts;

	if (memo.slots == NULL)
		return NULL;
	if (memo.nentries >= MEMO_MAX_ENTRIES ||
		MemoryContextMemAllocated(memo.cxt, true) > MEMO_MAX_BYTES)
	{
		/* full: emptied, filled again from the next call */
		memo_reset();
		return NULL;
	}
	e = memo_slot(key, keylen, hash);
	if (e->keylen != 0)
		return &e->rows;
	old = MemoryContextSwitchTo(memo.cxt);
	e->key = palloc(keylen);
	memcpy(e->key, key, keylen);
	e->hash = hash;
	e->rows.nrows = n;
	e->rows.ncols = ncols;
	e->rows.values = palloc(sizeof(Datum) * Max(n * ncols, 1));
	e->rows.nulls = palloc(sizeof(bool) * Max(n * ncols, 1));
	for (int r = 0; r < n; r++)
		for (int k = 0; k < ncols; k++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, k);
			bool		isnull;
			Datum		d = SPI_getbinval(tt->vals[r], desc, k + 1, &isnull);

			e->rows.nulls[r * ncols + k] = isnull;
			if (isnull)
				e->rows.values[r * ncols + k] = (Datum) 0;
			else if (att->attlen == -1)
				/* a value in a TOAST table is kept as it was read, not as a pointer */
				e->rows.values[r * ncols + k] = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
			else
				e->rows.values[r * ncols + k] = datumCopy(d, att->attbyval, att->attlen);
		}
	MemoryContextSwitchTo(old);
	e->keylen = keylen;
	memo.nentries++;
	return &e->rows;
}
