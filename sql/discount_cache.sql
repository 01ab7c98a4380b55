--
-- crm.price_cart's cache (src/discount_cache.c): the general rules and the
-- category tree kept per backend, read again when crm.pricing_version
-- changes.  Every answer with the cache is compared with the answer
-- without it (crm.price_cart_cache = off: the rules read by query), after
-- changes committed, made in the same transaction, rolled back, rolled
-- back to a savepoint, of the category tree, of validity windows on their
-- bounds, and as roles under row security; crm.fast_path_stats() shows
-- which path each call took.  (Another session's changes, under READ
-- COMMITTED and REPEATABLE READ: test/isolation/specs/discount_cache.spec.)
--
SET TimeZone = 'UTC';
-- crm.fast_path_stats() counts this backend's calls: none in parallel workers
-- (also when the suite runs with debug_parallel_query)
SET max_parallel_workers_per_gather = 0;
\set SHOW_CONTEXT never

\i sql/include/try.sql

-- same(client, cart, at): the answer with the cache, which must be the
-- answer without it; then its net and the rules that applied
CREATE FUNCTION pg_temp.same(cl bigint, cart jsonb, at timestamptz DEFAULT '2026-11-25 10:00+00')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	cached	jsonb;
	plain	jsonb;
BEGIN
	cached := crm.price_cart(cl, cart, at);
	PERFORM set_config('crm.price_cart_cache', 'off', false);
	plain := crm.price_cart(cl, cart, at);
	PERFORM set_config('crm.price_cart_cache', 'on', false);
	IF cached IS DISTINCT FROM plain THEN
		RETURN 'DIFFERENT: ' || cached::text || ' <> ' || plain::text;
	END IF;
	RETURN format('net %s, applied: %s', cached #>> '{totals,net}',
				  coalesce((SELECT string_agg(r ->> 'code', ' ' ORDER BY n)
							  FROM jsonb_array_elements(cached -> 'rules') WITH ORDINALITY AS x(r, n)
							 WHERE r ->> 'status' = 'applied'), '-'));
END
$$;

-- paths(): the paths crm.price_cart took since the last call (c: with the
-- cache; sql: the rules by query, with the reason), but for same()'s calls
-- with the cache off
CREATE FUNCTION pg_temp.paths() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	p	text;
BEGIN
	SELECT string_agg(s.path || coalesce(' (' || nullif(s.reason, '') || ')', '') || ' x' || s.calls,
					  ', ' ORDER BY s.path, s.reason)
	  INTO p
	  FROM crm.fast_path_stats() s
	 WHERE s.function = 'crm.price_cart'
	   AND s.reason IS DISTINCT FROM 'crm.price_cart_cache is off';
	PERFORM crm.fast_path_stats_reset();
	RETURN coalesce(p, 'none');
END
$$;

INSERT INTO crm.clients (client_id, kind, first_name, owner) VALUES
	(1, 'person', 'Ada', NULL), (2, 'person', 'Bob', 'crm_manager'), (3, 'person', 'Cy', NULL);
INSERT INTO crm.categories (category_id, parent_id, name) VALUES
	(1, NULL, 'Shoes'), (2, 1, 'Running'), (3, 2, 'Trail'), (4, NULL, 'Books'), (5, NULL, 'Sale');
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost) VALUES
	(10, 'TR-1', 'Trail runner', 3, 40), (11, 'RN-1', 'Road runner', 2, 30), (20, 'BK-1', 'Novel', 4, 5);
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES
	(1, 'RETAIL', 'Retail', 'retail'), (2, 'PROMO', 'Promo', 'promotional');
