--
-- edges_loyalty: the loyalty functions (accounts, earn, redeem, adjust,
-- reverse, refund, expire, balances and statements, the award and tier
-- jobs) on NULL, empty, negative, zero, huge, NaN and infinite input, row
-- by row as docs/inputs.md tabulates them.  Every writing call is run
-- through w(), which prints the tables of crm it changed: a refused call
-- writes nothing.  Everything runs in one transaction that is rolled back.
--
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\i sql/include/edges.sql
-- v(stmt) as in edges.sql, and after an error the lines of CONTEXT that
-- crm's functions gave it, where there are any (the lines above those of
-- this harness: its statement and its function): a loyalty error has none
CREATE OR REPLACE FUNCTION pg_temp.v(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r			text;
	n			bigint;
	ctx			text;
BEGIN
	EXECUTE stmt INTO r;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = 0 THEN
		RETURN 'no rows';
	END IF;
	RETURN coalesce(r, 'NULL');
EXCEPTION WHEN others THEN
	GET STACKED DIAGNOSTICS ctx = PG_EXCEPTION_CONTEXT;
	n := CASE WHEN ctx = '' THEN 1
			  ELSE array_position(string_to_array(ctx, E'\n'), format('SQL statement "%s"', stmt)) END - 1;
	RETURN SQLSTATE || ': ' || SQLERRM
		   || CASE WHEN n IS NULL THEN ' [CONTEXT: ' || ctx || ']'
				   WHEN n > 0 THEN format(' [CONTEXT of %s line%s]', n, CASE WHEN n > 1 THEN 's' END)
				   ELSE '' END;
END
$$;
BEGIN;
SELECT pg_temp.empty_crm();

-- Ann (born 5 May), Bob (born 29 February), Cy; a programme with welcome
-- and birthday points and two tiers, and one that gives no bonus
INSERT INTO crm.clients (client_id, first_name, birth_date) VALUES
	(1, 'Ann', '1990-05-05'), (2, 'Bob', '2000-02-29'), (3, 'Cy', NULL);
INSERT INTO crm.loyalty_programs (program_id, code, name, points_per_unit, points_lifetime,
								  welcome_points, birthday_points, max_redeem_share)
VALUES (1, 'club', 'Club', 1, '365 days', 100, 50, 0.5),
	   (2, 'plain', 'Plain', 1, NULL, 0, 0, 1);
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold) VALUES
	(1, 'base', 'Base', 0), (1, 'gold', 'Gold', 1000);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, currency, gross_amount, net_amount) VALUES
	(1, 1, '2024-01-01', 'web', 'paid', 'EUR', 100, 100),
	(1, 2, '2024-02-01', 'web', 'placed', 'EUR', 40, 40),
	(1, 3, '2024-03-01', 'web', 'cancelled', 'EUR', 10, 10),
	(1, 4, '2024-04-01', 'web', 'paid', 'USD', 20, 20),
	(1, 5, '2024-05-01', 'web', 'paid', 'EUR', 2000, 2000);
SELECT pg_temp.rows() AS before;

-- crm.open_loyalty_account(client_id, program)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null client', $$SELECT crm.open_loyalty_account(NULL, 'club')$$),
	('null programme', $$SELECT crm.open_loyalty_account(1, NULL)$$),
	('empty programme', $$SELECT crm.open_loyalty_account(1, '')$$),
	('unknown programme', $$SELECT crm.open_loyalty_account(1, 'nosuch')$$),
	('negative client', $$SELECT crm.open_loyalty_account(-1, 'club')$$),
	('zero client', $$SELECT crm.open_loyalty_account(0, 'club')$$),
	('huge client', $$SELECT crm.open_loyalty_account(9223372036854775807, 'club')$$)
) AS t(cell, q);
SELECT pg_temp.rows() AS "after the refused calls";
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('opens', $$SELECT (crm.open_loyalty_account(1, 'club')).tier_code$$),
	('again: returns it', $$SELECT (crm.open_loyalty_account(1, 'club')).balance$$)
) AS t(cell, q);

