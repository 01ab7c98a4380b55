--
-- Loyalty reversals: crm.reverse_entry and crm.refund_order_points, with
-- the refund bugs users report most (earned points kept after a refund,
-- redeemed points deducted again, partial refunds, points already spent).
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
	SELECT format('entries %s, points %s, lots %s, allocations %s, reversals %s, balances %s',
		(SELECT count(*) FROM crm.loyalty_ledger), (SELECT coalesce(sum(points), 0) FROM crm.loyalty_ledger),
		(SELECT count(*) FROM crm.loyalty_lots), (SELECT count(*) FROM crm.loyalty_allocations),
		(SELECT count(*) FROM crm.loyalty_reversals), (SELECT coalesce(sum(balance), 0) FROM crm.loyalty_accounts))
$$;
SELECT nextval('crm.loyalty_ledger_entry_id_seq') AS base \gset

INSERT INTO crm.clients (client_id, first_name) VALUES (9101, 'Dee'), (9102, 'Eve'), (9103, 'Fay');
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, points_lifetime, max_redeem_share)
VALUES ('shop', 'Shop points', 1, '365 days', 1);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (9101, 601, now(), 'web', 'paid', 300, 300),
	   (9101, 602, now(), 'web', 'paid', 100, 100),
	   (9102, 603, now(), 'web', 'paid', 90, 90),
	   (9102, 604, now(), 'web', 'paid', 50, 50),
	   (9103, 605, now(), 'web', 'paid', 10, 10);

--
-- reverse_entry of an unspent earning: the points come back out exactly
--
SELECT entry_id - :base AS e, points, balance_after FROM crm.earn_points(9101, 'shop', 50, 'e1');
SELECT entry_id - :base AS e, kind, points, balance_after, reverses_entry_id - :base AS reverses,
	   unrecovered, lot_id - :base AS lot
  FROM crm.reverse_entry(:base + 1, 'void-e1', note => 'added by mistake');
