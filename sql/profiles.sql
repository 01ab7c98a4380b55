-- the profile store: incremental refreshes equal a full rebuild; crm.rfm_scores and
-- crm.churn_signals read it when current and give the rows of their twins
SET TimeZone = 'UTC';
-- crm.fast_path_stats() counts this backend's calls: none in parallel workers
-- (also when the suite runs with debug_parallel_query)
SET max_parallel_workers_per_gather = 0;
BEGIN;
SET LOCAL client_min_messages = warning;
TRUNCATE crm.clients CASCADE;	-- only these clients (rolled back below)
TRUNCATE crm.profile_changes, crm.profile_store_state;
\i sql/include/try.sql
SELECT setseed(0.21);
INSERT INTO crm.clients (client_id, first_name) SELECT g, 'c' || g FROM generate_series(1, 200) g;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, promo_used)
SELECT 1 + floor(random() * 190)::int,
	   '2024-01-01'::timestamptz + random() * interval '300 days', 'web',
	   (ARRAY['placed', 'paid', 'paid', 'paid', 'cancelled', 'refunded'])[1 + floor(random() * 6)::int],
	   a, a, random() < 0.2
  FROM (SELECT g, round((random() * 200)::numeric, 2) AS a FROM generate_series(1, 3000) g) x;
INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, campaign)
SELECT 1 + floor(random() * 200)::int,
	   '2024-01-01'::timestamptz + random() * interval '300 days',
	   'email', k.kind, k.direction, k.campaign
  FROM generate_series(1, 1500) g
 CROSS JOIN LATERAL (SELECT (ARRAY['call', 'email', 'sale'])[1 + floor(random() * 3)::int] AS kind,
						   CASE WHEN random() < 0.5 THEN 'inbound' ELSE 'outbound' END AS direction,
						   CASE WHEN random() < 0.6 THEN 'spring' END AS campaign, g) k;

-- no store yet: nothing is logged; the first refresh is a full build
SELECT count(*) AS logged FROM crm.profile_changes;
SELECT * FROM crm.refresh_profiles('2024-09-01');
SELECT count(*) AS log_left FROM crm.profile_changes;
SELECT as_of, window_days, recent_from, previous_from, clients, recomputed FROM crm.profile_store_state;

/*
 * differences(): the store against a full rebuild at its as_of (rows
 * present in one and not in the other, the state's bytes included); the
 * rebuild is undone, so that the store stays as the refreshes made it
 */
CREATE FUNCTION pg_temp.differences() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n			bigint;
	st			crm.profile_store_state;
BEGIN
	CREATE TEMP TABLE IF NOT EXISTS kept AS SELECT * FROM crm.profile_store WITH NO DATA;
	TRUNCATE kept;
	INSERT INTO kept SELECT * FROM crm.profile_store;
	SELECT * INTO st FROM crm.profile_store_state;
	BEGIN
		PERFORM crm.refresh_profiles(st.as_of, jsonb_build_object('window_days', st.window_days), true);
		SELECT count(*) INTO n
		  FROM ((SELECT * FROM kept EXCEPT ALL SELECT * FROM crm.profile_store)
				UNION ALL
				(SELECT * FROM crm.profile_store EXCEPT ALL SELECT * FROM kept)) d;
		RAISE EXCEPTION 'undo';
	EXCEPTION WHEN raise_exception THEN
		NULL;
	END;
	RETURN n;
END
$$;

/* the rows of the C functions against their twins' (0: the same) */
CREATE FUNCTION pg_temp.analytics_differences(as_of timestamptz, options jsonb DEFAULT '{}',
											  OUT rfm bigint, OUT churn bigint)
LANGUAGE plpgsql AS $$
BEGIN
	SELECT count(*) INTO rfm
	  FROM ((SELECT * FROM crm.rfm_scores(as_of) EXCEPT ALL SELECT * FROM crm.rfm_scores_sql(as_of))
			UNION ALL
			(SELECT * FROM crm.rfm_scores_sql(as_of) EXCEPT ALL SELECT * FROM crm.rfm_scores(as_of))) d;
	SELECT count(*) INTO churn
	  FROM ((SELECT * FROM crm.churn_signals(as_of, options)
			 EXCEPT ALL SELECT * FROM crm.churn_signals_sql(as_of, options))
			UNION ALL
			(SELECT * FROM crm.churn_signals_sql(as_of, options)
			 EXCEPT ALL SELECT * FROM crm.churn_signals(as_of, options))) d;
