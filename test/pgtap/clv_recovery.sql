--
-- Recovery: data simulated from known BG/NBD, Pareto/NBD and Gamma-Gamma
-- parameters is fitted back.  Tolerance: every parameter within 15 % of the
-- truth (20,000-30,000 simulated clients; about two to three standard
-- errors of the least precise parameters), and the log-likelihood at the fit is
-- at least the log-likelihood at the truth (what maximum likelihood means).
-- The random generator is seeded, so the data and the fits are fixed.
--
BEGIN;
SELECT plan(20);

-- standard normal (Box-Muller) and Gamma(shape, rate) (Marsaglia-Tsang)
CREATE FUNCTION pg_temp.rnorm() RETURNS float8 LANGUAGE sql VOLATILE
AS $$ SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) $$;

CREATE FUNCTION pg_temp.rgamma(shape float8, rate float8) RETURNS float8
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	boost	float8 := 1;
	d		float8;
	c		float8;
	x		float8;
	v		float8;
BEGIN
	IF shape < 1 THEN
		boost := (1 - random()) ^ (1 / shape);
		shape := shape + 1;
	END IF;
	d := shape - 1.0 / 3;
	c := 1 / sqrt(9 * d);
	LOOP
		LOOP
			x := pg_temp.rnorm();
			v := 1 + c * x;
			EXIT WHEN v > 0;
		END LOOP;
		v := v * v * v;
		IF ln(1 - random()) < 0.5 * x * x + d - d * v + d * ln(v) THEN
			RETURN d * v * boost / rate;
		END IF;
	END LOOP;
END $$;

-- BG/NBD: rate ~ Gamma(r, alpha); after each repeat purchase the client
-- drops out with probability p ~ Beta(a, b)
CREATE FUNCTION pg_temp.sim_bgnbd(r float8, alpha float8, a float8, b float8, tt float8,
								  OUT x integer, OUT tx float8)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	lam		float8 := pg_temp.rgamma(r, alpha);
	g		float8 := pg_temp.rgamma(a, 1);
	p		float8 := g / (g + pg_temp.rgamma(b, 1));
	t		float8 := 0;
BEGIN
	x := 0;
	tx := 0;
	LOOP
		t := t - ln(1 - random()) / lam;
		EXIT WHEN t > tt;
		x := x + 1;
		tx := t;
		EXIT WHEN random() < p;
	END LOOP;
END $$;

-- Pareto/NBD: rate ~ Gamma(r, alpha), lifetime ~ Exp(mu), mu ~ Gamma(s, beta)
CREATE FUNCTION pg_temp.sim_pareto(r float8, alpha float8, s float8, beta float8, tt float8,
								   OUT x integer, OUT tx float8)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	lam		float8 := pg_temp.rgamma(r, alpha);
	tau		float8 := -ln(1 - random()) / pg_temp.rgamma(s, beta);
	t		float8 := 0;
BEGIN
	x := 0;
	tx := 0;
	LOOP
		t := t - ln(1 - random()) / lam;
		EXIT WHEN t > least(tt, tau);
		x := x + 1;
		tx := t;
	END LOOP;
END $$;

SELECT setseed(0.25);
CREATE TEMP TABLE sim_bg AS
SELECT (s).x::float8 AS x, (s).tx, tt
  FROM (SELECT pg_temp.sim_bgnbd(0.5, 5, 0.7, 3, tt) AS s, tt
		  FROM (SELECT 30 + 70 * random() AS tt FROM generate_series(1, 30000)) g) q;
CREATE TEMP TABLE sim_pn AS
SELECT (s).x::float8 AS x, (s).tx, tt
  FROM (SELECT pg_temp.sim_pareto(0.5, 5, 0.6, 12, tt) AS s, tt
		  FROM (SELECT 30 + 70 * random() AS tt FROM generate_series(1, 20000)) g) q;
-- Gamma-Gamma: x repeat purchases, each worth Gamma(p, nu), nu ~ Gamma(q, v);
-- their mean is Gamma(p x, nu x)
CREATE TEMP TABLE sim_gg AS
SELECT x::float8 AS x, pg_temp.rgamma(6 * x, pg_temp.rgamma(4, 15) * x) AS m
  FROM (SELECT 1 + floor(10 * random())::integer AS x FROM generate_series(1, 20000)) g;

CREATE TEMP TABLE fits AS
SELECT (SELECT crm.bgnbd_fit(x, tx, tt) FROM sim_bg) AS bg,
	   (SELECT crm.pareto_nbd_fit(x, tx, tt) FROM sim_pn) AS pn,
	   (SELECT crm.gamma_gamma_fit(x, m) FROM sim_gg) AS gg;

CREATE FUNCTION pg_temp.close(est float8, truth float8) RETURNS boolean LANGUAGE sql
AS $$ SELECT abs(est / truth - 1) <= 0.15 $$;

