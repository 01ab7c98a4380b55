--
-- Recovery of the demo data's true parameters.  crm.generate_demo_data
-- simulates 5,000 clients; its 'regular' archetype (about 40 %) is the pure
-- BG/NBD + Gamma-Gamma population whose parameters crm.demo_parameters keeps
-- (time unit: days).  The fits run on crm.clv_summary over crm.orders, as an
-- analyst would.  Tolerances, for about 2,000 regular clients: r, alpha and
-- the Gamma-Gamma parameters within 15 %; a and b, which the data identify
-- mostly through their ratio, within 35 %, and the mean drop-out probability
-- a/(a+b) within 10 %; the mean spend per order p v/(q-1) within 5 %.
--
BEGIN;
-- the demo data come from the extension crm_demo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crm_demo;
RESET client_min_messages;
SELECT plan(12);

SELECT lives_ok($$SELECT * FROM crm.generate_demo_data(5000, 1, '2025-01-01')$$, 'demo data generated');

CREATE TEMP TABLE truth AS SELECT * FROM crm.demo_parameters;
CREATE TEMP TABLE regular AS
SELECT s.*, d.dropped_out
  FROM crm.clv_summary('2025-01-01') s
  JOIN crm.demo_clients d USING (client_id)
 WHERE d.archetype = 'regular';
CREATE TEMP TABLE fit AS
SELECT crm.bgnbd_fit(frequency, recency, t) AS bg, crm.gamma_gamma_fit(frequency, monetary) AS gg
  FROM regular;

CREATE FUNCTION pg_temp.within(est float8, truth float8, tol float8) RETURNS boolean LANGUAGE sql
AS $$ SELECT abs(est / truth - 1) <= tol $$;

SELECT ok((f.bg).converged AND (f.gg).converged, 'both fits converge') FROM fit f;
SELECT ok(pg_temp.within((f.bg).r, t.r, 0.15), format('BG/NBD r %s recovers %s', round((f.bg).r::numeric, 4), t.r)) FROM fit f, truth t;
SELECT ok(pg_temp.within((f.bg).alpha, t.alpha, 0.15), format('BG/NBD alpha %s recovers %s', round((f.bg).alpha::numeric, 3), t.alpha)) FROM fit f, truth t;
SELECT ok(pg_temp.within((f.bg).a, t.a, 0.35), format('BG/NBD a %s recovers %s', round((f.bg).a::numeric, 4), t.a)) FROM fit f, truth t;
SELECT ok(pg_temp.within((f.bg).b, t.b, 0.35), format('BG/NBD b %s recovers %s', round((f.bg).b::numeric, 4), t.b)) FROM fit f, truth t;
SELECT ok(pg_temp.within((f.bg).a / ((f.bg).a + (f.bg).b), t.a / (t.a + t.b), 0.10),
		  format('BG/NBD mean drop-out probability %s recovers %s',
				 round(((f.bg).a / ((f.bg).a + (f.bg).b))::numeric, 4), round((t.a / (t.a + t.b))::numeric, 4)))
  FROM fit f, truth t;
SELECT ok(pg_temp.within((f.gg).p, t.p, 0.15), format('Gamma-Gamma p %s recovers %s', round((f.gg).p::numeric, 4), t.p)) FROM fit f, truth t;
SELECT ok(pg_temp.within((f.gg).q, t.q, 0.15), format('Gamma-Gamma q %s recovers %s', round((f.gg).q::numeric, 4), t.q)) FROM fit f, truth t;
SELECT ok(pg_temp.within((f.gg).v, t.v, 0.15), format('Gamma-Gamma v %s recovers %s', round((f.gg).v::numeric, 3), t.v)) FROM fit f, truth t;
SELECT ok(pg_temp.within((f.gg).p * (f.gg).v / ((f.gg).q - 1), t.p * t.v / (t.q - 1), 0.05),
		  format('mean spend per order %s recovers %s',
				 round(((f.gg).p * (f.gg).v / ((f.gg).q - 1))::numeric, 2), round((t.p * t.v / (t.q - 1))::numeric, 2)))
  FROM fit f, truth t;
-- P(alive) against the truth: summed, it counts the clients still active
SELECT ok(abs(sum(crm.bgnbd_p_alive(f.bg, r.frequency, r.recency, r.t))
			  / count(*) FILTER (WHERE NOT r.dropped_out) - 1) < 0.05,
		  'the sum of P(alive) over regular clients is the number still active, within 5 %')
  FROM regular r, fit f;

SELECT * FROM finish();
ROLLBACK;
