-- crm_demo 0.3.0: the demo and benchmark data generator of crm, an
-- extension of its own so that a production database with crm has none of
-- it.  CREATE EXTENSION crm_demo (crm first, or CASCADE).
\echo Use "CREATE EXTENSION crm_demo" to load this file. \quit

/*
 * The deterministic demo and benchmark data generator.
 *
 * crm.generate_demo_data(clients, seed, as_of) fills the schema with a
 * simulated client base and keeps the truth behind it in crm.demo_clients
 * (one row per client: archetype and true parameters) and
 * crm.demo_parameters (one row: the population parameters).  Time unit of
 * every rate: days.  The rows come from C set-returning functions
 * (demo/crm_demo.c) that depend only on their arguments.
 */

/* ---------------------------------------------------------------------
 * Truth tables
 * ---------------------------------------------------------------------
 */
DO $adopt$
BEGIN
	IF pg_catalog.to_regclass('crm.demo_parameters') IS NOT NULL THEN
		-- left by crm before 0.3.0 (its update detached it): adopted, rows kept
		ALTER EXTENSION crm_demo ADD TABLE crm.demo_parameters;
		ALTER TABLE crm.demo_parameters ADD COLUMN noisy boolean NOT NULL DEFAULT false;
	ELSE
		CREATE TABLE crm.demo_parameters (
			seed			bigint NOT NULL,
			as_of			timestamptz NOT NULL,
			clients			integer NOT NULL,
			time_unit		text NOT NULL DEFAULT 'day',
			history_days	double precision NOT NULL,
			r				double precision NOT NULL,
			alpha			double precision NOT NULL,
			a				double precision NOT NULL,
			b				double precision NOT NULL,
			p				double precision NOT NULL,
			q				double precision NOT NULL,
			v				double precision NOT NULL,
			archetype_shares jsonb NOT NULL,
			noisy			boolean NOT NULL DEFAULT false,
			CONSTRAINT demo_parameters_pkey PRIMARY KEY (seed, as_of, clients),
			CONSTRAINT demo_parameters_clients_check CHECK (clients > 0),
			CONSTRAINT demo_parameters_time_unit_check CHECK (time_unit = 'day'),
			CONSTRAINT demo_parameters_model_check
				CHECK (history_days > 0 AND r > 0 AND alpha > 0 AND a > 0 AND b > 0
					   AND p > 0 AND q > 1 AND v > 0),
			CONSTRAINT demo_parameters_shares_check
				CHECK (jsonb_typeof(archetype_shares) = 'object')
		);
	END IF;
END
$adopt$;
COMMENT ON TABLE crm.demo_parameters IS 'the generation behind the demo data: seed, as_of, number of clients and the true population parameters (time unit: days)';
COMMENT ON COLUMN crm.demo_parameters.noisy IS 'the noisy mode: archetypes widened as real clients are (docs/demo.md)';
COMMENT ON COLUMN crm.demo_parameters.history_days IS 'length of the history window before as_of, days';
COMMENT ON COLUMN crm.demo_parameters.r IS 'BG/NBD: the purchase rate lambda (per day) of regular clients ~ Gamma(shape r, rate alpha)';
COMMENT ON COLUMN crm.demo_parameters.alpha IS 'BG/NBD: rate parameter of the purchase-rate gamma, in days (mean rate r/alpha per day)';
COMMENT ON COLUMN crm.demo_parameters.a IS 'BG/NBD: the drop-out probability after a repeat purchase ~ Beta(a, b)';
COMMENT ON COLUMN crm.demo_parameters.b IS 'BG/NBD: the drop-out probability after a repeat purchase ~ Beta(a, b)';
COMMENT ON COLUMN crm.demo_parameters.p IS 'Gamma-Gamma: shape of one order''s value ~ Gamma(p, rate nu)';
COMMENT ON COLUMN crm.demo_parameters.q IS 'Gamma-Gamma: nu ~ Gamma(shape q, rate v); population mean order value p*v/(q-1)';
COMMENT ON COLUMN crm.demo_parameters.v IS 'Gamma-Gamma: rate of the gamma of nu (called gamma in the papers)';
COMMENT ON COLUMN crm.demo_parameters.archetype_shares IS 'the probability of each archetype, a JSON object';

