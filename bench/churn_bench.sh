#!/usr/bin/env bash
#
# bench/churn_bench.sh: crm.churn_signals and crm.refresh_segments against
# the bare scan floor, measured in one run.
#
#   PG_CONFIG=... bench/churn_bench.sh [clients [runs]]     (default 1000000 3)
#
# Starts a throwaway cluster (scripts/cluster.sh), creates
# crm, fills it with crm.generate_demo_data(clients, 42, as_of), VACUUM
# ANALYZE, then times, `runs` times each in turn (best kept), with 2 parallel
# workers per gather and serially:
#   (a) the scan floor: SELECT client_id, count(*), max(ordered_at),
#       sum(net_amount) FROM crm.orders GROUP BY client_id
#   (b) SELECT * FROM crm.churn_signals(as_of)
# (first checking that crm.churn_signals and crm.churn_signals_sql agree)
# each with EXPLAIN (ANALYZE, TIMING OFF), so that every column is computed
# and no rows travel to the client; and then crm.refresh_segments(as_of): the first run (every client new:
# inserts, transitions), a second run for the same as_of (nothing changes),
# and a run one day later; it prints each time and its ratio to the floor.
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."

clients=${1:-1000000}
runs=${2:-3}
as_of='2025-01-01'
. scripts/cluster.sh
crm_cluster_start fsync=off synchronous_commit=off shared_buffers=2GB max_wal_size=8GB \
	checkpoint_timeout=30min work_mem=64MB
export PGOPTIONS="-c client_min_messages=warning"
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo'
start=$(date +%s)
psql -c "SELECT crm.generate_demo_data($clients, 42, '$as_of')" >/dev/null
psql -c 'VACUUM ANALYZE'
orders=$(psql -At -c 'SELECT count(*) FROM crm.orders')
inter=$(psql -At -c 'SELECT count(*) FROM crm.interactions')
echo "data: $clients demo clients, $orders orders, $inter interactions; loaded in $(( $(date +%s) - start )) s"

floor_sql="SELECT client_id, count(*), max(ordered_at), sum(net_amount) FROM crm.orders GROUP BY client_id"

# crm.churn_signals (C) and crm.churn_signals_sql (its definition in SQL)
# give the same rows, every column, floats bit for bit
diff=$(psql -At -c "SET extra_float_digits = 1" -c "SELECT count(*) FROM (
	((SELECT c::text FROM crm.churn_signals('$as_of') c) EXCEPT ALL (SELECT c::text FROM crm.churn_signals_sql('$as_of') c))
	UNION ALL
	((SELECT c::text FROM crm.churn_signals_sql('$as_of') c) EXCEPT ALL (SELECT c::text FROM crm.churn_signals('$as_of') c))) x")
echo "crm.churn_signals and crm.churn_signals_sql: $diff rows differ"
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
	eval "floor_$workers=$best_a"
done

refresh() {
	# wall time of a refresh, commit included
	psql -At -c '\timing on' -c "SELECT * FROM crm.refresh_segments('$1')" |
		sed -n 's/^Time: \([0-9.]*\) ms.*$/\1/p'
}
r1=$(refresh "$as_of")
r2=$(refresh "$as_of")
r3=$(refresh "2025-01-02")
changes=$(psql -At -c "SELECT string_agg(as_of::date || ': ' || transitions, ', ' ORDER BY as_of) FROM crm.segment_refreshes")
awk -v a="$floor_2" -v s="$floor_0" -v r1="$r1" -v r2="$r2" -v r3="$r3" 'BEGIN {
	printf "refresh_segments: first %.0f ms, same as_of again %.0f ms, next day %.0f ms\n", r1, r2, r3;
	printf "  against the 2-worker floor (%.0f ms): %.2f, %.2f, %.2f; against the serial floor (%.0f ms): %.2f, %.2f, %.2f\n",
		a, r1 / a, r2 / a, r3 / a, s, r1 / s, r2 / s, r3 / s }'
echo "transitions per refresh: $changes"
echo "server: $("$bindir/postgres" --version), $(nproc) cores (shared with other users), work_mem $(psql -At -c 'SHOW work_mem'), shared_buffers $(psql -At -c 'SHOW shared_buffers'), jit $(psql -At -c 'SHOW jit')"
