#!/usr/bin/env bash
#
# bench/citus_bench.sh: crm's analytics on a Citus cluster (a coordinator
# and two workers on loopback, on this machine) against the same data on
# one node, in one run.
#
#   PG_CONFIG=... bench/citus_bench.sh [clients [runs]]     (default 200000 3)
#
# Starts the nodes with scripts/citus-cluster.sh (Citus built once per
# machine, crm installed into a copy of the server, never into the server
# itself; everything removed on exit), then on the coordinator:
#   single  a database without the citus extension (Citus only preloaded):
#           crm, crm_demo, crm.generate_demo_data(clients, 1, '2025-01-01');
#   dist    a database with Citus and the workers: the same data, generated
#           the same way on the coordinator, then crm.distribute() (timed:
#           rows moved per second), which moves the rows to the shards.
# Both are ANALYZEd.  Then each analytic for as_of 2025-01-01, `runs` times
# in each database in turn (psql \timing, rows sent to psql and written to
# a file; the best time kept), and prints, per analytic, the one-node and
# cluster times, the ratio cluster/one-node (marked "over 2x" above the
# target of 2), and whether the sorted text output of the two is
# identical ("exact", or "DIFFERENT" with the number of lines that differ).
# An analytic that fails on the cluster is reported as "error: <first line>"
# and the run goes on.  crm.refresh_segments (a write) runs once in each.
# Then the cluster's plans (EXPLAIN (COSTS OFF), key lines): the per-client
# queries of the shards paths of crm.rfm_scores and crm.churn_signals (the
# churn windows at their default, 90 days), crm.quantile_breaks over a
# distributed table; and
# crm.fast_path_stats() after crm.rfm_scores and crm.churn_signals in each
# database.  No target is asserted: the machine is shared and noisy.
#
# Environment: PG_CONFIG; CRM_CITUS_SETTINGS (server settings of every
# node, default "-c shared_buffers=512MB -c max_wal_size=8GB -c
# checkpoint_timeout=30min"); CRM_CITUS_SHARDS (crm.distribute's
# shard_count, default Citus's citus.shard_count, 32).
#
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-pg_config}

clients=${1:-200000}
runs=${2:-3}
as_of="'2025-01-01'"
export CRM_CITUS_SETTINGS=${CRM_CITUS_SETTINGS:--c shared_buffers=512MB -c max_wal_size=8GB -c checkpoint_timeout=30min}
shards=${CRM_CITUS_SHARDS:-NULL}
export PGOPTIONS="-c client_min_messages=warning"

# disk: two copies of the data (about 18 kB a client each, indexes
# included: 351 MB at 20,000 clients) and the WAL of the move; a margin
need_mb=$(( clients * 40 / 1000 + 2000 ))
free_mb=$(df -Pm /tmp | awk 'NR == 2 { print $4 }')
if [ "$free_mb" -lt "$need_mb" ]; then
	echo "citus_bench: $free_mb MB free in /tmp, $need_mb MB wanted for $clients clients" >&2
	exit 1
fi

. scripts/citus-cluster.sh
work=$(mktemp -d /tmp/crm-citus-bench.XXXXXX)
trap citus_cluster_down EXIT
rc=0
citus_cluster_up "$work" 2 || rc=$?
if [ "$rc" = 3 ]; then
	echo "citus_bench: skipped, no Citus source (../shared/vendor/citus-13.2.2.tar.gz)"
	exit 0
elif [ "$rc" != 0 ]; then
	echo "citus_bench: the Citus cluster could not be built or started" >&2
	exit 1
