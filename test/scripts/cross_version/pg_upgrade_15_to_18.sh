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
# pg_upgrade runs as the clusters' owner (copy mode; the old cluster is
# started again afterwards, untouched).  Then, as text (TimeZone UTC,
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
# When pg_upgrade cannot run here for a reason outside crm (18 has no
# pg_upgrade, 15's server programs are missing), prints one line
# "pg_upgrade 15 -> 18: skipped: <reason>" and exits 0.  Any failure of
# pg_upgrade itself is a failure of the test, with its logs printed.
#
# Environment: CRM_PG18_CONFIG (18's pg_config; scripts/test sets it);
# PostgreSQL 15 is the pg_config on PATH (or PG_CONFIG).  crm must be
# installed in both.  Runs as root (the servers and pg_upgrade run as
# postgres) or as a user who can run initdb.
set -euo pipefail
case "${1:-}" in
	-h|--help) sed -n '3,39p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
for c in "${PG_CONFIG:-pg_config}" "$CRM_PG18_CONFIG"; do
	[ -f "$("$c" --pkglibdir)/crm.so" ] || cv_fail "crm is not installed for $("$c" --version) ($c)"
done
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
cv_stop old

# pg_upgrade writes its logs under the new data directory and wants a
# working directory and a socket directory its user can write
"${cv_run[@]}" mkdir "$cv_work/upgrade"
port_old=$(( 20000 + RANDOM % 20000 ))
port_new=$(( port_old + 1 ))
if ! (cd "$cv_work/upgrade" && "${cv_run[@]}" "$bin18/pg_upgrade" \
		--old-bindir="$bin15" --new-bindir="$bin18" \
		--old-datadir="$cv_work/old/data" --new-datadir="$cv_work/new/data" \
		--username="$cv_user" --socketdir="$cv_work/upgrade" \
		--old-port="$port_old" --new-port="$port_new" --no-sync --copy \
		>"$cv_work/upgrade/pg_upgrade.out" 2>&1); then
	cat "$cv_work/upgrade/pg_upgrade.out" >&2
	for f in "$cv_work"/new/data/pg_upgrade_output.d/*/*.txt \
		"$cv_work"/new/data/pg_upgrade_output.d/*/log/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last 40 lines)" >&2
		tail -n 40 "$f" >&2
	done
	cv_fail "pg_upgrade from 15 to 18 failed (output and logs above)"
fi
echo "pg_upgrade: $("$bin18/pg_upgrade" --version) from $("$bin15/postgres" --version) ($SECONDS s)"

cv_start new "$bin18"
# the old cluster again (copy mode leaves it as it was), for the rows of a
# table that might differ
cv_start old "$bin15"
cv_snapshot new "$db" "$cv_work/target"
cv_compare "PostgreSQL 15 before" old "$db" "$cv_work/source" "upgraded to 18" new "$db" "$cv_work/target" \
	|| cv_fail "pg_upgrade 15 -> 18 changed the data or the answers (see above)"

# crm still works in the upgraded database: new entries and a recorded cart
cv_psql new "$db" >/dev/null <<'SQL' || cv_fail "crm's functions fail in the upgraded database"
SELECT count(crm.earn_points(c.client_id, 'club', 10, 'after-upgrade-' || c.client_id))
  FROM crm.clients c WHERE c.client_id % 11 = 0;
SELECT count(crm.redeem_points(a.client_id, 'club', 5, 'after-upgrade-redeem-' || a.client_id))
  FROM crm.loyalty_accounts a WHERE a.balance >= 5 AND a.client_id % 13 = 0;
SELECT crm.record_priced_cart(crm.price_cart(7, '{"program": "club", "points_paid": 0,
		"lines": [{"product_id": 3, "quantity": 2, "price_list_id": 1}]}'),
		'web', 'paid', 'after-upgrade-cart');
INSERT INTO crm.clients (first_name, last_name) VALUES ('After', 'Upgrade');
SQL
v=$(cv_psql new "$db" -At -c "SELECT count(*) FROM crm.verify_ledger()")
[ "$v" = 0 ] || cv_fail "crm.verify_ledger() reports $v problems after new activity in the upgraded database"
echo "after the upgrade: new earnings, redemptions, a recorded cart and a client; verify_ledger clean"
echo "pg_upgrade 15 -> 18: ok ($SECONDS s)"
