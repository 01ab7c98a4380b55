--
-- CLV: the standard errors and covariance the fits carry, the prediction
-- intervals (delta method), fits that do not stop short on an outlying
-- client, and the notice of a fit that does not converge.
--
CREATE TABLE unc_cdnow (id integer PRIMARY KEY, frequency float8, recency float8,
						t float8, monetary float8);
\copy unc_cdnow FROM 'test/data/cdnow_customers_summary_with_transactions.csv' CSV HEADER
ANALYZE unc_cdnow;
CREATE TABLE unc_models AS
SELECT crm.bgnbd_fit(frequency, recency, t) AS bg, crm.pareto_nbd_fit(frequency, recency, t) AS pn,
	   crm.gamma_gamma_fit(frequency, monetary) AS gg
  FROM unc_cdnow;

-- standard errors on CDNOW.  lifetimes' (docs/Quickstart.md, autograd Hessian):
-- BG/NBD r 0.012557, alpha 0.378221, a 0.185719, b 0.705345; Gamma-Gamma
-- p 1.19, q 0.29, v 4.16 (two figures)
SELECT array(SELECT round(e::numeric, 6) FROM unnest((bg).std_errors) e) AS bgnbd,
	   array(SELECT round(e::numeric, 4) FROM unnest((gg).std_errors) e) AS gamma_gamma,
	   array(SELECT round(e::numeric, 4) FROM unnest((pn).std_errors) e) AS pareto_nbd
  FROM unc_models;
SELECT max(abs(e / l - 1)) < 1e-4 AS bgnbd_as_lifetimes
  FROM unc_models, unnest((bg).std_errors, ARRAY[0.012557, 0.378221, 0.185719, 0.705345]) u(e, l);
SELECT bool_and(round(e::numeric, 2) = l) AS gamma_gamma_as_lifetimes
  FROM unc_models, unnest((gg).std_errors, ARRAY[1.19, 0.29, 4.16]) u(e, l);
-- the covariance is symmetric, its diagonal the squared standard errors
SELECT bool_and((m).covariance[i][j] = (m).covariance[j][i]) AS symmetric,
	   bool_and(i <> j OR abs(sqrt((m).covariance[i][i]) / (m).std_errors[i] - 1) < 1e-15) AS diagonal
  FROM (SELECT bg AS m FROM unc_models) x, generate_series(1, 4) i, generate_series(1, 4) j;