fi
out=$work/out
mkdir -p "$out"
chmod 777 "$out"
q() { citus_psql coordinator -At "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

echo "== $("$bin/postgres" --version), Citus $(basename "$citus_dir"), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "== coordinator :${port[coordinator]}, workers :${port[worker1]} :${port[worker2]}; settings: $CRM_CITUS_SETTINGS (and fsync=off, max_connections=200)"

# the two databases, the same data in each
q -d postgres -c "CREATE DATABASE single"
citus_database dist
for db in single dist; do
	q -d "$db" -c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo'
	t0=$(now)
	q -d "$db" -c "SELECT crm.generate_demo_data($clients, 1, $as_of)" >/dev/null
	echo "load $db: crm.generate_demo_data($clients, 1, $as_of) on the coordinator in $(secs "$t0" "$(now)") s"
done
t0=$(now)
moved=$(q -d dist -c "SELECT sum(rows_moved) FROM crm.distribute($shards)")
t1=$(now)
echo "distribute: crm.distribute($shards) moved $moved rows in $(secs "$t0" "$t1") s," \
	"$(awk -v n="$moved" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }') rows/s"
echo "distribute: $(q -d dist -c "SELECT count(*) FILTER (WHERE partmethod = 'h') || ' distributed tables (' ||
	(SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'crm.orders'::regclass) || ' shards each), ' ||
	count(*) FILTER (WHERE partmethod = 'n') || ' reference tables'
	FROM pg_dist_partition WHERE logicalrelid::text LIKE 'crm.%'")"
for db in single dist; do
	t0=$(now)
	q -d "$db" -c 'ANALYZE'
	echo "analyze $db: $(secs "$t0" "$(now)") s"
done
echo "data: $(q -d single -c "SELECT (SELECT count(*) FROM crm.clients) || ' clients, ' ||
	(SELECT count(*) FROM crm.orders) || ' orders, ' || (SELECT count(*) FROM crm.order_lines) || ' order lines, ' ||
	(SELECT count(*) FROM crm.interactions) || ' interactions; database single ' ||
	pg_size_pretty(pg_database_size('single'))")"
echo "data: dist $(q -d dist -c "SELECT (SELECT count(*) FROM crm.clients) || ' clients, ' ||
	(SELECT count(*) FROM crm.orders) || ' orders (through the coordinator), shards of crm.orders ' ||
	pg_size_pretty(citus_table_size('crm.orders'))")"

# run <db> <name> <sql>: one timed run, the rows to $out/<db>.<name>; prints
# the time in ms, or "error: <first line of the error>"
run() {
	local db=$1 name=$2 sql=$3 ms
	if citus_psql coordinator -d "$db" -At -c '\timing on' -c "\\o $out/$db.$name" -c "$sql" \
			>"$out/timing" 2>"$out/stderr"; then
		ms=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$out/timing" | tail -1)
		echo "${ms:-error: no time}"
	else
		echo "error: $({ grep -m1 -E 'ERROR|FATAL' "$out/stderr" || head -1 "$out/stderr"; } | sed 's/^[A-Z]*: *//')"
	fi
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }

analytics=(
	"rfm_scores|SELECT * FROM crm.rfm_scores($as_of)"
	"churn_signals|SELECT * FROM crm.churn_signals($as_of)"
	"client_profiles|SELECT * FROM crm.client_profiles($as_of)"
	"clv_summary|SELECT * FROM crm.clv_summary($as_of, 'week')"
	"bgnbd_fit|SELECT crm.bgnbd_fit(frequency, recency, t) FROM crm.clv_summary($as_of, 'week')"
	"clv_report|SELECT * FROM crm.clv_report($as_of, 52, 'week')"
	"abc_analysis|SELECT * FROM crm.abc_analysis($as_of)"
	"cohort_retention|SELECT * FROM crm.cohort_retention($as_of)"
	"repeat_curve|SELECT * FROM crm.repeat_curve($as_of)"
	"product_affinity|SELECT * FROM crm.product_affinity($as_of)"
	"segment_category_revenue|SELECT * FROM crm.segment_category_revenue($as_of)"
	"ltv_cac|SELECT * FROM crm.ltv_cac($as_of, 52, 'week')"
)
declare -A best err
for a in "${analytics[@]}"; do
	name=${a%%|*}
	sql=${a#*|}
	for db in single dist; do
		best[$db.$name]=
		err[$db.$name]=
	done
	for i in $(seq 1 "$runs"); do
		for db in single dist; do
			[ -z "${err[$db.$name]}" ] || continue
			r=$(run "$db" "$name" "$sql")
			case $r in
			error:*) err[$db.$name]=$r ;;
			*) best[$db.$name]=$(min "${best[$db.$name]}" "$r") ;;
			esac
		done
	done
	echo "timed $name: one node ${best[single.$name]:+${best[single.$name]} ms}${err[single.$name]}, cluster ${best[dist.$name]:+${best[dist.$name]} ms}${err[dist.$name]}"
done
# the write path: once in each database
name=refresh_segments
for db in single dist; do
	r=$(run "$db" "$name" "SELECT * FROM crm.refresh_segments($as_of)")
	case $r in
	error:*) best[$db.$name]=; err[$db.$name]=$r ;;
	*) best[$db.$name]=$r; err[$db.$name]= ;;
	esac
done
echo "timed $name (once): one node ${best[single.$name]:+${best[single.$name]} ms}${err[single.$name]}, cluster ${best[dist.$name]:+${best[dist.$name]} ms}${err[dist.$name]}"

