/*
 * Loyalty operations: earn, redeem, adjust, reverse an entry, reverse an
 * order's points on a refund, read a balance and a statement.
 *
 * Every writing operation follows one pattern, inside the caller's
 * transaction:
 *   1. validate the arguments (nothing is written on bad input);
 *   2. lock the account row (SELECT ... FOR UPDATE): from here on no other
 *      transaction moves points of this account;
 *   3. look the idempotency key up: found with the same arguments, return
 *      the first result and write nothing; found with other arguments,
 *      raise LY002;
 *   4. for a debit, expire the account's lots that are due first, so that
 *      expired points are never spent;
 *   5. compute the lots to touch, append the entry, its allocations, and
 *      update the balance and lot caches.
 *
 * SQLSTATEs of the loyalty functions:
 *   22004  a required argument is NULL ("<argument> must not be NULL",
 *          the arguments checked in their order)
 *   P0002  an unknown client ("client <id> does not exist")
 *   22023  an invalid argument (non-positive points, unknown programme,
 *          order or entry, an entry that cannot be reversed, a refund
 *          larger than what remains refundable)
 *   55000  the state forbids it (entry already reversed, order already
 *          refunded in full, order cancelled or not paid)
 *   LY001  not enough points (the detail gives the available balance)
 *   LY002  idempotency key already used with other arguments
 *   LY003  the redemption exceeds the share of the order payable in points
 * Every error is raised by crm.loyalty_raise, without a CONTEXT: the
 * helpers below raise most of them, several calls deep.
 */

/* The programme row of a code, or 22004 (NULL) or 22023 (unknown). */
CREATE FUNCTION crm.loyalty_program_row(program text)
RETURNS crm.loyalty_programs
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	p			crm.loyalty_programs;
BEGIN
	IF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	END IF;
	SELECT * INTO p FROM crm.loyalty_programs lp WHERE lp.code = program;
	IF NOT FOUND THEN
		PERFORM crm.loyalty_raise('22023', format('loyalty programme "%s" does not exist', program));
	END IF;
	RETURN p;
END
$$;
COMMENT ON FUNCTION crm.loyalty_program_row(text) IS 'internal: the programme with this code, or error 22004 (NULL) or 22023 (unknown, named)';

/* Error P0002 unless the client exists (and the caller may see it). */
CREATE FUNCTION crm.loyalty_check_client(client_id bigint)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = loyalty_check_client.client_id) THEN
		PERFORM crm.loyalty_raise('P0002', format('client %s does not exist', client_id));
	END IF;
END
$$;
COMMENT ON FUNCTION crm.loyalty_check_client(bigint) IS 'internal: error P0002 unless the client exists';

/*
 * loyalty_refuse_in_citus_task: crm.refuse_in_citus_task (its error,
 * 0A000, for a function called inside a query Citus sent to a shard)
 * raised without a CONTEXT, as the other errors of the loyalty functions;
 * the exception block, a subtransaction, is entered only to raise it.
 */
