
/*
 * More CLV models: MBG/NBD (Batislam, Denizel and Filiztekin 2007) and
 * BG/BB (Fader, Hardie and Shang 2010).  C in src/clv_mbgnbd.c and
 * src/clv_bgbb.c; reference: docs/clv.md.
 */

CREATE TYPE crm.mbgnbd_model AS (
	r			float8,
	alpha		float8,
	a			float8,
	b			float8,
	loglik		float8,
	n			bigint,
	iterations	integer,
	converged	boolean
);
COMMENT ON TYPE crm.mbgnbd_model IS 'a fitted MBG/NBD model: purchase rate ~ Gamma(r, alpha) (alpha in the time unit of the data), drop-out probability at every purchase including the first ~ Beta(a, b); total log-likelihood, clients, optimiser iterations, convergence';

CREATE TYPE crm.bgbb_model AS (
	alpha		float8,
	beta		float8,
	gamma		float8,
	delta		float8,
	loglik		float8,
	n			bigint,
	iterations	integer,
	converged	boolean
);
COMMENT ON TYPE crm.bgbb_model IS 'a fitted BG/BB model (discrete time, one transaction opportunity per period): transaction probability ~ Beta(alpha, beta), drop-out probability per period ~ Beta(gamma, delta); total log-likelihood, clients, optimiser iterations, convergence';

CREATE FUNCTION crm.clv_mbgnbd_final(crm.clv_fit_state) RETURNS crm.mbgnbd_model
AS 'MODULE_PATHNAME', 'clv_mbgnbd_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_mbgnbd_final(crm.clv_fit_state) IS 'final function of crm.mbgnbd_fit: the maximum-likelihood fit (reads a bgnbd fit state)';

