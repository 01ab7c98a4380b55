/*
 * Scheduled jobs: what lets another session watch a long job, a lock that
 * makes two runs of one job take turns, and the ledger check a scheduler
 * runs (docs/operations.md).
 */

/*
 * report_progress: the job's line in pg_stat_activity (query) becomes
 * "crm progress: <job>: <step> | <the statement>" (src/progress.c).
 * PARALLEL RESTRICTED: a parallel worker's line is not the one to watch.
 */
CREATE FUNCTION crm.report_progress(job text, step text)
RETURNS void
AS 'MODULE_PATHNAME', 'crm_report_progress'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.report_progress(text, text) IS 'internal: shows a job''s step in its session''s line of pg_stat_activity (crm.job_progress)';

/*
 * job_progress: the sessions running a job of crm now, with the step each
 * reported last.  pg_stat_activity shows the query of another role's
 * session only to its members and to pg_read_all_stats.
 */
CREATE VIEW crm.job_progress AS
SELECT a.pid,
	   a.usename AS user_name,
	   a.datname AS database_name,
	   pg_catalog.substring(a.query, '^crm progress: ([^:]*):') AS job,
	   pg_catalog.substring(a.query, '^crm progress: [^:]*: ([^|]*) \| ') AS step,
	   a.query_start AS started_at,
	   a.state_change AS step_at,
	   a.wait_event_type,
	   a.wait_event
  FROM pg_catalog.pg_stat_activity a
 WHERE a.query LIKE 'crm progress: %'
   AND a.state = 'active';
COMMENT ON VIEW crm.job_progress IS 'the sessions running a job of crm (crm.refresh_segments, the loyalty jobs, crm.generate_demo_data ...) and the step each reported last, read from pg_stat_activity';

/*
 * job_lock: two runs of one job (and programme) take turns: the second
 * waits for the first one's transaction to end, then finds its work done.
 * A transaction-level advisory lock, in the key space of
 * hashtextextended('crm job ...').
 */
CREATE FUNCTION crm.job_lock(job text, key bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			bigint := pg_catalog.hashtextextended('crm job ' || job || ' ' || coalesce(key, 0), 0);
BEGIN
	IF NOT pg_catalog.pg_try_advisory_xact_lock(k) THEN
		PERFORM crm.report_progress(job, 'waiting for another run of the job to end');
		PERFORM pg_catalog.pg_advisory_xact_lock(k);
	END IF;
END
$$;
COMMENT ON FUNCTION crm.job_lock(text, bigint) IS 'internal: a transaction-level advisory lock per job and key (programme), so that two runs take turns';

/*
 * check_ledger: crm.verify_ledger as a scheduled job.  Clean: returns the
 * time of the check.  Otherwise an error a DBA sees in the server log and
 * in the scheduler's record of the run (cron.job_run_details, status
 * failed): XX001 with the number of problems and the first ones.
 */
CREATE FUNCTION crm.check_ledger()
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	n			bigint;
	first		text;
BEGIN
	PERFORM crm.report_progress('check_ledger', 'verifying every account, entry and lot');
	SELECT count(*),
		   string_agg(format('%s (client %s, programme %s%s): %s', v.check_name, v.client_id,
							 v.program_id, ', entry ' || v.entry_id, v.detail), '; ')
			   FILTER (WHERE v.rn <= 3)
	  INTO n, first
	  FROM (SELECT x.*, row_number() OVER () AS rn FROM crm.verify_ledger() x) v;
	IF n > 0 THEN
		RAISE EXCEPTION 'the loyalty ledger failed % checks', n
			USING ERRCODE = 'data_corrupted',
				  DETAIL = first,
				  HINT = 'SELECT * FROM crm.verify_ledger() lists them all (docs/loyalty.md).';
	END IF;
	RETURN pg_catalog.clock_timestamp();
END
$$;
COMMENT ON FUNCTION crm.check_ledger() IS 'scheduler job: crm.verify_ledger(); returns the time of the check when the ledger is clean, otherwise raises XX001 (data_corrupted) with the number of failed checks and the first three, which the server log and cron.job_run_details show';