-- crm.earn_points(client_id, program, points, idempotency_key, order_id,
-- expires_at, note, actor)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null client', $$SELECT crm.earn_points(NULL, 'club', 10, 'e1')$$),
	('null programme', $$SELECT crm.earn_points(1, NULL, 10, 'e1')$$),
	('null points', $$SELECT crm.earn_points(1, 'club', NULL, 'e1')$$),
	('null key', $$SELECT crm.earn_points(1, 'club', 10, NULL)$$),
	('empty key', $$SELECT crm.earn_points(1, 'club', 10, '')$$),
	('key of 201 characters', $$SELECT crm.earn_points(1, 'club', 10, repeat('k', 201))$$),
	('reserved key', $$SELECT crm.earn_points(1, 'club', 10, 'crm:order:1')$$),
	('empty programme', $$SELECT crm.earn_points(1, '', 10, 'e1')$$),
	('negative points', $$SELECT crm.earn_points(1, 'club', -10, 'e1')$$),
	('zero points', $$SELECT crm.earn_points(1, 'club', 0, 'e1')$$),
	('negative client', $$SELECT crm.earn_points(-1, 'club', 10, 'e1')$$),
	('huge client', $$SELECT crm.earn_points(9223372036854775807, 'club', 10, 'e1')$$),
	('unknown client with an order', $$SELECT crm.earn_points(9, 'club', 10, 'e1', 1)$$),
	('unknown programme and client', $$SELECT crm.earn_points(9, 'nosuch', 10, 'e1')$$),
	('null client and programme: the first named', $$SELECT crm.earn_points(NULL, NULL, 10, 'e1')$$),
	('negative order', $$SELECT crm.earn_points(1, 'club', 10, 'e1', -1)$$),
	('cancelled order', $$SELECT crm.earn_points(1, 'club', 10, 'e1', 3)$$),
	('expiry in the past', $$SELECT crm.earn_points(1, 'club', 10, 'e1', expires_at => '2000-01-01')$$),
	('expiry -infinity', $$SELECT crm.earn_points(1, 'club', 10, 'e1', expires_at => '-infinity')$$),
	('earn', $$SELECT (crm.earn_points(1, 'club', 300, 'e1')).balance_after$$),
	('the same key and arguments: the first entry', $$SELECT (crm.earn_points(1, 'club', 300, 'e1')).balance_after$$),
	('the same key, other points', $$SELECT crm.earn_points(1, 'club', 301, 'e1')$$),
	('expiry infinity: a lot that never expires', $$SELECT (crm.earn_points(1, 'club', 5, 'e2', expires_at => 'infinity')).expires_at$$),
	('huge points into an empty account', $$SELECT (crm.earn_points(2, 'plain', 9223372036854775807, 'e3')).balance_after$$),
	('one more point than a bigint holds', $$SELECT crm.earn_points(2, 'plain', 1, 'e4')$$)
) AS t(cell, q);

-- crm.redeem_points(client_id, program, points, idempotency_key, order_id, note, actor)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null client', $$SELECT crm.redeem_points(NULL, 'club', 10, 'r1')$$),
	('null programme', $$SELECT crm.redeem_points(1, NULL, 10, 'r1')$$),
	('null points', $$SELECT crm.redeem_points(1, 'club', NULL, 'r1')$$),
	('null key', $$SELECT crm.redeem_points(1, 'club', 10, NULL)$$),
	('empty key', $$SELECT crm.redeem_points(1, 'club', 10, '')$$),
	('negative points', $$SELECT crm.redeem_points(1, 'club', -10, 'r1')$$),
	('zero points', $$SELECT crm.redeem_points(1, 'club', 0, 'r1')$$),
	('no account', $$SELECT crm.redeem_points(3, 'club', 10, 'r1')$$),
	('negative client', $$SELECT crm.redeem_points(-1, 'club', 10, 'r1')$$),
	('unknown client with an order', $$SELECT crm.redeem_points(9, 'club', 10, 'r1', 1)$$),
	('empty programme', $$SELECT crm.redeem_points(1, '', 10, 'r1')$$),
	('huge points', $$SELECT crm.redeem_points(1, 'club', 9223372036854775807, 'r1')$$),
	('unknown order', $$SELECT crm.redeem_points(1, 'club', 10, 'r1', 99)$$),
	('cancelled order', $$SELECT crm.redeem_points(1, 'club', 10, 'r1', 3)$$),
	('order in another currency', $$SELECT crm.redeem_points(1, 'club', 10, 'r1', 4)$$),
	('more than the order may be paid with', $$SELECT crm.redeem_points(1, 'club', 6000, 'r1', 1)$$),
	('redeem on an order', $$SELECT (crm.redeem_points(1, 'club', 200, 'r1', 1)).balance_after$$),
	('the same key, another order', $$SELECT crm.redeem_points(1, 'club', 50, 'r1', 2)$$)
) AS t(cell, q);

