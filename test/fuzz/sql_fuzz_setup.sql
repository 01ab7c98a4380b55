-- test/fuzz/sql_fuzz_setup.sql: the data the SQL-level fuzzer runs against:
-- a small demo base, discount rules of every kind, a loyalty programme with
-- tiers, and a few purchase profiles to feed crm.churn_signal.
CREATE EXTENSION IF NOT EXISTS crm_demo;
SELECT count(*) FROM crm.generate_demo_data(200, 7, '2025-01-01');

INSERT INTO crm.loyalty_programs (program_id, code, name, points_per_unit)
VALUES (1, 'club', 'Club', 1);
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold)
VALUES (1, 'silver', 'Silver', 0), (1, 'gold', 'Gold', 1000);
INSERT INTO crm.loyalty_accounts (client_id, program_id, tier_code)
SELECT c, 1, CASE WHEN c % 2 = 0 THEN 'gold' ELSE 'silver' END FROM generate_series(1, 40) c;

INSERT INTO crm.discount_rules (code, name, rank, level, action, value, cap, stacking, base,
								client_id, price_list_id, category_id, valid, min_order_amount,
								min_turnover, crossing_threshold, segment, tier, uses_per_client,
								point_value)
VALUES
 ('line-pct', 'line 10 %', 10, 'line', 'percent', 10, NULL, 'stack', 'remaining', NULL, 1, NULL, '(,)', NULL, NULL, NULL, NULL, NULL, NULL, 0.01),
 ('line-cat', 'category 15 %', 20, 'line', 'percent', 15, 5, 'exclusive', 'original', NULL, NULL, 3, '(,)', NULL, NULL, NULL, NULL, NULL, NULL, 0.01),
 ('line-fixed', '2.00 off', 30, 'line', 'fixed', 2, NULL, 'stop', 'remaining', NULL, 2, NULL, '(,)', NULL, NULL, NULL, NULL, 'gold', NULL, 0.01),
 ('order-min', '5.00 off from 50', 40, 'order', 'fixed', 5, NULL, 'stack', 'remaining', NULL, NULL, NULL, '(,)', 50, NULL, NULL, NULL, NULL, 2, 0.01),
 ('order-turn', '3 % regulars', 50, 'order', 'percent', 3, 20, 'stack', 'remaining', NULL, NULL, NULL, '(,)', NULL, 500, NULL, NULL, NULL, NULL, 0.01),
 ('order-cross', 'crossing 1000', 60, 'order', 'fixed', 20, NULL, 'exclusive', 'remaining', NULL, NULL, NULL, '(,)', NULL, NULL, 1000, NULL, NULL, NULL, 0.01),
 ('seg-champ', 'champions 7 %', 70, 'line', 'percent', 7, NULL, 'stack', 'remaining', NULL, NULL, NULL, '(,)', NULL, NULL, NULL, 'Champions', NULL, NULL, 0.01),
 ('client-5', 'client 5 only', 5, 'line', 'percent', 50, NULL, 'stack', 'remaining', 5, NULL, NULL, '[2024-01-01,2026-01-01)', NULL, NULL, NULL, NULL, NULL, 1, 0.01),
 ('cashback', 'cashback 2 %', 80, 'order', 'cashback', 2, NULL, 'stack', 'remaining', NULL, NULL, NULL, '(,)', NULL, NULL, NULL, NULL, NULL, NULL, 0.01),
 ('multiplier', 'double points', 90, 'order', 'points_multiplier', 2, NULL, 'stack', 'remaining', NULL, NULL, NULL, '(,)', NULL, NULL, NULL, NULL, 'silver', NULL, 0.01),
 ('share', 'pay half with points', 95, 'order', 'points_share', 50, NULL, 'stack', 'remaining', NULL, NULL, NULL, '(,)', NULL, NULL, NULL, NULL, NULL, NULL, 0.05),
 ('future', 'not yet', 1, 'line', 'percent', 99, NULL, 'stop', 'remaining', NULL, NULL, NULL, '[2030-01-01,)', NULL, NULL, NULL, NULL, NULL, NULL, 0.01);

CREATE TABLE fuzz_profiles AS
SELECT p.client_id, p.profile FROM crm.client_profiles('2025-01-01') p(client_id, profile)
 ORDER BY p.client_id LIMIT 20;
