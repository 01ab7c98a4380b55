--
-- crm.client_card: the single view of one client
--
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

INSERT INTO crm.clients (client_id, kind, first_name, last_name, birth_date, email, country, city, owner, acquisition_channel, acquisition_cost, attributes, created_at, updated_at)
VALUES (1, 'person', 'Grace', 'Hopper', '1976-12-09', 'grace@example.com', 'US', 'Arlington', 'manager_01', 'search', 30, '{"newsletter": "weekly"}', '2024-01-05', '2024-01-05'),
       (2, 'person', 'Quiet', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, '{}', '2024-01-06', '2024-01-06');
INSERT INTO crm.consents (client_id, channel, changed_at, granted)
VALUES (1, 'email', '2024-01-05', true), (1, 'sms', '2024-01-05', true), (1, 'sms', '2024-02-01', false);
INSERT INTO crm.categories (category_id, name) VALUES (1, 'Books');
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost) VALUES (1, 'B-1', 'COBOL primer', 1, 6);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, discount_amount, net_amount, cost_amount, promo_used, points_paid)
VALUES (1, 1, '2024-01-05 12:00+00', 'web',   'paid',      20.00, 0,    20.00,  6, false, 0),
       (1, 2, '2024-02-10 12:00+00', 'store', 'paid',      40.00, 4.00, 36.00, 12, true, 100),
       (1, 3, '2024-03-15 12:00+00', 'web',   'cancelled', 20.00, 0,    20.00,  6, false, 0),
       (1, 4, '2024-04-20 12:00+00', 'app',   'placed',    20.00, 0,    20.00,  6, false, 0),
       (1, 5, '2024-05-01 12:00+00', 'web',   'refunded',  60.00, 0,    60.00, 18, false, 0);
INSERT INTO crm.incidents (client_id, incident_id, opened_at, channel, category, subject, status, priority, assignee, due_at, resolved_at, order_id)
VALUES (1, 1, '2024-05-02 09:00+00', 'email', 'return', 'Refund for order 5', 'resolved', 'normal', 'agent_01', '2024-05-05 09:00+00', '2024-05-03 10:00+00', 5),
       (1, 2, '2024-05-10 09:00+00', 'phone', 'delivery', 'Parcel late', 'open', 'high', 'agent_02', '2024-05-12 09:00+00', NULL, 4),
       (1, 3, '2024-05-11 09:00+00', 'chat', 'question', 'Gift wrap?', 'waiting', 'low', NULL, '2999-01-01 00:00+00', NULL, NULL);
INSERT INTO crm.interactions (client_id, interaction_id, occurred_at, channel, kind, direction, outcome, handled_by, subject, order_id, incident_id)
VALUES (1, 1, '2024-01-05 12:00+00', 'web',   'sale',  'inbound',  'completed', NULL, NULL, 1, NULL),
       (1, 2, '2024-02-10 12:00+00', 'store', 'sale',  'inbound',  'completed', 'clerk_01', NULL, 2, NULL),
       (1, 3, '2024-05-02 09:00+00', 'email', 'incident', 'inbound', 'replied', 'agent_01', 'Refund for order 5', 5, 1),
       (1, 4, '2024-05-10 09:00+00', 'phone', 'call',  'inbound',  'completed', 'agent_02', 'Parcel late', NULL, 2),
       (1, 5, '2024-05-10 09:00+00', 'email', 'email', 'outbound', 'delivered', NULL, 'Spring offer', NULL, NULL);

SELECT jsonb_pretty(crm.client_card(1, 3));

-- a client with nothing but a name: empty totals, empty lists
SELECT jsonb_pretty(crm.client_card(2));

-- zero interactions asked for
SELECT crm.client_card(1, 0) -> 'last_interactions' AS none;

-- a NULL argument, an unknown client and a negative count are errors
SELECT crm.client_card(NULL);
SELECT crm.client_card(1, NULL);
\i sql/include/try.sql
SELECT pg_temp.try('SELECT crm.client_card(42)') AS unknown_client,
       pg_temp.try('SELECT crm.client_card(1, -1)') AS negative_count;

SET client_min_messages = warning;
TRUNCATE crm.clients, crm.categories CASCADE;
RESET client_min_messages;
