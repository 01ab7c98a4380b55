--
-- edges_clv: the CLV functions (the three fits, their state type, the
-- per-client log-likelihoods and predictions, discounted CLV, the reports
-- over crm.orders, the retention formula) on NULL, empty, negative, zero,
-- huge, NaN and infinite input, row by row as docs/inputs.md tabulates
-- them.  Everything runs in one transaction that is rolled back.
--
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\i sql/include/edges.sql
BEGIN;
SELECT pg_temp.empty_crm();

-- models with the CDNOW parameters of the papers (time unit: weeks)
CREATE TEMP TABLE m AS
	SELECT ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS bg,
		   ROW(0.553, 10.578, 0.606, 11.669, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model AS pn,
		   ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model AS gg;

-- the fits: crm.bgnbd_fit, crm.pareto_nbd_fit (frequency, recency, t
-- [, penalty]) and crm.gamma_gamma_fit (frequency, monetary [, penalty])
CREATE TEMP TABLE s (f float8, r float8, t float8, mo float8);
INSERT INTO s VALUES (0, 0, 40, 0), (2, 5, 40, 20), (9, 38, 40, 31), (1, 3, 38, 12), (0, 0, 30, 0),
	(3, 10, 39, 25), (0, 0, 35, 0), (0, 0, 36, 0), (0, 0, 20, 0), (12, 39, 39, 9), (0, 0, 39, 0), (1, 30, 39, 40);
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('bgnbd: fit', $$SELECT (m).converged FROM (SELECT crm.bgnbd_fit(f, r, t) AS m FROM s) x$$),
	('bgnbd: null rows skipped', $$SELECT (crm.bgnbd_fit(f, r, t)).n FROM (SELECT * FROM s UNION ALL SELECT NULL, 1, 2, NULL) x$$),
	('bgnbd: null penalty', $$SELECT crm.bgnbd_fit(f, r, t, NULL) FROM s$$),
	('bgnbd: empty', $$SELECT crm.bgnbd_fit(f, r, t) FROM s WHERE false$$),
	('bgnbd: negative frequency', $$SELECT crm.bgnbd_fit(f - 1, r, t) FROM s$$),
	('bgnbd: negative penalty', $$SELECT crm.bgnbd_fit(f, r, t, -1) FROM s$$),
	('bgnbd: recency beyond t', $$SELECT crm.bgnbd_fit(f, r + 10, t) FROM s$$),
	('bgnbd: fractional frequency', $$SELECT crm.bgnbd_fit(f + 0.5, r, t) FROM s$$),
	('bgnbd: zero summaries only', $$SELECT crm.bgnbd_fit(0, 0, 0) FROM s$$),
	('bgnbd: huge frequency', $$SELECT crm.bgnbd_fit(f * 1e300, r, t) FROM s$$),
	('bgnbd: huge times', $$SELECT (m).converged FROM (SELECT crm.bgnbd_fit(f, r * 1e300, t * 1e300) AS m FROM s) x$$),
	('bgnbd: times near the float8 limit', $$SELECT crm.bgnbd_fit(f, r * 4.4e306, t * 4.4e306) FROM s$$),
	('bgnbd: huge penalty', $$SELECT (m).converged FROM (SELECT crm.bgnbd_fit(f, r, t, 1e300) AS m FROM s) x$$),
	('bgnbd: penalty differs between rows', $$SELECT crm.bgnbd_fit(f, r, t, f) FROM s$$),
	('bgnbd: NaN', $$SELECT crm.bgnbd_fit(f, 'NaN', t) FROM s$$),
	('bgnbd: Infinity', $$SELECT crm.bgnbd_fit(f, r, 'Infinity') FROM s$$),
	('bgnbd: Infinity penalty', $$SELECT crm.bgnbd_fit(f, r, t, 'Infinity') FROM s$$),
	('pareto: fit', $$SELECT (m).converged FROM (SELECT crm.pareto_nbd_fit(f, r, t) AS m FROM s) x$$),
	('pareto: null rows skipped', $$SELECT (crm.pareto_nbd_fit(f, r, t)).n FROM (SELECT * FROM s UNION ALL SELECT 1, NULL, 2, NULL) x$$),
	('pareto: null penalty', $$SELECT crm.pareto_nbd_fit(f, r, t, NULL) FROM s$$),
	('pareto: empty', $$SELECT crm.pareto_nbd_fit(f, r, t) FROM s WHERE false$$),
	('pareto: negative recency', $$SELECT crm.pareto_nbd_fit(f, -r - 1, t) FROM s$$),
	('pareto: zero summaries only', $$SELECT crm.pareto_nbd_fit(0, 0, 0) FROM s$$),
	('pareto: huge times', $$SELECT (m).converged FROM (SELECT crm.pareto_nbd_fit(f, r * 1e300, t * 1e300) AS m FROM s) x$$),
	('pareto: times near the float8 limit', $$SELECT crm.pareto_nbd_fit(f, r * 4e306, t * 4e306) FROM s$$),
	('pareto: NaN', $$SELECT crm.pareto_nbd_fit('NaN', r, t) FROM s$$),
	('pareto: -Infinity penalty', $$SELECT crm.pareto_nbd_fit(f, r, t, '-Infinity') FROM s$$),
	('gamma: fit', $$SELECT (m).n FROM (SELECT crm.gamma_gamma_fit(f, mo) AS m FROM s) x$$),
	('gamma: null monetary skipped', $$SELECT (crm.gamma_gamma_fit(f, CASE WHEN f = 1 THEN NULL ELSE mo END)).n FROM s$$),
	('gamma: null penalty', $$SELECT crm.gamma_gamma_fit(f, mo, NULL) FROM s$$),
	('gamma: empty', $$SELECT crm.gamma_gamma_fit(f, mo) FROM s WHERE false$$),
	('gamma: negative monetary', $$SELECT crm.gamma_gamma_fit(f, -mo) FROM s WHERE f > 0$$),
	('gamma: zero monetary of a repeat buyer', $$SELECT crm.gamma_gamma_fit(f, 0) FROM s WHERE f > 0$$),
	('gamma: no repeat buyer', $$SELECT crm.gamma_gamma_fit(f, mo) FROM s WHERE f = 0$$),
	('gamma: one spend for all', $$SELECT crm.gamma_gamma_fit(f, 7) FROM s WHERE f > 0$$),
	('gamma: huge monetary', $$SELECT (m).n FROM (SELECT crm.gamma_gamma_fit(f, mo * 1e300) AS m FROM s) x$$),
	('gamma: monetary near the float8 limit', $$SELECT crm.gamma_gamma_fit(f, mo * 1e306) FROM s$$),
	('gamma: huge and tiny monetary', $$SELECT crm.gamma_gamma_fit(f, CASE WHEN f = 1 THEN 1e-300 ELSE 1e300 END) FROM s WHERE f > 0$$),
	('gamma: NaN monetary', $$SELECT crm.gamma_gamma_fit(f, 'NaN') FROM s WHERE f > 0$$),
	('gamma: Infinity monetary', $$SELECT crm.gamma_gamma_fit(f, 'Infinity') FROM s WHERE f > 0$$)
) AS t(cell, q);

