--
-- CLV contract: labels of the functions and aggregates, the state type, and
-- the SQLSTATE of each kind of error.
--
BEGIN;
SELECT plan(33);

SELECT has_type('crm', 'clv_fit_state', 'state type crm.clv_fit_state exists');
SELECT has_composite('crm', 'bgnbd_model', 'crm.bgnbd_model is a composite');
SELECT columns_are('crm', 'bgnbd_model', ARRAY['r', 'alpha', 'a', 'b', 'loglik', 'n', 'iterations', 'converged', 'std_errors', 'covariance'],
				   'bgnbd_model columns');
SELECT columns_are('crm', 'pareto_nbd_model', ARRAY['r', 'alpha', 's', 'beta', 'loglik', 'n', 'iterations', 'converged', 'std_errors', 'covariance'],
				   'pareto_nbd_model columns');
SELECT columns_are('crm', 'gamma_gamma_model', ARRAY['p', 'q', 'v', 'loglik', 'n', 'iterations', 'converged', 'std_errors', 'covariance'],
				   'gamma_gamma_model columns');

-- the fits: aggregates with a combine function, parallel safe, read-only final function
SELECT is_empty($$
	SELECT a.aggfnoid::regprocedure::text FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
	 WHERE p.pronamespace = 'crm'::regnamespace AND p.proname IN ('bgnbd_fit', 'pareto_nbd_fit', 'gamma_gamma_fit')
	   AND (a.aggcombinefn = 0 OR p.proparallel <> 's' OR a.aggfinalmodify <> 'r'
			OR a.aggtranstype <> 'crm.clv_fit_state'::regtype)$$,
	'every fit has a combine function, is parallel safe, reads its state only, keeps crm.clv_fit_state');
SELECT is((SELECT count(*)::integer FROM pg_proc WHERE pronamespace = 'crm'::regnamespace
			  AND proname IN ('bgnbd_fit', 'pareto_nbd_fit', 'gamma_gamma_fit') AND prokind = 'a'),
		  6, 'six fitting aggregates (each with and without a penalty)');
-- predictions: IMMUTABLE, STRICT, PARALLEL SAFE
SELECT is_empty($$
	SELECT oid::regprocedure::text FROM pg_proc
	 WHERE pronamespace = 'crm'::regnamespace
	   AND proname IN ('bgnbd_p_alive', 'bgnbd_expected_purchases', 'bgnbd_loglik',
					   'pareto_nbd_p_alive', 'pareto_nbd_expected_purchases', 'pareto_nbd_loglik',
					   'gamma_gamma_expected_spend', 'gamma_gamma_loglik', 'clv')
	   AND (provolatile <> 'i' OR NOT proisstrict OR proparallel <> 's')$$,
	'predictions are IMMUTABLE STRICT PARALLEL SAFE');
SELECT is((SELECT count(*)::integer FROM pg_proc WHERE pronamespace = 'crm'::regnamespace
			  AND proname IN ('bgnbd_p_alive', 'bgnbd_expected_purchases', 'pareto_nbd_p_alive',
							  'pareto_nbd_expected_purchases', 'gamma_gamma_expected_spend', 'clv')),
		  10, 'ten prediction functions (two expected_purchases each, three clv)');
-- functions that read tables: STABLE, PARALLEL SAFE, with a search_path
SELECT is_empty($$
	SELECT oid::regprocedure::text FROM pg_proc
	 WHERE pronamespace = 'crm'::regnamespace
	   AND proname IN ('clv_summary', 'clv_report', 'ltv_cac')
	   AND (provolatile <> 's' OR proparallel <> 's'
			OR NOT 'search_path=pg_catalog, crm, pg_temp' = ANY (proconfig))$$,
	'clv_summary, clv_report and ltv_cac are STABLE PARALLEL SAFE with a fixed search_path');
SELECT volatility_is('crm', 'retention_clv', ARRAY['double precision', 'double precision', 'double precision', 'integer'],
					 'immutable', 'retention_clv is IMMUTABLE');

-- the state type's text form round-trips exactly
SELECT is('bgnbd;0.001;3,0.1,0.30000000000000004,2;0,0,1e-300,1'::crm.clv_fit_state::text,
		  'bgnbd;0.001;3,0.1,0.30000000000000004,2;0,0,1e-300,1', 'state text round-trips');

-- SQLSTATEs
SELECT throws_ok($$SELECT crm.bgnbd_fit(2, 40, 38.86)$$, '22023', NULL, 'recency > t: 22023');
SELECT throws_ok($$SELECT crm.pareto_nbd_fit(-1, 0, 3)$$, '22023', NULL, 'negative frequency: 22023');
SELECT throws_ok($$SELECT crm.gamma_gamma_fit(2, 0)$$, '22023', NULL, 'monetary 0: 22023');
SELECT throws_ok($$SELECT crm.bgnbd_fit(0, 0, t) FROM generate_series(1, 5) t$$, '22023',
				 'cannot fit the bgnbd model: no client made a repeat purchase', 'unidentifiable: 22023');
