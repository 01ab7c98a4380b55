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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(crm_report_progress);

/*
 * crm.report_progress(job text, step text): internal.  NULL in either
 * argument does nothing (a job may pass a step it could not compute).
 */
Datum
crm_report_progress(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	const char *query = debug_query_string;
	uint64		query_id;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_VOID();

	/* the client's statement (a background worker may have none) */
	if (query == NULL)
		query = "";

	initStringInfo(&buf);
	appendStringInfo(&buf, "crm progress: %s: %s | %s",
					 text_to_cstring(PG_GETARG_TEXT_PP(0)),
					 text_to_cstring(PG_GETARG_TEXT_PP(1)), query);

	/* pgstat_report_activity forgets the statement's query id: keep it */
	query_id = pgstat_get_my_query_id();
	pgstat_report_activity(STATE_RUNNING, buf.data);
	if (query_id != 0)
		pgstat_report_query_id(query_id, true);
	pfree(buf.data);
	PG_RETURN_VOID();
}