END
$$;

CREATE FUNCTION pg_temp.paths() RETURNS TABLE (function text, path text, reason text, calls bigint)
LANGUAGE sql AS $$
	SELECT * FROM crm.fast_path_stats() ORDER BY 1, 2, 3
$$;

SELECT pg_temp.differences() AS store_differences;
SELECT crm.fast_path_stats_reset();
SELECT * FROM pg_temp.analytics_differences('2024-09-01');
SELECT * FROM pg_temp.paths();
-- the purchases soon after an offer are the store's for its offer_lag_days
-- only: another lag reads the orders (path c), with the twin's rows
SELECT sum(purchases_after_offer) > 0 AS some_after_offer FROM crm.profile_store;
SELECT crm.fast_path_stats_reset();
SELECT * FROM pg_temp.analytics_differences('2024-09-01', '{"offer_lag_days": 30}');
SELECT * FROM pg_temp.paths();

/*
 * Rounds of writes between refreshes: new orders (late ones among them,
 * dated before the store's as_of, and some after the next one), status
 * changes, refunds of old orders, orders moved in time or deleted, new
 * interactions, a new client; the store goes forward by a few days, now
 * and then back.  After each refresh: the store against a rebuild, and the
 * analytics (read from the store) against their twins.
 */
CREATE FUNCTION pg_temp.round(i integer, as_of timestamptz)
RETURNS TABLE (step integer, at timestamptz, recomputed bigint, folded bigint, store_differences bigint,
			   rfm_differences bigint, churn_differences bigint, paths text)
LANGUAGE plpgsql AS $$
DECLARE
	prev		timestamptz := (SELECT s.as_of FROM crm.profile_store_state s);
	d			record;
BEGIN
	INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, promo_used)
	SELECT 1 + floor(random() * 195)::int,
		   prev - interval '40 days' + random() * (as_of - prev + interval '50 days'), 'app',
		   (ARRAY['placed', 'paid', 'cancelled'])[1 + floor(random() * 3)::int], a, a, random() < 0.3
	  FROM (SELECT round((random() * 100)::numeric, 2) AS a FROM generate_series(1, 25)) x;
	UPDATE crm.orders o SET status = (ARRAY['placed', 'paid', 'cancelled', 'refunded'])[1 + floor(random() * 4)::int]
	 WHERE o.order_id IN (SELECT o2.order_id FROM crm.orders o2 ORDER BY random() LIMIT 15);
	UPDATE crm.orders o SET status = 'refunded'
	 WHERE o.order_id IN (SELECT o2.order_id FROM crm.orders o2
						   WHERE o2.ordered_at < '2024-03-01' AND o2.status IN ('placed', 'paid')
						   ORDER BY random() LIMIT 5);
	UPDATE crm.orders o SET ordered_at = o.ordered_at - interval '20 days'
	 WHERE o.order_id IN (SELECT o2.order_id FROM crm.orders o2 ORDER BY random() LIMIT 3);
	DELETE FROM crm.orders o
	 WHERE o.order_id IN (SELECT o2.order_id FROM crm.orders o2 ORDER BY random() LIMIT 2);
	INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, campaign)
	SELECT 1 + floor(random() * 200)::int, prev - interval '20 days' + random() * (as_of - prev + interval '30 days'),
		   'email', (ARRAY['call', 'email', 'sale'])[1 + floor(random() * 3)::int],
		   CASE WHEN random() < 0.5 THEN 'inbound' ELSE 'outbound' END,
		   CASE WHEN random() < 0.6 THEN 'autumn' END
	  FROM generate_series(1, 15);
	INSERT INTO crm.clients (client_id, first_name) VALUES (1000 + i, 'new');
	INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
	VALUES (1000 + i, as_of - interval '1 hour', 'web', 'paid', 12.5, 12.5);

	step := i;
	at := as_of;
	SELECT r.recomputed INTO recomputed FROM crm.refresh_profiles(as_of) r;
	SELECT s.folded INTO folded FROM crm.profile_store_state s;
	store_differences := pg_temp.differences();
	PERFORM crm.fast_path_stats_reset();
	SELECT * INTO d FROM pg_temp.analytics_differences(as_of);
	rfm_differences := d.rfm;
	churn_differences := d.churn;
	SELECT string_agg(p.function || ':' || p.path, ' ' ORDER BY p.function) INTO paths FROM pg_temp.paths() p;
	RETURN NEXT;
