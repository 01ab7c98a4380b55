--
-- test/include/activity.sql: a database's worth of crm activity, for the
-- tests that dump, restore or upgrade a database and compare it before and
-- after (test/scripts/dump_restore_analytics.sh, test/scripts/cross_version/):
-- :clients demo clients; a loyalty programme with two tiers and every kind
-- of ledger entry (welcome, order, birthday, plain and short-lived
-- earnings, expiry, redemptions, reversals, partial refunds, goodwill
-- adjustments) and tier changes; discount rules used by :carts recorded
-- carts; two segment refreshes.  Needs crm; psql variables clients, carts.
-- The calls per row read their rows first, in order, from a MATERIALIZED
-- CTE: on a Citus cluster the calls then run on the coordinator (a call in
-- a query over a distributed table would be sent to the shards), and in
-- the same order as on one node.
--
SELECT count(*) FROM crm.generate_demo_data(:clients, 2, '2025-01-01');

-- loyalty: a programme with two tiers
INSERT INTO crm.loyalty_programs (code, name, cashback_percent, point_value, points_lifetime,
								  bonus_lifetime, welcome_points, birthday_points, max_redeem_share,
								  tier_window, tier_hold)
VALUES ('club', 'Club', 5, 0.01, '365 days', '30 days', 200, 300, 0.5, '365 days', '90 days');
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold, earn_multiplier, benefits)
VALUES (1, 'member', 'Member', 0, 1, '{}'), (1, 'silver', 'Silver', 500, 1.5, '{"discount_percent": 5}');
-- welcome points for every client (opens the accounts), the cashback of
-- the paid orders of every third, birthday points of the last week
WITH c AS MATERIALIZED (SELECT client_id FROM crm.clients ORDER BY client_id)
SELECT count(crm.award_welcome_bonus(c.client_id, 'club')) FROM c;
WITH o AS MATERIALIZED (SELECT client_id, order_id FROM crm.orders
						 WHERE status = 'paid' AND client_id % 3 = 0 ORDER BY order_id)
SELECT count(crm.award_order_points(o.client_id, o.order_id, 'club')) FROM o;
SELECT sum(crm.award_birthday_bonuses('club', d::date, allow_other_day => true))
  FROM generate_series(current_date - 6, current_date, interval '1 day') d;
-- plain earnings, some living one second, and the expiry job a day later
WITH c AS MATERIALIZED (SELECT client_id FROM crm.clients WHERE client_id % 5 = 1 ORDER BY client_id)
SELECT count(crm.earn_points(c.client_id, 'club', 15 + c.client_id % 50, 'earn-' || c.client_id)) FROM c;
WITH c AS MATERIALIZED (SELECT client_id FROM crm.clients WHERE client_id % 4 = 0 ORDER BY client_id)
SELECT count(crm.earn_points(c.client_id, 'club', 40, 'short-' || c.client_id,
							 expires_at => now() + interval '1 second')) FROM c;
SELECT * FROM crm.expire_points(now() + interval '1 day', allow_future => true);
-- redemptions, some of them reversed; partial refunds; goodwill; tiers
WITH a AS MATERIALIZED (SELECT client_id, balance FROM crm.loyalty_accounts
						 WHERE balance >= 3 AND client_id % 2 = 0 ORDER BY client_id)
SELECT count(crm.redeem_points(a.client_id, 'club', a.balance / 3, 'redeem-' || a.client_id)) FROM a;
WITH l AS MATERIALIZED (SELECT entry_id FROM crm.loyalty_ledger
						 WHERE kind = 'redeem' AND client_id % 10 = 0 ORDER BY entry_id)
SELECT count(crm.reverse_entry(l.entry_id, 'undo-' || l.entry_id)) FROM l;
WITH l AS MATERIALIZED (SELECT client_id, order_id FROM crm.loyalty_ledger
						 WHERE kind = 'earn' AND order_id IS NOT NULL AND client_id % 9 = 0
						 ORDER BY entry_id)
SELECT count(*) FROM l, LATERAL crm.refund_order_points(l.client_id, l.order_id, 'refund-' || l.order_id, 1.00) r;
WITH c AS MATERIALIZED (SELECT client_id FROM crm.clients WHERE client_id % 7 = 0 ORDER BY client_id)
SELECT count(crm.adjust_points(c.client_id, 'club', 25, 'goodwill-' || c.client_id, 'goodwill')) FROM c;
-- recent paid orders (after the analytics' as_of) lift ten clients to silver
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT c, now() - interval '1 hour', 'web', 'paid', 600, 600 FROM generate_series(1, 10) c;
WITH o AS MATERIALIZED (SELECT client_id, order_id FROM crm.orders WHERE ordered_at > '2025-06-01' ORDER BY order_id)
SELECT count(crm.award_order_points(o.client_id, o.order_id, 'club')) FROM o;
WITH a AS MATERIALIZED (SELECT client_id FROM crm.loyalty_accounts ORDER BY client_id)
SELECT count(crm.update_tier(a.client_id, 'club')) FROM a;

-- discounts: a per-category level, an order threshold, a once-per-client
-- voucher, cashback and paying with points; carts recorded as orders
INSERT INTO crm.discount_rules (code, name, rank, action, value, price_list_id, category_id)
VALUES ('juice-10', '10 % on juice', 10, 'percent', 10, 1, 8);
INSERT INTO crm.discount_rules (code, name, rank, level, action, value, min_order_amount, cap)
VALUES ('over-50', '5 % off orders from 50.00, at most 10.00', 20, 'order', 'percent', 5, 50, 10);
INSERT INTO crm.discount_rules (code, name, rank, level, action, value, uses_per_client)
VALUES ('welcome-5', '5.00 off, once', 30, 'order', 'fixed', 5, 1);
INSERT INTO crm.discount_rules (code, name, action, value) VALUES ('back-2', '2 % back in points', 'cashback', 2);
INSERT INTO crm.discount_rules (code, name, action, value) VALUES ('half', 'up to half in points', 'points_share', 50);
SELECT count(crm.record_priced_cart(
		crm.price_cart(c, jsonb_build_object(
			'program', 'club', 'points_paid', CASE WHEN c % 5 = 0 THEN 50 ELSE 0 END,
			'lines', jsonb_build_array(
				jsonb_build_object('product_id', 1 + c % 5, 'quantity', 1 + c % 4, 'price_list_id', 1),
				jsonb_build_object('product_id', 20 + c % 30, 'quantity', 2, 'price_list_id', 1 + c % 2))),
			'2024-12-20 12:00+00'::timestamptz + c * interval '1 minute'),
		'web', CASE WHEN c % 3 = 0 THEN 'paid' ELSE 'placed' END, 'cart-' || c))
  FROM generate_series(1, :carts) c;

-- segments stored and their transitions logged
SELECT * FROM crm.refresh_segments('2024-12-01');
SELECT * FROM crm.refresh_segments('2025-01-01');
