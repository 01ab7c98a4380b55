
/*
 * The C paths of crm.rfm_scores, crm.churn_signals, crm.earn_points and
 * crm.redeem_points (src/fastpath.c): which path each call took, and why
 * a call did not pass over the table directly (it went to the function's
 * SQL twin, or gathered per-client rows from a Citus cluster's shards).  Counted per backend; the
 * setting crm.log_fast_path also logs every decision.
 */
CREATE FUNCTION crm.fast_path_stats(OUT function text, OUT path text, OUT reason text,
									OUT calls bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fastpath_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.fast_path_stats() IS 'the calls of this session''s crm functions with a C path, by function, path taken (c: a pass over the table; shards: per-client rows gathered from a Citus cluster''s shards; sql: the SQL twin) and, for shards and sql, the reason';

CREATE FUNCTION crm.fast_path_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'fastpath_stats_reset'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.fast_path_stats_reset() IS 'sets this session''s counts of crm.fast_path_stats to zero';

/*
 * in_citus_task: whether this backend runs a query that a Citus node sent
 * it (a query on a shard or a placement): Citus is installed in the
 * database and the session is one of Citus's own (its application_name,
 * "citus_internal gpid=...", as Citus itself tells them; src/fastpath.c,
 * which crm's C functions ask too).  crm's triggers
 * that read other tables leave their check to the coordinator, which runs
 * it across the cluster, instead of running a distributed query inside a
 * shard's query.  In a database without Citus it is always false, whatever
 * a session calls itself.
 */
CREATE FUNCTION crm.in_citus_task()
RETURNS boolean
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crm_in_citus_task';
COMMENT ON FUNCTION crm.in_citus_task() IS 'whether this backend runs a query a Citus node sent it (on a shard or a placement)';

/*
 * refuse_in_citus_task: the clear error of a function of crm that reads
 * crm's tables, called where Citus sent it with a query on a shard (for
 * each row of a query over a distributed table), where its own queries
 * would be distributed queries nested in the shard's, which Citus refuses
 * with an error that names neither the function nor the fix.
 */
CREATE FUNCTION crm.refuse_in_citus_task(function_name text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF crm.in_citus_task() THEN
		RAISE EXCEPTION '% cannot run inside a query that Citus sends to the shards', function_name
			USING ERRCODE = 'feature_not_supported',
				  DETAIL = 'It reads crm''s tables, which are distributed: called for each row of a query over a distributed table, it would run a distributed query inside a shard''s query.',
				  HINT = 'Call it from the coordinator over rows read first: WITH c AS MATERIALIZED (SELECT client_id FROM crm.clients ...) SELECT ... FROM c (docs/scale-out.md).';
	END IF;
END
$$;
COMMENT ON FUNCTION crm.refuse_in_citus_task(text) IS 'raises the clear error of a crm function called inside a query Citus sent to a shard (a call per row of a query over a distributed table)';
