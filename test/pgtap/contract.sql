--
-- The contract of crm's public functions on bad input, walked over the
-- catalogue: every function of the schema crm whose comment does not start
-- with "internal:" or "trigger:" is classified below (a function not
-- classified, or classified but gone, fails the first two tests), and each
-- class's rule is checked by calling the functions:
--
--   pure       NULL in, NULL out: STRICT
--   own_nulls  pure math with documented rules for NULL (IMMUTABLE, so it
--              reads no table)
--   aggregate  an aggregate, and support functions PostgreSQL calls for one
--   trigger    a trigger function
--   no_args    no argument to be NULL
--   helper     crm.refuse_in_citus_task: raises, outside a Citus task, nothing
--   policy     crm.owns_client: the predicate of the manager policies, false
--              (never an error) for a client that is not there
--   table      reads or writes tables: not STRICT; NULL in a required
--              argument (every one not listed as nullable) is
--              22004 "<argument> must not be NULL"; a client_id with no row
--              in crm.clients is P0002 "client <id> does not exist", and so
--              is, for crm_manager, a client it does not own; an
--              unknown segment map, contact channel or loyalty programme is
--              22023 naming it
--
-- Every error is also required to come with at most one line of context
-- from crm (no text of a query of crm's own).
--
BEGIN;

CREATE TEMP TABLE contract (
	fn			regprocedure PRIMARY KEY,
	class		text NOT NULL CHECK (class IN ('pure', 'own_nulls', 'aggregate', 'trigger',
											   'no_args', 'helper', 'policy', 'table')),
	args		jsonb NOT NULL DEFAULT '{}',	-- table: a valid value (SQL) per argument
	nullable	text[] NOT NULL DEFAULT '{}'	-- table: arguments whose NULL has a meaning
);

INSERT INTO contract (fn, class)
SELECT f::regprocedure, 'pure' FROM unnest(ARRAY[
	'crm.recency_days(timestamptz, timestamptz)',
	'crm.rfm(integer, integer, integer)',
	'crm.recency_score(crm.rfm)', 'crm.frequency_score(crm.rfm)', 'crm.monetary_score(crm.rfm)',
	'crm.rfm_in(cstring)', 'crm.rfm_out(crm.rfm)', 'crm.rfm_recv(internal)', 'crm.rfm_send(crm.rfm)',
	'crm.rfm_eq(crm.rfm, crm.rfm)', 'crm.rfm_ne(crm.rfm, crm.rfm)', 'crm.rfm_lt(crm.rfm, crm.rfm)',
	'crm.rfm_le(crm.rfm, crm.rfm)', 'crm.rfm_gt(crm.rfm, crm.rfm)', 'crm.rfm_ge(crm.rfm, crm.rfm)',
	'crm.rfm_cmp(crm.rfm, crm.rfm)', 'crm.rfm_hash(crm.rfm)', 'crm.rfm_hash_extended(crm.rfm, bigint)',
	'crm.quantile_state_in(cstring)', 'crm.quantile_state_out(crm.quantile_state)',
	'crm.quantile_state_recv(internal)', 'crm.quantile_state_send(crm.quantile_state)',
	'crm.clv_fit_state_in(cstring)', 'crm.clv_fit_state_out(crm.clv_fit_state)',
	'crm.threshold_score(float8, float8[], boolean)',
	'crm.abc_class(float8, float8, float8)',
	'crm.churn_options(jsonb)',
	'crm.clv_unit_days(text)',
	'crm.purchase_profile_from_state(bytea)',
	'crm.purchase_profile_state_size()',
	'crm.loyalty_is_birthday(date, date)',
	'crm.bgnbd_loglik(crm.bgnbd_model, float8, float8, float8)',
	'crm.bgnbd_p_alive(crm.bgnbd_model, float8, float8, float8)',
	'crm.bgnbd_expected_purchases(crm.bgnbd_model, float8)',
	'crm.bgnbd_expected_purchases(crm.bgnbd_model, float8, float8, float8, float8)',
	'crm.pareto_nbd_loglik(crm.pareto_nbd_model, float8, float8, float8)',
	'crm.pareto_nbd_p_alive(crm.pareto_nbd_model, float8, float8, float8)',
	'crm.pareto_nbd_expected_purchases(crm.pareto_nbd_model, float8)',
	'crm.pareto_nbd_expected_purchases(crm.pareto_nbd_model, float8, float8, float8, float8)',
	'crm.gamma_gamma_loglik(crm.gamma_gamma_model, float8, float8)',
	'crm.gamma_gamma_expected_spend(crm.gamma_gamma_model, float8, float8)',
	'crm.clv(crm.bgnbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8)',
	'crm.clv(crm.pareto_nbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8)',
	'crm.mbgnbd_loglik(crm.mbgnbd_model, float8, float8, float8)',
	'crm.mbgnbd_p_alive(crm.mbgnbd_model, float8, float8, float8)',
	'crm.mbgnbd_expected_purchases(crm.mbgnbd_model, float8)',
	'crm.mbgnbd_expected_purchases(crm.mbgnbd_model, float8, float8, float8, float8)',
	'crm.clv(crm.mbgnbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8)',
	'crm.bgbb_loglik(crm.bgbb_model, float8, float8, float8)',
	'crm.bgbb_p_alive(crm.bgbb_model, float8, float8, float8)',
	'crm.bgbb_expected_purchases(crm.bgbb_model, float8)',
	'crm.bgbb_expected_purchases(crm.bgbb_model, float8, float8, float8, float8)',
	'crm.bgnbd_cov_client(crm.bgnbd_cov_model, float8[], float8[])',
	'crm.pareto_nbd_cov_client(crm.pareto_nbd_cov_model, float8[], float8[])'
]) f;

-- CLV: probabilities of n purchases and prediction intervals
INSERT INTO contract (fn, class)
SELECT f::regprocedure, 'pure' FROM unnest(ARRAY[
	'crm.bgnbd_probability_of_purchases(crm.bgnbd_model, integer, float8, float8, float8, float8)',
	'crm.pareto_nbd_probability_of_purchases(crm.pareto_nbd_model, integer, float8, float8, float8, float8)',
	'crm.bgnbd_p_alive_interval(crm.bgnbd_model, float8, float8, float8, float8)',
	'crm.pareto_nbd_p_alive_interval(crm.pareto_nbd_model, float8, float8, float8, float8)',
	'crm.bgnbd_expected_purchases_interval(crm.bgnbd_model, float8, float8, float8, float8, float8)',
	'crm.pareto_nbd_expected_purchases_interval(crm.pareto_nbd_model, float8, float8, float8, float8, float8)',
	'crm.bgnbd_probability_of_purchases_interval(crm.bgnbd_model, integer, float8, float8, float8, float8, float8)',
	'crm.pareto_nbd_probability_of_purchases_interval(crm.pareto_nbd_model, integer, float8, float8, float8, float8, float8)',
	'crm.gamma_gamma_expected_spend_interval(crm.gamma_gamma_model, float8, float8, float8)',
	'crm.clv_interval(crm.bgnbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8, float8)',
	'crm.clv_interval(crm.pareto_nbd_model, crm.gamma_gamma_model, float8, float8, float8, float8, float8, float8, float8, float8)'
]) f;

INSERT INTO contract (fn, class)
SELECT f::regprocedure, 'own_nulls' FROM unnest(ARRAY[
	'crm.churn_signal(crm.purchase_profile, timestamptz, float8, bigint, bigint, timestamptz, bigint, jsonb, bigint, bigint[])',
	'crm.churn_class_scores(crm.purchase_profile, timestamptz, float8, bigint, bigint, timestamptz, bigint, jsonb, bigint, bigint[])',
	'crm.retention_clv(float8, float8, float8, integer)'
]) f;

-- the aggregates and their support functions
INSERT INTO contract (fn, class)
SELECT p.oid::regprocedure, 'aggregate'
  FROM pg_proc p
 WHERE p.pronamespace = 'crm'::regnamespace
   AND (p.prokind = 'a'
		OR EXISTS (SELECT 1 FROM pg_aggregate a
					WHERE p.oid IN (a.aggtransfn, a.aggfinalfn, a.aggcombinefn,
									a.aggserialfn, a.aggdeserialfn)));

INSERT INTO contract (fn, class)
SELECT f::regprocedure, 'trigger' FROM unnest(ARRAY[
	'crm.refuse_future_row()', 'crm.segment_maps_check()', 'crm.clients_keep_discount_rules()',
	'crm.log_profile_change()'
]) f;

INSERT INTO contract (fn, class)
SELECT f::regprocedure, 'no_args' FROM unnest(ARRAY[
	'crm.future_tolerance()', 'crm.fast_path_stats()', 'crm.fast_path_stats_reset()',
	'crm.in_citus_task()', 'crm.sync_sequences()', 'crm.owned_client_ids()',
	'crm.distribution_plan()', 'crm.verify_ledger()', 'crm.check_ledger()'
]) f;

INSERT INTO contract (fn, class) VALUES
	('crm.refuse_in_citus_task(text)', 'helper'),
	('crm.owns_client(bigint)', 'policy');

-- client 880001 exists (with a paid order 880001 and an account in the
-- programme "contract"), client 880999 does not
INSERT INTO contract (fn, class, args, nullable) VALUES
	('crm.client_profiles(timestamptz)', 'table', '{"as_of": "now()"}', '{}'),
	('crm.rfm_scores(timestamptz, text, text)', 'table',
	 '{"as_of": "now()", "map_name": "''rfm11''", "monetary_by": "''total''"}', '{}'),
	('crm.rfm_scores_sql(timestamptz, text, text)', 'table',
	 '{"as_of": "now()", "map_name": "''rfm11''", "monetary_by": "''total''"}', '{}'),
	('crm.segment_map_classes(text)', 'table', '{"map_name": "''rfm11''"}', '{}'),
	('crm.segment_map_cells(text)', 'table', '{"map_name": "''rfm11''"}', '{}'),
	('crm.segment_map_coverage(text)', 'table', '{"map_name": "''rfm11''"}', '{}'),
	('crm.segment_map_problems(text)', 'table', '{"map_name": "''rfm11''"}', '{}'),
	('crm.rfm_segment(crm.rfm, text)', 'table', '{"rfm": "''555''", "map_name": "''rfm11''"}', '{}'),
	('crm.abc_analysis(timestamptz, float8, float8)', 'table',
	 '{"as_of": "now()", "a_share": "0.8", "b_share": "0.95"}', '{}'),
	('crm.product_affinity(timestamptz, float8, timestamptz, text)', 'table',
	 '{"as_of": "now()", "min_support": "0.01", "since": "''-infinity''", "level": "''product''"}', '{}'),
	('crm.segment_category_revenue(timestamptz, text)', 'table',
	 '{"as_of": "now()", "map_name": "''rfm11''"}', '{}'),
	('crm.category_subtree(integer)', 'table', '{"category_id": "880001"}', '{}'),
	('crm.churn_signals(timestamptz, jsonb)', 'table', '{"as_of": "now()", "options": "''{}''"}', '{}'),
	('crm.churn_signals_sql(timestamptz, jsonb)', 'table', '{"as_of": "now()", "options": "''{}''"}', '{}'),
	('crm.explain_class(bigint, timestamptz, jsonb)', 'table',
	 '{"client_id": "880001", "as_of": "now()", "options": "''{}''"}', '{}'),
	('crm.repeat_curve(timestamptz, timestamptz)', 'table',
	 '{"as_of": "now()", "since": "''-infinity''"}', '{}'),
	('crm.cohort_retention(timestamptz, text)', 'table', '{"as_of": "now()", "period": "''month''"}', '{}'),
	('crm.refresh_segments(timestamptz, jsonb, text, integer, boolean)', 'table',
	 '{"as_of": "now()", "options": "''{}''", "map_name": "''rfm11''", "notify_limit": "0", "allow_future": "false"}', '{}'),
	('crm.rewind_segments(timestamptz)', 'table', '{"to_as_of": "now()"}', '{}'),
	('crm.refresh_profiles(timestamptz, jsonb, boolean)', 'table',
	 '{"as_of": "now()", "options": "''{}''", "rebuild": "false"}', '{}'),
	('crm.contact_check(bigint, text, timestamptz)', 'table',
	 '{"client_id": "880001", "channel": "''email''", "at": "now()"}', '{}'),
	('crm.can_contact(bigint, text, timestamptz)', 'table',
	 '{"client_id": "880001", "channel": "''email''", "at": "now()"}', '{}'),
	('crm.client_card(bigint, integer)', 'table', '{"client_id": "880001", "last_interactions": "10"}', '{}'),
	('crm.clv_summary(timestamptz, text, text)', 'table',
	 '{"as_of": "now()", "unit": "''day''", "time_zone": "''UTC''"}', '{}'),
	('crm.clv_calibration_holdout(timestamptz, timestamptz, text, text)', 'table',
	 '{"calibration_end": "now() - interval ''30 days''", "holdout_end": "now()", "unit": "''day''", "time_zone": "''UTC''"}', '{}'),
	('crm.clv_holdout_diagnostics(crm.bgnbd_model, timestamptz, timestamptz, text, float8, integer, text)', 'table',
	 '{"model": "ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL)", "calibration_end": "now() - interval ''30 days''", "holdout_end": "now()", "unit": "''day''", "period": "7", "max_frequency": "7", "time_zone": "''UTC''"}', '{}'),
	('crm.clv_holdout_diagnostics(crm.mbgnbd_model, timestamptz, timestamptz, text, float8, integer, text)', 'table',
	 '{"model": "ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL)", "calibration_end": "now() - interval ''30 days''", "holdout_end": "now()", "unit": "''day''", "period": "7", "max_frequency": "7", "time_zone": "''UTC''"}', '{}'),
	('crm.clv_holdout_diagnostics(crm.pareto_nbd_model, timestamptz, timestamptz, text, float8, integer, text)', 'table',
	 '{"model": "ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL)", "calibration_end": "now() - interval ''30 days''", "holdout_end": "now()", "unit": "''day''", "period": "7", "max_frequency": "7", "time_zone": "''UTC''"}', '{}'),
	('crm.bgbb_calibration_holdout(timestamptz, timestamptz, text, text)', 'table',
	 '{"calibration_end": "now() - interval ''30 days''", "holdout_end": "now()", "unit": "''week''", "time_zone": "''UTC''"}', '{}'),
	('crm.clv_holdout_diagnostics(crm.bgbb_model, timestamptz, timestamptz, text, integer, text)', 'table',
	 '{"model": "ROW(1, 1, 1, 1, NULL, NULL, NULL, NULL)", "calibration_end": "now() - interval ''30 days''", "holdout_end": "now()", "unit": "''week''", "max_frequency": "7", "time_zone": "''UTC''"}', '{}'),
	('crm.clv_report(timestamptz, float8, text, float8, float8, float8, text, crm.bgnbd_model, crm.gamma_gamma_model)', 'table',
	 '{"as_of": "now()", "horizon": "30", "unit": "''day''", "discount_rate": "0", "period": "1", "penalty": "0", "time_zone": "''UTC''", "transactions": "NULL", "spend": "NULL"}',
	 '{transactions,spend}'),
	('crm.ltv_cac(timestamptz, float8, text, float8, float8, float8, float8, text)', 'table',
	 '{"as_of": "now()", "horizon": "30", "unit": "''day''", "discount_rate": "0", "period": "1", "margin_rate": "NULL", "penalty": "0", "time_zone": "''UTC''"}',
	 '{margin_rate}'),
	('crm.price_cart(bigint, jsonb, timestamptz)', 'table',
	 '{"client_id": "880001", "cart": "''[{\"product_id\": 880001, \"quantity\": 1, \"price_list_id\": 880001}]''", "at": "now()"}', '{}'),
	('crm.record_priced_cart(jsonb, text, text, text)', 'table',
	 '{"quote": "crm.price_cart(880001, ''[{\"product_id\": 880001, \"quantity\": 1, \"price_list_id\": 880001}]'')", "channel": "''web''", "status": "''placed''", "external_ref": "NULL"}',
	 '{external_ref}'),
	('crm.anonymize_client(bigint)', 'table', '{"client_id": "880001"}', '{}'),
	('crm.distribute(integer)', 'table', '{"shard_count": "NULL"}', '{shard_count}'),
	-- the loyalty functions
	('crm.open_loyalty_account(bigint, text)', 'table', '{"client_id": "880001", "program": "''contract''"}', '{}'),
	('crm.earn_points(bigint, text, bigint, text, bigint, timestamptz, text, text)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "points": "10", "idempotency_key": "''contract-earn''", "order_id": "NULL", "expires_at": "NULL", "note": "NULL", "actor": "NULL"}',
	 '{order_id,expires_at,note,actor}'),
	('crm.redeem_points(bigint, text, bigint, text, bigint, text, text)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "points": "1", "idempotency_key": "''contract-redeem''", "order_id": "NULL", "note": "NULL", "actor": "NULL"}',
	 '{order_id,note,actor}'),
	('crm.adjust_points(bigint, text, bigint, text, text, timestamptz, text)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "points": "5", "idempotency_key": "''contract-adjust''", "note": "''goodwill''", "expires_at": "NULL", "actor": "NULL"}',
	 '{expires_at,actor}'),
	('crm.reverse_entry(bigint, text, text, text)', 'table',
	 '{"entry_id": "(SELECT min(entry_id) FROM crm.loyalty_ledger WHERE client_id = 880001)", "idempotency_key": "''contract-reverse''", "note": "NULL", "actor": "NULL"}',
	 '{note,actor}'),
	('crm.refund_order_points(bigint, bigint, text, numeric, text, text)', 'table',
	 '{"client_id": "880001", "order_id": "880001", "idempotency_key": "''contract-refund''", "refund_amount": "NULL", "note": "NULL", "actor": "NULL"}',
	 '{refund_amount,note,actor}'),
	('crm.award_order_points(bigint, bigint, text, text)', 'table',
	 '{"client_id": "880001", "order_id": "880001", "program": "''contract''", "actor": "NULL"}', '{actor}'),
	('crm.award_paid_orders(text, timestamptz, text)', 'table',
	 '{"program": "''contract''", "since": "NULL", "actor": "NULL"}', '{since,actor}'),
	('crm.award_welcome_bonus(bigint, text, text)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "actor": "NULL"}', '{actor}'),
	('crm.award_welcome_bonuses(text, text)', 'table', '{"program": "''contract''", "actor": "NULL"}', '{actor}'),
	('crm.award_birthday_bonus(bigint, text, date, text, boolean)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "on_date": "current_date", "actor": "NULL", "allow_other_day": "false"}',
	 '{actor}'),
	('crm.award_birthday_bonuses(text, date, text, boolean)', 'table',
	 '{"program": "''contract''", "on_date": "current_date", "actor": "NULL", "allow_other_day": "false"}', '{actor}'),
	('crm.update_tier(bigint, text, timestamptz, text, boolean)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "as_of": "now()", "actor": "NULL", "allow_future": "false"}',
	 '{actor}'),
	('crm.update_tiers(text, timestamptz, text, boolean)', 'table',
	 '{"program": "''contract''", "as_of": "now()", "actor": "NULL", "allow_future": "false"}', '{actor}'),
	('crm.expire_points(timestamptz, text, text, boolean)', 'table',
	 '{"as_of": "now()", "program": "''contract''", "actor": "NULL", "allow_future": "false"}', '{program,actor}'),
	('crm.points_balance(bigint, text, timestamptz)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "at": "NULL"}', '{at}'),
	('crm.points_statement(bigint, text, timestamptz, timestamptz)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "from_at": "NULL", "to_at": "NULL"}', '{from_at,to_at}'),
	('crm.points_expiring(bigint, text, timestamptz, interval)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "as_of": "now()", "within": "NULL"}', '{within}'),
	('crm.tier_turnover(bigint, text, timestamptz)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "as_of": "now()"}', '{}'),
	-- households
	('crm.create_household(bigint, text, text)', 'table',
	 '{"owner_client_id": "880001", "program": "''contract''", "name": "NULL"}', '{name}'),
	('crm.join_household(bigint, bigint, text, bigint, interval)', 'table',
	 '{"client_id": "880001", "owner_client_id": "880001", "program": "''contract''", "redeem_limit": "NULL", "limit_period": "''30 days''"}',
	 '{redeem_limit}'),
	('crm.leave_household(bigint, text)', 'table',
	 '{"client_id": "880001", "program": "''contract''"}', '{}'),
	('crm.set_household_limit(bigint, bigint, text, bigint, interval)', 'table',
	 '{"owner_client_id": "880001", "client_id": "880001", "program": "''contract''", "redeem_limit": "NULL", "limit_period": "''30 days''"}',
	 '{redeem_limit}'),
	('crm.household_balance(bigint, text)', 'table',
	 '{"client_id": "880001", "program": "''contract''"}', '{}'),
	('crm.household_statement(bigint, text, bigint, timestamptz, timestamptz)', 'table',
	 '{"client_id": "880001", "program": "''contract''", "member": "NULL", "from_at": "NULL", "to_at": "NULL"}',
	 '{member,from_at,to_at}'),
	-- service levels and staff results
	('crm.service_level_for(bigint, text)', 'table',
	 '{"client_id": "880001", "priority": "''normal''"}', '{}'),
	('crm.sla_report(timestamptz, timestamptz)', 'table',
	 '{"from_at": "''-infinity''", "to_at": "now()"}', '{}'),
	('crm.staff_performance(timestamptz, timestamptz, text)', 'table',
	 '{"from_at": "''-infinity''", "to_at": "now()", "by": "''owner''"}', '{}');

/*
 * Checks that may be marked TODO while a change is under way: (function,
 * argument, check).  Empty: every function keeps the contract.
 */
CREATE TEMP TABLE todo (fn regprocedure, arg text, kind text);

-- what the calls need; a manager who does not own client 880001
CREATE ROLE contract_manager IN ROLE crm_manager;
INSERT INTO crm.clients (client_id, kind, first_name) VALUES (880001, 'person', 'Contract');
INSERT INTO crm.categories (category_id, name) VALUES (880001, 'Contract goods');
INSERT INTO crm.products (product_id, sku, name, category_id) VALUES (880001, 'CONTRACT-1', 'Contract', 880001);
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES (880001, 'CONTRACT', 'Contract', 'retail');
INSERT INTO crm.prices VALUES (880001, 880001, 10.00);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (880001, 880001, now() - interval '1 day', 'web', 'paid', 100, 100);
INSERT INTO crm.loyalty_programs (code, name, cashback_percent) VALUES ('contract', 'Contract', 1);
SELECT crm.earn_points(880001, 'contract', 100, 'contract-first');

/* state, message and the context crm adds (the lines of this test's own frames removed) */
CREATE FUNCTION pg_temp.call(q text, who text, OUT state text, OUT message text, OUT context text)
LANGUAGE plpgsql AS $$
BEGIN
	IF who IS NOT NULL THEN
		EXECUTE format('SET LOCAL ROLE %I', who);
	END IF;
	EXECUTE q;
	RESET ROLE;
	state := '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
							context = PG_EXCEPTION_CONTEXT;
	SELECT string_agg(l, E'\n') INTO context
	  FROM regexp_split_to_table(context, E'\n') l
	 WHERE l NOT LIKE 'PL/pgSQL function pg_temp%' AND l NOT LIKE 'SQL function "outcome"%'
	   AND l <> format('SQL statement "%s"', q);
END
$$;

/* "SQLSTATE message", and the context if it is more than one line or quotes a query */
CREATE FUNCTION pg_temp.outcome(q text, who text DEFAULT NULL) RETURNS text
LANGUAGE sql AS $$
	SELECT c.state || coalesce(' ' || c.message, '')
		   || CASE WHEN c.context LIKE E'%\n%' OR c.context LIKE '%SQL statement%'
					 OR c.context LIKE '%SQL expression%'
				   THEN E' (context:\n' || c.context || ')' ELSE '' END
	  FROM pg_temp.call(q, who) c
$$;

/* the call of f with each argument's value from args, and NULL for the one named */
CREATE FUNCTION pg_temp.call_text(f regprocedure, args jsonb, null_arg text) RETURNS text
LANGUAGE sql AS $$
	SELECT format('SELECT * FROM %s(%s)', f::regproc,
				  string_agg(format('%I => %s', a.name,
									CASE WHEN a.name = null_arg THEN 'NULL::' || format_type(a.type, NULL)
										 ELSE '(' || (args ->> a.name) || ')::' || format_type(a.type, NULL) END),
							 ', ' ORDER BY a.n))
	  FROM pg_proc p,
		   unnest(p.proargnames[1:p.pronargs], p.proargtypes::oid[]) WITH ORDINALITY a(name, type, n)
	 WHERE p.oid = f AND args ? a.name
$$;

CREATE TEMP TABLE checks (n serial, fn regprocedure, arg text, kind text, q text, expected text,
						   who text);
-- NULL in each required argument
INSERT INTO checks (fn, arg, kind, q, expected)
SELECT c.fn, a.name, 'null', pg_temp.call_text(c.fn, c.args, a.name),
	   '22004 ' || a.name || ' must not be NULL'
  FROM contract c
  JOIN pg_proc p ON p.oid = c.fn
 CROSS JOIN unnest(p.proargnames[1:p.pronargs]) WITH ORDINALITY a(name, n)
 WHERE c.class = 'table' AND a.name <> ALL (c.nullable)
 ORDER BY c.fn::text, a.n;
-- a missing client
INSERT INTO checks (fn, arg, kind, q, expected)
SELECT c.fn, 'client_id', 'client',
	   pg_temp.call_text(c.fn, c.args || '{"client_id": "880999"}', NULL),
	   'P0002 client 880999 does not exist'
  FROM contract c
  JOIN pg_proc p ON p.oid = c.fn
 WHERE c.class = 'table' AND 'client_id' = ANY (p.proargnames[1:p.pronargs])
 ORDER BY c.fn::text;
-- a client the manager calling does not own: through row security, a missing client
INSERT INTO checks (fn, arg, kind, q, expected, who)
SELECT c.fn, 'client_id', 'manager', pg_temp.call_text(c.fn, c.args, NULL),
	   'P0002 client 880001 does not exist', 'contract_manager'
  FROM contract c
  JOIN pg_proc p ON p.oid = c.fn
 WHERE c.class = 'table' AND 'client_id' = ANY (p.proargnames[1:p.pronargs])
   AND has_function_privilege('crm_manager', c.fn, 'EXECUTE')
 ORDER BY c.fn::text;
-- an unknown name
INSERT INTO checks (fn, arg, kind, q, expected)
SELECT c.fn, a.name, 'name',
	   pg_temp.call_text(c.fn, c.args || jsonb_build_object(a.name, quote_literal('no_such_' || a.name)), NULL),
	   '22023 ' || format(CASE a.name
						  WHEN 'map_name' THEN 'segment map "%s" does not exist'
						  WHEN 'channel' THEN 'unknown contact channel "%s"'
						  WHEN 'program' THEN 'loyalty programme "%s" does not exist' END,
						  'no_such_' || a.name)
  FROM contract c
  JOIN pg_proc p ON p.oid = c.fn
 CROSS JOIN unnest(p.proargnames[1:p.pronargs]) a(name)
 WHERE c.class = 'table' AND a.name IN ('map_name', 'channel', 'program')
   -- the channel of an order is a sales channel, which the check
   -- constraint of crm.orders names (23514), not a contact channel
   AND NOT (c.fn = 'crm.record_priced_cart(jsonb, text, text, text)'::regprocedure AND a.name = 'channel')
 ORDER BY c.fn::text, a.name;
-- names inside a cart: a loyalty programme, a price list, a segment
INSERT INTO checks (fn, arg, kind, q, expected) VALUES
	('crm.price_cart(bigint, jsonb, timestamptz)', 'cart', 'name',
	 $$SELECT crm.price_cart(880001, '{"lines": [{"product_id": 880001, "quantity": 1, "price_list_id": 880001}], "program": "no_such_program"}')$$,
	 '22023 cart: loyalty programme "no_such_program" does not exist'),
	('crm.price_cart(bigint, jsonb, timestamptz)', 'cart', 'name',
	 $$SELECT crm.price_cart(880001, '[{"product_id": 880001, "quantity": 1, "price_list_id": 880999}]')$$,
	 '22023 cart line 1: price_list_id 880999 does not exist'),
	('crm.price_cart(bigint, jsonb, timestamptz)', 'cart', 'name',
	 $$SELECT crm.price_cart(880001, '{"lines": [{"product_id": 880001, "quantity": 1, "price_list_id": 880001}], "segment": "no_such_segment"}')$$,
	 '22023 cart: segment "no_such_segment" is not a segment of any segment map');

-- the two on the catalogue, one per function for its class, the helper,
-- the policy, and the calls
SELECT plan(2 + (SELECT count(*)::integer FROM contract) + 2
			+ (SELECT count(*)::integer FROM checks));

-- 1, 2: the classification is the catalogue
SELECT is(array(SELECT p.oid::regprocedure::text
				  FROM pg_proc p
				 WHERE p.pronamespace = 'crm'::regnamespace
				   AND coalesce(obj_description(p.oid, 'pg_proc'), '') !~ '^(internal|trigger):'
				EXCEPT SELECT fn::text FROM contract ORDER BY 1),
		  '{}', 'every public function of crm is classified in this test');
SELECT is(array(SELECT fn::text FROM contract
				 WHERE coalesce(obj_description(fn, 'pg_proc'), '') ~ '^(internal|trigger):'
				 ORDER BY 1),
		  '{}', 'no function classified here is internal');

-- each class's rule on the catalogue
SELECT ok(CASE c.class
			  WHEN 'pure' THEN p.proisstrict
			  WHEN 'own_nulls' THEN p.provolatile = 'i' AND NOT p.proisstrict
			  WHEN 'aggregate' THEN p.prokind = 'a'
									OR EXISTS (SELECT 1 FROM pg_aggregate a
												WHERE p.oid IN (a.aggtransfn, a.aggfinalfn, a.aggcombinefn,
																a.aggserialfn, a.aggdeserialfn))
			  WHEN 'trigger' THEN p.prorettype = 'trigger'::regtype
			  WHEN 'no_args' THEN p.pronargs = 0
			  WHEN 'helper' THEN p.prorettype = 'void'::regtype AND NOT p.proisstrict
			  WHEN 'policy' THEN p.proisstrict
			  WHEN 'table' THEN NOT p.proisstrict END,
		  format('%s (%s): %s', c.fn, c.class,
				 CASE c.class
					 WHEN 'pure' THEN 'STRICT, NULL in, NULL out'
					 WHEN 'own_nulls' THEN 'IMMUTABLE, with its own documented NULL rules'
					 WHEN 'aggregate' THEN 'an aggregate or its support'
					 WHEN 'trigger' THEN 'returns trigger'
					 WHEN 'no_args' THEN 'no argument'
					 WHEN 'helper' THEN 'returns void, not STRICT'
					 WHEN 'policy' THEN 'STRICT'
					 WHEN 'table' THEN 'not STRICT: a NULL argument is an error' END))
  FROM contract c JOIN pg_proc p ON p.oid = c.fn
 ORDER BY c.class, c.fn::text;

-- the helper does nothing outside a Citus task, whatever its argument
SELECT is(pg_temp.outcome($$SELECT crm.refuse_in_citus_task(NULL)$$), '00000',
		  'crm.refuse_in_citus_task outside a Citus task: nothing');
-- the policy predicate: false for a missing client, not an error
SELECT is(crm.owns_client(880999), false, 'crm.owns_client(a missing client) is false');

-- every check by calling the function
CREATE FUNCTION pg_temp.run_checks() RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	k			record;
BEGIN
	FOR k IN SELECT * FROM checks ORDER BY n LOOP
		IF EXISTS (SELECT 1 FROM todo t WHERE t.fn = k.fn AND t.arg = k.arg AND t.kind = k.kind) THEN
			PERFORM todo('the loyalty functions'' change to this contract is not merged yet', 1);
		END IF;
		RETURN NEXT is(pg_temp.outcome(k.q, k.who), k.expected,
					   format('%s: %s', k.fn,
							  CASE k.kind WHEN 'null' THEN k.arg || ' NULL'
										  WHEN 'client' THEN 'a missing client'
										  WHEN 'manager' THEN 'a client of another manager, as crm_manager'
										  ELSE 'an unknown name in ' || k.arg END));
	END LOOP;
END
$$;
SELECT * FROM pg_temp.run_checks();

SELECT * FROM finish();
ROLLBACK;
