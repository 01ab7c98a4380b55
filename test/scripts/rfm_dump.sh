#!/usr/bin/env bash
#
# Segment maps a user adds survive pg_dump and pg_restore; the shipped maps
# come back from CREATE EXTENSION, once.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
db=crm_rfm_dump_$$
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
BEGIN;
INSERT INTO crm.segment_maps (map_name, classes, description) VALUES ('recent2', 2, 'recent or not');
INSERT INTO crm.segment_map_rules VALUES
	('recent2', 1, 'recent', 2, 2, 1, 2, 1, 2),
	('recent2', 2, 'lapsed', 1, 1, 1, 2, 1, 2);
COMMIT;
SQL
fingerprint() {
	psql -d "$1" -At -c "SELECT md5(string_agg(m::text || ':' || (SELECT string_agg(r::text, ',' ORDER BY r.rule_no)
		FROM crm.segment_map_rules r WHERE r.map_name = m.map_name), ';' ORDER BY m.map_name)) FROM crm.segment_maps m"
}
before=$(fingerprint "$db")
pg_dump -Fc -f "/tmp/$db.dump" "$db"
psql -d postgres -c "CREATE DATABASE ${db}_restored"
pg_restore --exit-on-error -d "${db}_restored" "/tmp/$db.dump"
after=$(fingerprint "${db}_restored")
[ "$before" = "$after" ] || fail "segment maps differ after restore"
seg=$(psql -d "${db}_restored" -At -c "SELECT crm.rfm_segment('211', 'recent2')")
[ "$seg" = recent ] || fail "restored map gives $seg"
echo "dump and restore of segment maps: ok"
