--
-- One harness for the functions crm has twice, in C and in SQL, where the
-- SQL twin is the definition (src/fastpath.c):
--   crm.rfm_scores      / crm.rfm_scores_sql
--   crm.churn_signals   / crm.churn_signals_sql
--   crm.earn_points     / crm.loyalty_earn_sql
--   crm.redeem_points   / crm.loyalty_redeem_sql
-- Each pair runs on generated data and must give the same rows (every
-- column, floats bit for bit in text form) and the same errors (SQLSTATE
-- and message):
--   1. the analytics on demo data, for several as_of, maps, monetary
--      definitions and options, and calls that fail; the C path answered
--      every call that succeeds;
--   2. again with parallel workers forced on the SQL twins;
--   3. again on a partitioned copy of the demo data (crm.orders by hash of
--      client_id, crm.interactions by time, one year sub-partitioned),
--      which the C passes read partition by partition;
--   4. crm.refresh_segments, which reads crm.churn_signals, stores what the
--      SQL twin gives;
--   5. 600 pseudo-random loyalty operations (fixed seed) applied to twin
--      accounts, one through each implementation: the same outcome (the
--      same SQLSTATE and message, numbers aside, when they fail), and the
--      twins end with the same entries, allocations, lots and balances;
--      and the argument errors (each required argument NULL, an unknown
--      client, programme, account): the same SQLSTATE, message and (no)
--      CONTEXT through both.
--
BEGIN;
-- the demo data come from the extension crm_demo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crm_demo;
RESET client_min_messages;
SET LOCAL TimeZone = 'UTC';
SET LOCAL extra_float_digits = 1;
SET LOCAL track_functions = 'all';
-- the fast-path counters are per process
SET LOCAL max_parallel_workers_per_gather = 0;

-- the calls compared: function, arguments, what the case is
CREATE TEMP TABLE twin_cases (n serial PRIMARY KEY, f text NOT NULL, args text NOT NULL,
							  what text NOT NULL);
INSERT INTO twin_cases (f, args, what) VALUES
	('rfm_scores', $$'2025-01-01'$$, 'rfm11, total, at the end of the history'),
	('rfm_scores', $$'2025-01-01', 'rf10'$$, 'the rf10 map'),
	('rfm_scores', $$'2025-01-01', 'rfm11', 'mean'$$, 'monetary by mean'),
	('rfm_scores', $$'2024-03-15 08:00'$$, 'as_of inside the history'),
	('rfm_scores', $$'2031-01-01'$$, 'as_of after the history'),
	('rfm_scores', $$'2000-01-01'$$, 'as_of before any purchase: no rows'),
	('rfm_scores', $$'2025-01-01', 'nosuchmap'$$, 'an unknown map: an error'),
	('rfm_scores', $$'2025-01-01', 'rfm11', 'median'$$, 'an unknown monetary definition: an error'),
	('rfm_scores', $$'infinity'$$, 'an infinite as_of: an error'),
	('churn_signals', $$'2025-01-01'$$, 'at the end of the history'),
	('churn_signals', $$'2024-03-15 08:00'$$, 'as_of inside the history'),
	('churn_signals', $$'2025-01-01', '{"window_days": 45, "prior_gaps": 1, "season_months": [12]}'$$,
	 'other options'),
	('churn_signals', $$'2025-01-01', '{"population_gap_days": 21}'$$, 'a fixed population rhythm'),
	('churn_signals', $$'2025-01-01', '{"window_days": -3}'$$, 'a bad option: an error'),
	('churn_signals', $$'2025-01-01', '{"no_such_option": 1}'$$, 'an unknown option: an error'),
	('churn_signals', $$'-infinity'$$, 'an infinite as_of: an error');

