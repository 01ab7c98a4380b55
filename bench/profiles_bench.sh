#!/usr/bin/env bash
#
# bench/profiles_bench.sh: the profile store (docs/profiles.md) against the
# passes over every order, measured in one run.
#
#   PG_CONFIG=... bench/profiles_bench.sh [clients [runs]]     (default 1000000 3)
#
# Starts a throwaway cluster (scripts/cluster.sh), creates crm, fills it
# with crm.generate_demo_data(clients, 42, as_of) (the log's triggers off
# while it loads: the store is built whole afterwards), puts the orders and
# interactions in time order (CLUSTER on a btree of the time, dropped after:
# rows arrive in time order in production, which the BRIN indexes the
# refresh uses rely on), VACUUM ANALYZE, then:
#   (a) the floor: SELECT count(*) FROM crm.orders (parallel workers as
#       configured: 2 per gather), best of `runs`;
#   (b) crm.rfm_scores and crm.churn_signals from the store (path
#       profiles) and by their passes over the tables (crm.read_profiles
#       off, path c), best of `runs` each, with their ratio to (a), after
#       checking that both give the rows of the SQL twins;
#   (c) crm.refresh_segments: the first run (store built, every client new),
#       then 10,000 new orders (random clients, the last hour) and a refresh
#       one minute later, then a lapsed client buys and a refresh one more
#       minute later (its transition and notification counted); each refresh
#       split into crm.refresh_profiles and the rest; and, for comparison, a
#       refresh without the store (crm.read_profiles off: the passes over
#       every order) after the same 10,000 orders.
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."

clients=${1:-1000000}
runs=${2:-3}
as_of='2025-01-01'
. scripts/cluster.sh
crm_cluster_start fsync=off synchronous_commit=off shared_buffers=1GB max_wal_size=8GB \
	checkpoint_timeout=30min work_mem=64MB max_parallel_workers_per_gather=2
