/*-------------------------------------------------------------------------
 *
 * src/scan.h
 *
 * What the analytics that read crm's tables in a pass of their own (not
 * through a query) share: opening a table only where such a pass reads
 * exactly what a query would, comparing short texts, hashing client ids.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_SCAN_H
#define CRM_SCAN_H

#include "access/tableam.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "profile.h"

/* a column a pass reads: its name and type; where the pass finds it */
typedef struct ScanColumn
{
	const char *name;
	Oid			type;
	bool		not_null;		/* the pass needs it NOT NULL */
	AttrNumber	attnum;			/* set by scan_open */
} ScanColumn;

/*
 * Opens crm.<relname> with AccessShareLock when a pass of its own reads
 * what a query would: an ordinary table without children, SELECT on it
 * held by the caller, no row security applying to the caller, and every
 * column present with its type (NOT NULL where asked, text columns with a
 * deterministic collation).  NULL otherwise, with nothing left open.
 */
extern Relation scan_open(const char *relname, ScanColumn *cols, int ncols);

/* a pass over a table opened by scan_open, with the query's snapshot */
typedef struct ScanPass
{
	TableScanDesc scan;
	TupleTableSlot *slot;
	AttrNumber	natts;			/* attributes deformed: up to the last column read */
} ScanPass;

extern void scan_begin(ScanPass *pass, Relation rel, const ScanColumn *cols, int ncols);

/* the next row, its columns deformed; NULL at the end */
extern TupleTableSlot *scan_next(ScanPass *pass);

extern void scan_end(ScanPass *pass);

/* a text datum equal, byte for byte, to s of length len */
static inline bool
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

/*
 * The columns of crm.orders that a pass over the purchases reads, in this
 * order: scan_open_orders finds them.
 */
enum
{
	PC_CLIENT, PC_ORDERED_AT, PC_STATUS, PC_NET, PC_PROMO, PC_N
};

/* scan_open("orders", ...) with the columns of a pass over the purchases */
extern Relation scan_open_orders(ScanColumn *cols);

/* one purchase, read as crm.purchase_profile reads it */
typedef struct ScanPurchase
{
	int128		amount;			/* millionths */
	int64		client_id;
	TimestampTz t;
	int			dscale;
	bool		offer;
} ScanPurchase;

/*
 * The purchase in a row of crm.orders (its first maxatt attributes
 * deformed): false unless the status is placed or paid and the time at or
 * before as_of (status IN ('placed', 'paid') AND ordered_at <= as_of); the
 * time must be finite and the amount is read into millionths, with the
 * errors of crm.purchase_profile.
 */
static inline bool
scan_purchase(TupleTableSlot *slot, const ScanColumn *cols, TimestampTz as_of,
			  ScanPurchase *p)
{
	Datum		status = slot->tts_values[cols[PC_STATUS].attnum - 1];

	if (!scan_text_is(status, "placed", 6) && !scan_text_is(status, "paid", 4))
		return false;
	p->t = DatumGetTimestampTz(slot->tts_values[cols[PC_ORDERED_AT].attnum - 1]);
	if (p->t > as_of)
		return false;
	profile_check_time(p->t);
	p->amount = profile_numeric_to_micro(slot->tts_values[cols[PC_NET].attnum - 1],
										 &p->dscale);
	p->offer = DatumGetBool(slot->tts_values[cols[PC_PROMO].attnum - 1]);
	p->client_id = DatumGetInt64(slot->tts_values[cols[PC_CLIENT].attnum - 1]);
	return true;
}

/*
 * Runs sql (a SELECT of the function's SQL body, its arguments $1..$nargs
 * those of the call) and puts its rows into the call's materialized result.
 */
extern void scan_result_from_sql(FunctionCallInfo fcinfo, const char *sql,
								 int nargs, const Oid *argtypes);

/* a 64-bit finaliser of a client id: every input bit reaches every output bit */
static inline uint32
scan_client_hash(int64 key)
{
	uint64		h = (uint64) key;

	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32) h;
}

/* rows read ahead, so that their clients' entries are fetched together */
#define SCAN_BATCH	32

#endif							/* CRM_SCAN_H */