-- crm.adjust_points(client_id, program, points, idempotency_key, note, expires_at, actor)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null client', $$SELECT crm.adjust_points(NULL, 'club', 5, 'a1', 'why')$$),
	('null programme', $$SELECT crm.adjust_points(1, NULL, 5, 'a1', 'why')$$),
	('empty programme', $$SELECT crm.adjust_points(1, '', 5, 'a1', 'why')$$),
	('null points', $$SELECT crm.adjust_points(1, 'club', NULL, 'a1', 'why')$$),
	('null note', $$SELECT crm.adjust_points(1, 'club', 5, 'a1', NULL)$$),
	('blank note', $$SELECT crm.adjust_points(1, 'club', 5, 'a1', '  ')$$),
	('null key', $$SELECT crm.adjust_points(1, 'club', 5, NULL, 'why')$$),
	('zero points', $$SELECT crm.adjust_points(1, 'club', 0, 'a1', 'why')$$),
	('negative points beyond the balance', $$SELECT crm.adjust_points(1, 'club', -1000, 'a1', 'why')$$),
	('negative points with an expiry', $$SELECT crm.adjust_points(1, 'club', -5, 'a1', 'why', 'infinity')$$),
	('negative points, no account', $$SELECT crm.adjust_points(3, 'club', -5, 'a1', 'why')$$),
	('negative client: a credit', $$SELECT crm.adjust_points(-1, 'club', 5, 'a1', 'why')$$),
	('negative client: a debit', $$SELECT crm.adjust_points(-1, 'club', -5, 'a1', 'why')$$),
	('smallest bigint', $$SELECT crm.adjust_points(1, 'club', -9223372036854775808, 'a1', 'why')$$),
	('largest bigint', $$SELECT crm.adjust_points(1, 'club', 9223372036854775807, 'a1', 'why')$$),
	('expiry -infinity', $$SELECT crm.adjust_points(1, 'club', 5, 'a1', 'why', '-infinity')$$),
	('a debit', $$SELECT (crm.adjust_points(1, 'club', -5, 'a1', 'why')).balance_after$$),
	('a credit', $$SELECT (crm.adjust_points(1, 'club', 5, 'a2', 'why')).balance_after$$)
) AS t(cell, q);

-- crm.reverse_entry(entry_id, idempotency_key, note, actor)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null entry', $$SELECT crm.reverse_entry(NULL, 'v1')$$),
	('null key', $$SELECT crm.reverse_entry((SELECT entry_id FROM crm.loyalty_ledger WHERE idempotency_key = 'a2'), NULL)$$),
	('null key of an entry that does not exist', $$SELECT crm.reverse_entry(-1, NULL)$$),
	('negative entry', $$SELECT crm.reverse_entry(-1, 'v1')$$),
	('zero entry', $$SELECT crm.reverse_entry(0, 'v1')$$),
	('huge entry', $$SELECT crm.reverse_entry(9223372036854775807, 'v1')$$),
	('reverse a credit', $$SELECT (crm.reverse_entry((SELECT entry_id FROM crm.loyalty_ledger WHERE idempotency_key = 'a2'), 'v1')).points$$),
	('reverse it again', $$SELECT crm.reverse_entry((SELECT entry_id FROM crm.loyalty_ledger WHERE idempotency_key = 'a2'), 'v2')$$),
	('reverse a reversal', $$SELECT crm.reverse_entry((SELECT entry_id FROM crm.loyalty_ledger WHERE idempotency_key = 'v1'), 'v3')$$)
) AS t(cell, q);

