-- Properties of the loyalty ledger over a few hundred pseudo-random
-- operations (fixed seed): a balance always equals the sum of its entries
-- and is never negative; verify_ledger is clean; replaying every key
-- changes nothing; a reversal restores a balance exactly.
BEGIN;
SELECT plan(14);

SELECT setseed(0.4242);
INSERT INTO crm.clients (client_id, first_name)
SELECT 70000 + g, 'client ' || g FROM generate_series(1, 6) g;
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, points_lifetime, max_redeem_share)
VALUES ('p-fefo', 'soonest expiry first', 1, '60 days', 0.5);
INSERT INTO crm.loyalty_programs (code, name, cashback_percent, point_value, lot_order)
VALUES ('p-fifo', 'oldest lot first', 3, 0.01, 'earned_first');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT 70000 + (g % 6) + 1, 80000 + g, now(), 'web', 'paid', 10 + g, 10 + g
  FROM generate_series(1, 40) g;

CREATE TEMP TABLE ops (
	n integer PRIMARY KEY, op text, client_id bigint, program text, points bigint,
	key text, order_id bigint, amount numeric, entry_id bigint, expires_at timestamptz,
	result_entry bigint, error text);

-- the random operations, each recorded with its result
DO $$
DECLARE
	i integer;
	r double precision;
	c bigint;
	prog text;
	e crm.loyalty_ledger;
	target bigint;
	o bigint;
	amt numeric;
	exp timestamptz;
	pts bigint;
	v_op text;
BEGIN
	FOR i IN 1 .. 400 LOOP
		r := random();
		c := 70001 + floor(random() * 6)::bigint;
		prog := CASE WHEN random() < 0.6 THEN 'p-fefo' ELSE 'p-fifo' END;
		BEGIN
			IF r < 0.35 THEN
				pts := 1 + floor(random() * 100)::bigint;
				exp := CASE WHEN random() < 0.3 THEN NULL
							ELSE clock_timestamp() + (1 + floor(random() * 90)) * interval '1 day' END;
				o := CASE WHEN random() < 0.3 THEN 80000 + 6 * (1 + floor(random() * 6)::bigint) + (c - 70001) END;
				IF o > 80040 THEN o := NULL; END IF;
				v_op := 'earn';
				INSERT INTO ops (n, op, client_id, program, points, key, order_id, expires_at)
				VALUES (i, 'earn', c, prog, pts, 'k' || i, o, exp);
				e := crm.earn_points(c, prog, pts, 'k' || i, order_id => o, expires_at => exp);
			ELSIF r < 0.65 THEN
				pts := 1 + floor(random() * 120)::bigint;
				o := CASE WHEN random() < 0.3 THEN 80000 + 6 * (1 + floor(random() * 6)::bigint) + (c - 70001) END;
				IF o > 80040 THEN o := NULL; END IF;
				v_op := 'redeem';
				INSERT INTO ops (n, op, client_id, program, points, key, order_id)
				VALUES (i, 'redeem', c, prog, pts, 'k' || i, o);
				e := crm.redeem_points(c, prog, pts, 'k' || i, order_id => o);
			ELSIF r < 0.75 THEN
				SELECT l.entry_id INTO target FROM crm.loyalty_ledger l
				 WHERE l.kind NOT IN ('reversal', 'expire')
				 ORDER BY random() LIMIT 1;
				CONTINUE WHEN target IS NULL;
				v_op := 'reverse';
				INSERT INTO ops (n, op, key, entry_id) VALUES (i, 'reverse', 'k' || i, target);
				e := crm.reverse_entry(target, 'k' || i);
			ELSIF r < 0.85 THEN
				SELECT l.client_id, l.order_id INTO c, o FROM crm.loyalty_ledger l
				 WHERE l.order_id IS NOT NULL ORDER BY random() LIMIT 1;
				CONTINUE WHEN o IS NULL;
				v_op := 'refund';
				amt := CASE WHEN random() < 0.5 THEN NULL ELSE round((1 + random() * 15)::numeric, 2) END;
				INSERT INTO ops (n, op, client_id, key, order_id, amount) VALUES (i, 'refund', c, 'k' || i, o, amt);
				SELECT r2.* INTO e FROM crm.refund_order_points(c, o, 'k' || i, amt) r2 LIMIT 1;
			ELSIF r < 0.93 THEN
				pts := (CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) * (1 + floor(random() * 30)::bigint);
				v_op := 'adjust';
				INSERT INTO ops (n, op, client_id, program, points, key) VALUES (i, 'adjust', c, prog, pts, 'k' || i);
				e := crm.adjust_points(c, prog, pts, 'k' || i, 'correction ' || i);
			ELSE
				v_op := 'expire';
				INSERT INTO ops (n, op, amount) VALUES (i, 'expire', floor(random() * 60));
				PERFORM crm.expire_points(now() + floor(random() * 60) * interval '1 day', allow_future => true);
			END IF;
			UPDATE ops SET result_entry = e.entry_id WHERE n = i;
		EXCEPTION WHEN OTHERS THEN
			/* the failed call's row went with its subtransaction */
			INSERT INTO ops (n, op, error) VALUES (i, v_op, SQLSTATE);
		END;
		e := NULL;
	END LOOP;
END
$$;

SELECT cmp_ok((SELECT count(*) FROM ops WHERE result_entry IS NOT NULL), '>', 150::bigint,
			  'most random operations wrote an entry');
SELECT is_empty($$
	SELECT op, error FROM ops WHERE error IS NOT NULL
	EXCEPT
	VALUES ('redeem', 'LY001'), ('redeem', 'LY003'), ('adjust', 'LY001'),
		   ('refund', '22023'), ('refund', '55000'), ('reverse', '55000') $$,
	'operations failed only for their documented reasons (too few points, over-refund, already reversed)');
