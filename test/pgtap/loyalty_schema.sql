-- Schema contracts of the loyalty tables and functions.
BEGIN;
SELECT plan(52);

SELECT has_table('crm', t, 'table crm.' || t) FROM unnest(ARRAY['loyalty_programs', 'loyalty_tiers',
	'loyalty_accounts', 'loyalty_ledger', 'loyalty_lots', 'loyalty_allocations', 'loyalty_reversals',
	'loyalty_tier_changes']) t;
SELECT col_is_pk('crm', 'loyalty_accounts', ARRAY['client_id', 'program_id'], 'accounts are keyed by client and programme');
SELECT col_is_pk('crm', 'loyalty_ledger', ARRAY['client_id', 'program_id', 'entry_id'], 'ledger keys lead with client_id');
SELECT col_is_unique('crm', 'loyalty_ledger', ARRAY['client_id', 'program_id', 'idempotency_key'],
					 'the idempotency key is unique per account');
-- an entry's account: kept by a guard trigger rather than a foreign key
SELECT trigger_is('crm', 'loyalty_accounts', 'loyalty_account_guard', 'crm', 'loyalty_account_guard',
				  'accounts are guarded against losing their entries');
INSERT INTO crm.clients (client_id, first_name) VALUES (990001, 'guard');
INSERT INTO crm.loyalty_programs (program_id, code, name, points_per_unit) VALUES (990001, 'guard_test', 'Guard', 1);
INSERT INTO crm.clients (client_id, first_name) VALUES (990002, 'guard, no entries');
INSERT INTO crm.loyalty_accounts (client_id, program_id, balance) VALUES (990001, 990001, 5), (990002, 990001, 0);
INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, lot_id,
								idempotency_key, made_by, source)
VALUES (990001, 990001, -990001, 'earn', 5, 5, -990001, 'guard-1', 'test', 'test');
SELECT throws_ok($$DELETE FROM crm.loyalty_accounts WHERE client_id = 990001$$, '23503', NULL,
				 'an account with entries cannot be deleted');
SELECT throws_ok($$UPDATE crm.loyalty_accounts SET client_id = 990002 WHERE client_id = 990001$$, '23503', NULL,
				 'an account with entries cannot be re-keyed');
SELECT throws_ok($$TRUNCATE crm.loyalty_accounts CASCADE$$, '23503', NULL,
				 'accounts cannot be truncated while the ledger has entries');
SELECT lives_ok($$DELETE FROM crm.loyalty_accounts WHERE client_id = 990002$$,
				'an account without entries can be deleted');
-- the row rules of the ledger (crm.loyalty_entry_valid, its CHECK constraint)
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'gift', 5, 10, -990002, 'r-1', '{}', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses an unknown kind');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'redeem', 5, 10, NULL, 'r-1', '{}', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses a redemption that credits');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'earn', -5, 0, NULL, 'r-1', '{}', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses an earning that debits');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'adjust', 0, 5, NULL, 'r-1', '{}', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses an adjustment of zero');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'redeem', -10, -5, NULL, 'r-1', '{}', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses a negative balance_after');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'earn', 5, 10, NULL, 'r-1', '{}', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses a credit that opens no lot');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'redeem', -1, 4, -990002, 'r-1', '{}', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses a debit that claims its own lot');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'earn', 5, 10, -990002, '', '{}', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses an empty idempotency key');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'earn', 5, 10, -990002, repeat('k', 201), '{}', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses a key of 201 characters');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after,
		lot_id, idempotency_key, request, made_by, source) VALUES (990001, 990001, -990002, 'earn', 5, 10, -990002, 'r-1', '[]', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses a request that is not an object');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, lot_id, expires_at, idempotency_key, made_by, source) VALUES (990001, 990001, -990002, 'redeem', -1, 4, NULL, now(), 'r-1', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses an expiry date on an entry that opens no lot');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, idempotency_key, made_by, source, reverses_entry_id) VALUES (990001, 990001, -990002, 'redeem', -1, 4, 'r-1', 'test', 'test', -990001)$$,
	'23514', NULL, 'the ledger refuses a reversed entry on a redemption');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, idempotency_key, made_by, source, unrecovered) VALUES (990001, 990001, -990002, 'redeem', -1, 4, 'r-1', 'test', 'test', 1)$$,
	'23514', NULL, 'the ledger refuses unrecovered points on a redemption');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, idempotency_key, made_by, source) VALUES (990001, 990001, -990002, 'reversal', -1, 4, 'r-1', 'test', 'test')$$,
	'23514', NULL, 'the ledger refuses a reversal of nothing');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, idempotency_key, made_by, source, reverses_entry_id, refund_amount, order_id) VALUES (990001, 990001, -990002, 'reversal', -1, 4, 'r-1', 'test', 'test', -990001, 1, NULL)$$,
	'23514', NULL, 'the ledger refuses a reversal of an entry and a refund at once');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, idempotency_key, made_by, source, refund_amount) VALUES (990001, 990001, -990002, 'reversal', -1, 4, 'r-1', 'test', 'test', 1)$$,
	'23514', NULL, 'the ledger refuses a refund without its order');
