--
-- The indexes serve the queries they are there for: one client's history
-- newest first without a sort, time ranges through BRIN, open incidents.
--
SET TimeZone = 'UTC';

-- 40,000 interactions of 200 clients over two years, arriving in time order
INSERT INTO crm.clients (client_id, first_name)
SELECT g, 'client ' || g FROM generate_series(1, 200) g;
INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction)
SELECT 1 + (g * 7919) % 200, timestamptz '2023-01-01' + g * interval '26 minutes',
	   'web', 'visit', 'inbound'
  FROM generate_series(1, 40000) g;
-- every row in the statistics (ANALYZE samples 300 x the target), so that
-- the plans below do not move with a random sample
SET default_statistics_target = 200;
ANALYZE crm.clients, crm.interactions;
RESET default_statistics_target;

-- one client's history, newest first: an index scan, no sort
EXPLAIN (COSTS OFF)
SELECT * FROM crm.interactions WHERE client_id = 42 ORDER BY occurred_at DESC LIMIT 20;

-- a week of interactions: the BRIN index
EXPLAIN (COSTS OFF)
SELECT * FROM crm.interactions
 WHERE occurred_at >= '2024-01-01' AND occurred_at < '2024-01-08';

SELECT count(*) AS one_week FROM crm.interactions
 WHERE occurred_at >= '2024-01-01' AND occurred_at < '2024-01-08';

-- one client's orders in time order, a client's open incidents
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT * FROM crm.orders WHERE client_id = 42 ORDER BY ordered_at;
EXPLAIN (COSTS OFF)
SELECT * FROM crm.incidents WHERE client_id = 42 AND status NOT IN ('resolved', 'closed');
RESET enable_seqscan;

SET client_min_messages = warning;
TRUNCATE crm.clients CASCADE;
RESET client_min_messages;
