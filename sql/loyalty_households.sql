--
-- Households (family cards), sql/install/84_loyalty_households.sql:
--   * opening, joining (one household per client and programme), the
--     errors of every household function, and calls again writing nothing;
--   * members earn into their own accounts (the C path takes those calls)
--     and the household's balance is the sum; a member's redemption spends
--     their own points first, then the other members' live lots in the
--     programme's lot order, moved by transfer entries that keep each
--     lot's expiry; the C path hands a member's redemption to SQL;
--   * the same key again returns the first entry and moves nothing; too
--     few points in the household (LY001) and a member's limit (LY004)
--     write nothing; a reversal gives the limit back; an order's share cap
--     and refunds work on a member's order; a transfer is not reversed;
--   * statements of the household and of one member, with running
--     balances that add up; crm.verify_ledger clean, and finding a
--     membership without its household;
--   * leaving: the points follow the member; the owner leaving closes the
--     household; crm.price_cart takes a member's household programme, and
--     crm.record_priced_cart pays a member's order with the household's points.
--
SET TimeZone = 'UTC';
SELECT (SELECT format('SELECT setval(%L, %s, %s)', 'crm.loyalty_ledger_entry_id_seq', last_value, is_called::text)
		  FROM crm.loyalty_ledger_entry_id_seq) AS reset_entries,
	   (SELECT format('SELECT setval(%L, %s, %s)', 'crm.loyalty_programs_program_id_seq', last_value, is_called::text)
		  FROM crm.loyalty_programs_program_id_seq) AS reset_programs,
	   (SELECT format('SELECT setval(%L, %s, %s)', 'crm.households_household_id_seq', last_value, is_called::text)
		  FROM crm.households_household_id_seq) AS reset_households,
	   (SELECT format('SELECT setval(%L, %s, %s)', 'crm.household_members_membership_id_seq', last_value, is_called::text)
		  FROM crm.household_members_membership_id_seq) AS reset_members \gset
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;
-- the ledger of the test's clients, entry ids relative to the first
CREATE FUNCTION pg_temp.entries() RETURNS TABLE (client bigint, e bigint, kind text, points bigint,
												 balance_after bigint, lot bigint, expires_in integer,
												 key text, source text)
LANGUAGE sql AS $$
	SELECT l.client_id, l.entry_id - (SELECT min(entry_id) FROM crm.loyalty_ledger WHERE client_id BETWEEN 9601 AND 9606) + 1,
		   l.kind, l.points, l.balance_after,
		   l.lot_id - (SELECT min(entry_id) FROM crm.loyalty_ledger WHERE client_id BETWEEN 9601 AND 9606) + 1,
		   l.expires_at::date - now()::date,
		   regexp_replace(l.idempotency_key, '[0-9]+', 'N', 'g'), l.source
	  FROM crm.loyalty_ledger l WHERE l.client_id BETWEEN 9601 AND 9606 ORDER BY l.entry_id
$$;
CREATE FUNCTION pg_temp.balances() RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(a.client_id || ':' || a.balance, ' ' ORDER BY a.client_id)
	  FROM crm.loyalty_accounts a WHERE a.client_id BETWEEN 9601 AND 9606
$$;

INSERT INTO crm.clients (client_id, first_name, last_name) VALUES
	(9601, 'Olga', 'Berg'), (9602, 'Pavel', 'Berg'), (9603, 'Rita', 'Berg'),
	(9604, 'Sam', 'Berg'), (9605, 'Tom', 'Dahl'), (9606, 'Una', 'Dahl');
INSERT INTO crm.loyalty_programs (code, name, cashback_percent, point_value, points_lifetime, max_redeem_share)
VALUES ('family', 'Family card', 5, 0.01, '365 days', 0.5),
	   ('family-other', 'Another', 5, 0.01, NULL, 1);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (9603, 960301, now(), 'web', 'placed', 40.00, 40.00);

-- opening and joining
SELECT client_id, name, closed_at IS NULL AS open FROM crm.create_household(9601, 'family', 'Berg');
SELECT (crm.create_household(9601, 'family', 'Berg')).household_id
	 = (SELECT household_id FROM crm.households WHERE client_id = 9601) AS again_the_same;
SELECT client_id, owner_client_id, role, redeem_limit, limit_period FROM crm.household_members
 WHERE client_id BETWEEN 9601 AND 9606 ORDER BY client_id;
