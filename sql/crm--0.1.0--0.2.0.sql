/*
 * crm upgrade script, 0.1.0 to 0.2.0.
 *
 * Every change made to the install parts in sql/install/ since 0.1.0 is
 * repeated here, so that ALTER EXTENSION crm UPDATE gives the same catalog
 * as a fresh CREATE EXTENSION crm (test/scripts/upgrade_catalog.sh checks).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION crm UPDATE TO '0.2.0'" to load this file. \quit

/* ---- security: personal data, roles, row-level security ---- */

ALTER TABLE crm.clients ADD COLUMN anonymized_at timestamptz;
ALTER TABLE crm.clients DROP CONSTRAINT clients_name_check;
ALTER TABLE crm.clients ADD CONSTRAINT clients_name_check
		CHECK (anonymized_at IS NOT NULL
			   OR CASE kind
				  WHEN 'person' THEN coalesce(first_name, last_name) IS NOT NULL
				  ELSE company_name IS NOT NULL END);
ALTER TABLE crm.clients ADD CONSTRAINT clients_anonymized_check
		CHECK (anonymized_at IS NULL
			   OR (first_name IS NULL AND last_name IS NULL AND company_name IS NULL
				   AND birth_date IS NULL AND email IS NULL AND phone IS NULL
				   AND city IS NULL AND attributes = '{}'));
COMMENT ON COLUMN crm.clients.anonymized_at IS 'when crm.anonymize_client erased what identifies the person (NULL: never); an anonymized row holds no name, contact, birth date, city or attributes';

/* the client card shows anonymized_at, and no empty name */
CREATE OR REPLACE FUNCTION crm.client_card(client_id bigint, last_interactions integer DEFAULT 10)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	c			crm.clients;
	card		jsonb;
