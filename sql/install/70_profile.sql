/*
 * The per-client purchase profile: one pass over a client's purchases, in
 * any order, in C (src/profile.c).  RFM scoring, churn signals and CLV
 * models read it.
 */

CREATE TYPE crm.purchase_profile AS (
	first_purchase		timestamptz,
	last_purchase		timestamptz,
	purchases			bigint,
	repeat_purchases	bigint,
	span_days			double precision,
	total_spend			numeric,
	mean_spend			double precision,
	repeat_mean_spend	double precision,
	mean_gap_days		double precision,
	last_gap_days		double precision,
	recent_mean_gap_days double precision,
	gap_sd_days			double precision,
	gap_window			integer,
	offer_purchases		bigint,
	offer_share			double precision,
	month_purchases		integer[],
	peak_quarter_share	double precision
);
COMMENT ON TYPE crm.purchase_profile IS 'a client''s purchase profile, the result of the aggregate crm.purchase_profile: see docs/rfm.md for each field';

CREATE FUNCTION crm.purchase_profile_transfn(internal, timestamptz, numeric)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_transfn(internal, timestamptz, numeric) IS 'transition function of crm.purchase_profile(timestamptz, numeric)';

CREATE FUNCTION crm.purchase_profile_transfn(internal, timestamptz, numeric, boolean)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_transfn(internal, timestamptz, numeric, boolean) IS 'transition function of crm.purchase_profile(timestamptz, numeric, boolean)';

