#!/usr/bin/env bash
#
# The one breaking change of 0.3.0 (CHANGELOG.md): crm.rfm_scores and
# crm.churn_signals return named row types, so the upgrade drops and
# re-creates them.  A user's view over one of them blocks
# ALTER EXTENSION crm UPDATE with a clear error (2BP01, naming the view),
# and that failed update changes nothing: the extension stays at 0.2.0,
# the view still answers, the data is there.  After the view is dropped
# the update goes through, and the view made again gives the same rows.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
db=crm_upgrade_blocked_$$
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() { command psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT

extdir="$("${PG_CONFIG:-pg_config}" --sharedir)/extension"
[ -f "$extdir/crm--0.1.0--0.2.0.sql" ] || fail "crm 0.2.0 is not installed in $extdir"

psql -d postgres -c "CREATE DATABASE $db"
psql -d "$db" <<'SQL'
CREATE EXTENSION crm VERSION '0.2.0';
\o /dev/null
SELECT crm.generate_demo_data(300, 3, '2025-01-01');
\o
CREATE VIEW public.my_segments AS
	SELECT client_id, segment FROM crm.rfm_scores('2025-01-01');
SQL
before=$(psql -d "$db" -At -c "SELECT md5(string_agg(client_id || ':' || coalesce(segment, ''), ',' ORDER BY client_id)) FROM public.my_segments")

# the update fails, with the error that names what blocks it
if out=$(command psql -X -q -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d "$db" \
		-c "ALTER EXTENSION crm UPDATE TO '0.3.0'" 2>&1); then
	fail "the update went through with a view over crm.rfm_scores"
fi
echo "$out" | grep -q '2BP01' || fail "expected SQLSTATE 2BP01, got: $out"
echo "$out" | grep -q 'my_segments' || fail "the error does not name the view: $out"

# and changed nothing
[ "$(psql -d "$db" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'crm'")" = 0.2.0 ] \
	|| fail "the failed update left another version"
after=$(psql -d "$db" -At -c "SELECT md5(string_agg(client_id || ':' || coalesce(segment, ''), ',' ORDER BY client_id)) FROM public.my_segments")
[ "$before" = "$after" ] || fail "the view answers differently after the failed update"

# what CHANGELOG.md says to do: drop, update, create again
psql -d "$db" <<'SQL'
DROP VIEW public.my_segments;
ALTER EXTENSION crm UPDATE TO '0.3.0';
CREATE VIEW public.my_segments AS
	SELECT client_id, segment FROM crm.rfm_scores('2025-01-01');
SQL
[ "$(psql -d "$db" -At -c "SELECT extversion FROM pg_extension WHERE extname = 'crm'")" = 0.3.0 ] \
	|| fail "the update did not go through once the view was dropped"
again=$(psql -d "$db" -At -c "SELECT md5(string_agg(client_id || ':' || coalesce(segment, ''), ',' ORDER BY client_id)) FROM public.my_segments")
[ "$before" = "$again" ] || fail "the view made again gives other rows"
[ -n "$before" ] || fail "the view had no rows"
echo "a view over crm.rfm_scores blocks the update with 2BP01 and nothing changes; dropped, updated, made again: the same rows"
