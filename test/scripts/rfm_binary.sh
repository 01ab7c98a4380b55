#!/usr/bin/env bash
#
# crm.rfm binary send/receive: COPY BINARY round-trips every value, and the
# receive function rejects bytes that are not three scores 1..9.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
set -euo pipefail
db=crm_rfm_binary_$$
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() { command psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT

psql -d postgres -c "CREATE DATABASE $db"
psql -d "$db" -c 'CREATE EXTENSION crm' \
	-c 'CREATE TABLE a (v crm.rfm)' -c 'CREATE TABLE b (v crm.rfm)' \
	-c 'INSERT INTO a SELECT crm.rfm(r, f, m) FROM generate_series(1, 9) r, generate_series(1, 9) f, generate_series(1, 9) m'

psql -d "$db" -c 'COPY a TO STDOUT (FORMAT binary)' | psql -d "$db" -c 'COPY b FROM STDIN (FORMAT binary)'
same=$(psql -d "$db" -At -c 'SELECT count(*) FROM a FULL JOIN b ON a.v::text = b.v::text WHERE a.v IS NULL OR b.v IS NULL')
n=$(psql -d "$db" -At -c 'SELECT count(*) FROM b')
[ "$same" = 0 ] && [ "$n" = 729 ] || fail "binary round trip: $n rows, $same unmatched"
echo "round trip: ok"

# a binary COPY stream with one field of three bytes
stream() { printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1\0\0\0\3'"$1"'\377\377'; }
stream '\5\4\3' | psql -d "$db" -c 'COPY b FROM STDIN (FORMAT binary)' \
	|| fail "a valid binary value was rejected"
for bad in '\0\4\3' '\5\12\3' '\5\4\377'; do
	if out=$(stream "$bad" | psql -d "$db" -c 'COPY b FROM STDIN (FORMAT binary)' 2>&1); then
		fail "bad binary value $bad accepted"
	fi
	echo "$out" | grep -q 'invalid binary crm.rfm value' || fail "unexpected error for $bad: $out"
done
echo "bad bytes rejected: ok"
