--
-- crm.price_cart: every rule kind, stacking, stop and exclusion, caps,
-- windows, ties, rounding and allocation, bonus rules, and every error.
-- Each case runs in a transaction that is rolled back, so its rules do not
-- leak into the next case.
--
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

\i sql/include/try.sql

-- show(quote): the quote as lines of text: totals, each rule, each line
CREATE FUNCTION pg_temp.show(q jsonb) RETURNS SETOF text
LANGUAGE sql AS $$
	SELECT format('totals: gross %s discount %s net %s points_earned %s max_points %s',
				  q #>> '{totals,gross}', q #>> '{totals,discount}', q #>> '{totals,net}',
				  q #>> '{totals,points_earned}', q #>> '{totals,max_points_payable}')
	UNION ALL
	(SELECT format('rule %s: %s', r ->> 'code',
				   CASE r ->> 'status'
				   WHEN 'applied' THEN 'applied ' || coalesce(r ->> 'amount', (r ->> 'points') || ' points')
						|| CASE WHEN r ? 'capped' THEN ' (capped)' ELSE '' END
						|| coalesce(' lines ' || (r ->> 'lines'), '')
				   ELSE 'skipped: ' || (r ->> 'reason') END)
	   FROM jsonb_array_elements(q -> 'rules') WITH ORDINALITY AS x(r, n) ORDER BY n)
	UNION ALL
	(SELECT format('line %s: gross %s discount %s net %s%s%s', l ->> 'line', l ->> 'gross',
				   l ->> 'discount', l ->> 'net',
				   (SELECT ' [' || string_agg(format('%s %s', d ->> 'code', d ->> 'amount'), ', ') || ']'
					  FROM jsonb_array_elements(l -> 'discounts') d),
				   (SELECT ' {' || string_agg(format('%s: %s', s ->> 'code', s ->> 'reason'), '; ') || '}'
					  FROM jsonb_array_elements(l -> 'skipped') s))
	   FROM jsonb_array_elements(q -> 'lines') WITH ORDINALITY AS x(l, n) ORDER BY n)
$$;

-- price(client, cart, at): show(crm.price_cart(...))
CREATE FUNCTION pg_temp.price(client bigint, cart jsonb, at timestamptz DEFAULT '2026-11-25 10:00+00')
RETURNS SETOF text LANGUAGE sql AS $$
	SELECT pg_temp.show(crm.price_cart(client, cart, at))
$$;

-- a catalogue: Shoes > Running > Trail, and Books
INSERT INTO crm.clients (client_id, kind, first_name, last_name) VALUES
	(1, 'person', 'Ada', 'Lovelace'), (2, 'person', 'Bob', 'Babbage'), (3, 'person', 'Cy', 'Clarke');
INSERT INTO crm.categories (category_id, parent_id, name) VALUES
	(1, NULL, 'Shoes'), (2, 1, 'Running'), (3, 2, 'Trail'), (4, NULL, 'Books');
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost) VALUES
	(10, 'TR-1', 'Trail runner', 3, 40), (11, 'RN-1', 'Road runner', 2, 30),
	(12, 'SH-1', 'Loafer', 1, 20), (20, 'BK-1', 'Novel', 4, 5), (21, 'BK-2', 'Atlas', 4, 9),
	(22, 'BK-3', 'Bookmark', 4, 0), (23, 'BK-4', 'Notebook', 4, 2), (25, 'BK-5', 'Box set', 4, 4);
INSERT INTO crm.price_lists (price_list_id, code, name, kind, currency, valid) VALUES
	(1, 'RETAIL', 'Retail', 'retail', 'EUR', '(,)'),
	(2, 'PROMO', 'January promotion', 'promotional', 'EUR', '[2026-01-01,2026-02-01)'),
	(3, 'US', 'US retail', 'retail', 'USD', '(,)'),
	(4, 'STAFF', 'Staff', 'staff', 'EUR', '(,)');
INSERT INTO crm.prices VALUES
	(1, 10, 99.90), (1, 11, 79.00), (1, 12, 49.99), (1, 20, 10.00), (1, 21, 33.33),
	(1, 22, 0.01), (1, 23, 6.30), (1, 25, 11.00),
	(2, 10, 89.90), (3, 10, 109.00), (4, 10, 70.00), (4, 20, 8.00);
