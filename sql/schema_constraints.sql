--
-- The schema's constraints: every one rejects its bad row with the expected
-- SQLSTATE and a message that names the constraint, and nothing is written.
--
SET TimeZone = 'UTC';

\i sql/include/try.sql

-- a valid base: two clients, a category tree, a product, a price list, an order
INSERT INTO crm.clients (client_id, kind, first_name, last_name, company_name, birth_date, email, phone, country, city, owner, acquisition_channel, acquisition_cost, created_at, updated_at)
VALUES (1, 'person', 'Ada', 'Lovelace', NULL, '1985-12-10', 'ada@example.com', '+44 20 7946 0000', 'GB', 'London', 'manager_01', 'referral', 12.50, '2024-01-10', '2024-01-10'),
       (2, 'company', NULL, NULL, 'Analytical Engines GmbH', NULL, NULL, NULL, 'DE', 'Berlin', 'manager_02', 'partner', 0, '2024-02-01', '2024-02-01');
UPDATE crm.clients SET city = 'Hamburg' WHERE client_id = 2;
INSERT INTO crm.categories (category_id, parent_id, name) VALUES (1, NULL, 'Shoes'), (2, 1, 'Running'), (3, 2, 'Trail');
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost) VALUES (10, 'TR-1', 'Trail runner', 3, 40);
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES (1, 'RETAIL', 'Retail', 'retail');
INSERT INTO crm.prices VALUES (1, 10, 99.90);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, price_list_id, gross_amount, discount_amount, net_amount, cost_amount)
VALUES (1, 100, '2024-03-01 10:00+00', 'web', 'paid', 1, 199.80, 20, 179.80, 80);
INSERT INTO crm.order_lines VALUES (1, 100, 1, 10, 2, 99.90, 199.80, 20, 179.80, 80);
INSERT INTO crm.incidents (client_id, incident_id, opened_at, channel, subject, order_id, due_at)
VALUES (1, 7, '2024-03-02 09:00+00', 'email', 'Wrong size', 100, '2024-03-05 09:00+00');

-- the updated_at trigger moved updated_at forward
SELECT client_id, updated_at > created_at AS touched FROM crm.clients ORDER BY client_id;