INSERT INTO crm.prices (price_list_id, product_id, price) VALUES
	(1, 10, 99.90), (1, 11, 79.00), (1, 20, 12.50), (2, 10, 89.90), (2, 20, 10.00);
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(1, '2026-06-01', 'web', 'paid', 880, 880), (2, '2026-06-01', 'web', 'paid', 120, 120);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, cap, stacking,
								client_id, price_list_id, category_id, valid, min_order_amount, uses_per_client) VALUES
	(1, 'shoes-10', '10 % on shoes', 10, 'line', 'percent', 10, NULL, 'stack', NULL, NULL, 1, '[2026-11-01,2026-12-01)', NULL, NULL),
	(2, 'over-150', '5 % from 150.00', 20, 'order', 'percent', 5, 20, 'stack', NULL, NULL, NULL, DEFAULT, 150, NULL),
	(3, 'promo-2', '2.00 off per unit on the promo list', 30, 'line', 'fixed', 2, NULL, 'stop', NULL, 2, NULL, DEFAULT, NULL, NULL),
	(4, 'books-x', 'books alone', 40, 'order', 'percent', 30, NULL, 'exclusive', NULL, NULL, 4, DEFAULT, NULL, NULL),
	(5, 'ada-only', 'Ada: 3.00 off', 50, 'order', 'fixed', 3, NULL, 'stack', 1, NULL, NULL, DEFAULT, NULL, 1),
	(6, 'bob-only', 'Bob: 4 %', 50, 'order', 'percent', 4, NULL, 'stack', 2, NULL, NULL, DEFAULT, NULL, NULL),
	(7, 'sale-cat', 'sale category', 60, 'line', 'percent', 50, NULL, 'stack', NULL, NULL, 5, DEFAULT, NULL, NULL);
INSERT INTO crm.discount_rules (rule_id, code, name, action, value) VALUES
	(8, 'cashback', 'cashback 5 %', 'cashback', 5);
SELECT crm.fast_path_stats_reset();

\set cart '''{"lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}, {"product_id": 20, "quantity": 3, "price_list_id": 1}, {"product_id": 10, "quantity": 2, "price_list_id": 2}]}'''
\set books '''[{"product_id": 20, "quantity": 9, "price_list_id": 1}]'''
\set road '''[{"product_id": 11, "quantity": 1, "price_list_id": 1}]'''

-- 1. committed rules: the cache is read once, then used
SELECT pg_temp.same(1, :cart);
SELECT pg_temp.same(2, :cart);
SELECT pg_temp.same(3, :books);
SELECT pg_temp.paths();

-- 2. a change committed by a statement of its own: the next call reads the rules again
UPDATE crm.discount_rules SET value = 20 WHERE code = 'shoes-10';
SELECT pg_temp.same(1, :cart);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value) VALUES (9, 'all-1', '1 % on all', 5, 'percent', 1);
SELECT pg_temp.same(1, :cart);
UPDATE crm.discount_rules SET active = false WHERE code = 'all-1';
SELECT pg_temp.same(1, :cart);
DELETE FROM crm.discount_rules WHERE code = 'all-1';
SELECT pg_temp.same(1, :cart);
SELECT pg_temp.paths();

-- no rule is any client's own: the calls do not look for them; one added is seen
UPDATE crm.discount_rules SET active = false WHERE client_id IS NOT NULL;
SELECT pg_temp.same(1, :cart);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, client_id)
VALUES (16, 'cy-only', 'Cy: 2.00 off', 50, 'order', 'fixed', 2, 3);
SELECT pg_temp.same(3, :road);
SELECT pg_temp.same(1, :cart);
DELETE FROM crm.discount_rules WHERE code = 'cy-only';
UPDATE crm.discount_rules SET active = true WHERE client_id IS NOT NULL;
SELECT pg_temp.same(1, :cart);
SELECT pg_temp.paths();

-- use counts: read when a rule has a limit ("ada-only", once per client); a use recorded
-- (not a rule change: the cache stays) is seen by the next call
INSERT INTO crm.discount_usage (client_id, rule_id, uses) VALUES (1, 5, 1);
SELECT pg_temp.same(1, :cart);
DELETE FROM crm.discount_usage;
SELECT pg_temp.same(1, :cart);
SELECT pg_temp.paths();

