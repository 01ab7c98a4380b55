--
-- The schema contract of crm: tables, keys, column types, foreign-key
-- indexes, dump registration and function labels.
--
BEGIN;
SELECT plan(83);

-- the foundation's tables
SELECT has_table('crm', t, 'table crm.' || t || ' exists')
  FROM unnest(ARRAY['clients', 'consents', 'categories', 'products', 'price_lists',
					'prices', 'orders', 'order_lines', 'incidents', 'interactions']) t;

-- primary keys: client data leads with client_id
SELECT col_is_pk('crm', 'clients', ARRAY['client_id'], 'clients keyed by client_id');
SELECT col_is_pk('crm', 'consents', ARRAY['client_id', 'channel', 'changed_at'], 'consents keyed by client, channel, time');
SELECT col_is_pk('crm', 'categories', ARRAY['category_id'], 'categories keyed by category_id');
SELECT col_is_pk('crm', 'products', ARRAY['product_id'], 'products keyed by product_id');
SELECT col_is_pk('crm', 'price_lists', ARRAY['price_list_id'], 'price lists keyed by price_list_id');
SELECT col_is_pk('crm', 'prices', ARRAY['price_list_id', 'product_id'], 'prices keyed by list and product');
SELECT col_is_pk('crm', 'orders', ARRAY['client_id', 'order_id'], 'orders keyed by client and order');
SELECT col_is_pk('crm', 'order_lines', ARRAY['client_id', 'order_id', 'line_no'], 'order lines keyed by client, order, line');
SELECT col_is_pk('crm', 'incidents', ARRAY['client_id', 'incident_id'], 'incidents keyed by client and incident');
SELECT col_is_pk('crm', 'interactions', ARRAY['client_id', 'interaction_id'], 'interactions keyed by client and interaction');

-- foreign keys
SELECT fk_ok('crm', 'orders', ARRAY['client_id'], 'crm', 'clients', ARRAY['client_id']);
SELECT fk_ok('crm', 'order_lines', ARRAY['client_id', 'order_id'], 'crm', 'orders', ARRAY['client_id', 'order_id']);
SELECT fk_ok('crm', 'order_lines', ARRAY['product_id'], 'crm', 'products', ARRAY['product_id']);
SELECT fk_ok('crm', 'interactions', ARRAY['client_id', 'order_id'], 'crm', 'orders', ARRAY['client_id', 'order_id']);
SELECT fk_ok('crm', 'interactions', ARRAY['client_id', 'incident_id'], 'crm', 'incidents', ARRAY['client_id', 'incident_id']);
SELECT fk_ok('crm', 'incidents', ARRAY['client_id', 'order_id'], 'crm', 'orders', ARRAY['client_id', 'order_id']);
SELECT fk_ok('crm', 'products', ARRAY['category_id'], 'crm', 'categories', ARRAY['category_id']);
-- the category tree's key is a trigger (pg_dump warns about a table of an
-- extension that refers to itself), and no foreign key makes a loop among
-- crm's tables
SELECT trigger_is('crm', 'categories', 'categories_parent_exists', 'crm', 'categories_check_parent',
				  'the category tree''s key is kept by a trigger');
SELECT is_empty($$
	SELECT k.conname FROM pg_constraint k
	 WHERE k.contype = 'f' AND k.conrelid = k.confrelid
	   AND k.conrelid IN (SELECT objid FROM pg_depend
						   WHERE refclassid = 'pg_extension'::regclass AND classid = 'pg_class'::regclass
							 AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'crm')) $$,
	'no table of crm has a foreign key to itself');
SELECT fk_ok('crm', 'prices', ARRAY['product_id'], 'crm', 'products', ARRAY['product_id']);
SELECT fk_ok('crm', 'consents', ARRAY['client_id'], 'crm', 'clients', ARRAY['client_id']);

-- column types: money numeric, points bigint, times timestamptz, free form jsonb
SELECT col_type_is('crm', t, c, ty, format('crm.%s.%s is %s', t, c, ty))
  FROM (VALUES
	('clients', 'client_id', 'bigint'),
	('clients', 'kind', 'text'),
	('clients', 'birth_date', 'date'),
	('clients', 'acquisition_cost', 'numeric(12,2)'),
	('clients', 'attributes', 'jsonb'),
	('clients', 'created_at', 'timestamp with time zone'),
	('clients', 'updated_at', 'timestamp with time zone'),
	('consents', 'changed_at', 'timestamp with time zone'),
	('consents', 'granted', 'boolean'),
	('price_lists', 'valid', 'tstzrange'),
	('prices', 'price', 'numeric(12,2)'),
	('orders', 'ordered_at', 'timestamp with time zone'),
	('orders', 'gross_amount', 'numeric(14,2)'),
	('orders', 'discount_amount', 'numeric(14,2)'),
	('orders', 'net_amount', 'numeric(14,2)'),
	('orders', 'cost_amount', 'numeric(14,2)'),
	('orders', 'promo_used', 'boolean'),
	('orders', 'points_paid', 'bigint'),
	('order_lines', 'quantity', 'numeric(12,3)'),
	('order_lines', 'unit_price', 'numeric(12,2)'),
	('order_lines', 'net_amount', 'numeric(14,2)'),
	('incidents', 'due_at', 'timestamp with time zone'),
	('incidents', 'resolved_at', 'timestamp with time zone'),
	('interactions', 'occurred_at', 'timestamp with time zone'),
	('interactions', 'payload', 'jsonb')) AS v(t, c, ty);

