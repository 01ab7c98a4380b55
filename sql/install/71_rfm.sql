/*
 * RFM scores: the crm.rfm type (src/rfm.c) and quantile / fixed-threshold
 * scoring building blocks (src/rfm_breaks.c).
 */

CREATE TYPE crm.rfm;

CREATE FUNCTION crm.rfm_in(cstring) RETURNS crm.rfm
AS 'MODULE_PATHNAME', 'rfm_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.rfm_in(cstring) IS 'input function of crm.rfm: ''543'' or ''5-4-3''';

CREATE FUNCTION crm.rfm_out(crm.rfm) RETURNS cstring
AS 'MODULE_PATHNAME', 'rfm_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.rfm_out(crm.rfm) IS 'output function of crm.rfm: three digits';

CREATE FUNCTION crm.rfm_recv(internal) RETURNS crm.rfm
AS 'MODULE_PATHNAME', 'rfm_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.rfm_recv(internal) IS 'binary input function of crm.rfm: three bytes, validated';

CREATE FUNCTION crm.rfm_send(crm.rfm) RETURNS bytea
AS 'MODULE_PATHNAME', 'rfm_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.rfm_send(crm.rfm) IS 'binary output function of crm.rfm: three bytes';

CREATE TYPE crm.rfm (
	INPUT = crm.rfm_in,
	OUTPUT = crm.rfm_out,
	RECEIVE = crm.rfm_recv,
	SEND = crm.rfm_send,
	INTERNALLENGTH = 2,
	PASSEDBYVALUE,
	ALIGNMENT = int2,
	STORAGE = plain
);
COMMENT ON TYPE crm.rfm IS 'recency, frequency and monetary scores (each 1..9, 5 = best on the usual 1..5 scale), text form ''543''';

CREATE FUNCTION crm.rfm(recency integer, frequency integer, monetary integer) RETURNS crm.rfm
AS 'MODULE_PATHNAME', 'rfm_make' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.rfm(integer, integer, integer) IS 'the crm.rfm value of three scores, each 1..9';

CREATE FUNCTION crm.recency_score(crm.rfm) RETURNS integer
AS 'MODULE_PATHNAME', 'rfm_recency' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.recency_score(crm.rfm) IS 'the recency score (first digit) of an RFM value';

CREATE FUNCTION crm.frequency_score(crm.rfm) RETURNS integer
AS 'MODULE_PATHNAME', 'rfm_frequency' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.frequency_score(crm.rfm) IS 'the frequency score (second digit) of an RFM value';

CREATE FUNCTION crm.monetary_score(crm.rfm) RETURNS integer
AS 'MODULE_PATHNAME', 'rfm_monetary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.monetary_score(crm.rfm) IS 'the monetary score (third digit) of an RFM value';

CREATE FUNCTION crm.rfm_eq(crm.rfm, crm.rfm) RETURNS boolean
AS 'MODULE_PATHNAME', 'rfm_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.rfm_eq(crm.rfm, crm.rfm) IS 'implementation of = for crm.rfm';
CREATE FUNCTION crm.rfm_ne(crm.rfm, crm.rfm) RETURNS boolean
AS 'MODULE_PATHNAME', 'rfm_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.rfm_ne(crm.rfm, crm.rfm) IS 'implementation of <> for crm.rfm';
CREATE FUNCTION crm.rfm_lt(crm.rfm, crm.rfm) RETURNS boolean
AS 'MODULE_PATHNAME', 'rfm_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.rfm_lt(crm.rfm, crm.rfm) IS 'implementation of < for crm.rfm';
CREATE FUNCTION crm.rfm_le(crm.rfm, crm.rfm) RETURNS boolean
AS 'MODULE_PATHNAME', 'rfm_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.rfm_le(crm.rfm, crm.rfm) IS 'implementation of <= for crm.rfm';
CREATE FUNCTION crm.rfm_gt(crm.rfm, crm.rfm) RETURNS boolean
AS 'MODULE_PATHNAME', 'rfm_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.rfm_gt(crm.rfm, crm.rfm) IS 'implementation of > for crm.rfm';
CREATE FUNCTION crm.rfm_ge(crm.rfm, crm.rfm) RETURNS boolean
AS 'MODULE_PATHNAME', 'rfm_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.rfm_ge(crm.rfm, crm.rfm) IS 'implementation of >= for crm.rfm';
CREATE FUNCTION crm.rfm_cmp(crm.rfm, crm.rfm) RETURNS integer
AS 'MODULE_PATHNAME', 'rfm_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.rfm_cmp(crm.rfm, crm.rfm) IS 'btree comparison of crm.rfm: recency, then frequency, then monetary';
CREATE FUNCTION crm.rfm_hash(crm.rfm) RETURNS integer
AS 'MODULE_PATHNAME', 'rfm_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.rfm_hash(crm.rfm) IS 'hash of crm.rfm';
CREATE FUNCTION crm.rfm_hash_extended(crm.rfm, bigint) RETURNS bigint
AS 'MODULE_PATHNAME', 'rfm_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
COMMENT ON FUNCTION crm.rfm_hash_extended(crm.rfm, bigint) IS 'seeded 64-bit hash of crm.rfm';

