#!/usr/bin/env bash
#
# bench/churn_compare.sh: crm.churn_signals of two builds of crm on the same
# data, timed in turn in one run (the ratio is what to read: absolute times
# drift on a shared machine).
#
#   bench/churn_compare.sh BASE_PG_CONFIG NEW_PG_CONFIG [clients [runs]]
#                                                   (default 200000 5)
#
# Each PG_CONFIG is a PostgreSQL with its own crm and crm_demo installed
# (scripts/cluster.sh's crm_server_copy makes a copy to install another
# build into).  Starts one throwaway cluster for each, loads
# crm.generate_demo_data(clients, 42, '2025-01-01') into both, VACUUM
# ANALYZE, then times SELECT * FROM crm.churn_signals(as_of) with
# EXPLAIN (ANALYZE, TIMING OFF), serially, base and new in turn, `runs`
# times; prints each time, the best of each and their ratio.
case "${1:-}" in -h|--help|'') sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
base_pg=$1 new_pg=$2 clients=${3:-200000} runs=${4:-5}
as_of='2025-01-01'
. scripts/cluster.sh
declare -A dir host port bin
cleanup() {
	local side
	for side in "${!dir[@]}"; do
		"${crm_run_server[@]}" "${bin[$side]}/pg_ctl" -D "${dir[$side]}/data" -m immediate stop \
			>/dev/null 2>&1 || true
		rm -rf "${dir[$side]}"
	done
}
trap cleanup EXIT
for side in base new; do
	if [ $side = base ]; then PG_CONFIG=$base_pg; else PG_CONFIG=$new_pg; fi
	crm_cluster_start --keep fsync=off synchronous_commit=off shared_buffers=512MB \
		work_mem=64MB max_wal_size=4GB >/dev/null
	dir[$side]=$CRM_CLUSTER_DIR host[$side]=$PGHOST port[$side]=$PGPORT bin[$side]=$bindir
done
q() {
	# q <side> <psql arguments>...
	local side=$1; shift
	"${bin[$side]}/psql" -X -q -At -v ON_ERROR_STOP=1 -h "${host[$side]}" -p "${port[$side]}" \
		-U "$PGUSER" -d postgres -c "SET client_min_messages = warning" "$@"
}
for side in base new; do
	q $side -c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo'
	q $side -c "SELECT crm.generate_demo_data($clients, 42, '$as_of')" >/dev/null
	q $side -c 'VACUUM ANALYZE'
done
echo "data: $clients demo clients, $(q new -c 'SELECT count(*) FROM crm.orders') orders in each cluster"
ms() {
	q "$1" -c "SET max_parallel_workers_per_gather = 0" \
		-c "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) SELECT * FROM crm.churn_signals('$as_of')" |
		sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
best_b=; best_n=
for i in $(seq 1 "$runs"); do
	b=$(ms base); n=$(ms new)
	echo "run $i: base $b ms, new $n ms"
	best_b=$(min "$best_b" "$b"); best_n=$(min "$best_n" "$n")
done
awk -v b="$best_b" -v n="$best_n" 'BEGIN { printf "best of runs: base %.0f ms, new %.0f ms, new/base %.2f\n", b, n, n / b }'
echo "server: $("$new_pg" --version), $(nproc) cores, serial (max_parallel_workers_per_gather 0)"
