#!/usr/bin/env bash
#
# bench/loyalty_bench.sh: earn/redeem throughput of the loyalty ledger
# against a bare single-row UPDATE, at the same concurrency, in one run.
#
#   8 pgbench clients over 1,000 accounts (both settings can be changed:
#   CLIENTS, ACCOUNTS, DURATION).  Each transaction of the loyalty script
#   is one crm.earn_points or one crm.redeem_points call (half each) with a
#   fresh idempotency key on a random account; the baseline is
#   UPDATE ... SET balance = balance + 1 on a random row of a 1,000-row
#   table.  Afterwards crm.verify_ledger() must return no rows.
#
# Needs crm built and installed for $PG_CONFIG; runs its own throwaway
# cluster on a Unix socket.
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-pg_config}
bindir=$("$PG_CONFIG" --bindir)
# the server's own psql and pgbench, whatever PATH holds
export PATH="$bindir:$PATH"
CLIENTS=${CLIENTS:-8}
ACCOUNTS=${ACCOUNTS:-1000}
SECONDS_RUN=${DURATION:-15}

tmp=$(mktemp -d /tmp/crm-bench.XXXXXX)
run_server=()
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$tmp"
	run_server=(runuser -u postgres --)
	dbuser=postgres
else
	dbuser=$(id -un)
fi
cleanup() {
	"${run_server[@]}" "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"${run_server[@]}" "$bindir/initdb" -D "$tmp/data" -U "$dbuser" -A trust --no-sync -E UTF8 --locale=C >/dev/null
port=$(( 20000 + RANDOM % 20000 ))
"${run_server[@]}" "$bindir/pg_ctl" -D "$tmp/data" -w -l "$tmp/server.log" \
	-o "-k $tmp -p $port -c listen_addresses='' -c max_connections=50 -c shared_buffers=128MB" start >/dev/null
export PGHOST=$tmp PGPORT=$port PGUSER=$dbuser PGDATABASE=postgres

psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION crm;
INSERT INTO crm.clients (client_id, first_name)
SELECT g, 'client ' || g FROM generate_series(1, $ACCOUNTS) g;
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, points_lifetime)
VALUES ('bench', 'Bench', 1, '365 days');
SELECT count(crm.earn_points(g, 'bench', 1000, 'seed-' || g)) FROM generate_series(1, $ACCOUNTS) g;
CREATE TABLE bare (id integer PRIMARY KEY, balance bigint NOT NULL);
INSERT INTO bare SELECT g, 1000 FROM generate_series(1, $ACCOUNTS) g;
VACUUM ANALYZE;
SQL

cat >"$tmp/loyalty.sql" <<SQL
\set c random(1, $ACCOUNTS)
\set op random(0, 1)
\set n random(1, 10)
SELECT CASE WHEN :op = 0
			THEN (crm.earn_points(:c, 'bench', :n, 'e-' || :client_id || '-' || gen_random_uuid())).balance_after
			ELSE (crm.redeem_points(:c, 'bench', :n, 'r-' || :client_id || '-' || gen_random_uuid())).balance_after
	   END;
SQL
cat >"$tmp/bare.sql" <<SQL
\set c random(1, $ACCOUNTS)
\set n random(-10, 10)
UPDATE bare SET balance = balance + :n WHERE id = :c;
SQL

run() {
	pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -T "$SECONDS_RUN" -f "$1" 2>&1 \
		| awk '/^tps/ {print $3; exit}'
}
bare=$(run "$tmp/bare.sql")
loyalty=$(run "$tmp/loyalty.sql")
bare2=$(run "$tmp/bare.sql")

entries=$(psql -X -At -c "SELECT count(*) FROM crm.loyalty_ledger")
violations=$(psql -X -At -c "SELECT count(*) FROM crm.verify_ledger()")
negative=$(psql -X -At -c "SELECT count(*) FROM crm.loyalty_ledger WHERE balance_after < 0")
echo "clients=$CLIENTS accounts=$ACCOUNTS seconds=$SECONDS_RUN each"
echo "bare UPDATE tps:      $bare (before) $bare2 (after)"
echo "earn/redeem tps:      $loyalty"
awk -v l="$loyalty" -v a="$bare" -v b="$bare2" \
	'BEGIN { printf "ratio loyalty/bare:  %.2f (against the mean of both bare runs)\n", l / ((a + b) / 2) }'
echo "ledger entries:       $entries"
echo "verify_ledger rows:   $violations"
echo "negative balances:    $negative"
psql -X -c "SELECT * FROM crm.verify_ledger() LIMIT 5" | head -10
[ "$violations" = 0 ]
