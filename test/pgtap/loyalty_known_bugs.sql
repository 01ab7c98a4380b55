-- The loyalty bugs users report most in other systems (refunds, double
-- spending, expiry), each reproduced here as a scenario that must come out
-- right.  References are the trackers where the bug was reported.
BEGIN;
SELECT plan(21);

INSERT INTO crm.clients (client_id, first_name) SELECT 71000 + g, 'c' || g FROM generate_series(1, 12) g;
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, points_lifetime, bonus_lifetime,
								  welcome_points, birthday_points)
VALUES ('kb', 'known bugs', 1, '365 days', '10 days', 50, 20);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT 71000 + g, 90000 + g, now(), 'web', 'paid', 100, 100 FROM generate_series(1, 12) g;

-- odoo/odoo#238806, #257854: points earned on a refunded order were never
-- deducted; "buy, earn points, refund it, keep the points", repeated
DO $$ BEGIN
	FOR i IN 1 .. 5 LOOP
		INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
		VALUES (71001, 91000 + i, now(), 'web', 'paid', 100, 100);
		PERFORM crm.award_order_points(71001, 91000 + i, 'kb');
		PERFORM crm.refund_order_points(71001, 91000 + i, 'refund-' || i);
	END LOOP;
END $$;
SELECT is(crm.points_balance(71001, 'kb'), 0::bigint,
		  'odoo#238806: five buy-earn-refund cycles leave no points behind');

-- frappe/erpnext#32951: a sales return generates no negative loyalty entry
SELECT ok(EXISTS (SELECT 1 FROM crm.loyalty_ledger WHERE client_id = 71001 AND kind = 'reversal' AND points < 0),
		  'erpnext#32951: a refund writes a negative reversal entry');

-- odoo/odoo#212922: refunding an order paid with points deducts the points
-- again as if it were another purchase
DO $$ BEGIN PERFORM crm.earn_points(71002, 'kb', 500, 'seed'); END $$;
DO $$ BEGIN PERFORM crm.redeem_points(71002, 'kb', 300, 'pay-90002', order_id => 90002); END $$;
SELECT is((SELECT sum(points) FROM crm.refund_order_points(71002, 90002, 'refund-90002')), 300::numeric,
		  'odoo#212922: refunding an order paid with 300 points gives the 300 back (not another deduction)');
SELECT is(crm.points_balance(71002, 'kb'), 500::bigint, 'odoo#212922: the balance is what it was before the order');

-- frappe/erpnext#30242, odoo/odoo#221928: wrong points when an order that
-- redeemed points is returned in part
DO $$ BEGIN PERFORM crm.earn_points(71003, 'kb', 400, 'seed'); END $$;
DO $$ BEGIN PERFORM crm.redeem_points(71003, 'kb', 200, 'pay-90003', order_id => 90003); END $$;
SELECT is((SELECT sum(points) FROM crm.refund_order_points(71003, 90003, 'part', 25)), 50::numeric,
		  'erpnext#30242: a 25 % refund of an order paid with 200 points gives back 50');
SELECT is((SELECT sum(points) FROM crm.refund_order_points(71003, 90003, 'rest')), 150::numeric,
		  'odoo#221928: the rest of the refund gives back the other 150, no more');

-- PrestaShop/loyalty#23, spree-loyalty-points#8: partial returns must take
-- back points in proportion, exactly what was entered
DO $$ BEGIN PERFORM crm.award_order_points(71004, 90004, 'kb'); END $$;
SELECT is((SELECT -sum(points) FROM crm.refund_order_points(71004, 90004, 'r1', 33.33)), 33::numeric,
		  'PrestaShop/loyalty#23: refunding 33.33 of 100.00 takes back 33 of 100 points');
SELECT is((SELECT -sum(points) FROM crm.refund_order_points(71004, 90004, 'r2', 33.33)), 34::numeric,
		  'spree#8: the next 33.33 takes 34 (66.66 % of 100 rounds to 67 in total)');
SELECT is((SELECT -sum(points) FROM crm.refund_order_points(71004, 90004, 'r3')), 33::numeric,
		  'the last third takes the remaining 33: the parts sum to the 100 earned');

-- wpswings/points-and-rewards-for-woocommerce#112: points not refunded on
-- refund; and the same refund twice
DO $$ BEGIN PERFORM crm.earn_points(71005, 'kb', 100, 'seed'); END $$;
DO $$ BEGIN PERFORM crm.redeem_points(71005, 'kb', 60, 'pay', order_id => 90005); END $$;
DO $$ BEGIN PERFORM crm.refund_order_points(71005, 90005, 'refund'); END $$;
DO $$ BEGIN PERFORM crm.refund_order_points(71005, 90005, 'refund'); END $$;
SELECT is(crm.points_balance(71005, 'kb'), 100::bigint,
		  'woocommerce#112: the refund gives the points back, once, however often it is retried');

