#!/usr/bin/env bash
#
# test/scripts/loyalty_dump_restore.sh: pg_dump keeps the loyalty ledger.
# A database with programmes, tiers, accounts, entries, lots, allocations,
# reversals and tier moves is dumped and restored; the restored ledger is
# the same row for row, verifies clean, stays append-only, and the next
# entry continues the identity sequence.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
db=crm_loyalty_dump_$$
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
	command psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS ${db}_restored" >/dev/null 2>&1 || true
	rm -f "/tmp/$db.dump"
}
trap cleanup EXIT

psql -d postgres -c "CREATE DATABASE $db"
psql -d "$db" <<'SQL'
CREATE EXTENSION crm;
INSERT INTO crm.clients (client_id, first_name) VALUES (1, 'Ada'), (2, 'Alan');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (1, 1, now(), 'web', 'paid', 200, 200), (2, 2, now(), 'web', 'paid', 50, 50);
INSERT INTO crm.loyalty_programs (code, name, points_per_unit, points_lifetime, welcome_points)
VALUES ('club', 'Club', 1, '365 days', 25);
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold) VALUES (1, 'base', 'Base', 0), (1, 'plus', 'Plus', 100);
DO $$ BEGIN
	PERFORM crm.award_welcome_bonus(1, 'club');
	PERFORM crm.award_order_points(1, 1, 'club');
	PERFORM crm.award_order_points(2, 2, 'club');
	PERFORM crm.redeem_points(1, 'club', 100, 'pay');
	PERFORM crm.refund_order_points(1, 1, 'refund', 50);
	PERFORM crm.update_tier(1, 'club');
END $$;
SQL
fingerprint() {
	psql -d "$1" -At <<'SQL'
SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM (
	SELECT 'ledger' t, md5(string_agg(l::text, ',' ORDER BY entry_id)) n FROM crm.loyalty_ledger l
	UNION ALL SELECT 'lots', md5(string_agg(x::text, ',' ORDER BY lot_id)) FROM crm.loyalty_lots x
	UNION ALL SELECT 'allocations', md5(string_agg(x::text, ',' ORDER BY entry_id, lot_id)) FROM crm.loyalty_allocations x
	UNION ALL SELECT 'reversals', md5(string_agg(x::text, ',' ORDER BY entry_id, reversed_entry_id)) FROM crm.loyalty_reversals x
	UNION ALL SELECT 'accounts', md5(string_agg(x::text, ',' ORDER BY client_id)) FROM crm.loyalty_accounts x
	UNION ALL SELECT 'tiers', md5(string_agg(x::text, ',' ORDER BY change_id)) FROM crm.loyalty_tier_changes x
	UNION ALL SELECT 'next_entry', (SELECT last_value::text FROM crm.loyalty_ledger_entry_id_seq)) s
SQL
}
before=$(fingerprint "$db")
[ -n "$before" ] || fail "no fingerprint"
pg_dump -Fc -f "/tmp/$db.dump" "$db"
psql -d postgres -c "CREATE DATABASE ${db}_restored"
pg_restore --exit-on-error -d "${db}_restored" "/tmp/$db.dump" || fail "pg_restore failed"
after=$(fingerprint "${db}_restored")
[ "$before" = "$after" ] || fail "restored ledger differs: $before / $after"
echo "dump/restore: same rows"

v=$(psql -d "${db}_restored" -At -c "SELECT count(*) FROM crm.verify_ledger()")
[ "$v" = 0 ] || fail "verify_ledger reports $v violations after restore"
last=$(psql -d "${db}_restored" -At -c "SELECT max(entry_id) FROM crm.loyalty_ledger")
next=$(psql -d "${db}_restored" -At -c "SELECT entry_id FROM crm.earn_points(2, 'club', 5, 'after-restore')")
[ "$next" -gt "$last" ] || fail "the entry after restore ($next) does not follow the last one ($last)"
if command psql -X -q -d "${db}_restored" -c "DELETE FROM crm.loyalty_ledger" >/dev/null 2>&1; then
	fail "the restored ledger accepted a DELETE"
fi
echo "restored ledger verifies clean, continues, stays append-only"
