/*-------------------------------------------------------------------------
 *
 * src/loyalty_fast.c
 *
 * crm.earn_points and crm.redeem_points: the two calls an application
 * makes on every purchase, written against the tables directly.
 *
 * The operations are defined by their SQL implementations,
 * crm.loyalty_earn_sql and crm.loyalty_redeem_sql (84_loyalty_ops.sql).
 * Those run half a dozen statements a call, and for a ledger entry of a
 * few hundred bytes PostgreSQL spends most of the time preparing and
 * starting those statements, not writing rows.  The functions here do
 * the same work for the common call without statements: they find rows
 * through the tables' indexes, lock the account row, and write through
 * the executor's single-row routines (ExecSimpleRelationInsert and
 * ExecSimpleRelationUpdate, the routines logical replication applies
 * changes with), which check the tables' constraints, maintain every
 * index and fire every row trigger, foreign keys included.
 *
 * The common call is one without an order or an explicit expiry date,
 * on an existing account, with a new idempotency key and, for a
 * redemption, enough points and no lot due to expire.  Every other call
 * -- bad arguments, an unknown programme, a new account, a key already
 * used, too few points, lots to expire first, a read-only transaction --
 * goes to the SQL
 * implementation, which raises the errors and does the rare work; so
 * does every call when a table is not as installed (a column added or
 * dropped, rules, statement triggers, forced row security, partitioning),
 * because then only SQL statements do what the table's definition says.
 * A call goes to SQL before it writes anything.
 *
 * Concurrency follows the SQL functions statement by statement: the
 * account row is locked as SELECT ... FOR UPDATE locks it (in READ
 * COMMITTED the newest version, after waiting; in REPEATABLE READ and
 * SERIALIZABLE a serialization failure if it changed), and the reads
 * after the lock use a snapshot taken after it, as the next statement of
 * the SQL function would.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rls.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "fastpath.h"

PG_FUNCTION_INFO_V1(loyalty_earn_points);
PG_FUNCTION_INFO_V1(loyalty_redeem_points);

/* columns of crm.loyalty_ledger, in table order */
enum
{
	LE_CLIENT, LE_PROGRAM, LE_ENTRY, LE_KIND, LE_POINTS, LE_BALANCE_AFTER,
	LE_ORDER, LE_LOT, LE_EXPIRES, LE_REVERSES, LE_UNRECOVERED, LE_REFUND,
	LE_KEY, LE_MADE_BY, LE_SOURCE, LE_NOTE, LE_REQUEST, LE_CREATED, LE_NATTS
};

/* columns of crm.loyalty_lots */
enum
{
	LL_CLIENT, LL_PROGRAM, LL_LOT, LL_POINTS, LL_REMAINING, LL_EARNED,
	LL_EXPIRES, LL_NATTS
};

/* columns of crm.loyalty_allocations */
enum
{
	LA_CLIENT, LA_PROGRAM, LA_ENTRY, LA_LOT, LA_POINTS, LA_NATTS
};

/* columns of crm.loyalty_accounts */
enum
{
	LC_CLIENT, LC_PROGRAM, LC_TIER, LC_BALANCE, LC_OPENED, LC_TIER_SINCE,
	LC_NATTS
};

static const FastPathColumn ledger_columns[LE_NATTS] = {
	{"client_id", INT8OID}, {"program_id", INT8OID}, {"entry_id", INT8OID},
	{"kind", TEXTOID}, {"points", INT8OID}, {"balance_after", INT8OID},
	{"order_id", INT8OID}, {"lot_id", INT8OID}, {"expires_at", TIMESTAMPTZOID},
	{"reverses_entry_id", INT8OID}, {"unrecovered", INT8OID},
	{"refund_amount", NUMERICOID}, {"idempotency_key", TEXTOID},
	{"made_by", TEXTOID}, {"source", TEXTOID}, {"note", TEXTOID},
	{"request", JSONBOID}, {"created_at", TIMESTAMPTZOID}
};
static const FastPathColumn lot_columns[LL_NATTS] = {
	{"client_id", INT8OID}, {"program_id", INT8OID}, {"lot_id", INT8OID},
	{"points", INT8OID}, {"remaining", INT8OID}, {"earned_at", TIMESTAMPTZOID},
	{"expires_at", TIMESTAMPTZOID}
};
static const FastPathColumn allocation_columns[LA_NATTS] = {
	{"client_id", INT8OID}, {"program_id", INT8OID}, {"entry_id", INT8OID},
	{"lot_id", INT8OID}, {"points", INT8OID}
};
static const FastPathColumn account_columns[LC_NATTS] = {
	{"client_id", INT8OID}, {"program_id", INT8OID}, {"tier_code", TEXTOID},
	{"balance", INT8OID}, {"opened_at", TIMESTAMPTZOID},
	{"tier_since", TIMESTAMPTZOID}
};

/* the tables a call writes, as result relations of one executor state */
enum
{
	LY_ACCOUNTS, LY_LEDGER, LY_LOTS, LY_ALLOCATIONS, LY_NRELS
};