-- crm.award_order_points(client_id, order_id, program, actor) and
-- crm.award_paid_orders(program, since, actor)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null client', $$SELECT crm.award_order_points(NULL, 1, 'club')$$),
	('null order', $$SELECT crm.award_order_points(1, NULL, 'club')$$),
	('null programme', $$SELECT crm.award_order_points(1, 1, NULL)$$),
	('negative client', $$SELECT crm.award_order_points(-1, 1, 'club')$$),
	('negative order', $$SELECT crm.award_order_points(1, -1, 'club')$$),
	('zero order', $$SELECT crm.award_order_points(1, 0, 'club')$$),
	('huge order', $$SELECT crm.award_order_points(1, 9223372036854775807, 'club')$$),
	('empty programme', $$SELECT crm.award_order_points(1, 1, '')$$),
	('an order not paid', $$SELECT crm.award_order_points(1, 2, 'club')$$),
	('an order in another currency', $$SELECT crm.award_order_points(1, 4, 'club')$$),
	('award', $$SELECT (crm.award_order_points(1, 1, 'club')).points$$),
	('again: the first entry', $$SELECT (crm.award_order_points(1, 1, 'club')).points$$),
	('paid orders: null programme', $$SELECT crm.award_paid_orders(NULL)$$),
	('paid orders: empty programme', $$SELECT crm.award_paid_orders('')$$),
	('paid orders: null since (every order, awarded already)', $$SELECT crm.award_paid_orders('club', NULL)$$),
	('paid orders: since infinity', $$SELECT crm.award_paid_orders('club', 'infinity')$$),
	('paid orders: since -infinity (none since the account opened)', $$SELECT crm.award_paid_orders('club', '-infinity')$$)
) AS t(cell, q);

-- crm.award_welcome_bonus(client_id, program, actor),
-- crm.award_welcome_bonuses(program, actor)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null client', $$SELECT crm.award_welcome_bonus(NULL, 'club')$$),
	('null programme', $$SELECT crm.award_welcome_bonus(1, NULL)$$),
	('negative client', $$SELECT crm.award_welcome_bonus(-1, 'club')$$),
	('empty programme', $$SELECT crm.award_welcome_bonus(1, '')$$),
	('welcome', $$SELECT (crm.award_welcome_bonus(1, 'club')).points$$),
	('again: the first entry', $$SELECT (crm.award_welcome_bonus(1, 'club')).points$$),
	('a programme without welcome points: opens the account', $$SELECT crm.award_welcome_bonus(3, 'plain')$$),
	('every member: null programme', $$SELECT crm.award_welcome_bonuses(NULL)$$),
	('every member: empty programme', $$SELECT crm.award_welcome_bonuses('')$$),
	('every member', $$SELECT crm.award_welcome_bonuses('club')$$)
) AS t(cell, q);

-- crm.loyalty_is_birthday(birth_date, on_date)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('null', $$SELECT crm.loyalty_is_birthday(NULL, '2024-05-05')$$),
	('29 February on 28 February of a common year', $$SELECT crm.loyalty_is_birthday('2000-02-29', '2023-02-28')$$),
	('29 February on 28 February of a leap year', $$SELECT crm.loyalty_is_birthday('2000-02-29', '2024-02-28')$$),
	('infinite birth date', $$SELECT crm.loyalty_is_birthday('infinity', '2024-05-05')$$),
	('infinite day', $$SELECT crm.loyalty_is_birthday('1990-05-05', '-infinity')$$),
	('huge day', $$SELECT crm.loyalty_is_birthday('1990-05-05', '5874897-05-05')$$)
) AS t(cell, q);

