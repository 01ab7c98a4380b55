/*-------------------------------------------------------------------------
 *
 * src/fastpath.h
 *
 * The one answer to "does a direct pass over this table do what a
 * statement would?", for every C function of crm that reads or writes
 * crm's tables without a statement (crm.rfm_scores, crm.churn_signals,
 * crm.earn_points, crm.redeem_points), and the one way such a function
 * hands its call to its SQL body when the answer is no.
 *
 * Each function has a twin in SQL (crm.rfm_scores_sql, ...) that defines
 * it.  A call takes the C path only where fastpath_open_read or
 * fastpath_open_write said yes for every table it touches; otherwise, or
 * when the call itself is unusual (bad arguments, rare cases, odd data),
 * it ends in fastpath_call_sql, which calls the twin directly with the
 * caller's arguments and its result set.  Each decision is counted per
 * backend (crm.fast_path_stats) and, with crm.log_fast_path on, logged.
 *
 * The rules, in read mode (a pass reads every row a SELECT would):
 *   - the table exists in schema crm, is an ordinary or partitioned table
 *     (not a foreign table, view or anything else) and is not distributed
 *     or managed by Citus (pg_dist_partition);
 *   - the caller holds SELECT on the whole table, and row security does
 *     not apply to the caller (the owner and BYPASSRLS roles bypass it);
 *   - its rows are in plain heap tables: the table itself and, for a
 *     partitioned table or a table with inheritance children, every leaf
 *     a query would read (each an ordinary heap table, not foreign, not
 *     Citus-managed); partitions and children are read one after another;
 *   - in every one of them, each column read is present by name with its
 *     type, NOT NULL where the pass needs it, with a deterministic
 *     collation, and not a virtual generated column (18).
 * On a Citus cluster the coordinator's copy of a distributed table is an
 * empty shell, so a direct pass cannot run there; crm.rfm_scores and
 * crm.churn_signals then gather per-client rows instead (the "shards"
 * path): queries grouped by client_id, which Citus runs whole on the
 * shards, read in batches through SPI by the C code, which then does the
 * rest (quantile scores, signals) as its direct pass would.  Those
 * queries are the SQL twin's own per-client aggregates (the same
 * aggregates, filters, row security and privileges, as the caller, with
 * search_path pg_catalog, pg_temp), so the shards path is taken only when
 * the reason for not passing directly is the table's being Citus's
 * (fastpath_may_gather) and the call is otherwise usual.
 * In write mode (a call writes rows as an INSERT or UPDATE would):
 *   - the table exists in schema crm, is an ordinary heap table without
 *     partitions or inheritance children, not foreign, not Citus-managed;
 *   - no rules; no statement-level, transition-table or INSTEAD triggers
 *     (row triggers, foreign keys among them, are fired as a statement
 *     fires them);
 *   - exactly the columns the call writes (columns dropped since are
 *     skipped), none generated;
 *   - row security does not apply, and the current user holds the
 *     privileges the statements would need (checked as the executor
 *     checks a statement's range table, changed columns included).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_FASTPATH_H
#define CRM_FASTPATH_H

#include "access/attnum.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/acl.h"
#include "utils/portal.h"
#include "utils/relcache.h"

#include "compat.h"

/* a column a C path reads or writes: its name and type */
typedef struct FastPathColumn
{
	const char *name;
	Oid			type;
	bool		not_null;		/* read mode: the pass needs it NOT NULL */
} FastPathColumn;

/* one relation holding rows of a table: where each column is in it */
typedef struct FastPathRel
{
	Relation	rel;
	AttrNumber *attnum;			/* per column, 1-based */
	AttrNumber	maxatt;			/* the largest of them */
} FastPathRel;

/* a table opened for a C path */
typedef struct FastPathTable
{
	Relation	top;			/* the table named */
	int			nrels;			/* the relations holding its rows */
	FastPathRel *rels;
	int			ncols;
} FastPathTable;

/* a decision in the making: the function, and why not, once known */
typedef struct FastPath
{
	const char *function;		/* "crm.rfm_scores" */
	const char *reason;			/* why the call goes to SQL; NULL: not yet */
	char	   *detail;			/* which table, partition or column */
	CrmRangeTable rt;			/* write mode: the permissions to check */
} FastPath;

