--
-- The C passes never read a coordinator's shell table: on a cluster where
-- crm.orders and crm.interactions are distributed by client_id (the rows
-- moved to the workers' shards, the coordinator's tables left empty or,
-- before truncation, holding their old rows), crm.rfm_scores and
-- crm.churn_signals take the shards path (their twins' per-client queries,
-- which Citus plans on the shards, finished in C) and give the single-node
-- answer.
--
SET client_min_messages = warning;
CREATE EXTENSION crm;
CREATE EXTENSION crm_demo;
SELECT count(*) > 0 AS loaded FROM crm.generate_demo_data(300, 4, '2025-01-01');
CREATE TABLE public.single_rfm AS SELECT * FROM crm.rfm_scores('2025-01-01');
CREATE TABLE public.single_churn AS SELECT * FROM crm.churn_signals('2025-01-01');
SELECT 'ok single node: ' || count(*) || ' clients' FROM public.single_rfm;
-- distribute the two tables the passes read (for this test by hand, with
-- the foreign keys that cross to local tables dropped)
DO $$
DECLARE c record;
BEGIN
	FOR c IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
			  WHERE contype = 'f' AND (conrelid IN ('crm.orders'::regclass, 'crm.interactions'::regclass)
									   OR confrelid IN ('crm.orders'::regclass, 'crm.interactions'::regclass))
	LOOP
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.t, c.conname);
	END LOOP;
END $$;
-- (and the manager policies, whose subqueries Citus refuses)
DROP POLICY crm_manager ON crm.orders;
DROP POLICY crm_manager ON crm.interactions;
-- (and the row triggers allowed: the future-date checks of orders and interactions)
SET citus.enable_unsafe_triggers = on;
SELECT create_distributed_table('crm.orders', 'client_id');
SELECT create_distributed_table('crm.interactions', 'client_id', colocate_with => 'crm.orders');

-- with the old rows still in the coordinator's tables (Citus keeps them
-- until truncated) and after they are gone, the same answer, from the
-- per-client rows of the shards
CREATE FUNCTION public.check_twins(label text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
	PERFORM crm.fast_path_stats_reset();
	CREATE TEMP TABLE dist_rfm AS SELECT * FROM crm.rfm_scores('2025-01-01');
	CREATE TEMP TABLE dist_churn AS SELECT * FROM crm.churn_signals('2025-01-01');
	SELECT count(*) INTO n FROM ((TABLE public.single_rfm EXCEPT ALL TABLE dist_rfm)
								 UNION ALL (TABLE dist_rfm EXCEPT ALL TABLE public.single_rfm)) x;
	RETURN NEXT CASE WHEN n = 0 AND (SELECT count(*) FROM dist_rfm) = 300
					 THEN 'ok ' || label || ': rfm_scores gives the single-node rows'
					 ELSE 'FAIL ' || label || ': rfm_scores: ' || n || ' rows differ, '
						  || (SELECT count(*) FROM dist_rfm) || ' rows' END;
	SELECT count(*) INTO n FROM ((SELECT c::text FROM public.single_churn c EXCEPT ALL SELECT c::text FROM dist_churn c)
								 UNION ALL (SELECT c::text FROM dist_churn c EXCEPT ALL SELECT c::text FROM public.single_churn c)) x;
	RETURN NEXT CASE WHEN n = 0 AND (SELECT count(*) FROM dist_churn) = (SELECT count(*) FROM public.single_churn)
					 THEN 'ok ' || label || ': churn_signals gives the single-node rows'
					 ELSE 'FAIL ' || label || ': churn_signals: ' || n || ' rows differ' END;
	RETURN QUERY SELECT CASE WHEN s.path = 'shards' AND s.reason = 'managed by Citus'
							 THEN 'ok ' || label || ': ' || s.function || ' took the shards path: managed by Citus'
							 ELSE 'FAIL ' || label || ': ' || s.function || ' took path ' || s.path
								  || coalesce(' (' || s.reason || ')', '') END
				   FROM crm.fast_path_stats() s ORDER BY s.function;
	DROP TABLE dist_rfm, dist_churn;
END $$;
SELECT public.check_twins('old rows still local');
SELECT truncate_local_data_after_distributing_table('crm.orders');
SELECT truncate_local_data_after_distributing_table('crm.interactions');
SELECT public.check_twins('local copies truncated');
