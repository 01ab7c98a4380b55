--
-- crm's aggregates on distributed tables.  Per client (GROUP BY the
-- distribution column), crm.purchase_profile runs whole on each shard;
-- across clients, crm.quantile_breaks and the CLV fits, whose states are
-- real types, split into partial aggregates on the shards and combine on
-- the coordinator, with the single-node answer; the BG/NBD fit over
-- crm.clv_summary gives the single-node parameters.
--
SET client_min_messages = warning;
CREATE EXTENSION crm;
CREATE EXTENSION crm_demo;
SELECT count(*) > 0 AS loaded FROM crm.generate_demo_data(400, 9, '2025-01-01');
SET TimeZone = 'UTC';
SET extra_float_digits = 3;
CREATE TABLE public.single AS
SELECT 'profile' AS what, md5(string_agg(p::text, ',' ORDER BY client_id)) AS answer
  FROM (SELECT client_id, crm.purchase_profile(ordered_at, net_amount, promo_used) AS p
		  FROM crm.orders WHERE status IN ('placed', 'paid') GROUP BY client_id) x
UNION ALL
SELECT 'breaks', crm.quantile_breaks(net_amount::float8, 5, true)::text FROM crm.orders
UNION ALL
SELECT 'bgnbd', (SELECT crm.bgnbd_fit(frequency, recency, t)::text FROM crm.clv_summary('2025-01-01', 'week'))
UNION ALL
SELECT 'all clients', crm.purchase_profile(ordered_at, net_amount)::text FROM crm.orders WHERE status IN ('placed', 'paid');
SELECT 'ok single node: ' || string_agg(what, ', ' ORDER BY what) FROM public.single;

DO $$
DECLARE c record;
BEGIN
	FOR c IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
			  WHERE contype = 'f' AND connamespace = 'crm'::regnamespace
	LOOP
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.t, c.conname);
	END LOOP;
END $$;
DROP POLICY crm_manager ON crm.orders;
-- (and the row triggers allowed: the future-date checks of orders and interactions)
SET citus.enable_unsafe_triggers = on;
SELECT create_distributed_table('crm.orders', 'client_id');
SELECT truncate_local_data_after_distributing_table('crm.orders');

CREATE TABLE public.dist AS
SELECT 'profile' AS what, md5(string_agg(p::text, ',' ORDER BY client_id)) AS answer
  FROM (SELECT client_id, crm.purchase_profile(ordered_at, net_amount, promo_used) AS p
		  FROM crm.orders WHERE status IN ('placed', 'paid') GROUP BY client_id) x
UNION ALL
SELECT 'breaks', crm.quantile_breaks(net_amount::float8, 5, true)::text FROM crm.orders
UNION ALL
SELECT 'bgnbd', (SELECT crm.bgnbd_fit(frequency, recency, t)::text FROM crm.clv_summary('2025-01-01', 'week'))
UNION ALL
SELECT 'all clients', crm.purchase_profile(ordered_at, net_amount)::text FROM crm.orders WHERE status IN ('placed', 'paid');
SELECT CASE WHEN s.answer = d.answer THEN 'ok ' || s.what || ': the single-node answer'
			ELSE 'FAIL ' || s.what || ': ' || coalesce(d.answer, 'no answer') || ' against ' || s.answer END
  FROM public.single s JOIN public.dist d USING (what) ORDER BY s.what;

-- where the work runs
CREATE FUNCTION public.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		plan := plan || line || E'\n';
	END LOOP;
	RETURN plan;
END $$;
-- per client: the whole aggregate on each shard, nothing above the scan
SELECT CASE WHEN p ~ '^Custom Scan \(Citus Adaptive\)' AND p ~ 'Task\s.*HashAggregate|Task\s.*GroupAggregate'
			THEN 'ok per client, purchase_profile runs whole on the shards'
			ELSE 'FAIL per-client plan: ' || p END
  FROM public.plan_of('SELECT client_id, crm.purchase_profile(ordered_at, net_amount, promo_used) FROM crm.orders GROUP BY client_id') p;
-- across clients, a real state type: partial aggregates on the shards, combined above
SELECT CASE WHEN p ~ '^Aggregate\s+->  Custom Scan \(Citus Adaptive\)' AND p ~ 'Task\s.*->  Aggregate'
			THEN 'ok across clients, quantile_breaks splits into partial aggregates on the shards'
			ELSE 'FAIL quantile_breaks plan: ' || p END
  FROM public.plan_of('SELECT crm.quantile_breaks(net_amount::float8, 5, true) FROM crm.orders') p;
-- across clients, an internal state: the rows come to the coordinator
-- (the right answer, above; no crm function aggregates the profile across
-- clients, docs/scale-out.md)
SELECT CASE WHEN p ~ '^Aggregate\s+->  Custom Scan \(Citus Adaptive\)' AND p !~ 'Task\s.*->  Aggregate'
			THEN 'ok across clients, purchase_profile (internal state) gathers the rows on the coordinator'
			ELSE 'FAIL all-clients profile plan: ' || p END
  FROM public.plan_of('SELECT crm.purchase_profile(ordered_at, net_amount) FROM crm.orders') p;
-- a fit over a distributed table: in the form docs/scale-out.md shows (the
-- fit in a subquery, its fields read above) one partial aggregate per
-- shard and one fit on the coordinator; (crm.bgnbd_fit(...)).* asks Citus
-- for one per field (PostgreSQL alone shares identical aggregates; Citus
-- rewrites each field into an aggregate of its own)
CREATE TABLE public.summary AS SELECT * FROM crm.clv_summary('2025-01-01', 'week');
SELECT create_distributed_table('public.summary', 'client_id');
CREATE FUNCTION public.verbose_plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || q LOOP
		plan := plan || line || E'\n';
	END LOOP;
	RETURN plan;
END $$;
SELECT CASE WHEN n_partial = 1 AND n_combine = 1
			THEN 'ok the documented form: one partial fit per shard, one fit on the coordinator'
			ELSE 'FAIL the documented form: ' || n_partial || ' partial aggregates per shard, ' || n_combine || ' combined' END
  FROM (SELECT (SELECT count(*) FROM regexp_matches(p, 'Query: [^\n]*?worker_partial_agg\(', 'g')) AS n_partial,
			   (SELECT count(*) FROM regexp_matches(p, 'coord_combine_agg\(', 'g')) AS n_combine
		  FROM public.verbose_plan_of('SELECT (f).* FROM (SELECT crm.bgnbd_fit(frequency, recency, t) AS f FROM public.summary) s') p) x;
SELECT 'ok (crm.bgnbd_fit(...)).* on a distributed table: ' || n || ' fits, one per field (why the documented form)'
  FROM (SELECT count(*) AS n FROM regexp_matches(
		public.verbose_plan_of('SELECT (crm.bgnbd_fit(frequency, recency, t)).* FROM public.summary'), 'coord_combine_agg\(', 'g')) x;
SELECT CASE WHEN a.f = b.f THEN 'ok both forms give the same fit'
			ELSE 'FAIL the forms differ: ' || a.f::text || ' / ' || b.f::text END
  FROM (SELECT crm.bgnbd_fit(frequency, recency, t) AS f FROM public.summary) a,
	   (SELECT (x).* FROM (SELECT crm.bgnbd_fit(frequency, recency, t) AS x FROM public.summary) s) b0,
	   LATERAL (SELECT ROW(b0.*)::crm.bgnbd_model AS f) b;
