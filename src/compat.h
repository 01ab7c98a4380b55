/*-------------------------------------------------------------------------
 *
 * src/compat.h
 *
 * Every difference between the PostgreSQL versions crm builds for (15 to
 * 18), in one place.  Each is guarded at the version that made the change,
 * so that the code elsewhere is written once, against the newest API:
 *
 *   16  float8in_internal takes an error-saving context (escontext)
 *   16  permission checks: RTEPermissionInfo, ExecCheckPermissions;
 *       ExecInitRangeTable takes the permission infos
 *   17  getIdentitySequence takes the relation, not its OID
 *   17  EvalPlanQualInit takes the result relations (15 and 16 minor
 *       releases got EvalPlanQualInitExt instead)
 *   18  index_beginscan takes an instrumentation argument
 *   18  ResultRelInfo.ri_ConstraintExprs is ri_CheckConstraintExprs
 *   18  ExecInitRangeTable takes the unpruned relations
 *   18  pg_attribute_noreturn() is gone: pg_noreturn, before the declaration
 *
 * 15 and 18 are built and tested; 16 and 17 are built for from what their
 * release notes and the 18 tree's history say, untested.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_COMPAT_H
#define CRM_COMPAT_H

#include "access/genam.h"
#include "catalog/dependency.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "utils/float.h"
#include "utils/rel.h"

#if PG_VERSION_NUM < 150000
#error "crm needs PostgreSQL 15 or later"
#endif

/* 18: pg_noreturn, placed before the declaration (C11 _Noreturn) */
#ifndef pg_noreturn
#define pg_noreturn _Noreturn
#endif

/* 16: float8in_internal(..., escontext); NULL raises as before */
static inline float8
crm_float8in(char *num, char **endptr, const char *type_name, const char *orig)
{
#if PG_VERSION_NUM >= 160000
	return float8in_internal(num, endptr, type_name, orig, NULL);
#else
	return float8in_internal(num, endptr, type_name, orig);
#endif
}

/* 18: index_beginscan(..., instrument, nkeys, norderbys) */
static inline IndexScanDesc
crm_index_beginscan(Relation heap, Relation index, Snapshot snapshot, int nkeys)
{
#if PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, 0);
#else
	return index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
}

/* 18: the CHECK constraints' expression states of a result relation */
#if PG_VERSION_NUM >= 180000
#define CRM_RI_CHECK_EXPRS(rri) ((rri)->ri_CheckConstraintExprs)
#else
#define CRM_RI_CHECK_EXPRS(rri) ((rri)->ri_ConstraintExprs)
#endif

/*
 * The permissions a statement would check on one table it reads or
 * writes, kept beside its range table entry: from 16 in an
 * RTEPermissionInfo, before in the entry itself.
 */
typedef struct CrmRangeTable
{
	List	   *rtable;			/* RangeTblEntry */
	List	   *perminfos;		/* RTEPermissionInfo, 16 and later */
} CrmRangeTable;

/*
 * Adds table relid to rt with the permissions required (and, for an
 * UPDATE, the column updated, an attribute number, or 0).
 */
static inline void
crm_range_table_add(CrmRangeTable *rt, Oid relid, char relkind, int lockmode,
					AclMode required, AttrNumber updated)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	Bitmapset  *cols = NULL;

	if (updated != 0)
		cols = bms_make_singleton(updated - FirstLowInvalidHeapAttributeNumber);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = relkind;
	rte->rellockmode = lockmode;
#if PG_VERSION_NUM >= 160000
	{
		RTEPermissionInfo *pi = makeNode(RTEPermissionInfo);

		pi->relid = relid;
		pi->inh = false;
		pi->requiredPerms = required;
		pi->checkAsUser = InvalidOid;
		pi->updatedCols = cols;
		rt->perminfos = lappend(rt->perminfos, pi);
		rte->perminfoindex = list_length(rt->perminfos);
	}
#else
	rte->requiredPerms = required;
	rte->updatedCols = cols;
#endif
	rt->rtable = lappend(rt->rtable, rte);
}

/* Whether the current user holds every permission rt requires (no error). */
static inline bool
crm_range_table_permitted(CrmRangeTable *rt)
{
#if PG_VERSION_NUM >= 160000
	return ExecCheckPermissions(rt->rtable, rt->perminfos, false);
#else
	return ExecCheckRTPerms(rt->rtable, false);
#endif
}

/* An executor state's range table, as a statement over rt would have it. */
static inline void
crm_init_range_table(EState *estate, CrmRangeTable *rt)
{
#if PG_VERSION_NUM >= 180000
	ExecInitRangeTable(estate, rt->rtable, rt->perminfos,
					   bms_add_range(NULL, 1, list_length(rt->rtable)));
#elif PG_VERSION_NUM >= 160000
	ExecInitRangeTable(estate, rt->rtable, rt->perminfos);
#else
	ExecInitRangeTable(estate, rt->rtable);
#endif
}

/* 17: EvalPlanQualInit(..., resultRelations) */
static inline void
crm_epq_init(EPQState *epq, EState *estate)
{
#if PG_VERSION_NUM >= 170000
	EvalPlanQualInit(epq, estate, NULL, NIL, -1, NIL);
#else
	EvalPlanQualInit(epq, estate, NULL, NIL, -1);
#endif
}

/* 17: getIdentitySequence(Relation, ...) */
static inline Oid
crm_identity_sequence(Relation rel, AttrNumber attnum)
{
#if PG_VERSION_NUM >= 170000
	return getIdentitySequence(rel, attnum, false);
#else
	return getIdentitySequence(RelationGetRelid(rel), attnum, false);
#endif
}

/* 16: force_parallel_mode is debug_parallel_query */
#if PG_VERSION_NUM >= 160000
#define CRM_PARALLEL_DEBUG_GUC "debug_parallel_query"
#else
#define CRM_PARALLEL_DEBUG_GUC "force_parallel_mode"
#endif

#endif							/* CRM_COMPAT_H */