DO $adopt$
BEGIN
	IF pg_catalog.to_regclass('crm.demo_clients') IS NOT NULL THEN
		-- left by crm before 0.3.0 (its update detached it): adopted, rows kept
		ALTER EXTENSION crm_demo ADD TABLE crm.demo_clients;
	ELSE
		CREATE TABLE crm.demo_clients (
			client_id		bigint NOT NULL,
			archetype		text NOT NULL,
			first_purchase_at timestamptz NOT NULL,
			purchase_rate	double precision NOT NULL,
			dropout_prob	double precision,
			dropped_out		boolean NOT NULL,
			dropout_at		timestamptz,
			mean_spend		double precision NOT NULL,
			earlier_purchase_rate double precision,
			changed_at		timestamptz,
			offer_response_prob double precision,
			CONSTRAINT demo_clients_pkey PRIMARY KEY (client_id),
			CONSTRAINT demo_clients_client_fkey FOREIGN KEY (client_id)
				REFERENCES crm.clients (client_id) ON DELETE CASCADE,
			CONSTRAINT demo_clients_archetype_check
				CHECK (archetype IN ('regular', 'loyal', 'promising', 'at_risk', 'drifting',
									 'about_to_lose', 'seasonal_sleeper', 'promo_dependent',
									 'lost')),
			CONSTRAINT demo_clients_purchase_rate_check CHECK (purchase_rate > 0),
			CONSTRAINT demo_clients_dropout_prob_check
				CHECK ((dropout_prob IS NOT NULL) = (archetype = 'regular')
					   AND dropout_prob >= 0 AND dropout_prob <= 1),
			CONSTRAINT demo_clients_dropout_check
				CHECK (dropped_out = (dropout_at IS NOT NULL)
					   AND dropout_at >= first_purchase_at),
			CONSTRAINT demo_clients_mean_spend_check CHECK (mean_spend > 0),
			CONSTRAINT demo_clients_offer_response_prob_check
				CHECK (offer_response_prob >= 0 AND offer_response_prob <= 1)
		);
		CREATE INDEX demo_clients_archetype_idx ON crm.demo_clients (archetype);
	END IF;
END
$adopt$;
COMMENT ON TABLE crm.demo_clients IS 'the truth behind each demo client: archetype and true parameters (rates per day)';
COMMENT ON COLUMN crm.demo_clients.archetype IS 'regular (pure BG/NBD and Gamma-Gamma), loyal, promising, at_risk, drifting, about_to_lose, seasonal_sleeper, promo_dependent or lost';
COMMENT ON COLUMN crm.demo_clients.first_purchase_at IS 'the first purchase (order placed or paid)';
COMMENT ON COLUMN crm.demo_clients.purchase_rate IS 'purchases per day while active: lambda for regular; the current rhythm for loyal, promising, at_risk (after the drop), about_to_lose, lost; the rate within active spells for drifting; purchases per day of life for seasonal_sleeper; offers per day times the chance to buy on one for promo_dependent';
COMMENT ON COLUMN crm.demo_clients.dropout_prob IS 'regular only: the BG/NBD probability of dropping out after each repeat purchase';
COMMENT ON COLUMN crm.demo_clients.dropped_out IS 'true when the client has stopped buying for good: a regular client that dropped out, every lost client';
COMMENT ON COLUMN crm.demo_clients.dropout_at IS 'the purchase after which the client dropped out (its last purchase)';
COMMENT ON COLUMN crm.demo_clients.mean_spend IS 'the true mean net value of one order, p/nu of Gamma-Gamma, EUR';
COMMENT ON COLUMN crm.demo_clients.earlier_purchase_rate IS 'at_risk only: the purchase rate per day before it dropped';
COMMENT ON COLUMN crm.demo_clients.changed_at IS 'at_risk: when the rate dropped; about_to_lose: when the silence began; lost: the last purchase';
COMMENT ON COLUMN crm.demo_clients.offer_response_prob IS 'promo_dependent only: the chance of buying after an opened offer';

/* ---------------------------------------------------------------------
 * Row functions (C)
 * ---------------------------------------------------------------------
 */
