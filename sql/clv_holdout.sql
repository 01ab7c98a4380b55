--
-- Calibration and holdout over the crm schema: the CDNOW sample's
-- transactions as orders (client ids 9,700,001 and up), split at the end of
-- the papers' 39-week calibration period (1997-09-30), holdout to the end of
-- the data (1998-06-30, 39 weeks).
--
-- Reference figures (Fader, Hardie and Lee 2005, and their recomputation
-- in docs/clv.md): repeat purchase days in weeks 1-39 2,457, in the holdout
-- 1,882; BG/NBD expected (unconditional, from each client's first purchase)
-- 2,494.0 and 1,666.7 (4,160.6 against 4,339 by week 78, -4.1 %); the sum of
-- the conditional expectations over the holdout 1,653.4; the calibration
-- frequency histogram 1,411, 439, 214, 100, 62, 38, 29 and 64 for 7+.
--
SET TimeZone = 'UTC';
BEGIN;
CREATE TEMP TABLE cdnow_lines (line text);
\copy cdnow_lines FROM 'test/data/CDNOW_sample.txt'
CREATE TEMP TABLE cdnow_tx AS
SELECT 9700000 + a[2]::bigint AS id, to_date(a[3], 'YYYYMMDD') AS day, a[5]::numeric AS dollars
  FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS a FROM cdnow_lines) s;
CREATE TEMP TABLE cdnow_summary (id bigint, x float8, tx float8, tt float8, zbar float8);
\copy cdnow_summary FROM 'test/data/cdnow_customers_summary_with_transactions.csv' CSV HEADER
INSERT INTO crm.clients (client_id, first_name, created_at)
SELECT DISTINCT id, 'cdnow', timestamptz '1997-01-01' FROM cdnow_tx;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, cost_amount)
SELECT id, day, 'web', 'paid', dollars, dollars, round(dollars * 0.7, 2) FROM cdnow_tx;

-- the split: the calibration summary is the published one, row for row; the holdout actuals
CREATE TEMP TABLE split AS
SELECT * FROM crm.clv_calibration_holdout('1997-09-30', '1998-06-30', 'week')
 WHERE client_id > 9700000;
SELECT count(*) AS clients,
	   count(*) FILTER (WHERE s.frequency = c.x AND round(s.recency::numeric, 2) = c.tx::numeric
						  AND round(s.t::numeric, 2) = c.tt::numeric
						  AND round(s.monetary::numeric, 2) = c.zbar::numeric) AS equal,
	   sum(s.holdout_frequency) AS holdout_purchases, min(s.duration) AS duration,
	   max(s.duration) AS duration_max
  FROM split s JOIN cdnow_summary c ON c.id = s.client_id - 9700000;
-- the holdout actuals by hand: purchase days after 1997-09-30, and their mean value
SELECT s.client_id - 9700000 AS id, s.frequency, s.holdout_frequency, s.holdout_monetary,
	   (SELECT count(DISTINCT day) FROM cdnow_tx t WHERE t.id = s.client_id AND t.day > '1997-09-30') AS by_hand
  FROM split s WHERE s.client_id IN (9700001, 9700002, 9700004, 9700018) ORDER BY 1;

CREATE TEMP TABLE models AS
SELECT crm.bgnbd_fit(frequency, recency, t) AS bg, crm.mbgnbd_fit(frequency, recency, t) AS mbg,
	   crm.pareto_nbd_fit(frequency, recency, t) AS pn
  FROM split;
CREATE TEMP TABLE diag AS
SELECT d.* FROM models, crm.clv_holdout_diagnostics(bg, '1997-09-30', '1998-06-30', 'week') d;
-- the totals and error figures of each diagnostic
SELECT diagnostic, clients, round(actual::numeric, 4) AS actual, round(expected::numeric, 4) AS expected,
	   round(mae::numeric, 4) AS mae, round(rmse::numeric, 4) AS rmse, round(bias::numeric, 4) AS bias
  FROM diag WHERE bucket IS NULL;
-- tracking: the first and last weeks of each side, and the cumulative at the calibration end
SELECT diagnostic, bucket, period_end, clients, actual, round(expected::numeric, 4) AS expected
  FROM diag WHERE diagnostic IN ('tracking', 'cumulative') AND bucket IN (-38, -37, 0, 1, 39) ORDER BY 1 DESC, 2;
SELECT count(*) FILTER (WHERE bucket <= 0) AS calibration_weeks, count(*) FILTER (WHERE bucket > 0) AS holdout_weeks
  FROM diag WHERE diagnostic = 'tracking' AND bucket IS NOT NULL;
