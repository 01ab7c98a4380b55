--
-- Properties of the purchase profile and RFM scoring on generated data:
-- the profile agrees with plain SQL, scores are monotone in the underlying
-- values with ties kept together, each quantile class holds its share up
-- to ties, parallel query gives exactly the serial answer, and the
-- window-function formulation of crm.rfm_scores agrees with it.  Uses the
-- demo generator when it is installed, plain SQL otherwise.
--
BEGIN;
-- the demo data come from the extension crm_demo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crm_demo;
RESET client_min_messages;
SELECT plan(32);
SET LOCAL TimeZone = 'UTC';

DO $$
BEGIN
	IF to_regproc('crm.generate_demo_data') IS NOT NULL THEN
		EXECUTE $q$SELECT crm.generate_demo_data(3000, 42, '2026-01-01')$q$;
	ELSE
		PERFORM setseed(0.42);
		INSERT INTO crm.clients (client_id, first_name)
		SELECT g, 'client ' || g FROM generate_series(1, 3000) g;
		INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount,
								net_amount, promo_used)
		SELECT c, '2026-01-01'::timestamptz - random() * a * interval '1 day',
			   'web', CASE WHEN random() < 0.05 THEN 'cancelled' ELSE 'paid' END,
			   v, v, random() < 0.3
		  FROM (SELECT g AS c, 1 + floor(-ln(1 - random()) * 6)::int AS n,
					   30 + random() * 900 AS a
				  FROM generate_series(1, 3000) g) k
		 CROSS JOIN LATERAL generate_series(1, k.n) i
		 CROSS JOIN LATERAL (SELECT round((random() * 150)::numeric, 2) AS v) x;
	END IF;
END
$$;
ANALYZE crm.orders;

CREATE TEMP TABLE serial_scores AS SELECT * FROM crm.rfm_scores('2026-01-01');
CREATE TEMP TABLE serial_profiles AS
SELECT client_id, profile::text AS p FROM crm.client_profiles('2026-01-01');
CREATE TEMP TABLE sql_profile AS
SELECT client_id, min(ordered_at) AS first_t, max(ordered_at) AS last_t, count(*) AS n,
	   sum(net_amount) AS total, count(*) FILTER (WHERE promo_used) AS offers
  FROM crm.orders WHERE status IN ('placed', 'paid') AND ordered_at <= '2026-01-01'
 GROUP BY client_id;

SELECT cmp_ok((SELECT count(*) FROM serial_scores), '>=', 1000::bigint, 'enough clients scored');

-- the profile agrees with plain SQL
SELECT is_empty($$
	SELECT client_id FROM crm.client_profiles('2026-01-01') p JOIN sql_profile s USING (client_id)
	 WHERE (p.profile).first_purchase <> s.first_t OR (p.profile).last_purchase <> s.last_t
		OR (p.profile).purchases <> s.n OR (p.profile).total_spend <> s.total
		OR (p.profile).offer_purchases <> s.offers
		OR abs((p.profile).mean_spend - (s.total / s.n)::float8) > 1e-9 * greatest(1, s.total)$$,
	'profile: first, last, count, total, mean spend and offers agree with plain SQL');
SELECT is((SELECT count(*) FROM crm.client_profiles('2026-01-01')), (SELECT count(*) FROM sql_profile),
	'profile: one row per client with a purchase');
SELECT is_empty($$
	SELECT client_id FROM crm.client_profiles('2026-01-01') p JOIN sql_profile s USING (client_id)
	 WHERE s.n > 1 AND abs((p.profile).mean_gap_days
						   - extract(epoch FROM s.last_t - s.first_t) / 86400 / (s.n - 1)) > 1e-9$$,
	'profile: mean gap = (last - first) / (n - 1) days');