END
$$;
SELECT * FROM pg_temp.round(1, '2024-09-05');
SELECT * FROM pg_temp.round(2, '2024-09-05 12:00');
SELECT * FROM pg_temp.round(3, '2024-09-20');
SELECT * FROM pg_temp.round(4, '2024-09-12');	-- back in time
SELECT * FROM pg_temp.round(5, '2024-10-15');
SELECT * FROM pg_temp.round(6, '2024-10-15');	-- the same as_of: the log only
SELECT * FROM pg_temp.round(7, '2024-12-31');
SELECT * FROM pg_temp.round(8, '2024-06-30');	-- far back

/*
 * Rounds of inserts only (what a refresh folds into the stored rows
 * instead of reading the client's history): purchases late (before the
 * store's as_of, before the client's last and first purchase, at the same
 * instant as one), in either window and after as_of, other orders,
 * engagements, campaign messages (after the client's last purchase: folded;
 * before it: recomputed), other interactions; a client whose purchases all
 * lay after as_of buys before it; a client's latest 16 purchases renewed
 * by purchases soon after offers (the purchases after an offer that enter
 * and leave them); and the passing of time (a purchase leaving a window).
 */
CREATE FUNCTION pg_temp.inserts(i integer, as_of timestamptz)
RETURNS TABLE (step integer, at timestamptz, recomputed bigint, folded bigint, store_differences bigint,
			   rfm_differences bigint, churn_differences bigint, paths text)
LANGUAGE plpgsql AS $$
DECLARE
	prev		timestamptz := (SELECT s.as_of FROM crm.profile_store_state s);
	d			record;
BEGIN
	INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, promo_used)
	SELECT 1 + floor(random() * 190)::int,
		   prev - interval '200 days' + random() * (as_of - prev + interval '205 days'), 'app',
		   (ARRAY['placed', 'paid', 'paid', 'cancelled'])[1 + floor(random() * 4)::int], a, a, random() < 0.3
	  FROM (SELECT round((random() * 100)::numeric, 3) AS a FROM generate_series(1, 40)) x;
	-- at the same instant as a client's latest and earliest purchase
	INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
	SELECT o.client_id, t, 'web', 'paid', 9.99, 9.99
	  FROM (SELECT client_id, max(ordered_at) AS l, min(ordered_at) AS f FROM crm.orders
			 WHERE client_id IN (30 + i, 60 + i) AND status IN ('placed', 'paid') AND ordered_at <= prev
			 GROUP BY client_id) o
	 CROSS JOIN LATERAL (VALUES (o.l), (o.f), (o.f - interval '1 day')) v(t);
	INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, campaign)
	SELECT 1 + floor(random() * 200)::int, prev - interval '30 days' + random() * (as_of - prev + interval '40 days'),
		   'email', (ARRAY['call', 'email', 'sale'])[1 + floor(random() * 3)::int],
		   CASE WHEN random() < 0.5 THEN 'inbound' ELSE 'outbound' END,
		   CASE WHEN random() < 0.6 THEN 'winter' END
	  FROM generate_series(1, 30);

	step := i;
	at := as_of;
	SELECT r.recomputed INTO recomputed FROM crm.refresh_profiles(as_of) r;
	SELECT s.folded INTO folded FROM crm.profile_store_state s;
	store_differences := pg_temp.differences();
	PERFORM crm.fast_path_stats_reset();
	SELECT * INTO d FROM pg_temp.analytics_differences(as_of);
	rfm_differences := d.rfm;
	churn_differences := d.churn;
	SELECT string_agg(p.function || ':' || p.path, ' ' ORDER BY p.function) INTO paths FROM pg_temp.paths() p;
	RETURN NEXT;
END
$$;
SELECT * FROM crm.refresh_profiles('2024-07-01');
SELECT step, at, recomputed > 0 AS some_recomputed, folded > 0 AS some_folded, store_differences,
	   rfm_differences, churn_differences, paths
  FROM (SELECT (pg_temp.inserts(g, '2024-07-01'::timestamptz + g * interval '2 hours')).*
		  FROM generate_series(1, 6) g) r;
