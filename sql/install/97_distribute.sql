/*
 * Scale-out on Citus (docs/scale-out.md).  crm.distribute() makes every
 * table keyed by client (a NOT NULL client_id) a distributed table, by
 * client_id and co-located with crm.clients, and every other table of crm
 * (and of crm_demo, when it is there) a reference table, copied to every
 * node: crm.distribution_plan() says which is which.
 */

/*
 * owns_client: whether the current role owns the client.  The manager
 * policies of a distributed database use it in place of the subquery of
 * crm.owned_client_ids(), which Citus refuses in a policy (src/owner.c).
 */
CREATE FUNCTION crm.owns_client(client_id bigint)
RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crm_owns_client';
COMMENT ON FUNCTION crm.owns_client(bigint) IS 'whether the current role owns the client: the manager policies on a Citus cluster (crm.distribute)';

/*
 * clients_keep_discount_rules: on a cluster, the delete side of the
 * foreign key from crm.discount_rules (a reference table) to crm.clients
 * (distributed), which Citus does not have: a client with rules of its own
 * is not deleted or re-keyed, with the error the key gave.  The insert
 * side is crm.discount_rules_validate().  crm.distribute() adds the
 * trigger; one node has the key itself.
 */
CREATE FUNCTION crm.clients_keep_discount_rules() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF TG_OP = 'UPDATE' AND OLD.client_id = NEW.client_id THEN
		RETURN NEW;
	END IF;
	IF EXISTS (SELECT 1 FROM crm.discount_rules r WHERE r.client_id = OLD.client_id) THEN
		RAISE EXCEPTION 'update or delete on table "clients" violates foreign key constraint "discount_rules_client_fkey" on table "discount_rules"'
			USING ERRCODE = 'foreign_key_violation',
				  DETAIL = format('Key (client_id)=(%s) is still referenced from table "discount_rules".', OLD.client_id);
	END IF;
	RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END
$$;
COMMENT ON FUNCTION crm.clients_keep_discount_rules() IS 'trigger on a Citus cluster: a client with discount rules of its own is not deleted or re-keyed (the key discount_rules_client_fkey, which Citus does not have)';

/*
 * distribution_plan: every table of crm and crm_demo, and what
 * crm.distribute() makes of it.
 */
CREATE FUNCTION crm.distribution_plan()
RETURNS TABLE (table_name regclass, extension name, kind text, colocate_with regclass)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
	SELECT c.oid::regclass,
		   e.extname,
		   CASE WHEN a.attnotnull THEN 'distributed' ELSE 'reference' END,
		   CASE WHEN a.attnotnull AND c.oid <> 'crm.clients'::regclass
				THEN 'crm.clients'::regclass END
	  FROM pg_depend d
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname IN ('crm', 'crm_demo')
	  JOIN pg_class c ON c.oid = d.objid AND c.relkind IN ('r', 'p')
	  LEFT JOIN pg_attribute a
		ON a.attrelid = c.oid AND a.attname = 'client_id' AND NOT a.attisdropped
	 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
	   AND d.deptype = 'e'
	 ORDER BY c.oid <> 'crm.clients'::regclass, 3, c.relname
$$;
COMMENT ON FUNCTION crm.distribution_plan() IS 'every table of crm and crm_demo and what crm.distribute makes of it: distributed by client_id (co-located with crm.clients) or reference';

/*
 * distribute: on a Citus coordinator, distributes crm's tables as
 * distribution_plan() says, in one transaction: the rows already there
 * move to the shards and the coordinator's local copies are emptied; the
 * foreign keys are re-created where Citus has them (between co-located
 * tables, to reference tables, between reference tables), the one from a
 * reference table to a distributed one (discount_rules.client_id) is left
 * to the rule's trigger, which checks it on the coordinator; the manager
 * policies take the form Citus accepts (crm.owns_client).  Calling it
 * again changes nothing.  shard_count: the shards of a distributed table
 * (default: citus.shard_count).
 */
