#!/usr/bin/env bash
#
# CREATE EXTENSION and DROP EXTENSION on an empty database, twice; then
# pg_dump of a database with crm and rows, restored into a fresh database,
# has every row and the same identity sequence positions.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
db=crm_lifecycle_$$
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	command psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS ${db}_restored" >/dev/null 2>&1 || true
	rm -f "/tmp/$db.dump"
}
trap cleanup EXIT

psql -d postgres -c "CREATE DATABASE $db"
for round in 1 2; do
	psql -d "$db" -c 'CREATE EXTENSION crm'
	n=$(psql -d "$db" -At -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'crm'")
	[ "$n" -ge 10 ] || fail "round $round: only $n tables in crm"
	psql -d "$db" -c 'DROP EXTENSION crm'
	# PostgreSQL creates the control file's schema but does not make it a
	# member of the extension: DROP EXTENSION leaves it, empty
	left=$(psql -d "$db" -At -c "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'crm'::regnamespace)
		+ (SELECT count(*) FROM pg_proc WHERE pronamespace = 'crm'::regnamespace)
		+ (SELECT count(*) FROM pg_type WHERE typnamespace = 'crm'::regnamespace)")
	[ "$left" = 0 ] || fail "round $round: $left objects left in schema crm by DROP EXTENSION"
done
echo "create/drop: ok"

# rows survive pg_dump and restore
psql -d "$db" <<'SQL'
CREATE EXTENSION crm;
INSERT INTO crm.clients (first_name, last_name, email) VALUES ('Ada', 'Lovelace', 'ada@example.com'), ('Alan', 'Turing', NULL);
INSERT INTO crm.categories (name) VALUES ('Books');
INSERT INTO crm.products (sku, name, category_id) VALUES ('B-1', 'Notes', 1);
INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount) VALUES (1, '2024-01-01', 'web', 10, 10), (2, '2024-01-02', 'store', 5, 5);
INSERT INTO crm.order_lines VALUES (1, 1, 1, 1, 1, 10, 10, 0, 10, 0);
INSERT INTO crm.interactions (client_id, channel, kind, direction, order_id) VALUES (1, 'web', 'sale', 'inbound', 1);
INSERT INTO crm.consents (client_id, channel, granted) VALUES (1, 'email', true);
SQL
fingerprint() {
	psql -d "$1" -At <<'SQL'
SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM (
	SELECT 'clients' t, md5(string_agg(c::text, ',' ORDER BY client_id)) n FROM crm.clients c
	UNION ALL SELECT 'orders', md5(string_agg(o::text, ',' ORDER BY client_id, order_id)) FROM crm.orders o
	UNION ALL SELECT 'lines', md5(string_agg(l::text, ',' ORDER BY client_id, order_id, line_no)) FROM crm.order_lines l
	UNION ALL SELECT 'interactions', count(*)::text FROM crm.interactions
	UNION ALL SELECT 'consents', count(*)::text FROM crm.consents
	UNION ALL SELECT 'next_client_id', (SELECT last_value::text FROM crm.clients_client_id_seq)
	UNION ALL SELECT 'next_order_id', (SELECT last_value::text FROM crm.orders_order_id_seq)) s
SQL
}
before=$(fingerprint "$db")
pg_dump -Fc -f "/tmp/$db.dump" "$db"
psql -d postgres -c "CREATE DATABASE ${db}_restored"
pg_restore --exit-on-error -d "${db}_restored" "/tmp/$db.dump"
after=$(fingerprint "${db}_restored")
[ "$before" = "$after" ] || fail "dump/restore changed the data: $before / $after"
# a new row after restore gets the next id, not a duplicate
psql -d "${db}_restored" -c "INSERT INTO crm.clients (first_name) VALUES ('Grace')"
echo "dump/restore: ok ($after)"
