--
-- crm.earn_points and crm.redeem_points in C (src/loyalty_fast.c) against
-- their SQL implementations crm.loyalty_earn_sql and crm.loyalty_redeem_sql:
--   * the same calls on two accounts, one through each, write the same
--     entries, lots, allocations and balances, in both lot orders and
--     with redemptions over several lots;
--   * which calls the C code does and which it hands to SQL (counted by
--     pg_stat_xact_user_functions);
--   * a table the DBA changed sends every call to SQL, where the change
--     applies (a new column's default, a statement trigger); a column
--     dropped again brings the C path back; row triggers fire on it;
--   * a call that fails half-way leaves nothing; a read-only transaction
--     gets the SQL error.
--
SET TimeZone = 'UTC';
SET track_functions = 'all';
-- the sequences as found, set back at the end (nextval is not rolled back,
-- and the tests after this one number their rows from where they are)
SELECT (SELECT format('SELECT setval(%L, %s, %s)', 'crm.loyalty_ledger_entry_id_seq', last_value, is_called::text)
		  FROM crm.loyalty_ledger_entry_id_seq) AS reset_entries,
	   (SELECT format('SELECT setval(%L, %s, %s)', 'crm.loyalty_programs_program_id_seq', last_value, is_called::text)
		  FROM crm.loyalty_programs_program_id_seq) AS reset_programs \gset
BEGIN;
-- try(sql): 'ok' or 'SQLSTATE: message'
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;
-- calls so far in this transaction of the C functions and their SQL bodies
CREATE FUNCTION pg_temp.calls() RETURNS text LANGUAGE sql AS $$
	SELECT string_agg(f || ' ' || coalesce((SELECT s.calls FROM pg_stat_xact_user_functions s
											 WHERE s.schemaname = 'crm' AND s.funcname = f), 0),
					  ', ' ORDER BY o)
	  FROM unnest(ARRAY['earn_points', 'loyalty_earn_sql', 'redeem_points', 'loyalty_redeem_sql'])
		   WITH ORDINALITY AS u(f, o)
$$;
-- an account's history with its lots numbered 1, 2, ... in the account,
-- lifetimes in whole days from the entry's own time: comparable across accounts
CREATE FUNCTION pg_temp.history(c bigint, prog text) RETURNS TABLE (line text) LANGUAGE sql AS $$
	WITH p AS (SELECT program_id FROM crm.loyalty_programs WHERE code = prog),
	lots AS (SELECT t.lot_id, row_number() OVER (ORDER BY t.lot_id) AS n
			   FROM crm.loyalty_lots t, p WHERE t.client_id = c AND t.program_id = p.program_id),
	e AS (SELECT l.*, row_number() OVER (ORDER BY l.entry_id) AS n
			FROM crm.loyalty_ledger l, p WHERE l.client_id = c AND l.program_id = p.program_id)
	SELECT format('entry %s: %s %s -> %s, lot %s, lives %s, key %s, by %s, %s, note %s, %s; draws %s',
				  e.n, e.kind, e.points, e.balance_after,
				  coalesce((SELECT lots.n FROM lots WHERE lots.lot_id = e.lot_id)::text, '-'),
				  CASE WHEN e.lot_id <> e.entry_id OR e.lot_id IS NULL THEN '-'
					   ELSE coalesce(date_trunc('day', e.expires_at - e.created_at)::text, 'for ever') END,
				  replace(e.idempotency_key, c::text, 'C'),
				  e.made_by, e.source, coalesce(e.note, '-'),
				  regexp_replace(e.request::text, '"\d{4}-[^"]*"', '"<time>"'),
				  coalesce((SELECT string_agg(format('lot %s: %s', lots.n, a.points), ', ' ORDER BY lots.n)
							  FROM crm.loyalty_allocations a JOIN lots ON lots.lot_id = a.lot_id
							 WHERE a.client_id = c AND a.entry_id = e.entry_id), '-'))
	  FROM e ORDER BY e.n
$$;
CREATE FUNCTION pg_temp.lots(c bigint, prog text) RETURNS TABLE (line text) LANGUAGE sql AS $$
	SELECT format('lot %s: %s points, %s remaining, lives %s',
				  row_number() OVER (ORDER BY t.lot_id), t.points, t.remaining,
				  coalesce(date_trunc('day', t.expires_at - t.earned_at)::text, 'for ever'))
	  FROM crm.loyalty_lots t JOIN crm.loyalty_programs p USING (program_id)
	 WHERE t.client_id = c AND p.code = prog ORDER BY t.lot_id
$$;

INSERT INTO crm.clients (client_id, first_name) VALUES
	(9101, 'C soon'), (9102, 'SQL soon'), (9103, 'C old'), (9104, 'SQL old'), (9105, 'DBA');
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, points_lifetime)
VALUES ('soon', 'Soonest expiry first', 1, '365 days');
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, lot_order)
VALUES ('old', 'Oldest lot first, points never expire', 1, 'earned_first');
SELECT pg_temp.calls();

