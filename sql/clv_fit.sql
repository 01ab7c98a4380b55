--
-- CLV fits: the published CDNOW fits, compression of identical rows, the
-- state type's text form, penalty, parallel and partitionwise plans, errors.
--
-- Reference values (docs/clv.md, test/data/README.md): maximum-likelihood
-- estimates on the CDNOW sample of 2,357 clients, in weeks:
--   BG/NBD     r 0.242593 alpha 4.413532 a 0.792886 b 2.425755, LL -9582.4256
--   Pareto/NBD r 0.55328 alpha 10.57761 s 0.60621 beta 11.66791, LL -9594.9739
--   Gamma-Gamma (946 repeat buyers) p 6.24880 q 3.74459 v 15.44775, LL -4055.9232
--
CREATE TABLE clv_cdnow (id integer PRIMARY KEY, frequency float8, recency float8,
						t float8, monetary float8);
\copy clv_cdnow FROM 'test/data/cdnow_customers_summary_with_transactions.csv' CSV HEADER
ANALYZE clv_cdnow;

-- the fits
SELECT round(m.r::numeric, 5) AS r, round(m.alpha::numeric, 4) AS alpha,
	   round(m.a::numeric, 5) AS a, round(m.b::numeric, 4) AS b,
	   round(m.loglik::numeric, 3) AS loglik, m.n, m.converged,
	   m.iterations BETWEEN 5 AND 200 AS iterations_ok
  FROM (SELECT (crm.bgnbd_fit(frequency, recency, t)).* FROM clv_cdnow) m;
SELECT round(m.r::numeric, 4) AS r, round(m.alpha::numeric, 3) AS alpha,
	   round(m.s::numeric, 4) AS s, round(m.beta::numeric, 3) AS beta,
	   round(m.loglik::numeric, 3) AS loglik, m.n, m.converged
  FROM (SELECT (crm.pareto_nbd_fit(frequency, recency, t)).* FROM clv_cdnow) m;
SELECT round(m.p::numeric, 4) AS p, round(m.q::numeric, 4) AS q,
	   round(m.v::numeric, 3) AS v, round(m.loglik::numeric, 3) AS loglik,
	   m.n, m.converged
  FROM (SELECT (crm.gamma_gamma_fit(frequency, monetary)).* FROM clv_cdnow) m;

-- the published estimates (paper, 3 decimals) are within 0.002 of ours
SELECT abs(m.r - 0.243) < 0.002 AND abs(m.alpha - 4.414) < 0.002
	   AND abs(m.a - 0.793) < 0.002 AND abs(m.b - 2.426) < 0.002 AS bgnbd_as_published
  FROM (SELECT (crm.bgnbd_fit(frequency, recency, t)).* FROM clv_cdnow) m;

-- the log-likelihood is the sum of the per-client log-likelihoods
WITH m AS (SELECT crm.bgnbd_fit(frequency, recency, t) AS bg,
				  crm.pareto_nbd_fit(frequency, recency, t) AS pn,
				  crm.gamma_gamma_fit(frequency, monetary) AS gg
			 FROM clv_cdnow)
SELECT abs(sum(crm.bgnbd_loglik(m.bg, c.frequency, c.recency, c.t)) - (m.bg).loglik) < 1e-6 AS bgnbd,
	   abs(sum(crm.pareto_nbd_loglik(m.pn, c.frequency, c.recency, c.t)) - (m.pn).loglik) < 1e-6 AS pareto,
	   abs(sum(crm.gamma_gamma_loglik(m.gg, c.frequency, c.monetary))
		   FILTER (WHERE c.frequency > 0) - (m.gg).loglik) < 1e-6 AS gamma
  FROM clv_cdnow c CROSS JOIN m
 GROUP BY m.bg, m.pn, m.gg;

