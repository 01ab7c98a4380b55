#!/usr/bin/env bash
#
# bench/demo_load.sh [N ...]: load times of the demo data generator.
#
# Builds nothing: crm must be installed for $PG_CONFIG (make install).
# Starts a throwaway cluster, and for each client count (default: 10000 and
# 1000000) creates a fresh database, runs crm.generate_demo_data(N, 1) and
# prints the load time, the rows written, rows and clients per second and
# the size of the database; the database is dropped before the next count.
# The cluster is removed on exit.
#
# Server settings: shared_buffers 512MB, max_wal_size 8GB, otherwise the
# defaults (fsync on).  Print them with the results when you quote them.
#
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."

counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10000 1000000)

. scripts/cluster.sh
crm_cluster_start shared_buffers=512MB max_wal_size=8GB
tmp=$CRM_CLUSTER_DIR
unset PGSERVICE
export PGOPTIONS="-c client_min_messages=warning"

echo "crm demo load benchmark: $("$PG_CONFIG" --version), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "server: shared_buffers 512MB, max_wal_size 8GB, fsync on; seed 1, as_of 2025-01-01"
printf '%10s %10s %12s %12s %12s %10s\n' clients seconds rows rows/s clients/s size
declare -A per_client
for n in "${counts[@]}"; do
	psql -X -q -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS crm_bench' -c 'CREATE DATABASE crm_bench'
	psql -X -q -v ON_ERROR_STOP=1 -d crm_bench -c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo'
	start=$(date +%s.%N)
	psql -X -q -v ON_ERROR_STOP=1 -d crm_bench -At -F ' ' \
		-c "SELECT table_name, row_count FROM crm.generate_demo_data($n, 1)" >"$tmp/summary"
	end=$(date +%s.%N)
	rows=$(awk '{ s += $2 } END { print s }' "$tmp/summary")
	size=$(psql -X -q -d crm_bench -At -c "SELECT pg_size_pretty(pg_database_size('crm_bench'))")
	secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
	per_client[$n]=$(awk -v s="$secs" -v n="$n" 'BEGIN { printf "%.6f", s / n }')
	awk -v n="$n" -v s="$secs" -v r="$rows" -v z="$size" \
		'BEGIN { printf "%10d %10.1f %12d %12.0f %12.0f %10s\n", n, s, r, r / s, n / s, z }'
	awk '{ printf "%s %s", sep, $1 "=" $2; sep = "," } END { print "" }' "$tmp/summary" | sed 's/^ //' | fold -s -w 96 | sed 's/^/    /'
	psql -X -q -v ON_ERROR_STOP=1 -c 'DROP DATABASE crm_bench'
done
if [ ${#counts[@]} -ge 2 ]; then
	first=${counts[0]}
	last=${counts[${#counts[@]}-1]}
	awk -v a="${per_client[$first]}" -v b="${per_client[$last]}" -v f="$first" -v l="$last" \
		'BEGIN { printf "time per client at %d clients / at %d clients: %.2f\n", l, f, b / a }'
fi
