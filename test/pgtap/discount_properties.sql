--
-- Properties of crm.price_cart on random carts against random rules:
-- the lines' discounts sum to the order's discount, no line goes below zero,
-- every order rule's amount is the sum of its allocations, caps hold, and
-- the answer depends neither on the order of the cart's lines nor on the
-- order of the rules' rows.
--
BEGIN;
SELECT plan(14);

SELECT setseed(0.20261125);

-- a catalogue: a category tree of 12 nodes, 40 products, 3 price lists
INSERT INTO crm.categories (category_id, parent_id, name)
SELECT g, CASE WHEN g <= 3 THEN NULL ELSE 1 + (g - 1) / 3 END, 'category ' || g
  FROM generate_series(1, 12) g;
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost)
SELECT g, 'P-' || g, 'product ' || g, 1 + (g % 12), round((random() * 40)::numeric, 2)
  FROM generate_series(1, 40) g;
INSERT INTO crm.price_lists (price_list_id, code, name, kind)
VALUES (1, 'L1', 'retail', 'retail'), (2, 'L2', 'promo', 'promotional'), (3, 'L3', 'partner', 'partner');
INSERT INTO crm.prices (price_list_id, product_id, price)
SELECT l, p, round((0.01 + random() * random() * 300)::numeric, 2)
  FROM generate_series(1, 3) l, generate_series(1, 40) p
 WHERE random() < 0.8;
INSERT INTO crm.clients (client_id, kind, first_name)
SELECT g, 'person', 'client ' || g FROM generate_series(1, 5) g;
INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount)
SELECT 1 + g % 5, '2026-01-01'::timestamptz + g * interval '1 day', 'web', a, a
  FROM (SELECT g, round((random() * 400)::numeric, 2) a FROM generate_series(1, 30) g) x;

-- 80 random rules
CREATE TEMP TABLE rule_src AS
SELECT g AS rule_id,
	   'r' || g AS code,
	   (random() * 20)::int - 5 AS rank,
	   CASE WHEN random() < 0.5 THEN 'line' ELSE 'order' END AS level,
	   a AS action,
	   CASE a WHEN 'percent' THEN round((1 + random() * 40)::numeric, (random() * 2)::int)
			  WHEN 'fixed' THEN round((0.5 + random() * 20)::numeric, 2)
			  ELSE NULL END AS value,
	   CASE WHEN random() < 0.3 THEN round((1 + random() * 30)::numeric, 2) END AS cap,
	   CASE WHEN random() < 0.7 THEN 'stack' WHEN random() < 0.5 THEN 'stop' ELSE 'exclusive' END AS stacking,
	   CASE WHEN random() < 0.5 THEN 'original' ELSE 'remaining' END AS base,
	   CASE WHEN random() < 0.15 THEN 1 + (random() * 4)::int END AS client_id,
	   CASE WHEN random() < 0.2 THEN 1 + (random() * 2)::int END AS price_list_id,
	   CASE WHEN random() < 0.4 THEN 1 + (random() * 11)::int END AS category_id,
	   CASE WHEN random() < 0.8 THEN tstzrange(NULL, NULL)
			WHEN random() < 0.5 THEN tstzrange('2026-01-01', '2026-06-01')
			ELSE tstzrange('2026-11-01', '2026-12-01') END AS valid,
	   CASE WHEN random() < 0.2 THEN round((random() * 200)::numeric, 2) END AS min_order_amount,
	   CASE WHEN random() < 0.1 THEN round((random() * 1000)::numeric, 2) END AS min_turnover
  FROM (SELECT g, CASE WHEN random() < 0.6 THEN 'percent' ELSE 'fixed' END AS a
		  FROM generate_series(1, 80) g) x;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, cap, stacking, base,
								client_id, price_list_id, category_id, valid, min_order_amount, min_turnover)
SELECT rule_id, code, code, rank, level, action, value, cap, stacking, base,
	   client_id, price_list_id, category_id, valid, min_order_amount, min_turnover
  FROM rule_src ORDER BY rule_id;
INSERT INTO crm.discount_rules (rule_id, code, name, action, value, category_id) VALUES
	(81, 'cb5', 'cashback 5', 'cashback', 5, NULL), (82, 'cb2', 'cashback 2', 'cashback', 2, 3),
	(83, 'share50', 'half', 'points_share', 50, NULL), (84, 'mult2', 'x2', 'points_multiplier', 2, NULL);