CREATE FUNCTION crm.demo_model(
	OUT r double precision, OUT alpha double precision,
	OUT a double precision, OUT b double precision,
	OUT p double precision, OUT q double precision, OUT v double precision,
	OUT history_days double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'demo_model'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1;
COMMENT ON FUNCTION crm.demo_model() IS 'the population parameters of the demo generator (time unit: days)';

CREATE FUNCTION crm.demo_archetypes()
RETURNS TABLE (archetype text, share double precision, description text)
AS 'MODULE_PATHNAME', 'demo_archetypes'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 9;
COMMENT ON FUNCTION crm.demo_archetypes() IS 'the archetypes of demo clients, the probability of each and its behaviour';

CREATE FUNCTION crm.demo_category_rows()
RETURNS TABLE (category_id integer, parent_id integer, name text)
AS 'MODULE_PATHNAME', 'demo_category_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 32;
COMMENT ON FUNCTION crm.demo_category_rows() IS 'the category tree of the demo catalogue';

CREATE FUNCTION crm.demo_product_rows()
RETURNS TABLE (product_id bigint, sku text, name text, category_id integer,
			   unit_cost numeric)
AS 'MODULE_PATHNAME', 'demo_product_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 315;
COMMENT ON FUNCTION crm.demo_product_rows() IS 'the products of the demo catalogue';

CREATE FUNCTION crm.demo_price_list_rows()
RETURNS TABLE (price_list_id integer, code text, name text, kind text, currency text)
AS 'MODULE_PATHNAME', 'demo_price_list_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 3;
COMMENT ON FUNCTION crm.demo_price_list_rows() IS 'the price lists of the demo catalogue: retail, promotional, wholesale';

CREATE FUNCTION crm.demo_price_rows()
RETURNS TABLE (price_list_id integer, product_id bigint, price numeric)
AS 'MODULE_PATHNAME', 'demo_price_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 945;
COMMENT ON FUNCTION crm.demo_price_rows() IS 'the price of every demo product on every demo price list';

CREATE FUNCTION crm.demo_client_rows(seed bigint, as_of timestamptz,
									 first_client bigint, last_client bigint,
		noisy boolean DEFAULT false)
RETURNS TABLE (client_id bigint, kind text, first_name text, last_name text,
			   company_name text, birth_date date, email text, phone text,
			   country text, region text, city text, owner text,
			   acquisition_channel text, acquisition_cost numeric,
			   attributes jsonb, created_at timestamptz, updated_at timestamptz)
AS 'MODULE_PATHNAME', 'demo_client_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION crm.demo_client_rows(bigint, timestamptz, bigint, bigint, boolean) IS 'demo generator: the crm.clients rows of clients first_client..last_client';

CREATE FUNCTION crm.demo_truth_rows(seed bigint, as_of timestamptz,
									first_client bigint, last_client bigint,
		noisy boolean DEFAULT false)
RETURNS TABLE (client_id bigint, archetype text, first_purchase_at timestamptz,
			   purchase_rate double precision, dropout_prob double precision,
			   dropped_out boolean, dropout_at timestamptz,
			   mean_spend double precision, earlier_purchase_rate double precision,
			   changed_at timestamptz, offer_response_prob double precision)
AS 'MODULE_PATHNAME', 'demo_truth_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION crm.demo_truth_rows(bigint, timestamptz, bigint, bigint, boolean) IS 'demo generator: the crm.demo_clients rows (archetype and true parameters) of clients first_client..last_client';

CREATE FUNCTION crm.demo_consent_rows(seed bigint, as_of timestamptz,
									  first_client bigint, last_client bigint,
		noisy boolean DEFAULT false)
RETURNS TABLE (client_id bigint, channel text, changed_at timestamptz,
			   granted boolean, source text)
AS 'MODULE_PATHNAME', 'demo_consent_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2000;
COMMENT ON FUNCTION crm.demo_consent_rows(bigint, timestamptz, bigint, bigint, boolean) IS 'demo generator: the crm.consents rows of clients first_client..last_client';

CREATE FUNCTION crm.demo_order_rows(seed bigint, as_of timestamptz,
									first_client bigint, last_client bigint,
									first_order_id bigint,
		noisy boolean DEFAULT false)
RETURNS TABLE (client_id bigint, order_id bigint, ordered_at timestamptz,
			   channel text, status text, price_list_id integer, currency text,
			   gross_amount numeric, discount_amount numeric, net_amount numeric,
			   cost_amount numeric, promo_used boolean, points_paid bigint,
			   external_ref text, created_at timestamptz)
AS 'MODULE_PATHNAME', 'demo_order_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 20000;
COMMENT ON FUNCTION crm.demo_order_rows(bigint, timestamptz, bigint, bigint, bigint, boolean) IS 'demo generator: the crm.orders rows of clients first_client..last_client, numbered from first_order_id';

CREATE FUNCTION crm.demo_line_rows(seed bigint, as_of timestamptz,
								   first_client bigint, last_client bigint,
								   first_order_id bigint,
		noisy boolean DEFAULT false)
RETURNS TABLE (client_id bigint, order_id bigint, line_no integer, product_id bigint,
			   quantity numeric, unit_price numeric, gross_amount numeric,
			   discount_amount numeric, net_amount numeric, cost_amount numeric)
AS 'MODULE_PATHNAME', 'demo_line_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 40000;
COMMENT ON FUNCTION crm.demo_line_rows(bigint, timestamptz, bigint, bigint, bigint, boolean) IS 'demo generator: the crm.order_lines rows of clients first_client..last_client, orders numbered from first_order_id';

CREATE FUNCTION crm.demo_incident_rows(seed bigint, as_of timestamptz,
									   first_client bigint, last_client bigint,
									   first_order_id bigint, first_incident_id bigint,
		noisy boolean DEFAULT false)
RETURNS TABLE (client_id bigint, incident_id bigint, opened_at timestamptz,
			   channel text, category text, subject text, description text,
			   status text, priority text, assignee text, due_at timestamptz,
			   resolved_at timestamptz, order_id bigint)
AS 'MODULE_PATHNAME', 'demo_incident_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 100;
COMMENT ON FUNCTION crm.demo_incident_rows(bigint, timestamptz, bigint, bigint, bigint, bigint, boolean) IS 'demo generator: the crm.incidents rows of clients first_client..last_client, numbered from first_incident_id';

CREATE FUNCTION crm.demo_interaction_rows(seed bigint, as_of timestamptz,
										  first_client bigint, last_client bigint,
										  first_order_id bigint,
										  first_incident_id bigint,
										  first_interaction_id bigint,
		noisy boolean DEFAULT false)
RETURNS TABLE (client_id bigint, interaction_id bigint, occurred_at timestamptz,
			   channel text, kind text, direction text, outcome text,
			   handled_by text, campaign text, subject text, order_id bigint,
			   incident_id bigint, payload jsonb)
AS 'MODULE_PATHNAME', 'demo_interaction_rows'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 30000;
COMMENT ON FUNCTION crm.demo_interaction_rows(bigint, timestamptz, bigint, bigint, bigint, bigint, bigint, boolean) IS 'demo generator: the crm.interactions rows of clients first_client..last_client, numbered from first_interaction_id';

/* ---------------------------------------------------------------------
 * The generator
 * ---------------------------------------------------------------------
 */
CREATE FUNCTION crm.generate_demo_data(
	clients integer,
	seed bigint DEFAULT 1,
	as_of timestamptz DEFAULT '2025-01-01 00:00:00+00',
	allow_future boolean DEFAULT false,
	noisy boolean DEFAULT false)
RETURNS TABLE (table_name text, row_count bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	chunk		constant integer := 1000;
	max_clients constant integer := 50000000;
	lo			bigint;
	hi			bigint;
	n			bigint;
	next_order	bigint := 1;
	next_incident bigint := 1;
	next_interaction bigint := 1;
	chunk_order	bigint;
	chunk_incident bigint;
	n_lines		bigint := 0;
	n_consents	bigint := 0;
	fk			record;
	restore		text[] := '{}';
	stmt		text;
	catalogue_empty boolean;
	tolerance	text;
BEGIN
	IF clients IS NULL OR seed IS NULL OR as_of IS NULL OR allow_future IS NULL
	   OR noisy IS NULL THEN
		RAISE EXCEPTION 'clients, seed, as_of, allow_future and noisy must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF clients < 1 OR clients > max_clients THEN
		RAISE EXCEPTION 'clients must be between 1 and %: %', max_clients, clients
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT isfinite(as_of) OR as_of < '1910-01-01 00:00:00+00'
	   OR as_of >= '10000-01-01 00:00:00+00' THEN
		RAISE EXCEPTION 'as_of must lie between 1910-01-01 and 9999-12-31: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/*
	 * A history up to a later time than now plus crm.future_tolerance only
	 * when asked for: its orders and interactions lie in the future, which
	 * crm refuses unless the tolerance is lifted, as it is here for the
	 * load (crm.future_tolerance = -1, set back after it).
	 */
	IF NOT allow_future THEN
		PERFORM crm.refuse_future('crm.generate_demo_data', 'as_of', as_of);
	ELSE
		PERFORM crm.future_tolerance();		-- crm's library defines the setting
		tolerance := pg_catalog.current_setting('crm.future_tolerance');
		PERFORM pg_catalog.set_config('crm.future_tolerance', '-1', true);
	END IF;

	/* one generation at a time, into empty client tables */
	LOCK TABLE crm.clients IN EXCLUSIVE MODE;

	/* the catalogue: insert it, or find it already there */
	catalogue_empty := NOT EXISTS (SELECT 1 FROM crm.categories)
		AND NOT EXISTS (SELECT 1 FROM crm.products)
		AND NOT EXISTS (SELECT 1 FROM crm.price_lists)
		AND NOT EXISTS (SELECT 1 FROM crm.prices);
	IF catalogue_empty THEN
		INSERT INTO crm.categories (category_id, parent_id, name)
			SELECT d.category_id, d.parent_id, d.name FROM crm.demo_category_rows() d
			 ORDER BY d.category_id;
		INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost)
			SELECT d.product_id, d.sku, d.name, d.category_id, d.unit_cost
			  FROM crm.demo_product_rows() d;
		INSERT INTO crm.price_lists (price_list_id, code, name, kind, currency)
			SELECT d.price_list_id, d.code, d.name, d.kind, d.currency
			  FROM crm.demo_price_list_rows() d;
		INSERT INTO crm.prices (price_list_id, product_id, price)
			SELECT d.price_list_id, d.product_id, d.price FROM crm.demo_price_rows() d;
	END IF;

	/*
	 * The client tables are read only now, after the catalogue is written:
	 * on Citus a reference table (the catalogue) cannot be written in a
	 * transaction after a parallel read of a distributed table that has a
	 * foreign key to it.  An error rolls the catalogue back.
	 */
	IF EXISTS (SELECT 1 FROM crm.clients) THEN
		RAISE EXCEPTION 'crm.clients is not empty'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The demo generator numbers clients, orders, incidents and interactions from 1.',
				  HINT = 'Empty the client data first: TRUNCATE crm.clients CASCADE.';
	END IF;
	IF catalogue_empty THEN
		PERFORM pg_catalog.setval('crm.categories_category_id_seq',
								  (SELECT max(c.category_id) FROM crm.categories c));
		PERFORM pg_catalog.setval('crm.products_product_id_seq',
								  (SELECT max(p.product_id) FROM crm.products p));
		PERFORM pg_catalog.setval('crm.price_lists_price_list_id_seq',
								  (SELECT max(l.price_list_id) FROM crm.price_lists l));
	ELSIF EXISTS (SELECT d.category_id, d.parent_id, d.name FROM crm.demo_category_rows() d
				  EXCEPT SELECT c.category_id, c.parent_id, c.name FROM crm.categories c)
	   OR EXISTS (SELECT d.product_id, d.sku, d.name, d.category_id, d.unit_cost
					FROM crm.demo_product_rows() d
				  EXCEPT SELECT p.product_id, p.sku, p.name, p.category_id, p.unit_cost
					FROM crm.products p)
	   OR EXISTS (SELECT d.price_list_id, d.code, d.kind, d.currency
					FROM crm.demo_price_list_rows() d
				  EXCEPT SELECT l.price_list_id, l.code, l.kind, l.currency
					FROM crm.price_lists l)
	   OR EXISTS (SELECT d.price_list_id, d.product_id, d.price FROM crm.demo_price_rows() d
				  EXCEPT SELECT x.price_list_id, x.product_id, x.price FROM crm.prices x)
	THEN
		RAISE EXCEPTION 'the catalogue tables hold rows that are not the demo catalogue'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'The demo orders refer to the demo products and price lists by their identifiers.',
				  HINT = 'Empty the catalogue first: TRUNCATE crm.categories, crm.products, crm.price_lists CASCADE.';
	END IF;

	/*
	 * Checking every inserted row against its foreign keys takes most of the
	 * time of a load.  When the caller owns the client tables, their foreign
	 * keys are dropped for the load and added back, validated in one pass
	 * each, before the function returns (all in this transaction).  They are
	 * added back in their original order, which keeps the order in which
	 * their triggers fire (by OID), so that a row breaking two of them is
	 * reported with the same one as before.
	 */
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c
					WHERE c.oid IN ('crm.clients'::regclass, 'crm.consents'::regclass,
									'crm.orders'::regclass, 'crm.order_lines'::regclass,
									'crm.incidents'::regclass, 'crm.interactions'::regclass,
									'crm.demo_clients'::regclass)
					  AND NOT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')) THEN
		FOR fk IN
			SELECT format('%I.%I', n.nspname, c.relname) AS tab, k.conname,
				   pg_catalog.pg_get_constraintdef(k.oid) AS def
			  FROM pg_catalog.pg_constraint k
			  JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
			  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			 WHERE k.contype = 'f'
			   AND k.conrelid IN ('crm.consents'::regclass, 'crm.orders'::regclass,
								  'crm.order_lines'::regclass, 'crm.incidents'::regclass,
								  'crm.interactions'::regclass, 'crm.demo_clients'::regclass)
			 ORDER BY k.oid
		LOOP
			EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tab, fk.conname);
			restore := restore || format('ALTER TABLE %s ADD CONSTRAINT %I %s',
										 fk.tab, fk.conname, fk.def);
		END LOOP;
	END IF;

	/*
	 * the service levels the demo incidents' due times follow, one per
	 * priority (when crm.service_levels is empty): the incidents name them
	 */
	IF NOT EXISTS (SELECT FROM crm.service_levels) THEN
		INSERT INTO crm.service_levels (code, name, rank, incident_priority, response_time,
										resolution_time)
		VALUES ('urgent', 'Urgent: answer within 4 hours, resolve within 6', 10, 'urgent',
				'4 hours', '6 hours'),
			   ('high', 'High: answer within 16 hours, resolve within a day', 20, 'high',
				'16 hours', '1 day'),
			   ('normal', 'Normal: answer within 2 days, resolve within 3', 30, 'normal',
				'2 days', '3 days'),
			   ('low', 'Low: answer within 5 days, resolve within 7', 40, 'low',
				'5 days', '7 days');
	END IF;

	/* the client data, a chunk of clients at a time */
	lo := 1;
	WHILE lo <= clients LOOP
		hi := least(lo + chunk - 1, clients);
		PERFORM crm.report_progress('generate_demo_data',
			format('clients %s to %s of %s, %s orders so far', lo, hi, clients, next_order - 1));
		INSERT INTO crm.clients (client_id, kind, first_name, last_name, company_name,
								 birth_date, email, phone, country, region, city, owner,
								 acquisition_channel, acquisition_cost, attributes,
								 created_at, updated_at)
			SELECT * FROM crm.demo_client_rows(seed, as_of, lo, hi, noisy);
		INSERT INTO crm.demo_clients (client_id, archetype, first_purchase_at, purchase_rate,
									  dropout_prob, dropped_out, dropout_at, mean_spend,
									  earlier_purchase_rate, changed_at, offer_response_prob)
			SELECT * FROM crm.demo_truth_rows(seed, as_of, lo, hi, noisy);
		INSERT INTO crm.consents (client_id, channel, changed_at, granted, source)
			SELECT * FROM crm.demo_consent_rows(seed, as_of, lo, hi, noisy);
		GET DIAGNOSTICS n = ROW_COUNT;
		n_consents := n_consents + n;
		INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status,
								price_list_id, currency, gross_amount, discount_amount,
								net_amount, cost_amount, promo_used, points_paid,
								external_ref, created_at)
			SELECT * FROM crm.demo_order_rows(seed, as_of, lo, hi, next_order, noisy);
		GET DIAGNOSTICS n = ROW_COUNT;
		chunk_order := next_order;
		next_order := next_order + n;
		INSERT INTO crm.order_lines (client_id, order_id, line_no, product_id, quantity,
									 unit_price, gross_amount, discount_amount,
									 net_amount, cost_amount)
			SELECT * FROM crm.demo_line_rows(seed, as_of, lo, hi, chunk_order, noisy);
		GET DIAGNOSTICS n = ROW_COUNT;
		n_lines := n_lines + n;
		INSERT INTO crm.incidents (client_id, incident_id, opened_at, channel, category,
								   subject, description, status, priority, assignee,
								   due_at, resolved_at, order_id, service_level_id, response_due_at)
			SELECT d.*, l.level_id, d.opened_at + l.response_time
			  FROM crm.demo_incident_rows(seed, as_of, lo, hi, chunk_order, next_incident, noisy) d
			  LEFT JOIN crm.service_levels l
				ON l.code = d.priority
			 ORDER BY d.incident_id;
		GET DIAGNOSTICS n = ROW_COUNT;
		chunk_incident := next_incident;
		next_incident := next_incident + n;
		INSERT INTO crm.interactions (client_id, interaction_id, occurred_at, channel,
									  kind, direction, outcome, handled_by, campaign,
									  subject, order_id, incident_id, payload)
			SELECT * FROM crm.demo_interaction_rows(seed, as_of, lo, hi, chunk_order,
													chunk_incident, next_interaction, noisy);
		GET DIAGNOSTICS n = ROW_COUNT;
		next_interaction := next_interaction + n;
		/* the first answer to each incident: its first outbound interaction */
		UPDATE crm.incidents i SET responded_at = a.first_answer
		  FROM (SELECT x.client_id, x.incident_id, min(x.occurred_at) AS first_answer
				  FROM crm.interactions x
				 WHERE x.client_id BETWEEN lo AND hi AND x.incident_id IS NOT NULL
				   AND x.direction = 'outbound'
				 GROUP BY x.client_id, x.incident_id) a
		 WHERE i.client_id = a.client_id AND i.incident_id = a.incident_id;
		lo := hi + 1;
	END LOOP;

	FOREACH stmt IN ARRAY restore LOOP
		EXECUTE stmt;
	END LOOP;

	/* identity sequences continue after the generated rows */
	PERFORM pg_catalog.setval('crm.clients_client_id_seq', clients);
	PERFORM pg_catalog.setval('crm.orders_order_id_seq', greatest(next_order - 1, 1),
							  next_order > 1);
	PERFORM pg_catalog.setval('crm.incidents_incident_id_seq', greatest(next_incident - 1, 1),
							  next_incident > 1);
	PERFORM pg_catalog.setval('crm.interactions_interaction_id_seq',
							  greatest(next_interaction - 1, 1), next_interaction > 1);

	IF allow_future THEN
		PERFORM pg_catalog.set_config('crm.future_tolerance', tolerance, true);
	END IF;

	DELETE FROM crm.demo_parameters;
	INSERT INTO crm.demo_parameters (seed, as_of, clients, history_days, r, alpha, a, b, p, q, v,
									 archetype_shares, noisy)
		SELECT generate_demo_data.seed, generate_demo_data.as_of, generate_demo_data.clients,
			   m.history_days, m.r, m.alpha, m.a, m.b, m.p, m.q, m.v,
			   (SELECT jsonb_object_agg(x.archetype, x.share) FROM crm.demo_archetypes() x),
			   generate_demo_data.noisy
		  FROM crm.demo_model() m;

	RETURN QUERY
		SELECT 'categories', count(*) FROM crm.categories
		UNION ALL SELECT 'products', count(*) FROM crm.products
		UNION ALL SELECT 'price_lists', count(*) FROM crm.price_lists
		UNION ALL SELECT 'prices', count(*) FROM crm.prices
		UNION ALL SELECT 'clients', clients::bigint
		UNION ALL SELECT 'demo_clients', clients::bigint
		UNION ALL SELECT 'consents', n_consents
		UNION ALL SELECT 'orders', next_order - 1
		UNION ALL SELECT 'order_lines', n_lines
		UNION ALL SELECT 'incidents', next_incident - 1
		UNION ALL SELECT 'interactions', next_interaction - 1;