-- NOT NULL where a row is meaningless without the value
SELECT col_not_null('crm', t, c, format('crm.%s.%s is NOT NULL', t, c))
  FROM (VALUES ('clients', 'kind'), ('orders', 'client_id'), ('orders', 'ordered_at'),
			   ('orders', 'status'), ('orders', 'net_amount'), ('order_lines', 'product_id'),
			   ('interactions', 'occurred_at'), ('interactions', 'channel'),
			   ('interactions', 'kind'), ('incidents', 'status')) AS v(t, c);

-- interactions are indexed for "this client's history, newest first" and for time ranges
SELECT has_index('crm', 'interactions', 'interactions_client_history_idx', ARRAY['client_id', 'occurred_at'],
				 'interactions: index on (client_id, occurred_at)');
SELECT is((SELECT indoption[1] & 1 = 1 FROM pg_index
			WHERE indexrelid = 'crm.interactions_client_history_idx'::regclass),
		  true, 'interactions history index is DESC on occurred_at');
SELECT is((SELECT am.amname::text FROM pg_class c JOIN pg_am am ON am.oid = c.relam
			WHERE c.oid = 'crm.interactions_time_idx'::regclass),
		  'brin', 'interactions: BRIN index on occurred_at for time ranges');

-- every table of the extension has a primary key
SELECT is_empty($$
	SELECT c.relname FROM pg_class c
	  JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'crm'
	 WHERE c.relkind = 'r'
	   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')$$,
	'every crm table has a primary key');

-- every foreign key of the extension has an index whose leading columns are the key's
SELECT is_empty($$
	SELECT k.conrelid::regclass || ' ' || k.conname FROM pg_constraint k
	 WHERE k.contype = 'f' AND k.connamespace = 'crm'::regnamespace
	   AND NOT EXISTS (
		SELECT 1 FROM pg_index i
		 WHERE i.indrelid = k.conrelid
		   AND (i.indkey::int2[])[0:array_length(k.conkey, 1) - 1] @> k.conkey
		   AND (i.indkey::int2[])[0:array_length(k.conkey, 1) - 1] <@ k.conkey)$$,
	'every crm foreign key is indexed');

-- pg_dump keeps the rows of every table and the state of every sequence of the extension
SELECT is_empty($$
	SELECT c.oid::regclass::text FROM pg_class c
	  JOIN pg_depend d ON d.objid = c.oid AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'crm'
	 WHERE c.relkind IN ('r', 'S') AND NOT c.oid = ANY (e.extconfig)$$,
	'every crm table and sequence is registered with pg_extension_config_dump');

-- the extension is not relocatable and lives in crm
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'crm'), false, 'crm is not relocatable');
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'crm'), 'crm', 'crm lives in schema crm');

-- function labels
SELECT volatility_is('crm', 'client_card', ARRAY['bigint', 'integer'], 'stable', 'client_card is STABLE');
SELECT isnt_strict('crm', 'client_card', ARRAY['bigint', 'integer'], 'client_card is not STRICT: a NULL argument is an error (test/pgtap/contract.sql)');
SELECT volatility_is('crm', 'can_contact', ARRAY['bigint', 'text', 'timestamp with time zone'], 'stable', 'can_contact is STABLE');
SELECT volatility_is('crm', 'category_subtree', ARRAY['integer'], 'stable', 'category_subtree is STABLE');
SELECT is((SELECT proparallel::text FROM pg_proc WHERE oid = 'crm.client_card(bigint, integer)'::regprocedure),
		  's', 'client_card is PARALLEL SAFE');

-- every plpgsql and sql function of the extension pins its search_path
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	 WHERE p.pronamespace = 'crm'::regnamespace AND l.lanname IN ('plpgsql', 'sql')
	   AND NOT coalesce(p.proconfig::text[] && ARRAY['search_path=pg_catalog, crm, pg_temp'], false)$$,
	'every SQL and PL/pgSQL function of crm sets search_path = pg_catalog, crm, pg_temp');

-- no public function of crm is SECURITY DEFINER without a pinned search_path
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace AND p.prosecdef
	   AND NOT coalesce(p.proconfig::text[] && ARRAY['search_path=pg_catalog, crm, pg_temp'], false)$$,
	'every SECURITY DEFINER function of crm pins search_path');

-- every table, view and function of the extension has a comment
SELECT is_empty($$
	SELECT c.oid::regclass::text FROM pg_class c
	 WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'v', 'm')
	   AND obj_description(c.oid, 'pg_class') IS NULL$$,
	'every crm table and view has a COMMENT');
SELECT is_empty($$
	SELECT p.oid::regprocedure::text FROM pg_proc p
	 WHERE p.pronamespace = 'crm'::regnamespace
	   AND obj_description(p.oid, 'pg_proc') IS NULL$$,
	'every crm function has a COMMENT');

SELECT * FROM finish();
ROLLBACK;
