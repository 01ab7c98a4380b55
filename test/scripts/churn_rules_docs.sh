#!/usr/bin/env bash
#
# The behavioural classes and churn thresholds are written once, in C
# (src/churn.c: the rules, and the defaults crm.churn_options gives), and
# described twice: the rows of crm.behaviour_classes and the tables of
# docs/churn.md.  This test holds the three together:
#   - every option of docs/churn.md's options table has the default that
#     crm.churn_options('{}') returns, and every option it returns is in
#     that table;
#   - every option a rule of crm.behaviour_classes names is an option;
#   - docs/churn.md's class table lists the classes of
#     crm.behaviour_classes, in the order of their priorities, with their
#     descriptions.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
db=crm_churn_rules_$$
fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() { psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION crm'
options=$(psql -X -At -d "$db" -c "SELECT crm.churn_options('{}')")
classes=$(psql -X -At -F '|' -d "$db" -c "SELECT priority, class, description, rule FROM crm.behaviour_classes ORDER BY priority")
OPTIONS="$options" CLASSES="$classes" python3 - docs/churn.md <<'PY'
import json, os, re, sys
doc = open(sys.argv[1]).read()
opts = json.loads(os.environ['OPTIONS'])
bad = []
# the options table: | `name` | default | range | used by |
documented = {}
for m in re.finditer(r'^\| `([a-z_]+)` \| ([^|]+) \| [^|]+ \| [^|]+ \|$', doc, re.M):
    documented[m.group(1)] = m.group(2).strip()
for name, value in opts.items():
    if name not in documented:
        bad.append('option %s (default %s) is not in the table of docs/churn.md' % (name, value))
        continue
    d = documented[name]
    if value is None:
        ok = d.startswith('null')
    elif isinstance(value, list):
        ok = json.loads(d) == value
    else:
        try:
            ok = float(d) == float(value)
        except ValueError:
            ok = False
    if not ok:
        bad.append('option %s: docs/churn.md says %s, crm.churn_options gives %s' % (name, d, json.dumps(value)))
for name in documented:
    if name not in opts and name in doc[doc.index('| option | default |'):doc.index('| # | class |')]:
        bad.append('docs/churn.md documents an option %s that crm.churn_options does not have' % name)
# the rules of crm.behaviour_classes name options only
rows = [line.split('|', 3) for line in os.environ['CLASSES'].splitlines() if line]
words = set()
for prio, cls, desc, rule in rows:
    for w in re.findall(r'\b([a-z]+(?:_[a-z]+)+)\b', rule):
        words.add(w)
fields = {'offer_share', 'silence_days', 'offers_since_last_purchase', 'overdue_ratio', 'age_days',
          'season_share', 'purchases'}
for w in sorted(words):
    if w not in opts and w not in fields:
        bad.append('a rule of crm.behaviour_classes names %s, which is neither an option nor a signal' % w)
# the class table of the docs: | n | `class` | description | rule |
table = re.findall(r'^\| (\d+) \| `([a-z_]+)` \|\s*([^|]*?)\s*\|', doc, re.M)
seen = []
for n, cls, desc in table:
    if cls not in seen:
        seen.append(cls)
want = [cls for prio, cls, desc, rule in rows]
if seen != want:
    bad.append('docs/churn.md lists the classes %s, crm.behaviour_classes %s' % (seen, want))
descs = {cls: desc.strip() for n, cls, desc in table if desc.strip()}
for prio, cls, desc, rule in rows:
    if cls in descs and descs[cls] != desc and not descs[cls].startswith(desc.split(',')[0][:20]):
        bad.append('class %s: docs/churn.md says "%s", crm.behaviour_classes "%s"' % (cls, descs[cls], desc))
if bad:
    print('\n'.join(bad))
    sys.exit(1)
print('churn rules: %d options and %d classes agree between src/churn.c, crm.behaviour_classes and docs/churn.md'
      % (len(opts), len(rows)))
PY