-- crm.award_birthday_bonus(client_id, program, on_date, actor, allow_other_day),
-- crm.award_birthday_bonuses(program, on_date, actor, allow_other_day)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null client', $$SELECT crm.award_birthday_bonus(NULL, 'club', '2024-05-05')$$),
	('null programme', $$SELECT crm.award_birthday_bonus(1, NULL, '2024-05-05')$$),
	('empty programme', $$SELECT crm.award_birthday_bonus(1, '', '2024-05-05', allow_other_day => true)$$),
	('null day', $$SELECT crm.award_birthday_bonus(1, 'club', NULL)$$),
	('null allow_other_day', $$SELECT crm.award_birthday_bonus(1, 'club', '2024-05-05', NULL, NULL)$$),
	('another day than today', $$SELECT crm.award_birthday_bonus(1, 'club', '2024-05-05')$$),
	('negative client', $$SELECT crm.award_birthday_bonus(-1, 'club', '2024-05-05', allow_other_day => true)$$),
	('not the birthday', $$SELECT crm.award_birthday_bonus(1, 'club', '2024-05-06', allow_other_day => true)$$),
	('day infinity', $$SELECT crm.award_birthday_bonus(1, 'club', 'infinity', allow_other_day => true)$$),
	('no birth date', $$SELECT crm.award_birthday_bonus(3, 'plain', '2024-05-05', allow_other_day => true)$$),
	('birthday', $$SELECT (crm.award_birthday_bonus(1, 'club', '2024-05-05', allow_other_day => true)).points$$),
	('the same year again', $$SELECT (crm.award_birthday_bonus(1, 'club', '2024-05-05', allow_other_day => true)).points$$),
	('every member: null programme', $$SELECT crm.award_birthday_bonuses(NULL, '2025-05-05')$$),
	('every member: empty programme', $$SELECT crm.award_birthday_bonuses('', '2025-05-05', allow_other_day => true)$$),
	('every member: null day', $$SELECT crm.award_birthday_bonuses('club', NULL)$$),
	('every member: null allow_other_day', $$SELECT crm.award_birthday_bonuses('club', '2025-05-05', NULL, NULL)$$),
	('every member: day -infinity', $$SELECT crm.award_birthday_bonuses('club', '-infinity')$$),
	('every member: day -infinity, on purpose', $$SELECT crm.award_birthday_bonuses('club', '-infinity', allow_other_day => true)$$),
	('every member: a programme without birthday points', $$SELECT crm.award_birthday_bonuses('plain', '2025-05-05', allow_other_day => true)$$),
	('every member', $$SELECT crm.award_birthday_bonuses('club', '2025-05-05', allow_other_day => true)$$)
) AS t(cell, q);

-- crm.points_balance(client_id, program, at), crm.points_statement(client_id,
-- program, from_at, to_at), crm.points_expiring(client_id, program, as_of, within)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('balance', $$SELECT crm.points_balance(1, 'club')$$),
	('balance: null client', $$SELECT crm.points_balance(NULL, 'club')$$),
	('balance: null programme', $$SELECT crm.points_balance(1, NULL)$$),
	('balance: empty programme', $$SELECT crm.points_balance(1, '')$$),
	('balance: null at: every entry', $$SELECT crm.points_balance(1, 'club', NULL)$$),
	('balance: negative client', $$SELECT crm.points_balance(-1, 'club')$$),
	('balance: no account', $$SELECT crm.points_balance(3, 'club')$$),
	('balance: at -infinity', $$SELECT crm.points_balance(1, 'club', '-infinity')$$),
	('balance: at infinity', $$SELECT crm.points_balance(1, 'club', 'infinity')$$),
	('statement', $$SELECT string_agg(format('%s %s', kind, points), ', ' ORDER BY entry_id) FROM crm.points_statement(1, 'club')$$),
	('statement: null client', $$SELECT count(*) FROM crm.points_statement(NULL, 'club')$$),
	('statement: null programme', $$SELECT count(*) FROM crm.points_statement(1, NULL)$$),
	('statement: empty programme', $$SELECT count(*) FROM crm.points_statement(1, '')$$),
	('statement: from infinity to -infinity', $$SELECT count(*) FROM crm.points_statement(1, 'club', 'infinity', '-infinity')$$),
	('statement: from -infinity to infinity', $$SELECT count(*) FROM crm.points_statement(1, 'club', '-infinity', 'infinity')$$),
	('statement: no account', $$SELECT count(*) FROM crm.points_statement(3, 'club')$$),
	('statement: negative client', $$SELECT count(*) FROM crm.points_statement(-1, 'club')$$),
	('expiring', $$SELECT sum(points) FROM crm.points_expiring(1, 'club')$$),
	('expiring: null as_of', $$SELECT count(*) FROM crm.points_expiring(1, 'club', NULL)$$),
	('expiring: null client', $$SELECT count(*) FROM crm.points_expiring(NULL, 'club')$$),
	('expiring: null programme', $$SELECT count(*) FROM crm.points_expiring(1, NULL)$$),
	('expiring: empty programme', $$SELECT count(*) FROM crm.points_expiring(1, '')$$),
	('expiring: negative client', $$SELECT count(*) FROM crm.points_expiring(-1, 'club')$$),
	('expiring: no account', $$SELECT count(*) FROM crm.points_expiring(3, 'club')$$),
	('expiring: as_of infinity', $$SELECT count(*) FROM crm.points_expiring(1, 'club', 'infinity')$$),
	('expiring: as_of -infinity', $$SELECT sum(points) FROM crm.points_expiring(1, 'club', '-infinity')$$),
	('expiring: negative within', $$SELECT count(*) FROM crm.points_expiring(1, 'club', now(), '-1 day')$$),
	('expiring: zero within', $$SELECT count(*) FROM crm.points_expiring(1, 'club', now(), '0')$$),
	('expiring: huge within', $$SELECT count(*) FROM crm.points_expiring(1, 'club', '2024-01-01', '1000000 years')$$),
	('expiring: huge within, no lot', $$SELECT count(*) FROM crm.points_expiring(3, 'club', '2024-01-01', '1000000 years')$$)
) AS t(cell, q);

