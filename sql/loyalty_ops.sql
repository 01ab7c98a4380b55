--
-- Loyalty operations: earn, redeem, adjust, balance, statement, idempotency,
-- every error, append-only ledger, privileges.
--
SET TimeZone = 'UTC';
BEGIN;
-- try(sql): runs a statement, returns 'ok' or 'SQLSTATE: message / detail'
-- (times and ledger entry numbers, which differ from run to run, masked)
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
-- what the loyalty tables hold: compared before and after a failing call
CREATE FUNCTION pg_temp.snap() RETURNS text LANGUAGE sql AS $$
	SELECT format('entries %s, points %s, lots %s, allocations %s, accounts %s, balances %s',
		(SELECT count(*) FROM crm.loyalty_ledger), (SELECT coalesce(sum(points), 0) FROM crm.loyalty_ledger),
		(SELECT count(*) FROM crm.loyalty_lots), (SELECT count(*) FROM crm.loyalty_allocations),
		(SELECT count(*) FROM crm.loyalty_accounts), (SELECT coalesce(sum(balance), 0) FROM crm.loyalty_accounts))
$$;
SELECT nextval('crm.loyalty_ledger_entry_id_seq') AS base \gset

INSERT INTO crm.clients (client_id, first_name, birth_date) VALUES
	(9001, 'Ann', '1992-02-29'), (9002, 'Bob', NULL), (9003, 'Cid', '1980-06-15');
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, points_lifetime, bonus_lifetime,
								  welcome_points, birthday_points, max_redeem_share)
VALUES ('club', 'Club', 1, '365 days', '30 days', 100, 50, 0.5);
INSERT INTO crm.loyalty_programs (code, name, cashback_percent, point_value, lot_order)
VALUES ('fifo', 'Cashback, oldest lot first', 5, 0.01, 'earned_first');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (9001, 501, now(), 'web', 'placed', 100, 100),
	   (9001, 502, now(), 'web', 'cancelled', 10, 10),
	   (9002, 503, now(), 'web', 'paid', 10, 10);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, currency, gross_amount, net_amount)
VALUES (9001, 504, now(), 'web', 'paid', 'USD', 100, 100);

-- programme constraints
SELECT split_part(pg_temp.try($$INSERT INTO crm.loyalty_programs (code, name) VALUES ('x', 'neither rate')$$), ' / ', 1);
SELECT split_part(pg_temp.try($$INSERT INTO crm.loyalty_programs (code, name, points_per_unit, cashback_percent) VALUES ('x', 'both', 1, 1)$$), ' / ', 1);
SELECT split_part(pg_temp.try($$INSERT INTO crm.loyalty_programs (code, name, points_per_unit, max_redeem_share) VALUES ('x', 'x', 1, 1.5)$$), ' / ', 1);
SELECT split_part(pg_temp.try($$INSERT INTO crm.loyalty_programs (code, name, points_per_unit, lot_order) VALUES ('x', 'x', 1, 'random')$$), ' / ', 1);
SELECT split_part(pg_temp.try($$INSERT INTO crm.loyalty_programs (code, name, points_per_unit) VALUES ('Bad Code', 'x', 1)$$), ' / ', 1);

--
-- earn_points
--
SELECT entry_id - :base AS e, kind, points, balance_after, lot_id - :base AS lot,
	   expires_at - created_at AS lifetime, idempotency_key, source, request
  FROM crm.earn_points(9001, 'club', 300, 'e1');