static const char *const table_names[LY_NRELS] = {
	"loyalty_accounts", "loyalty_ledger", "loyalty_lots", "loyalty_allocations"
};

/* the most columns of the four tables */
#define LY_MAXCOLS LE_NATTS

typedef struct LoyaltyCall
{
	FastPath	fp;				/* the decision, and the privileges to check */
	Oid			nsp;
	FastPathTable tables[LY_NRELS];
	Relation	rels[LY_NRELS];
	/* where each column of the enums above is in the table (0-based) */
	int			att[LY_NRELS][LY_MAXCOLS];
	EState	   *estate;
	ResultRelInfo *rri[LY_NRELS];
	EPQState	epq;
	bool		snapshot_pushed;
	bool		triggers_open;
} LoyaltyCall;

/* A program's fields the fast path reads. */
typedef struct ProgramRow
{
	int64		program_id;
	bool		lifetime_null;
	Interval	lifetime;
	bool		earned_first;
} ProgramRow;

/* A lot a redemption draws from. */
typedef struct LotPick
{
	int64		lot_id;
	int64		remaining;
	int64		take;
	TupleTableSlot *slot;
} LotPick;

static const FastPathColumn *
table_columns(int which, int *ncols)
{
	switch (which)
	{
		case LY_ACCOUNTS:
			*ncols = LC_NATTS;
			return account_columns;
		case LY_LEDGER:
			*ncols = LE_NATTS;
			return ledger_columns;
		case LY_LOTS:
			*ncols = LL_NATTS;
			return lot_columns;
		default:
			*ncols = LA_NATTS;
			return allocation_columns;
	}
}

static Oid
crm_relid(LoyaltyCall *call, const char *name)
{
	return get_relname_relid(name, call->nsp);
}

/*
 * Opens the written tables (RowExclusiveLock, as an INSERT would take)
 * when the call may write them directly (fastpath_open_write: as
 * installed, no row security applying) and the function's owner holds
 * the privileges the SQL implementation's statements need.  False: use
 * the SQL implementation, which then raises whatever error those
 * statements raise.
 */
static bool
call_open(LoyaltyCall *call)
{
	static const AclMode perms[LY_NRELS] = {
		ACL_SELECT | ACL_UPDATE, ACL_SELECT | ACL_INSERT,
		ACL_SELECT | ACL_INSERT | ACL_UPDATE, ACL_INSERT
	};
	static const int updated[LY_NRELS] = {LC_BALANCE, -1, LL_REMAINING, -1};

	call->nsp = get_namespace_oid("crm", true);
	for (int i = 0; i < LY_NRELS; i++)
	{
		const FastPathColumn *cols;
		int			ncols;

		cols = table_columns(i, &ncols);
		if (!fastpath_open_write(&call->fp, &call->tables[i], table_names[i], cols, ncols,
								 perms[i], updated[i]))
			return false;
		call->rels[i] = call->tables[i].top;
		for (int c = 0; c < ncols; c++)
			call->att[i][c] = call->tables[i].rels[0].attnum[c] - 1;
	}
	return fastpath_permitted(&call->fp);
}

/* A call of function, before any decision. */
static void
call_init(LoyaltyCall *call, const char *function)
{
	memset(call, 0, sizeof(*call));
	fastpath_init(&call->fp, function);
}

/* Closes what call_open and call_start_writes opened (locks stay). */
static void
call_close(LoyaltyCall *call)
{
	if (call->estate)
	{
		if (call->triggers_open)
			AfterTriggerEndQuery(call->estate);
		call->triggers_open = false;
		EvalPlanQualEnd(&call->epq);
		ExecCloseResultRelations(call->estate);
		ExecCloseRangeTableRelations(call->estate);
		ExecResetTupleTable(call->estate->es_tupleTable, false);
		FreeExecutorState(call->estate);
		call->estate = NULL;
	}
	for (int i = 0; i < LY_NRELS; i++)
	{
		fastpath_close(&call->tables[i]);
		call->rels[i] = NULL;
	}
	if (call->snapshot_pushed)
	{
		PopActiveSnapshot();
		call->snapshot_pushed = false;
	}
}

/*
 * A snapshot for the next step, as SPI takes one for each statement of a
 * function: in READ COMMITTED a new one, and the command counter advanced
 * so that the step sees what the transaction wrote before.
 */
static void
call_next_snapshot(LoyaltyCall *call)
{
	if (call->snapshot_pushed)
		PopActiveSnapshot();
	PushActiveSnapshot(GetTransactionSnapshot());
	call->snapshot_pushed = true;
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();
}

/*
 * The CHECK constraints of the four tables, read back from their stored
 * node trees and planned once per backend rather than once per call (the
 * executor does it for every statement; for a call of a few rows it was
 * a tenth of the time).  An entry is dropped when its table's relcache
 * entry is invalidated, which every change of its constraints causes; it
 * is rebuilt at the start of a call, when the call holds its locks.
 */
typedef struct CheckCache
{
	Oid			relid;
	bool		valid;
	int			ncheck;
	Expr	  **exprs;
	MemoryContext cxt;
} CheckCache;