SELECT is_empty($$
	WITH g AS (
		SELECT client_id, ordered_at,
			   extract(epoch FROM ordered_at - lag(ordered_at) OVER w) / 86400 AS gap,
			   row_number() OVER (PARTITION BY client_id ORDER BY ordered_at DESC) AS from_end
		  FROM crm.orders WHERE status IN ('placed', 'paid') AND ordered_at <= '2026-01-01'
		WINDOW w AS (PARTITION BY client_id ORDER BY ordered_at)),
	s AS (SELECT client_id, stddev_samp(gap) AS sd, count(gap) AS gaps
			FROM g WHERE from_end <= 15 GROUP BY client_id)
	SELECT client_id FROM crm.client_profiles('2026-01-01') p JOIN s USING (client_id)
	 WHERE (p.profile).gap_window <> s.gaps
		OR abs(coalesce((p.profile).gap_sd_days, -1) - coalesce(s.sd::float8, -1)) > 1e-6$$,
	'profile: gap spread equals the sample deviation of the last 15 gaps from window functions');

SELECT is_empty($$
	WITH m AS (
		SELECT client_id, array_agg(n ORDER BY month) AS months
		  FROM (SELECT c.client_id, k.month,
					   count(o.client_id) FILTER (WHERE o.client_id IS NOT NULL)::int AS n
				  FROM (SELECT DISTINCT client_id FROM sql_profile) c
				 CROSS JOIN generate_series(1, 12) k(month)
				  LEFT JOIN crm.orders o
						 ON o.client_id = c.client_id AND o.status IN ('placed', 'paid')
						AND o.ordered_at <= '2026-01-01'
						AND extract(month FROM o.ordered_at AT TIME ZONE 'UTC') = k.month
				 GROUP BY c.client_id, k.month) x
		 GROUP BY client_id)
	SELECT client_id FROM crm.client_profiles('2026-01-01') p JOIN m USING (client_id)
	 WHERE (p.profile).month_purchases <> m.months$$,
	'profile: purchases by month agree with extract(month) in UTC');

-- scores are monotone in the underlying values, ties get one score
SELECT is_empty($$
	SELECT 1 FROM (SELECT recency_days, crm.recency_score(rfm) AS s,
						  lag(crm.recency_score(rfm)) OVER (ORDER BY recency_days DESC, crm.recency_score(rfm)) AS prev
					 FROM serial_scores) x WHERE s < prev$$,
	'recency score never falls as recency days fall');
SELECT is_empty($$
	SELECT 1 FROM (SELECT frequency, crm.frequency_score(rfm) AS s,
						  lag(crm.frequency_score(rfm)) OVER (ORDER BY frequency, crm.frequency_score(rfm)) AS prev
					 FROM serial_scores) x WHERE s < prev$$,
	'frequency score never falls as frequency rises');
SELECT is_empty($$
	SELECT 1 FROM (SELECT monetary, crm.monetary_score(rfm) AS s,
						  lag(crm.monetary_score(rfm)) OVER (ORDER BY monetary, crm.monetary_score(rfm)) AS prev
					 FROM serial_scores) x WHERE s < prev$$,
	'monetary score never falls as monetary rises');
SELECT is_empty($$SELECT recency_days FROM serial_scores GROUP BY 1 HAVING count(DISTINCT crm.recency_score(rfm)) > 1$$,
	'equal recency, equal recency score');
SELECT is_empty($$SELECT frequency FROM serial_scores GROUP BY 1 HAVING count(DISTINCT crm.frequency_score(rfm)) > 1$$,
	'equal frequency, equal frequency score');
SELECT is_empty($$SELECT monetary FROM serial_scores GROUP BY 1 HAVING count(DISTINCT crm.monetary_score(rfm)) > 1$$,
	'equal monetary, equal monetary score');
SELECT is((SELECT min(crm.recency_score(rfm)) || '-' || max(crm.recency_score(rfm)) FROM serial_scores), '1-5',
	'recency scores span 1..5');

-- each class holds its share up to ties: |#(score <= j) - j N / 5| <= largest tie
SELECT is_empty($$
	WITH n AS (SELECT count(*) AS n FROM serial_scores),
	t AS (SELECT max(c) AS tie FROM (SELECT count(*) AS c FROM serial_scores GROUP BY monetary) x)
	SELECT j FROM generate_series(1, 4) j, n, t
	 WHERE abs((SELECT count(*) FROM serial_scores WHERE crm.monetary_score(rfm) <= j) - j * n.n / 5.0) > t.tie$$,
	'monetary classes hold a fifth each, up to ties');
