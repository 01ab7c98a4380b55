#!/usr/bin/env bash
#
# test/scripts/pg_cron.sh: crm's jobs, scheduled with pg_cron as
# docs/operations.md says, really run.
#
# In a cluster of its own (scripts/cluster.sh) with pg_cron preloaded
# (shared_preload_libraries = pg_cron, cron.database_name, and cron.host set
# to the socket directory: the cluster has no TCP port), it schedules every
# job of docs/operations.md to run every minute, the cashback job twice
# (two runs at once), and the ledger check also in a second database whose
# ledger is broken on purpose.  Then it waits for pg_cron's next minute
# (pg_cron 1.4 runs jobs at most once a minute: up to 130 s; one minute
# more if the tier job ran before the cashback it counts), and checks
# cron.job_run_details (every job succeeded, the broken ledger's check
# failed with crm's message) and the jobs' effects (segments refreshed,
# cashback, welcome and birthday points once each, the due lot expired, the
# tier moved, a clean ledger).
#
# pg_cron: Debian's postgresql-15-cron (pg_cron 1.4), installed as root when
# missing; for a copy of the server (scripts/cluster.sh, crm_server_copy)
# its files are copied in.  There is no pg_cron for other versions here
# (PostgreSQL 18 is built from source): the test says so in one line and
# passes.  Environment: PG_CONFIG.
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
PG_CONFIG=${PG_CONFIG:-pg_config}
version=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
pkglib=$("$PG_CONFIG" --pkglibdir)
share=$("$PG_CONFIG" --sharedir)
debian=/usr/lib/postgresql/$version/lib

if [ ! -f "$pkglib/pg_cron.so" ] && [ "$version" = 15 ]; then
	if [ ! -f "$debian/pg_cron.so" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-cron >/dev/null 2>&1 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-cron >/dev/null; }
	fi
	if [ -f "$debian/pg_cron.so" ] && [ "$pkglib" != "$debian" ]; then
		# a copy of Debian's server: pg_cron's files beside crm's
		cp "$debian/pg_cron.so" "$pkglib/"
		cp /usr/share/postgresql/15/extension/pg_cron* "$share/extension/"
	fi
fi
if [ ! -f "$pkglib/pg_cron.so" ]; then
	echo "pg_cron.sh: skipped, no pg_cron for PostgreSQL $version here (Debian's postgresql-15-cron is for 15)"
	exit 0
fi

. scripts/cluster.sh
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() {
	echo "FAIL: $*" >&2
	[ -f "${CRM_CLUSTER_DIR:-/nonexistent}/server.log" ] && tail -n 30 "$CRM_CLUSTER_DIR/server.log" >&2
	exit 1
}
crm_cluster_start
psql -c "CREATE DATABASE crm_cron" -c "CREATE DATABASE crm_cron_broken"
# (pg_cron's settings are unknown to ALTER SYSTEM until it is loaded)
printf "%s\n" "shared_preload_libraries = 'pg_cron'" "cron.database_name = 'crm_cron'" \
	"cron.host = '$CRM_CLUSTER_DIR'" "timezone = 'UTC'" |
	"${crm_run_server[@]}" tee -a "$CRM_CLUSTER_DIR/data/postgresql.conf" >/dev/null
"${crm_run_server[@]}" "$bindir/pg_ctl" -D "$CRM_CLUSTER_DIR/data" -w \
	-l "$CRM_CLUSTER_DIR/server.log" restart >/dev/null

# a client whose birthday is today, with a paid order, a lot due now, and
# a programme with welcome and birthday points and two tiers
data="
CREATE EXTENSION crm;
INSERT INTO crm.clients (client_id, first_name, birth_date)
VALUES (1, 'Ann', (current_date - interval '30 years')::date), (2, 'Bob', NULL);
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, welcome_points, birthday_points)
VALUES ('club', 'Club', 1, 10, 20);
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold)
SELECT program_id, t.code, t.code, t.threshold FROM crm.loyalty_programs,
	   (VALUES ('base', 0), ('gold', 100)) t(code, threshold);
SELECT crm.open_loyalty_account(1, 'club');
SELECT crm.earn_points(1, 'club', 30, 'soon-due', expires_at => clock_timestamp() + interval '1 second');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (1, 1, now(), 'web', 'paid', 150, 150), (2, 2, now() - interval '3 days', 'store', 'paid', 40, 40);
"
psql -d crm_cron -c "CREATE EXTENSION pg_cron" -c "$data" >/dev/null
psql -d crm_cron_broken -c "$data" >/dev/null
# the broken ledger: an account's cached balance no longer its entries' sum
psql -d crm_cron_broken -c "UPDATE crm.loyalty_accounts SET balance = balance + 7"
sleep 1