-- 3. a change in the calling transaction: seen by its own calls (by query), gone after ROLLBACK
BEGIN;
SELECT pg_temp.same(1, :cart);
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value) VALUES (10, 'tx-2', '2 % in this transaction', 5, 'percent', 2);
SELECT pg_temp.same(1, :cart);
SELECT pg_temp.same(3, :books);
ROLLBACK;
SELECT pg_temp.same(1, :cart);
SELECT pg_temp.paths();

-- ... and kept after COMMIT
BEGIN;
UPDATE crm.discount_rules SET value = 10 WHERE code = 'shoes-10';
SELECT pg_temp.same(1, :cart);
COMMIT;
SELECT pg_temp.same(1, :cart);
SELECT pg_temp.paths();

-- 4. rolled back to a savepoint: the committed version is seen again, and the cache used
BEGIN;
SELECT pg_temp.same(1, :cart);
SAVEPOINT s;
UPDATE crm.discount_rules SET rank = 1, stacking = 'stop' WHERE code = 'over-150';
SELECT pg_temp.same(1, :cart);
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.same(1, :cart);
COMMIT;
SELECT pg_temp.paths();

-- 5. the category tree: Sale becomes the parent of Books, so "sale-cat" covers the novel
SELECT pg_temp.same(3, :books);
UPDATE crm.categories SET parent_id = 5 WHERE category_id = 4;
SELECT pg_temp.same(3, :books);
UPDATE crm.categories SET parent_id = NULL WHERE category_id = 4;
SELECT pg_temp.same(3, :books);
SELECT pg_temp.paths();

-- 6. validity windows on their bounds, inclusive and exclusive, and unbounded
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, valid) VALUES
	(11, 'w-incl', '[a,b]', 1, 'percent', 1, '[2026-11-25 10:00,2026-11-26 10:00]'),
	(12, 'w-excl', '(a,b)', 2, 'percent', 1, '(2026-11-25 10:00,2026-11-26 10:00)'),
	(13, 'w-from', '[a,)', 3, 'percent', 1, '[2026-11-26 10:00,)'),
	(14, 'w-until', '(,b)', 4, 'percent', 1, '(,2026-11-25 10:00)'),
	(15, 'w-inf', '[-infinity,infinity]', 5, 'percent', 1, '[-infinity,infinity]');
SELECT t, pg_temp.same(3, :road, t)
  FROM unnest(ARRAY['2026-11-25 09:59:59.999999', '2026-11-25 10:00', '2026-11-25 10:00:00.000001',
					'2026-11-26 10:00', '2026-11-26 10:00:00.000001']::timestamptz[]) t;
SELECT string_agg(format('%s: %s', r ->> 'code', coalesce(r ->> 'reason', r ->> 'status')), '; ' ORDER BY r ->> 'code')
  FROM jsonb_array_elements(crm.price_cart(3, :road, '2026-11-26 10:00') -> 'rules') r
 WHERE r ->> 'code' LIKE 'w-%';
DELETE FROM crm.discount_rules WHERE code LIKE 'w-%';
SELECT pg_temp.paths();

-- 7. roles.  crm_app reads every rule (a policy USING true); a manager the general rules
-- and its clients' (USING client_id IS NULL OR ...): both use the cache
SET ROLE crm_app;
SELECT pg_temp.same(1, :cart);
SET ROLE crm_manager;
SELECT pg_temp.same(2, :cart);
RESET ROLE;
SELECT pg_temp.paths();

-- a role under a restrictive policy (ranks below 30 only): the rules are read by query,
-- and the answer is the one that role gets without the cache
CREATE ROLE crm_cache_limited IN ROLE crm_app;
CREATE POLICY crm_cache_limited ON crm.discount_rules AS RESTRICTIVE FOR SELECT
	TO crm_cache_limited USING (rank < 30);
SET ROLE crm_cache_limited;
SELECT pg_temp.same(1, :cart);
RESET ROLE;
SELECT pg_temp.paths();
DROP POLICY crm_cache_limited ON crm.discount_rules;

