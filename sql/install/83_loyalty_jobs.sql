/*
 * Loyalty jobs: opening accounts, cashback on paid orders, welcome and
 * birthday bonuses, tier moves and expiry.  Each is a function an
 * application or a scheduler (pg_cron, where installed) calls; each is safe
 * to run twice: the keys it derives ("crm:order:<id>", "crm:welcome",
 * "crm:birthday:<year>", "crm:expire:<lot>:<n>") make a second run write
 * nothing.  None runs for a later time than now plus crm.future_tolerance
 * (nor the birthday jobs for another day than today) unless told so: an
 * expiry, a tier move or a year's birthday key spent too early is not
 * undone by running the job again for the right date.  An order dated
 * later earns nothing yet.
 */

CREATE FUNCTION crm.open_loyalty_account(client_id bigint, program text)
RETURNS crm.loyalty_accounts
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	p			crm.loyalty_programs;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.open_loyalty_account');
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	RETURN crm.loyalty_lock_account(client_id, p.program_id, true);
END
$$;
COMMENT ON FUNCTION crm.open_loyalty_account(bigint, text) IS 'opens (or returns, if open) a client''s account in a programme, in the tier of threshold 0 if there is one';

/* Credits a bonus or cashback lot under a derived key; NULL when points = 0. */
CREATE FUNCTION crm.loyalty_award(a crm.loyalty_accounts, p crm.loyalty_programs, kind text,
								  points bigint, lifetime interval, order_id bigint,
								  idempotency_key text, actor text, source text, request jsonb)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	e			crm.loyalty_ledger;
	v_at		timestamptz;
BEGIN
	e := crm.loyalty_replay(a.client_id, a.program_id, idempotency_key, request);
	IF e.entry_id IS NOT NULL THEN
		RETURN e;
	END IF;
	IF points <= 0 THEN
		RETURN NULL;
	END IF;
	v_at := pg_catalog.clock_timestamp();
	RETURN crm.loyalty_append(a.client_id, a.program_id, kind, points, v_at + lifetime,
							  '{}', '{}', order_id, NULL, 0, NULL, idempotency_key, actor,
							  source, NULL, request, v_at);
END
$$;
COMMENT ON FUNCTION crm.loyalty_award(crm.loyalty_accounts, crm.loyalty_programs, text, bigint, interval, bigint, text, text, text, jsonb) IS 'internal: credits a derived-key award to a locked account';

/*
 * award_order_points: the points of a paid order, once: the programme's
 * cashback (crm.loyalty_earn: floor(base * rate * tier multiplier), base =
 * net_amount, less what was paid with points unless the programme earns on
 * it too; rate = points_per_unit, or cashback_percent / 100 /
 * point_value) and the points its bonus rules earned for this programme
 * when it was recorded (crm.order_discounts.program_id): the
 * points_earned crm.price_cart quoted.
 */
CREATE FUNCTION crm.award_order_points(client_id bigint, order_id bigint, program text,
									   actor text DEFAULT NULL)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	a			crm.loyalty_accounts;
	o			crm.orders;
	v_points	bigint;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.award_order_points');
	/* the required arguments, in their order */
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF order_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'order_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	o := crm.loyalty_order_row(client_id, order_id, true);
	a := crm.loyalty_lock_account(client_id, p.program_id, true);
	IF EXISTS (SELECT 1 FROM crm.loyalty_ledger l
				WHERE l.client_id = a.client_id AND l.program_id = a.program_id
				  AND l.idempotency_key = 'crm:order:' || order_id) THEN
		RETURN crm.loyalty_award(a, p, 'earn', 0, NULL, order_id, 'crm:order:' || order_id,
								 actor, 'award_order_points',
								 jsonb_build_object('op', 'award_order_points', 'order_id', order_id));
	END IF;
	IF o.status <> 'paid' THEN
		PERFORM crm.loyalty_raise('55000',
			format('order %s of client %s is %s, not paid', order_id, client_id, o.status));
	END IF;
	IF o.currency <> p.currency THEN
		PERFORM crm.loyalty_raise('22023',
			format('order %s is in %s, programme "%s" in %s', order_id, o.currency, p.code, p.currency));
	END IF;
	IF o.ordered_at > pg_catalog.clock_timestamp() + crm.future_tolerance() THEN
		PERFORM crm.loyalty_raise('55000',
			format('order %s of client %s is dated %s, in the future', order_id, client_id, o.ordered_at),
			'An order earns points once it has happened: at most crm.future_tolerance past now.');
	END IF;
	/*
	 * the programme's cashback, and the points the order's bonus rules
	 * earned for it (two statements: on a Citus cluster the second runs on
	 * the client's shard, where the first could not)
	 */
	v_points := crm.loyalty_earn(p, a.tier_code, o.net_amount, o.points_paid);
	v_points := v_points + (SELECT coalesce(sum(d.points), 0) FROM crm.order_discounts d
							 WHERE d.client_id = o.client_id AND d.order_id = o.order_id
							   AND d.program_id = p.program_id);
	RETURN crm.loyalty_award(a, p, 'earn', v_points,
							 p.points_lifetime, order_id, 'crm:order:' || order_id, actor,
							 'award_order_points',
							 jsonb_build_object('op', 'award_order_points', 'order_id', order_id));