SELECT throws_ok($$SELECT crm.bgnbd_fit(1, 1, 2, NULL)$$, '22004', NULL, 'null penalty: 22004');
SELECT throws_ok($$SELECT 'bgnbd;0;1,2'::crm.clv_fit_state$$, '22P02', NULL, 'bad state text: 22P02');
SELECT throws_ok($$SELECT 'bgnbd;0;1,2,3,0'::crm.clv_fit_state$$, '22P02', NULL, 'bad count: 22P02');
SELECT throws_ok($$SELECT crm.bgnbd_p_alive(ROW(-1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL), 1, 1, 2)$$, '22023', NULL,
				 'bad model: 22023');
SELECT throws_ok($$SELECT crm.bgnbd_expected_purchases(ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL), -1)$$, '22023', NULL,
				 'negative horizon: 22023');
SELECT throws_ok($$SELECT crm.clv_summary(now(), 'fortnight')$$, '22023', NULL, 'unknown unit: 22023');
SELECT throws_ok($$SELECT crm.retention_clv(1, 1)$$, '22023', NULL, 'retention 1: 22023');
SELECT throws_ok($$SELECT crm.clv_fit_combine('bgnbd;0', 'gamma_gamma;0')$$, '22023', NULL, 'combine kinds: 22023');


-- MBG/NBD and BG/BB
SELECT columns_are('crm', 'mbgnbd_model', ARRAY['r', 'alpha', 'a', 'b', 'loglik', 'n', 'iterations', 'converged'],
				   'mbgnbd_model columns');
SELECT columns_are('crm', 'bgbb_model', ARRAY['alpha', 'beta', 'gamma', 'delta', 'loglik', 'n', 'iterations', 'converged'],
				   'bgbb_model columns');
SELECT is_empty($$
	SELECT a.aggfnoid::regprocedure::text FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
	 WHERE p.pronamespace = 'crm'::regnamespace AND p.proname IN ('mbgnbd_fit', 'bgbb_fit')
	   AND (a.aggcombinefn = 0 OR p.proparallel <> 's' OR a.aggfinalmodify <> 'r'
			OR a.aggtranstype <> 'crm.clv_fit_state'::regtype)$$,
	'the MBG/NBD and BG/BB fits have a combine function, are parallel safe, read their state only');
SELECT is((SELECT count(*)::integer FROM pg_proc WHERE pronamespace = 'crm'::regnamespace
			  AND proname IN ('mbgnbd_fit', 'bgbb_fit') AND prokind = 'a'),
		  4, 'four more fitting aggregates (each with and without a penalty)');
SELECT is_empty($$
	SELECT oid::regprocedure::text FROM pg_proc
	 WHERE pronamespace = 'crm'::regnamespace
	   AND proname IN ('mbgnbd_p_alive', 'mbgnbd_expected_purchases', 'mbgnbd_loglik',
					   'bgbb_p_alive', 'bgbb_expected_purchases', 'bgbb_loglik')
	   AND (provolatile <> 'i' OR NOT proisstrict OR proparallel <> 's')$$,
	'MBG/NBD and BG/BB predictions are IMMUTABLE STRICT PARALLEL SAFE');
SELECT is_empty($$
	SELECT oid::regprocedure::text FROM pg_proc
	 WHERE pronamespace = 'crm'::regnamespace
	   AND proname IN ('clv_calibration_holdout', 'clv_holdout_diagnostics', 'clv_holdout_diagnostics_run',
					   'bgbb_calibration_holdout')
	   AND (provolatile <> 's' OR proparallel <> 's'
			OR NOT 'search_path=pg_catalog, crm, pg_temp' = ANY (proconfig))$$,
	'the calibration/holdout functions are STABLE PARALLEL SAFE with a fixed search_path');
SELECT is_empty($$
	SELECT a.aggfnoid::regprocedure::text FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
	 WHERE p.pronamespace = 'crm'::regnamespace AND p.proname IN ('bgnbd_cov_fit', 'pareto_nbd_cov_fit')
	   AND (a.aggcombinefn = 0 OR a.aggserialfn = 0 OR a.aggdeserialfn = 0 OR p.proparallel <> 's'
			OR a.aggfinalmodify <> 'r')$$,
	'the covariate fits combine, serialise and are parallel safe');
SELECT is((SELECT count(*)::integer FROM pg_proc WHERE pronamespace = 'crm'::regnamespace
			  AND proname IN ('bgnbd_cov_fit', 'pareto_nbd_cov_fit') AND prokind = 'a'),
		  4, 'four covariate fitting aggregates (each with and without a penalty)');
SELECT throws_ok($$SELECT crm.bgbb_fit(2, 1, 6)$$, '22023', 'frequency 2 exceeds recency 1', 'BG/BB impossible summary: 22023');

SELECT * FROM finish();
ROLLBACK;
