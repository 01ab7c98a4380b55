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

/*
 * How far in the future a time written to crm may lie: now (the clock)
 * plus the setting crm.future_tolerance (default 1h; src/future.c).
 * Orders and interactions dated later are refused by the trigger
 * crm.refuse_future_row(), but for scheduled interactions; the jobs that
 * write for a date refuse a later one unless called with
 * allow_future => true (crm.refuse_future), since what they write
 * (expiries, segment changes, tier moves) is not undone by running them
 * again for the right date.
 */
CREATE FUNCTION crm.future_tolerance()
RETURNS interval
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crm_future_tolerance';
COMMENT ON FUNCTION crm.future_tolerance() IS 'the setting crm.future_tolerance as an interval: how far past now a time written to crm may lie';

CREATE FUNCTION crm.refuse_future_row() RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'crm_refuse_future_row';
COMMENT ON FUNCTION crm.refuse_future_row() IS 'trigger (table name, timestamptz column[, column, value that exempts the row]): refuses a row dated beyond now plus crm.future_tolerance (22023)';

CREATE FUNCTION crm.refuse_future(function_name text, argument text, value timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	v_limit		timestamptz := pg_catalog.clock_timestamp() + crm.future_tolerance();
BEGIN
	IF value > v_limit THEN
		RAISE EXCEPTION '% % is in the future', argument, value
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = format('%s writes for a time at most crm.future_tolerance (%s) past now, %s: what it writes for a later time is not undone by running it again.',
								  function_name, current_setting('crm.future_tolerance'), v_limit),
				  HINT = format('To run %s for a later time on purpose, pass allow_future => true.',
								function_name);
	END IF;
END
$$;
COMMENT ON FUNCTION crm.refuse_future(text, text, timestamptz) IS 'internal: the error (22023) of a job that writes for a date called for a time beyond now plus crm.future_tolerance';
