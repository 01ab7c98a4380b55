#
# test/citus/same_answers.sh: sourced by test/citus/run (citus_psql,
# citus_database, $work).  The single-node answer, row for row, from a
# cluster where crm.distribute() has distributed crm's tables, in both
# ways a DBA gets there:
#
#   single    one node: a database on the coordinator without Citus;
#   fresh     crm.distribute() on an empty database, then the activity;
#   existing  a database of one node with crm, crm_demo and the activity,
#             then Citus (the extension, the workers), then
#             crm.distribute(), which moves the rows to the shards and
#             empties the local tables.
#
# The activity is test/include/activity.sql (demo data, every kind of
# loyalty entry, discounts, recorded carts, segment refreshes); the answers
# are test/include/snapshot_analytics.sql, test/citus/snapshot_more.sql
# (fits, LTV/CAC, affinity, cards, contact rules, segments, transitions, a
# refresh with its notifications, two managers under row security) and
# every row of every table of crm.  Timestamps of this week (the moments
# the activity ran at) are masked before comparing.  Prints one line per
# kind of answer: "ok <kind>: N lines identical in fresh and existing" or
# "FAIL <kind>" with the first differences.
#
same_answers() {
	local db label
	citus_psql coordinator -d postgres -c "CREATE DATABASE single"
	citus_psql coordinator -d postgres -c "CREATE DATABASE existing"
	citus_database fresh
	for db in fresh existing single; do
		citus_psql coordinator -d "$db" -c "SET client_min_messages = warning" \
			-c 'CREATE EXTENSION IF NOT EXISTS crm' -c 'CREATE EXTENSION IF NOT EXISTS crm_demo' >/dev/null
	done
	# two managers, created where Citus creates them on every node too
	citus_psql coordinator -d fresh >/dev/null <<-'SQL'
		SELECT format('CREATE ROLE %I LOGIN IN ROLE crm_manager', r)
		  FROM unnest(ARRAY['crm_test_m1', 'crm_test_m2']) r
		 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
	SQL
	citus_psql coordinator -d fresh -At -c "SELECT count(*) || ' tables distributed' FROM crm.distribute()"
	for db in single fresh existing; do
		citus_psql coordinator -d "$db" -v clients=300 -v carts=40 -f test/include/activity.sql >/dev/null
		citus_psql coordinator -d "$db" \
			-c "UPDATE crm.clients SET owner = 'crm_test_m1' WHERE client_id % 10 = 1" \
			-c "UPDATE crm.clients SET owner = 'crm_test_m2' WHERE client_id % 10 = 2" >/dev/null
	done
	citus_join existing
	citus_psql coordinator -d existing -At -c "SELECT sum(rows_moved) || ' rows moved' FROM crm.distribute()"
	for db in single fresh existing; do
		{
			citus_psql coordinator -d "$db" -At -v ON_ERROR_STOP=0 -v as_of="'2025-01-01'" \
				-v priced_at="'2024-12-28 12:00:00+00'" \
				-v balance_at="'$(date -u -d '+1 day' '+%F %T')+00'" \
				-f test/include/snapshot_analytics.sql -f test/citus/snapshot_more.sql 2>&1
			citus_psql coordinator -d "$db" -At -v ON_ERROR_STOP=0 -f test/citus/table_rows.sql 2>&1
		} | perl -pe 'BEGIN { @t = gmtime(time - 7 * 86400); $cut = sprintf("%04d-%02d-%02d", $t[5] + 1900, $t[4] + 1, $t[3]); }
			s/(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(\.\d+)?)(\+00(:00)?)?/$1 ge $cut ? "<now>" : $&/ge;
			s/with PID \d+/with PID <pid>/' \
			| grep -v '^fastpath ' >"$work/$db.answers"
	done
	# what there is to compare: every kind of answer, with its lines
	for label in $(cut -d' ' -f1 "$work/single.answers" | sort -u); do
		for db in fresh existing; do
			diff <(grep "^$label " "$work/single.answers") <(grep "^$label " "$work/$db.answers") \
				>"$work/diff" || { echo "FAIL $label: $db differs from one node"; head -20 "$work/diff"; continue 2; }
		done
		echo "ok $label: $(grep -c "^$label " "$work/single.answers") lines identical in fresh and existing"
	done
	# anything only the cluster printed (an error, a notice)
	for db in fresh existing; do
		awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen)' "$work/single.answers" "$work/$db.answers" \
			>"$work/extra"
		if [ -s "$work/extra" ]; then
			echo "FAIL $db printed what one node did not:"
			head -10 "$work/extra"
		fi
	done
}
# no local copy left on the coordinator, and no C pass over a shell (the
# analytics gather per-client rows from the shards, the loyalty call is SQL)
after_distribute() {
	local db
	for db in fresh existing; do
		citus_psql coordinator -d "$db" -At >"$work/out2" <<-'SQL'
			SELECT CASE WHEN count(*) = 0 THEN 'ok no table of crm keeps rows in the coordinator''s local copy'
						ELSE 'FAIL local rows left in ' || string_agg(p.table_name::text, ', ') END
			  FROM crm.distribution_plan() p WHERE pg_relation_size(p.table_name) > 0;
			SELECT crm.fast_path_stats_reset();
			SELECT count(*) FROM crm.rfm_scores('2025-01-01');
			SELECT count(*) FROM crm.churn_signals('2025-01-01');
			SELECT count(crm.earn_points(1, 'club', 1, 'fastpath-check'));
			SELECT CASE WHEN count(*) = 3
							 AND bool_and(reason = 'managed by Citus')
							 AND bool_and(path = CASE function WHEN 'crm.earn_points' THEN 'sql' ELSE 'shards' END)
						THEN 'ok rfm_scores, churn_signals from per-client rows of the shards, earn_points in SQL: managed by Citus'
						ELSE 'FAIL fast path on the cluster: ' || string_agg(function || ' ' || path || ' ' || coalesce(reason, ''), '; ') END
			  FROM crm.fast_path_stats();
		SQL
		grep -E '^(ok|FAIL)' "$work/out2" | sed "s/^\(ok\|FAIL\) /\1 $db: /"
	done
}

