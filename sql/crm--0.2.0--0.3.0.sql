/*
 * crm upgrade script, 0.2.0 to 0.3.0.
 *
 * Every change made to the install parts in sql/install/ since 0.2.0 is
 * repeated here, so that ALTER EXTENSION crm UPDATE gives the same catalog
 * as a fresh CREATE EXTENSION crm (test/scripts/upgrade_catalog.sh checks).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION crm UPDATE TO '0.3.0'" to load this file. \quit

/*
 * ---- loyalty: earn_points and redeem_points in C ----
 *
 * Their SQL bodies become crm.loyalty_earn_sql and crm.loyalty_redeem_sql
 * (internal, executable by nobody but the owner); the public functions
 * keep their signatures, defaults, privileges and comments, and are
 * replaced in place by the C functions.
 */

/*
 * earn_points in SQL: credits points as a new lot.  It defines the
 * operation; crm.earn_points (85_loyalty_fast.sql, src/loyalty_fast.c)
 * does its common call without statements and calls this for the rest.
 *
 * The argument checks of crm.loyalty_check_args and the programme lookup
 * of crm.loyalty_program_row are written out here (same messages, same
 * SQLSTATEs), so that a call runs no nested function with its own
 * search_path; the account, its key, and one statement writing the
 * entry, the lot and the balance.
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
 * defines the operation; crm.redeem_points (85_loyalty_fast.sql,
 * src/loyalty_fast.c) does its common call without statements and calls
 * this for the rest.
 *
 * Like crm.loyalty_earn_sql: the checks and the programme lookup
 * written out, and the debit of crm.loyalty_debit (expire the due lots,
 * pick the lots, one statement writing the entry, its allocations, the
 * lots and the balance) done here rather than in a nested call.
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

/*
 * crm.earn_points and crm.redeem_points, the calls an application makes
 * on every purchase, in C (src/loyalty_fast.c).
 *
 * Their SQL implementations, crm.loyalty_earn_sql and
 * crm.loyalty_redeem_sql (85_loyalty_ops.sql), define the operations.
 * The C functions do the common call -- no order, no explicit expiry, an
 * existing account, a new key and, for a redemption, enough points and
 * no lot due to expire -- by reading the tables' indexes, locking the
 * account row and writing through the executor's single-row routines,
 * which check every constraint, maintain every index and fire every row
 * trigger; any other call, and every call when a table is no longer as
 * installed, goes to the SQL implementation before anything is written.
 */

CREATE OR REPLACE FUNCTION crm.earn_points(client_id bigint, program text, points bigint,
								idempotency_key text, order_id bigint DEFAULT NULL,
								expires_at timestamptz DEFAULT NULL, note text DEFAULT NULL,
								actor text DEFAULT NULL)
RETURNS crm.loyalty_ledger
AS 'MODULE_PATHNAME', 'loyalty_earn_points'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp;
COMMENT ON FUNCTION crm.earn_points(bigint, text, bigint, text, bigint, timestamptz, text, text) IS 'credits points to a client''s account (opened if needed) as a new lot expiring at expires_at (default: now + the programme''s points_lifetime); idempotent by key';

CREATE OR REPLACE FUNCTION crm.redeem_points(client_id bigint, program text, points bigint,
								  idempotency_key text, order_id bigint DEFAULT NULL,
								  note text DEFAULT NULL, actor text DEFAULT NULL)
RETURNS crm.loyalty_ledger
AS 'MODULE_PATHNAME', 'loyalty_redeem_points'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp;
COMMENT ON FUNCTION crm.redeem_points(bigint, text, bigint, text, bigint, text, text) IS 'spends points lot by lot in the programme''s lot order; never below zero (LY001 with the available balance); with an order, at most max_redeem_share of it (LY003); idempotent by key';

REVOKE EXECUTE ON FUNCTION crm.loyalty_earn_sql(bigint, text, bigint, text, bigint, timestamptz, text, text),
	crm.loyalty_redeem_sql(bigint, text, bigint, text, bigint, text, text)
	FROM PUBLIC;

/*
 * The row of crm.rfm_scores and of its SQL twin crm.rfm_scores_sql: one
 * type, so that the two cannot drift apart (the C function finds each
 * column in it by name and type).
 */
CREATE TYPE crm.rfm_scores_row AS (
	client_id		bigint,
	recency_days	integer,
	frequency		bigint,
	monetary		numeric,
	rfm				crm.rfm,
	segment			text
);
COMMENT ON TYPE crm.rfm_scores_row IS 'a row of crm.rfm_scores (and of crm.rfm_scores_sql): a client''s recency, frequency, monetary value, RFM code and segment';

/*
 * ---- RFM: crm.rfm_scores in C ----
 *
 * Its SQL body becomes crm.rfm_scores_sql (executable by every caller of
 * crm.rfm_scores, which runs it where its own pass over crm.orders does not
 * apply); the public function keeps its signature, defaults and comment and
 * is replaced in place by the C function.
 */
CREATE FUNCTION crm.rfm_scores_sql(as_of timestamptz, map_name text DEFAULT 'rfm11',
								   monetary_by text DEFAULT 'total')
RETURNS SETOF crm.rfm_scores_row
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
	by_mean		boolean;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF monetary_by IS NULL THEN
		RAISE EXCEPTION 'monetary_by must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF monetary_by NOT IN ('total', 'mean') THEN
		RAISE EXCEPTION 'monetary_by must be total or mean, not "%"', monetary_by
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* here, not inside the query (where recency would fail, and only with purchases) */
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	by_mean := monetary_by = 'mean';
	/* the map's errors here, before the query (not inside it) */
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = rfm_scores_sql.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	IF EXISTS (SELECT 1 FROM crm.segment_map_problems(rfm_scores_sql.map_name)) THEN
		RAISE EXCEPTION 'segment map "%" is not a partition of its score cells', map_name
			USING ERRCODE = 'check_violation',
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', map_name);
	END IF;
	/*
	 * One pass over the purchases (the profile aggregate, computed once
	 * per client: the three field selections share it), one pass over the
	 * clients for the breakpoints, one to score them.
	 */
	RETURN QUERY
	WITH p AS (
		SELECT o.client_id,
			   crm.recency_days((crm.purchase_profile(o.ordered_at, o.net_amount)).last_purchase,
								as_of) AS r,
			   (crm.purchase_profile(o.ordered_at, o.net_amount)).purchases AS f,
			   CASE WHEN by_mean
					THEN round((crm.purchase_profile(o.ordered_at, o.net_amount)).total_spend
							   / (crm.purchase_profile(o.ordered_at, o.net_amount)).purchases, 2)
					ELSE (crm.purchase_profile(o.ordered_at, o.net_amount)).total_spend END AS m,
			   crm.one_currency(o.currency) AS cur
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at <= as_of
		 GROUP BY o.client_id),
	v AS MATERIALIZED (
		SELECT p.client_id, p.r, p.f, p.m, p.m::float8 AS mf, p.cur FROM p),
	/* MATERIALIZED: computed whole, the currency check included */
	b AS MATERIALIZED (
		SELECT crm.quantile_breaks(v.r, k, false) AS rb,
			   crm.quantile_breaks(v.f, k, true) AS fb,
			   crm.quantile_breaks(v.mf, k, true) AS mb,
			   crm.one_currency(v.cur) AS cur
		  FROM v)
	SELECT v.client_id, v.r, v.f, v.m, s.code, c.segment
	  FROM v
	 CROSS JOIN b
	 CROSS JOIN LATERAL (
		SELECT crm.rfm(crm.threshold_score(v.r, b.rb, false),
					   crm.threshold_score(v.f, b.fb, true),
					   crm.threshold_score(v.mf, b.mb, true)) AS code) s
	  LEFT JOIN crm.segment_map_cells(rfm_scores_sql.map_name) c ON c.rfm = s.code;
END
$$;
COMMENT ON FUNCTION crm.rfm_scores_sql(timestamptz, text, text) IS 'crm.rfm_scores written in SQL: the same rows, planned as a query (parallel workers, row security); crm.rfm_scores runs it where its own pass does not apply';

-- a new result type (the same columns): the function is made anew
DROP FUNCTION crm.rfm_scores(timestamptz, text, text);
CREATE FUNCTION crm.rfm_scores(as_of timestamptz, map_name text DEFAULT 'rfm11',
							   monetary_by text DEFAULT 'total')
RETURNS SETOF crm.rfm_scores_row
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_scores';
COMMENT ON FUNCTION crm.rfm_scores(timestamptz, text, text) IS 'recency (days), frequency, monetary (total, or mean order value rounded to cents), RFM quantile scores and segment of every client with a purchase (placed or paid) at or before as_of; an error (0A000) when the purchases are in more than one currency';

/*
 * The row of crm.churn_signals and of its SQL twin crm.churn_signals_sql:
 * one type, so that the two cannot drift apart (the C function finds each
 * column in it by name and type).
 */
CREATE TYPE crm.churn_signals_row AS (
	client_id		bigint,
	purchases		bigint,
	first_purchase	timestamptz,
	last_purchase	timestamptz,
	monetary		numeric,
	age_days		double precision,
	silence_days	double precision,
	own_gap_days	double precision,
	expected_gap_days double precision,
	gap_cv			double precision,
	overdue_ratio	double precision,
	p_gap			double precision,
	recent_purchases bigint,
	previous_purchases bigint,
	purchase_trend	double precision,
	recent_spend	numeric,
	previous_spend	numeric,
	spend_trend		double precision,
	last_engagement timestamptz,
	engagement_silence_days double precision,
	offers_since_last_purchase bigint,
	offer_share		double precision,
	season_share	double precision,
	population_gap_days double precision,
	status			text,
	behaviour_class text,
	purchases_after_offer bigint,
	class_confidence double precision,
	runner_up_class text
);
COMMENT ON TYPE crm.churn_signals_row IS 'a row of crm.churn_signals (and of crm.churn_signals_sql): a client''s churn signals, status and behavioural class';

/*
 * ---- churn: crm.churn_signals in C ----
 *
 * Its SQL body becomes crm.churn_signals_sql (executable by every caller of
 * crm.churn_signals, which runs it where its own passes do not apply); the
 * public function keeps its signature, defaults and comment and is replaced
 * in place by the C function.
 */
CREATE FUNCTION crm.churn_signals_sql(as_of timestamptz, options jsonb DEFAULT '{}')
RETURNS SETOF crm.churn_signals_row
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
SET jit_above_cost = 1e9
AS $$
DECLARE
	opts		jsonb;
	w			interval;
	recent_from timestamptz;
	previous_from timestamptz;
	lag			interval;
	pop			double precision;
	min_gap		double precision;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF options IS NULL THEN
		RAISE EXCEPTION 'options must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	opts := crm.churn_options(options);
	pop := (opts ->> 'population_gap_days')::double precision;
	min_gap := (opts ->> 'min_gap_days')::double precision;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	w := make_interval(secs => (opts ->> 'window_days')::double precision * 86400);
	recent_from := as_of - w;
	previous_from := as_of - 2 * w;
	lag := make_interval(secs => (opts ->> 'offer_lag_days')::double precision * 86400);
	/*
	 * One pass over the purchases per client (p), one over the
	 * interactions per client for the last inbound contact (e) and one for
	 * the offers since the last purchase (f), each kept (MATERIALIZED) and
	 * then joined by client.  f finds the last purchase itself rather than
	 * from p: on a Citus cluster each of the three runs whole on the shards
	 * and only its answer comes back, where a join with p's kept rows would
	 * send all of them to every shard.
	 */
	RETURN QUERY
	WITH p AS MATERIALIZED (
		SELECT o.client_id,
			   crm.purchase_profile(o.ordered_at, o.net_amount, o.promo_used) AS pr,
			   /* the two windows: one aggregate each, read twice */
			   (crm.purchase_profile(o.ordered_at, o.net_amount)
				   FILTER (WHERE o.ordered_at > recent_from)).purchases AS rn,
			   (crm.purchase_profile(o.ordered_at, o.net_amount)
				   FILTER (WHERE o.ordered_at > recent_from)).total_spend AS rs,
			   (crm.purchase_profile(o.ordered_at, o.net_amount)
				   FILTER (WHERE o.ordered_at > previous_from
						   AND o.ordered_at <= recent_from)).purchases AS pn,
			   (crm.purchase_profile(o.ordered_at, o.net_amount)
				   FILTER (WHERE o.ordered_at > previous_from
						   AND o.ordered_at <= recent_from)).total_spend AS ps,
			   crm.one_currency(o.currency) AS cur
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of
		 GROUP BY o.client_id),
	/*
	 * the population's rhythm: the geometric mean of the recent mean gaps
	 * (each at least min_gap_days) of the clients with a gap; the logarithms
	 * are summed as numeric, exactly, so that the result does not depend on
	 * the order of the clients (hash order, parallel workers)
	 */
	g AS (
		SELECT coalesce(pop,
						exp(avg(ln(greatest((p.pr).recent_mean_gap_days, min_gap))::numeric)::double precision),
						greatest(30, min_gap)) AS gap
		  FROM p
		 WHERE (p.pr).recent_mean_gap_days IS NOT NULL),
	/* the purchases' one currency (an error for more), computed whole */
	k AS MATERIALIZED (
		SELECT crm.one_currency(p.cur) AS cur FROM p),
	e AS MATERIALIZED (
		SELECT i.client_id, max(i.occurred_at) AS last_at
		  FROM crm.interactions i
		 WHERE i.direction = 'inbound' AND i.kind <> 'sale' AND i.occurred_at <= as_of
		 GROUP BY i.client_id),
	/* marketing messages after the last purchase: offers that did not bring it back */
	f AS MATERIALIZED (
		SELECT c.client_id, count(*) AS offers
		  FROM crm.interactions c
		  JOIN (SELECT o.client_id, max(o.ordered_at) AS last_purchase
				  FROM crm.orders o
				 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of
				 GROUP BY o.client_id) l
			ON l.client_id = c.client_id AND c.occurred_at > l.last_purchase
		 WHERE c.direction = 'outbound' AND c.campaign IS NOT NULL AND c.occurred_at <= as_of
		 GROUP BY c.client_id),
	/*
	 * of each client's latest 16 purchases (the profile's window), those
	 * that came soon after an offer: a marketing message at most lag before
	 */
	a AS MATERIALIZED (
		SELECT r.client_id, count(*) AS after_offer
		  FROM (SELECT o.client_id, o.ordered_at,
					   row_number() OVER (PARTITION BY o.client_id ORDER BY o.ordered_at DESC) AS k
				  FROM crm.orders o
				 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of) r
		 WHERE r.k <= 16
		   AND EXISTS (SELECT 1 FROM crm.interactions i
						WHERE i.client_id = r.client_id AND i.direction = 'outbound'
						  AND i.campaign IS NOT NULL AND i.occurred_at < r.ordered_at
						  AND i.occurred_at >= r.ordered_at - lag)
		 GROUP BY r.client_id),
	/*
	 * the population's counts that the shares are shrunk toward: purchases,
	 * with an offer, in the profiles' windows, of those soon after an offer,
	 * then per month; integer sums, exact in any order
	 */
	pc AS (
		SELECT ARRAY[coalesce(sum((p.pr).purchases), 0)::bigint,
					 coalesce(sum((p.pr).offer_purchases), 0)::bigint,
					 coalesce(sum((p.pr).gap_window + 1), 0)::bigint,
					 (SELECT coalesce(sum(a.after_offer), 0)::bigint FROM a)] ||
			   (SELECT array_agg(coalesce(mt.total, 0)::bigint ORDER BY m.m)
				  FROM generate_series(1, 12) m(m)
				  LEFT JOIN (SELECT u.k, sum(u.x) AS total
							   FROM p, unnest((p.pr).month_purchases) WITH ORDINALITY u(x, k)
							  GROUP BY u.k) mt ON mt.k = m.m) AS counts
		  FROM p),
	x AS (
		SELECT p.client_id, p.pr, w.rn, w.pn, w.rs, w.ps, e.last_at,
			   coalesce(f.offers, 0) AS offers, g.gap, coalesce(a.after_offer, 0) AS after_offer,
			   crm.churn_signal(p.pr, as_of, g.gap, w.rn, w.pn, e.last_at,
								coalesce(f.offers, 0), opts, coalesce(a.after_offer, 0),
								pc.counts) AS s
		  FROM p
		 CROSS JOIN g
		 CROSS JOIN pc
		 CROSS JOIN k
		 CROSS JOIN LATERAL (
			SELECT coalesce(p.rn, 0) AS rn, coalesce(p.pn, 0) AS pn,
				   coalesce(p.rs, 0) AS rs, coalesce(p.ps, 0) AS ps) w
		  LEFT JOIN e ON e.client_id = p.client_id
		  LEFT JOIN f ON f.client_id = p.client_id
		  LEFT JOIN a ON a.client_id = p.client_id
		OFFSET 0)
	SELECT x.client_id, (x.pr).purchases, (x.pr).first_purchase, (x.pr).last_purchase,
		   (x.pr).total_spend,
		   (x.s).age_days, (x.s).silence_days, (x.s).own_gap_days, (x.s).expected_gap_days,
		   (x.s).gap_cv, (x.s).overdue_ratio, (x.s).p_gap,
		   x.rn, x.pn,
		   CASE WHEN x.pn > 0 THEN x.rn::double precision / x.pn END,
		   x.rs, x.ps,
		   CASE WHEN x.ps > 0 THEN (x.rs / x.ps)::double precision END,
		   x.last_at, (x.s).engagement_silence_days, x.offers, (x.pr).offer_share,
		   (x.s).season_share, x.gap, (x.s).status, (x.s).behaviour_class,
		   x.after_offer, (x.s).class_confidence, (x.s).runner_up_class
	  FROM x;
END
$$;
COMMENT ON FUNCTION crm.churn_signals_sql(timestamptz, jsonb) IS 'crm.churn_signals written in SQL: the same rows (up to the last bits of the population rhythm), planned as a query; crm.churn_signals runs it where its own passes do not apply';

/*
 * crm.churn_signals in C (src/churn_signals.c): the rows of
 * crm.churn_signals_sql from one pass over crm.orders and one over
 * crm.interactions; it runs crm.churn_signals_sql where those passes would
 * not read what a query reads (row security, privileges, child tables, a
 * changed table).
 */
-- a new result type (the same columns): the function is made anew
DROP FUNCTION crm.churn_signals(timestamptz, jsonb);
CREATE FUNCTION crm.churn_signals(as_of timestamptz, options jsonb DEFAULT '{}')
RETURNS SETOF crm.churn_signals_row
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'churn_signals';
COMMENT ON FUNCTION crm.churn_signals(timestamptz, jsonb) IS 'churn signals, status and behavioural class of every client with a purchase (placed or paid) at or before as_of; options as crm.churn_options; an error (0A000) when the purchases are in more than one currency';

/*
 * ---- churn: crm.refresh_segments in one statement ----
 *
 * The new labels, the comparison, the writes and the transitions in one
 * statement with materialized CTEs instead of a temporary table; the
 * same result.  A trailing argument allow_future (a time beyond now plus
 * crm.future_tolerance is refused without it) and SECURITY DEFINER (the
 * segment tables are written by the owner's functions only): made anew,
 * with its privileges and comment.
 */
DROP FUNCTION crm.refresh_segments(timestamptz, jsonb, text, integer);
CREATE FUNCTION crm.refresh_segments(as_of timestamptz, options jsonb DEFAULT '{}',
									 map_name text DEFAULT 'rfm11',
									 notify_limit integer DEFAULT 1000,
									 allow_future boolean DEFAULT false)
RETURNS TABLE (clients bigint, transitions bigint, notifications bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
	latest		timestamptz;
	n_clients	bigint;
	n_changes	bigint;
	n_notes		bigint := 0;
	first_id	bigint;
	tr			record;
	opts		jsonb;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF options IS NULL THEN
		RAISE EXCEPTION 'options must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF notify_limit IS NULL THEN
		RAISE EXCEPTION 'notify_limit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF allow_future IS NULL THEN
		RAISE EXCEPTION 'allow_future must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF notify_limit < 0 THEN
		RAISE EXCEPTION 'notify_limit must not be negative: %', notify_limit
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT allow_future THEN
		PERFORM crm.refuse_future('crm.refresh_segments', 'as_of', as_of);
	END IF;
	/* the errors of the arguments here, not inside the query below */
	opts := crm.churn_options(options);
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = refresh_segments.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	IF EXISTS (SELECT 1 FROM crm.segment_map_problems(refresh_segments.map_name)) THEN
		RAISE EXCEPTION 'segment map "%" is not a partition of its score cells', map_name
			USING ERRCODE = 'check_violation',
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', map_name);
	END IF;

	PERFORM crm.report_progress('refresh_segments',
		format('step 1 of 3: waiting for the lock on crm.client_segments (as_of %s)', as_of));
	LOCK TABLE crm.client_segments IN SHARE ROW EXCLUSIVE MODE;

	SELECT max(r.as_of) INTO latest FROM crm.segment_refreshes r;
	IF latest > as_of THEN
		RAISE EXCEPTION 'as_of % is before the latest refresh (%)', as_of, latest
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Segments are refreshed forward in time; crm.rewind_segments takes back the refreshes after a time.';
	END IF;

	/* the per-client state, brought to as_of from what changed (docs/profiles.md) */
	PERFORM crm.refresh_profiles(as_of, options);

	SELECT coalesce(max(t.transition_id), 0) INTO first_id FROM crm.segment_transitions t;

	/*
	 * One statement: the new labels (materialized once), what differs from
	 * crm.client_segments, the upsert and delete, the transitions in client
	 * order; it returns the number of clients and of transitions.
	 */
	PERFORM crm.report_progress('refresh_segments',
		format('step 2 of 3: scoring every client and writing the changes (as_of %s)', as_of));
	WITH v AS MATERIALIZED (
		SELECT c.client_id, crm.recency_days(c.last_purchase, as_of) AS r,
			   c.purchases AS f, c.monetary::double precision AS m,
			   c.behaviour_class, c.status
		  FROM crm.churn_signals(as_of, options) c),
	b AS (
		SELECT crm.quantile_breaks(v.r, k, false) AS rb,
			   crm.quantile_breaks(v.f, k, true) AS fb,
			   crm.quantile_breaks(v.m, k, true) AS mb
		  FROM v),
	n AS MATERIALIZED (
		SELECT v.client_id, s.code AS rfm, cell.segment AS rfm_segment,
			   v.behaviour_class, v.status AS churn_status
		  FROM v
		 CROSS JOIN b
		 CROSS JOIN LATERAL (
			SELECT crm.rfm(crm.threshold_score(v.r, b.rb, false),
						   crm.threshold_score(v.f, b.fb, true),
						   crm.threshold_score(v.m, b.mb, true)) AS code) s
		  LEFT JOIN crm.segment_map_cells(refresh_segments.map_name) cell ON cell.rfm = s.code),
	d AS (
		SELECT coalesce(n.client_id, o.client_id) AS client_id,
			   o.client_id IS NULL AS added, n.client_id IS NULL AS gone,
			   n.rfm, n.rfm_segment, n.behaviour_class, n.churn_status,
			   o.rfm_segment AS old_segment, o.behaviour_class AS old_class,
			   o.churn_status AS old_status,
			   o.rfm IS DISTINCT FROM n.rfm AS rfm_changed
		  FROM n
		  FULL JOIN crm.client_segments o ON o.client_id = n.client_id
		 WHERE o.client_id IS NULL OR n.client_id IS NULL
			OR o.rfm IS DISTINCT FROM n.rfm
			OR o.rfm_segment IS DISTINCT FROM n.rfm_segment
			OR o.behaviour_class IS DISTINCT FROM n.behaviour_class
			OR o.churn_status IS DISTINCT FROM n.churn_status),
	upserted AS (
		INSERT INTO crm.client_segments AS cs
			(client_id, rfm, rfm_segment, behaviour_class, churn_status, since)
		SELECT d.client_id, d.rfm, d.rfm_segment, d.behaviour_class, d.churn_status, as_of
		  FROM d WHERE NOT d.gone
		ON CONFLICT (client_id) DO UPDATE
			SET rfm = excluded.rfm, rfm_segment = excluded.rfm_segment,
				behaviour_class = excluded.behaviour_class,
				churn_status = excluded.churn_status,
				since = CASE WHEN cs.rfm_segment IS DISTINCT FROM excluded.rfm_segment
								  OR cs.behaviour_class IS DISTINCT FROM excluded.behaviour_class
								  OR cs.churn_status IS DISTINCT FROM excluded.churn_status
							 THEN excluded.since ELSE cs.since END
		RETURNING 1),				-- data-modifying CTEs always run to completion
	deleted AS (
		DELETE FROM crm.client_segments cs
		 USING d WHERE d.gone AND cs.client_id = d.client_id
		RETURNING 1),
	logged AS (
		INSERT INTO crm.segment_transitions (client_id, as_of, dimension, from_value, to_value)
		SELECT d.client_id, as_of, ch.dimension, ch.from_value, ch.to_value
		  FROM d
		 CROSS JOIN LATERAL (VALUES
			('rfm_segment', d.old_segment, d.rfm_segment),
			('behaviour_class', d.old_class, d.behaviour_class),
			('churn_status', d.old_status, d.churn_status)) ch(dimension, from_value, to_value)
		 WHERE ch.from_value IS DISTINCT FROM ch.to_value
		 ORDER BY d.client_id, ch.dimension
		RETURNING 1)
	SELECT (SELECT count(*) FROM n), (SELECT count(*) FROM logged)
	  INTO n_clients, n_changes;

	PERFORM crm.report_progress('refresh_segments',
		format('step 3 of 3: notifying %s transitions of %s clients', n_changes, n_clients));
	IF n_changes > 0 THEN
		INSERT INTO crm.segment_refreshes (as_of, clients, transitions)
		VALUES (as_of, n_clients, n_changes)
		ON CONFLICT ON CONSTRAINT segment_refreshes_pkey DO UPDATE
			SET transitions = crm.segment_refreshes.transitions + excluded.transitions,
				clients = excluded.clients;
		IF n_changes <= notify_limit THEN
			/*
			 * One statement per notification: on Citus a query over
			 * crm.segment_transitions runs on the shards, where NOTIFY
			 * would stop the commit (a prepared transaction cannot notify).
			 */
			FOR tr IN
				SELECT t.client_id, t.dimension, t.from_value, t.to_value, t.as_of,
					   t.transition_id
				  FROM crm.segment_transitions t
				 WHERE t.transition_id > first_id
				 ORDER BY t.transition_id
			LOOP
				PERFORM pg_notify('crm_segment_change',
								  json_build_object('client_id', tr.client_id,
													'dimension', tr.dimension,
													'from', tr.from_value, 'to', tr.to_value,
													'as_of', tr.as_of,
													'transition_id', tr.transition_id)::text);
			END LOOP;
			n_notes := n_changes;
		ELSE
			PERFORM pg_notify('crm_segment_change',
							  json_build_object('as_of', as_of, 'transitions', n_changes,
												'after_transition_id', first_id)::text);
			n_notes := 1;
		END IF;
	END IF;
	RETURN QUERY SELECT n_clients, n_changes, n_notes;
END
$$;
COMMENT ON FUNCTION crm.refresh_segments(timestamptz, jsonb, text, integer, boolean) IS 'store each client''s RFM segment, behavioural class and churn status at as_of, log every change in crm.segment_transitions and NOTIFY crm_segment_change per change (one summary beyond notify_limit); idempotent for the same as_of and data; as_of at most now plus crm.future_tolerance unless allow_future';
REVOKE EXECUTE ON FUNCTION crm.refresh_segments(timestamptz, jsonb, text, integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.refresh_segments(timestamptz, jsonb, text, integer, boolean)
	TO crm_admin, crm_analyst;

-- the C paths' decisions, counted per session (src/fastpath.c)

/*
 * The C paths of crm.rfm_scores, crm.churn_signals, crm.earn_points and
 * crm.redeem_points (src/fastpath.c): which path each call took, and why
 * a call went to the function's SQL twin.  Counted per backend; the
 * setting crm.log_fast_path also logs every decision.
 */
CREATE FUNCTION crm.fast_path_stats(OUT function text, OUT path text, OUT reason text,
									OUT calls bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fastpath_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.fast_path_stats() IS 'the calls of this session''s crm functions with a C path, by function, path taken (c or sql) and, for sql, the reason';

CREATE FUNCTION crm.fast_path_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'fastpath_stats_reset'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.fast_path_stats_reset() IS 'sets this session''s counts of crm.fast_path_stats to zero';

/*
 * ---- the demo generator leaves crm for an extension of its own ----
 *
 * crm_demo (CREATE EXTENSION crm_demo) holds the generator, its C and its
 * truth tables.  Here its functions are dropped (they hold no data, and
 * their C is no longer in crm's module) and the truth tables are only
 * detached from crm, rows kept: CREATE EXTENSION crm_demo adopts them.
 */
DO $demo$
DECLARE
	f			regprocedure;
BEGIN
	FOR f IN
		SELECT p.oid::regprocedure
		  FROM pg_catalog.pg_proc p
		  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass
			   AND d.objid = p.oid AND d.deptype = 'e'
		  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'crm'
		 WHERE p.pronamespace = 'crm'::regnamespace
		   AND (p.proname = 'generate_demo_data' OR p.proname LIKE 'demo\_%')
	LOOP
		EXECUTE pg_catalog.format('DROP FUNCTION %s', f);
	END LOOP;
END
$demo$;
ALTER EXTENSION crm DROP TABLE crm.demo_parameters;
ALTER EXTENSION crm DROP TABLE crm.demo_clients;

/*
 * ---- one error for an unknown segment map: crm.segment_map_classes ----
 */
CREATE FUNCTION crm.segment_map_classes(map_name text)
RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
BEGIN
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = segment_map_classes.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	RETURN k;
END
$$;
COMMENT ON FUNCTION crm.segment_map_classes(text) IS 'the number of classes (scores per dimension) of a segment map; error 22023 if there is no such map';

CREATE OR REPLACE FUNCTION crm.segment_map_cells(map_name text)
RETURNS TABLE (rfm crm.rfm, segment text)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 125
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
BEGIN
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = segment_map_cells.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	IF EXISTS (SELECT 1 FROM crm.segment_map_problems(segment_map_cells.map_name)) THEN
		RAISE EXCEPTION 'segment map "%" is not a partition of its score cells', map_name
			USING ERRCODE = 'check_violation',
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', map_name);
	END IF;
	RETURN QUERY
		SELECT c.rfm, c.segments[1] FROM crm.segment_map_coverage(segment_map_cells.map_name) c;
END
$$;

CREATE OR REPLACE FUNCTION crm.rfm_segment(rfm crm.rfm, map_name text DEFAULT 'rfm11')
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
	segs		text[];
BEGIN
	IF rfm IS NULL THEN
		RAISE EXCEPTION 'rfm must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = rfm_segment.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	IF greatest(crm.recency_score(rfm), crm.frequency_score(rfm), crm.monetary_score(rfm)) > k THEN
		RAISE EXCEPTION 'RFM value % is outside segment map "%", which has % classes', rfm, map_name, k
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT array_agg(u.segment ORDER BY u.rule_no) INTO segs
	  FROM crm.segment_map_rules u
	 WHERE u.map_name = rfm_segment.map_name
	   AND crm.recency_score(rfm) BETWEEN u.r_min AND u.r_max
	   AND crm.frequency_score(rfm) BETWEEN u.f_min AND u.f_max
	   AND crm.monetary_score(rfm) BETWEEN u.m_min AND u.m_max;
	IF coalesce(cardinality(segs), 0) <> 1 THEN
		RAISE EXCEPTION 'RFM value % is % in segment map "%"', rfm,
			CASE WHEN segs IS NULL THEN 'unmapped' ELSE 'mapped more than once' END, map_name
			USING ERRCODE = 'check_violation',
				  DETAIL = format('Segments: %s.', coalesce(array_to_string(segs, ', '), 'none')),
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', map_name);
	END IF;
	RETURN segs[1];
END
$$;


/*
 * ---- Citus: functions that a distributed query can run ----
 *
 * crm.client_profiles, crm.segment_category_revenue, crm.repeat_curve and
 * crm.loyalty_order_redeemed in PL/pgSQL (RETURN QUERY), which plans their
 * query with the argument values bound, not as parameters of a SQL
 * function; crm.client_card calls crm.can_contact in a statement of its
 * own, not inside its query over crm.consents.  The same rows, labels,
 * comments and privileges.
 */
CREATE OR REPLACE FUNCTION crm.client_card(client_id bigint, last_interactions integer DEFAULT 10)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	c			crm.clients;
	card		jsonb;
	v_consents	jsonb := '{}';
	ch			text;
BEGIN
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF last_interactions IS NULL THEN
		RAISE EXCEPTION 'last_interactions must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm.refuse_in_citus_task('crm.client_card');
	IF last_interactions < 0 THEN
		RAISE EXCEPTION 'last_interactions must not be negative: %', last_interactions
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT * INTO c FROM crm.clients WHERE clients.client_id = client_card.client_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'client % does not exist', client_card.client_id
			USING ERRCODE = 'no_data_found';
	END IF;

	/*
	 * Whether each channel with a consent row may be contacted now: one
	 * crm.can_contact call per channel, each a statement of its own (on
	 * Citus a function that reads crm.consents must not run inside a
	 * query over crm.consents, which goes to the shard).
	 */
	FOR ch IN
		SELECT DISTINCT k.channel FROM crm.consents k WHERE k.client_id = c.client_id
	LOOP
		v_consents := v_consents || jsonb_build_object(ch, crm.can_contact(c.client_id, ch));
	END LOOP;

	card := jsonb_build_object(
		'client_id', c.client_id,
		'profile', jsonb_strip_nulls(jsonb_build_object(
			'kind', c.kind,
			'name', CASE c.kind WHEN 'company' THEN c.company_name
							   ELSE nullif(concat_ws(' ', c.first_name, c.last_name), '') END,
			'first_name', c.first_name,
			'last_name', c.last_name,
			'company_name', c.company_name,
			'birth_date', c.birth_date,
			'email', c.email,
			'phone', c.phone,
			'country', c.country,
			'region', c.region,
			'city', c.city,
			'owner', c.owner,
			'acquisition_channel', c.acquisition_channel,
			'acquisition_cost', c.acquisition_cost,
			'created_at', c.created_at,
			'anonymized_at', c.anonymized_at,
			'attributes', c.attributes)),
		'consents', v_consents,
		'orders', (
			SELECT jsonb_build_object(
					'purchases', count(*) FILTER (WHERE o.status IN ('placed', 'paid')),
					'currency', crm.one_currency(o.currency) FILTER (WHERE o.status IN ('placed', 'paid')),
					'cancelled', count(*) FILTER (WHERE o.status = 'cancelled'),
					'refunded', count(*) FILTER (WHERE o.status = 'refunded'),
					'revenue', coalesce(sum(o.net_amount) FILTER (WHERE o.status IN ('placed', 'paid')), 0),
					'margin', coalesce(sum(o.net_amount - o.cost_amount) FILTER (WHERE o.status IN ('placed', 'paid')), 0),
					'average_order', round(avg(o.net_amount) FILTER (WHERE o.status IN ('placed', 'paid')), 2),
					'promo_share', round(avg(o.promo_used::int) FILTER (WHERE o.status IN ('placed', 'paid')), 3),
					'points_paid', coalesce(sum(o.points_paid) FILTER (WHERE o.status IN ('placed', 'paid')), 0),
					'first_purchase_at', min(o.ordered_at) FILTER (WHERE o.status IN ('placed', 'paid')),
					'last_purchase_at', max(o.ordered_at) FILTER (WHERE o.status IN ('placed', 'paid')))
			  FROM crm.orders o
			 WHERE o.client_id = c.client_id),
		'last_interactions', (
			SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
						'interaction_id', i.interaction_id,
						'occurred_at', i.occurred_at,
						'channel', i.channel,
						'kind', i.kind,
						'direction', i.direction,
						'outcome', i.outcome,
						'handled_by', i.handled_by,
						'subject', i.subject,
						'order_id', i.order_id,
						'incident_id', i.incident_id))
					ORDER BY i.occurred_at DESC, i.interaction_id DESC), '[]')
			  FROM (SELECT * FROM crm.interactions x
					 WHERE x.client_id = c.client_id
					 ORDER BY x.occurred_at DESC, x.interaction_id DESC
					 LIMIT last_interactions) i),
		'open_incidents', (
			SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
						'incident_id', n.incident_id,
						'opened_at', n.opened_at,
						'subject', n.subject,
						'category', n.category,
						'status', n.status,
						'priority', n.priority,
						'assignee', n.assignee,
						'due_at', n.due_at,
						'overdue', n.due_at < now()))
					ORDER BY n.opened_at, n.incident_id), '[]')
			  FROM crm.incidents n
			 WHERE n.client_id = c.client_id
			   AND n.status NOT IN ('resolved', 'closed')));
	RETURN card;
