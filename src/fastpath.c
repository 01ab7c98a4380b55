/*-------------------------------------------------------------------------
 *
 * src/fastpath.c
 *
 * When a C function may read or write crm's tables without a statement,
 * and how it hands its call to its SQL twin otherwise; the rules are in
 * fastpath.h.  Also the per-backend counters of those decisions
 * (crm.fast_path_stats) and the crm.log_fast_path setting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace_d.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "fastpath.h"

static bool log_fast_path = false;

/* the one reason that lets a call take the shards path */
static const char citus_reason[] = "managed by Citus";

void
fastpath_define_settings(void)
{
	DefineCustomBoolVariable("crm.log_fast_path",
							 "Logs, for every call of a crm function with a C path, which path it took and why.",
							 "The C path reads or writes crm's tables directly; the SQL path runs the function's SQL twin.",
							 &log_fast_path, false, PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("crm");
}

void
fastpath_init(FastPath *fp, const char *function)
{
	memset(fp, 0, sizeof(*fp));
	fp->function = function;
}

bool
fastpath_decline(FastPath *fp, const char *reason, const char *detail)
{
	if (fp->reason == NULL)
	{
		fp->reason = reason;
		fp->detail = detail ? pstrdup(detail) : NULL;
	}
	return false;
}

/*
 * Whether Citus manages the table: distributed, reference or a Citus local
 * table, listed in pg_dist_partition.  On a coordinator such a table is a
 * shell whose heap holds nothing, or rows from before it was distributed.
 */
bool
fastpath_citus_table(Oid relid)
{
	Oid			dist = get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE);
	Relation	rel;
	TupleDesc	desc;
	AttrNumber	att = InvalidAttrNumber;
	ScanKeyData key;
	SysScanDesc scan;
	Oid			index;
	bool		found;

	if (!OidIsValid(dist))
		return false;
	rel = table_open(dist, AccessShareLock);
	desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), "logicalrelid") == 0)
			att = i + 1;
	if (att == InvalidAttrNumber)
	{
		/* not Citus's catalog as known: assume the worst */
		table_close(rel, AccessShareLock);
		return true;
	}
	/* Citus's unique index on logicalrelid when it is there, else a heap scan */
	index = get_relname_relid("pg_dist_partition_logical_relid_index", PG_CATALOG_NAMESPACE);
	if (OidIsValid(index))
	{
		Relation	irel = index_open(index, AccessShareLock);

		if (irel->rd_index->indrelid != dist || irel->rd_index->indnkeyatts < 1 ||
			irel->rd_index->indkey.values[0] != att)
			index = InvalidOid;
		index_close(irel, AccessShareLock);
	}
	ScanKeyInit(&key, att, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, index, OidIsValid(index), NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Whether this backend runs a query that a Citus node sent it: Citus is
 * installed in the database and the session is one of Citus's own
 * ("citus_internal gpid=...").  crm.in_citus_task() in SQL.
 */
bool
fastpath_in_citus_task(void)
{
	const char *app = GetConfigOption("application_name", true, false);

	return app != NULL && strncmp(app, "citus_internal gpid=", 20) == 0 &&
		OidIsValid(get_extension_oid("citus", true));
}

PG_FUNCTION_INFO_V1(crm_in_citus_task);

/* crm.in_citus_task() */
Datum
crm_in_citus_task(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(fastpath_in_citus_task());
}

/*
 * In a Citus task, the error of crm.refuse_in_citus_task(function), which
 * holds its text; elsewhere nothing.
 */
void
fastpath_refuse_in_citus_task(const char *function)
{
	Oid			argtypes[1] = {TEXTOID};
	Oid			fn;

	if (!fastpath_in_citus_task())
		return;
	fn = LookupFuncName(list_make2(makeString("crm"), makeString("refuse_in_citus_task")),
						1, argtypes, false);
	OidFunctionCall1(fn, CStringGetTextDatum(function));
}

/* "crm.orders" or "crm.orders_p3": a relation's name for a message */
static char *
rel_name(Relation rel)
{
	return psprintf("%s.%s", get_namespace_name(RelationGetNamespace(rel)),
					RelationGetRelationName(rel));
}

/*
 * Whether a relation keeps its rows where a direct pass finds them: an
 * ordinary heap table, not Citus's (unless the caller asked Citus already).
 */
static bool
storage_ok(FastPath *fp, Relation rel, bool citus_checked)
{
	if (rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
		return fastpath_decline(fp, "foreign table", rel_name(rel));
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		return fastpath_decline(fp, "not a table", rel_name(rel));
	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID)
		return fastpath_decline(fp, "not a heap table", rel_name(rel));
	if (!citus_checked && fastpath_citus_table(RelationGetRelid(rel)))
		return fastpath_decline(fp, citus_reason, rel_name(rel));
	return true;
}

/*
 * Finds the columns in a relation (read mode: by name, with their type,
 * NOT NULL where asked, a deterministic collation, stored).
 */
static bool
columns_read(FastPath *fp, FastPathRel *r, const FastPathColumn *cols, int ncols)
{
	TupleDesc	desc = RelationGetDescr(r->rel);

	r->attnum = palloc0(sizeof(AttrNumber) * ncols);
	r->maxatt = 0;
	for (int c = 0; c < ncols; c++)
	{
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (att->attisdropped || strcmp(NameStr(att->attname), cols[c].name) != 0)
				continue;
			if (att->atttypid != cols[c].type || (cols[c].not_null && !att->attnotnull))
				break;
			if (OidIsValid(att->attcollation) &&
				!get_collation_isdeterministic(att->attcollation))
				break;
#ifdef ATTRIBUTE_GENERATED_VIRTUAL
			if (att->attgenerated == ATTRIBUTE_GENERATED_VIRTUAL)
				break;
#endif
			r->attnum[c] = att->attnum;
			r->maxatt = Max(r->maxatt, att->attnum);
			break;
		}
		if (r->attnum[c] == InvalidAttrNumber)
			return fastpath_decline(fp, "column not as installed",
									psprintf("%s.%s", rel_name(r->rel), cols[c].name));
	}
	return true;
}