CREATE FUNCTION crm.loyalty_refuse_in_citus_task(function_name text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	v_state		text;
	v_message	text;
	v_detail	text;
	v_hint		text;
BEGIN
	IF crm.in_citus_task() THEN
		BEGIN
			PERFORM crm.refuse_in_citus_task(function_name);
		EXCEPTION WHEN feature_not_supported THEN
			GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
				v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
			PERFORM crm.loyalty_raise(v_state, v_message, nullif(v_detail, ''), nullif(v_hint, ''));
		END;
	END IF;
END
$$;
COMMENT ON FUNCTION crm.loyalty_refuse_in_citus_task(text) IS 'internal: the error of crm.refuse_in_citus_task (0A000, a function called inside a query Citus sent to a shard) without a CONTEXT';

/* Checks the arguments every writing operation shares. */
CREATE FUNCTION crm.loyalty_check_args(client_id bigint, idempotency_key text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	END IF;
	IF idempotency_key IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'idempotency_key must not be NULL');
	END IF;
	IF length(idempotency_key) NOT BETWEEN 1 AND 200 THEN
		PERFORM crm.loyalty_raise('22023',
			format('invalid idempotency key "%s"', idempotency_key),
			'An idempotency key has 1 to 200 characters.');
	END IF;
	IF idempotency_key LIKE 'crm:%' THEN
		PERFORM crm.loyalty_raise('22023',
			format('invalid idempotency key "%s"', idempotency_key),
			'Keys starting with "crm:" are reserved for the keys crm derives itself.');
	END IF;
END
$$;
COMMENT ON FUNCTION crm.loyalty_check_args(bigint, text) IS 'internal: client_id and idempotency key present and well formed, or error';

/*
 * Locks the account row and returns it; opens the account first when
 * open_if_missing (in the base tier: the tier of threshold 0, if any).
 * Returns NULL when there is no account and none is to be opened.
 */
CREATE FUNCTION crm.loyalty_lock_account(client_id bigint, program_id bigint,
										 open_if_missing boolean)
RETURNS crm.loyalty_accounts
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_client	bigint := loyalty_lock_account.client_id;
	v_program	bigint := loyalty_lock_account.program_id;
	a			crm.loyalty_accounts;
BEGIN
	SELECT * INTO a FROM crm.loyalty_accounts
	 WHERE client_id = v_client AND program_id = v_program
	   FOR UPDATE;
	IF FOUND OR NOT open_if_missing THEN
		RETURN a;
	END IF;
	PERFORM crm.loyalty_check_client(v_client);
	INSERT INTO crm.loyalty_accounts (client_id, program_id, tier_code, opened_at, tier_since)
	SELECT v_client, v_program,
		   (SELECT t.tier_code FROM crm.loyalty_tiers t
			 WHERE t.program_id = v_program AND t.threshold = 0),
		   pg_catalog.now(), pg_catalog.now()
	ON CONFLICT ON CONSTRAINT loyalty_accounts_pkey DO NOTHING;
	SELECT * INTO a FROM crm.loyalty_accounts
	 WHERE client_id = v_client AND program_id = v_program
	   FOR UPDATE;
	IF NOT FOUND THEN
		/* another transaction opened it after this one's snapshot */
		PERFORM crm.loyalty_raise('40001',
			format('could not open the account of client %s in programme %s because of a concurrent update', v_client, v_program));
	END IF;
	RETURN a;
END
$$;
COMMENT ON FUNCTION crm.loyalty_lock_account(bigint, bigint, boolean) IS 'internal: locks (and opens if asked) the account of a client in a programme';

/*
 * The entry already written under this key, if any: the same arguments
 * return it; others raise LY002.  Call it with the account locked.
 */
CREATE FUNCTION crm.loyalty_replay(client_id bigint, program_id bigint,
								   idempotency_key text, request jsonb)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	e			crm.loyalty_ledger;
BEGIN
	SELECT * INTO e FROM crm.loyalty_ledger l
	 WHERE l.client_id = loyalty_replay.client_id
	   AND l.program_id = loyalty_replay.program_id
	   AND l.idempotency_key = loyalty_replay.idempotency_key;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF e.request IS DISTINCT FROM loyalty_replay.request THEN
		PERFORM crm.loyalty_raise('LY002',
			format('idempotency key "%s" was already used with other arguments', e.idempotency_key),
			format('First use: entry %s, %s.', e.entry_id, e.request),
			'Use a new key for a new operation.');
	END IF;
	RETURN e;
END
$$;
COMMENT ON FUNCTION crm.loyalty_replay(bigint, bigint, text, jsonb) IS 'internal: the entry already written under an idempotency key (error LY002 if its arguments differ)';

/*
 * Appends one entry to the ledger of a locked account: optionally a new
 * lot of new_lot points, and changes to existing lots (lot_ids[i] by
 * deltas[i]; repeated lots are summed, each becomes one allocation row).
 * Updates the lot and balance caches.  The balance may not go below zero
 * (LY001).  earn_points and redeem_points do the same in one statement.
 */
CREATE FUNCTION crm.loyalty_append(
	client_id bigint, program_id bigint, kind text,
	new_lot bigint, expires_at timestamptz,
	lot_ids bigint[], deltas bigint[],
	order_id bigint, reverses_entry_id bigint, unrecovered bigint, refund_amount numeric,
	idempotency_key text, actor text, source text, note text, request jsonb,
	at timestamptz)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_id		bigint := pg_catalog.nextval('crm.loyalty_ledger_entry_id_seq');
	v_moves		bigint;
	v_nlots		integer;
	v_one_lot	bigint;
	v_balance	bigint;
	e			crm.loyalty_ledger;
BEGIN
	SELECT coalesce(sum(m.d), 0), count(*), min(m.lot)
	  INTO v_moves, v_nlots, v_one_lot
	  FROM (SELECT u.lot, sum(u.d) AS d
			  FROM unnest(lot_ids, deltas) AS u(lot, d)
			 GROUP BY u.lot HAVING sum(u.d) <> 0) m;

	SELECT a.balance INTO v_balance FROM crm.loyalty_accounts a
	 WHERE a.client_id = loyalty_append.client_id AND a.program_id = loyalty_append.program_id;
	IF v_balance::numeric + coalesce(new_lot, 0) + v_moves > 9223372036854775807 THEN
		PERFORM crm.loyalty_raise('22003',
			format('crediting %s points would take the balance of client %s in programme %s past the largest bigint: %s points now',
				   coalesce(new_lot, 0) + v_moves::numeric, client_id, program_id, v_balance));
	END IF;
	v_balance := v_balance + coalesce(new_lot, 0) + v_moves;
	IF v_balance < 0 THEN
		PERFORM crm.loyalty_raise('LY001', 'not enough loyalty points');
	END IF;

	INSERT INTO crm.loyalty_ledger AS l
		(client_id, program_id, entry_id, kind, points, balance_after, order_id,
		 lot_id, expires_at, reverses_entry_id, unrecovered, refund_amount,
		 idempotency_key, made_by, source, note, request, created_at)
	VALUES (client_id, program_id, v_id, kind, coalesce(new_lot, 0) + v_moves, v_balance, order_id,
			CASE WHEN coalesce(new_lot, 0) > 0 THEN v_id
				 WHEN v_nlots = 1 THEN v_one_lot END,
			CASE WHEN coalesce(new_lot, 0) > 0 THEN expires_at END,
			reverses_entry_id, coalesce(unrecovered, 0), refund_amount,
			idempotency_key, coalesce(actor, session_user::text), source, note, request, at)
	RETURNING * INTO e;

	IF coalesce(new_lot, 0) > 0 THEN
		INSERT INTO crm.loyalty_lots (client_id, program_id, lot_id, points, remaining, earned_at, expires_at)
		VALUES (client_id, program_id, v_id, new_lot, new_lot, at, expires_at);
	END IF;

	IF v_nlots > 0 THEN
		INSERT INTO crm.loyalty_allocations (client_id, program_id, entry_id, lot_id, points)
		SELECT loyalty_append.client_id, loyalty_append.program_id, v_id, u.lot, sum(u.d)
		  FROM unnest(lot_ids, deltas) AS u(lot, d)
		 GROUP BY u.lot HAVING sum(u.d) <> 0;
		UPDATE crm.loyalty_lots t
		   SET remaining = t.remaining + m.d
		  FROM (SELECT u.lot, sum(u.d) AS d
				  FROM unnest(lot_ids, deltas) AS u(lot, d)
				 GROUP BY u.lot HAVING sum(u.d) <> 0) m
		 WHERE t.client_id = loyalty_append.client_id
		   AND t.program_id = loyalty_append.program_id
		   AND t.lot_id = m.lot;
	END IF;

	UPDATE crm.loyalty_accounts a SET balance = v_balance
	 WHERE a.client_id = loyalty_append.client_id AND a.program_id = loyalty_append.program_id;
	RETURN e;
END
$$;
COMMENT ON FUNCTION crm.loyalty_append(bigint, bigint, text, bigint, timestamptz, bigint[], bigint[], bigint, bigint, bigint, numeric, text, text, text, text, jsonb, timestamptz)
	IS 'internal: appends an entry with its lot and allocations to a locked account and updates the caches';

/*
 * Expires, lot by lot, the points of a locked account whose lots are due
 * (expires_at <= as_of): one expire entry per lot, keyed
 * "crm:expire:<lot>:<n>" (n counts the expiries of that lot), written at
 * "at".  The entries and allocations are inserted lot by lot; the lot and
 * balance caches are updated once for all of them, so that an account
 * with many due lots costs no more than its inserts.  Returns how many
 * lots and points expired.
 */
CREATE FUNCTION crm.loyalty_expire_account(client_id bigint, program_id bigint,
										   as_of timestamptz, at timestamptz, actor text,
										   OUT lots bigint, OUT points bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	lot			record;
	v_n			bigint;
	v_id		bigint;
	v_balance	bigint;
	v_lots		bigint[] := '{}';
BEGIN
	lots := 0;
	points := 0;
	SELECT a.balance INTO v_balance FROM crm.loyalty_accounts a
	 WHERE a.client_id = loyalty_expire_account.client_id
	   AND a.program_id = loyalty_expire_account.program_id;
	FOR lot IN
		SELECT t.lot_id, t.remaining, t.expires_at
		  FROM crm.loyalty_lots t
		 WHERE t.client_id = loyalty_expire_account.client_id
		   AND t.program_id = loyalty_expire_account.program_id
		   AND t.remaining > 0 AND t.expires_at <= as_of
		 ORDER BY t.expires_at, t.lot_id
	LOOP
		SELECT count(*) + 1 INTO v_n FROM crm.loyalty_ledger l
		 WHERE l.client_id = loyalty_expire_account.client_id
		   AND l.program_id = loyalty_expire_account.program_id
		   AND l.lot_id = lot.lot_id AND l.kind = 'expire';
		v_id := pg_catalog.nextval('crm.loyalty_ledger_entry_id_seq');
		v_balance := v_balance - lot.remaining;
		INSERT INTO crm.loyalty_ledger AS l
			(client_id, program_id, entry_id, kind, points, balance_after, lot_id,
			 idempotency_key, made_by, source, request, created_at)
		VALUES (client_id, program_id, v_id, 'expire', -lot.remaining, v_balance, lot.lot_id,
				format('crm:expire:%s:%s', lot.lot_id, v_n), coalesce(actor, session_user::text),
				'expire_points',
				jsonb_build_object('op', 'expire_points', 'lot_id', lot.lot_id,
								   'expires_at', lot.expires_at),
				at);
		INSERT INTO crm.loyalty_allocations (client_id, program_id, entry_id, lot_id, points)
		VALUES (client_id, program_id, v_id, lot.lot_id, -lot.remaining);
		v_lots := v_lots || lot.lot_id;
		lots := lots + 1;
		points := points + lot.remaining;
	END LOOP;
	IF lots > 0 THEN
		UPDATE crm.loyalty_lots t SET remaining = 0
		 WHERE t.client_id = loyalty_expire_account.client_id
		   AND t.program_id = loyalty_expire_account.program_id
		   AND t.lot_id = ANY (v_lots);
		UPDATE crm.loyalty_accounts a SET balance = v_balance
		 WHERE a.client_id = loyalty_expire_account.client_id
		   AND a.program_id = loyalty_expire_account.program_id;
	END IF;
END
$$;
COMMENT ON FUNCTION crm.loyalty_expire_account(bigint, bigint, timestamptz, timestamptz, text) IS 'internal: expires the due lots of a locked account, one entry per lot';

/* A debit (redeem, negative adjust) of a locked account after expiring its due lots. */
CREATE FUNCTION crm.loyalty_debit(a crm.loyalty_accounts, p crm.loyalty_programs, kind text,
								  points bigint, order_id bigint, idempotency_key text,
								  actor text, source text, note text, request jsonb)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_at		timestamptz;
	v_balance	bigint;
	v_id		bigint;
	v_need		bigint;
	v_lots		bigint[] := '{}';
	v_takes		bigint[] := '{}';
	lot			record;
	e			crm.loyalty_ledger;
BEGIN
	v_at := pg_catalog.clock_timestamp();
	v_balance := a.balance;
	IF EXISTS (SELECT 1 FROM crm.loyalty_lots t
				WHERE t.client_id = a.client_id AND t.program_id = a.program_id
				  AND t.remaining > 0 AND t.expires_at <= v_at) THEN
		PERFORM crm.loyalty_expire_account(a.client_id, a.program_id, v_at, v_at, actor);
		SELECT x.balance INTO v_balance FROM crm.loyalty_accounts x
		 WHERE x.client_id = a.client_id AND x.program_id = a.program_id;
	END IF;
	IF v_balance < points THEN
		PERFORM crm.loyalty_raise('LY001',
			format('not enough loyalty points: %s requested, %s available', points, v_balance),
			format('Client %s has %s points in programme "%s".', a.client_id, v_balance, p.code));
	END IF;
	/*
	 * The lots to draw from, in the programme's lot order, and how much
	 * from each: live lots until the amount is complete.  Soonest expiry
	 * first reads the open-lots index in order and stops there.
	 */
	v_need := points;
	IF p.lot_order = 'expiring_first' THEN
		FOR lot IN
			SELECT t.lot_id, t.remaining FROM crm.loyalty_lots t
			 WHERE t.client_id = a.client_id AND t.program_id = a.program_id AND t.remaining > 0
			   AND (t.expires_at IS NULL OR t.expires_at > v_at)
			 ORDER BY t.client_id, t.program_id, t.expires_at, t.lot_id
		LOOP
			v_lots := v_lots || lot.lot_id;
			v_takes := v_takes || least(lot.remaining, v_need);
			v_need := v_need - least(lot.remaining, v_need);
			EXIT WHEN v_need = 0;
		END LOOP;
	ELSE
		FOR lot IN
			SELECT t.lot_id, t.remaining FROM crm.loyalty_lots t
			 WHERE t.client_id = a.client_id AND t.program_id = a.program_id AND t.remaining > 0
			   AND (t.expires_at IS NULL OR t.expires_at > v_at)
			 ORDER BY t.lot_id
		LOOP
			v_lots := v_lots || lot.lot_id;
			v_takes := v_takes || least(lot.remaining, v_need);
			v_need := v_need - least(lot.remaining, v_need);
			EXIT WHEN v_need = 0;
		END LOOP;
	END IF;
	IF v_need > 0 THEN
		/* cannot happen while the caches hold; verify_ledger would tell */
		PERFORM crm.loyalty_raise('XX001',
			format('the live lots of client %s in programme "%s" hold fewer points than its balance', a.client_id, p.code));
	END IF;

	/* the entry, its allocations, the lot and balance caches, in one statement */
	v_id := pg_catalog.nextval('crm.loyalty_ledger_entry_id_seq');
	WITH pick AS (
		SELECT u.lot_id, u.take FROM unnest(v_lots, v_takes) AS u(lot_id, take)),
	ins AS (
		INSERT INTO crm.loyalty_ledger AS l
			(client_id, program_id, entry_id, kind, points, balance_after, order_id,
			 lot_id, idempotency_key, made_by, source, note, request, created_at)
		SELECT a.client_id, a.program_id, v_id, kind, -points, v_balance - points, order_id,
			   CASE WHEN count(*) = 1 THEN min(pick.lot_id) END,
			   idempotency_key, coalesce(actor, session_user::text), source, note, request, v_at
		  FROM pick
		RETURNING l.*),
	al AS (
		INSERT INTO crm.loyalty_allocations (client_id, program_id, entry_id, lot_id, points)
		SELECT a.client_id, a.program_id, v_id, pick.lot_id, -pick.take FROM pick),
	lu AS (
		UPDATE crm.loyalty_lots t SET remaining = t.remaining - pick.take
		  FROM pick
		 WHERE t.client_id = a.client_id AND t.program_id = a.program_id AND t.lot_id = pick.lot_id),
	acc AS (
		UPDATE crm.loyalty_accounts x SET balance = v_balance - points
		 WHERE x.client_id = a.client_id AND x.program_id = a.program_id)
	SELECT * INTO e FROM ins;
	RETURN e;
END
$$;
COMMENT ON FUNCTION crm.loyalty_debit(crm.loyalty_accounts, crm.loyalty_programs, text, bigint, bigint, text, text, text, text, jsonb) IS 'internal: draws points from the lots of a locked account';

/*
 * The order of a client, checked to exist (an unknown client: P0002, an
 * unknown order: 22023) and not to be cancelled or refunded.
 */
CREATE FUNCTION crm.loyalty_order_row(client_id bigint, order_id bigint, allow_closed boolean)
RETURNS crm.orders
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o			crm.orders;
BEGIN
	SELECT * INTO o FROM crm.orders x
	 WHERE x.client_id = loyalty_order_row.client_id AND x.order_id = loyalty_order_row.order_id;
	IF NOT FOUND THEN
		PERFORM crm.loyalty_check_client(client_id);
		PERFORM crm.loyalty_raise('22023',
			format('order %s of client %s does not exist', order_id, client_id));
	END IF;
	IF NOT allow_closed AND o.status IN ('cancelled', 'refunded') THEN
		PERFORM crm.loyalty_raise('55000',
			format('order %s of client %s is %s', order_id, client_id, o.status));
	END IF;
	RETURN o;
END
$$;
COMMENT ON FUNCTION crm.loyalty_order_row(bigint, bigint, boolean) IS 'internal: an order of a client, or error (P0002 an unknown client, 22023 an unknown order, 55000 a closed one)';

/*
 * earn_points in SQL: credits points as a new lot.  It defines the
 * operation; crm.earn_points (82_loyalty_fast.sql, src/loyalty_fast.c)
 * does its common call without statements and calls this for the rest.
 *
 * The argument checks are crm.loyalty_check_args's (the one place of the
 * key rule in SQL); the programme lookup of crm.loyalty_program_row is
 * written out here (same messages, same SQLSTATEs) for the common case;
 * the account, its key, and one statement writing the entry, the lot and
 * the balance.
 */
CREATE FUNCTION crm.loyalty_earn_sql(client_id bigint, program text, points bigint,
									 idempotency_key text, order_id bigint,
									 expires_at timestamptz, note text, actor text)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	a			crm.loyalty_accounts;
	e			crm.loyalty_ledger;
	v_request	jsonb;
	v_at		timestamptz;
	v_id		bigint;
	v_expires	timestamptz;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.earn_points');
	/* the required arguments, in their order */
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	ELSIF points IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'points must not be NULL');
	ELSIF idempotency_key IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'idempotency_key must not be NULL');
	END IF;
	/* the key rule, written once in SQL (src/loyalty_fast.c: key_ok in C) */
	PERFORM crm.loyalty_check_args(client_id, idempotency_key);
	IF points <= 0 THEN
		PERFORM crm.loyalty_raise('22023', format('points to earn must be positive, not %s', points));
	END IF;
	v_at := pg_catalog.clock_timestamp();
	IF expires_at <= v_at THEN
		PERFORM crm.loyalty_raise('22023', format('expires_at %s is not in the future', expires_at));
	END IF;
	SELECT * INTO p FROM crm.loyalty_programs lp WHERE lp.code = program;
	IF NOT FOUND THEN
		p := crm.loyalty_program_row(program);
	END IF;
	IF order_id IS NOT NULL
	   AND (crm.loyalty_order_row(client_id, order_id, false)).ordered_at
		   > pg_catalog.clock_timestamp() + crm.future_tolerance() THEN
		PERFORM crm.loyalty_raise('55000',
			format('order %s of client %s is dated %s, in the future', order_id, client_id,
				   (crm.loyalty_order_row(client_id, order_id, false)).ordered_at),
			'An order earns points once it has happened: at most crm.future_tolerance past now.');
	END IF;
	v_request := jsonb_build_object('op', 'earn_points', 'points', points, 'order_id', order_id,
									'expires_at', expires_at, 'note', note);
	SELECT * INTO a FROM crm.loyalty_accounts x
	 WHERE x.client_id = loyalty_earn_sql.client_id AND x.program_id = p.program_id
	   FOR UPDATE;
	IF NOT FOUND THEN
		a := crm.loyalty_lock_account(client_id, p.program_id, true);
	END IF;
	SELECT * INTO e FROM crm.loyalty_ledger l
	 WHERE l.client_id = loyalty_earn_sql.client_id AND l.program_id = p.program_id
	   AND l.idempotency_key = loyalty_earn_sql.idempotency_key;
	IF FOUND THEN
		RETURN crm.loyalty_replay(client_id, p.program_id, idempotency_key, v_request);
	END IF;
	IF points > 9223372036854775807 - a.balance THEN
		PERFORM crm.loyalty_raise('22003',
			format('earning %s points would take the balance of client %s in programme "%s" past the largest bigint: %s points now',
				   points, client_id, p.code, a.balance));
	END IF;

	/* the entry, its lot and the balance, in one statement */
	v_at := pg_catalog.clock_timestamp();
	v_id := pg_catalog.nextval('crm.loyalty_ledger_entry_id_seq');
	v_expires := coalesce(expires_at, v_at + p.points_lifetime);
	WITH ins AS (
		INSERT INTO crm.loyalty_ledger AS l
			(client_id, program_id, entry_id, kind, points, balance_after, order_id,
			 lot_id, expires_at, idempotency_key, made_by, source, note, request, created_at)
		VALUES (client_id, p.program_id, v_id, 'earn', points, a.balance + points, order_id,
				v_id, v_expires, idempotency_key, coalesce(actor, session_user::text),
				'earn_points', note, v_request, v_at)
		RETURNING l.*),
	lot AS (
		INSERT INTO crm.loyalty_lots (client_id, program_id, lot_id, points, remaining, earned_at, expires_at)
		VALUES (client_id, p.program_id, v_id, points, points, v_at, v_expires)),
	acc AS (
		UPDATE crm.loyalty_accounts x SET balance = a.balance + points
		 WHERE x.client_id = a.client_id AND x.program_id = a.program_id)
	SELECT * INTO e FROM ins;
	RETURN e;
