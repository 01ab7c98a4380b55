--
-- edges_discounts: crm.price_cart and crm.record_priced_cart on NULL,
-- empty, negative, zero, huge, NaN and infinite input and on malformed
-- jsonb (wrong shape, wrong types of fields, missing and extra keys), row
-- by row as docs/inputs.md tabulates them.  Every call of
-- crm.record_priced_cart is run through w(), which prints the tables of
-- crm it changed.  Everything runs in one transaction that is rolled back.
--
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\i sql/include/edges.sql
BEGIN;
SELECT pg_temp.empty_crm();

-- one client, two products on a retail list, a 10 % rule
INSERT INTO crm.clients (client_id, first_name) VALUES (1, 'Ann');
INSERT INTO crm.categories (category_id, parent_id, name) VALUES (1, NULL, 'Shoes');
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost) VALUES
	(10, 'RUN', 'Runner', 1, 20), (11, 'SOCK', 'Sock', 1, 1);
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES (1, 'RETAIL', 'Retail', 'retail');
INSERT INTO crm.prices (price_list_id, product_id, price) VALUES (1, 10, 50), (1, 11, 0);
INSERT INTO crm.discount_rules (code, name, action, value) VALUES ('ten', '10 % off', 'percent', 10);

-- crm.price_cart(client_id, cart, at)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('a cart', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 2, "price_list_id": 1}]', '2025-01-01') -> 'totals'$$),
	('an object with lines', $$SELECT crm.price_cart(1, '{"lines": [{"product_id": 10, "quantity": 2, "price_list_id": 1}]}', '2025-01-01') #>> '{totals,net}'$$),
	('null client', $$SELECT crm.price_cart(NULL, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}]')$$),
	('null cart', $$SELECT crm.price_cart(1, NULL)$$),
	('null at', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}]', NULL)$$),
	('empty array', $$SELECT crm.price_cart(1, '[]')$$),
	('empty object', $$SELECT crm.price_cart(1, '{}')$$),
	('empty lines', $$SELECT crm.price_cart(1, '{"lines": []}')$$),
	('lines an object', $$SELECT crm.price_cart(1, '{"lines": {}}')$$),
	('a number', $$SELECT crm.price_cart(1, '1')$$),
	('a string', $$SELECT crm.price_cart(1, '"cart"')$$),
	('json null', $$SELECT crm.price_cart(1, 'null')$$),
	('a line a number', $$SELECT crm.price_cart(1, '[1]')$$),
	('a line null', $$SELECT crm.price_cart(1, '[null]')$$),
	('an empty line', $$SELECT crm.price_cart(1, '[{}]')$$),
	('quantity missing', $$SELECT crm.price_cart(1, '[{"product_id": 10, "price_list_id": 1}]')$$),
	('price list missing', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 1}]')$$),
	('an extra line key', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 1, "price_list_id": 1, "colour": "red"}]')$$),
	('an extra cart key', $$SELECT crm.price_cart(1, '{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "coupon": "X"}')$$),
	('product id a numeric string', $$SELECT crm.price_cart(1, '[{"product_id": "10", "quantity": 1, "price_list_id": 1}]') #>> '{totals,net}'$$),
	('product id a word', $$SELECT crm.price_cart(1, '[{"product_id": "ten", "quantity": 1, "price_list_id": 1}]')$$),
	('product id a fraction', $$SELECT crm.price_cart(1, '[{"product_id": 10.5, "quantity": 1, "price_list_id": 1}]')$$),
	('product id a boolean', $$SELECT crm.price_cart(1, '[{"product_id": true, "quantity": 1, "price_list_id": 1}]')$$),
	('product id null', $$SELECT crm.price_cart(1, '[{"product_id": null, "quantity": 1, "price_list_id": 1}]')$$),
	('product id an array', $$SELECT crm.price_cart(1, '[{"product_id": [10], "quantity": 1, "price_list_id": 1}]')$$),
	('quantity a string', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": "1.5", "price_list_id": 1}]') #>> '{totals,net}'$$),
	('quantity an object', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": {}, "price_list_id": 1}]')$$),
	('negative client', $$SELECT crm.price_cart(-1, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}]')$$),
	('negative product id', $$SELECT crm.price_cart(1, '[{"product_id": -10, "quantity": 1, "price_list_id": 1}]')$$),
	('negative quantity', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": -1, "price_list_id": 1}]')$$),
	('zero quantity', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 0, "price_list_id": 1}]')$$),
	('zero product id', $$SELECT crm.price_cart(1, '[{"product_id": 0, "quantity": 1, "price_list_id": 1}]')$$),
	('zero price', $$SELECT crm.price_cart(1, '[{"product_id": 11, "quantity": 1, "price_list_id": 1}]') #>> '{totals,net}'$$),
	('quantity with 4 decimals', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 0.0001, "price_list_id": 1}]')$$),
	('huge quantity', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 1e300, "price_list_id": 1}]')$$),
	('largest quantity', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 999999999.999, "price_list_id": 1}]') #>> '{totals,net}'$$),
	('huge product id', $$SELECT crm.price_cart(1, '[{"product_id": 1e300, "quantity": 1, "price_list_id": 1}]')$$),
	('price list id beyond integer', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 1, "price_list_id": 2147483648}]')$$),
	('NaN quantity', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": "NaN", "price_list_id": 1}]')$$),
	('Infinity quantity', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": "Infinity", "price_list_id": 1}]')$$),
	('at infinity', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}]', 'infinity')$$),
	('at -infinity', $$SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}]', '-infinity')$$),
	('segment a number', $$SELECT crm.price_cart(1, '{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "segment": 5}')$$),
	('programme a number', $$SELECT crm.price_cart(1, '{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "program": 5}')$$),
	('unknown programme', $$SELECT crm.price_cart(1, '{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "program": "nope"}')$$),
	('unknown segment', $$SELECT crm.price_cart(1, '{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "segment": "Heroes"}')$$),
	('empty segment', $$SELECT crm.price_cart(1, '{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "segment": ""}')$$)
) AS t(cell, q);

