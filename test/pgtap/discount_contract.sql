--
-- The contract of the discount objects: tables and keys, function labels,
-- and the validation trigger.
--
BEGIN;
SELECT plan(22);

SELECT has_table('crm', t, 'table crm.' || t || ' exists')
  FROM unnest(ARRAY['discount_rules', 'order_discounts', 'discount_usage']) t;
SELECT col_is_pk('crm', 'discount_rules', ARRAY['rule_id'], 'discount_rules keyed by rule_id');
SELECT col_is_pk('crm', 'order_discounts', ARRAY['client_id', 'order_id', 'rule_id'], 'order_discounts keyed by client, order, rule');
SELECT col_is_pk('crm', 'discount_usage', ARRAY['client_id', 'rule_id'], 'discount_usage keyed by client, rule');
SELECT fk_ok('crm', 'order_discounts', ARRAY['client_id', 'order_id'], 'crm', 'orders', ARRAY['client_id', 'order_id']);
SELECT fk_ok('crm', 'order_discounts', ARRAY['rule_id'], 'crm', 'discount_rules', ARRAY['rule_id']);
SELECT fk_ok('crm', 'discount_rules', ARRAY['category_id'], 'crm', 'categories', ARRAY['category_id']);
SELECT col_type_is('crm', 'discount_rules', 'valid', 'tstzrange', 'the validity window is a tstzrange');
SELECT col_type_is('crm', 'order_discounts', 'points', 'bigint', 'points are bigint');
SELECT col_type_is('crm', 'order_discounts', 'amount', 'numeric(14,2)', 'amounts are numeric(14,2)');
SELECT has_trigger('crm', 'discount_rules', 'discount_rules_validate', 'rules are validated when written');

SELECT volatility_is('crm', 'price_cart', ARRAY['bigint', 'jsonb', 'timestamp with time zone'], 'stable', 'price_cart is STABLE');
SELECT isnt_strict('crm', 'price_cart', ARRAY['bigint', 'jsonb', 'timestamp with time zone'], 'price_cart is not STRICT: a NULL argument is an error (test/pgtap/contract.sql)');
SELECT function_lang_is('crm', 'price_cart', ARRAY['bigint', 'jsonb', 'timestamp with time zone'], 'c', 'price_cart is written in C');
SELECT is((SELECT proparallel::text FROM pg_proc WHERE oid = 'crm.price_cart(bigint, jsonb, timestamptz)'::regprocedure),
		  's', 'price_cart is PARALLEL SAFE');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'crm.price_cart(bigint, jsonb, timestamptz)'::regprocedure),
		  ARRAY['search_path=pg_catalog, crm, pg_temp'], 'price_cart runs with a fixed search_path');
SELECT volatility_is('crm', 'record_priced_cart', ARRAY['jsonb', 'text', 'text', 'text'], 'volatile', 'record_priced_cart is VOLATILE');
SELECT is((SELECT proparallel::text FROM pg_proc WHERE oid = 'crm.record_priced_cart(jsonb, text, text, text)'::regprocedure),
		  'u', 'record_priced_cart is PARALLEL UNSAFE (it writes)');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'crm.record_priced_cart(jsonb, text, text, text)'::regprocedure),
		  false, 'record_priced_cart is not SECURITY DEFINER');

-- the default of at is now(): a cart priced without a moment uses the transaction's
INSERT INTO crm.clients (client_id, kind, first_name) VALUES (77001, 'person', 'Tap');
INSERT INTO crm.categories (category_id, name) VALUES (77001, 'Tap goods');
INSERT INTO crm.products (product_id, sku, name, category_id) VALUES (77001, 'TAP-1', 'Tap', 77001);
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES (77001, 'TAP', 'Tap', 'retail');
INSERT INTO crm.prices VALUES (77001, 77001, 3.00);
SELECT is((crm.price_cart(77001, '[{"product_id": 77001, "quantity": 1, "price_list_id": 77001}]') ->> 'at')::timestamptz,
		  now(), 'at defaults to now()');

SELECT * FROM finish();
ROLLBACK;
