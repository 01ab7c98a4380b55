#!/usr/bin/env bash
#
# test/scripts/cross_version/pg_upgrade_15_to_18.sh [--help]
#
# A PostgreSQL 15 cluster with crm is upgraded in place to PostgreSQL 18 by
# 18's pg_upgrade, and nothing changes.  The 15 cluster holds a database
# with CREATE EXTENSION crm, 1,000 demo clients, a loyalty programme with
# every kind of ledger entry (welcome, order, birthday, plain and
# short-lived earnings, expiry, redemptions, reversals, partial refunds,
# goodwill adjustments) and tier changes, discount rules used by 80
# recorded carts, two segment refreshes.  The 18 cluster is made by 18's
# initdb with the same encoding, locale and --no-sync as the old one, and
# --no-data-checksums (18 turns checksums on by default, 15 off).
# pg_upgrade runs as the clusters' owner, in copy mode (the old cluster is
# started again afterwards, to show rows that differ, if any).  Then, as text (TimeZone UTC,
# extra_float_digits 3), the 15 database before the upgrade and the
# upgraded one must give:
#
#   - the same rows in every table of schema crm (count and digest of the
#     rows sorted), the same position of every sequence of schema crm;
#   - the same analytics at as_of 2025-01-01: rfm_scores (also its SQL
#     twin and by mean order value), churn_signals (and its SQL twin),
#     client_profiles, the BG/NBD and Gamma-Gamma fits, clv_report,
#     abc_analysis, repeat_curve, cohort_retention,
#     segment_category_revenue, points_balance of every account, a points
#     statement, the price of a few carts;
#   - crm.verify_ledger() returns no row on either side;
#   - crm keeps working in 18: new loyalty activity and a recorded cart in
#     the upgraded database pass crm.verify_ledger().
#
# pg_upgrade runs first as it is.  Debian's PostgreSQL 15.20 stamps every
# column with an attribute option, pg_attver, that 18.6 does not know, so
# pg_upgrade fails restoring the schema of any database with a table (a
# table without crm is upgraded beside crm's to show it); the script then
# says so in one line, removes that option from the old cluster's catalog
# and runs pg_upgrade again (CRM_PG_UPGRADE_WORKAROUND=0: prints
# "pg_upgrade 15 -> 18: skipped: <reason>" instead and exits 0).  It also
# skips that way when 18 has no pg_upgrade or 15's server programs are
# missing.  Any other failure of pg_upgrade fails the test, with its logs.
#
# Environment: CRM_PG18_CONFIG (18's pg_config; scripts/test sets it);
# PostgreSQL 15 is the pg_config on PATH (or PG_CONFIG).  crm must be
# installed in both.  CRM_CROSS_KEEP=1 keeps the clusters' directory (its
# path is printed at the end), to look into.  Runs as root (the servers
# and pg_upgrade run as postgres) or as a user who can run initdb.
set -euo pipefail
case "${1:-}" in
	-h|--help) sed -n '3,/^set -euo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	'') ;;
	*) echo "$0: unknown argument: $1" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
. "$here/compare.bash"
skip() { echo "pg_upgrade 15 -> 18: skipped: $*"; exit 0; }

[ -n "${CRM_PG18_CONFIG:-}" ] || cv_fail "CRM_PG18_CONFIG (the pg_config of PostgreSQL 18) is not set"
bin15=$("${PG_CONFIG:-pg_config}" --bindir)
bin18=$("$CRM_PG18_CONFIG" --bindir)
for p in postgres pg_ctl initdb; do
	[ -x "$bin15/$p" ] || skip "no $p in 15's bindir $bin15"
done
for p in postgres pg_ctl initdb pg_upgrade; do
	[ -x "$bin18/$p" ] || skip "no $p in 18's bindir $bin18"
done
"$bin15/postgres" --version | grep -q ' 15\.' || cv_fail "$bin15 is not PostgreSQL 15"
"$bin18/postgres" --version | grep -q ' 18\.' || cv_fail "$bin18 is not PostgreSQL 18"
cv_check_same_crm "${PG_CONFIG:-pg_config}" "$CRM_PG18_CONFIG"
SECONDS=0

