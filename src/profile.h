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

/* number of latest purchase times kept for the gap spread */
#define PROFILE_WINDOW		16

/* the fields of the composite crm.purchase_profile, by position */
enum
{
	PF_FIRST, PF_LAST, PF_PURCHASES, PF_REPEAT, PF_SPAN, PF_TOTAL, PF_MEAN,
	PF_REPEAT_MEAN, PF_MEAN_GAP, PF_LAST_GAP, PF_RECENT_GAP, PF_GAP_SD,
	PF_GAP_WINDOW, PF_OFFER_PURCHASES, PF_OFFER_SHARE, PF_MONTHS, PF_PEAK_QUARTER,
	PROFILE_NATTS
};

/* the state of crm.purchase_profile: flat, fixed size */
typedef struct ProfileState
{
	int64		n;				/* purchases */
	int64		n_first;		/* purchases at the first instant */
	int64		n_offer;		/* purchases made with an offer */
	TimestampTz first;			/* earliest purchase time */
	TimestampTz last;			/* latest purchase time */
	int128		total;			/* sum of amounts, in millionths */
	int128		first_total;	/* sum of amounts at the first instant */
	int32		scale;			/* largest display scale seen, <= 6 */
	int32		nwin;			/* times in win[], = Min(n, PROFILE_WINDOW) */
	TimestampTz win[PROFILE_WINDOW];	/* latest purchase times, ascending */
	int32		months[12];		/* purchases per calendar month (UTC) */
} ProfileState;

/* a numeric amount in millionths, rounded half away from zero; its dscale */
/*
 * The purchases and spend of one window of time, as crm.churn_signals
 * compares them: a count, the amounts' sum in millionths and the largest
 * display scale among them (at most PROFILE_SCALE).
 */
typedef struct ProfileWindow
{
	int128		total;
	int64		n;
	int32		scale;
} ProfileWindow;

/*
 * The state of crm.purchase_profile_state with window bounds: the profile's
 * state, then the purchases in (recent_from, +inf) and in
 * (previous_from, recent_from].
 */
typedef struct ProfileWindows
{
	ProfileState p;
	ProfileWindow w[2];
} ProfileWindows;

extern int128 profile_numeric_to_micro(Datum d, int *dscale);

/*
 * A numeric in millionths when that is exact: finite, below 10^24 and with
 * at most PROFILE_SCALE decimals (its dscale in *dscale); false otherwise.
 */
extern bool profile_numeric_exact_micro(Datum d, int128 *micro, int *dscale);

/* millionths back to a numeric of the given display scale (<= 6) */
extern Datum profile_micro_to_numeric(int128 v, int scale);

/* an error unless a purchase time is finite */
extern void profile_check_time(TimestampTz t);

/* crm.recency_days: whole days from last to as_of, rounded down */
extern int32 profile_days_since(TimestampTz last, TimestampTz as_of);

/* adds one purchase to a state (a zeroed state is empty) */
extern void profile_state_add(ProfileState *s, TimestampTz t, int128 amount,
							  int dscale, bool offer);

/* the PROFILE_NATTS fields of the composite crm.purchase_profile */
extern void profile_state_values(const ProfileState *s, Datum *values, bool *nulls);

/*
 * A state from its serialised bytes (crm.purchase_profile_serialfn, or the
 * aggregate crm.purchase_profile_state), every invariant checked: an error
 * (invalid_binary_representation) when the bytes are not a state.
 */
extern void profile_state_read(bytea *bytes, ProfileState *s);

extern void profile_windows_read(bytea *bytes, ProfileState *s, ProfileWindow *w);

/* recent_mean_gap_days of a state: false for a single purchase (no gap) */
extern bool profile_state_recent_gap(const ProfileState *s, double *gap);

/* adds an amount to a spend total, an error on overflow */
static inline void
profile_add_amount(int128 *acc, int128 v)
{
	if (__builtin_add_overflow(*acc, v, acc))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("purchase profile spend total out of range")));
}

static inline void
profile_window_sum_add(ProfileWindow *w, int128 amount, int dscale)
{
	w->n++;
	profile_add_amount(&w->total, amount);
	w->scale = Max(w->scale, Min(dscale, PROFILE_SCALE));
}

#endif							/* CRM_PROFILE_H */
