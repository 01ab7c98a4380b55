--
-- crm.purchase_profile in parallel query and partitionwise aggregation:
-- the combine, serialise and deserialise paths give exactly the serial
-- answer, whether partials are time-disjoint or interleaved, and empty
-- partials combine.
--
SET TimeZone = 'UTC';
SELECT setseed(0.25);

CREATE TABLE profile_buys (
	client_id	integer NOT NULL,
	buy_no		integer NOT NULL,
	t			timestamptz NOT NULL,
	amount		numeric(12, 2) NOT NULL,
	offer		boolean
);
INSERT INTO profile_buys
SELECT 1 + (random() * 1999)::int, g,
	   '2023-01-01'::timestamptz + random() * interval '700 days',
	   round((random() * 200)::numeric, 2),
	   CASE WHEN random() < 0.1 THEN NULL ELSE random() < 0.3 END
  FROM generate_series(1, 30000) g;
ANALYZE profile_buys;

-- the serial answer
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_answer AS
SELECT client_id, crm.purchase_profile(t, amount, offer)::text AS p
  FROM profile_buys GROUP BY client_id;
CREATE TEMP TABLE serial_whole AS
SELECT crm.purchase_profile(t, amount, offer)::text AS p FROM profile_buys;

-- parallel: the plan has a Partial Aggregate below a Gather
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT client_id, crm.purchase_profile(t, amount, offer) FROM profile_buys GROUP BY client_id;
SELECT count(*) AS clients,
	   count(*) FILTER (WHERE s.p IS DISTINCT FROM x.p) AS differing
  FROM serial_answer s
  FULL JOIN (SELECT client_id, crm.purchase_profile(t, amount, offer)::text AS p
			   FROM profile_buys GROUP BY client_id) x USING (client_id);

-- the state with windows (crm.churn_signals' shards path) in parallel: the
-- same bytes as serially
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE serial_windows AS
SELECT client_id, crm.purchase_profile_state(t, amount, offer, '2024-06-01', '2024-01-01') AS s
  FROM profile_buys GROUP BY client_id;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT client_id, crm.purchase_profile_state(t, amount, offer, '2024-06-01', '2024-01-01')
  FROM profile_buys GROUP BY client_id;
SELECT count(*) AS clients,
	   count(*) FILTER (WHERE s.s IS DISTINCT FROM x.s) AS differing
  FROM serial_windows s
  FULL JOIN (SELECT client_id, crm.purchase_profile_state(t, amount, offer, '2024-06-01', '2024-01-01') AS s
			   FROM profile_buys GROUP BY client_id) x USING (client_id);

-- one profile of all rows: every worker's partial interleaves in time with the others
EXPLAIN (COSTS OFF)
SELECT crm.purchase_profile(t, amount, offer) FROM profile_buys;
SELECT (SELECT p FROM serial_whole) = crm.purchase_profile(t, amount, offer)::text AS same
  FROM profile_buys;

-- empty partials: a filter that leaves the workers nothing, or almost nothing
SELECT crm.purchase_profile(t, amount, offer) IS NULL AS empty FROM profile_buys WHERE client_id < 0;
SELECT (crm.purchase_profile(t, amount, offer)).purchases FROM profile_buys WHERE buy_no = 17;
RESET parallel_leader_participation;

-- partitionwise, without workers: time-disjoint partitions (by range of
-- time) and interleaved ones (by hash of the purchase number)
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
CREATE TABLE profile_by_time (LIKE profile_buys) PARTITION BY RANGE (t);
CREATE TABLE profile_by_time_1 PARTITION OF profile_by_time FOR VALUES FROM (MINVALUE) TO ('2023-06-01');
CREATE TABLE profile_by_time_2 PARTITION OF profile_by_time FOR VALUES FROM ('2023-06-01') TO ('2024-01-01');
CREATE TABLE profile_by_time_3 PARTITION OF profile_by_time FOR VALUES FROM ('2024-01-01') TO (MAXVALUE);
INSERT INTO profile_by_time SELECT * FROM profile_buys;
CREATE TABLE profile_by_hash (LIKE profile_buys) PARTITION BY HASH (buy_no);
CREATE TABLE profile_by_hash_0 PARTITION OF profile_by_hash FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE profile_by_hash_1 PARTITION OF profile_by_hash FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE profile_by_hash_2 PARTITION OF profile_by_hash FOR VALUES WITH (MODULUS 3, REMAINDER 2);
INSERT INTO profile_by_hash SELECT * FROM profile_buys;
ANALYZE profile_by_time, profile_by_hash;

EXPLAIN (COSTS OFF)
SELECT client_id, crm.purchase_profile(t, amount, offer) FROM profile_by_time GROUP BY client_id;
SELECT count(*) AS clients,
	   count(*) FILTER (WHERE s.p IS DISTINCT FROM x.p) AS differing
  FROM serial_answer s
  FULL JOIN (SELECT client_id, crm.purchase_profile(t, amount, offer)::text AS p
			   FROM profile_by_time GROUP BY client_id) x USING (client_id);

EXPLAIN (COSTS OFF)
SELECT client_id, crm.purchase_profile(t, amount, offer) FROM profile_by_hash GROUP BY client_id;
SELECT count(*) AS clients,
	   count(*) FILTER (WHERE s.p IS DISTINCT FROM x.p) AS differing
  FROM serial_answer s
  FULL JOIN (SELECT client_id, crm.purchase_profile(t, amount, offer)::text AS p
			   FROM profile_by_hash GROUP BY client_id) x USING (client_id);

-- partitions without a matching row: empty partials combine
EXPLAIN (COSTS OFF)
SELECT crm.purchase_profile(t, amount, offer) FROM profile_by_time WHERE buy_no = 17;
SELECT (crm.purchase_profile(t, amount, offer)).purchases, (SELECT p FROM serial_answer s
		 WHERE s.client_id = (SELECT client_id FROM profile_buys WHERE buy_no = 17)) IS NOT NULL AS known
  FROM profile_by_time WHERE buy_no = 17;
SELECT crm.purchase_profile(t, amount, offer) IS NULL AS empty
  FROM profile_by_hash WHERE buy_no < 0;

RESET enable_partitionwise_aggregate;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE profile_buys, profile_by_time, profile_by_hash;
