
/*
 * The C paths of crm.rfm_scores, crm.churn_signals, crm.earn_points and
 * crm.redeem_points (src/fastpath.c): which path each call took, and why
 * a call went to the function's SQL twin.  Counted per backend; the
 * setting crm.log_fast_path also logs every decision.
 */
CREATE FUNCTION crm.fast_path_stats(OUT function text, OUT path text, OUT reason text,
									OUT calls bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'fastpath_stats'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.fast_path_stats() IS 'the calls of this session''s crm functions with a C path, by function, path taken (c or sql) and, for sql, the reason';

CREATE FUNCTION crm.fast_path_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'fastpath_stats_reset'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION crm.fast_path_stats_reset() IS 'sets this session''s counts of crm.fast_path_stats to zero';