-- crm.tier_turnover(client_id, program, as_of), crm.update_tier(client_id,
-- program, as_of, actor), crm.update_tiers(program, as_of, actor)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('turnover', $$SELECT crm.tier_turnover(1, 'club', '2025-01-01')$$),
	('turnover: null as_of', $$SELECT crm.tier_turnover(1, 'club', NULL)$$),
	('turnover: null client', $$SELECT crm.tier_turnover(NULL, 'club')$$),
	('turnover: negative client', $$SELECT crm.tier_turnover(-1, 'club')$$),
	('turnover: a client without orders', $$SELECT crm.tier_turnover(2, 'club')$$),
	('turnover: null programme', $$SELECT crm.tier_turnover(1, NULL)$$),
	('turnover: empty programme', $$SELECT crm.tier_turnover(1, '')$$),
	('turnover: as_of -infinity', $$SELECT crm.tier_turnover(1, 'club', '-infinity')$$),
	('turnover: as_of infinity', $$SELECT crm.tier_turnover(1, 'club', 'infinity')$$),
	('tier: null client', $$SELECT crm.update_tier(NULL, 'club')$$),
	('tier: null as_of', $$SELECT crm.update_tier(1, 'club', NULL)$$),
	('tier: null allow_future', $$SELECT crm.update_tier(1, 'club', now(), NULL, NULL)$$),
	('tier: as_of a year ahead', $$SELECT crm.update_tier(1, 'club', '2099-01-01')$$),
	('tier: null programme', $$SELECT crm.update_tier(1, NULL)$$),
	('tier: no account', $$SELECT crm.update_tier(2, 'club')$$),
	('tier: negative client', $$SELECT crm.update_tier(-1, 'club')$$),
	('tier: empty programme', $$SELECT crm.update_tier(1, '')$$),
	('tier: as_of infinity', $$SELECT crm.update_tier(1, 'club', 'infinity')$$),
	('tier: as_of -infinity', $$SELECT crm.update_tier(1, 'club', '-infinity')$$),
	('tier: as_of before the current tier', $$SELECT crm.update_tier(1, 'club', '2000-01-01')$$),
	('tier: up to gold', $$SELECT (crm.update_tier(1, 'club', now())).to_tier$$),
	('tier: again: no change', $$SELECT crm.update_tier(1, 'club', now())$$),
	('every member: null programme', $$SELECT crm.update_tiers(NULL)$$),
	('every member: null as_of', $$SELECT crm.update_tiers('club', NULL)$$),
	('every member: null allow_future', $$SELECT crm.update_tiers('club', now(), NULL, NULL)$$),
	('every member: empty programme', $$SELECT crm.update_tiers('')$$),
	('every member: as_of infinity', $$SELECT crm.update_tiers('club', 'infinity')$$),
	('every member: as_of 2099', $$SELECT crm.update_tiers('club', '2099-01-01')$$),
	('every member', $$SELECT crm.update_tiers('club')$$)
) AS t(cell, q);

