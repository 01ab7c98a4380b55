-- pgTAP keeps its state in temporary tables owned by the session's user:
-- let the roles a test switches to (SET ROLE) write them too.  Include
-- right after plan().
DO $$
DECLARE
	r			regclass;
BEGIN
	FOR r IN SELECT c.oid FROM pg_class c WHERE c.relnamespace = pg_my_temp_schema() AND c.relkind IN ('r', 'S') LOOP
		EXECUTE format('GRANT ALL ON %s TO PUBLIC', r);
	END LOOP;
END
$$;
