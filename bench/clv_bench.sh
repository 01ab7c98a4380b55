#!/usr/bin/env bash
#
# bench/clv_bench.sh: the CLV fits on 1,000,000 clients.
#
# Builds a throwaway cluster, fills crm.clients and crm.orders with
# CLV_BENCH_CLIENTS clients (default 1,000,000) whose purchases follow a
# BG/NBD process in days over two years, then times, in one run:
#   scan     deriving the per-client summaries from crm.orders (crm.clv_summary)
#   fits     crm.bgnbd_fit, crm.pareto_nbd_fit and crm.gamma_gamma_fit over the
#            materialised summaries, and BG/NBD straight over crm.clv_summary
# and prints each fit's time as a ratio to the scan.  Target: the BG/NBD fit
# adds at most half the scan's time.
#
# Usage: PG_CONFIG=... bench/clv_bench.sh   (crm built and installed for it)
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac

set -euo pipefail
cd "$(dirname "$0")/.."

clients=${CLV_BENCH_CLIENTS:-1000000}

. scripts/cluster.sh
crm_cluster_start fsync=off synchronous_commit=off shared_buffers=512MB work_mem=256MB maintenance_work_mem=512MB max_wal_size=4GB max_parallel_workers_per_gather=2
tmp=$CRM_CLUSTER_DIR
unset PGOPTIONS

echo "crm CLV benchmark: $clients clients, $(nproc) cores (shared with other work)"
psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION crm'

start=$(date +%s)
psql -X -q -v ON_ERROR_STOP=1 -v clients="$clients" <<'SQL'
SELECT setseed(0.5) \g /dev/null
INSERT INTO crm.clients (client_id, first_name, acquisition_channel, acquisition_cost, created_at)
SELECT i, 'client ' || i, (ARRAY['organic', 'search', 'social', 'email', 'ads'])[1 + i % 5],
	   (i % 5) * 10, timestamptz '2024-01-01'
  FROM generate_series(1, :clients) i;
-- BG/NBD in days: rate ~ Gamma(0.5, 20) (shape 0.5 as a squared normal),
-- drop-out p ~ Beta(1, 3) (1 - U^(1/3)); first purchase uniform over two years
CREATE UNLOGGED TABLE bench_clients AS
SELECT i AS client_id,
	   730 * random() AS age,
	   greatest((0.5 * (sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) ^ 2) / 20, 1e-9) AS lam,
	   1 - (1 - random()) ^ (1.0 / 3) AS p
  FROM generate_series(1, :clients) i;
-- repeat purchases: gaps ~ Exp(lam) while alive, at most 200
CREATE UNLOGGED TABLE bench_times AS
WITH RECURSIVE walk(client_id, k, at, alive, age, lam, p) AS (
	SELECT client_id, 0, 0::float8, true, age, lam, p FROM bench_clients
	UNION ALL
	SELECT client_id, k + 1, at - ln(1 - random()) / lam, random() >= p, age, lam, p
	  FROM walk
	 WHERE alive AND k < 200 AND at - 0 <= age
)
SELECT client_id, k, at, age FROM walk WHERE at <= age;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, cost_amount)
SELECT client_id, timestamptz '2025-12-31' - make_interval(secs => (age - at) * 86400),
	   'web', 'paid', a, a, round(a * 0.6, 2)
  FROM (SELECT client_id, at, age, round((20 + 60 * random())::numeric, 2) AS a FROM bench_times) s;
DROP TABLE bench_times, bench_clients;
VACUUM ANALYZE crm.clients;
VACUUM ANALYZE crm.orders;
SQL
echo "data generated in $(( $(date +%s) - start )) s"

psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT count(*) AS orders FROM crm.orders \gset
CREATE TEMP TABLE timing (step text, seconds float8, info text);
CREATE FUNCTION pg_temp.timed(step text, query text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t0		timestamptz := clock_timestamp();
	result	text;
BEGIN
	EXECUTE query INTO result;
	INSERT INTO timing VALUES (step, extract(epoch FROM clock_timestamp() - t0), result);
END $$;
SELECT pg_temp.timed('scan', $q$SELECT count(*) FROM crm.clv_summary('2025-12-31')$q$) \g /dev/null
CREATE TEMP TABLE s AS SELECT * FROM crm.clv_summary('2025-12-31');
ANALYZE s;
SELECT pg_temp.timed('bgnbd_fit', $q$SELECT crm.bgnbd_fit(frequency, recency, t)::text FROM s$q$) \g /dev/null
SELECT pg_temp.timed('pareto_nbd_fit', $q$SELECT crm.pareto_nbd_fit(frequency, recency, t)::text FROM s$q$) \g /dev/null
SELECT pg_temp.timed('gamma_gamma_fit', $q$SELECT crm.gamma_gamma_fit(frequency, monetary)::text FROM s$q$) \g /dev/null
SELECT pg_temp.timed('scan + bgnbd_fit', $q$SELECT crm.bgnbd_fit(frequency, recency, t)::text FROM crm.clv_summary('2025-12-31')$q$) \g /dev/null
SELECT pg_temp.timed('scan, again', $q$SELECT count(*) FROM crm.clv_summary('2025-12-31')$q$) \g /dev/null

\echo
SELECT :orders AS orders, count(*) AS clients,
	   count(DISTINCT (frequency, recency, t)) AS distinct_summaries_days,
	   count(DISTINCT (frequency, floor(recency / 7), floor(t / 7))) AS distinct_if_whole_weeks,
	   count(DISTINCT (frequency, monetary)) FILTER (WHERE frequency > 0) AS distinct_spend_rows
  FROM s;
\echo
WITH scan AS (SELECT min(seconds) AS s FROM timing WHERE step LIKE 'scan%' AND step NOT LIKE '%fit')
SELECT t.step, round(t.seconds::numeric, 2) AS seconds,
	   round((t.seconds / scan.s)::numeric, 3) AS ratio_to_scan,
	   CASE WHEN t.step = 'scan + bgnbd_fit' THEN round(((t.seconds - scan.s) / scan.s)::numeric, 3) END AS added_ratio,
	   left(t.info, 110) AS result
  FROM timing t, scan;
SQL
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work shares the cores)"
