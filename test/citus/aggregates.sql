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
