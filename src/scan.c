/*-------------------------------------------------------------------------
 *
 * src/scan.c
 *
 * Opening crm's tables for the analytics that read them in a pass of their
 * own (crm.rfm_scores, crm.churn_signals): only where the pass reads
 * exactly what a query would, and running their SQL bodies otherwise; see
 * scan.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "scan.h"

/* Finds a column by name with its type, NOT NULL where asked. */
static AttrNumber
scan_column(TupleDesc desc, const ScanColumn *col)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), col->name) != 0)
			continue;
		if (att->atttypid != col->type || (col->not_null && !att->attnotnull))
			return InvalidAttrNumber;
		if (OidIsValid(att->attcollation) &&
			!get_collation_isdeterministic(att->attcollation))
			return InvalidAttrNumber;
		return att->attnum;
	}
	return InvalidAttrNumber;
}

Relation
scan_open(const char *relname, ScanColumn *cols, int ncols)
{
	Oid			nsp = get_namespace_oid("crm", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
	Relation	rel;
	bool		ok;
	int			i;

	if (!OidIsValid(relid))
		return NULL;
	rel = table_open(relid, AccessShareLock);
	ok = rel->rd_rel->relkind == RELKIND_RELATION &&
		!rel->rd_rel->relhassubclass &&
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK &&
		check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED;
	for (i = 0; ok && i < ncols; i++)
	{
		cols[i].attnum = scan_column(RelationGetDescr(rel), &cols[i]);
		ok = cols[i].attnum != InvalidAttrNumber;
	}
	if (!ok)
	{
		table_close(rel, NoLock);
		return NULL;
	}
	return rel;
}

void
scan_begin(ScanPass *pass, Relation rel, const ScanColumn *cols, int ncols)
{
	int			i;

	pass->natts = 0;
	for (i = 0; i < ncols; i++)
		pass->natts = Max(pass->natts, cols[i].attnum);
	pass->slot = table_slot_create(rel, NULL);
	pass->scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
}

TupleTableSlot *
scan_next(ScanPass *pass)
{
	CHECK_FOR_INTERRUPTS();
	if (!table_scan_getnextslot(pass->scan, ForwardScanDirection, pass->slot))
		return NULL;
	slot_getsomeattrs(pass->slot, pass->natts);
	return pass->slot;
}

void
scan_end(ScanPass *pass)
{
	table_endscan(pass->scan);
	ExecDropSingleTupleTableSlot(pass->slot);
}

static const ScanColumn orders_columns[PC_N] = {
	{"client_id", INT8OID, true},
	{"ordered_at", TIMESTAMPTZOID, true},
	{"status", TEXTOID, true},
	{"net_amount", NUMERICOID, true},
	{"promo_used", BOOLOID, true}
};

Relation
scan_open_orders(ScanColumn *cols)
{
	memcpy(cols, orders_columns, sizeof(orders_columns));
	return scan_open("orders", cols, PC_N);
}

void
scan_result_from_sql(FunctionCallInfo fcinfo, const char *sql, int nargs,
					 const Oid *argtypes)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *args = (Datum *) palloc(nargs * sizeof(Datum));
	uint64		i;
	int			j;

	for (j = 0; j < nargs; j++)
		args[j] = PG_GETARG_DATUM(j);
	SPI_connect();
	if (SPI_execute_with_args(sql, nargs, (Oid *) argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run %s", sql);
	for (i = 0; i < SPI_processed; i++)
		tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
	SPI_finish();
}
