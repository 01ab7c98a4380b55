--
-- The fast-path rules (src/fastpath.c) at their seams: which path a call
-- of crm.rfm_scores, crm.churn_signals, crm.earn_points and
-- crm.redeem_points takes, and why, as crm.fast_path_stats() and
-- crm.log_fast_path report it; and that the C path gives the rows of the
-- SQL twin where it runs:
--   * a partitioned crm.orders (hash of client_id, as a DBA keys the
--     target of foreign keys) and crm.interactions (by time) are read
--     partition by partition by the C passes, with the rows of the twins;
--   * a foreign partition, row security applying to the caller: the call
--     goes to SQL, which does what a statement does;
--   * a table listed in Citus's pg_dist_partition (a shell table on a
--     coordinator): the per-client rows come from queries (the shards
--     path), with the rows of the twins, and the twins' errors;
--   * the loyalty tables, written directly only as installed: with a
--     statement trigger, a rule, partitioned: SQL.
--
SET TimeZone = 'UTC';
-- the counters are per process: keep the calls in this one
SET max_parallel_workers_per_gather = 0;
-- the sequences as they are, to be put back after the rollback (the tests
-- after this one number their rows from them)
CREATE TEMP TABLE seqs AS
SELECT format('%I.%I', schemaname, sequencename) AS seq, start_value, last_value
  FROM pg_sequences WHERE schemaname = 'crm';
BEGIN;
-- the rows of crm.<f>(args) and of its twin crm.<f>_sql(args) not shared
CREATE FUNCTION pg_temp.differ(f text, args text) RETURNS bigint LANGUAGE plpgsql
SET max_parallel_workers_per_gather = 0 AS $$
DECLARE d bigint;
BEGIN
	EXECUTE format($q$
		SELECT count(*) FROM (
			((SELECT * FROM crm.%1$s(%2$s)) EXCEPT ALL (SELECT * FROM crm.%1$s_sql(%2$s)))
			UNION ALL
			((SELECT * FROM crm.%1$s_sql(%2$s)) EXCEPT ALL (SELECT * FROM crm.%1$s(%2$s)))) x
		$q$, f, args) INTO d;
	RETURN d;
END $$;
-- the path the last calls took: the counts since the last reset, then reset
CREATE FUNCTION pg_temp.paths() RETURNS TABLE (function text, path text, reason text, calls bigint)
LANGUAGE sql AS $$
	SELECT function, path, reason, calls FROM crm.fast_path_stats() ORDER BY 1, 2, 3
$$;
\i sql/include/try.sql

-- 120 clients with orders and interactions over two years
INSERT INTO crm.clients (client_id, first_name)
SELECT 9000 + i, 'f' || i FROM generate_series(1, 120) i;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount, promo_used)
SELECT 9000 + i, 900000 + i * 20 + j,
	   timestamptz '2023-01-01' + ((i * 11 + j * 29) % 70) * interval '10 days',
	   'web', CASE WHEN (i + j) % 7 = 0 THEN 'cancelled' ELSE 'paid' END,
	   ((i * 13 + j * 7) % 20) * 5.25, ((i * 13 + j * 7) % 20) * 5.25, (i + j) % 5 = 0
  FROM generate_series(1, 120) i, generate_series(1, 1 + i % 9) j;
INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, campaign)
SELECT 9000 + i, timestamptz '2023-01-05' + ((i * 17 + j * 23) % 70) * interval '10 days',
	   CASE WHEN j % 2 = 0 THEN 'phone' ELSE 'email' END,
	   CASE WHEN j % 2 = 0 THEN 'call' ELSE 'email' END,
	   CASE WHEN j % 3 = 0 THEN 'outbound' ELSE 'inbound' END,
	   CASE WHEN j % 3 = 0 THEN 'spring' END
  FROM generate_series(1, 120) i, generate_series(1, i % 6) j;
CREATE TEMP TABLE before_rfm AS SELECT * FROM crm.rfm_scores('2025-01-01');
CREATE TEMP TABLE before_churn AS SELECT * FROM crm.churn_signals('2025-01-01');

-- the plain tables: the C path
SELECT crm.fast_path_stats_reset();
SELECT pg_temp.differ('rfm_scores', $$'2025-01-01'$$) AS rfm_differ,
	   pg_temp.differ('churn_signals', $$'2025-01-01'$$) AS churn_differ;
SELECT * FROM pg_temp.paths();

-- and crm.log_fast_path says so, call by call
SET client_min_messages = log;
SET crm.log_fast_path = on;
SELECT count(*) FROM crm.rfm_scores('2025-01-01');
SELECT pg_temp.try($$SELECT count(*) FROM crm.rfm_scores('2025-01-01', 'nosuchmap')$$);
SET crm.log_fast_path = off;
RESET client_min_messages;
-- an unknown setting of crm's is refused, not taken for a placeholder
SELECT pg_temp.try($$SET crm.log_fastpath = on$$);