-- turnover to date: Ada 300.00 (her cancelled order does not count), Bob 950.00,
-- Cy nothing; an order after the moment priced does not count either
-- Bob's December order may lie ahead of the clock: the tolerance is raised for it
SET crm.future_tolerance = '3650d';
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, discount_amount, net_amount) VALUES
	(1, '2026-01-10', 'web', 'paid', 300, 0, 300),
	(1, '2026-03-10', 'web', 'cancelled', 900, 0, 900),
	(2, '2026-02-10', 'store', 'placed', 950, 0, 950),
	(2, '2026-12-24', 'store', 'paid', 5000, 0, 5000);
RESET crm.future_tolerance;

-- a cart: two trail runners and a novel, all on the retail list
\set cart '{"lines": [{"product_id": 10, "quantity": 2, "price_list_id": 1}, {"product_id": 20, "quantity": 1, "price_list_id": 1}]}'

-- no rules: the plain prices
SELECT pg_temp.price(1, :'cart');

-- 1. a per-client discount level: Ada has 10 % on shoes (a category covers
-- its sub-categories: the trail runner is in Shoes > Running > Trail) on the
-- retail list in November 2026; Bob does not see Ada's rule at all
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, client_id, price_list_id, category_id, valid)
VALUES (1, 'ada-shoes', 'Ada: 10 % on shoes', 10, 'percent', 10, 1, 1, 1, '[2026-11-01,2026-12-01)');
SELECT pg_temp.price(1, :'cart');
SELECT pg_temp.price(2, :'cart');
-- the window: lower bound included, upper bound excluded
SELECT pg_temp.price(1, :'cart', '2026-11-01 00:00+00') AS first_moment;
SELECT pg_temp.price(1, :'cart', '2026-12-01 00:00+00') AS ended;
SELECT pg_temp.price(1, :'cart', '2026-10-31 23:59:59+00') AS not_started;
-- a rule on Running covers the trail runner (sub-category) but not a loafer (parent)
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id)
VALUES (2, 'running', 'running shoes 5 %', 20, 'percent', 5, 2);
SELECT pg_temp.price(3, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}, {"product_id": 12, "quantity": 1, "price_list_id": 1}]');
-- a rule limited to another price list, and to a category the cart does not touch
INSERT INTO crm.discount_rules (rule_id, code, name, action, value, price_list_id)
VALUES (3, 'staff', 'staff list 30 %', 'percent', 30, 4);
INSERT INTO crm.discount_rules (rule_id, code, name, action, value, price_list_id, category_id)
VALUES (4, 'staff-books', 'staff books', 'percent', 30, 4, 4);
SELECT pg_temp.price(3, '[{"product_id": 12, "quantity": 1, "price_list_id": 1}]');
-- an inactive rule is not read at all
UPDATE crm.discount_rules SET active = false WHERE rule_id IN (2, 3, 4);
SELECT pg_temp.price(3, '[{"product_id": 12, "quantity": 1, "price_list_id": 1}]');
ROLLBACK;

-- 2. automatic discounts: by order amount, by turnover to date, by crossing
-- a threshold; amounts are the gross of the lines the rule covers
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, min_order_amount)
VALUES (1, 'over-100', '5.00 off orders from 100.00', 10, 'order', 'fixed', 5, 100);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, category_id, min_order_amount)
VALUES (2, 'books-over-20', '10 % off books from 20.00 of books', 20, 'order', 'percent', 10, 4, 20);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, min_turnover)
VALUES (3, 'regular', '3 % for a turnover from 500.00', 30, 'percent', 3, 500);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, crossing_threshold)
VALUES (4, 'crossing-1000', '20.00 off the order that takes turnover to 1000.00', 40, 'order', 'fixed', 20, 1000);
-- Ada: turnover 300.00 (the cancelled order does not count)
SELECT pg_temp.price(1, :'cart');
-- Bob: turnover 950.00 (his December order is after the moment priced)
SELECT pg_temp.price(2, :'cart');
-- Bob after his December order: the threshold was already crossed
SELECT pg_temp.price(2, :'cart', '2026-12-31 00:00+00');
-- exactly at the threshold: Bob buying 50.00 reaches 1000.00
SELECT pg_temp.price(2, '[{"product_id": 20, "quantity": 5, "price_list_id": 1}]');
ROLLBACK;

