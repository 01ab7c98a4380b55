-- crm.earn_points and crm.redeem_points (C) against their SQL bodies
-- crm.loyalty_earn_sql and crm.loyalty_redeem_sql over 600 pseudo-random
-- operations (fixed seed): each operation is applied to twin accounts, one
-- through each; both give the same outcome (the same SQLSTATE when they
-- fail) and the twins end with the same entries, allocations, lots and
-- balances.  Operations: earnings (some with a short expiry, so that later
-- redemptions find lots due), redemptions (some larger than the balance),
-- replays of earlier keys with the same and with other arguments.
BEGIN;
SELECT plan(6);

SET LOCAL track_functions = 'all';
SELECT setseed(0.2718);
INSERT INTO crm.clients (client_id, first_name)
SELECT 71000 + g, 'twin ' || g FROM generate_series(1, 24) g;
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, points_lifetime)
VALUES ('q-fefo', 'soonest expiry first', 1, '90 days');
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, lot_order)
VALUES ('q-fifo', 'oldest lot first', 1, 'earned_first');

CREATE TEMP TABLE twin_ops (n integer PRIMARY KEY, op text, pair integer, program text,
							points bigint, key text, expires_at timestamptz,
							c_result text, sql_result text);

-- runs one call, returns 'ok <points> <balance_after>' or the SQLSTATE
CREATE FUNCTION pg_temp.run(q text, VARIADIC args text[]) RETURNS text LANGUAGE plpgsql AS $$
DECLARE e crm.loyalty_ledger;
BEGIN
	EXECUTE q INTO e USING args[1]::bigint, args[2], args[3]::bigint, args[4], args[5]::timestamptz;
	RETURN format('ok %s %s', e.points, e.balance_after);
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END $$;

DO $$
DECLARE
	i integer;
	r double precision;
	pair integer;
	prog text;
	pts bigint;
	k text;
	exp timestamptz;
	op text;
	prev record;
	c_res text;
	s_res text;
BEGIN
	FOR i IN 1 .. 600 LOOP
		r := random();
		pair := 1 + floor(random() * 12)::int;
		prog := CASE WHEN random() < 0.5 THEN 'q-fefo' ELSE 'q-fifo' END;
		exp := NULL;
		IF r < 0.45 THEN
			op := 'earn';
			pts := 1 + floor(random() * 40)::int;
			k := 'e' || i;
			IF random() < 0.04 THEN
				-- far enough ahead for both calls to see it in the future,
				-- however slow the build (sanitizers, first calls)
				exp := clock_timestamp() + interval '250 milliseconds';
			END IF;
		ELSIF r < 0.9 THEN
			op := 'redeem';
			pts := 1 + floor(random() * 60)::int;
			k := 'r' || i;
		ELSE
			-- an earlier key again: same arguments, or other points
			SELECT * INTO prev FROM twin_ops WHERE twin_ops.op IN ('earn', 'redeem') AND expires_at IS NULL
			 ORDER BY random() LIMIT 1;
			IF prev IS NULL THEN
				CONTINUE;
			END IF;
			op := prev.op;
			pair := prev.pair;
			prog := prev.program;
			k := prev.key;
			pts := CASE WHEN random() < 0.7 THEN prev.points ELSE prev.points + 1 END;
		END IF;
		IF op = 'earn' THEN
			c_res := pg_temp.run('SELECT * FROM crm.earn_points($1, $2, $3, $4, NULL, $5)',
								 (71000 + 2 * pair - 1)::text, prog, pts::text, k, exp::text);
			s_res := pg_temp.run('SELECT * FROM crm.loyalty_earn_sql($1, $2, $3, $4, NULL, $5, NULL, NULL)',
								 (71000 + 2 * pair)::text, prog, pts::text, k, exp::text);
		ELSE
			c_res := pg_temp.run('SELECT * FROM crm.redeem_points($1, $2, $3, $4) WHERE $5 IS NULL',
								 (71000 + 2 * pair - 1)::text, prog, pts::text, k, NULL);
			s_res := pg_temp.run('SELECT * FROM crm.loyalty_redeem_sql($1, $2, $3, $4, NULL, NULL, NULL) WHERE $5 IS NULL',
								 (71000 + 2 * pair)::text, prog, pts::text, k, NULL);
		END IF;
		INSERT INTO twin_ops VALUES (i, CASE WHEN r >= 0.9 THEN op || ' again' ELSE op END,
									 pair, prog, pts, k, exp, c_res, s_res);
		IF exp IS NOT NULL THEN
			-- the short lot is due from here on
			PERFORM pg_sleep(extract(epoch FROM exp - clock_timestamp())::float8 + 0.01);
		END IF;
	END LOOP;