SELECT cmp_ok((SELECT count(*) FROM ops WHERE error = 'LY001'), '>', 0::bigint,
			  'some debits met too few points');

SELECT is_empty($$SELECT * FROM crm.verify_ledger()$$, 'verify_ledger finds nothing after the random run');
SELECT is_empty($$
	SELECT a.client_id, a.program_id FROM crm.loyalty_accounts a
	 WHERE a.balance <> (SELECT coalesce(sum(l.points), 0) FROM crm.loyalty_ledger l
						  WHERE l.client_id = a.client_id AND l.program_id = a.program_id)
	   AND a.client_id > 70000 $$,
	'every balance equals the sum of its entries');
SELECT is((SELECT count(*) FROM crm.loyalty_ledger WHERE balance_after < 0 AND client_id > 70000), 0::bigint,
		  'no entry left any balance below zero');
SELECT is_empty($$
	SELECT a.client_id FROM crm.loyalty_accounts a
	 WHERE a.balance <> (SELECT coalesce(sum(t.remaining), 0) FROM crm.loyalty_lots t
						  WHERE t.client_id = a.client_id AND t.program_id = a.program_id)
	   AND a.client_id > 70000 $$,
	'every balance equals the points remaining in its lots');

-- replay every operation that wrote something, with the same key and
-- arguments: same entry back, nothing written
CREATE TEMP TABLE before_replay AS
	SELECT (SELECT count(*) FROM crm.loyalty_ledger) AS entries,
		   (SELECT count(*) FROM crm.loyalty_allocations) AS allocations,
		   (SELECT array_agg(balance ORDER BY client_id, program_id) FROM crm.loyalty_accounts) AS balances;
CREATE TEMP TABLE replayed (n integer, entry_id bigint);
DO $$
DECLARE
	x ops;
	e crm.loyalty_ledger;
BEGIN
	FOR x IN SELECT * FROM ops WHERE result_entry IS NOT NULL AND op <> 'expire' ORDER BY n LOOP
		CASE x.op
		WHEN 'earn' THEN
			e := crm.earn_points(x.client_id, x.program, x.points, x.key, order_id => x.order_id, expires_at => x.expires_at);
		WHEN 'redeem' THEN
			e := crm.redeem_points(x.client_id, x.program, x.points, x.key, order_id => x.order_id);
		WHEN 'reverse' THEN
			e := crm.reverse_entry(x.entry_id, x.key);
		WHEN 'refund' THEN
			SELECT r.* INTO e FROM crm.refund_order_points(x.client_id, x.order_id, x.key, x.amount) r LIMIT 1;
		WHEN 'adjust' THEN
			e := crm.adjust_points(x.client_id, x.program, x.points, x.key, 'correction ' || x.n);
		END CASE;
		INSERT INTO replayed VALUES (x.n, e.entry_id);
	END LOOP;
END
$$;
SELECT is_empty($$
	SELECT o.n FROM ops o JOIN replayed r USING (n) WHERE r.entry_id IS DISTINCT FROM o.result_entry $$,
	'replaying each key returns the entry of its first call');
SELECT is((SELECT count(*) FROM crm.loyalty_ledger), (SELECT entries FROM before_replay),
		  'replaying every key wrote no entry');
SELECT is((SELECT array_agg(balance ORDER BY client_id, program_id) FROM crm.loyalty_accounts),
		  (SELECT balances FROM before_replay), 'replaying every key changed no balance');
SELECT throws_ok($$SELECT crm.redeem_points(o.client_id, o.program, o.points + 1, o.key)
					 FROM ops o WHERE o.op = 'redeem' AND o.result_entry IS NOT NULL ORDER BY n LIMIT 1$$,
				 'LY002', NULL, 'a key replayed with other arguments is refused');

-- a reversal restores a balance exactly, whatever happened in between
CREATE TEMP TABLE restore_cases AS
	SELECT a.client_id, p.code, a.balance AS before
	  FROM crm.loyalty_accounts a JOIN crm.loyalty_programs p USING (program_id)
	 WHERE a.client_id > 70000 AND a.balance >= 10;
DO $$
DECLARE
	x record;
	e crm.loyalty_ledger;
BEGIN
	FOR x IN SELECT * FROM restore_cases ORDER BY client_id, code LOOP
		e := crm.redeem_points(x.client_id, x.code, 1 + x.before / 2, 'rs-' || x.client_id || x.code);
		PERFORM crm.earn_points(x.client_id, x.code, 7, 'between-' || x.client_id || x.code);
		PERFORM crm.reverse_entry(e.entry_id, 'rs-undo-' || x.client_id || x.code);
		e := crm.earn_points(x.client_id, x.code, 13, 'er-' || x.client_id || x.code);
		PERFORM crm.reverse_entry(e.entry_id, 'er-undo-' || x.client_id || x.code);
	END LOOP;
END
$$;
SELECT cmp_ok((SELECT count(*) FROM restore_cases), '>', 3::bigint, 'enough accounts to restore');
SELECT is_empty($$
	SELECT x.client_id FROM restore_cases x JOIN crm.loyalty_programs p ON p.code = x.code
	  JOIN crm.loyalty_accounts a ON a.client_id = x.client_id AND a.program_id = p.program_id
	 WHERE a.balance <> x.before + 7 $$,
	'redeem then reverse, earn then reverse: the balance is back exactly (plus what came in between)');
SELECT is_empty($$SELECT * FROM crm.verify_ledger()$$, 'verify_ledger is still clean');

SELECT * FROM finish();
ROLLBACK;