static CheckCache check_cache[LY_NRELS];
static bool check_cache_callback;

static void
check_cache_invalidate(Datum arg, Oid relid)
{
	for (int i = 0; i < LY_NRELS; i++)
		if (relid == InvalidOid || check_cache[i].relid == relid)
			check_cache[i].valid = false;
}

/* Gives table t's result relation its CHECK expressions, from the cache. */
static void
call_prepare_checks(LoyaltyCall *call, int t)
{
	Relation	rel = call->rels[t];
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	int			ncheck = constr ? constr->num_check : 0;
	CheckCache *c = &check_cache[t];
	MemoryContext old;

	if (ncheck == 0)
		return;
	if (!check_cache_callback)
	{
		CacheRegisterRelcacheCallback(check_cache_invalidate, (Datum) 0);
		check_cache_callback = true;
	}
	if (!c->valid || c->relid != RelationGetRelid(rel) || c->ncheck != ncheck)
	{
		c->valid = false;
		if (c->cxt)
			MemoryContextDelete(c->cxt);
		c->cxt = AllocSetContextCreate(TopMemoryContext, "crm loyalty checks",
									   ALLOCSET_SMALL_SIZES);
		old = MemoryContextSwitchTo(c->cxt);
		c->exprs = palloc(sizeof(Expr *) * ncheck);
		for (int i = 0; i < ncheck; i++)
			c->exprs[i] = expression_planner((Expr *) stringToNode(constr->check[i].ccbin));
		MemoryContextSwitchTo(old);
		c->relid = RelationGetRelid(rel);
		c->ncheck = ncheck;
		c->valid = true;
	}
	old = MemoryContextSwitchTo(call->estate->es_query_cxt);
	CRM_RI_CHECK_EXPRS(call->rri[t]) = palloc(sizeof(ExprState *) * ncheck);
	for (int i = 0; i < ncheck; i++)
		CRM_RI_CHECK_EXPRS(call->rri[t])[i] = ExecInitExpr(c->exprs[i], NULL);
	MemoryContextSwitchTo(old);
}

/* The executor state for the writes: one result relation per table. */
static void
call_start_writes(LoyaltyCall *call)
{
	EState	   *estate = CreateExecutorState();

	crm_init_range_table(estate, &call->fp.rt);
	estate->es_output_cid = GetCurrentCommandId(true);
	estate->es_snapshot = GetActiveSnapshot();
	for (int i = 0; i < LY_NRELS; i++)
	{
		call->rri[i] = makeNode(ResultRelInfo);
		ExecInitResultRelation(estate, call->rri[i], i + 1);
		ExecOpenIndices(call->rri[i], false);
	}
	crm_epq_init(&call->epq, estate);
	call->estate = estate;
	for (int i = 0; i < LY_NRELS; i++)
		call_prepare_checks(call, i);
	AfterTriggerBeginQuery();
	call->triggers_open = true;
}

/* Fires the row triggers the writes queued (foreign keys among them). */
static void
call_finish_writes(LoyaltyCall *call)
{
	AfterTriggerEndQuery(call->estate);
	call->triggers_open = false;
}

/* Column c of table t of the call: its value in slot. */
static Datum
col_get(LoyaltyCall *call, int t, TupleTableSlot *slot, int c, bool *isnull)
{
	return slot_getattr(slot, call->att[t][c] + 1, isnull);
}

