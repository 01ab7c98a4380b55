/*
 * crm install script, version 0.3.0.
 *
 * Built by the Makefile from the parts in sql/install/, in name order.
 * Every object lives in the schema crm, which CREATE EXTENSION creates.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION crm" to load this file. \quit

COMMENT ON SCHEMA crm IS 'crm: customer model and analytics';

/*
 * Keeps updated_at true on every UPDATE of a row that has the column.
 */
CREATE FUNCTION crm.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	NEW.updated_at := pg_catalog.now();
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.touch_updated_at() IS 'trigger: sets updated_at to now() on UPDATE';
