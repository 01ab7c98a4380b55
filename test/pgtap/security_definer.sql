-- Function hygiene: every SECURITY DEFINER function pins its search_path,
-- and hostile objects a careless body would pick up (operators and
-- functions in public, tables in pg_temp shadowing crm's) are never called
-- or read, whatever search_path the caller sets.
BEGIN;
SELECT plan(27);

\i test/include/pgtap_for_roles.sql

SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace AND p.prosecdef
	   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, crm, pg_temp'], false) $$,
	'every SECURITY DEFINER function pins search_path = pg_catalog, crm, pg_temp');
SELECT cmp_ok((SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'crm'::regnamespace AND p.prosecdef),
			  '>=', 15::bigint, 'the loyalty operations are SECURITY DEFINER (so the check above means something)');
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace AND p.prosecdef
	   AND has_function_privilege('public', p.oid, 'EXECUTE') $$,
	'no SECURITY DEFINER function is executable by PUBLIC');
SELECT is_empty($$
	SELECT p.oid::regprocedure FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace AND p.prolang = (SELECT l.oid FROM pg_language l WHERE l.lanname = 'c')
	   AND p.prosrc IN ('discount_price_cart')
	   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, crm, pg_temp'], false) $$,
	'the C function that runs queries (price_cart) pins search_path too');

/*
 * The traps: every one of them raises, so a single call fails the test.
 */
CREATE FUNCTION public.hostile_bb(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE FUNCTION public.hostile_b(bigint, bigint) RETURNS bigint LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE FUNCTION public.hostile_tt(text, text) RETURNS boolean LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE FUNCTION public.hostile_nn(numeric, numeric) RETURNS numeric LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE FUNCTION public.hostile_nnb(numeric, numeric) RETURNS boolean LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.hostile_bb);
CREATE OPERATOR public.< (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.hostile_bb);
CREATE OPERATOR public.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.hostile_bb);
CREATE OPERATOR public.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.hostile_b);
CREATE OPERATOR public.- (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.hostile_b);
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.hostile_tt);
CREATE OPERATOR public.* (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = public.hostile_nn);
CREATE OPERATOR public.>= (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = public.hostile_nnb);
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE FUNCTION public.lower(text) RETURNS text LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE FUNCTION public.jsonb_build_object(text, bigint) RETURNS jsonb LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE FUNCTION public.hostile_sum(bigint, bigint) RETURNS bigint LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'hostile object called'; END$$;
CREATE AGGREGATE public.sum(bigint) (SFUNC = public.hostile_sum, STYPE = bigint);

CREATE ROLE regress_hostile_app IN ROLE crm_app;
CREATE ROLE regress_hostile_analyst IN ROLE crm_analyst;

-- the data, written with the normal path
INSERT INTO crm.clients (client_id, kind, first_name, owner) VALUES (7701, 'person', 'Eve', 'x'), (7702, 'person', 'Mallory', 'x');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT c, c * 10 + k, timestamptz '2026-02-01 00:00+00' + k * interval '20 days', 'web', 'paid', 30, 30
  FROM (VALUES (7701), (7702)) v(c), generate_series(1, 3) k;
INSERT INTO crm.categories (category_id, name) VALUES (7701, 'Tools');
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost) VALUES (7701, 'HAMMER', 'Hammer', 7701, 4);
INSERT INTO crm.price_lists (price_list_id, code, name, kind, currency, valid) VALUES (7701, 'H', 'House', 'retail', 'EUR', '(,)');
INSERT INTO crm.prices VALUES (7701, 7701, 12.50);
INSERT INTO crm.loyalty_programs (code, name, points_per_unit) VALUES ('hostile-club', 'Club', 1);
SELECT lives_ok($$SELECT crm.open_loyalty_account(7701, 'hostile-club')$$, 'an account is opened');
CREATE TEMP TABLE expect AS
SELECT (SELECT crm.price_cart(7701, '[{"product_id": 7701, "quantity": 2, "price_list_id": 7701}]', '2026-06-01')) AS cart,
	   (SELECT array_agg(r ORDER BY r.client_id)::text FROM crm.rfm_scores('2026-06-01') r WHERE r.client_id IN (7701, 7702)) AS rfm;
