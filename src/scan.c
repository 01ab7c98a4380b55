/*-------------------------------------------------------------------------
 *
 * src/scan.c
 *
 * The pass over a table that crm.rfm_scores and crm.churn_signals make of
 * their own, on a table fastpath_open_read opened (src/fastpath.c says
 * when): every relation holding its rows (the table, or its partitions and
 * inheritance children) one after another, with the query's snapshot.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/snapmgr.h"

#include "progress.h"
#include "scan.h"

const FastPathColumn scan_orders_columns[PC_N] = {
	{"client_id", INT8OID, true},
	{"ordered_at", TIMESTAMPTZOID, true},
	{"status", TEXTOID, true},
	{"net_amount", NUMERICOID, true},
	{"promo_used", BOOLOID, true},
	{"currency", TEXTOID, true}
};

/* Starts reading leaf i (or ends: scan NULL). */
static void
scan_leaf(ScanPass *pass, int i)
{
	FastPathRel *r;

	if (pass->scan)
	{
		table_endscan(pass->scan);
		ExecDropSingleTupleTableSlot(pass->slot);
		pass->scan = NULL;
		pass->slot = NULL;
	}
	pass->leaf = i;
	if (i >= pass->table->nrels)
		return;
	r = &pass->table->rels[i];
	pass->att = r->attnum;
	pass->slot = table_slot_create(r->rel, NULL);
	pass->scan = table_beginscan(r->rel, GetActiveSnapshot(), 0, NULL);
}

void
scan_begin(ScanPass *pass, FastPathTable *table)
{
	memset(pass, 0, sizeof(*pass));
	pass->table = table;
	scan_leaf(pass, 0);
}

/* the rows read so far, against the planner's estimate of the table's */
static void
scan_progress(ScanPass *pass)
{
	double		total = 0;

	for (int i = 0; i < pass->table->nrels; i++)
	{
		double		n = pass->table->rels[i].rel->rd_rel->reltuples;

		if (n < 0)
		{
			total = -1;
			break;
		}
		total += n;
	}
	progress_rows(RelationGetRelationName(pass->table->top), pass->rows, total);
}

TupleTableSlot *
scan_next(ScanPass *pass)
{
	CHECK_FOR_INTERRUPTS();
	while (pass->scan)
	{
		if (table_scan_getnextslot(pass->scan, ForwardScanDirection, pass->slot))
		{
			slot_getsomeattrs(pass->slot, pass->table->rels[pass->leaf].maxatt);
			if ((++pass->rows & (PROGRESS_ROWS_EVERY - 1)) == 0)
				scan_progress(pass);
			return pass->slot;
		}
		scan_leaf(pass, pass->leaf + 1);
	}
	return NULL;
}

void
scan_end(ScanPass *pass)
{
	scan_leaf(pass, pass->table->nrels);
}