export PGOPTIONS="-c client_min_messages=warning"
psql() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
ms() { date +%s%N | cut -c1-13; }
# best of $runs wall-clock times (ms) of one statement
best() {
	local b=0 t0 t
	for _ in $(seq "$runs"); do
		t0=$(ms); psql -c "$1" >/dev/null; t=$(( $(ms) - t0 ))
		if [ "$b" = 0 ] || [ "$t" -lt "$b" ]; then b=$t; fi
	done
	echo "$b"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

psql -c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo'
start=$(date +%s)
psql <<SQL >/dev/null
ALTER TABLE crm.orders DISABLE TRIGGER orders_profile_insert;
ALTER TABLE crm.interactions DISABLE TRIGGER interactions_profile_insert;
SELECT crm.generate_demo_data($clients, 42, '$as_of');
ALTER TABLE crm.orders ENABLE ALWAYS TRIGGER orders_profile_insert;
ALTER TABLE crm.interactions ENABLE ALWAYS TRIGGER interactions_profile_insert;
CREATE INDEX bench_orders_time ON crm.orders (ordered_at);
CLUSTER crm.orders USING bench_orders_time;
DROP INDEX crm.bench_orders_time;
CREATE INDEX bench_interactions_time ON crm.interactions (occurred_at);
CLUSTER crm.interactions USING bench_interactions_time;
DROP INDEX crm.bench_interactions_time;
VACUUM ANALYZE;
SQL
orders=$(psql -At -c 'SELECT count(*) FROM crm.orders')
inter=$(psql -At -c 'SELECT count(*) FROM crm.interactions')
echo "data: $clients demo clients, $orders orders, $inter interactions; loaded and ordered in $(( $(date +%s) - start )) s"
echo "server: $("$PG_CONFIG" --version), $(nproc) cores, shared_buffers 1GB, work_mem 64MB, 2 workers per gather"

# the first segment refresh: builds the store, labels every client
t0=$(ms); psql -c "SELECT crm.refresh_profiles('$as_of')" >/dev/null; build=$(( $(ms) - t0 ))
t0=$(ms); psql -c "SELECT crm.refresh_segments('$as_of', notify_limit => 0)" >/dev/null; first=$(( $(ms) - t0 ))
echo "store built in $build ms ($(psql -At -c 'SELECT pg_size_pretty(pg_total_relation_size('"'crm.profile_store'"'))')); first refresh_segments after it: $first ms"

# both paths give the twins' rows
for f in rfm_scores churn_signals; do
	for p in on off; do
		d=$(psql -At -c "SET crm.read_profiles = $p" -c "SET extra_float_digits = 1" -c "SELECT count(*) FROM (
			((SELECT c::text FROM crm.$f('$as_of') c) EXCEPT ALL (SELECT c::text FROM crm.${f}_sql('$as_of') c))
			UNION ALL
			((SELECT c::text FROM crm.${f}_sql('$as_of') c) EXCEPT ALL (SELECT c::text FROM crm.$f('$as_of') c))) x")
		echo "crm.$f (read_profiles $p) and crm.${f}_sql: $d rows differ"
	done
done
paths=$(psql -At -c "SELECT crm.fast_path_stats_reset()" -c "SELECT count(*) FROM crm.rfm_scores('$as_of')" \
	-c "SELECT count(*) FROM crm.churn_signals('$as_of')" \
	-c "SELECT string_agg(function || ': ' || path, ', ' ORDER BY function) FROM crm.fast_path_stats()" | tail -1)
echo "paths with the store current: $paths"

floor=$(best "SELECT count(*) FROM crm.orders")
printf '%-44s %8s ms\n' "SELECT count(*) FROM crm.orders" "$floor"
for f in rfm_scores churn_signals; do
	sql="EXPLAIN (ANALYZE, TIMING OFF) SELECT * FROM crm.$f('$as_of')"
	a=$(best "$sql")
	b=$(best "SET crm.read_profiles = off; $sql")
	printf '%-44s %8s ms  %5sx the floor\n' "crm.$f from the store" "$a" "$(ratio "$a" "$floor")"
	printf '%-44s %8s ms  %5sx the floor\n' "crm.$f over the orders" "$b" "$(ratio "$b" "$floor")"
done

# 10,000 new orders in the last hour, then a refresh one minute later
as1=$(psql -At -c "SELECT ('$as_of'::timestamptz + interval '1 minute')")
psql -c "INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
	SELECT 1 + (hashint8(g) & 2147483647) % $clients, '$as_of'::timestamptz - (g % 3600) * interval '1 second',
		   'web', 'paid', 10 + g % 90, 10 + g % 90 FROM generate_series(1, 10000) g"
t0=$(ms); r=$(psql -At -F ' ' -c "SELECT * FROM crm.refresh_profiles('$as1')"); tp=$(( $(ms) - t0 ))
r="$r; folded: $(psql -At -c 'SELECT folded FROM crm.profile_store_state')"
t0=$(ms); s=$(psql -At -F ' ' -c "SELECT * FROM crm.refresh_segments('$as1', notify_limit => 0)"); ts=$(( $(ms) - t0 ))
echo "after 10,000 new orders, one minute later: refresh_profiles $tp ms (clients, recomputed, rebuilt: $r), then refresh_segments $ts ms (clients, transitions, notifications: $s); together $(( tp + ts )) ms"

# a lapsed client buys; the refresh a minute later logs and notifies it
as2=$(psql -At -c "SELECT ('$as_of'::timestamptz + interval '2 minutes')")
lapsed=$(psql -At -c "SELECT client_id FROM crm.client_segments WHERE churn_status IN ('lapsed', 'lost') ORDER BY client_id LIMIT 1")
psql -c "INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
	VALUES ($lapsed, '$as1', 'web', 'paid', 50, 50)"
t0=$(ms); s=$(psql -At -F ' ' -c "SELECT * FROM crm.refresh_segments('$as2')"); ts=$(( $(ms) - t0 ))
tr=$(psql -At -c "SELECT string_agg(dimension || ' ' || coalesce(from_value, '-') || ' -> ' || coalesce(to_value, '-'), '; ')
	FROM crm.segment_transitions WHERE client_id = $lapsed AND as_of = '$as2'")
echo "a lapsed client ($lapsed) buys: refresh_segments a minute later $ts ms (clients, transitions, notifications: $s): $tr"

# without the store, after the same kind of change
as3=$(psql -At -c "SELECT ('$as_of'::timestamptz + interval '3 minutes')")
psql -c "INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
	SELECT 1 + (hashint8(g + 20000) & 2147483647) % $clients, '$as_of'::timestamptz - (g % 3600) * interval '1 second',
		   'web', 'paid', 10 + g % 90, 10 + g % 90 FROM generate_series(1, 10000) g"
t0=$(ms); psql -c "SET crm.read_profiles = off" -c "SELECT * FROM crm.refresh_segments('$as3', notify_limit => 0)" >/dev/null; tn=$(( $(ms) - t0 ))
echo "the same refresh without reading the store (passes over every order; the store still kept): $tn ms"

# the store the refreshes kept against a full rebuild at its as_of (undone)
d=$(psql -At <<SQL | tail -1
BEGIN;
CREATE TEMP TABLE kept AS SELECT * FROM crm.profile_store;
SELECT crm.refresh_profiles(as_of, rebuild => true) FROM crm.profile_store_state;
SELECT count(*) FROM ((SELECT * FROM kept EXCEPT ALL SELECT * FROM crm.profile_store)
	UNION ALL (SELECT * FROM crm.profile_store EXCEPT ALL SELECT * FROM kept)) x;
ROLLBACK;
SQL
)
echo "the store after these refreshes against a full rebuild: $d rows differ"
