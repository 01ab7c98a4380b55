#!/usr/bin/env bash
#
# The README's tour is true: on a new database loaded as scripts/demo loads
# it (scripts/demo-load.sh: 10,000 clients, seed 1, as of 2025-01-01
# 00:00:00+00), the load prints the block that follows "$ scripts/demo
# --keep" in README.md (but for its timing), and every statement of the
# section "## A tour", run in order in one psql session, prints the output
# written under it (test/include/doc_examples.py).  The session runs in a
# time zone far from UTC (Pacific/Kiritimati, UTC+14), so a moment written
# without its zone would show.  On the same data: the examples of
# docs/schema.md (crm.can_contact on demo clients) and the published
# 11-segment map of docs/rfm.md, typed in and refused.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
db=crm_readme_tour_$$
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() { command psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# the load command and its settings, as scripts/demo has them
clients=$(sed -n 's/^clients=\([0-9]*\)$/\1/p' scripts/demo)
seed=$(sed -n 's/^seed=\([0-9]*\)$/\1/p' scripts/demo)
as_of=$(sed -n "s/^as_of='\(.*\)'$/\1/p" scripts/demo)
[ -n "$clients" ] && [ -n "$seed" ] && [ -n "$as_of" ] || fail "scripts/demo: no clients, seed or as_of"
grep -q '^crm_demo_load "$clients" "$seed" "$as_of"$' scripts/demo \
	|| fail "scripts/demo does not load with crm_demo_load"

psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
export PGDATABASE=$db
psql -X -q -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo'
. scripts/demo-load.sh
export PGOPTIONS='-c TimeZone=Pacific/Kiritimati'
loaded=$(crm_demo_load "$clients" "$seed" "$as_of")

# the README's block after "$ scripts/demo --keep", timings masked
mask() { sed -E 's/ in [0-9]+\.[0-9] s$/ in N s/; s/[[:space:]]+$//' | grep -v '^$' || true; }
want=$(awk '/^\$ scripts\/demo --keep$/ { on = 1; next } on && /^```/ { exit } on' README.md | mask)
have=$(printf '%s\n' "$loaded" | mask)
[ -n "$want" ] || fail "README.md has no block after \"\$ scripts/demo --keep\""
if [ "$want" != "$have" ]; then
	diff <(printf '%s\n' "$want") <(printf '%s\n' "$have") || true
	fail "the demo load does not print what README.md shows (< README, > the load)"
fi

status=0
python3 test/include/doc_examples.py README.md --section '## A tour' || status=1
python3 test/include/doc_examples.py docs/schema.md --only crm.can_contact || status=1
python3 test/include/doc_examples.py docs/rfm.md --footer --only published11 || status=1
[ "$status" = 0 ] || fail "the README's tour (or docs/schema.md, docs/rfm.md) does not show what psql prints"
echo "README tour: ok"