extern void fastpath_init(FastPath *fp, const char *function);

/*
 * Opens crm.<relname> (AccessShareLock; its leaves too) when a pass may
 * read it.  False with fp's reason set and nothing left open otherwise.
 */
extern bool fastpath_open_read(FastPath *fp, FastPathTable *t, const char *relname,
							   const FastPathColumn *cols, int ncols);

/*
 * Opens crm.<relname> (RowExclusiveLock) when a call may write it, and
 * adds it to fp's range table with the privileges perms (updated: the
 * index in cols of the one column an UPDATE changes, or -1).  The
 * privileges are checked by fastpath_permitted, once all are added.
 */
extern bool fastpath_open_write(FastPath *fp, FastPathTable *t, const char *relname,
								const FastPathColumn *cols, int ncols,
								AclMode perms, int updated);

/* Whether the current user holds every privilege added by fastpath_open_write. */
extern bool fastpath_permitted(FastPath *fp);

/* Closes a table opened above (its locks stay until the transaction ends). */
extern void fastpath_close(FastPathTable *t);

/* The call goes to SQL, for this reason (a short fixed text) and detail. */
extern bool fastpath_decline(FastPath *fp, const char *reason, const char *detail);

/* The call took the C path: counted, and logged with crm.log_fast_path. */
extern void fastpath_taken(FastPath *fp);

/*
 * The call does its work by statements, for fp's reason, without calling
 * a twin (crm.price_cart reading its rules by query): counted and logged.
 */
extern void fastpath_declined(FastPath *fp);

/*
 * Calls crm.<sql_name>, the twin, with the caller's argument types and
 * arguments, and returns what it returns; a set-returning twin fills the
 * caller's own result set (its ReturnSetInfo is passed on).  Counts and
 * logs the decision with fp's reason.
 */
extern Datum fastpath_call_sql(FastPath *fp, FunctionCallInfo fcinfo, const char *sql_name);

/*
 * Where each named column is in a result descriptor (0-based), checked by
 * name and type; false when the descriptor is not that shape.
 */
extern bool fastpath_result_layout(TupleDesc desc, const FastPathColumn *cols, int ncols,
								   int *pos);

/*
 * The shards path: whether a call declined only because Citus holds the
 * table, so that it may gather per-client rows by queries instead; then
 * (once the rows are in) fastpath_taken_on_shards counts it.
 */
extern bool fastpath_may_gather(FastPath *fp);
extern void fastpath_taken_on_shards(FastPath *fp);

/*
 * The call read the profile store (src/profiles.c) instead of passing over
 * the tables: counted as the path "profiles".
 */
extern void fastpath_taken_from_profiles(FastPath *fp);

/*
 * Queries for the shards path, inside one gather_begin .. gather_end (an
 * SPI connection, search_path pg_catalog, pg_temp): gather_open opens a
 * read-only cursor over sql with its arguments, gather_fetch reads its
 * next batch into SPI_tuptable (false at the end; the caller frees it
 * with SPI_freetuptable).  The caller's memory context is kept.
 */
typedef struct GatherCall
{
	int			guc_level;
	MemoryContext caller;
} GatherCall;

extern void gather_begin(GatherCall *g);
extern Portal gather_open(GatherCall *g, const char *sql, int nargs,
						  const Oid *types, const Datum *values);
extern bool gather_fetch(GatherCall *g, Portal portal);
extern void gather_end(GatherCall *g);

/* the type crm.<name> (InvalidOid if none) */
extern Oid	fastpath_type_oid(const char *name);

/* whether Citus manages the table (listed in pg_dist_partition) */
extern bool fastpath_citus_table(Oid relid);

/* whether this backend runs a query a Citus node sent it; its error */
extern bool fastpath_in_citus_task(void);
extern void fastpath_refuse_in_citus_task(const char *function);

/* module set-up: the crm.log_fast_path setting */
extern void fastpath_define_settings(void);

#endif							/* CRM_FASTPATH_H */
