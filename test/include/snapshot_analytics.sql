--
-- test/include/snapshot_analytics.sql: the answers of crm's analytics, as
-- text, one line each, to compare two databases with diff: RFM (the C
-- function, its SQL twin, by mean), churn signals (and twin), profiles,
-- the BG/NBD and Gamma-Gamma fits, the CLV report, ABC, the repeat curve,
-- cohorts, segment revenue, every points balance, a points statement, the
-- price of a few carts, crm.verify_ledger(), and the path crm's fast-path
-- functions took.  psql variables as_of, priced_at, balance_at.
--
SET statement_timeout = '60s';
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 3;
SELECT 'rfm ' || r::text FROM crm.rfm_scores(:as_of) r ORDER BY r.client_id;
SELECT 'rfm-sql ' || r::text FROM crm.rfm_scores_sql(:as_of) r ORDER BY r.client_id;
SELECT 'rfm-mean ' || r::text FROM crm.rfm_scores(:as_of, 'rfm11', 'mean') r ORDER BY r.client_id;
SELECT 'churn ' || c::text FROM crm.churn_signals(:as_of) c ORDER BY c.client_id;
SELECT 'churn-sql ' || c::text FROM crm.churn_signals_sql(:as_of) c ORDER BY c.client_id;
SELECT 'profile ' || p::text FROM crm.client_profiles(:as_of) p ORDER BY p.client_id;
SELECT 'bgnbd ' || crm.bgnbd_fit(s.frequency, s.recency, s.t)::text FROM crm.clv_summary(:as_of, 'week') s;
SELECT 'gamma-gamma ' || crm.gamma_gamma_fit(s.frequency, s.monetary)::text
  FROM crm.clv_summary(:as_of, 'week') s;
SELECT 'clv ' || c::text FROM crm.clv_report(:as_of, 52, 'week', discount_rate => 0.002) c ORDER BY c.client_id;
SELECT 'abc ' || a::text FROM crm.abc_analysis(:as_of) a ORDER BY a.client_id;
SELECT 'repeat ' || r::text FROM crm.repeat_curve(:as_of) r ORDER BY r.order_number;
SELECT 'cohort ' || c::text FROM crm.cohort_retention(:as_of) c ORDER BY c.cohort, c.period_number;
SELECT 'segment-revenue ' || s::text FROM crm.segment_category_revenue(:as_of) s
 ORDER BY s.segment, s.category_id;
WITH a AS MATERIALIZED (SELECT client_id FROM crm.loyalty_accounts ORDER BY client_id)
SELECT 'balance ' || a.client_id || ' ' || crm.points_balance(a.client_id, 'club', :balance_at) FROM a;
SELECT 'statement ' || s::text FROM crm.points_statement(30, 'club') s ORDER BY s.entry_id;
SELECT 'cart ' || c || ' ' || crm.price_cart(c, jsonb_build_object(
		'program', 'club', 'points_paid', 20,
		'lines', jsonb_build_array(
			jsonb_build_object('product_id', 1 + c, 'quantity', 3, 'price_list_id', 1),
			jsonb_build_object('product_id', 40 + c, 'quantity', 1, 'price_list_id', 2))),
		:priced_at)::text
  FROM generate_series(1, 45, 4) c;
SELECT 'verify_ledger ' || v::text FROM crm.verify_ledger() v;
-- which path (C or SQL) crm's fast-path functions took for the calls above
SELECT 'fastpath ' || s::text FROM crm.fast_path_stats() s ORDER BY 1;