GRANT SELECT ON expect TO PUBLIC;

-- the shadows: temporary tables named like crm's, in front on the path
CREATE TEMP TABLE loyalty_accounts (client_id bigint, program_id bigint, balance bigint);
CREATE TEMP TABLE loyalty_ledger (client_id bigint, program_id bigint, points bigint);
CREATE TEMP TABLE orders (client_id bigint, net_amount numeric, status text);
CREATE TEMP TABLE clients (client_id bigint);
GRANT ALL ON loyalty_accounts, loyalty_ledger, orders, clients TO PUBLIC;
INSERT INTO pg_temp.loyalty_accounts VALUES (7701, 1, 999999);
INSERT INTO pg_temp.orders VALUES (7701, 1000000, 'paid');

/*
 * attempt(label, stmt): runs stmt and records its first value as text, or
 * its error.  pgTAP's own functions would trip over the traps, so the
 * statements run first and are judged after the path is reset.  The body
 * uses no operator and no unqualified function.
 */
CREATE TEMP TABLE attempts (n serial, label text, result text);
GRANT ALL ON attempts, attempts_n_seq TO PUBLIC;
CREATE FUNCTION pg_temp.attempt(label text, stmt text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r			text;
BEGIN
	EXECUTE stmt INTO r;
	INSERT INTO pg_temp.attempts (label, result) VALUES (label, r);
EXCEPTION WHEN others THEN
	INSERT INTO pg_temp.attempts (label, result) VALUES (label, SQLSTATE || ': ' || SQLERRM);
END
$$;

SET ROLE regress_hostile_app;
SET search_path = pg_temp, public, pg_catalog;
DO $$
BEGIN
	-- the traps are live for a careless query
	PERFORM pg_temp.attempt('trap =', 'SELECT 1::bigint = 1::bigint');
	PERFORM pg_temp.attempt('trap now', 'SELECT now()');
	PERFORM pg_temp.attempt('trap sum', 'SELECT sum(1::bigint)');
	PERFORM pg_temp.attempt('trap jsonb_build_object', 'SELECT jsonb_build_object(''a'', 1::bigint)');
	PERFORM pg_temp.attempt('trap shadow', 'SELECT balance FROM loyalty_accounts');
	-- the extension's functions
	PERFORM pg_temp.attempt('earn', 'SELECT balance_after FROM crm.earn_points(7701, ''hostile-club'', 25, ''h-1'')');
	PERFORM pg_temp.attempt('redeem', 'SELECT balance_after FROM crm.redeem_points(7701, ''hostile-club'', 5, ''h-2'')');
	PERFORM pg_temp.attempt('replay', 'SELECT balance_after FROM crm.earn_points(7701, ''hostile-club'', 25, ''h-1'')');
	PERFORM pg_temp.attempt('balance', 'SELECT crm.points_balance(7701, ''hostile-club'')');
	PERFORM pg_temp.attempt('statement', 'SELECT pg_catalog.count(*) FROM crm.points_statement(7701, ''hostile-club'')');
	PERFORM pg_temp.attempt('award', 'SELECT crm.award_order_points(7701, 77011, ''hostile-club'')');
	PERFORM pg_temp.attempt('refund', 'SELECT crm.refund_order_points(7701, 77011, ''h-3'')');
	PERFORM pg_temp.attempt('tier', 'SELECT crm.update_tier(7701, ''hostile-club'') IS NULL');
	PERFORM pg_temp.attempt('price_cart', 'SELECT crm.price_cart(7701, ''[{"product_id": 7701, "quantity": 2, "price_list_id": 7701}]'', ''2026-06-01'')');
	PERFORM pg_temp.attempt('rfm', 'SELECT pg_catalog.array_agg(r ORDER BY r.client_id) FROM crm.rfm_scores(''2026-06-01'') r WHERE r.client_id OPERATOR(pg_catalog.=) ANY (''{7701,7702}'')');
	PERFORM pg_temp.attempt('card', 'SELECT crm.client_card(7701) OPERATOR(pg_catalog.->) ''client_id''');
	PERFORM pg_temp.attempt('churn', 'SELECT pg_catalog.count(*) FROM crm.churn_signals(''2026-06-01'')');
	PERFORM pg_temp.attempt('clv', 'SELECT pg_catalog.count(*) FROM crm.clv_summary(''2026-06-01'')');
END
$$;
RESET ROLE;
SET ROLE regress_hostile_analyst;
DO $$
BEGIN
	PERFORM pg_temp.attempt('verify', 'SELECT pg_catalog.count(*) FROM crm.verify_ledger()');
END
$$;
RESET ROLE;
RESET search_path;

CREATE FUNCTION pg_temp.got(l text) RETURNS text LANGUAGE sql AS $$SELECT result FROM pg_temp.attempts WHERE label = l$$;
SELECT is(pg_temp.got('trap ='), 'P0001: hostile object called', 'trap: = on bigint is live');
SELECT is(pg_temp.got('trap now'), 'P0001: hostile object called', 'trap: now() is live');
SELECT is(pg_temp.got('trap sum'), 'P0001: hostile object called', 'trap: sum(bigint) is live');
SELECT is(pg_temp.got('trap jsonb_build_object'), 'P0001: hostile object called', 'trap: jsonb_build_object is live');
SELECT is(pg_temp.got('trap shadow'), '999999', 'trap: an unqualified loyalty_accounts is the shadow');
SELECT is(pg_temp.got('earn'), '25', 'earn_points under the hostile path');
SELECT is(pg_temp.got('redeem'), '20', 'redeem_points under the hostile path');
SELECT is(pg_temp.got('replay'), '25', 'a replayed key under the hostile path returns the first entry');
SELECT is(pg_temp.got('balance'), '20', 'points_balance reads the real ledger');
SELECT is(pg_temp.got('statement'), '2', 'points_statement reads the real ledger');
SELECT alike(pg_temp.got('award'), '(7701,%,earn,30,%', 'award_order_points under the hostile path: an entry of 30 points');
SELECT alike(pg_temp.got('refund'), '(7701,%,reversal,-30,%', 'refund_order_points under the hostile path: the 30 points taken back');
SELECT is(pg_temp.got('tier'), 'true', 'update_tier under the hostile path (no tiers: no change)');
SELECT is(pg_temp.got('price_cart'), (SELECT cart::text FROM expect), 'price_cart: the same quote as under the normal path');
SELECT is(pg_temp.got('rfm'), (SELECT rfm::text FROM expect), 'rfm_scores: the same scores as under the normal path');
SELECT is(pg_temp.got('card'), '7701', 'client_card under the hostile path');
SELECT is(pg_temp.got('churn'), '2', 'churn_signals under the hostile path: both clients');
SELECT is(pg_temp.got('clv'), '2', 'clv_summary under the hostile path: both clients');
SELECT is(pg_temp.got('verify'), '0', 'verify_ledger under the hostile path: the real ledger is clean');
SELECT is_empty($$SELECT label, result FROM pg_temp.attempts WHERE label NOT LIKE 'trap%' AND result LIKE '%hostile object called%'$$,
				'no hostile object was called by the extension');
SELECT is((SELECT balance FROM crm.loyalty_accounts WHERE client_id = 7701), crm.points_balance(7701, 'hostile-club'),
		  'the real account holds what the ledger says');
SELECT is((SELECT balance FROM pg_temp.loyalty_accounts), 999999::bigint, 'the shadow account was not written');

SELECT * FROM finish();
ROLLBACK;
