#!/usr/bin/env bash
#
# test/scripts/dump_restore_analytics.sh: nothing is lost by pg_dump and
# pg_restore.  A database with crm and the activity of
# test/include/activity.sql (300 demo clients, a loyalty programme with
# every kind of ledger entry and tier changes, discount rules used by 40
# recorded carts, segment refreshes) is dumped (custom format) and
# restored into a fresh database.  Then:
#
#   - every table of schema crm has the same rows (count and a digest of the
#     rows in text form), every sequence the same position;
#   - the analytics give the same answers, as text, computed with the same
#     explicit moments in both (test/include/snapshot_analytics.sql: RFM,
#     churn, profiles, the CLV fits and report, ABC, the repeat curve,
#     cohorts, segment revenue, every points balance, a points statement,
#     the price of a few carts);
#   - crm.verify_ledger() returns no row in the restored database.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
db=crm_dump_analytics_$$
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d /tmp/crm-dump.XXXXXX)
# the SQL this test shares with test/scripts/cross_version/
include=$(cd "$(dirname "$0")/../include" && pwd)
cleanup() {
	command psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS ${db}_restored" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# the moment the analytics are computed at, and the moment carts are priced at
as_of="'2025-01-01 00:00:00+00'"
priced_at="'2024-12-28 12:00:00+00'"

psql -d postgres -c "CREATE DATABASE $db"
psql -d "$db" -v clients=300 -v carts=40 >/dev/null \
	-c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo' -f "$include/activity.sql"
# the moment every points balance is read at: after every entry
balance_at="'$(psql -d "$db" -At -c "SELECT clock_timestamp()")'"

# fingerprint DB: rows of every table of schema crm, position of every sequence
fingerprint() {
	psql -d "$1" -At -f "$include/snapshot_rows.sql"
}

# analytics DB: the answers, as text
analytics() {
	psql -d "$1" -At -v as_of="$as_of" -v priced_at="$priced_at" -v balance_at="$balance_at" \
		-f "$include/snapshot_analytics.sql"
}

fingerprint "$db" >"$work/rows-before"
analytics "$db" >"$work/analytics-before"

# the test is only as good as what it covers: these tables must have rows
for t in clients consents orders order_lines interactions incidents demo_clients \
	loyalty_programs loyalty_tiers loyalty_accounts loyalty_ledger loyalty_lots \
	loyalty_allocations loyalty_reversals loyalty_tier_changes discount_rules \
	order_discounts discount_usage client_segments segment_transitions segment_refreshes; do
	grep -qE "^table crm\.$t [1-9][0-9]* " "$work/rows-before" || fail "no rows in crm.$t before the dump"
done
for kind in earn welcome birthday redeem expire reversal adjust; do
	n=$(psql -d "$db" -At -c "SELECT count(*) FROM crm.loyalty_ledger WHERE kind = '$kind'")
	[ "$n" -gt 0 ] || fail "no '$kind' entry in the ledger before the dump"
done
for what in rfm rfm-sql rfm-mean churn churn-sql profile bgnbd gamma-gamma clv abc repeat \
	cohort segment-revenue balance statement cart fastpath; do
	grep -q "^$what " "$work/analytics-before" || fail "no '$what' result before the dump"
done
# (converged is the eighth field: r, alpha, a, b, loglik, n, iterations, converged, ...)
grep -Eq '^bgnbd \(([^,]*,){7}t[,)]' "$work/analytics-before" || fail "the BG/NBD fit did not converge"
! grep -q '^verify_ledger ' "$work/analytics-before" || fail "crm.verify_ledger() is not clean before the dump"
echo "before: $(grep -c '^table ' "$work/rows-before") tables, $(grep -c '^sequence ' "$work/rows-before") sequences, $(wc -l <"$work/analytics-before") analytics lines"

pg_dump -Fc -f "$work/dump" "$db"
psql -d postgres -c "CREATE DATABASE ${db}_restored"
pg_restore --exit-on-error -d "${db}_restored" "$work/dump" || fail "pg_restore failed"

fingerprint "${db}_restored" >"$work/rows-after"
analytics "${db}_restored" >"$work/analytics-after"
status=0
if diff -u --label before --label restored "$work/rows-before" "$work/rows-after"; then
	echo "rows: the same in all $(grep -c '^table ' "$work/rows-after") tables, sequences at the same positions"
else
	echo "FAIL: rows or sequence positions differ after restore (- before, + restored)" >&2
	status=1
fi
if diff -u --label before --label restored "$work/analytics-before" "$work/analytics-after"; then
	echo "analytics: the same $(wc -l <"$work/analytics-after") lines"
else
	echo "FAIL: the analytics differ after restore (- before, + restored)" >&2
	status=1
fi
v=$(psql -d "${db}_restored" -At -c "SELECT count(*) FROM crm.verify_ledger()")
[ "$v" = 0 ] || { echo "FAIL: crm.verify_ledger() reports $v problems in the restored database" >&2; status=1; }
[ "$status" = 0 ] && echo "verify_ledger: clean in the restored database"
exit $status
