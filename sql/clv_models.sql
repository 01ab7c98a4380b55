--
-- MBG/NBD and BG/BB: the published fits, per-pattern log-likelihoods,
-- predictions against published figures and against identities of the
-- models (laws of total probability and expectation), parallel fits, the
-- combine function, the state's text form, errors.
--
-- Reference values (docs/clv.md):
--   MBG/NBD on CDNOW (weeks): r 0.525, alpha 6.183, a 0.891, b 1.614
--     (BTYDplus, as lifetimes' tests assert them), LL -9582.1327;
--     client 1 (2, 30.43, 38.86): P(alive) 0.706126, E[Y(39)] 1.262671;
--     (0, 0, 38.86): P(alive) 0.389716.
--   BG/BB on the donations (11,104 donors, 6 opportunities): alpha 1.204,
--     beta 0.750, gamma 0.657, delta 2.783, LL -33,225.6 (Fader, Hardie and
--     Shang 2010; Hardie's note 010 spreadsheet), and that spreadsheet's
--     log-likelihood of each of the 22 patterns.
--
CREATE TABLE mdl_cdnow (id integer PRIMARY KEY, frequency float8, recency float8,
						t float8, monetary float8);
\copy mdl_cdnow FROM 'test/data/cdnow_customers_summary_with_transactions.csv' CSV HEADER
CREATE TABLE mdl_donations (frequency float8, recency float8, periods float8, weights integer);
\copy mdl_donations FROM 'test/data/donations.csv' CSV HEADER
ANALYZE mdl_cdnow;

-- MBG/NBD: the published fit
SELECT round(m.r::numeric, 4) AS r, round(m.alpha::numeric, 3) AS alpha,
	   round(m.a::numeric, 4) AS a, round(m.b::numeric, 3) AS b,
	   round(m.loglik::numeric, 3) AS loglik, m.n, m.converged
  FROM (SELECT (crm.mbgnbd_fit(frequency, recency, t)).* FROM mdl_cdnow) m;
CREATE TABLE mdl_mbg AS SELECT crm.mbgnbd_fit(frequency, recency, t) AS m FROM mdl_cdnow;
-- LL = the sum of the per-client log-likelihoods
SELECT abs(sum(crm.mbgnbd_loglik(m, frequency, recency, t)) - (m).loglik) < 1e-8 AS ll_sum
  FROM mdl_cdnow, mdl_mbg GROUP BY m;
-- predictions
SELECT round(crm.mbgnbd_p_alive(m, 2, 30.43, 38.86)::numeric, 6) AS p_alive_1,
	   round(crm.mbgnbd_expected_purchases(m, 39, 2, 30.43, 38.86)::numeric, 6) AS ey39_1,
	   round(crm.mbgnbd_p_alive(m, 0, 0, 38.86)::numeric, 6) AS p_alive_0,
	   -- a new client is the summary (0, 0, 0)
	   crm.mbgnbd_expected_purchases(m, 39) = crm.mbgnbd_expected_purchases(m, 39, 0, 0, 0) AS new_client
  FROM mdl_mbg;
-- the expectation is a derivative of nothing odd: continuous across a = 1
SELECT round(crm.mbgnbd_expected_purchases(ROW(0.5, 6, a, 1.6, NULL, NULL, NULL, NULL)::crm.mbgnbd_model,
										   39, 2, 30, 38)::numeric, 7) AS ey
  FROM unnest(ARRAY[1 - 1e-9, 1, 1 + 1e-9]) a;
-- E[Y] against the sum of its 2F1 series taken term by term (r 0.5, alpha 6, a 0.9, b 1.6, t 39,
-- client (2, 30, 38)): (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)] P(alive)
WITH p AS (SELECT 0.5::float8 AS r, 6::float8 AS al, 0.9::float8 AS a, 1.6::float8 AS b,
				  2::float8 AS x, 30::float8 AS tx, 38::float8 AS tt, 39::float8 AS t),
	 s AS (SELECT sum(exp(sum_ln)) AS f
			 FROM (SELECT sum(CASE WHEN j = 0 THEN 0
								   ELSE ln((p.r + p.x + j - 1) * (p.b + p.x + j) / ((p.a + p.b + p.x + j - 1) * j)
										   * p.t / (p.al + p.tt + p.t)) END)
							  OVER (ORDER BY j) AS sum_ln
					 FROM p, generate_series(0, 400) j) q)
SELECT round(((p.a + p.b + p.x) / (p.a - 1) * (1 - ((p.al + p.tt) / (p.al + p.tt + p.t)) ^ (p.r + p.x) * s.f)
			  / (1 + p.a / (p.b + p.x) * ((p.al + p.tt) / (p.al + p.tx)) ^ (p.r + p.x)))::numeric, 9) AS series,
	   round(crm.mbgnbd_expected_purchases(ROW(0.5, 6, 0.9, 1.6, NULL, NULL, NULL, NULL)::crm.mbgnbd_model,
										   39, 2, 30, 38)::numeric, 9) AS crm
  FROM p, s;
-- CLV with MBG/NBD: the undiscounted one-period value is spend times purchases
SELECT abs(crm.clv(c.m, ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model,
				   2, 30.43, 38.86, 22.35, 39, 0, 39)
		   - crm.mbgnbd_expected_purchases(c.m, 39, 2, 30.43, 38.86)
			 * crm.gamma_gamma_expected_spend(ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model,
											  2, 22.35)) < 1e-12 AS clv_one_period
  FROM mdl_mbg c;

-- BG/BB: the published fit
SELECT round(m.alpha::numeric, 3) AS alpha, round(m.beta::numeric, 3) AS beta,
	   round(m.gamma::numeric, 3) AS gamma, round(m.delta::numeric, 3) AS delta,
	   round(m.loglik::numeric, 1) AS loglik, m.n, m.converged
  FROM (SELECT (crm.bgbb_fit(frequency, recency, periods)).* FROM mdl_donations, generate_series(1, weights)) m;
CREATE TABLE mdl_bgbb AS
SELECT crm.bgbb_fit(frequency, recency, periods) AS m FROM mdl_donations, generate_series(1, weights);
-- the spreadsheet's log-likelihood of each pattern, at the maximum
WITH e(x, tx, lp) AS (VALUES (6, 6, -2.18167018824), (5, 6, -4.29485034929), (4, 6, -5.38473334360),
	(3, 6, -5.80915881601), (2, 6, -5.65172964525), (1, 6, -4.88370164695), (5, 5, -3.71682127437),
	(4, 5, -5.09558227343), (3, 5, -5.61576884108), (2, 5, -5.50636893346), (1, 5, -4.76723821904),
	(4, 4, -3.84829625138), (3, 4, -5.05936147828), (2, 4, -5.19562191019), (1, 4, -4.57070931973),
	(3, 3, -3.52745257839), (2, 3, -4.51620272962), (1, 3, -4.22465969453), (2, 2, -3.01199924784),
	(1, 2, -3.58817880928), (1, 1, -2.28882847451), (0, 0, -1.16751622367))
SELECT count(*) AS patterns, max(abs(crm.bgbb_loglik(m, x, tx, 6) - lp)) < 1e-5 AS within_1e5
  FROM e, mdl_bgbb;
-- LL = the sum over the donors
SELECT abs(sum(weights * crm.bgbb_loglik(m, frequency, recency, periods)) - (m).loglik) < 1e-8 AS ll_sum
  FROM mdl_donations, mdl_bgbb GROUP BY m;
-- the same fit from one row per pattern and the state's text form
SELECT crm.clv_bgbb_final(('bgbb;0' || string_agg(format(';%s,%s,%s,%s', frequency, recency, periods, weights), ''))::crm.clv_fit_state)
	   = (SELECT m FROM mdl_bgbb) AS same_fit
  FROM mdl_donations;
-- every sequence of 6 opportunities: the patterns' probabilities sum to 1 (C(t_x-1, x-1)
-- sequences share a pattern), and the laws of total probability and expectation hold:
-- sum P(pattern) P(alive at 7 | pattern) = B(gamma, delta+7)/B(gamma, delta),
-- sum P(pattern) E[X(6, 6+k) | pattern] = E[X(6+k)] - E[X(6)], the latter by the paper's
-- closed form alpha/(alpha+beta) delta/(gamma-1) [1 - G(gamma+delta) G(1+delta+n)/(G(gamma+delta+n) G(1+delta))]
WITH pat AS (
	SELECT 0 AS x, 0 AS tx, 1::float8 AS seqs
	UNION ALL
	SELECT x, tx, (SELECT exp(coalesce(sum(ln(j::float8)), 0)) FROM generate_series(1, tx - 1) j)
				  / (SELECT exp(coalesce(sum(ln(j::float8)), 0)) FROM generate_series(1, x - 1) j)
				  / (SELECT exp(coalesce(sum(ln(j::float8)), 0)) FROM generate_series(1, tx - x) j)
	  FROM generate_series(1, 6) tx, generate_series(1, tx) x
), pr AS (
	SELECT pat.*, pat.seqs * exp(crm.bgbb_loglik(m, x, tx, 6)) AS p, m FROM pat, mdl_bgbb
), closed AS (
	SELECT n, (m).alpha / ((m).alpha + (m).beta) * (m).delta / ((m).gamma - 1)
			  * (1 - exp((SELECT coalesce(sum(ln((m).delta + j) - ln((m).gamma + (m).delta + j - 1)), 0)
							FROM generate_series(1, n) j))) AS ex
	  FROM mdl_bgbb, unnest(ARRAY[6, 16]) n
)
SELECT count(*) AS patterns, round(sum(p)::numeric, 12) AS total,
	   abs(sum(p * crm.bgbb_p_alive(m, x, tx, 6))
		   - (SELECT exp(sum(ln((m).delta + j) - ln((m).gamma + (m).delta + j))) FROM generate_series(0, 6) j)) < 1e-12
	   AS alive_total,
	   abs(sum(p * crm.bgbb_expected_purchases(m, 10, x, tx, 6))
		   - ((SELECT ex FROM closed WHERE n = 16) - (SELECT ex FROM closed WHERE n = 6))) < 1e-12 AS expected_total,
	   abs(crm.bgbb_expected_purchases(m, 6) - (SELECT ex FROM closed WHERE n = 6)) < 1e-12 AS new_client
  FROM pr GROUP BY m;