-- the histogram and the conditional expectations
SELECT diagnostic, bucket, clients, round(actual::numeric, 4) AS actual, round(expected::numeric, 4) AS expected
  FROM diag WHERE diagnostic IN ('histogram', 'conditional') AND bucket IS NOT NULL ORDER BY 1 DESC, 2;
-- the conditional expectations are the clients' own: their total is the per-client total
SELECT abs((SELECT sum(clients * expected) FROM diag WHERE diagnostic = 'conditional' AND bucket IS NOT NULL)
		   - (SELECT expected FROM diag WHERE diagnostic = 'clients')) < 1e-9 AS conditional_total,
	   abs((SELECT expected FROM diag WHERE diagnostic = 'clients')
		   - (SELECT sum(crm.bgnbd_expected_purchases(bg, duration, frequency, recency, t)) FROM split, models)) < 1e-9
	   AS clients_total;
-- the histogram's expected counts come from P(X(T) = x): their mean, sum x P(x), is the model's
-- E[X(T)], i.e. the cumulative expected at the calibration end (BG/NBD and MBG/NBD)
CREATE TEMP TABLE wide AS
SELECT 'bgnbd' AS kind, d.* FROM models, crm.clv_holdout_diagnostics(bg, '1997-09-30', '1998-06-30', 'week', max_frequency => 300) d
UNION ALL
SELECT 'mbgnbd', d.* FROM models, crm.clv_holdout_diagnostics(mbg, '1997-09-30', '1998-06-30', 'week', max_frequency => 300) d;
SELECT kind, round(sum(bucket * expected) FILTER (WHERE diagnostic = 'histogram')::numeric, 6) AS mean_frequency,
	   round(sum(bucket * expected) FILTER (WHERE diagnostic = 'histogram')::numeric, 6)
	   = round(max(expected) FILTER (WHERE diagnostic = 'cumulative' AND bucket = 0)::numeric, 6) AS mean_ok
  FROM wide GROUP BY kind ORDER BY 1;
-- MBG/NBD and Pareto/NBD (no histogram expectation for Pareto/NBD)
SELECT 'mbgnbd' AS model, diagnostic, round(actual::numeric, 2) AS actual, round(expected::numeric, 2) AS expected,
	   round(mae::numeric, 4) AS mae, round(bias::numeric, 4) AS bias
  FROM models, crm.clv_holdout_diagnostics(mbg, '1997-09-30', '1998-06-30', 'week') WHERE bucket IS NULL
UNION ALL
SELECT 'pareto_nbd', diagnostic, round(actual::numeric, 2), round(expected::numeric, 2),
	   round(mae::numeric, 4), round(bias::numeric, 4)
  FROM models, crm.clv_holdout_diagnostics(pn, '1997-09-30', '1998-06-30', 'week') WHERE bucket IS NULL;
-- periods of four weeks: the same totals over the holdout, the last period partial
SELECT diagnostic, count(*) FILTER (WHERE bucket > 0) AS holdout_periods, max(period_end) AS last_end,
	   round(sum(actual) FILTER (WHERE bucket > 0)::numeric, 2) AS holdout_actual,
	   round(sum(expected) FILTER (WHERE bucket > 0)::numeric, 2) AS holdout_expected
  FROM models, crm.clv_holdout_diagnostics(bg, '1997-09-30', '1998-06-30', 'week', 4) d
 WHERE diagnostic = 'tracking' AND bucket IS NOT NULL GROUP BY 1;

ROLLBACK;
-- no purchases before the calibration end: no rows
SELECT count(*) FROM crm.clv_holdout_diagnostics(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model,
												 '1900-01-01', '1900-02-01');