END
$$;
COMMENT ON FUNCTION crm.loyalty_earn_sql(bigint, text, bigint, text, bigint, timestamptz, text, text) IS 'internal: crm.earn_points in SQL, for every call its C implementation does not take: credits points to a client''s account (opened if needed) as a new lot expiring at expires_at (default: now + the programme''s points_lifetime); idempotent by key';

/*
 * redeem_points in SQL: spends points, lot by lot; never below zero.  It
 * defines the operation; crm.redeem_points (82_loyalty_fast.sql,
 * src/loyalty_fast.c) does its common call without statements and calls
 * this for the rest.
 *
 * Like crm.loyalty_earn_sql: the checks and the programme lookup written
 * out; the debit is crm.loyalty_debit's (expire the due lots, pick the
 * lots, one statement writing the entry, its allocations, the lots and the
 * balance), the one place of the lot order in SQL.
 */
CREATE FUNCTION crm.loyalty_redeem_sql(client_id bigint, program text, points bigint,
									   idempotency_key text, order_id bigint, note text,
									   actor text)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	a			crm.loyalty_accounts;
	o			crm.orders;
	e			crm.loyalty_ledger;
	v_request	jsonb;
	v_cap		bigint;
	v_used		bigint;
	m			crm.household_members;
	h			crm.households;
	v_members	bigint[];
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.redeem_points');
	/* the required arguments, in their order */
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	ELSIF points IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'points must not be NULL');
	ELSIF idempotency_key IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'idempotency_key must not be NULL');
	END IF;
	/* the key rule, written once in SQL (src/loyalty_fast.c: key_ok in C) */
	PERFORM crm.loyalty_check_args(client_id, idempotency_key);
	IF points <= 0 THEN
		PERFORM crm.loyalty_raise('22023', format('points to redeem must be positive, not %s', points));
	END IF;
	SELECT * INTO p FROM crm.loyalty_programs lp WHERE lp.code = program;
	IF NOT FOUND THEN
		p := crm.loyalty_program_row(program);
	END IF;
	v_request := jsonb_build_object('op', 'redeem_points', 'points', points, 'order_id', order_id,
									'note', note);
	/*
	 * A household member (84_loyalty_households.sql): the household's row
	 * first, then every member's account in client_id order, the
	 * redeemer's among them (opened if the member has none yet).
	 */
	m := crm.loyalty_membership(client_id, p.program_id);
	IF m.client_id IS NOT NULL THEN
		h := crm.loyalty_household_lock(m.owner_client_id, p.program_id);
		m := crm.loyalty_membership(client_id, p.program_id);
		IF m.client_id IS NOT NULL THEN
			v_members := crm.loyalty_household_lock_accounts(m.owner_client_id, m.household_id,
															 p.program_id);
			PERFORM crm.loyalty_lock_account(client_id, p.program_id, true);
		END IF;
	END IF;
	SELECT * INTO a FROM crm.loyalty_accounts x
	 WHERE x.client_id = loyalty_redeem_sql.client_id AND x.program_id = p.program_id
	   FOR UPDATE;
	IF NOT FOUND THEN
		PERFORM crm.loyalty_check_client(client_id);
		PERFORM crm.loyalty_raise('LY001',
			format('not enough loyalty points: %s requested, 0 available', points),
			format('Client %s has no account in programme "%s".', client_id, p.code));
	END IF;
	SELECT * INTO e FROM crm.loyalty_ledger l
	 WHERE l.client_id = loyalty_redeem_sql.client_id AND l.program_id = p.program_id
	   AND l.idempotency_key = loyalty_redeem_sql.idempotency_key;
	IF FOUND THEN
		RETURN crm.loyalty_replay(client_id, p.program_id, idempotency_key, v_request);
	END IF;
	IF order_id IS NOT NULL THEN
		o := crm.loyalty_order_row(client_id, order_id, false);
		IF o.currency <> p.currency THEN
			PERFORM crm.loyalty_raise('22023',
				format('order %s is in %s, programme "%s" in %s', order_id, o.currency, p.code, p.currency));
		END IF;
		v_cap := crm.loyalty_redeem_cap(p, o.net_amount);
		v_used := crm.loyalty_order_redeemed(client_id, p.program_id, order_id);
		IF v_used + points > v_cap THEN
			PERFORM crm.loyalty_raise('LY003',
				format('redeeming %s points exceeds what order %s may be paid with: %s points',
					   points, order_id, v_cap),
				format('At most %s of the order''s %s %s may be paid with points; %s points are already redeemed on it.',
					   p.max_redeem_share, o.net_amount, o.currency, v_used));
		END IF;
	END IF;

	/* a member lacking points: the household's limit, its points, the transfers */
	IF v_members IS NOT NULL THEN
		PERFORM crm.loyalty_household_draw(m, p, v_members, points, idempotency_key, actor);
		SELECT * INTO a FROM crm.loyalty_accounts x
		 WHERE x.client_id = loyalty_redeem_sql.client_id AND x.program_id = p.program_id;
	END IF;

	/* the debit: due lots expire first, then the lots in the programme's order */
	RETURN crm.loyalty_debit(a, p, 'redeem', points, order_id, idempotency_key, actor,
							 'redeem_points', note, v_request);
