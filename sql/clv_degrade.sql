--
-- CLV on a young or small database: where the data cannot identify a model
-- (nobody bought twice, every repeat buyer spent the same, a fit that does
-- not converge), crm.clv_report and crm.ltv_cac still give the summary,
-- revenue, margin, counts and CAC, with null model columns and a notice
-- saying which model and why.  The fits themselves still raise their
-- errors, without the text of crm's queries as context.  Clients and
-- orders here are in 1981, before those of the other tests.
--
SET TimeZone = 'UTC';
BEGIN;
\set ON_ERROR_ROLLBACK on
INSERT INTO crm.clients (client_id, first_name, acquisition_channel, acquisition_cost, created_at)
SELECT g, 'young ' || g, 'email', 10, '1981-01-01' FROM generate_series(980001, 980004) g;

-- nobody bought twice yet
INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount, cost_amount)
VALUES (980001, '1981-02-01', 'web', 10, 10, 4),
	   (980002, '1981-02-03', 'web', 20, 20, 8);
SELECT client_id, frequency, p_alive, expected_purchases, expected_spend, clv, revenue, historical_value
  FROM crm.clv_report('1981-06-01', 30) ORDER BY 1;
SELECT * FROM crm.ltv_cac('1981-06-01', 30);
-- the fits raise their errors, with no context
SELECT crm.bgnbd_fit(frequency, recency, t) FROM crm.clv_summary('1981-06-01');
SELECT crm.gamma_gamma_fit(frequency, monetary) FROM crm.clv_summary('1981-06-01');
SELECT crm.pareto_nbd_fit(frequency, recency, t) FROM crm.clv_summary('1981-06-01');
-- their _or_null forms give a notice and null
SELECT crm.bgnbd_fit_or_null(frequency, recency, t) IS NULL AS bg,
	   crm.pareto_nbd_fit_or_null(frequency, recency, t, 0.1) IS NULL AS pnbd,
	   crm.gamma_gamma_fit_or_null(frequency, monetary) IS NULL AS gg
  FROM crm.clv_summary('1981-06-01');
-- bad input to them is still an error
SELECT crm.bgnbd_fit_or_null(-1, 0, 1);

-- two repeat buyers who spent the same on their repeat purchases
INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount, cost_amount)
VALUES (980001, '1981-03-01', 'web', 15, 15, 6),
	   (980002, '1981-04-03', 'web', 15, 15, 6);
SELECT client_id, frequency, monetary, p_alive IS NULL AS no_p_alive,
	   expected_spend, clv, revenue, historical_value
  FROM crm.clv_report('1981-06-01', 30) ORDER BY 1;
SELECT * FROM crm.ltv_cac('1981-06-01', 30);
SELECT crm.gamma_gamma_fit(frequency, monetary) FROM crm.clv_summary('1981-06-01');
-- a model given is used as given: BG/NBD predictions with no spend model
SELECT client_id, round(p_alive::numeric, 4) AS p_alive,
	   round(expected_purchases::numeric, 4) AS expected_purchases, expected_spend, clv
  FROM crm.clv_report('1981-06-01', 30,
					  transactions => ROW(0.24, 4.41, 0.79, 2.43, NULL, NULL, NULL, NULL, NULL, NULL))
 ORDER BY 1;

-- bad arguments: an error naming the value, with at most a line of context
SELECT * FROM crm.clv_report('1981-06-01', -30);
SELECT * FROM crm.clv_report('1981-06-01', 30, discount_rate => -0.5);
SELECT * FROM crm.ltv_cac('1981-06-01', 30, period => 0);
SELECT * FROM crm.clv_report('1981-06-01', 30, time_zone => 'Mars/Olympus');
SELECT * FROM crm.ltv_cac('1981-06-01', 30, penalty => -1);
SELECT * FROM crm.clv_report('infinity', 30);
ROLLBACK;
