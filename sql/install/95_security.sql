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
 *                the segment snapshot (through crm.refresh_segments only)
 *                and edits segment maps
 *   crm_app      the application: records clients, orders, interactions and
 *                incidents, prices and records carts, calls the loyalty
 *                operations; cannot write the ledger directly, and does
 *                not read the segment snapshot
 *
 * The segment snapshot (crm.client_segments, crm.segment_transitions, the
 * logs crm.segment_refreshes and crm.segment_rewinds) is written by the
 * owner's functions crm.refresh_segments and crm.rewind_segments only:
 * nobody holds INSERT, UPDATE or DELETE on it, so its log of changes is
 * what the refreshes found.  docs/security.md has the table of every
 * role's privileges; test/scripts/security_grants.sh compares it with the
 * catalog.
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
	crm.loyalty_programs, crm.loyalty_tiers, crm.discount_rules, crm.pricing_version
	TO crm_admin, crm_analyst, crm_app, crm_manager;
GRANT INSERT, UPDATE, DELETE ON crm.categories, crm.products, crm.price_lists, crm.prices,
	crm.segment_maps, crm.segment_map_rules, crm.contact_caps,
	crm.loyalty_programs, crm.loyalty_tiers, crm.discount_rules
	TO crm_admin;

/* client data */
GRANT SELECT ON crm.clients, crm.consents, crm.orders, crm.order_lines, crm.incidents,
	crm.interactions, crm.order_discounts, crm.discount_usage,
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
/* the segment snapshot and its logs: read only (crm.refresh_segments writes) */
GRANT SELECT ON crm.client_segments, crm.segment_transitions, crm.segment_refreshes,
	crm.segment_rewinds
	TO crm_admin, crm_analyst, crm_manager;
/*
 * the profile store, its state and its change log: read by every role that
 * reads the orders, so that crm.rfm_scores and crm.churn_signals read the
 * store as the caller (row security applies as on the orders); written by
 * crm.refresh_profiles and the log's trigger only
 */
GRANT SELECT ON crm.profile_store, crm.profile_store_state, crm.profile_changes
	TO crm_admin, crm_analyst, crm_app, crm_manager;
/* the application prices carts with the client's RFM segment (crm.price_cart): that label only */
GRANT SELECT (client_id, rfm_segment, since) ON crm.client_segments TO crm_app;
/* the identity sequences of the tables each role inserts into (not the ledger's) */
GRANT USAGE, SELECT ON SEQUENCE crm.clients_client_id_seq, crm.orders_order_id_seq,
	crm.incidents_incident_id_seq, crm.interactions_interaction_id_seq
	TO crm_admin, crm_app, crm_manager;
GRANT USAGE, SELECT ON SEQUENCE crm.categories_category_id_seq, crm.products_product_id_seq,
	crm.price_lists_price_list_id_seq, crm.discount_rules_rule_id_seq,
	crm.loyalty_programs_program_id_seq
	TO crm_admin;
/* pg_dump reads every sequence: the admin may read them all (not use them) */
GRANT SELECT ON ALL SEQUENCES IN SCHEMA crm TO crm_admin;
/* the demo generator (crm_demo) sets the sequences after the rows it writes */
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
	crm.discount_usage,
	crm.loyalty_accounts, crm.loyalty_ledger, crm.loyalty_lots, crm.loyalty_allocations,
	crm.loyalty_reversals, crm.loyalty_tier_changes
	TO crm_analyst;
GRANT INSERT, UPDATE, DELETE ON crm.segment_maps, crm.segment_map_rules TO crm_analyst;

/*
 * Functions.  The analytics (RFM, churn, CLV, price_cart, client_card ...)
 * run with the caller's rights, so the tables' privileges and policies
 * decide what they see; they stay executable by PUBLIC.  The functions that
 * write are granted by name.
 */
REVOKE EXECUTE ON FUNCTION crm.refresh_segments(timestamptz, jsonb, text, integer, boolean),
	crm.rewind_segments(timestamptz),
	crm.record_priced_cart(jsonb, text, text, text)
	FROM PUBLIC;

GRANT EXECUTE ON FUNCTION crm.loyalty_program_row(text),
	crm.loyalty_raise(text, text, text, text),
	crm.loyalty_check_client(bigint),
	crm.loyalty_refuse_in_citus_task(text),
	crm.loyalty_earn(crm.loyalty_programs, text, numeric, bigint),
	crm.loyalty_redeem_cap(crm.loyalty_programs, numeric),
	crm.points_balance(bigint, text, timestamptz),
	crm.points_statement(bigint, text, timestamptz, timestamptz),
	crm.points_expiring(bigint, text, timestamptz, interval),
	crm.tier_turnover(bigint, text, timestamptz)
	TO crm_admin, crm_analyst, crm_app, crm_manager;
GRANT EXECUTE ON FUNCTION crm.verify_ledger() TO crm_admin, crm_analyst;
GRANT EXECUTE ON FUNCTION crm.refresh_segments(timestamptz, jsonb, text, integer, boolean)
	TO crm_admin, crm_analyst;
GRANT EXECUTE ON FUNCTION crm.rewind_segments(timestamptz) TO crm_admin;
GRANT EXECUTE ON FUNCTION crm.refresh_profiles(timestamptz, jsonb, boolean) TO crm_admin;
GRANT EXECUTE ON FUNCTION crm.record_priced_cart(jsonb, text, text, text)
	TO crm_admin, crm_app, crm_manager;
GRANT EXECUTE ON FUNCTION crm.open_loyalty_account(bigint, text),
	crm.earn_points(bigint, text, bigint, text, bigint, timestamptz, text, text),
	crm.redeem_points(bigint, text, bigint, text, bigint, text, text),
	crm.refund_order_points(bigint, bigint, text, numeric, text, text),
	crm.reverse_entry(bigint, text, text, text),
	crm.award_order_points(bigint, bigint, text, text),
	crm.award_welcome_bonus(bigint, text, text),
	crm.update_tier(bigint, text, timestamptz, text, boolean)
	TO crm_admin, crm_app;
GRANT EXECUTE ON FUNCTION crm.adjust_points(bigint, text, bigint, text, text, timestamptz, text),
	crm.award_paid_orders(text, timestamptz, text),
	crm.award_welcome_bonuses(text, text),
	crm.award_birthday_bonus(bigint, text, date, text, boolean),
	crm.award_birthday_bonuses(text, date, text, boolean),
	crm.update_tiers(text, timestamptz, text, boolean),
	crm.expire_points(timestamptz, text, text, boolean)
	TO crm_admin;
/* after a load of one's own data (90_dump.sql) */
GRANT EXECUTE ON FUNCTION crm.sync_sequences() TO crm_admin;

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
							 'loyalty_tier_changes', 'profile_store', 'profile_changes']
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
REVOKE EXECUTE ON FUNCTION crm.anonymize_client(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.anonymize_client(bigint) TO crm_admin, crm_manager;

/*
 * Households (84_loyalty_households.sql): read like the loyalty tables,
 * written only by the household functions, which the DBA grants.
 */
GRANT SELECT ON crm.households, crm.household_members
	TO crm_admin, crm_analyst, crm_app, crm_manager;
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
