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
dirs=()
cleanup() {
	for d in "${dirs[@]}"; do
		"$(cat "$d/bindir")/pg_ctl" -D "$d/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$d"
	done
}
trap cleanup EXIT
start() {
	# start <pg_config>: a cluster; prints "dir port"
	local bindir d port
	bindir=$("$1" --bindir)
	d=$(mktemp -d /tmp/crm-compare.XXXXXX)
	echo "$bindir" > "$d/bindir"
	"$bindir/initdb" -D "$d/data" -U postgres -A trust >/dev/null
	port=$(( 20000 + RANDOM % 20000 ))
	"$bindir/pg_ctl" -D "$d/data" -w -l "$d/server.log" -o "-p $port -k $d -c listen_addresses= \
		-c fsync=off -c synchronous_commit=off -c shared_buffers=512MB -c work_mem=64MB \
		-c max_wal_size=4GB" start >/dev/null
	echo "$d $port"
}
read -r base_dir base_port < <(start "$base_pg"); dirs+=("$base_dir")
read -r new_dir new_port < <(start "$new_pg"); dirs+=("$new_dir")
q() {
	# q <dir> <port> <sql>...
	local d=$1 p=$2; shift 2
	"$(cat "$d/bindir")/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$d" -p "$p" -U postgres -d postgres \
		-c "SET client_min_messages = warning" "$@"
}
for side in base new; do
	d=${side}_dir p=${side}_port
	q "${!d}" "${!p}" -c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo'
	q "${!d}" "${!p}" -c "SELECT crm.generate_demo_data($clients, 42, '$as_of')" >/dev/null
	q "${!d}" "${!p}" -c 'VACUUM ANALYZE'
done
echo "data: $clients demo clients, $(q "$new_dir" "$new_port" -c 'SELECT count(*) FROM crm.orders') orders in each cluster"
ms() {
	q "$1" "$2" -c "SET max_parallel_workers_per_gather = 0" \
		-c "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) SELECT * FROM crm.churn_signals('$as_of')" |
		sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p'
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
best_b=; best_n=
for i in $(seq 1 "$runs"); do
	b=$(ms "$base_dir" "$base_port"); n=$(ms "$new_dir" "$new_port")
	echo "run $i: base $b ms, new $n ms"
	best_b=$(min "$best_b" "$b"); best_n=$(min "$best_n" "$n")
done
awk -v b="$best_b" -v n="$best_n" 'BEGIN { printf "best of runs: base %.0f ms, new %.0f ms, new/base %.2f\n", b, n, n / b }'
echo "server: $("$new_pg" --version), $(nproc) cores, serial (max_parallel_workers_per_gather 0)"