CREATE AGGREGATE crm.mbgnbd_fit(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_bgnbd_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_mbgnbd_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.mbgnbd_fit(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_bgnbd_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_mbgnbd_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.mbgnbd_fit(float8, float8, float8) IS 'maximum-likelihood MBG/NBD fit (Batislam, Denizel and Filiztekin 2007) over per-client (frequency, recency, t), the summaries of crm.bgnbd_fit';
COMMENT ON AGGREGATE crm.mbgnbd_fit(float8, float8, float8, float8) IS 'maximum-likelihood MBG/NBD fit with an L2 penalty on the parameters (time scaled so that the largest t is 1)';

CREATE FUNCTION crm.clv_bgbb_trans(crm.clv_fit_state, float8, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_bgbb_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgbb_trans(crm.clv_fit_state, float8, float8, float8, float8)
RETURNS crm.clv_fit_state AS 'MODULE_PATHNAME', 'clv_bgbb_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgbb_final(crm.clv_fit_state) RETURNS crm.bgbb_model
AS 'MODULE_PATHNAME', 'clv_bgbb_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_bgbb_trans(crm.clv_fit_state, float8, float8, float8) IS 'transition function of crm.bgbb_fit';
COMMENT ON FUNCTION crm.clv_bgbb_trans(crm.clv_fit_state, float8, float8, float8, float8) IS 'transition function of crm.bgbb_fit with a penalty';
COMMENT ON FUNCTION crm.clv_bgbb_final(crm.clv_fit_state) IS 'final function of crm.bgbb_fit: the maximum-likelihood fit';

CREATE AGGREGATE crm.bgbb_fit(frequency float8, recency float8, periods float8) (
	SFUNC = crm.clv_bgbb_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgbb_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.bgbb_fit(frequency float8, recency float8, periods float8, penalty float8) (
	SFUNC = crm.clv_bgbb_trans,
	STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgbb_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.bgbb_fit(float8, float8, float8) IS 'maximum-likelihood BG/BB fit (Fader, Hardie and Shang 2010) over per-client (frequency = transactions at the periods opportunities after the first, recency = opportunity of the last one, periods), whole numbers';
COMMENT ON AGGREGATE crm.bgbb_fit(float8, float8, float8, float8) IS 'maximum-likelihood BG/BB fit with an L2 penalty on the parameters';

CREATE FUNCTION crm.mbgnbd_loglik(model crm.mbgnbd_model, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_loglik'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.mbgnbd_p_alive(model crm.mbgnbd_model, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.mbgnbd_expected_purchases(model crm.mbgnbd_model, horizon float8, frequency float8, recency float8, t float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_expected'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.mbgnbd_expected_purchases(model crm.mbgnbd_model, horizon float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_expected_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv(transactions crm.mbgnbd_model, spend crm.gamma_gamma_model,
						frequency float8, recency float8, t float8, monetary float8,
						horizon float8, discount_rate float8, period float8 DEFAULT 1)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_mbgnbd_clv'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgbb_loglik(model crm.bgbb_model, frequency float8, recency float8, periods float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgbb_loglik'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgbb_p_alive(model crm.bgbb_model, frequency float8, recency float8, periods float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgbb_p_alive'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgbb_expected_purchases(model crm.bgbb_model, horizon float8, frequency float8, recency float8, periods float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgbb_expected'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.bgbb_expected_purchases(model crm.bgbb_model, horizon float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'clv_bgbb_expected_new'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION crm.mbgnbd_loglik(crm.mbgnbd_model, float8, float8, float8) IS 'MBG/NBD log-likelihood of one client summary (frequency, recency, t)';
COMMENT ON FUNCTION crm.mbgnbd_p_alive(crm.mbgnbd_model, float8, float8, float8) IS 'MBG/NBD probability that the client is still active at t (below 1 for frequency 0 too)';
COMMENT ON FUNCTION crm.mbgnbd_expected_purchases(crm.mbgnbd_model, float8, float8, float8, float8) IS 'MBG/NBD expected repeat purchases in the next horizon time units, given the client summary';
COMMENT ON FUNCTION crm.mbgnbd_expected_purchases(crm.mbgnbd_model, float8) IS 'MBG/NBD expected repeat purchases of a new client in its first horizon time units';
COMMENT ON FUNCTION crm.clv(crm.mbgnbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8) IS 'discounted CLV: expected spend times MBG/NBD expected purchases per period of the horizon, discounted at discount_rate per period';
COMMENT ON FUNCTION crm.bgbb_loglik(crm.bgbb_model, float8, float8, float8) IS 'BG/BB log-likelihood of one client summary (frequency, recency, periods)';
COMMENT ON FUNCTION crm.bgbb_p_alive(crm.bgbb_model, float8, float8, float8) IS 'BG/BB probability that the client is alive at the next opportunity, periods + 1';
COMMENT ON FUNCTION crm.bgbb_expected_purchases(crm.bgbb_model, float8, float8, float8, float8) IS 'BG/BB expected transactions at the next horizon opportunities (a whole number), given the client summary';
COMMENT ON FUNCTION crm.bgbb_expected_purchases(crm.bgbb_model, float8) IS 'BG/BB expected transactions of a new client at its first horizon opportunities';

/*
 * BG/NBD with time-invariant covariates (src/clv_covariates.c): the rows in
 * an internal state, serialised for parallel query.
 */
CREATE TYPE crm.bgnbd_cov_model AS (
	r						float8,
	alpha					float8,
	a						float8,
	b						float8,
	purchase_coefficients	float8[],
	dropout_coefficients	float8[],
	loglik					float8,
	n						bigint,
	iterations				integer,
	converged				boolean
);
COMMENT ON TYPE crm.bgnbd_cov_model IS 'a fitted BG/NBD model with time-invariant covariates: a client''s alpha = alpha exp(-purchase_coefficients . purchase_covariates), a = a exp(dropout_coefficients . dropout_covariates), r and b common; total log-likelihood, clients, optimiser iterations, convergence';

CREATE FUNCTION crm.clv_cov_trans(internal, float8, float8, float8, float8[], float8[])
RETURNS internal AS 'MODULE_PATHNAME', 'clv_cov_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_cov_trans(internal, float8, float8, float8, float8[], float8[], float8)
RETURNS internal AS 'MODULE_PATHNAME', 'clv_cov_trans'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_cov_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clv_cov_combine'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION crm.clv_cov_serial(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'clv_cov_serial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_cov_deserial(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'clv_cov_deserial'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgnbd_cov_final(internal) RETURNS crm.bgnbd_cov_model
AS 'MODULE_PATHNAME', 'clv_bgnbd_cov_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_cov_trans(internal, float8, float8, float8, float8[], float8[]) IS 'transition function of crm.bgnbd_cov_fit';
COMMENT ON FUNCTION crm.clv_cov_trans(internal, float8, float8, float8, float8[], float8[], float8) IS 'transition function of crm.bgnbd_cov_fit with a penalty';
COMMENT ON FUNCTION crm.clv_cov_combine(internal, internal) IS 'combine function of crm.bgnbd_cov_fit';
COMMENT ON FUNCTION crm.clv_cov_serial(internal) IS 'serialisation function of crm.bgnbd_cov_fit';
COMMENT ON FUNCTION crm.clv_cov_deserial(bytea, internal) IS 'deserialisation function of crm.bgnbd_cov_fit';
COMMENT ON FUNCTION crm.clv_bgnbd_cov_final(internal) IS 'final function of crm.bgnbd_cov_fit: the maximum-likelihood fit';

CREATE AGGREGATE crm.bgnbd_cov_fit(frequency float8, recency float8, t float8,
								   purchase_covariates float8[], dropout_covariates float8[]) (
	SFUNC = crm.clv_cov_trans,
	STYPE = internal,
	FINALFUNC = crm.clv_bgnbd_cov_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine,
	SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.bgnbd_cov_fit(frequency float8, recency float8, t float8,
								   purchase_covariates float8[], dropout_covariates float8[], penalty float8) (
	SFUNC = crm.clv_cov_trans,
	STYPE = internal,
	FINALFUNC = crm.clv_bgnbd_cov_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine,
	SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.bgnbd_cov_fit(float8, float8, float8, float8[], float8[]) IS 'maximum-likelihood BG/NBD fit with time-invariant covariates on the purchase rate (alpha) and the drop-out (a) over per-client (frequency, recency, t, purchase_covariates, dropout_covariates)';
COMMENT ON AGGREGATE crm.bgnbd_cov_fit(float8, float8, float8, float8[], float8[], float8) IS 'maximum-likelihood BG/NBD fit with covariates and an L2 penalty (on r, alpha, a, b in scaled time and on the coefficients of the standardised covariates)';

CREATE FUNCTION crm.bgnbd_cov_client(model crm.bgnbd_cov_model, purchase_covariates float8[],
									 dropout_covariates float8[])
RETURNS crm.bgnbd_model AS 'MODULE_PATHNAME', 'clv_bgnbd_cov_client'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.bgnbd_cov_client(crm.bgnbd_cov_model, float8[], float8[]) IS 'the BG/NBD model of a client with these covariates (r, alpha exp(-purchase_coefficients . purchase_covariates), a exp(dropout_coefficients . dropout_covariates), b), for every BG/NBD prediction';

/* Pareto/NBD with time-invariant covariates, as in CLVTools */
CREATE TYPE crm.pareto_nbd_cov_model AS (
	r						float8,
	alpha					float8,
	s						float8,
	beta					float8,
	purchase_coefficients	float8[],
	dropout_coefficients	float8[],
	loglik					float8,
	n						bigint,
	iterations				integer,
	converged				boolean
);
COMMENT ON TYPE crm.pareto_nbd_cov_model IS 'a fitted Pareto/NBD model with time-invariant covariates: a client''s alpha = alpha exp(-purchase_coefficients . purchase_covariates), beta = beta exp(-dropout_coefficients . dropout_covariates), r and s common; total log-likelihood, clients, optimiser iterations, convergence';

CREATE FUNCTION crm.clv_pareto_cov_final(internal) RETURNS crm.pareto_nbd_cov_model
AS 'MODULE_PATHNAME', 'clv_pareto_cov_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_pareto_cov_final(internal) IS 'final function of crm.pareto_nbd_cov_fit: the maximum-likelihood fit';

CREATE AGGREGATE crm.pareto_nbd_cov_fit(frequency float8, recency float8, t float8,
										purchase_covariates float8[], dropout_covariates float8[]) (
	SFUNC = crm.clv_cov_trans,
	STYPE = internal,
	FINALFUNC = crm.clv_pareto_cov_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine,
	SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial,
	PARALLEL = SAFE
);
CREATE AGGREGATE crm.pareto_nbd_cov_fit(frequency float8, recency float8, t float8,
										purchase_covariates float8[], dropout_covariates float8[], penalty float8) (
	SFUNC = crm.clv_cov_trans,
	STYPE = internal,
	FINALFUNC = crm.clv_pareto_cov_final,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine,
	SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.pareto_nbd_cov_fit(float8, float8, float8, float8[], float8[]) IS 'maximum-likelihood Pareto/NBD fit with time-invariant covariates on the purchase rate (alpha) and the drop-out rate (beta), as in CLVTools, over per-client (frequency, recency, t, purchase_covariates, dropout_covariates)';
COMMENT ON AGGREGATE crm.pareto_nbd_cov_fit(float8, float8, float8, float8[], float8[], float8) IS 'maximum-likelihood Pareto/NBD fit with covariates and an L2 penalty (on r, alpha, s, beta in scaled time and on the coefficients of the standardised covariates)';

CREATE FUNCTION crm.pareto_nbd_cov_client(model crm.pareto_nbd_cov_model, purchase_covariates float8[],
										  dropout_covariates float8[])
RETURNS crm.pareto_nbd_model AS 'MODULE_PATHNAME', 'clv_pareto_cov_client'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.pareto_nbd_cov_client(crm.pareto_nbd_cov_model, float8[], float8[]) IS 'the Pareto/NBD model of a client with these covariates (r, alpha exp(-purchase_coefficients . purchase_covariates), s, beta exp(-dropout_coefficients . dropout_covariates)), for every Pareto/NBD prediction';

/*
 * The _or_null forms of the MBG/NBD, BG/BB and covariate fits, as those of
 * crm.bgnbd_fit (sql/install/80_clv.sql): where the data cannot identify
 * the model or the fit does not converge, a notice saying why and a null
 * model; bad input is still an error.
 */
CREATE FUNCTION crm.clv_mbgnbd_final_or_null(crm.clv_fit_state) RETURNS crm.mbgnbd_model
AS 'MODULE_PATHNAME', 'clv_mbgnbd_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgbb_final_or_null(crm.clv_fit_state) RETURNS crm.bgbb_model
AS 'MODULE_PATHNAME', 'clv_bgbb_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_bgnbd_cov_final_or_null(internal) RETURNS crm.bgnbd_cov_model
AS 'MODULE_PATHNAME', 'clv_bgnbd_cov_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION crm.clv_pareto_cov_final_or_null(internal) RETURNS crm.pareto_nbd_cov_model
AS 'MODULE_PATHNAME', 'clv_pareto_cov_final_or_null'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.clv_mbgnbd_final_or_null(crm.clv_fit_state) IS 'final function of crm.mbgnbd_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_bgbb_final_or_null(crm.clv_fit_state) IS 'final function of crm.bgbb_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_bgnbd_cov_final_or_null(internal) IS 'final function of crm.bgnbd_cov_fit_or_null: the fit, or a notice and null';
COMMENT ON FUNCTION crm.clv_pareto_cov_final_or_null(internal) IS 'final function of crm.pareto_nbd_cov_fit_or_null: the fit, or a notice and null';

CREATE AGGREGATE crm.mbgnbd_fit_or_null(frequency float8, recency float8, t float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_mbgnbd_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.mbgnbd_fit_or_null(frequency float8, recency float8, t float8, penalty float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_mbgnbd_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgbb_fit_or_null(frequency float8, recency float8, periods float8) (
	SFUNC = crm.clv_bgbb_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgbb_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgbb_fit_or_null(frequency float8, recency float8, periods float8, penalty float8) (
	SFUNC = crm.clv_bgbb_trans, STYPE = crm.clv_fit_state,
	FINALFUNC = crm.clv_bgbb_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_fit_combine, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgnbd_cov_fit_or_null(frequency float8, recency float8, t float8,
										   purchase_covariates float8[], dropout_covariates float8[]) (
	SFUNC = crm.clv_cov_trans, STYPE = internal,
	FINALFUNC = crm.clv_bgnbd_cov_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine, SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial, PARALLEL = SAFE);
CREATE AGGREGATE crm.bgnbd_cov_fit_or_null(frequency float8, recency float8, t float8,
										   purchase_covariates float8[], dropout_covariates float8[], penalty float8) (
	SFUNC = crm.clv_cov_trans, STYPE = internal,
	FINALFUNC = crm.clv_bgnbd_cov_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine, SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial, PARALLEL = SAFE);
CREATE AGGREGATE crm.pareto_nbd_cov_fit_or_null(frequency float8, recency float8, t float8,
												purchase_covariates float8[], dropout_covariates float8[]) (
	SFUNC = crm.clv_cov_trans, STYPE = internal,
	FINALFUNC = crm.clv_pareto_cov_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine, SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial, PARALLEL = SAFE);
CREATE AGGREGATE crm.pareto_nbd_cov_fit_or_null(frequency float8, recency float8, t float8,
												purchase_covariates float8[], dropout_covariates float8[], penalty float8) (
	SFUNC = crm.clv_cov_trans, STYPE = internal,
	FINALFUNC = crm.clv_pareto_cov_final_or_null, FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.clv_cov_combine, SERIALFUNC = crm.clv_cov_serial,
	DESERIALFUNC = crm.clv_cov_deserial, PARALLEL = SAFE);
COMMENT ON AGGREGATE crm.mbgnbd_fit_or_null(float8, float8, float8) IS 'crm.mbgnbd_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.mbgnbd_fit_or_null(float8, float8, float8, float8) IS 'crm.mbgnbd_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgbb_fit_or_null(float8, float8, float8) IS 'crm.bgbb_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgbb_fit_or_null(float8, float8, float8, float8) IS 'crm.bgbb_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgnbd_cov_fit_or_null(float8, float8, float8, float8[], float8[]) IS 'crm.bgnbd_cov_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.bgnbd_cov_fit_or_null(float8, float8, float8, float8[], float8[], float8) IS 'crm.bgnbd_cov_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.pareto_nbd_cov_fit_or_null(float8, float8, float8, float8[], float8[]) IS 'crm.pareto_nbd_cov_fit, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
COMMENT ON AGGREGATE crm.pareto_nbd_cov_fit_or_null(float8, float8, float8, float8[], float8[], float8) IS 'crm.pareto_nbd_cov_fit with a penalty, or a notice saying why and null where the data cannot identify the model or the fit does not converge';
