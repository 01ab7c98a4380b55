#
# test/citus/add_worker.sh: sourced by test/citus/run.  A worker added to
# a cluster where crm is distributed: Citus creates crm on it and copies
# crm's reference tables there (crm's triggers on reference tables leave
# their checks to the coordinator, so the copy goes through), the shards
# are rebalanced onto it, and crm's answers, keys and guards are those of
# before.
#
add_worker() {
	local db=add_worker
	citus_database "$db"
	citus_psql coordinator -d "$db" -At >/dev/null <<-'SQL'
		SET client_min_messages = warning;
		CREATE EXTENSION crm;
		CREATE EXTENSION crm_demo;
		SELECT count(*) FROM crm.generate_demo_data(300, 5, '2025-01-01');
		SELECT count(*) FROM crm.distribute();
		CREATE TABLE public.before AS
		SELECT 'rfm' AS what, md5(string_agg(r::text, ',' ORDER BY r.client_id)) AS answer FROM crm.rfm_scores('2025-01-01') r
		UNION ALL
		SELECT 'churn', md5(string_agg(c::text, ',' ORDER BY c.client_id)) FROM crm.churn_signals('2025-01-01') c
		UNION ALL
		SELECT 'orders', md5(string_agg(o::text, ',' ORDER BY o.order_id)) FROM crm.orders o;
	SQL
	# called on a worker: refused, nothing changed
	if out=$(citus_psql worker1 -d "$db" -At -c 'SELECT count(*) FROM crm.distribute()' 2>&1); then
		echo "FAIL crm.distribute on a worker: $out"
	elif [[ $out == *"crm.distribute runs on the coordinator, not on a worker"* ]]; then
		echo "ok crm.distribute on a worker: refused"
	else
		echo "FAIL crm.distribute on a worker: $out"
	fi
	# a third node, started here and stopped at the end of this test
	citus_start_node worker3
	trap '"${citus_run[@]}" "$bin/pg_ctl" -D "$citus_work/worker3" -m immediate stop >/dev/null 2>&1 || true' RETURN
	citus_psql worker3 -d postgres -c "CREATE DATABASE $db"
	citus_psql worker3 -d "$db" -c 'CREATE EXTENSION citus'
	citus_psql coordinator -d "$db" -At -c "SELECT citus_add_node('127.0.0.1', ${port[worker3]})" >/dev/null
	citus_psql coordinator -d "$db" -At -c "SET client_min_messages = warning" \
		-c "SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')" >/dev/null
	citus_psql coordinator -d "$db" -At <<-SQL
		SELECT CASE WHEN count(*) > 0 THEN 'ok the new worker holds ' || count(*) || ' shards of crm.orders'
					ELSE 'FAIL no shard of crm.orders on the new worker' END
		  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
		  JOIN pg_dist_node n USING (groupid)
		 WHERE s.logicalrelid = 'crm.orders'::regclass AND n.nodeport = ${port[worker3]};
		SELECT CASE WHEN count(*) = (SELECT count(*) FROM crm.distribution_plan() WHERE kind = 'reference')
					THEN 'ok every reference table of crm has a copy on the new worker'
					ELSE 'FAIL reference tables on the new worker: ' || count(*) END
		  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
		 WHERE s.logicalrelid IN (SELECT table_name FROM crm.distribution_plan() WHERE kind = 'reference')
		   AND n.nodeport = ${port[worker3]};
		SELECT CASE WHEN b.answer = a.answer THEN 'ok ' || b.what || ': the same answer after the rebalance'
					ELSE 'FAIL ' || b.what || ': another answer after the rebalance' END
		  FROM public.before b
		  JOIN (SELECT 'rfm' AS what, md5(string_agg(r::text, ',' ORDER BY r.client_id)) AS answer FROM crm.rfm_scores('2025-01-01') r
				UNION ALL
				SELECT 'churn', md5(string_agg(c::text, ',' ORDER BY c.client_id)) FROM crm.churn_signals('2025-01-01') c
				UNION ALL
				SELECT 'orders', md5(string_agg(o::text, ',' ORDER BY o.order_id)) FROM crm.orders o) a USING (what)
		 ORDER BY b.what;
		INSERT INTO crm.discount_rules (code, name, action, value, client_id) VALUES ('for-7', 'for 7', 'percent', 5, 7);
		DO \$\$
		BEGIN
			INSERT INTO crm.discount_rules (code, name, action, value, client_id) VALUES ('nobody', 'x', 'percent', 5, 987654);
			RAISE NOTICE 'FAIL a rule for a missing client was stored';
		EXCEPTION WHEN foreign_key_violation THEN
			RAISE NOTICE 'ok a rule for a missing client is refused: %', SQLERRM;
		END \$\$;
		SELECT CASE WHEN count(*) = 1 THEN 'ok the rule for client 7 is read on every node''s copy'
					ELSE 'FAIL rules for client 7: ' || count(*) END
		  FROM crm.discount_rules WHERE client_id = 7;
	SQL
}
add_worker 2>&1 | sed 's/^NOTICE:  //'
