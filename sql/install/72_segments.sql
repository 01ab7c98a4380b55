/*
 * RFM segment maps as data, and the RFM scores of crm.orders.
 *
 * A map is a set of rules, each a box of score ranges (recency, frequency,
 * monetary) naming a segment.  A valid map is a partition: every score cell
 * 1..classes in each dimension lies in exactly one box.  A deferred
 * constraint trigger refuses to commit a map that is not; the problems are
 * listed by crm.segment_map_problems(map).
 */

CREATE TABLE crm.segment_maps (
	map_name		text NOT NULL,
	classes			integer NOT NULL DEFAULT 5,
	description		text NOT NULL,
	builtin			boolean NOT NULL DEFAULT false,
	CONSTRAINT segment_maps_pkey PRIMARY KEY (map_name),
	CONSTRAINT segment_maps_name_check CHECK (map_name ~ '^[a-z0-9_]+$'),
	CONSTRAINT segment_maps_classes_check CHECK (classes BETWEEN 2 AND 9)
);
COMMENT ON TABLE crm.segment_maps IS 'RFM segment maps: name, number of score classes per dimension, description; builtin maps are shipped with crm and read-only';

CREATE TABLE crm.segment_map_rules (
	map_name		text NOT NULL,
	rule_no			integer NOT NULL,
	segment			text NOT NULL,
	r_min			integer NOT NULL,
	r_max			integer NOT NULL,
	f_min			integer NOT NULL,
	f_max			integer NOT NULL,
	m_min			integer NOT NULL,
	m_max			integer NOT NULL,
	CONSTRAINT segment_map_rules_pkey PRIMARY KEY (map_name, rule_no),
	CONSTRAINT segment_map_rules_map_fkey FOREIGN KEY (map_name)
		REFERENCES crm.segment_maps (map_name) ON UPDATE CASCADE ON DELETE CASCADE,
	CONSTRAINT segment_map_rules_segment_check CHECK (segment <> ''),
	CONSTRAINT segment_map_rules_r_check CHECK (1 <= r_min AND r_min <= r_max AND r_max <= 9),
	CONSTRAINT segment_map_rules_f_check CHECK (1 <= f_min AND f_min <= f_max AND f_max <= 9),
	CONSTRAINT segment_map_rules_m_check CHECK (1 <= m_min AND m_min <= m_max AND m_max <= 9)
);
COMMENT ON TABLE crm.segment_map_rules IS 'the rules of RFM segment maps: the score box r_min..r_max x f_min..f_max x m_min..m_max belongs to segment; the boxes of a map must cover every score cell exactly once';