-- the account was opened
SELECT client_id, tier_code, balance FROM crm.loyalty_accounts WHERE client_id = 9001;
-- the same key again: the first result, nothing written
SELECT pg_temp.snap() AS before \gset
SELECT entry_id - :base AS e, points, balance_after FROM crm.earn_points(9001, 'club', 300, 'e1');
SELECT pg_temp.snap() = :'before' AS nothing_written;
-- the same key with other arguments: an error
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 301, 'e1')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 300, 'e1', note => 'other')$$);
-- a key is unique per account: the same key in another account is another operation
SELECT entry_id - :base AS e, client_id, points FROM crm.earn_points(9002, 'club', 40, 'e1');
SELECT entry_id - :base AS e, client_id, points FROM crm.earn_points(9001, 'fifo', 40, 'e1');
-- explicit expiry, order and note
SELECT entry_id - :base AS e, points, balance_after, order_id, expires_at - now() AS lives, note
  FROM crm.earn_points(9001, 'club', 20, 'e2', order_id => 501,
					   expires_at => now() + interval '10 days', note => 'goodwill');
-- bad input: a clear error, nothing written
SELECT pg_temp.snap() AS before \gset
SELECT pg_temp.try($$SELECT crm.earn_points(NULL, 'club', 10, 'x')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, NULL, 10, 'x')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 10, NULL)$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 10, '')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 10, repeat('k', 201))$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 10, 'crm:order:1')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 0, 'x')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', -5, 'x')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', NULL, 'x')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'nope', 10, 'x')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9999, 'club', 10, 'x')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 10, 'x', order_id => 503)$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 10, 'x', order_id => 502)$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9001, 'club', 10, 'x', expires_at => '2020-01-01 00:00+00')$$);
SELECT pg_temp.snap() = :'before' AS nothing_written;

--
-- redeem_points: soonest-expiring lot first (club); welcome points expire
-- in 30 days, so they go before the earned lot of 300
--
SELECT entry_id - :base AS e, points FROM crm.award_welcome_bonus(9001, 'club');
SELECT lot_id - :base AS lot, points, remaining, round(extract(epoch FROM expires_at - now()) / 86400) AS days_left
  FROM crm.loyalty_lots WHERE client_id = 9001 AND program_id = 1 ORDER BY expires_at;
SELECT entry_id - :base AS e, kind, points, balance_after, lot_id - :base AS lot
  FROM crm.redeem_points(9001, 'club', 150, 'r1');
-- drew 20 from the lot expiring in 10 days, 100 from the welcome lot, 30 from the lot of 300
SELECT al.lot_id - :base AS lot, al.points
  FROM crm.loyalty_allocations al JOIN crm.loyalty_lots t USING (client_id, program_id, lot_id)
 WHERE al.entry_id = :base + 6 ORDER BY t.expires_at;
SELECT crm.points_balance(9001, 'club');
-- too few points: LY001 with the available balance, nothing written
SELECT pg_temp.snap() AS before \gset
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 271, 'r2')$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9003, 'club', 1, 'r2')$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 0, 'r2')$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', NULL, 'r2')$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 10, NULL)$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'nope', 10, 'r2')$$);
SELECT pg_temp.snap() = :'before' AS nothing_written;
-- exactly the balance: allowed, down to zero
SELECT entry_id - :base AS e, points, balance_after FROM crm.redeem_points(9001, 'club', 270, 'r2');
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 1, 'r3')$$);
-- a retry of r1 after the balance fell to zero still returns the first result
SELECT entry_id - :base AS e, points, balance_after FROM crm.redeem_points(9001, 'club', 150, 'r1');
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 151, 'r1')$$);
-- a key used by an earn cannot be replayed as a redemption
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 300, 'e1')$$);

--
-- paying an order with points: at most max_redeem_share (50 %) of its
-- net amount of 100.00 at 0.01 a point = 5000 points
--
SELECT entry_id - :base AS e, points FROM crm.earn_points(9001, 'club', 9000, 'e3');
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 5001, 'o1', order_id => 501)$$);
SELECT entry_id - :base AS e, points, order_id FROM crm.redeem_points(9001, 'club', 3000, 'o1', order_id => 501);
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 2001, 'o2', order_id => 501)$$);
SELECT entry_id - :base AS e, points, order_id FROM crm.redeem_points(9001, 'club', 2000, 'o2', order_id => 501);
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 1, 'o3', order_id => 502)$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 1, 'o3', order_id => 504)$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9001, 'club', 1, 'o3', order_id => 999)$$);

