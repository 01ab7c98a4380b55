/*
 * pg_dump keeps the rows of the extension's tables and the state of their
 * identity sequences; crm.sync_sequences() sets those sequences after a
 * load of one's own rows.
 */
SELECT pg_catalog.pg_extension_config_dump('crm.clients', '');
SELECT pg_catalog.pg_extension_config_dump('crm.consents', '');
SELECT pg_catalog.pg_extension_config_dump('crm.categories', '');
SELECT pg_catalog.pg_extension_config_dump('crm.products', '');
SELECT pg_catalog.pg_extension_config_dump('crm.price_lists', '');
SELECT pg_catalog.pg_extension_config_dump('crm.prices', '');
SELECT pg_catalog.pg_extension_config_dump('crm.orders', '');
SELECT pg_catalog.pg_extension_config_dump('crm.order_lines', '');
SELECT pg_catalog.pg_extension_config_dump('crm.incidents', '');
SELECT pg_catalog.pg_extension_config_dump('crm.interactions', '');

-- one call per statement: each call updates the extension's catalog row
SELECT pg_catalog.pg_extension_config_dump('crm.clients_client_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.categories_category_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.products_product_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.price_lists_price_list_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.orders_order_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.incidents_incident_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.interactions_interaction_id_seq', '');

/*
 * After a load with explicit ids (COPY, or INSERT naming the key), each
 * identity sequence still stands where it was, and the next insert that
 * takes the default collides with a loaded row.  crm.sync_sequences()
 * moves every sequence of crm's tables past the largest id in its column
 * (below the smallest, for a descending one); a sequence already past it,
 * or the sequence of an empty table, stays where it is: it never goes
 * back, so running it again changes nothing.  Each table is locked in
 * SHARE mode first (writers wait until the transaction ends), so that no
 * row is added between reading its largest id and moving the sequence.
 * SECURITY DEFINER: crm_admin, who loads data, may not write every
 * sequence (the loyalty ledger's is the loyalty functions' alone), and
 * moving a sequence forward past existing rows cannot hurt.
 */
CREATE FUNCTION crm.sync_sequences()
RETURNS TABLE (table_name regclass, column_name name, sequence_name regclass,
			   next_before bigint, next_after bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	s			record;
	last_v		bigint;
	called		boolean;
	edge		bigint;
BEGIN
	PERFORM crm.refuse_in_citus_task('crm.sync_sequences');
	FOR s IN
		SELECT d.refobjid::regclass AS tab, a.attname AS col, q.seqrelid::regclass AS seq,
			   q.seqincrement AS inc
		  FROM pg_catalog.pg_sequence q
		  JOIN pg_catalog.pg_depend d
			ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = q.seqrelid
		   AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjsubid > 0
		   AND d.deptype IN ('a', 'i')
		  JOIN pg_catalog.pg_attribute a
			ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		  JOIN pg_catalog.pg_depend e
			ON e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = d.refobjid
		   AND e.refclassid = 'pg_catalog.pg_extension'::regclass AND e.deptype = 'e'
		  JOIN pg_catalog.pg_extension x ON x.oid = e.refobjid AND x.extname = 'crm'
		 ORDER BY d.refobjid, a.attnum
	LOOP
		EXECUTE format('LOCK TABLE %s IN SHARE MODE', s.tab);
		EXECUTE format('SELECT %s(%I)::bigint FROM %s',
					   CASE WHEN s.inc > 0 THEN 'max' ELSE 'min' END, s.col, s.tab)
			INTO edge;
		CONTINUE WHEN edge IS NULL;
		EXECUTE format('SELECT last_value, is_called FROM %s', s.seq) INTO last_v, called;
		next_before := CASE WHEN called THEN last_v + s.inc ELSE last_v END;
		CONTINUE WHEN (s.inc > 0 AND next_before > edge) OR (s.inc < 0 AND next_before < edge);
		PERFORM pg_catalog.setval(s.seq, edge, true);
		table_name := s.tab;
		column_name := s.col;
		sequence_name := s.seq;
		next_after := edge + s.inc;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION crm.sync_sequences() IS 'after a load with explicit ids: moves every identity sequence of crm''s tables past the largest id of its column (never back); returns the sequences it moved, with the next value before and after';
REVOKE EXECUTE ON FUNCTION crm.sync_sequences() FROM PUBLIC;