-- 3. segment and tier conditions: text, against what the cart gives (for
-- tiers, what the client's loyalty accounts say when the cart gives none)
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, segment)
VALUES (1, 'champions', 'Champions 7 %', 10, 'percent', 7, 'Champions');
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, tier)
VALUES (2, 'gold', 'gold tier 4 %', 20, 'percent', 4, 'gold');
-- no segment given; Ada has no loyalty account yet
SELECT pg_temp.price(1, :'cart');
SELECT pg_temp.price(1, '{"segment": "Champions", "tier": "gold", "lines": [{"product_id": 20, "quantity": 1, "price_list_id": 1}]}');
SELECT pg_temp.price(1, '{"segment": "At risk", "tier": "silver", "lines": [{"product_id": 20, "quantity": 1, "price_list_id": 1}]}');
-- Ada is silver in the club and gold with the partners; Bob is in the club without a tier
INSERT INTO crm.loyalty_programs (program_id, code, name, points_per_unit)
VALUES (1, 'club', 'Club', 1), (2, 'partners', 'Partners', 1);
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold)
VALUES (1, 'silver', 'Silver', 0), (2, 'gold', 'Gold', 0);
INSERT INTO crm.loyalty_accounts (client_id, program_id, tier_code)
VALUES (1, 1, 'silver'), (1, 2, 'gold'), (2, 1, NULL);
SELECT crm.price_cart(1, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}]', '2026-11-25 10:00+00') -> 'tiers' AS ada_tiers;
SELECT pg_temp.price(1, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}]');
SELECT pg_temp.price(2, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}]');
-- a cart that names a loyalty programme uses the tier in that programme
SELECT crm.price_cart(1, '{"program": "club", "lines": [{"product_id": 20, "quantity": 1, "price_list_id": 1}]}', '2026-11-25 10:00+00') -> 'tiers' AS ada_tiers_in_club;
SELECT pg_temp.price(1, '{"program": "club", "lines": [{"product_id": 20, "quantity": 1, "price_list_id": 1}]}');
-- a tier given in the cart wins over the accounts
SELECT pg_temp.price(1, '{"tier": "bronze", "lines": [{"product_id": 20, "quantity": 1, "price_list_id": 1}]}');
ROLLBACK;

-- 4. fixed amounts: per unit on a line rule (rounded half up for a
-- fractional quantity), per order on an order rule; never below zero
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id)
VALUES (1, 'shoes-2-off', '2.00 off each pair', 10, 'fixed', 2, 1);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id)
VALUES (2, 'books-0.99-off', '0.99 off per unit', 20, 'fixed', 0.99, 4);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id)
VALUES (3, 'books-20-off', '20.00 off per unit', 30, 'fixed', 20, 4);
SELECT pg_temp.price(3, '[{"product_id": 10, "quantity": 2, "price_list_id": 1}, {"product_id": 21, "quantity": 1.5, "price_list_id": 1}]');
ROLLBACK;
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, level, action, value)
VALUES (1, 'hundred-off', '100.00 off', 'order', 'fixed', 100);
SELECT pg_temp.price(3, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}, {"product_id": 21, "quantity": 2, "price_list_id": 1}]');
ROLLBACK;

-- 5. caps: a line rule's cap limits its total over the order, allocated
-- back to the lines by largest remainder; an order rule's amount is capped
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, cap, category_id)
VALUES (1, 'books-half', 'half price books, at most 10.00', 10, 'percent', 50, 10, 4);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, cap)
VALUES (2, 'order-20', '20 % of the order, at most 15.00', 20, 'order', 'percent', 20, 15);
SELECT pg_temp.price(3, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}, {"product_id": 21, "quantity": 1, "price_list_id": 1}, {"product_id": 10, "quantity": 1, "price_list_id": 1}]');
ROLLBACK;

-- 6. order and base: "10.00 off, then 50 %" is not "50 %, then 10.00 off"
-- when the second takes what the first left (nopCommerce#22, Magento#39448);
-- rank decides, lower first; with base original the order does not matter
\set hundred '[{"product_id": 20, "quantity": 10, "price_list_id": 1}]'
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value)
VALUES (1, 'ten-off', '10.00 off', 10, 'order', 'fixed', 10),
	   (2, 'half', '50 %', 20, 'order', 'percent', 50);
