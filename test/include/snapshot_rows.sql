--
-- test/include/snapshot_rows.sql: one line per fact of a database's crm
-- data, to compare two databases with diff: the extension's version,
-- every table of schema crm (row count and a digest of its rows in text
-- form, sorted), every sequence's position.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 3;
CREATE FUNCTION pg_temp.rows_digest(rel regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	d			text;
BEGIN
	EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(t::text, E''\n'' ORDER BY t::text)), ''-'') FROM %s t', rel)
	   INTO d;
	RETURN d;
END $$;
CREATE FUNCTION pg_temp.sequence_position(rel regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	d			text;
BEGIN
	EXECUTE format('SELECT last_value || '' called='' || is_called FROM %s', rel) INTO d;
	RETURN d;
END $$;
SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension WHERE extname = 'crm';
-- crm.pricing_version counts the statements that wrote the discount rules
-- and categories, to tell crm.price_cart's caches when to read them again:
-- its number is not data (a restore writes the rules again and counts on
-- from the new database's own 1), only that its one row is there
SELECT 'table ' || c.oid::regclass::text || ' ' ||
	   CASE WHEN c.relname = 'pricing_version'
			THEN split_part(pg_temp.rows_digest(c.oid), ' ', 1) || ' (the version is not compared)'
			ELSE pg_temp.rows_digest(c.oid) END
  FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY 1;
SELECT 'sequence ' || c.oid::regclass::text || ' ' || pg_temp.sequence_position(c.oid)
  FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'S'
 ORDER BY 1;