BEGIN
	IF last_interactions < 0 THEN
		RAISE EXCEPTION 'last_interactions must not be negative: %', last_interactions
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT * INTO c FROM crm.clients WHERE clients.client_id = client_card.client_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'client % does not exist', client_card.client_id
			USING ERRCODE = 'no_data_found';
	END IF;

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
		'consents', (
			SELECT coalesce(jsonb_object_agg(ch.channel, crm.can_contact(c.client_id, ch.channel)), '{}')
			  FROM (SELECT DISTINCT k.channel FROM crm.consents k
					 WHERE k.client_id = c.client_id) ch),
		'orders', (
			SELECT jsonb_build_object(
					'purchases', count(*) FILTER (WHERE o.status IN ('placed', 'paid')),
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

/* the reading loyalty functions run with the caller's rights (row-level security) */
ALTER FUNCTION crm.points_balance(bigint, text, timestamptz) SECURITY INVOKER;
ALTER FUNCTION crm.points_statement(bigint, text, timestamptz, timestamptz) SECURITY INVOKER;
ALTER FUNCTION crm.points_expiring(bigint, text, timestamptz, interval) SECURITY INVOKER;
ALTER FUNCTION crm.tier_turnover(bigint, text, timestamptz) SECURITY INVOKER;

/* sql/install/95_security.sql, as installed */
/*
 * Roles, privileges, row-level security and the erasure of personal data.
 *
 * Four group roles (NOLOGIN) carry every privilege; the DBA grants them to
 * login roles.  Nothing is granted to PUBLIC beyond what PostgreSQL gives
 * by default (and the schema itself is not usable by PUBLIC):
 *
 *   crm_admin    runs the extension: reads and writes every table except the
 *                loyalty ledger (written only through the loyalty functions),
 *                runs every job, anonymizes clients
 *   crm_analyst  reads every table, but no personal data (the columns of
 *                crm.clients that identify a person, the free text of
 *                interactions and incidents), runs the analytics, refreshes
 *                the segment snapshot and edits segment maps
 *   crm_app      the application: records clients, orders, interactions and
 *                incidents, prices and records carts, calls the loyalty
 *                operations; cannot write the ledger directly
 *   crm_manager  an account manager: reads and works only the clients whose
 *                owner is the manager's role name, and those clients' orders,
 *                interactions, incidents, consents, loyalty accounts and
 *                segments (row-level security); anonymizes them
 *
 * Roles are objects of the cluster, not of a database: they are created if
 * missing and are left in place by DROP EXTENSION.
 */

DO $$
DECLARE
	r			text;
BEGIN
	FOREACH r IN ARRAY ARRAY['crm_admin', 'crm_analyst', 'crm_app', 'crm_manager']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$$;

GRANT USAGE ON SCHEMA crm TO crm_admin, crm_analyst, crm_app, crm_manager;

/* reference data and configuration: everybody reads, the admin writes */
GRANT SELECT ON crm.categories, crm.products, crm.price_lists, crm.prices,
	crm.segment_maps, crm.segment_map_rules, crm.behaviour_classes, crm.contact_caps,
	crm.loyalty_programs, crm.loyalty_tiers, crm.discount_rules, crm.segment_refreshes
	TO crm_admin, crm_analyst, crm_app, crm_manager;
GRANT INSERT, UPDATE, DELETE ON crm.categories, crm.products, crm.price_lists, crm.prices,
	crm.segment_maps, crm.segment_map_rules, crm.contact_caps,
	crm.loyalty_programs, crm.loyalty_tiers, crm.discount_rules
	TO crm_admin;

/* client data */
GRANT SELECT ON crm.clients, crm.consents, crm.orders, crm.order_lines, crm.incidents,
	crm.interactions, crm.order_discounts, crm.discount_usage,
	crm.client_segments, crm.segment_transitions,
	crm.loyalty_accounts, crm.loyalty_ledger, crm.loyalty_lots, crm.loyalty_allocations,
	crm.loyalty_reversals, crm.loyalty_tier_changes
	TO crm_admin, crm_app, crm_manager;
GRANT INSERT, UPDATE ON crm.clients, crm.orders, crm.order_lines, crm.incidents,
	crm.interactions, crm.discount_usage
	TO crm_admin, crm_app, crm_manager;
GRANT INSERT ON crm.consents, crm.order_discounts TO crm_admin, crm_app, crm_manager;
/* a consent given and withdrawn in one transaction shares its changed_at */
GRANT UPDATE (granted, source) ON crm.consents TO crm_admin, crm_app, crm_manager;
GRANT DELETE ON crm.clients, crm.consents, crm.orders, crm.order_lines, crm.incidents,
	crm.interactions, crm.order_discounts, crm.discount_usage
	TO crm_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON crm.client_segments, crm.segment_transitions,
	crm.demo_clients, crm.demo_parameters
	TO crm_admin;
GRANT INSERT, UPDATE ON crm.segment_refreshes TO crm_admin;
/* the identity sequences of the tables each role inserts into (not the ledger's) */
GRANT USAGE, SELECT ON SEQUENCE crm.clients_client_id_seq, crm.orders_order_id_seq,
	crm.incidents_incident_id_seq, crm.interactions_interaction_id_seq
	TO crm_admin, crm_app, crm_manager;
GRANT USAGE, SELECT ON SEQUENCE crm.categories_category_id_seq, crm.products_product_id_seq,
	crm.price_lists_price_list_id_seq, crm.discount_rules_rule_id_seq,
	crm.loyalty_programs_program_id_seq, crm.segment_transitions_transition_id_seq
	TO crm_admin;
/* the demo generator sets the sequences after the rows it writes */
GRANT UPDATE ON SEQUENCE crm.clients_client_id_seq, crm.orders_order_id_seq,
	crm.incidents_incident_id_seq, crm.interactions_interaction_id_seq,
	crm.categories_category_id_seq, crm.products_product_id_seq,
	crm.price_lists_price_list_id_seq
	TO crm_admin;

/* the analyst: everything but personal data */
GRANT SELECT (client_id, kind, country, region, owner, acquisition_channel, acquisition_cost,
			  created_at, updated_at, anonymized_at)
	ON crm.clients TO crm_analyst;
GRANT SELECT (client_id, interaction_id, occurred_at, channel, kind, direction, outcome,
			  handled_by, campaign, order_id, incident_id)
	ON crm.interactions TO crm_analyst;
GRANT SELECT (client_id, incident_id, opened_at, channel, category, status, priority,
			  assignee, due_at, resolved_at, order_id)
	ON crm.incidents TO crm_analyst;
GRANT SELECT ON crm.consents, crm.orders, crm.order_lines, crm.order_discounts,
	crm.discount_usage, crm.client_segments, crm.segment_transitions,
	crm.loyalty_accounts, crm.loyalty_ledger, crm.loyalty_lots, crm.loyalty_allocations,
	crm.loyalty_reversals, crm.loyalty_tier_changes, crm.demo_clients, crm.demo_parameters
	TO crm_analyst;
GRANT INSERT, UPDATE, DELETE ON crm.client_segments, crm.segment_transitions,
	crm.segment_maps, crm.segment_map_rules
	TO crm_analyst;
GRANT INSERT, UPDATE ON crm.segment_refreshes TO crm_analyst;
GRANT USAGE, SELECT ON SEQUENCE crm.segment_transitions_transition_id_seq TO crm_analyst;

/*
 * Functions.  The analytics (RFM, churn, CLV, price_cart, client_card ...)
 * run with the caller's rights, so the tables' privileges and policies
 * decide what they see; they stay executable by PUBLIC.  The functions that
 * write are granted by name.
 */
REVOKE EXECUTE ON FUNCTION crm.refresh_segments(timestamptz, jsonb, text, integer),
	crm.record_priced_cart(jsonb, text, text, text),
	crm.generate_demo_data(integer, bigint, timestamptz)
	FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm.loyalty_program_row(text),
	crm.points_balance(bigint, text, timestamptz),
	crm.points_statement(bigint, text, timestamptz, timestamptz),
	crm.points_expiring(bigint, text, timestamptz, interval),
	crm.tier_turnover(bigint, text, timestamptz)
	TO crm_admin, crm_analyst, crm_app, crm_manager;
GRANT EXECUTE ON FUNCTION crm.verify_ledger() TO crm_admin, crm_analyst;
GRANT EXECUTE ON FUNCTION crm.refresh_segments(timestamptz, jsonb, text, integer)
	TO crm_admin, crm_analyst;
GRANT EXECUTE ON FUNCTION crm.record_priced_cart(jsonb, text, text, text)
	TO crm_admin, crm_app, crm_manager;
GRANT EXECUTE ON FUNCTION crm.open_loyalty_account(bigint, text),
	crm.earn_points(bigint, text, bigint, text, bigint, timestamptz, text, text),
	crm.redeem_points(bigint, text, bigint, text, bigint, text, text),
	crm.refund_order_points(bigint, bigint, text, numeric, text, text),
	crm.reverse_entry(bigint, text, text, text),
	crm.award_order_points(bigint, bigint, text, text),
	crm.award_welcome_bonus(bigint, text, text),
	crm.update_tier(bigint, text, timestamptz, text)
	TO crm_admin, crm_app;
GRANT EXECUTE ON FUNCTION crm.adjust_points(bigint, text, bigint, text, text, timestamptz, text),
	crm.award_paid_orders(text, timestamptz, text),
	crm.award_welcome_bonuses(text, text),
	crm.award_birthday_bonus(bigint, text, date, text),
	crm.award_birthday_bonuses(text, date, text),
	crm.update_tiers(text, timestamptz, text),
	crm.expire_points(timestamptz, text, text),
	crm.generate_demo_data(integer, bigint, timestamptz)
	TO crm_admin;

/*
 * Row-level security.  Every table keyed by client has two policies: the
 * staff roles (admin, analyst, app) see every row, a manager the rows of
 * the clients they own.  A role that is none of these sees no row at all
 * (the table owner and superusers are not subject to the policies, so the
 * SECURITY DEFINER loyalty functions see every account).
 */

/*
 * owned_client_ids: the clients whose owner is the current role, as an
 * array, so that a policy can read it once per statement (an InitPlan) and
 * use it as an index condition: client_id = ANY (...).
 */
CREATE FUNCTION crm.owned_client_ids()
RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
	SELECT coalesce(array_agg(c.client_id ORDER BY c.client_id), '{}')
	  FROM crm.clients c
	 WHERE c.owner = CURRENT_USER
$$;
COMMENT ON FUNCTION crm.owned_client_ids() IS 'the ids of the clients whose owner is the current role: what the manager policies let a crm_manager see';

ALTER TABLE crm.clients ENABLE ROW LEVEL SECURITY;
CREATE POLICY crm_staff ON crm.clients
	TO crm_admin, crm_analyst, crm_app USING (true) WITH CHECK (true);
CREATE POLICY crm_manager ON crm.clients
	TO crm_manager
	USING (owner = CURRENT_USER) WITH CHECK (owner = CURRENT_USER);

ALTER TABLE crm.discount_rules ENABLE ROW LEVEL SECURITY;
CREATE POLICY crm_staff ON crm.discount_rules
	TO crm_admin, crm_analyst, crm_app USING (true) WITH CHECK (true);
CREATE POLICY crm_manager ON crm.discount_rules
	FOR SELECT TO crm_manager
	USING (client_id IS NULL OR client_id = ANY ((SELECT crm.owned_client_ids())::bigint[]));

DO $$
DECLARE
	t			text;
BEGIN
	FOREACH t IN ARRAY ARRAY['consents', 'orders', 'order_lines', 'incidents', 'interactions',
							 'order_discounts', 'discount_usage', 'client_segments',
							 'segment_transitions', 'loyalty_accounts', 'loyalty_ledger',
							 'loyalty_lots', 'loyalty_allocations', 'loyalty_reversals',
							 'loyalty_tier_changes']
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

/*
 * client_overview: one row per client the caller may see, with the figures
 * a manager looks at first.  security_invoker: the caller's privileges and
 * policies apply to the tables underneath.
 */
CREATE VIEW crm.client_overview WITH (security_invoker = true) AS
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
	   c.anonymized_at
  FROM crm.clients c
  LEFT JOIN LATERAL (
	SELECT pg_catalog.count(*) AS purchases,
		   coalesce(pg_catalog.sum(x.net_amount), 0) AS revenue,
		   pg_catalog.max(x.ordered_at) AS last_purchase_at
	  FROM crm.orders x
	 WHERE x.client_id = c.client_id AND x.status IN ('placed', 'paid')) o ON true;
COMMENT ON VIEW crm.client_overview IS 'one row per client the caller may see (security_invoker: row-level security applies): name, owner, purchases, revenue, last purchase, points, open incidents';
GRANT SELECT ON crm.client_overview TO crm_admin, crm_app, crm_manager;

/*
 * anonymize_client: erases what identifies a person and keeps what the
 * analytics need.  Names, e-mail, phone, birth date, city and the free-form
 * attributes of the client go; so do the subject and payload of their
 * interactions and the subject and description of their incidents.  Every
 * consent still in force is withdrawn at once.  Orders, amounts, dates,
 * channels, loyalty entries and segments stay, so RFM, churn and CLV give
 * the same answers.  Runs with the caller's rights: a manager can only
 * anonymize a client they own.  Running it again erases anything written
 * since (anonymized_at keeps the first time).
 */
CREATE FUNCTION crm.anonymize_client(client_id bigint)
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
BEGIN
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;

	UPDATE crm.clients c
	   SET first_name = NULL, last_name = NULL, company_name = NULL, birth_date = NULL,
		   email = NULL, phone = NULL, city = NULL, attributes = '{}',
		   anonymized_at = coalesce(c.anonymized_at, now())
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
	SELECT client_id, cur.channel, now(), false, 'anonymized'
	  FROM (SELECT DISTINCT ON (x.channel) x.channel, x.granted
			  FROM crm.consents x
			 WHERE x.client_id = client_id AND x.changed_at <= now()
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
REVOKE EXECUTE ON FUNCTION crm.anonymize_client(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.anonymize_client(bigint) TO crm_admin, crm_manager;

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

/* ---- churn: JIT for churn_signals only from an estimated cost of 1e9 ---- */
ALTER FUNCTION crm.churn_signals(timestamptz, jsonb) SET jit_above_cost = 1e9;