SELECT pg_temp.price(3, :'hundred') AS fixed_first;
UPDATE crm.discount_rules SET rank = 5 WHERE rule_id = 2;
SELECT pg_temp.price(3, :'hundred') AS percent_first;
UPDATE crm.discount_rules SET base = 'original';
SELECT pg_temp.price(3, :'hundred') AS original_base_percent_first;
UPDATE crm.discount_rules SET rank = 30 WHERE rule_id = 2;
SELECT pg_temp.price(3, :'hundred') AS original_base_fixed_first;
-- rank may be negative: lower is earlier
UPDATE crm.discount_rules SET rank = -1, base = 'remaining' WHERE rule_id = 2;
SELECT pg_temp.price(3, :'hundred') AS negative_rank_first;
ROLLBACK;

-- an order rule with base original after a line rule: 10 % of the original
-- 109.90 is 10.99, allocated over what the lines still cost (5.00 and 99.90)
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id)
VALUES (3, 'books-half', 'books half price', 10, 'percent', 50, 4);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, base)
VALUES (4, 'order-10-original', '10 % of the original order', 10, 'order', 'percent', 10, 'original');
SELECT pg_temp.price(3, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}, {"product_id": 10, "quantity": 1, "price_list_id": 1}]');
ROLLBACK;

-- 7. ties: equal ranks go in rule_id order, never in table order; here the
-- higher id is written first, and the stop rule with the lower id wins
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, stacking)
VALUES (200, 'twenty', '20 %', 10, 'percent', 20, 'stack');
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, stacking)
VALUES (100, 'ten-stop', '10 %, then stop', 10, 'percent', 10, 'stop');
SELECT pg_temp.price(3, :'hundred');
ROLLBACK;

-- 8. stop holds only the lines of the stop rule (Magento#35707): later line
-- and order rules still apply to the other lines
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id, stacking)
VALUES (1, 'shoes-final', 'shoes 30 %, nothing more', 10, 'percent', 30, 1, 'stop');
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value)
VALUES (2, 'all-5', 'everything 5 %', 20, 'percent', 5);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value)
VALUES (3, 'order-3-off', '3.00 off the order', 10, 'order', 'fixed', 3);
SELECT pg_temp.price(3, :'cart');
-- a stop rule whose window has ended holds nothing (Magento#36382)
UPDATE crm.discount_rules SET valid = '[2026-01-01,2026-02-01)' WHERE rule_id = 1;
SELECT pg_temp.price(3, :'cart');
ROLLBACK;

-- 9. exclusive: alone or not at all; the best exclusive rule replaces the
-- stack only when it gives strictly more than the stack
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id)
VALUES (1, 'shoes-10', 'shoes 10 %', 10, 'percent', 10, 1);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value)
VALUES (2, 'order-5-off', '5.00 off', 10, 'order', 'fixed', 5);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, stacking)
VALUES (3, 'flash-12', 'flash sale 12 %, not combinable', 50, 'order', 'percent', 12, 'exclusive');
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id, stacking)
VALUES (4, 'shoes-15', 'shoes 15 %, not combinable', 60, 'percent', 15, 1, 'exclusive');
-- the stack gives 19.98 + 5.00 = 24.98; flash-12 gives 25.18, shoes-15 29.97
SELECT pg_temp.price(3, :'cart');
-- a bigger stack beats both
UPDATE crm.discount_rules SET value = 20 WHERE rule_id = 2;
SELECT pg_temp.price(3, :'cart');
-- a tie goes to the stack: shoes-10 19.98 + order-5-off 15.00 = 34.98, and
-- shoes-15, now 34.98 off the order, gives exactly as much
UPDATE crm.discount_rules SET value = 34.98, level = 'order', action = 'fixed', category_id = NULL WHERE rule_id = 4;
UPDATE crm.discount_rules SET active = false WHERE rule_id = 3;
UPDATE crm.discount_rules SET value = 15 WHERE rule_id = 2;
SELECT pg_temp.price(3, :'cart');
-- two exclusive rules giving the same: the earlier in evaluation order wins
-- (line rules before order rules, then rank, then rule_id)
UPDATE crm.discount_rules SET active = false WHERE rule_id IN (1, 2);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, stacking)
VALUES (5, 'late-35', '35.00 off, not combinable', 90, 'order', 'fixed', 35, 'exclusive'),
	   (6, 'early-35', '35.00 off, not combinable', 80, 'order', 'fixed', 35, 'exclusive');