-- The same calls for the C account (public functions) and the SQL account
-- (the SQL bodies, called directly).  The first earn opens the account;
-- a lot with an explicit expiry comes second so that the lot orders differ.
CREATE FUNCTION pg_temp.script(c bigint, prog text, via_sql boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	earn text := CASE WHEN via_sql THEN 'crm.loyalty_earn_sql' ELSE 'crm.earn_points' END;
	redeem text := CASE WHEN via_sql THEN 'crm.loyalty_redeem_sql' ELSE 'crm.redeem_points' END;
BEGIN
	EXECUTE format('SELECT %s($1, $2, 10, $3, NULL, NULL, NULL, NULL)', earn) USING c, prog, 'open-' || c;
	EXECUTE format('SELECT %s($1, $2, 6, $3, NULL, now() + interval ''30 days'', NULL, NULL)', earn) USING c, prog, 'short-' || c;
	EXECUTE format('SELECT %s($1, $2, 5, $3, NULL, NULL, ''shift 2'', ''till 3'')', earn) USING c, prog, 'e3-' || c;
	EXECUTE format('SELECT %s($1, $2, 7, $3, NULL, NULL, NULL, NULL)', earn) USING c, prog, 'e4-' || c;
	EXECUTE format('SELECT %s($1, $2, 4, $3, NULL, NULL, NULL)', redeem) USING c, prog, 'r1-' || c;
	EXECUTE format('SELECT %s($1, $2, 9, $3, NULL, ''two lots'', ''till 1'')', redeem) USING c, prog, 'r2-' || c;
	EXECUTE format('SELECT %s($1, $2, 13, $3, NULL, NULL, NULL)', redeem) USING c, prog, 'r3-' || c;
	EXECUTE format('SELECT %s($1, $2, 1, $3, NULL, NULL, NULL)', redeem) USING c, prog, 'r4-' || c;
	EXECUTE format('SELECT %s($1, $2, 3, $3, NULL, NULL, NULL, NULL)', earn) USING c, prog, 'e5-' || c;
END $$;
SELECT pg_temp.script(9101, 'soon', false), pg_temp.script(9102, 'soon', true),
	   pg_temp.script(9103, 'old', false), pg_temp.script(9104, 'old', true);
-- C: the opening earn and the one with expires_at went to SQL; SQL: 5 + 4 direct calls each
SELECT pg_temp.calls();

-- the histories are the same, line for line
SELECT count(*) AS soon_lines,
	   count(*) FILTER (WHERE c.line IS DISTINCT FROM s.line) AS soon_differences
  FROM pg_temp.history(9101, 'soon') WITH ORDINALITY c(line, n)
  FULL JOIN pg_temp.history(9102, 'soon') WITH ORDINALITY s(line, n) USING (n);
SELECT count(*) AS old_lines,
	   count(*) FILTER (WHERE c.line IS DISTINCT FROM s.line) AS old_differences
  FROM pg_temp.history(9103, 'old') WITH ORDINALITY c(line, n)
  FULL JOIN pg_temp.history(9104, 'old') WITH ORDINALITY s(line, n) USING (n);
SELECT (SELECT array_agg(line) FROM pg_temp.lots(9101, 'soon')) = (SELECT array_agg(line) FROM pg_temp.lots(9102, 'soon')) AS soon_lots_equal,
	   (SELECT array_agg(line) FROM pg_temp.lots(9103, 'old')) = (SELECT array_agg(line) FROM pg_temp.lots(9104, 'old')) AS old_lots_equal;
-- what they are: soonest expiry first draws the 30-day lot first ...
SELECT * FROM pg_temp.history(9101, 'soon');
SELECT * FROM pg_temp.lots(9101, 'soon');
-- ... oldest first draws lot 1 first
SELECT * FROM pg_temp.history(9103, 'old');
SELECT * FROM pg_temp.lots(9103, 'old');
SELECT client_id, balance FROM crm.loyalty_accounts WHERE client_id BETWEEN 9101 AND 9104 ORDER BY client_id;

-- calls the C code hands to SQL: a replay, a key reused with other
-- arguments, too few points, an order, bad arguments (the calls that
-- fail are not counted: their statistics go with their subtransaction)
SELECT (crm.redeem_points(9101, 'soon', 1, 'r4-9101')).points AS replayed;
SELECT pg_temp.try($$SELECT crm.redeem_points(9101, 'soon', 2, 'r4-9101')$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9101, 'soon', 1000, 'big')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9101, 'soon', 0, 'zero')$$);
SELECT pg_temp.try($$SELECT crm.earn_points(9101, 'none', 1, 'k')$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9101, 'soon', 1, 'crm:mine')$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9101, 'soon', 1, 'k', 4242)$$);
SELECT pg_temp.calls();
SELECT count(*) AS violations FROM crm.verify_ledger();

