--
-- crm.churn_signals (C) and crm.churn_signals_sql (its definition in SQL)
-- return the same rows on the demo data (every column, floats bit for
-- bit), for several as_of dates and options, and with
-- parallel workers forced on the SQL body; crm.refresh_segments, which
-- reads crm.churn_signals, stores what the SQL body gives.
--
BEGIN;
SELECT plan(7);
SET LOCAL TimeZone = 'UTC';
SET LOCAL extra_float_digits = 1;
SELECT lives_ok($$SELECT crm.generate_demo_data(3000, 5, '2025-01-01')$$, 'demo data generated');

CREATE FUNCTION pg_temp.differ(args text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE d bigint;
BEGIN
	EXECUTE format($q$
		SELECT count(*) FROM (
			((SELECT c::text FROM crm.churn_signals(%1$s) c) EXCEPT ALL (SELECT c::text FROM crm.churn_signals_sql(%1$s) c))
			UNION ALL
			((SELECT c::text FROM crm.churn_signals_sql(%1$s) c) EXCEPT ALL (SELECT c::text FROM crm.churn_signals(%1$s) c))) x
		$q$, args) INTO d;
	RETURN d;
END $$;

SELECT is(pg_temp.differ($$'2025-01-01'$$), 0::bigint, 'as of the end of the history: the same rows');
SELECT is(pg_temp.differ($$'2024-03-15 08:00'$$), 0::bigint, 'as of a time inside the history: the same rows');
SELECT is(pg_temp.differ($$'2025-01-01', '{"window_days": 45, "prior_gaps": 1, "season_months": [12]}'$$), 0::bigint,
		  'other options: the same rows');
SELECT is(pg_temp.differ($$'2025-01-01', '{"population_gap_days": 21}'$$), 0::bigint,
		  'a fixed population rhythm: the same rows');

SELECT crm.refresh_segments('2025-01-01');
SELECT is((SELECT count(*) FROM crm.client_segments s
			 JOIN crm.churn_signals_sql('2025-01-01') c USING (client_id)
			WHERE s.behaviour_class = c.behaviour_class AND s.churn_status = c.status),
		  (SELECT count(*) FROM crm.churn_signals_sql('2025-01-01')),
		  'refresh_segments stores the class and status of the SQL body for every client');

SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT is(pg_temp.differ($$'2025-01-01'$$), 0::bigint, 'with parallel workers on the SQL body: the same rows');

SELECT * FROM finish();
ROLLBACK;