echo
echo "== results: best of $runs (refresh_segments: one run), ms; ratio = cluster / one node; target: no analytic over 2x"
printf '%-26s %12s %12s %7s  %-8s %s\n' analytic "one node" cluster ratio target answer
for a in "${analytics[@]}" "refresh_segments|"; do
	name=${a%%|*}
	s=${best[single.$name]} d=${best[dist.$name]}
	if [ -n "${err[single.$name]}" ] || [ -n "${err[dist.$name]}" ]; then
		printf '%-26s %12s %12s %7s  %-8s %s\n' "$name" "$(printf '%.1f' "${s:-0}" | sed 's/^0.0$/-/')" \
			"$(printf '%.1f' "${d:-0}" | sed 's/^0.0$/-/')" - - \
			"one node: ${err[single.$name]:-ok}; cluster: ${err[dist.$name]:-ok}"
		continue
	fi
	LC_ALL=C sort "$out/single.$name" >"$out/s"
	LC_ALL=C sort "$out/dist.$name" >"$out/d"
	if [ "$(md5sum <"$out/s")" = "$(md5sum <"$out/d")" ]; then
		answer="exact ($(wc -l <"$out/s") lines)"
	else
		answer="DIFFERENT ($(LC_ALL=C comm -23 "$out/s" "$out/d" | wc -l) of $(wc -l <"$out/s") lines)"
	fi
	ratio=$(awk -v s="$s" -v d="$d" 'BEGIN { printf "%.2f", d / s }')
	target=$(awk -v r="$ratio" 'BEGIN { print (r > 2) ? "over 2x" : "ok" }')
	printf '%-26s %12.1f %12.1f %7s  %-8s %s\n' "$name" "$s" "$d" "$ratio" "$target" "$answer"
done

echo
echo "== fast path decisions, one session per database: crm.rfm_scores, crm.churn_signals, then crm.fast_path_stats()"
for db in single dist; do
	q -d "$db" -F ' ' -c "SELECT count(*) FROM crm.rfm_scores($as_of)" \
		-c "SELECT count(*) FROM crm.churn_signals($as_of)" \
		-c "SELECT function, path, coalesce(reason, '-'), calls FROM crm.fast_path_stats() ORDER BY 1, 2" \
		2>&1 | sed "s/^/$db: /"
done

# the plans on the cluster: the lines that say where the work runs
key='Custom Scan|Task Count|Tasks Shown|Node: |Aggregate|Distributed Subplan|Intermediate|Function Scan|Scan on|-> *Sort|Join|-> *Result'
explain() {
	echo
	echo "== EXPLAIN (COSTS OFF) on the cluster: $1"
	q -d dist -c "EXPLAIN (COSTS OFF) $2" >"$out/plan"
	grep -E "$key" "$out/plan" | sed 's/^/  /'
	echo "  ($(wc -l <"$out/plan") plan lines, $(grep -cE "$key" "$out/plan") shown)"
}
explain "crm.rfm_scores' shards path: its per-client query (src/rfm_scores.c)" "
SELECT o.client_id, count(*), max(o.ordered_at), min(o.ordered_at), sum(o.net_amount), o.currency
  FROM crm.orders o
 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= $as_of
 GROUP BY o.client_id, o.currency"
explain "crm.churn_signals' shards path: its one query (src/churn_signals.c): per client, the profile's state with the two windows, the last engagement and the times of the campaign messages, joined on client_id, all on the shards" "
SELECT p.client_id, p.state, p.currency, e.engaged, f.offers
  FROM (SELECT o.client_id, o.currency,
			   crm.purchase_profile_state(o.ordered_at, o.net_amount, o.promo_used,
										  $as_of::timestamptz - interval '90 days',
										  $as_of::timestamptz - interval '180 days') AS state
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= $as_of
		 GROUP BY o.client_id, o.currency) p
  LEFT JOIN (SELECT i.client_id, max(i.occurred_at) AS engaged
			   FROM crm.interactions i
			  WHERE i.direction = 'inbound' AND i.kind <> 'sale' AND i.occurred_at <= $as_of
			  GROUP BY i.client_id) e ON e.client_id = p.client_id
  LEFT JOIN (SELECT c.client_id, array_agg(c.occurred_at) AS offers
			   FROM crm.interactions c
			  WHERE c.direction = 'outbound' AND c.campaign IS NOT NULL AND c.occurred_at <= $as_of
			  GROUP BY c.client_id) f ON f.client_id = p.client_id"
explain "crm.quantile_breaks over a distributed table (partial aggregates on the shards)" "
SELECT crm.quantile_breaks(o.net_amount::float8, 5, true) FROM crm.orders o WHERE o.status IN ('placed', 'paid')"
echo
echo "server: $(q -d dist -c "SELECT 'shared_buffers ' || current_setting('shared_buffers') || ', work_mem ' ||
	current_setting('work_mem') || ', max_parallel_workers_per_gather ' || current_setting('max_parallel_workers_per_gather') ||
	', jit ' || current_setting('jit') || ', citus.max_adaptive_executor_pool_size ' ||
	current_setting('citus.max_adaptive_executor_pool_size')"), $(nproc) cores shared by the three nodes and psql"