CREATE OPERATOR crm.= (
	LEFTARG = crm.rfm, RIGHTARG = crm.rfm, FUNCTION = crm.rfm_eq,
	COMMUTATOR = OPERATOR(crm.=), NEGATOR = OPERATOR(crm.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR crm.<> (
	LEFTARG = crm.rfm, RIGHTARG = crm.rfm, FUNCTION = crm.rfm_ne,
	COMMUTATOR = OPERATOR(crm.<>), NEGATOR = OPERATOR(crm.=),
	RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR crm.< (
	LEFTARG = crm.rfm, RIGHTARG = crm.rfm, FUNCTION = crm.rfm_lt,
	COMMUTATOR = OPERATOR(crm.>), NEGATOR = OPERATOR(crm.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR crm.<= (
	LEFTARG = crm.rfm, RIGHTARG = crm.rfm, FUNCTION = crm.rfm_le,
	COMMUTATOR = OPERATOR(crm.>=), NEGATOR = OPERATOR(crm.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR crm.> (
	LEFTARG = crm.rfm, RIGHTARG = crm.rfm, FUNCTION = crm.rfm_gt,
	COMMUTATOR = OPERATOR(crm.<), NEGATOR = OPERATOR(crm.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR crm.>= (
	LEFTARG = crm.rfm, RIGHTARG = crm.rfm, FUNCTION = crm.rfm_ge,
	COMMUTATOR = OPERATOR(crm.<=), NEGATOR = OPERATOR(crm.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);
COMMENT ON OPERATOR crm.= (crm.rfm, crm.rfm) IS 'equal RFM values';
COMMENT ON OPERATOR crm.<> (crm.rfm, crm.rfm) IS 'different RFM values';
COMMENT ON OPERATOR crm.< (crm.rfm, crm.rfm) IS 'less than, comparing recency, then frequency, then monetary';
COMMENT ON OPERATOR crm.<= (crm.rfm, crm.rfm) IS 'less than or equal, comparing recency, then frequency, then monetary';
COMMENT ON OPERATOR crm.> (crm.rfm, crm.rfm) IS 'greater than, comparing recency, then frequency, then monetary';
COMMENT ON OPERATOR crm.>= (crm.rfm, crm.rfm) IS 'greater than or equal, comparing recency, then frequency, then monetary';

CREATE OPERATOR CLASS crm.rfm_ops DEFAULT FOR TYPE crm.rfm USING btree AS
	OPERATOR 1 crm.<,
	OPERATOR 2 crm.<=,
	OPERATOR 3 crm.=,
	OPERATOR 4 crm.>=,
	OPERATOR 5 crm.>,
	FUNCTION 1 crm.rfm_cmp(crm.rfm, crm.rfm);
COMMENT ON OPERATOR CLASS crm.rfm_ops USING btree IS 'btree ordering of crm.rfm';

CREATE OPERATOR CLASS crm.rfm_hash_ops DEFAULT FOR TYPE crm.rfm USING hash AS
	OPERATOR 1 crm.=,
	FUNCTION 1 crm.rfm_hash(crm.rfm),
	FUNCTION 2 crm.rfm_hash_extended(crm.rfm, bigint);
COMMENT ON OPERATOR CLASS crm.rfm_hash_ops USING hash IS 'hashing of crm.rfm, for hash joins, hash aggregation and hash indexes';

/*
 * Quantile breakpoints across clients: a real state type whose text form
 * round-trips exactly.
 */
CREATE TYPE crm.quantile_state;

CREATE FUNCTION crm.quantile_state_in(cstring) RETURNS crm.quantile_state
AS 'MODULE_PATHNAME', 'rfm_quantile_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.quantile_state_in(cstring) IS 'input function of crm.quantile_state: ''<classes> higher|lower value:count ...''';

CREATE FUNCTION crm.quantile_state_out(crm.quantile_state) RETURNS cstring
AS 'MODULE_PATHNAME', 'rfm_quantile_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.quantile_state_out(crm.quantile_state) IS 'output function of crm.quantile_state: distinct values ascending, shortest exact float8 form';

CREATE FUNCTION crm.quantile_state_recv(internal) RETURNS crm.quantile_state
AS 'MODULE_PATHNAME', 'rfm_quantile_state_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.quantile_state_recv(internal) IS 'binary input function of crm.quantile_state: validates the bytes';

CREATE FUNCTION crm.quantile_state_send(crm.quantile_state) RETURNS bytea
AS 'MODULE_PATHNAME', 'rfm_quantile_state_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.quantile_state_send(crm.quantile_state) IS 'binary output function of crm.quantile_state';

CREATE TYPE crm.quantile_state (
	INPUT = crm.quantile_state_in,
	OUTPUT = crm.quantile_state_out,
	RECEIVE = crm.quantile_state_recv,
	SEND = crm.quantile_state_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = double,
	STORAGE = extended
);
COMMENT ON TYPE crm.quantile_state IS 'state of crm.quantile_breaks: number of classes, direction, and the exact distribution of the values (distinct values with counts)';

CREATE FUNCTION crm.quantile_breaks_transfn(crm.quantile_state, double precision, integer, boolean)
RETURNS crm.quantile_state
AS 'MODULE_PATHNAME', 'rfm_breaks_transfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.quantile_breaks_transfn(crm.quantile_state, double precision, integer, boolean) IS 'transition function of crm.quantile_breaks';

CREATE FUNCTION crm.quantile_breaks_combinefn(crm.quantile_state, crm.quantile_state)
RETURNS crm.quantile_state
AS 'MODULE_PATHNAME', 'rfm_breaks_combinefn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.quantile_breaks_combinefn(crm.quantile_state, crm.quantile_state) IS 'combine function of crm.quantile_breaks';

CREATE FUNCTION crm.quantile_breaks_finalfn(crm.quantile_state)
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'rfm_breaks_finalfn' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION crm.quantile_breaks_finalfn(crm.quantile_state) IS 'the breakpoints of a crm.quantile_state (read-only)';

CREATE AGGREGATE crm.quantile_breaks(value double precision, classes integer, higher_is_better boolean) (
	SFUNC = crm.quantile_breaks_transfn,
	STYPE = crm.quantile_state,
	FINALFUNC = crm.quantile_breaks_finalfn,
	FINALFUNC_MODIFY = READ_ONLY,
	COMBINEFUNC = crm.quantile_breaks_combinefn,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE crm.quantile_breaks(double precision, integer, boolean) IS 'the classes - 1 ascending breakpoints that split the values into quantile classes, ties kept together; score with crm.threshold_score';

CREATE FUNCTION crm.threshold_score(value double precision, thresholds double precision[],
									higher_is_better boolean DEFAULT true)
RETURNS integer
AS 'MODULE_PATHNAME', 'rfm_threshold_score' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION crm.threshold_score(double precision, double precision[], boolean) IS 'score 1..n+1 of a value against n ascending thresholds: 1 + the number of thresholds strictly worse than the value (a value equal to a threshold falls in the worse class)';