-- predictions for the donors of the paper's table: the best (6, 6) and (1, 1), over the next 5 years
SELECT x, tx, round(crm.bgbb_p_alive(m, x, tx, 6)::numeric, 4) AS p_alive,
	   round(crm.bgbb_expected_purchases(m, 5, x, tx, 6)::numeric, 4) AS next_5
  FROM mdl_bgbb, (VALUES (6, 6), (3, 6), (3, 3), (1, 1), (0, 0)) v(x, tx) ORDER BY 1 DESC, 2 DESC;
-- horizon 0, and gamma = 1 exactly (a removable singularity of the paper's closed form)
SELECT crm.bgbb_expected_purchases(m, 0, 3, 5, 6) AS h0,
	   round(crm.bgbb_expected_purchases(ROW(1.2, 0.75, 1, 2.8, NULL, NULL, NULL, NULL)::crm.bgbb_model, 5, 3, 5, 6)::numeric, 8) AS g1,
	   round(crm.bgbb_expected_purchases(ROW(1.2, 0.75, 1 + 1e-9, 2.8, NULL, NULL, NULL, NULL)::crm.bgbb_model, 5, 3, 5, 6)::numeric, 8) AS g1_plus
  FROM mdl_bgbb;

-- parallel query: identical to the serial fits
CREATE TABLE mdl_cdnow_big AS
SELECT c.id + 10000 * k AS id, c.frequency, c.recency, c.t
  FROM mdl_cdnow c, generate_series(0, 7) k;
CREATE TABLE mdl_donors AS
SELECT frequency, recency, periods FROM mdl_donations, generate_series(1, weights);
ANALYZE mdl_cdnow_big;
ANALYZE mdl_donors;
CREATE TABLE mdl_serial AS
SELECT (SELECT crm.mbgnbd_fit(frequency, recency, t) FROM mdl_cdnow_big) AS mbg,
	   (SELECT crm.bgbb_fit(frequency, recency, periods) FROM mdl_donors) AS bb;
BEGIN;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT crm.mbgnbd_fit(frequency, recency, t) FROM mdl_cdnow_big;
EXPLAIN (COSTS OFF) SELECT crm.bgbb_fit(frequency, recency, periods) FROM mdl_donors;
SELECT s.mbg = (SELECT crm.mbgnbd_fit(frequency, recency, t) FROM mdl_cdnow_big) AS mbgnbd_same,
	   s.bb = (SELECT crm.bgbb_fit(frequency, recency, periods) FROM mdl_donors) AS bgbb_same
  FROM mdl_serial s;
COMMIT;

-- the combine function; MBG/NBD reads the BG/NBD state
SELECT crm.clv_fit_combine('bgbb;0;1,1,6,3', 'bgbb;0;1,1,6,2;0,0,6,1');
SELECT crm.clv_fit_combine('bgbb;0;1,1,6,3', 'bgnbd;0;1,1,6,2');
SELECT (crm.clv_mbgnbd_final('bgnbd;0;0,0,30,50;1,2,30,20;2,5,30,10;1,25,30,10;3,28,30,10;6,29,30,3')).converged;
SELECT crm.clv_mbgnbd_final('bgbb;0;1,1,6,3');
SELECT crm.clv_bgbb_final('bgnbd;0;1,1,6,3');
-- penalty: a different maximum, and a penalty that differs between rows
SELECT (m).alpha < (SELECT (m).alpha FROM mdl_bgbb) AS shrunk
  FROM (SELECT crm.bgbb_fit(frequency, recency, periods, 0.1) AS m FROM mdl_donors) s;
SELECT crm.bgbb_fit(x, x, 6, x) FROM generate_series(0, 1) x;

-- errors: impossible summaries, no repeat buyer, bad horizons
SELECT crm.bgbb_fit(2, 1, 6);
SELECT crm.bgbb_fit(1, 7, 6);
SELECT crm.bgbb_fit(0, 1, 6);
SELECT crm.bgbb_fit(1.5, 2, 6);
SELECT crm.bgbb_fit(1, 1, 2e6);
SELECT crm.bgbb_fit(0, 0, 6) FROM generate_series(1, 3);
SELECT crm.mbgnbd_fit(0, 0, t) FROM generate_series(1, 3) t;
SELECT crm.mbgnbd_fit(2, 40, 38.86);
SELECT crm.bgbb_expected_purchases(m, 1.5, 1, 1, 6) FROM mdl_bgbb;
SELECT crm.bgbb_expected_purchases(m, -1) FROM mdl_bgbb;
SELECT crm.bgbb_p_alive(ROW(1, -1, 1, 1, NULL, NULL, NULL, NULL)::crm.bgbb_model, 1, 1, 6);
SELECT crm.mbgnbd_p_alive(ROW(1, 1, NULL, 1, NULL, NULL, NULL, NULL)::crm.mbgnbd_model, 1, 1, 6);
SELECT crm.mbgnbd_expected_purchases(m, 'NaN') FROM mdl_mbg;
-- BG/NBD with covariates (recovery from simulated clients: test/pgtap/clv_covariates.sql):
-- no covariates is crm.bgnbd_fit; a covariate without effect gets a coefficient near 0
SELECT abs((c).r / (b).r - 1) < 1e-6 AND abs((c).alpha / (b).alpha - 1) < 1e-6
	   AND abs((c).a / (b).a - 1) < 1e-6 AND abs((c).b / (b).b - 1) < 1e-6 AS same_as_bgnbd,
	   (c).purchase_coefficients, (c).dropout_coefficients
  FROM (SELECT crm.bgnbd_cov_fit(frequency, recency, t, '{}', '{}') AS c,
			   crm.bgnbd_fit(frequency, recency, t) AS b FROM mdl_cdnow) s;
SELECT round((m).r::numeric, 4) AS r, round((m).alpha::numeric, 3) AS alpha,
	   round((m).purchase_coefficients[1]::numeric, 3) AS purchase_noise,
	   round((m).dropout_coefficients[1]::numeric, 3) AS dropout_noise, (m).converged
  FROM (SELECT crm.bgnbd_cov_fit(frequency, recency, t, ARRAY[(id % 2)::float8], ARRAY[(id % 3)::float8]) AS m
		  FROM mdl_cdnow) s;
-- the client's own model: alpha exp(-g_p . z_p), a exp(g_d . z_d)
SELECT crm.bgnbd_cov_client(ROW(0.5, 6, 0.8, 3, '{0.5,-1}', '{2}', NULL, NULL, NULL, NULL), '{1,2}', '{0.5}')
	   = ROW(0.5, 6 * exp(1.5), 0.8 * exp(1), 3, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS client_model;
-- Pareto/NBD with covariates: no covariates is crm.pareto_nbd_fit; the client's own model
SELECT abs((c).r / (b).r - 1) < 1e-6 AND abs((c).alpha / (b).alpha - 1) < 1e-6
	   AND abs((c).s / (b).s - 1) < 1e-6 AND abs((c).beta / (b).beta - 1) < 1e-6
	   AND abs((c).loglik - (b).loglik) < 1e-6 AS same_as_pareto_nbd
  FROM (SELECT crm.pareto_nbd_cov_fit(frequency, recency, t, '{}', '{}') AS c,
			   crm.pareto_nbd_fit(frequency, recency, t) AS b FROM mdl_cdnow) s;
SELECT crm.pareto_nbd_cov_client(ROW(0.5, 6, 0.8, 3, '{0.5,-1}', '{2}', NULL, NULL, NULL, NULL), '{1,2}', '{0.5}')
	   = ROW(0.5, 6 * exp(1.5), 0.8, 3 * exp(-1), NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model AS client_model;
SELECT crm.pareto_nbd_cov_fit(0, 0, t, '{}', '{}') FROM generate_series(1, 3) t;
-- parallel query: partial states serialised to the leader, the same fit to the last bit
BEGIN;
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
SET LOCAL parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT crm.bgnbd_cov_fit(frequency, recency, t, ARRAY[(id % 2)::float8], ARRAY[(id % 3)::float8]) FROM mdl_cdnow_big;
CREATE TEMP TABLE mdl_cov_parallel AS
SELECT crm.bgnbd_cov_fit(frequency, recency, t, ARRAY[(id % 2)::float8], ARRAY[(id % 3)::float8]) AS m FROM mdl_cdnow_big;
COMMIT;
SELECT p.m = s.m AS parallel_same,
	   (p.m).n
  FROM mdl_cov_parallel p,
	   (SELECT crm.bgnbd_cov_fit(frequency, recency, t, ARRAY[(id % 2)::float8], ARRAY[(id % 3)::float8]) AS m
		  FROM mdl_cdnow_big) s;
-- errors
SELECT crm.bgnbd_cov_fit(frequency, recency, t, ARRAY[1::float8], '{}') FROM mdl_cdnow;
SELECT crm.bgnbd_cov_fit(frequency, recency, t, CASE WHEN id = 5 THEN '{1,2}'::float8[] ELSE '{1}' END, '{}') FROM mdl_cdnow;
SELECT crm.bgnbd_cov_fit(1, 1, 2, '{NaN}', '{}');
SELECT crm.bgnbd_cov_fit(1, 1, 2, '{1,NULL}', '{}');
SELECT crm.bgnbd_cov_fit(0, 0, t, '{}', '{}') FROM generate_series(1, 3) t;
SELECT crm.bgnbd_cov_client(ROW(0.5, 6, 0.8, 3, '{0.5}', '{}', NULL, NULL, NULL, NULL), '{1,2}', '{}');
-- the _or_null forms: the fit where it converges; where the data cannot
-- identify the model, or the fit does not converge, a notice and null;
-- bad input still an error
SELECT (SELECT crm.mbgnbd_fit_or_null(frequency, recency, t) FROM mdl_cdnow) = (SELECT m FROM mdl_mbg) AS mbgnbd_same,
	   (SELECT crm.bgbb_fit_or_null(frequency, recency, periods) FROM mdl_donations, generate_series(1, weights))
	   = (SELECT m FROM mdl_bgbb) AS bgbb_same,
	   (SELECT crm.bgnbd_cov_fit_or_null(frequency, recency, t, ARRAY[(id % 2)::float8], '{}') FROM mdl_cdnow)
	   = (SELECT crm.bgnbd_cov_fit(frequency, recency, t, ARRAY[(id % 2)::float8], '{}') FROM mdl_cdnow) AS bgnbd_cov_same,
	   (SELECT crm.pareto_nbd_cov_fit_or_null(frequency, recency, t, '{}', ARRAY[(id % 2)::float8], 0.01) FROM mdl_cdnow)
	   = (SELECT crm.pareto_nbd_cov_fit(frequency, recency, t, '{}', ARRAY[(id % 2)::float8], 0.01) FROM mdl_cdnow) AS pareto_cov_same;
SELECT crm.mbgnbd_fit_or_null(0, 0, t) IS NULL AS mbgnbd FROM generate_series(1, 3) t;
SELECT crm.bgbb_fit_or_null(0, 0, 6) IS NULL AS bgbb FROM generate_series(1, 3) t;
SELECT crm.bgnbd_cov_fit_or_null(0, 0, t, '{}', '{}') IS NULL AS bgnbd_cov FROM generate_series(1, 3) t;
SELECT crm.pareto_nbd_cov_fit_or_null(frequency, recency, t, '{1}', '{}') IS NULL AS constant_covariate FROM mdl_cdnow;
-- a sample whose likelihood keeps rising towards the edge of the parameter space
SELECT crm.bgbb_fit_or_null(x, CASE WHEN x > 0 THEN x + 1 ELSE 0 END, 6) IS NULL AS bgbb_edge FROM generate_series(0, 4) x;
SELECT crm.bgbb_fit_or_null(-1, 0, 6);
SELECT crm.bgnbd_cov_fit_or_null(1, 1, 2, '{NaN}', '{}');
DROP TABLE mdl_cdnow, mdl_donations, mdl_mbg, mdl_bgbb, mdl_cdnow_big, mdl_donors, mdl_serial;