--
-- oldest lot first (fifo): the lot earned first goes first even though a
-- later lot expires sooner
--
SELECT entry_id - :base AS e, points, expires_at - now() AS lives
  FROM crm.earn_points(9002, 'fifo', 100, 'f1', expires_at => now() + interval '300 days');
SELECT entry_id - :base AS e, points, expires_at - now() AS lives
  FROM crm.earn_points(9002, 'fifo', 100, 'f2', expires_at => now() + interval '3 days');
SELECT entry_id - :base AS e, points, lot_id - :base AS lot FROM crm.redeem_points(9002, 'fifo', 60, 'f3');
SELECT lot_id - :base AS lot, points, remaining FROM crm.loyalty_lots
 WHERE client_id = 9002 AND program_id = 2 ORDER BY lot_id;

--
-- adjust_points: a credit opens a lot, a debit draws like a redemption
--
SELECT entry_id - :base AS e, kind, points, balance_after, lot_id = entry_id AS opens_lot, note
  FROM crm.adjust_points(9002, 'club', 15, 'a1', 'compensation for a late delivery');
SELECT entry_id - :base AS e, kind, points, balance_after, note
  FROM crm.adjust_points(9002, 'club', -5, 'a2', 'double booking');
SELECT pg_temp.snap() AS before \gset
SELECT pg_temp.try($$SELECT crm.adjust_points(9002, 'club', 0, 'a3', 'zero')$$);
SELECT pg_temp.try($$SELECT crm.adjust_points(9002, 'club', 5, 'a3', '  ')$$);
SELECT pg_temp.try($$SELECT crm.adjust_points(9002, 'club', 5, 'a3', NULL)$$);
SELECT pg_temp.try($$SELECT crm.adjust_points(9002, 'club', -51, 'a3', 'too much')$$);
SELECT pg_temp.try($$SELECT crm.adjust_points(9003, 'club', -1, 'a3', 'no account')$$);
SELECT pg_temp.try($$SELECT crm.adjust_points(9002, 'club', -1, 'a3', 'x', expires_at => now() + interval '1 day')$$);
SELECT pg_temp.try($$SELECT crm.adjust_points(9002, 'club', 1, 'a3', 'x', expires_at => '2020-01-01 00:00+00')$$);
SELECT pg_temp.snap() = :'before' AS nothing_written;

--
-- points_balance (now and at a moment) and the statement
--
SELECT clock_timestamp() AS t1 \gset
SELECT entry_id - :base AS e, points, balance_after FROM crm.earn_points(9002, 'club', 7, 'late');
SELECT crm.points_balance(9002, 'club') AS now, crm.points_balance(9002, 'club', :'t1') AS at_t1,
	   crm.points_balance(9002, 'club', '2000-01-01') AS in_2000,
	   crm.points_balance(9003, 'club') AS no_account;
SELECT pg_temp.try($$SELECT crm.points_balance(NULL, 'club')$$);
SELECT pg_temp.try($$SELECT crm.points_balance(9002, 'nope')$$);
SELECT entry_id - :base AS e, kind, points, running_balance, order_id, lot_id - :base AS lot,
	   idempotency_key, source, note
  FROM crm.points_statement(9002, 'club');
-- from a moment on: the running balance still counts what came before
SELECT entry_id - :base AS e, kind, points, running_balance
  FROM crm.points_statement(9002, 'club', from_at => :'t1');
SELECT count(*) FROM crm.points_statement(9002, 'club', to_at => :'t1');
SELECT pg_temp.try($$SELECT crm.points_statement(NULL, 'club')$$);

-- the ledger checks clean
SELECT * FROM crm.verify_ledger();