END
$$;
COMMENT ON FUNCTION crm.loyalty_redeem_sql(bigint, text, bigint, text, bigint, text, text) IS 'internal: crm.redeem_points in SQL, for every call its C implementation does not take: spends points lot by lot in the programme''s lot order; never below zero (LY001 with the available balance); with an order, at most max_redeem_share of it (LY003); idempotent by key';

/* Points redeemed on an order in an account, net of what reversals gave back. */
CREATE FUNCTION crm.loyalty_order_redeemed(client_id bigint, program_id bigint, order_id bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	v			bigint;
BEGIN
	SELECT coalesce(-sum(l.points), 0)
		   - coalesce((SELECT sum(r.points) FROM crm.loyalty_reversals r
					   JOIN crm.loyalty_ledger o
						 ON o.client_id = r.client_id AND o.program_id = r.program_id
						AND o.entry_id = r.reversed_entry_id
					  WHERE o.client_id = $1 AND o.program_id = $2 AND o.order_id = $3
						AND o.kind = 'redeem'), 0)
	  INTO v
	  FROM crm.loyalty_ledger l
	 WHERE l.client_id = $1 AND l.program_id = $2 AND l.order_id = $3 AND l.kind = 'redeem';
	RETURN v;
END
$$;
COMMENT ON FUNCTION crm.loyalty_order_redeemed(bigint, bigint, bigint) IS 'internal: points redeemed on an order, net of reversals';

/*
 * adjust_points: a manual correction, up (a new lot) or down (drawn like a
 * redemption); the note (the reason) is required.
 */
CREATE FUNCTION crm.adjust_points(client_id bigint, program text, points bigint,
								  idempotency_key text, note text,
								  expires_at timestamptz DEFAULT NULL, actor text DEFAULT NULL)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	a			crm.loyalty_accounts;
	e			crm.loyalty_ledger;
	v_request	jsonb;
	v_at		timestamptz;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.adjust_points');
	/* the required arguments, in their order */
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	ELSIF points IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'points must not be NULL');
	ELSIF idempotency_key IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'idempotency_key must not be NULL');
	ELSIF note IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'note must not be NULL');
	END IF;
	PERFORM crm.loyalty_check_args(client_id, idempotency_key);
	IF points = 0 THEN
		PERFORM crm.loyalty_raise('22023', 'points to adjust must not be zero');
	END IF;
	IF points = -9223372036854775808 THEN
		PERFORM crm.loyalty_raise('22003', format('points to adjust out of range: %s', points));
	END IF;
	IF btrim(note) = '' THEN
		PERFORM crm.loyalty_raise('22023', 'an adjustment needs a note giving its reason');
	END IF;
	IF expires_at IS NOT NULL AND points < 0 THEN
		PERFORM crm.loyalty_raise('22023',
			format('expires_at applies to a credit only, not to an adjustment of %s points', points));
	END IF;
	IF expires_at <= pg_catalog.clock_timestamp() THEN
		PERFORM crm.loyalty_raise('22023', format('expires_at %s is not in the future', expires_at));
	END IF;
	p := crm.loyalty_program_row(program);
	v_request := jsonb_build_object('op', 'adjust_points', 'points', points,
									'expires_at', expires_at, 'note', note);
	a := crm.loyalty_lock_account(client_id, p.program_id, points > 0);
	IF a.client_id IS NULL THEN
		PERFORM crm.loyalty_check_client(client_id);
		PERFORM crm.loyalty_raise('LY001',
			format('not enough loyalty points: %s requested, 0 available', -points),
			format('Client %s has no account in programme "%s".', client_id, p.code));
	END IF;
	e := crm.loyalty_replay(client_id, p.program_id, idempotency_key, v_request);
	IF e.entry_id IS NOT NULL THEN
		RETURN e;
	END IF;
	IF points < 0 THEN
		RETURN crm.loyalty_debit(a, p, 'adjust', -points, NULL, idempotency_key, actor,
								 'adjust_points', note, v_request);
	END IF;
	v_at := pg_catalog.clock_timestamp();
	RETURN crm.loyalty_append(client_id, p.program_id, 'adjust', points,
							  coalesce(expires_at, v_at + p.points_lifetime),
							  '{}', '{}', NULL, NULL, 0, NULL,
							  idempotency_key, actor, 'adjust_points', note, v_request, v_at);
