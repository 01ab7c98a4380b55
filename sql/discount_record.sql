--
-- crm.record_priced_cart: a quote becomes an order, its lines, the rules it
-- used and the per-client use counts; what was quoted is what is stored.
--
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

\i sql/include/try.sql

INSERT INTO crm.clients (client_id, kind, first_name) VALUES (1, 'person', 'Ada'), (2, 'person', 'Bob');
INSERT INTO crm.categories (category_id, parent_id, name) VALUES (1, NULL, 'Shoes'), (2, 1, 'Trail'), (4, NULL, 'Books');
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost) VALUES
	(10, 'TR-1', 'Trail runner', 2, 40), (20, 'BK-1', 'Novel', 4, 5);
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES (1, 'RETAIL', 'Retail', 'retail'), (4, 'STAFF', 'Staff', 'staff');
INSERT INTO crm.prices VALUES (1, 10, 99.90), (1, 20, 10.00), (4, 20, 8.00);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id) VALUES
	(1, 'shoes-10', 'shoes 10 %', 10, 'percent', 10, 1);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, uses_per_client) VALUES
	(2, 'welcome', '7.00 off the first order', 20, 'order', 'fixed', 7, 1);
INSERT INTO crm.discount_rules (rule_id, code, name, action, value) VALUES
	(3, 'cashback', 'cashback 5 %', 'cashback', 5), (4, 'half', 'half with points', 'points_share', 50);

-- everything below runs in one transaction, rolled back at the end: the
-- loyalty ledger is append-only, so its rows could not be cleaned up; the
-- ledger's id sequence is put back afterwards (later tests count on it)
SELECT last_value AS entry_seq, is_called AS entry_seq_called FROM crm.loyalty_ledger_entry_id_seq \gset
BEGIN;
INSERT INTO crm.loyalty_programs (program_id, code, name, points_per_unit, point_value) VALUES (901, 'club', 'Club', 1, 0.01);
SELECT (crm.earn_points(1, 'club', 6000, 'test: ada')).points AS ada_earned,
	   (crm.earn_points(2, 'club', 500, 'test: bob')).points AS bob_earned;

CREATE TEMP TABLE quote AS
SELECT crm.price_cart(1, '{"program": "club", "points_paid": 2500, "lines": [{"product_id": 10, "quantity": 2, "price_list_id": 1}, {"product_id": 20, "quantity": 3, "price_list_id": 1}]}',
					  '2026-11-25 10:00+00') AS q;
SELECT q -> 'totals' AS quoted FROM quote;
CREATE TEMP TABLE recorded AS SELECT crm.record_priced_cart(q, 'web', 'paid', 'cart-0001') AS order_id FROM quote;

-- the order, its lines and its rules are the quote
SELECT client_id, ordered_at, channel, status, price_list_id, currency, gross_amount,
	   discount_amount, net_amount, cost_amount, promo_used, points_paid, external_ref
  FROM crm.orders o JOIN recorded r USING (order_id);
SELECT line_no, product_id, quantity, unit_price, gross_amount, discount_amount, net_amount, cost_amount
  FROM crm.order_lines JOIN recorded USING (order_id) ORDER BY line_no;
SELECT d.code, od.amount, od.points FROM crm.order_discounts od JOIN crm.discount_rules d USING (rule_id)
  JOIN recorded USING (order_id) ORDER BY rule_id;
SELECT (SELECT sum(discount_amount) FROM crm.order_lines JOIN recorded USING (order_id))
	 = (SELECT discount_amount FROM crm.orders JOIN recorded USING (order_id)) AS lines_sum_to_order,
	   (SELECT jsonb_agg(jsonb_build_object('line', line_no, 'discount', discount_amount, 'net', net_amount) ORDER BY line_no)
		  FROM crm.order_lines JOIN recorded USING (order_id))
	 = (SELECT jsonb_agg(jsonb_build_object('line', l -> 'line', 'discount', l -> 'discount', 'net', l -> 'net'))
		  FROM quote, jsonb_array_elements(q -> 'lines') l) AS lines_as_quoted;
SELECT d.code, u.uses, u.last_used_at FROM crm.discount_usage u JOIN crm.discount_rules d USING (rule_id)
 WHERE u.client_id = 1 ORDER BY rule_id;

-- the same external_ref again returns the first order and writes nothing
SELECT crm.record_priced_cart(q, 'web', 'paid', 'cart-0001') = (SELECT order_id FROM recorded) AS same_order,
	   (SELECT count(*) FROM crm.orders WHERE client_id = 1) AS orders
  FROM quote;

-- the same quote again, without the reference: the welcome rule is used up,
-- so the quote is out of date and nothing is written
SELECT pg_temp.try('SELECT crm.record_priced_cart(q) FROM quote') AS used_up,
	   (SELECT count(*) FROM crm.orders WHERE client_id = 1) AS orders;
