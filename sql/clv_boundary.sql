--
-- BG/NBD and Pareto/NBD at the boundary of their parameter spaces: a and b
-- of BG/NBD growing together (the drop-out probability the same for every
-- client), s and beta (or r and alpha) of Pareto/NBD growing together.
-- Predictions stay finite and continuous, and tend to the closed-form limits
-- of docs/clv.md; the fits end on the boundary and say so.
--
-- the generator is the extension crm_demo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crm_demo;
RESET client_min_messages;
SET extra_float_digits = 0;

-- the expansion used from a = 1000 on agrees with the series below it
SELECT max(abs(lo / hi - 1)) < 1e-8 AS continuous_at_a_1000, count(*) AS cases
  FROM (SELECT crm.bgnbd_expected_purchases(ROW(0.9, 20, 1000 - 1e-9, b, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, h, x, tx, tt) AS lo,
			   crm.bgnbd_expected_purchases(ROW(0.9, 20, 1000 + 1e-9, b, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, h, x, tx, tt) AS hi
		  FROM (VALUES (0, 0, 0), (2, 30, 40), (20, 300, 365), (200, 700, 730), (1, 1, 700)) v(x, tx, tt),
			   (VALUES (1::float8), (30), (365), (3650)) hh(h),
			   (VALUES (0.5::float8), (100), (50000), (1e6)) bb(b)) s;

-- the limit a, b -> oo with q = a/(a+b): E[Y(t)] = P(alive) [1 - ((alpha+T)/(alpha+T+q t))^(r+x)] / q,
-- P(alive) = 1 / (1 + q/(1-q) ((alpha+T)/(alpha+t_x))^(r+x)), ln L of the fixed-q model
WITH m(k) AS (VALUES (1e8::float8), (1e12), (1e15)),
	 c(x, tx, tt, h) AS (VALUES (0, 0, 40, 39), (2, 30.43, 38.86, 39), (7, 29.43, 38.86, 52), (50, 30, 38, 10)),
	 v AS (SELECT k, x, tx, tt, h, ROW(0.25, 4.4, 0.04 * k, 0.96 * k, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS bg,
				  1 / (1 + CASE WHEN x > 0 THEN 0.04 / 0.96 * ((4.4 + tt) / (4.4 + tx)) ^ (0.25 + x) ELSE 0 END) AS pa
			 FROM m, c)
SELECT k, x, abs(crm.bgnbd_expected_purchases(bg, h, x, tx, tt)
				 / (pa * (1 - ((4.4 + tt) / (4.4 + tt + 0.04 * h)) ^ (0.25 + x)) / 0.04) - 1) < 1e-11 + 1e3 / k AS expected_limit,
	   abs(crm.bgnbd_p_alive(bg, x, tx, tt) / pa - 1) < 1e-11 + 1e3 / k AS p_alive_limit,
	   abs(crm.bgnbd_loglik(bg, x, tx, tt)
		   - (coalesce((SELECT sum(ln(0.25 + i)) FROM generate_series(0, x - 1) i), 0) + 0.25 * ln(4.4) + x * ln(0.96) - (0.25 + x) * ln(4.4 + tt)
			  + ln(1 + CASE WHEN x > 0 THEN 0.04 / 0.96 * ((4.4 + tt) / (4.4 + tx)) ^ (0.25 + x) ELSE 0 END))) < 1e-9 + 1e4 / k AS loglik_limit
  FROM v ORDER BY k, x;

-- new clients: E[X(t)] = [1 - (alpha/(alpha + q t))^r] / q in the limit
SELECT abs(crm.bgnbd_expected_purchases(ROW(0.25, 4.4, 0.04e12, 0.96e12, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 39)
		   / ((1 - (4.4 / (4.4 + 0.04 * 39)) ^ 0.25) / 0.04) - 1) < 1e-10 AS new_client_limit;

-- the problem populations: a demo base whose BG/NBD fit runs to the boundary
BEGIN;
SELECT count(*) AS tables FROM crm.generate_demo_data(60, 11);
CREATE TEMP TABLE bsum AS SELECT * FROM crm.clv_summary('2025-01-01');
CREATE TEMP TABLE bfit AS
SELECT crm.bgnbd_fit(frequency, recency, t) AS bg, crm.pareto_nbd_fit(frequency, recency, t) AS pn FROM bsum;
-- on the boundary a + b = 1e10, converged there; the log-likelihood is the sum of the clients'
SELECT (bg).a + (bg).b = 1e10 AS on_boundary, (bg).converged,
	   round(((bg).a / ((bg).a + (bg).b))::numeric, 4) AS dropout_q,
	   abs(sum(crm.bgnbd_loglik(bg, frequency, recency, t)) - (bg).loglik) < 1e-6 AS loglik_is_sum
  FROM bfit, bsum GROUP BY bg;
-- MBG/NBD on the same base: the same boundary (before, a + b ran to 4e12
-- and the fit said converged); its log-likelihood the sum of the clients'
SELECT abs((m).a + (m).b - 1e10) < 1 AS mbgnbd_on_boundary, (m).converged,
	   round(((m).a / ((m).a + (m).b))::numeric, 4) AS dropout_q,
	   abs(sum(crm.mbgnbd_loglik(m, frequency, recency, t)) - (m).loglik) < 1e-6 AS loglik_is_sum,
	   (m).loglik >= (SELECT (bg).loglik FROM bfit) - 1 AS near_bgnbd
  FROM (SELECT crm.mbgnbd_fit(frequency, recency, t) AS m FROM bsum) f, bsum GROUP BY m;
-- finite predictions for every client, and CLV, the report and LTV/CAC work
SELECT count(*) AS clients,
	   bool_and(p.p_alive BETWEEN 0 AND 1 AND p.e >= 0 AND p.e < 'Infinity' AND p.clv >= 0 AND p.clv < 'Infinity') AS finite
  FROM (SELECT crm.bgnbd_p_alive(bg, frequency, recency, t) AS p_alive,
			   crm.bgnbd_expected_purchases(bg, 365, frequency, recency, t) AS e,
			   crm.clv(bg, ROW(6, 4, 15, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model, frequency, recency, t,
					   CASE WHEN frequency > 0 THEN monetary ELSE 0 END, 365, 0.01, 30) AS clv
		  FROM bsum, bfit) p;
SELECT count(*) AS report_rows, count(*) FILTER (WHERE clv IS NOT NULL AND clv = clv AND expected_purchases = expected_purchases) AS finite_clv
  FROM crm.clv_report('2025-01-01', 365, discount_rate => 0.01, period => 30);
SELECT count(*) > 0 AS ltv_cac_rows FROM crm.ltv_cac('2025-01-01', 365, 'day', 0.01, 30);
-- Pareto/NBD: the same boundary (s, beta growing together); the fit stops and says so
SELECT (pn).converged, (pn).loglik < 0 AS loglik_finite FROM bfit;
ROLLBACK;

BEGIN;
SELECT count(*) AS tables FROM crm.generate_demo_data(300, 2, '2025-02-01');
CREATE TEMP TABLE bsum AS SELECT * FROM crm.clv_summary('2025-02-01');
SELECT (m).a + (m).b < 1e4 AS interior, (m).converged
  FROM (SELECT crm.bgnbd_fit(frequency, recency, t) AS m FROM bsum) f;
SELECT (m).converged, (m).loglik < 0 AS loglik_finite
  FROM (SELECT crm.pareto_nbd_fit(frequency, recency, t) AS m FROM bsum) f;
SELECT count(*) AS report_rows, count(*) FILTER (WHERE clv = clv) AS finite_clv
  FROM crm.clv_report('2025-02-01', 365, discount_rate => 0.01, period => 30);
ROLLBACK;

-- ten clients (x, t_x) in 100 time units: MBG/NBD's a runs to 0 and r, alpha
-- away together; the fit ends converged false and its notice says why
SELECT (m).converged, (m).a < 1e-6 AS a_to_0, (m).r > 1e4 AS r_runs_away
  FROM (SELECT crm.mbgnbd_fit(x, tx, 100) AS m
		  FROM (VALUES (1, 50), (2, 90), (3, 60), (1, 20), (2, 99), (4, 80), (3, 95), (5, 100), (2, 70), (1, 90)) v(x, tx)) f;
SELECT crm.mbgnbd_fit_or_null(x, tx, 100) IS NULL AS or_null
  FROM (VALUES (1, 50), (2, 90), (3, 60), (1, 20), (2, 99), (4, 80), (3, 95), (5, 100), (2, 70), (1, 90)) v(x, tx);

-- ten clients buying at one rate: Pareto/NBD's r and alpha run away together
SELECT (m).converged, (m).n, (m).r > 1e6 AS r_runs_away
  FROM (SELECT crm.pareto_nbd_fit(x, tx, 100) AS m
		  FROM (VALUES (10, 95), (10, 98), (9, 99), (11, 97), (10, 96), (10, 99), (9, 94), (11, 99), (10, 93), (10, 100)) v(x, tx)) f;