SELECT ok((bg).converged AND (pn).converged AND (gg).converged, 'the three fits converge') FROM fits;
-- the standard errors the fits carry describe their error: every true
-- parameter within 4 standard errors of its estimate
SELECT ok(bool_and(abs(e - tr) <= 4 * se), format('BG/NBD within 4 standard errors: %s', string_agg(round(((e - tr) / se)::numeric, 2)::text, ', ')))
  FROM fits, unnest(ARRAY[(bg).r, (bg).alpha, (bg).a, (bg).b], ARRAY[0.5, 5, 0.7, 3], (bg).std_errors) u(e, tr, se);
SELECT ok(bool_and(abs(e - tr) <= 4 * se), format('Pareto/NBD within 4 standard errors: %s', string_agg(round(((e - tr) / se)::numeric, 2)::text, ', ')))
  FROM fits, unnest(ARRAY[(pn).r, (pn).alpha, (pn).s, (pn).beta], ARRAY[0.5, 5, 0.6, 12], (pn).std_errors) u(e, tr, se);
SELECT ok(bool_and(abs(e - tr) <= 4 * se), format('Gamma-Gamma within 4 standard errors: %s', string_agg(round(((e - tr) / se)::numeric, 2)::text, ', ')))
  FROM fits, unnest(ARRAY[(gg).p, (gg).q, (gg).v], ARRAY[6, 4, 15], (gg).std_errors) u(e, tr, se);
SELECT ok(pg_temp.close((bg).r, 0.5), format('BG/NBD r %s recovers 0.5', round((bg).r::numeric, 4))) FROM fits;
SELECT ok(pg_temp.close((bg).alpha, 5), format('BG/NBD alpha %s recovers 5', round((bg).alpha::numeric, 4))) FROM fits;
SELECT ok(pg_temp.close((bg).a, 0.7), format('BG/NBD a %s recovers 0.7', round((bg).a::numeric, 4))) FROM fits;
SELECT ok(pg_temp.close((bg).b, 3), format('BG/NBD b %s recovers 3', round((bg).b::numeric, 4))) FROM fits;
SELECT ok((bg).loglik >= (SELECT sum(crm.bgnbd_loglik(ROW(0.5, 5, 0.7, 3, NULL, NULL, NULL, NULL, NULL, NULL), x, tx, tt)) FROM sim_bg),
		  'BG/NBD log-likelihood at the fit is at least that at the truth') FROM fits;
SELECT ok(pg_temp.close((pn).r, 0.5), format('Pareto/NBD r %s recovers 0.5', round((pn).r::numeric, 4))) FROM fits;
SELECT ok(pg_temp.close((pn).alpha, 5), format('Pareto/NBD alpha %s recovers 5', round((pn).alpha::numeric, 4))) FROM fits;
SELECT ok(pg_temp.close((pn).s, 0.6), format('Pareto/NBD s %s recovers 0.6', round((pn).s::numeric, 4))) FROM fits;
SELECT ok(pg_temp.close((pn).beta, 12), format('Pareto/NBD beta %s recovers 12', round((pn).beta::numeric, 4))) FROM fits;
SELECT ok((pn).loglik >= (SELECT sum(crm.pareto_nbd_loglik(ROW(0.5, 5, 0.6, 12, NULL, NULL, NULL, NULL, NULL, NULL), x, tx, tt)) FROM sim_pn),
		  'Pareto/NBD log-likelihood at the fit is at least that at the truth') FROM fits;
SELECT ok(pg_temp.close((gg).p, 6), format('Gamma-Gamma p %s recovers 6', round((gg).p::numeric, 4))) FROM fits;
SELECT ok(pg_temp.close((gg).q, 4), format('Gamma-Gamma q %s recovers 4', round((gg).q::numeric, 4))) FROM fits;
SELECT ok(pg_temp.close((gg).v, 15), format('Gamma-Gamma v %s recovers 15', round((gg).v::numeric, 4))) FROM fits;
SELECT ok((gg).loglik >= (SELECT sum(crm.gamma_gamma_loglik(ROW(6, 4, 15, NULL, NULL, NULL, NULL, NULL, NULL), x, m)) FROM sim_gg),
		  'Gamma-Gamma log-likelihood at the fit is at least that at the truth') FROM fits;

-- the model predicts the simulated repeat purchases: sum of E[X(T)] over the
-- clients against the simulated total, within 3 %
SELECT ok(abs((SELECT sum(crm.bgnbd_expected_purchases(f.bg, tt)) FROM sim_bg) / (SELECT sum(x) FROM sim_bg) - 1) < 0.03,
		  'BG/NBD expected purchases to T match the simulated total') FROM fits f;
SELECT ok(abs((SELECT sum(crm.pareto_nbd_expected_purchases(f.pn, tt)) FROM sim_pn) / (SELECT sum(x) FROM sim_pn) - 1) < 0.03,
		  'Pareto/NBD expected purchases to T match the simulated total') FROM fits f;

SELECT * FROM finish();
ROLLBACK;