END
$$;
COMMENT ON FUNCTION crm.award_order_points(bigint, bigint, text, text) IS 'credits the points of a paid order once (key crm:order:<id>): the programme''s cashback floor(base x rate x tier multiplier) plus the points its bonus rules earned for the programme; NULL when that is 0 points; refuses an order dated beyond now plus crm.future_tolerance';

CREATE FUNCTION crm.award_paid_orders(program text, since timestamptz DEFAULT NULL,
									  actor text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	p			crm.loyalty_programs;
	r			record;
	n			bigint := 0;
	v_limit		timestamptz := pg_catalog.clock_timestamp() + crm.future_tolerance();
BEGIN
	p := crm.loyalty_program_row(program);
	PERFORM crm.job_lock('award_paid_orders', p.program_id);
	FOR r IN
		SELECT o.client_id, o.order_id
		  FROM crm.loyalty_accounts a
		  JOIN crm.orders o ON o.client_id = a.client_id
		 WHERE a.program_id = p.program_id
		   AND o.status = 'paid' AND o.currency = p.currency
		   AND o.ordered_at >= a.opened_at
		   AND (since IS NULL OR o.ordered_at >= since)
		   AND o.ordered_at <= v_limit
		   AND NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger l
							WHERE l.client_id = o.client_id AND l.program_id = p.program_id
							  AND l.idempotency_key = 'crm:order:' || o.order_id)
		 ORDER BY o.client_id, o.order_id
	LOOP
		PERFORM crm.report_progress('award_paid_orders',
			format('order %s of client %s, %s awarded so far', r.order_id, r.client_id, n));
		IF (crm.award_order_points(r.client_id, r.order_id, program, actor)).entry_id IS NOT NULL THEN
			n := n + 1;
		END IF;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION crm.award_paid_orders(text, timestamptz, text) IS 'scheduler job: awards the cashback of every paid order of the programme''s members placed since they joined (and since "since") not yet awarded, and not dated in the future (crm.future_tolerance); returns the entries written';

CREATE FUNCTION crm.award_welcome_bonus(client_id bigint, program text, actor text DEFAULT NULL)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	p			crm.loyalty_programs;
	a			crm.loyalty_accounts;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.award_welcome_bonus');
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	a := crm.loyalty_lock_account(client_id, p.program_id, true);
	RETURN crm.loyalty_award(a, p, 'welcome', p.welcome_points,
							 coalesce(p.bonus_lifetime, p.points_lifetime), NULL, 'crm:welcome',
							 actor, 'award_welcome_bonus',
							 jsonb_build_object('op', 'award_welcome_bonus'));
END
$$;
COMMENT ON FUNCTION crm.award_welcome_bonus(bigint, text, text) IS 'opens the account if needed and credits the programme''s welcome points once (key crm:welcome); NULL when the programme gives none';