SELECT is_empty($$
	WITH n AS (SELECT count(*) AS n FROM serial_scores),
	t AS (SELECT max(c) AS tie FROM (SELECT count(*) AS c FROM serial_scores GROUP BY recency_days) x)
	SELECT j FROM generate_series(1, 4) j, n, t
	 WHERE abs((SELECT count(*) FROM serial_scores WHERE crm.recency_score(rfm) >= 6 - j) - j * n.n / 5.0) > t.tie$$,
	'recency classes hold a fifth each, up to ties');
SELECT is_empty($$
	WITH n AS (SELECT count(*) AS n FROM serial_scores),
	t AS (SELECT max(c) AS tie FROM (SELECT count(*) AS c FROM serial_scores GROUP BY frequency) x)
	SELECT j FROM generate_series(1, 4) j, n, t
	 WHERE abs((SELECT count(*) FROM serial_scores WHERE crm.frequency_score(rfm) <= j) - j * n.n / 5.0) > t.tie$$,
	'frequency classes hold a fifth each, up to ties (lumpy: some may be empty)');
-- distinct values: class sizes are floor or ceil of N / k
SELECT is_empty($$
	WITH v AS (SELECT DISTINCT monetary FROM serial_scores),
	b AS (SELECT crm.quantile_breaks(monetary::float8, 5, true) AS br FROM v),
	s AS (SELECT crm.threshold_score(monetary::float8, br) AS sc FROM v, b)
	SELECT sc FROM s GROUP BY sc
	HAVING count(*) NOT IN (floor((SELECT count(*) FROM v) / 5.0), ceil((SELECT count(*) FROM v) / 5.0))$$,
	'distinct values: each class holds floor or ceil of N / 5');

-- breakpoints are the order statistics s_(ceil(j n / k)) (higher is better)
-- and s_(n + 1 - ceil(j n / k)) (lower), on random samples of random sizes,
-- cardinalities and class counts, grouped so that many states grow at once
CREATE TEMP TABLE trials AS
SELECT g AS trial, 1 + (random() * 1500)::int AS n, 2 + (random() * 9)::int AS k,
	   1 + (random() * 60)::int AS card
  FROM generate_series(1, 100) g;
CREATE TEMP TABLE trial_values AS
SELECT trial, floor(random() * card)::float8 / 4 AS v FROM trials, generate_series(1, n);
SELECT is_empty($$
	WITH s AS (SELECT trial, array_agg(v ORDER BY v) AS a, count(*) AS n FROM trial_values GROUP BY trial),
	want AS (
		SELECT s.trial,
			   ARRAY(SELECT a[ceil(j::numeric * s.n / t.k)::int] FROM generate_series(1, t.k - 1) j ORDER BY j) AS hb,
			   ARRAY(SELECT a[(s.n + 1 - ceil(j::numeric * s.n / t.k))::int] FROM generate_series(1, t.k - 1) j ORDER BY 1) AS lb
		  FROM s JOIN trials t USING (trial)),
	got AS (
		SELECT trial, crm.quantile_breaks(v, t.k, true) AS hb, crm.quantile_breaks(v, t.k, false) AS lb
		  FROM trial_values JOIN trials t USING (trial) GROUP BY trial)
	SELECT trial FROM want FULL JOIN got USING (trial)
	 WHERE want.hb IS DISTINCT FROM got.hb OR want.lb IS DISTINCT FROM got.lb$$,
	'quantile breaks are the order statistics ceil(j n / k) on 100 random samples');

