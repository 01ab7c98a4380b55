--
-- Loyalty jobs: cashback on paid orders, welcome and birthday bonuses, tier
-- moves, expiry; each safe to run twice.  And crm.verify_ledger finding
-- what is wrong.
--
SET TimeZone = 'UTC';
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RETURN regexp_replace(regexp_replace(st || ': ' || msg || coalesce(' / ' || nullif(det, ''), ''),
										 '\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00', '<time>', 'g'),
						  'entry \d+', 'entry <n>', 'g');
END $$;
CREATE FUNCTION pg_temp.snap() RETURNS text LANGUAGE sql AS $$
	SELECT format('entries %s, points %s, lots %s, allocations %s, tier changes %s, balances %s',
		(SELECT count(*) FROM crm.loyalty_ledger), (SELECT coalesce(sum(points), 0) FROM crm.loyalty_ledger),
		(SELECT count(*) FROM crm.loyalty_lots), (SELECT count(*) FROM crm.loyalty_allocations),
		(SELECT count(*) FROM crm.loyalty_tier_changes), (SELECT coalesce(sum(balance), 0) FROM crm.loyalty_accounts))
$$;
SELECT nextval('crm.loyalty_ledger_entry_id_seq') AS base \gset

INSERT INTO crm.clients (client_id, first_name, birth_date) VALUES
	(9201, 'Gus', '1992-02-29'), (9202, 'Hal', '1985-03-10'), (9203, 'Ivy', NULL), (9204, 'Jon', '1970-03-10');
INSERT INTO crm.loyalty_programs (code, name, cashback_percent, point_value, points_lifetime,
								  bonus_lifetime, welcome_points, birthday_points, tier_window, tier_hold)
VALUES ('gold', 'Gold club', 2, 0.01, '365 days', '30 days', 500, 300, '365 days', '90 days');
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold, earn_multiplier, benefits)
SELECT p.program_id, t.code, t.name, t.threshold, t.mult, t.benefits::jsonb
  FROM crm.loyalty_programs p, (VALUES ('base', 'Base', 0, 1.0, '{}'),
									 ('silver', 'Silver', 1000, 1.5, '{"discount_percent": 5}'),
									 ('gold', 'Gold', 5000, 2.0, '{"discount_percent": 10, "free_shipping": true}'))
									 AS t(code, name, threshold, mult, benefits)
 WHERE p.code = 'gold';
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount, points_paid)
VALUES (9201, 801, now() - interval '10 days', 'web', 'paid', 123.45, 123.45, 0),
	   (9201, 802, now() - interval '5 days', 'web', 'paid', 1000, 1000, 10000),
	   (9201, 803, now() - interval '1 day', 'web', 'placed', 50, 50, 0),
	   (9202, 804, now() - interval '400 days', 'store', 'paid', 6000, 6000, 0),
	   (9202, 805, now() - interval '2 days', 'store', 'paid', 0.40, 0.40, 0),
	   (9203, 806, now() - interval '3 days', 'web', 'paid', 200, 200, 0);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, currency, gross_amount, net_amount)
VALUES (9201, 807, now(), 'web', 'paid', 'USD', 10, 10);

--
-- open_loyalty_account: idempotent, in the tier of threshold 0
--
SELECT client_id, tier_code, balance FROM crm.open_loyalty_account(9201, 'gold');
SELECT client_id, tier_code, balance FROM crm.open_loyalty_account(9201, 'gold');
SELECT pg_temp.try($$SELECT crm.open_loyalty_account(9999, 'gold')$$);
SELECT pg_temp.try($$SELECT crm.open_loyalty_account(NULL, 'gold')$$);
SELECT pg_temp.try($$SELECT crm.open_loyalty_account(9201, 'nope')$$);

--
-- award_order_points: 2 % cashback at 0.01 a point = 2 points per unit,
-- floor; the part paid with points (10000 points = 100.00) does not earn
--
SELECT entry_id - :base AS e, kind, points, order_id, idempotency_key, source,
	   round(extract(epoch FROM expires_at - now()) / 86400) AS days_left
  FROM crm.award_order_points(9201, 801, 'gold');