SELECT crm.points_balance(9101, 'shop');
-- the same key again: the same reversal; a second reversal with another key: refused
SELECT entry_id - :base AS e, points FROM crm.reverse_entry(:base + 1, 'void-e1', note => 'added by mistake');
SELECT pg_temp.snap() AS before \gset
SELECT pg_temp.try($$SELECT crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq') - 1, 'void-e1-again')$$);
SELECT pg_temp.try($$SELECT crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq') - 1, 'void-e1', note => 'other')$$);
-- a reversal cannot be reversed (the refund of a refund), nor can an expiry
SELECT pg_temp.try($$SELECT crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq'), 'x')$$);
SELECT pg_temp.try($$SELECT crm.reverse_entry(-1, 'x')$$);
SELECT pg_temp.try($$SELECT crm.reverse_entry(NULL, 'x')$$);
SELECT pg_temp.try($$SELECT crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq') - 1, NULL)$$);
SELECT pg_temp.snap() = :'before' AS nothing_written;

--
-- reverse_entry of a redemption: the points go back into the lots they
-- came from, with their own expiry (soonest-expiring lot drawn first)
--
SELECT entry_id - :base AS e, points FROM crm.earn_points(9101, 'shop', 100, 'e2', expires_at => now() + interval '20 days');
SELECT entry_id - :base AS e, points FROM crm.earn_points(9101, 'shop', 100, 'e3', expires_at => now() + interval '40 days');
SELECT entry_id - :base AS e, points, balance_after FROM crm.redeem_points(9101, 'shop', 150, 'r1');
SELECT lot_id - :base AS lot, points, remaining FROM crm.loyalty_lots WHERE client_id = 9101 ORDER BY lot_id;
SELECT entry_id - :base AS e, kind, points, balance_after, reverses_entry_id - :base AS reverses
  FROM crm.reverse_entry(:base + 5, 'undo-r1');
SELECT lot_id - :base AS lot, points, remaining,
	   round(extract(epoch FROM expires_at - now()) / 86400) AS days_left
  FROM crm.loyalty_lots WHERE client_id = 9101 ORDER BY lot_id;
-- restoring adds back exactly what was taken, not "the current value"
SELECT crm.points_balance(9101, 'shop') AS balance,
	   (SELECT balance_after FROM crm.loyalty_ledger WHERE entry_id = :base + 4) AS before_redeem;

--
-- reverse_entry of an earning that was partly spent: the unspent part
-- comes out, the spent part is reported as unrecovered, never below zero
--
SELECT entry_id - :base AS e, points FROM crm.earn_points(9103, 'shop', 80, 'e1');
SELECT entry_id - :base AS e, points FROM crm.redeem_points(9103, 'shop', 50, 'r1');
SELECT entry_id - :base AS e, kind, points, balance_after, unrecovered
  FROM crm.reverse_entry(:base + 7, 'void');
SELECT pg_temp.try($$SELECT crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq') - 2, 'void-2')$$);
SELECT crm.points_balance(9103, 'shop');

--
-- refund_order_points: an order earned 90 points (cashback when paid) and
-- was paid in part with 120 points (which drew the 90 first: they expire
-- first); refunds of 30 % then the rest
--
SELECT entry_id - :base AS e, points, order_id FROM crm.award_order_points(9102, 603, 'shop');
SELECT entry_id - :base AS e, points FROM crm.earn_points(9102, 'shop', 400, 'e1');
SELECT entry_id - :base AS e, points, order_id FROM crm.redeem_points(9102, 'shop', 120, 'pay-603', order_id => 603);
SELECT crm.points_balance(9102, 'shop');
-- the first refund: 27.00 of 90.00 (30 %): 36 of the 120 redeemed come back (into the
-- order's own lot first), 27 of the 90 earned go out
SELECT entry_id - :base AS e, kind, points, balance_after, order_id, unrecovered, refund_amount
  FROM crm.refund_order_points(9102, 603, 'refund-1', 27.00);
SELECT r.reversed_entry_id - :base AS reversed, o.kind, r.points, r.unrecovered
  FROM crm.loyalty_reversals r JOIN crm.loyalty_ledger o
	ON o.client_id = r.client_id AND o.program_id = r.program_id AND o.entry_id = r.reversed_entry_id
 WHERE r.entry_id = currval('crm.loyalty_ledger_entry_id_seq') ORDER BY 1;
-- the same key again: the first result, nothing written
SELECT pg_temp.snap() AS before \gset
SELECT entry_id - :base AS e, points, refund_amount FROM crm.refund_order_points(9102, 603, 'refund-1', 27.00);
SELECT pg_temp.snap() = :'before' AS nothing_written;
SELECT pg_temp.try($$SELECT crm.refund_order_points(9102, 603, 'refund-1', 28.00)$$);
-- refunding more than remains: an error, nothing written
SELECT pg_temp.try($$SELECT crm.refund_order_points(9102, 603, 'refund-2', 63.01)$$);
SELECT pg_temp.try($$SELECT crm.refund_order_points(9102, 603, 'refund-2', 90.01)$$);
SELECT pg_temp.try($$SELECT crm.refund_order_points(9102, 603, 'refund-2', 0)$$);
SELECT pg_temp.try($$SELECT crm.refund_order_points(9102, 603, 'refund-2', -1)$$);
SELECT pg_temp.try($$SELECT crm.refund_order_points(9102, 999, 'refund-2')$$);
SELECT pg_temp.try($$SELECT crm.refund_order_points(9102, NULL, 'refund-2')$$);
SELECT pg_temp.try($$SELECT crm.refund_order_points(NULL, 603, 'refund-2')$$);
SELECT pg_temp.snap() = :'before' AS nothing_written;
-- the rest (NULL: whatever remains, 63.00): exactly all of it is reversed in total
SELECT entry_id - :base AS e, kind, points, balance_after, unrecovered, refund_amount
  FROM crm.refund_order_points(9102, 603, 'refund-2');
SELECT o.kind, o.points,
	   sum(r.points) AS reversed, sum(r.unrecovered) AS unrecovered
  FROM crm.loyalty_ledger o JOIN crm.loyalty_reversals r
	ON o.client_id = r.client_id AND o.program_id = r.program_id AND o.entry_id = r.reversed_entry_id
 WHERE o.client_id = 9102 AND o.order_id = 603
 GROUP BY o.kind, o.points ORDER BY o.kind;
-- the balance is what it was without the order: 400 earned otherwise
SELECT crm.points_balance(9102, 'shop');
-- fully refunded: another whole refund is refused; the refund entry itself cannot be reversed
SELECT pg_temp.try($$SELECT crm.refund_order_points(9102, 603, 'refund-3')$$);
SELECT pg_temp.try($$SELECT crm.refund_order_points(9102, 603, 'refund-3', 1)$$);
SELECT pg_temp.try($$SELECT crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq'), 'x')$$);

--
-- refund after the earned points were spent: the unspent part comes out,
-- the rest is reported; the balance never goes below zero
--
SELECT entry_id - :base AS e, points FROM crm.award_order_points(9102, 604, 'shop');
SELECT crm.points_balance(9102, 'shop');
SELECT entry_id - :base AS e, points FROM crm.redeem_points(9102, 'shop', 450, 'spend-all');
SELECT lot_id - :base AS lot, points, remaining FROM crm.loyalty_lots
 WHERE client_id = 9102 AND remaining > 0 ORDER BY lot_id;
SELECT entry_id - :base AS e, kind, points, balance_after, unrecovered, refund_amount
  FROM crm.refund_order_points(9102, 604, 'refund-604');
SELECT crm.points_balance(9102, 'shop');

--
-- buy, earn, refund, again: the points do not pile up
--
SELECT crm.points_balance(9103, 'shop') AS start \gset
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT 9103, 700 + g, now(), 'web', 'paid', 25, 25 FROM generate_series(1, 3) g;
SELECT g, (crm.award_order_points(9103, 700 + g, 'shop')).points AS earned,
	   (SELECT sum(r.points) FROM crm.refund_order_points(9103, 700 + g, 'refund-' || g) r) AS refunded,
	   crm.points_balance(9103, 'shop') AS balance
  FROM generate_series(1, 3) g;
SELECT crm.points_balance(9103, 'shop') = :start AS back_to_start;

-- a refund of an order that moved no points writes nothing
SELECT count(*) FROM crm.refund_order_points(9101, 602, 'refund-602');

-- reverse_entry and refunds together never reverse an entry twice
SELECT entry_id - :base AS e, points FROM crm.award_order_points(9101, 601, 'shop');
SELECT entry_id - :base AS e, points, unrecovered FROM crm.refund_order_points(9101, 601, 'half', 150);
SELECT entry_id - :base AS e, points, unrecovered FROM crm.reverse_entry(currval('crm.loyalty_ledger_entry_id_seq') - 1, 'rest');
-- refunding the rest records the amount and moves nothing more
SELECT entry_id - :base AS e, points, unrecovered, refund_amount FROM crm.refund_order_points(9101, 601, 'rest-by-refund');
SELECT crm.points_balance(9101, 'shop');

-- the append-only guard also covers the reversal rows
SELECT pg_temp.try($$DELETE FROM crm.loyalty_reversals$$);
SELECT pg_temp.try($$UPDATE crm.loyalty_reversals SET unrecovered = 0$$);

SELECT * FROM crm.verify_ledger();
ROLLBACK;