-- a permissive policy of its own that is not true for every rule: by query too
-- (the role sees the clients, and none of their orders)
CREATE POLICY crm_cache_limited ON crm.discount_rules FOR SELECT
	TO crm_cache_limited USING (rank >= 30);
CREATE POLICY crm_cache_limited ON crm.clients FOR SELECT TO crm_cache_limited USING (true);
REVOKE crm_app FROM crm_cache_limited;
GRANT USAGE ON SCHEMA crm TO crm_cache_limited;
GRANT SELECT ON ALL TABLES IN SCHEMA crm TO crm_cache_limited;
SET ROLE crm_cache_limited;
SELECT pg_temp.same(3, :books);
RESET ROLE;
SELECT pg_temp.paths();

-- no SELECT on the rules: the same error either way
REVOKE SELECT ON crm.discount_rules FROM crm_cache_limited;
SET ROLE crm_cache_limited;
SELECT pg_temp.try($$SELECT crm.price_cart(3, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}]', '2026-11-25 10:00+00')$$);
SET crm.price_cart_cache = off;
SELECT pg_temp.try($$SELECT crm.price_cart(3, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}]', '2026-11-25 10:00+00')$$);
RESET crm.price_cart_cache;
RESET ROLE;
SELECT pg_temp.paths();
DROP POLICY crm_cache_limited ON crm.discount_rules;
DROP POLICY crm_cache_limited ON crm.clients;
REVOKE ALL ON ALL TABLES IN SCHEMA crm FROM crm_cache_limited;
REVOKE USAGE ON SCHEMA crm FROM crm_cache_limited;
DROP ROLE crm_cache_limited;

-- 8. writing the rules needs no privilege on crm.pricing_version (the trigger runs as the owner)
SET ROLE crm_admin;
UPDATE crm.discount_rules SET value = 12 WHERE code = 'shoes-10';
SELECT pg_temp.try('UPDATE crm.pricing_version SET version = 0');
RESET ROLE;
SELECT pg_temp.same(1, :cart);

-- 9. many rules and carts: 400 random rules (general and per client), 40 random carts,
-- each at four moments, with and without the cache
SELECT setseed(0.21);
INSERT INTO crm.categories (category_id, parent_id, name)
SELECT g, CASE WHEN g <= 110 THEN 1 + (g - 100) % 5 ELSE 100 + g % 10 END, 'c' || g FROM generate_series(100, 160) g;
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost)
SELECT g, 'P' || g, 'p' || g, 100 + g % 61, round((random() * 50)::numeric, 2) FROM generate_series(100, 199) g;
INSERT INTO crm.prices SELECT l, p, round((1 + random() * 200)::numeric, 2) FROM generate_series(1, 2) l, generate_series(100, 199) p;
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, cap, stacking, base,
								client_id, price_list_id, category_id, min_order_amount, min_turnover,
								crossing_threshold, valid)
SELECT 100 + g, 'r' || g, 'rule ' || g, (random() * 100)::int,
	   CASE WHEN random() < 0.7 THEN 'line' ELSE 'order' END, a,
	   CASE WHEN a = 'percent' THEN round((0.5 + random() * 9)::numeric, 2) ELSE round((0.1 + random() * 2.9)::numeric, 2) END,
	   CASE WHEN random() < 0.2 THEN round((1 + random() * 20)::numeric, 2) END,
	   CASE WHEN random() < 0.85 THEN 'stack' WHEN random() < 0.6 THEN 'stop' ELSE 'exclusive' END,
	   CASE WHEN random() < 0.5 THEN 'original' ELSE 'remaining' END,
	   CASE WHEN random() < 0.1 THEN 1 + (random() * 2)::int END,
	   CASE WHEN random() < 0.2 THEN 1 + (random() * 1)::int END,
	   CASE WHEN random() < 0.6 THEN 100 + (random() * 60)::int END,
	   CASE WHEN random() < 0.15 THEN round((random() * 400)::numeric, 2) END,
	   CASE WHEN random() < 0.1 THEN round((random() * 1000)::numeric, 2) END,
	   CASE WHEN random() < 0.03 THEN round((random() * 2000)::numeric, 2) END,
	   CASE WHEN random() < 0.3 THEN tstzrange('2026-11-20'::timestamptz + (random() * 10)::int * interval '1 day',
											  '2026-12-01'::timestamptz + (random() * 10)::int * interval '1 day',
											  (ARRAY['[)', '(]', '[]', '()'])[1 + (random() * 3)::int])
			ELSE tstzrange(NULL, NULL) END
  FROM (SELECT g, CASE WHEN random() < 0.75 THEN 'percent' ELSE 'fixed' END AS a
		  FROM generate_series(1, 400) g) x;
