--
-- crm.price_cart knows the client: the segment the last refresh stored
-- (crm.client_segments) when the cart gives none, and the loyalty
-- programme of the client's account when the cart names none; the points
-- an order earns are the programme's cashback plus the bonus rules', the
-- same number crm.award_order_points credits once the order is paid, and
-- the most points payable is what the programme allows (and a
-- points_share rule, if any, lowers it).  Everything runs in one
-- transaction that is rolled back.
--
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never
\i sql/include/try.sql

SELECT last_value AS entry_seq, is_called AS entry_seq_called FROM crm.loyalty_ledger_entry_id_seq \gset
BEGIN;
-- the other tests' rules stay out of these carts
UPDATE crm.discount_rules SET active = false;
INSERT INTO crm.clients (client_id, kind, first_name) VALUES
	(7001, 'person', 'Ana'), (7002, 'person', 'Ben'), (7003, 'person', 'Cai'), (7004, 'person', 'Dee');
INSERT INTO crm.categories (category_id, parent_id, name) VALUES (7100, NULL, 'Tea');
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost) VALUES
	(7110, 'TEA-1', 'Green tea', 7100, 2), (7120, 'TEA-2', 'Black tea', 7100, 3);
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES (7200, 'TEA', 'Tea', 'retail');
INSERT INTO crm.prices VALUES (7200, 7110, 12.50), (7200, 7120, 40.00);
-- 10 % for Champions, on tea; cashback 5 % on tea
INSERT INTO crm.discount_rules (rule_id, code, name, rank, action, value, category_id, segment) VALUES
	(7301, 'champions-tea', 'Champions: 10 % on tea', 10, 'percent', 10, 7100, 'Champions');
INSERT INTO crm.discount_rules (rule_id, code, name, action, value, category_id) VALUES
	(7302, 'tea-cashback', 'cashback 5 % on tea', 'cashback', 5, 7100);
-- a programme paying 2 points per euro, at most 30 % of an order in points
INSERT INTO crm.loyalty_programs (program_id, code, name, points_per_unit, point_value, max_redeem_share)
VALUES (7401, 'teaclub', 'Tea club', 2, 0.01, 0.3);
-- and one paying 3 % cashback
INSERT INTO crm.loyalty_programs (program_id, code, name, cashback_percent, point_value)
VALUES (7402, 'other', 'Another club', 3, 0.01);
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold, earn_multiplier)
VALUES (7401, 'base', 'Base', 0, 1), (7401, 'gold', 'Gold', 1000, 1.5);
SELECT (crm.earn_points(7001, 'teaclub', 1237, 'test: ana')).points AS ana_points,
	   (crm.earn_points(7003, 'teaclub', 50, 'test: cai')).points AS cai_points,
	   (crm.earn_points(7003, 'other', 50, 'test: cai other')).points AS cai_other_points;
UPDATE crm.loyalty_accounts SET tier_code = 'gold' WHERE client_id = 7001 AND program_id = 7401;
-- Ana's segment, as a refresh stored it
INSERT INTO crm.client_segments (client_id, rfm, rfm_segment, behaviour_class, churn_status, since)
VALUES (7001, '555', 'Champions', 'loyal', 'active', '2026-11-01 00:00+00');

CREATE FUNCTION pg_temp.quote(client bigint, cart jsonb) RETURNS jsonb LANGUAGE sql AS $$
	SELECT crm.price_cart(client, cart, '2026-11-25 10:00+00')
