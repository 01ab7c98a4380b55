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
# adds at most half the scan's time.  Then, over the materialised summaries,
# serially and in one run, with the backend's CPU time beside the wall time
# (the machine is shared: CPU time moves less with the load):
#   where the BG/NBD fit's time goes: reading the rows into the state, the
#            whole fit (standard errors included)
#   P(alive) by crm.bgnbd_p_alive against the same formula as a plain SQL
#            expression (the parameters as constants); target within 1.5x
#   P(alive) + E[Y(365)] + CLV (12 monthly periods) for every client by crm
#            against the same formulas vectorised in numpy (bench/clv_numpy.py,
#            reading the same rows by COPY; Debian's python3-numpy); target
#            crm at least 5x faster
# CLV_BENCH_NUMPY_PLAIN=1 also runs numpy's plain form (every client's
# series summed as long as the longest one's: slow).  CLV_BENCH_PERF=FILE
# records perf's profile of three more BG/NBD fits into FILE (perf report -i
# FILE: where the fit's time goes).
#
# Usage: PG_CONFIG=... bench/clv_bench.sh   (crm built and installed for it)
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac

set -euo pipefail
cd "$(dirname "$0")/.."

clients=${CLV_BENCH_CLIENTS:-1000000}

. scripts/cluster.sh
crm_cluster_start fsync=off synchronous_commit=off shared_buffers=512MB work_mem=256MB maintenance_work_mem=512MB max_wal_size=4GB max_parallel_workers_per_gather=2
tmp=$CRM_CLUSTER_DIR
export CRM_CLUSTER_DIR
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

-- serial from here: CPU time of this backend, from /proc
SET max_parallel_workers_per_gather = 0;
CREATE FUNCTION pg_temp.cpu_ns() RETURNS bigint LANGUAGE sql AS
$f$SELECT split_part(pg_read_file('/proc/' || pg_backend_pid() || '/schedstat'), ' ', 1)::bigint$f$;
CREATE TEMP TABLE cpu_timing (step text, cpu float8, wall float8, info text);
CREATE FUNCTION pg_temp.cpu_timed(step text, query text) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE
	c0		bigint;
	t0		timestamptz;
	result	text;
	best_c	float8 := 'Infinity';
	best_w	float8 := 'Infinity';
BEGIN
	-- best of three
	FOR i IN 1..3 LOOP
		c0 := pg_temp.cpu_ns();
		t0 := clock_timestamp();
		EXECUTE query INTO result;
		best_c := least(best_c, (pg_temp.cpu_ns() - c0) / 1e9);
		best_w := least(best_w, extract(epoch FROM clock_timestamp() - t0));
	END LOOP;
	INSERT INTO cpu_timing VALUES (step, best_c, best_w, result);
END $f$;
CREATE AGGREGATE pg_temp.bgnbd_state(float8, float8, float8) (
	SFUNC = crm.clv_bgnbd_trans, STYPE = crm.clv_fit_state);