-- a client (20) sent offers after its last purchase (folded), then buying
-- soon after each: 20 purchases, 16 kept, some after an offer
SELECT max(ordered_at) < '2024-07-01 12:00' AS before_offers
  FROM crm.orders WHERE client_id = 20 AND status IN ('placed', 'paid') AND ordered_at <= '2024-07-01 12:00';
INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, campaign)
SELECT 20, '2024-07-01 12:00'::timestamptz + g * interval '1 minute', 'email', 'email', 'outbound', 'summer'
  FROM generate_series(1, 10) g;
SELECT * FROM crm.refresh_profiles('2024-07-01 13:00');
SELECT folded, recomputed FROM crm.profile_store_state;
SELECT pg_temp.differences() AS store_differences;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT 20, '2024-07-01 11:00'::timestamptz + g * interval '5 minutes', 'web', 'paid', g, g
  FROM generate_series(1, 20) g;
SELECT * FROM crm.refresh_profiles('2024-07-01 13:30');
SELECT folded, recomputed FROM crm.profile_store_state;
SELECT purchases_after_offer, (crm.purchase_profile_from_state(state)).purchases > 16 AS more_than_kept
  FROM crm.profile_store WHERE client_id = 20;
SELECT pg_temp.differences() AS store_differences;
-- a client whose only purchase lies after as_of (a row without state) buys before it
INSERT INTO crm.clients (client_id, first_name) VALUES (2000, 'later');
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (2000, '2024-07-05', 'web', 'paid', 7, 7);
SELECT * FROM crm.refresh_profiles('2024-07-01 14:00');
SELECT state IS NULL AS no_state, next_change_at FROM crm.profile_store WHERE client_id = 2000;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (2000, '2024-06-30', 'web', 'paid', 3, 3);
SELECT * FROM crm.refresh_profiles('2024-07-01 14:00');
SELECT folded FROM crm.profile_store_state;
SELECT pg_temp.differences() AS store_differences;
-- a lapsed client (no purchase in either window, nothing ahead: no next change) buys
INSERT INTO crm.clients (client_id, first_name) VALUES (2001, 'lapsed');
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (2001, '2023-01-01', 'web', 'paid', 8, 8), (2001, '2023-02-01', 'web', 'paid', 9, 9);
SELECT * FROM crm.refresh_profiles('2024-07-01 14:00');
SELECT next_change_at FROM crm.profile_store WHERE client_id = 2001;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (2001, '2024-07-01 13:59', 'web', 'paid', 4, 4);
SELECT * FROM crm.refresh_profiles('2024-07-01 14:00');
SELECT folded FROM crm.profile_store_state;
SELECT next_change_at FROM crm.profile_store WHERE client_id = 2001;
SELECT pg_temp.differences() AS store_differences;
DELETE FROM crm.orders WHERE client_id IN (2000, 2001);	-- logged: recomputed, their rows go

-- time passes: the folded rows' next changes are due (purchases leave the recent window)
SELECT * FROM crm.refresh_profiles('2024-10-01');
SELECT pg_temp.differences() AS store_differences;
SELECT * FROM pg_temp.analytics_differences('2024-10-01');

-- other windows: a full rebuild, then incremental again with those windows
SELECT * FROM crm.refresh_profiles('2024-07-10', '{"window_days": 30}');
UPDATE crm.orders SET status = 'refunded' WHERE client_id = 7 AND ordered_at > '2024-06-01';
SELECT * FROM crm.refresh_profiles('2024-07-20', '{"window_days": 30}');
SELECT pg_temp.differences() AS store_differences;
SELECT crm.fast_path_stats_reset();
SELECT * FROM pg_temp.analytics_differences('2024-07-20', '{"window_days": 30}');
-- the default windows are not those of the store: churn_signals passes over the tables
SELECT * FROM pg_temp.analytics_differences('2024-07-20');
SELECT * FROM pg_temp.paths();