# the schedule of docs/operations.md, every minute
psql -d crm_cron >/dev/null <<'SQL'
SELECT cron.schedule('crm-refresh-segments',  '* * * * *', $$SELECT * FROM crm.refresh_segments(now())$$);
SELECT cron.schedule('crm-award-paid-orders', '* * * * *', $$SELECT crm.award_paid_orders('club', now() - interval '7 days')$$);
SELECT cron.schedule('crm-award-paid-orders-again', '* * * * *', $$SELECT crm.award_paid_orders('club', now() - interval '7 days')$$);
SELECT cron.schedule('crm-welcome-bonuses',   '* * * * *', $$SELECT crm.award_welcome_bonuses('club')$$);
SELECT cron.schedule('crm-birthday-bonuses',  '* * * * *', $$SELECT crm.award_birthday_bonuses('club')$$);
SELECT cron.schedule('crm-expire-points',     '* * * * *', $$SELECT * FROM crm.expire_points()$$);
SELECT cron.schedule('crm-update-tiers',      '* * * * *', $$SELECT crm.update_tiers('club')$$);
SELECT cron.schedule('crm-check-ledger',      '* * * * *', $$SELECT crm.check_ledger()$$);
SELECT cron.schedule_in_database('crm-check-ledger-broken', '* * * * *', $$SELECT crm.check_ledger()$$, 'crm_cron_broken');
SQL
jobs=$(psql -d crm_cron -At -c "SELECT count(*) FROM cron.job")
[ "$jobs" = 9 ] || fail "$jobs jobs scheduled, not 9"

echo "pg_cron.sh: $jobs jobs scheduled every minute; waiting for pg_cron's next minute (up to 130 s)"
start=$SECONDS
done_jobs=0
while [ $((SECONDS - start)) -lt 130 ]; do
	done_jobs=$(psql -d crm_cron -At -c "SELECT count(DISTINCT jobid) FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')")
	[ "$done_jobs" -ge "$jobs" ] && break
	sleep 5
done
[ "$done_jobs" -ge "$jobs" ] || fail "after $((SECONDS - start)) s only $done_jobs of $jobs jobs have run"
echo "pg_cron.sh: every job ran within $((SECONDS - start)) s"

# each job's first run (later minutes run them again, to the same effect)
psql -d crm_cron -P pager=off -c "
SELECT j.jobname, d.database, d.status, d.return_message
  FROM cron.job_run_details d JOIN cron.job j USING (jobid)
 WHERE d.runid IN (SELECT min(runid) FROM cron.job_run_details GROUP BY jobid)
 ORDER BY j.jobid"

# every job's first run: succeeded, except the check of the broken ledger
bad=$(psql -d crm_cron -At -c "
SELECT string_agg(d.command || ' in ' || d.database || ': ' || d.status || ' ' || coalesce(d.return_message, ''), '; ')
  FROM cron.job_run_details d
 WHERE d.runid IN (SELECT min(runid) FROM cron.job_run_details GROUP BY jobid)
   AND (d.status = 'succeeded') = (d.database = 'crm_cron_broken')")
[ -z "$bad" ] || fail "unexpected job outcome: $bad"
msg=$(psql -d crm_cron -At -c "SELECT return_message FROM cron.job_run_details WHERE database = 'crm_cron_broken' ORDER BY runid LIMIT 1")
case "$msg" in
	*"the loyalty ledger failed 1 checks"*) ;;
	*) fail "the broken ledger's check says: $msg" ;;
esac
grep -q 'ERROR:  the loyalty ledger failed 1 checks' "$CRM_CLUSTER_DIR/server.log" ||
	fail "the server log has no error of the broken ledger's check"

# the effects, once each although the cashback job ran twice at once.  The
# jobs of one minute run side by side: the tier job may have run before the
# cashback it counts was committed, and moves the tier a minute later (so
# this waits at most one minute more)
want="2 birthday 20, earn 30, earn 150, expire -30, welcome 10 gold 0"
while :; do
	got=$(psql -d crm_cron -At -F ' ' -c "
	SELECT (SELECT count(*) FROM crm.client_segments),
		   (SELECT string_agg(kind || ' ' || points, ', ' ORDER BY kind, points) FROM crm.loyalty_ledger),
		   (SELECT tier_code FROM crm.loyalty_accounts WHERE client_id = 1),
		   (SELECT count(*) FROM crm.verify_ledger())")
	[ "$got" = "$want" ] && break
	[ $((SECONDS - start)) -lt 190 ] || fail "after the jobs: '$got', expected '$want'"
	sleep 5
done
echo "pg_cron.sh: ok: segments refreshed, cashback once (two runs at once), welcome, birthday, expiry, tier, ledger clean; the broken ledger's check failed in cron.job_run_details and the server log"
