-- crm.refresh_segments: current labels, transitions, idempotency, errors
SET TimeZone = 'UTC';
BEGIN;
SET LOCAL client_min_messages = warning;
TRUNCATE crm.clients CASCADE;	-- only these clients (rolled back below)
\i sql/include/try.sql
INSERT INTO crm.clients (client_id, first_name) SELECT g, 'c' || g FROM generate_series(1, 3) g;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT 1, '2025-01-01'::timestamptz - g * interval '1 day', 'web', 'paid', 10, 10 FROM generate_series(2, 300, 7) g
UNION ALL SELECT 2, '2024-12-20', 'web', 'paid', 50, 50
UNION ALL SELECT 3, '2024-12-01'::timestamptz - g * interval '1 day', 'web', 'paid', 20, 20 FROM generate_series(0, 200, 20) g;

SELECT * FROM crm.refresh_segments('2025-01-01');
SELECT client_id, rfm, rfm_segment, behaviour_class, churn_status, since FROM crm.client_segments ORDER BY client_id;
-- the same as_of again: nothing changes
SELECT * FROM crm.refresh_segments('2025-01-01');
-- the RFM of the refresh is that of crm.rfm_scores
SELECT count(*) AS rfm_differences
  FROM crm.client_segments s JOIN crm.rfm_scores('2025-01-01') r USING (client_id)
 WHERE s.rfm OPERATOR(crm.<>) r.rfm OR s.rfm_segment <> r.segment;
-- two months later, client 3 has gone quiet and client 2 is no longer new
SELECT * FROM crm.refresh_segments('2025-03-01');
SELECT client_id, as_of, dimension, from_value, to_value
  FROM crm.segment_transitions WHERE as_of = '2025-03-01' ORDER BY client_id, dimension;
-- an order refunded: client 2 has no purchase left, its labels go to NULL
UPDATE crm.orders SET status = 'refunded' WHERE client_id = 2;
SELECT * FROM crm.refresh_segments('2025-03-01', notify_limit => 0);
SELECT client_id, dimension, from_value, to_value
  FROM crm.segment_transitions WHERE client_id = 2 ORDER BY transition_id;
SELECT count(*) AS client_2_rows FROM crm.client_segments WHERE client_id = 2;
SELECT as_of, clients, transitions FROM crm.segment_refreshes ORDER BY as_of;
-- errors
SELECT pg_temp.try($$SELECT * FROM crm.refresh_segments('2025-02-01')$$);
SELECT pg_temp.try($$SELECT * FROM crm.refresh_segments('2025-03-01', map_name => 'nope')$$);
SELECT pg_temp.try($$SELECT * FROM crm.refresh_segments('2025-03-01', notify_limit => -1)$$);
SELECT pg_temp.try($$SELECT * FROM crm.refresh_segments('infinity')$$);
SELECT pg_temp.try($$SELECT * FROM crm.refresh_segments('2025-03-01', '{"nope": 1}')$$);
ROLLBACK;