-- when the store is not current for a call, the call passes over the orders
SELECT * FROM crm.refresh_profiles('2024-07-20');
SELECT crm.fast_path_stats_reset();
SELECT count(*) FROM crm.rfm_scores('2024-07-20');		-- current: the store
SELECT count(*) FROM crm.rfm_scores('2024-07-21');		-- another as_of
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (3, '2024-07-01', 'web', 'paid', 5, 5);
SELECT count(*) FROM crm.rfm_scores('2024-07-20');		-- a change not refreshed yet
SELECT * FROM crm.refresh_profiles('2024-07-20');
SET LOCAL crm.read_profiles = off;
SELECT count(*) FROM crm.rfm_scores('2024-07-20');		-- not asked to
RESET crm.read_profiles;
ALTER TABLE crm.orders DISABLE TRIGGER orders_profile_update;
SELECT count(*) FROM crm.rfm_scores('2024-07-20');		-- a trigger of the log is off
ALTER TABLE crm.orders ENABLE TRIGGER orders_profile_update;
SET LOCAL session_replication_role = replica;
SELECT count(*) FROM crm.rfm_scores('2024-07-20');		-- a trigger of the log does not fire
RESET session_replication_role;
ALTER TABLE crm.orders ENABLE ALWAYS TRIGGER orders_profile_update;
SET LOCAL session_replication_role = replica;
SELECT count(*) FROM crm.rfm_scores('2024-07-20');		-- the log's triggers fire here too
RESET session_replication_role;
CREATE TEMP TABLE orders_child () INHERITS (crm.orders);
SELECT count(*) FROM crm.rfm_scores('2024-07-20');		-- a child table's rows change unlogged
DROP TABLE orders_child;
SELECT count(*) FROM crm.rfm_scores('2024-07-20');		-- current again
SELECT * FROM pg_temp.paths();

-- a client with purchases in two currencies: the twin's error, from every path
SAVEPOINT two_currencies;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, currency, gross_amount, net_amount)
VALUES (5, '2024-07-02', 'web', 'paid', 'USD', 5, 5);
SELECT * FROM crm.refresh_profiles('2024-07-20');
SELECT currency FROM crm.profile_store WHERE client_id = 5;
SELECT crm.fast_path_stats_reset();
SELECT pg_temp.try($$SELECT count(*) FROM crm.rfm_scores('2024-07-20')$$);
SELECT pg_temp.try($$SELECT count(*) FROM crm.churn_signals('2024-07-20')$$);
SELECT * FROM pg_temp.paths();
ROLLBACK TO SAVEPOINT two_currencies;

-- a bounded pass memory: the twins, with the same rows
SELECT crm.fast_path_stats_reset();
SET LOCAL crm.pass_memory_limit = '8kB';
SELECT * FROM pg_temp.analytics_differences('2024-07-20');
SET LOCAL crm.read_profiles = off;
SELECT * FROM pg_temp.analytics_differences('2024-07-20');
RESET crm.read_profiles;
RESET crm.pass_memory_limit;
SELECT * FROM pg_temp.paths();

-- row security: an analyst and a manager get, from the store, the rows the twins give them
UPDATE crm.clients SET owner = 'crm_profiles_manager' WHERE client_id % 3 = 0;
CREATE ROLE crm_profiles_manager IN ROLE crm_manager;
CREATE ROLE crm_profiles_analyst IN ROLE crm_analyst;
SELECT * FROM crm.refresh_profiles('2024-07-20');
SELECT crm.fast_path_stats_reset();
SET LOCAL ROLE crm_profiles_analyst;
SELECT * FROM pg_temp.analytics_differences('2024-07-20');
SELECT count(*) AS analyst_rows FROM crm.churn_signals('2024-07-20');
SET LOCAL ROLE crm_profiles_manager;
SELECT * FROM pg_temp.analytics_differences('2024-07-20');
SELECT count(*) AS manager_rows, min(client_id % 3) AS min_mod, max(client_id % 3) AS max_mod
  FROM crm.churn_signals('2024-07-20');
-- a change to a client the manager does not own: the store is stale for the analyst only
RESET ROLE;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (4, '2024-07-03', 'web', 'paid', 5, 5);
SET LOCAL ROLE crm_profiles_analyst;
SELECT count(*) FROM crm.rfm_scores('2024-07-20');
SET LOCAL ROLE crm_profiles_manager;
SELECT count(*) FROM crm.rfm_scores('2024-07-20');
RESET ROLE;
SELECT * FROM pg_temp.paths();