END
$$;
COMMENT ON FUNCTION crm.adjust_points(bigint, text, bigint, text, text, timestamptz, text) IS 'manual correction: a credit opens a lot, a debit draws like a redemption; the note (reason) is required; idempotent by key';

/*
 * What reversing "target" more points of entry e moves: for a credit,
 * points taken back out of its own lot (as far as they remain, the rest
 * is unrecovered); for a debit, points put back into the lots it drew
 * from: first the lots of the same order's credits (so that a refund can
 * take back the points an order earned and then spent on itself), then
 * the lots that expire last.  Partial restores fill the lots in this same
 * order, which depends only on the debit, so that successive partial
 * reversals add up to exactly what was drawn from each lot.
 * pending_lots/pending_deltas are
 * moves already planned in the same entry (taken into account for what a
 * lot still holds).
 */
CREATE FUNCTION crm.loyalty_reverse_plan(e crm.loyalty_ledger, target bigint,
										 pending_lots bigint[], pending_deltas bigint[],
										 OUT lot_ids bigint[], OUT deltas bigint[],
										 OUT moved bigint, OUT unrecovered bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_done		bigint;
	v_left		bigint;
BEGIN
	SELECT coalesce(sum(abs(r.points) + r.unrecovered), 0) INTO v_done
	  FROM crm.loyalty_reversals r
	 WHERE r.client_id = e.client_id AND r.program_id = e.program_id
	   AND r.reversed_entry_id = e.entry_id;
	target := least(target, abs(e.points) - v_done);
	IF target <= 0 THEN
		lot_ids := '{}'; deltas := '{}'; moved := 0; unrecovered := 0;
		RETURN;
	END IF;
	IF e.points > 0 THEN
		SELECT t.remaining + coalesce((SELECT sum(u.d) FROM unnest(pending_lots, pending_deltas) u(lot, d)
									   WHERE u.lot = t.lot_id), 0)
		  INTO v_left
		  FROM crm.loyalty_lots t
		 WHERE t.client_id = e.client_id AND t.program_id = e.program_id AND t.lot_id = e.lot_id;
		moved := -least(target, v_left);
		unrecovered := target + moved;
		lot_ids := ARRAY[e.lot_id];
		deltas := ARRAY[moved];
	ELSE
		/* restores so far fill the drawn lots in the same order: skip v_done */
		SELECT coalesce(array_agg(s.lot_id ORDER BY s.ord), '{}'),
			   coalesce(array_agg(least(s.drawn, v_done + target - s.before)
								  - least(s.drawn, greatest(v_done - s.before, 0)) ORDER BY s.ord), '{}')
		  INTO lot_ids, deltas
		  FROM (SELECT al.lot_id, -al.points AS drawn,
					   row_number() OVER w AS ord,
					   coalesce(sum(-al.points) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
				  FROM crm.loyalty_allocations al
				  JOIN crm.loyalty_lots t
					ON t.client_id = al.client_id AND t.program_id = al.program_id AND t.lot_id = al.lot_id
				  LEFT JOIN crm.loyalty_ledger c
					ON c.client_id = t.client_id AND c.program_id = t.program_id AND c.entry_id = t.lot_id
				 WHERE al.client_id = e.client_id AND al.program_id = e.program_id
				   AND al.entry_id = e.entry_id
				WINDOW w AS (ORDER BY (c.order_id IS NOT DISTINCT FROM e.order_id AND e.order_id IS NOT NULL) DESC,
								  t.expires_at DESC NULLS FIRST, t.lot_id DESC)) s
		 WHERE s.before < v_done + target;
		moved := target;
		unrecovered := 0;
	END IF;
END
$$;
COMMENT ON FUNCTION crm.loyalty_reverse_plan(crm.loyalty_ledger, bigint, bigint[], bigint[]) IS 'internal: the lot moves that reverse part of an entry';

/*
 * reverse_entry: reverses what is left to reverse of an entry.
 */
CREATE FUNCTION crm.reverse_entry(entry_id bigint, idempotency_key text,
								  note text DEFAULT NULL, actor text DEFAULT NULL)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o			crm.loyalty_ledger;
	a			crm.loyalty_accounts;
	e			crm.loyalty_ledger;
	plan		record;
	v_request	jsonb;
	v_at		timestamptz;
	v_done		bigint;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.reverse_entry');
	/* the required arguments, in their order */
	IF entry_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'entry_id must not be NULL');
	ELSIF idempotency_key IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'idempotency_key must not be NULL');
	END IF;
	SELECT * INTO o FROM crm.loyalty_ledger l WHERE l.entry_id = reverse_entry.entry_id;
	IF NOT FOUND THEN
		PERFORM crm.loyalty_raise('22023', format('ledger entry %s does not exist', entry_id));
	END IF;
	PERFORM crm.loyalty_check_args(o.client_id, idempotency_key);
	IF o.source = 'household_transfer' THEN
		PERFORM crm.loyalty_raise('22023',
			format('ledger entry %s cannot be reversed: it is a household transfer', entry_id),
			NULL,
			'Reverse the redemption it paid for; a transfer stands with it.');
	END IF;
	IF o.kind IN ('reversal', 'expire') THEN
		PERFORM crm.loyalty_raise('22023',
			format('ledger entry %s cannot be reversed: it is %s', entry_id,
				   CASE o.kind WHEN 'expire' THEN 'an expiry' ELSE 'a reversal' END),
			NULL,
			'Correct it with crm.adjust_points.');
	END IF;
	v_request := jsonb_build_object('op', 'reverse_entry', 'entry_id', entry_id, 'note', note);
	a := crm.loyalty_lock_account(o.client_id, o.program_id, false);
	e := crm.loyalty_replay(o.client_id, o.program_id, idempotency_key, v_request);
	IF e.entry_id IS NOT NULL THEN
		RETURN e;
	END IF;
	SELECT coalesce(sum(abs(r.points) + r.unrecovered), 0) INTO v_done
	  FROM crm.loyalty_reversals r
	 WHERE r.client_id = o.client_id AND r.program_id = o.program_id
	   AND r.reversed_entry_id = o.entry_id;
	IF v_done >= abs(o.points) THEN
		PERFORM crm.loyalty_raise('55000', format('ledger entry %s is already reversed', entry_id));
	END IF;
	v_at := pg_catalog.clock_timestamp();
	PERFORM crm.loyalty_expire_account(o.client_id, o.program_id, v_at, v_at, actor);
	plan := crm.loyalty_reverse_plan(o, abs(o.points) - v_done, '{}', '{}');
	e := crm.loyalty_append(o.client_id, o.program_id, 'reversal', 0, NULL,
							plan.lot_ids, plan.deltas, o.order_id, o.entry_id,
							plan.unrecovered, NULL, idempotency_key, actor, 'reverse_entry',
							note, v_request, v_at);
	INSERT INTO crm.loyalty_reversals (client_id, program_id, entry_id, reversed_entry_id, points, unrecovered)
	VALUES (o.client_id, o.program_id, e.entry_id, o.entry_id, plan.moved, plan.unrecovered);
	RETURN e;