-- priced again, the same cart records without the welcome rule
SELECT crm.record_priced_cart(crm.price_cart(1, q -> 'cart', '2026-11-25 10:00+00')) > (SELECT order_id FROM recorded) AS second_order
  FROM quote;
SELECT d.code, u.uses FROM crm.discount_usage u JOIN crm.discount_rules d USING (rule_id)
 WHERE u.client_id = 1 ORDER BY rule_id;

-- a rule that changed since the quote makes it out of date
CREATE TEMP TABLE quote2 AS
SELECT crm.price_cart(2, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}]', '2026-11-25 11:00+00') AS q;
UPDATE crm.discount_rules SET value = 12 WHERE rule_id = 1;
SELECT pg_temp.try('SELECT crm.record_priced_cart(q) FROM quote2') AS rule_changed;
UPDATE crm.discount_rules SET value = 10 WHERE rule_id = 1;
-- a quote edited by hand is refused
SELECT pg_temp.try($$SELECT crm.record_priced_cart(jsonb_set(q, '{totals,net}', '1.00')) FROM quote2$$) AS edited_totals;
SELECT pg_temp.try($$SELECT crm.record_priced_cart(jsonb_set(q, '{lines,0,discount}', '50.00')) FROM quote2$$) AS edited_line;
-- errors
SELECT pg_temp.try($$SELECT crm.record_priced_cart('[]')$$) AS not_an_object,
	   pg_temp.try($$SELECT crm.record_priced_cart('{"client_id": 1}')$$) AS missing_field,
	   pg_temp.try($$SELECT crm.record_priced_cart(q, 'web', 'cancelled') FROM quote2$$) AS bad_status,
	   pg_temp.try($$SELECT crm.record_priced_cart(q, 'fax') FROM quote2$$) AS bad_channel,
	   pg_temp.try($$SELECT crm.record_priced_cart(jsonb_set(q, '{client_id}', '42')) FROM quote2$$) AS unknown_client;
-- lines on two price lists: the order has no single price list
CREATE TEMP TABLE two_lists AS
SELECT crm.record_priced_cart(crm.price_cart(2, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}, {"product_id": 20, "quantity": 1, "price_list_id": 4}]', '2026-11-25 12:00+00')) AS order_id;
SELECT o.price_list_id, o.gross_amount, o.discount_amount, o.net_amount
  FROM crm.orders o JOIN two_lists USING (order_id);

-- points paid are redeemed from the cart's loyalty programme, keyed by the
-- order; Ada's two orders above paid 2 x 2500 of her 6000 points
SELECT crm.points_balance(1, 'club') AS ada_balance,
	   (SELECT array_agg(l.points ORDER BY l.entry_id) FROM crm.loyalty_ledger l
		 WHERE l.client_id = 1 AND l.kind = 'redeem') AS ada_redeemed;
-- a client without a loyalty account: the quote has no programme to redeem from
INSERT INTO crm.clients (client_id, kind, first_name) VALUES (3, 'person', 'Cy');
SELECT pg_temp.try($$SELECT crm.record_priced_cart(crm.price_cart(3, '{"points_paid": 100, "lines": [{"product_id": 20, "quantity": 1, "price_list_id": 1}]}', '2026-11-26 09:00+00'))$$) AS no_program;
SELECT pg_temp.try($$SELECT crm.record_priced_cart(crm.price_cart(2, '{"program": "club", "points_paid": 501, "lines": [{"product_id": 20, "quantity": 10, "price_list_id": 1}]}', '2026-11-26 09:00+00'))$$) AS not_enough_points;
CREATE TEMP TABLE with_points AS
SELECT crm.record_priced_cart(crm.price_cart(2, '{"program": "club", "points_paid": 100, "lines": [{"product_id": 20, "quantity": 1, "price_list_id": 1}]}', '2026-11-26 09:00+00')) AS order_id;
SELECT l.kind, l.points, l.idempotency_key = 'crm order ' || w.order_id AS keyed_by_order,
	   l.order_id = w.order_id AS same_order, o.points_paid, crm.points_balance(2, 'club') AS balance
  FROM crm.loyalty_ledger l, with_points w JOIN crm.orders o USING (order_id)
 WHERE l.client_id = 2 AND l.kind = 'redeem';
SELECT count(*) AS orders_of_bob_with_points FROM crm.orders WHERE client_id = 2 AND points_paid > 0;

-- nothing of the refused calls was written: Bob has the two orders above
SELECT count(*) AS orders_of_bob FROM crm.orders WHERE client_id = 2;

ROLLBACK;
SELECT setval('crm.loyalty_ledger_entry_id_seq', :entry_seq, :'entry_seq_called'::boolean) IS NOT NULL AS ledger_sequence_restored;

SET client_min_messages = warning;
TRUNCATE crm.discount_usage, crm.order_discounts, crm.discount_rules, crm.clients, crm.categories, crm.price_lists CASCADE;
RESET client_min_messages;
