--
-- CLV over the crm schema: per-client summaries from crm.orders, the CLV
-- report, LTV/CAC by acquisition channel, the retention-based formula.
--
-- The CDNOW 1/10 sample's transactions become clients and orders; the
-- summaries derived at 1997-09-30 in weeks must equal the published
-- summary file row for row (same-day purchases are one occasion).
--
SET TimeZone = 'UTC';
BEGIN;
CREATE TEMP TABLE cdnow_lines (line text);
\copy cdnow_lines FROM 'test/data/CDNOW_sample.txt'
CREATE TEMP TABLE cdnow_tx AS
SELECT a[2]::bigint AS id, to_date(a[3], 'YYYYMMDD') AS day, a[5]::numeric AS dollars
  FROM (SELECT regexp_split_to_array(btrim(line, E' \r'), '\s+') AS a FROM cdnow_lines) s;
CREATE TEMP TABLE cdnow_summary (id bigint, x float8, tx float8, tt float8, zbar float8);
\copy cdnow_summary FROM 'test/data/cdnow_customers_summary_with_transactions.csv' CSV HEADER
INSERT INTO crm.clients (client_id, first_name, acquisition_channel, acquisition_cost, created_at)
SELECT DISTINCT id, 'cdnow', (ARRAY['search', 'social', 'email'])[1 + id % 3], 5 + id % 3,
	   timestamptz '1997-01-01'
  FROM cdnow_tx;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, cost_amount)
SELECT id, day, 'web', 'paid', dollars, dollars, round(dollars * 0.7, 2) FROM cdnow_tx;

-- 2,357 clients, every one equal to the published summary (t_x and T in weeks, 2 decimals)
SELECT count(*) AS clients,
	   count(*) FILTER (WHERE s.frequency = c.x
						  AND round(s.recency::numeric, 2) = c.tx::numeric
						  AND round(s.t::numeric, 2) = c.tt::numeric
						  AND round(s.monetary::numeric, 2) = c.zbar::numeric) AS equal
  FROM crm.clv_summary('1997-09-30', 'week') s
  JOIN cdnow_summary c ON c.id = s.client_id;
SELECT client_id, frequency, round(recency::numeric, 4) AS recency, round(t::numeric, 4) AS t,
	   monetary, first_purchase, last_purchase, orders, revenue, margin
  FROM crm.clv_summary('1997-09-30', 'week') WHERE client_id <= 3 ORDER BY client_id;
-- the same in days
SELECT client_id, frequency, recency, t FROM crm.clv_summary('1997-09-30') WHERE client_id <= 2 ORDER BY client_id;