/*
 * crm.refresh_segments keeps the store; its labels from the store are those
 * a pass over the orders gives (a second refresh at the same as_of without
 * the store finds nothing to change); crm.rewind_segments takes the store
 * back too
 */
SELECT clients, transitions FROM crm.refresh_segments('2024-08-01', notify_limit => 0);
UPDATE crm.orders SET status = 'refunded' WHERE client_id IN (10, 11);
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (12, '2024-08-10', 'web', 'paid', 80, 80);
SELECT clients, transitions FROM crm.refresh_segments('2024-08-15', notify_limit => 0);
SELECT as_of, recomputed FROM crm.profile_store_state;
SET LOCAL crm.read_profiles = off;
SELECT clients, transitions FROM crm.refresh_segments('2024-08-15', notify_limit => 0);
RESET crm.read_profiles;
SELECT to_as_of, clients > 0 AS took_back FROM crm.rewind_segments('2024-08-01');
SELECT as_of FROM crm.profile_store_state;
SELECT pg_temp.differences() AS store_differences;
SELECT to_as_of FROM crm.rewind_segments('-infinity');
SELECT count(*) AS state_rows FROM crm.profile_store_state;

/*
 * crm.orders partitioned (a DBA's copy under its name, as sql/fast_path.sql
 * makes it, with the store's triggers on the parent): the row triggers,
 * cloned to the partitions, log a partition's inserted rows as the orders'
 * (the trigger's argument, not the partition's name), and the refresh folds
 * them into the store as a full rebuild would have them
 */
SAVEPOINT partitioned;
ALTER TABLE crm.orders RENAME TO orders_plain;
CREATE TABLE crm.orders (LIKE crm.orders_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
						 PRIMARY KEY (client_id, order_id))
	PARTITION BY HASH (client_id);
CREATE TABLE crm.orders_p0 PARTITION OF crm.orders FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE crm.orders_p1 PARTITION OF crm.orders FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TRIGGER orders_profile_insert AFTER INSERT OR DELETE ON crm.orders
	FOR EACH ROW EXECUTE FUNCTION crm.log_profile_change('orders');
CREATE TRIGGER orders_profile_update
	AFTER UPDATE OF client_id, ordered_at, status, net_amount, promo_used, currency ON crm.orders
	FOR EACH ROW EXECUTE FUNCTION crm.log_profile_change('orders');
INSERT INTO crm.orders SELECT * FROM crm.orders_plain;
SELECT clients > 0 AS built, rebuilt FROM crm.refresh_profiles('2024-09-01', rebuild => true);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT 1 + g % 50, (SELECT max(order_id) FROM crm.orders_plain) + g,
	   '2024-09-01 10:00'::timestamptz + g * interval '1 minute', 'web', 'paid', 10 + g, 10 + g
  FROM generate_series(1, 40) g;
SELECT count(*) AS logged, count(*) FILTER (WHERE change = 'p') AS purchases,
	   (SELECT count(*) FROM crm.orders_p0 WHERE ordered_at > '2024-09-01') > 0 AND
	   (SELECT count(*) FROM crm.orders_p1 WHERE ordered_at > '2024-09-01') > 0 AS in_both_partitions
  FROM crm.profile_changes;
SELECT recomputed FROM crm.refresh_profiles('2024-09-02');
SELECT folded > 0 AS folded FROM crm.profile_store_state;
SELECT pg_temp.differences() AS store_differences;
ROLLBACK TO SAVEPOINT partitioned;

-- errors
SELECT pg_temp.try($$SELECT * FROM crm.refresh_profiles(NULL)$$);
SELECT pg_temp.try($$SELECT * FROM crm.refresh_profiles('2024-01-01', NULL)$$);
SELECT pg_temp.try($$SELECT * FROM crm.refresh_profiles('2024-01-01', '{}', NULL)$$);
SELECT pg_temp.try($$SELECT * FROM crm.refresh_profiles('infinity')$$);
SELECT pg_temp.try($$SELECT * FROM crm.refresh_profiles('2024-01-01', '{"window_days": -1}')$$);
SELECT pg_temp.try($$SELECT * FROM crm.refresh_profiles('2024-01-01', '{"nosuchkey": 1}')$$);
ROLLBACK;