-- The DBA adds a column with a default to the ledger: the C code cannot
-- know it, so every call goes to SQL, where the default applies.
ALTER TABLE crm.loyalty_ledger ADD COLUMN channel text NOT NULL DEFAULT 'till';
SELECT (crm.earn_points(9105, 'soon', 50, 'dba-open')).channel,
	   (crm.earn_points(9105, 'soon', 5, 'dba-1')).channel,
	   (crm.redeem_points(9105, 'soon', 5, 'dba-2')).channel;
SELECT pg_temp.calls();
-- dropped again: the C code is used again, the dropped column skipped
ALTER TABLE crm.loyalty_ledger DROP COLUMN channel;
SELECT (crm.earn_points(9105, 'soon', 5, 'dba-3')).balance_after,
	   (crm.redeem_points(9105, 'soon', 5, 'dba-4')).balance_after;
SELECT pg_temp.calls();

-- A row trigger of the DBA fires for the C code's writes too
CREATE TABLE pg_temp.seen (tab text, op text, points bigint);
CREATE FUNCTION pg_temp.seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pg_temp.seen VALUES (TG_TABLE_NAME, TG_OP, NEW.points);
	RETURN NEW;
END $$;
CREATE TRIGGER seen AFTER INSERT ON crm.loyalty_ledger FOR EACH ROW EXECUTE FUNCTION pg_temp.seen();
CREATE TRIGGER seen AFTER INSERT ON crm.loyalty_lots FOR EACH ROW EXECUTE FUNCTION pg_temp.seen();
SELECT (crm.earn_points(9105, 'soon', 8, 'dba-5')).balance_after,
	   (crm.redeem_points(9105, 'soon', 3, 'dba-6')).balance_after;
SELECT * FROM pg_temp.seen;
SELECT pg_temp.calls();
-- a statement trigger does not fire for single rows: that sends calls to SQL, where it fires
CREATE FUNCTION pg_temp.seen_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO pg_temp.seen VALUES (TG_TABLE_NAME, TG_OP || ' statement', NULL);
	RETURN NULL;
END $$;
CREATE TRIGGER seen_statement AFTER INSERT ON crm.loyalty_ledger
	FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.seen_statement();
DELETE FROM pg_temp.seen;
SELECT (crm.earn_points(9105, 'soon', 2, 'dba-7')).balance_after;
SELECT * FROM pg_temp.seen ORDER BY op;
SELECT pg_temp.calls();
DROP TRIGGER seen_statement ON crm.loyalty_ledger;

-- A call that fails half-way (here: the DBA's trigger on the lots refuses
-- a lot of 13 points, after the ledger row is in) leaves nothing behind.
CREATE FUNCTION pg_temp.no_thirteen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.points = 13 THEN
		RAISE EXCEPTION 'no lots of 13' USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER no_thirteen BEFORE INSERT ON crm.loyalty_lots FOR EACH ROW EXECUTE FUNCTION pg_temp.no_thirteen();
SELECT count(*) AS entries, sum(points) AS points FROM crm.loyalty_ledger WHERE client_id = 9105;
SELECT pg_temp.try($$SELECT crm.earn_points(9105, 'soon', 13, 'dba-8')$$);
SELECT count(*) AS entries, sum(points) AS points FROM crm.loyalty_ledger WHERE client_id = 9105;
SELECT balance, (SELECT count(*) FROM crm.loyalty_lots WHERE client_id = 9105) AS lots
  FROM crm.loyalty_accounts WHERE client_id = 9105;
SELECT pg_temp.calls();
DROP TRIGGER no_thirteen ON crm.loyalty_lots;
DROP TRIGGER seen ON crm.loyalty_ledger;
DROP TRIGGER seen ON crm.loyalty_lots;
SELECT count(*) AS violations FROM crm.verify_ledger();

-- A read-only transaction gets the error a write gets, and writes nothing.
SAVEPOINT read_only;
SET LOCAL transaction_read_only = on;
SELECT pg_temp.try($$SELECT crm.earn_points(9105, 'soon', 1, 'ro-1')$$);
SELECT pg_temp.try($$SELECT crm.redeem_points(9105, 'soon', 1, 'ro-2')$$);
ROLLBACK TO SAVEPOINT read_only;
SELECT count(*) AS read_only_entries FROM crm.loyalty_ledger WHERE idempotency_key LIKE 'ro-%';
ROLLBACK;
SELECT 1 FROM (:reset_entries) e, (:reset_programs) p;
