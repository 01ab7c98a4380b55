#!/usr/bin/env bash
#
# test/scripts/cross_version/dump_restore_15_to_18.sh [--help]
#
# A crm database moves from PostgreSQL 15 to PostgreSQL 18 by pg_dump and
# pg_restore, and nothing changes.  In a throwaway 15 cluster: CREATE
# EXTENSION crm, 1,000 demo clients, a loyalty programme with welcome,
# order, birthday, plain and short-lived earnings, the expiry job,
# redemptions, reversals, partial refunds, goodwill adjustments and tier
# changes, discount rules used by 80 recorded carts, two segment refreshes.
# 18's pg_dump (custom format) dumps it from the 15 server; 18's pg_restore
# restores it into a fresh database of a throwaway 18 cluster (CREATE
# EXTENSION comes through the dump).  Then, as text (TimeZone UTC,
# extra_float_digits 3), the 15 database and the 18 one must give:
#
#   - the same rows in every table of schema crm (count and digest of the
#     rows sorted), the same position of every sequence of schema crm;
#   - the same analytics at as_of 2025-01-01: rfm_scores (also its SQL
#     twin and by mean order value), churn_signals (and its SQL twin),
#     client_profiles, the BG/NBD and Gamma-Gamma fits, clv_report,
#     abc_analysis, repeat_curve, cohort_retention,
#     segment_category_revenue, points_balance of every account, a points
#     statement, the price of a few carts;
#   - crm.verify_ledger() returns no row on either side.
#
# Environment: CRM_PG18_CONFIG (18's pg_config; scripts/test sets it);
# PostgreSQL 15 is the pg_config on PATH (or PG_CONFIG).  crm must be
# installed in both.  CRM_CROSS_KEEP=1 keeps the clusters' directory (its
# path is printed at the end), to look into.  Runs as root (the servers
# run as postgres) or as a user who can run initdb.
set -euo pipefail
case "${1:-}" in
	-h|--help) sed -n '3,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	'') ;;
	*) echo "$0: unknown argument: $1" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
. "$here/compare.bash"

[ -n "${CRM_PG18_CONFIG:-}" ] || cv_fail "CRM_PG18_CONFIG (the pg_config of PostgreSQL 18) is not set"
bin15=$("${PG_CONFIG:-pg_config}" --bindir)
bin18=$("$CRM_PG18_CONFIG" --bindir)
"$bin15/postgres" --version | grep -q ' 15\.' || cv_fail "$bin15 is not PostgreSQL 15"
"$bin18/postgres" --version | grep -q ' 18\.' || cv_fail "$bin18 is not PostgreSQL 18"
cv_check_same_crm "${PG_CONFIG:-pg_config}" "$CRM_PG18_CONFIG"
SECONDS=0

cv_init
cv_initdb pg15 "$bin15"
cv_initdb pg18 "$bin18"
cv_start pg15 "$bin15"
cv_start pg18 "$bin18"

db=crm_cross
cv_psql pg15 postgres -c "CREATE DATABASE $db"
cv_load_data pg15 "$db"
cv_check_ledger_kinds pg15 "$db"
cv_snapshot pg15 "$db" "$cv_work/source"
cv_check_coverage "$cv_work/source"
echo "PostgreSQL 15 source: $(grep -c '^table ' "$cv_work/source.rows") tables," \
	"$(grep -c '^sequence ' "$cv_work/source.rows") sequences," \
	"$(wc -l <"$cv_work/source.analytics") analytics lines ($SECONDS s)"

# 18's pg_dump from the 15 server; 18's pg_restore into the 18 server.  The
# client programs reach both clusters over their sockets.
pg_dump18() { "$bin18/pg_dump" -h "$cv_work/pg15" -p "${cv_port[pg15]}" -U "$cv_user" "$@"; }
pg_dump18 -Fc -f "$cv_work/crm.dump" "$db" || cv_fail "18's pg_dump of the 15 database failed"
cv_psql pg18 postgres -c "CREATE DATABASE $db"
"$bin18/pg_restore" -h "$cv_work/pg18" -p "${cv_port[pg18]}" -U "$cv_user" --exit-on-error \
	-d "$db" "$cv_work/crm.dump" || cv_fail "18's pg_restore into the 18 cluster failed"
echo "dumped with $("$bin18/pg_dump" --version) from $("$bin15/postgres" --version)," \
	"restored with 18's pg_restore ($SECONDS s)"

cv_snapshot pg18 "$db" "$cv_work/target"
cv_compare "PostgreSQL 15" pg15 "$db" "$cv_work/source" "restored in 18" pg18 "$db" "$cv_work/target" \
	|| cv_fail "dump 15 -> restore 18 changed the data or the answers (see above)"
echo "dump 15 -> restore 18: ok ($SECONDS s)"
