--
-- crm.rfm_scores (C, src/rfm_scores.c) against its definition in SQL,
-- crm.rfm_scores_sql:
--   * on 300 generated clients with ties, one-purchase clients, zero and
--     huge spend, purchases after as_of and orders that are not purchases,
--     both return the same rows for every map, number of classes,
--     monetary_by and as_of;
--   * which calls the C pass answers and which it hands to SQL (counted by
--     pg_stat_xact_user_functions): row security applying to the caller
--     goes to SQL, where it applies; a child table is read by the C pass
--     too, as a query reads it (src/fastpath.c);
--   * bad data and bad arguments give the same errors either way.
--
SET TimeZone = 'UTC';
SET track_functions = 'all';
BEGIN;
-- try(sql): 'ok' or 'SQLSTATE: message'
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;
-- the calls of crm.rfm_scores_sql so far in this transaction
CREATE FUNCTION pg_temp.sql_calls() RETURNS bigint LANGUAGE sql AS $$
	SELECT coalesce((SELECT calls FROM pg_stat_xact_user_functions
					  WHERE schemaname = 'crm' AND funcname = 'rfm_scores_sql'), 0)
$$;
-- same(args): the rows of crm.rfm_scores(args), which implementation
-- answered, and how many rows the two implementations do not share (in
-- this process: a parallel worker counts its calls in its own statistics)
CREATE FUNCTION pg_temp.same(args text) RETURNS text LANGUAGE plpgsql
SET max_parallel_workers_per_gather = 0 AS $$
DECLARE n bigint; d bigint; before bigint; path text;
BEGIN
	before := pg_temp.sql_calls();
	EXECUTE format('SELECT count(*) FROM crm.rfm_scores(%s)', args) INTO n;
	path := CASE WHEN pg_temp.sql_calls() > before THEN 'SQL' ELSE 'C' END;
	EXECUTE format($q$
		SELECT count(*) FROM (
			((SELECT * FROM crm.rfm_scores(%1$s)) EXCEPT ALL (SELECT * FROM crm.rfm_scores_sql(%1$s)))
			UNION ALL
			((SELECT * FROM crm.rfm_scores_sql(%1$s)) EXCEPT ALL (SELECT * FROM crm.rfm_scores(%1$s)))) x
		$q$, args) INTO d;
	RETURN format('%s rows by %s, %s differ', n, path, d);
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.sql_calls(), pg_temp.same(text), pg_temp.try(text) TO crm_analyst;

-- 300 clients: 1 to 7 orders each, amounts from a few values (ties), days
-- from a few values (ties); client 7301 spends 0, client 7302 more than
-- 2^53 millionths; every ninth order cancelled or refunded; some after
-- the as_of dates used below
INSERT INTO crm.clients (client_id, first_name)
SELECT 7000 + i, 'c' || i FROM generate_series(1, 302) i;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT 7000 + i, 700000 + i * 10 + j,
	   timestamptz '2024-01-01' + ((i * 7 + j * 13) % 40) * interval '9 days' + (j % 3) * interval '5 hours',
	   'web',
	   CASE WHEN (i + j) % 9 = 0 THEN 'cancelled' WHEN (i * j) % 23 = 0 THEN 'refunded'
			WHEN j % 2 = 0 THEN 'paid' ELSE 'placed' END,
	   a, a
  FROM generate_series(1, 300) i,
	   generate_series(1, 1 + (i * 5) % 7) j,
	   LATERAL (SELECT ((i * 31 + j * 17) % 12) * 12.50 AS a) x;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(7301, 799001, '2024-06-01', 'store', 'paid', 0, 0),
	(7301, 799002, '2024-06-02', 'store', 'paid', 0, 0),
	(7302, 799003, '2024-07-01', 'store', 'paid', 50000000000.00, 50000000000.00),
	(7302, 799004, '2024-07-02', 'store', 'paid', 0.01, 0.01);