CREATE FUNCTION crm.purchase_profile_combinefn(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_combinefn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_combinefn(internal, internal) IS 'combine function of crm.purchase_profile: exact, whatever the split of the rows';

CREATE FUNCTION crm.purchase_profile_serialfn(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'profile_serialfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_serialfn(internal) IS 'serialisation function of crm.purchase_profile';

CREATE FUNCTION crm.purchase_profile_deserialfn(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_deserialfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_deserialfn(bytea, internal) IS 'deserialisation function of crm.purchase_profile: validates the bytes';

CREATE FUNCTION crm.purchase_profile_finalfn(internal)
RETURNS crm.purchase_profile
AS 'MODULE_PATHNAME', 'profile_finalfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_finalfn(internal) IS 'final function of crm.purchase_profile (read-only)';

CREATE AGGREGATE crm.purchase_profile(purchased_at timestamptz, amount numeric) (
	SFUNC = crm.purchase_profile_transfn,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = crm.purchase_profile_finalfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.purchase_profile_combinefn,
	SERIALFUNC = crm.purchase_profile_serialfn,
	DESERIALFUNC = crm.purchase_profile_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.purchase_profile(timestamptz, numeric) IS 'per-client purchase profile of (purchase time, amount) rows, no offer information (offer_share 0)';

CREATE AGGREGATE crm.purchase_profile(purchased_at timestamptz, amount numeric, offer boolean) (
	SFUNC = crm.purchase_profile_transfn,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = crm.purchase_profile_finalfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.purchase_profile_combinefn,
	SERIALFUNC = crm.purchase_profile_serialfn,
	DESERIALFUNC = crm.purchase_profile_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.purchase_profile(timestamptz, numeric, boolean) IS 'per-client purchase profile of (purchase time, amount, offer used) rows: first and last purchase, counts, spend, inter-purchase gaps, offer share';

/*
 * The state of crm.purchase_profile as bytes (the format of its
 * serialisation function), and the profile of such bytes: what
 * crm.churn_signals gathers per client from the shards of a Citus cluster
 * and reads back in C (profile_state_read checks every invariant of the
 * bytes it is given).
 */
CREATE AGGREGATE crm.purchase_profile_state(purchased_at timestamptz, amount numeric, offer boolean) (
	SFUNC = crm.purchase_profile_transfn,
	STYPE = internal,
	SSPACE = 256,
	FINALFUNC = crm.purchase_profile_serialfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.purchase_profile_combinefn,
	SERIALFUNC = crm.purchase_profile_serialfn,
	DESERIALFUNC = crm.purchase_profile_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.purchase_profile_state(timestamptz, numeric, boolean) IS 'the state of crm.purchase_profile(purchased_at, amount, offer) as bytes, to be combined elsewhere (crm.churn_signals on a Citus cluster gathers one per client from the shards)';

/*
 * The same state with two windows: the purchases after recent_from, and
 * those after previous_from up to recent_from (count, spend), accumulated
 * in the same pass: what crm.churn_signals gathers per client from the
 * shards of a Citus cluster.
 */
CREATE FUNCTION crm.purchase_profile_windows_transfn(internal, timestamptz, numeric, boolean, timestamptz, timestamptz)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_windows_transfn(internal, timestamptz, numeric, boolean, timestamptz, timestamptz) IS 'transition function of crm.purchase_profile_state(timestamptz, numeric, boolean, timestamptz, timestamptz)';

CREATE FUNCTION crm.purchase_profile_windows_combinefn(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_windows_combinefn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_windows_combinefn(internal, internal) IS 'combine function of crm.purchase_profile_state with windows: exact, whatever the split of the rows';

CREATE FUNCTION crm.purchase_profile_windows_serialfn(internal)
RETURNS bytea
AS 'MODULE_PATHNAME', 'profile_windows_serialfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_windows_serialfn(internal) IS 'serialisation (and final) function of crm.purchase_profile_state with windows';

CREATE FUNCTION crm.purchase_profile_windows_deserialfn(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME', 'profile_windows_deserialfn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_windows_deserialfn(bytea, internal) IS 'deserialisation function of crm.purchase_profile_state with windows: validates the bytes';

CREATE AGGREGATE crm.purchase_profile_state(purchased_at timestamptz, amount numeric, offer boolean,
											 recent_from timestamptz, previous_from timestamptz) (
	SFUNC = crm.purchase_profile_windows_transfn,
	STYPE = internal,
	SSPACE = 320,
	FINALFUNC = crm.purchase_profile_windows_serialfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.purchase_profile_windows_combinefn,
	SERIALFUNC = crm.purchase_profile_windows_serialfn,
	DESERIALFUNC = crm.purchase_profile_windows_deserialfn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.purchase_profile_state(timestamptz, numeric, boolean, timestamptz, timestamptz) IS 'the state of crm.purchase_profile(purchased_at, amount, offer) as bytes, followed by the purchases and spend after recent_from and in (previous_from, recent_from] (crm.churn_signals on a Citus cluster gathers one per client from the shards)';

CREATE FUNCTION crm.purchase_profile_from_state(state bytea)
RETURNS crm.purchase_profile
AS 'MODULE_PATHNAME', 'profile_from_state'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_from_state(bytea) IS 'the purchase profile of a state made by crm.purchase_profile_state (with or without windows); an error (22P03) when the bytes are not such a state';

CREATE FUNCTION crm.purchase_profile_state_size()
RETURNS integer
AS 'MODULE_PATHNAME', 'profile_state_size'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.purchase_profile_state_size() IS 'size in bytes of the per-client state of crm.purchase_profile';

/* The profile of every client with a purchase in crm.orders up to as_of. */
CREATE FUNCTION crm.client_profiles(as_of timestamptz)
RETURNS TABLE (client_id bigint, profile crm.purchase_profile)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	RETURN QUERY
	SELECT o.client_id, crm.purchase_profile(o.ordered_at, o.net_amount, o.promo_used)
	  FROM crm.orders o
	 WHERE o.status IN ('placed', 'paid')
	   AND o.ordered_at <= as_of
	 GROUP BY o.client_id
	HAVING crm.one_currency(o.currency) IS NOT NULL;	-- one currency per client
END
$$;
COMMENT ON FUNCTION crm.client_profiles(timestamptz) IS 'purchase profile of every client with a purchase (status placed or paid, value net_amount) at or before as_of; an error (0A000) when a client''s purchases are in more than one currency';

CREATE FUNCTION crm.recency_days(last_purchase timestamptz, as_of timestamptz)
RETURNS integer
AS 'MODULE_PATHNAME', 'profile_recency_days'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.recency_days(timestamptz, timestamptz) IS 'whole days from the last purchase to as_of, rounded down';
