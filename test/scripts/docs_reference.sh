#!/usr/bin/env bash
#
# Every public object of crm and crm_demo (function, aggregate, type,
# table, view) is in the reference: named in README.md or in a page of
# docs/ that README.md links to (as crm.name or as `name`, a word of its
# own); and every page of docs/ is linked from README.md.  An object added
# without its documentation fails here.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
db=crm_docs_reference_$$
cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'SET client_min_messages = warning' \
	-c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo'
objects=$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
SELECT DISTINCT e.extname || ' ' || x.kind || ' ' || x.name
  FROM pg_depend d
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname IN ('crm', 'crm_demo')
  CROSS JOIN LATERAL (
	SELECT CASE p.prokind WHEN 'a' THEN 'aggregate' ELSE 'function' END AS kind, p.proname::text AS name
	  FROM pg_proc p WHERE d.classid = 'pg_proc'::regclass AND p.oid = d.objid
	UNION ALL
	SELECT CASE c.relkind WHEN 'v' THEN 'view' ELSE 'table' END, c.relname::text
	  FROM pg_class c WHERE d.classid = 'pg_class'::regclass AND c.oid = d.objid AND c.relkind IN ('r', 'p', 'v')
	UNION ALL
	SELECT 'type', t.typname::text
	  FROM pg_type t WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid AND t.typtype IN ('b', 'c', 'd', 'e')
	   AND NOT (t.typcategory = 'A' AND t.typelem <> 0)	-- array types (members of the extension on 18)
	   AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid AND c.relkind <> 'c')) x
 WHERE d.deptype = 'e'
 ORDER BY 1;
SQL
)
OBJECTS="$objects" python3 - <<'PY'
import os, re, sys
readme = open('README.md').read()
pages = {}
for name in sorted(os.listdir('docs')):
    if name.endswith('.md'):
        pages['docs/' + name] = open('docs/' + name).read()
bad = []
for page in pages:
    if '(' + page + ')' not in readme:
        bad.append('%s is not linked from README.md' % page)
text = readme + '\n'.join(pages.values())
objects = [l.split(' ', 2) for l in os.environ['OBJECTS'].splitlines() if l]
for ext, kind, name in objects:
    if not re.search(r'(crm\.%s\b|`%s[`(])' % (re.escape(name), re.escape(name)), text):
        bad.append('%s %s %s is in neither README.md nor docs/' % (ext, kind, name))
for b in bad:
    print('FAIL: ' + b)
print('%d objects of crm and crm_demo, %d pages of docs/: %d undocumented or unlinked'
      % (len(objects), len(pages), len(bad)))
sys.exit(1 if bad else 0)
PY