SELECT throws_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, idempotency_key, made_by, source, reverses_entry_id, unrecovered) VALUES (990001, 990001, -990002, 'reversal', -1, 4, 'r-1', 'test', 'test', -990001, -1)$$,
	'23514', NULL, 'the ledger refuses negative unrecovered points');
SELECT lives_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, idempotency_key, made_by, source, reverses_entry_id, unrecovered) VALUES (990001, 990001, -990002, 'reversal', -5, 0, 'r-1', 'test', 'test', -990001, 2)$$,
	'the ledger accepts a reversal of an entry with unrecovered points');
SELECT lives_ok($$INSERT INTO crm.loyalty_ledger (client_id, program_id, entry_id, kind, points, balance_after, idempotency_key, made_by, source, request) VALUES (990001, 990001, -990003, 'adjust', -1, 0, repeat('é', 200), 'test', 'test', '{"a": 1}')$$,
	'the ledger accepts a key of 200 (multibyte) characters');
SELECT fk_ok('crm', 'loyalty_ledger', ARRAY['client_id', 'order_id'], 'crm', 'orders', ARRAY['client_id', 'order_id']);
SELECT col_type_is('crm', 'loyalty_ledger', 'points', 'bigint', 'points are bigint');
SELECT col_not_null('crm', 'loyalty_ledger', 'idempotency_key', 'every entry has a key');

-- append-only: row and truncate triggers, firing always
SELECT is((SELECT count(*) FROM pg_trigger
			WHERE tgrelid IN ('crm.loyalty_ledger'::regclass, 'crm.loyalty_allocations'::regclass,
							  'crm.loyalty_reversals'::regclass, 'crm.loyalty_tier_changes'::regclass)
			  AND tgfoid = 'crm.loyalty_refuse_change()'::regprocedure AND tgenabled = 'A'),
		  8::bigint, 'eight append-only triggers, enabled always');
SELECT is_empty($$
	SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
	 WHERE c.relnamespace = 'crm'::regnamespace AND c.relname LIKE 'loyalty%' AND c.relkind = 'r'
	   AND a.grantee = 0 $$, 'PUBLIC holds no privilege on a loyalty table');
SELECT is_empty($$
	SELECT c.relname, a.privilege_type FROM pg_class c, aclexplode(c.relacl) a
	 WHERE c.oid IN ('crm.loyalty_ledger'::regclass, 'crm.loyalty_allocations'::regclass,
					 'crm.loyalty_reversals'::regclass, 'crm.loyalty_tier_changes'::regclass)
	   AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE') $$,
	'nobody, the owner included, holds UPDATE, DELETE or TRUNCATE on the append-only tables');

