
/*
 * The row of crm.rfm_scores and of its SQL twin crm.rfm_scores_sql: one
 * type, so that the two cannot drift apart (the C function finds each
 * column in it by name and type).
 */
CREATE TYPE crm.rfm_scores_row AS (
	client_id		bigint,
	recency_days	integer,
	frequency		bigint,
	monetary		numeric,
	rfm				crm.rfm,
	segment			text
);
COMMENT ON TYPE crm.rfm_scores_row IS 'a row of crm.rfm_scores (and of crm.rfm_scores_sql): a client''s recency, frequency, monetary value, RFM code and segment';

/*
 * RFM of every client with a purchase in crm.orders at or before as_of:
 * recency = whole days since the last purchase, frequency = purchases,
 * monetary = total net_amount; quantile scores over these clients with
 * ties kept together; segment from the map.  The purchases must all be in
 * one currency (crm.one_currency).
 *
 * crm.rfm_scores_sql is the definition of the result in SQL.  crm.rfm_scores (C,
 * src/rfm_scores.c) returns the same rows from its own pass over crm.orders,
 * and runs this function instead where that pass does not read what a query
 * would (row security, privileges, inheritance, a changed table).
 */
CREATE FUNCTION crm.rfm_scores_sql(as_of timestamptz, map_name text DEFAULT 'rfm11',
								   monetary_by text DEFAULT 'total')
RETURNS SETOF crm.rfm_scores_row
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
	by_mean		boolean;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF monetary_by IS NULL THEN
		RAISE EXCEPTION 'monetary_by must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF monetary_by NOT IN ('total', 'mean') THEN
		RAISE EXCEPTION 'monetary_by must be total or mean, not "%"', monetary_by
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* here, not inside the query (where recency would fail, and only with purchases) */
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	by_mean := monetary_by = 'mean';
	/* the map's errors here, before the query (not inside it) */
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = rfm_scores_sql.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	IF EXISTS (SELECT 1 FROM crm.segment_map_problems(rfm_scores_sql.map_name)) THEN
		RAISE EXCEPTION 'segment map "%" is not a partition of its score cells', map_name
			USING ERRCODE = 'check_violation',
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', map_name);
	END IF;
	/*
	 * One pass over the purchases (the profile aggregate, computed once
	 * per client: the three field selections share it), one pass over the
	 * clients for the breakpoints, one to score them.
	 */
	RETURN QUERY
	WITH p AS (
		SELECT o.client_id,
			   crm.recency_days((crm.purchase_profile(o.ordered_at, o.net_amount)).last_purchase,
								as_of) AS r,
			   (crm.purchase_profile(o.ordered_at, o.net_amount)).purchases AS f,
			   CASE WHEN by_mean
					THEN round((crm.purchase_profile(o.ordered_at, o.net_amount)).total_spend
							   / (crm.purchase_profile(o.ordered_at, o.net_amount)).purchases, 2)
					ELSE (crm.purchase_profile(o.ordered_at, o.net_amount)).total_spend END AS m,
			   crm.one_currency(o.currency) AS cur
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at <= as_of
		 GROUP BY o.client_id),
	v AS MATERIALIZED (
		SELECT p.client_id, p.r, p.f, p.m, p.m::float8 AS mf, p.cur FROM p),
	/* MATERIALIZED: computed whole, the currency check included */
	b AS MATERIALIZED (
		SELECT crm.quantile_breaks(v.r, k, false) AS rb,
			   crm.quantile_breaks(v.f, k, true) AS fb,
			   crm.quantile_breaks(v.mf, k, true) AS mb,
			   crm.one_currency(v.cur) AS cur
		  FROM v)
	SELECT v.client_id, v.r, v.f, v.m, s.code, c.segment
	  FROM v
	 CROSS JOIN b
	 CROSS JOIN LATERAL (
		SELECT crm.rfm(crm.threshold_score(v.r, b.rb, false),
					   crm.threshold_score(v.f, b.fb, true),
					   crm.threshold_score(v.mf, b.mb, true)) AS code) s
	  LEFT JOIN crm.segment_map_cells(rfm_scores_sql.map_name) c ON c.rfm = s.code;
END
$$;
COMMENT ON FUNCTION crm.rfm_scores_sql(timestamptz, text, text) IS 'crm.rfm_scores written in SQL: the same rows, planned as a query (parallel workers, row security); crm.rfm_scores runs it where its own pass does not apply';

CREATE FUNCTION crm.rfm_scores(as_of timestamptz, map_name text DEFAULT 'rfm11',
							   monetary_by text DEFAULT 'total')
RETURNS SETOF crm.rfm_scores_row
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_scores';
COMMENT ON FUNCTION crm.rfm_scores(timestamptz, text, text) IS 'recency (days), frequency, monetary (total, or mean order value rounded to cents), RFM quantile scores and segment of every client with a purchase (placed or paid) at or before as_of; an error (0A000) when the purchases are in more than one currency';