-- independently: the Hessian of the summed per-client log-likelihoods
-- (crm.*_loglik, another code path than the fits' objectives) by second
-- differences (steps of 0.1 %); the covariance times minus that Hessian is the
-- identity, to the differences' own accuracy
CREATE FUNCTION pg_temp.ll(kind text, p float8[]) RETURNS float8 LANGUAGE sql AS $$
	SELECT CASE kind
		WHEN 'bgnbd' THEN (SELECT sum(crm.bgnbd_loglik(ROW(p[1], p[2], p[3], p[4], NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model,
													   frequency, recency, t)) FROM unc_cdnow)
		WHEN 'pareto_nbd' THEN (SELECT sum(crm.pareto_nbd_loglik(ROW(p[1], p[2], p[3], p[4], NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model,
																 frequency, recency, t)) FROM unc_cdnow)
		ELSE (SELECT sum(crm.gamma_gamma_loglik(ROW(p[1], p[2], p[3], NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model,
												frequency, monetary)) FROM unc_cdnow WHERE frequency > 0)
	END
$$;
CREATE FUNCTION pg_temp.identity_error(kind text, p float8[], cov float8[]) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
	n		int := cardinality(p);
	h		float8[] := array_fill(0::float8, ARRAY[n, n]);
	d		float8[];
	e		float8 := 0;
	s		float8;
	q		float8[];
BEGIN
	FOR i IN 1..n LOOP
		FOR j IN 1..n LOOP
			s := 0;
			FOR si IN 0..1 LOOP
				FOR sj IN 0..1 LOOP
					q := p;
					q[i] := q[i] * (1 + (1 - 2 * si) * 1e-3);
					q[j] := q[j] * (1 + (1 - 2 * sj) * 1e-3);
					s := s + (1 - 2 * si) * (1 - 2 * sj) * pg_temp.ll(kind, q);
				END LOOP;
			END LOOP;
			h[i][j] := s / (4 * 1e-3 * p[i] * 1e-3 * p[j]);
		END LOOP;
	END LOOP;
	-- cov * (-h) - I
	FOR i IN 1..n LOOP
		FOR j IN 1..n LOOP
			s := 0;
			FOR k IN 1..n LOOP
				s := s - cov[i][k] * h[k][j];
			END LOOP;
			e := greatest(e, abs(s - CASE WHEN i = j THEN 1 ELSE 0 END));
		END LOOP;
	END LOOP;
	RETURN e;
END
$$;
SELECT pg_temp.identity_error('bgnbd', ARRAY[(bg).r, (bg).alpha, (bg).a, (bg).b], (bg).covariance) < 5e-3 AS bgnbd,
	   pg_temp.identity_error('pareto_nbd', ARRAY[(pn).r, (pn).alpha, (pn).s, (pn).beta], (pn).covariance) < 5e-3 AS pareto_nbd,
	   pg_temp.identity_error('gamma_gamma', ARRAY[(gg).p, (gg).q, (gg).v], (gg).covariance) < 5e-3 AS gamma_gamma
  FROM unc_models;

-- a fit over many distinct rows (the Newton path) gives the estimates of the
-- same data fitted as few rows, and standard errors 1/sqrt(40) of theirs: CDNOW
-- 40 times, each copy's times moved by a few 1e-7 weeks (40,640 distinct rows)
CREATE TABLE unc_many AS
SELECT c.frequency, c.recency + CASE WHEN c.frequency > 0 THEN k * 1e-7 ELSE 0 END AS recency,
	   c.t + k * 1e-7 AS t
  FROM unc_cdnow c, generate_series(0, 39) k;
SELECT count(DISTINCT (frequency, recency, t)) > 32768 AS newton_path FROM unc_many;
SELECT bool_and((m).converged) AS converged,
	   max(abs((m).std_errors[i] / ((bg).std_errors[i] / sqrt(40)) - 1)) < 1e-4 AS se_as_root_n,
	   max(abs((ARRAY[(m).r, (m).alpha, (m).a, (m).b])[i] / (ARRAY[(bg).r, (bg).alpha, (bg).a, (bg).b])[i] - 1)) < 1e-5 AS same_estimates
  FROM (SELECT crm.bgnbd_fit(frequency, recency, t) AS m FROM unc_many) f, unc_models, generate_series(1, 4) i;

-- the delta method against the analytic gradients: the Gamma-Gamma mean spend
-- p v / (q - 1) of a client without repeat purchases, and BG/NBD P(alive) of client 1
SELECT abs((crm.gamma_gamma_expected_spend_interval(gg, 0, 0)).std_error / sqrt(
		   g1 * g1 * c[1][1] + g2 * g2 * c[2][2] + g3 * g3 * c[3][3]
		   + 2 * (g1 * g2 * c[1][2] + g1 * g3 * c[1][3] + g2 * g3 * c[2][3])) - 1) < 1e-6 AS gamma_spend
  FROM unc_models,
	   LATERAL (SELECT (gg).p AS p, (gg).q AS q, (gg).v AS v, (gg).covariance AS c) m,
	   LATERAL (SELECT v / (q - 1) AS g1, -p * v / ((q - 1) ^ 2) AS g2, p / (q - 1) AS g3) g;
WITH g AS (
	SELECT (bg).covariance AS c, pa,
		   -- d logit-odds-of-death / d (r, alpha, a, b), x 2, t_x 30.43, T 38.86
		   ARRAY[ln(((bg).alpha + 38.86) / ((bg).alpha + 30.43)),
				 ((bg).r + 2) * (1 / ((bg).alpha + 38.86) - 1 / ((bg).alpha + 30.43)),
				 1 / (bg).a, -1 / ((bg).b + 1)] AS dlo
	  FROM unc_models, LATERAL (SELECT crm.bgnbd_p_alive(bg, 2, 30.43, 38.86) AS pa) p)
SELECT abs((crm.bgnbd_p_alive_interval(bg, 2, 30.43, 38.86)).std_error
		   / (pa * (1 - pa) * sqrt((SELECT sum(dlo[i] * dlo[j] * c[i][j]) FROM generate_series(1, 4) i, generate_series(1, 4) j)))
		   - 1) < 1e-6 AS bgnbd_p_alive
  FROM g, unc_models;

-- the intervals of client 1 (x 2, t_x 30.43, T 38.86, m 22.35), six decimals
SELECT prediction, round((i).estimate::numeric, 6) AS estimate, round((i).std_error::numeric, 6) AS std_error,
	   round((i).lower::numeric, 6) AS lower, round((i).upper::numeric, 6) AS upper
  FROM unc_models, LATERAL (VALUES
	('p_alive', crm.bgnbd_p_alive_interval(bg, 2, 30.43, 38.86)),
	('expected purchases 39', crm.bgnbd_expected_purchases_interval(bg, 39, 2, 30.43, 38.86)),
	('P(1 purchase in 39)', crm.bgnbd_probability_of_purchases_interval(bg, 1, 39, 2, 30.43, 38.86)),
	('pareto p_alive', crm.pareto_nbd_p_alive_interval(pn, 2, 30.43, 38.86)),
	('pareto expected purchases 39', crm.pareto_nbd_expected_purchases_interval(pn, 39, 2, 30.43, 38.86)),
	('pareto P(1 purchase in 39)', crm.pareto_nbd_probability_of_purchases_interval(pn, 1, 39, 2, 30.43, 38.86)),
	('expected spend', crm.gamma_gamma_expected_spend_interval(gg, 2, 22.35)),
	('clv 52 weeks', crm.clv_interval(bg, gg, 2, 30.43, 38.86, 22.35, 52, 0.01, 4.345)),
	('pareto clv 52 weeks', crm.clv_interval(pn, gg, 2, 30.43, 38.86, 22.35, 52, 0.01, 4.345))) v(prediction, i);

-- every estimate is the prediction itself, inside its interval; a higher level is wider
WITH i AS (
	SELECT c.id,
		   crm.bgnbd_p_alive_interval(bg, frequency, recency, t) AS pa,
		   crm.bgnbd_expected_purchases_interval(bg, 39, frequency, recency, t) AS ey,
		   crm.clv_interval(bg, gg, frequency, recency, t, monetary, 52, 0.01, 4.345) AS v,
		   crm.clv_interval(bg, gg, frequency, recency, t, monetary, 52, 0.01, 4.345, 0.99) AS v99,
		   crm.bgnbd_p_alive(bg, frequency, recency, t) AS pa0,
		   crm.clv(bg, gg, frequency, recency, t, monetary, 52, 0.01, 4.345) AS v0
	  FROM unc_cdnow c, unc_models WHERE c.id % 50 = 1)
SELECT count(*) AS clients,
	   bool_and((pa).estimate = pa0 AND (v).estimate = v0) AS estimates,
	   bool_and((pa).lower <= (pa).estimate AND (pa).estimate <= (pa).upper AND (pa).lower >= 0 AND (pa).upper <= 1) AS p_alive_inside,
	   bool_and((ey).lower < (ey).estimate AND (ey).estimate < (ey).upper AND (ey).lower > 0) AS expected_inside,
	   bool_and((v99).lower < (v).lower AND (v99).upper > (v).upper) AS wider_at_99
  FROM i;

-- P(alive) of a BG/NBD client without repeat purchases is 1 for every parameter: no spread
SELECT (crm.bgnbd_p_alive_interval(bg, 0, 0, 38.86)).* FROM unc_models;
-- a model without a covariance (written by hand, or stored before it had one): no spread known
SELECT round((i).estimate::numeric, 6) AS estimate, (i).std_error, (i).lower, (i).upper
  FROM (SELECT crm.bgnbd_p_alive_interval(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model,
										  2, 30.43, 38.86) AS i) x;
-- errors
SELECT crm.bgnbd_p_alive_interval(bg, 2, 30.43, 38.86, 1) FROM unc_models;
SELECT crm.gamma_gamma_expected_spend_interval(gg, 2, 22.35, 0) FROM unc_models;
SELECT crm.bgnbd_p_alive_interval(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL,
									  ARRAY[1, 2, 3]::float8[])::crm.bgnbd_model, 2, 30.43, 38.86);
SELECT crm.clv_interval(bg, gg, 2, 30.43, 38.86, 22.35, 52, 0.01, 0) FROM unc_models;

-- one outlying client does not stop the fits short: with a client of t = 1e4
-- to 1e12 weeks added to CDNOW, both fits converge to the maximum of the
-- likelihood with that client (before: the Pareto/NBD fit at t = 1e9 stopped at
-- LL -10638.2, converged false).  The fit is at least as good as the CDNOW
-- optimum with the client's own log-likelihood there (gain >= 0), by at most
-- what that one client moves (gain < 1), with standard errors.
CREATE TABLE unc_outlier AS
SELECT tt, x, tx,
	   crm.bgnbd_fit(frequency, recency, t) AS bg, crm.pareto_nbd_fit(frequency, recency, t) AS pn
  FROM unnest(ARRAY[1e4, 1e6, 1e9, 1e12]::float8[]) tt,
	   (VALUES (0::float8, 0::float8), (10, 0.5)) v(x, tx),
	   LATERAL (SELECT frequency, recency, t FROM unc_cdnow UNION ALL SELECT x, tx, tt) s
 GROUP BY tt, x, tx;
SELECT o.x, o.tx, count(*) AS fits,
	   bool_and((o.bg).converged AND (o.pn).converged) AS converged,
	   bool_and((o.bg).loglik - ((m.bg).loglik + crm.bgnbd_loglik(m.bg, o.x, o.tx, o.tt)) BETWEEN 0 AND 1) AS bgnbd_gain,
	   bool_and((o.pn).loglik - ((m.pn).loglik + crm.pareto_nbd_loglik(m.pn, o.x, o.tx, o.tt)) BETWEEN 0 AND 1) AS pareto_gain,
	   bool_and((o.bg).std_errors IS NOT NULL AND (o.pn).std_errors IS NOT NULL) AS with_errors
  FROM unc_outlier o, unc_models m
 GROUP BY o.x, o.tx ORDER BY o.x;
-- Pareto/NBD: the client's log-likelihood has a limit as t grows, and so has the fit
-- (BG/NBD: a client without repeat purchases adds -r ln(alpha + t), without a limit)
SELECT a.x, abs((a.pn).r / (b.pn).r - 1) < 1e-6 AND abs((a.pn).s / (b.pn).s - 1) < 1e-6
			AND abs((a.pn).beta / (b.pn).beta - 1) < 1e-6 AS pareto_same_from_1e9_to_1e12
  FROM unc_outlier a JOIN unc_outlier b ON a.x = b.x AND a.tt = 1e9 AND b.tt = 1e12
 ORDER BY a.x;

-- a fit that ends with converged false says why
SELECT (crm.gamma_gamma_fit(f, m)).converged
  FROM (VALUES (1::float8, 10::float8), (2, 12), (3, 7), (1, 30)) v(f, m);
SELECT (crm.pareto_nbd_fit(x, tx, 100)).converged
  FROM (VALUES (10, 95), (10, 98), (9, 99), (11, 97), (10, 96), (10, 99), (9, 94), (11, 99), (10, 93), (10, 100)) v(x, tx);

DROP TABLE unc_cdnow, unc_models, unc_many, unc_outlier;
