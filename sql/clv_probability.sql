--
-- CLV: the probability of exactly n purchases in the next t time units,
-- crm.bgnbd_probability_of_purchases and crm.pareto_nbd_probability_of_purchases,
-- checked against published values, against the models' expectations (the
-- mean of the distribution), by summing to 1, and against a simulation.
--
CREATE TABLE pmf_cdnow (id integer PRIMARY KEY, frequency float8, recency float8,
						t float8, monetary float8);
\copy pmf_cdnow FROM 'test/data/cdnow_customers_summary_with_transactions.csv' CSV HEADER
ANALYZE pmf_cdnow;
CREATE TABLE pmf_models AS
SELECT crm.bgnbd_fit(frequency, recency, t) AS bg, crm.pareto_nbd_fit(frequency, recency, t) AS pn
  FROM pmf_cdnow;

-- a new client (frequency, recency, t all 0) under the paper's estimates
-- (0.243, 4.414, 0.793, 2.426): R BTYD's values, as lifetimes' test quotes them:
-- P(X(2) = 10) = 1.07869e-7, P(X(39) = 0) = 0.5737864, and P(X(30) = n), n = 11..20
WITH p AS (SELECT ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS m)
SELECT round((crm.bgnbd_probability_of_purchases(m, 10, 2, 0, 0, 0) * 1e7)::numeric, 5) AS p10_in_2_e7,
	   round(crm.bgnbd_probability_of_purchases(m, 0, 39, 0, 0, 0)::numeric, 7) AS p0_in_39
  FROM p;
WITH p AS (SELECT ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS m),
	 btyd(n, v) AS (VALUES (11, 0.0019995214), (12, 0.0015170236), (13, 0.0011633150),
						   (14, 0.0009003148), (15, 0.0007023638), (16, 0.0005517902),
						   (17, 0.0004361913), (18, 0.0003467171), (19, 0.0002769613),
						   (20, 0.0002222260))
SELECT max(abs(crm.bgnbd_probability_of_purchases(m, n, 30, 0, 0, 0) - v)) < 1e-10 AS btyd_n_11_to_20
  FROM p, btyd;

-- a client's P(no purchase in the next 39 weeks) at the CDNOW fit, against the closed
-- form of Fader and Hardie's note (recomputed: clients 1, 3, 6: 0.4453924, 0.8556721,
-- 0.3643150; for x = 0 it is ((alpha+T)/(alpha+T+t))^r)
SELECT c.id, round(crm.bgnbd_probability_of_purchases(bg, 0, 39, frequency, recency, t)::numeric, 6) AS p0
  FROM pmf_cdnow c, pmf_models WHERE c.id IN (1, 3, 6) ORDER BY c.id;
SELECT abs(crm.bgnbd_probability_of_purchases(bg, 0, 39, 0, 0, 38.86)
		   - ((((bg).alpha + 38.86) / ((bg).alpha + 38.86 + 39)) ^ (bg).r)) < 1e-14 AS x0_closed_form
  FROM pmf_models;

-- the probabilities sum to 1 and their mean is the expectation, for every kind of
-- client and horizon (n up to 600: the rest is below 1e-12 here)
WITH c AS (SELECT * FROM pmf_cdnow WHERE id IN (1, 2, 3, 6, 1516, 2004)),
	 h(h) AS (VALUES (1::float8), (39), (104)),
	 d AS (SELECT c.id, h.h, n,
				  crm.bgnbd_probability_of_purchases(bg, n, h.h, frequency, recency, t) AS pb,
				  crm.pareto_nbd_probability_of_purchases(pn, n, h.h, frequency, recency, t) AS pp
			 FROM c, h, pmf_models, generate_series(0, 600) n)
SELECT count(DISTINCT (d.id, d.h)) AS cases,
	   max(abs(sb - 1)) < 1e-12 AS bgnbd_sums_to_1,
	   max(abs(sp - 1)) < 1e-12 AS pareto_sums_to_1,
	   max(abs(mb / eb - 1)) < 1e-11 AS bgnbd_mean_is_expectation,
	   max(abs(mp / ep - 1)) < 1e-11 AS pareto_mean_is_expectation,
	   min(least(pmin_b, pmin_p)) >= 0 AS non_negative
  FROM (SELECT d.id, d.h, sum(pb) AS sb, sum(pp) AS sp, sum(n * pb) AS mb, sum(n * pp) AS mp,
			   min(pb) AS pmin_b, min(pp) AS pmin_p
		  FROM d GROUP BY d.id, d.h) d
  JOIN pmf_cdnow c ON c.id = d.id
 CROSS JOIN pmf_models m
 CROSS JOIN LATERAL (SELECT crm.bgnbd_expected_purchases(m.bg, d.h, c.frequency, c.recency, c.t) AS eb,
							crm.pareto_nbd_expected_purchases(m.pn, d.h, c.frequency, c.recency, c.t) AS ep) e;