static void
table_reset(FastPathTable *t, int ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

/* The table crm.<relname>, opened with lockmode; NULL (declined) if none. */
static Relation
open_named(FastPath *fp, const char *relname, LOCKMODE lockmode)
{
	Oid			nsp = get_namespace_oid("crm", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;

	if (!OidIsValid(relid))
	{
		fastpath_decline(fp, "no such table", psprintf("crm.%s", relname));
		return NULL;
	}
	return table_open(relid, lockmode);
}

bool
fastpath_open_read(FastPath *fp, FastPathTable *t, const char *relname,
				   const FastPathColumn *cols, int ncols)
{
	Relation	top;
	Oid			relid;
	char		kind;
	List	   *leaves = NIL;
	ListCell   *lc;

	table_reset(t, ncols);
	if ((top = open_named(fp, relname, AccessShareLock)) == NULL)
		return false;
	t->top = top;
	relid = RelationGetRelid(top);
	kind = top->rd_rel->relkind;

	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
		storage_ok(fp, top, false);
	else if (fastpath_citus_table(relid))
		fastpath_decline(fp, citus_reason, rel_name(top));
	else if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		fastpath_decline(fp, "privileges", rel_name(top));
	else if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		fastpath_decline(fp, "row security", rel_name(top));
	if (fp->reason)
	{
		fastpath_close(t);
		return false;
	}

	/* the relations a query would read: the table and its descendants */
	if (kind == RELKIND_RELATION && !top->rd_rel->relhassubclass)
		leaves = list_make1_oid(relid);
	else
		leaves = find_all_inheritors(relid, AccessShareLock, NULL);
	t->rels = palloc0(sizeof(FastPathRel) * Max(list_length(leaves), 1));
	foreach(lc, leaves)
	{
		Oid			leaf = lfirst_oid(lc);
		FastPathRel *r = &t->rels[t->nrels];

		if (get_rel_relkind(leaf) == RELKIND_PARTITIONED_TABLE)
			continue;			/* no rows of its own */
		r->rel = leaf == relid ? top : table_open(leaf, NoLock);
		t->nrels++;
		if (!storage_ok(fp, r->rel, r->rel == top) || !columns_read(fp, r, cols, ncols))
		{
			fastpath_close(t);
			return false;
		}
	}
	return true;
}

/*
 * The columns of a table a call writes: exactly those (columns dropped
 * since are skipped), none generated; their 1-based positions into r.
 */
static bool
columns_written(FastPath *fp, FastPathRel *r, const FastPathColumn *cols, int ncols)
{
	TupleDesc	desc = RelationGetDescr(r->rel);
	int			found = 0;

	r->attnum = palloc0(sizeof(AttrNumber) * ncols);
	r->maxatt = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);
		int			c;

		if (a->attisdropped)
			continue;
		for (c = 0; c < ncols; c++)
			if (strcmp(NameStr(a->attname), cols[c].name) == 0)
				break;
		if (c == ncols || a->atttypid != cols[c].type || a->attgenerated != '\0')
			return fastpath_decline(fp, "columns not as installed",
									psprintf("%s.%s", rel_name(r->rel), NameStr(a->attname)));
		r->attnum[c] = a->attnum;
		r->maxatt = Max(r->maxatt, a->attnum);
		found++;
	}
	if (found != ncols)
		return fastpath_decline(fp, "columns not as installed", rel_name(r->rel));
	return true;
}