END
$$;
COMMENT ON FUNCTION crm.reverse_entry(bigint, text, text, text) IS 'reverses what is left of an entry: a credit''s unspent points come back out (the spent rest is reported as unrecovered), a debit''s points go back into the lots it drew from; idempotent by key';

/*
 * refund_order_points: the loyalty side of a whole or partial refund of an
 * order, in every programme where the order moved points.  After refunds
 * totalling R of an order of net amount N, round(|points| * R / N) (half
 * up) of each of its earn and redeem entries is reversed; each refund
 * reverses the difference to what earlier refunds and reverse_entry calls
 * already did.  One reversal entry per account.
 */
CREATE FUNCTION crm.refund_order_points(client_id bigint, order_id bigint, idempotency_key text,
										refund_amount numeric DEFAULT NULL,
										note text DEFAULT NULL, actor text DEFAULT NULL)
RETURNS SETOF crm.loyalty_ledger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	o			crm.orders;
	acct		record;
	a			crm.loyalty_accounts;
	e			crm.loyalty_ledger;
	x			crm.loyalty_ledger;
	plan		record;
	v_request	jsonb;
	v_so_far	numeric;
	v_refunded	boolean;
	v_amount	numeric;
	v_share		numeric;
	v_at		timestamptz;
	v_lots		bigint[];
	v_deltas	bigint[];
	v_targets	bigint[];
	v_moved		bigint[];
	v_unrec		bigint[];
	v_total_unrec bigint;
	v_target	bigint;
	i			integer;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.refund_order_points');
	/* the required arguments, in their order */
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF order_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'order_id must not be NULL');
	ELSIF idempotency_key IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'idempotency_key must not be NULL');
	END IF;
	PERFORM crm.loyalty_check_args(client_id, idempotency_key);
	IF refund_amount <= 0 THEN
		PERFORM crm.loyalty_raise('22023',
			format('refund amount must be positive, not %s', refund_amount));
	END IF;
	o := crm.loyalty_order_row(client_id, order_id, true);
	IF refund_amount > o.net_amount THEN
		PERFORM crm.loyalty_raise('22023',
			format('refund amount %s exceeds the net amount %s of order %s', refund_amount, o.net_amount, order_id));
	END IF;
	v_request := jsonb_build_object('op', 'refund_order_points', 'order_id', order_id,
									'refund_amount', refund_amount, 'note', note);

	/*
	 * A refund already made under this key, in any programme: return what
	 * it wrote and write nothing (even in a programme where the order has
	 * moved points since).
	 */
	IF EXISTS (SELECT 1 FROM crm.loyalty_ledger l
				WHERE l.client_id = refund_order_points.client_id
				  AND l.idempotency_key = refund_order_points.idempotency_key) THEN
		FOR acct IN
			SELECT l.program_id FROM crm.loyalty_ledger l
			 WHERE l.client_id = refund_order_points.client_id
			   AND l.idempotency_key = refund_order_points.idempotency_key
			 ORDER BY l.program_id
		LOOP
			RETURN NEXT crm.loyalty_replay(client_id, acct.program_id, idempotency_key, v_request);
		END LOOP;
		RETURN;
	END IF;

	FOR acct IN
		SELECT DISTINCT l.program_id FROM crm.loyalty_ledger l
		 WHERE l.client_id = refund_order_points.client_id AND l.order_id = refund_order_points.order_id
		 ORDER BY l.program_id
	LOOP
		a := crm.loyalty_lock_account(client_id, acct.program_id, false);
		e := crm.loyalty_replay(client_id, acct.program_id, idempotency_key, v_request);
		IF e.entry_id IS NOT NULL THEN
			RETURN NEXT e;
			CONTINUE;
		END IF;

		SELECT coalesce(sum(l.refund_amount), 0), count(l.refund_amount) > 0
		  INTO v_so_far, v_refunded
		  FROM crm.loyalty_ledger l
		 WHERE l.client_id = refund_order_points.client_id AND l.program_id = acct.program_id
		   AND l.order_id = refund_order_points.order_id AND l.kind = 'reversal';
		IF refund_amount IS NULL AND v_so_far >= o.net_amount AND v_refunded THEN
			PERFORM crm.loyalty_raise('55000',
				format('order %s is already refunded in full', order_id));
		END IF;
		v_amount := coalesce(refund_amount, o.net_amount - v_so_far);
		IF v_so_far + v_amount > o.net_amount THEN
			PERFORM crm.loyalty_raise('22023',
				format('refund amount %s exceeds what remains refundable of order %s: %s',
					   v_amount, order_id, o.net_amount - v_so_far),
				format('Order %s has a net amount of %s, of which %s is refunded already.',
					   order_id, o.net_amount, v_so_far));
		END IF;
		v_share := CASE WHEN o.net_amount = 0 THEN 1 ELSE (v_so_far + v_amount) / o.net_amount END;

		v_at := pg_catalog.clock_timestamp();
		PERFORM crm.loyalty_expire_account(client_id, acct.program_id, v_at, v_at, actor);

		v_lots := '{}'; v_deltas := '{}'; v_targets := '{}'; v_moved := '{}'; v_unrec := '{}';
		v_total_unrec := 0;
		/* debits first (their points come back), then credits (taken out) */
		FOR x IN
			SELECT * FROM crm.loyalty_ledger l
			 WHERE l.client_id = refund_order_points.client_id AND l.program_id = acct.program_id
			   AND l.order_id = refund_order_points.order_id
			   AND l.kind NOT IN ('reversal', 'expire')
			 ORDER BY l.points > 0, l.entry_id
		LOOP
			v_target := round(abs(x.points) * v_share)
				- (SELECT coalesce(sum(abs(r.points) + r.unrecovered), 0)
					 FROM crm.loyalty_reversals r
					WHERE r.client_id = x.client_id AND r.program_id = x.program_id
					  AND r.reversed_entry_id = x.entry_id);
			CONTINUE WHEN v_target <= 0;
			plan := crm.loyalty_reverse_plan(x, v_target, v_lots, v_deltas);
			CONTINUE WHEN plan.moved = 0 AND plan.unrecovered = 0;
			v_lots := v_lots || plan.lot_ids;
			v_deltas := v_deltas || plan.deltas;
			v_targets := v_targets || x.entry_id;
			v_moved := v_moved || plan.moved;
			v_unrec := v_unrec || plan.unrecovered;
			v_total_unrec := v_total_unrec + plan.unrecovered;
		END LOOP;

		e := crm.loyalty_append(client_id, acct.program_id, 'reversal', 0, NULL,
								v_lots, v_deltas, order_id, NULL, v_total_unrec, v_amount,
								idempotency_key, actor, 'refund_order_points', note, v_request, v_at);
		FOR i IN 1 .. coalesce(array_length(v_targets, 1), 0) LOOP
			INSERT INTO crm.loyalty_reversals (client_id, program_id, entry_id, reversed_entry_id, points, unrecovered)
			VALUES (client_id, acct.program_id, e.entry_id, v_targets[i], v_moved[i], v_unrec[i]);
		END LOOP;
		RETURN NEXT e;
	END LOOP;
	RETURN;
