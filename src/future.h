/*-------------------------------------------------------------------------
 *
 * src/future.h
 *
 * The setting crm.future_tolerance (src/future.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_FUTURE_H
#define CRM_FUTURE_H

extern void future_define_settings(void);

#endif							/* CRM_FUTURE_H */