static int64
col_int8(LoyaltyCall *call, int t, TupleTableSlot *slot, int c, bool *isnull)
{
	Datum		d = col_get(call, t, slot, c, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

/* Sets column c of table t in a row being built. */
static void
col_set(LoyaltyCall *call, int t, TupleTableSlot *slot, int c, Datum value, bool isnull)
{
	slot->tts_values[call->att[t][c]] = value;
	slot->tts_isnull[call->att[t][c]] = isnull;
}

/*
 * A new row of table t: every column NULL, or a copy of the row in from
 * (an update), to be filled with col_set.
 */
static TupleTableSlot *
row_new(LoyaltyCall *call, int t, TupleTableSlot *from)
{
	TupleDesc	desc = RelationGetDescr(call->rels[t]);
	TupleTableSlot *slot = ExecInitExtraTupleSlot(call->estate, desc, &TTSOpsVirtual);

	ExecClearTuple(slot);
	if (from)
	{
		slot_getallattrs(from);
		memcpy(slot->tts_values, from->tts_values, sizeof(Datum) * desc->natts);
		memcpy(slot->tts_isnull, from->tts_isnull, sizeof(bool) * desc->natts);
	}
	else
	{
		memset(slot->tts_values, 0, sizeof(Datum) * desc->natts);
		memset(slot->tts_isnull, true, sizeof(bool) * desc->natts);
	}
	return slot;
}

/* An index of a crm table, by name, opened for a scan. */
static Relation
crm_index(LoyaltyCall *call, const char *name)
{
	Oid			relid = crm_relid(call, name);

	if (!OidIsValid(relid))
		return NULL;
	return index_open(relid, AccessShareLock);
}

/* the columns of crm.loyalty_programs the fast path reads */
enum
{
	LP_ID, LP_LIFETIME, LP_ORDER, LP_NATTS
};

static const FastPathColumn program_columns[LP_NATTS] = {
	{"program_id", INT8OID, true}, {"points_lifetime", INTERVALOID, false},
	{"lot_order", TEXTOID, false}
};

/*
 * The programme with this code, read through the table's unique index
 * when a direct read does what a query would (fastpath_open_read; the
 * table itself, not partitioned).  False when there is none, or when the
 * read may not be direct (the reason is set): the SQL implementation
 * reports it.
 */
static bool
program_lookup(LoyaltyCall *call, text *code, ProgramRow *p)
{
	FastPathTable programs;
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	ScanKeyData key;
	TupleTableSlot *slot;
	const AttrNumber *att;
	bool		found = false;

	if (!fastpath_open_read(&call->fp, &programs, "loyalty_programs", program_columns, LP_NATTS))
		return false;
	rel = programs.top;
	att = programs.rels[0].attnum;
	idx = crm_index(call, "loyalty_programs_code_key");
	if (programs.nrels != 1 || programs.rels[0].rel != rel || idx == NULL)
	{
		if (idx)
			index_close(idx, AccessShareLock);
		fastpath_close(&programs);
		return fastpath_decline(&call->fp, "partitioned", "crm.loyalty_programs");
	}
	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(code));
	key.sk_collation = idx->rd_indcollation[0];
	slot = table_slot_create(rel, NULL);
	scan = crm_index_beginscan(rel, idx, GetActiveSnapshot(), 1);
	index_rescan(scan, &key, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d;

		found = true;
		p->program_id = DatumGetInt64(slot_getattr(slot, att[LP_ID], &isnull));
		d = slot_getattr(slot, att[LP_LIFETIME], &p->lifetime_null);
		if (!p->lifetime_null)
			p->lifetime = *DatumGetIntervalP(d);
		d = slot_getattr(slot, att[LP_ORDER], &isnull);
		p->earned_first = !isnull && strcmp(TextDatumGetCString(d), "earned_first") == 0;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	fastpath_close(&programs);
	return found;
}

/* the columns of crm.household_members the fast path reads */
enum
{
	HM_CLIENT, HM_PROGRAM, HM_LEFT, HM_NATTS
};

static const FastPathColumn member_columns[HM_NATTS] = {
	{"client_id", INT8OID, true}, {"program_id", INT8OID, true},
	{"left_at", TIMESTAMPTZOID, false}
};

/*
 * Whether the client is a member of a household in the programme now,
 * through the index of current memberships, read as a query would
 * (fastpath_open_read).  A household member's redemption is the SQL
 * implementation's (it locks the household first and may draw on the
 * other members' points), so true also when the table cannot be read
 * directly: the call then goes to SQL, which decides.
 */
static bool
household_member(LoyaltyCall *call, int64 client_id, int64 program_id)
{
	FastPathTable members;
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	ScanKeyData keys[2];
	TupleTableSlot *slot;
	bool		found = false;

	if (!fastpath_open_read(&call->fp, &members, "household_members", member_columns, HM_NATTS))
		return true;
	rel = members.top;
	idx = crm_index(call, "household_members_active_key");
	if (members.nrels != 1 || members.rels[0].rel != rel || idx == NULL)
	{
		if (idx)
			index_close(idx, AccessShareLock);
		fastpath_close(&members);
		return true;
	}
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(client_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(program_id));
	slot = table_slot_create(rel, NULL);
	scan = crm_index_beginscan(rel, idx, GetActiveSnapshot(), 2);
	index_rescan(scan, keys, 2, NULL, 0);
	while (!found && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;

		(void) slot_getattr(slot, members.rels[0].attnum[HM_LEFT], &isnull);
		found = isnull;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	fastpath_close(&members);
	return found;
}

/*
 * Finds and locks the account row as SELECT ... FOR UPDATE does, into
 * slot.  False when there is none (or it vanished): the SQL
 * implementation opens it or reports it.
 */
static bool
account_lock(LoyaltyCall *call, int64 client_id, int64 program_id, TupleTableSlot *slot)
{
	Relation	rel = call->rels[LY_ACCOUNTS];
	Relation	idx = crm_index(call, "loyalty_accounts_pkey");
	IndexScanDesc scan;
	ScanKeyData keys[2];
	bool		found;
	ItemPointerData tid;
	TM_Result	res;
	TM_FailureData tmfd;

	if (idx == NULL)
		return false;
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(client_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(program_id));
	scan = crm_index_beginscan(rel, idx, GetActiveSnapshot(), 2);
	index_rescan(scan, keys, 2, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found)
		tid = slot->tts_tid;
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	if (!found)
		return false;

	res = table_tuple_lock(rel, &tid, GetActiveSnapshot(), slot,
						   GetCurrentCommandId(true), LockTupleExclusive, LockWaitBlock,
						   IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
						   &tmfd);
	switch (res)
	{
		case TM_Ok:
			break;
		case TM_Updated:
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update")));
			return false;
		default:
			return false;
	}
	/* the newest version still belongs to the account (its key cannot change) */
	{
		bool		isnull;

		if (col_int8(call, LY_ACCOUNTS, slot, LC_CLIENT, &isnull) != client_id ||
			col_int8(call, LY_ACCOUNTS, slot, LC_PROGRAM, &isnull) != program_id)
			return false;
	}
	return true;
}

/* Whether the account already has an entry under this key. */
static bool
key_used(LoyaltyCall *call, int64 client_id, int64 program_id, text *key)
{
	Relation	rel = call->rels[LY_LEDGER];
	Relation	idx = crm_index(call, "loyalty_ledger_idempotency_key");
	IndexScanDesc scan;
	ScanKeyData keys[3];
	TupleTableSlot *slot;
	bool		found;

	if (idx == NULL)
		return true;			/* let SQL decide */
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(client_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(program_id));
	ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(key));
	keys[2].sk_collation = idx->rd_indcollation[2];
	slot = table_slot_create(rel, NULL);
	scan = crm_index_beginscan(rel, idx, GetActiveSnapshot(), 3);
	index_rescan(scan, keys, 3, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(idx, AccessShareLock);
	return found;
}

/* A key of the request object, in jsonb_build_object's form. */
static void
push_key(JsonbParseState **st, const char *k)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) k;
	v.val.string.len = strlen(k);
	pushJsonbValue(st, WJB_KEY, &v);
}

static void
push_text(JsonbParseState **st, const char *k, text *t)
{
	JsonbValue	v;

	push_key(st, k);
	if (t == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = VARDATA_ANY(t);
		v.val.string.len = VARSIZE_ANY_EXHDR(t);
	}
	pushJsonbValue(st, WJB_VALUE, &v);
}

static void
push_null(JsonbParseState **st, const char *k)
{
	JsonbValue	v;

	push_key(st, k);
	v.type = jbvNull;
	pushJsonbValue(st, WJB_VALUE, &v);
}

/*
 * The request object the SQL implementation stores, for a call without
 * an order (and, for earn_points, without expires_at):
 * {"op": op, "points": points, "order_id": null, ["expires_at": null,]
 *  "note": note}.
 */
static Jsonb *
request_object(const char *op, int64 points, bool with_expiry, text *note)
{
	JsonbParseState *st = NULL;
	JsonbValue	v;
	JsonbValue *res;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_key(&st, "op");
	v.type = jbvString;
	v.val.string.val = (char *) op;
	v.val.string.len = strlen(op);
	pushJsonbValue(&st, WJB_VALUE, &v);
	push_key(&st, "points");
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(points);
	pushJsonbValue(&st, WJB_VALUE, &v);
	push_null(&st, "order_id");
	if (with_expiry)
		push_null(&st, "expires_at");
	push_text(&st, "note", note);
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/* A ledger row with the columns every entry of the fast path sets. */
static TupleTableSlot *
ledger_row(LoyaltyCall *call, int64 client_id, int64 program_id, int64 entry_id,
		   const char *kind, int64 points, int64 balance_after, text *key,
		   text *actor, const char *source, text *note, Jsonb *request,
		   TimestampTz at)
{
	TupleTableSlot *slot = row_new(call, LY_LEDGER, NULL);
	Datum		made_by;

	if (actor)
		made_by = PointerGetDatum(actor);
	else
		made_by = CStringGetTextDatum(GetUserNameFromId(GetSessionUserId(), false));
	col_set(call, LY_LEDGER, slot, LE_CLIENT, Int64GetDatum(client_id), false);
	col_set(call, LY_LEDGER, slot, LE_PROGRAM, Int64GetDatum(program_id), false);
	col_set(call, LY_LEDGER, slot, LE_ENTRY, Int64GetDatum(entry_id), false);
	col_set(call, LY_LEDGER, slot, LE_KIND, CStringGetTextDatum(kind), false);
	col_set(call, LY_LEDGER, slot, LE_POINTS, Int64GetDatum(points), false);
	col_set(call, LY_LEDGER, slot, LE_BALANCE_AFTER, Int64GetDatum(balance_after), false);
	col_set(call, LY_LEDGER, slot, LE_UNRECOVERED, Int64GetDatum(0), false);
	col_set(call, LY_LEDGER, slot, LE_KEY, PointerGetDatum(key), false);
	col_set(call, LY_LEDGER, slot, LE_MADE_BY, made_by, false);
	col_set(call, LY_LEDGER, slot, LE_SOURCE, CStringGetTextDatum(source), false);
	col_set(call, LY_LEDGER, slot, LE_NOTE, PointerGetDatum(note), note == NULL);
	col_set(call, LY_LEDGER, slot, LE_REQUEST, JsonbPGetDatum(request), false);
	col_set(call, LY_LEDGER, slot, LE_CREATED, TimestampTzGetDatum(at), false);
	return slot;
}

/* Inserts a ledger row and returns it as a crm.loyalty_ledger value. */
static Datum
ledger_insert(LoyaltyCall *call, TupleTableSlot *slot, MemoryContext result_cxt)
{
	HeapTuple	tuple;
	bool		should_free;
	MemoryContext old;
	Datum		result;

	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationInsert(call->rri[LY_LEDGER], call->estate, slot);
	tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
	old = MemoryContextSwitchTo(result_cxt);
	result = heap_copy_tuple_as_datum(tuple, RelationGetDescr(call->rels[LY_LEDGER]));
	MemoryContextSwitchTo(old);
	return result;
}

/* The next entry_id: the ledger's identity sequence. */
static int64
next_entry_id(LoyaltyCall *call)
{
	Oid			seq = crm_relid(call, "loyalty_ledger_entry_id_seq");

	if (!OidIsValid(seq))
		seq = crm_identity_sequence(call->rels[LY_LEDGER], call->att[LY_LEDGER][LE_ENTRY] + 1);
	return nextval_internal(seq, false);
}

/* Sets the account's balance: a copy of the locked row with a new balance. */
static void
account_update(LoyaltyCall *call, TupleTableSlot *locked, int64 balance)
{
	TupleTableSlot *slot = row_new(call, LY_ACCOUNTS, locked);

	col_set(call, LY_ACCOUNTS, slot, LC_BALANCE, Int64GetDatum(balance), false);
	ExecStoreVirtualTuple(slot);
	ExecSimpleRelationUpdate(call->rri[LY_ACCOUNTS], call->estate, &call->epq, locked, slot);
}

/*
 * A well-formed idempotency key the caller may use: 1..200 characters, not
 * crm:...  The rule of crm.loyalty_check_args, which the SQL twins apply;
 * test/pgtap/twins.sql gives both keys on and over its edges.
 */
static bool
key_ok(text *key)
{
	int			bytes = VARSIZE_ANY_EXHDR(key);
	const char *s = VARDATA_ANY(key);
	int			chars;

	if (bytes == 0)
		return false;
	chars = pg_mbstrlen_with_len(s, bytes);
	if (chars > 200)
		return false;
	if (bytes >= 4 && memcmp(s, "crm:", 4) == 0)
		return false;
	return true;
}

/*
 * The steps both calls share: open the tables, find the programme, lock
 * the account (into *acct), check the key is new, read the balance.
 * False: the call goes to SQL (after call_end).
 */
static bool
call_begin(LoyaltyCall *call, int64 client_id, text *program, text *key, bool redeem,
		   ProgramRow *prog, TupleTableSlot **acct, int64 *balance)
{
	bool		isnull;

	*acct = NULL;
	if (!call_open(call))
		return false;
	call_next_snapshot(call);
	*acct = table_slot_create(call->rels[LY_ACCOUNTS], NULL);
	if (!program_lookup(call, program, prog))
		return fastpath_decline(&call->fp, "unknown programme", NULL);	/* unless set */
	/* a household member's redemption: before the account is locked, as SQL locks the household first */
	if (redeem && household_member(call, client_id, prog->program_id))
		return fastpath_decline(&call->fp, "household member", NULL);	/* unless set */
	if (!account_lock(call, client_id, prog->program_id, *acct))
		return fastpath_decline(&call->fp, "no account yet", NULL);
	call_next_snapshot(call);
	if (key_used(call, client_id, prog->program_id, key))
		return fastpath_decline(&call->fp, "key used before", NULL);
	*balance = col_int8(call, LY_ACCOUNTS, *acct, LC_BALANCE, &isnull);
	if (isnull)
		return fastpath_decline(&call->fp, "unusual data", NULL);
	return true;
}

/* Ends a call: drops the account slot, closes what is open. */
static void
call_end(LoyaltyCall *call, TupleTableSlot *acct)
{
	if (acct)
		ExecDropSingleTupleTableSlot(acct);
	call_close(call);
}

/*
 * crm.earn_points(client_id, program, points, idempotency_key,
 *                 order_id, expires_at, note, actor)
 */
Datum
loyalty_earn_points(PG_FUNCTION_ARGS)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	LoyaltyCall call;
	ProgramRow	prog;
	int64		client_id,
				points,
				balance,
				entry_id;
	text	   *program,
			   *key,
			   *note,
			   *actor;
	TupleTableSlot *acct;
	TupleTableSlot *lot;
	TimestampTz at;
	bool		expires_null;
	Datum		expires = (Datum) 0;
	Datum		result;

	/* the common call only; everything else as SQL does it */
	call_init(&call, "crm.earn_points");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		!PG_ARGISNULL(4) || !PG_ARGISNULL(5) || XactReadOnly)
	{
		fastpath_decline(&call.fp,
						 XactReadOnly ? "read-only transaction" :
						 (!PG_ARGISNULL(4) || !PG_ARGISNULL(5)) ? "order or expiry given" :
						 "arguments", NULL);
		return fastpath_call_sql(&call.fp, fcinfo, "loyalty_earn_sql");
	}
	client_id = PG_GETARG_INT64(0);
	program = PG_GETARG_TEXT_PP(1);
	points = PG_GETARG_INT64(2);
	key = PG_GETARG_TEXT_PP(3);
	note = PG_ARGISNULL(6) ? NULL : PG_GETARG_TEXT_PP(6);
	actor = PG_ARGISNULL(7) ? NULL : PG_GETARG_TEXT_PP(7);
	if (points <= 0 || !key_ok(key))
	{
		fastpath_decline(&call.fp, "arguments", NULL);
		return fastpath_call_sql(&call.fp, fcinfo, "loyalty_earn_sql");
	}

	if (!call_begin(&call, client_id, program, key, false, &prog, &acct, &balance))
		goto sql;
	if (points > PG_INT64_MAX - balance)
	{
		fastpath_decline(&call.fp, "balance overflow", NULL);
		goto sql;
	}

	/* the entry, its lot and the balance */
	call_start_writes(&call);
	at = GetCurrentTimestamp();
	expires_null = prog.lifetime_null;
	if (!expires_null)
		expires = DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(at),
									  IntervalPGetDatum(&prog.lifetime));
	entry_id = next_entry_id(&call);
	{
		TupleTableSlot *e = ledger_row(&call, client_id, prog.program_id, entry_id, "earn",
										points, balance + points, key, actor, "earn_points",
										note, request_object("earn_points", points, true, note),
										at);

		col_set(&call, LY_LEDGER, e, LE_LOT, Int64GetDatum(entry_id), false);
		col_set(&call, LY_LEDGER, e, LE_EXPIRES, expires, expires_null);
		result = ledger_insert(&call, e, result_cxt);
	}
	lot = row_new(&call, LY_LOTS, NULL);
	col_set(&call, LY_LOTS, lot, LL_CLIENT, Int64GetDatum(client_id), false);
	col_set(&call, LY_LOTS, lot, LL_PROGRAM, Int64GetDatum(prog.program_id), false);
	col_set(&call, LY_LOTS, lot, LL_LOT, Int64GetDatum(entry_id), false);
	col_set(&call, LY_LOTS, lot, LL_POINTS, Int64GetDatum(points), false);
	col_set(&call, LY_LOTS, lot, LL_REMAINING, Int64GetDatum(points), false);
	col_set(&call, LY_LOTS, lot, LL_EARNED, TimestampTzGetDatum(at), false);
	col_set(&call, LY_LOTS, lot, LL_EXPIRES, expires, expires_null);
	ExecStoreVirtualTuple(lot);
	ExecSimpleRelationInsert(call.rri[LY_LOTS], call.estate, lot);
	account_update(&call, acct, balance + points);
	call_finish_writes(&call);
	call_end(&call, acct);
	fastpath_taken(&call.fp);
	PG_RETURN_DATUM(result);