-- client 5 also has a large exclusive level, so that exclusive rules win somewhere
INSERT INTO crm.discount_rules (rule_id, code, name, level, action, value, stacking, client_id) VALUES
	(85, 'vip-excl', 'client 5: 85 % alone', 'order', 'percent', 85, 'exclusive', 5);

-- 300 random carts of 1 to 10 lines; quantities with up to 3 decimals
CREATE TEMP TABLE carts AS
SELECT c AS cart_id, 1 + (random() * 4)::int AS client_id,
	   '2026-11-25 10:00+00'::timestamptz + (random() * 30 - 15) * interval '1 day' AS at,
	   (SELECT jsonb_agg(jsonb_build_object('product_id', p.product_id, 'price_list_id', p.price_list_id,
											'quantity', round((0.001 + random() * 5)::numeric, (random() * 3)::int) + 1))
		  FROM (SELECT product_id, price_list_id FROM crm.prices
				 WHERE c > 0 ORDER BY random() LIMIT 1 + (random() * 9)::int) p) AS lines
  FROM generate_series(1, 300) c;
CREATE TEMP TABLE quotes AS
SELECT cart_id, client_id, at, lines, crm.price_cart(client_id, jsonb_build_object('lines', lines), at) AS q
  FROM carts;

SELECT ok((SELECT count(*) FROM quotes WHERE (q #>> '{totals,discount}')::numeric > 0) > 150,
		  'most random carts get a discount (the properties below are not vacuous)');
SELECT ok((SELECT count(DISTINCT r ->> 'stacking') FROM quotes, jsonb_array_elements(q -> 'rules') r
			WHERE r ->> 'status' = 'applied') = 3
		  AND (SELECT count(*) FROM quotes, jsonb_array_elements(q -> 'rules') r
				WHERE r ->> 'reason' LIKE 'exclusive: alone%') > 0,
		  'stack, stop and exclusive rules all apply somewhere, and exclusive rules also lose somewhere');

SELECT is_empty($$
	SELECT cart_id FROM quotes
	 WHERE (q #>> '{totals,discount}')::numeric
		   <> (SELECT sum((l ->> 'discount')::numeric) FROM jsonb_array_elements(q -> 'lines') l)$$,
	'the lines'' discounts sum to the order''s discount');

SELECT is_empty($$
	SELECT cart_id FROM quotes
	 WHERE (q #>> '{totals,discount}')::numeric
		   <> (SELECT coalesce(sum((r ->> 'amount')::numeric), 0) FROM jsonb_array_elements(q -> 'rules') r
				WHERE r ->> 'status' = 'applied' AND r ? 'amount')$$,
	'the applied rules'' amounts sum to the order''s discount');

SELECT is_empty($$
	SELECT cart_id, r ->> 'code' FROM quotes, jsonb_array_elements(q -> 'rules') r
	 WHERE r ->> 'status' = 'applied' AND r ? 'amount'
	   AND (r ->> 'amount')::numeric
		   <> (SELECT coalesce(sum((d ->> 'amount')::numeric), 0)
				 FROM jsonb_array_elements(q -> 'lines') l, jsonb_array_elements(l -> 'discounts') d
				WHERE d -> 'rule_id' = r -> 'rule_id')$$,
	'every rule''s amount is the sum of its amounts on the lines (order rules allocated exactly)');

SELECT is_empty($$
	SELECT cart_id, l ->> 'line' FROM quotes, jsonb_array_elements(q -> 'lines') l
	 WHERE (l ->> 'net')::numeric < 0
		OR (l ->> 'discount')::numeric < 0
		OR (l ->> 'net')::numeric <> (l ->> 'gross')::numeric - (l ->> 'discount')::numeric
		OR (l ->> 'discount')::numeric
		   <> (SELECT coalesce(sum((d ->> 'amount')::numeric), 0) FROM jsonb_array_elements(l -> 'discounts') d)$$,
	'no line goes below zero; net = gross - discount; a line''s discount is the sum of its rules');

SELECT is_empty($$
	SELECT cart_id, r ->> 'code' FROM quotes, jsonb_array_elements(q -> 'rules') r
	  JOIN crm.discount_rules d ON d.rule_id = (r ->> 'rule_id')::bigint
	 WHERE r ->> 'status' = 'applied' AND d.cap IS NOT NULL AND (r ->> 'amount')::numeric > d.cap$$,
	'no rule gives more than its cap');

SELECT is_empty($$
	SELECT cart_id FROM quotes, jsonb_array_elements(q -> 'rules') r
	  JOIN crm.discount_rules d ON d.rule_id = (r ->> 'rule_id')::bigint
	 WHERE r ->> 'status' = 'applied' AND d.stacking = 'exclusive'
	   AND EXISTS (SELECT 1 FROM jsonb_array_elements(q -> 'rules') o
				   WHERE o ->> 'status' = 'applied' AND o ? 'amount' AND o -> 'rule_id' <> r -> 'rule_id')$$,
	'an exclusive rule that applies applies alone');

SELECT is_empty($$
	SELECT cart_id FROM quotes, jsonb_array_elements(q -> 'rules') r
	  JOIN crm.discount_rules d ON d.rule_id = (r ->> 'rule_id')::bigint
	 WHERE r ->> 'status' = 'applied' AND NOT d.valid @> quotes.at$$,
	'no rule outside its validity window applies');

SELECT is_empty($$
	SELECT cart_id FROM quotes
	 WHERE (SELECT array_agg((r ->> 'rule_id')::bigint ORDER BY n)
			  FROM jsonb_array_elements(q -> 'rules') WITH ORDINALITY x(r, n))
		   <> (SELECT array_agg(d.rule_id ORDER BY CASE WHEN d.action NOT IN ('percent', 'fixed') THEN 2
														WHEN d.level = 'order' THEN 1 ELSE 0 END,
											   d.rank, d.rule_id)
				 FROM crm.discount_rules d
				WHERE d.active AND (d.client_id IS NULL OR d.client_id = quotes.client_id))$$,
	'every active rule of the client is explained, in order: line rules, order rules, bonus rules; rank; rule id');

SELECT is_empty($$
	SELECT cart_id FROM quotes
	 WHERE q <> crm.price_cart(client_id, jsonb_build_object('lines', lines), at)$$,
	'the same call gives the same answer');

-- the cart's lines reversed and shuffled: same totals, same (line content, discount) multiset
CREATE TEMP TABLE shuffled AS
SELECT cart_id, q,
	   crm.price_cart(client_id,
					  jsonb_build_object('lines', (SELECT jsonb_agg(e ORDER BY md5(e::text || cart_id)) FROM jsonb_array_elements(lines) e)),
					  at) AS s
  FROM quotes;
SELECT is_empty($$
	SELECT cart_id FROM shuffled
	 WHERE q -> 'totals' <> s -> 'totals'
		OR (SELECT array_agg(x ORDER BY x) FROM jsonb_array_elements(q -> 'lines') l,
				   format('%s/%s/%s/%s', l ->> 'product_id', l ->> 'price_list_id', l ->> 'quantity', l ->> 'discount') x)
		   <> (SELECT array_agg(x ORDER BY x) FROM jsonb_array_elements(s -> 'lines') l,
				   format('%s/%s/%s/%s', l ->> 'product_id', l ->> 'price_list_id', l ->> 'quantity', l ->> 'discount') x)
		OR (SELECT jsonb_agg(r - 'lines') FROM jsonb_array_elements(q -> 'rules') r)
		   <> (SELECT jsonb_agg(r - 'lines') FROM jsonb_array_elements(s -> 'rules') r)$$,
	'the answer does not depend on the order of the cart''s lines');

-- the rules' rows written again in another physical order: the same answers
CREATE TEMP TABLE all_rules AS SELECT * FROM crm.discount_rules;
DELETE FROM crm.discount_rules;
INSERT INTO crm.discount_rules SELECT * FROM all_rules ORDER BY md5(code) DESC;
SELECT isnt((SELECT array_agg(rule_id) FROM (SELECT rule_id FROM crm.discount_rules LIMIT 10) x),
			(SELECT array_agg(rule_id) FROM (SELECT rule_id FROM all_rules LIMIT 10) x),
			'the rules'' rows are now in another order');
SELECT is_empty($$
	SELECT cart_id FROM quotes
	 WHERE q <> crm.price_cart(client_id, jsonb_build_object('lines', lines), at)$$,
	'the answer does not depend on the order of the rules'' rows');

SELECT * FROM finish();
ROLLBACK;
