#
# test/citus/same_answers.sh: sourced by test/citus/run (citus_psql,
# citus_database, $work).  The single-node answer, row for row, from a
# cluster where crm.distribute() has distributed crm's tables, in both
# ways a DBA gets there:
#
#   single    one node: a database on the coordinator without Citus;
#   fresh     crm.distribute() on an empty database, then the activity;
#   existing  the activity on one node, then crm.distribute(), which moves
#             the rows to the shards and empties the local tables.
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
	citus_database fresh
	citus_database existing
	for db in single fresh existing; do
		citus_psql coordinator -d "$db" -c "SET client_min_messages = warning" \
			-c 'CREATE EXTENSION IF NOT EXISTS crm' -c 'CREATE EXTENSION IF NOT EXISTS crm_demo' \
			-c "DO \$\$ BEGIN CREATE ROLE crm_test_m1 IN ROLE crm_manager; CREATE ROLE crm_test_m2 IN ROLE crm_manager;
				EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
	done
	citus_psql coordinator -d fresh -At -c "SELECT count(*) || ' tables distributed' FROM crm.distribute()"
	for db in single fresh existing; do
		citus_psql coordinator -d "$db" -v clients=300 -v carts=40 -f test/include/activity.sql >/dev/null
		citus_psql coordinator -d "$db" \
			-c "UPDATE crm.clients SET owner = 'crm_test_m1' WHERE client_id % 10 = 1" \
			-c "UPDATE crm.clients SET owner = 'crm_test_m2' WHERE client_id % 10 = 2" >/dev/null
	done
	citus_psql coordinator -d existing -At -c "SELECT sum(rows_moved) || ' rows moved' FROM crm.distribute()"
	for db in single fresh existing; do
		{
			citus_psql coordinator -d "$db" -At -v as_of="'2025-01-01'" \
				-v priced_at="'2024-12-28 12:00:00+00'" \
				-v balance_at="'$(date -u -d '+1 day' '+%F %T')+00'" \
				-f test/include/snapshot_analytics.sql -f test/citus/snapshot_more.sql 2>&1
			citus_psql coordinator -d "$db" -At -f test/citus/table_rows.sql 2>&1
		} | perl -pe 'BEGIN { @t = gmtime(time - 7 * 86400); $cut = sprintf("%04d-%02d-%02d", $t[5] + 1900, $t[4] + 1, $t[3]); }
			s/(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d(\.\d+)?)(\+00(:00)?)?/$1 ge $cut ? "<now>" : $&/ge;
			s/server process PID \d+/server process PID <pid>/' \
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
		cut -d' ' -f1 "$work/$db.answers" | sort -u | while read -r label; do
			grep -q "^$label " "$work/single.answers" || { echo "FAIL $db printed: "; grep "^$label" "$work/$db.answers" | head -5; }
		done
	done
}
same_answers