/* Every score cell of a map with the segments whose boxes contain it. */
CREATE FUNCTION crm.segment_map_coverage(map_name text)
RETURNS TABLE (rfm crm.rfm, segments text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
BEGIN
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = segment_map_coverage.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	RETURN QUERY
	SELECT crm.rfm(r, f, m),
		   coalesce((SELECT array_agg(u.segment ORDER BY u.rule_no)
					   FROM crm.segment_map_rules u
					  WHERE u.map_name = segment_map_coverage.map_name
						AND r BETWEEN u.r_min AND u.r_max
						AND f BETWEEN u.f_min AND u.f_max
						AND m BETWEEN u.m_min AND u.m_max), '{}')
	  FROM generate_series(1, 9) r,
		   generate_series(1, 9) f,
		   generate_series(1, 9) m
	 WHERE greatest(r, f, m) <= k;
END
$$;
COMMENT ON FUNCTION crm.segment_map_coverage(text) IS 'every score cell of the map with the segments of the rules that contain it (in rule order)';

CREATE FUNCTION crm.segment_map_problems(map_name text)
RETURNS TABLE (rfm crm.rfm, rule_no integer, problem text, segments text[])
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
BEGIN
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = segment_map_problems.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	RETURN QUERY
	SELECT c.rfm, NULL::integer,
		   CASE WHEN cardinality(c.segments) = 0 THEN 'unmapped' ELSE 'mapped more than once' END,
		   c.segments
	  FROM crm.segment_map_coverage(segment_map_problems.map_name) c
	 WHERE cardinality(c.segments) <> 1
	UNION ALL
	SELECT NULL, u.rule_no, 'rule exceeds the map''s ' || k || ' classes', ARRAY[u.segment]
	  FROM crm.segment_map_rules u
	 WHERE u.map_name = segment_map_problems.map_name
	   AND greatest(u.r_max, u.f_max, u.m_max) > k
	ORDER BY 1, 2;
END
$$;
COMMENT ON FUNCTION crm.segment_map_problems(text) IS 'what keeps a segment map from being a partition: cells unmapped or mapped more than once, rules beyond the map''s classes; no rows for a valid map';

/* Deferred: a map is checked at commit, once all its rules are in. */
CREATE FUNCTION crm.segment_maps_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	name		text;
	unmapped	bigint;
	doubled		bigint;
	beyond		bigint;
	example		text;
BEGIN
	/* on a Citus cluster the coordinator's copy of the table checks (crm.distribute) */
	IF crm.in_citus_task() THEN
		RETURN NULL;
	END IF;
	name := CASE TG_OP WHEN 'DELETE' THEN OLD.map_name ELSE NEW.map_name END;
	-- lock the map: concurrent edits of one map are checked one after the
	-- other, each seeing the other's committed rules
	PERFORM 1 FROM crm.segment_maps m WHERE m.map_name = name FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;			-- the map is gone: nothing to check
	END IF;
	SELECT count(*) FILTER (WHERE p.problem = 'unmapped'),
		   count(*) FILTER (WHERE p.problem = 'mapped more than once'),
		   count(*) FILTER (WHERE p.rfm IS NULL),
		   min(p.rfm::text)
	  INTO unmapped, doubled, beyond, example
	  FROM crm.segment_map_problems(name) p;
	IF unmapped + doubled + beyond > 0 THEN
		RAISE EXCEPTION 'segment map "%" is not a partition of its score cells', name
			USING ERRCODE = 'check_violation',
				  DETAIL = format('%s cells unmapped, %s cells mapped more than once, %s rules beyond the classes; first problem cell: %s.',
								  unmapped, doubled, beyond, coalesce(example, 'none')),
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', name);
	END IF;
	RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.segment_maps_check() IS 'deferred constraint trigger: a committed segment map is a partition of its score cells';

CREATE CONSTRAINT TRIGGER segment_map_rules_partition
	AFTER INSERT OR UPDATE OR DELETE ON crm.segment_map_rules
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION crm.segment_maps_check();
-- a new map is checked through its rules (so that pg_restore, which loads
-- the maps before their rules in separate transactions, succeeds); a map
-- without any rule is not a partition either, and rfm_segment and
-- segment_map_cells refuse it
CREATE CONSTRAINT TRIGGER segment_maps_partition
	AFTER UPDATE ON crm.segment_maps
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION crm.segment_maps_check();

/*
 * The shipped maps.  Cell-by-cell account of the repair of the 11-segment
 * map: docs/rfm.md.
 */
INSERT INTO crm.segment_maps (map_name, classes, description, builtin) VALUES
	('rfm11', 5, 'the widely used 11-segment R x F x M map, repaired into a partition of the 125 cells', true),
	('rf10', 5, 'the 10-segment recency x frequency grid (monetary not used)', true);

INSERT INTO crm.segment_map_rules
	(map_name, rule_no, segment, r_min, r_max, f_min, f_max, m_min, m_max) VALUES
	('rfm11',  1, 'Champions',          4, 5, 4, 5, 4, 5),
	('rfm11',  2, 'Loyal',              2, 3, 3, 5, 3, 5),
	('rfm11',  3, 'Loyal',              4, 5, 3, 3, 3, 5),
	('rfm11',  4, 'Loyal',              4, 5, 4, 5, 3, 3),
	('rfm11',  5, 'Loyal',              3, 5, 4, 5, 1, 2),
	('rfm11',  6, 'Potential loyalist', 3, 5, 2, 2, 1, 5),
	('rfm11',  7, 'Potential loyalist', 3, 5, 3, 3, 1, 2),
	('rfm11',  8, 'New',                4, 5, 1, 1, 1, 5),
	('rfm11',  9, 'Promising',          3, 3, 1, 1, 1, 5),
	('rfm11', 10, 'Need attention',     2, 2, 2, 2, 2, 3),
	('rfm11', 11, 'Need attention',     2, 2, 3, 3, 1, 2),
	('rfm11', 12, 'About to sleep',     2, 2, 1, 1, 1, 2),
	('rfm11', 13, 'About to sleep',     2, 2, 2, 2, 1, 1),
	('rfm11', 14, 'At risk',            2, 2, 2, 2, 4, 5),
	('rfm11', 15, 'At risk',            2, 2, 4, 5, 1, 2),
	('rfm11', 16, 'At risk',            1, 1, 2, 3, 2, 5),
	('rfm11', 17, 'At risk',            1, 1, 4, 5, 2, 3),
	('rfm11', 18, 'At risk',            1, 1, 3, 5, 1, 1),
	('rfm11', 19, 'Can''t lose them',   1, 1, 4, 5, 4, 5),
	('rfm11', 20, 'Hibernating',        1, 2, 1, 1, 3, 5),
	('rfm11', 21, 'Lost',               1, 1, 1, 1, 1, 2),
	('rfm11', 22, 'Lost',               1, 1, 2, 2, 1, 1),
	('rf10',   1, 'Champions',          5, 5, 4, 5, 1, 5),
	('rf10',   2, 'Loyal',              3, 4, 4, 5, 1, 5),
	('rf10',   3, 'Potential loyalist', 4, 5, 2, 3, 1, 5),
	('rf10',   4, 'New',                5, 5, 1, 1, 1, 5),
	('rf10',   5, 'Promising',          4, 4, 1, 1, 1, 5),
	('rf10',   6, 'Need attention',     3, 3, 3, 3, 1, 5),
	('rf10',   7, 'About to sleep',     3, 3, 1, 2, 1, 5),
	('rf10',   8, 'At risk',            1, 2, 3, 4, 1, 5),
	('rf10',   9, 'Can''t lose them',   1, 2, 5, 5, 1, 5),
	('rf10',  10, 'Hibernating',        1, 2, 1, 2, 1, 5);

/* Shipped maps are read-only: copy one under a new name to change it. */
CREATE FUNCTION crm.segment_maps_protect() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	name		text;
BEGIN
	/* on a Citus cluster the coordinator's copy of the table checks (crm.distribute) */
	IF crm.in_citus_task() THEN
		RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
	END IF;
	IF TG_TABLE_NAME = 'segment_maps' AND TG_OP <> 'DELETE' THEN
		IF NEW.builtin THEN
			RAISE EXCEPTION 'segment map "%" cannot be marked as shipped with crm', NEW.map_name
				USING ERRCODE = 'check_violation',
					  HINT = 'Only the maps of the extension are builtin.';
		END IF;
	END IF;
	FOR name IN SELECT DISTINCT x FROM unnest(ARRAY[
					CASE WHEN TG_OP <> 'INSERT' THEN OLD.map_name END,
					CASE WHEN TG_OP <> 'DELETE' THEN NEW.map_name END]) x
				WHERE x IS NOT NULL
	LOOP
		IF EXISTS (SELECT 1 FROM crm.segment_maps m WHERE m.map_name = name AND m.builtin) THEN
			RAISE EXCEPTION 'segment map "%" is shipped with crm and cannot be changed', name
				USING ERRCODE = 'check_violation',
					  HINT = 'Copy it under a new name and change the copy.';
		END IF;
	END LOOP;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION crm.segment_maps_protect() IS 'trigger: the shipped segment maps are read-only';

CREATE TRIGGER segment_maps_protect
	BEFORE INSERT OR UPDATE OR DELETE ON crm.segment_maps
	FOR EACH ROW EXECUTE FUNCTION crm.segment_maps_protect();
CREATE TRIGGER segment_map_rules_protect
	BEFORE INSERT OR UPDATE OR DELETE ON crm.segment_map_rules
	FOR EACH ROW EXECUTE FUNCTION crm.segment_maps_protect();

SELECT pg_catalog.pg_extension_config_dump('crm.segment_maps', 'WHERE NOT builtin');
SELECT pg_catalog.pg_extension_config_dump('crm.segment_map_rules',
	'WHERE map_name NOT IN (''rfm11'', ''rf10'')');

/*
 * The number of classes of a map, or the one error every function taking
 * a map name raises for an unknown one.
 */
CREATE FUNCTION crm.segment_map_classes(map_name text)
RETURNS integer
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
BEGIN
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = segment_map_classes.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	RETURN k;
END
$$;
COMMENT ON FUNCTION crm.segment_map_classes(text) IS 'the number of classes (scores per dimension) of a segment map; error 22023 if there is no such map';

/* The segment of each score cell of a valid map. */
CREATE FUNCTION crm.segment_map_cells(map_name text)
RETURNS TABLE (rfm crm.rfm, segment text)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 125
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
BEGIN
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = segment_map_cells.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	IF EXISTS (SELECT 1 FROM crm.segment_map_problems(segment_map_cells.map_name)) THEN
		RAISE EXCEPTION 'segment map "%" is not a partition of its score cells', map_name
			USING ERRCODE = 'check_violation',
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', map_name);
	END IF;
	RETURN QUERY
		SELECT c.rfm, c.segments[1] FROM crm.segment_map_coverage(segment_map_cells.map_name) c;
END
$$;
COMMENT ON FUNCTION crm.segment_map_cells(text) IS 'the segment of every score cell of a map; error if the map is not a partition';

CREATE FUNCTION crm.rfm_segment(rfm crm.rfm, map_name text DEFAULT 'rfm11')
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	k			integer;
	segs		text[];
BEGIN
	IF rfm IS NULL THEN
		RAISE EXCEPTION 'rfm must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT mp.classes INTO k FROM crm.segment_maps mp WHERE mp.map_name = rfm_segment.map_name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	IF greatest(crm.recency_score(rfm), crm.frequency_score(rfm), crm.monetary_score(rfm)) > k THEN
		RAISE EXCEPTION 'RFM value % is outside segment map "%", which has % classes', rfm, map_name, k
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT array_agg(u.segment ORDER BY u.rule_no) INTO segs
	  FROM crm.segment_map_rules u
	 WHERE u.map_name = rfm_segment.map_name
	   AND crm.recency_score(rfm) BETWEEN u.r_min AND u.r_max
	   AND crm.frequency_score(rfm) BETWEEN u.f_min AND u.f_max
	   AND crm.monetary_score(rfm) BETWEEN u.m_min AND u.m_max;
	IF coalesce(cardinality(segs), 0) <> 1 THEN
		RAISE EXCEPTION 'RFM value % is % in segment map "%"', rfm,
			CASE WHEN segs IS NULL THEN 'unmapped' ELSE 'mapped more than once' END, map_name
			USING ERRCODE = 'check_violation',
				  DETAIL = format('Segments: %s.', coalesce(array_to_string(segs, ', '), 'none')),
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', map_name);
	END IF;
	RETURN segs[1];
END
$$;
COMMENT ON FUNCTION crm.rfm_segment(crm.rfm, text) IS 'the segment of an RFM value in a segment map (default rfm11)';
