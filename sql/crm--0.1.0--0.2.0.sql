/*
 * crm upgrade script, 0.1.0 to 0.2.0.
 *
 * Every change made to the install parts in sql/install/ since 0.1.0 is
 * repeated here, so that ALTER EXTENSION crm UPDATE gives the same catalog
 * as a fresh CREATE EXTENSION crm (test/scripts/upgrade_catalog.sh checks).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION crm UPDATE TO '0.2.0'" to load this file. \quit

-- edges: the inputs every public function refuses or accepts (docs/inputs.md)

CREATE OR REPLACE FUNCTION crm.clv_summary(as_of timestamptz, unit text DEFAULT 'day',
								time_zone text DEFAULT 'UTC')
RETURNS TABLE (client_id bigint, frequency float8, recency float8, t float8,
			   monetary float8, first_purchase date, last_purchase date,
			   orders bigint, revenue numeric, margin numeric)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8 := crm.clv_unit_days(unit);
	as_of_day	date := (as_of AT TIME ZONE time_zone)::date;
BEGIN
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH days AS (
		SELECT o.client_id, (o.ordered_at AT TIME ZONE time_zone)::date AS day,
			   sum(o.net_amount) AS value,
			   sum(o.net_amount - o.cost_amount) AS margin,
			   count(*) AS orders
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at <= as_of
		 GROUP BY 1, 2
	), ranked AS (
		SELECT d.*, first_value(d.value) OVER w AS first_value
		  FROM days d
		WINDOW w AS (PARTITION BY d.client_id ORDER BY d.day)
	)
	SELECT r.client_id,
		   (count(*) - 1)::float8,
		   (max(r.day) - min(r.day)) / unit_days,
		   (as_of_day - min(r.day)) / unit_days,
		   CASE WHEN count(*) > 1
				THEN ((sum(r.value) - min(r.first_value)) / (count(*) - 1))::float8
				ELSE 0 END,
		   min(r.day), max(r.day), sum(r.orders)::bigint, sum(r.value), sum(r.margin)
	  FROM ranked r
	 GROUP BY r.client_id;
END
$$;

CREATE OR REPLACE FUNCTION crm.ltv_cac(as_of timestamptz, horizon float8, unit text DEFAULT 'day',
							discount_rate float8 DEFAULT 0, period float8 DEFAULT 1,
							margin_rate float8 DEFAULT NULL, penalty float8 DEFAULT 0,
							time_zone text DEFAULT 'UTC')
RETURNS TABLE (acquisition_channel text, clients bigint, buyers bigint,
			   acquisition_cost numeric, cac numeric, historical_ltv numeric,
			   predicted_ltv numeric, ltv_cac_ratio numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL OR horizon IS NULL OR unit IS NULL OR discount_rate IS NULL
	   OR period IS NULL OR penalty IS NULL OR time_zone IS NULL THEN
		RAISE EXCEPTION 'arguments of ltv_cac other than margin_rate must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF margin_rate IS NOT NULL AND NOT (margin_rate BETWEEN -1 AND 1) THEN
		RAISE EXCEPTION 'margin rate % is not between -1 and 1', margin_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH r AS MATERIALIZED (
		SELECT * FROM crm.clv_report(as_of, horizon, unit, discount_rate, period,
									 penalty, time_zone)
	), rate AS (
		SELECT coalesce(margin_rate,
						(sum(r.historical_value) / nullif(sum(r.revenue), 0))::float8,
						0) AS m
		  FROM r
	), c AS (
		SELECT cl.acquisition_channel AS channel, cl.acquisition_cost AS cost,
			   r.client_id IS NOT NULL AS buyer,
			   coalesce(r.historical_value, 0) AS hist,
			   coalesce(r.clv, 0) * rate.m AS future
		  FROM crm.clients cl
		  LEFT JOIN r ON r.client_id = cl.client_id
		 CROSS JOIN rate
		 WHERE cl.created_at <= as_of
	)
	SELECT c.channel, count(*), count(*) FILTER (WHERE c.buyer),
		   sum(c.cost), round(avg(c.cost), 2), round(avg(c.hist), 2),
		   round(avg(c.hist) + avg(c.future)::numeric, 2),
		   round((avg(c.hist) + avg(c.future)::numeric) / nullif(avg(c.cost), 0), 2)
	  FROM c
	 GROUP BY c.channel
	 ORDER BY c.channel;
END
$$;

CREATE OR REPLACE FUNCTION crm.retention_clv(margin float8, retention_rate float8,
								  discount_rate float8 DEFAULT 0,
								  periods integer DEFAULT NULL)
RETURNS float8
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	q	float8;
	qn	float8;
	v	float8;
BEGIN
	IF margin IS NULL OR retention_rate IS NULL OR discount_rate IS NULL THEN
		RETURN NULL;
	END IF;
	IF margin = 'NaN' OR abs(margin) = 'Infinity' THEN
		RAISE EXCEPTION 'margin % is not a finite number', margin
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (retention_rate >= 0 AND retention_rate < 1) THEN
		RAISE EXCEPTION 'retention rate % is not in [0, 1)', retention_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT (discount_rate >= 0 AND discount_rate < 'Infinity') THEN
		RAISE EXCEPTION 'discount rate % is not a non-negative number', discount_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF periods < 0 THEN
		RAISE EXCEPTION 'periods % is negative', periods
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	q := retention_rate / (1 + discount_rate);
	-- q^n: 0 for ever; below 1e-304 it is 0 next to 1 (and q ^ n would
	-- raise an underflow error where it rounds to 0)
	IF periods IS NULL THEN
		qn := 0;
	ELSIF periods = 0 THEN
		qn := 1;
	ELSIF q = 0 OR periods * ln(q) < -700 THEN
		qn := 0;
	ELSE
		qn := q ^ periods;
	END IF;
	v := margin * (1 - qn);
	IF abs(v) > '1.7976931348623157e308'::float8 * (1 - q) THEN
		RAISE EXCEPTION 'retention CLV out of range: margin %, retention rate %, discount rate %',
			margin, retention_rate, discount_rate
			USING ERRCODE = 'numeric_value_out_of_range';
	END IF;
	RETURN v / (1 - q);
END
$$;