-- a map of the DBA's with 3 classes: one segment per recency score
INSERT INTO crm.segment_maps (map_name, classes, description) VALUES ('r3', 3, 'recency only');
INSERT INTO crm.segment_map_rules (map_name, rule_no, segment, r_min, r_max, f_min, f_max, m_min, m_max) VALUES
	('r3', 1, 'recent', 3, 3, 1, 3, 1, 3),
	('r3', 2, 'middle', 2, 2, 1, 3, 1, 3),
	('r3', 3, 'old', 1, 1, 1, 3, 1, 3);
SELECT args, pg_temp.same(args) FROM (VALUES
	($$'2025-01-01'$$),
	($$'2025-01-01', 'rf10'$$),
	($$'2025-01-01', 'r3'$$),
	($$'2025-01-01', 'rfm11', 'mean'$$),
	($$'2025-01-01', 'r3', 'mean'$$),
	($$'2024-05-01'$$),
	($$'2024-05-01 05:00'$$),
	($$'2024-01-01'$$),
	($$'2023-12-31'$$)
) t(args);
-- the scores are not all alike: every score of each dimension is used
SELECT count(DISTINCT crm.recency_score(rfm)) AS r, count(DISTINCT crm.frequency_score(rfm)) AS f,
	   count(DISTINCT crm.monetary_score(rfm)) AS m, count(DISTINCT segment) AS segments
  FROM crm.rfm_scores('2025-01-01') WHERE client_id > 7000;
-- the two special clients
SELECT client_id, recency_days, frequency, monetary, rfm, segment
  FROM crm.rfm_scores('2025-01-01') WHERE client_id IN (7301, 7302) ORDER BY client_id;

-- bad arguments: the same errors from both (the client an infinite as_of
-- error names is the first one scored, which depends on the order of work)
SELECT a, e.c, e.c = e.s AS same
  FROM (VALUES ($$'2025-01-01', 'nosuchmap'$$), ($$'2025-01-01', 'rfm11', 'median'$$),
			   ($$'infinity', 'r3'$$)) t(a),
	   LATERAL (SELECT regexp_replace(pg_temp.try(format('SELECT count(*) FROM crm.rfm_scores(%s)', a)), 'last purchase .*', 'last purchase …') AS c,
					   regexp_replace(pg_temp.try(format('SELECT count(*) FROM crm.rfm_scores_sql(%s)', a)), 'last purchase .*', 'last purchase …') AS s) e;

-- row security applies to crm_analyst (policy crm_staff): SQL answers
SET LOCAL ROLE crm_analyst;
SELECT pg_temp.same($$'2025-01-01'$$);
-- and with row_security off the query's own error
SET LOCAL row_security = off;
SELECT pg_temp.try($$SELECT count(*) FROM crm.rfm_scores('2025-01-01')$$);
RESET row_security;
RESET ROLE;

-- a child table: its rows are rows of crm.orders for a query, and the C
-- pass reads them too
CREATE TABLE public.orders_kid () INHERITS (crm.orders);
INSERT INTO public.orders_kid (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (7303, 799005, '2024-08-01', 'web', 'paid', 10, 10);
SELECT pg_temp.same($$'2025-01-01'$$);
SELECT client_id, frequency, monetary FROM crm.rfm_scores('2025-01-01') WHERE client_id = 7303;
DROP TABLE public.orders_kid;

-- bad rows: the same error from both implementations
SAVEPOINT bad;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (7001, 799006, '2024-08-01', 'web', 'paid', 'NaN', 'NaN');
SELECT pg_temp.try($$SELECT count(*) FROM crm.rfm_scores('2025-01-01')$$) AS c,
	   pg_temp.try($$SELECT count(*) FROM crm.rfm_scores_sql('2025-01-01')$$) AS sql;
ROLLBACK TO SAVEPOINT bad;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (7001, 799007, '-infinity', 'web', 'paid', 1, 1);
SELECT pg_temp.try($$SELECT count(*) FROM crm.rfm_scores('2025-01-01')$$) AS c,
	   pg_temp.try($$SELECT count(*) FROM crm.rfm_scores_sql('2025-01-01')$$) AS sql;
ROLLBACK TO SAVEPOINT bad;
ROLLBACK;