-- functions
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace
	   AND p.proname IN ('earn_points', 'redeem_points', 'adjust_points', 'reverse_entry',
						 'refund_order_points', 'expire_points', 'award_order_points', 'award_paid_orders',
						 'award_welcome_bonus', 'award_welcome_bonuses', 'award_birthday_bonus',
						 'award_birthday_bonuses', 'update_tier', 'update_tiers', 'open_loyalty_account',
						 'verify_ledger')
	   AND NOT (p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, crm, pg_temp']) $$,
	'every writing loyalty function (and verify_ledger) is SECURITY DEFINER with a safe search_path');
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace
	   AND p.proname IN ('points_balance', 'points_statement', 'points_expiring', 'tier_turnover')
	   AND p.prosecdef $$,
	'the reading loyalty functions run with the caller''s rights, so row-level security applies');
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace AND p.proname LIKE 'loyalty%' AND p.prorettype <> 'trigger'::regtype
	   AND has_function_privilege('public', p.oid, 'EXECUTE') $$,
	'no internal loyalty function is callable by PUBLIC');
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace
	   AND p.proname IN ('earn_points', 'redeem_points', 'adjust_points', 'reverse_entry', 'refund_order_points',
						 'expire_points', 'award_order_points', 'update_tier')
	   AND p.provolatile <> 'v' $$,
	'writing functions are VOLATILE');
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace
	   AND p.proname IN ('points_balance', 'points_statement', 'points_expiring', 'tier_turnover', 'verify_ledger')
	   AND p.provolatile <> 's' $$,
	'reading functions are STABLE');
-- a subtransaction (an EXCEPTION block) cannot start in parallel mode, not
-- even in the leader: such a function, and one that calls it, is PARALLEL
-- UNSAFE (PARALLEL RESTRICTED would still fail under debug_parallel_query)
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace
	   AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
	   AND p.prosrc ~* '\mEXCEPTION\s+WHEN\M'
	   AND p.proparallel <> 'u' $$,
	'every function with an EXCEPTION block is PARALLEL UNSAFE');
SELECT is_empty($$
	SELECT c.relname FROM pg_class c
	 WHERE c.relnamespace = 'crm'::regnamespace AND c.relname LIKE 'loyalty%' AND c.relkind IN ('r', 'S')
	   AND NOT EXISTS (SELECT 1 FROM pg_extension e WHERE e.extname = 'crm' AND c.oid = ANY (e.extconfig)) $$,
	'every loyalty table and sequence is kept by pg_dump');
SELECT is_empty($$
	SELECT c.relname FROM pg_class c
	 WHERE c.relnamespace = 'crm'::regnamespace AND c.relname LIKE 'loyalty%' AND c.relkind = 'r'
	   AND obj_description(c.oid, 'pg_class') IS NULL $$,
	'every loyalty table has a comment');
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace
	   AND (p.proname LIKE 'loyalty%' OR p.proname LIKE '%points%' OR p.proname LIKE '%tier%'
			OR p.proname LIKE 'award%' OR p.proname IN ('reverse_entry', 'verify_ledger', 'open_loyalty_account'))
	   AND obj_description(p.oid, 'pg_proc') IS NULL $$,
	'every loyalty function has a comment');

-- the lot order is written once per implementation and both read it from
-- the same place: the C path (src/loyalty_fast.c, pick_lots) reads the
-- open lots through loyalty_lots_open_idx in index order, the SQL one
-- (crm.loyalty_debit) orders by the same columns
SELECT is(pg_get_indexdef('crm.loyalty_lots_open_idx'::regclass),
		  'CREATE INDEX loyalty_lots_open_idx ON crm.loyalty_lots USING btree (client_id, program_id, expires_at, lot_id) WHERE (remaining > 0)',
		  'the open-lots index is in the soonest-expiry-first order the C path reads');
SELECT ok((SELECT prosrc FROM pg_proc WHERE oid = 'crm.loyalty_debit(crm.loyalty_accounts, crm.loyalty_programs, text, bigint, bigint, text, text, text, text, jsonb)'::regprocedure)
		  ~ 'ORDER BY t\.client_id, t\.program_id, t\.expires_at, t\.lot_id',
		  'crm.loyalty_debit draws soonest-expiry-first lots in the order of that index');

SELECT * FROM finish();
ROLLBACK;
