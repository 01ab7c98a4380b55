#!/usr/bin/env bash
#
# Least privilege, verified: the table "Table privileges, exactly" of
# docs/security.md against the catalogue.  For every table of the schema
# crm (crm and crm_demo installed) and each of crm_admin, crm_analyst,
# crm_app and crm_manager, the privileges held (table and column
# privileges) must be exactly those the table lists: a privilege granted
# and not documented fails, and so does one documented and not granted, or
# a table missing from either side.  Then pg_dump, run by a login role in
# crm_admin with --enable-row-security, must dump every row.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
db=crm_security_grants_$$
login=crm_grants_ops_$$
dump=$(mktemp)
cleanup() {
	psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $login" >/dev/null 2>&1 || true
	rm -f "$dump"
}
trap cleanup EXIT
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'SET client_min_messages = warning' \
	-c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo'

catalog=$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
WITH r(role) AS (VALUES ('crm_admin'), ('crm_analyst'), ('crm_app'), ('crm_manager')),
t AS (SELECT c.oid, c.relname, c.relacl FROM pg_class c
	   WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p'))
SELECT 'table crm.' || t.relname FROM t
UNION ALL
SELECT format('crm.%s %s %s', t.relname, r.role, a.privilege_type)
  FROM t CROSS JOIN LATERAL aclexplode(t.relacl) a JOIN r ON r.role = a.grantee::regrole::text
UNION ALL
SELECT format('crm.%s %s %s %s', t.relname, r.role, a.privilege_type, att.attname)
  FROM t JOIN pg_attribute att ON att.attrelid = t.oid AND att.attnum > 0 AND NOT att.attisdropped
 CROSS JOIN LATERAL aclexplode(att.attacl) a JOIN r ON r.role = a.grantee::regrole::text
ORDER BY 1;
SQL
)

CATALOG="$catalog" python3 - <<'PY'
import os, re, sys
text = open('docs/security.md').read()
m = re.search(r'^### Table privileges, exactly\n(.*?)(?=^#)', text, re.S | re.M)
if not m:
    print('FAIL: docs/security.md has no section "Table privileges, exactly"')
    sys.exit(1)
lines = [l for l in m.group(1).splitlines() if l.startswith('|')]
header = [c.strip().strip('`') for c in lines[0].strip('|').split('|')]
roles = header[1:]
if roles != ['crm_admin', 'crm_analyst', 'crm_app', 'crm_manager']:
    print('FAIL: the table\'s columns are %s' % roles)
    sys.exit(1)
doc = set()
bad = []
for l in lines[2:]:
    cells = [c.strip() for c in l.strip().strip('|').split('|')]
    table = cells[0].strip('`')
    doc.add('table ' + table)
    for role, cell in zip(roles, cells[1:]):
        if cell == '—':
            continue
        items = re.findall(r'([A-Z]+)(?: \(([^)]*)\))?(?:, |$)', cell)
        if ', '.join(p + (' (%s)' % c if c else '') for p, c in items) != cell:
            bad.append('cannot read the cell of %s for %s: %r' % (table, role, cell))
            continue
        for priv, cols in items:
            if cols:
                for col in cols.split(', '):
                    doc.add('%s %s %s %s' % (table, role, priv, col))
            else:
                doc.add('%s %s %s' % (table, role, priv))
cat = set(l for l in os.environ['CATALOG'].splitlines() if l)
for x in sorted(cat - doc):
    bad.append('granted, not in docs/security.md: ' + x)
for x in sorted(doc - cat):
    bad.append('in docs/security.md, not granted: ' + x)
for b in bad:
    print('FAIL: ' + b)
print('%d tables, %d privileges of the four roles: %d differences between docs/security.md and the catalogue'
      % (sum(1 for x in cat if x.startswith('table ')), sum(1 for x in cat if not x.startswith('table ')), len(bad)))
sys.exit(1 if bad else 0)
PY

# pg_dump by a login role in crm_admin: every row, every sequence
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<SQL
CREATE ROLE $login LOGIN IN ROLE crm_admin;
SET client_min_messages = warning;
SELECT count(*) FROM crm.generate_demo_data(30, 1) \g /dev/null
SQL
if ! pg_dump --enable-row-security -U "$login" -d "$db" -f "$dump" 2>"$dump.err"; then
	cat "$dump.err"; rm -f "$dump.err"
	echo "FAIL: pg_dump as a login role in crm_admin"
	exit 1
fi
rm -f "$dump.err"
orders=$(psql -X -At -d "$db" -c 'SELECT count(*) FROM crm.orders')
dumped=$(awk '/^COPY crm\.orders /{on=1; next} on && /^\\\.$/{on=0} on{n++} END{print n+0}' "$dump")
sequences=$(grep -c "^SELECT pg_catalog.setval('crm\." "$dump" || true)
if [ "$orders" -gt 0 ] && [ "$dumped" = "$orders" ] && [ "$sequences" -gt 0 ]; then
	echo "pg_dump --enable-row-security as a member of crm_admin: $dumped of $orders orders, $sequences sequences"
else
	echo "FAIL: pg_dump as a member of crm_admin dumped $dumped of $orders orders, $sequences sequences"
	exit 1
fi
