
/*
 * Calibration and holdout: the calibration summary and the holdout actuals
 * per client, and the tables behind the standard diagnostics of a fitted
 * transaction model.  Reference: docs/clv.md.
 */

CREATE FUNCTION crm.clv_calibration_holdout(calibration_end timestamptz, holdout_end timestamptz,
											unit text DEFAULT 'day', time_zone text DEFAULT 'UTC')
RETURNS TABLE (client_id bigint, frequency float8, recency float8, t float8,
			   monetary float8, holdout_frequency float8, holdout_monetary float8,
			   duration float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8;
	cal_day		date;
	hold_day	date;
BEGIN
	IF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	IF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	cal_day := (calibration_end AT TIME ZONE time_zone)::date;
	hold_day := (holdout_end AT TIME ZONE time_zone)::date;
	IF hold_day <= cal_day THEN
		RAISE EXCEPTION 'holdout_end % is not on a day after calibration_end %', holdout_end, calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH days AS (
		SELECT o.client_id, (o.ordered_at AT TIME ZONE time_zone)::date AS day,
			   sum(o.net_amount) AS value, crm.one_currency(o.currency) AS cur
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at > calibration_end
		   AND o.ordered_at <= holdout_end
		 GROUP BY 1, 2
	), h AS (
		SELECT d.client_id, count(*)::float8 AS n, (sum(d.value) / count(*))::float8 AS m,
			   crm.one_currency(crm.one_currency(d.cur)) OVER () AS cur
		  FROM days d
		 WHERE d.day > cal_day
		 GROUP BY d.client_id
	)
	SELECT s.client_id, s.frequency, s.recency, s.t, s.monetary,
		   coalesce(h.n, 0), coalesce(h.m, 0), (hold_day - cal_day) / unit_days
	  FROM crm.clv_summary(calibration_end, unit, time_zone) s
	  LEFT JOIN h ON h.client_id = s.client_id AND h.cur IS NOT NULL;
END
$$;
COMMENT ON FUNCTION crm.clv_calibration_holdout(timestamptz, timestamptz, text, text) IS 'per client with purchases up to calibration_end: the calibration summary of crm.clv_summary(calibration_end) and the holdout actuals: purchase days after the day of calibration_end up to holdout_end (holdout_frequency), their mean value (holdout_monetary, 0 without) and the holdout length in unit (duration)';

CREATE FUNCTION crm.clv_holdout_diagnostics_run(model anyelement, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'day',
											period float8 DEFAULT 1, max_frequency integer DEFAULT 7,
											time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	kind		regtype := pg_typeof(model);
	prefix		text;
	unit_days	float8;
	p			float8[];
BEGIN
	IF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	prefix := CASE kind WHEN 'crm.bgnbd_model'::regtype THEN 'bgnbd'
						WHEN 'crm.mbgnbd_model'::regtype THEN 'mbgnbd'
						WHEN 'crm.pareto_nbd_model'::regtype THEN 'pareto_nbd' END;
	IF prefix IS NULL THEN
		RAISE EXCEPTION 'model of type % is not a transaction model', format_type(kind, NULL)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a crm.bgnbd_model, crm.mbgnbd_model or crm.pareto_nbd_model.';
	ELSIF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	IF NOT (period > 0 AND period < 'Infinity'::float8) THEN
		RAISE EXCEPTION 'period % is not a positive number', period
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the dates, the unit and the time zone; the model's parameters
	PERFORM 1 FROM crm.clv_calibration_holdout(calibration_end, holdout_end, unit, time_zone) LIMIT 0;
	EXECUTE format('SELECT ARRAY[($1).%s, ($1).%s, ($1).%s, ($1).%s]::float8[] WHERE crm.%s_expected_purchases($1, 1) IS NOT NULL',
				   VARIADIC CASE prefix WHEN 'pareto_nbd' THEN ARRAY['r', 'alpha', 's', 'beta', prefix]
										ELSE ARRAY['r', 'alpha', 'a', 'b', prefix] END)
		INTO p USING model;

	RETURN QUERY EXECUTE format($q$
	WITH c AS MATERIALIZED (
		SELECT c.client_id, c.frequency, c.holdout_frequency,
			   crm.%1$s_expected_purchases($1, c.duration, c.frequency, c.recency, c.t) AS expected,
			   c.t, ($9 - round(c.t * $4)::integer) AS first_day
		  FROM crm.clv_calibration_holdout($2, $3, $11, $7) c
	), g AS (
		SELECT min(c.first_day) AS d0 FROM c HAVING count(*) > 0
	), g2 AS (
		SELECT g.d0, ($9 - g.d0)::float8 AS cal_off, ($10 - g.d0)::float8 AS hold_off FROM g
	), b AS (
		SELECT k, g2.d0, greatest(g2.cal_off + (k - 1) * $5, 0) AS lo,
			   least(g2.cal_off + k * $5, g2.hold_off) AS hi
		  FROM g2, generate_series(1 - ceil(g2.cal_off / $5 - 1e-9)::integer,
								   ceil((g2.hold_off - g2.cal_off) / $5 - 1e-9)::integer) k
	), firsts AS (
		SELECT c.first_day - g2.d0 AS first_off, count(*) AS n FROM c, g2 GROUP BY 1
	), pdays AS (
		SELECT DISTINCT o.client_id, (o.ordered_at AT TIME ZONE $7)::date AS day
		  FROM crm.orders o JOIN c ON c.client_id = o.client_id
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= $3
		   AND (o.ordered_at <= $2 OR (o.ordered_at AT TIME ZONE $7)::date > $9)
	), act AS (
		SELECT ceil((p.day - g2.d0 - g2.cal_off) / $5 - 1e-9)::integer AS k, count(*)::float8 AS n
		  FROM pdays p JOIN c ON c.client_id = p.client_id, g2
		 WHERE p.day > c.first_day
		 GROUP BY 1
	), ex AS (
		SELECT b.k, b.d0, b.hi,
			   sum(f.n * CASE WHEN b.hi > f.first_off
							  THEN crm.%1$s_expected_purchases($1, (b.hi - f.first_off) / $4) ELSE 0 END) AS cum,
			   sum(f.n) FILTER (WHERE f.first_off <= b.hi)::bigint AS clients
		  FROM b CROSS JOIN firsts f
		 GROUP BY b.k, b.d0, b.hi
	), t AS (
		SELECT ex.k, ex.d0 + ceil(ex.hi - 1e-9)::integer AS period_end, ex.clients,
			   coalesce(act.n, 0) AS actual,
			   ex.cum - coalesce(lag(ex.cum) OVER (ORDER BY ex.k), 0) AS expected,
			   sum(coalesce(act.n, 0)) OVER (ORDER BY ex.k) AS cum_actual, ex.cum AS cum_expected
		  FROM ex LEFT JOIN act ON act.k = ex.k
	), series AS (
		-- V(n) = sum_{i<n} ln((b+i)/(a+b+i)), W(n) = sum_{i<n} ln((b+i)/(a+b+1+i)), C(n) = sum_{0<i<=n} ln((r+i-1)/i)
		SELECT n,
			   coalesce(sum(ln(($8[4] + n) / ($8[3] + $8[4] + n))) OVER w1, 0) AS v,
			   coalesce(sum(ln(($8[4] + n) / ($8[3] + $8[4] + 1 + n))) OVER w1, 0) AS w,
			   coalesce(sum(CASE WHEN n > 0 THEN ln(($8[1] + n - 1) / n) ELSE 0 END) OVER w2, 0) AS lc
		  FROM generate_series(0, $6 + 1) n
		WINDOW w1 AS (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
			   w2 AS (ORDER BY n ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
	), tg AS (
		SELECT c.t, count(*) AS n FROM c WHERE $12 GROUP BY 1
	), nb AS (
		-- NB(x) = P(x purchases by t while alive), for x < max_frequency
		SELECT tg.t, tg.n, s.n AS x,
			   CASE WHEN tg.t = 0 THEN (s.n = 0)::integer::float8
					ELSE exp(s.lc + $8[1] * ln($8[2] / ($8[2] + tg.t)) + s.n * ln(tg.t / ($8[2] + tg.t))) END AS nb
		  FROM tg, series s WHERE s.n < $6
	), px AS (
		SELECT nb.t, nb.n, nb.x,
			   exp(sa.v) * nb.nb
			   + CASE WHEN nb.x + $13 >= 1
					  THEN exp(ln($8[3] / ($8[3] + $8[4])) + sb.w)
						   * (1 - coalesce(sum(nb.nb) OVER (PARTITION BY nb.t ORDER BY nb.x
															ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))
					  ELSE 0 END AS p
		  FROM nb JOIN series sa ON sa.n = nb.x + $13
		  LEFT JOIN series sb ON sb.n = nb.x - 1 + $13
	), hist_ex AS (
		SELECT px.x, sum(px.n * px.p) AS n FROM px GROUP BY 1
		UNION ALL
		SELECT $6, sum(px.n * px.p) FROM (SELECT t, n, 1 - sum(p) AS p FROM px GROUP BY t, n) px
	), hist AS (
		SELECT x, coalesce(a.n, 0)::float8 AS actual, e.n AS expected
		  FROM generate_series(0, $6) x
		  LEFT JOIN (SELECT least(c.frequency, $6)::integer AS x, count(*) AS n FROM c GROUP BY 1) a USING (x)
		  LEFT JOIN hist_ex e USING (x)
	), cond AS (
		SELECT least(c.frequency, $6)::integer AS x, count(*) AS n,
			   avg(c.holdout_frequency) AS actual, avg(c.expected) AS expected
		  FROM c GROUP BY 1
	)
	SELECT d.diagnostic, d.bucket, d.period_end, d.clients, d.actual, d.expected, d.mae, d.rmse, d.bias
	  FROM (
		SELECT 1 AS o, 'tracking'::text AS diagnostic, t.k AS bucket, t.period_end, t.clients,
			   t.actual, t.expected, NULL::float8 AS mae, NULL::float8 AS rmse, NULL::float8 AS bias FROM t
		UNION ALL
		SELECT 1, 'tracking', NULL, NULL, max(t.clients), sum(t.actual), sum(t.expected),
			   avg(abs(t.expected - t.actual)), sqrt(avg((t.expected - t.actual) ^ 2)), avg(t.expected - t.actual)
		  FROM t WHERE t.k >= 1 HAVING count(*) > 0
		UNION ALL
		SELECT 2, 'cumulative', t.k, t.period_end, t.clients, t.cum_actual, t.cum_expected, NULL, NULL, NULL FROM t
		UNION ALL
		SELECT 2, 'cumulative', NULL, NULL, max(t.clients), max(t.cum_actual), max(t.cum_expected),
			   avg(abs(t.cum_expected - t.cum_actual)), sqrt(avg((t.cum_expected - t.cum_actual) ^ 2)),
			   avg(t.cum_expected - t.cum_actual)
		  FROM t WHERE t.k >= 1 HAVING count(*) > 0
		UNION ALL
		SELECT 3, 'histogram', hist.x, NULL, hist.actual::bigint, hist.actual, hist.expected, NULL, NULL, NULL FROM hist
		UNION ALL
		SELECT 3, 'histogram', NULL, NULL, sum(hist.actual)::bigint, sum(hist.actual), sum(hist.expected),
			   avg(abs(hist.expected - hist.actual)), sqrt(avg((hist.expected - hist.actual) ^ 2)),
			   avg(hist.expected - hist.actual)
		  FROM hist HAVING sum(hist.actual) > 0
		UNION ALL
		SELECT 4, 'conditional', cond.x, NULL, cond.n, cond.actual, cond.expected, NULL, NULL, NULL FROM cond
		UNION ALL
		SELECT 4, 'conditional', NULL, NULL, sum(cond.n)::bigint,
			   sum(cond.actual * cond.n) / sum(cond.n), sum(cond.expected * cond.n) / sum(cond.n),
			   avg(abs(cond.expected - cond.actual)), sqrt(avg((cond.expected - cond.actual) ^ 2)),
			   avg(cond.expected - cond.actual)
		  FROM cond HAVING count(*) > 0
		UNION ALL
		SELECT 5, 'clients', NULL, NULL, count(*), sum(c.holdout_frequency), sum(c.expected),
			   avg(abs(c.expected - c.holdout_frequency)), sqrt(avg((c.expected - c.holdout_frequency) ^ 2)),
			   avg(c.expected - c.holdout_frequency)
		  FROM c HAVING count(*) > 0) d
	 WHERE EXISTS (SELECT 1 FROM c)
	 ORDER BY d.o, d.bucket NULLS LAST
	$q$, prefix)
	USING model, calibration_end, holdout_end, unit_days, period * unit_days, max_frequency, time_zone,
		  p, (calibration_end AT TIME ZONE time_zone)::date, (holdout_end AT TIME ZONE time_zone)::date,
		  unit, prefix <> 'pareto_nbd', CASE prefix WHEN 'mbgnbd' THEN 1 ELSE 0 END;
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics_run(anyelement, timestamptz, timestamptz, text, float8, integer, text) IS 'internal: the body of crm.clv_holdout_diagnostics for any of its model types';

CREATE FUNCTION crm.clv_holdout_diagnostics(model crm.bgnbd_model, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'day',
											period float8 DEFAULT 1, max_frequency integer DEFAULT 7,
											time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF NOT (period > 0 AND period < 'Infinity'::float8) THEN
		RAISE EXCEPTION 'period % is not a positive number', period
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF (holdout_end AT TIME ZONE time_zone)::date <= (calibration_end AT TIME ZONE time_zone)::date THEN
		RAISE EXCEPTION 'holdout_end % is not on a day after calibration_end %', holdout_end, calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY SELECT * FROM crm.clv_holdout_diagnostics_run(model, calibration_end, holdout_end,
																unit, period, max_frequency, time_zone);
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics(crm.bgnbd_model, timestamptz, timestamptz, text, float8, integer, text) IS 'for a fitted BG/NBD model and the split of crm.clv_calibration_holdout(calibration_end, holdout_end): the tables behind the standard diagnostics (tracking and cumulative repeat purchases per period counted from the calibration end, the calibration frequency histogram, the holdout purchases by calibration frequency, per client), expected against actual, each with a total row (bucket null) carrying MAE, RMSE and bias (expected minus actual)';

CREATE FUNCTION crm.clv_holdout_diagnostics(model crm.mbgnbd_model, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'day',
											period float8 DEFAULT 1, max_frequency integer DEFAULT 7,
											time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF NOT (period > 0 AND period < 'Infinity'::float8) THEN
		RAISE EXCEPTION 'period % is not a positive number', period
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF (holdout_end AT TIME ZONE time_zone)::date <= (calibration_end AT TIME ZONE time_zone)::date THEN
		RAISE EXCEPTION 'holdout_end % is not on a day after calibration_end %', holdout_end, calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY SELECT * FROM crm.clv_holdout_diagnostics_run(model, calibration_end, holdout_end,
																unit, period, max_frequency, time_zone);
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics(crm.mbgnbd_model, timestamptz, timestamptz, text, float8, integer, text) IS 'for a fitted MBG/NBD model and the split of crm.clv_calibration_holdout(calibration_end, holdout_end): the tables behind the standard diagnostics (tracking and cumulative repeat purchases per period counted from the calibration end, the calibration frequency histogram, the holdout purchases by calibration frequency, per client), expected against actual, each with a total row (bucket null) carrying MAE, RMSE and bias (expected minus actual)';

CREATE FUNCTION crm.clv_holdout_diagnostics(model crm.pareto_nbd_model, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'day',
											period float8 DEFAULT 1, max_frequency integer DEFAULT 7,
											time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF NOT (period > 0 AND period < 'Infinity'::float8) THEN
		RAISE EXCEPTION 'period % is not a positive number', period
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF (holdout_end AT TIME ZONE time_zone)::date <= (calibration_end AT TIME ZONE time_zone)::date THEN
		RAISE EXCEPTION 'holdout_end % is not on a day after calibration_end %', holdout_end, calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY SELECT * FROM crm.clv_holdout_diagnostics_run(model, calibration_end, holdout_end,
																unit, period, max_frequency, time_zone);
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics(crm.pareto_nbd_model, timestamptz, timestamptz, text, float8, integer, text) IS 'for a fitted Pareto/NBD model and the split of crm.clv_calibration_holdout(calibration_end, holdout_end): the tables behind the standard diagnostics (tracking and cumulative repeat purchases per period counted from the calibration end, the calibration frequency histogram (expected null for Pareto/NBD), the holdout purchases by calibration frequency, per client), expected against actual, each with a total row (bucket null) carrying MAE, RMSE and bias (expected minus actual)';

/*
 * Calibration and holdout for BG/BB, the discrete-time model: periods of
 * one unit counted from the calibration end (period k covers the days
 * (calibration day + (k-1) unit, calibration day + k unit], k <= 0 in the
 * calibration, k >= 1 in the holdout), one transaction opportunity each; a
 * client transacts in a period when it has an order there.  Reference:
 * docs/clv.md.
 */
CREATE FUNCTION crm.bgbb_calibration_holdout(calibration_end timestamptz, holdout_end timestamptz,
											 unit text DEFAULT 'year', time_zone text DEFAULT 'UTC')
RETURNS TABLE (client_id bigint, frequency float8, recency float8, periods float8,
			   holdout_frequency float8, holdout_periods float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8;
	cal_day		date;
	hold_day	date;
	nstar		integer;
BEGIN
	IF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	IF NOT isfinite(calibration_end) THEN
		RAISE EXCEPTION 'calibration_end must be finite: %', calibration_end
			USING ERRCODE = 'invalid_parameter_value';
	ELSIF NOT isfinite(holdout_end) THEN
		RAISE EXCEPTION 'holdout_end must be finite: %', holdout_end
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	cal_day := (calibration_end AT TIME ZONE time_zone)::date;
	hold_day := (holdout_end AT TIME ZONE time_zone)::date;
	-- whole periods, to within half a day (a year of 365 days is one of 365.25)
	nstar := floor((hold_day - cal_day + 0.5) / unit_days)::integer;
	IF nstar < 1 THEN
		RAISE EXCEPTION 'holdout_end % is less than one % after calibration_end %', holdout_end, unit, calibration_end
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The holdout is a whole number of periods of one unit, at least one.';
	END IF;
	RETURN QUERY
	WITH k AS (
		SELECT o.client_id, ceil(((o.ordered_at AT TIME ZONE time_zone)::date - cal_day) / unit_days - 1e-9)::integer AS k
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at <= holdout_end
		   AND (o.ordered_at <= calibration_end OR (o.ordered_at AT TIME ZONE time_zone)::date > cal_day)
		 GROUP BY 1, 2
	), c AS (
		SELECT k.client_id, min(k.k) AS f FROM k WHERE k.k <= 0 GROUP BY 1
	)
	SELECT c.client_id,
		   count(*) FILTER (WHERE k.k > c.f AND k.k <= 0)::float8,
		   coalesce(max(k.k) FILTER (WHERE k.k > c.f AND k.k <= 0) - c.f, 0)::float8,
		   (-c.f)::float8,
		   count(*) FILTER (WHERE k.k BETWEEN 1 AND nstar)::float8,
		   nstar::float8
	  FROM c JOIN k ON k.client_id = c.client_id
	 GROUP BY c.client_id, c.f;
END
$$;
COMMENT ON FUNCTION crm.bgbb_calibration_holdout(timestamptz, timestamptz, text, text) IS 'per client with purchases up to calibration_end, in periods of one unit counted from the calibration end, one transaction opportunity each: the calibration summary of BG/BB (frequency: periods after the first purchase''s with a purchase, recency: the last of them, periods: those after the first purchase''s) and the holdout actuals (holdout_frequency: periods of the holdout with a purchase, of holdout_periods, the whole periods up to holdout_end)';

CREATE FUNCTION crm.clv_holdout_diagnostics(model crm.bgbb_model, calibration_end timestamptz,
											holdout_end timestamptz, unit text DEFAULT 'year',
											max_frequency integer DEFAULT 7, time_zone text DEFAULT 'UTC')
RETURNS TABLE (diagnostic text, bucket integer, period_end date, clients bigint,
			   actual float8, expected float8, mae float8, rmse float8, bias float8)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8;
BEGIN
	IF model IS NULL THEN
		RAISE EXCEPTION 'model must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF calibration_end IS NULL THEN
		RAISE EXCEPTION 'calibration_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF holdout_end IS NULL THEN
		RAISE EXCEPTION 'holdout_end must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency IS NULL THEN
		RAISE EXCEPTION 'max_frequency must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF max_frequency < 1 OR max_frequency > 1000 THEN
		RAISE EXCEPTION 'max_frequency % is not between 1 and 1000', max_frequency
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	-- the model's parameters, the dates
	PERFORM crm.bgbb_expected_purchases(model, 1);
	PERFORM 1 FROM crm.bgbb_calibration_holdout(calibration_end, holdout_end, unit, time_zone) LIMIT 0;

	RETURN QUERY
	WITH c AS MATERIALIZED (
		SELECT h.client_id, h.frequency, h.recency, h.periods, h.holdout_frequency, h.holdout_periods,
			   crm.bgbb_expected_purchases(model, h.holdout_periods, h.frequency, h.recency, h.periods) AS expected
		  FROM crm.bgbb_calibration_holdout(calibration_end, holdout_end, unit, time_zone) h
	), firsts AS (
		-- clients by the period of their first purchase, -periods
		SELECT (-c.periods)::integer AS f, count(*) AS n FROM c GROUP BY 1
	), kk AS (
		SELECT k FROM generate_series((SELECT min(f) + 1 FROM firsts),
									  (SELECT max(c.holdout_periods)::integer FROM c)) k
	), act AS (
		-- clients with a repeat purchase in period k
		SELECT ceil(((o.ordered_at AT TIME ZONE time_zone)::date - (calibration_end AT TIME ZONE time_zone)::date)
					/ unit_days - 1e-9)::integer AS k,
			   count(DISTINCT o.client_id)::float8 AS n
		  FROM crm.orders o JOIN c ON c.client_id = o.client_id
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= holdout_end
		   AND (o.ordered_at <= calibration_end
				OR (o.ordered_at AT TIME ZONE time_zone)::date > (calibration_end AT TIME ZONE time_zone)::date)
		 GROUP BY 1
	), ex AS (
		-- a new client's expected transactions at its first m opportunities, summed over the cohorts
		SELECT kk.k, sum(f.n * crm.bgbb_expected_purchases(model, (kk.k - f.f)::float8)) FILTER (WHERE kk.k > f.f) AS cum,
			   sum(f.n) FILTER (WHERE kk.k > f.f)::bigint AS clients
		  FROM kk CROSS JOIN firsts f
		 GROUP BY kk.k
	), t AS (
		SELECT ex.k, ((calibration_end AT TIME ZONE time_zone)::date + floor(ex.k * unit_days + 1e-9)::integer) AS period_end,
			   ex.clients, coalesce(act.n, 0) AS actual,
			   ex.cum - coalesce(lag(ex.cum) OVER (ORDER BY ex.k), 0) AS expected,
			   sum(coalesce(act.n, 0)) OVER (ORDER BY ex.k) AS cum_actual, ex.cum AS cum_expected
		  FROM ex LEFT JOIN act ON act.k = ex.k
	), lf AS (
		-- ln j! for j = 0 .. the most periods
		SELECT j, coalesce(sum(ln(j)) FILTER (WHERE j > 0)
							   OVER (ORDER BY j ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 0)::float8 AS v
		  FROM generate_series(0, (SELECT max(c.periods)::integer FROM c)) j
	), ng AS (
		SELECT c.periods::integer AS n, count(*) AS clients FROM c GROUP BY 1
	), pxn AS (
		-- P(X(n) = x): the likelihood of one pattern with x transactions, the last at t_x,
		-- times the C(t_x - 1, x - 1) patterns, summed over t_x
		SELECT ng.n, ng.clients, x.x,
			   CASE WHEN x.x = 0 THEN exp(crm.bgbb_loglik(model, 0, 0, ng.n))
					ELSE (SELECT sum(exp(l1.v - l2.v - l3.v + crm.bgbb_loglik(model, x.x, tx, ng.n)))
							FROM generate_series(x.x, ng.n) tx
							JOIN lf l1 ON l1.j = tx - 1 JOIN lf l2 ON l2.j = x.x - 1 JOIN lf l3 ON l3.j = tx - x.x) END AS p
		  FROM ng, LATERAL generate_series(0, least(ng.n, max_frequency - 1)) x
	), hist_ex AS (
		SELECT pxn.x, sum(pxn.clients * pxn.p) AS n FROM pxn GROUP BY 1
		UNION ALL
		SELECT max_frequency, sum(s.clients * greatest(1 - s.p, 0))
		  FROM (SELECT pxn.n, pxn.clients, sum(pxn.p) AS p FROM pxn GROUP BY 1, 2) s
	), hist AS (
		SELECT x, coalesce(a.n, 0)::float8 AS actual, coalesce(e.n, 0) AS expected
		  FROM generate_series(0, max_frequency) x
		  LEFT JOIN (SELECT least(c.frequency, max_frequency)::integer AS x, count(*) AS n FROM c GROUP BY 1) a USING (x)
		  LEFT JOIN (SELECT hist_ex.x, sum(hist_ex.n) AS n FROM hist_ex GROUP BY 1) e USING (x)
	), cond AS (
		SELECT least(c.frequency, max_frequency)::integer AS x, count(*) AS n,
			   avg(c.holdout_frequency) AS actual, avg(c.expected) AS expected
		  FROM c GROUP BY 1
	)
	SELECT d.diagnostic, d.bucket, d.period_end, d.clients, d.actual, d.expected, d.mae, d.rmse, d.bias
	  FROM (
		SELECT 1 AS o, 'tracking'::text AS diagnostic, t.k AS bucket, t.period_end, t.clients,
			   t.actual, t.expected, NULL::float8 AS mae, NULL::float8 AS rmse, NULL::float8 AS bias FROM t
		UNION ALL
		SELECT 1, 'tracking', NULL, NULL, max(t.clients), sum(t.actual), sum(t.expected),
			   avg(abs(t.expected - t.actual)), sqrt(avg((t.expected - t.actual) ^ 2)), avg(t.expected - t.actual)
		  FROM t WHERE t.k >= 1 HAVING count(*) > 0
		UNION ALL
		SELECT 2, 'cumulative', t.k, t.period_end, t.clients, t.cum_actual, t.cum_expected, NULL, NULL, NULL FROM t
		UNION ALL
		SELECT 2, 'cumulative', NULL, NULL, max(t.clients), max(t.cum_actual), max(t.cum_expected),
			   avg(abs(t.cum_expected - t.cum_actual)), sqrt(avg((t.cum_expected - t.cum_actual) ^ 2)),
			   avg(t.cum_expected - t.cum_actual)
		  FROM t WHERE t.k >= 1 HAVING count(*) > 0
		UNION ALL
		SELECT 3, 'histogram', hist.x, NULL, hist.actual::bigint, hist.actual, hist.expected, NULL, NULL, NULL FROM hist
		UNION ALL
		SELECT 3, 'histogram', NULL, NULL, sum(hist.actual)::bigint, sum(hist.actual), sum(hist.expected),
			   avg(abs(hist.expected - hist.actual)), sqrt(avg((hist.expected - hist.actual) ^ 2)),
			   avg(hist.expected - hist.actual)
		  FROM hist HAVING sum(hist.actual) > 0
		UNION ALL
		SELECT 4, 'conditional', cond.x, NULL, cond.n, cond.actual, cond.expected, NULL, NULL, NULL FROM cond
		UNION ALL
		SELECT 4, 'conditional', NULL, NULL, sum(cond.n)::bigint,
			   sum(cond.actual * cond.n) / sum(cond.n), sum(cond.expected * cond.n) / sum(cond.n),
			   avg(abs(cond.expected - cond.actual)), sqrt(avg((cond.expected - cond.actual) ^ 2)),
			   avg(cond.expected - cond.actual)
		  FROM cond HAVING count(*) > 0
		UNION ALL
		SELECT 5, 'clients', NULL, NULL, count(*), sum(c.holdout_frequency), sum(c.expected),
			   avg(abs(c.expected - c.holdout_frequency)), sqrt(avg((c.expected - c.holdout_frequency) ^ 2)),
			   avg(c.expected - c.holdout_frequency)
		  FROM c HAVING count(*) > 0) d
	 WHERE EXISTS (SELECT 1 FROM c)
	 ORDER BY d.o, d.bucket NULLS LAST;
END
$$;
COMMENT ON FUNCTION crm.clv_holdout_diagnostics(crm.bgbb_model, timestamptz, timestamptz, text, integer, text) IS 'for a fitted BG/BB model and the split of crm.bgbb_calibration_holdout(calibration_end, holdout_end, unit): the tables behind the standard diagnostics in periods of one unit, one opportunity each (tracking and cumulative repeat transactions per period counted from the calibration end, the calibration frequency histogram, the holdout transactions by calibration frequency, per client), expected against actual, each with a total row (bucket null) carrying MAE, RMSE and bias (expected minus actual)';
