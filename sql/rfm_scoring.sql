--
-- Quantile and fixed-threshold scoring: crm.quantile_breaks,
-- crm.quantile_state, crm.threshold_score.
--
CREATE TEMP TABLE lumpy (client_id integer, orders integer);
-- 60 % one order, 20 % two, 10 % three, 10 % five (reference section 3.5)
INSERT INTO lumpy VALUES (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (6, 1),
						 (7, 2), (8, 2), (9, 3), (10, 5);

-- breakpoints b_j = s_(ceil(j n / k)): {1, 1, 1, 2}; scores 1 + #{b < x}
SELECT crm.quantile_breaks(orders, 5, true) AS higher_better,
	   crm.quantile_breaks(orders, 5, false) AS lower_better
  FROM lumpy;
WITH b AS (SELECT crm.quantile_breaks(orders, 5, true) AS br FROM lumpy)
SELECT orders, count(*) AS clients, crm.threshold_score(orders, br, true) AS score
  FROM lumpy, b GROUP BY orders, br ORDER BY orders;
-- classes 2 and 3 are empty: the 60 % with one order all score 1
-- lower is better (as for recency): the fewest orders score best
WITH b AS (SELECT crm.quantile_breaks(orders, 5, false) AS br FROM lumpy)
SELECT orders, crm.threshold_score(orders, br, false) AS score
  FROM lumpy, b GROUP BY orders, br ORDER BY orders;
-- the same rule with window functions: 1 + floor(k * (clients strictly worse) / n)
SELECT orders, 1 + 5 * (rank() OVER (ORDER BY orders) - 1) / count(*) OVER () AS higher_better,
	   1 + 5 * (rank() OVER (ORDER BY orders DESC) - 1) / count(*) OVER () AS lower_better
  FROM lumpy ORDER BY orders, client_id;

-- distinct values: each class holds its share exactly (10 values, 5 classes)
SELECT crm.threshold_score(v, (SELECT crm.quantile_breaks(g, 5, true) FROM generate_series(1, 10) g)) AS score,
	   array_agg(v ORDER BY v) AS values
  FROM generate_series(1, 10) v GROUP BY 1 ORDER BY 1;
-- 7 values, 3 classes: sizes 3, 2, 2 (ceil(7/3) = 3, ceil(14/3) = 5)
SELECT crm.quantile_breaks(g, 3, true) FROM generate_series(1, 7) g;
-- one client, identical values, all NULL, no rows
SELECT crm.quantile_breaks(42, 5, true) AS one,
	   (SELECT crm.quantile_breaks(7, 4, false) FROM generate_series(1, 9)) AS identical,
	   (SELECT crm.quantile_breaks(NULL, 5, true) FROM generate_series(1, 3)) AS all_null,
	   (SELECT crm.quantile_breaks(g, 5, true) FROM generate_series(1, 0) g) AS no_rows;
SELECT crm.threshold_score(42, crm.quantile_breaks(42, 5, true)) AS one_client;
-- NULL values are skipped
SELECT crm.quantile_breaks(v, 2, true)
  FROM (VALUES (1.0), (NULL), (2.0), (NULL), (3.0), (4.0)) x(v);
-- negative zero and zero are one value; infinities rank at the ends
SELECT crm.quantile_breaks(v, 2, true)
  FROM (VALUES ('-0'::float8), (0), ('-Infinity'), ('Infinity')) x(v);

-- fixed thresholds: F = 1, 2, 3-4, 5-9, 10+ orders; recency <30, <90, <180, <365 days
SELECT f, crm.threshold_score(f, '{1,2,4,9}') AS f_score
  FROM unnest('{1,2,3,4,5,9,10,200}'::int[]) f;
SELECT d, crm.threshold_score(d, '{30,90,180,365}', false) AS r_score
  FROM unnest('{0,29,30,89,90,364,365,1000}'::int[]) d;
SELECT crm.threshold_score(5, '{}') AS no_thresholds,
	   crm.threshold_score(5, '{5,5,5}') AS equal_thresholds,
	   crm.threshold_score(6, '{5,5,5}') AS above_equal;

-- the state: text form round-trips exactly
SELECT crm.quantile_breaks_transfn(crm.quantile_breaks_transfn(
		   crm.quantile_breaks_transfn(NULL, 0.1, 5, true), 1e-300, 5, true), 0.1, 5, true) AS state;
SELECT s::text = s::text::crm.quantile_state::text AS round_trip, s::text
  FROM (VALUES ('5 higher 0.30000000000000004:2 -1e+300:1 0.1:3 0.30000000000000004:1'::crm.quantile_state),
			   ('3 lower 1.7976931348623157e+308:1 5e-324:9'),
			   ('7 higher')) v(s);
SELECT crm.quantile_breaks_finalfn('5 higher 1:6 2:2 3:1 5:1') AS from_text;
-- the combine function on two states from text, and with an empty side
SELECT crm.quantile_breaks_combinefn('5 higher 1:6 2:1', '5 higher 2:1 3:1 5:1')::text AS combined,
	   crm.quantile_breaks_combinefn(NULL, '5 higher 1:1')::text AS first_null,
	   crm.quantile_breaks_combinefn('5 higher 1:1', NULL)::text AS second_null,
	   crm.quantile_breaks_combinefn(NULL, NULL) IS NULL AS both_null;

-- errors
SELECT crm.quantile_breaks(g, 1, true) FROM generate_series(1, 3) g;
SELECT crm.quantile_breaks(g, 101, true) FROM generate_series(1, 3) g;
SELECT crm.quantile_breaks(g, NULL, true) FROM generate_series(1, 3) g;
SELECT crm.quantile_breaks(g, 2 + g % 2, true) FROM generate_series(1, 3) g;
SELECT crm.quantile_breaks(v, 5, true) FROM (VALUES (1), ('NaN'::float8)) x(v);
SELECT crm.quantile_breaks_combinefn('5 higher 1:1', '4 higher 1:1');
SELECT crm.quantile_breaks_combinefn('5 higher 1:1', '5 lower 1:1');
SELECT crm.threshold_score('NaN', '{1,2}');
SELECT crm.threshold_score(1, '{3,2}');
SELECT crm.threshold_score(1, '{1,NULL}');
SELECT crm.threshold_score(1, '{{1,2},{3,4}}');
SELECT crm.threshold_score(1, '{1,NaN}');
SELECT 'x'::crm.quantile_state;
SELECT '1 higher'::crm.quantile_state;
SELECT '5 up 1:1'::crm.quantile_state;
SELECT '5 higher 1'::crm.quantile_state;
SELECT '5 higher 1:0'::crm.quantile_state;
SELECT '5 higher 1:-3'::crm.quantile_state;
SELECT '5 higher NaN:1'::crm.quantile_state;
SELECT '5 higher 1:1,2:1'::crm.quantile_state;
SELECT '5 higher 1:9223372036854775807 2:1'::crm.quantile_state;
SELECT '5 higher abc:1'::crm.quantile_state;

-- parallel and partitionwise: the same breakpoints as serially
SELECT setseed(0.5);
CREATE TABLE scoring_values (id integer, v float8, k integer);
INSERT INTO scoring_values
SELECT g, round((random() * 100)::numeric, 1)::float8, g % 4 FROM generate_series(1, 20000) g;
ANALYZE scoring_values;
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE scoring_serial AS
SELECT crm.quantile_breaks(v, 5, true) AS hb, crm.quantile_breaks(v, 7, false) AS lb FROM scoring_values;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT crm.quantile_breaks(v, 5, true) FROM scoring_values;
SELECT s.hb = p.hb AS same_higher, s.lb = p.lb AS same_lower
  FROM scoring_serial s,
	   (SELECT crm.quantile_breaks(v, 5, true) AS hb, crm.quantile_breaks(v, 7, false) AS lb
		  FROM scoring_values) p;
SELECT crm.quantile_breaks(v, 5, true) IS NULL AS empty FROM scoring_values WHERE id < 0;
SELECT crm.quantile_breaks(v, 5, true) = ARRAY[v, v, v, v] AS one_row
  FROM scoring_values WHERE id = 77 GROUP BY v;
RESET parallel_leader_participation;
SET max_parallel_workers_per_gather = 0;
SET enable_partitionwise_aggregate = on;
CREATE TABLE scoring_parts (LIKE scoring_values) PARTITION BY LIST (k);
CREATE TABLE scoring_parts_0 PARTITION OF scoring_parts FOR VALUES IN (0);
CREATE TABLE scoring_parts_1 PARTITION OF scoring_parts FOR VALUES IN (1);
CREATE TABLE scoring_parts_2 PARTITION OF scoring_parts FOR VALUES IN (2, 3);
INSERT INTO scoring_parts SELECT * FROM scoring_values;
ANALYZE scoring_parts;
EXPLAIN (COSTS OFF)
SELECT crm.quantile_breaks(v, 5, true) FROM scoring_parts;
SELECT s.hb = p.hb AS same_higher, s.lb = p.lb AS same_lower
  FROM scoring_serial s,
	   (SELECT crm.quantile_breaks(v, 5, true) AS hb, crm.quantile_breaks(v, 7, false) AS lb
		  FROM scoring_parts) p;
-- one class per partition, grouped: the partial states meet in the final step
SELECT k % 2 AS half, crm.quantile_breaks(v, 3, true)
  FROM scoring_parts GROUP BY 1 ORDER BY 1;
SELECT k % 2 AS half, crm.quantile_breaks(v, 3, true)
  FROM scoring_values GROUP BY 1 ORDER BY 1;
-- what a cluster does: partial states per shard, shipped as text, combined,
-- finalised; the breakpoints are those of the whole table
CREATE AGGREGATE pg_temp.quantile_partial(double precision, integer, boolean) (
	SFUNC = crm.quantile_breaks_transfn, STYPE = crm.quantile_state,
	COMBINEFUNC = crm.quantile_breaks_combinefn);
CREATE AGGREGATE pg_temp.quantile_combine(crm.quantile_state) (
	SFUNC = crm.quantile_breaks_combinefn, STYPE = crm.quantile_state,
	FINALFUNC = crm.quantile_breaks_finalfn);
WITH shards AS (
	SELECT k, pg_temp.quantile_partial(v, 7, false)::text AS shipped
	  FROM scoring_values GROUP BY k)
SELECT count(*) AS shards, sum(length(shipped)) > 1000 AS big_enough,
	   pg_temp.quantile_combine(shipped::crm.quantile_state) = (SELECT lb FROM scoring_serial) AS same
  FROM shards;
RESET enable_partitionwise_aggregate;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;

-- as a window function
SELECT id, crm.quantile_breaks(id, 2, true) OVER (ORDER BY id)
  FROM generate_series(1, 4) id;
DROP TABLE scoring_values, scoring_parts;