-- the crm.clv_fit_state type's input (the state of the three fits)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('a state', $$SELECT (SELECT crm.clv_bgnbd_trans(NULL, 2, 30, 40))::text$$),
	('round trip', $$SELECT 'bgnbd;0;2,30,40,1'::crm.clv_fit_state::text$$),
	('null', $$SELECT NULL::crm.clv_fit_state$$),
	('empty', $$SELECT ''::crm.clv_fit_state$$),
	('garbage', $$SELECT 'x'::crm.clv_fit_state$$),
	('unknown kind', $$SELECT 'nbd;0;2,30,40,1'::crm.clv_fit_state$$),
	('negative penalty', $$SELECT 'bgnbd;-1;2,30,40,1'::crm.clv_fit_state$$),
	('NaN penalty', $$SELECT 'bgnbd;NaN;2,30,40,1'::crm.clv_fit_state$$),
	('negative frequency', $$SELECT 'bgnbd;0;-2,30,40,1'::crm.clv_fit_state$$),
	('zero count', $$SELECT 'bgnbd;0;2,30,40,0'::crm.clv_fit_state$$),
	('recency beyond t', $$SELECT 'bgnbd;0;2,50,40,1'::crm.clv_fit_state$$),
	('huge frequency', $$SELECT 'bgnbd;0;1e300,30,40,1'::crm.clv_fit_state$$),
	('Infinity t', $$SELECT 'bgnbd;0;2,30,Infinity,1'::crm.clv_fit_state$$)
) AS t(cell, q);