-- crm.record_priced_cart(quote, channel, status, external_ref) writes
SELECT pg_temp.rows() AS before;
CREATE TEMP TABLE quote AS
	SELECT crm.price_cart(1, '[{"product_id": 10, "quantity": 2, "price_list_id": 1}]', '2025-01-01') AS q;
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null quote', $$SELECT crm.record_priced_cart(NULL)$$),
	('an empty object', $$SELECT crm.record_priced_cart('{}')$$),
	('an array', $$SELECT crm.record_priced_cart('[]')$$),
	('a number', $$SELECT crm.record_priced_cart('1')$$),
	('a key missing', $$SELECT crm.record_priced_cart(q - 'totals') FROM quote$$),
	('an extra key', $$SELECT crm.record_priced_cart(q || '{"note": "x"}') FROM quote$$),
	('client id a word', $$SELECT crm.record_priced_cart(jsonb_set(q, '{client_id}', '"one"')) FROM quote$$),
	('at a word', $$SELECT crm.record_priced_cart(jsonb_set(q, '{at}', '"soon"')) FROM quote$$),
	('cart a number', $$SELECT crm.record_priced_cart(jsonb_set(q, '{cart}', '1')) FROM quote$$),
	('net changed', $$SELECT crm.record_priced_cart(jsonb_set(q, '{totals,net}', '1')) FROM quote$$),
	('negative points paid', $$SELECT crm.record_priced_cart(jsonb_set(q, '{totals,points_paid}', '-5')) FROM quote$$),
	('points paid a word', $$SELECT crm.record_priced_cart(jsonb_set(q, '{totals,points_paid}', '"x"')) FROM quote$$),
	('negative client', $$SELECT crm.record_priced_cart(jsonb_set(q, '{client_id}', '-1')) FROM quote$$),
	('huge client', $$SELECT crm.record_priced_cart(jsonb_set(q, '{client_id}', '1e300')) FROM quote$$),
	('at infinity', $$SELECT crm.record_priced_cart(jsonb_set(q, '{at}', '"infinity"')) FROM quote$$),
	('null channel', $$SELECT crm.record_priced_cart(q, NULL) FROM quote$$),
	('empty channel', $$SELECT crm.record_priced_cart(q, '') FROM quote$$),
	('null status', $$SELECT crm.record_priced_cart(q, 'web', NULL) FROM quote$$),
	('cancelled status', $$SELECT crm.record_priced_cart(q, 'web', 'cancelled') FROM quote$$)
) AS t(cell, q);
SELECT pg_temp.rows() AS "after the refused calls";
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('record', $$SELECT crm.record_priced_cart(q, 'web', 'paid', '') FROM quote$$),
	('the same external_ref: the first order', $$SELECT crm.record_priced_cart(q, 'web', 'paid', '') FROM quote$$),
	('null external_ref: a second order', $$SELECT crm.record_priced_cart(q, 'web', 'paid', NULL) FROM quote$$)
) AS t(cell, q);

ROLLBACK;
SELECT pg_temp.sequences_unchanged();
