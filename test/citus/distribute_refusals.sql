--
-- crm.distribute() refuses, with a clear error and nothing changed: a role
-- that does not own crm's tables, a bad shard count, a table that Citus
-- already has in another form (the last: such a table cannot be undone
-- here, an extension's table cannot be undistributed).
--
SET client_min_messages = warning;
CREATE EXTENSION crm;
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

-- refusals, each leaving nothing distributed
SELECT 'CREATE ROLE crm_test_not_owner LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crm_test_not_owner') \gexec
GRANT USAGE ON SCHEMA crm TO crm_test_not_owner;
GRANT EXECUTE ON FUNCTION crm.distribute(integer) TO crm_test_not_owner;
SET ROLE crm_test_not_owner;
SELECT public.expect_error('another role', 'SELECT * FROM crm.distribute()', '42501',
						   'crm.distribute must be run by the owner of crm''s tables (%)');
RESET ROLE;
SELECT public.expect_error('shard_count 0', 'SELECT * FROM crm.distribute(0)', '22023',
						   'shard_count 0 is out of range: 1 to 64000');
SELECT create_distributed_table('crm.segment_refreshes', 'as_of');
SELECT public.expect_error('a table Citus has in another form', 'SELECT * FROM crm.distribute()', '55000',
						   'table crm.segment_refreshes is already managed by Citus, but not as crm.distribute makes it (a reference table)');
SELECT CASE WHEN count(*) = 0 THEN 'ok the refusals distributed nothing'
			ELSE 'FAIL ' || string_agg(logicalrelid::text, ', ') || ' managed by Citus after the refusals' END
  FROM pg_dist_partition WHERE logicalrelid::text LIKE 'crm.%' AND logicalrelid <> 'crm.segment_refreshes'::regclass;