END
$$;
COMMENT ON FUNCTION crm.refund_order_points(bigint, bigint, text, numeric, text, text) IS 'reverses, in proportion to the amount refunded, the points an order earned (unspent part; the rest reported as unrecovered) and redeemed (back into their lots); whole refund when refund_amount is NULL; one entry per programme; idempotent by key';

/*
 * points_balance: the sum of the account's entries written up to "at"
 * (default: all of them).  No account: 0; no client: P0002 (looked up only
 * when no entry counts).
 */
CREATE FUNCTION crm.points_balance(client_id bigint, program text, at timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	v			bigint;
	n			bigint;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.points_balance');
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	SELECT coalesce(sum(l.points), 0), count(*) INTO v, n
	  FROM crm.loyalty_ledger l
	 WHERE l.client_id = points_balance.client_id AND l.program_id = p.program_id
	   AND (at IS NULL OR l.created_at <= at);
	IF n = 0 THEN
		PERFORM crm.loyalty_check_client(client_id);
	END IF;
	RETURN v;
END
$$;
COMMENT ON FUNCTION crm.points_balance(bigint, text, timestamptz) IS 'a client''s points in a programme: the sum of the ledger entries written at or before at (NULL: all); 0 without an account; error P0002 for an unknown client';

/*
 * points_statement: every movement of an account with its running balance,
 * optionally between two moments (the running balance still counts
 * everything before).  No client: P0002 (looked up only when there is no
 * row).
 */
CREATE FUNCTION crm.points_statement(client_id bigint, program text,
									 from_at timestamptz DEFAULT NULL, to_at timestamptz DEFAULT NULL)
RETURNS TABLE (entry_id bigint, created_at timestamptz, kind text, points bigint,
			   running_balance bigint, order_id bigint, lot_id bigint, expires_at timestamptz,
			   reverses_entry_id bigint, unrecovered bigint, refund_amount numeric,
			   idempotency_key text, made_by text, source text, note text)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p			crm.loyalty_programs;
	v_client	bigint := points_statement.client_id;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.points_statement');
	IF v_client IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	RETURN QUERY
	SELECT s.entry_id, s.created_at, s.kind, s.points, s.running, s.order_id, s.lot_id,
		   s.expires_at, s.reverses_entry_id, s.unrecovered, s.refund_amount,
		   s.idempotency_key, s.made_by, s.source, s.note
	  FROM (SELECT l.*, sum(l.points) OVER (ORDER BY l.entry_id)::bigint AS running
			  FROM crm.loyalty_ledger l
			 WHERE l.client_id = v_client AND l.program_id = p.program_id
			   AND (points_statement.to_at IS NULL OR l.created_at <= points_statement.to_at)) s
	 WHERE points_statement.from_at IS NULL OR s.created_at >= points_statement.from_at
	 ORDER BY s.entry_id;
	IF NOT FOUND THEN
		PERFORM crm.loyalty_check_client(v_client);
	END IF;
END
$$;
COMMENT ON FUNCTION crm.points_statement(bigint, text, timestamptz, timestamptz) IS 'an account''s movements in order with the running balance (sum of all entries up to each one), optionally from and to given moments';

/*
 * points_expiring: the points that will expire, per expiry moment, of the
 * lots still holding points after as_of.  No client: P0002 (looked up only
 * when there is no row).
 */
CREATE FUNCTION crm.points_expiring(client_id bigint, program text,
									as_of timestamptz DEFAULT pg_catalog.now(),
									within interval DEFAULT NULL)
RETURNS TABLE (expires_at timestamptz, points bigint)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p			crm.loyalty_programs;
	v_client	bigint := points_expiring.client_id;
	v_until		timestamptz;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.points_expiring');
	/* the required arguments, in their order */
	IF v_client IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	ELSIF as_of IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'as_of must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	IF points_expiring.within IS NOT NULL THEN
		BEGIN
			v_until := points_expiring.as_of + points_expiring.within;
		EXCEPTION WHEN datetime_field_overflow THEN
			PERFORM crm.loyalty_raise('22008',
				format('as_of %s plus within %s is out of range', points_expiring.as_of,
					   points_expiring.within));
		END;
	END IF;
	RETURN QUERY
	SELECT t.expires_at, sum(t.remaining)::bigint
	  FROM crm.loyalty_lots t
	 WHERE t.client_id = v_client AND t.program_id = p.program_id
	   AND t.remaining > 0 AND t.expires_at > points_expiring.as_of
	   AND (v_until IS NULL OR t.expires_at <= v_until)
	 GROUP BY t.expires_at
	 ORDER BY t.expires_at;
	IF NOT FOUND THEN
		PERFORM crm.loyalty_check_client(v_client);
	END IF;
END
$$;
COMMENT ON FUNCTION crm.points_expiring(bigint, text, timestamptz, interval) IS 'points still to expire per expiry moment after as_of (within an interval if given): the "expiring soon" list';