SELECT stmt, pg_temp.try(stmt) AS result FROM (VALUES
	-- clients
	($$INSERT INTO crm.clients (kind, first_name) VALUES ('robot', 'R2')$$),
	($$INSERT INTO crm.clients (kind) VALUES ('person')$$),
	($$INSERT INTO crm.clients (kind, first_name) VALUES ('company', 'Bob')$$),
	($$INSERT INTO crm.clients (kind, first_name, birth_date) VALUES ('person', 'Old', '1850-01-01')$$),
	($$INSERT INTO crm.clients (kind, company_name, birth_date) VALUES ('company', 'ACME', '1990-01-01')$$),
	($$INSERT INTO crm.clients (first_name, email) VALUES ('Eve', 'not-an-address')$$),
	($$INSERT INTO crm.clients (first_name, phone) VALUES ('Eve', 'call me')$$),
	($$INSERT INTO crm.clients (first_name, country) VALUES ('Eve', 'Germany')$$),
	($$INSERT INTO crm.clients (first_name, acquisition_channel) VALUES ('Eve', 'carrier pigeon')$$),
	($$INSERT INTO crm.clients (first_name, acquisition_cost) VALUES ('Eve', -1)$$),
	($$INSERT INTO crm.clients (first_name, attributes) VALUES ('Eve', '[1,2]')$$),
	($$INSERT INTO crm.clients (first_name, created_at, updated_at) VALUES ('Eve', '2024-02-01', '2024-01-01')$$),
	($$INSERT INTO crm.clients (client_id, first_name) VALUES (1, 'Duplicate')$$),
	-- consents
	($$INSERT INTO crm.consents (client_id, channel, granted) VALUES (1, 'telepathy', true)$$),
	($$INSERT INTO crm.consents (client_id, channel, granted) VALUES (999, 'email', true)$$),
	-- catalogue
	($$INSERT INTO crm.categories (category_id, parent_id, name) VALUES (4, 1, 'Running')$$),
	($$INSERT INTO crm.categories (category_id, parent_id, name) VALUES (5, 42, 'Orphan')$$),
	($$UPDATE crm.categories SET parent_id = 42 WHERE category_id = 3$$),
	($$DELETE FROM crm.categories WHERE category_id = 2$$),
	($$UPDATE crm.categories SET category_id = 20 WHERE category_id = 2$$),
	($$UPDATE crm.categories SET parent_id = 3 WHERE category_id = 1$$),
	($$UPDATE crm.categories SET parent_id = 2 WHERE category_id = 2$$),
	($$INSERT INTO crm.products (sku, name, category_id) VALUES ('TR-1', 'Copy', 3)$$),
	($$INSERT INTO crm.products (sku, name, category_id) VALUES ('X-1', 'Nowhere', 99)$$),
	($$INSERT INTO crm.products (sku, name, category_id, unit_cost) VALUES ('X-2', 'Cheap', 3, -0.01)$$),
	($$INSERT INTO crm.price_lists (code, name, kind) VALUES ('VIP', 'VIP', 'secret')$$),
	($$INSERT INTO crm.price_lists (code, name, kind, currency) VALUES ('USD', 'US', 'retail', 'usd')$$),
	($$INSERT INTO crm.price_lists (code, name, kind, valid) VALUES ('NONE', 'Never', 'promotional', 'empty')$$),
	($$INSERT INTO crm.prices VALUES (1, 10, 5)$$),
	($$INSERT INTO crm.prices VALUES (1, 11, 5)$$),
	($$UPDATE crm.prices SET price = -5$$),
	-- orders
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount) VALUES (999, now(), 'web', 1, 1)$$),
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount) VALUES (1, now(), 'fax', 1, 1)$$),
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount) VALUES (1, now(), 'web', 'lost', 1, 1)$$),
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount) VALUES (1, now(), 'web', -1, -1)$$),
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, discount_amount, net_amount) VALUES (1, now(), 'web', -5, 3, -8)$$),
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, discount_amount, net_amount) VALUES (1, now(), 'web', 10, 11, -1)$$),
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, discount_amount, net_amount) VALUES (1, now(), 'web', 10, 1, 10)$$),
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount, cost_amount) VALUES (1, now(), 'web', 10, 10, -3)$$),
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount, points_paid) VALUES (1, now(), 'web', 10, 10, -5)$$),
	($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount, price_list_id) VALUES (1, now(), 'web', 10, 10, 77)$$),
	($$UPDATE crm.orders SET status = 'shipped'$$),
	-- order lines
	($$INSERT INTO crm.order_lines VALUES (1, 555, 1, 10, 1, 1, 1, 0, 1, 0)$$),
	($$INSERT INTO crm.order_lines VALUES (2, 100, 2, 10, 1, 1, 1, 0, 1, 0)$$),
	($$INSERT INTO crm.order_lines VALUES (1, 100, 0, 10, 1, 1, 1, 0, 1, 0)$$),
	($$INSERT INTO crm.order_lines VALUES (1, 100, 2, 10, 0, 1, 0, 0, 0, 0)$$),
	($$INSERT INTO crm.order_lines VALUES (1, 100, 2, 10, 1, -1, -1, 0, -1, 0)$$),
	($$INSERT INTO crm.order_lines VALUES (1, 100, 2, 10, -2, 5, -10, 0, -10, 0)$$),
	($$INSERT INTO crm.order_lines VALUES (1, 100, 2, 10, 3, 9.99, 30, 0, 30, 0)$$),
	($$INSERT INTO crm.order_lines VALUES (1, 100, 2, 10, 1, 10, 10, 0, 9, 0)$$),
	($$INSERT INTO crm.order_lines VALUES (1, 100, 2, 99, 1, 10, 10, 0, 10, 0)$$),
	($$INSERT INTO crm.order_lines VALUES (1, 100, 1, 10, 1, 10, 10, 0, 10, 0)$$),
	-- incidents
	($$INSERT INTO crm.incidents (client_id, channel, subject, status) VALUES (1, 'email', 'x', 'forgotten')$$),
	($$INSERT INTO crm.incidents (client_id, channel, subject, priority) VALUES (1, 'email', 'x', 'whenever')$$),
	($$INSERT INTO crm.incidents (client_id, channel, subject, status) VALUES (1, 'email', 'x', 'resolved')$$),
	($$INSERT INTO crm.incidents (client_id, channel, subject, resolved_at) VALUES (1, 'email', 'x', now())$$),
	($$INSERT INTO crm.incidents (client_id, channel, subject, opened_at, due_at) VALUES (1, 'email', 'x', '2024-03-02', '2024-03-01')$$),
	($$INSERT INTO crm.incidents (client_id, channel, subject, order_id) VALUES (2, 'email', 'x', 100)$$),
	($$INSERT INTO crm.incidents (client_id, channel, subject) VALUES (1, 'email', '')$$),
	-- interactions
	($$INSERT INTO crm.interactions (client_id, channel, kind, direction) VALUES (1, 'smoke signal', 'call', 'inbound')$$),
	($$INSERT INTO crm.interactions (client_id, channel, kind, direction) VALUES (1, 'phone', 'seance', 'inbound')$$),
	($$INSERT INTO crm.interactions (client_id, channel, kind, direction) VALUES (1, 'phone', 'call', 'sideways')$$),
	($$INSERT INTO crm.interactions (client_id, channel, kind, direction, outcome) VALUES (1, 'phone', 'call', 'inbound', 'meh')$$),
	($$INSERT INTO crm.interactions (client_id, channel, kind, direction, order_id) VALUES (2, 'web', 'sale', 'inbound', 100)$$),
	($$INSERT INTO crm.interactions (client_id, channel, kind, direction, incident_id) VALUES (2, 'email', 'incident', 'inbound', 7)$$),
	($$INSERT INTO crm.interactions (client_id, channel, kind, direction, payload) VALUES (1, 'web', 'visit', 'inbound', '"page"')$$),
	-- deleting what others refer to
	($$DELETE FROM crm.products WHERE product_id = 10$$),
	($$DELETE FROM crm.clients WHERE client_id = 1$$)
) AS cases(stmt);