SELECT pg_temp.price(3, :'cart');
ROLLBACK;

-- 10. rounding: an order amount is rounded once (half up) and allocated by
-- largest remainder; the lines always sum to the order
BEGIN;
-- 10.00 over three equal lines of 33.33: 3.34 + 3.33 + 3.33, the cent to the first
INSERT INTO crm.discount_rules (rule_id, code, name, level, action, value)
VALUES (1, 'ten-off', '10.00 off', 'order', 'fixed', 10);
SELECT pg_temp.price(3, '[{"product_id": 21, "quantity": 1, "price_list_id": 1}, {"product_id": 21, "quantity": 1, "price_list_id": 1}, {"product_id": 21, "quantity": 1, "price_list_id": 1}]');
ROLLBACK;
BEGIN;
-- 22.00 off 33.00 over three items (EDD#3336): 7.34 + 7.33 + 7.33 = 22.00
INSERT INTO crm.discount_rules (rule_id, code, name, level, action, value)
VALUES (1, 'twenty-two-off', '22.00 off', 'order', 'fixed', 22);
SELECT pg_temp.price(3, '[{"product_id": 25, "quantity": 1, "price_list_id": 1}, {"product_id": 25, "quantity": 1, "price_list_id": 1}, {"product_id": 25, "quantity": 1, "price_list_id": 1}]');
ROLLBACK;
BEGIN;
-- 15 % of 18.90 (PrestaShop#18274): 2.835 rounds once to 2.84 on the order;
-- as a line rule each line rounds on its own: 3 x 0.95 = 2.85
INSERT INTO crm.discount_rules (rule_id, code, name, level, action, value)
VALUES (1, 'order-15', '15 % of the order', 'order', 'percent', 15);
SELECT pg_temp.price(3, '[{"product_id": 23, "quantity": 1, "price_list_id": 1}, {"product_id": 23, "quantity": 1, "price_list_id": 1}, {"product_id": 23, "quantity": 1, "price_list_id": 1}]');
UPDATE crm.discount_rules SET level = 'line';
SELECT pg_temp.price(3, '[{"product_id": 23, "quantity": 1, "price_list_id": 1}, {"product_id": 23, "quantity": 1, "price_list_id": 1}, {"product_id": 23, "quantity": 1, "price_list_id": 1}]');
ROLLBACK;
BEGIN;
-- half a cent rounds up: 50 % of 0.01 is 0.01; 1 % of 0.01 gives 0.00 and is skipped
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value)
VALUES (1, 'one-percent', '1 %', 10, 'percent', 1), (2, 'half', '50 %', 20, 'percent', 50);
SELECT pg_temp.price(3, '[{"product_id": 22, "quantity": 1, "price_list_id": 1}]');
-- once a line is free, later rules find nothing left
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value)
VALUES (3, 'more', '10 % more', 30, 'percent', 10);
SELECT pg_temp.price(3, '[{"product_id": 22, "quantity": 1, "price_list_id": 1}]');
ROLLBACK;
BEGIN;
-- unequal weights: 1.00 over 10.00, 33.33, 99.90 in proportion to each line
-- (0.07 + 0.23 + 0.70), remainders decide the cent
INSERT INTO crm.discount_rules (rule_id, code, name, level, action, value)
VALUES (1, 'one-off', '1.00 off', 'order', 'fixed', 1);
SELECT pg_temp.price(3, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}, {"product_id": 21, "quantity": 1, "price_list_id": 1}, {"product_id": 10, "quantity": 1, "price_list_id": 1}]');
-- the same lines in another order get the same amounts
SELECT pg_temp.price(3, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}, {"product_id": 20, "quantity": 1, "price_list_id": 1}, {"product_id": 21, "quantity": 1, "price_list_id": 1}]');
ROLLBACK;

