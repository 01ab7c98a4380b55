--
-- crm.distribute(): what it refuses, what it makes of every table, that a
-- second call changes nothing, and the keys and guards that hold on the
-- cluster as on one node.
--
SET client_min_messages = warning;
CREATE EXTENSION crm;
CREATE EXTENSION crm_demo;
SELECT count(*) > 0 AS loaded FROM crm.generate_demo_data(200, 3, '2025-01-01');
INSERT INTO crm.loyalty_programs (code, name, points_per_unit) VALUES ('club', 'Club', 1);
SELECT count(crm.earn_points(g, 'club', 100, 'seed-' || g)) FROM generate_series(1, 5) g;

CREATE FUNCTION public.expect_error(label text, stmt text, state text, message text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'FAIL ' || label || ': no error';
EXCEPTION WHEN others THEN
	IF SQLSTATE = state AND SQLERRM LIKE message THEN
		RETURN 'ok ' || label || ': ' || SQLSTATE || ' ' || SQLERRM;
	END IF;
	RETURN 'FAIL ' || label || ': ' || SQLSTATE || ' ' || SQLERRM;
END $$;

-- the call, then every table as the plan says, then a second call
CREATE TEMP TABLE triggers_before AS
SELECT tgrelid::regclass::text AS rel, tgname, tgenabled FROM pg_trigger
 WHERE tgrelid IN (SELECT table_name FROM crm.distribution_plan()) AND NOT tgisinternal;
CREATE TEMP TABLE first_call AS SELECT * FROM crm.distribute(shard_count => 8);
SELECT CASE WHEN count(*) = (SELECT count(*) FROM crm.distribution_plan())
				 AND count(*) FILTER (WHERE action = 'already') = 0
				 AND sum(rows_moved) FILTER (WHERE table_name = 'crm.clients'::regclass) = 200
			THEN 'ok first call: ' || count(*) || ' tables, ' || sum(rows_moved) || ' rows moved'
			ELSE 'FAIL first call: ' || string_agg(table_name || ' ' || action, ', ') END
  FROM first_call;
SELECT CASE WHEN count(*) = 0 THEN 'ok every table of crm and crm_demo is distributed by client_id with crm.clients, or a reference table'
			ELSE 'FAIL not as planned: ' || string_agg(p.table_name::text, ', ') END
  FROM crm.distribution_plan() p
  LEFT JOIN pg_dist_partition d ON d.logicalrelid = p.table_name
 WHERE NOT coalesce(
		(p.kind = 'distributed' AND d.partmethod = 'h'
		 AND column_to_column_name(d.logicalrelid, d.partkey) = 'client_id'
		 AND d.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'crm.clients'::regclass))
		OR (p.kind = 'reference' AND d.partmethod = 'n' AND d.repmodel = 't'), false);
SELECT CASE WHEN count(*) = 0 THEN 'ok no table in schema crm outside the plan'
			ELSE 'FAIL tables outside the plan: ' || string_agg(c.oid::regclass::text, ', ') END
  FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
   AND c.oid NOT IN (SELECT table_name FROM crm.distribution_plan());
SELECT CASE WHEN (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'crm.orders'::regclass) = 8
			THEN 'ok shard_count 8: crm.orders has 8 shards'
			ELSE 'FAIL crm.orders has ' || (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'crm.orders'::regclass) || ' shards' END;
SELECT CASE WHEN count(*) FILTER (WHERE action <> 'already' OR rows_moved <> 0) = 0
			THEN 'ok second call: every table already done, nothing moved'
			ELSE 'FAIL second call: ' || string_agg(table_name || ' ' || action, ', ') END
  FROM crm.distribute();
SELECT CASE WHEN count(*) = 0 THEN 'ok the manager policies have no subquery'
			ELSE 'FAIL subquery in ' || string_agg(tablename, ', ') END
  FROM pg_policies WHERE schemaname = 'crm' AND (qual ~ 'SELECT' OR with_check ~ 'SELECT');
-- (but the category tree's: its trigger gives way to a real key on the cluster)
SELECT CASE WHEN count(*) = 0 THEN 'ok every trigger is there and enabled as it was (' || (SELECT count(*) FROM triggers_before) || '), but the category tree''s'
			ELSE 'FAIL triggers: ' || string_agg(coalesce(b.rel || '.' || b.tgname, a.rel || '.' || a.tgname), ', ') END
  FROM (SELECT * FROM triggers_before WHERE tgname <> 'categories_parent_exists') b
  FULL JOIN (SELECT tgrelid::regclass::text AS rel, tgname, tgenabled FROM pg_trigger
			  WHERE tgrelid IN (SELECT table_name FROM crm.distribution_plan()) AND NOT tgisinternal
				AND tgname NOT IN ('clients_keep_discount_rules', 'categories_parent_exists')) a
	ON a.rel = b.rel AND a.tgname = b.tgname AND a.tgenabled = b.tgenabled
 WHERE a.tgname IS NULL OR b.tgname IS NULL;
SELECT CASE WHEN (SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'crm.categories'::regclass
					AND tgname = 'categories_parent_exists') = 'D'
			 AND EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'crm.categories'::regclass
						  AND conname = 'categories_parent_fkey' AND contype = 'f')
			THEN 'ok the category tree is kept by its foreign key on the cluster, its trigger off'
			ELSE 'FAIL the category tree''s key or trigger' END;