-- what a call gives: its rows (count and digest of their text forms,
-- sorted) or its error
CREATE FUNCTION pg_temp.outcome(f text, args text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text; st text; msg text;
BEGIN
	EXECUTE format('SELECT count(*) || '' rows '' || coalesce(md5(string_agg(t, E''\n'' ORDER BY t)), '''')
					  FROM (SELECT x::text AS t FROM crm.%s(%s) x) y', f, args) INTO r;
	RETURN r;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN 'error ' || st || ': ' || msg;
END $$;

-- every case, C against SQL, as pgTAP tests
CREATE FUNCTION pg_temp.compare_cases(label text) RETURNS SETOF text LANGUAGE sql AS $$
	SELECT is(pg_temp.outcome(f, args), pg_temp.outcome(f || '_sql', args),
			  format('%s: %s(%s), %s', label, f, args, what))
	  FROM twin_cases ORDER BY n
$$;

-- the calls of each function the C path answered since the last reset
CREATE FUNCTION pg_temp.c_calls(fn text) RETURNS bigint LANGUAGE sql AS $$
	SELECT coalesce(sum(calls), 0)::bigint FROM crm.fast_path_stats()
	 WHERE function = 'crm.' || fn AND path = 'c'
$$;
CREATE FUNCTION pg_temp.ok_cases(fn text) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM twin_cases WHERE f = fn AND what !~ 'an error'
$$;

SELECT plan((SELECT 3 * count(*)::int FROM twin_cases) + 1 + 4 + 2 + 1 + 10);

SELECT lives_ok($$SELECT crm.generate_demo_data(3000, 5, '2025-01-01')$$, 'demo data generated');

-- 1. the analytics on the demo data
SELECT crm.fast_path_stats_reset();
SELECT * FROM pg_temp.compare_cases('plain tables');
SELECT is(pg_temp.c_calls('rfm_scores'), pg_temp.ok_cases('rfm_scores'),
		  'plain tables: the C path answered every call of rfm_scores that succeeds');
SELECT is(pg_temp.c_calls('churn_signals'), pg_temp.ok_cases('churn_signals'),
		  'plain tables: the C path answered every call of churn_signals that succeeds');

-- 2. parallel workers on the SQL twins
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SELECT * FROM pg_temp.compare_cases('parallel workers on SQL');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
SET LOCAL max_parallel_workers_per_gather = 0;

-- 3. a partitioned copy of the demo data under the tables' names
ALTER TABLE crm.orders RENAME TO orders_plain;
CREATE TABLE crm.orders (LIKE crm.orders_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
						 PRIMARY KEY (client_id, order_id))
	PARTITION BY HASH (client_id);
CREATE TABLE crm.orders_h0 PARTITION OF crm.orders FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE crm.orders_h1 PARTITION OF crm.orders FOR VALUES WITH (MODULUS 4, REMAINDER 1);
CREATE TABLE crm.orders_h2 PARTITION OF crm.orders FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE crm.orders_h3 PARTITION OF crm.orders FOR VALUES WITH (MODULUS 4, REMAINDER 3);
INSERT INTO crm.orders SELECT * FROM crm.orders_plain;
ALTER TABLE crm.interactions RENAME TO interactions_plain;
CREATE TABLE crm.interactions (LIKE crm.interactions_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
	PARTITION BY RANGE (occurred_at);
CREATE TABLE crm.interactions_old PARTITION OF crm.interactions
	FOR VALUES FROM (MINVALUE) TO ('2024-01-01');
CREATE TABLE crm.interactions_2024 PARTITION OF crm.interactions
	FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY HASH (client_id);
CREATE TABLE crm.interactions_2024a PARTITION OF crm.interactions_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE crm.interactions_2024b PARTITION OF crm.interactions_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE crm.interactions_new PARTITION OF crm.interactions DEFAULT;
INSERT INTO crm.interactions SELECT * FROM crm.interactions_plain;
SELECT ok((SELECT count(*) FROM crm.orders_h3) > 0 AND (SELECT count(*) FROM crm.interactions_2024b) > 0
		   AND (SELECT count(*) FROM crm.interactions) = (SELECT count(*) FROM crm.interactions_plain),
		  'the partitioned copy holds every row, spread over the partitions');
SELECT crm.fast_path_stats_reset();
SELECT * FROM pg_temp.compare_cases('partitioned');
SELECT is(pg_temp.c_calls('rfm_scores'), pg_temp.ok_cases('rfm_scores'),
		  'partitioned: the C path answered every call of rfm_scores that succeeds');
SELECT is(pg_temp.c_calls('churn_signals'), pg_temp.ok_cases('churn_signals'),
		  'partitioned: the C path answered every call of churn_signals that succeeds');

-- 4. refresh_segments stores what the SQL twin gives
SELECT crm.refresh_segments('2025-01-01');
SELECT is((SELECT count(*) FROM crm.client_segments s
			 JOIN crm.churn_signals_sql('2025-01-01') c USING (client_id)
			WHERE s.behaviour_class = c.behaviour_class AND s.churn_status = c.status),
		  (SELECT count(*) FROM crm.churn_signals_sql('2025-01-01')),
		  'refresh_segments stores the class and status of the SQL twin for every client');
SELECT is((SELECT count(*) FROM crm.client_segments s
			 JOIN crm.rfm_scores_sql('2025-01-01') r USING (client_id)
			WHERE s.rfm::text = r.rfm::text),
		  (SELECT count(*) FROM crm.rfm_scores_sql('2025-01-01')),
		  'refresh_segments stores the RFM code of the SQL twin for every client');

-- 5. the loyalty twins: twin accounts, one through each implementation
SELECT setseed(0.2718);
INSERT INTO crm.clients (client_id, first_name)
SELECT 71000 + g, 'twin ' || g FROM generate_series(1, 24) g;
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, points_lifetime)
VALUES ('q-fefo', 'soonest expiry first', 1, '90 days');
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, lot_order)
VALUES ('q-fifo', 'oldest lot first', 1, 'earned_first');

CREATE TEMP TABLE twin_ops (n integer PRIMARY KEY, op text, pair integer, program text,
							points bigint, key text, expires_at timestamptz,
							c_result text, sql_result text);

-- runs one call: 'ok <points> <balance_after>', or the SQLSTATE and the
-- message with its numbers left out (they name the twin's own rows)
CREATE FUNCTION pg_temp.run(q text, VARIADIC args text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE e crm.loyalty_ledger;
BEGIN
	EXECUTE q INTO e USING args[1]::bigint, args[2], args[3]::bigint, args[4], args[5]::timestamptz;
	RETURN format('ok %s %s', e.points, e.balance_after);
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '\d+', '#', 'g');
END $$;

SELECT crm.fast_path_stats_reset();
DO $$
DECLARE
	i integer;
	r double precision;
	pair integer;
	prog text;
	pts bigint;
	k text;
	exp timestamptz;
	op text;
	prev record;
	c_res text;
	s_res text;
BEGIN
	FOR i IN 1 .. 600 LOOP
		r := random();
		pair := 1 + floor(random() * 12)::int;
		prog := CASE WHEN random() < 0.5 THEN 'q-fefo' ELSE 'q-fifo' END;
		exp := NULL;
		IF r < 0.45 THEN
			op := 'earn';
			pts := 1 + floor(random() * 40)::int;
			k := 'e' || i;
			IF random() < 0.04 THEN
				-- far enough ahead for both calls to see it in the future,
				-- however slow the build (sanitizers, first calls)
				exp := clock_timestamp() + interval '250 milliseconds';
			END IF;
		ELSIF r < 0.9 THEN
			op := 'redeem';
			pts := 1 + floor(random() * 60)::int;
			k := 'r' || i;
		ELSE
			-- an earlier key again: same arguments, or other points
			SELECT * INTO prev FROM twin_ops WHERE twin_ops.op IN ('earn', 'redeem') AND expires_at IS NULL
			 ORDER BY random() LIMIT 1;
			IF prev IS NULL THEN
				CONTINUE;
			END IF;
			op := prev.op;
			pair := prev.pair;
			prog := prev.program;
			k := prev.key;
			pts := CASE WHEN random() < 0.7 THEN prev.points ELSE prev.points + 1 END;
		END IF;
		IF op = 'earn' THEN
			c_res := pg_temp.run('SELECT * FROM crm.earn_points($1, $2, $3, $4, NULL, $5)',
								 (71000 + 2 * pair - 1)::text, prog, pts::text, k, exp::text);
			s_res := pg_temp.run('SELECT * FROM crm.loyalty_earn_sql($1, $2, $3, $4, NULL, $5, NULL, NULL)',
								 (71000 + 2 * pair)::text, prog, pts::text, k, exp::text);
		ELSE
			c_res := pg_temp.run('SELECT * FROM crm.redeem_points($1, $2, $3, $4) WHERE $5 IS NULL',
								 (71000 + 2 * pair - 1)::text, prog, pts::text, k, NULL);
			s_res := pg_temp.run('SELECT * FROM crm.loyalty_redeem_sql($1, $2, $3, $4, NULL, NULL, NULL) WHERE $5 IS NULL',
								 (71000 + 2 * pair)::text, prog, pts::text, k, NULL);
		END IF;
		INSERT INTO twin_ops VALUES (i, CASE WHEN r >= 0.9 THEN op || ' again' ELSE op END,
									 pair, prog, pts, k, exp, c_res, s_res);
		IF exp IS NOT NULL THEN
			-- the short lot is due from here on
			PERFORM pg_sleep(extract(epoch FROM exp - clock_timestamp())::float8 + 0.01);
		END IF;
	END LOOP;
END $$;

-- an account's history, lots numbered within the account, times and the
-- lot numbers of expiry keys left out
CREATE FUNCTION pg_temp.history(c bigint) RETURNS SETOF text LANGUAGE sql AS $$
	WITH lots AS (SELECT t.program_id, t.lot_id,
						 row_number() OVER (PARTITION BY t.program_id ORDER BY t.lot_id) AS n
					FROM crm.loyalty_lots t WHERE t.client_id = c)
	SELECT format('%s %s: %s %s -> %s lot %s key %s %s; %s', p.code,
				  row_number() OVER (PARTITION BY e.program_id ORDER BY e.entry_id),
				  e.kind, e.points, e.balance_after,
				  (SELECT lots.n FROM lots WHERE lots.program_id = e.program_id AND lots.lot_id = e.lot_id),
				  regexp_replace(e.idempotency_key, '\d+', '#', 'g'),
				  regexp_replace(regexp_replace(e.request::text, '"\d{4}-[^"]*"', '"<time>"', 'g'),
								 '"lot_id": \d+', '"lot_id": #'),
				  (SELECT string_agg(format('lot %s %s', lots.n, a.points), ', ' ORDER BY lots.n)
					 FROM crm.loyalty_allocations a
					 JOIN lots ON lots.program_id = a.program_id AND lots.lot_id = a.lot_id
					WHERE a.client_id = c AND a.entry_id = e.entry_id))
	  FROM crm.loyalty_ledger e JOIN crm.loyalty_programs p USING (program_id)
	 WHERE e.client_id = c
	 ORDER BY p.code, e.entry_id
$$;

SELECT is((SELECT count(*) FROM twin_ops WHERE c_result IS DISTINCT FROM sql_result), 0::bigint,
		  'loyalty: every operation has the same outcome through the C function and through the SQL twin');
SELECT ok((SELECT count(DISTINCT c_result) FILTER (WHERE c_result !~ '^ok') >= 2
			   AND count(*) FILTER (WHERE c_result ~ '^ok') > 300
		   FROM twin_ops),
		  'loyalty: the operations include successes and at least two kinds of error');
SELECT is((SELECT count(*) FROM generate_series(1, 12) pair
			WHERE ARRAY(SELECT pg_temp.history(71000 + 2 * pair - 1))
				  IS DISTINCT FROM ARRAY(SELECT pg_temp.history(71000 + 2 * pair))), 0::bigint,
		  'loyalty: each pair of twins has the same entries, lots drawn and allocations');
SELECT is((SELECT count(*) FROM generate_series(1, 12) pair
			WHERE ARRAY(SELECT (t.program_id, t.points, t.remaining)::text FROM crm.loyalty_lots t
						 WHERE t.client_id = 71000 + 2 * pair - 1 ORDER BY t.program_id, t.lot_id)
				  IS DISTINCT FROM
				  ARRAY(SELECT (t.program_id, t.points, t.remaining)::text FROM crm.loyalty_lots t
						 WHERE t.client_id = 71000 + 2 * pair ORDER BY t.program_id, t.lot_id)
			   OR (SELECT array_agg(a.balance ORDER BY a.program_id) FROM crm.loyalty_accounts a
					WHERE a.client_id = 71000 + 2 * pair - 1)
				  IS DISTINCT FROM
				  (SELECT array_agg(a.balance ORDER BY a.program_id) FROM crm.loyalty_accounts a
					WHERE a.client_id = 71000 + 2 * pair)), 0::bigint,
		  'loyalty: each pair of twins has the same lots and balances');
-- the C functions answered most calls themselves and handed the others
-- (new accounts, replays, due lots, too few points, an expiry given) to
-- SQL, saying why
SELECT ok((SELECT sum(calls) FILTER (WHERE path = 'c') > sum(calls) FILTER (WHERE path = 'sql')
			   AND count(DISTINCT reason) >= 5
			 FROM crm.fast_path_stats() WHERE function IN ('crm.earn_points', 'crm.redeem_points')),
		  'loyalty: the C functions took most calls and handed the others to the SQL twins, for several reasons');
-- the key rule, written once in C (key_ok) and once in SQL
-- (crm.loyalty_check_args): keys on and over its edges, through both
SELECT is(ARRAY(SELECT pg_temp.run('SELECT * FROM crm.earn_points($1, $2, $3, $4, NULL, $5)',
								   '71023', 'q-fifo', '5', k, NULL)
				  FROM unnest(ARRAY[repeat('k', 200), repeat('k', 201), '', 'crm:x', 'crm', 'é' || repeat('k', 199)]) k),
		  ARRAY(SELECT pg_temp.run('SELECT * FROM crm.loyalty_earn_sql($1, $2, $3, $4, NULL, $5, NULL, NULL)',
								   '71024', 'q-fifo', '5', k, NULL)
				  FROM unnest(ARRAY[repeat('k', 200), repeat('k', 201), '', 'crm:x', 'crm', 'é' || repeat('k', 199)]) k),
		  'loyalty: keys of 200 and 201 characters, empty, reserved and multibyte: the same outcomes');

-- the argument errors, through both: SQLSTATE, message and CONTEXT (none)
CREATE FUNCTION pg_temp.fails(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE ctx text;
BEGIN
	EXECUTE q;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS ctx = PG_EXCEPTION_CONTEXT;
	RETURN format('%s: %s; context: %s', SQLSTATE, SQLERRM, coalesce(nullif(ctx, ''), 'none'));
END $$;
INSERT INTO crm.clients (client_id, first_name) VALUES (71100, 'no account');
CREATE TEMP TABLE twin_errors (n serial PRIMARY KEY, f text, args text, outcome text);
INSERT INTO twin_errors (f, args, outcome)
SELECT f, a, o FROM unnest(ARRAY['earn_points', 'redeem_points']) f
 CROSS JOIN LATERAL (VALUES
	(1, $$NULL, 'q-fifo', 5, 'x1'$$, '22004: client_id must not be NULL'),
	(2, $$71023, NULL, 5, 'x1'$$, '22004: program must not be NULL'),
	(3, $$71023, 'q-fifo', NULL, 'x1'$$, '22004: points must not be NULL'),
	(4, $$71023, 'q-fifo', 5, NULL$$, '22004: idempotency_key must not be NULL'),
	(5, $$NULL, NULL, NULL, NULL$$, '22004: client_id must not be NULL'),
	(6, $$71023, 'q-nosuch', 5, 'x1'$$, '22023: loyalty programme "q-nosuch" does not exist'),
	(7, $$79999, 'q-fifo', 5, 'x1'$$, 'P0002: client 79999 does not exist'),
	(8, $$71100, 'q-fifo', 5, 'x1'$$, 'LY001: not enough loyalty points: 5 requested, 0 available')
 ) AS c(i, a, o)
 WHERE i < 8 OR f = 'redeem_points'	-- a client without an account: earning opens one
 ORDER BY f, i;
SELECT is(ARRAY(SELECT pg_temp.fails(format('SELECT crm.%s(%s)', f, args)) FROM twin_errors
				 ORDER BY n),
		  ARRAY(SELECT outcome || '; context: none' FROM twin_errors ORDER BY n),
		  'loyalty: each required argument NULL, an unknown programme and client, no account: the errors, without CONTEXT');
SELECT is(ARRAY(SELECT pg_temp.fails(format('SELECT crm.%s(%s)', f, args)) FROM twin_errors
				 ORDER BY n),
		  ARRAY(SELECT pg_temp.fails(format('SELECT crm.%s(%s, NULL, NULL, NULL%s)',
											CASE f WHEN 'earn_points' THEN 'loyalty_earn_sql' ELSE 'loyalty_redeem_sql' END,
											args, CASE f WHEN 'earn_points' THEN ', NULL' ELSE '' END))
				  FROM twin_errors ORDER BY n),
		  'loyalty: the SQL twins give the same errors');
SELECT is(pg_temp.fails($$SELECT crm.redeem_points(71023, 'q-fifo', 9223372036854775807, 'x2')$$),
		  pg_temp.fails($$SELECT crm.loyalty_redeem_sql(71023, 'q-fifo', 9223372036854775807, 'x2', NULL, NULL, NULL)$$),
		  'loyalty: too few points in an account: the same error, without CONTEXT, through both');
SELECT is((SELECT count(*) FROM crm.verify_ledger()), 0::bigint, 'loyalty: verify_ledger is clean');

SELECT * FROM finish();
ROLLBACK;