SELECT client_id, role, redeem_limit FROM crm.join_household(9602, 9601, 'family');
SELECT client_id, role, redeem_limit FROM crm.join_household(9603, 9601, 'family', 300);
SELECT client_id, role, redeem_limit FROM crm.join_household(9603, 9601, 'family', 999);  -- again: unchanged
SELECT client_id, name FROM crm.create_household(9605, 'family', 'Dahl');
SELECT count(*) AS memberships FROM crm.household_members WHERE client_id BETWEEN 9601 AND 9606;

-- errors: NULLs in order, unknown names and clients, one household per client and programme
SELECT pg_temp.try($$SELECT crm.create_household(NULL, 'family')$$);
SELECT pg_temp.try($$SELECT crm.create_household(9604, NULL)$$);
SELECT pg_temp.try($$SELECT crm.create_household(9604, 'nope')$$);
SELECT pg_temp.try($$SELECT crm.create_household(9999, 'family')$$);
SELECT pg_temp.try($$SELECT crm.create_household(9604, 'family', '')$$);
SELECT pg_temp.try($$SELECT crm.create_household(9602, 'family')$$);
SELECT pg_temp.try($$SELECT crm.join_household(NULL, 9601, 'family')$$);
SELECT pg_temp.try($$SELECT crm.join_household(9604, NULL, 'family')$$);
SELECT pg_temp.try($$SELECT crm.join_household(9604, 9601, NULL)$$);
SELECT pg_temp.try($$SELECT crm.join_household(9604, 9601, 'family', 10, NULL)$$);
SELECT pg_temp.try($$SELECT crm.join_household(9999, 9601, 'family')$$);
SELECT pg_temp.try($$SELECT crm.join_household(9604, 9999, 'family')$$);
SELECT pg_temp.try($$SELECT crm.join_household(9604, 9601, 'family', -1)$$);
SELECT pg_temp.try($$SELECT crm.join_household(9604, 9601, 'family', 10, '-1 day')$$);
SELECT pg_temp.try($$SELECT crm.join_household(9604, 9602, 'family')$$);
SELECT pg_temp.try($$SELECT crm.join_household(9604, 9601, 'family-other')$$);
SELECT pg_temp.try($$SELECT crm.join_household(9602, 9605, 'family')$$);
SELECT pg_temp.try($$SELECT crm.leave_household(9604, 'family')$$);
SELECT pg_temp.try($$SELECT crm.leave_household(9999, 'family')$$);
SELECT pg_temp.try($$SELECT crm.leave_household(NULL, 'family')$$);
SELECT pg_temp.try($$SELECT crm.set_household_limit(9602, 9603, 'family', 10)$$);
SELECT pg_temp.try($$SELECT crm.set_household_limit(9605, 9603, 'family', 10)$$);
SELECT pg_temp.try($$SELECT crm.set_household_limit(9601, NULL, 'family', 10)$$);
SELECT pg_temp.try($$SELECT crm.set_household_limit(9601, 9603, 'family', -5)$$);
SELECT pg_temp.try($$SELECT crm.household_balance(9999, 'family')$$);
SELECT pg_temp.try($$SELECT crm.household_balance(9601, 'nope')$$);
SELECT pg_temp.try($$SELECT crm.household_statement(9604, 'family')$$);
SELECT pg_temp.try($$SELECT crm.household_statement(NULL, 'family')$$);
SELECT count(*) AS memberships_still FROM crm.household_members WHERE client_id BETWEEN 9601 AND 9606;

-- earning: each into their own account, the C path for the accounts that exist
SELECT (crm.open_loyalty_account(c, 'family')).client_id FROM unnest(ARRAY[9601, 9602]) c;
SELECT points, balance_after FROM crm.earn_points(9601, 'family', 100, 'o-1');
SELECT points, balance_after FROM crm.earn_points(9602, 'family', 200, 'p-1', expires_at => now() + interval '10 days');
SELECT points, balance_after FROM crm.earn_points(9602, 'family', 50, 'p-2');
SELECT points, balance_after FROM crm.earn_points(9603, 'family', 30, 'r-1');
SELECT crm.household_balance(9603, 'family') AS household, crm.household_balance(9604, 'family') AS not_a_member,
	   crm.points_balance(9603, 'family') AS own;