# loyalty calls from four sessions at once on the same accounts: every
# call applied once, a replayed key once in all, the ledger consistent
concurrent_loyalty() {
	local s i before after
	citus_psql coordinator -d fresh -At >/dev/null <<-'SQL'
		WITH c AS MATERIALIZED (SELECT g AS client_id FROM generate_series(1, 8) g)
		SELECT count(crm.adjust_points(c.client_id, 'club', 1000, 'concurrency-seed-' || c.client_id, 'seed')) FROM c;
	SQL
	before=$(citus_psql coordinator -d fresh -At -c "SELECT sum(balance) FROM crm.loyalty_accounts WHERE client_id <= 8")
	for s in 1 2 3 4; do
		for i in $(seq 1 40); do
			echo "SELECT count(*) FROM crm.earn_points($((1 + i % 8)), 'club', 3, 'c-$s-$i');"
			echo "SELECT count(*) FROM crm.redeem_points($((1 + (i + s) % 8)), 'club', 1, 'r-$s-$i');"
			echo "SELECT count(*) FROM crm.earn_points($((1 + i % 8)), 'club', 5, 'shared-$i');"
		done >"$work/session$s.sql"
		citus_psql coordinator -d fresh -At -f "$work/session$s.sql" >"$work/session$s.out" 2>&1 &
	done
	wait
	after=$(citus_psql coordinator -d fresh -At -c "SELECT sum(balance) FROM crm.loyalty_accounts WHERE client_id <= 8")
	if [ $((after - before)) = $((4 * 40 * 3 - 4 * 40 + 40 * 5)) ]; then
		echo "ok four concurrent sessions: 480 points earned, 160 redeemed, 40 replayed keys paid once: +520"
	else
		echo "FAIL four concurrent sessions: the balances moved by $((after - before)), not 520"
		grep -h ERROR "$work"/session*.out | head -5
	fi
	citus_psql coordinator -d fresh -At -c "SELECT CASE WHEN count(*) = 0 THEN 'ok crm.verify_ledger() finds nothing after the concurrent calls'
		ELSE 'FAIL crm.verify_ledger(): ' || string_agg(v::text, '; ') END FROM crm.verify_ledger() v"
}

same_answers
after_distribute
concurrent_loyalty
