#!/usr/bin/env bash
#
# Demo data, its truth tables included, survive pg_dump and restore: every
# table has the same rows and the identity sequences the same positions.
# pg_dump says nothing on the way (no warning: no loop of foreign keys
# among the extension's tables, which it would have to break).
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
db=crm_demo_dump_$$
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	command psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS ${db}_restored" >/dev/null 2>&1 || true
	rm -f "/tmp/$db.dump" "/tmp/$db.err"
}
trap cleanup EXIT

psql -d postgres -c "CREATE DATABASE $db"
psql -d "$db" -c 'CREATE EXTENSION crm_demo CASCADE' -c 'SELECT crm.generate_demo_data(100, 5)' >/dev/null

fingerprint() {
	psql -d "$1" -At <<'SQL'
SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM (
	SELECT 'clients' t, md5(string_agg(x::text, ',' ORDER BY client_id)) n FROM crm.clients x
	UNION ALL SELECT 'demo_clients', md5(string_agg(x::text, ',' ORDER BY client_id)) FROM crm.demo_clients x
	UNION ALL SELECT 'demo_parameters', md5(string_agg(x::text, ',')) FROM crm.demo_parameters x
	UNION ALL SELECT 'consents', md5(string_agg(x::text, ',' ORDER BY client_id, channel, changed_at)) FROM crm.consents x
	UNION ALL SELECT 'orders', md5(string_agg(x::text, ',' ORDER BY client_id, order_id)) FROM crm.orders x
	UNION ALL SELECT 'order_lines', md5(string_agg(x::text, ',' ORDER BY client_id, order_id, line_no)) FROM crm.order_lines x
	UNION ALL SELECT 'incidents', md5(string_agg(x::text, ',' ORDER BY client_id, incident_id)) FROM crm.incidents x
	UNION ALL SELECT 'interactions', md5(string_agg(x::text, ',' ORDER BY client_id, interaction_id)) FROM crm.interactions x
	UNION ALL SELECT 'categories', md5(string_agg(x::text, ',' ORDER BY category_id)) FROM crm.categories x
	UNION ALL SELECT 'products', md5(string_agg(x::text, ',' ORDER BY product_id)) FROM crm.products x
	UNION ALL SELECT 'prices', md5(string_agg(x::text, ',' ORDER BY price_list_id, product_id)) FROM crm.prices x
	UNION ALL SELECT 'seq_orders', (SELECT last_value::text FROM crm.orders_order_id_seq)
	UNION ALL SELECT 'seq_interactions', (SELECT last_value::text FROM crm.interactions_interaction_id_seq)
	UNION ALL SELECT 'rows', (SELECT count(*)::text FROM crm.demo_clients)) s
SQL
}
before=$(fingerprint "$db")
pg_dump -Fc -f "/tmp/$db.dump" "$db" 2>"/tmp/$db.err"
[ ! -s "/tmp/$db.err" ] || fail "pg_dump warned: $(cat "/tmp/$db.err")"
psql -d postgres -c "CREATE DATABASE ${db}_restored"
pg_restore --exit-on-error -d "${db}_restored" "/tmp/$db.dump"
after=$(fingerprint "${db}_restored")
[ "$before" = "$after" ] || fail "dump/restore changed the demo data: $before / $after"
case "$after" in *rows=100*) ;; *) fail "expected 100 demo clients: $after" ;; esac
echo "demo dump/restore: ok"