CREATE FUNCTION crm.award_welcome_bonuses(program text, actor text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	p			crm.loyalty_programs;
	r			record;
	n			bigint := 0;
BEGIN
	p := crm.loyalty_program_row(program);
	PERFORM crm.job_lock('award_welcome_bonuses', p.program_id);
	IF p.welcome_points = 0 THEN
		RETURN 0;
	END IF;
	FOR r IN
		SELECT a.client_id FROM crm.loyalty_accounts a
		 WHERE a.program_id = p.program_id
		   AND NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger l
							WHERE l.client_id = a.client_id AND l.program_id = a.program_id
							  AND l.idempotency_key = 'crm:welcome')
		 ORDER BY a.client_id
	LOOP
		PERFORM crm.report_progress('award_welcome_bonuses',
			format('client %s, %s awarded so far', r.client_id, n));
		PERFORM crm.award_welcome_bonus(r.client_id, program, actor);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION crm.award_welcome_bonuses(text, text) IS 'scheduler job: credits the welcome points to every member who has not had them; returns the entries written';

/* Whether on_date is the client's birthday (29 February: 28 February in other years). */
CREATE FUNCTION crm.loyalty_is_birthday(birth_date date, on_date date)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
	SELECT extract(month FROM $1) = extract(month FROM $2)
	   AND (extract(day FROM $1) = extract(day FROM $2)
			OR (extract(month FROM $1) = 2 AND extract(day FROM $1) = 29
				AND extract(day FROM $2) = 28
				AND extract(day FROM ($2 + 1)) = 1))
$$;
COMMENT ON FUNCTION crm.loyalty_is_birthday(date, date) IS 'whether on_date is the birthday of someone born on birth_date (29 February counts on 28 February in common years)';

/*
 * refuse_other_day: the error of a birthday job run for another day than
 * today, give or take crm.future_tolerance (in the session's time zone, as
 * CURRENT_DATE): it would pay before the birthday, or after it, and spend
 * the year's key crm:birthday:<year> either way.
 */
CREATE FUNCTION crm.refuse_other_day(function_name text, on_date date)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL RESTRICTED
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	v_now		timestamptz := pg_catalog.clock_timestamp();
	v_tol		interval := crm.future_tolerance();
BEGIN
	IF on_date < (v_now - v_tol)::date OR on_date > (v_now + v_tol)::date THEN
		PERFORM crm.loyalty_raise('22023',
			format('on_date %s is not today', on_date),
			format('Today is %s. %s pays the birthday points once a year (key crm:birthday:<year>) on the birthday, today give or take crm.future_tolerance (%s): run for another day, it would pay before or after the day and spend the year''s key.',
				   v_now::date, function_name, current_setting('crm.future_tolerance')),
			'To award the birthday points of another day on purpose (a day the job missed, say), pass allow_other_day => true.');
	END IF;
END
$$;
COMMENT ON FUNCTION crm.refuse_other_day(text, date) IS 'internal: the error (22023) of a birthday job run for another day than today, give or take crm.future_tolerance';

/*
 * loyalty_refuse_future: crm.refuse_future (its error, 22023, for a job
 * called for a time beyond now plus crm.future_tolerance) raised without a
 * CONTEXT, as the other errors of the loyalty functions.  The check is
 * repeated here so that the exception block, a subtransaction, is entered
 * only to raise the error.
 */