END
$$;
COMMENT ON FUNCTION crm.generate_demo_data(integer, bigint, timestamptz, boolean, boolean) IS 'fills empty client tables with a deterministic simulated client base (and the demo catalogue if the catalogue is empty); the truth is kept in crm.demo_clients and crm.demo_parameters; returns the row count of each table; as_of at most now plus crm.future_tolerance unless allow_future';

SELECT pg_catalog.pg_extension_config_dump('crm.demo_parameters', '');
SELECT pg_catalog.pg_extension_config_dump('crm.demo_clients', '');

/*
 * demo_households: family cards among the clients, in a loyalty
 * programme (docs/loyalty.md#households): persons who share a surname and
 * a city, in client_id order, three to a household (the last of a
 * surname and city may be a pair; a person left alone joins none), the
 * first of each its owner, named after the surname and the city.  Made
 * through crm.create_household and crm.join_household, so that they are
 * what an application would have made.  Clients already in a household
 * of the programme are left out, so a second call makes none for them.
 * Returns how many households and members it made.
 */
CREATE FUNCTION crm.demo_households(program text)
RETURNS TABLE (households bigint, members bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_program	bigint;
	h			record;
BEGIN
	PERFORM crm.refuse_in_citus_task('crm.demo_households');
	IF program IS NULL THEN
		RAISE EXCEPTION 'program must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT lp.program_id INTO v_program FROM crm.loyalty_programs lp WHERE lp.code = program;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'loyalty programme "%" does not exist', program
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	households := 0;
	members := 0;
	/* the rows first (on Citus: from the shards), then the groups, then the calls */
	FOR h IN
		WITH c AS MATERIALIZED (
			SELECT x.client_id, x.last_name, x.city FROM crm.clients x
			 WHERE x.kind = 'person' AND x.last_name IS NOT NULL AND x.city IS NOT NULL),
		taken AS MATERIALIZED (
			SELECT m.client_id FROM crm.household_members m
			 WHERE m.program_id = v_program AND m.left_at IS NULL),
		ranked AS (
			SELECT c.client_id, c.last_name, c.city,
				   (pg_catalog.row_number() OVER (PARTITION BY c.last_name, c.city
												 ORDER BY c.client_id) - 1) / 3 AS chunk
			  FROM c WHERE c.client_id NOT IN (SELECT t.client_id FROM taken t))
		SELECT pg_catalog.array_agg(r.client_id ORDER BY r.client_id) AS ids,
			   pg_catalog.min(r.last_name) || ' (' || pg_catalog.min(r.city) || ')' AS name
		  FROM ranked r
		 GROUP BY r.last_name, r.city, r.chunk
		HAVING pg_catalog.count(*) >= 2
		 ORDER BY pg_catalog.min(r.client_id)
	LOOP
		PERFORM crm.create_household(h.ids[1], program, h.name);
		FOR i IN 2 .. pg_catalog.array_length(h.ids, 1) LOOP
			PERFORM crm.join_household(h.ids[i], h.ids[1], program);
		END LOOP;
		households := households + 1;
		members := members + pg_catalog.array_length(h.ids, 1);
	END LOOP;
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION crm.demo_households(text) IS 'makes family cards (households) in a loyalty programme among the clients: persons sharing a surname and a city, three to a household in client_id order, the first the owner; clients already in a household of the programme are left out; returns how many households and members it made';

/* ---------------------------------------------------------------------
 * Privileges: the generator writes every client table, so only
 * crm_admin (and the owner) may run it; the truth tables are readable as
 * the analytics' inputs are.
 * ---------------------------------------------------------------------
 */
REVOKE EXECUTE ON FUNCTION crm.generate_demo_data(integer, bigint, timestamptz, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.generate_demo_data(integer, bigint, timestamptz, boolean, boolean) TO crm_admin;
REVOKE EXECUTE ON FUNCTION crm.demo_households(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm.demo_households(text) TO crm_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON crm.demo_clients, crm.demo_parameters TO crm_admin;
GRANT SELECT ON crm.demo_clients, crm.demo_parameters TO crm_analyst;
