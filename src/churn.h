/*-------------------------------------------------------------------------
 *
 * src/churn.h
 *
 * The churn signals of one client (src/churn.c) as C code sees them, for
 * crm.churn_signals (src/churn_signals.c), which computes them for every
 * client from its own pass over the orders and interactions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_CHURN_H
#define CRM_CHURN_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* the fields of the composite crm.churn_signal, by position */
enum
{
	CS_AGE, CS_SILENCE, CS_OWN_GAP, CS_EXPECTED_GAP, CS_GAP_CV, CS_OVERDUE,
	CS_P_GAP, CS_SEASON_SHARE, CS_ENGAGEMENT_SILENCE, CS_OFFERS, CS_STATUS,
	CS_CLASS, CS_CONFIDENCE, CS_RUNNER_UP, CS_NATTS
};

/* the eight behavioural classes, in the order that breaks a tie of scores */
enum
{
	BC_PROMO, BC_LOST, BC_ABOUT_TO_LOSE, BC_PROMISING, BC_SEASONAL, BC_AT_RISK,
	BC_DRIFTING, BC_LOYAL, BC_UNCLASSIFIED, BC_N
};

/* the most conditions a class's score is made of */
#define BC_MAX_TERMS	6

/* one class's evidence: its score (-1 .. 1) and the terms it is the minimum of */
typedef struct ChurnClassScore
{
	double		score;
	int			nterms;
	const char *term_name[BC_MAX_TERMS];
	double		term_value[BC_MAX_TERMS];	/* the feature */
	double		term_score[BC_MAX_TERMS];	/* its z: the evidence is tanh(z) */
} ChurnClassScore;

extern const char *const churn_class_names[BC_N];

/* the settings of a call: the options over the defaults */
typedef struct ChurnSettings
{
	double		window_days;
	double		prior_gaps;
	double		population_cv;
	double		min_gap_days;
	double		new_days;
	double		slipping_p;
	double		lapsed_p;
	double		lost_days;
	double		lost_overdue;
	double		lost_offers;
	double		promo_share;
	double		season_share;
	double		seasonal_gap_days;
	double		frequent_purchases;
	double		loyal_gap_days;
	double		promising_days;
	double		promising_purchases;
	double		promising_gap_days;
	double		at_risk_rate_ratio;
	double		drifting_cv;
	double		drifting_days;
	double		about_to_lose_overdue;
	double		about_to_lose_days;
	double		offer_lag_days;
	double		share_prior;
	double		population_gap_days;	/* NaN: computed by crm.churn_signals */
	double		population_offer_share;	/* NaN: measured (ChurnPopulation) */
	double		population_season_share;	/* NaN: measured (ChurnPopulation) */
	bool		season_months[12];
} ChurnSettings;

/*
 * The population's purchase counts that the shares are shrunk toward:
 * exact integer sums over the scored clients, whatever their order.
 */
typedef struct ChurnPopulation
{
	int64		purchases;
	int64		offer_purchases;	/* purchases with an offer */
	int64		window_purchases;	/* purchases in the profiles' windows */
	int64		after_offer;	/* of those, the ones soon after an offer */
	int64		months[12];		/* purchases per calendar month */
} ChurnPopulation;

#define CHURN_POPULATION_COUNTS	16

/* the settings of an options object over the defaults; errors name the key */
extern void churn_settings_parse(Jsonb *options, ChurnSettings *s);

/*
 * The CS_NATTS fields of crm.churn_signal from the fields of a client's
 * purchase profile and the other inputs of crm.churn_signal.
 */
extern void churn_compute(const ChurnSettings *s, const Datum *pv, const bool *pn,
						  TimestampTz as_of, double population_gap,
						  int64 recent_count, int64 previous_count,
						  bool has_engagement, TimestampTz engagement,
						  int64 offers_count, int64 after_offer,
						  const ChurnPopulation *population,
						  Datum *values, bool *nulls, ChurnClassScore *scores);

#endif							/* CRM_CHURN_H */