SELECT entry_id - :base AS e, points, order_id FROM crm.award_order_points(9201, 802, 'gold');
-- twice: the first result, nothing written
SELECT pg_temp.snap() AS before \gset
SELECT entry_id - :base AS e, points, order_id FROM crm.award_order_points(9201, 801, 'gold');
SELECT pg_temp.snap() = :'before' AS nothing_written;
-- not paid, other currency, unknown: errors, nothing written
SELECT pg_temp.try($$SELECT crm.award_order_points(9201, 803, 'gold')$$);
SELECT pg_temp.try($$SELECT crm.award_order_points(9201, 807, 'gold')$$);
SELECT pg_temp.try($$SELECT crm.award_order_points(9201, 899, 'gold')$$);
SELECT pg_temp.try($$SELECT crm.award_order_points(9201, NULL, 'gold')$$);
SELECT pg_temp.snap() = :'before' AS nothing_written;
-- an order worth less than a point: nothing (NULL), and nothing written
SELECT crm.award_order_points(9202, 805, 'gold') IS NULL AS no_points;
SELECT pg_temp.snap() = :'before' AS nothing_written;

-- award_paid_orders: every member's paid orders since joining, once
SELECT crm.open_loyalty_account(9203, 'gold') IS NOT NULL AS opened;
UPDATE crm.loyalty_accounts SET opened_at = now() - interval '30 days' WHERE client_id = 9203;
SELECT crm.award_paid_orders('gold') AS awarded;
SELECT crm.award_paid_orders('gold') AS awarded_again;
SELECT client_id, order_id, points FROM crm.loyalty_ledger
 WHERE source = 'award_order_points' AND client_id IN (9201, 9202, 9203) ORDER BY order_id;

--
-- welcome bonus: once per member, short-lived (bonus_lifetime 30 days)
--
SELECT entry_id - :base AS e, kind, points, idempotency_key,
	   round(extract(epoch FROM expires_at - now()) / 86400) AS days_left
  FROM crm.award_welcome_bonus(9201, 'gold');
SELECT entry_id - :base AS e, points FROM crm.award_welcome_bonus(9201, 'gold');
SELECT crm.award_welcome_bonuses('gold') AS awarded;
SELECT crm.award_welcome_bonuses('gold') AS awarded_again;
SELECT client_id, kind, points FROM crm.loyalty_ledger WHERE kind = 'welcome' AND client_id BETWEEN 9201 AND 9204 ORDER BY 1;

--
-- birthday bonus: on the day, once a year; 29 February counts on
-- 28 February in common years, and on 29 February in leap years (days
-- other than today, as a scheduler catching up would: allow_other_day)
--
SELECT crm.open_loyalty_account(9202, 'gold') IS NOT NULL AS opened;
SELECT crm.open_loyalty_account(9204, 'gold') IS NOT NULL AS opened;
SELECT crm.award_birthday_bonuses('gold', '2027-03-09', allow_other_day => true) AS on_0309;
SELECT crm.award_birthday_bonuses('gold', '2027-03-10', allow_other_day => true) AS on_0310;
SELECT crm.award_birthday_bonuses('gold', '2027-03-10', allow_other_day => true) AS on_0310_again;
SELECT crm.award_birthday_bonuses('gold', '2028-03-10', allow_other_day => true) AS on_0310_next_year;
SELECT (crm.award_birthday_bonus(9201, 'gold', '2027-02-28', allow_other_day => true)).points AS feb28_2027,
	   (crm.award_birthday_bonus(9201, 'gold', '2028-02-28', allow_other_day => true)).points AS feb28_2028,
	   (crm.award_birthday_bonus(9201, 'gold', '2028-02-29', allow_other_day => true)).points AS feb29_2028;
SELECT crm.award_birthday_bonus(9201, 'gold', '2027-03-01', allow_other_day => true) IS NULL AS not_on_0301;
SELECT crm.award_birthday_bonus(9203, 'gold', '2027-03-10', allow_other_day => true) IS NULL AS no_birth_date;
SELECT client_id, idempotency_key, points FROM crm.loyalty_ledger
 WHERE kind = 'birthday' AND client_id BETWEEN 9201 AND 9204 ORDER BY 1, 2;
SELECT pg_temp.try($$SELECT crm.award_birthday_bonus(9999, 'gold', '2027-03-10', allow_other_day => true)$$);
SELECT pg_temp.try($$SELECT crm.award_birthday_bonuses('gold', NULL)$$);

--
-- tiers: turnover of placed and paid orders in the last 365 days
--
SELECT client_id, crm.tier_turnover(client_id, 'gold') AS turnover
  FROM (VALUES (9201), (9202), (9203)) v(client_id) ORDER BY 1;
