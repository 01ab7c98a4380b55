-- Every table of crm (and of crm_demo) is one that crm.distribute() can
-- hand to Citus: keyed by client and co-locatable, or a reference table;
-- the distribution without Citus is a clear error; the manager policy a
-- cluster uses (crm.owns_client) sees what the one-node policy sees.
BEGIN;
SELECT plan(16);
SET LOCAL client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crm_demo;
RESET client_min_messages;

SELECT is((SELECT count(*) FROM crm.distribution_plan()),
		  (SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')),
		  'every table of schema crm is in crm.distribution_plan()');
SELECT is_empty($$SELECT table_name FROM crm.distribution_plan() WHERE kind NOT IN ('distributed', 'reference')$$,
				'each table is distributed or reference');
SELECT is((SELECT table_name FROM crm.distribution_plan() WHERE colocate_with IS NULL AND kind = 'distributed'),
		  'crm.clients'::regclass, 'crm.clients anchors the co-location of the client-keyed tables');
SELECT is_empty($$SELECT table_name FROM crm.distribution_plan() WHERE kind = 'distributed'
					AND colocate_with IS DISTINCT FROM 'crm.clients'::regclass AND table_name <> 'crm.clients'::regclass$$,
				'every other client-keyed table is co-located with crm.clients');
-- Citus: a unique index of a distributed table includes the distribution column
SELECT is_empty($$SELECT p.table_name, i.indexrelid::regclass
					FROM crm.distribution_plan() p JOIN pg_index i ON i.indrelid = p.table_name
				   WHERE p.kind = 'distributed' AND i.indisunique
					 AND NOT (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = p.table_name
								AND a.attname = 'client_id') = ANY (i.indkey::int2[])$$,
				'every unique index of a client-keyed table includes client_id');
-- Citus: a foreign key between distributed tables joins on the distribution column
SELECT is_empty($$SELECT c.conname FROM pg_constraint c
					JOIN crm.distribution_plan() a ON a.table_name = c.conrelid AND a.kind = 'distributed'
					JOIN crm.distribution_plan() b ON b.table_name = c.confrelid AND b.kind = 'distributed'
				   WHERE c.contype = 'f'
					 AND NOT ((SELECT attnum FROM pg_attribute WHERE attrelid = c.conrelid AND attname = 'client_id') = ANY (c.conkey)
							  AND (SELECT attnum FROM pg_attribute WHERE attrelid = c.confrelid AND attname = 'client_id') = ANY (c.confkey))$$,
				'every foreign key between client-keyed tables includes client_id on both sides');
-- Citus has no foreign key from a reference table to a distributed one: the
-- one crm has is checked by the rule's trigger on a cluster
SELECT set_eq($$SELECT c.conname::text FROM pg_constraint c
				  JOIN crm.distribution_plan() a ON a.table_name = c.conrelid AND a.kind = 'reference'
				  JOIN crm.distribution_plan() b ON b.table_name = c.confrelid AND b.kind = 'distributed'
				 WHERE c.contype = 'f'$$,
			  ARRAY['discount_rules_client_fkey'],
			  'the only foreign key from a reference table to a client-keyed one is discount_rules_client_fkey');
SELECT throws_ok($$INSERT INTO crm.discount_rules (code, name, action, value, client_id)
				   VALUES ('no-such-client', 'x', 'percent', 5, 987654321)$$,
				 '23503', 'discount rule "no-such-client": client_id 987654321 does not exist',
				 'the trigger checks the client of a rule (what stands in for the key on a cluster)');

-- crm.purchase_profile's state is internal, which Citus does not combine
-- across shards: crm builds profiles per client only, which Citus runs
-- whole on the shards (docs/scale-out.md)
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
				   WHERE p.pronamespace = 'crm'::regnamespace AND p.prokind <> 'a'
					 AND p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'c')
					 AND p.prosrc ~ 'purchase_profile\(' AND p.prosrc !~ 'GROUP BY o\.client_id'$$,
				'every function of crm that builds purchase profiles builds them per client');
SELECT throws_ok($$SELECT * FROM crm.distribute()$$, '55000',
				 format('crm.distribute needs Citus: the extension citus is not installed in database "%s"', current_database()),
				 'crm.distribute without Citus: a clear error');
SELECT ok(NOT crm.in_citus_task(), 'a session of its own is not a Citus task');
SET LOCAL application_name = 'citus_internal gpid=10000000001';
SELECT ok(NOT crm.in_citus_task(), 'nor one that takes a Citus name, in a database without Citus');
SELECT throws_ok($$DELETE FROM crm.segment_map_rules WHERE map_name = 'rfm11' AND rule_no = 1$$, '23514',
				 'segment map "rfm11" is shipped with crm and cannot be changed',
				 'the shipped maps stay read-only for a session with a Citus name');
RESET application_name;

-- crm.owns_client against the one-node policy, for two managers
SELECT lives_ok($$SELECT crm.generate_demo_data(200, 7, '2025-01-01')$$, 'demo data generated');
CREATE ROLE crm_tap_m1 IN ROLE crm_manager;
CREATE ROLE crm_tap_m2 IN ROLE crm_manager;
UPDATE crm.clients SET owner = 'crm_tap_m1' WHERE client_id % 7 = 1;
UPDATE crm.clients SET owner = 'crm_tap_m2' WHERE client_id % 7 = 2;
CREATE TEMP TABLE seen (manager text, t text, under_policy bigint, by_owns_client bigint);
GRANT INSERT ON seen TO crm_manager;
SET ROLE crm_tap_m1;
INSERT INTO seen SELECT 'm1', 'orders', (SELECT count(*) FROM crm.orders),
	   (SELECT count(*) FROM crm.orders WHERE crm.owns_client(client_id));
INSERT INTO seen SELECT 'm1', 'interactions', (SELECT count(*) FROM crm.interactions),
	   (SELECT count(*) FROM crm.interactions WHERE crm.owns_client(client_id));
RESET ROLE;
SET ROLE crm_tap_m2;
INSERT INTO seen SELECT 'm2', 'orders', (SELECT count(*) FROM crm.orders),
	   (SELECT count(*) FROM crm.orders WHERE crm.owns_client(client_id));
RESET ROLE;
SELECT is_empty($$SELECT * FROM seen WHERE under_policy <> by_owns_client OR under_policy = 0$$,
				'crm.owns_client lets each manager see exactly the rows of the one-node policy');
SELECT is((SELECT count(*) FROM crm.orders WHERE crm.owns_client(client_id)), 0::bigint,
		  'a role that owns no client owns no row');
SELECT * FROM finish();
ROLLBACK;