CREATE FUNCTION crm.loyalty_refuse_future(function_name text, argument text, value timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	v_state		text;
	v_message	text;
	v_detail	text;
	v_hint		text;
BEGIN
	IF value > pg_catalog.clock_timestamp() + crm.future_tolerance() THEN
		BEGIN
			PERFORM crm.refuse_future(function_name, argument, value);
		EXCEPTION WHEN invalid_parameter_value THEN
			GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT,
				v_detail = PG_EXCEPTION_DETAIL, v_hint = PG_EXCEPTION_HINT;
			PERFORM crm.loyalty_raise(v_state, v_message, nullif(v_detail, ''), nullif(v_hint, ''));
		END;
	END IF;
END
$$;
COMMENT ON FUNCTION crm.loyalty_refuse_future(text, text, timestamptz) IS 'internal: the error of crm.refuse_future (22023, a job called for a time beyond now plus crm.future_tolerance) without a CONTEXT';

CREATE FUNCTION crm.award_birthday_bonus(client_id bigint, program text,
										 on_date date DEFAULT CURRENT_DATE, actor text DEFAULT NULL,
										 allow_other_day boolean DEFAULT false)
RETURNS crm.loyalty_ledger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	a			crm.loyalty_accounts;
	v_birth		date;
	v_year		integer;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.award_birthday_bonus');
	/* the required arguments, in their order */
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	ELSIF on_date IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'on_date must not be NULL');
	ELSIF allow_other_day IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'allow_other_day must not be NULL');
	END IF;
	IF NOT allow_other_day THEN
		PERFORM crm.refuse_other_day('crm.award_birthday_bonus', on_date);
	END IF;
	p := crm.loyalty_program_row(program);
	SELECT c.birth_date INTO v_birth FROM crm.clients c WHERE c.client_id = award_birthday_bonus.client_id;
	IF NOT FOUND THEN
		PERFORM crm.loyalty_raise('P0002', format('client %s does not exist', client_id));
	END IF;
	a := crm.loyalty_lock_account(client_id, p.program_id, false);
	IF a.client_id IS NULL OR NOT coalesce(crm.loyalty_is_birthday(v_birth, on_date), false) THEN
		RETURN NULL;
	END IF;
	v_year := extract(year FROM on_date);
	RETURN crm.loyalty_award(a, p, 'birthday', p.birthday_points,
							 coalesce(p.bonus_lifetime, p.points_lifetime), NULL,
							 'crm:birthday:' || v_year, actor, 'award_birthday_bonus',
							 jsonb_build_object('op', 'award_birthday_bonus', 'year', v_year));
END
$$;
COMMENT ON FUNCTION crm.award_birthday_bonus(bigint, text, date, text, boolean) IS 'credits the birthday points to a member whose birthday is on_date, once a year (key crm:birthday:<year>); NULL otherwise; on_date must be today (give or take crm.future_tolerance) unless allow_other_day';

CREATE FUNCTION crm.award_birthday_bonuses(program text, on_date date DEFAULT CURRENT_DATE,
										   actor text DEFAULT NULL,
										   allow_other_day boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	p			crm.loyalty_programs;
	r			record;
	n			bigint := 0;
BEGIN
	/* the required arguments, in their order */
	IF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	ELSIF on_date IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'on_date must not be NULL');
	ELSIF allow_other_day IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'allow_other_day must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	PERFORM crm.job_lock('award_birthday_bonuses', p.program_id);
	IF NOT allow_other_day THEN
		PERFORM crm.refuse_other_day('crm.award_birthday_bonuses', on_date);
	END IF;
	IF p.birthday_points = 0 THEN
		RETURN 0;
	END IF;
	FOR r IN
		SELECT a.client_id FROM crm.loyalty_accounts a
		  JOIN crm.clients c ON c.client_id = a.client_id
		 WHERE a.program_id = p.program_id
		   AND crm.loyalty_is_birthday(c.birth_date, on_date)
		   AND NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger l
							WHERE l.client_id = a.client_id AND l.program_id = a.program_id
							  AND l.idempotency_key = 'crm:birthday:' || extract(year FROM on_date))
		 ORDER BY a.client_id
	LOOP
		PERFORM crm.report_progress('award_birthday_bonuses',
			format('client %s, %s awarded so far', r.client_id, n));
		PERFORM crm.award_birthday_bonus(r.client_id, program, on_date, actor, allow_other_day);
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION crm.award_birthday_bonuses(text, date, text, boolean) IS 'scheduler job: credits the birthday points to every member whose birthday is on_date and who has not had them this year; returns the entries written; on_date must be today (give or take crm.future_tolerance) unless allow_other_day';

/*
 * tier_turnover: what counts toward a tier: the net amount of the client's
 * placed and paid orders in the programme's currency (those in another
 * earn no points either) and window (as_of - tier_window,
 * as_of], less the partial refunds recorded on them in the account.  No
 * client: P0002 (looked up only when no order counts).
 */
CREATE FUNCTION crm.tier_turnover(client_id bigint, program text, as_of timestamptz DEFAULT pg_catalog.now())
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	v			numeric;
	n			bigint;