cv_init
# the same encoding, locale and options on both sides (cv_initdb: UTF8,
# locale C, --no-sync); checksums off on both
cv_initdb old "$bin15"
cv_initdb new "$bin18" --no-data-checksums
cv_start old "$bin15"

db=crm_cross
cv_psql old postgres -c "CREATE DATABASE $db"
cv_load_data old "$db"
cv_check_ledger_kinds old "$db"
cv_snapshot old "$db" "$cv_work/source"
cv_check_coverage "$cv_work/source"
echo "PostgreSQL 15 source: $(grep -c '^table ' "$cv_work/source.rows") tables," \
	"$(grep -c '^sequence ' "$cv_work/source.rows") sequences," \
	"$(wc -l <"$cv_work/source.analytics") analytics lines ($SECONDS s)"
# a table that has nothing to do with crm, beside it: what happens to it
# tells crm's problems from PostgreSQL's
cv_psql old postgres -c "CREATE TABLE public.plain_table (id integer PRIMARY KEY, label text)" \
	-c "INSERT INTO public.plain_table SELECT i, 'row ' || i FROM generate_series(1, 10) i"
cv_stop old

# pg_upgrade writes its logs under the new data directory and wants a
# working directory and a socket directory its user can write
"${cv_run[@]}" mkdir "$cv_work/upgrade"
run_pg_upgrade() {
	local port_old port_new
	port_old=$(( 20000 + RANDOM % 20000 ))
	port_new=$(( port_old + 1 ))
	(cd "$cv_work/upgrade" && "${cv_run[@]}" "$bin18/pg_upgrade" \
		--old-bindir="$bin15" --new-bindir="$bin18" \
		--old-datadir="$cv_work/old/data" --new-datadir="$cv_work/new/data" \
		--username="$cv_user" --socketdir="$cv_work/upgrade" \
		--old-port="$port_old" --new-port="$port_new" --no-sync --copy \
		>"$cv_work/upgrade/pg_upgrade.out" 2>&1)
}
upgrade_logs() { # the output, the check reports and the logs of the last run
	local f
	cat "$cv_work/upgrade/pg_upgrade.out"
	for f in "$cv_work"/new/data/pg_upgrade_output.d/*/*.txt \
		"$cv_work"/new/data/pg_upgrade_output.d/*/log/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last 40 lines)"
		tail -n 40 "$f"
	done
}
attver_error='unrecognized parameter "pg_attver"'