-- a state without a final function: the distinct rows and their counts
CREATE AGGREGATE clv_bgnbd_state(float8, float8, float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE clv_gamma_state(float8, float8) (
	SFUNC = crm.clv_gamma_trans, STYPE = crm.clv_fit_state,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE TABLE clv_states AS
SELECT clv_bgnbd_state(frequency, recency, t) AS bg,
	   clv_gamma_state(frequency, monetary) AS gg
  FROM clv_cdnow;
-- 2,357 clients are 1,016 distinct (x, t_x, T) rows, 753 distinct (x, m) repeat buyers
SELECT cardinality(string_to_array(bg::text, ';')) - 2 AS bgnbd_rows,
	   cardinality(string_to_array(gg::text, ';')) - 2 AS gamma_rows
  FROM clv_states;
-- the text form round-trips exactly, and the fit of the read-back state is the fit
SELECT bg::text::crm.clv_fit_state::text = bg::text AS bg_roundtrip,
	   gg::text::crm.clv_fit_state::text = gg::text AS gg_roundtrip,
	   crm.clv_bgnbd_final(bg::text::crm.clv_fit_state)
		 = (SELECT crm.bgnbd_fit(frequency, recency, t) FROM clv_cdnow) AS bg_same_fit,
	   crm.clv_gamma_final(gg::text::crm.clv_fit_state)
		 = (SELECT crm.gamma_gamma_fit(frequency, monetary) FROM clv_cdnow) AS gg_same_fit
  FROM clv_states;
-- rows compressed by hand (GROUP BY with counts) give the same fit
SELECT crm.clv_bgnbd_final(('bgnbd;0;' || string_agg(frequency || ',' || recency || ',' || t || ',' || n, ';'))::crm.clv_fit_state)
	   = (SELECT crm.bgnbd_fit(frequency, recency, t) FROM clv_cdnow) AS weighted_equals_unweighted
  FROM (SELECT frequency, recency, t, count(*) AS n FROM clv_cdnow GROUP BY 1, 2, 3) g;
-- the text form
SELECT 'bgnbd;0;2,30.43,38.86,1;0,0,38.86,3;2,30.43,38.86,2'::crm.clv_fit_state;
SELECT 'gamma_gamma;0.5'::crm.clv_fit_state;
SELECT 'pareto_nbd;0;1,0.1,0.30000000000000004,1'::crm.clv_fit_state;

-- penalty: L2 on the parameters shrinks them; the same penalty must come with every row
SELECT round(m.r::numeric, 4) AS r, round(m.alpha::numeric, 3) AS alpha,
	   round(m.a::numeric, 4) AS a, round(m.b::numeric, 4) AS b, m.converged
  FROM (SELECT (crm.bgnbd_fit(frequency, recency, t, 0.1)).* FROM clv_cdnow) m;
SELECT p.r < u.r AND p.a < u.a AND p.b < u.b AS shrinks
  FROM (SELECT (crm.bgnbd_fit(frequency, recency, t, 0.1)).* FROM clv_cdnow) p,
	   (SELECT (crm.bgnbd_fit(frequency, recency, t)).* FROM clv_cdnow) u;
SELECT round(m.p::numeric, 3) AS p, round(m.q::numeric, 3) AS q, round(m.v::numeric, 2) AS v
  FROM (SELECT (crm.gamma_gamma_fit(frequency, monetary, 0.01)).* FROM clv_cdnow) m;
SELECT round((crm.pareto_nbd_fit(frequency, recency, t, 0.01)).r::numeric, 3) AS r
  FROM clv_cdnow;
SELECT crm.bgnbd_fit(frequency, recency, t, CASE WHEN id < 10 THEN 0.1 ELSE 0.2 END) FROM clv_cdnow;
SELECT crm.bgnbd_fit(frequency, recency, t, NULL) FROM clv_cdnow;
SELECT crm.bgnbd_fit(frequency, recency, t, -1) FROM clv_cdnow;

-- nulls are skipped; no rows give no model
SELECT (crm.bgnbd_fit(frequency, CASE WHEN id % 2 = 0 THEN recency END, t)).n FROM clv_cdnow;
SELECT crm.bgnbd_fit(frequency, recency, t) IS NULL AS no_rows FROM clv_cdnow WHERE false;
SELECT crm.pareto_nbd_fit(frequency, recency, t) IS NULL AS no_rows FROM clv_cdnow WHERE false;
SELECT crm.gamma_gamma_fit(frequency, monetary) IS NULL AS no_rows FROM clv_cdnow WHERE false;
-- grouped fits
SELECT t > 33 AS late_cohort, round((crm.bgnbd_fit(frequency, recency, t)).r::numeric, 3) AS r,
	   (crm.bgnbd_fit(frequency, recency, t)).n
  FROM clv_cdnow GROUP BY 1 ORDER BY 1;

-- parallel query: the state is combined across workers
CREATE TABLE clv_cdnow_big AS
SELECT c.id + 10000 * k AS id, c.frequency, c.recency, c.t, c.monetary
  FROM clv_cdnow c, generate_series(0, 7) k;
ANALYZE clv_cdnow_big;
CREATE TABLE clv_serial AS
SELECT crm.bgnbd_fit(frequency, recency, t) AS bg, crm.pareto_nbd_fit(frequency, recency, t) AS pn,
	   crm.gamma_gamma_fit(frequency, monetary) AS gg
  FROM clv_cdnow_big;
BEGIN;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT crm.bgnbd_fit(frequency, recency, t), crm.pareto_nbd_fit(frequency, recency, t),
	   crm.gamma_gamma_fit(frequency, monetary)
  FROM clv_cdnow_big;
SELECT s.bg = p.bg AS bgnbd_same, s.pn = p.pn AS pareto_same, s.gg = p.gg AS gamma_same,
	   (p.bg).n AS n
  FROM clv_serial s,
	   (SELECT crm.bgnbd_fit(frequency, recency, t) AS bg,
			   crm.pareto_nbd_fit(frequency, recency, t) AS pn,
			   crm.gamma_gamma_fit(frequency, monetary) AS gg
		  FROM clv_cdnow_big) p;
COMMIT;
-- the same data eight times over fits the same model
SELECT round((bg).r::numeric, 5) AS r, round((bg).b::numeric, 4) AS b,
	   round(((bg).loglik / 8)::numeric, 3) AS loglik_per_copy
  FROM clv_serial;

-- partitionwise aggregation: combine and transfer without workers, one empty partition
CREATE TABLE clv_parts (id integer, frequency float8, recency float8, t float8,
						monetary float8) PARTITION BY RANGE (id);
CREATE TABLE clv_parts_1 PARTITION OF clv_parts FOR VALUES FROM (0) TO (30000);
CREATE TABLE clv_parts_2 PARTITION OF clv_parts FOR VALUES FROM (30000) TO (100000);
CREATE TABLE clv_parts_3 PARTITION OF clv_parts FOR VALUES FROM (100000) TO (200000);
INSERT INTO clv_parts SELECT * FROM clv_cdnow_big;
ANALYZE clv_parts;
BEGIN;
SET LOCAL enable_partitionwise_aggregate = on;
SET LOCAL max_parallel_workers_per_gather = 0;
EXPLAIN (COSTS OFF)
SELECT crm.bgnbd_fit(frequency, recency, t) FROM clv_parts;
SELECT s.bg = p.bg AS bgnbd_same, s.pn = p.pn AS pareto_same, s.gg = p.gg AS gamma_same
  FROM clv_serial s,
	   (SELECT crm.bgnbd_fit(frequency, recency, t) AS bg,
			   crm.pareto_nbd_fit(frequency, recency, t) AS pn,
			   crm.gamma_gamma_fit(frequency, monetary) AS gg
		  FROM clv_parts) p;
COMMIT;

-- the combine function: a null first state gives a copy, empty partials combine
SELECT crm.clv_fit_combine(NULL, 'bgnbd;0;1,1,2,3');
SELECT crm.clv_fit_combine('bgnbd;0;1,1,2,3', NULL);
SELECT crm.clv_fit_combine(NULL, NULL) IS NULL AS both_null;
SELECT crm.clv_fit_combine('gamma_gamma;0', 'gamma_gamma;0');
SELECT crm.clv_fit_combine('bgnbd;0;1,1,2,3;0,0,5,1', 'bgnbd;0;0,0,5,2;2,1,3,1');
SELECT crm.clv_fit_combine('bgnbd;0;1,1,2,3', 'pareto_nbd;0;1,1,2,3');
SELECT crm.clv_fit_combine('bgnbd;0;1,1,2,3', 'bgnbd;0.1;1,1,2,3');
-- a transition function only takes its own kind of state
SELECT crm.clv_gamma_trans('bgnbd;0;1,1,2,3', 2, 10);
SELECT crm.clv_bgnbd_trans('bgnbd;0;1,1,2,3', 1, 1, 2);
-- an empty partial state (only one-time buyers) fits nothing
SELECT crm.clv_gamma_final('gamma_gamma;0');

-- impossible client summaries: the error names the row
SELECT crm.bgnbd_fit(f, r, t) FROM (VALUES (2::float8, 40::float8, 38.86::float8)) v(f, r, t);
SELECT crm.bgnbd_fit(f, r, t) FROM (VALUES (-1::float8, 0::float8, 3::float8)) v(f, r, t);
SELECT crm.bgnbd_fit(f, r, t) FROM (VALUES (1.5::float8, 1::float8, 3::float8)) v(f, r, t);
SELECT crm.bgnbd_fit(f, r, t) FROM (VALUES (0::float8, 1::float8, 3::float8)) v(f, r, t);
SELECT crm.bgnbd_fit(f, r, t) FROM (VALUES (1::float8, -1::float8, 3::float8)) v(f, r, t);
SELECT crm.bgnbd_fit(f, r, t) FROM (VALUES (0::float8, 0::float8, -3::float8)) v(f, r, t);
SELECT crm.bgnbd_fit(f, r, t) FROM (VALUES ('NaN'::float8, 0::float8, 3::float8)) v(f, r, t);
SELECT crm.pareto_nbd_fit(f, r, t) FROM (VALUES (1::float8, 'Infinity'::float8, 3::float8)) v(f, r, t);
SELECT crm.gamma_gamma_fit(f, m) FROM (VALUES (2::float8, 0::float8)) v(f, m);
SELECT crm.gamma_gamma_fit(f, m) FROM (VALUES (2::float8, -5::float8)) v(f, m);
SELECT crm.gamma_gamma_fit(f, m) FROM (VALUES (2.5::float8, 5::float8)) v(f, m);
-- a one-time buyer's monetary is not used, so it is not checked
SELECT (crm.gamma_gamma_fit(f, m)).n
  FROM (VALUES (0::float8, -1::float8), (1, 10), (2, 12), (3, 7), (1, 30)) v(f, m);

-- data that cannot identify the model
SELECT crm.bgnbd_fit(0, 0, t) FROM generate_series(1, 50) t;
SELECT crm.pareto_nbd_fit(0, 0, t) FROM generate_series(1, 50) t;
SELECT crm.gamma_gamma_fit(0, 10) FROM generate_series(1, 50) t;
SELECT crm.gamma_gamma_fit(1 + t % 3, 25) FROM generate_series(1, 50) t;

-- bad text for the state type
SELECT 'bgnbd'::crm.clv_fit_state;
SELECT 'tree;0'::crm.clv_fit_state;
SELECT 'bgnbd;x'::crm.clv_fit_state;
SELECT 'bgnbd;-1'::crm.clv_fit_state;
SELECT 'bgnbd;0;1,2'::crm.clv_fit_state;
SELECT 'bgnbd;0;1,2,3,0'::crm.clv_fit_state;
SELECT 'bgnbd;0;1,2,3,1.5'::crm.clv_fit_state;
SELECT 'bgnbd;0;1,4,3,1'::crm.clv_fit_state;
SELECT 'bgnbd;0;1,2,3,1;'::crm.clv_fit_state;
SELECT 'gamma_gamma;0;0,10,1'::crm.clv_fit_state;
SELECT 'gamma_gamma;0;1,10,1 '::crm.clv_fit_state;
SELECT 'bgnbd;0;1,1,2,1000000000000000;2,1,2,1000000000000000'::crm.clv_fit_state;

DROP AGGREGATE clv_bgnbd_state(float8, float8, float8);
DROP AGGREGATE clv_gamma_state(float8, float8);
DROP TABLE clv_states, clv_serial, clv_parts, clv_cdnow_big;
-- clv_cdnow stays for clv_predict