-- a new client: the Pareto/NBD probabilities against the model's new-client expectation
SELECT abs(sum(n * crm.pareto_nbd_probability_of_purchases(pn, n, 52, 0, 0, 0))
		   / crm.pareto_nbd_expected_purchases(pn, 52) - 1) < 1e-11 AS pareto_new_client_mean
  FROM pmf_models, generate_series(0, 600) n GROUP BY pn;

-- against a simulation (test/data/clv_pmf_sim.py: 4,000,000 draws of the rates from
-- the mixing distributions, weighted by the client's individual likelihood, the next
-- 39 weeks simulated from the models' stories), at the CDNOW estimates; estimate and
-- Monte Carlo standard error per n: within 4 standard errors
WITH sim(model, x, tx, n, est, se) AS (VALUES
	('bgnbd', 0, 0, 0, 0.85555, 0.00018), ('bgnbd', 0, 0, 1, 0.10975, 0.00016),
	('bgnbd', 0, 0, 2, 0.02435, 0.00007), ('bgnbd', 0, 0, 3, 0.00689, 0.00003),
	('bgnbd', 0, 0, 4, 0.00221, 0.00001),
	('bgnbd', 2, 30.43, 0, 0.44571, 0.00041), ('bgnbd', 2, 30.43, 1, 0.23904, 0.00037),
	('bgnbd', 2, 30.43, 2, 0.14381, 0.00032), ('bgnbd', 2, 30.43, 3, 0.08106, 0.00025),
	('bgnbd', 2, 30.43, 4, 0.04337, 0.00019),
	('pareto', 0, 0, 0, 0.93066, 0.00012), ('pareto', 0, 0, 1, 0.04601, 0.00011),
	('pareto', 0, 0, 2, 0.01466, 0.00005), ('pareto', 0, 0, 3, 0.00526, 0.00003),
	('pareto', 0, 0, 4, 0.00204, 0.00001),
	('pareto', 2, 30.43, 0, 0.40825, 0.00039), ('pareto', 2, 30.43, 1, 0.21968, 0.00035),
	('pareto', 2, 30.43, 2, 0.15104, 0.00032), ('pareto', 2, 30.43, 3, 0.09554, 0.00027),
	('pareto', 2, 30.43, 4, 0.05685, 0.00021)),
	 p AS (SELECT ROW(0.242593, 4.413532, 0.792886, 2.425755, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS bg,
				  ROW(0.553276, 10.577612, 0.606214, 11.667911, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model AS pn)
SELECT model, count(*) AS values_checked,
	   round(max(abs(CASE model WHEN 'bgnbd' THEN crm.bgnbd_probability_of_purchases(bg, n, 39, x, tx, 38.86)
					 ELSE crm.pareto_nbd_probability_of_purchases(pn, n, 39, x, tx, 38.86) END - est) / se)::numeric, 1) < 4
		   AS within_4_se
  FROM sim, p GROUP BY model ORDER BY model;

-- horizon 0: nothing happens; huge n: 0; a client far beyond any horizon: finite
SELECT crm.bgnbd_probability_of_purchases(bg, 0, 0, 2, 30, 40) AS p0_h0,
	   crm.bgnbd_probability_of_purchases(bg, 1, 0, 2, 30, 40) AS p1_h0,
	   crm.pareto_nbd_probability_of_purchases(pn, 0, 0, 2, 30, 40) AS pn_p0_h0,
	   crm.bgnbd_probability_of_purchases(bg, 100000, 39, 2, 30, 40) AS bg_huge_n,
	   crm.pareto_nbd_probability_of_purchases(pn, 100000, 39, 2, 30, 40) AS pn_huge_n
  FROM pmf_models;

-- errors
SELECT crm.bgnbd_probability_of_purchases(bg, -1, 39, 2, 30, 40) FROM pmf_models;
SELECT crm.pareto_nbd_probability_of_purchases(pn, 1, -39, 2, 30, 40) FROM pmf_models;
SELECT crm.bgnbd_probability_of_purchases(bg, 1, 39, 2, 50, 40) FROM pmf_models;
SELECT crm.pareto_nbd_probability_of_purchases(pn, 1, 'NaN', 2, 30, 40) FROM pmf_models;
SELECT crm.bgnbd_probability_of_purchases(ROW(0.2, -1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 1, 39, 2, 30, 40);
SELECT crm.bgnbd_probability_of_purchases(NULL, 1, 39, 2, 30, 40) IS NULL AS strict;

DROP TABLE pmf_cdnow, pmf_models;
