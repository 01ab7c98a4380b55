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

extern bool rfm_is_valid(int16 v);

#endif							/* CRM_RFM_H */