# 1. pg_upgrade as it is
workaround=""
if ! run_pg_upgrade; then
	if ! cat "$cv_work"/new/data/pg_upgrade_output.d/*/log/*.log 2>/dev/null | grep -qF "$attver_error"; then
		upgrade_logs >&2
		cv_fail "pg_upgrade from 15 to 18 failed (output and logs above)"
	fi
	# 2. PostgreSQL 15.20 (Debian 15.20-0+deb12u1) stamps every column it
	# creates with the attribute option pg_attver, a column version (the
	# WAL position of its creation); its own pg_dump leaves the option out
	# of the definitions and, for pg_upgrade, carries the versions with
	# binary_upgrade_set_next_attribute_versions().  18.6 (released three
	# months before 15.20) knows no such option: its pg_dump
	# --binary-upgrade copies it into ALTER TABLE ... ALTER COLUMN ... SET
	# (pg_attver=...), which its server rejects.  That stops pg_upgrade
	# for any cluster with a table, with crm or without (the plain table
	# above).  Say so, then remove the option from the old cluster's
	# catalog (this test's throwaway cluster) and run again; with
	# CRM_PG_UPGRADE_WORKAROUND=0, print the reason as a skip and stop.
	cv_start old "$bin15"
	crm_cols=$(cv_psql old "$db" -At -c "SELECT count(*) FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
	   WHERE c.relnamespace = 'crm'::regnamespace AND a.attoptions::text LIKE '%pg_attver=%'")
	plain_cols=$(cv_psql old postgres -At -c "SELECT count(*) FROM pg_catalog.pg_attribute
	   WHERE attrelid = 'public.plain_table'::regclass AND attoptions::text LIKE '%pg_attver=%'")
	reason="$("$bin15/postgres" --version | sed 's/^postgres (PostgreSQL) /PostgreSQL /') stamps every column with the attribute option pg_attver ($crm_cols columns of schema crm, $plain_cols of public.plain_table, a table without crm); 18.6's pg_dump --binary-upgrade copies it into ALTER TABLE ... SET (pg_attver=...), which 18.6 rejects ($attver_error), so pg_upgrade stops restoring the schema of any database with a table"
	if [ "${CRM_PG_UPGRADE_WORKAROUND:-1}" = 0 ]; then
		echo "pg_upgrade 15 -> 18: skipped: $reason"
		exit 0
	fi
	echo "pg_upgrade 15 -> 18 as it is: fails for a reason outside crm: $reason"
	for d in $(cv_psql old postgres -At -c "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn"); do
		cv_psql old "$d" -c "UPDATE pg_catalog.pg_attribute
			SET attoptions = nullif(ARRAY(SELECT o FROM unnest(attoptions) o WHERE o NOT LIKE 'pg_attver=%'), '{}')
		  WHERE attrelid >= 16384 AND attoptions::text LIKE '%pg_attver=%'" >/dev/null
	done
	cv_stop old
	"${cv_run[@]}" rm -rf "$cv_work/new/data"
	cv_initdb new "$bin18" --no-data-checksums
	workaround=" (after removing pg_attver from the old cluster's pg_attribute)"
	if ! run_pg_upgrade; then
		upgrade_logs >&2
		cv_fail "pg_upgrade from 15 to 18 failed even without pg_attver (output and logs above)"
	fi
fi
echo "pg_upgrade: $("$bin18/pg_upgrade" --version) from $("$bin15/postgres" --version)$workaround ($SECONDS s)"

cv_start new "$bin18"
# the old cluster again (copy mode leaves its data files alone), for the rows of a
# table that might differ
cv_start old "$bin15"
cv_snapshot new "$db" "$cv_work/target"
cv_compare "PostgreSQL 15 before" old "$db" "$cv_work/source" "upgraded to 18" new "$db" "$cv_work/target" \
	|| cv_fail "pg_upgrade 15 -> 18 changed the data or the answers (see above)"

# crm still works in the upgraded database: new entries and a recorded cart
cv_psql new "$db" -At >"$cv_work/after.out" <<'SQL' || cv_fail "crm's functions fail in the upgraded database"
SELECT count(crm.earn_points(c.client_id, 'club', 10, 'after-upgrade-' || c.client_id))
  FROM crm.clients c WHERE c.client_id % 11 = 0;
SELECT count(crm.redeem_points(a.client_id, 'club', 5, 'after-upgrade-redeem-' || a.client_id))
  FROM crm.loyalty_accounts a WHERE a.balance >= 5 AND a.client_id % 13 = 0;
SELECT crm.record_priced_cart(crm.price_cart(7, '{"program": "club", "points_paid": 0,
		"lines": [{"product_id": 3, "quantity": 2, "price_list_id": 1}]}'),
		'web', 'paid', 'after-upgrade-cart');
INSERT INTO crm.clients (first_name, last_name) VALUES ('After', 'Upgrade');
SELECT 'fastpath ' || s::text FROM crm.fast_path_stats() s ORDER BY 1;
SQL
echo "fast path after the upgrade (18): $(sed -n 's/^fastpath //p' "$cv_work/after.out" | tr '\n' ' ')"
v=$(cv_psql new "$db" -At -c "SELECT count(*) FROM crm.verify_ledger()")
[ "$v" = 0 ] || cv_fail "crm.verify_ledger() reports $v problems after new activity in the upgraded database"
echo "after the upgrade: new earnings, redemptions, a recorded cart and a client; verify_ledger clean"
echo "pg_upgrade 15 -> 18: ok$workaround ($SECONDS s)"
