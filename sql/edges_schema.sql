--
-- edges_schema: the functions of the CRM schema (crm.category_subtree,
-- crm.client_card; crm.can_contact is in edges_churn with
-- crm.contact_check; crm.sync_sequences, which has no argument and moves
-- sequences for good, is in sync_sequences, the last test) on NULL, empty,
-- negative, zero and huge input, row by
-- row as docs/inputs.md tabulates them.  Everything runs in one
-- transaction that is rolled back.
--
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\i sql/include/edges.sql
BEGIN;
SELECT pg_temp.empty_crm();

-- empty tables
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('category_subtree: empty', $$SELECT count(*) FROM crm.category_subtree(1)$$),
	('client_card: empty', $$SELECT crm.client_card(1)$$)
) AS t(cell, q);

-- Shoes > Running > Trail, Books; Ann with two interactions and an open
-- incident, Bob with nothing
INSERT INTO crm.categories (category_id, parent_id, name) VALUES
	(1, NULL, 'Shoes'), (2, 1, 'Running'), (3, 2, 'Trail'), (4, NULL, 'Books');
INSERT INTO crm.clients (client_id, first_name, created_at, updated_at) VALUES
	(1, 'Ann', '2024-01-01', '2024-01-01'), (2, 'Bob', '2024-01-01', '2024-01-01');
INSERT INTO crm.interactions (client_id, interaction_id, occurred_at, channel, kind, direction) VALUES
	(1, 1, '2024-02-01', 'email', 'email', 'inbound'), (1, 2, '2024-03-01', 'phone', 'call', 'outbound');
INSERT INTO crm.incidents (client_id, incident_id, opened_at, channel, category, subject, status, priority) VALUES
	(1, 1, '2024-03-02', 'phone', 'question', 'Sizes', 'open', 'normal');

-- crm.category_subtree(category_id)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('a subtree', $$SELECT array_agg(c ORDER BY c) FROM crm.category_subtree(1) c$$),
	('a leaf', $$SELECT array_agg(c ORDER BY c) FROM crm.category_subtree(3) c$$),
	('null', $$SELECT count(*) FROM crm.category_subtree(NULL)$$),
	('negative', $$SELECT count(*) FROM crm.category_subtree(-1)$$),
	('zero', $$SELECT count(*) FROM crm.category_subtree(0)$$),
	('huge', $$SELECT count(*) FROM crm.category_subtree(2147483647)$$)
) AS t(cell, q);

-- crm.client_card(client_id, last_interactions)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('a card', $$SELECT jsonb_build_object('interactions', jsonb_array_length(c -> 'last_interactions'), 'incidents', jsonb_array_length(c -> 'open_incidents'), 'purchases', c #> '{orders,purchases}') FROM crm.client_card(1) c$$),
	('no history', $$SELECT crm.client_card(2) - 'profile'$$),
	('null client', $$SELECT crm.client_card(NULL)$$),
	('null count', $$SELECT crm.client_card(1, NULL)$$),
	('negative client', $$SELECT crm.client_card(-1)$$),
	('negative count', $$SELECT crm.client_card(1, -1)$$),
	('zero client', $$SELECT crm.client_card(0)$$),
	('zero count', $$SELECT crm.client_card(1, 0) -> 'last_interactions'$$),
	('huge client', $$SELECT crm.client_card(9223372036854775807)$$),
	('huge count', $$SELECT jsonb_array_length(crm.client_card(1, 2147483647) -> 'last_interactions')$$)
) AS t(cell, q);

ROLLBACK;
SELECT pg_temp.sequences_unchanged();
