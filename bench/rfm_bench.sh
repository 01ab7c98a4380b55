#!/usr/bin/env bash
#
# bench/rfm_bench.sh: how crm.rfm_scores compares with a bare scan and with
# RFM written in plain SQL with window functions.
#
#   PG_CONFIG=... bench/rfm_bench.sh [clients [runs]]      (default 1000000 3)
#
# Starts a throwaway cluster (as the postgres user when run as root), creates
# crm, fills crm.clients and crm.orders with `clients` clients and about 20
# orders each (crm.generate_demo_data when crm_demo is installed, otherwise the
# plain-SQL generator bench/rfm_data.sql; RFM_BENCH_DATA=demo or plain
# chooses; both write the rows client by client, RFM_BENCH_ORDER=time
# reorders them by time as orders arrive), then times, `runs` times each in
# turn, with EXPLAIN (ANALYZE, TIMING OFF) so that no rows travel to the
# client, first with 2 parallel workers per gather, then serially:
#   (a) the scan floor: SELECT client_id, count(*), max(ordered_at),
#       sum(net_amount) FROM crm.orders GROUP BY client_id
#   (b) RFM in plain SQL: per-client aggregates, then rank() windows for the
#       three quantile scores (the same tie rule), then the segment
#   (c) SELECT * FROM crm.rfm_scores(as_of)
# and prints the best time of each and the ratios c/a and b/c for each mode.
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."

clients=${1:-1000000}
runs=${2:-3}
as_of='2026-01-01'

. scripts/cluster.sh
crm_cluster_start fsync=off synchronous_commit=off shared_buffers=2GB max_wal_size=8GB checkpoint_timeout=30min
tmp=$CRM_CLUSTER_DIR
unset PGOPTIONS
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c 'CREATE EXTENSION crm'
# the demo generator, when crm_demo is installed beside crm
psql -c 'CREATE EXTENSION IF NOT EXISTS crm_demo' >/dev/null 2>&1 || true
start=$(date +%s)
data=${RFM_BENCH_DATA:-auto}
if [ "$data" = demo ] || { [ "$data" = auto ] &&
		[ -n "$(psql -At -c "SELECT to_regproc('crm.generate_demo_data')")" ]; }; then
	generator="crm.generate_demo_data($clients, 42, '$as_of')"
	psql -c "SELECT crm.generate_demo_data($clients, 42, '$as_of')" >/dev/null
	psql -c 'VACUUM ANALYZE crm.orders' -c 'VACUUM ANALYZE crm.clients'
else
	generator="bench/rfm_data.sql (plain SQL)"
	psql -v clients="$clients" -v seed=0.42 -v as_of="'$as_of'" -f bench/rfm_data.sql >/dev/null
fi
if [ "${RFM_BENCH_ORDER:-client}" = time ]; then
	# rows in time order, as orders arrive, instead of client by client
	psql -c 'CREATE INDEX rfm_bench_time ON crm.orders (ordered_at)' \
		-c 'CLUSTER crm.orders USING rfm_bench_time' -c 'DROP INDEX crm.rfm_bench_time' \
		-c 'VACUUM ANALYZE crm.orders'
	generator="$generator, rows reordered by ordered_at"
fi
orders=$(psql -At -c 'SELECT count(*) FROM crm.orders')
purchasers=$(psql -At -c "SELECT count(DISTINCT client_id) FROM crm.orders WHERE status IN ('placed', 'paid')")
size=$(psql -At -c "SELECT pg_size_pretty(pg_table_size('crm.orders'))")
echo "data: $clients clients, $orders orders ($size), $purchasers clients with a purchase; generator $generator, $(( $(date +%s) - start )) s"

floor_sql="SELECT client_id, count(*), max(ordered_at), sum(net_amount) FROM crm.orders GROUP BY client_id"
sql_rfm="
WITH c AS (
	SELECT client_id,
		   floor(extract(epoch FROM '$as_of'::timestamptz - max(ordered_at)) / 86400)::int AS r,
		   count(*) AS f, sum(net_amount) AS m
	  FROM crm.orders
	 WHERE status IN ('placed', 'paid') AND ordered_at <= '$as_of'
	 GROUP BY client_id),
s AS (
	SELECT client_id, r, f, m,
		   crm.rfm((1 + 5 * (rank() OVER (ORDER BY r DESC) - 1) / count(*) OVER ())::int,
				   (1 + 5 * (rank() OVER (ORDER BY f) - 1) / count(*) OVER ())::int,
				   (1 + 5 * (rank() OVER (ORDER BY m) - 1) / count(*) OVER ())::int) AS rfm
	  FROM c)
SELECT s.client_id, s.r, s.f, s.m, s.rfm, g.segment
  FROM s LEFT JOIN crm.segment_map_cells('rfm11') g ON g.rfm OPERATOR(crm.=) s.rfm"
crm_rfm="SELECT * FROM crm.rfm_scores('$as_of')"

# the plain-SQL RFM and crm.rfm_scores give the same answer
diff=$(psql -At -c "SELECT count(*) FROM (($sql_rfm) EXCEPT ($crm_rfm)) x")
if [ "$diff" = 0 ]; then
	echo "the plain-SQL RFM and crm.rfm_scores agree on every client"
else
	echo "warning: plain-SQL RFM and crm.rfm_scores differ on $diff rows"
fi

exec_ms() {
	psql -At -c "SET max_parallel_workers_per_gather = $2" \
		-c "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) $1" |
		sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
# parallel as configured (2 workers per gather), then serial
for workers in 2 0; do
	best_a=; best_b=; best_c=
	for i in $(seq 1 "$runs"); do
		a=$(exec_ms "$floor_sql" $workers); b=$(exec_ms "$sql_rfm" $workers); c=$(exec_ms "$crm_rfm" $workers)
		echo "workers $workers, run $i: (a) scan floor $a ms, (b) plain-SQL RFM $b ms, (c) crm.rfm_scores $c ms"
		best_a=$(min "$best_a" "$a"); best_b=$(min "$best_b" "$b"); best_c=$(min "$best_c" "$c")
	done
	echo "workers $workers, best of $runs: (a) $best_a ms  (b) $best_b ms  (c) $best_c ms"
	awk -v w="$workers" -v a="$best_a" -v b="$best_b" -v c="$best_c" 'BEGIN {
		printf "workers %s: c/a = %.2f  (crm.rfm_scores against the scan floor; target <= 1.5)\n", w, c / a;
		printf "workers %s: b/c = %.2f  (plain-SQL RFM against crm.rfm_scores; target >= 2)\n", w, b / c }'
done
echo "server: $("$bindir/postgres" --version), $(nproc) cores (shared with other users), work_mem $(psql -At -c 'SHOW work_mem'), shared_buffers $(psql -At -c 'SHOW shared_buffers'), jit $(psql -At -c 'SHOW jit')"
