/*-------------------------------------------------------------------------
 *
 * src/profile.h
 *
 * The pieces of the purchase profile that other per-client analytics
 * share, so that they read amounts, times and recency exactly as
 * crm.purchase_profile does.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_PROFILE_H
#define CRM_PROFILE_H

#include "datatype/timestamp.h"

/* amounts are kept in units of 10^-PROFILE_SCALE */
#define PROFILE_SCALE		6

/* a numeric amount in millionths, rounded half away from zero; its dscale */
extern int128 profile_numeric_to_micro(Datum d, int *dscale);

/* millionths back to a numeric of the given display scale (<= 6) */
extern Datum profile_micro_to_numeric(int128 v, int scale);

/* an error unless a purchase time is finite */
extern void profile_check_time(TimestampTz t);

/* crm.recency_days: whole days from last to as_of, rounded down */
extern int32 profile_days_since(TimestampTz last, TimestampTz as_of);

/* adds an amount to a spend total, an error on overflow */
static inline void
profile_add_amount(int128 *acc, int128 v)
{
	if (__builtin_add_overflow(*acc, v, acc))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("purchase profile spend total out of range")));
}

#endif							/* CRM_PROFILE_H */