SELECT function, path, reason, calls FROM crm.fast_path_stats() ORDER BY 1, 2, 3;

-- a redemption within the member's own points: no transfer
SELECT points, balance_after FROM crm.redeem_points(9602, 'family', 20, 'p-r1');
-- beyond them: own first, then the others' lots, soonest expiry first (9602's 10-day lot)
SELECT points, balance_after FROM crm.redeem_points(9603, 'family', 250, 'r-r1');
SELECT * FROM pg_temp.entries();
SELECT pg_temp.balances(), crm.household_balance(9601, 'family');
SELECT client_id, lot_id - (SELECT min(lot_id) FROM crm.loyalty_lots WHERE client_id BETWEEN 9601 AND 9606) + 1 AS lot,
	   points, remaining, expires_at::date - now()::date AS expires_in FROM crm.loyalty_lots
 WHERE client_id BETWEEN 9601 AND 9606 ORDER BY lot_id;
-- the same key again: the first entry, nothing moved; other arguments: LY002
SELECT count(*) AS entries_before FROM crm.loyalty_ledger WHERE client_id BETWEEN 9601 AND 9606 \gset
SELECT points, balance_after FROM crm.redeem_points(9603, 'family', 250, 'r-r1');
SELECT count(*) - :entries_before AS entries_written FROM crm.loyalty_ledger WHERE client_id BETWEEN 9601 AND 9606;
SELECT pg_temp.try($$SELECT crm.redeem_points(9603, 'family', 251, 'r-r1')$$);
-- the limit: 300 per 30 days, 250 used
SELECT pg_temp.try($$SELECT crm.redeem_points(9603, 'family', 51, 'r-r2')$$);
-- too few points in the household: LY001 naming both, nothing written
SELECT pg_temp.try($$SELECT crm.redeem_points(9602, 'family', 111, 'p-r2')$$);
SELECT count(*) - :entries_before AS entries_written FROM crm.loyalty_ledger WHERE client_id BETWEEN 9601 AND 9606;
-- the owner raises the limit; a reversal gives its points back to the limit too
SELECT redeem_limit, limit_period FROM crm.set_household_limit(9601, 9603, 'family', 260, '7 days');
SELECT pg_temp.try($$SELECT crm.redeem_points(9603, 'family', 20, 'r-r2')$$);
SELECT kind, points, balance_after FROM crm.reverse_entry(
	(SELECT entry_id FROM crm.loyalty_ledger WHERE client_id = 9603 AND idempotency_key = 'r-r1'), 'r-r1-back');
SELECT pg_temp.balances(), crm.household_balance(9601, 'family');
SELECT points, balance_after FROM crm.redeem_points(9603, 'family', 20, 'r-r2');
-- edges of the limit: none at all, a period longer than any time, the largest limit
SELECT redeem_limit FROM crm.set_household_limit(9601, 9603, 'family', 0);
SELECT pg_temp.try($$SELECT crm.redeem_points(9603, 'family', 1, 'r-r3')$$);
SELECT redeem_limit, limit_period FROM crm.set_household_limit(9601, 9603, 'family', 9223372036854775807, '1000000 years');
SELECT pg_temp.try($$SELECT crm.set_household_limit(9601, 9603, 'family', 1, '0')$$);
-- an order: the share cap (at most 2000 points of 40.00) and a refund, on the member's own account
SELECT pg_temp.try($$SELECT crm.redeem_points(9603, 'family', 2001, 'r-o1', order_id => 960301)$$);
SELECT points, balance_after, order_id FROM crm.redeem_points(9603, 'family', 60, 'r-o1', order_id => 960301);
SELECT kind, points, balance_after FROM crm.refund_order_points(9603, 960301, 'r-o1-refund');
-- a transfer is not reversed on its own
SELECT pg_temp.try(format('SELECT crm.reverse_entry(%s, %L)',
	(SELECT min(entry_id) FROM crm.loyalty_ledger WHERE client_id = 9601 AND source = 'household_transfer'), 'undo'));
SELECT function, path, reason, calls FROM crm.fast_path_stats() ORDER BY 1, 2, 3;

-- statements: the household's running balance ends at the sum of the balances
SELECT member_id, kind, points, household_balance, member_balance, source
  FROM crm.household_statement(9602, 'family');