BEGIN
	/* the required arguments, in their order */
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	ELSIF as_of IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'as_of must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	SELECT coalesce(sum(o.net_amount - coalesce(
				(SELECT sum(l.refund_amount) FROM crm.loyalty_ledger l
				  WHERE l.client_id = o.client_id AND l.program_id = p.program_id
					AND l.order_id = o.order_id AND l.refund_amount IS NOT NULL), 0)), 0),
		   count(*)
	  INTO v, n
	  FROM crm.orders o
	 WHERE o.client_id = tier_turnover.client_id
	   AND o.status IN ('placed', 'paid')
	   AND o.currency = p.currency
	   AND o.ordered_at <= as_of
	   AND (p.tier_window IS NULL OR o.ordered_at > as_of - p.tier_window);
	IF n = 0 THEN
		PERFORM crm.loyalty_check_client(client_id);
	END IF;
	RETURN v;
END
$$;
COMMENT ON FUNCTION crm.tier_turnover(bigint, text, timestamptz) IS 'turnover that counts toward a tier: net amount of placed and paid orders in the programme''s currency in (as_of - tier_window, as_of], less partial refunds recorded in the account; error P0002 for an unknown client';

/*
 * update_tier: moves a member to the highest tier whose threshold their
 * turnover reaches.  Up at once; down only if the programme downgrades and
 * the current tier has been held for tier_hold.  Never moves back in time
 * (as_of before the current tier_since: no change).  NULL when nothing
 * changes, so running it twice changes nothing.
 */
CREATE FUNCTION crm.update_tier(client_id bigint, program text,
								as_of timestamptz DEFAULT pg_catalog.now(), actor text DEFAULT NULL,
								allow_future boolean DEFAULT false)
RETURNS crm.loyalty_tier_changes
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	a			crm.loyalty_accounts;
	c			crm.loyalty_tier_changes;
	v_turnover	numeric;
	v_new		text;
	v_new_threshold numeric;
	v_cur_threshold numeric;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.update_tier');
	/* the required arguments, in their order */
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	ELSIF as_of IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'as_of must not be NULL');
	ELSIF allow_future IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'allow_future must not be NULL');
	END IF;
	IF NOT isfinite(as_of) THEN
		PERFORM crm.loyalty_raise('22023', format('as_of must be finite: %s', as_of));
	END IF;
	IF NOT allow_future THEN
		PERFORM crm.loyalty_refuse_future('crm.update_tier', 'as_of', as_of);
	END IF;
	p := crm.loyalty_program_row(program);
	a := crm.loyalty_lock_account(client_id, p.program_id, false);
	IF a.client_id IS NULL THEN
		PERFORM crm.loyalty_check_client(client_id);
		PERFORM crm.loyalty_raise('22023',
			format('client %s has no account in programme "%s"', client_id, p.code));
	END IF;
	IF as_of < a.tier_since THEN
		RETURN NULL;
	END IF;
	v_turnover := crm.tier_turnover(client_id, program, as_of);
	SELECT t.tier_code, t.threshold INTO v_new, v_new_threshold
	  FROM crm.loyalty_tiers t
	 WHERE t.program_id = p.program_id AND t.threshold <= v_turnover
	 ORDER BY t.threshold DESC LIMIT 1;
	SELECT t.threshold INTO v_cur_threshold
	  FROM crm.loyalty_tiers t
	 WHERE t.program_id = p.program_id AND t.tier_code = a.tier_code;
	IF v_new IS NOT DISTINCT FROM a.tier_code THEN
		RETURN NULL;
	END IF;
	IF coalesce(v_new_threshold, -1) < coalesce(v_cur_threshold, -1)
	   AND (NOT p.tier_downgrade OR a.tier_since + p.tier_hold > as_of) THEN
		RETURN NULL;
	END IF;
	UPDATE crm.loyalty_accounts x SET tier_code = v_new, tier_since = as_of
	 WHERE x.client_id = a.client_id AND x.program_id = a.program_id;
	INSERT INTO crm.loyalty_tier_changes (client_id, program_id, from_tier, to_tier, turnover, changed_at, made_by)
	VALUES (a.client_id, a.program_id, a.tier_code, v_new, v_turnover, as_of,
			coalesce(actor, session_user::text))
	RETURNING * INTO c;
	RETURN c;
