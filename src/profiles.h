/*-------------------------------------------------------------------------
 *
 * src/profiles.h
 *
 * The profile store (crm.profile_store, sql/install/79_profiles.sql) as a
 * source of per-client rows for crm.rfm_scores and crm.churn_signals, and
 * the memory bound of their passes (crm.pass_memory_limit).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_PROFILES_H
#define CRM_PROFILES_H

#include "datatype/timestamp.h"
#include "executor/spi.h"

#include "fastpath.h"
#include "profile.h"
#include "scan.h"

/* one client's row of the store */
typedef struct ProfileRow
{
	int64		client_id;
	ProfileState state;
	ProfileWindow window[2];	/* recent, previous */
	bool		engaged;		/* a last engagement */
	TimestampTz engagement;
	int64		offers;			/* campaign messages after the last purchase */
	int64		after_offer;	/* of the window's purchases, those soon after an offer */
} ProfileRow;

/* a read of the store, row after row: a pass over its heap, or a query */
typedef struct ProfileSource
{
	bool		direct;			/* a pass (no row security applies to the caller) */
	FastPathTable table;
	ScanPass	pass;
	GatherCall	g;
	Portal		portal;
	SPITupleTable *tt;
	uint64		next;
	uint64		nrows;
	ScanCurrency cur;
	bool		open;
} ProfileSource;

/*
 * Whether the store holds, for the caller, exactly the per-client state a
 * pass over crm.orders (and crm.interactions, when interactions) would
 * compute at as_of: crm.read_profiles is on, the caller may read the
 * tables the pass would read and the store, the store's as_of (and, when
 * windows is given, its two window bounds) are these, the log's triggers
 * are in place and enabled, and the log has no row the caller's snapshot
 * sees.  Read with the caller's snapshot, as the caller (row security).
 */
extern bool profiles_current(TimestampTz as_of, const TimestampTz *windows,
							 double offer_lag_days, bool interactions);

/* Reads the store (after profiles_current said yes, in the same snapshot). */
extern void profiles_begin(ProfileSource *src);

/* The next row: 1; 0 at the end; -1 when it is unusual (a second currency). */
extern int	profiles_next(ProfileSource *src, ProfileRow *row);

/* Ends the read (also before its end). */
extern void profiles_end(ProfileSource *src);

/*
 * The memory bound of a pass: whether clients entries of per_client bytes
 * stay within crm.pass_memory_limit (kB; -1: no bound).
 */
extern bool pass_memory_within(int64 clients, Size per_client);

/* module set-up: crm.read_profiles, crm.pass_memory_limit */
extern void profiles_define_settings(void);

#endif							/* CRM_PROFILES_H */
