-- Helpers of the edges_* tests, which walk the table of docs/inputs.md.
--
-- v(stmt): runs one statement and returns its first column of its first
-- row as text ('NULL' for a null, 'no rows' when there is none), or
-- 'SQLSTATE: message' when it fails.
CREATE FUNCTION pg_temp.v(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	r			text;
	n			bigint;
BEGIN
	EXECUTE stmt INTO r;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n = 0 THEN
		RETURN 'no rows';
	END IF;
	RETURN coalesce(r, 'NULL');
EXCEPTION WHEN others THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- digest(): a hash of every row of every table of the schema crm, per table
-- (its queries need no parallel workers, also under debug_parallel_query)
CREATE FUNCTION pg_temp.digest() RETURNS jsonb
LANGUAGE plpgsql SET max_parallel_workers_per_gather = 0 AS $$
DECLARE
	t			record;
	h			text;
	d			jsonb := '{}';
BEGIN
	FOR t IN SELECT c.relname FROM pg_class c
			  WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
			  ORDER BY c.relname
	LOOP
		EXECUTE format('SELECT md5(coalesce(string_agg(x::text, %L ORDER BY x::text), %L)) FROM crm.%I x',
					   E'\n', '', t.relname)
		   INTO h;
		d := d || jsonb_build_object(t.relname, h);
	END LOOP;
	RETURN d;
END
$$;

-- w(stmt): v(stmt) for a function that may write, followed by the tables
-- of crm whose rows it changed: '[wrote nothing]' or '[wrote t1, t2]'
CREATE FUNCTION pg_temp.w(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	before		jsonb := pg_temp.digest();
	r			text;
	changed		text;
BEGIN
	r := pg_temp.v(stmt);
	SELECT string_agg(a.key, ', ' ORDER BY a.key) INTO changed
	  FROM jsonb_each_text(pg_temp.digest()) a
	 WHERE a.value IS DISTINCT FROM before ->> a.key;
	RETURN r || coalesce(' [wrote ' || changed || ']', ' [wrote nothing]');
END
$$;

-- rows(): how many rows each table of crm that holds any has
CREATE FUNCTION pg_temp.rows() RETURNS text
LANGUAGE plpgsql SET max_parallel_workers_per_gather = 0 AS $$
DECLARE
	t			record;
	n			bigint;
	s			text := '';
BEGIN
	FOR t IN SELECT c.relname FROM pg_class c
			  WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
			  ORDER BY c.relname
	LOOP
		EXECUTE format('SELECT count(*) FROM crm.%I', t.relname) INTO n;
		IF n > 0 AND t.relname NOT IN ('segment_maps', 'segment_map_rules', 'behaviour_classes') THEN
			s := s || CASE WHEN s = '' THEN '' ELSE ', ' END || t.relname || ' ' || n;
		END IF;
	END LOOP;
	RETURN CASE WHEN s = '' THEN 'none' ELSE s END;
END
$$;

-- the sequences of crm before the test, to show they are unchanged after it
CREATE TEMP TABLE edges_sequences AS
	SELECT s.schemaname, s.sequencename, s.last_value FROM pg_sequences s
	 WHERE s.schemaname = 'crm';

-- empty_crm(): empties every table of crm but the shipped segment maps and
-- behavioural classes, restarting their identities; called inside the
-- test's transaction, which is rolled back (sequences included: the
-- restart of a sequence is undone with the transaction, and so is every
-- nextval after it)
CREATE FUNCTION pg_temp.empty_crm() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE (SELECT 'TRUNCATE ' || string_agg(format('crm.%I', c.relname), ', ' ORDER BY c.relname)
					|| ' RESTART IDENTITY CASCADE'
			   FROM pg_class c
			  WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
				AND c.relname NOT IN ('segment_maps', 'segment_map_rules', 'behaviour_classes'));
END
$$;

-- sequences_unchanged(): whether every sequence of crm is where it was
CREATE FUNCTION pg_temp.sequences_unchanged() RETURNS boolean
LANGUAGE sql AS $$
	SELECT NOT EXISTS (
		SELECT s.sequencename, s.last_value FROM pg_sequences s WHERE s.schemaname = 'crm'
		EXCEPT
		SELECT e.sequencename, e.last_value FROM edges_sequences e)
$$;