-- the window-function formulation agrees
SELECT is_empty($$
	WITH c AS (
		SELECT client_id, floor(extract(epoch FROM '2026-01-01'::timestamptz - max(ordered_at)) / 86400)::int AS r,
			   count(*) AS f, sum(net_amount) AS m
		  FROM crm.orders
		 WHERE status IN ('placed', 'paid') AND ordered_at <= '2026-01-01'
		 GROUP BY client_id),
	w AS (
		SELECT client_id, r, f, m,
			   crm.rfm((1 + 5 * (rank() OVER (ORDER BY r DESC) - 1) / count(*) OVER ())::int,
					   (1 + 5 * (rank() OVER (ORDER BY f) - 1) / count(*) OVER ())::int,
					   (1 + 5 * (rank() OVER (ORDER BY m) - 1) / count(*) OVER ())::int) AS rfm
		  FROM c)
	SELECT client_id, r, f, m, rfm::text FROM w
	EXCEPT
	SELECT client_id, recency_days, frequency, monetary, rfm::text FROM serial_scores$$,
	'crm.rfm_scores equals the window-function RFM');
SELECT is((SELECT count(*) FROM serial_scores), (SELECT count(*) FROM sql_profile),
	'crm.rfm_scores has one row per client with a purchase');
SELECT is_empty($$SELECT 1 FROM serial_scores WHERE segment IS DISTINCT FROM crm.rfm_segment(rfm)$$,
	'the segment of crm.rfm_scores is crm.rfm_segment of its rfm');

-- parallel query with forced workers gives exactly the serial answer
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;
SET LOCAL enable_hashagg = off;
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS SETOF text
LANGUAGE plpgsql AS $f$ BEGIN RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || q; END $f$;
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of($$
	SELECT o.client_id, crm.purchase_profile(o.ordered_at, o.net_amount)
	  FROM crm.orders o WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= '2026-01-01'
	 GROUP BY o.client_id$$) l WHERE l ~ 'Partial (Group|Hash)Aggregate'),
	'the per-client profile runs as a parallel partial aggregate');
SELECT ok(EXISTS (SELECT 1 FROM pg_temp.plan_of($$
	SELECT crm.quantile_breaks(net_amount::float8, 5, true) FROM crm.orders$$) l
	WHERE l ~ 'Partial Aggregate'),
	'quantile breaks run as a parallel partial aggregate');
SELECT is_empty($$
	SELECT client_id, p FROM serial_profiles
	EXCEPT
	SELECT client_id, crm.purchase_profile(ordered_at, net_amount, promo_used)::text
	  FROM crm.orders WHERE status IN ('placed', 'paid') AND ordered_at <= '2026-01-01'
	 GROUP BY client_id$$,
	'parallel profiles equal the serial profiles');
SELECT is_empty($$
	SELECT * FROM crm.rfm_scores('2026-01-01') EXCEPT SELECT * FROM serial_scores$$,
	'parallel crm.rfm_scores has no row that serial lacks');
SELECT is_empty($$
	SELECT * FROM serial_scores EXCEPT SELECT * FROM crm.rfm_scores('2026-01-01')$$,
	'serial crm.rfm_scores has no row that parallel lacks');
SELECT is((SELECT crm.quantile_breaks(net_amount::float8, 7, false) FROM crm.orders),
		  (SELECT crm.quantile_breaks(x, 7, false) FROM (SELECT net_amount::float8 AS x FROM crm.orders ORDER BY 1) o),
		  'parallel quantile breaks equal the breaks of sorted input');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
RESET enable_hashagg;

-- the schema of the RFM part
SELECT has_table('crm', 'segment_maps', 'table crm.segment_maps exists');
SELECT has_table('crm', 'segment_map_rules', 'table crm.segment_map_rules exists');
SELECT col_is_pk('crm', 'segment_map_rules', ARRAY['map_name', 'rule_no'], 'segment map rules keyed by map and rule');
SELECT has_type('crm', 'rfm', 'type crm.rfm exists');
SELECT is((SELECT count(*)::int FROM pg_opclass WHERE opcintype = 'crm.rfm'::regtype AND opcdefault),
		  2, 'crm.rfm has default btree and hash operator classes');

SELECT * FROM finish();
ROLLBACK;
