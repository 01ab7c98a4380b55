/*-------------------------------------------------------------------------
 *
 * src/progress.c
 *
 * Progress of crm's long jobs, visible from another session: the job's
 * line in pg_stat_activity (its query column) becomes
 *
 *   crm progress: <job>: <step> | <the statement the client sent>
 *
 * updated at every step, through pgstat_report_activity, the call the
 * server makes when a statement starts.  The view crm.job_progress reads
 * those lines back.  The session's state stays "active"; state_change
 * becomes the time of the latest step.  A statement the client sends next
 * replaces the line, as always.
 *
 * The C passes over crm's tables (src/scan.c) add the rows read every
 * PROGRESS_ROWS_EVERY rows, after the step of the job that runs them
 * (crm.refresh_segments' step 2 reads every purchase through
 * crm.churn_signals), or on their own as the job "scan".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "progress.h"

/* the job and step reported last, and in which statement */
static char last_job[64];
static char last_step[256];
static TimestampTz last_statement = 0;

void
progress_report(const char *job, const char *step)
{
	StringInfoData buf;
	const char *query = debug_query_string;
	uint64		query_id;

	/* a parallel worker's line is not the one another session watches */
	if (IsParallelWorker())
		return;
	/* the client's statement (a background worker may have none) */
	if (query == NULL)
		query = "";

	initStringInfo(&buf);
	appendStringInfo(&buf, "crm progress: %s: %s | %s", job, step, query);

	/* pgstat_report_activity forgets the statement's query id: keep it */
	query_id = pgstat_get_my_query_id();
	pgstat_report_activity(STATE_RUNNING, buf.data);
	if (query_id != 0)
		pgstat_report_query_id(query_id, true);
	pfree(buf.data);
}

void
progress_rows(const char *table, uint64 rows, double total)
{
	char		step[512];
	char		count[64];

	if (total >= (double) rows)
		snprintf(count, sizeof(count), UINT64_FORMAT " of about %.0f rows", rows, total);
	else
		snprintf(count, sizeof(count), UINT64_FORMAT " rows", rows);
	if (last_statement == GetCurrentStatementStartTimestamp() && last_job[0] != '\0')
	{
		snprintf(step, sizeof(step), "%s: %s of crm.%s read", last_step, count, table);
		progress_report(last_job, step);
	}
	else
	{
		snprintf(step, sizeof(step), "%s of crm.%s read", count, table);
		progress_report("scan", step);
	}
}

PG_FUNCTION_INFO_V1(crm_report_progress);

/*
 * crm.report_progress(job text, step text): internal.  NULL in either
 * argument does nothing (a job may pass a step it could not compute).
 */
Datum
crm_report_progress(PG_FUNCTION_ARGS)
{
	char	   *job;
	char	   *step;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_VOID();
	job = text_to_cstring(PG_GETARG_TEXT_PP(0));
	step = text_to_cstring(PG_GETARG_TEXT_PP(1));
	strlcpy(last_job, job, sizeof(last_job));
	strlcpy(last_step, step, sizeof(last_step));
	last_statement = GetCurrentStatementStartTimestamp();
	progress_report(job, step);
	PG_RETURN_VOID();
}
