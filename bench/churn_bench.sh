#!/usr/bin/env bash
#
# bench/churn_bench.sh: crm.churn_signals and crm.refresh_segments against
# the bare scan floor, measured in one run.
#
#   PG_CONFIG=... bench/churn_bench.sh [clients [runs]]     (default 1000000 3)
#
# Starts a throwaway cluster (as the postgres user when run as root), creates
# crm, fills it with crm.generate_demo_data(clients, 42, as_of), VACUUM
# ANALYZE, then times, `runs` times each in turn (best kept), with 2 parallel
# workers per gather and serially:
#   (a) the scan floor: SELECT client_id, count(*), max(ordered_at),
#       sum(net_amount) FROM crm.orders GROUP BY client_id
#   (b) SELECT * FROM crm.churn_signals(as_of)
# each with EXPLAIN (ANALYZE, TIMING OFF), so that every column is computed
# and no rows travel to the client; and then crm.refresh_segments(as_of): the first run (every client new:
# inserts, transitions), a second run for the same as_of (nothing changes),
# and a run one day later; it prints each time and its ratio to the floor.
set -euo pipefail
cd "$(dirname "$0")/.."

clients=${1:-1000000}
runs=${2:-3}
as_of='2025-01-01'
PG_CONFIG=${PG_CONFIG:-pg_config}
bindir=$("$PG_CONFIG" --bindir)

tmp=$(mktemp -d /tmp/crm-bench.XXXXXX)
run_server=()
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$tmp"
	run_server=(runuser -u postgres --)
	dbuser=postgres
else
	dbuser=$(id -un)
fi
cleanup() {
	"${run_server[@]}" "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"${run_server[@]}" "$bindir/initdb" -D "$tmp/data" -U "$dbuser" -A trust --no-sync \
	-E UTF8 --locale=C >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log"; exit 1; }
port=$(( 20000 + RANDOM % 20000 ))
"${run_server[@]}" "$bindir/pg_ctl" -D "$tmp/data" -w -l "$tmp/server.log" \
	-o "-k $tmp -p $port -c listen_addresses='' -c fsync=off -c synchronous_commit=off \
		-c shared_buffers=2GB -c max_wal_size=8GB -c checkpoint_timeout=30min -c work_mem=64MB" \
	start >/dev/null || { cat "$tmp/server.log"; exit 1; }
export PGHOST=$tmp PGPORT=$port PGUSER=$dbuser PGDATABASE=postgres
export PGOPTIONS="-c client_min_messages=warning"
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c 'CREATE EXTENSION crm'
start=$(date +%s)
psql -c "SELECT crm.generate_demo_data($clients, 42, '$as_of')" >/dev/null
psql -c 'VACUUM ANALYZE'
orders=$(psql -At -c 'SELECT count(*) FROM crm.orders')
inter=$(psql -At -c 'SELECT count(*) FROM crm.interactions')
echo "data: $clients demo clients, $orders orders, $inter interactions; loaded in $(( $(date +%s) - start )) s"

floor_sql="SELECT client_id, count(*), max(ordered_at), sum(net_amount) FROM crm.orders GROUP BY client_id"
churn_sql="SELECT * FROM crm.churn_signals('$as_of')"

ms() {
	# ms <workers> <sql>: execution time of the statement in ms, rows discarded
	psql -At -c "SET max_parallel_workers_per_gather = $1" \
		-c "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) $2" |
		sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
for workers in 2 0; do
	best_a=; best_b=
	for i in $(seq 1 "$runs"); do
		a=$(ms $workers "$floor_sql"); b=$(ms $workers "$churn_sql")
		echo "workers $workers, run $i: (a) scan floor $a ms, (b) churn_signals $b ms"
		best_a=$(min "$best_a" "$a"); best_b=$(min "$best_b" "$b")
	done
	awk -v w="$workers" -v a="$best_a" -v b="$best_b" 'BEGIN {
		printf "workers %s, best of runs: floor %.0f ms, churn_signals %.0f ms, ratio %.2f (target <= 2)\n", w, a, b, b / a }'
done

refresh() {
	# wall time of a refresh, commit included
	psql -At -c '\timing on' -c "SELECT * FROM crm.refresh_segments('$1')" |
		sed -n 's/^Time: \([0-9.]*\) ms.*$/\1/p'
}
best_a=
for i in $(seq 1 "$runs"); do best_a=$(min "$best_a" "$(ms 2 "$floor_sql")"); done
r1=$(refresh "$as_of")
r2=$(refresh "$as_of")
r3=$(refresh "2025-01-02")
changes=$(psql -At -c "SELECT string_agg(as_of::date || ': ' || transitions, ', ' ORDER BY as_of) FROM crm.segment_refreshes")
awk -v a="$best_a" -v r1="$r1" -v r2="$r2" -v r3="$r3" 'BEGIN {
	printf "refresh_segments: first %.0f ms (%.2f x floor), same as_of again %.0f ms (%.2f x), next day %.0f ms (%.2f x); floor %.0f ms (2 workers)\n",
		r1, r1 / a, r2, r2 / a, r3, r3 / a, a }'
echo "transitions per refresh: $changes"
echo "server: $("$bindir/postgres" --version), $(nproc) cores (shared with other users), work_mem $(psql -At -c 'SHOW work_mem'), shared_buffers $(psql -At -c 'SHOW shared_buffers'), jit $(psql -At -c 'SHOW jit')"