-- the log-likelihoods: crm.bgnbd_loglik, crm.pareto_nbd_loglik (model,
-- frequency, recency, t), crm.gamma_gamma_loglik (model, frequency, monetary)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('bgnbd', $$SELECT round(crm.bgnbd_loglik(bg, 2, 30, 40)::numeric, 6) FROM m$$),
	('bgnbd: null model', $$SELECT crm.bgnbd_loglik(NULL, 2, 30, 40)$$),
	('bgnbd: null summary', $$SELECT crm.bgnbd_loglik(bg, NULL, 30, 40) FROM m$$),
	('bgnbd: model with a null parameter', $$SELECT crm.bgnbd_loglik(ROW(NULL, 4.4, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 2, 30, 40)$$),
	('bgnbd: negative frequency', $$SELECT crm.bgnbd_loglik(bg, -2, 30, 40) FROM m$$),
	('bgnbd: negative parameter', $$SELECT crm.bgnbd_loglik(ROW(-0.2, 4.4, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 2, 30, 40)$$),
	('bgnbd: zero summary', $$SELECT crm.bgnbd_loglik(bg, 0, 0, 0) FROM m$$),
	('bgnbd: zero parameter', $$SELECT crm.bgnbd_loglik(ROW(0.2, 0, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 2, 30, 40)$$),
	('bgnbd: huge frequency', $$SELECT crm.bgnbd_loglik(bg, 1e10, 30, 40) FROM m$$),
	('bgnbd: huge times', $$SELECT round(crm.bgnbd_loglik(bg, 2, 1e300, 1e300)::numeric, 6) FROM m$$),
	('bgnbd: huge parameters', $$SELECT crm.bgnbd_loglik(ROW(1e308, 1e308, 1e308, 1e308, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 2, 30, 1e308)$$),
	('bgnbd: NaN recency', $$SELECT crm.bgnbd_loglik(bg, 2, 'NaN', 40) FROM m$$),
	('bgnbd: Infinity parameter', $$SELECT crm.bgnbd_loglik(ROW('Infinity', 4.4, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 2, 30, 40)$$),
	('pareto', $$SELECT round(crm.pareto_nbd_loglik(pn, 2, 30, 40)::numeric, 6) FROM m$$),
	('pareto: null', $$SELECT crm.pareto_nbd_loglik(pn, 2, NULL, 40) FROM m$$),
	('pareto: negative t', $$SELECT crm.pareto_nbd_loglik(pn, 2, 30, -40) FROM m$$),
	('pareto: zero summary', $$SELECT crm.pareto_nbd_loglik(pn, 0, 0, 0) FROM m$$),
	('pareto: huge parameters', $$SELECT crm.pareto_nbd_loglik(ROW(1e308, 1e308, 1e308, 1e308, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model, 2, 30, 1e308)$$),
	('pareto: NaN parameter', $$SELECT crm.pareto_nbd_loglik(ROW(0.5, 'NaN', 0.6, 11, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model, 2, 30, 40)$$),
	('gamma', $$SELECT round(crm.gamma_gamma_loglik(gg, 2, 30)::numeric, 6) FROM m$$),
	('gamma: null', $$SELECT crm.gamma_gamma_loglik(gg, 2, NULL) FROM m$$),
	('gamma: negative monetary', $$SELECT crm.gamma_gamma_loglik(gg, 2, -30) FROM m$$),
	('gamma: zero frequency', $$SELECT crm.gamma_gamma_loglik(gg, 0, 30) FROM m$$),
	('gamma: huge parameters', $$SELECT crm.gamma_gamma_loglik(ROW(1e308, 1e308, 1e308, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model, 2, 30)$$),
	('gamma: Infinity monetary', $$SELECT crm.gamma_gamma_loglik(gg, 2, 'Infinity') FROM m$$)
) AS t(cell, q);

-- P(alive): crm.bgnbd_p_alive, crm.pareto_nbd_p_alive (model, frequency, recency, t)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('bgnbd', $$SELECT round(crm.bgnbd_p_alive(bg, 2, 30, 40)::numeric, 6) FROM m$$),
	('bgnbd: null', $$SELECT crm.bgnbd_p_alive(bg, 2, 30, NULL) FROM m$$),
	('bgnbd: negative recency', $$SELECT crm.bgnbd_p_alive(bg, 2, -1, 40) FROM m$$),
	('bgnbd: recency beyond t', $$SELECT crm.bgnbd_p_alive(bg, 2, 50, 40) FROM m$$),
	('bgnbd: zero frequency', $$SELECT crm.bgnbd_p_alive(bg, 0, 0, 40) FROM m$$),
	('bgnbd: huge frequency', $$SELECT crm.bgnbd_p_alive(bg, 1e300, 30, 40) FROM m$$),
	('bgnbd: huge recency and t', $$SELECT round(crm.bgnbd_p_alive(bg, 2, 1e300, 1e300)::numeric, 6) FROM m$$),
	('bgnbd: huge r', $$SELECT crm.bgnbd_p_alive(ROW(1e308, 1, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 2, 30, 40)$$),
	('bgnbd: NaN frequency', $$SELECT crm.bgnbd_p_alive(bg, 'NaN', 30, 40) FROM m$$),
	('bgnbd: Infinity t', $$SELECT crm.bgnbd_p_alive(bg, 2, 30, 'Infinity') FROM m$$),
	('pareto', $$SELECT round(crm.pareto_nbd_p_alive(pn, 2, 30, 40)::numeric, 6) FROM m$$),
	('pareto: null model', $$SELECT crm.pareto_nbd_p_alive(NULL, 2, 30, 40)$$),
	('pareto: negative parameter', $$SELECT crm.pareto_nbd_p_alive(ROW(0.5, 10, -0.6, 11, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model, 2, 30, 40)$$),
	('pareto: zero summary', $$SELECT crm.pareto_nbd_p_alive(pn, 0, 0, 0) FROM m$$),
	('pareto: huge recency and t', $$SELECT crm.pareto_nbd_p_alive(pn, 2, 1e300, 1e300) FROM m$$),
	('pareto: huge parameter', $$SELECT crm.pareto_nbd_p_alive(ROW(0.5, 10, 0.6, 1e300, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model, 2, 30, 40)$$),
	('pareto: -Infinity recency', $$SELECT crm.pareto_nbd_p_alive(pn, 2, '-Infinity', 40) FROM m$$)
) AS t(cell, q);

-- expected purchases: crm.bgnbd_expected_purchases, crm.pareto_nbd_expected_purchases
-- (model, horizon [, frequency, recency, t])
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('bgnbd, new client', $$SELECT round(crm.bgnbd_expected_purchases(bg, 10)::numeric, 6) FROM m$$),
	('bgnbd, a client', $$SELECT round(crm.bgnbd_expected_purchases(bg, 10, 2, 30, 40)::numeric, 6) FROM m$$),
	('bgnbd: null horizon', $$SELECT crm.bgnbd_expected_purchases(bg, NULL) FROM m$$),
	('bgnbd: negative horizon', $$SELECT crm.bgnbd_expected_purchases(bg, -1) FROM m$$),
	('bgnbd: zero horizon', $$SELECT crm.bgnbd_expected_purchases(bg, 0) FROM m$$),
	('bgnbd: zero summary', $$SELECT round(crm.bgnbd_expected_purchases(bg, 10, 0, 0, 0)::numeric, 6) FROM m$$),
	('bgnbd: huge horizon', $$SELECT crm.bgnbd_expected_purchases(bg, 1e300) > 1e60 FROM m$$),
	('bgnbd: huge frequency', $$SELECT crm.bgnbd_expected_purchases(bg, 10, 1e300, 30, 40) FROM m$$),
	('bgnbd: huge r, tiny alpha', $$SELECT crm.bgnbd_expected_purchases(ROW(1e300, 1e-300, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 10)$$),
	('bgnbd: NaN horizon', $$SELECT crm.bgnbd_expected_purchases(bg, 'NaN') FROM m$$),
	('bgnbd: Infinity horizon', $$SELECT crm.bgnbd_expected_purchases(bg, 'Infinity', 2, 30, 40) FROM m$$),
	('pareto, new client', $$SELECT round(crm.pareto_nbd_expected_purchases(pn, 10)::numeric, 6) FROM m$$),
	('pareto, a client', $$SELECT round(crm.pareto_nbd_expected_purchases(pn, 10, 2, 30, 40)::numeric, 6) FROM m$$),
	('pareto: null', $$SELECT crm.pareto_nbd_expected_purchases(pn, 10, 2, NULL, 40) FROM m$$),
	('pareto: negative frequency', $$SELECT crm.pareto_nbd_expected_purchases(pn, 10, -2, 30, 40) FROM m$$),
	('pareto: zero horizon', $$SELECT crm.pareto_nbd_expected_purchases(pn, 0, 2, 30, 40) FROM m$$),
	('pareto: huge horizon', $$SELECT crm.pareto_nbd_expected_purchases(pn, 1e300) > 1e100 FROM m$$),
	('pareto: huge r, tiny alpha', $$SELECT crm.pareto_nbd_expected_purchases(ROW(1e300, 1e-300, 0.6, 11, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model, 10)$$),
	('pareto: NaN t', $$SELECT crm.pareto_nbd_expected_purchases(pn, 10, 2, 30, 'NaN') FROM m$$)
) AS t(cell, q);

-- crm.gamma_gamma_expected_spend(model, frequency, monetary)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('spend', $$SELECT round(crm.gamma_gamma_expected_spend(gg, 2, 30)::numeric, 6) FROM m$$),
	('null', $$SELECT crm.gamma_gamma_expected_spend(gg, NULL, 30) FROM m$$),
	('negative frequency', $$SELECT crm.gamma_gamma_expected_spend(gg, -1, 30) FROM m$$),
	('negative monetary', $$SELECT crm.gamma_gamma_expected_spend(gg, 2, -30) FROM m$$),
	('zero frequency: the population mean', $$SELECT round(crm.gamma_gamma_expected_spend(gg, 0, 0)::numeric, 6) FROM m$$),
	('zero monetary of a repeat buyer', $$SELECT crm.gamma_gamma_expected_spend(gg, 2, 0) FROM m$$),
	('q below 1, frequency 0', $$SELECT crm.gamma_gamma_expected_spend(ROW(6.25, 0.5, 15.44, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model, 0, 0)$$),
	('huge monetary', $$SELECT crm.gamma_gamma_expected_spend(gg, 2, 1e300) > 1e299 FROM m$$),
	('monetary near the float8 limit', $$SELECT crm.gamma_gamma_expected_spend(gg, 2, 1e308) FROM m$$),
	('huge v', $$SELECT crm.gamma_gamma_expected_spend(ROW(6.25, 3.74, 1e308, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model, 0, 0)$$),
	('NaN monetary', $$SELECT crm.gamma_gamma_expected_spend(gg, 2, 'NaN') FROM m$$),
	('Infinity monetary', $$SELECT crm.gamma_gamma_expected_spend(gg, 2, 'Infinity') FROM m$$)
) AS t(cell, q);

-- crm.clv(transaction model, spend model, frequency, recency, t, monetary,
-- horizon, discount_rate, period), both transaction models
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('bgnbd', $$SELECT round(crm.clv(bg, gg, 2, 30, 40, 20, 52, 0.01)::numeric, 6) FROM m$$),
	('pareto', $$SELECT round(crm.clv(pn, gg, 2, 30, 40, 20, 52, 0.01)::numeric, 6) FROM m$$),
	('null', $$SELECT crm.clv(bg, gg, 2, 30, 40, 20, 52, NULL) FROM m$$),
	('null spend model', $$SELECT crm.clv(bg, NULL, 2, 30, 40, 20, 52, 0) FROM m$$),
	('negative horizon', $$SELECT crm.clv(bg, gg, 2, 30, 40, 20, -1, 0) FROM m$$),
	('negative discount rate', $$SELECT crm.clv(bg, gg, 2, 30, 40, 20, 52, -0.01) FROM m$$),
	('negative period', $$SELECT crm.clv(pn, gg, 2, 30, 40, 20, 52, 0, -1) FROM m$$),
	('negative monetary', $$SELECT crm.clv(pn, gg, 2, 30, 40, -20, 52, 0) FROM m$$),
	('zero horizon', $$SELECT crm.clv(bg, gg, 2, 30, 40, 20, 0, 0) FROM m$$),
	('zero period', $$SELECT crm.clv(bg, gg, 2, 30, 40, 20, 52, 0, 0) FROM m$$),
	('zero frequency and monetary', $$SELECT round(crm.clv(bg, gg, 0, 0, 40, 0, 52, 0)::numeric, 6) FROM m$$),
	('huge horizon', $$SELECT crm.clv(bg, gg, 2, 30, 40, 20, 1e300, 0) FROM m$$),
	('tiny period', $$SELECT crm.clv(pn, gg, 2, 30, 40, 20, 52, 0, 1e-300) FROM m$$),
	('huge discount rate', $$SELECT crm.clv(bg, gg, 2, 30, 40, 20, 52, 1e300) < 1e-290 FROM m$$),
	('monetary near the float8 limit', $$SELECT crm.clv(bg, gg, 2, 30, 40, 1e308, 52, 0) FROM m$$),
	('huge r, tiny alpha', $$SELECT crm.clv(ROW(1e300, 1e-300, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, gg, 2, 30, 40, 20, 10, 0) FROM m$$),
	('NaN discount rate', $$SELECT crm.clv(bg, gg, 2, 30, 40, 20, 52, 'NaN') FROM m$$),
	('Infinity horizon', $$SELECT crm.clv(pn, gg, 2, 30, 40, 20, 'Infinity', 0) FROM m$$),
	('NaN monetary', $$SELECT crm.clv(pn, gg, 2, 30, 40, 'NaN', 52, 0) FROM m$$)
) AS t(cell, q);

-- crm.retention_clv(margin, retention_rate, discount_rate, periods)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('forever', $$SELECT crm.retention_clv(10, 0.5)$$),
	('three periods', $$SELECT crm.retention_clv(10, 0.5, 0, 3)$$),
	('null margin', $$SELECT crm.retention_clv(NULL, 0.5)$$),
	('null retention', $$SELECT crm.retention_clv(10, NULL)$$),
	('null discount', $$SELECT crm.retention_clv(10, 0.5, NULL)$$),
	('null periods: forever', $$SELECT crm.retention_clv(10, 0.5, 0, NULL)$$),
	('negative margin', $$SELECT crm.retention_clv(-10, 0.5)$$),
	('negative retention', $$SELECT crm.retention_clv(10, -0.1)$$),
	('negative discount', $$SELECT crm.retention_clv(10, 0.5, -0.1)$$),
	('negative periods', $$SELECT crm.retention_clv(10, 0.5, 0, -1)$$),
	('zero margin', $$SELECT crm.retention_clv(0, 0.5)$$),
	('zero retention', $$SELECT crm.retention_clv(10, 0)$$),
	('zero periods', $$SELECT crm.retention_clv(10, 0.5, 0, 0)$$),
	('retention 1', $$SELECT crm.retention_clv(10, 1)$$),
	('huge margin', $$SELECT crm.retention_clv(1e308, 0.9)$$),
	('huge periods', $$SELECT crm.retention_clv(10, 0.5, 0, 2147483647)$$),
	('huge periods, retention near 1', $$SELECT round(crm.retention_clv(10, 0.999999, 0, 2147483647)::numeric, 3)$$),
	('huge discount', $$SELECT crm.retention_clv(10, 0.5, 1e300, 3)$$),
	('NaN margin', $$SELECT crm.retention_clv('NaN', 0.5)$$),
	('Infinity margin', $$SELECT crm.retention_clv('Infinity', 0.5)$$),
	('-Infinity margin', $$SELECT crm.retention_clv('-Infinity', 0.5)$$),
	('NaN retention', $$SELECT crm.retention_clv(10, 'NaN')$$),
	('Infinity discount', $$SELECT crm.retention_clv(10, 0.5, 'Infinity')$$)
) AS t(cell, q);

-- crm.clv_unit_days(unit)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('week', $$SELECT crm.clv_unit_days('week')$$),
	('null', $$SELECT crm.clv_unit_days(NULL)$$),
	('empty', $$SELECT crm.clv_unit_days('')$$),
	('capitals', $$SELECT crm.clv_unit_days('Week')$$)
) AS t(cell, q);

-- the reports over crm.orders, first on empty tables
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('clv_summary: empty', $$SELECT count(*) FROM crm.clv_summary('2025-01-01')$$),
	('clv_report: empty', $$SELECT count(*) FROM crm.clv_report('2025-01-01', 52)$$),
	('ltv_cac: empty', $$SELECT count(*) FROM crm.ltv_cac('2025-01-01', 52)$$)
) AS t(cell, q);

-- eight clients, six of them repeat buyers with different spend; one
-- acquired in a store at no cost, one never buying
INSERT INTO crm.clients (client_id, first_name, acquisition_channel, acquisition_cost, created_at, updated_at)
SELECT id, name, channel, cost, '2023-01-01', '2023-01-01'
  FROM (VALUES (1, 'Ann', 'email', 10), (2, 'Bob', 'email', 10), (3, 'Cy', 'email', 10),
			   (4, 'Di', 'email', 10), (5, 'Ed', 'email', 10), (6, 'Flo', 'store', 0),
			   (7, 'Gus', 'email', 10), (8, 'Hal', 'email', 10), (9, 'Ida', 'email', 10)) v(id, name, channel, cost);
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, cost_amount) VALUES
	(1, '2024-01-01', 'web', 'paid', 100, 100, 40), (1, '2024-02-01', 'web', 'paid', 50, 50, 20),
	(1, '2024-03-01', 'web', 'paid', 70, 70, 30), (2, '2024-01-15', 'web', 'paid', 10, 10, 5),
	(2, '2024-05-15', 'web', 'paid', 30, 30, 5), (3, '2024-02-01', 'web', 'paid', 20, 20, 5),
	(3, '2024-02-20', 'web', 'paid', 25, 25, 5), (3, '2024-08-20', 'web', 'paid', 90, 90, 5),
	(4, '2024-04-01', 'web', 'paid', 15, 15, 5), (5, '2024-01-05', 'web', 'paid', 40, 40, 5),
	(5, '2024-11-20', 'web', 'paid', 45, 45, 5), (6, '2024-06-01', 'store', 'paid', 12, 12, 5),
	(7, '2024-01-10', 'web', 'paid', 30, 30, 5), (7, '2024-01-24', 'web', 'paid', 35, 35, 5),
	(7, '2024-02-07', 'web', 'paid', 28, 28, 5), (7, '2024-02-21', 'web', 'paid', 33, 33, 5),
	(7, '2024-12-20', 'web', 'paid', 31, 31, 5), (8, '2024-09-09', 'web', 'paid', 60, 60, 5),
	(8, '2024-09-30', 'web', 'paid', 20, 20, 5);

-- crm.clv_summary(as_of, unit, time_zone)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('summaries', $$SELECT string_agg(format('%s %s %s %s %s', client_id, frequency, recency, t, monetary), '; ' ORDER BY client_id) FROM crm.clv_summary('2025-01-01')$$),
	('null as_of', $$SELECT count(*) FROM crm.clv_summary(NULL)$$),
	('null unit', $$SELECT count(*) FROM crm.clv_summary('2025-01-01', NULL)$$),
	('null time zone', $$SELECT count(*) FROM crm.clv_summary('2025-01-01', 'day', NULL)$$),
	('empty unit', $$SELECT count(*) FROM crm.clv_summary('2025-01-01', '')$$),
	('empty time zone', $$SELECT count(*) FROM crm.clv_summary('2025-01-01', 'day', '')$$),
	('unknown time zone', $$SELECT count(*) FROM crm.clv_summary('2025-01-01', 'day', 'Mars/Base')$$),
	('as_of before every purchase', $$SELECT count(*) FROM crm.clv_summary('2023-01-01')$$),
	('huge: 294276 AD', $$SELECT string_agg(t::text, ',' ORDER BY client_id) FROM crm.clv_summary('294276-12-31', 'year')$$),
	('infinity', $$SELECT count(*) FROM crm.clv_summary('infinity')$$),
	('-infinity', $$SELECT count(*) FROM crm.clv_summary('-infinity')$$)
) AS t(cell, q);

-- crm.clv_report(as_of, horizon, unit, discount_rate, period, penalty,
-- time_zone, transactions, spend)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('fitted here', $$SELECT count(clv) FROM crm.clv_report('2025-01-01', 52, 'week')$$),
	('fitted here, with a penalty', $$SELECT count(clv) FROM crm.clv_report('2025-01-01', 52, 'week', penalty => 0.1)$$),
	('a fit that did not converge: a, b near 1e11', $$SELECT count(*) FROM m, crm.clv_report('2025-01-01', 52, transactions => ROW(2.006, 35.27, 9.41e10, 9.50e10, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, spend => gg)$$),
	('models given', $$SELECT string_agg(format('%s %s', client_id, round(clv::numeric, 2)), '; ' ORDER BY client_id) FROM m, crm.clv_report('2025-01-01', 52, 'week', transactions => bg, spend => gg)$$),
	('null as_of', $$SELECT count(*) FROM crm.clv_report(NULL, 52)$$),
	('null horizon', $$SELECT count(*) FROM crm.clv_report('2025-01-01', NULL)$$),
	('null time zone', $$SELECT count(*) FROM crm.clv_report('2025-01-01', 52, time_zone => NULL)$$),
	('negative horizon', $$SELECT count(*) FROM m, crm.clv_report('2025-01-01', -1, transactions => bg, spend => gg)$$),
	('negative discount rate', $$SELECT count(*) FROM m, crm.clv_report('2025-01-01', 52, discount_rate => -0.1, transactions => bg, spend => gg)$$),
	('negative penalty', $$SELECT count(*) FROM crm.clv_report('2025-01-01', 52, penalty => -1)$$),
	('zero horizon', $$SELECT sum(clv) FROM m, crm.clv_report('2025-01-01', 0, transactions => bg, spend => gg)$$),
	('zero period', $$SELECT count(*) FROM m, crm.clv_report('2025-01-01', 52, period => 0, transactions => bg, spend => gg)$$),
	('huge horizon', $$SELECT count(*) FROM m, crm.clv_report('2025-01-01', 1e300, transactions => bg, spend => gg)$$),
	('NaN horizon', $$SELECT count(*) FROM m, crm.clv_report('2025-01-01', 'NaN', transactions => bg, spend => gg)$$),
	('as_of infinity', $$SELECT count(*) FROM m, crm.clv_report('infinity', 52, transactions => bg, spend => gg)$$),
	('a model with a NaN parameter', $$SELECT count(*) FROM crm.clv_report('2025-01-01', 52, transactions => ROW('NaN', 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model)$$)
) AS t(cell, q);

-- crm.ltv_cac(as_of, horizon, unit, discount_rate, period, margin_rate, penalty, time_zone)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('channels', $$SELECT string_agg(format('%s %s %s %s', acquisition_channel, clients, buyers, ltv_cac_ratio IS NOT NULL), '; ' ORDER BY acquisition_channel) FROM crm.ltv_cac('2025-01-01', 52, 'week')$$),
	('null as_of', $$SELECT count(*) FROM crm.ltv_cac(NULL, 52)$$),
	('null horizon', $$SELECT count(*) FROM crm.ltv_cac('2025-01-01', NULL)$$),
	('null margin rate: the historical one', $$SELECT count(*) FROM crm.ltv_cac('2025-01-01', 52, 'week', margin_rate => NULL)$$),
	('negative margin rate', $$SELECT count(*) FROM crm.ltv_cac('2025-01-01', 52, 'week', margin_rate => -1)$$),
	('margin rate below -1', $$SELECT count(*) FROM crm.ltv_cac('2025-01-01', 52, 'week', margin_rate => -2)$$),
	('negative horizon', $$SELECT count(*) FROM crm.ltv_cac('2025-01-01', -52, 'week')$$),
	('zero acquisition cost: no ratio', $$SELECT ltv_cac_ratio FROM crm.ltv_cac('2025-01-01', 52, 'week', margin_rate => 0) WHERE acquisition_channel = 'store'$$),
	('huge margin rate', $$SELECT count(*) FROM crm.ltv_cac('2025-01-01', 52, 'week', margin_rate => 1e300)$$),
	('NaN margin rate', $$SELECT count(*) FROM crm.ltv_cac('2025-01-01', 52, 'week', margin_rate => 'NaN')$$),
	('as_of infinity', $$SELECT count(*) FROM crm.ltv_cac('infinity', 52)$$)
) AS t(cell, q);


-- crm.bgnbd_probability_of_purchases and crm.pareto_nbd_probability_of_purchases
-- (model, n, horizon, frequency, recency, t)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('bgnbd', $$SELECT round(crm.bgnbd_probability_of_purchases(bg, 1, 39, 2, 30, 40)::numeric, 6) FROM m$$),
	('pareto', $$SELECT round(crm.pareto_nbd_probability_of_purchases(pn, 1, 39, 2, 30, 40)::numeric, 6) FROM m$$),
	('null n', $$SELECT crm.bgnbd_probability_of_purchases(bg, NULL, 39, 2, 30, 40) FROM m$$),
	('negative n', $$SELECT crm.bgnbd_probability_of_purchases(bg, -1, 39, 2, 30, 40) FROM m$$),
	('negative horizon', $$SELECT crm.pareto_nbd_probability_of_purchases(pn, 1, -1, 2, 30, 40) FROM m$$),
	('zero horizon, n 0 and 1', $$SELECT crm.bgnbd_probability_of_purchases(bg, 0, 0, 2, 30, 40) || ' ' || crm.pareto_nbd_probability_of_purchases(pn, 1, 0, 2, 30, 40) FROM m$$),
	('zero summary: a new client', $$SELECT round(crm.bgnbd_probability_of_purchases(bg, 0, 39, 0, 0, 0)::numeric, 6) FROM m$$),
	('huge n', $$SELECT crm.bgnbd_probability_of_purchases(bg, 2147483647, 39, 2, 30, 40) || ' ' || crm.pareto_nbd_probability_of_purchases(pn, 2147483647, 39, 2, 30, 40) FROM m$$),
	('huge horizon, n 0', $$SELECT round(crm.bgnbd_probability_of_purchases(bg, 0, 1e300, 2, 30, 40)::numeric, 6) || ' ' || round(crm.pareto_nbd_probability_of_purchases(pn, 0, 1e300, 2, 30, 40)::numeric, 6) FROM m$$),
	('huge frequency', $$SELECT crm.pareto_nbd_probability_of_purchases(pn, 1, 39, 1e300, 30, 40) FROM m$$),
	('NaN horizon', $$SELECT crm.bgnbd_probability_of_purchases(bg, 1, 'NaN', 2, 30, 40) FROM m$$),
	('Infinity t', $$SELECT crm.pareto_nbd_probability_of_purchases(pn, 1, 39, 2, 30, 'Infinity') FROM m$$)
) AS t(cell, q);

-- the prediction intervals: crm.bgnbd_p_alive_interval, crm.pareto_nbd_p_alive_interval,
-- crm.bgnbd_expected_purchases_interval, crm.pareto_nbd_expected_purchases_interval,
-- crm.bgnbd_probability_of_purchases_interval, crm.pareto_nbd_probability_of_purchases_interval,
-- crm.gamma_gamma_expected_spend_interval, crm.clv_interval (the arguments of the
-- prediction, then level); models with a covariance (the CDNOW estimates' variances)
CREATE TEMP TABLE mc AS
	SELECT ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL,
			   ARRAY[[1.6e-4, 0, 0, 0], [0, 0.143, 0, 0], [0, 0, 0.0345, 0], [0, 0, 0, 0.4975]])::crm.bgnbd_model AS bg,
		   ROW(0.553, 10.578, 0.606, 11.669, NULL, NULL, NULL, NULL, NULL,
			   ARRAY[[2.3e-3, 0, 0, 0], [0, 0.71, 0, 0], [0, 0, 0.035, 0], [0, 0, 0, 38.6]])::crm.pareto_nbd_model AS pn,
		   ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, ARRAY[[1.415, 0, 0], [0, 0.084, 0], [0, 0, 17.3]])::crm.gamma_gamma_model AS gg;
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('bgnbd p_alive', $$SELECT round((i).estimate::numeric, 4) || ' ' || round((i).std_error::numeric, 4) || ' ' || round((i).lower::numeric, 4) || ' ' || round((i).upper::numeric, 4) FROM (SELECT crm.bgnbd_p_alive_interval(bg, 2, 30, 40) AS i FROM mc) x$$),
	('clv', $$SELECT round((i).estimate::numeric, 2) || ' ' || round((i).std_error::numeric, 2) || ' ' || round((i).lower::numeric, 2) || ' ' || round((i).upper::numeric, 2) FROM (SELECT crm.clv_interval(pn, gg, 2, 30, 40, 20, 52, 0.01) AS i FROM mc) x$$),
	('a model without a covariance', $$SELECT (crm.bgnbd_expected_purchases_interval(bg, 39, 2, 30, 40)).std_error IS NULL FROM m$$),
	('null level', $$SELECT crm.pareto_nbd_p_alive_interval(pn, 2, 30, 40, NULL) FROM mc$$),
	('negative level', $$SELECT crm.gamma_gamma_expected_spend_interval(gg, 2, 30, -0.95) FROM mc$$),
	('level 0', $$SELECT crm.bgnbd_p_alive_interval(bg, 2, 30, 40, 0) FROM mc$$),
	('level 1', $$SELECT crm.bgnbd_p_alive_interval(bg, 2, 30, 40, 1) FROM mc$$),
	('level near 1', $$SELECT round((crm.bgnbd_p_alive_interval(bg, 2, 30, 40, 0.999999)).upper::numeric, 4) FROM mc$$),
	('zero frequency: P(alive) 1, no spread', $$SELECT (crm.bgnbd_p_alive_interval(bg, 0, 0, 40)).* FROM mc$$),
	('zero horizon', $$SELECT (crm.bgnbd_expected_purchases_interval(bg, 0, 2, 30, 40)).* FROM mc$$),
	('negative n', $$SELECT crm.pareto_nbd_probability_of_purchases_interval(pn, -1, 39, 2, 30, 40) FROM mc$$),
	('huge horizon', $$SELECT (crm.bgnbd_expected_purchases_interval(bg, 1e300, 2, 30, 40)).estimate > 1e60 FROM mc$$),
	('huge monetary', $$SELECT crm.clv_interval(bg, gg, 2, 30, 40, 1e308, 52, 0) FROM mc$$),
	('a covariance of the wrong shape', $$SELECT crm.bgnbd_p_alive_interval(ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, ARRAY[1, 2]::float8[])::crm.bgnbd_model, 2, 30, 40)$$),
	('a covariance with a NaN', $$SELECT crm.gamma_gamma_expected_spend_interval(ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, ARRAY[[1, 0, 0], [0, 'NaN', 0], [0, 0, 1]]::float8[])::crm.gamma_gamma_model, 2, 30)$$),
	('a negative variance', $$SELECT crm.gamma_gamma_expected_spend_interval(ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, ARRAY[[1, 0, 0], [0, -1, 0], [0, 0, 1]]::float8[])::crm.gamma_gamma_model, 2, 30)$$),
	('NaN level', $$SELECT crm.clv_interval(bg, gg, 2, 30, 40, 20, 52, 0, 1, 'NaN') FROM mc$$),
	('Infinity recency', $$SELECT crm.bgnbd_probability_of_purchases_interval(bg, 1, 39, 2, 'Infinity', 40) FROM mc$$)
) AS t(cell, q);
ROLLBACK;
SELECT pg_temp.sequences_unchanged();