CREATE FUNCTION crm.distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (table_name regclass, kind text, action text, rows_moved bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p			record;
	fk			record;
	tg			record;
	todo		regclass[] := '{}';
	moved		bigint;
	fks			text[] := '{}';
	left_out	text[] := '{}';
	triggers	text[] := '{}';
	stmt		text;
	messages	text := current_setting('client_min_messages');
	early		jsonb := '{}';
	kinds		jsonb;
BEGIN
	-- table names in full, here and in what is sent to the workers
	PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
		RAISE EXCEPTION 'crm.distribute needs Citus: the extension citus is not installed in database "%"', current_database()
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Add citus to shared_preload_libraries, CREATE EXTENSION citus, add the workers (citus_add_node), then call crm.distribute() (docs/scale-out.md).';
	END IF;
	IF shard_count IS NOT NULL AND (shard_count < 1 OR shard_count > 64000) THEN
		RAISE EXCEPTION 'shard_count % is out of range: 1 to 64000', shard_count
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT citus_is_coordinator() THEN
		RAISE EXCEPTION 'crm.distribute runs on the coordinator, not on a worker'
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_dist_node WHERE groupid = 0) THEN
		RAISE EXCEPTION 'crm.distribute runs on a coordinator that is in Citus''s metadata'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'On the coordinator: SELECT citus_set_coordinator_host(''<its host>'', <its port>); then add the workers.';
	END IF;
	IF NOT pg_has_role((SELECT relowner FROM pg_class WHERE oid = 'crm.clients'::regclass), 'USAGE') THEN
		RAISE EXCEPTION 'crm.distribute must be run by the owner of crm''s tables (%)',
			(SELECT relowner::regrole FROM pg_class WHERE oid = 'crm.clients'::regclass)
			USING ERRCODE = 'insufficient_privilege';
	END IF;

	SELECT jsonb_object_agg(d.table_name::text, d.kind) INTO kinds FROM crm.distribution_plan() d;

	-- what is already done, and any table Citus has in another form
	FOR p IN SELECT d.*, x.partmethod, x.repmodel,
					CASE WHEN x.partmethod = 'h' THEN column_to_column_name(x.logicalrelid, x.partkey) END AS key
			   FROM crm.distribution_plan() d
			   LEFT JOIN pg_dist_partition x ON x.logicalrelid = d.table_name
	LOOP
		IF p.partmethod IS NULL THEN
			todo := todo || p.table_name;
		ELSIF NOT ((p.kind = 'distributed' AND p.partmethod = 'h' AND p.key = 'client_id'
					AND (p.colocate_with IS NULL
						 OR (SELECT a.colocationid = b.colocationid
							   FROM pg_dist_partition a, pg_dist_partition b
							  WHERE a.logicalrelid = p.table_name
								AND b.logicalrelid = p.colocate_with)))
				   OR (p.kind = 'reference' AND p.partmethod = 'n' AND p.repmodel = 't')) THEN
			RAISE EXCEPTION 'table % is already managed by Citus, but not as crm.distribute makes it (%)', p.table_name,
				CASE p.kind WHEN 'distributed' THEN 'distributed by client_id, co-located with crm.clients'
					ELSE 'a reference table' END
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Undo it (undistribute_table) and call crm.distribute() again.';
		END IF;
	END LOOP;

	IF cardinality(todo) > 0 THEN
		PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
		PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
		IF shard_count IS NOT NULL THEN
			PERFORM set_config('citus.shard_count', shard_count::text, true);
		END IF;

		-- first, for crm and for crm_demo, a reference table that nothing
		-- refers to, with no key, trigger or policy: Citus then creates the
		-- extension on the workers, in a session of its own, before this
		-- transaction holds locks there (in a database that had crm before
		-- it had Citus, the extension would otherwise be created with the
		-- first table that needs it, waiting on those locks)
		FOR p IN SELECT DISTINCT ON (d.extension) d.extension, d.table_name
				   FROM crm.distribution_plan() d
				  WHERE d.table_name = ANY (todo) AND d.kind = 'reference'
					AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.contype = 'f'
									 AND d.table_name IN (c.conrelid, c.confrelid))
					AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = d.table_name AND NOT t.tgisinternal)
					AND NOT EXISTS (SELECT 1 FROM pg_policy y WHERE y.polrelid = d.table_name)
				  ORDER BY d.extension, d.table_name::text
		LOOP
			EXECUTE format('SELECT count(*) FROM ONLY %s', p.table_name) INTO moved;
			PERFORM set_config('client_min_messages', 'warning', true);
			PERFORM create_reference_table(p.table_name);
			PERFORM set_config('client_min_messages', messages, true);
			early := early || jsonb_build_object(p.table_name::text, moved);
		END LOOP;

		-- the foreign keys that touch a table to be distributed, kept to be
		-- re-created; dropped here and on the workers, whose copies of crm's
		-- tables (created with the extension) become Citus's shells there
		FOR fk IN SELECT c.conrelid::regclass AS rel, c.conname, c.confrelid::regclass AS ref,
						 pg_get_constraintdef(c.oid) AS def
					FROM pg_constraint c
				   WHERE c.contype = 'f'
					 AND (c.conrelid = ANY (todo) OR c.confrelid = ANY (todo))
				   ORDER BY c.conrelid::regclass::text, c.conname
		LOOP
			IF kinds ->> fk.rel::text = 'reference' AND kinds ->> fk.ref::text = 'distributed' THEN
				left_out := left_out || format('%s.%s', fk.rel, fk.conname);
			ELSE
				fks := fks || format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.rel, fk.conname, fk.def);
			END IF;
			EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.rel, fk.conname);
			PERFORM run_command_on_workers(
				format('ALTER TABLE IF EXISTS %s DROP CONSTRAINT IF EXISTS %I', fk.rel, fk.conname));
		END LOOP;

		-- the manager policies with a subquery (Citus refuses them)
		FOR p IN SELECT format('%I.%I', schemaname, tablename) AS rel
				   FROM pg_policies
				  WHERE policyname = 'crm_manager'
					AND format('%I.%I', schemaname, tablename)::regclass = ANY (todo)
					AND (qual ~ 'SELECT' OR with_check ~ 'SELECT')
		LOOP
			EXECUTE format('DROP POLICY crm_manager ON %s', p.rel);
			PERFORM run_command_on_workers(format('DROP POLICY IF EXISTS crm_manager ON %s', p.rel));
		END LOOP;

		-- the triggers stay off while the rows move (the guards of the
		-- shipped rows and of the append-only ledger would refuse the copy
		-- and the emptying of the local tables), then come back as they were
		FOR tg IN SELECT t.tgrelid::regclass AS rel, t.tgname, t.tgenabled
					FROM pg_trigger t
				   WHERE t.tgrelid = ANY (todo) AND NOT t.tgisinternal
		LOOP
			EXECUTE format('ALTER TABLE %s DISABLE TRIGGER %I', tg.rel, tg.tgname);
			triggers := triggers || format('ALTER TABLE %s %s TRIGGER %I', tg.rel,
				CASE tg.tgenabled WHEN 'A' THEN 'ENABLE ALWAYS' WHEN 'R' THEN 'ENABLE REPLICA'
								  WHEN 'D' THEN 'DISABLE' ELSE 'ENABLE' END, tg.tgname);
		END LOOP;
	END IF;

	FOR p IN SELECT * FROM crm.distribution_plan() LOOP
		table_name := p.table_name;
		kind := p.kind;
		rows_moved := 0;
		IF NOT p.table_name = ANY (todo) THEN
			action := 'already';
			RETURN NEXT;
			CONTINUE;
		END IF;
		IF early ? p.table_name::text THEN
			action := 'made reference';
			rows_moved := (early ->> p.table_name::text)::bigint;
			RETURN NEXT;
			CONTINUE;
		END IF;
		EXECUTE format('SELECT count(*) FROM ONLY %s', p.table_name) INTO moved;
		PERFORM set_config('client_min_messages', 'warning', true);	-- Citus's notice per table
		IF p.kind = 'distributed' AND p.colocate_with IS NULL THEN
			PERFORM create_distributed_table(p.table_name, 'client_id');
		ELSIF p.kind = 'distributed' THEN
			PERFORM create_distributed_table(p.table_name, 'client_id', colocate_with => p.colocate_with::text);
		ELSE
			PERFORM create_reference_table(p.table_name);
		END IF;
		action := CASE p.kind WHEN 'distributed' THEN 'distributed' ELSE 'made reference' END;
		PERFORM set_config('client_min_messages', messages, true);
		rows_moved := moved;
		RETURN NEXT;
	END LOOP;

	IF cardinality(todo) > 0 THEN
		-- no local copy left for anything to read or write
		PERFORM set_config('client_min_messages', 'warning', true);
		FOREACH table_name IN ARRAY todo LOOP
			PERFORM truncate_local_data_after_distributing_table(table_name);
		END LOOP;
		PERFORM set_config('client_min_messages', messages, true);
		FOREACH stmt IN ARRAY fks LOOP
			EXECUTE stmt;
		END LOOP;
		FOREACH stmt IN ARRAY triggers LOOP
			EXECUTE stmt;
		END LOOP;
		-- the category tree's key: on one node a trigger keeps it (so that
		-- pg_dump has no loop of keys to warn about), which cannot read the
		-- table from inside Citus's write to a reference table; Citus keeps
		-- a reference table's key to itself, so the key is real here
		IF 'crm.categories'::regclass = ANY (todo) THEN
			ALTER TABLE crm.categories ADD CONSTRAINT categories_parent_fkey
				FOREIGN KEY (parent_id) REFERENCES crm.categories (category_id);
			ALTER TABLE crm.categories DISABLE TRIGGER categories_parent_exists;
		END IF;
	END IF;

	-- the manager policies, in the form Citus accepts (no subquery)
	FOR p IN SELECT d.table_name FROM crm.distribution_plan() d
			  WHERE d.kind = 'distributed' AND d.table_name <> 'crm.clients'::regclass
				AND d.table_name IN (SELECT format('%I.%I', schemaname, tablename)::regclass
									   FROM pg_policies WHERE policyname = 'crm_staff')
				AND NOT EXISTS (SELECT 1 FROM pg_policies y
								 WHERE format('%I.%I', y.schemaname, y.tablename)::regclass = d.table_name
								   AND y.policyname = 'crm_manager')
	LOOP
		EXECUTE format('CREATE POLICY crm_manager ON %s TO crm_manager'
					   ' USING (crm.owns_client(client_id)) WITH CHECK (crm.owns_client(client_id))',
					   p.table_name);
	END LOOP;
	IF NOT EXISTS (SELECT 1 FROM pg_policies
					WHERE schemaname = 'crm' AND tablename = 'discount_rules' AND policyname = 'crm_manager') THEN
		CREATE POLICY crm_manager ON crm.discount_rules FOR SELECT TO crm_manager
			USING (client_id IS NULL OR crm.owns_client(client_id));
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'discount_rules_client_fkey'
					AND conrelid = 'crm.discount_rules'::regclass)
	   AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'clients_keep_discount_rules'
						AND tgrelid = 'crm.clients'::regclass) THEN
		CREATE TRIGGER clients_keep_discount_rules BEFORE DELETE OR UPDATE OF client_id ON crm.clients
			FOR EACH ROW EXECUTE FUNCTION crm.clients_keep_discount_rules();
	END IF;
	IF cardinality(left_out) > 0 THEN
		RAISE NOTICE 'foreign keys from a reference table to a distributed table, which Citus does not have, are kept by triggers instead: %',
			array_to_string(left_out, ', ');
	END IF;
END
$$;
COMMENT ON FUNCTION crm.distribute(integer) IS 'on a Citus coordinator: distributes crm''s client-keyed tables by client_id (co-located), makes the others reference tables, moves the rows there; idempotent';
REVOKE EXECUTE ON FUNCTION crm.distribute(integer) FROM PUBLIC;