-- 11. bonus rules: cashback (points, rounded down), the largest multiplier,
-- the share of the order payable with points
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value)
VALUES (1, 'order-10', '10 % of the order', 10, 'order', 'percent', 10);
INSERT INTO crm.discount_rules (rule_id, code, name, action, value)
VALUES (2, 'cashback-5', '5 % cashback', 'cashback', 5),
	   (3, 'half-with-points', 'pay up to half with points', 'points_share', 50),
	   (4, 'third-with-points', 'pay up to a third with points', 'points_share', 33.3333);
INSERT INTO crm.discount_rules (rule_id, code, name, action, value, category_id)
VALUES (5, 'books-cashback', '2 % more on books', 'cashback', 2, 4);
INSERT INTO crm.discount_rules (rule_id, code, name, action, value, tier)
VALUES (6, 'gold-double', 'double points for gold', 'points_multiplier', 2, 'gold');
INSERT INTO crm.discount_rules (rule_id, code, name, action, value)
VALUES (7, 'everyone-1.5', 'points x1.5', 'points_multiplier', 1.5);
-- net 188.82: 5 % is 9.441 -> 944 points, books 2 % of 9.00 -> 18; x1.5 -> 1416 + 27
SELECT pg_temp.price(1, :'cart');
-- gold: x2
SELECT pg_temp.price(1, jsonb_build_object('tier', 'gold', 'lines', :'cart'::jsonb -> 'lines'));
-- paying 1000 points (10.00) takes 10.00 off what earns cashback, in proportion
SELECT pg_temp.price(1, jsonb_build_object('points_paid', 1000, 'lines', :'cart'::jsonb -> 'lines'));
-- at most half of 188.82 = 94.41 -> 9441 points; one more is an error
SELECT crm.price_cart(1, jsonb_build_object('points_paid', 9441, 'lines', :'cart'::jsonb -> 'lines'), '2026-11-25 10:00+00') #> '{totals,points_paid}' AS all_allowed;
SELECT pg_temp.try(format('SELECT crm.price_cart(1, %L, %L)', jsonb_build_object('points_paid', 9442, 'lines', :'cart'::jsonb -> 'lines'), '2026-11-25 10:00+00')) AS one_too_many;
-- a point worth 0.05: 94.41 / 0.05 = 1888.2 -> 1888 points
UPDATE crm.discount_rules SET point_value = 0.05 WHERE rule_id = 3;
SELECT crm.price_cart(1, :'cart', '2026-11-25 10:00+00') #> '{totals,max_points_payable}' AS points_worth_5_cents;
-- no points_share rule: nothing may be paid with points
UPDATE crm.discount_rules SET active = false WHERE action = 'points_share';
SELECT pg_temp.try(format('SELECT crm.price_cart(1, %L, %L)', jsonb_build_object('points_paid', 1, 'lines', :'cart'::jsonb -> 'lines'), '2026-11-25 10:00+00')) AS no_share_rule;
-- a tiny order earns nothing, and the multiplier has nothing to multiply
SELECT pg_temp.price(1, '[{"product_id": 22, "quantity": 1, "price_list_id": 1}]');
ROLLBACK;

-- 12. uses per client: a rule used up by this client is skipped
BEGIN;
INSERT INTO crm.discount_rules (rule_id, code, name, action, value, uses_per_client)
VALUES (1, 'welcome', 'welcome 15 %, once', 'percent', 15, 1);
INSERT INTO crm.discount_usage (client_id, rule_id, uses) VALUES (1, 1, 1);
SELECT pg_temp.price(1, :'cart');
SELECT pg_temp.price(2, :'cart');
ROLLBACK;

-- 13. deterministic: the same call gives the same answer; the answer carries
-- the cart, the client and the moment
SELECT crm.price_cart(1, :'cart', '2026-11-25 10:00+00') = crm.price_cart(1, :'cart', '2026-11-25 10:00+00') AS same,
	   crm.price_cart(1, :'cart', '2026-11-25 10:00+00') -> 'at' AS at,
	   crm.price_cart(1, :'cart', '2026-11-25 10:00+00') -> 'cart' = :'cart'::jsonb AS cart_kept;