-- errors
SELECT * FROM crm.clv_calibration_holdout('1997-09-30', '1997-09-30 12:00');
SELECT * FROM crm.clv_calibration_holdout('1997-09-30', 'infinity');
SELECT * FROM crm.clv_calibration_holdout(NULL, '1998-06-30');
SELECT * FROM crm.clv_calibration_holdout('1997-09-30', '1998-06-30', 'fortnight');
SELECT d.* FROM crm.clv_holdout_diagnostics(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, '1997-09-30', '1998-06-30', 'week', 0) d;
SELECT d.* FROM crm.clv_holdout_diagnostics(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, '1997-09-30', '1998-06-30', 'week', 1, 0) d;
SELECT d.* FROM crm.clv_holdout_diagnostics(NULL::crm.bgnbd_model, '1997-09-30', '1998-06-30') d;
SELECT d.* FROM crm.clv_holdout_diagnostics(ROW(-1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, '1997-09-30', '1998-06-30') d;
SELECT d.* FROM crm.clv_holdout_diagnostics_run(1, '1997-09-30', '1998-06-30') d;

-- BG/BB, discrete time: simulated donors, one opportunity a year (365.25
-- days, counted from the calibration end).  4,000 donors give first on
-- 1 July 2013; each later year a donor is still there with probability
-- 1 - theta, theta ~ Beta(1, 3) (a drop-out before every opportunity), and
-- gives with probability p ~ Beta(1, 0.75) while there.  Calibration to
-- 2019-12-31 (6 opportunities after the first), holdout to 2025-01-01 (5
-- whole years).
BEGIN;
SELECT setseed(0.19);
CREATE TEMP TABLE donors AS
SELECT 9800000 + i AS id, 1 - random() ^ (1 / 0.75) AS p, 1 - random() ^ (1.0 / 3) AS theta
  FROM generate_series(1, 4000) i;
CREATE TEMP TABLE gifts AS
WITH RECURSIVE y(id, yr, alive, p, theta) AS (
	SELECT id, 2013, true, p, theta FROM donors
	UNION ALL
	SELECT id, yr + 1, alive AND random() >= theta, p, theta FROM y WHERE yr < 2024
)
SELECT id, yr FROM y WHERE yr = 2013 OR (alive AND random() < p);
INSERT INTO crm.clients (client_id, first_name, created_at)
SELECT id, 'donor', timestamptz '2013-01-01' FROM donors;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, cost_amount)
SELECT id, make_date(yr, 7, 1), 'web', 'paid', 50, 50, 0 FROM gifts;
CREATE TEMP TABLE bsplit AS
SELECT * FROM crm.bgbb_calibration_holdout('2019-12-31', '2025-01-01') WHERE client_id > 9800000;
-- the split against the gifts by hand
SELECT count(*) AS donors,
	   count(*) FILTER (WHERE s.frequency = g.x AND s.recency = g.tx AND s.periods = 6
						  AND s.holdout_frequency = g.hx AND s.holdout_periods = 5) AS equal
  FROM bsplit s
  JOIN (SELECT id, count(*) FILTER (WHERE yr BETWEEN 2014 AND 2019) AS x,
			   coalesce(max(yr) FILTER (WHERE yr BETWEEN 2014 AND 2019) - 2013, 0) AS tx,
			   count(*) FILTER (WHERE yr >= 2020) AS hx
		  FROM gifts GROUP BY id) g ON g.id = s.client_id;
-- at the generating parameters: the expected histogram sums to the donors,
-- tracking and the conditional expectations within sampling error (a few per cent)
SELECT d.diagnostic, d.clients,
	   abs(d.expected / d.actual - 1) < CASE d.diagnostic WHEN 'histogram' THEN 1e-12 ELSE 0.05 END AS close
  FROM crm.clv_holdout_diagnostics(ROW(1, 0.75, 1, 3, NULL, NULL, NULL, NULL)::crm.bgbb_model,
								   '2019-12-31', '2025-01-01') d
 WHERE d.bucket IS NULL;
-- the fit to the calibration, and its diagnostics
CREATE TEMP TABLE bm AS SELECT crm.bgbb_fit(frequency, recency, periods) AS m FROM bsplit;
SELECT round((m).alpha::numeric, 1) AS alpha, round((m).beta::numeric, 1) AS beta,
	   round((m).gamma::numeric, 1) AS gamma, round((m).delta::numeric, 0) AS delta, (m).converged
  FROM bm;
SELECT d.diagnostic, d.bucket, d.period_end, d.clients, round(d.actual::numeric, 3) AS actual,
	   round(d.expected::numeric, 3) AS expected, round(d.mae::numeric, 3) AS mae, round(d.bias::numeric, 3) AS bias
  FROM bm, crm.clv_holdout_diagnostics(bm.m, '2019-12-31', '2025-01-01', 'year', 4) d
 WHERE d.diagnostic IN ('tracking', 'histogram', 'conditional') OR d.bucket IS NULL;
ROLLBACK;
-- errors
SELECT * FROM crm.bgbb_calibration_holdout('2019-12-31', '2020-06-30');
SELECT * FROM crm.bgbb_calibration_holdout('2019-12-31', '2025-01-01', 'fortnight');
SELECT * FROM crm.clv_holdout_diagnostics(NULL::crm.bgbb_model, '2019-12-31', '2025-01-01');
SELECT * FROM crm.clv_holdout_diagnostics(ROW(1, -1, 1, 1, NULL, NULL, NULL, NULL)::crm.bgbb_model, '2019-12-31', '2025-01-01');
