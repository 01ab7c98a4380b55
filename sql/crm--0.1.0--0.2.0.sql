/*
 * crm upgrade script, 0.1.0 to 0.2.0.
 *
 * Every change made to the install parts in sql/install/ since 0.1.0 is
 * repeated here, so that ALTER EXTENSION crm UPDATE gives the same catalog
 * as a fresh CREATE EXTENSION crm (test/scripts/upgrade_catalog.sh checks).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION crm UPDATE TO '0.2.0'" to load this file. \quit

-- edges: the inputs every public function refuses or accepts (docs/inputs.md)

CREATE OR REPLACE FUNCTION crm.clv_summary(as_of timestamptz, unit text DEFAULT 'day',
								time_zone text DEFAULT 'UTC')
RETURNS TABLE (client_id bigint, frequency float8, recency float8, t float8,
			   monetary float8, first_purchase date, last_purchase date,
			   orders bigint, revenue numeric, margin numeric)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8 := crm.clv_unit_days(unit);
	as_of_day	date := (as_of AT TIME ZONE time_zone)::date;
BEGIN
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH days AS (
		SELECT o.client_id, (o.ordered_at AT TIME ZONE time_zone)::date AS day,
			   sum(o.net_amount) AS value,
			   sum(o.net_amount - o.cost_amount) AS margin,
			   count(*) AS orders
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at <= as_of
		 GROUP BY 1, 2
	), ranked AS (
		SELECT d.*, first_value(d.value) OVER w AS first_value
		  FROM days d
		WINDOW w AS (PARTITION BY d.client_id ORDER BY d.day)
	)
	SELECT r.client_id,
		   (count(*) - 1)::float8,
		   (max(r.day) - min(r.day)) / unit_days,
		   (as_of_day - min(r.day)) / unit_days,
		   CASE WHEN count(*) > 1
				THEN ((sum(r.value) - min(r.first_value)) / (count(*) - 1))::float8
				ELSE 0 END,
		   min(r.day), max(r.day), sum(r.orders)::bigint, sum(r.value), sum(r.margin)
	  FROM ranked r
	 GROUP BY r.client_id;
END
$$;

CREATE OR REPLACE FUNCTION crm.ltv_cac(as_of timestamptz, horizon float8, unit text DEFAULT 'day',
							discount_rate float8 DEFAULT 0, period float8 DEFAULT 1,
							margin_rate float8 DEFAULT NULL, penalty float8 DEFAULT 0,
							time_zone text DEFAULT 'UTC')
RETURNS TABLE (acquisition_channel text, clients bigint, buyers bigint,
			   acquisition_cost numeric, cac numeric, historical_ltv numeric,
			   predicted_ltv numeric, ltv_cac_ratio numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL OR horizon IS NULL OR unit IS NULL OR discount_rate IS NULL
	   OR period IS NULL OR penalty IS NULL OR time_zone IS NULL THEN
		RAISE EXCEPTION 'arguments of ltv_cac other than margin_rate must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF margin_rate IS NOT NULL AND NOT (margin_rate BETWEEN -1 AND 1) THEN
		RAISE EXCEPTION 'margin rate % is not between -1 and 1', margin_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH r AS MATERIALIZED (
		SELECT * FROM crm.clv_report(as_of, horizon, unit, discount_rate, period,
									 penalty, time_zone)
	), rate AS (
		SELECT coalesce(margin_rate,
						(sum(r.historical_value) / nullif(sum(r.revenue), 0))::float8,
						0) AS m
		  FROM r
	), c AS (
		SELECT cl.acquisition_channel AS channel, cl.acquisition_cost AS cost,
			   r.client_id IS NOT NULL AS buyer,
			   coalesce(r.historical_value, 0) AS hist,
			   coalesce(r.clv, 0) * rate.m AS future
		  FROM crm.clients cl
		  LEFT JOIN r ON r.client_id = cl.client_id
		 CROSS JOIN rate
		 WHERE cl.created_at <= as_of
	)
	SELECT c.channel, count(*), count(*) FILTER (WHERE c.buyer),
		   sum(c.cost), round(avg(c.cost), 2), round(avg(c.hist), 2),
		   round(avg(c.hist) + avg(c.future)::numeric, 2),
		   round((avg(c.hist) + avg(c.future)::numeric) / nullif(avg(c.cost), 0), 2)
	  FROM c
	 GROUP BY c.channel
	 ORDER BY c.channel;
END
$$;

CREATE OR REPLACE FUNCTION crm.retention_clv(margin float8, retention_rate float8,
								  discount_rate float8 DEFAULT 0,
								  periods integer DEFAULT NULL)
RETURNS float8
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	q	float8;
	qn	float8;
	v	float8;
BEGIN
	IF margin IS NULL OR retention_rate IS NULL OR discount_rate IS NULL THEN
		RETURN NULL;
	END IF;
	IF margin = 'NaN' OR abs(margin) = 'Infinity' THEN
		RAISE EXCEPTION 'margin % is not a finite number', margin
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (retention_rate >= 0 AND retention_rate < 1) THEN
		RAISE EXCEPTION 'retention rate % is not in [0, 1)', retention_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (discount_rate >= 0 AND discount_rate < 'Infinity') THEN
		RAISE EXCEPTION 'discount rate % is not a non-negative number', discount_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF periods < 0 THEN
		RAISE EXCEPTION 'periods % is negative', periods
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	q := retention_rate / (1 + discount_rate);
	-- q^n: 0 for ever; below 1e-304 it is 0 next to 1 (and q ^ n would
	-- raise an underflow error where it rounds to 0)
	IF periods IS NULL THEN
		qn := 0;
	ELSIF periods = 0 THEN
		qn := 1;
	ELSIF q = 0 OR periods * ln(q) < -700 THEN
		qn := 0;
	ELSE
		qn := q ^ periods;
	END IF;
	v := margin * (1 - qn);
	IF abs(v) > '1.7976931348623157e308'::float8 * (1 - q) THEN
		RAISE EXCEPTION 'retention CLV out of range: margin %, retention rate %, discount rate %',
			margin, retention_rate, discount_rate
			USING ERRCODE = 'numeric_value_out_of_range';
	END IF;
	RETURN v / (1 - q);
END
$$;

CREATE OR REPLACE FUNCTION crm.loyalty_append(
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
		RAISE EXCEPTION 'crediting % points would take the balance of client % in programme % past the largest bigint: % points now', coalesce(new_lot, 0) + v_moves::numeric, client_id, program_id, v_balance
			USING ERRCODE = 'numeric_value_out_of_range';
	END IF;
	v_balance := v_balance + coalesce(new_lot, 0) + v_moves;
	IF v_balance < 0 THEN
		RAISE EXCEPTION 'not enough loyalty points' USING ERRCODE = 'LY001';
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

CREATE OR REPLACE FUNCTION crm.earn_points(client_id bigint, program text, points bigint,
								idempotency_key text, order_id bigint DEFAULT NULL,
								expires_at timestamptz DEFAULT NULL, note text DEFAULT NULL,
								actor text DEFAULT NULL)
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
	v_id		bigint;
	v_expires	timestamptz;
BEGIN
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF idempotency_key IS NULL THEN
		RAISE EXCEPTION 'idempotency_key must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF length(idempotency_key) NOT BETWEEN 1 AND 200 OR idempotency_key LIKE 'crm:%' THEN
		PERFORM crm.loyalty_check_args(client_id, idempotency_key);
	END IF;
	IF points IS NULL OR points <= 0 THEN
		RAISE EXCEPTION 'points to earn must be positive, not %', coalesce(points::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	v_at := pg_catalog.clock_timestamp();
	IF expires_at <= v_at THEN
		RAISE EXCEPTION 'expires_at % is not in the future', expires_at
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO p FROM crm.loyalty_programs lp WHERE lp.code = program;
	IF NOT FOUND THEN
		p := crm.loyalty_program_row(program);
	END IF;
	IF order_id IS NOT NULL THEN
		PERFORM crm.loyalty_order_row(client_id, order_id, false);
	END IF;
	v_request := jsonb_build_object('op', 'earn_points', 'points', points, 'order_id', order_id,
									'expires_at', expires_at, 'note', note);
	SELECT * INTO a FROM crm.loyalty_accounts x
	 WHERE x.client_id = earn_points.client_id AND x.program_id = p.program_id
	   FOR UPDATE;
	IF NOT FOUND THEN
		a := crm.loyalty_lock_account(client_id, p.program_id, true);
	END IF;
	SELECT * INTO e FROM crm.loyalty_ledger l
	 WHERE l.client_id = earn_points.client_id AND l.program_id = p.program_id
	   AND l.idempotency_key = earn_points.idempotency_key;
	IF FOUND THEN
		RETURN crm.loyalty_replay(client_id, p.program_id, idempotency_key, v_request);
	END IF;
	IF points > 9223372036854775807 - a.balance THEN
		RAISE EXCEPTION 'earning % points would take the balance of client % in programme "%" past the largest bigint: % points now', points, client_id, p.code, a.balance
			USING ERRCODE = 'numeric_value_out_of_range';
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

CREATE OR REPLACE FUNCTION crm.adjust_points(client_id bigint, program text, points bigint,
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
	PERFORM crm.loyalty_check_args(client_id, idempotency_key);
	IF points IS NULL OR points = 0 THEN
		RAISE EXCEPTION 'points to adjust must not be zero or NULL'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF points = -9223372036854775808 THEN
		RAISE EXCEPTION 'points to adjust out of range: %', points
			USING ERRCODE = 'numeric_value_out_of_range';
	END IF;
	IF note IS NULL OR btrim(note) = '' THEN
		RAISE EXCEPTION 'an adjustment needs a note giving its reason'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF expires_at IS NOT NULL AND points < 0 THEN
		RAISE EXCEPTION 'expires_at applies to a credit only, not to an adjustment of % points', points
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF expires_at <= pg_catalog.clock_timestamp() THEN
		RAISE EXCEPTION 'expires_at % is not in the future', expires_at
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	p := crm.loyalty_program_row(program);
	v_request := jsonb_build_object('op', 'adjust_points', 'points', points,
									'expires_at', expires_at, 'note', note);
	a := crm.loyalty_lock_account(client_id, p.program_id, points > 0);
	IF a.client_id IS NULL THEN
		RAISE EXCEPTION 'not enough loyalty points: % requested, 0 available', -points
			USING ERRCODE = 'LY001',
				  DETAIL = format('Client %s has no account in programme "%s".', client_id, p.code);
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

CREATE OR REPLACE FUNCTION crm.update_tier(client_id bigint, program text,
								as_of timestamptz DEFAULT pg_catalog.now(), actor text DEFAULT NULL)
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
	IF client_id IS NULL OR as_of IS NULL THEN
		RAISE EXCEPTION 'client_id and as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	p := crm.loyalty_program_row(program);
	a := crm.loyalty_lock_account(client_id, p.program_id, false);
	IF a.client_id IS NULL THEN
		RAISE EXCEPTION 'client % has no account in programme "%"', client_id, p.code
			USING ERRCODE = 'invalid_parameter_value';
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
