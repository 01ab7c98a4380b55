/*-------------------------------------------------------------------------
 *
 * src/rfm.h
 *
 * The crm.rfm value as C code sees it: an int16 holding
 * recency * 100 + frequency * 10 + monetary, each score 1..9.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_RFM_H
#define CRM_RFM_H

#define RFM_RECENCY(v)		((v) / 100)
#define RFM_FREQUENCY(v)	(((v) / 10) % 10)
#define RFM_MONETARY(v)		((v) % 10)
#define RFM_MAKE(r, f, m)	((int16) ((r) * 100 + (f) * 10 + (m)))

extern bool rfm_is_valid(int16 v);

/*
 * Quantile scoring on values in memory, the rule of crm.quantile_breaks and
 * crm.threshold_score: the k - 1 ascending breakpoints of n values (sorted
 * in place), and a value's score against them.
 */
extern void rfm_breaks_of_values(float8 *values, int64 n, int32 k,
								 bool higher, float8 *breaks);
extern int32 rfm_score_of(float8 v, const float8 *breaks, int32 nbreaks,
						  bool higher);

#endif							/* CRM_RFM_H */
