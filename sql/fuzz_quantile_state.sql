--
-- Inputs found by fuzzing crm.quantile_state (test/fuzz): each was
-- accepted or mishandled before its fix.
--
\i sql/include/try.sql

-- equal values whose counts add up to more than a bigint: the merged count
-- wrapped to a negative number and the state was accepted
SELECT pg_temp.try($$SELECT '2 higher 1:6989651668307017728 1:6989651668307017728'::crm.quantile_state$$);
SELECT pg_temp.try($$SELECT '2 higher 1:9223372036854775807 2:1'::crm.quantile_state$$);
-- the largest total still fits, and reads back as written
SELECT '2 higher 1:9223372036854775806 2:1'::crm.quantile_state;
SELECT '2 higher 1:4611686018427387904 1:4611686018427387903'::crm.quantile_state;

-- two states whose totals together exceed a bigint: combining them gave a
-- state whose count (and the final function's population) wrapped
SELECT pg_temp.try($$SELECT crm.quantile_breaks_combinefn('2 higher 1:6989651668307017728',
	'2 higher 1:6989651668307017728')::text$$);
SELECT pg_temp.try($$SELECT crm.quantile_breaks_finalfn(crm.quantile_breaks_combinefn(
	'2 higher 1:6989651668307017728', '2 higher 2:6989651668307017728'))$$);
SELECT pg_temp.try($$SELECT crm.quantile_breaks_transfn('2 higher 1:9223372036854775807', 2, 2, true)::text$$);
-- a combination that fits is still exact
SELECT crm.quantile_breaks_finalfn(crm.quantile_breaks_combinefn(
	'4 higher 1:3 2:1', '4 higher 2:1 3:3')) AS breaks;

-- a population of the largest bigint, lower is better: the position
-- n + 1 - m was computed through n + 1, which overflows
SELECT crm.quantile_breaks_finalfn('3 lower 1:9223372036854775807') AS breaks;
SELECT crm.quantile_breaks_finalfn('3 lower 1:9223372036854775806 2:1') AS breaks;
