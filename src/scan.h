/*-------------------------------------------------------------------------
 *
 * src/scan.h
 *
 * What the analytics that read crm's tables in a pass of their own (not
 * through a query) share: the pass over a table that fastpath_open_read
 * opened, comparing short texts, reading a purchase, hashing client ids.
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

#include "fastpath.h"
#include "profile.h"

/* a pass over a table opened by fastpath_open_read, leaf after leaf */
typedef struct ScanPass
{
	FastPathTable *table;
	int			leaf;			/* the relation being read */
	TableScanDesc scan;
	TupleTableSlot *slot;
	const AttrNumber *att;		/* where each column read is in this leaf */
	uint64		rows;			/* rows read so far (progress) */
} ScanPass;

extern void scan_begin(ScanPass *pass, FastPathTable *table);

/*
 * The next row, its columns deformed (pass->att says where each is); NULL
 * at the end.  Rows come with the query's snapshot.
 */
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
 * order (scan_orders_columns).
 */
enum
{
	PC_CLIENT, PC_ORDERED_AT, PC_STATUS, PC_NET, PC_PROMO, PC_CURRENCY, PC_N
};

extern const FastPathColumn scan_orders_columns[PC_N];

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
 * The currency of the purchases read so far.  The analytics add amounts of
 * one currency only (crm.one_currency, docs/currency.md): a pass that meets
 * a second one gives the call to SQL, which raises the error.
 */
typedef struct ScanCurrency
{
	int			len;			/* 0 before the first purchase */
	char		code[16];
} ScanCurrency;

/*
 * Whether the text datum d is the currency of the purchases so far (the
 * first one read becomes it).  False for a second currency, and for a code
 * that is empty or longer than 16 bytes (SQL decides about those).
 */
static inline bool
scan_same_currency(ScanCurrency *cur, Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	struct varlena *flat;
	int			len;

	if (likely(cur->len > 0))
		return scan_text_is(d, cur->code, cur->len);
	flat = v;
	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		flat = pg_detoast_datum_packed(v);
	len = VARSIZE_ANY_EXHDR(flat);
	if (len > 0 && len <= (int) sizeof(cur->code))
	{
		memcpy(cur->code, VARDATA_ANY(flat), len);
		cur->len = len;
	}
	if (flat != v)
		pfree(flat);
	return cur->len > 0;
}

/* whether a numeric datum is NaN or an infinity (its header says so) */
static inline bool
scan_numeric_special(Datum d)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	uint16		header;

	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		return false;			/* compressed: the conversion looks */
	if (VARSIZE_ANY_EXHDR(v) < (int) sizeof(uint16))
		return true;
	memcpy(&header, VARDATA_ANY(v), sizeof(uint16));
	return (header & 0xC000) == 0xC000;
}

/*
 * The purchase in a row of crm.orders (read by a ScanPass): 1 when the
 * status is placed or paid and the time at or before as_of (status IN
 * ('placed', 'paid') AND ordered_at <= as_of), 0 when the row is not such
 * a purchase, -1 when it is unusual (a time or amount that is not finite,
 * or a currency other than that of the purchases before it, cur): the pass
 * then gives the call to SQL, which raises the error.
 */
static inline int
scan_purchase(TupleTableSlot *slot, const AttrNumber *att, TimestampTz as_of,
			  ScanCurrency *cur, ScanPurchase *p)
{
	Datum		status = slot->tts_values[att[PC_STATUS] - 1];
	Datum		net;

	if (!scan_text_is(status, "placed", 6) && !scan_text_is(status, "paid", 4))
		return 0;
	p->t = DatumGetTimestampTz(slot->tts_values[att[PC_ORDERED_AT] - 1]);
	if (p->t > as_of)
		return 0;
	net = slot->tts_values[att[PC_NET] - 1];
	if (TIMESTAMP_NOT_FINITE(p->t) || scan_numeric_special(net) ||
		!scan_same_currency(cur, slot->tts_values[att[PC_CURRENCY] - 1]))
		return -1;
	p->amount = profile_numeric_to_micro(net, &p->dscale);
	p->offer = DatumGetBool(slot->tts_values[att[PC_PROMO] - 1]);
	p->client_id = DatumGetInt64(slot->tts_values[att[PC_CLIENT] - 1]);
	return 1;
}

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