-- nothing was written by the rejected statements
SELECT (SELECT count(*) FROM crm.clients) AS clients,
       (SELECT count(*) FROM crm.categories) AS categories,
       (SELECT count(*) FROM crm.products) AS products,
       (SELECT count(*) FROM crm.orders) AS orders,
       (SELECT count(*) FROM crm.order_lines) AS lines,
       (SELECT count(*) FROM crm.incidents) AS incidents,
       (SELECT count(*) FROM crm.interactions) AS interactions,
       (SELECT string_agg(price::text, ',') FROM crm.prices) AS prices;

-- valid rows of every kind still go in
SELECT pg_temp.try($$INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, outcome, order_id, incident_id) VALUES (1, '2024-03-02 09:00+00', 'email', 'incident', 'inbound', 'completed', 100, 7)$$);
SELECT pg_temp.try($$UPDATE crm.incidents SET status = 'resolved', resolved_at = '2024-03-03 12:00+00' WHERE incident_id = 7$$);
SELECT pg_temp.try($$INSERT INTO crm.consents (client_id, channel, changed_at, granted) VALUES (1, 'email', '2024-01-10', true), (1, 'email', '2024-06-01', false)$$);

-- consent in force at a moment
SELECT crm.can_contact(1, 'email', '2024-01-09') AS before_any,
       crm.can_contact(1, 'email', '2024-03-01') AS given,
       crm.can_contact(1, 'email', '2024-06-01') AS withdrawn,
       crm.can_contact(1, 'sms', '2024-03-01') AS never_asked;
SELECT pg_temp.try($$SELECT crm.can_contact(NULL, 'sms')$$);
SELECT pg_temp.try($$SELECT crm.can_contact(999999, 'sms')$$);
SELECT pg_temp.try($$SELECT crm.can_contact(1, 'fax')$$);

-- the category subtree
SELECT array_agg(c ORDER BY c) FROM crm.category_subtree(1) c;
SELECT array_agg(c ORDER BY c) FROM crm.category_subtree(3) c;

-- the tree's key is checked at the end of each statement, as a foreign key
-- is: one statement may insert a tree children first, or delete it whole
SELECT pg_temp.try($$INSERT INTO crm.categories (category_id, parent_id, name) VALUES (32, 31, 'Kids'), (31, 30, 'Sandals'), (30, NULL, 'Summer')$$);
SELECT array_agg(c ORDER BY c) FROM crm.category_subtree(30) c;
SELECT pg_temp.try($$DELETE FROM crm.categories WHERE category_id IN (30, 31)$$);
SELECT pg_temp.try($$DELETE FROM crm.categories WHERE category_id IN (30, 31, 32)$$);
SELECT count(*) AS summer_left FROM crm.categories WHERE category_id >= 30;

-- deleting an order removes its lines (ON DELETE CASCADE) once nothing else refers to it
DELETE FROM crm.interactions;
DELETE FROM crm.incidents;
DELETE FROM crm.orders WHERE order_id = 100;
SELECT count(*) AS lines_left FROM crm.order_lines;

-- leave the database empty for the tests that follow
SET client_min_messages = warning;
TRUNCATE crm.clients, crm.categories, crm.price_lists CASCADE;
RESET client_min_messages;
