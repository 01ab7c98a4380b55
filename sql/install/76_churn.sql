/*
 * Churn signals and behavioural classes (C: src/churn.c), the repeat
 * purchase curve and acquisition-cohort retention.  Definitions and
 * defaults: docs/churn.md.
 */

CREATE TYPE crm.churn_signal AS (
	age_days			double precision,
	silence_days		double precision,
	own_gap_days		double precision,
	expected_gap_days	double precision,
	gap_cv				double precision,
	overdue_ratio		double precision,
	p_gap				double precision,
	season_share		double precision,
	engagement_silence_days double precision,
	offers_since_last_purchase bigint,
	status				text,
	behaviour_class		text,
	class_confidence	double precision,
	runner_up_class		text
);
COMMENT ON TYPE crm.churn_signal IS 'churn signals of one client: rhythm, overdue ratio, probability of a gap this long, season share, engagement silence, status and behavioural class with its confidence and runner-up (docs/churn.md)';

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

CREATE FUNCTION crm.churn_options(options jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'churn_options'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.churn_options(jsonb) IS 'every churn setting with its effective value: the given options over the defaults; error on an unknown key or a value out of range';

/*
 * Engagement (an inbound interaction that is not a sale) and marketing
 * messages (outbound, with a campaign), per client and time: what
 * crm.churn_signals and crm.can_contact look up.
 */
CREATE INDEX interactions_engagement_idx ON crm.interactions (client_id, occurred_at)
	WHERE direction = 'inbound' AND kind <> 'sale';
CREATE INDEX interactions_campaign_idx ON crm.interactions (client_id, occurred_at)
	WHERE direction = 'outbound' AND campaign IS NOT NULL;

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
 * The signals of every client with a purchase at or before as_of: one pass
 * over the purchases (profile and window counts), the population's
 * gap (geometric mean) over the profiles, the last engagement per client and the offers since
 * the last purchase from the two partial indexes above.
 *
 * jit_above_cost: the planner cannot estimate the joins of the materialized
 * profiles (it expects 30 million rows for 20,000 clients, the square of
 * the population grows the estimate), so the default threshold (100,000)
 * turned JIT on for every population, and compiling took 0.7 of the 1.0 s
 * the call lasted at 20,000 clients (estimated cost 9.5e5).  Measured with
 * and without JIT: 200,000 clients (cost 1.0e8) 2.34 s against 2.25 s,
 * 1,000,000 clients (cost beyond 1e9 by that growth) 18.0 s against
 * 19.3 s serially.
 * JIT starts from an estimated cost of 1e9.
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
CREATE FUNCTION crm.churn_signals(as_of timestamptz, options jsonb DEFAULT '{}')
RETURNS SETOF crm.churn_signals_row
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'churn_signals';
COMMENT ON FUNCTION crm.churn_signals(timestamptz, jsonb) IS 'churn signals, status and behavioural class of every client with a purchase (placed or paid) at or before as_of; options as crm.churn_options; an error (0A000) when the purchases are in more than one currency';

/*
 * The behavioural classifier beside the RFM maps: the classes, each with
 * the conditions its score is the minimum of (the scores are computed in
 * src/churn.c, their settings are the options of crm.churn_options);
 * priority breaks a tie of scores.
 */
CREATE TABLE crm.behaviour_classes (
	class			text NOT NULL,
	priority		integer NOT NULL,
	description		text NOT NULL,
	rule			text NOT NULL,
	CONSTRAINT behaviour_classes_pkey PRIMARY KEY (class),
	CONSTRAINT behaviour_classes_priority_key UNIQUE (priority)
);
COMMENT ON TABLE crm.behaviour_classes IS 'the eight behavioural classes (and unclassified) of crm.churn_signal, with the conditions of their scores; priority breaks ties';

INSERT INTO crm.behaviour_classes (class, priority, description, rule) VALUES
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
	 'score 0: no class scores above it');
SELECT pg_catalog.pg_extension_config_dump('crm.behaviour_classes', 'WHERE false');

/*
 * Why a client has its class: the score of each class and the conditions
 * behind it (crm.churn_class_scores) for one client, from the same inputs
 * that crm.churn_signals gives crm.churn_signal, the population's rhythm
 * included (the option, or the geometric mean over every client, as
 * crm.churn_signals_sql computes it).
 */
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

/*
 * Repeat-purchase curve: for each order number n, the clients whose n-th
 * purchase is at or before as_of and the share of them that made an
 * (n+1)-th.
 */
CREATE FUNCTION crm.repeat_curve(as_of timestamptz, since timestamptz DEFAULT '-infinity')
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
COMMENT ON FUNCTION crm.repeat_curve(timestamptz, timestamptz) IS 'for each order number n: clients with at least n purchases at or before as_of, those with at least n + 1, and the share that went on (clients acquired after since)';

/*
 * Retention by acquisition cohort: clients grouped by the month (or week,
 * or quarter) of their first purchase; for each later period, the share of
 * the cohort with a purchase in it.  Periods are UTC calendar periods.
 */
CREATE FUNCTION crm.cohort_retention(as_of timestamptz, period text DEFAULT 'month')
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
