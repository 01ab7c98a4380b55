/*-------------------------------------------------------------------------
 *
 * src/progress.h
 *
 * Progress of crm's long jobs in pg_stat_activity (src/progress.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_PROGRESS_H
#define CRM_PROGRESS_H

/* shows "crm progress: <job>: <step> | <statement>" as the session's query */
extern void progress_report(const char *job, const char *step);

/*
 * A pass over a table has read rows of about total (the planner's
 * estimate; negative: unknown): within a job that reported a step in this
 * statement, shown after that step; otherwise as the job "scan".
 */
extern void progress_rows(const char *table, uint64 rows, double total);

/* how many rows a pass reads between two reports (a power of two) */
#define PROGRESS_ROWS_EVERY (1 << 16)

#endif							/* CRM_PROGRESS_H */