-- crm.refund_order_points(client_id, order_id, idempotency_key, refund_amount, note, actor)
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null client', $$SELECT crm.refund_order_points(NULL, 1, 'f1')$$),
	('null order', $$SELECT crm.refund_order_points(1, NULL, 'f1')$$),
	('null key', $$SELECT crm.refund_order_points(1, 1, NULL)$$),
	('negative client', $$SELECT crm.refund_order_points(-1, 1, 'f1')$$),
	('negative amount', $$SELECT crm.refund_order_points(1, 1, 'f1', -1)$$),
	('zero amount', $$SELECT crm.refund_order_points(1, 1, 'f1', 0)$$),
	('huge amount', $$SELECT crm.refund_order_points(1, 1, 'f1', 1e20)$$),
	('NaN amount', $$SELECT crm.refund_order_points(1, 1, 'f1', 'NaN')$$),
	('Infinity amount', $$SELECT crm.refund_order_points(1, 1, 'f1', 'Infinity')$$),
	('negative order', $$SELECT crm.refund_order_points(1, -1, 'f1')$$),
	('an order that moved no points', $$SELECT count(*) FROM crm.refund_order_points(1, 2, 'f1')$$),
	('half of the order', $$SELECT string_agg(format('%s %s', kind, points), ', ') FROM crm.refund_order_points(1, 1, 'f1', 50)$$),
	('the rest (null amount)', $$SELECT string_agg(format('%s %s', kind, points), ', ') FROM crm.refund_order_points(1, 1, 'f2')$$),
	('once more', $$SELECT crm.refund_order_points(1, 1, 'f3')$$)
) AS t(cell, q);

-- crm.expire_points(as_of, program, actor, allow_future); crm.verify_ledger()
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null as_of', $$SELECT crm.expire_points(NULL)$$),
	('null allow_future', $$SELECT crm.expire_points(now(), allow_future => NULL)$$),
	('as_of 2099', $$SELECT crm.expire_points('2099-01-01', 'club')$$),
	('as_of infinity', $$SELECT crm.expire_points('infinity', 'club')$$),
	('empty programme', $$SELECT crm.expire_points(now(), '')$$),
	('unknown programme', $$SELECT crm.expire_points(now(), 'nosuch')$$),
	('as_of -infinity', $$SELECT crm.expire_points('-infinity')$$),
	('now: nothing is due', $$SELECT crm.expire_points(now(), 'club')$$),
	('as_of infinity, on purpose: every lot with an expiry, infinity included', $$SELECT crm.expire_points('infinity', 'club', allow_future => true)$$),
	('again', $$SELECT crm.expire_points('infinity', 'club', allow_future => true)$$)
) AS t(cell, q);
SELECT crm.points_balance(1, 'club') AS balance_left;
SELECT count(*) AS ledger_problems FROM crm.verify_ledger();

-- what a client sees of a loyalty error: its message (and detail and
-- hint), no CONTEXT, however deep in crm it was raised: through the C
-- function and its SQL twin to the account helper, from update_tier inside
-- update_tiers, from an exception block
\set SHOW_CONTEXT always
\set ON_ERROR_ROLLBACK on
SELECT crm.earn_points(9, 'club', 10, 'c1');
SELECT crm.redeem_points(1, 'nosuch', 10, 'c1');
SELECT crm.update_tiers('club', 'infinity');
SELECT count(*) FROM crm.points_expiring(3, 'club', '2024-01-01', '1000000 years');
\set ON_ERROR_ROLLBACK off
\set SHOW_CONTEXT never

ROLLBACK;
SELECT pg_temp.sequences_unchanged();