SELECT (SELECT household_balance FROM crm.household_statement(9601, 'family')
		 ORDER BY at DESC, entry_id DESC NULLS LAST LIMIT 1) = crm.household_balance(9601, 'family') AS ends_at_balance;
SELECT member_id, kind, points, household_balance, member_balance
  FROM crm.household_statement(9601, 'family', member => 9601);
SELECT * FROM crm.verify_ledger();

-- leaving: the points follow the member
SELECT client_id, role, left_at IS NOT NULL AS left FROM crm.leave_household(9602, 'family');
SELECT pg_temp.balances(), crm.household_balance(9601, 'family') AS household,
	   crm.household_balance(9602, 'family') AS leaver;
SELECT member_id, kind, points, household_balance FROM crm.household_statement(9601, 'family')
 WHERE kind IN ('joined', 'left');
-- the leaver redeems from their own account again (the C path), and may join another household
SELECT points, balance_after FROM crm.redeem_points(9602, 'family', 5, 'p-r3');
SELECT client_id, owner_client_id, role FROM crm.join_household(9602, 9605, 'family');
SELECT client_id, owner_client_id, joined_at <= left_at AS dated FROM crm.household_members
 WHERE client_id = 9602 ORDER BY membership_id;
-- the owner leaving closes the household: every member leaves
SELECT client_id, role FROM crm.leave_household(9601, 'family') ORDER BY client_id;
SELECT client_id, closed_at IS NOT NULL AS closed FROM crm.households WHERE client_id BETWEEN 9601 AND 9606 ORDER BY 1;
SELECT pg_temp.try($$SELECT crm.join_household(9604, 9601, 'family')$$);
SELECT client_id FROM crm.create_household(9601, 'family', 'Berg again');
SELECT * FROM crm.verify_ledger();

-- crm.price_cart: a member without an account of their own gets the household's programme
INSERT INTO crm.categories (category_id, name) VALUES (9600, 'hh-cat');
INSERT INTO crm.products (product_id, sku, name, category_id) VALUES (9600, 'HH-1', 'hh-product', 9600);
INSERT INTO crm.price_lists (price_list_id, code, name, kind, currency) VALUES (9600, 'hh-list', 'hh', 'retail', 'EUR');
INSERT INTO crm.prices (price_list_id, product_id, price) VALUES (9600, 9600, 20.00);
SELECT q->>'program' AS program, q->'totals'->>'points_earned' AS points_earned
  FROM crm.price_cart(9606, '[{"product_id": 9600, "quantity": 1, "price_list_id": 9600}]') q;
SELECT client_id FROM crm.join_household(9606, 9605, 'family');
SELECT q->>'program' AS program, q->'totals'->>'points_earned' AS points_earned
  FROM crm.price_cart(9606, '[{"product_id": 9600, "quantity": 1, "price_list_id": 9600}]') q;

-- and pays part of the order with the household's points: crm.record_priced_cart redeems them
-- (9606 has none: they come from 9602's lot)
SELECT pg_temp.balances(), crm.household_balance(9606, 'family');
SELECT crm.record_priced_cart(crm.price_cart(9606,
			'{"points_paid": 40, "lines": [{"product_id": 9600, "quantity": 1, "price_list_id": 9600}]}')) IS NOT NULL AS recorded;
SELECT client_id, kind, points, balance_after, order_id IS NOT NULL AS on_the_order, source
  FROM crm.loyalty_ledger WHERE client_id IN (9602, 9606) AND entry_id > (SELECT max(entry_id) - 3 FROM crm.loyalty_ledger)
 ORDER BY entry_id;
SELECT pg_temp.balances(), crm.household_balance(9606, 'family');

-- a membership whose household is not there: verify_ledger finds it
INSERT INTO crm.household_members (client_id, program_id, owner_client_id, household_id)
SELECT 9604, program_id, 9601, 424242 FROM crm.loyalty_programs WHERE code = 'family';
SELECT check_name, client_id, regexp_replace(detail, 'membership [0-9]+', 'membership N') AS detail
  FROM crm.verify_ledger();
ROLLBACK;
SELECT :'reset_entries' \gexec
SELECT :'reset_programs' \gexec
SELECT :'reset_households' \gexec
SELECT :'reset_members' \gexec