SELECT client_id, from_tier, to_tier, turnover FROM crm.update_tier(9201, 'gold');
SELECT client_id, from_tier, to_tier FROM crm.update_tier(9201, 'gold');
SELECT crm.update_tiers('gold') AS moved;
SELECT crm.update_tiers('gold') AS moved_again;
SELECT client_id, tier_code FROM crm.loyalty_accounts WHERE program_id = (SELECT program_id FROM crm.loyalty_programs WHERE code = 'gold') ORDER BY 1;
-- a silver member earns 1.5 times the cashback
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (9201, 808, now(), 'web', 'paid', 100, 100);
SELECT points FROM crm.award_order_points(9201, 808, 'gold');
-- 9202 bought 6000 over 400 days ago: the turnover moved out of the window
-- earlier.  Reaching gold now with a big order, then the order ages out:
-- down only after tier_hold (90 days), straight to the tier qualified for
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (9202, 809, now(), 'store', 'paid', 5000, 5000);
SELECT from_tier, to_tier, turnover FROM crm.update_tier(9202, 'gold');
SELECT to_tier FROM crm.update_tier(9202, 'gold', now() + interval '300 days', allow_future => true);
SELECT from_tier, to_tier, turnover FROM crm.update_tier(9202, 'gold', now() + interval '400 days', allow_future => true);
SELECT to_tier FROM crm.update_tier(9202, 'gold', now() + interval '400 days', allow_future => true);
-- a partial refund lowers the turnover; moves are never made back in time
SELECT crm.tier_turnover(9201, 'gold') AS before_refund;
SELECT points, refund_amount FROM crm.refund_order_points(9201, 802, 'r802', 400);
SELECT crm.tier_turnover(9201, 'gold') AS after_refund;
SELECT to_tier FROM crm.update_tier(9201, 'gold', now() - interval '1 day');
-- a programme that never downgrades
UPDATE crm.loyalty_programs SET tier_downgrade = false WHERE code = 'gold';
SELECT crm.tier_turnover(9201, 'gold', now() + interval '400 days') AS turnover_then;
SELECT to_tier FROM crm.update_tier(9201, 'gold', now() + interval '400 days', allow_future => true);
SELECT client_id, from_tier, to_tier, turnover, made_by IS NOT NULL AS who
  FROM crm.loyalty_tier_changes WHERE client_id BETWEEN 9201 AND 9204 ORDER BY change_id;
SELECT pg_temp.try($$SELECT crm.update_tier(9999, 'gold')$$);
SELECT pg_temp.try($$SELECT crm.update_tier(9201, 'gold', NULL)$$);
SELECT pg_temp.try($$UPDATE crm.loyalty_tier_changes SET to_tier = 'gold'$$);

--
-- expiry, lot by lot: the welcome lots (30 days) expire first; a partly
-- redeemed lot expires only its remainder; a second run writes nothing
--
SELECT lot_id - :base AS lot, points, remaining, round(extract(epoch FROM expires_at - now()) / 86400) AS days_left
  FROM crm.loyalty_lots WHERE client_id = 9201 ORDER BY expires_at, lot_id;
SELECT entry_id - :base AS e, points FROM crm.redeem_points(9201, 'gold', 400, 'spend');
SELECT lot_id - :base AS lot, points, remaining FROM crm.loyalty_lots WHERE client_id = 9201 ORDER BY expires_at, lot_id;
-- the expiring-soon list: points per expiry date
SELECT round(extract(epoch FROM expires_at - now()) / 86400) AS days_left, points
  FROM crm.points_expiring(9201, 'gold');
SELECT count(*) FROM crm.points_expiring(9201, 'gold', within => interval '60 days');
SELECT * FROM crm.expire_points(now() + interval '29 days', allow_future => true);
SELECT * FROM crm.expire_points(now() + interval '31 days', allow_future => true, program => 'gold');
SELECT pg_temp.snap() AS before \gset
SELECT * FROM crm.expire_points(now() + interval '31 days', allow_future => true);
SELECT pg_temp.snap() = :'before' AS nothing_written;
SELECT entry_id - :base AS e, kind, points, balance_after, lot_id - :base AS lot, idempotency_key ~ '^crm:expire:\d+:1$' AS key_ok
  FROM crm.loyalty_ledger WHERE client_id = 9201 AND kind = 'expire' ORDER BY entry_id;
