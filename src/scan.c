/*-------------------------------------------------------------------------
 *
 * src/scan.c
 *
 * Opening crm's tables for the analytics that read them in a pass of their
 * own (crm.rfm_scores, crm.churn_signals): only where the pass reads
 * exactly what a query would; see scan.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"

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

AttrNumber
scan_max_attnum(const ScanColumn *cols, int ncols)
{
	AttrNumber	m = 0;
	int			i;

	for (i = 0; i < ncols; i++)
		m = Max(m, cols[i].attnum);
	return m;
}

bool
scan_text_is(Datum d, const char *s, int len)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	struct varlena *flat = v;
	bool		yes;

	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		flat = pg_detoast_datum_packed(v);
	yes = VARSIZE_ANY_EXHDR(flat) == len && memcmp(VARDATA_ANY(flat), s, len) == 0;
	if (flat != v)
		pfree(flat);
	return yes;
}
