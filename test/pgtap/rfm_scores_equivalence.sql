--
-- crm.rfm_scores (C) and crm.rfm_scores_sql (its definition in SQL) return
-- the same rows on the demo data, for both builtin maps, both monetary
-- definitions and as_of dates inside and after the history; and with
-- parallel workers forced on the SQL body, the same rows again.
--
BEGIN;
SELECT plan(8);
SET LOCAL TimeZone = 'UTC';
SELECT lives_ok($$SELECT crm.generate_demo_data(4000, 11, '2026-01-01')$$, 'demo data generated');

CREATE FUNCTION pg_temp.differ(args text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE d bigint;
BEGIN
	EXECUTE format($q$
		SELECT count(*) FROM (
			((SELECT * FROM crm.rfm_scores(%1$s)) EXCEPT ALL (SELECT * FROM crm.rfm_scores_sql(%1$s)))
			UNION ALL
			((SELECT * FROM crm.rfm_scores_sql(%1$s)) EXCEPT ALL (SELECT * FROM crm.rfm_scores(%1$s)))) x
		$q$, args) INTO d;
	RETURN d;
END $$;

SELECT cmp_ok((SELECT count(*) FROM crm.rfm_scores('2026-01-01')), '>', 3000::bigint,
			  'most demo clients have a purchase');
SELECT is(pg_temp.differ($$'2026-01-01'$$), 0::bigint, 'rfm11, total: the same rows');
SELECT is(pg_temp.differ($$'2026-01-01', 'rf10'$$), 0::bigint, 'rf10: the same rows');
SELECT is(pg_temp.differ($$'2026-01-01', 'rfm11', 'mean'$$), 0::bigint, 'monetary by mean: the same rows');
SELECT is(pg_temp.differ($$'2024-07-15 12:00'$$), 0::bigint, 'as_of inside the history: the same rows');
SELECT is(pg_temp.differ($$'2031-01-01'$$), 0::bigint, 'as_of after the history: the same rows');

SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT is(pg_temp.differ($$'2026-01-01'$$), 0::bigint, 'with parallel workers on the SQL body: the same rows');

SELECT * FROM finish();
ROLLBACK;