END $$;

-- an account's history, lots numbered within the account, times and the
-- lot numbers of expiry keys left out
CREATE FUNCTION pg_temp.history(c bigint) RETURNS SETOF text LANGUAGE sql AS $$
	WITH lots AS (SELECT t.program_id, t.lot_id,
						 row_number() OVER (PARTITION BY t.program_id ORDER BY t.lot_id) AS n
					FROM crm.loyalty_lots t WHERE t.client_id = c)
	SELECT format('%s %s: %s %s -> %s lot %s key %s %s; %s', p.code,
				  row_number() OVER (PARTITION BY e.program_id ORDER BY e.entry_id),
				  e.kind, e.points, e.balance_after,
				  (SELECT lots.n FROM lots WHERE lots.program_id = e.program_id AND lots.lot_id = e.lot_id),
				  regexp_replace(e.idempotency_key, '\d+', '#', 'g'),
				  regexp_replace(regexp_replace(e.request::text, '"\d{4}-[^"]*"', '"<time>"', 'g'),
								 '"lot_id": \d+', '"lot_id": #'),
				  (SELECT string_agg(format('lot %s %s', lots.n, a.points), ', ' ORDER BY lots.n)
					 FROM crm.loyalty_allocations a
					 JOIN lots ON lots.program_id = a.program_id AND lots.lot_id = a.lot_id
					WHERE a.client_id = c AND a.entry_id = e.entry_id))
	  FROM crm.loyalty_ledger e JOIN crm.loyalty_programs p USING (program_id)
	 WHERE e.client_id = c
	 ORDER BY p.code, e.entry_id
$$;

SELECT is((SELECT count(*) FROM twin_ops WHERE c_result IS DISTINCT FROM sql_result), 0::bigint,
		  'every operation has the same outcome through the C function and through the SQL body');
SELECT ok((SELECT count(DISTINCT c_result) FILTER (WHERE c_result !~ '^ok') >= 2
			   AND count(*) FILTER (WHERE c_result ~ '^ok') > 300
		   FROM twin_ops),
		  'the operations include successes and at least two kinds of error');
SELECT is((SELECT count(*) FROM generate_series(1, 12) pair
			WHERE ARRAY(SELECT pg_temp.history(71000 + 2 * pair - 1))
				  IS DISTINCT FROM ARRAY(SELECT pg_temp.history(71000 + 2 * pair))), 0::bigint,
		  'each pair of twins has the same entries, lots drawn and allocations');
SELECT is((SELECT count(*) FROM generate_series(1, 12) pair
			WHERE ARRAY(SELECT (t.program_id, t.points, t.remaining)::text FROM crm.loyalty_lots t
						 WHERE t.client_id = 71000 + 2 * pair - 1 ORDER BY t.program_id, t.lot_id)
				  IS DISTINCT FROM
				  ARRAY(SELECT (t.program_id, t.points, t.remaining)::text FROM crm.loyalty_lots t
						 WHERE t.client_id = 71000 + 2 * pair ORDER BY t.program_id, t.lot_id)
			   OR (SELECT array_agg(a.balance ORDER BY a.program_id) FROM crm.loyalty_accounts a
					WHERE a.client_id = 71000 + 2 * pair - 1)
				  IS DISTINCT FROM
				  (SELECT array_agg(a.balance ORDER BY a.program_id) FROM crm.loyalty_accounts a
					WHERE a.client_id = 71000 + 2 * pair)), 0::bigint,
		  'each pair of twins has the same lots and balances');
-- the C functions did most calls themselves, and handed some to SQL (new
-- accounts, replays, due lots); failed calls are not counted
SELECT ok((SELECT sum(calls) FILTER (WHERE funcname IN ('earn_points', 'redeem_points'))
				  > 2 * (sum(calls) FILTER (WHERE funcname IN ('loyalty_earn_sql', 'loyalty_redeem_sql'))
						 - sum(calls) FILTER (WHERE funcname IN ('earn_points', 'redeem_points')))
			   AND sum(calls) FILTER (WHERE funcname IN ('loyalty_earn_sql', 'loyalty_redeem_sql'))
				  > sum(calls) FILTER (WHERE funcname IN ('earn_points', 'redeem_points'))
			 FROM pg_stat_xact_user_functions WHERE schemaname = 'crm'),
		  'the C functions took most calls and handed the others to the SQL bodies');
SELECT is((SELECT count(*) FROM crm.verify_ledger()), 0::bigint, 'verify_ledger is clean');

SELECT * FROM finish();
ROLLBACK;