-- fitted on the derived summaries (exact times, not the file's 2 decimals)
SELECT round(m.r::numeric, 3) AS r, round(m.alpha::numeric, 2) AS alpha, round(m.a::numeric, 3) AS a,
	   round(m.b::numeric, 2) AS b, m.n, m.converged
  FROM (SELECT (crm.bgnbd_fit(frequency, recency, t)).* FROM crm.clv_summary('1997-09-30', 'week')) m;

-- the holdout: 1,882 repeat purchase days in the next 39 weeks, against an expected 1,653
SELECT count(DISTINCT (client_id, ordered_at::date)) AS actual_holdout
  FROM crm.orders
 WHERE ordered_at > '1997-09-30' AND ordered_at <= timestamptz '1997-09-30' + interval '273 days';

-- the report: summary, P(alive), expected purchases and spend, CLV, revenue and margin to date
SELECT client_id, frequency, round(p_alive::numeric, 4) AS p_alive,
	   round(expected_purchases::numeric, 4) AS expected_purchases,
	   round(expected_spend::numeric, 2) AS expected_spend, round(clv::numeric, 2) AS clv,
	   revenue, historical_value
  FROM crm.clv_report('1997-09-30', 52, 'week', 0.01, 4.345)
 WHERE client_id IN (1, 2, 3, 1516) ORDER BY client_id;
SELECT count(*) AS clients, round(sum(expected_purchases)::numeric, 1) AS expected_purchases,
	   round(sum(clv)::numeric, 0) AS clv
  FROM crm.clv_report('1997-09-30', 39, 'week');
-- models passed in are used as given
SELECT round(sum(r.clv)::numeric, 2) = round(sum(crm.clv(m.bg, m.gg, s.frequency, s.recency, s.t, s.monetary, 39, 0))::numeric, 2) AS given_models
  FROM crm.clv_report('1997-09-30', 39, 'week', transactions => ROW(0.3, 5, 0.9, 2.5, NULL, NULL, NULL, NULL, NULL, NULL),
					  spend => ROW(6, 4, 15, NULL, NULL, NULL, NULL, NULL, NULL)) r
  JOIN crm.clv_summary('1997-09-30', 'week') s USING (client_id),
	   (SELECT ROW(0.3, 5, 0.9, 2.5, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS bg,
			   ROW(6, 4, 15, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model AS gg) m;

-- LTV/CAC by acquisition channel, margin share from history (30 %) and given
SELECT * FROM crm.ltv_cac('1997-09-30', 52, 'week', 0.01, 4.345);
SELECT acquisition_channel, predicted_ltv, ltv_cac_ratio
  FROM crm.ltv_cac('1997-09-30', 52, 'week', 0.01, 4.345, margin_rate => 0.5);
ROLLBACK;

-- purchase definition: placed and paid orders count, cancelled and refunded do not;
-- same-day orders are one occasion; orders after as_of are not seen; days are
-- calendar days in the time zone given
BEGIN;
INSERT INTO crm.clients (client_id, first_name, acquisition_channel, acquisition_cost, created_at)
VALUES (1, 'Ann', 'ads', 30, '2024-01-01'), (2, 'Bob', 'ads', 50, '2024-01-01'),
	   (3, 'Cid', NULL, 0, '2024-01-01');
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, cost_amount)
VALUES (1, '2024-01-10 10:00+00', 'web', 'paid', 100, 100, 60),
	   (1, '2024-01-10 18:00+00', 'web', 'placed', 20, 20, 10),
	   (1, '2024-01-20 23:30+00', 'store', 'paid', 50, 50, 30),
	   (1, '2024-01-25 09:00+00', 'web', 'cancelled', 500, 500, 300),
	   (1, '2024-01-28 09:00+00', 'web', 'refunded', 500, 500, 300),
	   (1, '2024-02-15 09:00+00', 'web', 'paid', 70, 70, 40),
	   (2, '2024-02-01 12:00+00', 'app', 'placed', 40, 40, 20),
	   (2, '2024-03-01 12:00+00', 'app', 'paid', 40, 40, 20);
SELECT * FROM crm.clv_summary('2024-02-10 00:00+00');
-- a repeat purchase worth nothing: no spend model for that client, the others still get one
INSERT INTO crm.clients (client_id, first_name, created_at) VALUES (4, 'Dee', '2024-01-01');
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, discount_amount, net_amount)
VALUES (4, '2024-01-05', 'web', 'paid', 30, 0, 30), (4, '2024-01-15', 'web', 'paid', 30, 30, 0);
SELECT client_id, frequency, monetary, expected_spend IS NULL AS no_spend, clv IS NULL AS no_clv
  FROM crm.clv_report('2024-02-10', 30, penalty => 0.1,
					  spend => ROW(6, 4, 15, NULL, NULL, NULL, NULL, NULL, NULL))
 ORDER BY client_id;
DELETE FROM crm.orders WHERE client_id = 4;
DELETE FROM crm.clients WHERE client_id = 4;
-- in Tokyo the 23:30 UTC order falls on the next day
SELECT client_id, frequency, recency, t, first_purchase, last_purchase
  FROM crm.clv_summary('2024-02-10 00:00+00', 'day', 'Asia/Tokyo');
SELECT client_id, round(recency::numeric, 6) AS recency, round(t::numeric, 6) AS t
  FROM crm.clv_summary('2024-02-10 00:00+00', 'month');
SELECT client_id, round(t::numeric, 6) AS t FROM crm.clv_summary('2024-02-10 00:00+00', 'year');
SELECT count(*) AS nobody FROM crm.clv_summary('2023-12-31');
SELECT crm.clv_unit_days(u) FROM unnest(ARRAY['day', 'week', 'month', 'year']) u;
-- every client counts for LTV/CAC, buyers or not (a null channel is its own group);
-- two buyers do not identify BG/NBD even with a penalty: the fit does not converge,
-- a notice says so, and predicted LTV is null while CAC and historical LTV stay
SELECT * FROM crm.ltv_cac('2024-03-10', 30, penalty => 0.1);
ROLLBACK;
SELECT * FROM crm.clv_summary('2024-02-10', 'fortnight');
SELECT * FROM crm.ltv_cac('2024-03-10', 30, margin_rate => 2);
SELECT * FROM crm.clv_report('2024-03-10', NULL);

-- the retention-based formula: margin m per period, the first now, retention r,
-- discount d: m (1 - q^n) / (1 - q), q = r / (1 + d); forever m / (1 - q)
SELECT round(crm.retention_clv(100, 0.8)::numeric, 6) AS forever,
	   round(crm.retention_clv(100, 0.8, 0.1)::numeric, 6) AS forever_discounted,
	   round(crm.retention_clv(100, 0.8, 0, 3)::numeric, 6) AS three_periods,
	   crm.retention_clv(100, 0, 0.1, 5) AS one_period,
	   crm.retention_clv(100, 0.8, 0, 0) AS no_periods,
	   crm.retention_clv(NULL, 0.8) IS NULL AS null_margin;
SELECT crm.retention_clv(100, 1);
SELECT crm.retention_clv(100, -0.1);
SELECT crm.retention_clv(100, 0.5, -0.1);
SELECT crm.retention_clv(100, 0.5, 0, -1);