$$;
CREATE FUNCTION pg_temp.summary(q jsonb) RETURNS TABLE (item text, value text) LANGUAGE sql AS $$
	SELECT 'program', coalesce(q ->> 'program', 'null')
	UNION ALL SELECT 'segment', coalesce(q ->> 'segment', 'null') || ' from ' || coalesce(q ->> 'segment_from', 'null')
		|| coalesce(' since ' || (q ->> 'segment_since'), '')
	UNION ALL SELECT 'champions-tea', (SELECT r ->> 'status' || coalesce(' ' || (r ->> 'amount'), '') || coalesce(' (' || (r ->> 'reason') || ')', '')
										 FROM jsonb_array_elements(q -> 'rules') r WHERE r ->> 'code' = 'champions-tea')
	UNION ALL SELECT 'totals', format('net %s, earned %s = programme %s + rules %s, max payable %s',
									  q #>> '{totals,net}', q #>> '{totals,points_earned}',
									  q #>> '{totals,points_earned_program}', q #>> '{totals,points_earned_rules}',
									  q #>> '{totals,max_points_payable}')
$$;

-- Ana: no segment and no programme in the cart: her stored segment
-- (Champions, 10 % off) and her one account (teaclub, gold: x1.5);
-- net 2 x 12.50 + 40.00 = 65.00 less 6.50 = 58.50: the programme earns
-- floor(58.50 x 2 x 1.5) = 175 points, the cashback rule floor(5.85 / 0.01)
-- = 292; at most floor(0.3 x 58.50 / 0.01) = 1755 points may pay
SELECT * FROM pg_temp.summary(pg_temp.quote(7001,
	'{"lines": [{"product_id": 7110, "quantity": 2, "price_list_id": 7200}, {"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}'));
-- the cart's segment and programme win over the stored ones
SELECT * FROM pg_temp.summary(pg_temp.quote(7001,
	'{"segment": "Loyal", "program": "teaclub", "lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}'));
-- Ben: no stored segment, no account: the segment rule is skipped, no
-- programme, no points may pay (no points_share rule)
SELECT * FROM pg_temp.summary(pg_temp.quote(7002,
	'{"lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}'));
-- Cai: accounts in two programmes: none is chosen for him ...
SELECT * FROM pg_temp.summary(pg_temp.quote(7003,
	'{"lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}'));
-- ... unless the cart names one (other: 3 % cashback = 120 points on 40.00)
SELECT * FROM pg_temp.summary(pg_temp.quote(7003,
	'{"program": "other", "lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}'));

-- a points_share rule lowers the programme's share, never raises it
INSERT INTO crm.discount_rules (rule_id, code, name, action, value) VALUES
	(7303, 'tenth', 'a tenth in points', 'points_share', 10), (7304, 'all', 'all in points', 'points_share', 100);
UPDATE crm.discount_rules SET active = false WHERE rule_id = 7304;
SELECT pg_temp.quote(7001, '{"lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}') #>> '{totals,max_points_payable}' AS with_a_tenth_rule;
UPDATE crm.discount_rules SET active = (rule_id = 7304) WHERE rule_id IN (7303, 7304);
SELECT pg_temp.quote(7001, '{"lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}') #>> '{totals,max_points_payable}' AS with_an_all_rule;
UPDATE crm.discount_rules SET active = false WHERE rule_id = 7304;

-- paying with points: more than the programme allows is refused, naming it
SELECT pg_temp.try($$SELECT pg_temp.quote(7001, '{"points_paid": 1201, "lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}')$$) AS too_many_points;
-- unknown or unfit names are refused
SELECT pg_temp.try($$SELECT pg_temp.quote(7001, '{"program": "nope", "lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}')$$) AS unknown_program;
SELECT pg_temp.try($$SELECT pg_temp.quote(7001, '{"segment": "Heroes", "lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}')$$) AS unknown_segment;
UPDATE crm.loyalty_programs SET currency = 'USD' WHERE program_id = 7402;
SELECT pg_temp.try($$SELECT pg_temp.quote(7003, '{"program": "other", "lines": [{"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}')$$) AS program_in_another_currency;

-- the quote's points are what the order earns: recorded paid, with 1000
-- points paid, then awarded: the programme's cashback on what was not
-- paid with points and the rule's, credited once, as quoted
CREATE TEMP TABLE quoted AS
SELECT pg_temp.quote(7001, '{"points_paid": 1000, "lines": [{"product_id": 7110, "quantity": 2, "price_list_id": 7200}, {"product_id": 7120, "quantity": 1, "price_list_id": 7200}]}') AS q;
SELECT * FROM pg_temp.summary((SELECT q FROM quoted));
CREATE TEMP TABLE recorded AS SELECT crm.record_priced_cart(q, 'web', 'paid', 'tea-1') AS order_id FROM quoted;
SELECT d.rule_id, d.points, p.code AS program FROM crm.order_discounts d
  JOIN recorded r USING (order_id) LEFT JOIN crm.loyalty_programs p USING (program_id)
 ORDER BY d.rule_id;
SELECT (SELECT (crm.award_order_points(7001, order_id, 'teaclub')).points FROM recorded) AS credited,
	   (SELECT (q #>> '{totals,points_earned}')::bigint FROM quoted) AS quoted;
-- ... once: a second award replays the first
SELECT (SELECT (crm.award_order_points(7001, order_id, 'teaclub')).points FROM recorded) AS credited_again;
SELECT crm.points_balance(7001, 'teaclub') AS ana_balance;

ROLLBACK;
SELECT setval('crm.loyalty_ledger_entry_id_seq', :entry_seq, :'entry_seq_called'::boolean) IS NOT NULL AS ledger_sequence_restored;