END
$$;
COMMENT ON FUNCTION crm.update_tier(bigint, text, timestamptz, text, boolean) IS 'moves a member to the tier their turnover qualifies for: up at once, down if the programme downgrades and tier_hold has passed; NULL when nothing changes; as_of at most now plus crm.future_tolerance unless allow_future';

CREATE FUNCTION crm.update_tiers(program text, as_of timestamptz DEFAULT pg_catalog.now(),
								 actor text DEFAULT NULL, allow_future boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	p			crm.loyalty_programs;
	r			record;
	n			bigint := 0;
BEGIN
	/* the required arguments, in their order */
	IF program IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'program must not be NULL');
	ELSIF as_of IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'as_of must not be NULL');
	ELSIF allow_future IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'allow_future must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	PERFORM crm.job_lock('update_tiers', p.program_id);
	IF NOT allow_future AND isfinite(as_of) THEN
		PERFORM crm.loyalty_refuse_future('crm.update_tiers', 'as_of', as_of);
	END IF;
	FOR r IN
		SELECT a.client_id FROM crm.loyalty_accounts a
		 WHERE a.program_id = p.program_id ORDER BY a.client_id
	LOOP
		PERFORM crm.report_progress('update_tiers',
			format('client %s, %s moved so far', r.client_id, n));
		IF (crm.update_tier(r.client_id, program, as_of, actor, allow_future)).change_id IS NOT NULL THEN
			n := n + 1;
		END IF;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION crm.update_tiers(text, timestamptz, text, boolean) IS 'scheduler job: crm.update_tier for every member of the programme; returns how many moved; as_of at most now plus crm.future_tolerance unless allow_future';

/*
 * expire_points: expires, lot by lot, every lot due at as_of
 * (expires_at <= as_of) that still holds points; accounts are locked one
 * at a time in (client_id, program_id) order.  Running it again for the
 * same as_of writes nothing.  An expire entry cannot be reversed: as_of
 * beyond now plus crm.future_tolerance is refused unless allow_future.
 */
CREATE FUNCTION crm.expire_points(as_of timestamptz DEFAULT pg_catalog.now(),
								  program text DEFAULT NULL, actor text DEFAULT NULL,
								  allow_future boolean DEFAULT false,
								  OUT accounts bigint, OUT lots bigint, OUT points bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_program	bigint;
	r			record;
	x			record;
BEGIN
	/* the required arguments, in their order (program NULL: every programme) */
	IF as_of IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'as_of must not be NULL');
	ELSIF allow_future IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'allow_future must not be NULL');
	END IF;
	IF NOT allow_future THEN
		PERFORM crm.loyalty_refuse_future('crm.expire_points', 'as_of', as_of);
	END IF;
	IF program IS NOT NULL THEN
		v_program := (crm.loyalty_program_row(program)).program_id;
	END IF;
	PERFORM crm.job_lock('expire_points', v_program);
	accounts := 0; lots := 0; points := 0;
	FOR r IN
		SELECT DISTINCT t.client_id, t.program_id
		  FROM crm.loyalty_lots t
		 WHERE t.remaining > 0 AND t.expires_at <= as_of
		   AND (v_program IS NULL OR t.program_id = v_program)
		 ORDER BY t.client_id, t.program_id
	LOOP
		PERFORM crm.report_progress('expire_points',
			format('client %s, programme %s, %s lots expired so far', r.client_id, r.program_id, lots));
		PERFORM crm.loyalty_lock_account(r.client_id, r.program_id, false);
		x := crm.loyalty_expire_account(r.client_id, r.program_id, as_of,
										pg_catalog.clock_timestamp(), actor);
		IF x.lots > 0 THEN
			accounts := accounts + 1;
			lots := lots + x.lots;
			points := points + x.points;
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION crm.expire_points(timestamptz, text, text, boolean) IS 'expires every lot due at as_of (expires_at <= as_of), one expire entry per lot; returns how many accounts, lots and points; a second run writes nothing; as_of at most now plus crm.future_tolerance unless allow_future';