-- quantities with decimals, ids as strings
SELECT pg_temp.price(3, '[{"product_id": "21", "quantity": "1.500", "price_list_id": "1"}, {"product_id": 20, "quantity": 0.001, "price_list_id": 1}]');
-- a NULL argument is an error naming it (22004)
SELECT crm.price_cart(NULL, :'cart', now());
SELECT crm.price_cart(1, NULL, now());
SELECT crm.price_cart(1, :'cart', NULL);

-- 14. malformed carts: an error naming the line and the field
SELECT c AS cart, pg_temp.try(format('SELECT crm.price_cart(1, %L, %L)', c, '2026-11-25 10:00+00')) AS error
  FROM (VALUES
	('42'),
	('"lines"'),
	('{}'),
	('{"lines": {}}'),
	('{"lines": []}'),
	('{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "coupon": "X"}'),
	('{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "segment": 5}'),
	('{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "program": 7}'),
	('{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "points_paid": -5}'),
	('{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}], "points_paid": "many"}'),
	('[{"product_id": 10, "quantity": 1, "price_list_id": 1}, 7]'),
	('[{"product_id": 10, "quantity": 1, "price_list_id": 1}, {"quantity": 1, "price_list_id": 1}]'),
	('[{"product_id": 10, "price_list_id": 1}]'),
	('[{"product_id": 10, "quantity": 1}]'),
	('[{"product_id": null, "quantity": 1, "price_list_id": 1}]'),
	('[{"product_id": "abc", "quantity": 1, "price_list_id": 1}]'),
	('[{"product_id": 10.5, "quantity": 1, "price_list_id": 1}]'),
	('[{"product_id": [10], "quantity": 1, "price_list_id": 1}]'),
	('[{"product_id": 10, "quantity": -1, "price_list_id": 1}]'),
	('[{"product_id": 10, "quantity": 0, "price_list_id": 1}]'),
	('[{"product_id": 10, "quantity": "two", "price_list_id": 1}]'),
	('[{"product_id": 10, "quantity": 1.2345, "price_list_id": 1}]'),
	('[{"product_id": 10, "quantity": 1e12, "price_list_id": 1}]'),
	('[{"product_id": 10, "quantity": true, "price_list_id": 1}]'),
	('[{"product_id": 10, "quantity": 1, "price_list_id": 99999999999}]'),
	('[{"product_id": 10, "quantity": 1, "price_list_id": 1, "price": 1}]'),
	('[{"product_id": 10, "quantity": 1, "price_list_id": 1}, {"product_id": 999, "quantity": 1, "price_list_id": 1}]'),
	('[{"product_id": 10, "quantity": 1, "price_list_id": 9}]'),
	('[{"product_id": 10, "quantity": 1, "price_list_id": 2}]'),
	('[{"product_id": 11, "quantity": 1, "price_list_id": 4}]'),
	('[{"product_id": 10, "quantity": 1, "price_list_id": 1}, {"product_id": 10, "quantity": 1, "price_list_id": 3}]')
  ) AS v(c);
-- amounts beyond numeric(14,2): a line, and a cart of lines each within range
INSERT INTO crm.products (product_id, sku, name, category_id) VALUES (99, 'GOLD', 'Gold bar', 4);
INSERT INTO crm.prices VALUES (1, 99, 9999999999.99);
SELECT pg_temp.try($$SELECT crm.price_cart(3, '[{"product_id": 99, "quantity": 100000, "price_list_id": 1}]', now())$$) AS line_too_large,
	   pg_temp.try($$SELECT crm.price_cart(3, '[{"product_id": 99, "quantity": 60, "price_list_id": 1}, {"product_id": 99, "quantity": 50, "price_list_id": 1}]', now())$$) AS cart_too_large;
-- the promotional list is valid in January 2026
SELECT crm.price_cart(3, '[{"product_id": 10, "quantity": 1, "price_list_id": 2}]', '2026-01-15') #>> '{totals,net}' AS promo_price;
-- an unknown client
SELECT pg_temp.try($$SELECT crm.price_cart(42, '[{"product_id": 10, "quantity": 1, "price_list_id": 1}]', now())$$) AS unknown_client;

SET client_min_messages = warning;
TRUNCATE crm.discount_usage, crm.order_discounts, crm.discount_rules, crm.clients, crm.categories, crm.price_lists CASCADE;
RESET client_min_messages;