CREATE TEMP TABLE m AS
SELECT crm.bgnbd_fit(frequency, recency, t) AS bg, crm.gamma_gamma_fit(frequency, monetary) AS gg FROM s;
SELECT (bg).r, (bg).alpha, (bg).a, (bg).b, (gg).p, (gg).q, (gg).v FROM m \gset
SELECT pg_temp.cpu_timed('scan of the summaries', $q$SELECT sum(frequency + recency + t + monetary)::text FROM s$q$) \g /dev/null
SELECT pg_temp.cpu_timed('rows into the fit state', $q$SELECT (pg_temp.bgnbd_state(frequency, recency, t) IS NOT NULL)::text FROM s$q$) \g /dev/null
SELECT pg_temp.cpu_timed('bgnbd_fit with standard errors', $q$SELECT (crm.bgnbd_fit(frequency, recency, t)).std_errors::text FROM s$q$) \g /dev/null
-- with CLV_BENCH_PERF=FILE, perf's profile of three more fits (where the time goes)
SELECT pg_backend_pid() AS backend_pid \gset
\setenv CLV_BENCH_PID :backend_pid
\! if [ -n "${CLV_BENCH_PERF:-}" ]; then perf record -F 2000 -g -p "$CLV_BENCH_PID" -o "$CLV_BENCH_PERF" >/dev/null 2>&1 & echo $! > "$CRM_CLUSTER_DIR/perf.pid"; sleep 2; fi
\set perf_runs `if [ -n "${CLV_BENCH_PERF:-}" ]; then echo 3; else echo 0; fi`
SELECT count((SELECT (crm.bgnbd_fit(frequency, recency, t)).std_errors FROM s WHERE g > 0)) FROM generate_series(1, :perf_runs) g \g /dev/null
\! if [ -n "${CLV_BENCH_PERF:-}" ]; then kill -INT "$(cat "$CRM_CLUSTER_DIR/perf.pid")"; sleep 3; fi
SELECT pg_temp.cpu_timed('p_alive: crm.bgnbd_p_alive', $q$SELECT sum(crm.bgnbd_p_alive(bg, frequency, recency, t))::text FROM s, m$q$) \g /dev/null
SELECT pg_temp.cpu_timed('p_alive: plain SQL expression', format($q$SELECT sum(CASE WHEN frequency = 0 THEN 1 ELSE 1 / (1 + exp(ln(%s) - ln(%s + frequency - 1) + (%s + frequency) * (ln(%s + t) - ln(%s + recency)))) END)::text FROM s$q$, :a, :b, :r, :alpha, :alpha)) \g /dev/null
SELECT pg_temp.cpu_timed('expected purchases (365)', $q$SELECT sum(crm.bgnbd_expected_purchases(bg, 365, frequency, recency, t))::text FROM s, m$q$) \g /dev/null
SELECT pg_temp.cpu_timed('clv (365, 12 periods)', $q$SELECT sum(crm.clv(bg, gg, frequency, recency, t, monetary, 365, 0.01, 30.4375))::text FROM s, m$q$) \g /dev/null
SELECT pg_temp.cpu_timed('p_alive + expected + clv', $q$SELECT round(sum(crm.bgnbd_p_alive(bg, frequency, recency, t))::numeric, 4) || ' ' || round(sum(crm.bgnbd_expected_purchases(bg, 365, frequency, recency, t))::numeric, 4) || ' ' || round(sum(crm.clv(bg, gg, frequency, recency, t, monetary, 365, 0.01, 30.4375))::numeric, 2) FROM s, m$q$) \g /dev/null
-- numpy: the same rows (the temporary table s, copied to a table numpy can read), the same parameters
CREATE TABLE public.clv_bench_rows AS SELECT frequency, recency, t, monetary FROM s;
\set params_file `echo "$CRM_CLUSTER_DIR/params"`
\pset tuples_only on
\pset format unaligned
\o :params_file
SELECT format('%s %s %s %s %s %s %s', :r, :alpha, :a, :b, :p, :q, :v);
\o
\pset tuples_only off
\pset format aligned
\! psql -X -q -c "COPY public.clv_bench_rows TO STDOUT (FORMAT binary)" | "${CLV_BENCH_PYTHON:-/usr/bin/python3}" bench/clv_numpy.py $(cat "$CRM_CLUSTER_DIR/params") 365 0.01 30.4375 > "$CRM_CLUSTER_DIR/numpy.out"
\! if [ "${CLV_BENCH_NUMPY_PLAIN:-0}" = 1 ]; then psql -X -q -c "COPY public.clv_bench_rows TO STDOUT (FORMAT binary)" | CLV_NUMPY_PLAIN=1 "${CLV_BENCH_PYTHON:-/usr/bin/python3}" bench/clv_numpy.py $(cat "$CRM_CLUSTER_DIR/params") 365 0.01 30.4375 > "$CRM_CLUSTER_DIR/numpy_plain.out"; fi
\! cat "$CRM_CLUSTER_DIR/numpy.out" "$CRM_CLUSTER_DIR/numpy_plain.out" 2>/dev/null
\set numpy_file `echo "$CRM_CLUSTER_DIR/numpy.out"`
CREATE TEMP TABLE numpy_out (line text);
COPY numpy_out FROM :'numpy_file';

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
\echo
\echo 'serial, best of three; cpu = this backend''s CPU seconds'
WITH n AS (SELECT split_part(line, ' ', 2)::float8 AS compute, split_part(line, ' ', 3)::float8 AS with_read
			 FROM numpy_out WHERE line LIKE 'numpy_seconds %')
SELECT c.step, round(c.cpu::numeric, 3) AS cpu_s, round(c.wall::numeric, 3) AS wall_s, left(c.info, 60) AS result
  FROM cpu_timing c
UNION ALL
SELECT 'numpy: p_alive + expected + clv (compute, read)', round(n.compute::numeric, 3), round(n.with_read::numeric, 3), NULL FROM n;
\echo
WITH t AS (SELECT step, cpu, wall FROM cpu_timing),
	 n AS (SELECT split_part(line, ' ', 2)::float8 AS compute FROM numpy_out WHERE line LIKE 'numpy_seconds %')
SELECT 'crm.bgnbd_p_alive / plain SQL (target <= 1.5)' AS ratio,
	   round(((SELECT cpu FROM t WHERE step = 'p_alive: crm.bgnbd_p_alive') /
			  (SELECT cpu FROM t WHERE step = 'p_alive: plain SQL expression'))::numeric, 2) AS cpu,
	   round(((SELECT wall FROM t WHERE step = 'p_alive: crm.bgnbd_p_alive') /
			  (SELECT wall FROM t WHERE step = 'p_alive: plain SQL expression'))::numeric, 2) AS wall
UNION ALL
SELECT 'numpy compute / crm (target >= 5)',
	   round(((SELECT compute FROM n) / (SELECT cpu FROM t WHERE step = 'p_alive + expected + clv'))::numeric, 2),
	   NULL
UNION ALL
SELECT 'bgnbd_fit with standard errors / rows into the state',
	   round(((SELECT cpu FROM t WHERE step = 'bgnbd_fit with standard errors') /
			  (SELECT cpu FROM t WHERE step = 'rows into the fit state'))::numeric, 2),
	   round(((SELECT wall FROM t WHERE step = 'bgnbd_fit with standard errors') /
			  (SELECT wall FROM t WHERE step = 'rows into the fit state'))::numeric, 2);
SQL
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work shares the cores)"
