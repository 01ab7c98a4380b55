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

#include "utils/rel.h"

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

/* the largest attribute number of the columns */
extern AttrNumber scan_max_attnum(const ScanColumn *cols, int ncols);

/* a text datum equal, byte for byte, to s of length len */
extern bool scan_text_is(Datum d, const char *s, int len);

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
