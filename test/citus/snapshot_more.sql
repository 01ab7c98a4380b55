--
-- test/citus/snapshot_more.sql: answers test/include/snapshot_analytics.sql
-- does not give, one line each, for test/citus/same_answers.sh: the CLV
-- summary and the other fits, LTV/CAC, product affinity, retention CLV,
-- client cards, contact rules, segments and their transitions, and what
-- two managers see under row security.  psql variable as_of.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET extra_float_digits = 3;
SELECT 'clv-summary ' || s::text FROM crm.clv_summary(:as_of, 'week') s ORDER BY s.client_id;
SELECT 'pareto ' || crm.pareto_nbd_fit(s.frequency, s.recency, s.t)::text FROM crm.clv_summary(:as_of, 'week') s;
SELECT 'ltv-cac ' || l::text FROM crm.ltv_cac(:as_of, 52, 'week') l ORDER BY 1;
SELECT 'affinity ' || a::text FROM crm.product_affinity(:as_of, min_support => 0.0001, level => 'category') a ORDER BY 1;
SELECT 'verify-ledger ' || count(*) || ' findings' FROM crm.verify_ledger();
SELECT 'card ' || c || ' ' || crm.client_card(c)::text FROM generate_series(1, 300, 37) c;
SELECT 'can-contact ' || c || ' ' || ch || ' ' || crm.can_contact(c, ch, '2025-01-01')
  FROM generate_series(1, 300, 23) c, unnest(ARRAY['email', 'sms', 'phone']) ch ORDER BY 1;
SELECT 'contact-check ' || c || ' ' || crm.contact_check(c, 'email', '2025-01-01')::text
  FROM generate_series(1, 300, 29) c;
SELECT 'segments ' || s::text FROM crm.client_segments s ORDER BY s.client_id;
SELECT 'transition ' || t.client_id || ' ' || t.as_of || ' ' || t.dimension || ' '
	   || coalesce(t.from_value, '-') || ' ' || coalesce(t.to_value, '-')
  FROM crm.segment_transitions t ORDER BY t.client_id, t.as_of, t.dimension;
SELECT 'refreshes ' || r.as_of || ' ' || r.clients || ' ' || r.transitions FROM crm.segment_refreshes r ORDER BY 1;
-- a refresh with its notifications (psql prints them as they arrive)
LISTEN crm_segment_change;
SELECT 'refresh ' || r::text FROM crm.refresh_segments('2025-02-01', notify_limit => 5000) r;
UNLISTEN *;
-- two managers, each owning a tenth of the clients
SET ROLE crm_test_m1;
SELECT 'manager1 ' || (SELECT count(*) FROM crm.clients) || ' ' || (SELECT count(*) FROM crm.orders)
	   || ' ' || (SELECT count(*) FROM crm.interactions) || ' ' || (SELECT count(*) FROM crm.loyalty_ledger)
	   || ' ' || (SELECT count(*) FROM crm.client_segments) || ' ' || (SELECT count(*) FROM crm.discount_rules);
SELECT 'manager1-rfm ' || r::text FROM crm.rfm_scores(:as_of) r ORDER BY r.client_id;
SELECT 'manager1-overview ' || o.client_id || ' ' || o.purchases || ' ' || o.revenue || ' ' || coalesce(o.points, 0)
  FROM crm.client_overview o ORDER BY o.client_id;
RESET ROLE;
SET ROLE crm_test_m2;
SELECT 'manager2 ' || (SELECT count(*) FROM crm.clients) || ' ' || (SELECT count(*) FROM crm.orders)
	   || ' ' || (SELECT count(*) FROM crm.interactions) || ' ' || (SELECT count(*) FROM crm.loyalty_ledger);
SELECT 'manager2-churn ' || c::text FROM crm.churn_signals(:as_of) c ORDER BY c.client_id;
RESET ROLE;