CREATE TEMP TABLE carts AS
SELECT c AS cart_id, 1 + c % 3 AS client_id,
	   (SELECT jsonb_agg(jsonb_build_object('product_id', 100 + (random() * 99)::int,
											'quantity', 1 + (random() * 3)::int,
											'price_list_id', 1 + (random() * 1)::int))
		  FROM generate_series(1, 1 + c % 8) WHERE c >= 0) AS cart
  FROM generate_series(1, 40) c;
SELECT crm.fast_path_stats_reset();
SELECT count(*) AS answers, count(*) FILTER (WHERE s LIKE 'net%') AS same,
	   count(DISTINCT s) AS distinct_answers
  FROM carts, unnest(ARRAY['2026-11-19', '2026-11-25 10:00', '2026-12-01', '2026-12-11']::timestamptz[]) t,
	   LATERAL pg_temp.same(client_id, cart, t) s;
SELECT pg_temp.paths();

-- 10. the rows of the per-call statements kept under one snapshot (the client, its turnover,
-- segment, programme and tier, the cart's products and prices, the programme's terms): a
-- change of any of them in the calling transaction is seen by its next call; one rolled
-- back to a savepoint is gone again; a role with fewer rights gets what it gets without
-- them.  facts(): the cached answer's client facts and net, after same()'s comparison
CREATE FUNCTION pg_temp.facts(cl bigint, cart jsonb, at timestamptz DEFAULT '2026-11-25 10:00+00')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	s	text := pg_temp.same(cl, cart, at);
	q	jsonb;
BEGIN
	IF s LIKE 'DIFFERENT%' THEN
		RETURN s;
	END IF;
	q := crm.price_cart(cl, cart, at);
	RETURN format('turnover %s, segment %s, program %s, net %s, earned %s, payable %s',
				  q ->> 'turnover_before', coalesce(q ->> 'segment', '-'), coalesce(q ->> 'program', '-'),
				  q #>> '{totals,net}',
				  q #>> '{totals,points_earned}', q #>> '{totals,max_points_payable}');
END
$$;
INSERT INTO crm.loyalty_programs (program_id, code, name, points_per_unit, point_value, max_redeem_share)
VALUES (91, 'memo', 'Memo club', 2, 0.01, 0.3);
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold, earn_multiplier)
VALUES (91, 'gold', 'Gold', 1000, 1.5);
SELECT crm.fast_path_stats_reset();

BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT pg_temp.facts(1, :cart);
SELECT pg_temp.facts(1, :cart);
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (1, '2026-07-01', 'web', 'paid', 500, 500);
SELECT pg_temp.facts(1, :cart);
UPDATE crm.prices SET price = 50 WHERE price_list_id = 1 AND product_id = 10;
SELECT pg_temp.facts(1, :cart);
INSERT INTO crm.client_segments (client_id, rfm, rfm_segment, behaviour_class, churn_status, since)
VALUES (1, '555', 'Champions', 'loyal', 'active', '2026-11-01 00:00+00');
INSERT INTO crm.loyalty_accounts (client_id, program_id) VALUES (1, 91);
SELECT pg_temp.facts(1, :cart);
UPDATE crm.loyalty_accounts SET tier_code = 'gold' WHERE client_id = 1;
SELECT pg_temp.facts(1, :cart);
SELECT pg_temp.facts(1, '{"segment": "Loyal", "lines": [{"product_id": 10, "quantity": 1, "price_list_id": 1}]}');
SELECT pg_temp.try($$SELECT crm.price_cart(1, '{"segment": "Nobody", "lines": [{"product_id": 20, "quantity": 1, "price_list_id": 1}]}', '2026-11-25 10:00+00')$$);
SAVEPOINT s;
UPDATE crm.prices SET price = 10 WHERE price_list_id = 1 AND product_id = 10;
UPDATE crm.loyalty_programs SET max_redeem_share = 0.5 WHERE program_id = 91;
DELETE FROM crm.client_segments WHERE client_id = 1;
SELECT pg_temp.facts(1, :cart);
ROLLBACK TO SAVEPOINT s;
SELECT pg_temp.facts(1, :cart);
-- crm_app, which reads the stored segment's columns only: its answer is the one without the
-- rows kept
SET ROLE crm_app;
SELECT pg_temp.facts(1, :cart);
RESET ROLE;
-- a role under row security on the clients (a manager sees Bob, its client, not Ada):
-- the statements are run, and the answer is the manager's
SET ROLE crm_manager;
SELECT pg_temp.try($$SELECT pg_temp.facts(1, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}]')$$);
SELECT pg_temp.facts(2, :cart);
RESET ROLE;
SELECT pg_temp.facts(1, :cart);
-- a role that reads every rule (the cache is used) without SELECT on the orders: the same
-- error as without the memo, which Ada's rows are in
CREATE ROLE crm_memo_limited;
GRANT USAGE ON SCHEMA crm TO crm_memo_limited;
GRANT SELECT ON ALL TABLES IN SCHEMA crm TO crm_memo_limited;
REVOKE SELECT ON crm.orders FROM crm_memo_limited;
CREATE POLICY crm_memo_limited ON crm.discount_rules FOR SELECT TO crm_memo_limited USING (true);
CREATE POLICY crm_memo_limited ON crm.clients FOR SELECT TO crm_memo_limited USING (true);
SELECT pg_temp.paths();
SET ROLE crm_memo_limited;
SELECT pg_temp.try($$SELECT crm.price_cart(1, '[{"product_id": 20, "quantity": 1, "price_list_id": 1}]', '2026-11-25 10:00+00')$$);
RESET ROLE;
SELECT pg_temp.paths();
DROP POLICY crm_memo_limited ON crm.discount_rules;
DROP POLICY crm_memo_limited ON crm.clients;
-- the same under one statement's snapshot, many carts of one client and one cart for
-- many clients
SELECT count(*) AS answers, count(*) FILTER (WHERE s LIKE 'net%') AS same
  FROM generate_series(1, 3) cl, generate_series(1, 5) k, LATERAL pg_temp.same(cl + 0 * k, :cart) s;
COMMIT;
SELECT pg_temp.paths();
-- committed: the same facts in the next transaction
SELECT pg_temp.facts(1, :cart);
REVOKE ALL ON ALL TABLES IN SCHEMA crm FROM crm_memo_limited;
REVOKE USAGE ON SCHEMA crm FROM crm_memo_limited;
DROP ROLE crm_memo_limited;
DELETE FROM crm.loyalty_accounts;
DELETE FROM crm.loyalty_tiers;
DELETE FROM crm.loyalty_programs;
DELETE FROM crm.client_segments;
SELECT crm.fast_path_stats_reset();

-- 11. off: by query, counted with its reason
SET crm.price_cart_cache = off;
SELECT crm.price_cart(1, :cart, '2026-11-25 10:00') IS NOT NULL AS priced;
RESET crm.price_cart_cache;
SELECT path, reason, calls FROM crm.fast_path_stats() WHERE function = 'crm.price_cart';

-- what this test wrote goes
DELETE FROM crm.discount_rules;
DELETE FROM crm.prices;
DELETE FROM crm.products;
DELETE FROM crm.price_lists;
DELETE FROM crm.categories;
DELETE FROM crm.orders;
DELETE FROM crm.clients;
SELECT crm.fast_path_stats_reset();