bool
fastpath_open_write(FastPath *fp, FastPathTable *t, const char *relname,
					const FastPathColumn *cols, int ncols, AclMode perms, int updated)
{
	Relation	rel;
	TriggerDesc *trig;

	table_reset(t, ncols);
	if ((rel = open_named(fp, relname, RowExclusiveLock)) == NULL)
		return false;
	t->top = rel;
	t->rels = palloc0(sizeof(FastPathRel));
	t->rels[0].rel = rel;
	t->nrels = 1;
	trig = rel->trigdesc;
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		fastpath_decline(fp, "partitioned", rel_name(rel));
	else if (!storage_ok(fp, rel, false))
		 /* declined */ ;
	else if (rel->rd_rel->relhassubclass)
		fastpath_decline(fp, "inheritance children", rel_name(rel));
	else if (rel->rd_rel->relhasrules)
		fastpath_decline(fp, "rules", rel_name(rel));
	else if (trig && (trig->trig_insert_before_statement || trig->trig_insert_after_statement ||
					  trig->trig_update_before_statement || trig->trig_update_after_statement ||
					  trig->trig_insert_new_table || trig->trig_update_old_table ||
					  trig->trig_update_new_table || trig->trig_insert_instead_row ||
					  trig->trig_update_instead_row))
		fastpath_decline(fp, "statement triggers", rel_name(rel));
	else if (!columns_written(fp, &t->rels[0], cols, ncols))
		 /* declined */ ;
	else if (check_enable_rls(RelationGetRelid(rel), InvalidOid, true) == RLS_ENABLED)
		fastpath_decline(fp, "row security", rel_name(rel));
	if (fp->reason)
	{
		fastpath_close(t);
		return false;
	}
	crm_range_table_add(&fp->rt, RelationGetRelid(rel), RELKIND_RELATION, RowExclusiveLock,
						perms, updated >= 0 ? t->rels[0].attnum[updated] : 0);
	return true;
}

bool
fastpath_permitted(FastPath *fp)
{
	if (crm_range_table_permitted(&fp->rt))
		return true;
	return fastpath_decline(fp, "privileges", NULL);
}

void
fastpath_close(FastPathTable *t)
{
	for (int i = 0; i < t->nrels; i++)
		if (t->rels[i].rel && t->rels[i].rel != t->top)
			table_close(t->rels[i].rel, NoLock);
	if (t->top)
		table_close(t->top, NoLock);
	t->top = NULL;
	t->nrels = 0;
}

/*
 * The counters: one per function, path and reason, for this backend.
 */
typedef struct FastPathCount
{
	char		function[NAMEDATALEN];
	const char *path;			/* "c", "sql" or "shards" */
	char		reason[NAMEDATALEN];	/* "" for the C path */
	int64		calls;
} FastPathCount;

static FastPathCount *counts;
static int	ncounts,
			maxcounts;

static void
count_decision(FastPath *fp, const char *path)
{
	const char *reason = fp->reason ? fp->reason : "";
	int			i;

	for (i = 0; i < ncounts; i++)
		if (strcmp(counts[i].function, fp->function) == 0 &&
			counts[i].path == path &&
			strcmp(counts[i].reason, reason) == 0)
			break;
	if (i == ncounts)
	{
		if (ncounts == maxcounts)
		{
			maxcounts = Max(16, maxcounts * 2);
			counts = counts
				? repalloc(counts, sizeof(FastPathCount) * maxcounts)
				: MemoryContextAlloc(TopMemoryContext, sizeof(FastPathCount) * maxcounts);
		}
		strlcpy(counts[i].function, fp->function, NAMEDATALEN);
		counts[i].path = path;
		strlcpy(counts[i].reason, reason, NAMEDATALEN);
		counts[i].calls = 0;
		ncounts++;
	}
	counts[i].calls++;
	if (log_fast_path)
	{
		if (fp->reason == NULL)
			ereport(LOG, (errmsg("%s: C path", fp->function)));
		else if (strcmp(path, "shards") == 0)
			ereport(LOG, (errmsg("%s: C path on per-client rows from the shards: %s",
								 fp->function, fp->reason),
						  fp->detail ? errdetail("%s", fp->detail) : 0));
		else
			ereport(LOG, (errmsg("%s: SQL path: %s", fp->function, fp->reason),
						  fp->detail ? errdetail("%s", fp->detail) : 0));
	}
}

