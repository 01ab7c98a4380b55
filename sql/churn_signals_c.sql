--
-- crm.churn_signals (C, src/churn_signals.c) against its definition in
-- SQL, crm.churn_signals_sql:
--   * on 200 generated clients with purchases in both windows, offers,
--     engagements (and sales, which are not), interactions after as_of,
--     both return the same rows for several as_of and options;
--   * which calls the C passes answer and which go to SQL (counted by
--     pg_stat_xact_user_functions): row security applying to the caller
--     goes to SQL; a child table of crm.interactions is read by the C pass
--     as a query reads it;
--   * bad arguments and bad rows give the same errors either way.
--
SET TimeZone = 'UTC';
SET track_functions = 'all';
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;
CREATE FUNCTION pg_temp.sql_calls() RETURNS bigint LANGUAGE sql AS $$
	SELECT coalesce((SELECT calls FROM pg_stat_xact_user_functions
					  WHERE schemaname = 'crm' AND funcname = 'churn_signals_sql'), 0)
$$;
-- same(args): the rows of crm.churn_signals(args), which implementation
-- answered, and how many rows the two do not share (every column, floats
-- in their shortest exact form: bit for bit)
CREATE FUNCTION pg_temp.same(args text) RETURNS text LANGUAGE plpgsql
SET max_parallel_workers_per_gather = 0 SET extra_float_digits = 1 AS $$
DECLARE n bigint; d bigint; before bigint; path text;
BEGIN
	before := pg_temp.sql_calls();
	EXECUTE format('SELECT count(*) FROM crm.churn_signals(%s)', args) INTO n;
	path := CASE WHEN pg_temp.sql_calls() > before THEN 'SQL' ELSE 'C' END;
	EXECUTE format($q$
		SELECT count(*) FROM (
			((SELECT c::text FROM crm.churn_signals(%1$s) c) EXCEPT ALL (SELECT c::text FROM crm.churn_signals_sql(%1$s) c))
			UNION ALL
			((SELECT c::text FROM crm.churn_signals_sql(%1$s) c) EXCEPT ALL (SELECT c::text FROM crm.churn_signals(%1$s) c))) x
		$q$, args) INTO d;
	RETURN format('%s rows by %s, %s differ', n, path, d);
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.sql_calls(), pg_temp.same(text), pg_temp.try(text) TO crm_analyst;

-- 200 clients, 1 to 12 purchases each over 2024, every eleventh order
-- cancelled, every seventh with an offer; interactions: inbound (some of
-- them sales), outbound campaign messages and outbound service messages
INSERT INTO crm.clients (client_id, first_name)
SELECT 8000 + i, 'c' || i FROM generate_series(1, 200) i;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount, promo_used)
SELECT 8000 + i, 800000 + i * 20 + j,
	   timestamptz '2024-01-03' + ((i * 37 + j * (5 + i % 40)) % 360) * interval '1 day' + (i % 5) * interval '7 hours',
	   'web', CASE WHEN (i + j) % 11 = 0 THEN 'cancelled' ELSE 'paid' END,
	   (i * j) % 97 + 0.5, (i * j) % 97 + 0.5, (i + 2 * j) % 7 = 0
  FROM generate_series(1, 200) i, generate_series(1, 1 + (i * 7) % 12) j;
INSERT INTO crm.interactions (client_id, occurred_at, kind, channel, direction, campaign)
SELECT 8000 + i, timestamptz '2024-02-01' + ((i * 13 + j * 29) % 400) * interval '1 day',
	   CASE WHEN j % 4 = 0 THEN 'sale' ELSE 'email' END, 'email',
	   CASE WHEN j % 3 = 0 THEN 'inbound' ELSE 'outbound' END,
	   CASE WHEN j % 3 = 1 THEN 'spring' END
  FROM generate_series(1, 200) i, generate_series(1, (i * 3) % 9) j;
SELECT args, pg_temp.same(args) FROM (VALUES
	($$'2025-01-01'$$),
	($$'2025-01-01', '{"window_days": 30.5, "prior_gaps": 0}'$$),
	($$'2025-01-01', '{"population_gap_days": 20, "lost_days": 100}'$$),
	($$'2024-07-01 12:00'$$),
	($$'2024-01-03'$$),
	($$'2023-01-01'$$)
) t(args);
-- the rows are not all alike
SELECT count(DISTINCT status) AS statuses, count(DISTINCT behaviour_class) AS classes,
	   count(*) FILTER (WHERE offers_since_last_purchase > 0) AS offered,
	   count(*) FILTER (WHERE last_engagement IS NOT NULL) AS engaged,
	   count(*) FILTER (WHERE recent_purchases > 0 AND previous_purchases > 0) AS both_windows
  FROM crm.churn_signals('2025-01-01') WHERE client_id > 8000;

-- bad arguments: the same errors from both
SELECT a, e.c, e.c = e.s AS same
  FROM (VALUES ($$'infinity'$$), ($$'2025-01-01', '{"window_days": 0}'$$),
			   ($$'2025-01-01', '[1]'$$), ($$'2025-01-01', '{"nosuch": 1}'$$)) t(a),
	   LATERAL (SELECT pg_temp.try(format('SELECT count(*) FROM crm.churn_signals(%s)', a)) AS c,
					   pg_temp.try(format('SELECT count(*) FROM crm.churn_signals_sql(%s)', a)) AS s) e;

-- row security applies to crm_analyst: SQL answers
SET LOCAL ROLE crm_analyst;
SELECT pg_temp.same($$'2025-01-01'$$);
RESET ROLE;

-- a child table of crm.interactions: the C pass reads its rows, as a query does
CREATE TABLE public.interactions_kid () INHERITS (crm.interactions);
INSERT INTO public.interactions_kid (client_id, interaction_id, occurred_at, kind, channel, direction)
VALUES (8001, 999999, '2024-12-30', 'call', 'phone', 'inbound');
SELECT pg_temp.same($$'2025-01-01'$$);
SELECT client_id, last_engagement FROM crm.churn_signals('2025-01-01') WHERE client_id = 8001;
DROP TABLE public.interactions_kid;

-- bad rows: the same errors either way
SAVEPOINT bad;
INSERT INTO crm.clients (client_id, first_name) VALUES (8201, 'x');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (8201, 899998, '2024-08-01', 'web', 'paid', 1, 1);
INSERT INTO crm.interactions (client_id, occurred_at, kind, channel, direction)
VALUES (8201, '-infinity', 'call', 'phone', 'inbound');
SELECT pg_temp.try($$SELECT count(*) FROM crm.churn_signals('2025-01-01')$$) AS c,
	   pg_temp.try($$SELECT count(*) FROM crm.churn_signals_sql('2025-01-01')$$) AS sql;
ROLLBACK TO SAVEPOINT bad;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (8002, 899999, '2024-08-01', 'web', 'paid', 'NaN', 'NaN');
SELECT pg_temp.try($$SELECT count(*) FROM crm.churn_signals('2025-01-01')$$) AS c,
	   pg_temp.try($$SELECT count(*) FROM crm.churn_signals_sql('2025-01-01')$$) AS sql;
ROLLBACK TO SAVEPOINT bad;
ROLLBACK;