END
$$;

CREATE OR REPLACE FUNCTION crm.client_profiles(as_of timestamptz)
RETURNS TABLE (client_id bigint, profile crm.purchase_profile)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	RETURN QUERY
	SELECT o.client_id, crm.purchase_profile(o.ordered_at, o.net_amount, o.promo_used)
	  FROM crm.orders o
	 WHERE o.status IN ('placed', 'paid')
	   AND o.ordered_at <= as_of
	 GROUP BY o.client_id
	HAVING crm.one_currency(o.currency) IS NOT NULL;	-- one currency per client
END
$$;

CREATE OR REPLACE FUNCTION crm.segment_category_revenue(as_of timestamptz, map_name text DEFAULT 'rfm11')
RETURNS TABLE (segment text, category_id integer, category text, revenue numeric,
			   buyers bigint, segment_share double precision,
			   overall_share double precision, index double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* the map's errors here, not inside the query (nor only when there are purchases) */
	IF NOT EXISTS (SELECT 1 FROM crm.segment_maps mp WHERE mp.map_name = segment_category_revenue.map_name) THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	IF EXISTS (SELECT 1 FROM crm.segment_map_problems(segment_category_revenue.map_name)) THEN
		RAISE EXCEPTION 'segment map "%" is not a partition of its score cells', map_name
			USING ERRCODE = 'check_violation',
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', map_name);
	END IF;
	RETURN QUERY
	WITH s AS MATERIALIZED (
		SELECT r.client_id, r.segment FROM crm.rfm_scores(as_of, map_name) r),
	lr AS (
		SELECT s.segment, p.category_id, l.client_id, l.net_amount
		  FROM crm.order_lines l
		  JOIN crm.orders o USING (client_id, order_id)
		  JOIN crm.products p USING (product_id)
		  JOIN s USING (client_id)
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of),
	m AS (
		SELECT lr.segment, lr.category_id, sum(lr.net_amount) AS revenue,
			   count(DISTINCT lr.client_id) AS buyers
		  FROM lr
		 GROUP BY lr.segment, lr.category_id),
	t AS (
		SELECT m.*,
			   sum(m.revenue) OVER (PARTITION BY m.segment) AS seg_total,
			   sum(m.revenue) OVER (PARTITION BY m.category_id) AS cat_total,
			   sum(m.revenue) OVER () AS total
		  FROM m)
	SELECT t.segment, t.category_id, c.name, t.revenue, t.buyers,
		   CASE WHEN t.seg_total > 0 THEN (t.revenue / t.seg_total)::float8 END,
		   CASE WHEN t.total > 0 THEN (t.cat_total / t.total)::float8 END,
		   CASE WHEN t.seg_total > 0 AND t.cat_total > 0
				THEN ((t.revenue / t.seg_total) / (t.cat_total / t.total))::float8 END
	  FROM t
	  JOIN crm.categories c ON c.category_id = t.category_id
	 ORDER BY t.segment, t.revenue DESC, t.category_id;
END
$$;

CREATE OR REPLACE FUNCTION crm.repeat_curve(as_of timestamptz, since timestamptz DEFAULT '-infinity')
RETURNS TABLE (order_number integer, clients bigint, next_clients bigint,
			   repeat_share double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF since IS NULL THEN
		RAISE EXCEPTION 'since must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	RETURN QUERY
	WITH c AS (
		SELECT o.client_id, count(*)::integer AS n
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of
		 GROUP BY o.client_id
		HAVING min(o.ordered_at) > since),
	h AS (SELECT c.n, count(*) AS k FROM c GROUP BY c.n),
	r AS (
		SELECT g.n, (SELECT coalesce(sum(h.k), 0) FROM h WHERE h.n >= g.n)::bigint AS reached
		  FROM generate_series(1, (SELECT max(h.n) FROM h)) g(n))
	SELECT r.n, r.reached, lead(r.reached, 1, 0::bigint) OVER (ORDER BY r.n),
		   lead(r.reached, 1, 0::bigint) OVER (ORDER BY r.n)::double precision / r.reached
	  FROM r
	 ORDER BY r.n;
END
$$;

CREATE OR REPLACE FUNCTION crm.loyalty_order_redeemed(client_id bigint, program_id bigint, order_id bigint)
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

/*
 * Scale-out on Citus: crm.distribute() and what it needs; the triggers that
 * read other tables leave their check to the coordinator on a cluster.
 */

/*
 * in_citus_task: whether this backend runs a query that a Citus node sent
 * it (a query on a shard or a placement): Citus is installed in the
 * database and the session is one of Citus's own (its application_name,
 * "citus_internal gpid=...", as Citus itself tells them; src/fastpath.c,
 * which crm's C functions ask too).  crm's triggers
 * that read other tables leave their check to the coordinator, which runs
 * it across the cluster, instead of running a distributed query inside a
 * shard's query.  In a database without Citus it is always false, whatever
 * a session calls itself.
 */
CREATE FUNCTION crm.in_citus_task()
RETURNS boolean
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crm_in_citus_task';
COMMENT ON FUNCTION crm.in_citus_task() IS 'whether this backend runs a query a Citus node sent it (on a shard or a placement)';

/*
 * refuse_in_citus_task: the clear error of a function of crm that reads
 * crm's tables, called where Citus sent it with a query on a shard (for
 * each row of a query over a distributed table), where its own queries
 * would be distributed queries nested in the shard's, which Citus refuses
 * with an error that names neither the function nor the fix.
 */
CREATE FUNCTION crm.refuse_in_citus_task(function_name text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF crm.in_citus_task() THEN
		RAISE EXCEPTION '% cannot run inside a query that Citus sends to the shards', function_name
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'It reads crm''s tables, which are distributed: called for each row of a query over a distributed table, it would run a distributed query inside a shard''s query.',
				  HINT = 'Call it from the coordinator over rows read first: WITH c AS MATERIALIZED (SELECT client_id FROM crm.clients ...) SELECT ... FROM c (docs/scale-out.md).';
	END IF;
END
$$;
COMMENT ON FUNCTION crm.refuse_in_citus_task(text) IS 'raises the clear error of a crm function called inside a query Citus sent to a shard (a call per row of a query over a distributed table)';

CREATE OR REPLACE FUNCTION crm.categories_check_cycle() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	/* on a Citus cluster the coordinator's copy of the table checks (crm.distribute) */
	IF crm.in_citus_task() THEN
		RETURN NEW;
	END IF;
	IF NEW.parent_id IS NOT NULL AND EXISTS (
		WITH RECURSIVE up(id) AS (
			SELECT NEW.parent_id
			UNION
			SELECT c.parent_id FROM crm.categories c JOIN up ON c.category_id = up.id
			 WHERE c.parent_id IS NOT NULL)
		SELECT 1 FROM up WHERE id = NEW.category_id)
	THEN
		RAISE EXCEPTION 'category % cannot have parent %: that would make a cycle',
			NEW.category_id, NEW.parent_id
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.categories_check_cycle() IS 'trigger: refuses a parent that would make the category tree a cycle';

CREATE OR REPLACE FUNCTION crm.segment_maps_protect() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	name		text;
BEGIN
	/* on a Citus cluster the coordinator's copy of the table checks (crm.distribute) */
	IF crm.in_citus_task() THEN
		RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	IF TG_TABLE_NAME = 'segment_maps' AND TG_OP <> 'DELETE' THEN
		IF NEW.builtin THEN
			RAISE EXCEPTION 'segment map "%" cannot be marked as shipped with crm', NEW.map_name
				USING ERRCODE = 'check_violation',
					  HINT = 'Only the maps of the extension are builtin.';
		END IF;
	END IF;
	FOR name IN SELECT DISTINCT x FROM unnest(ARRAY[
					CASE WHEN TG_OP <> 'INSERT' THEN OLD.map_name END,
					CASE WHEN TG_OP <> 'DELETE' THEN NEW.map_name END]) x
				WHERE x IS NOT NULL
	LOOP
		IF EXISTS (SELECT 1 FROM crm.segment_maps m WHERE m.map_name = name AND m.builtin) THEN
			RAISE EXCEPTION 'segment map "%" is shipped with crm and cannot be changed', name
				USING ERRCODE = 'check_violation',
					  HINT = 'Copy it under a new name and change the copy.';
		END IF;
	END LOOP;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION crm.segment_maps_protect() IS 'trigger: the shipped segment maps are read-only';

CREATE OR REPLACE FUNCTION crm.segment_maps_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	name		text;
	unmapped	bigint;
	doubled		bigint;
	beyond		bigint;
	example		text;
BEGIN
	/* on a Citus cluster the coordinator's copy of the table checks (crm.distribute) */
	IF crm.in_citus_task() THEN
		RETURN NULL;
	END IF;
	name := CASE TG_OP WHEN 'DELETE' THEN OLD.map_name ELSE NEW.map_name END;
	-- lock the map: concurrent edits of one map are checked one after the
	-- other, each seeing the other's committed rules
	PERFORM 1 FROM crm.segment_maps m WHERE m.map_name = name FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;			-- the map is gone: nothing to check
	END IF;
	SELECT count(*) FILTER (WHERE p.problem = 'unmapped'),
		   count(*) FILTER (WHERE p.problem = 'mapped more than once'),
		   count(*) FILTER (WHERE p.rfm IS NULL),
		   min(p.rfm::text)
	  INTO unmapped, doubled, beyond, example
	  FROM crm.segment_map_problems(name) p;
	IF unmapped + doubled + beyond > 0 THEN
		RAISE EXCEPTION 'segment map "%" is not a partition of its score cells', name
			USING ERRCODE = 'check_violation',
				  DETAIL = format('%s cells unmapped, %s cells mapped more than once, %s rules beyond the classes; first problem cell: %s.',
								  unmapped, doubled, beyond, coalesce(example, 'none')),
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', name);
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.segment_maps_check() IS 'deferred constraint trigger: a committed segment map is a partition of its score cells';

CREATE OR REPLACE FUNCTION crm.loyalty_account_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		/* on a Citus cluster, the coordinator's trigger has looked at every shard */
		IF crm.in_citus_task() THEN
			RETURN NULL;
		END IF;
		IF EXISTS (SELECT 1 FROM crm.loyalty_ledger) THEN
			RAISE EXCEPTION 'crm.loyalty_accounts cannot be truncated: the ledger has entries'
				USING ERRCODE = 'foreign_key_violation';
		END IF;
		RETURN NULL;
	END IF;
	IF TG_OP = 'UPDATE' AND OLD.client_id = NEW.client_id AND OLD.program_id = NEW.program_id THEN
		RETURN NEW;
	END IF;
	IF EXISTS (SELECT 1 FROM crm.loyalty_ledger l
				WHERE l.client_id = OLD.client_id AND l.program_id = OLD.program_id) THEN
		RAISE EXCEPTION 'the account of client % in programme % has ledger entries: % is not allowed', OLD.client_id, OLD.program_id, TG_OP
			USING ERRCODE = 'foreign_key_violation';
	END IF;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION crm.loyalty_account_guard() IS 'trigger: refuses to delete, truncate or re-key a loyalty account that has ledger entries';

CREATE OR REPLACE FUNCTION crm.loyalty_refuse_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	has_rows	boolean;
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		/* emptying an empty table removes nothing (TRUNCATE ... CASCADE from clients) */
		EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME)
		   INTO has_rows;
		IF NOT has_rows THEN
			RETURN NULL;
		END IF;
	END IF;
	RAISE EXCEPTION '%.% is append-only: % is not allowed', TG_TABLE_SCHEMA,
		-- on a Citus cluster, the table's name, not its shard's
		CASE WHEN crm.in_citus_task() THEN regexp_replace(TG_TABLE_NAME, '_[0-9]+$', '') ELSE TG_TABLE_NAME END, TG_OP
		USING ERRCODE = 'insufficient_privilege',
			  HINT = 'Correct a movement with a new entry: crm.reverse_entry or crm.adjust_points.';
END
$$;
COMMENT ON FUNCTION crm.loyalty_refuse_change() IS 'trigger: refuses UPDATE, DELETE and TRUNCATE (of a table that has rows) on the append-only loyalty tables';

CREATE OR REPLACE FUNCTION crm.discount_rules_validate() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	r		text := coalesce(NEW.code, '(no code)');
	bonus	boolean;

	-- nothing here returns: each failed check raises
BEGIN
	IF NEW.code IS NULL OR NEW.code !~ '^[a-z0-9][a-z0-9_.-]{0,62}$' THEN
		RAISE EXCEPTION 'discount rule "%": code must be 1 to 63 characters a-z, 0-9, _ . - starting with a letter or digit', r
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.name IS NULL OR NEW.name = '' THEN
		RAISE EXCEPTION 'discount rule "%": name must not be empty', r
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.action IS NULL OR NEW.action NOT IN ('percent', 'fixed', 'cashback', 'points_multiplier', 'points_share') THEN
		RAISE EXCEPTION 'discount rule "%": action "%" is not one of percent, fixed, cashback, points_multiplier, points_share', r, NEW.action
			USING ERRCODE = 'check_violation';
	END IF;
	bonus := NEW.action NOT IN ('percent', 'fixed');
	IF NEW.level IS NULL THEN
		NEW.level := CASE WHEN bonus THEN 'order' ELSE 'line' END;
	ELSIF NEW.level NOT IN ('line', 'order') THEN
		RAISE EXCEPTION 'discount rule "%": level "%" is not line or order', r, NEW.level
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.value IS NULL OR NEW.value <= 0 THEN
		RAISE EXCEPTION 'discount rule "%": value % must be greater than zero', r, coalesce(NEW.value::text, 'NULL')
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.action IN ('percent', 'cashback', 'points_share') AND NEW.value > 100 THEN
		RAISE EXCEPTION 'discount rule "%": value % is a percent over 100', r, NEW.value
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.value <> round(NEW.value, 4) THEN
		RAISE EXCEPTION 'discount rule "%": value % has more than 4 decimals', r, NEW.value
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.action = 'fixed' AND NEW.value <> round(NEW.value, 2) THEN
		RAISE EXCEPTION 'discount rule "%": value % is an amount with more than 2 decimals', r, NEW.value
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.action = 'points_multiplier' AND NEW.value > 1000 THEN
		RAISE EXCEPTION 'discount rule "%": value % is a multiplier over 1000', r, NEW.value
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.cap IS NOT NULL THEN
		IF bonus THEN
			RAISE EXCEPTION 'discount rule "%": cap applies to percent and fixed discounts only, not to %', r, NEW.action
				USING ERRCODE = 'check_violation';
		ELSIF NEW.cap <= 0 OR NEW.cap <> round(NEW.cap, 2) THEN
			RAISE EXCEPTION 'discount rule "%": cap % must be a positive amount with at most 2 decimals', r, NEW.cap
				USING ERRCODE = 'check_violation';
		END IF;
	END IF;
	IF NEW.stacking IS NULL OR NEW.stacking NOT IN ('stack', 'exclusive', 'stop') THEN
		RAISE EXCEPTION 'discount rule "%": stacking "%" is not stack, exclusive or stop', r, NEW.stacking
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.base IS NULL OR NEW.base NOT IN ('original', 'remaining') THEN
		RAISE EXCEPTION 'discount rule "%": base "%" is not original or remaining', r, NEW.base
			USING ERRCODE = 'check_violation';
	END IF;
	IF bonus AND NEW.level <> 'order' THEN
		RAISE EXCEPTION 'discount rule "%": level must be order for a % rule', r, NEW.action
			USING ERRCODE = 'check_violation';
	END IF;
	IF bonus AND NEW.stacking <> 'stack' THEN
		RAISE EXCEPTION 'discount rule "%": stacking must be stack for a % rule', r, NEW.action
			USING ERRCODE = 'check_violation';
	END IF;
	IF bonus AND NEW.base <> 'remaining' THEN
		RAISE EXCEPTION 'discount rule "%": base must be remaining for a % rule', r, NEW.action
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.action = 'points_multiplier' AND (NEW.price_list_id IS NOT NULL OR NEW.category_id IS NOT NULL) THEN
		RAISE EXCEPTION 'discount rule "%": a points_multiplier covers the whole order: price_list_id and category_id must be NULL', r
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.valid IS NULL OR isempty(NEW.valid) THEN
		RAISE EXCEPTION 'discount rule "%": validity window is empty (%)', r, coalesce(NEW.valid::text, 'NULL')
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.min_order_amount < 0 OR NEW.min_order_amount <> round(NEW.min_order_amount, 2) THEN
		RAISE EXCEPTION 'discount rule "%": min_order_amount % must be a non-negative amount with at most 2 decimals', r, NEW.min_order_amount
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.min_turnover < 0 OR NEW.min_turnover <> round(NEW.min_turnover, 2) THEN
		RAISE EXCEPTION 'discount rule "%": min_turnover % must be a non-negative amount with at most 2 decimals', r, NEW.min_turnover
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.crossing_threshold <= 0 OR NEW.crossing_threshold <> round(NEW.crossing_threshold, 2) THEN
		RAISE EXCEPTION 'discount rule "%": crossing_threshold % must be a positive amount with at most 2 decimals', r, NEW.crossing_threshold
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.segment = '' THEN
		RAISE EXCEPTION 'discount rule "%": segment must not be empty (NULL: any segment)', r
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.tier = '' THEN
		RAISE EXCEPTION 'discount rule "%": tier must not be empty (NULL: any tier)', r
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.uses_per_client <= 0 THEN
		RAISE EXCEPTION 'discount rule "%": uses_per_client % must be positive (NULL: unlimited)', r, NEW.uses_per_client
			USING ERRCODE = 'check_violation';
	END IF;
	IF NEW.point_value IS NULL OR NEW.point_value <= 0 OR NEW.point_value <> round(NEW.point_value, 4) THEN
		RAISE EXCEPTION 'discount rule "%": point_value % must be positive with at most 4 decimals', r, coalesce(NEW.point_value::text, 'NULL')
			USING ERRCODE = 'check_violation';
	END IF;
	/*
	 * On a Citus cluster (crm.distribute) the rules are a reference table
	 * and crm.clients is distributed: these checks run where the
	 * coordinator writes its own copy of the rule, not in the copies Citus
	 * writes on the workers, where they would be distributed queries inside
	 * a shard's.
	 */
	IF NOT crm.in_citus_task() THEN
		IF NEW.client_id IS NOT NULL
		   AND NOT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = NEW.client_id) THEN
			RAISE EXCEPTION 'discount rule "%": client_id % does not exist', r, NEW.client_id
				USING ERRCODE = 'foreign_key_violation';
		END IF;
		IF NEW.price_list_id IS NOT NULL
		   AND NOT EXISTS (SELECT 1 FROM crm.price_lists p WHERE p.price_list_id = NEW.price_list_id) THEN
			RAISE EXCEPTION 'discount rule "%": price_list_id % does not exist', r, NEW.price_list_id
				USING ERRCODE = 'foreign_key_violation';
		END IF;
		IF NEW.category_id IS NOT NULL
		   AND NOT EXISTS (SELECT 1 FROM crm.categories k WHERE k.category_id = NEW.category_id) THEN
			RAISE EXCEPTION 'discount rule "%": category_id % does not exist', r, NEW.category_id
				USING ERRCODE = 'foreign_key_violation';
		END IF;
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.discount_rules_validate() IS 'trigger: refuses a bad discount rule with an error naming the rule and the field';

CREATE OR REPLACE FUNCTION crm.anonymize_client(client_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_at		timestamptz;
	n_inter		bigint;
	n_inc		bigint;
	n_cons		bigint;
	v_now		timestamptz := now();	-- the coordinator's, on Citus
BEGIN
	PERFORM crm.refuse_in_citus_task('crm.anonymize_client');
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;

	UPDATE crm.clients c
	   SET first_name = NULL, last_name = NULL, company_name = NULL, birth_date = NULL,
		   email = NULL, phone = NULL, city = NULL, attributes = '{}',
		   anonymized_at = coalesce(c.anonymized_at, v_now)
	 WHERE c.client_id = client_id
	RETURNING c.anonymized_at INTO v_at;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'client % does not exist', client_id USING ERRCODE = 'no_data_found';
	END IF;

	UPDATE crm.interactions i SET subject = NULL, payload = '{}'
	 WHERE i.client_id = client_id AND (i.subject IS NOT NULL OR i.payload <> '{}');
	GET DIAGNOSTICS n_inter = ROW_COUNT;

	UPDATE crm.incidents n SET subject = 'anonymized', description = NULL
	 WHERE n.client_id = client_id
	   AND (n.subject <> 'anonymized' OR n.description IS NOT NULL);
	GET DIAGNOSTICS n_inc = ROW_COUNT;

	INSERT INTO crm.consents AS k (client_id, channel, changed_at, granted, source)
	SELECT client_id, cur.channel, v_now, false, 'anonymized'
	  FROM (SELECT DISTINCT ON (x.channel) x.channel, x.granted
			  FROM crm.consents x
			 WHERE x.client_id = client_id AND x.changed_at <= v_now
			 ORDER BY x.channel, x.changed_at DESC) cur
	 WHERE cur.granted
	ON CONFLICT ON CONSTRAINT consents_pkey
	DO UPDATE SET granted = false, source = 'anonymized';
	GET DIAGNOSTICS n_cons = ROW_COUNT;

	RETURN jsonb_build_object('client_id', client_id, 'anonymized_at', v_at,
							  'interactions', n_inter, 'incidents', n_inc,
							  'consents_withdrawn', n_cons);
END
$$;
COMMENT ON FUNCTION crm.anonymize_client(bigint) IS 'erases what identifies a person (names, e-mail, phone, birth date, city, attributes, free text of interactions and incidents), withdraws every consent in force, keeps orders, loyalty and analytics; caller''s rights: a manager anonymizes only their own clients';

CREATE OR REPLACE FUNCTION crm.cohort_retention(as_of timestamptz, period text DEFAULT 'month')
RETURNS TABLE (cohort date, period_number integer, cohort_clients bigint,
			   active_clients bigint, retention double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF period NOT IN ('week', 'month', 'quarter') THEN
		RAISE EXCEPTION 'period must be week, month or quarter, not "%"', period
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/*
	 * Per client (a window over its own purchase periods), then per cohort
	 * and period: on a Citus cluster the first step runs whole on the
	 * shards and only the counts come back.  A cohort's size is its count
	 * at period 0: every client buys in its first period.
	 */
	RETURN QUERY
	WITH a AS MATERIALIZED (
		SELECT y.c,
			   CASE period
				   WHEN 'week' THEN ((y.p - y.c) / 7)
				   ELSE ((extract(year FROM y.p) - extract(year FROM y.c)) * 12
						 + extract(month FROM y.p) - extract(month FROM y.c))::integer
						/ CASE period WHEN 'quarter' THEN 3 ELSE 1 END
			   END AS k,
			   count(*) AS active
		  FROM (SELECT x.p, min(x.p) OVER (PARTITION BY x.client_id) AS c
				  FROM (SELECT DISTINCT o.client_id,
							   date_trunc(period, o.ordered_at AT TIME ZONE 'UTC')::date AS p
						  FROM crm.orders o
						 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of) x) y
		 GROUP BY 1, 2)
	SELECT a.c, a.k, s.active, a.active, a.active::double precision / s.active
	  FROM a JOIN a s ON s.c = a.c AND s.k = 0
	 ORDER BY a.c, a.k;
END
$$;
COMMENT ON FUNCTION crm.cohort_retention(timestamptz, text) IS 'retention matrix: per acquisition cohort (UTC week, month or quarter of the first purchase) and period number, the share of the cohort with a purchase in that period';

CREATE OR REPLACE FUNCTION crm.contact_check(client_id bigint, channel text,
								  at timestamptz DEFAULT pg_catalog.now(),
								  OUT allowed boolean, OUT reason text,
								  OUT consent boolean, OUT contacts_in_window bigint,
								  OUT cap integer, OUT cap_window interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	granted		boolean;
	rule		record;
	n			bigint;
BEGIN
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF channel IS NULL THEN
		RAISE EXCEPTION 'channel must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF at IS NULL THEN
		RAISE EXCEPTION 'at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm.refuse_in_citus_task('crm.contact_check');
	IF channel NOT IN ('email', 'sms', 'push', 'phone', 'messenger', 'post') THEN
		RAISE EXCEPTION 'unknown contact channel "%"', channel
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Contact channels are email, sms, push, phone, messenger and post.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = contact_check.client_id) THEN
		RAISE EXCEPTION 'client % does not exist', client_id
			USING ERRCODE = 'no_data_found';
	END IF;
	SELECT c.granted INTO granted
	  FROM crm.consents c
	 WHERE c.client_id = contact_check.client_id
	   AND c.channel = contact_check.channel
	   AND c.changed_at <= contact_check.at
	 ORDER BY c.changed_at DESC
	 LIMIT 1;
	consent := coalesce(granted, false);
	IF NOT consent THEN
		allowed := false;
		reason := CASE WHEN granted IS NULL THEN 'no consent' ELSE 'consent withdrawn' END;
		RETURN;
	END IF;
	/* the channel's own cap first, then the cap over every channel */
	FOR rule IN
		SELECT r.channel AS cap_channel, r.window_length, r.max_contacts
		  FROM (SELECT cc.channel, cc.window_length, cc.max_contacts, 1 AS o
				  FROM crm.contact_caps cc WHERE cc.channel = contact_check.channel
				UNION ALL
				SELECT 'any', coalesce(a.window_length, interval '7 days'),
					   CASE WHEN a.channel IS NULL THEN 3 ELSE a.max_contacts END, 2
				  FROM (SELECT 1) one
				  LEFT JOIN crm.contact_caps a ON a.channel = 'any') r
		 ORDER BY r.o
	LOOP
		CONTINUE WHEN rule.max_contacts IS NULL;
		SELECT count(*) INTO n
		  FROM crm.interactions i
		 WHERE i.client_id = contact_check.client_id
		   AND i.direction = 'outbound' AND i.campaign IS NOT NULL
		   AND i.occurred_at >= contact_check.at - rule.window_length
		   AND i.occurred_at < contact_check.at
		   AND (rule.cap_channel = 'any' OR i.channel = rule.cap_channel);
		IF n >= rule.max_contacts THEN
			allowed := false;
			reason := format('cap reached: %s marketing contacts in %s on %s, cap %s',
							 n, rule.window_length,
							 CASE rule.cap_channel WHEN 'any' THEN 'all channels'
							 ELSE rule.cap_channel END,
							 rule.max_contacts);
			contacts_in_window := n;
			cap := rule.max_contacts;
			cap_window := rule.window_length;
			RETURN;
		END IF;
		IF rule.cap_channel = 'any' THEN
			contacts_in_window := n;
			cap := rule.max_contacts;
			cap_window := rule.window_length;
		END IF;
	END LOOP;
	allowed := true;
END
$$;
COMMENT ON FUNCTION crm.contact_check(bigint, text, timestamptz) IS 'whether a marketing contact to the client on the channel is allowed at the moment, and why not: consent in force and the caps of crm.contact_caps (contacts strictly before at, in the rolling window)';

CREATE OR REPLACE FUNCTION crm.points_balance(client_id bigint, program text, at timestamptz DEFAULT NULL)
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

CREATE OR REPLACE FUNCTION crm.points_statement(client_id bigint, program text,
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

CREATE OR REPLACE FUNCTION crm.points_expiring(client_id bigint, program text,
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

CREATE OR REPLACE FUNCTION crm.reverse_entry(entry_id bigint, idempotency_key text,
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

CREATE OR REPLACE FUNCTION crm.refund_order_points(client_id bigint, order_id bigint, idempotency_key text,
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

CREATE OR REPLACE FUNCTION crm.record_priced_cart(quote jsonb, channel text DEFAULT 'web',
									   status text DEFAULT 'placed',
									   external_ref text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	c			bigint;
	at			timestamptz;
	now_quote	jsonb;
	oid			bigint;
	lists		integer[];
	diff		text;
	u			record;
	n			integer;
	f			text;
	paid		bigint;
BEGIN
	IF quote IS NULL THEN
		RAISE EXCEPTION 'quote must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF channel IS NULL THEN
		RAISE EXCEPTION 'channel must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF status IS NULL THEN
		RAISE EXCEPTION 'status must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm.refuse_in_citus_task('crm.record_priced_cart');
	IF jsonb_typeof(quote) <> 'object' THEN
		RAISE EXCEPTION 'quote must be the jsonb object crm.price_cart returns'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH f IN ARRAY ARRAY['client_id', 'at', 'cart', 'lines', 'rules', 'totals'] LOOP
		IF NOT quote ? f THEN
			RAISE EXCEPTION 'quote: field "%" is missing', f
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Pass the jsonb crm.price_cart returned, unchanged.';
		END IF;
	END LOOP;
	IF status NOT IN ('placed', 'paid') THEN
		RAISE EXCEPTION 'status must be placed or paid, not %', status
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	c := (quote ->> 'client_id')::bigint;
	at := (quote ->> 'at')::timestamptz;
	paid := (quote #>> '{totals,points_paid}')::bigint;
	-- points paid are redeemed from the quote's loyalty programme
	IF paid > 0 AND quote ->> 'program' IS NULL THEN
		RAISE EXCEPTION 'quote: the cart pays % points but has no loyalty "program" to redeem them from', paid
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- one recording per client at a time; the quote is checked under the lock
	PERFORM 1 FROM crm.clients k WHERE k.client_id = c FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'client % does not exist', c USING ERRCODE = 'no_data_found';
	END IF;

	-- a retried call with the same external_ref returns the first order
	IF external_ref IS NOT NULL THEN
		SELECT o.order_id INTO oid FROM crm.orders o
		 WHERE o.client_id = c AND o.external_ref = record_priced_cart.external_ref
		 ORDER BY o.order_id LIMIT 1;
		IF FOUND THEN
			RETURN oid;
		END IF;
	END IF;

	now_quote := crm.price_cart(c, quote -> 'cart', at);
	IF now_quote IS DISTINCT FROM quote THEN
		SELECT format('rule "%s" was %s, is now %s',
					  coalesce(q ->> 'code', p ->> 'code'),
					  coalesce(q ->> 'status' || coalesce(' ' || (q ->> 'amount'), '')
							   || coalesce(' ' || (q ->> 'points') || ' points', ''), 'absent'),
					  coalesce(p ->> 'status' || coalesce(' ' || (p ->> 'amount'), '')
							   || coalesce(' ' || (p ->> 'points') || ' points', '')
							   || coalesce(' (' || (p ->> 'reason') || ')', ''), 'absent'))
		  INTO diff
		  FROM jsonb_array_elements(quote -> 'rules') q
		  FULL JOIN jsonb_array_elements(now_quote -> 'rules') p ON p -> 'rule_id' = q -> 'rule_id'
		 WHERE q IS DISTINCT FROM p
		 ORDER BY coalesce(q -> 'rule_id', p -> 'rule_id')
		 LIMIT 1;
		IF diff IS NULL AND quote -> 'totals' IS DISTINCT FROM now_quote -> 'totals' THEN
			diff := format('totals were %s, are now %s', quote -> 'totals', now_quote -> 'totals');
		END IF;
		IF diff IS NULL THEN
			SELECT format('line %s was discount %s net %s, is now discount %s net %s',
						  coalesce(q ->> 'line', p ->> 'line'), q ->> 'discount', q ->> 'net',
						  p ->> 'discount', p ->> 'net')
			  INTO diff
			  FROM jsonb_array_elements(quote -> 'lines') WITH ORDINALITY AS x(q, qn)
			  FULL JOIN jsonb_array_elements(now_quote -> 'lines') WITH ORDINALITY AS y(p, pn) ON pn = qn
			 WHERE q IS DISTINCT FROM p
			 ORDER BY coalesce(qn, pn)
			 LIMIT 1;
		END IF;
		RAISE EXCEPTION 'quote for client % is out of date: %', c,
			coalesce(diff, 'it differs from the cart priced now')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Price the cart again with crm.price_cart.';
	END IF;

	SELECT array_agg(DISTINCT (l ->> 'price_list_id')::integer) INTO lists
	  FROM jsonb_array_elements(quote -> 'lines') l;

	INSERT INTO crm.orders (client_id, ordered_at, channel, status, price_list_id, currency,
							gross_amount, discount_amount, net_amount, cost_amount,
							promo_used, points_paid, external_ref)
	SELECT c, at, record_priced_cart.channel, record_priced_cart.status,
		   CASE WHEN cardinality(lists) = 1 THEN lists[1] END,
		   quote ->> 'currency',
		   (quote #>> '{totals,gross}')::numeric,
		   (quote #>> '{totals,discount}')::numeric,
		   (quote #>> '{totals,net}')::numeric,
		   (SELECT sum((l ->> 'cost')::numeric) FROM jsonb_array_elements(quote -> 'lines') l),
		   (quote #>> '{totals,discount}')::numeric > 0,
		   (quote #>> '{totals,points_paid}')::bigint,
		   record_priced_cart.external_ref
	RETURNING order_id INTO oid;

	INSERT INTO crm.order_lines (client_id, order_id, line_no, product_id, quantity, unit_price,
								 gross_amount, discount_amount, net_amount, cost_amount)
	SELECT c, oid, (l ->> 'line')::integer, (l ->> 'product_id')::bigint,
		   (l ->> 'quantity')::numeric, (l ->> 'unit_price')::numeric,
		   (l ->> 'gross')::numeric, (l ->> 'discount')::numeric,
		   (l ->> 'net')::numeric, (l ->> 'cost')::numeric
	  FROM jsonb_array_elements(quote -> 'lines') l;

	-- the rules' earned points go to the quote's programme, when it has one
	INSERT INTO crm.order_discounts (client_id, order_id, rule_id, amount, points, program_id)
	SELECT c, oid, (r ->> 'rule_id')::bigint, coalesce((r ->> 'amount')::numeric, 0),
		   coalesce((r ->> 'points')::bigint, 0),
		   CASE WHEN r ->> 'action' IN ('cashback', 'points_multiplier')
				THEN (SELECT p.program_id FROM crm.loyalty_programs p WHERE p.code = quote ->> 'program') END
	  FROM jsonb_array_elements(quote -> 'rules') r
	 WHERE r ->> 'status' = 'applied';

	-- count the uses, in rule order; a limited rule only while below its limit
	FOR u IN
		SELECT d.rule_id, d.code, d.uses_per_client
		  FROM crm.order_discounts od
		  JOIN crm.discount_rules d ON d.rule_id = od.rule_id
		 WHERE od.client_id = c AND od.order_id = oid
		 ORDER BY d.rule_id
	LOOP
		INSERT INTO crm.discount_usage AS du (client_id, rule_id, uses, last_used_at)
		VALUES (c, u.rule_id, 1, at)
		ON CONFLICT (client_id, rule_id) DO UPDATE
			SET uses = du.uses + 1,
				last_used_at = greatest(du.last_used_at, excluded.last_used_at)
			WHERE u.uses_per_client IS NULL OR du.uses < u.uses_per_client
		RETURNING du.uses INTO n;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'discount rule "%" was already used % times by client %', u.code,
				u.uses_per_client, c
				USING ERRCODE = 'check_violation';
		END IF;
	END LOOP;

	IF paid > 0 THEN
		PERFORM crm.redeem_points(c, quote ->> 'program', paid, format('crm order %s', oid),
								  oid, 'paid with points when the order was recorded');
	END IF;

	RETURN oid;
END
$$;
COMMENT ON FUNCTION crm.record_priced_cart(jsonb, text, text, text) IS 'stores a quote of crm.price_cart as an order with its lines, the rules it used and their per-client use counts, after pricing the cart again under the client''s lock: an out-of-date quote is refused; a repeated external_ref returns the first order; points paid are redeemed from the quote''s loyalty programme with crm.redeem_points';

CREATE OR REPLACE FUNCTION crm.open_loyalty_account(client_id bigint, program text)
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

CREATE OR REPLACE FUNCTION crm.award_order_points(client_id bigint, order_id bigint, program text,
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

CREATE OR REPLACE FUNCTION crm.award_welcome_bonus(client_id bigint, program text, actor text DEFAULT NULL)
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

DROP FUNCTION crm.award_birthday_bonus(bigint, text, date, text);
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
REVOKE EXECUTE ON FUNCTION crm.award_birthday_bonus(bigint, text, date, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.award_birthday_bonus(bigint, text, date, text, boolean) TO crm_admin;

DROP FUNCTION crm.update_tier(bigint, text, timestamptz, text);
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
REVOKE EXECUTE ON FUNCTION crm.update_tier(bigint, text, timestamptz, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.update_tier(bigint, text, timestamptz, text, boolean) TO crm_admin, crm_app;

/*
 * owns_client: whether the current role owns the client.  The manager
 * policies of a distributed database use it in place of the subquery of
 * crm.owned_client_ids(), which Citus refuses in a policy (src/owner.c).
 */
CREATE FUNCTION crm.owns_client(client_id bigint)
RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crm_owns_client';
COMMENT ON FUNCTION crm.owns_client(bigint) IS 'whether the current role owns the client: the manager policies on a Citus cluster (crm.distribute)';

/*
 * clients_keep_discount_rules: on a cluster, the delete side of the
 * foreign key from crm.discount_rules (a reference table) to crm.clients
 * (distributed), which Citus does not have: a client with rules of its own
 * is not deleted or re-keyed, with the error the key gave.  The insert
 * side is crm.discount_rules_validate().  crm.distribute() adds the
 * trigger; one node has the key itself.
 */
CREATE FUNCTION crm.clients_keep_discount_rules() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.client_id = NEW.client_id THEN
		RETURN NEW;
	END IF;
	IF EXISTS (SELECT 1 FROM crm.discount_rules r WHERE r.client_id = OLD.client_id) THEN
		RAISE EXCEPTION 'update or delete on table "clients" violates foreign key constraint "discount_rules_client_fkey" on table "discount_rules"'
			USING ERRCODE = 'foreign_key_violation',
				  DETAIL = format('Key (client_id)=(%s) is still referenced from table "discount_rules".', OLD.client_id);
	END IF;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION crm.clients_keep_discount_rules() IS 'trigger on a Citus cluster: a client with discount rules of its own is not deleted or re-keyed (the key discount_rules_client_fkey, which Citus does not have)';

/*
 * distribution_plan: every table of crm and crm_demo, and what
 * crm.distribute() makes of it.
 */
CREATE FUNCTION crm.distribution_plan()
RETURNS TABLE (table_name regclass, extension name, kind text, colocate_with regclass)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
	SELECT c.oid::regclass,
		   e.extname,
		   CASE WHEN a.attnotnull THEN 'distributed' ELSE 'reference' END,
		   CASE WHEN a.attnotnull AND c.oid <> 'crm.clients'::regclass
				THEN 'crm.clients'::regclass END
	  FROM pg_depend d
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname IN ('crm', 'crm_demo')
	  JOIN pg_class c ON c.oid = d.objid AND c.relkind IN ('r', 'p')
	  LEFT JOIN pg_attribute a
		ON a.attrelid = c.oid AND a.attname = 'client_id' AND NOT a.attisdropped
	 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
	   AND d.deptype = 'e'
	 ORDER BY c.oid <> 'crm.clients'::regclass, 3, c.relname
$$;
COMMENT ON FUNCTION crm.distribution_plan() IS 'every table of crm and crm_demo and what crm.distribute makes of it: distributed by client_id (co-located with crm.clients) or reference';

/*
 * distribute: on a Citus coordinator, distributes crm's tables as
 * distribution_plan() says, in one transaction: the rows already there
 * move to the shards and the coordinator's local copies are emptied; the
 * foreign keys are re-created where Citus has them (between co-located
 * tables, to reference tables, between reference tables), the one from a
 * reference table to a distributed one (discount_rules.client_id) is left
 * to the rule's trigger, which checks it on the coordinator; the manager
 * policies take the form Citus accepts (crm.owns_client).  Calling it
 * again changes nothing.  shard_count: the shards of a distributed table
 * (default: citus.shard_count).
 */
CREATE FUNCTION crm.distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (table_name regclass, kind text, action text, rows_moved bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p			record;
	fk			record;
	tg			record;
	todo		regclass[] := '{}';
	moved		bigint;
	fks			text[] := '{}';
	left_out	text[] := '{}';
	triggers	text[] := '{}';
	stmt		text;
	messages	text := current_setting('client_min_messages');
	early		jsonb := '{}';
	kinds		jsonb;
BEGIN
	-- table names in full, here and in what is sent to the workers
	PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'crm.distribute needs Citus: the extension citus is not installed in database "%"', current_database()
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Add citus to shared_preload_libraries, CREATE EXTENSION citus, add the workers (citus_add_node), then call crm.distribute() (docs/scale-out.md).';
	END IF;
	IF shard_count IS NOT NULL AND (shard_count < 1 OR shard_count > 64000) THEN
		RAISE EXCEPTION 'shard_count % is out of range: 1 to 64000', shard_count
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT citus_is_coordinator() THEN
		RAISE EXCEPTION 'crm.distribute runs on the coordinator, not on a worker'
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_dist_node WHERE groupid = 0) THEN
		RAISE EXCEPTION 'crm.distribute runs on a coordinator that is in Citus''s metadata'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'On the coordinator: SELECT citus_set_coordinator_host(''<its host>'', <its port>); then add the workers.';
	END IF;
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = 'crm.clients'::regclass), 'USAGE') THEN
		RAISE EXCEPTION 'crm.distribute must be run by the owner of crm''s tables (%)',
			(SELECT relowner::regrole FROM pg_class WHERE oid = 'crm.clients'::regclass)
			USING ERRCODE = 'insufficient_privilege';
	END IF;

	SELECT jsonb_object_agg(d.table_name::text, d.kind) INTO kinds FROM crm.distribution_plan() d;

	-- what is already done, and any table Citus has in another form
	FOR p IN SELECT d.*, x.partmethod, x.repmodel,
					CASE WHEN x.partmethod = 'h' THEN column_to_column_name(x.logicalrelid, x.partkey) END AS key
			   FROM crm.distribution_plan() d
			   LEFT JOIN pg_dist_partition x ON x.logicalrelid = d.table_name
	LOOP
		IF p.partmethod IS NULL THEN
			todo := todo || p.table_name;
		ELSIF NOT ((p.kind = 'distributed' AND p.partmethod = 'h' AND p.key = 'client_id'
					AND (p.colocate_with IS NULL
						 OR (SELECT a.colocationid = b.colocationid
							   FROM pg_dist_partition a, pg_dist_partition b
							  WHERE a.logicalrelid = p.table_name
								AND b.logicalrelid = p.colocate_with)))
				   OR (p.kind = 'reference' AND p.partmethod = 'n' AND p.repmodel = 't')) THEN
			RAISE EXCEPTION 'table % is already managed by Citus, but not as crm.distribute makes it (%)', p.table_name,
				CASE p.kind WHEN 'distributed' THEN 'distributed by client_id, co-located with crm.clients'
					ELSE 'a reference table' END
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Undo it (undistribute_table) and call crm.distribute() again.';
		END IF;
	END LOOP;

	IF cardinality(todo) > 0 THEN
		PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
		PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
		IF shard_count IS NOT NULL THEN
			PERFORM set_config('citus.shard_count', shard_count::text, true);
		END IF;

		-- first, for crm and for crm_demo, a reference table that nothing
		-- refers to, with no key, trigger or policy: Citus then creates the
		-- extension on the workers, in a session of its own, before this
		-- transaction holds locks there (in a database that had crm before
		-- it had Citus, the extension would otherwise be created with the
		-- first table that needs it, waiting on those locks)
		FOR p IN SELECT DISTINCT ON (d.extension) d.extension, d.table_name
				   FROM crm.distribution_plan() d
				  WHERE d.table_name = ANY (todo) AND d.kind = 'reference'
					AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.contype = 'f'
									 AND d.table_name IN (c.conrelid, c.confrelid))
					AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = d.table_name AND NOT t.tgisinternal)
					AND NOT EXISTS (SELECT 1 FROM pg_policy y WHERE y.polrelid = d.table_name)
				  ORDER BY d.extension, d.table_name::text
		LOOP
			EXECUTE format('SELECT count(*) FROM ONLY %s', p.table_name) INTO moved;
			PERFORM set_config('client_min_messages', 'warning', true);
			PERFORM create_reference_table(p.table_name);
			PERFORM set_config('client_min_messages', messages, true);
			early := early || jsonb_build_object(p.table_name::text, moved);
		END LOOP;

		-- the foreign keys that touch a table to be distributed, kept to be
		-- re-created; dropped here and on the workers, whose copies of crm's
		-- tables (created with the extension) become Citus's shells there
		FOR fk IN SELECT c.conrelid::regclass AS rel, c.conname, c.confrelid::regclass AS ref,
						 pg_get_constraintdef(c.oid) AS def
					FROM pg_constraint c
				   WHERE c.contype = 'f'
					 AND (c.conrelid = ANY (todo) OR c.confrelid = ANY (todo))
				   ORDER BY c.conrelid::regclass::text, c.conname
		LOOP
			IF kinds ->> fk.rel::text = 'reference' AND kinds ->> fk.ref::text = 'distributed' THEN
				left_out := left_out || format('%s.%s', fk.rel, fk.conname);
			ELSE
				fks := fks || format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.rel, fk.conname, fk.def);
			END IF;
			EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.rel, fk.conname);
			PERFORM run_command_on_workers(
				format('ALTER TABLE IF EXISTS %s DROP CONSTRAINT IF EXISTS %I', fk.rel, fk.conname));
		END LOOP;

		-- the manager policies with a subquery (Citus refuses them)
		FOR p IN SELECT format('%I.%I', schemaname, tablename) AS rel
				   FROM pg_policies
				  WHERE policyname = 'crm_manager'
					AND format('%I.%I', schemaname, tablename)::regclass = ANY (todo)
					AND (qual ~ 'SELECT' OR with_check ~ 'SELECT')
		LOOP
			EXECUTE format('DROP POLICY crm_manager ON %s', p.rel);
			PERFORM run_command_on_workers(format('DROP POLICY IF EXISTS crm_manager ON %s', p.rel));
		END LOOP;

		-- the triggers stay off while the rows move (the guards of the
		-- shipped rows and of the append-only ledger would refuse the copy
		-- and the emptying of the local tables), then come back as they were
		FOR tg IN SELECT t.tgrelid::regclass AS rel, t.tgname, t.tgenabled
					FROM pg_trigger t
				   WHERE t.tgrelid = ANY (todo) AND NOT t.tgisinternal
		LOOP
			EXECUTE format('ALTER TABLE %s DISABLE TRIGGER %I', tg.rel, tg.tgname);
			triggers := triggers || format('ALTER TABLE %s %s TRIGGER %I', tg.rel,
				CASE tg.tgenabled WHEN 'A' THEN 'ENABLE ALWAYS' WHEN 'R' THEN 'ENABLE REPLICA'
								  WHEN 'D' THEN 'DISABLE' ELSE 'ENABLE' END, tg.tgname);
		END LOOP;
	END IF;

	FOR p IN SELECT * FROM crm.distribution_plan() LOOP
		table_name := p.table_name;
		kind := p.kind;
		rows_moved := 0;
		IF NOT p.table_name = ANY (todo) THEN
			action := 'already';
			RETURN NEXT;
			CONTINUE;
		END IF;
		IF early ? p.table_name::text THEN
			action := 'made reference';
			rows_moved := (early ->> p.table_name::text)::bigint;
			RETURN NEXT;
			CONTINUE;
		END IF;
		EXECUTE format('SELECT count(*) FROM ONLY %s', p.table_name) INTO moved;
		PERFORM set_config('client_min_messages', 'warning', true);	-- Citus's notice per table
		IF p.kind = 'distributed' AND p.colocate_with IS NULL THEN
			PERFORM create_distributed_table(p.table_name, 'client_id');
		ELSIF p.kind = 'distributed' THEN
			PERFORM create_distributed_table(p.table_name, 'client_id', colocate_with => p.colocate_with::text);
		ELSE
			PERFORM create_reference_table(p.table_name);
		END IF;
		action := CASE p.kind WHEN 'distributed' THEN 'distributed' ELSE 'made reference' END;
		PERFORM set_config('client_min_messages', messages, true);
		rows_moved := moved;
		RETURN NEXT;
	END LOOP;

	IF cardinality(todo) > 0 THEN
		-- no local copy left for anything to read or write
		PERFORM set_config('client_min_messages', 'warning', true);
		FOREACH table_name IN ARRAY todo LOOP
			PERFORM truncate_local_data_after_distributing_table(table_name);
		END LOOP;
		PERFORM set_config('client_min_messages', messages, true);
		FOREACH stmt IN ARRAY fks LOOP
			EXECUTE stmt;
		END LOOP;
		FOREACH stmt IN ARRAY triggers LOOP
			EXECUTE stmt;
		END LOOP;
		-- the category tree's key: on one node a trigger keeps it (so that
		-- pg_dump has no loop of keys to warn about), which cannot read the
		-- table from inside Citus's write to a reference table; Citus keeps
		-- a reference table's key to itself, so the key is real here
		IF 'crm.categories'::regclass = ANY (todo) THEN
			ALTER TABLE crm.categories ADD CONSTRAINT categories_parent_fkey
				FOREIGN KEY (parent_id) REFERENCES crm.categories (category_id);
			ALTER TABLE crm.categories DISABLE TRIGGER categories_parent_exists;
		END IF;
	END IF;

	-- the manager policies, in the form Citus accepts (no subquery)
	FOR p IN SELECT d.table_name FROM crm.distribution_plan() d
			  WHERE d.kind = 'distributed' AND d.table_name <> 'crm.clients'::regclass
				AND d.table_name IN (SELECT format('%I.%I', schemaname, tablename)::regclass
									   FROM pg_policies WHERE policyname = 'crm_staff')
				AND NOT EXISTS (SELECT 1 FROM pg_policies y
								 WHERE format('%I.%I', y.schemaname, y.tablename)::regclass = d.table_name
								   AND y.policyname = 'crm_manager')
	LOOP
		EXECUTE format('CREATE POLICY crm_manager ON %s TO crm_manager'
					   ' USING (crm.owns_client(client_id)) WITH CHECK (crm.owns_client(client_id))',
					   p.table_name);
	END LOOP;
	IF NOT EXISTS (SELECT 1 FROM pg_policies
					WHERE schemaname = 'crm' AND tablename = 'discount_rules' AND policyname = 'crm_manager') THEN
		CREATE POLICY crm_manager ON crm.discount_rules FOR SELECT TO crm_manager
			USING (client_id IS NULL OR crm.owns_client(client_id));
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'discount_rules_client_fkey'
					AND conrelid = 'crm.discount_rules'::regclass)
	   AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'clients_keep_discount_rules'
						AND tgrelid = 'crm.clients'::regclass) THEN
		CREATE TRIGGER clients_keep_discount_rules BEFORE DELETE OR UPDATE OF client_id ON crm.clients
			FOR EACH ROW EXECUTE FUNCTION crm.clients_keep_discount_rules();
	END IF;
	IF cardinality(left_out) > 0 THEN
		RAISE NOTICE 'foreign keys from a reference table to a distributed table, which Citus does not have, are kept by triggers instead: %',
			array_to_string(left_out, ', ');
	END IF;
END
$$;
COMMENT ON FUNCTION crm.distribute(integer) IS 'on a Citus coordinator: distributes crm''s client-keyed tables by client_id (co-located), makes the others reference tables, moves the rows there; idempotent';
REVOKE EXECUTE ON FUNCTION crm.distribute(integer) FROM PUBLIC;

/*
 * crm.rfm_scores and crm.churn_signals on a Citus cluster: per-client rows
 * gathered from the shards and finished in C (the "shards" path of
 * crm.fast_path_stats); the profile's state as bytes, and back.
 */
COMMENT ON FUNCTION crm.fast_path_stats() IS 'the calls of this session''s crm functions with a C path, by function, path taken (c: a pass over the table; shards: per-client rows gathered from a Citus cluster''s shards; sql: the SQL twin) and, for shards and sql, the reason';

CREATE AGGREGATE crm.purchase_profile_state(purchased_at timestamptz, amount numeric, offer boolean) (
	SFUNC = crm.purchase_profile_transfn,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = crm.purchase_profile_serialfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.purchase_profile_combinefn,
	SERIALFUNC = crm.purchase_profile_serialfn,
	DESERIALFUNC = crm.purchase_profile_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.purchase_profile_state(timestamptz, numeric, boolean) IS 'the state of crm.purchase_profile(purchased_at, amount, offer) as bytes, to be combined elsewhere (crm.churn_signals on a Citus cluster gathers one per client from the shards)';

/*
 * The same state with two windows: the purchases after recent_from, and
 * those after previous_from up to recent_from (count, spend), accumulated
 * in the same pass: what crm.churn_signals gathers per client from the
 * shards of a Citus cluster.
 */
CREATE FUNCTION crm.purchase_profile_windows_transfn(internal, timestamptz, numeric, boolean, timestamptz, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_windows_transfn(internal, timestamptz, numeric, boolean, timestamptz, timestamptz) IS 'transition function of crm.purchase_profile_state(timestamptz, numeric, boolean, timestamptz, timestamptz)';

CREATE FUNCTION crm.purchase_profile_windows_combinefn(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_windows_combinefn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_windows_combinefn(internal, internal) IS 'combine function of crm.purchase_profile_state with windows: exact, whatever the split of the rows';

CREATE FUNCTION crm.purchase_profile_windows_serialfn(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'profile_windows_serialfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_windows_serialfn(internal) IS 'serialisation (and final) function of crm.purchase_profile_state with windows';

CREATE FUNCTION crm.purchase_profile_windows_deserialfn(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_windows_deserialfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_windows_deserialfn(bytea, internal) IS 'deserialisation function of crm.purchase_profile_state with windows: validates the bytes';

CREATE AGGREGATE crm.purchase_profile_state(purchased_at timestamptz, amount numeric, offer boolean,
											 recent_from timestamptz, previous_from timestamptz) (
	SFUNC = crm.purchase_profile_windows_transfn,
	STYPE = internal,
	SSPACE = 320,
	FINALFUNC = crm.purchase_profile_windows_serialfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.purchase_profile_windows_combinefn,
	SERIALFUNC = crm.purchase_profile_windows_serialfn,
	DESERIALFUNC = crm.purchase_profile_windows_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.purchase_profile_state(timestamptz, numeric, boolean, timestamptz, timestamptz) IS 'the state of crm.purchase_profile(purchased_at, amount, offer) as bytes, followed by the purchases and spend after recent_from and in (previous_from, recent_from] (crm.churn_signals on a Citus cluster gathers one per client from the shards)';

CREATE FUNCTION crm.purchase_profile_from_state(state bytea)
RETURNS crm.purchase_profile
AS 'MODULE_PATHNAME', 'profile_from_state'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_from_state(bytea) IS 'the purchase profile of a state made by crm.purchase_profile_state (with or without windows); an error (22P03) when the bytes are not such a state';

/*
 * crm.price_cart knows the client: the stored segment and the loyalty
 * programme of the client's account; the points of an order under a
 * programme, one rule for pricing, redeeming and awarding.
 */
COMMENT ON FUNCTION crm.price_cart(bigint, jsonb, timestamptz) IS 'prices a cart (lines of product, quantity, price list) for a client at a moment: per line the price and each discount, every rule considered (applied with its amount or skipped with the reason), totals, the points the order earns (the loyalty programme''s cashback and the bonus rules'') and the most points payable; the client''s stored segment and loyalty programme when the cart names none';

CREATE FUNCTION crm.loyalty_earn(p crm.loyalty_programs, tier_code text, net numeric,
								 points_paid bigint)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
	SELECT floor(CASE WHEN p.earn_on_points_paid THEN net
					  ELSE greatest(net - coalesce(points_paid, 0) * p.point_value, 0) END
				 * coalesce(p.points_per_unit, p.cashback_percent / 100 / p.point_value)
				 * coalesce((SELECT t.earn_multiplier FROM crm.loyalty_tiers t
							  WHERE t.program_id = p.program_id AND t.tier_code = loyalty_earn.tier_code), 1))::bigint
$$;
COMMENT ON FUNCTION crm.loyalty_earn(crm.loyalty_programs, text, numeric, bigint) IS 'internal: the programme''s cashback points of an order (net amount, points paid) for a client in a tier: floor(base x rate x tier multiplier)';

CREATE FUNCTION crm.loyalty_redeem_cap(p crm.loyalty_programs, net numeric)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
	SELECT floor(p.max_redeem_share * net / p.point_value)::bigint
$$;
COMMENT ON FUNCTION crm.loyalty_redeem_cap(crm.loyalty_programs, numeric) IS 'internal: the most points an order of this net amount may be paid with in the programme: floor(max_redeem_share x net / point_value)';

REVOKE EXECUTE ON FUNCTION crm.loyalty_earn(crm.loyalty_programs, text, numeric, bigint),
	crm.loyalty_redeem_cap(crm.loyalty_programs, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.loyalty_earn(crm.loyalty_programs, text, numeric, bigint),
	crm.loyalty_redeem_cap(crm.loyalty_programs, numeric)
	TO crm_admin, crm_analyst, crm_app, crm_manager;

ALTER TABLE crm.order_discounts ADD COLUMN program_id bigint,
	ADD CONSTRAINT order_discounts_program_fkey FOREIGN KEY (program_id)
		REFERENCES crm.loyalty_programs (program_id);
CREATE INDEX order_discounts_program_idx ON crm.order_discounts (program_id);
COMMENT ON COLUMN crm.order_discounts.program_id IS 'for a cashback or points_multiplier rule: the loyalty programme of the quote, which crm.award_order_points credits the rule''s points to when the order is paid; NULL otherwise';

/*
 * ---- loading one's own data ----
 *
 * The discount checks of orders and order lines leave a negative gross
 * amount to the checks that name it (PostgreSQL checks a row's CHECK
 * constraints in the order of their names, discount before gross).
 * Every row that met the old checks meets the new ones.
 */
ALTER TABLE crm.orders DROP CONSTRAINT orders_discount_amount_check,
	ADD CONSTRAINT orders_discount_amount_check
		CHECK (discount_amount >= 0 AND (discount_amount <= gross_amount OR gross_amount < 0));
ALTER TABLE crm.order_lines DROP CONSTRAINT order_lines_discount_amount_check,
	ADD CONSTRAINT order_lines_discount_amount_check
		CHECK (discount_amount >= 0 AND (discount_amount <= gross_amount OR gross_amount < 0));

/*
 * The category tree's foreign key from crm.categories to itself becomes a
 * trigger, so that pg_dump no longer warns about a loop on every dump (the
 * rows it has met the key, so they meet the trigger).  On a Citus cluster
 * (categories is then a reference table) the trigger needs
 * citus.enable_unsafe_triggers, as crm.distribute sets it.
 */
DO $citus$
BEGIN
	IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	END IF;
END
$citus$;
ALTER TABLE crm.categories DROP CONSTRAINT categories_parent_fkey;
CREATE FUNCTION crm.categories_check_parent() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	child		integer;
BEGIN
	/* on a Citus cluster the coordinator's copy of the table checks (crm.distribute) */
	IF crm.in_citus_task() THEN
		RETURN NULL;
	END IF;
	IF TG_OP <> 'DELETE' AND NEW.parent_id IS NOT NULL THEN
		PERFORM 1 FROM crm.categories c WHERE c.category_id = NEW.parent_id FOR KEY SHARE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'parent category % of category % does not exist',
				NEW.parent_id, NEW.category_id
				USING ERRCODE = 'foreign_key_violation';
		END IF;
	END IF;
	IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.category_id <> OLD.category_id) THEN
		SELECT c.category_id INTO child FROM crm.categories c
		 WHERE c.parent_id = OLD.category_id ORDER BY c.category_id LIMIT 1;
		IF FOUND THEN
			RAISE EXCEPTION 'category % still has sub-categories', OLD.category_id
				USING ERRCODE = 'foreign_key_violation',
					  DETAIL = format('Category %s is a sub-category of it.', child),
					  HINT = 'Delete its sub-categories, or give them another parent, first.';
		END IF;
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.categories_check_parent() IS 'trigger: the parent of a category exists, and a category with sub-categories is not deleted or renumbered (the tree''s foreign key, kept by a trigger so that pg_dump has no loop to warn about)';
REVOKE EXECUTE ON FUNCTION crm.categories_check_parent() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER categories_parent_exists
	AFTER INSERT OR UPDATE OF category_id, parent_id OR DELETE ON crm.categories
	FOR EACH ROW EXECUTE FUNCTION crm.categories_check_parent();

/*
 * crm.sync_sequences(): every identity sequence of crm's tables past the
 * largest loaded id (docs/loading.md).
 */
CREATE FUNCTION crm.sync_sequences()
RETURNS TABLE (table_name regclass, column_name name, sequence_name regclass,
			   next_before bigint, next_after bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	s			record;
	last_v		bigint;
	called		boolean;
	edge		bigint;
BEGIN
	PERFORM crm.refuse_in_citus_task('crm.sync_sequences');
	FOR s IN
		SELECT d.refobjid::regclass AS tab, a.attname AS col, q.seqrelid::regclass AS seq,
			   q.seqincrement AS inc
		  FROM pg_catalog.pg_sequence q
		  JOIN pg_catalog.pg_depend d
			ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = q.seqrelid
		   AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjsubid > 0
		   AND d.deptype IN ('a', 'i')
		  JOIN pg_catalog.pg_attribute a
			ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		  JOIN pg_catalog.pg_depend e
			ON e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = d.refobjid
		   AND e.refclassid = 'pg_catalog.pg_extension'::regclass AND e.deptype = 'e'
		  JOIN pg_catalog.pg_extension x ON x.oid = e.refobjid AND x.extname = 'crm'
		 ORDER BY d.refobjid, a.attnum
	LOOP
		EXECUTE format('LOCK TABLE %s IN SHARE MODE', s.tab);
		EXECUTE format('SELECT %s(%I)::bigint FROM %s',
					   CASE WHEN s.inc > 0 THEN 'max' ELSE 'min' END, s.col, s.tab)
			INTO edge;
		CONTINUE WHEN edge IS NULL;
		EXECUTE format('SELECT last_value, is_called FROM %s', s.seq) INTO last_v, called;
		next_before := CASE WHEN called THEN last_v + s.inc ELSE last_v END;
		CONTINUE WHEN (s.inc > 0 AND next_before > edge) OR (s.inc < 0 AND next_before < edge);
		PERFORM pg_catalog.setval(s.seq, edge, true);
		table_name := s.tab;
		column_name := s.col;
		sequence_name := s.seq;
		next_after := edge + s.inc;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION crm.sync_sequences() IS 'after a load with explicit ids: moves every identity sequence of crm''s tables past the largest id of its column (never back); returns the sequences it moved, with the next value before and after';
REVOKE EXECUTE ON FUNCTION crm.sync_sequences() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.sync_sequences() TO crm_admin;

/*
 * ---- nothing irreversible by mistake; least privilege on the segments ----
 *
 * crm.future_tolerance: orders and interactions (but scheduled ones)
 * dated beyond now plus the tolerance are refused; the jobs that write for
 * a date refuse a later one unless allow_future (the birthday jobs another
 * day than today unless allow_other_day): a new trailing argument, so the
 * functions are made anew, with their privileges and comments.
 * crm.rewind_segments takes refreshes back.  The segment tables are
 * written by the owner's functions only; crm_app does not read them;
 * crm_admin reads every sequence (pg_dump).
 */
/*
 * How far in the future a time written to crm may lie: now (the clock)
 * plus the setting crm.future_tolerance (default 1h; src/future.c).
 * Orders and interactions dated later are refused by the trigger
 * crm.refuse_future_row(), but for scheduled interactions; the jobs that
 * write for a date refuse a later one unless called with
 * allow_future => true (crm.refuse_future), since what they write
 * (expiries, segment changes, tier moves) is not undone by running them
 * again for the right date.
 */
CREATE FUNCTION crm.future_tolerance()
RETURNS interval
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crm_future_tolerance';
COMMENT ON FUNCTION crm.future_tolerance() IS 'the setting crm.future_tolerance as an interval: how far past now a time written to crm may lie';

CREATE FUNCTION crm.refuse_future_row() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'crm_refuse_future_row';
COMMENT ON FUNCTION crm.refuse_future_row() IS 'trigger (table name, timestamptz column[, column, value that exempts the row]): refuses a row dated beyond now plus crm.future_tolerance (22023)';

CREATE FUNCTION crm.refuse_future(function_name text, argument text, value timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	v_limit		timestamptz := pg_catalog.clock_timestamp() + crm.future_tolerance();
BEGIN
	IF value > v_limit THEN
		RAISE EXCEPTION '% % is in the future', argument, value
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('%s writes for a time at most crm.future_tolerance (%s) past now, %s: what it writes for a later time is not undone by running it again.',
								  function_name, current_setting('crm.future_tolerance'), v_limit),
				  HINT = format('To run %s for a later time on purpose, pass allow_future => true.',
								function_name);
	END IF;
END
$$;
COMMENT ON FUNCTION crm.refuse_future(text, text, timestamptz) IS 'internal: the error (22023) of a job that writes for a date called for a time beyond now plus crm.future_tolerance';

/* an order does not lie in the future (crm.future_tolerance) */
CREATE TRIGGER orders_not_future BEFORE INSERT OR UPDATE OF ordered_at ON crm.orders
	FOR EACH ROW EXECUTE FUNCTION crm.refuse_future_row('crm.orders', 'ordered_at');

/* nor an interaction, unless it is scheduled (crm.future_tolerance) */
CREATE TRIGGER interactions_not_future BEFORE INSERT OR UPDATE OF occurred_at, outcome
	ON crm.interactions
	FOR EACH ROW EXECUTE FUNCTION crm.refuse_future_row('crm.interactions', 'occurred_at',
														'outcome', 'scheduled');

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

CREATE OR REPLACE FUNCTION crm.award_paid_orders(program text, since timestamptz DEFAULT NULL,
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

DROP FUNCTION crm.award_birthday_bonuses(text, date, text);
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
REVOKE EXECUTE ON FUNCTION crm.award_birthday_bonuses(text, date, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.award_birthday_bonuses(text, date, text, boolean) TO crm_admin;

DROP FUNCTION crm.update_tiers(text, timestamptz, text);
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
REVOKE EXECUTE ON FUNCTION crm.update_tiers(text, timestamptz, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.update_tiers(text, timestamptz, text, boolean) TO crm_admin;

DROP FUNCTION crm.expire_points(timestamptz, text, text);
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
REVOKE EXECUTE ON FUNCTION crm.expire_points(timestamptz, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.expire_points(timestamptz, text, text, boolean) TO crm_admin;

/*
 * Rewind: takes back every refresh after a time, as if it had not run.
 * The labels and since of each client it touched come back from the log
 * (each dimension's last change at or before to_as_of; a client with no
 * label left has no row, as before its first refresh); the transitions
 * and the refresh rows after to_as_of go; a row of crm.segment_rewinds
 * says what was taken back, and one notification on crm_segment_change.
 * The three-digit RFM codes are not in the log: every client's code is
 * NULL until the next refresh sets it.  SECURITY DEFINER, for crm_admin.
 */
CREATE TABLE crm.segment_rewinds (
	rewound_at		timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	to_as_of		timestamptz NOT NULL,
	refreshes		timestamptz[] NOT NULL,
	clients			bigint NOT NULL,
	transitions		bigint NOT NULL,
	made_by			text NOT NULL,
	CONSTRAINT segment_rewinds_pkey PRIMARY KEY (rewound_at)
);
COMMENT ON TABLE crm.segment_rewinds IS 'every crm.rewind_segments run that took refreshes back: the time rewound to, the as_of of the refreshes taken back, the clients restored, the transitions removed, who did it';
SELECT pg_catalog.pg_extension_config_dump('crm.segment_rewinds', '');

CREATE FUNCTION crm.rewind_segments(to_as_of timestamptz)
RETURNS crm.segment_rewinds
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	w			crm.segment_rewinds;
	v_refreshes	timestamptz[];
	n_clients	bigint;
	n_changes	bigint;
BEGIN
	PERFORM crm.refuse_in_citus_task('crm.rewind_segments');
	IF to_as_of IS NULL THEN
		RAISE EXCEPTION 'to_as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;

	LOCK TABLE crm.client_segments IN SHARE ROW EXCLUSIVE MODE;

	SELECT array_agg(r.as_of ORDER BY r.as_of) INTO v_refreshes
	  FROM crm.segment_refreshes r WHERE r.as_of > to_as_of;
	IF v_refreshes IS NULL THEN
		RETURN NULL;
	END IF;

	SELECT count(DISTINCT t.client_id), count(*) INTO n_clients, n_changes
	  FROM crm.segment_transitions t WHERE t.as_of > to_as_of;

	/* the clients touched after to_as_of: their rows as the log had them then */
	DELETE FROM crm.client_segments cs
	 WHERE cs.client_id IN (SELECT t.client_id FROM crm.segment_transitions t
							 WHERE t.as_of > to_as_of);
	INSERT INTO crm.client_segments (client_id, rfm, rfm_segment, behaviour_class, churn_status, since)
	SELECT k.client_id, NULL, k.rfm_segment, k.behaviour_class, k.churn_status, k.since
	  FROM (SELECT t.client_id,
				   (array_agg(t.to_value ORDER BY t.transition_id DESC)
						FILTER (WHERE t.dimension = 'rfm_segment'))[1] AS rfm_segment,
				   (array_agg(t.to_value ORDER BY t.transition_id DESC)
						FILTER (WHERE t.dimension = 'behaviour_class'))[1] AS behaviour_class,
				   (array_agg(t.to_value ORDER BY t.transition_id DESC)
						FILTER (WHERE t.dimension = 'churn_status'))[1] AS churn_status,
				   max(t.as_of) AS since
			  FROM crm.segment_transitions t
			 WHERE t.as_of <= to_as_of
			   AND t.client_id IN (SELECT x.client_id FROM crm.segment_transitions x
									WHERE x.as_of > to_as_of)
			 GROUP BY t.client_id) k
	 WHERE k.rfm_segment IS NOT NULL OR k.behaviour_class IS NOT NULL
		OR k.churn_status IS NOT NULL;
	DELETE FROM crm.segment_transitions t WHERE t.as_of > to_as_of;
	DELETE FROM crm.segment_refreshes r WHERE r.as_of > to_as_of;
	UPDATE crm.client_segments cs SET rfm = NULL WHERE cs.rfm IS NOT NULL;
	/* the profile store goes back too (or is rebuilt by the next refresh) */
	IF isfinite(to_as_of) AND EXISTS (SELECT 1 FROM crm.profile_store_state) THEN
		PERFORM crm.refresh_profiles(to_as_of,
									 jsonb_build_object('window_days',
														(SELECT s.window_days FROM crm.profile_store_state s)));
	ELSE
		DELETE FROM crm.profile_store_state;
	END IF;

	INSERT INTO crm.segment_rewinds (to_as_of, refreshes, clients, transitions, made_by)
	VALUES (to_as_of, v_refreshes, n_clients, n_changes, session_user)
	RETURNING * INTO w;
	PERFORM pg_notify('crm_segment_change',
					  json_build_object('rewound_to', to_as_of, 'refreshes', v_refreshes,
										'transitions', n_changes)::text);
	RETURN w;
END
$$;
COMMENT ON FUNCTION crm.rewind_segments(timestamptz) IS 'takes back every segment refresh after to_as_of: restores the labels each client had then (from the log), removes the later transitions and refreshes, logs a row in crm.segment_rewinds; the RFM codes are NULL until the next refresh; NULL when there is nothing to take back';
REVOKE EXECUTE ON FUNCTION crm.rewind_segments(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.rewind_segments(timestamptz) TO crm_admin;

/* the segment snapshot and its logs: read only, and not by the application */
REVOKE INSERT, UPDATE, DELETE ON crm.client_segments, crm.segment_transitions
	FROM crm_admin, crm_analyst;
REVOKE INSERT, UPDATE ON crm.segment_refreshes FROM crm_admin, crm_analyst;
REVOKE SELECT ON crm.client_segments, crm.segment_transitions, crm.segment_refreshes
	FROM crm_app;
GRANT SELECT ON crm.segment_rewinds TO crm_admin, crm_analyst, crm_manager;
REVOKE USAGE, SELECT ON SEQUENCE crm.segment_transitions_transition_id_seq
	FROM crm_admin, crm_analyst;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA crm TO crm_admin;

/* crm.price_cart, called by the application, reads the client's RFM segment */
GRANT SELECT (client_id, rfm_segment, since) ON crm.client_segments TO crm_app;

/*
 * Money in one currency at a time: crm.one_currency, and the analytics that
 * add or compare amounts refuse purchases in more than one currency
 * (docs/currency.md); loyalty turnover and discount turnover count the
 * programme's or the cart's currency only.  CLV that degrades: the
 * _or_null fits end in a notice and a null model where the data cannot
 * identify it, and crm.clv_report and crm.ltv_cac fit with them.
 */
CREATE FUNCTION crm.one_currency_trans(text, text) RETURNS text
AS 'MODULE_PATHNAME', 'one_currency_trans'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.one_currency_trans(text, text) IS 'transition and combine function of crm.one_currency: the currency so far while the next one is the same, otherwise an error';
CREATE AGGREGATE crm.one_currency(currency text) (
	SFUNC = crm.one_currency_trans,
	STYPE = text,
	COMBINEFUNC = crm.one_currency_trans,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.one_currency(text) IS 'the one currency of the rows (null for none); an error (0A000) when they hold more than one, naming two of them';

CREATE FUNCTION crm.clv_bgnbd_final_or_null(crm.clv_fit_state) RETURNS crm.bgnbd_model
AS 'MODULE_PATHNAME', 'clv_bgnbd_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_pareto_final_or_null(crm.clv_fit_state) RETURNS crm.pareto_nbd_model
AS 'MODULE_PATHNAME', 'clv_pareto_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_gamma_final_or_null(crm.clv_fit_state) RETURNS crm.gamma_gamma_model
AS 'MODULE_PATHNAME', 'clv_gamma_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_bgnbd_final_or_null(crm.clv_fit_state) IS 'final function of crm.bgnbd_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_pareto_final_or_null(crm.clv_fit_state) IS 'final function of crm.pareto_nbd_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_gamma_final_or_null(crm.clv_fit_state) IS 'final function of crm.gamma_gamma_fit_or_null: the fit, or a notice and null';

CREATE AGGREGATE crm.bgnbd_fit_or_null(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgnbd_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgnbd_fit_or_null(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgnbd_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.pareto_nbd_fit_or_null(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_pareto_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_pareto_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.pareto_nbd_fit_or_null(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_pareto_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_pareto_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.gamma_gamma_fit_or_null(frequency float8, monetary float8) (
	SFUNC = crm.clv_gamma_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_gamma_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.gamma_gamma_fit_or_null(frequency float8, monetary float8, penalty float8) (
	SFUNC = crm.clv_gamma_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_gamma_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE crm.bgnbd_fit_or_null(float8, float8, float8) IS 'crm.bgnbd_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgnbd_fit_or_null(float8, float8, float8, float8) IS 'crm.bgnbd_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.pareto_nbd_fit_or_null(float8, float8, float8) IS 'crm.pareto_nbd_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.pareto_nbd_fit_or_null(float8, float8, float8, float8) IS 'crm.pareto_nbd_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.gamma_gamma_fit_or_null(float8, float8) IS 'crm.gamma_gamma_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.gamma_gamma_fit_or_null(float8, float8, float8) IS 'crm.gamma_gamma_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';

CREATE OR REPLACE FUNCTION crm.clv_summary(as_of timestamptz, unit text DEFAULT 'day',
								time_zone text DEFAULT 'UTC')
RETURNS TABLE (client_id bigint, frequency float8, recency float8, t float8,
			   monetary float8, first_purchase date, last_purchase date,
			   orders bigint, revenue numeric, margin numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8;
	as_of_day	date;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	as_of_day := (as_of AT TIME ZONE time_zone)::date;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH days AS (
		SELECT o.client_id, (o.ordered_at AT TIME ZONE time_zone)::date AS day,
			   sum(o.net_amount) AS value,
			   sum(o.net_amount - o.cost_amount) AS margin,
			   count(*) AS orders,
			   crm.one_currency(o.currency) AS cur
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at <= as_of
		 GROUP BY 1, 2
	), ranked AS (
		SELECT d.*, first_value(d.value) OVER w AS first_value
		  FROM days d
		WINDOW w AS (PARTITION BY d.client_id ORDER BY d.day)
	), c AS (
		SELECT r.client_id,
			   (count(*) - 1)::float8 AS frequency,
			   (max(r.day) - min(r.day)) / unit_days AS recency,
			   (as_of_day - min(r.day)) / unit_days AS t,
			   CASE WHEN count(*) > 1
					THEN ((sum(r.value) - min(r.first_value)) / (count(*) - 1))::float8
					ELSE 0 END AS monetary,
			   min(r.day) AS first_day, max(r.day) AS last_day, sum(r.orders)::bigint AS orders,
			   sum(r.value) AS revenue, sum(r.margin) AS margin,
			   -- the purchases of all clients in one currency (an error otherwise)
			   crm.one_currency(crm.one_currency(r.cur)) OVER () AS cur
		  FROM ranked r
		 GROUP BY r.client_id
	)
	SELECT c.client_id, c.frequency, c.recency, c.t, c.monetary, c.first_day, c.last_day,
		   c.orders, c.revenue, c.margin
	  FROM c
	 WHERE c.cur IS NOT NULL;	-- always: keeps the check
END
$$;
COMMENT ON FUNCTION crm.clv_summary(timestamptz, text, text) IS 'per client with purchases up to as_of: frequency (repeat purchase days), recency (last purchase day minus the first, in unit), t (as_of day minus the first purchase day, in unit), monetary (mean value of the repeat purchase days, 0 without), and revenue and margin to date; an error (0A000) when the purchases are in more than one currency';

CREATE OR REPLACE FUNCTION crm.clv_report(as_of timestamptz, horizon float8, unit text DEFAULT 'day',
							   discount_rate float8 DEFAULT 0, period float8 DEFAULT 1,
							   penalty float8 DEFAULT 0, time_zone text DEFAULT 'UTC',
							   transactions crm.bgnbd_model DEFAULT NULL,
							   spend crm.gamma_gamma_model DEFAULT NULL)
RETURNS TABLE (client_id bigint, frequency float8, recency float8, t float8,
			   monetary float8, p_alive float8, expected_purchases float8,
			   expected_spend float8, clv float8, revenue numeric,
			   historical_value numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	checked		float8;
BEGIN
	/* NULL models: fitted on the summaries */
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF horizon IS NULL THEN
		RAISE EXCEPTION 'horizon must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF discount_rate IS NULL THEN
		RAISE EXCEPTION 'discount_rate must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF penalty IS NULL THEN
		RAISE EXCEPTION 'penalty must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	/*
	 * The arguments crm.clv_summary checks, checked here: its errors would
	 * come with the text of the query below as their context.  The errors
	 * of crm's C functions in that query come without it.
	 */
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	checked := crm.clv_unit_days(unit);
	checked := extract(epoch FROM as_of AT TIME ZONE time_zone);
	-- horizon, discount rate and period, checked by crm.clv itself
	checked := crm.clv(ROW(1, 1, 1, 1, 0, 1, 0, true, NULL, NULL)::crm.bgnbd_model,
					   ROW(2, 2, 1, 0, 1, 0, true, NULL, NULL)::crm.gamma_gamma_model,
					   0, 0, 1, 0, horizon, discount_rate, period);
	/*
	 * The models, unless given, fitted by the _or_null aggregates: where the
	 * data cannot identify one, a notice says why and its columns are null;
	 * the summary, revenue and margin are there all the same.
	 */
	RETURN QUERY
	WITH s AS MATERIALIZED (
		SELECT c.*,
			   -- repeat purchases worth nothing in total cannot be modelled
			   CASE WHEN c.frequency = 0 OR c.monetary > 0 THEN c.monetary END AS spend_input
		  FROM crm.clv_summary(as_of, unit, time_zone) c
	), m AS MATERIALIZED (
		SELECT coalesce(transactions,
						(SELECT crm.bgnbd_fit_or_null(s.frequency, s.recency, s.t, penalty) FROM s)) AS bg,
			   coalesce(spend,
						(SELECT crm.gamma_gamma_fit_or_null(s.frequency, s.spend_input, penalty) FROM s)) AS gg
	)
	SELECT s.client_id, s.frequency, s.recency, s.t, s.monetary,
		   crm.bgnbd_p_alive(m.bg, s.frequency, s.recency, s.t),
		   crm.bgnbd_expected_purchases(m.bg, horizon, s.frequency, s.recency, s.t),
		   crm.gamma_gamma_expected_spend(m.gg, s.frequency, s.spend_input),
		   crm.clv(m.bg, m.gg, s.frequency, s.recency, s.t, s.spend_input, horizon,
				   discount_rate, period),
		   s.revenue, s.margin
	  FROM s CROSS JOIN m;
END
$$;
COMMENT ON FUNCTION crm.clv_report(timestamptz, float8, text, float8, float8, float8, text, crm.bgnbd_model, crm.gamma_gamma_model) IS 'per client with purchases up to as_of: the summary, BG/NBD P(alive) and expected purchases over the horizon, Gamma-Gamma expected spend, discounted CLV (in net_amount money), revenue and margin to date; fits both models on the summaries unless given; where the data cannot identify a model (or its fit does not converge), a notice says why and the columns that need it are null; a repeat buyer whose repeat purchases are worth 0 gets no spend and no CLV (null); an error (0A000) when the purchases are in more than one currency';

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
DECLARE
	checked		float8;
BEGIN
	/* NULL margin_rate: the historical margin share */
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF horizon IS NULL THEN
		RAISE EXCEPTION 'horizon must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF discount_rate IS NULL THEN
		RAISE EXCEPTION 'discount_rate must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF penalty IS NULL THEN
		RAISE EXCEPTION 'penalty must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF margin_rate IS NOT NULL AND NOT (margin_rate BETWEEN -1 AND 1) THEN
		RAISE EXCEPTION 'margin rate % is not between -1 and 1', margin_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* as in crm.clv_report: errors without the text of the query below */
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	checked := crm.clv_unit_days(unit);
	checked := extract(epoch FROM as_of AT TIME ZONE time_zone);
	checked := crm.clv(ROW(1, 1, 1, 1, 0, 1, 0, true, NULL, NULL)::crm.bgnbd_model,
					   ROW(2, 2, 1, 0, 1, 0, true, NULL, NULL)::crm.gamma_gamma_model,
					   0, 0, 1, 0, horizon, discount_rate, period);
	RETURN QUERY
	WITH r AS MATERIALIZED (
		SELECT * FROM crm.clv_report(as_of, horizon, unit, discount_rate, period,
									 penalty, time_zone)
	), rate AS (
		SELECT coalesce(margin_rate,
						(sum(r.historical_value) / nullif(sum(r.revenue), 0))::float8,
						0) AS m,
			   -- whether the models were fitted: then every buyer but one
			   -- whose repeat purchases are worth 0 has a CLV
			   coalesce(bool_or(r.clv IS NOT NULL), false) AS modelled
		  FROM r
	), c AS (
		SELECT cl.acquisition_channel AS channel, cl.acquisition_cost AS cost,
			   r.client_id IS NOT NULL AS buyer,
			   coalesce(r.historical_value, 0) AS hist,
			   CASE WHEN rate.modelled THEN coalesce(r.clv, 0) * rate.m END AS future
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
COMMENT ON FUNCTION crm.ltv_cac(timestamptz, float8, text, float8, float8, float8, float8, text) IS 'per acquisition channel (clients created up to as_of): clients, buyers, total acquisition cost, CAC, historical LTV (margin to date per client), predicted LTV (historical plus discounted CLV over the horizon times the margin rate, by default the historical margin share of revenue) and LTV/CAC; predicted LTV and LTV/CAC are null, with a notice saying why, where no CLV model could be fitted (and where nobody bought); an error (0A000) when the purchases are in more than one currency';

CREATE OR REPLACE FUNCTION crm.abc_analysis(as_of timestamptz,
								 a_share double precision DEFAULT 0.80,
								 b_share double precision DEFAULT 0.95)
RETURNS TABLE (client_id bigint, revenue numeric, revenue_share double precision,
			   share_before double precision, cumulative_share double precision, abc text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF a_share IS NULL THEN
		RAISE EXCEPTION 'a_share must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF b_share IS NULL THEN
		RAISE EXCEPTION 'b_share must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	/* the check of crm.abc_class, here rather than inside the query */
	IF NOT (a_share > 0 AND a_share < b_share AND b_share <= 1) THEN
		RAISE EXCEPTION 'ABC shares must satisfy 0 < a_share < b_share <= 1, got a_share %, b_share %',
			a_share, b_share
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH r AS (
		SELECT o.client_id, sum(o.net_amount) AS revenue,
			   crm.one_currency(o.currency) AS cur
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of
		 GROUP BY o.client_id),
	w AS (
		SELECT r.client_id, r.revenue,
			   sum(r.revenue) OVER () AS total,
			   sum(r.revenue) OVER (ORDER BY r.revenue DESC)
				 - sum(r.revenue) OVER (PARTITION BY r.revenue) AS above,
			   sum(r.revenue) OVER (ORDER BY r.revenue DESC) AS through,
			   crm.one_currency(r.cur) OVER () AS cur
		  FROM r)
	SELECT w.client_id, w.revenue,
		   CASE WHEN w.total > 0 THEN (w.revenue / w.total)::float8 ELSE 0 END,
		   CASE WHEN w.total > 0 THEN (w.above / w.total)::float8 ELSE 1 END,
		   CASE WHEN w.total > 0 THEN (w.through / w.total)::float8 ELSE 1 END,
		   CASE WHEN w.revenue <= 0 OR w.total <= 0 THEN 'C'
				ELSE crm.abc_class((w.above / w.total)::float8, a_share, b_share) END
	  FROM w
	 WHERE w.cur IS NOT NULL;	-- always: the check that the revenue is in one currency
END
$$;
COMMENT ON FUNCTION crm.abc_analysis(timestamptz, double precision, double precision) IS 'ABC class of every client with a purchase at or before as_of: ranked by revenue (net_amount of placed and paid orders), A while the revenue of the clients ranked strictly above is below a_share of the total, then B below b_share, then C; ties share a class; zero revenue is C; an error (0A000) when the purchases are in more than one currency';

CREATE OR REPLACE FUNCTION crm.tier_turnover(client_id bigint, program text, as_of timestamptz DEFAULT pg_catalog.now())
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

COMMENT ON FUNCTION crm.client_profiles(timestamptz) IS 'purchase profile of every client with a purchase (status placed or paid, value net_amount) at or before as_of; an error (0A000) when a client''s purchases are in more than one currency';

CREATE OR REPLACE VIEW crm.client_overview WITH (security_invoker = true) AS
SELECT c.client_id,
	   c.kind,
	   CASE c.kind WHEN 'company' THEN c.company_name
		   ELSE nullif(pg_catalog.concat_ws(' ', c.first_name, c.last_name), '') END AS name,
	   c.owner,
	   c.country,
	   o.purchases,
	   o.revenue,
	   o.last_purchase_at,
	   (SELECT pg_catalog.sum(a.balance) FROM crm.loyalty_accounts a
		 WHERE a.client_id = c.client_id)::bigint AS points,
	   (SELECT pg_catalog.count(*) FROM crm.incidents n
		 WHERE n.client_id = c.client_id
		   AND n.status NOT IN ('resolved', 'closed')) AS open_incidents,
	   c.anonymized_at,
	   o.currency
  FROM crm.clients c
  LEFT JOIN LATERAL (
	SELECT pg_catalog.count(*) AS purchases,
		   -- the sum only with the check that it adds one currency
		   CASE WHEN crm.one_currency(x.currency) IS NULL THEN 0
				ELSE pg_catalog.sum(x.net_amount) END AS revenue,
		   pg_catalog.max(x.ordered_at) AS last_purchase_at,
		   crm.one_currency(x.currency) AS currency
	  FROM crm.orders x
	 WHERE x.client_id = c.client_id AND x.status IN ('placed', 'paid')) o ON true;
COMMENT ON VIEW crm.client_overview IS 'one row per client the caller may see (security_invoker: row-level security applies): name, owner, purchases, revenue, last purchase, points, open incidents, and the currency of the purchases (an error, 0A000, for a client whose purchases are in more than one)';

/*
 * The loyalty functions: errors without a CONTEXT (crm.loyalty_raise), an
 * unknown client P0002 (crm.loyalty_check_client), one NULL argument per
 * message.  The functions above that changed are defined above in their
 * final form; the helpers below are new or changed.
 */
CREATE FUNCTION crm.loyalty_raise(sqlstate text, message text, detail text DEFAULT NULL,
								  hint text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'loyalty_raise'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.loyalty_raise(text, text, text, text) IS 'internal: raises the error of a loyalty function (SQLSTATE, message, detail and hint where not NULL) without a CONTEXT';

CREATE OR REPLACE FUNCTION crm.loyalty_program_row(program text)
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

CREATE OR REPLACE FUNCTION crm.loyalty_check_args(client_id bigint, idempotency_key text)
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

CREATE OR REPLACE FUNCTION crm.loyalty_lock_account(client_id bigint, program_id bigint,
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

CREATE OR REPLACE FUNCTION crm.loyalty_replay(client_id bigint, program_id bigint,
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

CREATE OR REPLACE FUNCTION crm.loyalty_debit(a crm.loyalty_accounts, p crm.loyalty_programs, kind text,
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

CREATE OR REPLACE FUNCTION crm.loyalty_order_row(client_id bigint, order_id bigint, allow_closed boolean)
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

REVOKE EXECUTE ON FUNCTION crm.loyalty_raise(text, text, text, text),
	crm.loyalty_check_client(bigint),
	crm.loyalty_refuse_future(text, text, timestamptz),
	crm.loyalty_refuse_in_citus_task(text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.loyalty_raise(text, text, text, text),
	crm.loyalty_check_client(bigint),
	crm.loyalty_refuse_in_citus_task(text)
	TO crm_admin, crm_analyst, crm_app, crm_manager;

-- ---- contract: NULL arguments, missing clients and unknown names ----

CREATE OR REPLACE FUNCTION crm.segment_map_coverage(map_name text)
RETURNS TABLE (rfm crm.rfm, segments text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
BEGIN
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = segment_map_coverage.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	RETURN QUERY
	SELECT crm.rfm(r, f, m),
		   coalesce((SELECT array_agg(u.segment ORDER BY u.rule_no)
					   FROM crm.segment_map_rules u
					  WHERE u.map_name = segment_map_coverage.map_name
						AND r BETWEEN u.r_min AND u.r_max
						AND f BETWEEN u.f_min AND u.f_max
						AND m BETWEEN u.m_min AND u.m_max), '{}')
	  FROM generate_series(1, 9) r,
		   generate_series(1, 9) f,
		   generate_series(1, 9) m
	 WHERE greatest(r, f, m) <= k;
END
$$;
COMMENT ON FUNCTION crm.segment_map_coverage(text) IS 'every score cell of the map with the segments of the rules that contain it (in rule order)';

CREATE OR REPLACE FUNCTION crm.segment_map_problems(map_name text)
RETURNS TABLE (rfm crm.rfm, rule_no integer, problem text, segments text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
BEGIN
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = segment_map_problems.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	RETURN QUERY
	SELECT c.rfm, NULL::integer,
		   CASE WHEN cardinality(c.segments) = 0 THEN 'unmapped' ELSE 'mapped more than once' END,
		   c.segments
	  FROM crm.segment_map_coverage(segment_map_problems.map_name) c
	 WHERE cardinality(c.segments) <> 1
	UNION ALL
	SELECT NULL, u.rule_no, 'rule exceeds the map''s ' || k || ' classes', ARRAY[u.segment]
	  FROM crm.segment_map_rules u
	 WHERE u.map_name = segment_map_problems.map_name
	   AND greatest(u.r_max, u.f_max, u.m_max) > k
	ORDER BY 1, 2;
END
$$;
COMMENT ON FUNCTION crm.segment_map_problems(text) IS 'what keeps a segment map from being a partition: cells unmapped or mapped more than once, rules beyond the map''s classes; no rows for a valid map';

CREATE OR REPLACE FUNCTION crm.price_cart(client_id bigint, cart jsonb, at timestamptz DEFAULT pg_catalog.now())
RETURNS jsonb
LANGUAGE c STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS 'MODULE_PATHNAME', 'discount_price_cart';
COMMENT ON FUNCTION crm.price_cart(bigint, jsonb, timestamptz) IS 'prices a cart (lines of product, quantity, price list) for a client at a moment: per line the price and each discount, every rule considered (applied with its amount or skipped with the reason), totals, the points the order earns (the loyalty programme''s cashback and the bonus rules'') and the most points payable; the client''s stored segment and loyalty programme when the cart names none';

CREATE OR REPLACE FUNCTION crm.product_affinity(as_of timestamptz,
									 min_support double precision DEFAULT 0.01,
									 since timestamptz DEFAULT '-infinity',
									 level text DEFAULT 'product')
RETURNS TABLE (antecedent bigint, consequent bigint, baskets bigint,
			   support double precision, confidence double precision,
			   lift double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF min_support IS NULL THEN
		RAISE EXCEPTION 'min_support must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF since IS NULL THEN
		RAISE EXCEPTION 'since must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF level IS NULL THEN
		RAISE EXCEPTION 'level must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT (min_support > 0 AND min_support <= 1) THEN
		RAISE EXCEPTION 'min_support must be in (0, 1], got %', min_support
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF level NOT IN ('product', 'category') THEN
		RAISE EXCEPTION 'level must be product or category, not "%"', level
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH items AS MATERIALIZED (
		SELECT DISTINCT l.client_id, l.order_id,
			   CASE WHEN level = 'category' THEN p.category_id ELSE l.product_id END AS product_id
		  FROM crm.order_lines l
		  JOIN crm.orders o USING (client_id, order_id)
		  JOIN crm.products p USING (product_id)
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at > since AND o.ordered_at <= as_of),
	n AS (
		SELECT count(*)::float8 AS n
		  FROM (SELECT DISTINCT i.client_id, i.order_id FROM items i) b),
	single AS MATERIALIZED (
		SELECT i.product_id, count(*) AS cnt
		  FROM items i
		 GROUP BY i.product_id
		HAVING count(*) >= min_support * (SELECT n.n FROM n)),
	frequent AS (
		SELECT i.* FROM items i JOIN single s USING (product_id)),
	pairs AS (
		SELECT x.product_id AS a, y.product_id AS b, count(*) AS cnt
		  FROM frequent x
		  JOIN frequent y ON y.client_id = x.client_id AND y.order_id = x.order_id
						 AND y.product_id > x.product_id
		 GROUP BY x.product_id, y.product_id
		HAVING count(*) >= min_support * (SELECT n.n FROM n))
	SELECT d.ante, d.cons, p.cnt,
		   p.cnt / n.n,
		   p.cnt::float8 / sa.cnt,
		   n.n * p.cnt / (sa.cnt::float8 * sc.cnt)
	  FROM pairs p
	 CROSS JOIN n
	 CROSS JOIN LATERAL (VALUES (p.a, p.b), (p.b, p.a)) d(ante, cons)
	  JOIN single sa ON sa.product_id = d.ante
	  JOIN single sc ON sc.product_id = d.cons
	 ORDER BY 1, 2;
END
$$;
COMMENT ON FUNCTION crm.product_affinity(timestamptz, double precision, timestamptz, text) IS 'association rules antecedent -> consequent between products (or, with level category, product categories) bought in the same purchase (since, as_of]: baskets with both, support, confidence, lift; pairs below min_support are dropped';

CREATE OR REPLACE FUNCTION crm.can_contact(client_id bigint, channel text,
								at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	/* the checks of crm.contact_check, so that its errors come from here */
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF channel IS NULL THEN
		RAISE EXCEPTION 'channel must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF at IS NULL THEN
		RAISE EXCEPTION 'at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm.refuse_in_citus_task('crm.can_contact');
	IF channel NOT IN ('email', 'sms', 'push', 'phone', 'messenger', 'post') THEN
		RAISE EXCEPTION 'unknown contact channel "%"', channel
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Contact channels are email, sms, push, phone, messenger and post.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = can_contact.client_id) THEN
		RAISE EXCEPTION 'client % does not exist', client_id
			USING ERRCODE = 'no_data_found';
	END IF;
	RETURN (crm.contact_check(client_id, channel, at)).allowed;
END
$$;
COMMENT ON FUNCTION crm.can_contact(bigint, text, timestamptz) IS 'whether the client may be contacted on the channel at the moment: consent in force (no consent row: false; no such client: an error, P0002) and under the marketing contact caps of crm.contact_caps; the reason when not: crm.contact_check';

CREATE OR REPLACE FUNCTION crm.category_subtree(category_id integer)
RETURNS SETOF integer
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF category_id IS NULL THEN
		RAISE EXCEPTION 'category_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	RETURN QUERY
	WITH RECURSIVE down(id) AS (
		SELECT c.category_id FROM crm.categories c WHERE c.category_id = $1
		UNION
		SELECT c.category_id FROM crm.categories c JOIN down ON c.parent_id = down.id)
	SELECT down.id FROM down;
END
$$;
COMMENT ON FUNCTION crm.category_subtree(integer) IS 'the category and all its sub-categories';

-- CLV: the MBG/NBD and BG/BB models, covariates, calibration and holdout diagnostics

/*
 * More CLV models: MBG/NBD (Batislam, Denizel and Filiztekin 2007) and
 * BG/BB (Fader, Hardie and Shang 2010).  C in src/clv_mbgnbd.c and
 * src/clv_bgbb.c; reference: docs/clv.md.
 */

CREATE TYPE crm.mbgnbd_model AS (
	r			float8,
	alpha		float8,
	a			float8,
	b			float8,
	loglik		float8,
	n			bigint,
	iterations	integer,
	converged	boolean
);
COMMENT ON TYPE crm.mbgnbd_model IS 'a fitted MBG/NBD model: purchase rate ~ Gamma(r, alpha) (alpha in the time unit of the data), drop-out probability at every purchase including the first ~ Beta(a, b); total log-likelihood, clients, optimiser iterations, convergence';

CREATE TYPE crm.bgbb_model AS (
	alpha		float8,
	beta		float8,
	gamma		float8,
	delta		float8,
	loglik		float8,
	n			bigint,
	iterations	integer,
	converged	boolean
);
COMMENT ON TYPE crm.bgbb_model IS 'a fitted BG/BB model (discrete time, one transaction opportunity per period): transaction probability ~ Beta(alpha, beta), drop-out probability per period ~ Beta(gamma, delta); total log-likelihood, clients, optimiser iterations, convergence';

CREATE FUNCTION crm.clv_mbgnbd_final(crm.clv_fit_state) RETURNS crm.mbgnbd_model
AS 'MODULE_PATHNAME', 'clv_mbgnbd_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_mbgnbd_final(crm.clv_fit_state) IS 'final function of crm.mbgnbd_fit: the maximum-likelihood fit (reads a bgnbd fit state)';

CREATE AGGREGATE crm.mbgnbd_fit(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_bgnbd_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_mbgnbd_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.mbgnbd_fit(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_bgnbd_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_mbgnbd_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.mbgnbd_fit(float8, float8, float8) IS 'maximum-likelihood MBG/NBD fit (Batislam, Denizel and Filiztekin 2007) over per-client (frequency, recency, t), the summaries of crm.bgnbd_fit';
COMMENT ON AGGREGATE crm.mbgnbd_fit(float8, float8, float8, float8) IS 'maximum-likelihood MBG/NBD fit with an L2 penalty on the parameters (time scaled so that the largest t is 1)';

CREATE FUNCTION crm.clv_bgbb_trans(crm.clv_fit_state, float8, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_bgbb_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgbb_trans(crm.clv_fit_state, float8, float8, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_bgbb_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgbb_final(crm.clv_fit_state) RETURNS crm.bgbb_model
AS 'MODULE_PATHNAME', 'clv_bgbb_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_bgbb_trans(crm.clv_fit_state, float8, float8, float8) IS 'transition function of crm.bgbb_fit';
COMMENT ON FUNCTION crm.clv_bgbb_trans(crm.clv_fit_state, float8, float8, float8, float8) IS 'transition function of crm.bgbb_fit with a penalty';
COMMENT ON FUNCTION crm.clv_bgbb_final(crm.clv_fit_state) IS 'final function of crm.bgbb_fit: the maximum-likelihood fit';

CREATE AGGREGATE crm.bgbb_fit(frequency float8, recency float8, periods float8) (
	SFUNC = crm.clv_bgbb_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgbb_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.bgbb_fit(frequency float8, recency float8, periods float8, penalty float8) (
	SFUNC = crm.clv_bgbb_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgbb_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.bgbb_fit(float8, float8, float8) IS 'maximum-likelihood BG/BB fit (Fader, Hardie and Shang 2010) over per-client (frequency = transactions at the periods opportunities after the first, recency = opportunity of the last one, periods), whole numbers';
COMMENT ON AGGREGATE crm.bgbb_fit(float8, float8, float8, float8) IS 'maximum-likelihood BG/BB fit with an L2 penalty on the parameters';

CREATE FUNCTION crm.mbgnbd_loglik(model crm.mbgnbd_model, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_loglik'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.mbgnbd_p_alive(model crm.mbgnbd_model, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.mbgnbd_expected_purchases(model crm.mbgnbd_model, horizon float8, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_expected'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.mbgnbd_expected_purchases(model crm.mbgnbd_model, horizon float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_expected_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv(transactions crm.mbgnbd_model, spend crm.gamma_gamma_model,
						frequency float8, recency float8, t float8, monetary float8,
						horizon float8, discount_rate float8, period float8 DEFAULT 1)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgbb_loglik(model crm.bgbb_model, frequency float8, recency float8, periods float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgbb_loglik'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgbb_p_alive(model crm.bgbb_model, frequency float8, recency float8, periods float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgbb_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgbb_expected_purchases(model crm.bgbb_model, horizon float8, frequency float8, recency float8, periods float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgbb_expected'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgbb_expected_purchases(model crm.bgbb_model, horizon float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgbb_expected_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION crm.mbgnbd_loglik(crm.mbgnbd_model, float8, float8, float8) IS 'MBG/NBD log-likelihood of one client summary (frequency, recency, t)';
COMMENT ON FUNCTION crm.mbgnbd_p_alive(crm.mbgnbd_model, float8, float8, float8) IS 'MBG/NBD probability that the client is still active at t (below 1 for frequency 0 too)';
COMMENT ON FUNCTION crm.mbgnbd_expected_purchases(crm.mbgnbd_model, float8, float8, float8, float8) IS 'MBG/NBD expected repeat purchases in the next horizon time units, given the client summary';
COMMENT ON FUNCTION crm.mbgnbd_expected_purchases(crm.mbgnbd_model, float8) IS 'MBG/NBD expected repeat purchases of a new client in its first horizon time units';
COMMENT ON FUNCTION crm.clv(crm.mbgnbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8) IS 'discounted CLV: expected spend times MBG/NBD expected purchases per period of the horizon, discounted at discount_rate per period';
COMMENT ON FUNCTION crm.bgbb_loglik(crm.bgbb_model, float8, float8, float8) IS 'BG/BB log-likelihood of one client summary (frequency, recency, periods)';
COMMENT ON FUNCTION crm.bgbb_p_alive(crm.bgbb_model, float8, float8, float8) IS 'BG/BB probability that the client is alive at the next opportunity, periods + 1';
COMMENT ON FUNCTION crm.bgbb_expected_purchases(crm.bgbb_model, float8, float8, float8, float8) IS 'BG/BB expected transactions at the next horizon opportunities (a whole number), given the client summary';
COMMENT ON FUNCTION crm.bgbb_expected_purchases(crm.bgbb_model, float8) IS 'BG/BB expected transactions of a new client at its first horizon opportunities';

/*
 * BG/NBD with time-invariant covariates (src/clv_covariates.c): the rows in
 * an internal state, serialised for parallel query.
 */
CREATE TYPE crm.bgnbd_cov_model AS (
	r						float8,
	alpha					float8,
	a						float8,
	b						float8,
	purchase_coefficients	float8[],
	dropout_coefficients	float8[],
	loglik					float8,
	n						bigint,
	iterations				integer,
	converged				boolean
);
COMMENT ON TYPE crm.bgnbd_cov_model IS 'a fitted BG/NBD model with time-invariant covariates: a client''s alpha = alpha exp(-purchase_coefficients . purchase_covariates), a = a exp(dropout_coefficients . dropout_covariates), r and b common; total log-likelihood, clients, optimiser iterations, convergence';

CREATE FUNCTION crm.clv_cov_trans(internal, float8, float8, float8, float8[], float8[])
RETURNS internal AS 'MODULE_PATHNAME', 'clv_cov_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_cov_trans(internal, float8, float8, float8, float8[], float8[], float8)
RETURNS internal AS 'MODULE_PATHNAME', 'clv_cov_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_cov_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clv_cov_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_cov_serial(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'clv_cov_serial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_cov_deserial(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clv_cov_deserial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgnbd_cov_final(internal) RETURNS crm.bgnbd_cov_model
AS 'MODULE_PATHNAME', 'clv_bgnbd_cov_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_cov_trans(internal, float8, float8, float8, float8[], float8[]) IS 'transition function of crm.bgnbd_cov_fit';
COMMENT ON FUNCTION crm.clv_cov_trans(internal, float8, float8, float8, float8[], float8[], float8) IS 'transition function of crm.bgnbd_cov_fit with a penalty';
COMMENT ON FUNCTION crm.clv_cov_combine(internal, internal) IS 'combine function of crm.bgnbd_cov_fit';
COMMENT ON FUNCTION crm.clv_cov_serial(internal) IS 'serialisation function of crm.bgnbd_cov_fit';
COMMENT ON FUNCTION crm.clv_cov_deserial(bytea, internal) IS 'deserialisation function of crm.bgnbd_cov_fit';
COMMENT ON FUNCTION crm.clv_bgnbd_cov_final(internal) IS 'final function of crm.bgnbd_cov_fit: the maximum-likelihood fit';

CREATE AGGREGATE crm.bgnbd_cov_fit(frequency float8, recency float8, t float8,
								   purchase_covariates float8[], dropout_covariates float8[]) (
	SFUNC = crm.clv_cov_trans,
	STYPE = internal,
	FINALFUNC = crm.clv_bgnbd_cov_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine,
	SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.bgnbd_cov_fit(frequency float8, recency float8, t float8,
								   purchase_covariates float8[], dropout_covariates float8[], penalty float8) (
	SFUNC = crm.clv_cov_trans,
	STYPE = internal,
	FINALFUNC = crm.clv_bgnbd_cov_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine,
	SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.bgnbd_cov_fit(float8, float8, float8, float8[], float8[]) IS 'maximum-likelihood BG/NBD fit with time-invariant covariates on the purchase rate (alpha) and the drop-out (a) over per-client (frequency, recency, t, purchase_covariates, dropout_covariates)';
COMMENT ON AGGREGATE crm.bgnbd_cov_fit(float8, float8, float8, float8[], float8[], float8) IS 'maximum-likelihood BG/NBD fit with covariates and an L2 penalty (on r, alpha, a, b in scaled time and on the coefficients of the standardised covariates)';

CREATE FUNCTION crm.bgnbd_cov_client(model crm.bgnbd_cov_model, purchase_covariates float8[],
									 dropout_covariates float8[])
RETURNS crm.bgnbd_model AS 'MODULE_PATHNAME', 'clv_bgnbd_cov_client'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.bgnbd_cov_client(crm.bgnbd_cov_model, float8[], float8[]) IS 'the BG/NBD model of a client with these covariates (r, alpha exp(-purchase_coefficients . purchase_covariates), a exp(dropout_coefficients . dropout_covariates), b), for every BG/NBD prediction';

/* Pareto/NBD with time-invariant covariates, as in CLVTools */
CREATE TYPE crm.pareto_nbd_cov_model AS (
	r						float8,
	alpha					float8,
	s						float8,
	beta					float8,
	purchase_coefficients	float8[],
	dropout_coefficients	float8[],
	loglik					float8,
	n						bigint,
	iterations				integer,
	converged				boolean
);
COMMENT ON TYPE crm.pareto_nbd_cov_model IS 'a fitted Pareto/NBD model with time-invariant covariates: a client''s alpha = alpha exp(-purchase_coefficients . purchase_covariates), beta = beta exp(-dropout_coefficients . dropout_covariates), r and s common; total log-likelihood, clients, optimiser iterations, convergence';

CREATE FUNCTION crm.clv_pareto_cov_final(internal) RETURNS crm.pareto_nbd_cov_model
AS 'MODULE_PATHNAME', 'clv_pareto_cov_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_pareto_cov_final(internal) IS 'final function of crm.pareto_nbd_cov_fit: the maximum-likelihood fit';

CREATE AGGREGATE crm.pareto_nbd_cov_fit(frequency float8, recency float8, t float8,
										purchase_covariates float8[], dropout_covariates float8[]) (
	SFUNC = crm.clv_cov_trans,
	STYPE = internal,
	FINALFUNC = crm.clv_pareto_cov_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine,
	SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.pareto_nbd_cov_fit(frequency float8, recency float8, t float8,
										purchase_covariates float8[], dropout_covariates float8[], penalty float8) (
	SFUNC = crm.clv_cov_trans,
	STYPE = internal,
	FINALFUNC = crm.clv_pareto_cov_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine,
	SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.pareto_nbd_cov_fit(float8, float8, float8, float8[], float8[]) IS 'maximum-likelihood Pareto/NBD fit with time-invariant covariates on the purchase rate (alpha) and the drop-out rate (beta), as in CLVTools, over per-client (frequency, recency, t, purchase_covariates, dropout_covariates)';
COMMENT ON AGGREGATE crm.pareto_nbd_cov_fit(float8, float8, float8, float8[], float8[], float8) IS 'maximum-likelihood Pareto/NBD fit with covariates and an L2 penalty (on r, alpha, s, beta in scaled time and on the coefficients of the standardised covariates)';

CREATE FUNCTION crm.pareto_nbd_cov_client(model crm.pareto_nbd_cov_model, purchase_covariates float8[],
										  dropout_covariates float8[])
RETURNS crm.pareto_nbd_model AS 'MODULE_PATHNAME', 'clv_pareto_cov_client'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.pareto_nbd_cov_client(crm.pareto_nbd_cov_model, float8[], float8[]) IS 'the Pareto/NBD model of a client with these covariates (r, alpha exp(-purchase_coefficients . purchase_covariates), s, beta exp(-dropout_coefficients . dropout_covariates)), for every Pareto/NBD prediction';

/*
 * Calibration and holdout: the calibration summary and the holdout actuals
 * per client, and the tables behind the standard diagnostics of a fitted
 * transaction model.  Reference: docs/clv.md.
 */

CREATE FUNCTION crm.clv_calibration_holdout(calibration_end timestamptz, holdout_end timestamptz,
											unit text DEFAULT 'day', time_zone text DEFAULT 'UTC')
RETURNS TABLE (client_id bigint, frequency float8, recency float8, t float8,
			   monetary float8, holdout_frequency float8, holdout_monetary float8,
			   duration float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8;
	cal_day		date;
	hold_day	date;
BEGIN
	IF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	IF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	cal_day := (calibration_end AT TIME ZONE time_zone)::date;
	hold_day := (holdout_end AT TIME ZONE time_zone)::date;
	IF hold_day <= cal_day THEN
		RAISE EXCEPTION 'holdout_end % is not on a day after calibration_end %', holdout_end, calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH days AS (
		SELECT o.client_id, (o.ordered_at AT TIME ZONE time_zone)::date AS day,
			   sum(o.net_amount) AS value, crm.one_currency(o.currency) AS cur
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at > calibration_end
		   AND o.ordered_at <= holdout_end
		 GROUP BY 1, 2
	), h AS (
		SELECT d.client_id, count(*)::float8 AS n, (sum(d.value) / count(*))::float8 AS m,
			   crm.one_currency(crm.one_currency(d.cur)) OVER () AS cur
		  FROM days d
		 WHERE d.day > cal_day
		 GROUP BY d.client_id
	)
	SELECT s.client_id, s.frequency, s.recency, s.t, s.monetary,
		   coalesce(h.n, 0), coalesce(h.m, 0), (hold_day - cal_day) / unit_days
	  FROM crm.clv_summary(calibration_end, unit, time_zone) s
	  LEFT JOIN h ON h.client_id = s.client_id AND h.cur IS NOT NULL;
END
$$;
COMMENT ON FUNCTION crm.clv_calibration_holdout(timestamptz, timestamptz, text, text) IS 'per client with purchases up to calibration_end: the calibration summary of crm.clv_summary(calibration_end) and the holdout actuals: purchase days after the day of calibration_end up to holdout_end (holdout_frequency), their mean value (holdout_monetary, 0 without) and the holdout length in unit (duration)';

CREATE FUNCTION crm.clv_holdout_diagnostics_run(model anyelement, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'day',
											period float8 DEFAULT 1, max_frequency integer DEFAULT 7,
											time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	kind		regtype := pg_typeof(model);
	prefix		text;
	unit_days	float8;
	p			float8[];
BEGIN
	IF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	prefix := CASE kind WHEN 'crm.bgnbd_model'::regtype THEN 'bgnbd'
						WHEN 'crm.mbgnbd_model'::regtype THEN 'mbgnbd'
						WHEN 'crm.pareto_nbd_model'::regtype THEN 'pareto_nbd' END;
	IF prefix IS NULL THEN
		RAISE EXCEPTION 'model of type % is not a transaction model', format_type(kind, NULL)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a crm.bgnbd_model, crm.mbgnbd_model or crm.pareto_nbd_model.';
	ELSIF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	IF NOT (period > 0 AND period < 'Infinity'::float8) THEN
		RAISE EXCEPTION 'period % is not a positive number', period
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the dates, the unit and the time zone; the model's parameters
	PERFORM 1 FROM crm.clv_calibration_holdout(calibration_end, holdout_end, unit, time_zone) LIMIT 0;
	EXECUTE format('SELECT ARRAY[($1).%s, ($1).%s, ($1).%s, ($1).%s]::float8[] WHERE crm.%s_expected_purchases($1, 1) IS NOT NULL',
				   VARIADIC CASE prefix WHEN 'pareto_nbd' THEN ARRAY['r', 'alpha', 's', 'beta', prefix]
										ELSE ARRAY['r', 'alpha', 'a', 'b', prefix] END)
		INTO p USING model;

	RETURN QUERY EXECUTE format($q$
	WITH c AS MATERIALIZED (
		SELECT c.client_id, c.frequency, c.holdout_frequency,
			   crm.%1$s_expected_purchases($1, c.duration, c.frequency, c.recency, c.t) AS expected,
			   c.t, ($9 - round(c.t * $4)::integer) AS first_day
		  FROM crm.clv_calibration_holdout($2, $3, $11, $7) c
	), g AS (
		SELECT min(c.first_day) AS d0 FROM c HAVING count(*) > 0
	), g2 AS (
		SELECT g.d0, ($9 - g.d0)::float8 AS cal_off, ($10 - g.d0)::float8 AS hold_off FROM g
	), b AS (
		SELECT k, g2.d0, greatest(g2.cal_off + (k - 1) * $5, 0) AS lo,
			   least(g2.cal_off + k * $5, g2.hold_off) AS hi
		  FROM g2, generate_series(1 - ceil(g2.cal_off / $5 - 1e-9)::integer,
								   ceil((g2.hold_off - g2.cal_off) / $5 - 1e-9)::integer) k
	), firsts AS (
		SELECT c.first_day - g2.d0 AS first_off, count(*) AS n FROM c, g2 GROUP BY 1
	), pdays AS (
		SELECT DISTINCT o.client_id, (o.ordered_at AT TIME ZONE $7)::date AS day
		  FROM crm.orders o JOIN c ON c.client_id = o.client_id
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= $3
		   AND (o.ordered_at <= $2 OR (o.ordered_at AT TIME ZONE $7)::date > $9)
	), act AS (
		SELECT ceil((p.day - g2.d0 - g2.cal_off) / $5 - 1e-9)::integer AS k, count(*)::float8 AS n
		  FROM pdays p JOIN c ON c.client_id = p.client_id, g2
		 WHERE p.day > c.first_day
		 GROUP BY 1
	), ex AS (
		SELECT b.k, b.d0, b.hi,
			   sum(f.n * CASE WHEN b.hi > f.first_off
							  THEN crm.%1$s_expected_purchases($1, (b.hi - f.first_off) / $4) ELSE 0 END) AS cum,
			   sum(f.n) FILTER (WHERE f.first_off <= b.hi)::bigint AS clients
		  FROM b CROSS JOIN firsts f
		 GROUP BY b.k, b.d0, b.hi
	), t AS (
		SELECT ex.k, ex.d0 + ceil(ex.hi - 1e-9)::integer AS period_end, ex.clients,
			   coalesce(act.n, 0) AS actual,
			   ex.cum - coalesce(lag(ex.cum) OVER (ORDER BY ex.k), 0) AS expected,
			   sum(coalesce(act.n, 0)) OVER (ORDER BY ex.k) AS cum_actual, ex.cum AS cum_expected
		  FROM ex LEFT JOIN act ON act.k = ex.k
	), series AS (
		-- V(n) = sum_{i<n} ln((b+i)/(a+b+i)), W(n) = sum_{i<n} ln((b+i)/(a+b+1+i)), C(n) = sum_{0<i<=n} ln((r+i-1)/i)
		SELECT n,
			   coalesce(sum(ln(($8[4] + n) / ($8[3] + $8[4] + n))) OVER w1, 0) AS v,
			   coalesce(sum(ln(($8[4] + n) / ($8[3] + $8[4] + 1 + n))) OVER w1, 0) AS w,
			   coalesce(sum(CASE WHEN n > 0 THEN ln(($8[1] + n - 1) / n) ELSE 0 END) OVER w2, 0) AS lc
		  FROM generate_series(0, $6 + 1) n
		WINDOW w1 AS (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
			   w2 AS (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
	), tg AS (
		SELECT c.t, count(*) AS n FROM c WHERE $12 GROUP BY 1
	), nb AS (
		-- NB(x) = P(x purchases by t while alive), for x < max_frequency
		SELECT tg.t, tg.n, s.n AS x,
			   CASE WHEN tg.t = 0 THEN (s.n = 0)::integer::float8
					ELSE exp(s.lc + $8[1] * ln($8[2] / ($8[2] + tg.t)) + s.n * ln(tg.t / ($8[2] + tg.t))) END AS nb
		  FROM tg, series s WHERE s.n < $6
	), px AS (
		SELECT nb.t, nb.n, nb.x,
			   exp(sa.v) * nb.nb
			   + CASE WHEN nb.x + $13 >= 1
					  THEN exp(ln($8[3] / ($8[3] + $8[4])) + sb.w)
						   * (1 - coalesce(sum(nb.nb) OVER (PARTITION BY nb.t ORDER BY nb.x
															ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))
					  ELSE 0 END AS p
		  FROM nb JOIN series sa ON sa.n = nb.x + $13
		  LEFT JOIN series sb ON sb.n = nb.x - 1 + $13
	), hist_ex AS (
		SELECT px.x, sum(px.n * px.p) AS n FROM px GROUP BY 1
		UNION ALL
		SELECT $6, sum(px.n * px.p) FROM (SELECT t, n, 1 - sum(p) AS p FROM px GROUP BY t, n) px
	), hist AS (
		SELECT x, coalesce(a.n, 0)::float8 AS actual, e.n AS expected
		  FROM generate_series(0, $6) x
		  LEFT JOIN (SELECT least(c.frequency, $6)::integer AS x, count(*) AS n FROM c GROUP BY 1) a USING (x)
		  LEFT JOIN hist_ex e USING (x)
	), cond AS (
		SELECT least(c.frequency, $6)::integer AS x, count(*) AS n,
			   avg(c.holdout_frequency) AS actual, avg(c.expected) AS expected
		  FROM c GROUP BY 1
	)
	SELECT d.diagnostic, d.bucket, d.period_end, d.clients, d.actual, d.expected, d.mae, d.rmse, d.bias
	  FROM (
		SELECT 1 AS o, 'tracking'::text AS diagnostic, t.k AS bucket, t.period_end, t.clients,
			   t.actual, t.expected, NULL::float8 AS mae, NULL::float8 AS rmse, NULL::float8 AS bias FROM t
		UNION ALL
		SELECT 1, 'tracking', NULL, NULL, max(t.clients), sum(t.actual), sum(t.expected),
			   avg(abs(t.expected - t.actual)), sqrt(avg((t.expected - t.actual) ^ 2)), avg(t.expected - t.actual)
		  FROM t WHERE t.k >= 1 HAVING count(*) > 0
		UNION ALL
		SELECT 2, 'cumulative', t.k, t.period_end, t.clients, t.cum_actual, t.cum_expected, NULL, NULL, NULL FROM t
		UNION ALL
		SELECT 2, 'cumulative', NULL, NULL, max(t.clients), max(t.cum_actual), max(t.cum_expected),
			   avg(abs(t.cum_expected - t.cum_actual)), sqrt(avg((t.cum_expected - t.cum_actual) ^ 2)),
			   avg(t.cum_expected - t.cum_actual)
		  FROM t WHERE t.k >= 1 HAVING count(*) > 0
		UNION ALL
		SELECT 3, 'histogram', hist.x, NULL, hist.actual::bigint, hist.actual, hist.expected, NULL, NULL, NULL FROM hist
		UNION ALL
		SELECT 3, 'histogram', NULL, NULL, sum(hist.actual)::bigint, sum(hist.actual), sum(hist.expected),
			   avg(abs(hist.expected - hist.actual)), sqrt(avg((hist.expected - hist.actual) ^ 2)),
			   avg(hist.expected - hist.actual)
		  FROM hist HAVING sum(hist.actual) > 0
		UNION ALL
		SELECT 4, 'conditional', cond.x, NULL, cond.n, cond.actual, cond.expected, NULL, NULL, NULL FROM cond
		UNION ALL
		SELECT 4, 'conditional', NULL, NULL, sum(cond.n)::bigint,
			   sum(cond.actual * cond.n) / sum(cond.n), sum(cond.expected * cond.n) / sum(cond.n),
			   avg(abs(cond.expected - cond.actual)), sqrt(avg((cond.expected - cond.actual) ^ 2)),
			   avg(cond.expected - cond.actual)
		  FROM cond HAVING count(*) > 0
		UNION ALL
		SELECT 5, 'clients', NULL, NULL, count(*), sum(c.holdout_frequency), sum(c.expected),
			   avg(abs(c.expected - c.holdout_frequency)), sqrt(avg((c.expected - c.holdout_frequency) ^ 2)),
			   avg(c.expected - c.holdout_frequency)
		  FROM c HAVING count(*) > 0) d
	 WHERE EXISTS (SELECT 1 FROM c)
	 ORDER BY d.o, d.bucket NULLS LAST
	$q$, prefix)
	USING model, calibration_end, holdout_end, unit_days, period * unit_days, max_frequency, time_zone,
		  p, (calibration_end AT TIME ZONE time_zone)::date, (holdout_end AT TIME ZONE time_zone)::date,
		  unit, prefix <> 'pareto_nbd', CASE prefix WHEN 'mbgnbd' THEN 1 ELSE 0 END;
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics_run(anyelement, timestamptz, timestamptz, text, float8, integer, text) IS 'internal: the body of crm.clv_holdout_diagnostics for any of its model types';

CREATE FUNCTION crm.clv_holdout_diagnostics(model crm.bgnbd_model, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'day',
											period float8 DEFAULT 1, max_frequency integer DEFAULT 7,
											time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF NOT (period > 0 AND period < 'Infinity'::float8) THEN
		RAISE EXCEPTION 'period % is not a positive number', period
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF (holdout_end AT TIME ZONE time_zone)::date <= (calibration_end AT TIME ZONE time_zone)::date THEN
		RAISE EXCEPTION 'holdout_end % is not on a day after calibration_end %', holdout_end, calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY SELECT * FROM crm.clv_holdout_diagnostics_run(model, calibration_end, holdout_end,
																unit, period, max_frequency, time_zone);
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics(crm.bgnbd_model, timestamptz, timestamptz, text, float8, integer, text) IS 'for a fitted BG/NBD model and the split of crm.clv_calibration_holdout(calibration_end, holdout_end): the tables behind the standard diagnostics (tracking and cumulative repeat purchases per period counted from the calibration end, the calibration frequency histogram, the holdout purchases by calibration frequency, per client), expected against actual, each with a total row (bucket null) carrying MAE, RMSE and bias (expected minus actual)';

CREATE FUNCTION crm.clv_holdout_diagnostics(model crm.mbgnbd_model, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'day',
											period float8 DEFAULT 1, max_frequency integer DEFAULT 7,
											time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF NOT (period > 0 AND period < 'Infinity'::float8) THEN
		RAISE EXCEPTION 'period % is not a positive number', period
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF (holdout_end AT TIME ZONE time_zone)::date <= (calibration_end AT TIME ZONE time_zone)::date THEN
		RAISE EXCEPTION 'holdout_end % is not on a day after calibration_end %', holdout_end, calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY SELECT * FROM crm.clv_holdout_diagnostics_run(model, calibration_end, holdout_end,
																unit, period, max_frequency, time_zone);
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics(crm.mbgnbd_model, timestamptz, timestamptz, text, float8, integer, text) IS 'for a fitted MBG/NBD model and the split of crm.clv_calibration_holdout(calibration_end, holdout_end): the tables behind the standard diagnostics (tracking and cumulative repeat purchases per period counted from the calibration end, the calibration frequency histogram, the holdout purchases by calibration frequency, per client), expected against actual, each with a total row (bucket null) carrying MAE, RMSE and bias (expected minus actual)';

CREATE FUNCTION crm.clv_holdout_diagnostics(model crm.pareto_nbd_model, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'day',
											period float8 DEFAULT 1, max_frequency integer DEFAULT 7,
											time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF NOT (period > 0 AND period < 'Infinity'::float8) THEN
		RAISE EXCEPTION 'period % is not a positive number', period
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF (holdout_end AT TIME ZONE time_zone)::date <= (calibration_end AT TIME ZONE time_zone)::date THEN
		RAISE EXCEPTION 'holdout_end % is not on a day after calibration_end %', holdout_end, calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY SELECT * FROM crm.clv_holdout_diagnostics_run(model, calibration_end, holdout_end,
																unit, period, max_frequency, time_zone);
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics(crm.pareto_nbd_model, timestamptz, timestamptz, text, float8, integer, text) IS 'for a fitted Pareto/NBD model and the split of crm.clv_calibration_holdout(calibration_end, holdout_end): the tables behind the standard diagnostics (tracking and cumulative repeat purchases per period counted from the calibration end, the calibration frequency histogram (expected null for Pareto/NBD), the holdout purchases by calibration frequency, per client), expected against actual, each with a total row (bucket null) carrying MAE, RMSE and bias (expected minus actual)';
/*
 * Households (family cards): 84_loyalty_households.sql, crm.verify_ledger's
 * household checks, crm.loyalty_redeem_sql and crm.reverse_entry above.
 */
/*
 * Households (family cards): several clients who earn into and pay from
 * one points balance in a programme (docs/loyalty.md#households).
 *
 * A household is a group of accounts, not an account of its own.  Every
 * member keeps their own account and ledger: what they earn (cashback,
 * earn_points, bonuses) is credited to it exactly as without a household,
 * so orders, refunds, reversals, expiry and tiers work unchanged, and the
 * household's balance is the sum of its members' balances.  A member's
 * redemption spends their own points first; what they lack is moved from
 * the other members' live lots (soonest expiry first, or oldest first, as
 * the programme spends lots) into the redeemer's account by transfer
 * entries -- a debit in each giver's ledger and a credit per lot in the
 * redeemer's, each credit keeping its lot's expiry -- and then redeemed
 * there as an ordinary redemption.  So every guarantee of the ledger holds
 * as it is: append-only, one idempotency key per account, no balance below
 * zero, crm.verify_ledger (which also checks that every transfer adds up
 * to zero).
 *
 * Concurrency: a household redemption, a join, a leave and a change of a
 * limit lock the household's row first, then the members' accounts in
 * client_id order, so that two members redeeming at once take turns and
 * neither spends the points the other spent.
 *
 * Citus: crm.households is keyed by its owner's client_id,
 * crm.household_members by the member's client_id (with the household as
 * (owner_client_id, household_id)): both are distributed by client_id and
 * co-located with crm.clients like the rest.  The member -> household
 * reference spans two clients, so it is not a foreign key (Citus keeps
 * foreign keys only within a client's shard): the functions below write
 * both tables, and crm.verify_ledger checks that every membership
 * resolves.
 *
 * When a member leaves, the points follow the member: what is left in
 * their own account (their lots that nobody spent) leaves the household
 * with them; nothing is moved.
 */

CREATE TABLE crm.households (
	client_id		bigint NOT NULL,
	household_id	bigint GENERATED BY DEFAULT AS IDENTITY,
	program_id		bigint NOT NULL,
	name			text,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	closed_at		timestamptz,
	CONSTRAINT households_pkey PRIMARY KEY (client_id, household_id),
	CONSTRAINT households_client_fkey FOREIGN KEY (client_id)
		REFERENCES crm.clients (client_id),
	CONSTRAINT households_program_fkey FOREIGN KEY (program_id)
		REFERENCES crm.loyalty_programs (program_id),
	CONSTRAINT households_name_check CHECK (name <> ''),
	CONSTRAINT households_closed_check CHECK (closed_at >= created_at)
);
CREATE UNIQUE INDEX households_open_key ON crm.households (client_id, program_id)
	WHERE closed_at IS NULL;
CREATE INDEX households_program_idx ON crm.households (program_id);
COMMENT ON TABLE crm.households IS 'households (family cards): clients who earn into and redeem from one balance in a programme; keyed by the owner''s client_id';
COMMENT ON COLUMN crm.households.client_id IS 'the owner: the client who opened the household and sets the members'' limits';
COMMENT ON COLUMN crm.households.closed_at IS 'when the owner left and the household closed (every member left then)';

CREATE TABLE crm.household_members (
	client_id		bigint NOT NULL,
	program_id		bigint NOT NULL,
	membership_id	bigint GENERATED BY DEFAULT AS IDENTITY,
	owner_client_id bigint NOT NULL,
	household_id	bigint NOT NULL,
	role			text NOT NULL DEFAULT 'member',
	joined_at		timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	left_at			timestamptz,
	redeem_limit	bigint,
	limit_period	interval NOT NULL DEFAULT '30 days',
	CONSTRAINT household_members_pkey PRIMARY KEY (client_id, program_id, membership_id),
	CONSTRAINT household_members_client_fkey FOREIGN KEY (client_id)
		REFERENCES crm.clients (client_id),
	CONSTRAINT household_members_program_fkey FOREIGN KEY (program_id)
		REFERENCES crm.loyalty_programs (program_id),
	CONSTRAINT household_members_role_check CHECK (role IN ('owner', 'member')),
	CONSTRAINT household_members_owner_check
		CHECK ((role = 'owner') = (client_id = owner_client_id)),
	CONSTRAINT household_members_left_check CHECK (left_at >= joined_at),
	CONSTRAINT household_members_redeem_limit_check CHECK (redeem_limit >= 0),
	CONSTRAINT household_members_limit_period_check CHECK (limit_period > '0')
);
/* one client in at most one household per programme at a time */
CREATE UNIQUE INDEX household_members_active_key ON crm.household_members (client_id, program_id)
	WHERE left_at IS NULL;
CREATE INDEX household_members_household_idx
	ON crm.household_members (owner_client_id, household_id);
CREATE INDEX household_members_program_idx ON crm.household_members (program_id);
COMMENT ON TABLE crm.household_members IS 'who belongs to which household, from when to when (one row per membership; a client is in at most one household per programme at a time), and the limit the owner set on the member''s redemptions';
COMMENT ON COLUMN crm.household_members.owner_client_id IS 'the household: its owner''s client_id, with household_id';
COMMENT ON COLUMN crm.household_members.redeem_limit IS 'the most points the member may redeem in any limit_period (NULL: no limit), net of what reversals and refunds gave back';
COMMENT ON COLUMN crm.household_members.limit_period IS 'the trailing period redeem_limit counts over';

SELECT pg_catalog.pg_extension_config_dump('crm.households', '');
SELECT pg_catalog.pg_extension_config_dump('crm.household_members', '');
SELECT pg_catalog.pg_extension_config_dump('crm.households_household_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.household_members_membership_id_seq', '');

REVOKE ALL ON crm.households, crm.household_members FROM PUBLIC;

/*
 * The open household a client owns in a programme, locked; NULL if none.
 */
CREATE FUNCTION crm.loyalty_household_lock(owner_client_id bigint, program_id bigint)
RETURNS crm.households
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	h			crm.households;
BEGIN
	SELECT * INTO h FROM crm.households x
	 WHERE x.client_id = owner_client_id AND x.program_id = program_id AND x.closed_at IS NULL
	   FOR UPDATE;
	RETURN h;
END
$$;
COMMENT ON FUNCTION crm.loyalty_household_lock(bigint, bigint) IS 'internal: locks and returns the open household a client owns in a programme (NULL: none)';

/* The client's current membership in a programme, or NULL. */
CREATE FUNCTION crm.loyalty_membership(client_id bigint, program_id bigint)
RETURNS crm.household_members
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
	SELECT m.* FROM crm.household_members m
	 WHERE m.client_id = $1 AND m.program_id = $2 AND m.left_at IS NULL
$$;
COMMENT ON FUNCTION crm.loyalty_membership(bigint, bigint) IS 'internal: the client''s current household membership in a programme (NULL: none)';

/* Locks the accounts of the household's current members, in client_id order. */
CREATE FUNCTION crm.loyalty_household_lock_accounts(owner_client_id bigint, household_id bigint,
													program_id bigint)
RETURNS bigint[]
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_members	bigint[];
	v_member	bigint;
BEGIN
	SELECT coalesce(array_agg(m.client_id ORDER BY m.client_id), '{}') INTO v_members
	  FROM crm.household_members m
	 WHERE m.owner_client_id = owner_client_id AND m.household_id = household_id
	   AND m.left_at IS NULL;
	/* one account at a time: on Citus each is a query on one shard */
	FOREACH v_member IN ARRAY v_members LOOP
		PERFORM 1 FROM crm.loyalty_accounts a
		 WHERE a.client_id = v_member AND a.program_id = program_id
		   FOR UPDATE;
	END LOOP;
	RETURN v_members;
END
$$;
COMMENT ON FUNCTION crm.loyalty_household_lock_accounts(bigint, bigint, bigint) IS 'internal: locks the accounts of a household''s current members in client_id order and returns the members';

/*
 * The part of a household redemption before the redeemer's own debit:
 * the member's limit (LY004), the household's live points (LY001), and
 * the transfers of what the redeemer lacks from the other members' live
 * lots.  Called by crm.loyalty_redeem_sql with the household and every
 * member's account locked, after the key was found new.
 */
CREATE FUNCTION crm.loyalty_household_draw(m crm.household_members, p crm.loyalty_programs,
										   members bigint[], points bigint,
										   idempotency_key text, actor text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_at		timestamptz := pg_catalog.clock_timestamp();
	v_used		bigint;
	v_since		timestamptz;
	v_own		bigint;
	v_all		bigint;
	v_need		bigint;
	v_tid		bigint;
	v_take		bigint;
	v_givers	bigint[] := '{}';
	v_lots		bigint[] := '{}';
	v_expiry	timestamptz[] := '{}';
	v_takes		bigint[] := '{}';
	lot			record;
	giver		record;
BEGIN
	IF m.redeem_limit IS NOT NULL THEN
		/* the member's redemptions in the period (while a member), net of what came back */
		v_since := CASE WHEN m.limit_period >= v_at - m.joined_at THEN m.joined_at
						ELSE v_at - m.limit_period END;
		SELECT coalesce(-sum(l.points), 0)
			   - coalesce((SELECT sum(r.points) FROM crm.loyalty_reversals r
							JOIN crm.loyalty_ledger o
							  ON o.client_id = r.client_id AND o.program_id = r.program_id
							 AND o.entry_id = r.reversed_entry_id
						   WHERE o.client_id = m.client_id AND o.program_id = m.program_id
							 AND o.kind = 'redeem'
							 AND o.created_at > v_since), 0)
		  INTO v_used
		  FROM crm.loyalty_ledger l
		 WHERE l.client_id = m.client_id AND l.program_id = m.program_id AND l.kind = 'redeem'
		   AND l.created_at > v_since;
		IF v_used + points > m.redeem_limit THEN
			PERFORM crm.loyalty_raise('LY004',
				format('redeeming %s points exceeds the household limit of client %s: %s points per %s, %s left',
					   points, m.client_id, m.redeem_limit, m.limit_period,
					   greatest(m.redeem_limit - v_used, 0)),
				format('Client %s redeemed %s points in the last %s; the owner, client %s, sets the limit (crm.set_household_limit).',
					   m.client_id, v_used, m.limit_period, m.owner_client_id));
		END IF;
	END IF;

	SELECT coalesce(sum(t.remaining) FILTER (WHERE t.client_id = m.client_id), 0),
		   coalesce(sum(t.remaining), 0)
	  INTO v_own, v_all
	  FROM crm.loyalty_lots t
	 WHERE t.client_id = ANY (members) AND t.program_id = p.program_id AND t.remaining > 0
	   AND (t.expires_at IS NULL OR t.expires_at > v_at);
	IF v_all < points THEN
		PERFORM crm.loyalty_raise('LY001',
			format('not enough loyalty points: %s requested, %s available', points, v_all),
			format('Client %s has %s points in programme "%s", the household of client %s %s in all.',
				   m.client_id, v_own, p.code, m.owner_client_id, v_all));
	END IF;
	v_need := points - v_own;
	IF v_need <= 0 THEN
		RETURN;
	END IF;

	/* the other members' live lots, in the programme's lot order, until the need is met */
	v_tid := pg_catalog.nextval('crm.loyalty_ledger_entry_id_seq');
	FOR lot IN
		SELECT t.client_id, t.lot_id, t.remaining, t.expires_at FROM crm.loyalty_lots t
		 WHERE t.client_id = ANY (members) AND t.client_id <> m.client_id
		   AND t.program_id = p.program_id AND t.remaining > 0
		   AND (t.expires_at IS NULL OR t.expires_at > v_at)
		 ORDER BY CASE WHEN p.lot_order = 'expiring_first' THEN t.expires_at END NULLS LAST,
				  t.lot_id
	LOOP
		v_take := least(lot.remaining, v_need);
		v_givers := v_givers || lot.client_id;
		v_lots := v_lots || lot.lot_id;
		v_expiry := v_expiry || lot.expires_at;
		v_takes := v_takes || v_take;
		v_need := v_need - v_take;
		EXIT WHEN v_need = 0;
	END LOOP;

	/* one debit per giver, then one credit per lot (keeping its expiry) */
	FOR giver IN
		SELECT u.g, array_agg(u.l ORDER BY u.l) AS lots, array_agg(-u.t ORDER BY u.l) AS takes
		  FROM unnest(v_givers, v_lots, v_takes) AS u(g, l, t)
		 GROUP BY u.g ORDER BY u.g
	LOOP
		PERFORM crm.loyalty_append(giver.g, p.program_id, 'adjust', NULL, NULL,
			giver.lots, giver.takes, NULL, NULL, NULL, NULL,
			format('crm:household:%s', v_tid), actor, 'household_transfer',
			format('household transfer to client %s', m.client_id),
			jsonb_build_object('op', 'household_transfer', 'transfer', v_tid,
							   'from', giver.g, 'to', m.client_id,
							   'for_key', idempotency_key),
			v_at);
	END LOOP;
	FOR i IN 1 .. coalesce(array_length(v_lots, 1), 0) LOOP
		PERFORM crm.loyalty_append(m.client_id, p.program_id, 'adjust', v_takes[i], v_expiry[i],
			'{}', '{}', NULL, NULL, NULL, NULL,
			format('crm:household:%s:%s', v_tid, v_lots[i]), actor, 'household_transfer',
			format('household transfer from client %s', v_givers[i]),
			jsonb_build_object('op', 'household_transfer', 'transfer', v_tid,
							   'from', v_givers[i], 'to', m.client_id, 'lot_id', v_lots[i],
							   'for_key', idempotency_key),
			v_at);
	END LOOP;
END
$$;
COMMENT ON FUNCTION crm.loyalty_household_draw(crm.household_members, crm.loyalty_programs, bigint[], bigint, text, text) IS 'internal: checks a member''s household limit (LY004) and the household''s points (LY001) and moves what the redeemer lacks from the other members'' live lots into the redeemer''s account';

/*
 * The arguments every household function checks first: NULLs in order,
 * the programme.
 */
CREATE FUNCTION crm.loyalty_household_args(function_name text, client_id bigint,
										   client_arg text, program text)
RETURNS crm.loyalty_programs
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task(function_name);
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', format('%s must not be NULL', client_arg));
	END IF;
	RETURN crm.loyalty_program_row(program);
END
$$;
COMMENT ON FUNCTION crm.loyalty_household_args(text, bigint, text, text) IS 'internal: the first checks of a household function (Citus task, NULL client, programme)';

/*
 * create_household: the owner opens a household in a programme and is its
 * first member.  Calling it again returns the open household.
 */
CREATE FUNCTION crm.create_household(owner_client_id bigint, program text, name text DEFAULT NULL)
RETURNS crm.households
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	h			crm.households;
	m			crm.household_members;
BEGIN
	p := crm.loyalty_household_args('crm.create_household', owner_client_id, 'owner_client_id', program);
	PERFORM crm.loyalty_check_client(owner_client_id);
	IF name = '' THEN
		PERFORM crm.loyalty_raise('22023', 'a household''s name must not be empty',
								  NULL, 'Give NULL for no name.');
	END IF;
	h := crm.loyalty_household_lock(owner_client_id, p.program_id);
	IF h.household_id IS NOT NULL THEN
		RETURN h;
	END IF;
	m := crm.loyalty_membership(owner_client_id, p.program_id);
	IF m.client_id IS NOT NULL THEN
		PERFORM crm.loyalty_raise('23505',
			format('client %s is already in a household in programme "%s"', owner_client_id, p.code),
			format('Household %s of client %s, since %s.', m.household_id, m.owner_client_id, m.joined_at),
			'A client is in at most one household per programme: leave it first (crm.leave_household).');
	END IF;
	INSERT INTO crm.households AS x (client_id, program_id, name)
	VALUES (owner_client_id, p.program_id, name)
	RETURNING x.* INTO h;
	INSERT INTO crm.household_members (client_id, program_id, owner_client_id, household_id, role, joined_at)
	VALUES (owner_client_id, p.program_id, owner_client_id, h.household_id, 'owner', h.created_at);
	RETURN h;
END
$$;
COMMENT ON FUNCTION crm.create_household(bigint, text, text) IS 'opens a household (family card) in a programme with the client as its owner and first member; again: returns the open household; 23505 if the client is in another household of the programme';

/*
 * join_household: a client joins the owner's household.  Joining the
 * household one is in already returns the membership and writes nothing.
 */
CREATE FUNCTION crm.join_household(client_id bigint, owner_client_id bigint, program text,
								   redeem_limit bigint DEFAULT NULL,
								   limit_period interval DEFAULT '30 days')
RETURNS crm.household_members
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	h			crm.households;
	m			crm.household_members;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.join_household');
	IF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	ELSIF owner_client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'owner_client_id must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	IF limit_period IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'limit_period must not be NULL');
	END IF;
	PERFORM crm.loyalty_check_client(client_id);
	PERFORM crm.loyalty_check_client(owner_client_id);
	IF redeem_limit < 0 THEN
		PERFORM crm.loyalty_raise('22023', format('redeem_limit must not be negative, not %s', redeem_limit));
	END IF;
	IF limit_period <= interval '0' THEN
		PERFORM crm.loyalty_raise('22023', format('limit_period must be positive, not %s', limit_period));
	END IF;
	h := crm.loyalty_household_lock(owner_client_id, p.program_id);
	IF h.household_id IS NULL THEN
		PERFORM crm.loyalty_raise('22023',
			format('client %s has no household in programme "%s"', owner_client_id, p.code),
			NULL, 'The owner opens one with crm.create_household.');
	END IF;
	m := crm.loyalty_membership(client_id, p.program_id);
	IF m.client_id IS NOT NULL THEN
		IF m.owner_client_id = h.client_id AND m.household_id = h.household_id THEN
			RETURN m;
		END IF;
		PERFORM crm.loyalty_raise('23505',
			format('client %s is already in a household in programme "%s"', client_id, p.code),
			format('Household %s of client %s, since %s.', m.household_id, m.owner_client_id, m.joined_at),
			'A client is in at most one household per programme: leave it first (crm.leave_household).');
	END IF;
	/* the members' accounts, so that no household redemption is half-way */
	PERFORM crm.loyalty_household_lock_accounts(h.client_id, h.household_id, p.program_id);
	INSERT INTO crm.household_members AS x
		(client_id, program_id, owner_client_id, household_id, role, redeem_limit, limit_period)
	VALUES (client_id, p.program_id, h.client_id, h.household_id, 'member', redeem_limit, limit_period)
	RETURNING x.* INTO m;
	RETURN m;
END
$$;
COMMENT ON FUNCTION crm.join_household(bigint, bigint, text, bigint, interval) IS 'a client joins the household the owner has in the programme (their own points count in the household''s balance from then on), with an optional limit on their redemptions; again: returns the membership; 23505 if the client is in another household of the programme';

/*
 * leave_household: the member leaves; the points in their own account go
 * with them.  The owner leaving closes the household: every member leaves
 * at that moment.  Returns the memberships ended.
 */
CREATE FUNCTION crm.leave_household(client_id bigint, program text)
RETURNS SETOF crm.household_members
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	m			crm.household_members;
	h			crm.households;
	v_at		timestamptz;
BEGIN
	p := crm.loyalty_household_args('crm.leave_household', client_id, 'client_id', program);
	m := crm.loyalty_membership(client_id, p.program_id);
	IF m.client_id IS NULL THEN
		PERFORM crm.loyalty_check_client(client_id);
		PERFORM crm.loyalty_raise('22023',
			format('client %s is not in a household in programme "%s"', client_id, p.code));
	END IF;
	h := crm.loyalty_household_lock(m.owner_client_id, p.program_id);
	/* under the lock: still a member (a concurrent leave came first otherwise) */
	m := crm.loyalty_membership(client_id, p.program_id);
	IF m.client_id IS NULL OR h.household_id IS DISTINCT FROM m.household_id THEN
		PERFORM crm.loyalty_raise('22023',
			format('client %s is not in a household in programme "%s"', client_id, p.code));
	END IF;
	PERFORM crm.loyalty_household_lock_accounts(h.client_id, h.household_id, p.program_id);
	v_at := pg_catalog.clock_timestamp();
	IF m.role = 'owner' THEN
		UPDATE crm.households x SET closed_at = v_at
		 WHERE x.client_id = h.client_id AND x.household_id = h.household_id;
		RETURN QUERY
		UPDATE crm.household_members x SET left_at = v_at
		 WHERE x.owner_client_id = h.client_id AND x.household_id = h.household_id
		   AND x.left_at IS NULL
		RETURNING x.*;
	ELSE
		RETURN QUERY
		UPDATE crm.household_members x SET left_at = v_at
		 WHERE x.client_id = m.client_id AND x.program_id = m.program_id
		   AND x.membership_id = m.membership_id
		RETURNING x.*;
	END IF;
END
$$;
COMMENT ON FUNCTION crm.leave_household(bigint, text) IS 'the client leaves their household in the programme, taking the points left in their own account; the owner leaving closes the household (every member leaves); returns the memberships ended';

/*
 * set_household_limit: the owner limits what a member may redeem in a
 * trailing period (redeem_limit NULL: no limit).
 */
CREATE FUNCTION crm.set_household_limit(owner_client_id bigint, client_id bigint, program text,
										redeem_limit bigint,
										limit_period interval DEFAULT '30 days')
RETURNS crm.household_members
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	h			crm.households;
	m			crm.household_members;
BEGIN
	PERFORM crm.loyalty_refuse_in_citus_task('crm.set_household_limit');
	IF owner_client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'owner_client_id must not be NULL');
	ELSIF client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'client_id must not be NULL');
	END IF;
	p := crm.loyalty_program_row(program);
	IF limit_period IS NULL THEN
		PERFORM crm.loyalty_raise('22004', 'limit_period must not be NULL');
	END IF;
	PERFORM crm.loyalty_check_client(owner_client_id);
	PERFORM crm.loyalty_check_client(client_id);
	IF redeem_limit < 0 THEN
		PERFORM crm.loyalty_raise('22023', format('redeem_limit must not be negative, not %s', redeem_limit));
	END IF;
	IF limit_period <= interval '0' THEN
		PERFORM crm.loyalty_raise('22023', format('limit_period must be positive, not %s', limit_period));
	END IF;
	h := crm.loyalty_household_lock(owner_client_id, p.program_id);
	m := crm.loyalty_membership(client_id, p.program_id);
	IF h.household_id IS NULL OR m.client_id IS NULL OR m.household_id <> h.household_id
	   OR m.owner_client_id <> h.client_id THEN
		PERFORM crm.loyalty_raise('22023',
			format('client %s is not a member of the household of client %s in programme "%s"',
				   client_id, owner_client_id, p.code),
			NULL, 'Only the owner of a member''s household sets the member''s limit.');
	END IF;
	UPDATE crm.household_members x
	   SET redeem_limit = set_household_limit.redeem_limit,
		   limit_period = set_household_limit.limit_period
	 WHERE x.client_id = m.client_id AND x.program_id = m.program_id
	   AND x.membership_id = m.membership_id
	RETURNING x.* INTO m;
	RETURN m;
END
$$;
COMMENT ON FUNCTION crm.set_household_limit(bigint, bigint, text, bigint, interval) IS 'the owner sets the most points a member of their household may redeem in a trailing period (NULL: no limit)';

/*
 * household_balance: the balance of the household the client is in
 * (the sum of its members' balances); a client in none: their own.
 */
CREATE FUNCTION crm.household_balance(client_id bigint, program text)
RETURNS bigint
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	m			crm.household_members;
	v			bigint;
BEGIN
	p := crm.loyalty_household_args('crm.household_balance', client_id, 'client_id', program);
	PERFORM crm.loyalty_check_client(client_id);
	m := crm.loyalty_membership(client_id, p.program_id);
	IF m.client_id IS NULL THEN
		SELECT coalesce(sum(a.balance), 0) INTO v FROM crm.loyalty_accounts a
		 WHERE a.client_id = client_id AND a.program_id = p.program_id;
	ELSE
		SELECT coalesce(sum(a.balance), 0) INTO v
		  FROM crm.household_members x
		  JOIN crm.loyalty_accounts a ON a.client_id = x.client_id AND a.program_id = x.program_id
		 WHERE x.owner_client_id = m.owner_client_id AND x.household_id = m.household_id
		   AND x.left_at IS NULL;
	END IF;
	RETURN v;
END
$$;
COMMENT ON FUNCTION crm.household_balance(bigint, text) IS 'the points of the household the client is in, in the programme: the sum of its members'' balances (a client in no household: their own balance)';

/*
 * household_statement: the movements of the household the client is in
 * (or, with member, of one member in it), in order, with the household's
 * running balance.  A member's entries count from their joining to their
 * leaving; the rows "joined" and "left" bring in and take out the
 * member's balance of that moment.
 */
CREATE FUNCTION crm.household_statement(client_id bigint, program text,
										member bigint DEFAULT NULL,
										from_at timestamptz DEFAULT NULL,
										to_at timestamptz DEFAULT NULL)
RETURNS TABLE (at timestamptz, member_id bigint, entry_id bigint, kind text, points bigint,
			   household_balance bigint, member_balance bigint, order_id bigint,
			   idempotency_key text, source text, note text)
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	p			crm.loyalty_programs;
	m			crm.household_members;
	v_members	bigint[];
BEGIN
	p := crm.loyalty_household_args('crm.household_statement', client_id, 'client_id', program);
	PERFORM crm.loyalty_check_client(client_id);
	m := crm.loyalty_membership(client_id, p.program_id);
	IF m.client_id IS NULL THEN
		PERFORM crm.loyalty_raise('22023',
			format('client %s is not in a household in programme "%s"', client_id, p.code));
	END IF;
	/*
	 * The members first, then their entries, each read on its own (on
	 * Citus: from the shards); the rest is computed from those rows.
	 */
	v_members := ARRAY(SELECT DISTINCT x.client_id FROM crm.household_members x
						WHERE x.owner_client_id = m.owner_client_id
						  AND x.household_id = m.household_id);
	RETURN QUERY
	WITH ms AS MATERIALIZED (
		SELECT x.client_id, x.joined_at, x.left_at
		  FROM crm.household_members x
		 WHERE x.client_id = ANY (v_members) AND x.program_id = p.program_id
		   AND x.owner_client_id = m.owner_client_id AND x.household_id = m.household_id),
	le AS MATERIALIZED (
		SELECT l.client_id, l.created_at, l.entry_id, l.kind, l.points, l.balance_after,
			   l.order_id, l.idempotency_key, l.source, l.note
		  FROM crm.loyalty_ledger l
		 WHERE l.client_id = ANY (v_members) AND l.program_id = p.program_id),
	ev AS (
		/* a member's balance when joining, and when leaving */
		SELECT ms.joined_at AS at, ms.client_id, NULL::bigint AS entry_id, 'joined'::text AS kind,
			   coalesce(b.bal, 0) AS points, coalesce(b.bal, 0) AS member_balance,
			   NULL::bigint AS order_id, NULL::text AS idempotency_key,
			   'join_household'::text AS source, NULL::text AS note, 0 AS ord
		  FROM ms
		  LEFT JOIN LATERAL (SELECT sum(l.points)::bigint AS bal FROM le l
							  WHERE l.client_id = ms.client_id AND l.created_at <= ms.joined_at) b ON true
		UNION ALL
		SELECT ms.left_at, ms.client_id, NULL, 'left', -coalesce(b.bal, 0), coalesce(b.bal, 0),
			   NULL, NULL, 'leave_household', NULL, 2
		  FROM ms
		  LEFT JOIN LATERAL (SELECT sum(l.points)::bigint AS bal FROM le l
							  WHERE l.client_id = ms.client_id AND l.created_at <= ms.left_at) b ON true
		 WHERE ms.left_at IS NOT NULL
		UNION ALL
		SELECT l.created_at, l.client_id, l.entry_id, l.kind, l.points, l.balance_after,
			   l.order_id, l.idempotency_key, l.source, l.note, 1
		  FROM ms
		  JOIN le l
			ON l.client_id = ms.client_id
		   AND l.created_at > ms.joined_at
		   AND (ms.left_at IS NULL OR l.created_at <= ms.left_at)),
	s AS (
		SELECT ev.*, sum(ev.points) OVER (ORDER BY ev.at, ev.ord, ev.entry_id, ev.client_id)::bigint AS running
		  FROM ev
		 WHERE to_at IS NULL OR ev.at <= to_at)
	SELECT s.at, s.client_id, s.entry_id, s.kind, s.points, s.running, s.member_balance,
		   s.order_id, s.idempotency_key, s.source, s.note
	  FROM s
	 WHERE (from_at IS NULL OR s.at >= from_at)
	   AND (member IS NULL OR s.client_id = member)
	 ORDER BY s.at, s.ord, s.entry_id, s.client_id;
END
$$;
COMMENT ON FUNCTION crm.household_statement(bigint, text, bigint, timestamptz, timestamptz) IS 'the movements of the household the client is in (or of one member of it), in order, with the household''s running balance and the member''s; "joined" and "left" rows bring in and take out a member''s balance';

CREATE OR REPLACE FUNCTION crm.verify_ledger()
RETURNS TABLE (check_name text, client_id bigint, program_id bigint, entry_id bigint, detail text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
	/* the cached balance of an account equals the sum of its entries */
	SELECT 'balance_equals_entries', a.client_id, a.program_id, NULL::bigint,
		   format('balance %s, entries sum to %s', a.balance, coalesce(s.total, 0))
	  FROM crm.loyalty_accounts a
	  LEFT JOIN (SELECT l.client_id, l.program_id, sum(l.points) AS total
				   FROM crm.loyalty_ledger l GROUP BY 1, 2) s
		ON s.client_id = a.client_id AND s.program_id = a.program_id
	 WHERE a.balance IS DISTINCT FROM coalesce(s.total, 0)
	UNION ALL
	/* balance_after is the running sum, never negative */
	SELECT CASE WHEN r.running < 0 THEN 'negative_balance' ELSE 'balance_after_is_running_sum' END,
		   r.client_id, r.program_id, r.entry_id,
		   format('balance_after %s, running sum %s', r.balance_after, r.running)
	  FROM (SELECT l.client_id, l.program_id, l.entry_id, l.balance_after,
				   sum(l.points) OVER (PARTITION BY l.client_id, l.program_id ORDER BY l.entry_id) AS running
			  FROM crm.loyalty_ledger l) r
	 WHERE r.running < 0 OR r.running <> r.balance_after
	UNION ALL
	/* an entry's points are the sum of its allocations (a credit that opens a lot: the lot) */
	SELECT 'entry_equals_allocations', l.client_id, l.program_id, l.entry_id,
		   format('entry %s points, allocations sum to %s', l.points, coalesce(s.total, 0))
	  FROM crm.loyalty_ledger l
	  LEFT JOIN (SELECT al.client_id, al.program_id, al.entry_id, sum(al.points) AS total
				   FROM crm.loyalty_allocations al GROUP BY 1, 2, 3) s
		ON s.client_id = l.client_id AND s.program_id = l.program_id AND s.entry_id = l.entry_id
	 WHERE l.points <> coalesce(s.total, 0) + CASE WHEN l.lot_id = l.entry_id THEN l.points ELSE 0 END
	UNION ALL
	/* a lot is never over-drawn, never over-filled, and its cache is right */
	SELECT CASE WHEN t.points + coalesce(s.total, 0) < 0 THEN 'lot_overdrawn'
				WHEN coalesce(s.total, 0) > 0 THEN 'lot_overfilled'
				ELSE 'lot_remaining_equals_allocations' END,
		   t.client_id, t.program_id, t.lot_id,
		   format('lot of %s points, remaining %s, allocations since sum to %s',
				  t.points, t.remaining, coalesce(s.total, 0))
	  FROM crm.loyalty_lots t
	  LEFT JOIN (SELECT al.client_id, al.program_id, al.lot_id, sum(al.points) AS total
				   FROM crm.loyalty_allocations al GROUP BY 1, 2, 3) s
		ON s.client_id = t.client_id AND s.program_id = t.program_id AND s.lot_id = t.lot_id
	 WHERE t.points + coalesce(s.total, 0) < 0 OR coalesce(s.total, 0) > 0
		OR t.points + coalesce(s.total, 0) <> t.remaining
	UNION ALL
	/* every credit of new points has its lot, of its size */
	SELECT 'credit_has_lot', l.client_id, l.program_id, l.entry_id,
		   format('entry of %s points, lot of %s', l.points, coalesce(t.points::text, 'none'))
	  FROM crm.loyalty_ledger l
	  LEFT JOIN crm.loyalty_lots t
		ON t.client_id = l.client_id AND t.program_id = l.program_id AND t.lot_id = l.entry_id
	 WHERE l.lot_id = l.entry_id AND t.points IS DISTINCT FROM l.points
	UNION ALL
	/* no allocation draws a lot that expired before the drawing entry */
	SELECT 'draw_from_expired_lot', al.client_id, al.program_id, al.entry_id,
		   format('draws %s from lot %s expired at %s', -al.points, al.lot_id, t.expires_at)
	  FROM crm.loyalty_allocations al
	  JOIN crm.loyalty_ledger l
		ON l.client_id = al.client_id AND l.program_id = al.program_id AND l.entry_id = al.entry_id
	  JOIN crm.loyalty_lots t
		ON t.client_id = al.client_id AND t.program_id = al.program_id AND t.lot_id = al.lot_id
	 WHERE al.points < 0 AND l.kind IN ('redeem', 'adjust') AND t.expires_at <= l.created_at
	UNION ALL
	/* no entry is reversed beyond its points */
	SELECT 'entry_over_reversed', o.client_id, o.program_id, o.entry_id,
		   format('entry of %s points, reversals cover %s', o.points, s.total)
	  FROM crm.loyalty_ledger o
	  JOIN (SELECT r.client_id, r.program_id, r.reversed_entry_id,
				   sum(abs(r.points) + r.unrecovered) AS total
			  FROM crm.loyalty_reversals r GROUP BY 1, 2, 3) s
		ON s.client_id = o.client_id AND s.program_id = o.program_id AND s.reversed_entry_id = o.entry_id
	 WHERE s.total > abs(o.points) OR o.kind IN ('reversal', 'expire')
	UNION ALL
	/* a reversal entry moves what its reversal rows say */
	SELECT 'reversal_equals_parts', l.client_id, l.program_id, l.entry_id,
		   format('entry %s points %s unrecovered, parts %s points %s unrecovered',
				  l.points, l.unrecovered, coalesce(s.moved, 0), coalesce(s.unrec, 0))
	  FROM crm.loyalty_ledger l
	  LEFT JOIN (SELECT r.client_id, r.program_id, r.entry_id,
						sum(r.points) AS moved, sum(r.unrecovered) AS unrec
				   FROM crm.loyalty_reversals r GROUP BY 1, 2, 3) s
		ON s.client_id = l.client_id AND s.program_id = l.program_id AND s.entry_id = l.entry_id
	 WHERE l.kind = 'reversal'
	   AND (l.points <> coalesce(s.moved, 0) OR l.unrecovered <> coalesce(s.unrec, 0))
	UNION ALL
	/* every reference inside the ledger resolves */
	SELECT 'dangling_reference', x.client_id, x.program_id, x.entry_id, x.what
	  FROM (SELECT l.client_id, l.program_id, l.entry_id, format('lot %s of the entry', l.lot_id) AS what
			  FROM crm.loyalty_ledger l
			 WHERE l.lot_id IS NOT NULL
			   AND NOT EXISTS (SELECT 1 FROM crm.loyalty_lots t
								WHERE t.client_id = l.client_id AND t.program_id = l.program_id
								  AND t.lot_id = l.lot_id)
			UNION ALL
			SELECT l.client_id, l.program_id, l.entry_id, format('reversed entry %s', l.reverses_entry_id)
			  FROM crm.loyalty_ledger l
			 WHERE l.reverses_entry_id IS NOT NULL
			   AND NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = l.client_id AND o.program_id = l.program_id
								  AND o.entry_id = l.reverses_entry_id)
			UNION ALL
			SELECT l.client_id, l.program_id, l.entry_id, 'entry without its account'
			  FROM crm.loyalty_ledger l
			 WHERE NOT EXISTS (SELECT 1 FROM crm.loyalty_accounts a
								WHERE a.client_id = l.client_id AND a.program_id = l.program_id)
			UNION ALL
			SELECT t.client_id, t.program_id, t.lot_id, 'lot without its credit entry'
			  FROM crm.loyalty_lots t
			 WHERE NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = t.client_id AND o.program_id = t.program_id
								  AND o.entry_id = t.lot_id AND o.lot_id = t.lot_id)
			UNION ALL
			SELECT al.client_id, al.program_id, al.entry_id, format('allocation to lot %s', al.lot_id)
			  FROM crm.loyalty_allocations al
			 WHERE NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = al.client_id AND o.program_id = al.program_id
								  AND o.entry_id = al.entry_id)
				OR NOT EXISTS (SELECT 1 FROM crm.loyalty_lots t
								WHERE t.client_id = al.client_id AND t.program_id = al.program_id
								  AND t.lot_id = al.lot_id)
			UNION ALL
			SELECT r.client_id, r.program_id, r.entry_id, format('reversal of entry %s', r.reversed_entry_id)
			  FROM crm.loyalty_reversals r
			 WHERE NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = r.client_id AND o.program_id = r.program_id
								  AND o.entry_id = r.entry_id AND o.kind = 'reversal')
				OR NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = r.client_id AND o.program_id = r.program_id
								  AND o.entry_id = r.reversed_entry_id)) x
	UNION ALL
	/* a household transfer adds up to zero: what the givers lost, the redeemer got */
	SELECT 'household_transfer_balanced', NULL, t.program_id, t.transfer,
		   format('transfer %s: its entries sum to %s', t.transfer, t.total)
	  FROM (SELECT (l.request->>'transfer')::bigint AS transfer, min(l.program_id) AS program_id,
				   sum(l.points) AS total
			  FROM crm.loyalty_ledger l
			 WHERE l.source = 'household_transfer'
			 GROUP BY 1) t
	 WHERE t.total <> 0
	UNION ALL
	/*
	 * every membership belongs to a household of its programme, open while
	 * the membership lasts (the reference spans two clients: each side is
	 * read on its own, which a Citus cluster does shard by shard)
	 */
	(WITH h AS MATERIALIZED (
			SELECT x.client_id, x.household_id, x.program_id, x.closed_at FROM crm.households x),
		  mb AS MATERIALIZED (
			SELECT x.client_id, x.program_id, x.membership_id, x.owner_client_id, x.household_id,
				   x.left_at
			  FROM crm.household_members x)
	 SELECT 'household_member_resolves', mb.client_id, mb.program_id, NULL::bigint,
			format('membership %s names household %s of client %s%s', mb.membership_id,
				   mb.household_id, mb.owner_client_id,
				   CASE WHEN h.household_id IS NULL THEN ', which does not exist'
						WHEN h.program_id <> mb.program_id THEN ', which is of another programme'
						ELSE ', which is closed' END)
	   FROM mb
	   LEFT JOIN h ON h.client_id = mb.owner_client_id AND h.household_id = mb.household_id
	  WHERE h.household_id IS NULL OR h.program_id <> mb.program_id
		 OR (mb.left_at IS NULL AND h.closed_at IS NOT NULL))
	UNION ALL
	/* the ledger is append-only: its guards are in place */
	SELECT 'append_only_trigger', NULL, NULL, NULL,
		   format('trigger %s on %s is missing or not enabled always', g.name, g.tab)
	  FROM (VALUES ('loyalty_ledger_append_only', 'crm.loyalty_ledger'),
				   ('loyalty_ledger_no_truncate', 'crm.loyalty_ledger'),
				   ('loyalty_allocations_append_only', 'crm.loyalty_allocations'),
				   ('loyalty_allocations_no_truncate', 'crm.loyalty_allocations'),
				   ('loyalty_reversals_append_only', 'crm.loyalty_reversals'),
				   ('loyalty_reversals_no_truncate', 'crm.loyalty_reversals'),
				   ('loyalty_tier_changes_append_only', 'crm.loyalty_tier_changes'),
				   ('loyalty_tier_changes_no_truncate', 'crm.loyalty_tier_changes'),
				   ('loyalty_account_guard', 'crm.loyalty_accounts'),
				   ('loyalty_account_no_truncate', 'crm.loyalty_accounts')) g(name, tab)
	 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg
						WHERE tg.tgrelid = g.tab::regclass AND tg.tgname = g.name
						  AND tg.tgenabled = 'A')
	ORDER BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION crm.verify_ledger() IS 'checks every invariant of the loyalty ledger (balances = sum of entries, running balances, no negative balance, lots neither over-drawn nor over-filled, no draw from an expired lot, no entry reversed twice, every reference inside the ledger resolves, every entry has its account, household transfers add up to zero, every household membership resolves, append-only and account guards) and returns each violation; no rows = clean';

REVOKE EXECUTE ON FUNCTION crm.loyalty_household_lock(bigint, bigint),
	crm.loyalty_membership(bigint, bigint),
	crm.loyalty_household_lock_accounts(bigint, bigint, bigint),
	crm.loyalty_household_draw(crm.household_members, crm.loyalty_programs, bigint[], bigint, text, text),
	crm.loyalty_household_args(text, bigint, text, text),
	crm.create_household(bigint, text, text),
	crm.join_household(bigint, bigint, text, bigint, interval),
	crm.leave_household(bigint, text),
	crm.set_household_limit(bigint, bigint, text, bigint, interval),
	crm.household_balance(bigint, text),
	crm.household_statement(bigint, text, bigint, timestamptz, timestamptz)
	FROM PUBLIC;

/*
 * Households (84_loyalty_households.sql): read like the loyalty tables,
 * written only by the household functions, which the DBA grants.
 */
GRANT SELECT ON crm.households, crm.household_members
	TO crm_admin, crm_analyst, crm_app, crm_manager;
/* pg_dump reads every sequence (95_security.sql: all sequences of crm) */
GRANT SELECT ON SEQUENCE crm.households_household_id_seq, crm.household_members_membership_id_seq
	TO crm_admin;
GRANT EXECUTE ON FUNCTION crm.loyalty_membership(bigint, bigint),
	crm.loyalty_household_args(text, bigint, text, text),
	crm.household_balance(bigint, text),
	crm.household_statement(bigint, text, bigint, timestamptz, timestamptz)
	TO crm_admin, crm_analyst, crm_app, crm_manager;
GRANT EXECUTE ON FUNCTION crm.create_household(bigint, text, text),
	crm.join_household(bigint, bigint, text, bigint, interval),
	crm.leave_household(bigint, text),
	crm.set_household_limit(bigint, bigint, text, bigint, interval)
	TO crm_admin, crm_app;
DO $$
DECLARE
	t			text;
BEGIN
	FOREACH t IN ARRAY ARRAY['households', 'household_members']
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE crm.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE pg_catalog.format(
			'CREATE POLICY crm_staff ON crm.%I TO crm_admin, crm_analyst, crm_app'
			' USING (true) WITH CHECK (true)', t);
		EXECUTE pg_catalog.format(
			'CREATE POLICY crm_manager ON crm.%I TO crm_manager'
			' USING (client_id = ANY ((SELECT crm.owned_client_ids())::bigint[]))'
			' WITH CHECK (client_id = ANY ((SELECT crm.owned_client_ids())::bigint[]))', t);
	END LOOP;
END
$$;


-- ---- behavioural classes by evidence: scores, confidence and runner-up ----
ALTER TYPE crm.churn_signal ADD ATTRIBUTE class_confidence double precision,
	ADD ATTRIBUTE runner_up_class text;
COMMENT ON TYPE crm.churn_signal IS 'churn signals of one client: rhythm, overdue ratio, probability of a gap this long, season share, engagement silence, status and behavioural class with its confidence and runner-up (docs/churn.md)';

-- a new last argument (purchases_after_offer, default 0): the function is made anew
DROP FUNCTION crm.churn_signal(crm.purchase_profile, timestamptz, double precision, bigint, bigint, timestamptz, bigint, jsonb);
CREATE FUNCTION crm.churn_signal(profile crm.purchase_profile, as_of timestamptz,
								 population_gap_days double precision,
								 recent_purchases bigint DEFAULT 0,
								 previous_purchases bigint DEFAULT 0,
								 last_engagement timestamptz DEFAULT NULL,
								 offers_since_last_purchase bigint DEFAULT 0,
								 options jsonb DEFAULT '{}',
								 purchases_after_offer bigint DEFAULT 0,
									population_counts bigint[] DEFAULT NULL)
RETURNS crm.churn_signal
AS 'MODULE_PATHNAME', 'churn_signal'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.churn_signal(crm.purchase_profile, timestamptz, double precision, bigint, bigint, timestamptz, bigint, jsonb, bigint, bigint[]) IS 'churn signals, status and behavioural class of one client from its purchase profile at as_of; error if the last purchase is after as_of';

CREATE FUNCTION crm.churn_class_scores(profile crm.purchase_profile, as_of timestamptz,
									   population_gap_days double precision,
									   recent_purchases bigint DEFAULT 0,
									   previous_purchases bigint DEFAULT 0,
									   last_engagement timestamptz DEFAULT NULL,
									   offers_since_last_purchase bigint DEFAULT 0,
									   options jsonb DEFAULT '{}',
									   purchases_after_offer bigint DEFAULT 0,
										population_counts bigint[] DEFAULT NULL)
RETURNS TABLE (class text, score double precision, chosen text, conditions jsonb)
AS 'MODULE_PATHNAME', 'churn_class_scores'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 9;
COMMENT ON FUNCTION crm.churn_class_scores(crm.purchase_profile, timestamptz, double precision, bigint, bigint, timestamptz, bigint, jsonb, bigint, bigint[]) IS 'the score of each behavioural class for one client (the arguments of crm.churn_signal) and the conditions behind it: feature, value and evidence';

CREATE FUNCTION crm.explain_class(client_id bigint, as_of timestamptz, options jsonb DEFAULT '{}')
RETURNS TABLE (class text, score double precision, chosen text, conditions jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	opts		jsonb;
	w			interval;
	lag			interval;
	recent_from timestamptz;
	previous_from timestamptz;
	pop			double precision;
	min_gap		double precision;
	counts		bigint[];
BEGIN
	IF explain_class.client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF options IS NULL THEN
		RAISE EXCEPTION 'options must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	opts := crm.churn_options(options);
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = explain_class.client_id) THEN
		RAISE EXCEPTION 'client % does not exist', explain_class.client_id
			USING ERRCODE = 'no_data_found';
	END IF;
	pop := (opts ->> 'population_gap_days')::double precision;
	min_gap := (opts ->> 'min_gap_days')::double precision;
	w := make_interval(secs => (opts ->> 'window_days')::double precision * 86400);
	lag := make_interval(secs => (opts ->> 'offer_lag_days')::double precision * 86400);
	recent_from := as_of - w;
	previous_from := as_of - 2 * w;
	IF pop IS NULL THEN
		SELECT coalesce(exp(avg(ln(greatest(q.gap, min_gap))::numeric)::double precision),
						greatest(30, min_gap))
		  INTO pop
		  FROM (SELECT (crm.purchase_profile(o.ordered_at, o.net_amount)).recent_mean_gap_days AS gap
				  FROM crm.orders o
				 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of
				 GROUP BY o.client_id) q
		 WHERE q.gap IS NOT NULL;
	END IF;
	/*
	 * the population's counts that the shares are shrunk toward, as
	 * crm.churn_signals_sql, unless the options set both shares
	 */
	IF opts ->> 'population_offer_share' IS NULL OR opts ->> 'population_season_share' IS NULL THEN
		WITH q AS MATERIALIZED (
			SELECT crm.purchase_profile(o.ordered_at, o.net_amount, o.promo_used) AS pr
			  FROM crm.orders o
			 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of
			 GROUP BY o.client_id),
		r AS (
			SELECT o.client_id, o.ordered_at,
				   row_number() OVER (PARTITION BY o.client_id ORDER BY o.ordered_at DESC) AS k
			  FROM crm.orders o
			 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of)
		SELECT ARRAY[coalesce(sum((q.pr).purchases), 0)::bigint,
					 coalesce(sum((q.pr).offer_purchases), 0)::bigint,
					 coalesce(sum((q.pr).gap_window + 1), 0)::bigint,
					 (SELECT count(*) FROM r
					   WHERE r.k <= 16
						 AND EXISTS (SELECT 1 FROM crm.interactions i
									  WHERE i.client_id = r.client_id AND i.direction = 'outbound'
										AND i.campaign IS NOT NULL AND i.occurred_at < r.ordered_at
										AND i.occurred_at >= r.ordered_at - lag))] ||
			   (SELECT array_agg(coalesce(mt.total, 0)::bigint ORDER BY m.m)
				  FROM generate_series(1, 12) m(m)
				  LEFT JOIN (SELECT u.k, sum(u.x) AS total
							   FROM q, unnest((q.pr).month_purchases) WITH ORDINALITY u(x, k)
							  GROUP BY u.k) mt ON mt.k = m.m)
		  INTO counts
		  FROM q;
	END IF;
	RETURN QUERY
	WITH mine AS (
		SELECT o.ordered_at, o.net_amount, o.promo_used
		  FROM crm.orders o
		 WHERE o.client_id = explain_class.client_id
		   AND o.status IN ('placed', 'paid') AND o.ordered_at <= as_of),
	p AS (
		SELECT crm.purchase_profile(m.ordered_at, m.net_amount, m.promo_used) AS pr,
			   count(*) FILTER (WHERE m.ordered_at > recent_from) AS rn,
			   count(*) FILTER (WHERE m.ordered_at > previous_from
								AND m.ordered_at <= recent_from) AS pn,
			   max(m.ordered_at) AS last_purchase
		  FROM mine m
		HAVING count(*) > 0),
	a AS (
		SELECT count(*) AS after_offer
		  FROM (SELECT m.ordered_at FROM mine m ORDER BY m.ordered_at DESC LIMIT 16) r
		 WHERE EXISTS (SELECT 1 FROM crm.interactions i
						WHERE i.client_id = explain_class.client_id AND i.direction = 'outbound'
						  AND i.campaign IS NOT NULL AND i.occurred_at < r.ordered_at
						  AND i.occurred_at >= r.ordered_at - lag))
	SELECT k.class, k.score, k.chosen, k.conditions
	  FROM p, a,
		   crm.churn_class_scores(
			   p.pr, as_of, pop, p.rn, p.pn,
			   (SELECT max(i.occurred_at) FROM crm.interactions i
				 WHERE i.client_id = explain_class.client_id AND i.direction = 'inbound'
				   AND i.kind <> 'sale' AND i.occurred_at <= as_of),
			   (SELECT count(*) FROM crm.interactions c
				 WHERE c.client_id = explain_class.client_id AND c.direction = 'outbound'
				   AND c.campaign IS NOT NULL AND c.occurred_at > p.last_purchase
				   AND c.occurred_at <= as_of),
			   opts, a.after_offer, counts) k;
END
$$;
COMMENT ON FUNCTION crm.explain_class(bigint, timestamptz, jsonb) IS 'why a client has its behavioural class: each class''s score, which class won and which came second, and the conditions behind each score (feature, value, evidence)';

-- the classes' conditions, in place of the rules tried in order
UPDATE crm.behaviour_classes b
   SET rule = v.rule, description = v.description
  FROM (VALUES
	('promo_dependent', 1, 'buys only after an offer',
	 'promo evidence (the larger of the shrunk shares of purchases with an offer and of purchases soon after an offer, plus half the smaller) above promo_share'),
	('lost', 2, 'long gone, offers did not help',
	 'silence_days above lost_days and offers_since_last_purchase at least lost_offers'),
	('about_to_lose', 3, 'long overdue',
	 'silence_days above lost_days without an offer tried, or stopped: silence above about_to_lose_overdue times the recent gap (the last gap where it is long for the rhythm before it, else the recent mean gap), silence_days above about_to_lose_days, gap cv below drifting_cv'),
	('promising', 4, 'habit forming, about every two weeks',
	 'age_days below promising_days, purchases at least promising_purchases, own gap below promising_gap_days, overdue_ratio below about_to_lose_overdue'),
	('seasonal_sleeper', 5, 'buys around holidays and events only',
	 'purchases at least 2, shrunk season share above season_share, age_days above promising_days, own gap above seasonal_gap_days'),
	('at_risk', 6, 'was loyal, now buys less often',
	 'purchases above frequent_purchases, earlier rate (or the rhythm before the profile''s window) above 1 / (1.3 loyal_gap_days), recent rate below at_risk_rate_ratio times the earlier rate, silence_days below lost_days / 3, silence below 1.5 about_to_lose_overdue times the longer of the recent mean gap and the last gap'),
	('drifting', 7, 'buys often, vanishes, comes back',
	 'purchases above frequent_purchases, gap cv and gap cv without the last gap above drifting_cv, silence_days below drifting_days'),
	('loyal', 8, 'buys about weekly, more than 10 orders',
	 'purchases above frequent_purchases, age_days above promising_days, the at-risk score negated, own gap below loyal_gap_days, gap cv below drifting_cv, overdue_ratio below about_to_lose_overdue or silence_days below about_to_lose_days'),
	('unclassified', 10, 'none of the eight classes',
	 'score 0: no class scores above it')) AS v(class, priority, description, rule)
 WHERE b.class = v.class;
COMMENT ON TABLE crm.behaviour_classes IS 'the eight behavioural classes (and unclassified) of crm.churn_signal, with the conditions of their scores; priority breaks ties';

/*
 * CLV: standard errors and covariance of the fitted models (appended after
 * converged: a model stored before the upgrade reads them as null).
 */
ALTER TYPE crm.bgnbd_model ADD ATTRIBUTE std_errors float8[], ADD ATTRIBUTE covariance float8[];
ALTER TYPE crm.pareto_nbd_model ADD ATTRIBUTE std_errors float8[], ADD ATTRIBUTE covariance float8[];
ALTER TYPE crm.gamma_gamma_model ADD ATTRIBUTE std_errors float8[], ADD ATTRIBUTE covariance float8[];
COMMENT ON TYPE crm.bgnbd_model IS 'a fitted BG/NBD model: purchase rate ~ Gamma(r, alpha) (alpha in the time unit of the data), drop-out probability ~ Beta(a, b); total log-likelihood, clients, optimiser iterations, convergence; standard errors of the parameters and their covariance matrix (observed information)';
COMMENT ON TYPE crm.pareto_nbd_model IS 'a fitted Pareto/NBD model: purchase rate ~ Gamma(r, alpha), drop-out rate ~ Gamma(s, beta) (alpha, beta in the time unit of the data); total log-likelihood, clients, optimiser iterations, convergence; standard errors of the parameters and their covariance matrix (observed information)';
COMMENT ON TYPE crm.gamma_gamma_model IS 'a fitted Gamma-Gamma spend model: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v) (v in money units); total log-likelihood, repeat buyers used, optimiser iterations, convergence; standard errors of the parameters and their covariance matrix (observed information)';

/*
 * CLV: the probability of exactly n purchases, and predictions with their
 * standard errors and confidence intervals (delta method, from the
 * covariance the fits carry).
 */
CREATE FUNCTION crm.bgnbd_probability_of_purchases(model crm.bgnbd_model, n integer, horizon float8,
												   frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgnbd_probability'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_probability_of_purchases(model crm.pareto_nbd_model, n integer, horizon float8,
														frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_pareto_probability'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.bgnbd_probability_of_purchases(crm.bgnbd_model, integer, float8, float8, float8, float8) IS 'BG/NBD probability that the client makes exactly n purchases in the next horizon time units (frequency, recency, t all 0: a new client)';
COMMENT ON FUNCTION crm.pareto_nbd_probability_of_purchases(crm.pareto_nbd_model, integer, float8, float8, float8, float8) IS 'Pareto/NBD probability that the client makes exactly n purchases in the next horizon time units (frequency, recency, t all 0: a new client)';

CREATE TYPE crm.prediction_interval AS (
	estimate	float8,
	std_error	float8,
	lower		float8,
	upper		float8
);
COMMENT ON TYPE crm.prediction_interval IS 'a prediction, its standard error (delta method, from the model''s covariance) and the bounds of its confidence interval (symmetric on the logit scale for probabilities, on the log scale for the others); null error and bounds when the model carries no covariance';

CREATE FUNCTION crm.bgnbd_p_alive_interval(model crm.bgnbd_model, frequency float8, recency float8, t float8,
										   level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_bgnbd_p_alive_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_p_alive_interval(model crm.pareto_nbd_model, frequency float8, recency float8, t float8,
												level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_pareto_p_alive_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgnbd_expected_purchases_interval(model crm.bgnbd_model, horizon float8, frequency float8,
													  recency float8, t float8, level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_bgnbd_expected_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_expected_purchases_interval(model crm.pareto_nbd_model, horizon float8, frequency float8,
														   recency float8, t float8, level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_pareto_expected_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgnbd_probability_of_purchases_interval(model crm.bgnbd_model, n integer, horizon float8,
															frequency float8, recency float8, t float8,
															level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_bgnbd_probability_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_probability_of_purchases_interval(model crm.pareto_nbd_model, n integer, horizon float8,
																 frequency float8, recency float8, t float8,
																 level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_pareto_probability_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.gamma_gamma_expected_spend_interval(model crm.gamma_gamma_model, frequency float8, monetary float8,
														level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_gamma_spend_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_interval(transactions crm.bgnbd_model, spend crm.gamma_gamma_model,
								 frequency float8, recency float8, t float8, monetary float8,
								 horizon float8, discount_rate float8, period float8 DEFAULT 1,
								 level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_bgnbd_clv_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_interval(transactions crm.pareto_nbd_model, spend crm.gamma_gamma_model,
								 frequency float8, recency float8, t float8, monetary float8,
								 horizon float8, discount_rate float8, period float8 DEFAULT 1,
								 level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_pareto_clv_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.bgnbd_p_alive_interval(crm.bgnbd_model, float8, float8, float8, float8) IS 'crm.bgnbd_p_alive with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.pareto_nbd_p_alive_interval(crm.pareto_nbd_model, float8, float8, float8, float8) IS 'crm.pareto_nbd_p_alive with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.bgnbd_expected_purchases_interval(crm.bgnbd_model, float8, float8, float8, float8, float8) IS 'crm.bgnbd_expected_purchases with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.pareto_nbd_expected_purchases_interval(crm.pareto_nbd_model, float8, float8, float8, float8, float8) IS 'crm.pareto_nbd_expected_purchases with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.bgnbd_probability_of_purchases_interval(crm.bgnbd_model, integer, float8, float8, float8, float8, float8) IS 'crm.bgnbd_probability_of_purchases with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.pareto_nbd_probability_of_purchases_interval(crm.pareto_nbd_model, integer, float8, float8, float8, float8, float8) IS 'crm.pareto_nbd_probability_of_purchases with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.gamma_gamma_expected_spend_interval(crm.gamma_gamma_model, float8, float8, float8) IS 'crm.gamma_gamma_expected_spend with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.clv_interval(crm.bgnbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8, float8) IS 'crm.clv with its standard error and confidence interval at the level (delta method over both models'' parameters, the two fits taken as independent)';
COMMENT ON FUNCTION crm.clv_interval(crm.pareto_nbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8, float8) IS 'crm.clv with its standard error and confidence interval at the level (delta method over both models'' parameters, the two fits taken as independent)';


/*
 * 0.3.0: service levels, staff results, scheduled jobs and their progress (sql/install/89_service_levels.sql,
 * 91_staff.sql, 93_jobs.sql, and their grants in 95_security.sql).
 */

/* the welcome job takes a lock per programme and reports its progress */
CREATE OR REPLACE FUNCTION crm.award_welcome_bonuses(program text, actor text DEFAULT NULL)
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

/*
 * Service levels: how fast an incident must be answered and resolved,
 * by the client's kind, RFM segment or loyalty tier and the incident's
 * priority.  The first level (lowest rank) whose conditions all hold
 * applies; a condition left NULL holds for every incident.  An incident
 * inserted without a due_at gets the level's times from its opened_at
 * (calendar time, no business hours); crm.sla_report judges them.
 */

CREATE TABLE crm.service_levels (
	level_id		integer GENERATED BY DEFAULT AS IDENTITY,
	code			text NOT NULL,
	name			text NOT NULL,
	rank			integer NOT NULL,
	client_kind		text,
	rfm_segment		text,
	program_id		bigint,
	tier_code		text,
	incident_priority text,
	response_time	interval NOT NULL,
	resolution_time interval NOT NULL,
	active			boolean NOT NULL DEFAULT true,
	CONSTRAINT service_levels_pkey PRIMARY KEY (level_id),
	CONSTRAINT service_levels_code_key UNIQUE (code),
	CONSTRAINT service_levels_rank_key UNIQUE (rank),
	CONSTRAINT service_levels_tier_fkey FOREIGN KEY (program_id, tier_code)
		REFERENCES crm.loyalty_tiers (program_id, tier_code),
	CONSTRAINT service_levels_code_check CHECK (code <> ''),
	CONSTRAINT service_levels_name_check CHECK (name <> ''),
	CONSTRAINT service_levels_client_kind_check CHECK (client_kind IN ('person', 'company')),
	CONSTRAINT service_levels_tier_check CHECK ((program_id IS NULL) = (tier_code IS NULL)),
	CONSTRAINT service_levels_priority_check
		CHECK (incident_priority IN ('low', 'normal', 'high', 'urgent')),
	CONSTRAINT service_levels_response_time_check CHECK (response_time > interval '0'),
	CONSTRAINT service_levels_resolution_time_check CHECK (resolution_time >= response_time)
);
CREATE INDEX service_levels_tier_idx ON crm.service_levels (program_id, tier_code)
	WHERE program_id IS NOT NULL;
COMMENT ON TABLE crm.service_levels IS 'response and resolution times of incidents by client kind, RFM segment, loyalty tier and incident priority: the active level of lowest rank whose conditions (NULL: any) all hold applies';
COMMENT ON COLUMN crm.service_levels.rfm_segment IS 'the client''s segment in crm.client_segments (the latest crm.refresh_segments)';
COMMENT ON COLUMN crm.service_levels.tier_code IS 'the client''s tier in the programme program_id (crm.loyalty_accounts)';
SELECT pg_catalog.pg_extension_config_dump('crm.service_levels', '');
SELECT pg_catalog.pg_extension_config_dump('crm.service_levels_level_id_seq', '');

/* the level an incident was given, and its answer */
ALTER TABLE crm.incidents
	ADD COLUMN service_level_id integer,
	ADD COLUMN response_due_at timestamptz,
	ADD COLUMN responded_at timestamptz,
	ADD CONSTRAINT incidents_service_level_fkey FOREIGN KEY (service_level_id)
		REFERENCES crm.service_levels (level_id),
	ADD CONSTRAINT incidents_response_due_at_check CHECK (response_due_at >= opened_at),
	ADD CONSTRAINT incidents_responded_at_check CHECK (responded_at >= opened_at);
CREATE INDEX incidents_service_level_idx ON crm.incidents (service_level_id)
	WHERE service_level_id IS NOT NULL;
COMMENT ON COLUMN crm.incidents.service_level_id IS 'the service level that set due_at and response_due_at (NULL: the application set due_at, or no level applied)';
COMMENT ON COLUMN crm.incidents.response_due_at IS 'when the first answer to the client is due';
COMMENT ON COLUMN crm.incidents.responded_at IS 'when the client first got an answer (NULL: not yet; a resolution counts as an answer)';

/*
 * service_level_match: the level that applies to a new incident of the
 * client with this priority, or NULL; raises nothing (the trigger leaves
 * a bad priority or a missing client to the table's own checks and keys).
 */
CREATE FUNCTION crm.service_level_match(client_id bigint, priority text)
RETURNS crm.service_levels
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	v_kind		text;
	v_segment	text;
	lv			crm.service_levels;
BEGIN
	SELECT c.kind INTO v_kind FROM crm.clients c WHERE c.client_id = service_level_match.client_id;
	SELECT s.rfm_segment INTO v_segment
	  FROM crm.client_segments s WHERE s.client_id = service_level_match.client_id;
	SELECT l.* INTO lv
	  FROM crm.service_levels l
	 WHERE l.active
	   AND (l.client_kind IS NULL OR l.client_kind = v_kind)
	   AND (l.rfm_segment IS NULL OR l.rfm_segment = v_segment)
	   AND (l.incident_priority IS NULL OR l.incident_priority = priority)
	   AND (l.tier_code IS NULL
			OR EXISTS (SELECT 1 FROM crm.loyalty_accounts a
						WHERE a.client_id = service_level_match.client_id
						  AND a.program_id = l.program_id AND a.tier_code = l.tier_code))
	 ORDER BY l.rank
	 LIMIT 1;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	RETURN lv;
END
$$;
COMMENT ON FUNCTION crm.service_level_match(bigint, text) IS 'internal: the active level of lowest rank whose conditions hold for the client and priority, or NULL, without checking the arguments';

/*
 * service_level_for: the level that applies to a new incident of the
 * client with this priority now (NULL: none applies).  Caller's rights:
 * a manager asks only about their own clients.
 */
CREATE FUNCTION crm.service_level_for(client_id bigint, priority text DEFAULT 'normal')
RETURNS crm.service_levels
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF priority IS NULL THEN
		RAISE EXCEPTION 'priority must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF priority NOT IN ('low', 'normal', 'high', 'urgent') THEN
		RAISE EXCEPTION 'unknown incident priority: "%"', priority
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Priorities are low, normal, high and urgent.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = service_level_for.client_id) THEN
		RAISE EXCEPTION 'client % does not exist', client_id USING ERRCODE = 'no_data_found';
	END IF;
	RETURN crm.service_level_match(client_id, priority);
END
$$;
COMMENT ON FUNCTION crm.service_level_for(bigint, text) IS 'the service level a new incident of the client with this priority gets: the active level of lowest rank whose client kind, RFM segment (crm.client_segments), loyalty tier and priority conditions hold; NULL when none does';

/*
 * The trigger: an incident inserted without due_at gets the level's due
 * times (a level named by service_level_id, or the one that applies).
 * On a Citus cluster the trigger runs on the shard, where it cannot read
 * the other tables: there the application sets the times, from
 * crm.service_level_for called on the coordinator.
 */
CREATE FUNCTION crm.incidents_apply_service_level() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	lv			crm.service_levels;
BEGIN
	IF NEW.due_at IS NOT NULL OR crm.in_citus_task() THEN
		RETURN NEW;
	END IF;
	IF NEW.service_level_id IS NULL
	   AND NOT EXISTS (SELECT 1 FROM crm.service_levels l WHERE l.active) THEN
		RETURN NEW;
	END IF;
	IF NEW.service_level_id IS NOT NULL THEN
		SELECT l.* INTO lv FROM crm.service_levels l WHERE l.level_id = NEW.service_level_id;
	ELSE
		lv := crm.service_level_match(NEW.client_id, NEW.priority);
	END IF;
	IF lv.level_id IS NOT NULL THEN
		NEW.service_level_id := lv.level_id;
		NEW.due_at := NEW.opened_at + lv.resolution_time;
		NEW.response_due_at := coalesce(NEW.response_due_at, NEW.opened_at + lv.response_time);
	END IF;
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.incidents_apply_service_level() IS 'trigger: an incident inserted without due_at gets due_at and response_due_at from its service level (crm.service_level_for)';
CREATE TRIGGER incidents_service_level BEFORE INSERT ON crm.incidents
	FOR EACH ROW EXECUTE FUNCTION crm.incidents_apply_service_level();

/*
 * sla_report: incidents opened in [from_at, to_at), judged at to_at, by
 * service level, channel and assignee.  Resolution: met when resolved at
 * or before due_at; breached when resolved later, or still open at to_at
 * and past due_at; open when neither yet.  Response the same, with the
 * first answer (responded_at, or resolved_at when there is none) against
 * response_due_at.  What happened after to_at is not seen.
 */
CREATE FUNCTION crm.sla_report(from_at timestamptz, to_at timestamptz)
RETURNS TABLE (service_level text, channel text, assignee text, incidents bigint,
			   resolution_met bigint, resolution_breached bigint, resolution_open bigint,
			   response_met bigint, response_breached bigint, response_open bigint,
			   without_due bigint, met_percent numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF from_at IS NULL THEN
		RAISE EXCEPTION 'from_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF to_at IS NULL THEN
		RAISE EXCEPTION 'to_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(to_at) THEN
		RAISE EXCEPTION 'to_at must be finite: %', to_at USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF from_at > to_at THEN
		RAISE EXCEPTION 'from_at % is after to_at %', from_at, to_at
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH j AS (
		SELECT l.code AS level, i.channel AS ch, i.assignee AS who,
			   i.due_at, i.response_due_at,
			   CASE WHEN i.resolved_at <= to_at THEN i.resolved_at END AS resolved,
			   CASE WHEN coalesce(i.responded_at, i.resolved_at) <= to_at
					THEN coalesce(i.responded_at, i.resolved_at) END AS answered
		  FROM crm.incidents i
		  LEFT JOIN crm.service_levels l ON l.level_id = i.service_level_id
		 WHERE i.opened_at >= from_at AND i.opened_at < to_at),
	g AS (
		SELECT j.level, j.ch, j.who, count(*) AS n,
			   count(*) FILTER (WHERE j.resolved <= j.due_at) AS res_met,
			   count(*) FILTER (WHERE j.resolved > j.due_at
								   OR (j.resolved IS NULL AND j.due_at < to_at)) AS res_late,
			   count(*) FILTER (WHERE j.resolved IS NULL AND j.due_at >= to_at) AS res_open,
			   count(*) FILTER (WHERE j.answered <= j.response_due_at) AS resp_met,
			   count(*) FILTER (WHERE j.answered > j.response_due_at
								   OR (j.answered IS NULL AND j.response_due_at < to_at)) AS resp_late,
			   count(*) FILTER (WHERE j.answered IS NULL AND j.response_due_at >= to_at) AS resp_open,
			   count(*) FILTER (WHERE j.due_at IS NULL) AS no_due
		  FROM j
		 GROUP BY j.level, j.ch, j.who)
	SELECT g.level, g.ch, g.who, g.n, g.res_met, g.res_late, g.res_open,
		   g.resp_met, g.resp_late, g.resp_open, g.no_due,
		   round(100.0 * g.res_met / nullif(g.res_met + g.res_late, 0), 1)
	  FROM g
	 ORDER BY g.level NULLS LAST, g.ch, g.who NULLS LAST;
END
$$;
COMMENT ON FUNCTION crm.sla_report(timestamptz, timestamptz) IS 'incidents opened in [from_at, to_at), judged at to_at, per service level, channel and assignee: resolutions and first answers met, breached (late, or open past due) and still open within time, incidents without a due time, and the share of judged resolutions met (percent)';

/*
 * Staff results: who sold how much, to how many clients, at what average
 * check, how many of those clients bought again, and how their clients'
 * segments and churn statuses moved in the period.
 *
 * A purchase (a placed or paid order, as everywhere in crm) is credited
 *   by => 'owner'       to the client's owner (crm.clients.owner, as it is
 *                       now: crm keeps no history of owners);
 *   by => 'handled_by'  to the handled_by of the latest interaction linked
 *                       to the order (interactions.order_id) that names one.
 * A purchase credited to nobody is the row whose staff is NULL.
 *
 * "Bought again": a purchase in the period that is not the client's first
 * purchase ever.  repeat_share = clients with such a purchase credited to
 * the staff / clients served.  Moves: the transitions crm.refresh_segments
 * logged with as_of in [from_at, to_at) of the staff's clients (by owner:
 * every client they own; by handled_by: the clients they sold to in the
 * period); a first label (from NULL) is not a move.  Churn statuses are
 * ordered new = active < slipping < lapsed < lost: improved and worsened
 * count the moves down and up that order.
 *
 * Caller's rights: the tables' privileges and policies decide what is
 * counted (a manager counts their own clients only), and a crm_manager who
 * is not also crm_admin, crm_analyst or crm_app sees only the row named by
 * their own role.
 */
CREATE FUNCTION crm.staff_performance(from_at timestamptz, to_at timestamptz,
									  by text DEFAULT 'owner')
RETURNS TABLE (staff text, revenue numeric, currency text, purchases bigint,
			   clients_served bigint, average_check numeric, repeat_clients bigint,
			   repeat_share numeric, segment_moves bigint, status_improved bigint,
			   status_worsened bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_all		boolean;
BEGIN
	IF from_at IS NULL THEN
		RAISE EXCEPTION 'from_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF to_at IS NULL THEN
		RAISE EXCEPTION 'to_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF by IS NULL THEN
		RAISE EXCEPTION 'by must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF from_at > to_at THEN
		RAISE EXCEPTION 'from_at % is after to_at %', from_at, to_at
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF by NOT IN ('owner', 'handled_by') THEN
		RAISE EXCEPTION 'unknown attribution: "%"', by
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Purchases are credited by owner or by handled_by.';
	END IF;
	v_all := pg_has_role('crm_admin', 'MEMBER') OR pg_has_role('crm_analyst', 'MEMBER')
		OR pg_has_role('crm_app', 'MEMBER') OR NOT pg_has_role('crm_manager', 'MEMBER');

	RETURN QUERY
	WITH sales AS MATERIALIZED (
		SELECT CASE $3
				 WHEN 'owner' THEN c.owner
				 ELSE (SELECT i.handled_by FROM crm.interactions i
						WHERE i.client_id = o.client_id AND i.order_id = o.order_id
						  AND i.handled_by IS NOT NULL
						ORDER BY i.occurred_at DESC, i.interaction_id DESC LIMIT 1)
			   END AS who,
			   o.client_id, o.net_amount, o.currency,
			   EXISTS (SELECT 1 FROM crm.orders e
						WHERE e.client_id = o.client_id AND e.status IN ('placed', 'paid')
						  AND (e.ordered_at < o.ordered_at
							   OR (e.ordered_at = o.ordered_at AND e.order_id < o.order_id)))
				 AS again
		  FROM crm.orders o
		  JOIN crm.clients c ON c.client_id = o.client_id
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at >= $1 AND o.ordered_at < $2),
	sold AS (
		SELECT s.who, sum(s.net_amount) AS revenue, crm.one_currency(s.currency) AS currency,
			   count(*) AS purchases, count(DISTINCT s.client_id) AS served,
			   count(DISTINCT s.client_id) FILTER (WHERE s.again) AS again
		  FROM sales s
		 GROUP BY s.who),
	clients_of AS (
		SELECT c.owner AS who, c.client_id FROM crm.clients c WHERE $3 = 'owner'
		UNION ALL
		SELECT DISTINCT s.who, s.client_id FROM sales s WHERE $3 = 'handled_by'),
	moved AS (
		SELECT k.who,
			   count(*) FILTER (WHERE t.dimension = 'rfm_segment'
								  AND t.from_value IS NOT NULL AND t.to_value IS NOT NULL) AS moves,
			   count(*) FILTER (WHERE t.dimension = 'churn_status'
								  AND crm.churn_status_rank(t.to_value)
									  < crm.churn_status_rank(t.from_value)) AS improved,
			   count(*) FILTER (WHERE t.dimension = 'churn_status'
								  AND crm.churn_status_rank(t.to_value)
									  > crm.churn_status_rank(t.from_value)) AS worsened
		  FROM clients_of k
		  JOIN crm.segment_transitions t ON t.client_id = k.client_id
		 WHERE t.as_of >= $1 AND t.as_of < $2
		 GROUP BY k.who)
	SELECT x.who, coalesce(max(x.revenue), 0), max(x.currency), coalesce(max(x.purchases), 0),
		   coalesce(max(x.served), 0), round(max(x.revenue) / nullif(max(x.purchases), 0), 2),
		   coalesce(max(x.again), 0), round(max(x.again)::numeric / nullif(max(x.served), 0), 4),
		   coalesce(max(x.moves), 0), coalesce(max(x.improved), 0), coalesce(max(x.worsened), 0)
	  FROM (SELECT s.who, s.revenue, s.currency, s.purchases, s.served, s.again,
				   NULL::bigint AS moves, NULL::bigint AS improved, NULL::bigint AS worsened
			  FROM sold s
			UNION ALL
			SELECT m.who, NULL, NULL, NULL, NULL, NULL, m.moves, m.improved, m.worsened
			  FROM moved m) x
	 WHERE v_all OR x.who = CURRENT_USER
	 GROUP BY x.who
	 ORDER BY 2 DESC, 1 NULLS LAST;
END
$$;
COMMENT ON FUNCTION crm.staff_performance(timestamptz, timestamptz, text) IS 'per member of staff (by owner of the client, or by handled_by of the interaction linked to the order): revenue, currency, purchases, clients served, average check, clients who bought again and their share, RFM segment moves and churn status moves (improved, worsened) of their clients in [from_at, to_at); a crm_manager sees their own row only';

/* the order of churn statuses the moves are counted in: 0 best, 3 worst */
CREATE FUNCTION crm.churn_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
	SELECT CASE status WHEN 'new' THEN 0 WHEN 'active' THEN 0 WHEN 'slipping' THEN 1
					   WHEN 'lapsed' THEN 2 WHEN 'lost' THEN 3 END
$$;
COMMENT ON FUNCTION crm.churn_status_rank(text) IS 'internal: the order of churn statuses for crm.staff_performance: new and active 0, slipping 1, lapsed 2, lost 3 (NULL otherwise)';

/*
 * Scheduled jobs: what lets another session watch a long job, a lock that
 * makes two runs of one job take turns, and the ledger check a scheduler
 * runs (docs/operations.md).
 */

/*
 * report_progress: the job's line in pg_stat_activity (query) becomes
 * "crm progress: <job>: <step> | <the statement>" (src/progress.c).
 * PARALLEL RESTRICTED: a parallel worker's line is not the one to watch.
 */
CREATE FUNCTION crm.report_progress(job text, step text)
RETURNS void
AS 'MODULE_PATHNAME', 'crm_report_progress'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.report_progress(text, text) IS 'internal: shows a job''s step in its session''s line of pg_stat_activity (crm.job_progress)';

/*
 * job_progress: the sessions running a job of crm now, with the step each
 * reported last.  pg_stat_activity shows the query of another role's
 * session only to its members and to pg_read_all_stats.
 */
CREATE VIEW crm.job_progress AS
SELECT a.pid,
	   a.usename AS user_name,
	   a.datname AS database_name,
	   pg_catalog.substring(a.query, '^crm progress: ([^:]*):') AS job,
	   pg_catalog.substring(a.query, '^crm progress: [^:]*: ([^|]*) \| ') AS step,
	   a.query_start AS started_at,
	   a.state_change AS step_at,
	   a.wait_event_type,
	   a.wait_event
  FROM pg_catalog.pg_stat_activity a
 WHERE a.query LIKE 'crm progress: %'
   AND a.state = 'active';
COMMENT ON VIEW crm.job_progress IS 'the sessions running a job of crm (crm.refresh_segments, the loyalty jobs, crm.generate_demo_data ...) and the step each reported last, read from pg_stat_activity';

/*
 * job_lock: two runs of one job (and programme) take turns: the second
 * waits for the first one's transaction to end, then finds its work done.
 * A transaction-level advisory lock, in the key space of
 * hashtextextended('crm job ...').
 */
CREATE FUNCTION crm.job_lock(job text, key bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			bigint := pg_catalog.hashtextextended('crm job ' || job || ' ' || coalesce(key, 0), 0);
BEGIN
	IF NOT pg_catalog.pg_try_advisory_xact_lock(k) THEN
		PERFORM crm.report_progress(job, 'waiting for another run of the job to end');
		PERFORM pg_catalog.pg_advisory_xact_lock(k);
	END IF;
END
$$;
COMMENT ON FUNCTION crm.job_lock(text, bigint) IS 'internal: a transaction-level advisory lock per job and key (programme), so that two runs take turns';

/*
 * check_ledger: crm.verify_ledger as a scheduled job.  Clean: returns the
 * time of the check.  Otherwise an error a DBA sees in the server log and
 * in the scheduler's record of the run (cron.job_run_details, status
 * failed): XX001 with the number of problems and the first ones.
 */
CREATE FUNCTION crm.check_ledger()
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	n			bigint;
	first		text;
BEGIN
	PERFORM crm.report_progress('check_ledger', 'verifying every account, entry and lot');
	SELECT count(*),
		   string_agg(format('%s (client %s, programme %s%s): %s', v.check_name, v.client_id,
							 v.program_id, ', entry ' || v.entry_id, v.detail), '; ')
			   FILTER (WHERE v.rn <= 3)
	  INTO n, first
	  FROM (SELECT x.*, row_number() OVER () AS rn FROM crm.verify_ledger() x) v;
	IF n > 0 THEN
		RAISE EXCEPTION 'the loyalty ledger failed % checks', n
			USING ERRCODE = 'data_corrupted',
				  DETAIL = first,
				  HINT = 'SELECT * FROM crm.verify_ledger() lists them all (docs/loyalty.md).';
	END IF;
	RETURN pg_catalog.clock_timestamp();
END
$$;
COMMENT ON FUNCTION crm.check_ledger() IS 'scheduler job: crm.verify_ledger(); returns the time of the check when the ledger is clean, otherwise raises XX001 (data_corrupted) with the number of failed checks and the first three, which the server log and cron.job_run_details show';


/*
 * Service levels, staff results and the scheduled jobs: the levels are
 * configuration (everybody reads, the admin writes); the analyst reads the
 * new columns of crm.incidents; the ledger check is for those who may run
 * crm.verify_ledger; the internal helpers of the jobs are for the owner.
 */
GRANT SELECT ON crm.service_levels TO crm_admin, crm_analyst, crm_app, crm_manager;
GRANT INSERT, UPDATE, DELETE ON crm.service_levels TO crm_admin;
GRANT USAGE, SELECT ON SEQUENCE crm.service_levels_level_id_seq TO crm_admin;
GRANT SELECT (service_level_id, response_due_at, responded_at) ON crm.incidents TO crm_analyst;
GRANT SELECT ON crm.job_progress TO crm_admin, crm_analyst, crm_app, crm_manager;
REVOKE EXECUTE ON FUNCTION crm.check_ledger(),
	crm.job_lock(text, bigint)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.check_ledger() TO crm_admin, crm_analyst;

/*
 * crm.price_cart keeps the general rules and the category tree per backend
 * (src/discount_cache.c); crm.pricing_version tells it when to read them again.
 */
CREATE TABLE crm.pricing_version (
	singleton		boolean NOT NULL DEFAULT true,
	version			bigint NOT NULL DEFAULT 1,
	CONSTRAINT pricing_version_pkey PRIMARY KEY (singleton),
	CONSTRAINT pricing_version_singleton_check CHECK (singleton)
);
COMMENT ON TABLE crm.pricing_version IS 'one row: the version of the discount rules and categories that crm.price_cart''s per-backend cache checks; every statement writing crm.discount_rules or crm.categories adds one';
INSERT INTO crm.pricing_version (singleton, version) VALUES (true, 1);
/* not data: a restored database has its row from CREATE EXTENSION and counts on from there */
SELECT pg_catalog.pg_extension_config_dump('crm.pricing_version', 'WHERE false');

/*
 * The writer's statement adds one to the version, as the owner of crm's
 * tables (writing a rule needs no privilege on this table).  On a Citus
 * cluster the rules are read by query (the cache is not used) and the
 * version is left alone; in a query a Citus node sent, nothing is done.
 */
CREATE FUNCTION crm.pricing_changed() RETURNS trigger
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS 'MODULE_PATHNAME', 'discount_pricing_changed';
COMMENT ON FUNCTION crm.pricing_changed() IS 'trigger: adds one to crm.pricing_version before a statement writes crm.discount_rules or crm.categories, so that crm.price_cart''s cached rules are read again';
REVOKE EXECUTE ON FUNCTION crm.pricing_changed() FROM PUBLIC;
CREATE TRIGGER discount_rules_pricing_changed
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.discount_rules
	FOR EACH STATEMENT EXECUTE FUNCTION crm.pricing_changed();
CREATE TRIGGER categories_pricing_changed
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.categories
	FOR EACH STATEMENT EXECUTE FUNCTION crm.pricing_changed();
/* also on a logical replica, where the rows arrive with session_replication_role = replica */
ALTER TABLE crm.discount_rules ENABLE ALWAYS TRIGGER discount_rules_pricing_changed;
ALTER TABLE crm.categories ENABLE ALWAYS TRIGGER categories_pricing_changed;
GRANT SELECT ON crm.pricing_version TO crm_admin, crm_analyst, crm_app, crm_manager;


/*
 * ---- the profile store: crm.profile_store, its state, its change log and
 * crm.refresh_profiles (sql/install/79_profiles.sql, docs/profiles.md) ----
 */
CREATE TABLE crm.profile_store (
	client_id		bigint NOT NULL,
	currency		text,
	state			bytea,
	last_engagement	timestamptz,
	offers_since_last_purchase bigint NOT NULL,
	purchases_after_offer bigint NOT NULL DEFAULT 0,
	next_change_at	timestamptz,
	CONSTRAINT profile_store_pkey PRIMARY KEY (client_id),
	CONSTRAINT profile_store_client_fkey FOREIGN KEY (client_id)
		REFERENCES crm.clients (client_id) ON DELETE CASCADE,
	CONSTRAINT profile_store_offers_check CHECK (offers_since_last_purchase >= 0),
	CONSTRAINT profile_store_after_offer_check CHECK (purchases_after_offer BETWEEN 0 AND 16)
);
/* the clients whose row the passing of time changes by a later as_of */
CREATE INDEX profile_store_next_change_idx ON crm.profile_store (next_change_at);
COMMENT ON TABLE crm.profile_store IS 'each client''s purchase profile state with the churn windows (crm.purchase_profile_state with window bounds), last engagement, offers since the last purchase and purchases soon after an offer, at the as_of of crm.profile_store_state (state NULL: every purchase after it), and the earliest later as_of at which time alone changes the row; currency NULL: purchases in more than one; kept by crm.refresh_profiles';

CREATE TABLE crm.profile_store_state (
	one_row			boolean NOT NULL DEFAULT true,
	as_of			timestamptz NOT NULL,
	window_days		double precision NOT NULL,
	offer_lag_days	double precision NOT NULL,
	recent_from		timestamptz NOT NULL,
	previous_from	timestamptz NOT NULL,
	rebuilt_at		timestamptz NOT NULL,
	refreshed_at	timestamptz NOT NULL,
	clients			bigint NOT NULL,
	recomputed		bigint NOT NULL,
	folded			bigint NOT NULL DEFAULT 0,
	CONSTRAINT profile_store_state_pkey PRIMARY KEY (one_row),
	CONSTRAINT profile_store_state_one_row_check CHECK (one_row),
	CONSTRAINT profile_store_state_window_check CHECK (window_days > 0)
);
COMMENT ON TABLE crm.profile_store_state IS 'the as_of, churn windows and offer lag crm.profile_store holds, when it was last rebuilt and refreshed, its clients, the clients the last refresh recomputed and those whose new rows it folded into their stored row';

CREATE TABLE crm.profile_changes (
	client_id		bigint NOT NULL,
	change_id		bigint GENERATED BY DEFAULT AS IDENTITY,
	change			"char",
	happened_at		timestamptz,
	amount			numeric,
	promo			boolean,
	currency		text,
	CONSTRAINT profile_changes_pkey PRIMARY KEY (client_id, change_id),
	CONSTRAINT profile_changes_change_check
		CHECK (change IN ('p', 'x', 'e', 'c', 'i')),
	CONSTRAINT profile_changes_insert_check
		CHECK (change IS NULL OR happened_at IS NOT NULL),
	CONSTRAINT profile_changes_purchase_check
		CHECK ((change = 'p') = (amount IS NOT NULL AND promo IS NOT NULL AND currency IS NOT NULL))
);
COMMENT ON TABLE crm.profile_changes IS 'the change log of crm.profile_store: a client whose orders or interactions changed since the last crm.refresh_profiles (written by triggers, taken by the refresh); change: the kind of an inserted row (p a purchase, placed or paid, with its time, net amount, offer and currency; x another order; e an engagement; c a campaign message; i another interaction, with its time), NULL for any other change';

SELECT pg_catalog.pg_extension_config_dump('crm.profile_store', '');
SELECT pg_catalog.pg_extension_config_dump('crm.profile_store_state', '');
SELECT pg_catalog.pg_extension_config_dump('crm.profile_changes', '');
SELECT pg_catalog.pg_extension_config_dump('crm.profile_changes_change_id_seq', '');

/*
 * The trigger: a row per client whose order or interaction was inserted,
 * deleted or changed in a column the profiles read.  SECURITY DEFINER:
 * writers hold no privilege on the log.  Nothing while there is no store
 * (no state row: before the first refresh, after a rewind to -infinity; a
 * restore loads the orders before the state): the refresh that builds it
 * holds writers back (SHARE on the orders and interactions) and reads
 * them all.  Not in a query Citus sent to a shard: on a Citus cluster the
 * store is not kept (crm.refresh_profiles), and a distributed insert from
 * inside a shard's query is refused.
 */
CREATE FUNCTION crm.log_profile_change()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF crm.in_citus_task() OR NOT EXISTS (SELECT 1 FROM crm.profile_store_state) THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'INSERT' AND TG_ARGV[0] = 'orders' THEN
		IF NEW.status IN ('placed', 'paid') THEN
			INSERT INTO crm.profile_changes (client_id, change, happened_at, amount, promo, currency)
			VALUES (NEW.client_id, 'p', NEW.ordered_at, NEW.net_amount, NEW.promo_used, NEW.currency);
		ELSE
			INSERT INTO crm.profile_changes (client_id, change, happened_at)
			VALUES (NEW.client_id, 'x', NEW.ordered_at);
		END IF;
		RETURN NULL;
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO crm.profile_changes (client_id, change, happened_at)
		VALUES (NEW.client_id,
				CASE WHEN NEW.direction = 'inbound' AND NEW.kind <> 'sale' THEN 'e'
					 WHEN NEW.direction = 'outbound' AND NEW.campaign IS NOT NULL THEN 'c'
					 ELSE 'i' END,
				NEW.occurred_at);
		RETURN NULL;
	END IF;
	INSERT INTO crm.profile_changes (client_id) VALUES (OLD.client_id);
	IF TG_OP = 'UPDATE' AND NEW.client_id <> OLD.client_id THEN
		INSERT INTO crm.profile_changes (client_id) VALUES (NEW.client_id);
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.log_profile_change() IS 'trigger on crm.orders and crm.interactions: logs the client of a changed row in crm.profile_changes (an inserted row with what the store reads of it; the trigger''s argument names the table)';
REVOKE EXECUTE ON FUNCTION crm.log_profile_change() FROM PUBLIC;

CREATE TRIGGER orders_profile_insert AFTER INSERT OR DELETE ON crm.orders
	FOR EACH ROW EXECUTE FUNCTION crm.log_profile_change('orders');
CREATE TRIGGER orders_profile_update
	AFTER UPDATE OF client_id, ordered_at, status, net_amount, promo_used, currency ON crm.orders
	FOR EACH ROW
	WHEN ((OLD.client_id, OLD.ordered_at, OLD.status, OLD.net_amount, OLD.promo_used, OLD.currency)
		  IS DISTINCT FROM
		  (NEW.client_id, NEW.ordered_at, NEW.status, NEW.net_amount, NEW.promo_used, NEW.currency))
	EXECUTE FUNCTION crm.log_profile_change('orders');
CREATE TRIGGER interactions_profile_insert AFTER INSERT OR DELETE ON crm.interactions
	FOR EACH ROW EXECUTE FUNCTION crm.log_profile_change('interactions');
CREATE TRIGGER interactions_profile_update
	AFTER UPDATE OF client_id, occurred_at, direction, kind, campaign ON crm.interactions
	FOR EACH ROW
	WHEN ((OLD.client_id, OLD.occurred_at, OLD.direction, OLD.kind, OLD.campaign)
		  IS DISTINCT FROM
		  (NEW.client_id, NEW.occurred_at, NEW.direction, NEW.kind, NEW.campaign))
	EXECUTE FUNCTION crm.log_profile_change('interactions');
/*
 * ALWAYS: also where session_replication_role is replica (a logical
 * replication subscriber's apply worker), so that no change passes unlogged
 */
ALTER TABLE crm.orders ENABLE ALWAYS TRIGGER orders_profile_insert;
ALTER TABLE crm.orders ENABLE ALWAYS TRIGGER orders_profile_update;
ALTER TABLE crm.interactions ENABLE ALWAYS TRIGGER interactions_profile_insert;
ALTER TABLE crm.interactions ENABLE ALWAYS TRIGGER interactions_profile_update;

/*
 * What a refresh folds new purchases with: the merge of two states with
 * windows (the combine function of crm.purchase_profile_state outside an
 * aggregate), a state's latest purchase, and the latest purchase times
 * (the 16 a state keeps) that enter or leave between two states.
 */
CREATE FUNCTION crm.profile_state_merge(a bytea, b bytea)
RETURNS bytea
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'profile_state_merge';
COMMENT ON FUNCTION crm.profile_state_merge(bytea, bytea) IS 'internal: the state (crm.purchase_profile_state with window bounds) of the purchases of two states; NULL is the empty state';

CREATE FUNCTION crm.profile_state_last(state bytea)
RETURNS timestamptz
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'profile_state_last';
COMMENT ON FUNCTION crm.profile_state_last(bytea) IS 'internal: the latest purchase time of a purchase profile state';

CREATE FUNCTION crm.profile_latest_change(old_state bytea, new_state bytea, entering boolean)
RETURNS timestamptz[]
LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'profile_latest_change';
COMMENT ON FUNCTION crm.profile_latest_change(bytea, bytea, boolean) IS 'internal: of the latest purchase times two profile states keep, those of the new state not in the old (entering) or of the old not in the new, as multisets; NULL is the empty state';

/*
 * refresh_profiles: brings crm.profile_store to as_of (forward or back),
 * with the churn windows of options (crm.churn_options' window_days).
 * Folds the new rows of the clients whose log rows are all such inserts,
 * recomputes the other clients in the change log and those that the move
 * from the store's as_of to this one can change; a full rebuild when asked
 * (rebuild), when the store is empty or when the windows differ.  Each
 * client's row is computed as crm.churn_signals_sql computes its inputs.
 * Refreshes run one after the other (SHARE ROW EXCLUSIVE on the store);
 * run it in a READ COMMITTED transaction, as crm.refresh_segments.
 * SECURITY DEFINER: reads every client and writes the store, as the owner.
 */
CREATE FUNCTION crm.refresh_profiles(as_of timestamptz, options jsonb DEFAULT '{}',
									 rebuild boolean DEFAULT false)
RETURNS TABLE (clients bigint, recomputed bigint, rebuilt boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	opts		jsonb;
	wd			double precision;
	w			interval;
	ld			double precision;
	lag			interval;
	rf			timestamptz;
	pf			timestamptz;
	st			crm.profile_store_state;
	lo			timestamptz;
	hi			timestamptz;
	ids			bigint[];
	folded		bigint[] := '{}';
	taken		crm.profile_changes[];
	n_clients	bigint;
	n_done		bigint;
	n_gone		bigint;
	n_new		bigint;
	full_build	boolean;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF options IS NULL THEN
		RAISE EXCEPTION 'options must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF rebuild IS NULL THEN
		RAISE EXCEPTION 'rebuild must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM crm.refuse_in_citus_task('crm.refresh_profiles');
	opts := crm.churn_options(options);
	/*
	 * On a Citus cluster (the orders or interactions distributed) the log's
	 * triggers do not run on the shards: the store is not kept, and its
	 * state row goes, so that no reader takes it for current.
	 */
	IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
		EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_dist_partition'
				' WHERE logicalrelid IN (''crm.orders''::regclass, ''crm.interactions''::regclass))'
		   INTO full_build;
		IF full_build THEN
			DELETE FROM crm.profile_store_state;
			RETURN QUERY SELECT 0::bigint, 0::bigint, false;
			RETURN;
		END IF;
	END IF;
	wd := (opts ->> 'window_days')::double precision;
	w := make_interval(secs => wd * 86400);
	rf := as_of - w;
	pf := as_of - 2 * w;

	/*
	 * No store yet: the triggers log nothing until the state row is
	 * committed, so writers wait (SHARE) until the build has read them all
	 */
	IF NOT EXISTS (SELECT 1 FROM crm.profile_store_state) THEN
		LOCK TABLE crm.orders, crm.interactions IN SHARE MODE;
	END IF;
	LOCK TABLE crm.profile_store IN SHARE ROW EXCLUSIVE MODE;
	SELECT * INTO st FROM crm.profile_store_state;
	ld := (opts ->> 'offer_lag_days')::double precision;
	lag := make_interval(secs => ld * 86400);
	full_build := rebuild OR NOT FOUND OR st.window_days <> wd OR st.offer_lag_days <> ld;
	IF st.as_of IS NULL THEN
		LOCK TABLE crm.orders, crm.interactions IN SHARE MODE;
	END IF;

	IF full_build THEN
		/* every change logged so far is in what the rebuild reads */
		DELETE FROM crm.profile_changes;
		DELETE FROM crm.profile_store;
		INSERT INTO crm.profile_store
			(client_id, currency, state, last_engagement, offers_since_last_purchase,
			 purchases_after_offer, next_change_at)
		WITH p AS MATERIALIZED (
			SELECT o.client_id,
				   CASE WHEN min(o.currency) FILTER (WHERE o.ordered_at <= as_of)
							 = max(o.currency) FILTER (WHERE o.ordered_at <= as_of)
						THEN min(o.currency) FILTER (WHERE o.ordered_at <= as_of) END AS currency,
				   crm.purchase_profile_state(o.ordered_at, o.net_amount, o.promo_used, rf, pf)
					   FILTER (WHERE o.ordered_at <= as_of) AS state,
				   max(o.ordered_at) FILTER (WHERE o.ordered_at <= as_of) AS last_purchase,
				   /* a purchase leaves the recent, the previous window; one enters */
				   least(min(o.ordered_at) FILTER (WHERE o.ordered_at > rf AND o.ordered_at <= as_of) + w,
						 min(o.ordered_at) FILTER (WHERE o.ordered_at > pf AND o.ordered_at <= rf) + 2 * w,
						 min(o.ordered_at) FILTER (WHERE o.ordered_at > as_of)) AS next_change_at
			  FROM crm.orders o
			 WHERE o.status IN ('placed', 'paid')
			 GROUP BY o.client_id),
		/* an interaction enters */
		n AS (
			SELECT i.client_id, min(i.occurred_at) AS next_at
			  FROM crm.interactions i
			 WHERE i.occurred_at > as_of
			 GROUP BY i.client_id),
		e AS (
			SELECT i.client_id, max(i.occurred_at) AS last_at
			  FROM crm.interactions i
			 WHERE i.direction = 'inbound' AND i.kind <> 'sale' AND i.occurred_at <= as_of
			 GROUP BY i.client_id),
		f AS (
			SELECT c.client_id, count(*) AS offers
			  FROM crm.interactions c
			  JOIN p ON p.client_id = c.client_id AND c.occurred_at > p.last_purchase
			 WHERE c.direction = 'outbound' AND c.campaign IS NOT NULL AND c.occurred_at <= as_of
			 GROUP BY c.client_id),
		/* of the latest 16 purchases, those soon after an offer (crm.churn_signals_sql's a) */
		a AS (
			SELECT r.client_id, count(*) AS after_offer
			  FROM (SELECT o.client_id, o.ordered_at,
						   row_number() OVER (PARTITION BY o.client_id ORDER BY o.ordered_at DESC) AS k
					  FROM crm.orders o
					 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of) r
			 WHERE r.k <= 16
			   AND EXISTS (SELECT 1 FROM crm.interactions i
							WHERE i.client_id = r.client_id AND i.direction = 'outbound'
							  AND i.campaign IS NOT NULL AND i.occurred_at < r.ordered_at
							  AND i.occurred_at >= r.ordered_at - lag)
			 GROUP BY r.client_id)
		SELECT p.client_id, p.currency, p.state, e.last_at, coalesce(f.offers, 0),
			   coalesce(a.after_offer, 0), least(p.next_change_at, n.next_at)
		  FROM p
		  LEFT JOIN e ON e.client_id = p.client_id
		  LEFT JOIN f ON f.client_id = p.client_id
		  LEFT JOIN a ON a.client_id = p.client_id
		  LEFT JOIN n ON n.client_id = p.client_id;
		GET DIAGNOSTICS n_clients = ROW_COUNT;
		n_done := n_clients;
	ELSE
		/* the changes this snapshot sees, taken; later ones stay for the next refresh */
		WITH t AS (DELETE FROM crm.profile_changes RETURNING *)
		SELECT coalesce(array_agg(ROW(t.client_id, t.change_id, t.change, t.happened_at, t.amount,
									  t.promo, t.currency)::crm.profile_changes), '{}')
		  INTO taken FROM t;
		/*
		 * A client folds its new rows into its stored row when the store
		 * moves forward (or stays), the client has a row that time alone
		 * does not change by as_of, and every row taken is an insert whose
		 * effect is exact without the client's history: a purchase (any
		 * time, late ones too: the state's merge is exact), another order
		 * (nothing), an engagement (the latest), a campaign message after
		 * the client's last purchase (it only counts among the offers since
		 * then, not as an offer before one of the latest purchases), any
		 * interaction after as_of.  The others are recomputed.
		 */
		SELECT coalesce(array_agg(g.client_id) FILTER (WHERE g.recompute IS FALSE), '{}'),
			   coalesce(array_agg(g.client_id) FILTER (WHERE g.recompute IS NOT FALSE), '{}')
		  INTO folded, ids
		  FROM (SELECT c.client_id,
					   as_of < st.as_of OR bool_or(s.client_id IS NULL)
					   OR coalesce(bool_or(s.next_change_at <= as_of), false) OR bool_or(c.change IS NULL)
					   OR coalesce(min(c.happened_at) FILTER (WHERE c.change = 'c' AND c.happened_at <= as_of)
								   <= greatest(max(CASE WHEN c.change = 'c' THEN crm.profile_state_last(s.state) END),
											   max(c.happened_at) FILTER (WHERE c.change = 'p' AND c.happened_at <= as_of)),
								   false) AS recompute
				  FROM unnest(taken) c
				  LEFT JOIN crm.profile_store s ON s.client_id = c.client_id
				 GROUP BY c.client_id) g;
		IF as_of > st.as_of THEN
			/* forward: the clients whose row time changes by as_of */
			SELECT ids || coalesce(array_agg(s.client_id), '{}') INTO ids
			  FROM crm.profile_store s WHERE s.next_change_at <= as_of;
		ELSIF as_of < st.as_of THEN
			lo := as_of;
			hi := st.as_of;
			/*
			 * back: the purchases that enter or leave (.., as_of], the
			 * recent window or the previous one; interactions that enter or
			 * leave (.., as_of]
			 */
			SELECT ids || coalesce(array_agg(DISTINCT x.client_id), '{}') INTO ids
			  FROM (SELECT o.client_id FROM crm.orders o
					 WHERE o.status IN ('placed', 'paid')
					   AND ((o.ordered_at > lo AND o.ordered_at <= hi)
							OR (o.ordered_at > lo - w AND o.ordered_at <= hi - w)
							OR (o.ordered_at > lo - 2 * w AND o.ordered_at <= hi - 2 * w))
					UNION ALL
					SELECT i.client_id FROM crm.interactions i
					 WHERE i.occurred_at > lo AND i.occurred_at <= hi) x;
		END IF;
		SELECT coalesce(array_agg(DISTINCT u.id), '{}') INTO ids FROM unnest(ids) u(id);
		SELECT coalesce(array_agg(u.id), '{}') INTO folded
		  FROM unnest(folded) u(id)
		 WHERE NOT EXISTS (SELECT 1 FROM unnest(ids) r(id) WHERE r.id = u.id);
		n_done := cardinality(ids);
		n_clients := st.clients;
		IF n_done > 0 THEN
			DELETE FROM crm.profile_store s WHERE s.client_id = ANY (ids);
			GET DIAGNOSTICS n_gone = ROW_COUNT;
			INSERT INTO crm.profile_store
				(client_id, currency, state, last_engagement, offers_since_last_purchase,
				 purchases_after_offer, next_change_at)
			SELECT p.client_id, p.currency, p.state,
				   (SELECT max(i.occurred_at) FROM crm.interactions i
					 WHERE i.client_id = p.client_id AND i.direction = 'inbound'
					   AND i.kind <> 'sale' AND i.occurred_at <= as_of),
				   (SELECT count(*) FROM crm.interactions c
					 WHERE c.client_id = p.client_id AND c.direction = 'outbound'
					   AND c.campaign IS NOT NULL AND c.occurred_at > p.last_purchase
					   AND c.occurred_at <= as_of),
				   (SELECT count(*) FROM (SELECT o.ordered_at FROM crm.orders o
											WHERE o.client_id = p.client_id
											  AND o.status IN ('placed', 'paid') AND o.ordered_at <= as_of
											ORDER BY o.ordered_at DESC LIMIT 16) r
					 WHERE EXISTS (SELECT 1 FROM crm.interactions i
									WHERE i.client_id = p.client_id AND i.direction = 'outbound'
									  AND i.campaign IS NOT NULL AND i.occurred_at < r.ordered_at
									  AND i.occurred_at >= r.ordered_at - lag)),
				   least(p.next_change_at,
						 (SELECT min(i.occurred_at) FROM crm.interactions i
						   WHERE i.client_id = p.client_id AND i.occurred_at > as_of))
			  FROM (SELECT o.client_id,
						   CASE WHEN min(o.currency) FILTER (WHERE o.ordered_at <= as_of)
									 = max(o.currency) FILTER (WHERE o.ordered_at <= as_of)
								THEN min(o.currency) FILTER (WHERE o.ordered_at <= as_of) END AS currency,
						   crm.purchase_profile_state(o.ordered_at, o.net_amount, o.promo_used, rf, pf)
							   FILTER (WHERE o.ordered_at <= as_of) AS state,
						   max(o.ordered_at) FILTER (WHERE o.ordered_at <= as_of) AS last_purchase,
						   least(min(o.ordered_at) FILTER (WHERE o.ordered_at > rf AND o.ordered_at <= as_of) + w,
								 min(o.ordered_at) FILTER (WHERE o.ordered_at > pf AND o.ordered_at <= rf) + 2 * w,
								 min(o.ordered_at) FILTER (WHERE o.ordered_at > as_of)) AS next_change_at
					  FROM crm.orders o
					 WHERE o.client_id = ANY (ids) AND o.status IN ('placed', 'paid')
					 GROUP BY o.client_id) p;
			GET DIAGNOSTICS n_new = ROW_COUNT;
			n_clients := n_clients - n_gone + n_new;
			/*
			 * The log rows of these clients committed since the DELETE
			 * above may be in what was just read: recomputed next time,
			 * not folded twice
			 */
			UPDATE crm.profile_changes c SET change = NULL, amount = NULL, promo = NULL,
											 currency = NULL
			 WHERE c.client_id = ANY (ids) AND c.change IS NOT NULL;
		END IF;
		IF cardinality(folded) > 0 THEN
			/*
			 * The stored row plus the new rows, at as_of: the merged state
			 * (with the windows of as_of: a row time does not change by
			 * as_of is the same at the store's as_of and at this one), one
			 * currency or none, the latest engagement, the offers since the
			 * (new) last purchase counted again, the purchases soon after
			 * an offer among the latest 16 corrected by those that entered
			 * and left them, and the earliest next change
			 */
			UPDATE crm.profile_store s
			   SET state = f.state, currency = f.currency, last_engagement = f.last_engagement,
				   offers_since_last_purchase = f.offers, purchases_after_offer = f.after_offer,
				   next_change_at = f.next_change_at
			  FROM (WITH c AS (SELECT x.* FROM unnest(taken) x
									 WHERE x.client_id IN (SELECT u.id FROM unnest(folded) u(id))),
					o AS (SELECT c.client_id,
								 crm.purchase_profile_state(c.happened_at, c.amount, c.promo, rf, pf)
									 FILTER (WHERE c.happened_at <= as_of) AS state,
								 min(c.currency) FILTER (WHERE c.happened_at <= as_of) AS cur_min,
								 max(c.currency) FILTER (WHERE c.happened_at <= as_of) AS cur_max,
								 least(min(c.happened_at) FILTER (WHERE c.happened_at > rf AND c.happened_at <= as_of) + w,
									   min(c.happened_at) FILTER (WHERE c.happened_at > pf AND c.happened_at <= rf) + 2 * w)
									 AS next_at
							FROM c WHERE c.change = 'p'
						   GROUP BY c.client_id),
					g AS (SELECT c.client_id,
								 max(c.happened_at) FILTER (WHERE c.change = 'e' AND c.happened_at <= as_of) AS engaged,
								 min(c.happened_at) FILTER (WHERE c.change <> 'x' AND c.happened_at > as_of) AS next_at
							FROM c
						   GROUP BY c.client_id),
					m AS (SELECT s0.client_id, s0.state AS old_state,
								 CASE WHEN o.state IS NULL THEN s0.state
									  ELSE crm.profile_state_merge(s0.state, o.state) END AS state,
								 CASE WHEN o.state IS NULL THEN s0.currency
									  WHEN s0.state IS NULL THEN
										  CASE WHEN o.cur_min = o.cur_max THEN o.cur_min END
									  WHEN s0.currency = o.cur_min AND o.cur_min = o.cur_max THEN s0.currency
								 END AS currency,
								 greatest(s0.last_engagement, g.engaged) AS last_engagement,
								 s0.purchases_after_offer,
								 least(s0.next_change_at, o.next_at, g.next_at) AS next_change_at,
								 o.state IS NOT NULL AS bought
							FROM g
							JOIN crm.profile_store s0 ON s0.client_id = g.client_id
							LEFT JOIN o ON o.client_id = g.client_id)
					SELECT m.client_id, m.state, m.currency, m.last_engagement,
						   (SELECT count(*) FROM crm.interactions c
							 WHERE c.client_id = m.client_id AND c.direction = 'outbound'
							   AND c.campaign IS NOT NULL
							   AND c.occurred_at > crm.profile_state_last(m.state)
							   AND c.occurred_at <= as_of) AS offers,
						   m.purchases_after_offer
						   + CASE WHEN m.bought THEN
								 (SELECT count(*) FROM unnest(crm.profile_latest_change(m.old_state, m.state, true)) r(t)
								   WHERE EXISTS (SELECT 1 FROM crm.interactions i
												  WHERE i.client_id = m.client_id AND i.direction = 'outbound'
													AND i.campaign IS NOT NULL AND i.occurred_at < r.t
													AND i.occurred_at >= r.t - lag))
								 - (SELECT count(*) FROM unnest(crm.profile_latest_change(m.old_state, m.state, false)) r(t)
									 WHERE EXISTS (SELECT 1 FROM crm.interactions i
													WHERE i.client_id = m.client_id AND i.direction = 'outbound'
													  AND i.campaign IS NOT NULL AND i.occurred_at < r.t
													  AND i.occurred_at >= r.t - lag))
							 ELSE 0 END AS after_offer,
						   m.next_change_at
					  FROM m) f
			 WHERE s.client_id = f.client_id;
		END IF;
	END IF;

	IF NOT full_build AND n_done = 0 AND cardinality(folded) = 0 AND as_of = st.as_of THEN
		RETURN QUERY SELECT n_clients, n_done, false;	-- nothing changed: nothing written
		RETURN;
	END IF;
	INSERT INTO crm.profile_store_state AS s
		(as_of, window_days, offer_lag_days, recent_from, previous_from, rebuilt_at, refreshed_at,
		 clients, recomputed, folded)
	VALUES (as_of, wd, ld, rf, pf, clock_timestamp(), clock_timestamp(), n_clients, n_done,
			cardinality(folded))
	ON CONFLICT ON CONSTRAINT profile_store_state_pkey DO UPDATE
		SET as_of = excluded.as_of, window_days = excluded.window_days,
			offer_lag_days = excluded.offer_lag_days,
			recent_from = excluded.recent_from, previous_from = excluded.previous_from,
			rebuilt_at = CASE WHEN full_build THEN excluded.rebuilt_at ELSE s.rebuilt_at END,
			refreshed_at = excluded.refreshed_at, clients = excluded.clients,
			recomputed = excluded.recomputed, folded = excluded.folded;
	RETURN QUERY SELECT n_clients, n_done, full_build;
END
$$;
COMMENT ON FUNCTION crm.refresh_profiles(timestamptz, jsonb, boolean) IS 'brings crm.profile_store to as_of with the churn windows of options: recomputes the clients of the change log and those the move in time changes (a full rebuild when asked, when empty or when the windows differ); clients in the store, clients recomputed, whether rebuilt';
REVOKE EXECUTE ON FUNCTION crm.refresh_profiles(timestamptz, jsonb, boolean) FROM PUBLIC;

DO $$
DECLARE
	t			text;
BEGIN
	FOREACH t IN ARRAY ARRAY['profile_store', 'profile_changes']
	LOOP
		EXECUTE pg_catalog.format('ALTER TABLE crm.%I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE pg_catalog.format(
			'CREATE POLICY crm_staff ON crm.%I TO crm_admin, crm_analyst, crm_app'
			' USING (true) WITH CHECK (true)', t);
		EXECUTE pg_catalog.format(
			'CREATE POLICY crm_manager ON crm.%I TO crm_manager'
			' USING (client_id = ANY ((SELECT crm.owned_client_ids())::bigint[]))'
			' WITH CHECK (client_id = ANY ((SELECT crm.owned_client_ids())::bigint[]))', t);
	END LOOP;
END
$$;
GRANT SELECT ON crm.profile_store, crm.profile_store_state, crm.profile_changes
	TO crm_admin, crm_analyst, crm_app, crm_manager;
GRANT SELECT ON SEQUENCE crm.profile_changes_change_id_seq TO crm_admin;
GRANT EXECUTE ON FUNCTION crm.refresh_profiles(timestamptz, jsonb, boolean) TO crm_admin;

/*
 * The _or_null forms of the MBG/NBD, BG/BB and covariate fits, as those of
 * crm.bgnbd_fit (sql/install/80_clv.sql): where the data cannot identify
 * the model or the fit does not converge, a notice saying why and a null
 * model; bad input is still an error.
 */
CREATE FUNCTION crm.clv_mbgnbd_final_or_null(crm.clv_fit_state) RETURNS crm.mbgnbd_model
AS 'MODULE_PATHNAME', 'clv_mbgnbd_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgbb_final_or_null(crm.clv_fit_state) RETURNS crm.bgbb_model
AS 'MODULE_PATHNAME', 'clv_bgbb_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgnbd_cov_final_or_null(internal) RETURNS crm.bgnbd_cov_model
AS 'MODULE_PATHNAME', 'clv_bgnbd_cov_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_pareto_cov_final_or_null(internal) RETURNS crm.pareto_nbd_cov_model
AS 'MODULE_PATHNAME', 'clv_pareto_cov_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_mbgnbd_final_or_null(crm.clv_fit_state) IS 'final function of crm.mbgnbd_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_bgbb_final_or_null(crm.clv_fit_state) IS 'final function of crm.bgbb_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_bgnbd_cov_final_or_null(internal) IS 'final function of crm.bgnbd_cov_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_pareto_cov_final_or_null(internal) IS 'final function of crm.pareto_nbd_cov_fit_or_null: the fit, or a notice and null';

CREATE AGGREGATE crm.mbgnbd_fit_or_null(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_mbgnbd_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.mbgnbd_fit_or_null(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_mbgnbd_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgbb_fit_or_null(frequency float8, recency float8, periods float8) (
	SFUNC = crm.clv_bgbb_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgbb_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgbb_fit_or_null(frequency float8, recency float8, periods float8, penalty float8) (
	SFUNC = crm.clv_bgbb_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgbb_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgnbd_cov_fit_or_null(frequency float8, recency float8, t float8,
										   purchase_covariates float8[], dropout_covariates float8[]) (
	SFUNC = crm.clv_cov_trans, STYPE = internal,
	FINALFUNC = crm.clv_bgnbd_cov_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine, SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgnbd_cov_fit_or_null(frequency float8, recency float8, t float8,
										   purchase_covariates float8[], dropout_covariates float8[], penalty float8) (
	SFUNC = crm.clv_cov_trans, STYPE = internal,
	FINALFUNC = crm.clv_bgnbd_cov_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine, SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial, PARALLEL = SAFE);
CREATE AGGREGATE crm.pareto_nbd_cov_fit_or_null(frequency float8, recency float8, t float8,
												purchase_covariates float8[], dropout_covariates float8[]) (
	SFUNC = crm.clv_cov_trans, STYPE = internal,
	FINALFUNC = crm.clv_pareto_cov_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine, SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial, PARALLEL = SAFE);
CREATE AGGREGATE crm.pareto_nbd_cov_fit_or_null(frequency float8, recency float8, t float8,
												purchase_covariates float8[], dropout_covariates float8[], penalty float8) (
	SFUNC = crm.clv_cov_trans, STYPE = internal,
	FINALFUNC = crm.clv_pareto_cov_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine, SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial, PARALLEL = SAFE);
COMMENT ON AGGREGATE crm.mbgnbd_fit_or_null(float8, float8, float8) IS 'crm.mbgnbd_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.mbgnbd_fit_or_null(float8, float8, float8, float8) IS 'crm.mbgnbd_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgbb_fit_or_null(float8, float8, float8) IS 'crm.bgbb_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgbb_fit_or_null(float8, float8, float8, float8) IS 'crm.bgbb_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgnbd_cov_fit_or_null(float8, float8, float8, float8[], float8[]) IS 'crm.bgnbd_cov_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgnbd_cov_fit_or_null(float8, float8, float8, float8[], float8[], float8) IS 'crm.bgnbd_cov_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.pareto_nbd_cov_fit_or_null(float8, float8, float8, float8[], float8[]) IS 'crm.pareto_nbd_cov_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.pareto_nbd_cov_fit_or_null(float8, float8, float8, float8[], float8[], float8) IS 'crm.pareto_nbd_cov_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';

/*
 * Calibration and holdout for BG/BB, the discrete-time model: periods of
 * one unit counted from the calibration end (period k covers the days
 * (calibration day + (k-1) unit, calibration day + k unit], k <= 0 in the
 * calibration, k >= 1 in the holdout), one transaction opportunity each; a
 * client transacts in a period when it has an order there.  Reference:
 * docs/clv.md.
 */
CREATE FUNCTION crm.bgbb_calibration_holdout(calibration_end timestamptz, holdout_end timestamptz,
											 unit text DEFAULT 'year', time_zone text DEFAULT 'UTC')
RETURNS TABLE (client_id bigint, frequency float8, recency float8, periods float8,
			   holdout_frequency float8, holdout_periods float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8;
	cal_day		date;
	hold_day	date;
	nstar		integer;
BEGIN
	IF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	IF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	cal_day := (calibration_end AT TIME ZONE time_zone)::date;
	hold_day := (holdout_end AT TIME ZONE time_zone)::date;
	-- whole periods, to within half a day (a year of 365 days is one of 365.25)
	nstar := floor((hold_day - cal_day + 0.5) / unit_days)::integer;
	IF nstar < 1 THEN
		RAISE EXCEPTION 'holdout_end % is less than one % after calibration_end %', holdout_end, unit, calibration_end
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The holdout is a whole number of periods of one unit, at least one.';
	END IF;
	RETURN QUERY
	WITH k AS (
		SELECT o.client_id, ceil(((o.ordered_at AT TIME ZONE time_zone)::date - cal_day) / unit_days - 1e-9)::integer AS k
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at <= holdout_end
		   AND (o.ordered_at <= calibration_end OR (o.ordered_at AT TIME ZONE time_zone)::date > cal_day)
		 GROUP BY 1, 2
	), c AS (
		SELECT k.client_id, min(k.k) AS f FROM k WHERE k.k <= 0 GROUP BY 1
	)
	SELECT c.client_id,
		   count(*) FILTER (WHERE k.k > c.f AND k.k <= 0)::float8,
		   coalesce(max(k.k) FILTER (WHERE k.k > c.f AND k.k <= 0) - c.f, 0)::float8,
		   (-c.f)::float8,
		   count(*) FILTER (WHERE k.k BETWEEN 1 AND nstar)::float8,
		   nstar::float8
	  FROM c JOIN k ON k.client_id = c.client_id
	 GROUP BY c.client_id, c.f;
END
$$;
COMMENT ON FUNCTION crm.bgbb_calibration_holdout(timestamptz, timestamptz, text, text) IS 'per client with purchases up to calibration_end, in periods of one unit counted from the calibration end, one transaction opportunity each: the calibration summary of BG/BB (frequency: periods after the first purchase''s with a purchase, recency: the last of them, periods: those after the first purchase''s) and the holdout actuals (holdout_frequency: periods of the holdout with a purchase, of holdout_periods, the whole periods up to holdout_end)';

CREATE FUNCTION crm.clv_holdout_diagnostics(model crm.bgbb_model, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'year',
											max_frequency integer DEFAULT 7, time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	-- the model's parameters, the dates
	PERFORM crm.bgbb_expected_purchases(model, 1);
	PERFORM 1 FROM crm.bgbb_calibration_holdout(calibration_end, holdout_end, unit, time_zone) LIMIT 0;

	RETURN QUERY
	WITH c AS MATERIALIZED (
		SELECT h.client_id, h.frequency, h.recency, h.periods, h.holdout_frequency, h.holdout_periods,
			   crm.bgbb_expected_purchases(model, h.holdout_periods, h.frequency, h.recency, h.periods) AS expected
		  FROM crm.bgbb_calibration_holdout(calibration_end, holdout_end, unit, time_zone) h
	), firsts AS (
		-- clients by the period of their first purchase, -periods
		SELECT (-c.periods)::integer AS f, count(*) AS n FROM c GROUP BY 1
	), kk AS (
		SELECT k FROM generate_series((SELECT min(f) + 1 FROM firsts),
									  (SELECT max(c.holdout_periods)::integer FROM c)) k
	), act AS (
		-- clients with a repeat purchase in period k
		SELECT ceil(((o.ordered_at AT TIME ZONE time_zone)::date - (calibration_end AT TIME ZONE time_zone)::date)
					/ unit_days - 1e-9)::integer AS k,
			   count(DISTINCT o.client_id)::float8 AS n
		  FROM crm.orders o JOIN c ON c.client_id = o.client_id
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= holdout_end
		   AND (o.ordered_at <= calibration_end
				OR (o.ordered_at AT TIME ZONE time_zone)::date > (calibration_end AT TIME ZONE time_zone)::date)
		 GROUP BY 1
	), ex AS (
		-- a new client's expected transactions at its first m opportunities, summed over the cohorts
		SELECT kk.k, sum(f.n * crm.bgbb_expected_purchases(model, (kk.k - f.f)::float8)) FILTER (WHERE kk.k > f.f) AS cum,
			   sum(f.n) FILTER (WHERE kk.k > f.f)::bigint AS clients
		  FROM kk CROSS JOIN firsts f
		 GROUP BY kk.k
	), t AS (
		SELECT ex.k, ((calibration_end AT TIME ZONE time_zone)::date + floor(ex.k * unit_days + 1e-9)::integer) AS period_end,
			   ex.clients, coalesce(act.n, 0) AS actual,
			   ex.cum - coalesce(lag(ex.cum) OVER (ORDER BY ex.k), 0) AS expected,
			   sum(coalesce(act.n, 0)) OVER (ORDER BY ex.k) AS cum_actual, ex.cum AS cum_expected
		  FROM ex LEFT JOIN act ON act.k = ex.k
	), lf AS (
		-- ln j! for j = 0 .. the most periods
		SELECT j, coalesce(sum(ln(j)) FILTER (WHERE j > 0)
							   OVER (ORDER BY j ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 0)::float8 AS v
		  FROM generate_series(0, (SELECT max(c.periods)::integer FROM c)) j
	), ng AS (
		SELECT c.periods::integer AS n, count(*) AS clients FROM c GROUP BY 1
	), pxn AS (
		-- P(X(n) = x): the likelihood of one pattern with x transactions, the last at t_x,
		-- times the C(t_x - 1, x - 1) patterns, summed over t_x
		SELECT ng.n, ng.clients, x.x,
			   CASE WHEN x.x = 0 THEN exp(crm.bgbb_loglik(model, 0, 0, ng.n))
					ELSE (SELECT sum(exp(l1.v - l2.v - l3.v + crm.bgbb_loglik(model, x.x, tx, ng.n)))
							FROM generate_series(x.x, ng.n) tx
							JOIN lf l1 ON l1.j = tx - 1 JOIN lf l2 ON l2.j = x.x - 1 JOIN lf l3 ON l3.j = tx - x.x) END AS p
		  FROM ng, LATERAL generate_series(0, least(ng.n, max_frequency - 1)) x
	), hist_ex AS (
		SELECT pxn.x, sum(pxn.clients * pxn.p) AS n FROM pxn GROUP BY 1
		UNION ALL
		SELECT max_frequency, sum(s.clients * greatest(1 - s.p, 0))
		  FROM (SELECT pxn.n, pxn.clients, sum(pxn.p) AS p FROM pxn GROUP BY 1, 2) s
	), hist AS (
		SELECT x, coalesce(a.n, 0)::float8 AS actual, coalesce(e.n, 0) AS expected
		  FROM generate_series(0, max_frequency) x
		  LEFT JOIN (SELECT least(c.frequency, max_frequency)::integer AS x, count(*) AS n FROM c GROUP BY 1) a USING (x)
		  LEFT JOIN (SELECT hist_ex.x, sum(hist_ex.n) AS n FROM hist_ex GROUP BY 1) e USING (x)
	), cond AS (
		SELECT least(c.frequency, max_frequency)::integer AS x, count(*) AS n,
			   avg(c.holdout_frequency) AS actual, avg(c.expected) AS expected
		  FROM c GROUP BY 1
	)
	SELECT d.diagnostic, d.bucket, d.period_end, d.clients, d.actual, d.expected, d.mae, d.rmse, d.bias
	  FROM (
		SELECT 1 AS o, 'tracking'::text AS diagnostic, t.k AS bucket, t.period_end, t.clients,
			   t.actual, t.expected, NULL::float8 AS mae, NULL::float8 AS rmse, NULL::float8 AS bias FROM t
		UNION ALL
		SELECT 1, 'tracking', NULL, NULL, max(t.clients), sum(t.actual), sum(t.expected),
			   avg(abs(t.expected - t.actual)), sqrt(avg((t.expected - t.actual) ^ 2)), avg(t.expected - t.actual)
		  FROM t WHERE t.k >= 1 HAVING count(*) > 0
		UNION ALL
		SELECT 2, 'cumulative', t.k, t.period_end, t.clients, t.cum_actual, t.cum_expected, NULL, NULL, NULL FROM t
		UNION ALL
		SELECT 2, 'cumulative', NULL, NULL, max(t.clients), max(t.cum_actual), max(t.cum_expected),
			   avg(abs(t.cum_expected - t.cum_actual)), sqrt(avg((t.cum_expected - t.cum_actual) ^ 2)),
			   avg(t.cum_expected - t.cum_actual)
		  FROM t WHERE t.k >= 1 HAVING count(*) > 0
		UNION ALL
		SELECT 3, 'histogram', hist.x, NULL, hist.actual::bigint, hist.actual, hist.expected, NULL, NULL, NULL FROM hist
		UNION ALL
		SELECT 3, 'histogram', NULL, NULL, sum(hist.actual)::bigint, sum(hist.actual), sum(hist.expected),
			   avg(abs(hist.expected - hist.actual)), sqrt(avg((hist.expected - hist.actual) ^ 2)),
			   avg(hist.expected - hist.actual)
		  FROM hist HAVING sum(hist.actual) > 0
		UNION ALL
		SELECT 4, 'conditional', cond.x, NULL, cond.n, cond.actual, cond.expected, NULL, NULL, NULL FROM cond
		UNION ALL
		SELECT 4, 'conditional', NULL, NULL, sum(cond.n)::bigint,
			   sum(cond.actual * cond.n) / sum(cond.n), sum(cond.expected * cond.n) / sum(cond.n),
			   avg(abs(cond.expected - cond.actual)), sqrt(avg((cond.expected - cond.actual) ^ 2)),
			   avg(cond.expected - cond.actual)
		  FROM cond HAVING count(*) > 0
		UNION ALL
		SELECT 5, 'clients', NULL, NULL, count(*), sum(c.holdout_frequency), sum(c.expected),
			   avg(abs(c.expected - c.holdout_frequency)), sqrt(avg((c.expected - c.holdout_frequency) ^ 2)),
			   avg(c.expected - c.holdout_frequency)
		  FROM c HAVING count(*) > 0) d
	 WHERE EXISTS (SELECT 1 FROM c)
	 ORDER BY d.o, d.bucket NULLS LAST;
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics(crm.bgbb_model, timestamptz, timestamptz, text, integer, text) IS 'for a fitted BG/BB model and the split of crm.bgbb_calibration_holdout(calibration_end, holdout_end, unit): the tables behind the standard diagnostics in periods of one unit, one opportunity each (tracking and cumulative repeat transactions per period counted from the calibration end, the calibration frequency histogram, the holdout transactions by calibration frequency, per client), expected against actual, each with a total row (bucket null) carrying MAE, RMSE and bias (expected minus actual)';
