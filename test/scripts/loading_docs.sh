#!/usr/bin/env bash
#
# docs/loading.md is true: its examples (the rules a row must meet, time
# zones, COPY with one's own ids, the insert that then collides,
# crm.sync_sequences, the analytics on the loaded rows), run in order on a
# new database with crm, in a session whose TimeZone is UTC, print what the
# page shows (test/include/doc_examples.py).
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
db=crm_loading_docs_$$
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION crm'
PGDATABASE=$db PGOPTIONS='-c TimeZone=UTC' python3 test/include/doc_examples.py docs/loading.md \
	|| fail "docs/loading.md does not show what psql prints"
echo "docs/loading.md: ok"