void
fastpath_taken(FastPath *fp)
{
	Assert(fp->reason == NULL);
	count_decision(fp, "c");
}

void
fastpath_declined(FastPath *fp)
{
	Assert(fp->reason != NULL);
	count_decision(fp, "sql");
}

bool
fastpath_may_gather(FastPath *fp)
{
	return fp->reason == citus_reason;
}

void
fastpath_taken_on_shards(FastPath *fp)
{
	Assert(fastpath_may_gather(fp));
	count_decision(fp, "shards");
}

void
fastpath_taken_from_profiles(FastPath *fp)
{
	Assert(fp->reason == NULL);
	count_decision(fp, "profiles");
}

void
gather_begin(GatherCall *g)
{
	g->caller = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	g->guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	MemoryContextSwitchTo(g->caller);
}

Portal
gather_open(GatherCall *g, const char *sql, int nargs, const Oid *types,
			const Datum *values)
{
	Portal		portal;

	portal = SPI_cursor_open_with_args(NULL, sql, nargs, (Oid *) types,
									   (Datum *) values, NULL, true, 0);
	MemoryContextSwitchTo(g->caller);
	return portal;
}

/* rows fetched at a time */
#define GATHER_BATCH	8192

bool
gather_fetch(GatherCall *g, Portal portal)
{
	SPI_cursor_fetch(portal, true, GATHER_BATCH);
	MemoryContextSwitchTo(g->caller);
	if (SPI_processed > 0)
		return true;
	SPI_freetuptable(SPI_tuptable);
	SPI_cursor_close(portal);
	return false;
}

void
gather_end(GatherCall *g)
{
	AtEOXact_GUC(true, g->guc_level);
	SPI_finish();
	MemoryContextSwitchTo(g->caller);
}

Datum
fastpath_call_sql(FastPath *fp, FunctionCallInfo fcinfo, const char *sql_name)
{
	Oid		   *argtypes;
	int			nargs;
	Oid			fn;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	PgStat_FunctionCallUsage usage;
	Datum		result;

	if (fp->reason == NULL)
		fp->reason = "unusual call";
	count_decision(fp, "sql");
	get_func_signature(fcinfo->flinfo->fn_oid, &argtypes, &nargs);
	fn = LookupFuncName(list_make2(makeString("crm"), makeString((char *) sql_name)),
						nargs, argtypes, false);
	fmgr_info(fn, &flinfo);
	InitFunctionCallInfoData(*inner, &flinfo, nargs, fcinfo->fncollation,
							 fcinfo->context, fcinfo->resultinfo);
	for (int i = 0; i < nargs; i++)
		inner->args[i] = fcinfo->args[i];
	pgstat_init_function_usage(inner, &usage);
	result = FunctionCallInvoke(inner);
	pgstat_end_function_usage(&usage, true);
	fcinfo->isnull = inner->isnull;
	return result;
}

Oid
fastpath_type_oid(const char *name)
{
	Oid			nsp = get_namespace_oid("crm", false);

	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum(name),
						   ObjectIdGetDatum(nsp));
}

bool
fastpath_result_layout(TupleDesc desc, const FastPathColumn *cols, int ncols, int *pos)
{
	int			live = 0;

	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped)
			live++;
	if (live != ncols)
		return false;
	for (int c = 0; c < ncols; c++)
	{
		pos[c] = -1;
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute a = TupleDescAttr(desc, i);

			if (!a->attisdropped && strcmp(NameStr(a->attname), cols[c].name) == 0)
			{
				if (a->atttypid == cols[c].type)
					pos[c] = i;
				break;
			}
		}
		if (pos[c] < 0)
			return false;
	}
	return true;
}

/*
 * crm.fast_path_stats(): function, path, reason, calls of this backend's
 * decisions since it started (or since crm.fast_path_stats_reset()).
 */
PG_FUNCTION_INFO_V1(fastpath_stats);
Datum
fastpath_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < ncounts; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(counts[i].function);
		values[1] = CStringGetTextDatum(counts[i].path);
		if (counts[i].reason[0])
			values[2] = CStringGetTextDatum(counts[i].reason);
		else
			nulls[2] = true;
		values[3] = Int64GetDatum(counts[i].calls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(fastpath_stats_reset);
Datum
fastpath_stats_reset(PG_FUNCTION_ARGS)
{
	ncounts = 0;
	PG_RETURN_VOID();
}