sql:
	call_end(&call, acct);
	return fastpath_call_sql(&call.fp, fcinfo, "loyalty_earn_sql");
}

/*
 * The lots a redemption of points draws from, in the programme's order:
 * soonest expiry first (never-expiring last), or oldest lot first.
 * Returns the number of lots, 0 when the SQL implementation must do it:
 * a lot is due to expire (expiry comes first), or the live lots do not
 * hold the points.
 */
static int
pick_lots(LoyaltyCall *call, int64 client_id, ProgramRow *prog, int64 points,
		  TimestampTz at, LotPick **picks_out)
{
	Relation	rel = call->rels[LY_LOTS];
	Relation	idx = crm_index(call, "loyalty_lots_open_idx");
	IndexScanDesc scan;
	ScanKeyData keys[2];
	TupleTableSlot *slot;
	int			n = 0,
				cap = 8;
	LotPick    *picks = palloc(sizeof(LotPick) * cap);
	int64		need = points;
	bool		due = false;

	if (idx == NULL)
		return 0;
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(client_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(prog->program_id));
	slot = table_slot_create(rel, &call->estate->es_tupleTable);
	scan = crm_index_beginscan(rel, idx, GetActiveSnapshot(), 2);
	index_rescan(scan, keys, 2, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		int64		remaining = col_int8(call, LY_LOTS, slot, LL_REMAINING, &isnull);
		Datum		exp = col_get(call, LY_LOTS, slot, LL_EXPIRES, &isnull);

		if (remaining <= 0)
			continue;
		if (!isnull && DatumGetTimestampTz(exp) <= at)
		{
			due = true;
			break;
		}
		if (n == cap)
		{
			cap *= 2;
			picks = repalloc(picks, sizeof(LotPick) * cap);
		}
		picks[n].lot_id = col_int8(call, LY_LOTS, slot, LL_LOT, &isnull);
		picks[n].remaining = remaining;
		picks[n].slot = table_slot_create(rel, &call->estate->es_tupleTable);
		ExecCopySlot(picks[n].slot, slot);
		picks[n].slot->tts_tid = slot->tts_tid;
		n++;
		if (!prog->earned_first)
		{
			/* index order is the spending order: stop when enough */
			need -= Min(remaining, need);
			if (need == 0)
				break;
		}
	}
	index_endscan(scan);
	index_close(idx, AccessShareLock);
	if (due)
		return 0;
	if (prog->earned_first)
	{
		/* every live lot was read (none is due): oldest first */
		for (int i = 1; i < n; i++)
		{
			LotPick		p = picks[i];
			int			j = i - 1;

			while (j >= 0 && picks[j].lot_id > p.lot_id)
			{
				picks[j + 1] = picks[j];
				j--;
			}
			picks[j + 1] = p;
		}
	}
	need = points;
	for (int i = 0; i < n; i++)
	{
		picks[i].take = Min(picks[i].remaining, need);
		need -= picks[i].take;
		if (need == 0)
		{
			n = i + 1;
			break;
		}
	}
	if (need > 0)
		return 0;
	*picks_out = picks;
	return n;
}

