--
-- crm.discount_rules: a bad rule is refused when written, with an error that
-- names the rule and the field; nothing is written.
--
SET TimeZone = 'UTC';
\set SHOW_CONTEXT never

\i sql/include/try.sql

INSERT INTO crm.clients (client_id, kind, first_name) VALUES (1, 'person', 'Ada');
INSERT INTO crm.categories (category_id, name) VALUES (1, 'Shoes');
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES (1, 'RETAIL', 'Retail', 'retail');

-- good rules: the level defaults to line for a discount, order for a bonus rule
INSERT INTO crm.discount_rules (rule_id, code, name, action, value, client_id, price_list_id, category_id, valid)
VALUES (1, 'ada-shoes', 'Ada 10 % on shoes', 'percent', 10, 1, 1, 1, '[2026-11-01,2026-12-01)');
INSERT INTO crm.discount_rules (rule_id, code, name, action, value) VALUES (2, 'cashback', 'cashback 5 %', 'cashback', 5);
SELECT rule_id, code, level, action, value, stacking, base, rank, active FROM crm.discount_rules ORDER BY rule_id;

-- each bad rule, one field wrong
SELECT t AS bad, pg_temp.try('INSERT INTO crm.discount_rules (code, name, action, value' || t || ')') AS error
  FROM (VALUES
	(', level) VALUES (''p1'', ''x'', ''percent'', 150, ''line'''),
	(', level) VALUES (''p2'', ''x'', ''percent'', 0, ''line'''),
	(', level) VALUES (''p3'', ''x'', ''percent'', -5, ''line'''),
	(', level) VALUES (''p4'', ''x'', ''percent'', 10.00001, ''line'''),
	(') VALUES (''f1'', ''x'', ''fixed'', 1.005'),
	(') VALUES (''c1'', ''x'', ''cashback'', 101'),
	(') VALUES (''s1'', ''x'', ''points_share'', 100.5'),
	(') VALUES (''m1'', ''x'', ''points_multiplier'', 1001'),
	(') VALUES (''a1'', ''x'', ''coupon'', 5'),
	(', valid) VALUES (''w1'', ''x'', ''percent'', 5, ''empty'''),
	(', valid) VALUES (''w2'', ''x'', ''percent'', 5, ''[2026-12-01,2026-12-01)'''),
	(', category_id) VALUES (''k1'', ''x'', ''percent'', 5, 999'),
	(', price_list_id) VALUES (''l1'', ''x'', ''percent'', 5, 999'),
	(', client_id) VALUES (''u1'', ''x'', ''percent'', 5, 999'),
	(', cap) VALUES (''cap1'', ''x'', ''percent'', 5, 0'),
	(', cap) VALUES (''cap2'', ''x'', ''percent'', 5, 1.234'),
	(', cap) VALUES (''cap3'', ''x'', ''cashback'', 5, 10'),
	(', stacking) VALUES (''st1'', ''x'', ''percent'', 5, ''combine'''),
	(', stacking) VALUES (''st2'', ''x'', ''cashback'', 5, ''stop'''),
	(', base) VALUES (''b1'', ''x'', ''percent'', 5, ''net'''),
	(', level) VALUES (''lv1'', ''x'', ''percent'', 5, ''cart'''),
	(', level) VALUES (''lv2'', ''x'', ''cashback'', 5, ''line'''),
	(', category_id) VALUES (''mc'', ''x'', ''points_multiplier'', 2, 1'),
	(', min_order_amount) VALUES (''mo1'', ''x'', ''percent'', 5, -1'),
	(', min_order_amount) VALUES (''mo2'', ''x'', ''percent'', 5, 10.001'),
	(', min_turnover) VALUES (''mt'', ''x'', ''percent'', 5, -1'),
	(', crossing_threshold) VALUES (''ct'', ''x'', ''percent'', 5, 0'),
	(', segment) VALUES (''sg'', ''x'', ''percent'', 5, '''''),
	(', tier) VALUES (''tr'', ''x'', ''percent'', 5, '''''),
	(', uses_per_client) VALUES (''up'', ''x'', ''percent'', 5, 0'),
	(', point_value) VALUES (''pv'', ''x'', ''cashback'', 5, 0'),
	(') VALUES (''Bad Code'', ''x'', ''percent'', 5'),
	(') VALUES (''ada-shoes'', ''x'', ''percent'', 5'),
	(') VALUES (''nm'', '''', ''percent'', 5')
  ) AS v(t);

-- an UPDATE is checked the same way
SELECT pg_temp.try($$UPDATE crm.discount_rules SET value = 120 WHERE code = 'ada-shoes'$$) AS update_over_100,
       pg_temp.try($$UPDATE crm.discount_rules SET valid = 'empty' WHERE code = 'ada-shoes'$$) AS update_empty_window;
-- nothing bad was written
SELECT count(*) AS rules FROM crm.discount_rules;

-- a rule that an order used cannot be deleted (deactivate it instead)
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, gross_amount, net_amount)
VALUES (1, 1, '2026-11-02', 'web', 10, 10);
INSERT INTO crm.order_discounts (client_id, order_id, rule_id, amount) VALUES (1, 1, 1, 0);
SELECT pg_temp.try($$DELETE FROM crm.discount_rules WHERE code = 'ada-shoes'$$) AS delete_used;
UPDATE crm.discount_rules SET active = false WHERE code = 'ada-shoes';

SET client_min_messages = warning;
TRUNCATE crm.discount_usage, crm.order_discounts, crm.discount_rules, crm.clients, crm.categories, crm.price_lists CASCADE;
RESET client_min_messages;