SELECT pg_temp.try($$SELECT crm.expire_points(NULL)$$);
SELECT pg_temp.try($$SELECT crm.expire_points(now(), 'nope')$$);
-- a redemption expires the due lots of its account first: expired points are never spent
SELECT entry_id - :base AS e, points FROM crm.earn_points(9203, 'gold', 100, 'short', expires_at => clock_timestamp() + interval '1 second');
SELECT crm.points_balance(9203, 'gold') AS balance \gset
SELECT pg_sleep(1.1);
SELECT pg_temp.try(format('SELECT crm.redeem_points(9203, ''gold'', %s, ''too-late'')', :balance));
SELECT entry_id - :base AS e, kind, points FROM crm.redeem_points(9203, 'gold', :balance - 100, 'in-time');
SELECT kind, points FROM crm.loyalty_ledger WHERE client_id = 9203 ORDER BY entry_id DESC LIMIT 2;
-- a restored redemption whose lot has expired since: the points expire again, with a new key
SELECT entry_id - :base AS e, points FROM crm.earn_points(9204, 'gold', 60, 'soon', expires_at => clock_timestamp() + interval '1 second');
SELECT entry_id - :base AS e, points FROM crm.redeem_points(9204, 'gold', 20, 'use-20');
SELECT pg_sleep(1.1);
SELECT accounts, lots, points FROM crm.expire_points(clock_timestamp()) WHERE accounts > 0;
SELECT points FROM crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq') - 1, 'undo');
SELECT accounts, lots, points FROM crm.expire_points(clock_timestamp());
SELECT kind, points, regexp_replace(idempotency_key, '\d+', 'n') AS key
  FROM crm.loyalty_ledger WHERE client_id = 9204 AND kind = 'expire' ORDER BY entry_id;

SELECT * FROM crm.verify_ledger();

-- the remaining error paths of the jobs and readers
SELECT pg_temp.try($$SELECT crm.reverse_entry((SELECT max(entry_id) FROM crm.loyalty_ledger WHERE kind = 'expire'), 'x')$$);
SELECT pg_temp.try($$SELECT crm.award_welcome_bonus(NULL, 'gold')$$);
SELECT pg_temp.try($$SELECT crm.award_welcome_bonus(9999, 'gold')$$);
SELECT pg_temp.try($$SELECT crm.award_welcome_bonuses('nope')$$);
SELECT pg_temp.try($$SELECT crm.award_paid_orders('nope')$$);
SELECT pg_temp.try($$SELECT crm.award_birthday_bonus(9201, 'gold', NULL)$$);
SELECT pg_temp.try($$SELECT crm.update_tiers('nope')$$);
SELECT pg_temp.try($$SELECT crm.tier_turnover(NULL, 'gold')$$);
SELECT pg_temp.try($$SELECT crm.tier_turnover(9201, 'nope')$$);
SELECT pg_temp.try($$SELECT crm.points_expiring(9201, 'gold', NULL)$$);
SELECT pg_temp.try($$SELECT crm.points_expiring(9201, 'nope')$$);
SELECT pg_temp.try($$SELECT crm.open_loyalty_account(9201, NULL)$$);

--
-- verify_ledger finds what is wrong (the caches can be corrupted by the
-- owner; the ledger only with its guard switched off)
--
SAVEPOINT corrupt;
UPDATE crm.loyalty_accounts SET balance = balance + 1 WHERE client_id = 9201;
UPDATE crm.loyalty_lots SET remaining = remaining - 1
 WHERE lot_id = (SELECT min(lot_id) FROM crm.loyalty_lots WHERE client_id = 9201 AND remaining > 0);
INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, lot_id,
								idempotency_key, made_by, source)
SELECT client_id, program_id, 9000000000000000000, 'adjust', 5, 5, 9000000000000000000, 'forged', 'x', 'x'
  FROM crm.loyalty_accounts WHERE client_id = 9202;
INSERT INTO crm.loyalty_allocations (client_id, program_id, entry_id, lot_id, points)
SELECT client_id, program_id, -2, -3, 7 FROM crm.loyalty_accounts WHERE client_id = 9204;
SELECT check_name, client_id, entry_id IN (-2, 9000000000000000000) AS forged, detail FROM crm.verify_ledger();
ROLLBACK TO corrupt;
-- with the guard switched off (superuser only), a changed entry shows
ALTER TABLE crm.loyalty_ledger DISABLE TRIGGER loyalty_ledger_append_only;
UPDATE crm.loyalty_ledger SET points = points + 1
 WHERE entry_id = (SELECT max(entry_id) FROM crm.loyalty_ledger WHERE client_id = 9201 AND kind = 'redeem');
SELECT check_name, client_id, count(*) FROM crm.verify_ledger() GROUP BY 1, 2 ORDER BY 1, 2;
ROLLBACK TO corrupt;
SELECT count(*) FROM crm.verify_ledger();
ROLLBACK;
