#!/usr/bin/env bash
#
# crm.rfm binary send/receive: COPY BINARY round-trips every value, and the
# receive function rejects bytes that are not three scores 1..9.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
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

# crm.quantile_state: binary COPY round trip, and validation of the bytes
psql -d "$db" -c 'CREATE TABLE qa (s crm.quantile_state)' -c 'CREATE TABLE qb (s crm.quantile_state)' \
	-c "INSERT INTO qa VALUES ('5 higher 0.1:3 0.30000000000000004:2 -1e+300:1'), ('3 lower'),
		((SELECT crm.quantile_breaks_transfn(NULL, 2.5, 7, false)))"
psql -d "$db" -c 'COPY qa TO STDOUT (FORMAT binary)' | psql -d "$db" -c 'COPY qb FROM STDIN (FORMAT binary)'
same=$(psql -d "$db" -At -c 'SELECT count(*) FROM qa FULL JOIN qb ON qa.s::text = qb.s::text WHERE qa.s IS NULL OR qb.s IS NULL')
[ "$same" = 0 ] || fail "quantile_state binary round trip: $same unmatched"
echo "quantile_state round trip: ok"

# field: <length bytes> <data>; classes 5, higher, two values 1.0:3 and 2.0:1
field() { printf 'PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0\0\1'"$1$2"'\377\377'; }
one='\77\360\0\0\0\0\0\0'; two='\100\0\0\0\0\0\0\0'; nan='\177\370\0\0\0\0\0\0'
count() { printf '\\0\\0\\0\\0\\0\\0\\0\\%s' "$1"; }
good="\0\0\0\5\1\0\0\0\2${one}$(count 3)${two}$(count 1)"
field '\0\0\0\51' "$good" | psql -d "$db" -c 'COPY qb FROM STDIN (FORMAT binary)' \
	|| fail "a valid binary quantile state was rejected"
[ "$(psql -d "$db" -At -c "SELECT count(*) FROM qb WHERE s::text = '5 higher 1:3 2:1'")" = 1 ] \
	|| fail "binary quantile state read wrongly"
for bad in "\0\0\0\1\1\0\0\0\2${one}$(count 3)${two}$(count 1)" \
		   "\0\0\0\5\2\0\0\0\2${one}$(count 3)${two}$(count 1)" \
		   "\0\0\0\5\1\0\0\0\3${one}$(count 3)${two}$(count 1)" \
		   "\0\0\0\5\1\0\0\0\2${nan}$(count 3)${two}$(count 1)" \
		   "\0\0\0\5\1\0\0\0\2${two}$(count 3)${one}$(count 1)" \
		   "\0\0\0\5\1\0\0\0\2${one}$(count 3)${one}$(count 1)" \
		   "\0\0\0\5\1\0\0\0\2${one}$(count 0)${two}$(count 1)"; do
	if out=$(field '\0\0\0\51' "$bad" | psql -d "$db" -c 'COPY qb FROM STDIN (FORMAT binary)' 2>&1); then
		fail "bad binary quantile state accepted"
	fi
	echo "$out" | grep -q 'invalid binary crm.quantile_state' || fail "unexpected error: $out"
	[ -n "${RFM_VERBOSE:-}" ] && echo "$out"
done
echo "bad quantile state bytes rejected: ok"