-- row security applying to the caller: SQL answers, and the policy applies
SELECT crm.fast_path_stats_reset();
SET LOCAL ROLE crm_analyst;
SELECT count(*) > 0 AS some_rows FROM crm.rfm_scores('2025-01-01');
RESET ROLE;
SELECT * FROM pg_temp.paths();

-- crm.orders partitioned by hash of client_id, crm.interactions by time
-- (a DBA's copy of the tables under their names; the old ones renamed)
ALTER TABLE crm.orders RENAME TO orders_plain;
CREATE TABLE crm.orders (LIKE crm.orders_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
						 PRIMARY KEY (client_id, order_id))
	PARTITION BY HASH (client_id);
CREATE TABLE crm.orders_p0 PARTITION OF crm.orders FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE crm.orders_p1 PARTITION OF crm.orders FOR VALUES WITH (MODULUS 3, REMAINDER 1);
-- a partition whose columns are in another order than its parent's
CREATE TABLE crm.orders_p2 (LIKE crm.orders_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE crm.orders_p2 DROP COLUMN channel;
ALTER TABLE crm.orders_p2 ADD COLUMN channel text NOT NULL DEFAULT 'web'
	CONSTRAINT orders_channel_check CHECK (channel IN ('store', 'web', 'app', 'phone', 'marketplace', 'partner'));
ALTER TABLE crm.orders ATTACH PARTITION crm.orders_p2 FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO crm.orders SELECT * FROM crm.orders_plain;
ALTER TABLE crm.interactions RENAME TO interactions_plain;
CREATE TABLE crm.interactions (LIKE crm.interactions_plain INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
	PARTITION BY RANGE (occurred_at);
CREATE TABLE crm.interactions_2023 PARTITION OF crm.interactions
	FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
-- a sub-partitioned year
CREATE TABLE crm.interactions_2024 PARTITION OF crm.interactions
	FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY HASH (client_id);
CREATE TABLE crm.interactions_2024a PARTITION OF crm.interactions_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE crm.interactions_2024b PARTITION OF crm.interactions_2024 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE crm.interactions_rest PARTITION OF crm.interactions DEFAULT;
INSERT INTO crm.interactions SELECT * FROM crm.interactions_plain;
SELECT (SELECT count(*) FROM crm.orders_p0) > 0 AND (SELECT count(*) FROM crm.orders_p2) > 0 AS spread,
	   (SELECT count(*) FROM crm.interactions_2024a) > 0 AS nested;

SELECT crm.fast_path_stats_reset();
SELECT pg_temp.differ('rfm_scores', $$'2025-01-01'$$) AS rfm_differ,
	   pg_temp.differ('churn_signals', $$'2025-01-01'$$) AS churn_differ,
	   pg_temp.differ('rfm_scores', $$'2024-03-01', 'rfm11', 'mean'$$) AS rfm_mean_differ;
-- the same rows as from the plain tables
SELECT (SELECT count(*) FROM ((TABLE before_rfm EXCEPT ALL SELECT * FROM crm.rfm_scores('2025-01-01'))
							  UNION ALL (SELECT * FROM crm.rfm_scores('2025-01-01') EXCEPT ALL TABLE before_rfm)) x) AS rfm_changed,
	   (SELECT count(*) FROM ((TABLE before_churn EXCEPT ALL SELECT * FROM crm.churn_signals('2025-01-01'))
							  UNION ALL (SELECT * FROM crm.churn_signals('2025-01-01') EXCEPT ALL TABLE before_churn)) x) AS churn_changed;
SELECT * FROM pg_temp.paths();

-- a foreign partition: a direct pass cannot read it, SQL answers (and
-- here fails as a query on it fails: its wrapper has no handler)
CREATE FOREIGN DATA WRAPPER crm_test_fdw;
CREATE SERVER crm_test_server FOREIGN DATA WRAPPER crm_test_fdw;
SAVEPOINT foreign_partition;
CREATE FOREIGN TABLE crm.interactions_far PARTITION OF crm.interactions
	FOR VALUES FROM ('1990-01-01') TO ('2000-01-01') SERVER crm_test_server;
SELECT crm.fast_path_stats_reset();
SELECT pg_temp.try($$SELECT count(*) FROM crm.churn_signals('2025-01-01')$$);
SELECT * FROM pg_temp.paths();
ROLLBACK TO SAVEPOINT foreign_partition;

-- a table Citus manages (listed in pg_dist_partition, as on a
-- coordinator, where crm.orders is an empty shell): the per-client rows
-- come from queries (the shards path), with the SQL twin's answer
SAVEPOINT citus;
SET LOCAL allow_system_table_mods = on;
CREATE TABLE pg_catalog.pg_dist_partition (logicalrelid regclass NOT NULL, partmethod "char" NOT NULL);
INSERT INTO pg_catalog.pg_dist_partition VALUES ('crm.orders_p1', 'h');
SELECT crm.fast_path_stats_reset();
SELECT pg_temp.differ('rfm_scores', $$'2025-01-01'$$) AS rfm_differ;
SELECT pg_temp.differ('rfm_scores', $$'2025-01-01', 'rfm11', 'mean'$$) AS rfm_mean_differ;
SELECT pg_temp.differ('churn_signals', $$'2025-01-01'$$) AS churn_differ;
SELECT pg_temp.differ('churn_signals', $$'2024-06-30 12:00+02', '{"window_days": 45}'$$) AS churn_window_differ;
SELECT * FROM pg_temp.paths();
-- an inbound contact at -infinity: the twin's answer (its last engagement)
INSERT INTO crm.interactions (client_id, interaction_id, occurred_at, channel, kind, direction)
VALUES (9003, 999999, '-infinity', 'phone', 'call', 'inbound');
SELECT pg_temp.differ('churn_signals', $$'2025-01-01'$$) AS churn_differ;
-- a purchase at -infinity: the twin's error, from either path
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (9004, 999999, '-infinity', 'web', 'paid', 10, 10);
SELECT crm.fast_path_stats_reset();
SELECT pg_temp.try($$SELECT count(*) FROM crm.rfm_scores('2025-01-01')$$);
SELECT pg_temp.try($$SELECT count(*) FROM crm.churn_signals('2025-01-01')$$);
SELECT * FROM pg_temp.paths();
ROLLBACK TO SAVEPOINT citus;

-- the rows of a partitioned table the caller may not read: the query's error
SAVEPOINT no_select;
CREATE ROLE crm_fast_path_nobody;
GRANT USAGE ON SCHEMA crm TO crm_fast_path_nobody;
SELECT crm.fast_path_stats_reset();
SET LOCAL ROLE crm_fast_path_nobody;
SELECT pg_temp.try($$SELECT count(*) FROM crm.rfm_scores('2025-01-01')$$);
RESET ROLE;
SELECT * FROM pg_temp.paths();
ROLLBACK TO SAVEPOINT no_select;

-- the loyalty calls: the C path on the tables as installed ...
INSERT INTO crm.loyalty_programs (code, name, points_per_unit) VALUES ('fp', 'fast path', 1);
SELECT count(*) AS opened FROM crm.open_loyalty_account(9001, 'fp');
SELECT crm.fast_path_stats_reset();
SELECT points, balance_after FROM crm.earn_points(9001, 'fp', 100, 'fp-1');
SELECT points, balance_after FROM crm.redeem_points(9001, 'fp', 30, 'fp-2');
-- ... an unusual call goes to SQL (a key used before: the first result)
SELECT points, balance_after FROM crm.earn_points(9001, 'fp', 100, 'fp-1');
SELECT * FROM pg_temp.paths();
-- ... a statement trigger on the ledger: SQL, and the trigger fires
CREATE TABLE pg_temp.fired (n int);
CREATE FUNCTION pg_temp.count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO pg_temp.fired VALUES (1); RETURN NULL; END $$;
SAVEPOINT trig;
CREATE TRIGGER ledger_statement AFTER INSERT ON crm.loyalty_ledger
	FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.count_statement();
SELECT crm.fast_path_stats_reset();
SELECT points, balance_after FROM crm.earn_points(9001, 'fp', 5, 'fp-3');
SELECT count(*) AS statement_trigger_fired FROM pg_temp.fired;
SELECT * FROM pg_temp.paths();
ROLLBACK TO SAVEPOINT trig;
-- ... a rule on the lots: SQL, which raises what its statements raise
-- (a DO ALSO rule and a data-modifying WITH do not go together)
SAVEPOINT rule;
CREATE TABLE public.fast_path_audit (lot_id bigint);
CREATE RULE lots_audit AS ON UPDATE TO crm.loyalty_lots
	DO ALSO INSERT INTO public.fast_path_audit VALUES (new.lot_id);
SELECT crm.fast_path_stats_reset();
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'fp', 10, 'fp-4')$$);
SELECT * FROM pg_temp.paths();
ROLLBACK TO SAVEPOINT rule;
-- ... the ledger partitioned: SQL
SAVEPOINT partitioned_ledger;
ALTER TABLE crm.loyalty_ledger RENAME TO loyalty_ledger_plain;
CREATE TABLE crm.loyalty_ledger (LIKE crm.loyalty_ledger_plain INCLUDING ALL) PARTITION BY HASH (client_id);
SELECT crm.fast_path_stats_reset();
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'fp', 5, 'fp-5')$$) ~ 'no partition' AS sql_insert_failed;
SELECT * FROM pg_temp.paths();
ROLLBACK TO SAVEPOINT partitioned_ledger;
ROLLBACK;
SELECT count(*) > 0 AS sequences_put_back
  FROM (SELECT CASE WHEN last_value IS NULL THEN setval(seq, start_value, false)
					ELSE setval(seq, last_value) END
		  FROM seqs) x;
