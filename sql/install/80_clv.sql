/*
 * Customer lifetime value: the BG/NBD, Pareto/NBD and Gamma-Gamma models
 * fitted by maximum likelihood as aggregates, their predictions, discounted
 * CLV, and reports over the crm schema.  See docs/clv.md.
 */

-- the transition state of the fits: distinct client summaries with counts
CREATE TYPE crm.clv_fit_state;

CREATE FUNCTION crm.clv_fit_state_in(cstring) RETURNS crm.clv_fit_state
AS 'MODULE_PATHNAME', 'clv_fit_state_in'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION crm.clv_fit_state_out(crm.clv_fit_state) RETURNS cstring
AS 'MODULE_PATHNAME', 'clv_fit_state_out'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE crm.clv_fit_state (
	INPUT = crm.clv_fit_state_in,
	OUTPUT = crm.clv_fit_state_out,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE crm.clv_fit_state IS 'transition state of the CLV fits: the distinct client summaries and how many clients share each; text form kind;penalty;row;row...';
COMMENT ON FUNCTION crm.clv_fit_state_in(cstring) IS 'text input of crm.clv_fit_state';
COMMENT ON FUNCTION crm.clv_fit_state_out(crm.clv_fit_state) IS 'text output of crm.clv_fit_state (round-trips exactly)';

-- fitted models
CREATE TYPE crm.bgnbd_model AS (
	r			float8,
	alpha		float8,
	a			float8,
	b			float8,
	loglik		float8,
	n			bigint,
	iterations	integer,
	converged	boolean,
	std_errors	float8[],
	covariance	float8[]
);
COMMENT ON TYPE crm.bgnbd_model IS 'a fitted BG/NBD model: purchase rate ~ Gamma(r, alpha) (alpha in the time unit of the data), drop-out probability ~ Beta(a, b); total log-likelihood, clients, optimiser iterations, convergence; standard errors of the parameters and their covariance matrix (observed information)';

CREATE TYPE crm.pareto_nbd_model AS (
	r			float8,
	alpha		float8,
	s			float8,
	beta		float8,
	loglik		float8,
	n			bigint,
	iterations	integer,
	converged	boolean,
	std_errors	float8[],
	covariance	float8[]
);
COMMENT ON TYPE crm.pareto_nbd_model IS 'a fitted Pareto/NBD model: purchase rate ~ Gamma(r, alpha), drop-out rate ~ Gamma(s, beta) (alpha, beta in the time unit of the data); total log-likelihood, clients, optimiser iterations, convergence; standard errors of the parameters and their covariance matrix (observed information)';

CREATE TYPE crm.gamma_gamma_model AS (
	p			float8,
	q			float8,
	v			float8,
	loglik		float8,
	n			bigint,
	iterations	integer,
	converged	boolean,
	std_errors	float8[],
	covariance	float8[]
);
COMMENT ON TYPE crm.gamma_gamma_model IS 'a fitted Gamma-Gamma spend model: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v) (v in money units); total log-likelihood, repeat buyers used, optimiser iterations, convergence; standard errors of the parameters and their covariance matrix (observed information)';

-- transition, combine and final functions
CREATE FUNCTION crm.clv_bgnbd_trans(crm.clv_fit_state, float8, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_bgnbd_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgnbd_trans(crm.clv_fit_state, float8, float8, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_bgnbd_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_pareto_trans(crm.clv_fit_state, float8, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_pareto_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_pareto_trans(crm.clv_fit_state, float8, float8, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_pareto_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_gamma_trans(crm.clv_fit_state, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_gamma_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_gamma_trans(crm.clv_fit_state, float8, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_gamma_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_fit_combine(crm.clv_fit_state, crm.clv_fit_state)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_fit_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgnbd_final(crm.clv_fit_state) RETURNS crm.bgnbd_model
AS 'MODULE_PATHNAME', 'clv_bgnbd_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_pareto_final(crm.clv_fit_state) RETURNS crm.pareto_nbd_model
AS 'MODULE_PATHNAME', 'clv_pareto_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_gamma_final(crm.clv_fit_state) RETURNS crm.gamma_gamma_model
AS 'MODULE_PATHNAME', 'clv_gamma_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION crm.clv_bgnbd_trans(crm.clv_fit_state, float8, float8, float8) IS 'transition function of crm.bgnbd_fit';
COMMENT ON FUNCTION crm.clv_bgnbd_trans(crm.clv_fit_state, float8, float8, float8, float8) IS 'transition function of crm.bgnbd_fit with a penalty';
COMMENT ON FUNCTION crm.clv_pareto_trans(crm.clv_fit_state, float8, float8, float8) IS 'transition function of crm.pareto_nbd_fit';
COMMENT ON FUNCTION crm.clv_pareto_trans(crm.clv_fit_state, float8, float8, float8, float8) IS 'transition function of crm.pareto_nbd_fit with a penalty';
COMMENT ON FUNCTION crm.clv_gamma_trans(crm.clv_fit_state, float8, float8) IS 'transition function of crm.gamma_gamma_fit';
COMMENT ON FUNCTION crm.clv_gamma_trans(crm.clv_fit_state, float8, float8, float8) IS 'transition function of crm.gamma_gamma_fit with a penalty';
COMMENT ON FUNCTION crm.clv_fit_combine(crm.clv_fit_state, crm.clv_fit_state) IS 'combine function of the CLV fits: merges the distinct summaries of two partial states';
COMMENT ON FUNCTION crm.clv_bgnbd_final(crm.clv_fit_state) IS 'final function of crm.bgnbd_fit: the maximum-likelihood fit';
COMMENT ON FUNCTION crm.clv_pareto_final(crm.clv_fit_state) IS 'final function of crm.pareto_nbd_fit: the maximum-likelihood fit';
COMMENT ON FUNCTION crm.clv_gamma_final(crm.clv_fit_state) IS 'final function of crm.gamma_gamma_fit: the maximum-likelihood fit';

CREATE AGGREGATE crm.bgnbd_fit(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_bgnbd_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgnbd_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.bgnbd_fit(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_bgnbd_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgnbd_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.pareto_nbd_fit(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_pareto_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_pareto_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.pareto_nbd_fit(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_pareto_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_pareto_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.gamma_gamma_fit(frequency float8, monetary float8) (
	SFUNC = crm.clv_gamma_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_gamma_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.gamma_gamma_fit(frequency float8, monetary float8, penalty float8) (
	SFUNC = crm.clv_gamma_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_gamma_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.bgnbd_fit(float8, float8, float8) IS 'maximum-likelihood BG/NBD fit (Fader, Hardie and Lee 2005) over per-client (frequency = repeat purchases, recency = time of the last purchase since the first, t = time since the first purchase)';
COMMENT ON AGGREGATE crm.bgnbd_fit(float8, float8, float8, float8) IS 'maximum-likelihood BG/NBD fit with an L2 penalty on the parameters (time scaled so that the largest t is 1)';
COMMENT ON AGGREGATE crm.pareto_nbd_fit(float8, float8, float8) IS 'maximum-likelihood Pareto/NBD fit (Schmittlein, Morrison and Colombo 1987) over per-client (frequency, recency, t)';
COMMENT ON AGGREGATE crm.pareto_nbd_fit(float8, float8, float8, float8) IS 'maximum-likelihood Pareto/NBD fit with an L2 penalty on the parameters (time scaled so that the largest t is 1)';
COMMENT ON AGGREGATE crm.gamma_gamma_fit(float8, float8) IS 'maximum-likelihood Gamma-Gamma spend fit (Fader, Hardie and Lee 2005) over per-client (frequency, monetary = mean value of the repeat purchases); clients with frequency 0 are ignored';
COMMENT ON AGGREGATE crm.gamma_gamma_fit(float8, float8, float8) IS 'maximum-likelihood Gamma-Gamma fit with an L2 penalty on the parameters (spend scaled by its mean)';

/*
 * The same fits, ending in a notice and a null model where the fits raise
 * an error because the data cannot identify the model (no repeat buyer, no
 * spread of spend, a log-likelihood that is not finite, parameters out of
 * range), and also where the optimiser does not converge.  Bad input
 * (a negative frequency, a penalty that is not a number...) is still an
 * error.  crm.clv_report fits with these.
 */
CREATE FUNCTION crm.clv_bgnbd_final_or_null(crm.clv_fit_state) RETURNS crm.bgnbd_model
AS 'MODULE_PATHNAME', 'clv_bgnbd_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_pareto_final_or_null(crm.clv_fit_state) RETURNS crm.pareto_nbd_model
AS 'MODULE_PATHNAME', 'clv_pareto_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_gamma_final_or_null(crm.clv_fit_state) RETURNS crm.gamma_gamma_model
AS 'MODULE_PATHNAME', 'clv_gamma_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_bgnbd_final_or_null(crm.clv_fit_state) IS 'final function of crm.bgnbd_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_pareto_final_or_null(crm.clv_fit_state) IS 'final function of crm.pareto_nbd_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_gamma_final_or_null(crm.clv_fit_state) IS 'final function of crm.gamma_gamma_fit_or_null: the fit, or a notice and null';

CREATE AGGREGATE crm.bgnbd_fit_or_null(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgnbd_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgnbd_fit_or_null(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgnbd_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.pareto_nbd_fit_or_null(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_pareto_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_pareto_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.pareto_nbd_fit_or_null(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_pareto_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_pareto_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.gamma_gamma_fit_or_null(frequency float8, monetary float8) (
	SFUNC = crm.clv_gamma_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_gamma_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.gamma_gamma_fit_or_null(frequency float8, monetary float8, penalty float8) (
	SFUNC = crm.clv_gamma_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_gamma_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE crm.bgnbd_fit_or_null(float8, float8, float8) IS 'crm.bgnbd_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgnbd_fit_or_null(float8, float8, float8, float8) IS 'crm.bgnbd_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.pareto_nbd_fit_or_null(float8, float8, float8) IS 'crm.pareto_nbd_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.pareto_nbd_fit_or_null(float8, float8, float8, float8) IS 'crm.pareto_nbd_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.gamma_gamma_fit_or_null(float8, float8) IS 'crm.gamma_gamma_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.gamma_gamma_fit_or_null(float8, float8, float8) IS 'crm.gamma_gamma_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';

-- per-client log-likelihoods and predictions
CREATE FUNCTION crm.bgnbd_loglik(model crm.bgnbd_model, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgnbd_loglik'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgnbd_p_alive(model crm.bgnbd_model, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgnbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgnbd_expected_purchases(model crm.bgnbd_model, horizon float8, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgnbd_expected'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgnbd_expected_purchases(model crm.bgnbd_model, horizon float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgnbd_expected_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_loglik(model crm.pareto_nbd_model, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_pareto_loglik'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_p_alive(model crm.pareto_nbd_model, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_pareto_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_expected_purchases(model crm.pareto_nbd_model, horizon float8, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_pareto_expected'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_expected_purchases(model crm.pareto_nbd_model, horizon float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_pareto_expected_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.gamma_gamma_loglik(model crm.gamma_gamma_model, frequency float8, monetary float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_gamma_loglik'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.gamma_gamma_expected_spend(model crm.gamma_gamma_model, frequency float8, monetary float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_gamma_expected_spend'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv(transactions crm.bgnbd_model, spend crm.gamma_gamma_model,
						frequency float8, recency float8, t float8, monetary float8,
						horizon float8, discount_rate float8, period float8 DEFAULT 1)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgnbd_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv(transactions crm.pareto_nbd_model, spend crm.gamma_gamma_model,
						frequency float8, recency float8, t float8, monetary float8,
						horizon float8, discount_rate float8, period float8 DEFAULT 1)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_pareto_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION crm.bgnbd_loglik(crm.bgnbd_model, float8, float8, float8) IS 'BG/NBD log-likelihood of one client summary (frequency, recency, t)';
COMMENT ON FUNCTION crm.bgnbd_p_alive(crm.bgnbd_model, float8, float8, float8) IS 'BG/NBD probability that the client is still active at t (1 for frequency 0)';
COMMENT ON FUNCTION crm.bgnbd_expected_purchases(crm.bgnbd_model, float8, float8, float8, float8) IS 'BG/NBD expected repeat purchases in the next horizon time units, given the client summary';
COMMENT ON FUNCTION crm.bgnbd_expected_purchases(crm.bgnbd_model, float8) IS 'BG/NBD expected repeat purchases of a new client in its first horizon time units';
COMMENT ON FUNCTION crm.pareto_nbd_loglik(crm.pareto_nbd_model, float8, float8, float8) IS 'Pareto/NBD log-likelihood of one client summary (frequency, recency, t)';
COMMENT ON FUNCTION crm.pareto_nbd_p_alive(crm.pareto_nbd_model, float8, float8, float8) IS 'Pareto/NBD probability that the client is still active at t';
COMMENT ON FUNCTION crm.pareto_nbd_expected_purchases(crm.pareto_nbd_model, float8, float8, float8, float8) IS 'Pareto/NBD expected purchases in the next horizon time units, given the client summary';
COMMENT ON FUNCTION crm.pareto_nbd_expected_purchases(crm.pareto_nbd_model, float8) IS 'Pareto/NBD expected purchases of a new client in its first horizon time units';
COMMENT ON FUNCTION crm.gamma_gamma_loglik(crm.gamma_gamma_model, float8, float8) IS 'Gamma-Gamma log-likelihood of one repeat buyer (frequency > 0, monetary)';
COMMENT ON FUNCTION crm.gamma_gamma_expected_spend(crm.gamma_gamma_model, float8, float8) IS 'Gamma-Gamma expected value of the client''s future purchases: p (v + frequency monetary) / (p frequency + q - 1)';
COMMENT ON FUNCTION crm.clv(crm.bgnbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8) IS 'discounted CLV: expected spend times BG/NBD expected purchases per period of the horizon, discounted at discount_rate per period';
COMMENT ON FUNCTION crm.clv(crm.pareto_nbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8) IS 'discounted CLV: expected spend times Pareto/NBD expected purchases per period of the horizon, discounted at discount_rate per period';

/*
 * Per-client summaries from crm.orders.  A purchase is an order with status
 * placed or paid, its value net_amount; purchases on one calendar day (in
 * time_zone) are one purchase occasion, their values summed.
 */
CREATE FUNCTION crm.clv_unit_days(unit text) RETURNS float8
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	CASE unit
		WHEN 'day' THEN RETURN 1;
		WHEN 'week' THEN RETURN 7;
		WHEN 'month' THEN RETURN 30.4375;
		WHEN 'year' THEN RETURN 365.25;
		ELSE
			RAISE EXCEPTION 'unknown time unit "%"', unit
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Time units are day, week, month (30.4375 days) and year (365.25 days).';
	END CASE;
END
$$;
COMMENT ON FUNCTION crm.clv_unit_days(text) IS 'length in days of a CLV time unit: day 1, week 7, month 30.4375, year 365.25';

CREATE FUNCTION crm.clv_summary(as_of timestamptz, unit text DEFAULT 'day',
								time_zone text DEFAULT 'UTC')
RETURNS TABLE (client_id bigint, frequency float8, recency float8, t float8,
			   monetary float8, first_purchase date, last_purchase date,
			   orders bigint, revenue numeric, margin numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	unit_days	float8;
	as_of_day	date;
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	unit_days := crm.clv_unit_days(unit);
	as_of_day := (as_of AT TIME ZONE time_zone)::date;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH days AS (
		SELECT o.client_id, (o.ordered_at AT TIME ZONE time_zone)::date AS day,
			   sum(o.net_amount) AS value,
			   sum(o.net_amount - o.cost_amount) AS margin,
			   count(*) AS orders,
			   crm.one_currency(o.currency) AS cur
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at <= as_of
		 GROUP BY 1, 2
	), ranked AS (
		SELECT d.*, first_value(d.value) OVER w AS first_value
		  FROM days d
		WINDOW w AS (PARTITION BY d.client_id ORDER BY d.day)
	), c AS (
		SELECT r.client_id,
			   (count(*) - 1)::float8 AS frequency,
			   (max(r.day) - min(r.day)) / unit_days AS recency,
			   (as_of_day - min(r.day)) / unit_days AS t,
			   CASE WHEN count(*) > 1
					THEN ((sum(r.value) - min(r.first_value)) / (count(*) - 1))::float8
					ELSE 0 END AS monetary,
			   min(r.day) AS first_day, max(r.day) AS last_day, sum(r.orders)::bigint AS orders,
			   sum(r.value) AS revenue, sum(r.margin) AS margin,
			   -- the purchases of all clients in one currency (an error otherwise)
			   crm.one_currency(crm.one_currency(r.cur)) OVER () AS cur
		  FROM ranked r
		 GROUP BY r.client_id
	)
	SELECT c.client_id, c.frequency, c.recency, c.t, c.monetary, c.first_day, c.last_day,
		   c.orders, c.revenue, c.margin
	  FROM c
	 WHERE c.cur IS NOT NULL;	-- always: keeps the check
END
$$;
COMMENT ON FUNCTION crm.clv_summary(timestamptz, text, text) IS 'per client with purchases up to as_of: frequency (repeat purchase days), recency (last purchase day minus the first, in unit), t (as_of day minus the first purchase day, in unit), monetary (mean value of the repeat purchase days, 0 without), and revenue and margin to date; an error (0A000) when the purchases are in more than one currency';

CREATE FUNCTION crm.clv_report(as_of timestamptz, horizon float8, unit text DEFAULT 'day',
							   discount_rate float8 DEFAULT 0, period float8 DEFAULT 1,
							   penalty float8 DEFAULT 0, time_zone text DEFAULT 'UTC',
							   transactions crm.bgnbd_model DEFAULT NULL,
							   spend crm.gamma_gamma_model DEFAULT NULL)
RETURNS TABLE (client_id bigint, frequency float8, recency float8, t float8,
			   monetary float8, p_alive float8, expected_purchases float8,
			   expected_spend float8, clv float8, revenue numeric,
			   historical_value numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	checked		float8;
BEGIN
	/* NULL models: fitted on the summaries */
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF horizon IS NULL THEN
		RAISE EXCEPTION 'horizon must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF discount_rate IS NULL THEN
		RAISE EXCEPTION 'discount_rate must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF penalty IS NULL THEN
		RAISE EXCEPTION 'penalty must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	/*
	 * The arguments crm.clv_summary checks, checked here: its errors would
	 * come with the text of the query below as their context.  The errors
	 * of crm's C functions in that query come without it.
	 */
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	checked := crm.clv_unit_days(unit);
	checked := extract(epoch FROM as_of AT TIME ZONE time_zone);
	-- horizon, discount rate and period, checked by crm.clv itself
	checked := crm.clv(ROW(1, 1, 1, 1, 0, 1, 0, true, NULL, NULL)::crm.bgnbd_model,
					   ROW(2, 2, 1, 0, 1, 0, true, NULL, NULL)::crm.gamma_gamma_model,
					   0, 0, 1, 0, horizon, discount_rate, period);
	/*
	 * The models, unless given, fitted by the _or_null aggregates: where the
	 * data cannot identify one, a notice says why and its columns are null;
	 * the summary, revenue and margin are there all the same.
	 */
	RETURN QUERY
	WITH s AS MATERIALIZED (
		SELECT c.*,
			   -- repeat purchases worth nothing in total cannot be modelled
			   CASE WHEN c.frequency = 0 OR c.monetary > 0 THEN c.monetary END AS spend_input
		  FROM crm.clv_summary(as_of, unit, time_zone) c
	), m AS MATERIALIZED (
		SELECT coalesce(transactions,
						(SELECT crm.bgnbd_fit_or_null(s.frequency, s.recency, s.t, penalty) FROM s)) AS bg,
			   coalesce(spend,
						(SELECT crm.gamma_gamma_fit_or_null(s.frequency, s.spend_input, penalty) FROM s)) AS gg
	)
	SELECT s.client_id, s.frequency, s.recency, s.t, s.monetary,
		   crm.bgnbd_p_alive(m.bg, s.frequency, s.recency, s.t),
		   crm.bgnbd_expected_purchases(m.bg, horizon, s.frequency, s.recency, s.t),
		   crm.gamma_gamma_expected_spend(m.gg, s.frequency, s.spend_input),
		   crm.clv(m.bg, m.gg, s.frequency, s.recency, s.t, s.spend_input, horizon,
				   discount_rate, period),
		   s.revenue, s.margin
	  FROM s CROSS JOIN m;
END
$$;
COMMENT ON FUNCTION crm.clv_report(timestamptz, float8, text, float8, float8, float8, text, crm.bgnbd_model, crm.gamma_gamma_model) IS 'per client with purchases up to as_of: the summary, BG/NBD P(alive) and expected purchases over the horizon, Gamma-Gamma expected spend, discounted CLV (in net_amount money), revenue and margin to date; fits both models on the summaries unless given; where the data cannot identify a model (or its fit does not converge), a notice says why and the columns that need it are null; a repeat buyer whose repeat purchases are worth 0 gets no spend and no CLV (null); an error (0A000) when the purchases are in more than one currency';

/*
 * LTV/CAC by acquisition channel.
 */
CREATE FUNCTION crm.ltv_cac(as_of timestamptz, horizon float8, unit text DEFAULT 'day',
							discount_rate float8 DEFAULT 0, period float8 DEFAULT 1,
							margin_rate float8 DEFAULT NULL, penalty float8 DEFAULT 0,
							time_zone text DEFAULT 'UTC')
RETURNS TABLE (acquisition_channel text, clients bigint, buyers bigint,
			   acquisition_cost numeric, cac numeric, historical_ltv numeric,
			   predicted_ltv numeric, ltv_cac_ratio numeric)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	checked		float8;
BEGIN
	/* NULL margin_rate: the historical margin share */
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF horizon IS NULL THEN
		RAISE EXCEPTION 'horizon must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF unit IS NULL THEN
		RAISE EXCEPTION 'unit must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF discount_rate IS NULL THEN
		RAISE EXCEPTION 'discount_rate must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF period IS NULL THEN
		RAISE EXCEPTION 'period must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF penalty IS NULL THEN
		RAISE EXCEPTION 'penalty must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF time_zone IS NULL THEN
		RAISE EXCEPTION 'time_zone must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF margin_rate IS NOT NULL AND NOT (margin_rate BETWEEN -1 AND 1) THEN
		RAISE EXCEPTION 'margin rate % is not between -1 and 1', margin_rate
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* as in crm.clv_report: errors without the text of the query below */
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	checked := crm.clv_unit_days(unit);
	checked := extract(epoch FROM as_of AT TIME ZONE time_zone);
	checked := crm.clv(ROW(1, 1, 1, 1, 0, 1, 0, true, NULL, NULL)::crm.bgnbd_model,
					   ROW(2, 2, 1, 0, 1, 0, true, NULL, NULL)::crm.gamma_gamma_model,
					   0, 0, 1, 0, horizon, discount_rate, period);
	RETURN QUERY
	WITH r AS MATERIALIZED (
		SELECT * FROM crm.clv_report(as_of, horizon, unit, discount_rate, period,
									 penalty, time_zone)
	), rate AS (
		SELECT coalesce(margin_rate,
						(sum(r.historical_value) / nullif(sum(r.revenue), 0))::float8,
						0) AS m,
			   -- whether the models were fitted: then every buyer but one
			   -- whose repeat purchases are worth 0 has a CLV
			   coalesce(bool_or(r.clv IS NOT NULL), false) AS modelled
		  FROM r
	), c AS (
		SELECT cl.acquisition_channel AS channel, cl.acquisition_cost AS cost,
			   r.client_id IS NOT NULL AS buyer,
			   coalesce(r.historical_value, 0) AS hist,
			   CASE WHEN rate.modelled THEN coalesce(r.clv, 0) * rate.m END AS future
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
COMMENT ON FUNCTION crm.ltv_cac(timestamptz, float8, text, float8, float8, float8, float8, text) IS 'per acquisition channel (clients created up to as_of): clients, buyers, total acquisition cost, CAC, historical LTV (margin to date per client), predicted LTV (historical plus discounted CLV over the horizon times the margin rate, by default the historical margin share of revenue) and LTV/CAC; predicted LTV and LTV/CAC are null, with a notice saying why, where no CLV model could be fitted (and where nobody bought); an error (0A000) when the purchases are in more than one currency';

/*
 * The simple retention-based CLV, for businesses without transaction-level
 * data: margin m per period, the first now, each further one received with
 * probability retention_rate per period and discounted at discount_rate:
 *   CLV = sum_{k=0}^{n-1} m (r/(1+d))^k = m (1 - q^n) / (1 - q),  q = r/(1+d)
 * (n infinite: m / (1 - q) = m (1+d) / (1+d-r); d = 0: m / (1 - r), the
 * margin times the expected lifetime in periods).
 */
CREATE FUNCTION crm.retention_clv(margin float8, retention_rate float8,
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
COMMENT ON FUNCTION crm.retention_clv(float8, float8, float8, integer) IS 'simple retention-based CLV: margin per period times sum over k < periods of (retention_rate / (1 + discount_rate))^k; periods null means forever: margin (1 + d) / (1 + d - r)';

/*
 * CLV: the probability of exactly n purchases, and predictions with their
 * standard errors and confidence intervals (delta method, from the
 * covariance the fits carry).
 */
CREATE FUNCTION crm.bgnbd_probability_of_purchases(model crm.bgnbd_model, n integer, horizon float8,
												   frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgnbd_probability'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_probability_of_purchases(model crm.pareto_nbd_model, n integer, horizon float8,
														frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_pareto_probability'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.bgnbd_probability_of_purchases(crm.bgnbd_model, integer, float8, float8, float8, float8) IS 'BG/NBD probability that the client makes exactly n purchases in the next horizon time units (frequency, recency, t all 0: a new client)';
COMMENT ON FUNCTION crm.pareto_nbd_probability_of_purchases(crm.pareto_nbd_model, integer, float8, float8, float8, float8) IS 'Pareto/NBD probability that the client makes exactly n purchases in the next horizon time units (frequency, recency, t all 0: a new client)';

CREATE TYPE crm.prediction_interval AS (
	estimate	float8,
	std_error	float8,
	lower		float8,
	upper		float8
);
COMMENT ON TYPE crm.prediction_interval IS 'a prediction, its standard error (delta method, from the model''s covariance) and the bounds of its confidence interval (symmetric on the logit scale for probabilities, on the log scale for the others); null error and bounds when the model carries no covariance';

CREATE FUNCTION crm.bgnbd_p_alive_interval(model crm.bgnbd_model, frequency float8, recency float8, t float8,
										   level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_bgnbd_p_alive_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_p_alive_interval(model crm.pareto_nbd_model, frequency float8, recency float8, t float8,
												level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_pareto_p_alive_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgnbd_expected_purchases_interval(model crm.bgnbd_model, horizon float8, frequency float8,
													  recency float8, t float8, level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_bgnbd_expected_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_expected_purchases_interval(model crm.pareto_nbd_model, horizon float8, frequency float8,
														   recency float8, t float8, level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_pareto_expected_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgnbd_probability_of_purchases_interval(model crm.bgnbd_model, n integer, horizon float8,
															frequency float8, recency float8, t float8,
															level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_bgnbd_probability_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.pareto_nbd_probability_of_purchases_interval(model crm.pareto_nbd_model, n integer, horizon float8,
																 frequency float8, recency float8, t float8,
																 level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_pareto_probability_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.gamma_gamma_expected_spend_interval(model crm.gamma_gamma_model, frequency float8, monetary float8,
														level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_gamma_spend_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_interval(transactions crm.bgnbd_model, spend crm.gamma_gamma_model,
								 frequency float8, recency float8, t float8, monetary float8,
								 horizon float8, discount_rate float8, period float8 DEFAULT 1,
								 level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_bgnbd_clv_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_interval(transactions crm.pareto_nbd_model, spend crm.gamma_gamma_model,
								 frequency float8, recency float8, t float8, monetary float8,
								 horizon float8, discount_rate float8, period float8 DEFAULT 1,
								 level float8 DEFAULT 0.95)
RETURNS crm.prediction_interval AS 'MODULE_PATHNAME', 'clv_pareto_clv_interval'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.bgnbd_p_alive_interval(crm.bgnbd_model, float8, float8, float8, float8) IS 'crm.bgnbd_p_alive with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.pareto_nbd_p_alive_interval(crm.pareto_nbd_model, float8, float8, float8, float8) IS 'crm.pareto_nbd_p_alive with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.bgnbd_expected_purchases_interval(crm.bgnbd_model, float8, float8, float8, float8, float8) IS 'crm.bgnbd_expected_purchases with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.pareto_nbd_expected_purchases_interval(crm.pareto_nbd_model, float8, float8, float8, float8, float8) IS 'crm.pareto_nbd_expected_purchases with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.bgnbd_probability_of_purchases_interval(crm.bgnbd_model, integer, float8, float8, float8, float8, float8) IS 'crm.bgnbd_probability_of_purchases with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.pareto_nbd_probability_of_purchases_interval(crm.pareto_nbd_model, integer, float8, float8, float8, float8, float8) IS 'crm.pareto_nbd_probability_of_purchases with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.gamma_gamma_expected_spend_interval(crm.gamma_gamma_model, float8, float8, float8) IS 'crm.gamma_gamma_expected_spend with its standard error and confidence interval at the level (delta method)';
COMMENT ON FUNCTION crm.clv_interval(crm.bgnbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8, float8) IS 'crm.clv with its standard error and confidence interval at the level (delta method over both models'' parameters, the two fits taken as independent)';
COMMENT ON FUNCTION crm.clv_interval(crm.pareto_nbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8, float8) IS 'crm.clv with its standard error and confidence interval at the level (delta method over both models'' parameters, the two fits taken as independent)';