--
-- append-only: UPDATE, DELETE and TRUNCATE refused, for the owner too and
-- under session_replication_role = replica
--
SELECT pg_temp.try($$UPDATE crm.loyalty_ledger SET points = points + 1$$);
SELECT pg_temp.try($$DELETE FROM crm.loyalty_ledger$$);
SELECT pg_temp.try($$TRUNCATE crm.loyalty_ledger CASCADE$$);
SELECT pg_temp.try($$UPDATE crm.loyalty_allocations SET points = 0$$);
SELECT pg_temp.try($$DELETE FROM crm.loyalty_allocations$$);
SELECT pg_temp.try($$TRUNCATE crm.loyalty_allocations$$);
SELECT pg_temp.try($$TRUNCATE crm.loyalty_tier_changes$$);
SET LOCAL session_replication_role = replica;
SELECT pg_temp.try($$UPDATE crm.loyalty_ledger SET points = points + 1$$);
SELECT pg_temp.try($$DELETE FROM crm.loyalty_ledger$$);
RESET session_replication_role;
-- the owner holds no UPDATE, DELETE or TRUNCATE privilege on them either,
-- and the crm roles may only read them
SELECT c.relname,
	   (SELECT string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)
		  FROM aclexplode(c.relacl) a WHERE a.grantee = c.relowner) AS owner_privileges,
	   (SELECT string_agg(a.grantee::regrole || ':' || a.privilege_type, ', '
						  ORDER BY a.grantee::regrole::text, a.privilege_type)
		  FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner) AS others
  FROM pg_class c
 WHERE c.relnamespace = 'crm'::regnamespace
   AND c.relname IN ('loyalty_ledger', 'loyalty_allocations', 'loyalty_reversals', 'loyalty_tier_changes')
 ORDER BY 1;

--
-- privileges: an application role can do nothing until it is made a member
-- of crm_app, and then writes the ledger only through the functions
--
CREATE ROLE crm_loyalty_test_app;
GRANT USAGE ON SCHEMA crm TO crm_loyalty_test_app;
SET LOCAL ROLE crm_loyalty_test_app;
SELECT pg_temp.try($$SELECT crm.earn_points(9003, 'club', 10, 'app1')$$);
SELECT pg_temp.try($$SELECT count(*) FROM crm.loyalty_ledger$$);
RESET ROLE;
GRANT crm_app TO crm_loyalty_test_app;
SET LOCAL ROLE crm_loyalty_test_app;
SELECT points, balance_after FROM crm.earn_points(9003, 'club', 10, 'app1', actor => 'checkout');
SELECT crm.points_balance(9003, 'club');
SELECT pg_temp.try($$INSERT INTO crm.loyalty_ledger (client_id, program_id, kind, points, balance_after, idempotency_key, made_by, source) VALUES (9003, 1, 'earn', 1000, 1000, 'forged', 'me', 'me')$$);
SELECT pg_temp.try($$UPDATE crm.loyalty_accounts SET balance = 1000000$$);
SELECT pg_temp.try($$SELECT crm.loyalty_append(9003, 1, 'earn', 1000, NULL, '{}', '{}', NULL, NULL, 0, NULL, 'forged', NULL, 'x', NULL, '{}', now())$$);
RESET ROLE;
SELECT made_by, source FROM crm.loyalty_ledger WHERE client_id = 9003;
-- every loyalty function is closed to PUBLIC
SELECT p.oid::regprocedure
  FROM pg_proc p
 WHERE p.pronamespace = 'crm'::regnamespace
   AND (p.proname LIKE 'loyalty%' OR p.proname LIKE '%points%' OR p.proname LIKE '%tier%'
		OR p.proname LIKE 'award%' OR p.proname IN ('reverse_entry', 'verify_ledger', 'open_loyalty_account'))
   AND p.prorettype <> 'trigger'::regtype
   AND has_function_privilege('public', p.oid, 'EXECUTE');
ROLLBACK;