-- the keys and guards, on the cluster
INSERT INTO crm.clients (client_id, first_name) VALUES (100001, 'Rule holder');
INSERT INTO crm.discount_rules (code, name, action, value, client_id) VALUES ('c100001', 'for one', 'percent', 5, 100001);
SELECT public.expect_error('a rule for a client that does not exist',
	$$INSERT INTO crm.discount_rules (code, name, action, value, client_id) VALUES ('nobody', 'x', 'percent', 5, 987654)$$,
	'23503', 'discount rule "nobody": client_id 987654 does not exist');
SELECT public.expect_error('deleting a client with a rule of its own', 'DELETE FROM crm.clients WHERE client_id = 100001',
	'23503', 'update or delete on table "clients" violates foreign key constraint "discount_rules_client_fkey"%');
SELECT public.expect_error('an order for a client that does not exist',
	$$INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount) VALUES (987654, now(), 'web', 'paid', 1, 1)$$,
	'23503', '%orders_client_fkey%');
SELECT public.expect_error('TRUNCATE of the ledger', 'TRUNCATE crm.loyalty_ledger', '42501',
	'crm.loyalty_ledger is append-only: TRUNCATE is not allowed');
SELECT public.expect_error('DELETE from the ledger', 'DELETE FROM crm.loyalty_ledger WHERE client_id = 1', '42501',
	'crm.loyalty_ledger is append-only: DELETE is not allowed');
SELECT public.expect_error('TRUNCATE of the accounts', 'TRUNCATE crm.loyalty_accounts CASCADE', '23503',
	'crm.loyalty_accounts cannot be truncated: the ledger has entries');
SELECT public.expect_error('changing a shipped segment map', $$UPDATE crm.segment_map_rules SET segment = 'x' WHERE map_name = 'rfm11'$$,
	'23514', 'segment map "rfm11" is shipped with crm and cannot be changed');
SELECT public.expect_error('a category cycle',
	'UPDATE crm.categories SET parent_id = (SELECT min(category_id) FROM crm.categories WHERE parent_id = 1) WHERE category_id = 1',
	'23514', 'category 1 cannot have parent %: that would make a cycle');
SELECT public.expect_error('a category whose parent does not exist',
	'INSERT INTO crm.categories (category_id, parent_id, name) VALUES (990001, 990002, ''orphan'')',
	'23503', '%categories_parent_fkey%');
SELECT CASE WHEN sum(points) = 500 THEN 'ok the ledger kept its 500 points' ELSE 'FAIL the ledger has ' || sum(points) END
  FROM crm.loyalty_ledger;

-- a table-reading function of crm per row of a query over a distributed
-- table: crm's own error, naming the function and the way round it
SELECT public.expect_error('can_contact per row of crm.clients',
	$$SELECT count(*) FROM crm.clients c WHERE crm.can_contact(c.client_id, 'email')$$,
	'0A000', 'crm.can_contact cannot run inside a query that Citus sends to the shards');
SELECT public.expect_error('points_balance per row of crm.loyalty_accounts',
	$$SELECT sum(crm.points_balance(a.client_id, 'club')) FROM crm.loyalty_accounts a$$,
	'0A000', 'crm.points_balance cannot run inside a query that Citus sends to the shards');
SELECT public.expect_error('earn_points per row of crm.clients',
	$$SELECT count(crm.earn_points(c.client_id, 'club', 1, 'per-row-' || c.client_id)) FROM crm.clients c$$,
	'0A000', 'crm.earn_points cannot run inside a query that Citus sends to the shards');
SELECT CASE WHEN n = 5 THEN 'ok the same calls over rows read first: ' || n || ' balances'
			ELSE 'FAIL over rows read first: ' || n END
  FROM (WITH a AS MATERIALIZED (SELECT client_id FROM crm.loyalty_accounts ORDER BY client_id)
		SELECT count(crm.points_balance(a.client_id, 'club')) AS n FROM a) x;
SELECT public.expect_error('price_cart (C) per row of crm.clients',
	$$SELECT count(crm.price_cart(c.client_id, '{"lines": [{"product_id": 1, "quantity": 1, "price_list_id": 1}]}')) FROM crm.clients c$$,
	'0A000', 'crm.price_cart cannot run inside a query that Citus sends to the shards');
SELECT CASE WHEN crm.price_cart(5, '{"lines": [{"product_id": 1, "quantity": 1, "price_list_id": 1}]}', '2025-01-01') IS NOT NULL
			THEN 'ok crm.price_cart called from the coordinator'
			ELSE 'FAIL crm.price_cart gave NULL' END;
