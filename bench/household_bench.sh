#!/usr/bin/env bash
#
# bench/household_bench.sh: what a household member's redemption costs,
# against an ordinary one, in one run (ratios; absolute rates drift).
#
#   a) crm.redeem_points on an account outside any household (the C path,
#      which first looks the client up in the index of current memberships)
#   b) by a household member with enough points of their own (SQL: the
#      household's row and the members' accounts are locked first)
#   c) by a member with no points: every call moves the point from the
#      partner's lot (a debit, a credit, then the redemption)
#   d) crm.earn_points by a household member (the C path)
#   e) for scale: a) through the SQL implementation, crm.loyalty_redeem_sql
#      (what every call the C path hands over runs)
#
# CLIENTS pgbench clients (default 2), DURATION seconds each (default 10),
# over 200 plain accounts and 600 households of two.  Afterwards
# crm.verify_ledger() must return no rows.  Needs crm built and installed
# for $PG_CONFIG; runs its own throwaway cluster (scripts/cluster.sh).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-2}
SECONDS_RUN=${DURATION:-10}
. scripts/cluster.sh
crm_cluster_start fsync=off >/dev/null
export PATH="$bindir:$PATH"
tmp=$(mktemp -d /tmp/crm-household-bench.XXXXXX)
# the cluster's own EXIT trap (crm_cluster_stop), and this script's files
trap 'crm_cluster_stop; rm -rf "$tmp"' EXIT

psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION crm;
INSERT INTO crm.clients (client_id, first_name) SELECT g, 'client ' || g FROM generate_series(1, 1400) g;
INSERT INTO crm.loyalty_programs (code, name, points_per_unit) VALUES ('bench', 'Bench', 1);
-- 1..200: plain accounts; 201..1400: households of two, owner 201 + 2k, member 202 + 2k
SELECT count(crm.earn_points(g, 'bench', 10000000, 'seed-' || g)) FROM generate_series(1, 200) g;
SELECT count(crm.create_household(g, 'bench')) FROM generate_series(201, 1399, 2) g;
SELECT count(crm.join_household(g + 1, g, 'bench')) FROM generate_series(201, 1399, 2) g;
SELECT count(crm.earn_points(g, 'bench', 10000000, 'seed-' || g)) FROM generate_series(201, 1399, 2) g;
-- the members of the first 300 households have points of their own, the others none
SELECT count(crm.earn_points(g, 'bench', 10000000, 'seed-' || g)) FROM generate_series(202, 800, 2) g;
CREATE SEQUENCE bench_keys;
VACUUM ANALYZE;
SQL

printf '%s\n' '\set c random(1, 200)' \
	"SELECT crm.redeem_points(:c, 'bench', 1, 'a-' || nextval('bench_keys'));" >"$tmp/a.sql"
printf '%s\n' '\set k random(0, 299)' \
	"SELECT crm.redeem_points(202 + 2 * :k, 'bench', 1, 'b-' || nextval('bench_keys'));" >"$tmp/b.sql"
printf '%s\n' '\set k random(300, 599)' \
	"SELECT crm.redeem_points(202 + 2 * :k, 'bench', 1, 'c-' || nextval('bench_keys'));" >"$tmp/c.sql"
printf '%s\n' '\set k random(0, 599)' \
	"SELECT crm.earn_points(202 + 2 * :k, 'bench', 1, 'd-' || nextval('bench_keys'));" >"$tmp/d.sql"
printf '%s\n' '\set c random(1, 200)' \
	"SELECT crm.loyalty_redeem_sql(:c, 'bench', 1, 'e-' || nextval('bench_keys'), NULL, NULL, NULL);" >"$tmp/e.sql"
run() {
	pgbench -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" -f "$1" 2>&1 | awk '/^tps/ {print $3; exit}'
}
a=$(run "$tmp/a.sql")
b=$(run "$tmp/b.sql")
c=$(run "$tmp/c.sql")
d=$(run "$tmp/d.sql")
e=$(run "$tmp/e.sql")
awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v e="$e" 'BEGIN {
	printf "a) redeem, no household (C):          %8.0f calls/s  1.00\n", a
	printf "b) redeem, member, own points (SQL):  %8.0f calls/s  %.2f\n", b, b / a
	printf "c) redeem, member, transfers (SQL):   %8.0f calls/s  %.2f\n", c, c / a
	printf "d) earn, member (C):                  %8.0f calls/s  %.2f\n", d, d / a
	printf "e) redeem, no household (SQL twin):   %8.0f calls/s  %.2f\n", e, e / a
}'
echo "verify_ledger rows:   $(psql -X -At -c 'SELECT count(*) FROM crm.verify_ledger()')"