-- MBG/NBD and BG/BB: nulls, empty, negative, zero, huge, NaN
SELECT crm.mbgnbd_fit(x, x, 10) FROM generate_series(1, 0) x;
SELECT crm.bgbb_fit(NULL, 1, 6) IS NULL AS null_row_skipped;
SELECT crm.bgbb_fit(1, 1, 6, NULL);
SELECT crm.bgbb_fit(-1, 1, 6);
SELECT crm.bgbb_fit(1, 'NaN', 6);
SELECT crm.bgbb_p_alive(ROW(1.2, 0.75, 0.66, 2.78, NULL, NULL, NULL, NULL)::crm.bgbb_model, 0, 0, 0) AS zero_summary;
SELECT crm.bgbb_expected_purchases(ROW(1.2, 0.75, 0.66, 2.78, NULL, NULL, NULL, NULL)::crm.bgbb_model, 1e7);
SELECT crm.bgbb_expected_purchases(ROW(1.2, 0.75, 0.66, 2.78, NULL, NULL, NULL, NULL)::crm.bgbb_model, 'Infinity');
SELECT crm.mbgnbd_p_alive(ROW(0.5, 6, 0.9, 1.6, NULL, NULL, NULL, NULL)::crm.mbgnbd_model, 0, 0, 0) AS zero_summary;
SELECT crm.mbgnbd_expected_purchases(ROW(0.5, 6, 0.9, 1.6, NULL, NULL, NULL, NULL)::crm.mbgnbd_model, 0, 2, 30, 38) AS horizon_0;
SELECT crm.mbgnbd_loglik(ROW(0.5, 6, 0.9, 1.6, NULL, NULL, NULL, NULL)::crm.mbgnbd_model, 1e10, 1, 2);
SELECT * FROM crm.clv_calibration_holdout('1997-09-30', NULL);
SELECT * FROM crm.clv_holdout_diagnostics(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL)::crm.mbgnbd_model, '1900-01-01', '1900-02-01', 'day', 'NaN');
SELECT * FROM crm.clv_holdout_diagnostics(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model, '1900-01-01', '1900-02-01', 'day', 1, 1001);
-- BG/NBD with covariates
SELECT crm.bgnbd_cov_fit(x, x, 10, ARRAY[x], '{}') FROM generate_series(1, 0) x;
SELECT crm.bgnbd_cov_fit(1, 1, 2, ARRAY[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]::float8[], '{}');
SELECT crm.bgnbd_cov_fit(1, 1, 2, '{}', '{Infinity}');
SELECT crm.bgnbd_cov_fit(1, 1, 2, '{{1},{2}}', '{}');
SELECT crm.bgnbd_cov_fit(1, 1, 2, '{}', '{}', -1);
SELECT crm.bgnbd_cov_client(ROW(0.5, 6, 0.8, 3, '{1}', '{}', NULL, NULL, NULL, NULL), '{1e308}', '{}');
SELECT crm.bgnbd_cov_client(ROW(0.5, 6, 0.8, 3, '{1}', '{}', NULL, NULL, NULL, NULL), '{-1e308}', '{}');
SELECT crm.bgnbd_cov_client(ROW(0.5, 6, 0.8, 3, NULL, '{}', NULL, NULL, NULL, NULL), '{}', '{}');
-- the _or_null forms of the newer fits: no rows, NULL; a NULL penalty, an error
SELECT crm.mbgnbd_fit_or_null(x, x, 10) IS NULL AS mbg_empty, crm.bgbb_fit_or_null(x, x, 10) IS NULL AS bgbb_empty,
	   crm.bgnbd_cov_fit_or_null(x, x, 10, '{}', '{}') IS NULL AS cov_empty
  FROM generate_series(1, 0) x;
SELECT crm.bgbb_fit_or_null(1, 1, 2, NULL);
SELECT crm.pareto_nbd_cov_fit_or_null(1, 1, 2, '{}', '{Infinity}');
-- BG/BB calibration and holdout: NULL, infinite dates, a holdout under one unit, no purchases
SELECT * FROM crm.bgbb_calibration_holdout(NULL, '2025-01-01');
SELECT * FROM crm.bgbb_calibration_holdout('2019-12-31', 'infinity');
SELECT * FROM crm.bgbb_calibration_holdout('2019-12-31', '2020-01-06', 'week');
SELECT count(*) AS no_purchases FROM crm.bgbb_calibration_holdout('1900-12-31', '1901-12-31');
SELECT count(*) AS no_rows FROM crm.clv_holdout_diagnostics(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL)::crm.bgbb_model, '1900-12-31', '1901-12-31');
SELECT * FROM crm.clv_holdout_diagnostics(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL)::crm.bgbb_model, '1900-12-31', '1901-12-31', 'year', 0);
SELECT * FROM crm.clv_holdout_diagnostics(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL)::crm.bgbb_model, '1900-12-31', '1901-12-31', 'year', 7, NULL);