-- Open Loyalty spendPoints: when the lots run out a deduction is silently
-- dropped; here the part that could not be taken back is reported
DO $$ BEGIN PERFORM crm.award_order_points(71006, 90006, 'kb'); END $$;
DO $$ BEGIN PERFORM crm.redeem_points(71006, 'kb', 70, 'spend'); END $$;
SELECT row_eq($$SELECT points, unrecovered, balance_after FROM crm.refund_order_points(71006, 90006, 'refund')$$,
			  ROW(-30::bigint, 70::bigint, 0::bigint),
			  'Open Loyalty: a refund after the points were spent takes the 30 left and reports 70 unrecovered');

-- RepairDesk#1047: void wrongly added points without faking an invoice
DO $$ BEGIN PERFORM crm.earn_points(71007, 'kb', 250, 'typo'); END $$;
SELECT is((crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq'), 'void-typo')).points, -250::bigint,
		  'RepairDesk#1047: reverse_entry voids an earning directly');

-- Ixotic27/The-Leetcode-City#690: a rollback that "adds back to the current
-- value" over-credits; a reversal puts back exactly what the entry took
DO $$ BEGIN PERFORM crm.earn_points(71008, 'kb', 100, 'seed'); END $$;
DO $$ BEGIN PERFORM crm.redeem_points(71008, 'kb', 40, 'spend'); END $$;
DO $$ BEGIN PERFORM crm.earn_points(71008, 'kb', 15, 'later'); END $$;
DO $$ BEGIN PERFORM crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq') - 1, 'undo-spend'); END $$;
SELECT is(crm.points_balance(71008, 'kb'), 115::bigint,
		  'Leetcode-City#690: undoing a redemption of 40 adds exactly 40');
SELECT throws_ok($$SELECT crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq') - 2, 'undo-again')$$,
				 '55000', NULL, 'Leetcode-City#690: and cannot be undone twice');

-- saleor#544, vendure#4660, Nova-Rewards#190: read-check-write lets two
-- redemptions spend the same points (the concurrent case is in the
-- isolation specs); sequentially the second sees the first
DO $$ BEGIN PERFORM crm.earn_points(71009, 'kb', 100, 'seed'); END $$;
DO $$ BEGIN PERFORM crm.redeem_points(71009, 'kb', 70, 'a'); END $$;
SELECT throws_ok($$SELECT crm.redeem_points(71009, 'kb', 70, 'b')$$, 'LY001', NULL,
				 'saleor#544: a second redemption of points already spent is refused');

-- liberu-ecommerce#1056: lots earned under another label never expired;
-- every kind of credit expires on its date
DO $$ BEGIN PERFORM crm.award_welcome_bonus(71010, 'kb'); END $$;
DO $$ BEGIN PERFORM crm.earn_points(71010, 'kb', 10, 'e', expires_at => now() + interval '5 days'); END $$;
DO $$ BEGIN PERFORM crm.adjust_points(71010, 'kb', 7, 'a', 'goodwill', expires_at => now() + interval '6 days'); END $$;
DO $$ BEGIN PERFORM crm.expire_points(now() + interval '11 days', 'kb', allow_future => true); END $$;
SELECT is(crm.points_balance(71010, 'kb'), 0::bigint,
		  'liberu#1056: welcome, earn and adjust lots all expired on their dates');

-- FitMart#546: a daily expiry job re-run must be idempotent; and a partly
-- redeemed lot expires only its remainder
DO $$ BEGIN PERFORM crm.earn_points(71011, 'kb', 80, 'e', expires_at => now() + interval '3 days'); END $$;
DO $$ BEGIN PERFORM crm.redeem_points(71011, 'kb', 30, 'r'); END $$;
DO $$ BEGIN PERFORM crm.expire_points(now() + interval '4 days', 'kb', allow_future => true); END $$;
SELECT is((SELECT sum(points) FROM crm.loyalty_ledger WHERE client_id = 71011 AND kind = 'expire'), -50::numeric,
		  'FitMart#546: a lot of 80 with 30 redeemed expires 50');
SELECT is((crm.expire_points(now() + interval '4 days', 'kb', allow_future => true)).lots, 0::bigint,
		  'FitMart#546: the same expiry run again writes nothing');

-- Odoo _cron_expire_loyalty_points clamps the balance with max(points - expired, 0);
-- here nothing needs clamping: expiry takes exactly what remains
SELECT is_empty($$SELECT * FROM crm.loyalty_ledger WHERE client_id BETWEEN 71001 AND 71012 AND balance_after < 0$$,
				'odoo expiry clamp: no balance ever went below zero, nothing was clamped');

-- FloCafe#62: "next expiry" showed only MIN(expires_at); the list gives every date
DO $$ BEGIN PERFORM crm.earn_points(71012, 'kb', 10, 'x1', expires_at => now() + interval '3 days'); END $$;
DO $$ BEGIN PERFORM crm.earn_points(71012, 'kb', 20, 'x2', expires_at => now() + interval '9 days'); END $$;
SELECT is((SELECT array_agg(points ORDER BY expires_at) FROM crm.points_expiring(71012, 'kb')), ARRAY[10, 20]::bigint[],
		  'FloCafe#62: points_expiring lists the points of each upcoming expiry date');

SELECT is_empty($$SELECT * FROM crm.verify_ledger()$$, 'and the ledger verifies clean');

SELECT * FROM finish();
ROLLBACK;