/*
 * crm.redeem_points(client_id, program, points, idempotency_key,
 *                   order_id, note, actor)
 */
Datum
loyalty_redeem_points(PG_FUNCTION_ARGS)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	LoyaltyCall call;
	ProgramRow	prog;
	int64		client_id,
				points,
				balance,
				entry_id;
	text	   *program,
			   *key,
			   *note,
			   *actor;
	TupleTableSlot *acct;
	TimestampTz at;
	Datum		result;
	LotPick    *picks = NULL;
	int			npicks;

	call_init(&call, "crm.redeem_points");
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		!PG_ARGISNULL(4) || XactReadOnly)
	{
		fastpath_decline(&call.fp,
						 XactReadOnly ? "read-only transaction" :
						 !PG_ARGISNULL(4) ? "order given" : "arguments", NULL);
		return fastpath_call_sql(&call.fp, fcinfo, "loyalty_redeem_sql");
	}
	client_id = PG_GETARG_INT64(0);
	program = PG_GETARG_TEXT_PP(1);
	points = PG_GETARG_INT64(2);
	key = PG_GETARG_TEXT_PP(3);
	note = PG_ARGISNULL(5) ? NULL : PG_GETARG_TEXT_PP(5);
	actor = PG_ARGISNULL(6) ? NULL : PG_GETARG_TEXT_PP(6);
	if (points <= 0 || !key_ok(key))
	{
		fastpath_decline(&call.fp, "arguments", NULL);
		return fastpath_call_sql(&call.fp, fcinfo, "loyalty_redeem_sql");
	}

	if (!call_begin(&call, client_id, program, key, true, &prog, &acct, &balance))
		goto sql;
	if (balance < points)
	{
		fastpath_decline(&call.fp, "too few points", NULL);
		goto sql;
	}

	call_start_writes(&call);
	at = GetCurrentTimestamp();
	npicks = pick_lots(&call, client_id, &prog, points, at, &picks);
	if (npicks == 0)
	{
		fastpath_decline(&call.fp, "lots due to expire", NULL);
		goto sql;
	}

	/* the entry, its allocations, the lots and the balance */
	entry_id = next_entry_id(&call);
	{
		TupleTableSlot *e = ledger_row(&call, client_id, prog.program_id, entry_id, "redeem",
										-points, balance - points, key, actor, "redeem_points",
										note, request_object("redeem_points", points, false, note),
										at);

		if (npicks == 1)
		{
			col_set(&call, LY_LEDGER, e, LE_LOT, Int64GetDatum(picks[0].lot_id), false);
		}
		result = ledger_insert(&call, e, result_cxt);
	}
	for (int i = 0; i < npicks; i++)
	{
		TupleTableSlot *al = row_new(&call, LY_ALLOCATIONS, NULL);
		TupleTableSlot *lu = row_new(&call, LY_LOTS, picks[i].slot);

		col_set(&call, LY_ALLOCATIONS, al, LA_CLIENT, Int64GetDatum(client_id), false);
		col_set(&call, LY_ALLOCATIONS, al, LA_PROGRAM, Int64GetDatum(prog.program_id), false);
		col_set(&call, LY_ALLOCATIONS, al, LA_ENTRY, Int64GetDatum(entry_id), false);
		col_set(&call, LY_ALLOCATIONS, al, LA_LOT, Int64GetDatum(picks[i].lot_id), false);
		col_set(&call, LY_ALLOCATIONS, al, LA_POINTS, Int64GetDatum(-picks[i].take), false);
		ExecStoreVirtualTuple(al);
		ExecSimpleRelationInsert(call.rri[LY_ALLOCATIONS], call.estate, al);

		col_set(&call, LY_LOTS, lu, LL_REMAINING,
				Int64GetDatum(picks[i].remaining - picks[i].take), false);
		ExecStoreVirtualTuple(lu);
		ExecSimpleRelationUpdate(call.rri[LY_LOTS], call.estate, &call.epq, picks[i].slot, lu);
	}
	account_update(&call, acct, balance - points);
	call_finish_writes(&call);
	call_end(&call, acct);
	fastpath_taken(&call.fp);
	PG_RETURN_DATUM(result);

sql:
	call_end(&call, acct);
	return fastpath_call_sql(&call.fp, fcinfo, "loyalty_redeem_sql");
}
