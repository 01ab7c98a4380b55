--
-- test/citus/table_rows.sql: every row of every table of crm, as text, one
-- line each ("row-<table> <row>"), sorted, for test/citus/same_answers.sh.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 3;
SET client_min_messages = error;	-- Citus: "created only locally"
CREATE FUNCTION pg_temp.table_rows(rel regclass) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format('SELECT t::text FROM %s t ORDER BY t::text', rel);
END $$;
-- crm.pricing_version counts the statements that wrote the discount rules
-- (crm.price_cart's cache on one node; on a cluster nothing counts them):
-- its row is there, its number is not compared.  The profile store and
-- its state are a cache of the orders and interactions that a cluster does
-- not keep (its log's triggers do not run on the shards, docs/profiles.md):
-- not compared; the analytics that read it are, on both
SELECT 'row-' || c.relname || ' ' ||
	   CASE WHEN c.relname = 'pricing_version' THEN '(the version is not compared)' ELSE r END
  FROM pg_class c, LATERAL pg_temp.table_rows(c.oid) r
 WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
   AND c.relname NOT IN ('profile_store', 'profile_store_state')
 ORDER BY c.relname;
