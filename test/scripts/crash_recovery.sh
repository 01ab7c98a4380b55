#!/usr/bin/env bash
#
# test/scripts/crash_recovery.sh: a crash loses no acknowledged transaction
# and breaks no invariant.
#
# In a cluster of its own (scripts/cluster.sh; fsync, synchronous_commit and
# full_page_writes left on, as in production), four pgbench sessions write
# concurrently through the extension's operational functions: orders with
# two lines whose cashback is awarded in the same transaction
# (crm.award_order_points), crm.earn_points and crm.redeem_points.  After
# each COMMIT returns, the session appends what it got (order id, ledger
# entry ids) to a log.  In the middle of that, every process of the server,
# the postmaster and all its children, gets SIGKILL at once; the server is
# started again on the same data directory and recovers from its WAL.  Then:
#
#   - every logged order is there with its lines and its cashback entry, and
#     every logged earn and redemption is in the ledger as written;
#   - crm.verify_ledger() is clean; every balance is the sum of its entries,
#     every lot's remainder its points plus its allocations;
#   - every order's amounts are the sums of its lines;
#   - no row is orphaned (lines, entries, lots, allocations, reversals);
#   - every B-tree index of crm passes amcheck, heap included;
#   - new orders and entries get ids above every logged one.
#
# Needs pgbench (package postgresql-15) and amcheck (contrib, same package).
# Environment: PG_CONFIG (the PostgreSQL crm is installed into).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/cluster.sh
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() {
	echo "FAIL: $*" >&2
	[ -f "${CRM_CLUSTER_DIR:-/nonexistent}/server.log" ] && tail -n 30 "$CRM_CLUSTER_DIR/server.log" >&2
	exit 1
}

crm_cluster_start
db=crm_crash
work=$CRM_CLUSTER_DIR/work
mkdir "$work"
chmod a+rwx "$work"
acks=$work/acks
: >"$acks"
chmod a+rw "$acks"

# durability as in production
for setting in fsync synchronous_commit full_page_writes; do
	[ "$(psql -At -c "SHOW $setting")" = on ] || fail "$setting is not on"
done

psql -c "CREATE DATABASE $db"
psql -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION crm;
CREATE EXTENSION crm_demo;
CREATE EXTENSION amcheck;
SELECT count(*) FROM crm.generate_demo_data(200, 3, '2025-01-01');
INSERT INTO crm.loyalty_programs (code, name, cashback_percent, point_value)
VALUES ('club', 'Club', 5, 0.01);
SQL

# the writers: every script logs only after its COMMIT has returned
cat >"$work/order.sql" <<EOF
\set c random(1, 200)
\set p1 random(1, 300)
\set p2 random(1, 300)
\set q1 random(1, 4)
\set q2 random(1, 4)
\set cents1 random(50, 9999)
\set cents2 random(50, 9999)
BEGIN;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, external_ref)
VALUES (:c, now(), 'web', 'paid', (:q1 * :cents1 + :q2 * :cents2) / 100.0,
		(:q1 * :cents1 + :q2 * :cents2) / 100.0, 'crash-test')
RETURNING order_id \gset
INSERT INTO crm.order_lines (client_id, order_id, line_no, product_id, quantity, unit_price,
							 gross_amount, net_amount)
VALUES (:c, :order_id, 1, :p1, :q1, :cents1 / 100.0, :q1 * :cents1 / 100.0, :q1 * :cents1 / 100.0),
	   (:c, :order_id, 2, :p2, :q2, :cents2 / 100.0, :q2 * :cents2 / 100.0, :q2 * :cents2 / 100.0);
SELECT (crm.award_order_points(:c, :order_id, 'club')).entry_id AS earn_entry \gset
COMMIT;
\shell echo order :c :order_id :earn_entry >> $acks
EOF
cat >"$work/earn.sql" <<EOF
\set c random(1, 200)
\set points random(1, 100)
SELECT (crm.earn_points(:c, 'club', :points, 'crash-' || gen_random_uuid())).entry_id AS entry \gset
\shell echo earn :c :entry :points >> $acks
EOF
# each session redeems only from its own 50 clients, so that the balance it
# reads can only grow before its redemption takes the account's lock
cat >"$work/redeem.sql" <<EOF
\set c 1 + :client_id * 50 + random(0, 49)
\set want random(1, 60)
BEGIN;
SELECT least(:want, coalesce(crm.points_balance(:c, 'club'), 0)) AS points \gset
SELECT coalesce((SELECT (crm.redeem_points(:c, 'club', :points, 'crash-' || gen_random_uuid())).entry_id
				  WHERE :points > 0), 0) AS entry \gset
COMMIT;
\shell echo redeem :c :entry :points >> $acks
EOF
chmod a+r "$work"/*.sql

"$bindir/pgbench" -n -c 4 -j 4 -T 120 --max-tries=5 \
	-f "$work/order.sql@3" -f "$work/earn.sql@2" -f "$work/redeem.sql@2" "$db" \
	>"$work/pgbench.log" 2>&1 &
bench=$!

# let the writers run until a few hundred transactions are acknowledged
for _ in $(seq 1 600); do
	[ "$(wc -l <"$acks")" -ge 300 ] && break
	kill -0 "$bench" 2>/dev/null || { cat "$work/pgbench.log"; fail "pgbench stopped before the crash"; }
	sleep 0.1
done
kill -0 "$bench" 2>/dev/null || { cat "$work/pgbench.log"; fail "pgbench stopped before the crash"; }

# the crash: stop the postmaster so that it forks no more, then SIGKILL it and
# every child at once (backends, checkpointer, WAL writer, ...)
children_of() {
	# the processes whose parent is $1, from /proc (field 4 of stat, after
	# the command name in parentheses)
	local stat line fields
	for stat in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$stat" || continue
		read -r -a fields <<<"${line##*) }"
		[ "${fields[1]}" = "$1" ] && echo "${stat//[^0-9]/}"
	done
	return 0
}
postmaster=$(head -n 1 "$CRM_CLUSTER_DIR/data/postmaster.pid")
kill -STOP "$postmaster"
children=$(children_of "$postmaster" | tr '\n' ' ')
kill -KILL "$postmaster" $children
[ -n "$children" ] || fail "the postmaster $postmaster had no children to kill"
# wait until every one of them is gone, reaped too: a new postmaster refuses
# to start while the old one's pid still exists
for pid in $postmaster $children; do
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || continue 2
		sleep 0.05
	done
	fail "server process $pid still exists 30 s after SIGKILL"
done
wait "$bench" || true
acked_at_crash=$(wc -l <"$acks")
# all four sessions were writing when the server died, none had failed before
# (pgbench's threads may interleave their messages on one line: count the
# distinct clients named, wherever they appear)
aborted=$(grep -oE 'client [0-9]+ (script [0-9]+ )?aborted' "$work/pgbench.log" |
	grep -oE '^client [0-9]+' | sort -u | wc -l || true)
[ "$aborted" = 4 ] && ! grep -q 'ERROR:' "$work/pgbench.log" \
	|| { cat "$work/pgbench.log"; fail "expected the crash to stop the 4 writers, and no SQL error"; }
echo "crash: SIGKILL to the postmaster and its $(echo $children | wc -w) children with $acked_at_crash transactions acknowledged"
[ -n "${CRM_CRASH_VERBOSE:-}" ] && cat "$work/pgbench.log"

# restart on the same data directory: crash recovery from the WAL
"${crm_run_server[@]}" "$bindir/pg_ctl" -D "$CRM_CLUSTER_DIR/data" -w -l "$CRM_CLUSTER_DIR/server.log" \
	-o "-k $CRM_CLUSTER_DIR -c listen_addresses='' -p $PGPORT" start >"$work/restart.log" 2>&1 \
	|| { cat "$work/restart.log"; fail "the server did not start again after the crash"; }
grep -q 'database system was interrupted\|not properly shut down' "$CRM_CLUSTER_DIR/server.log" \
	|| fail "the server log shows no crash recovery"
grep -q 'redo done\|redo starts' "$CRM_CLUSTER_DIR/server.log" || fail "the server log shows no WAL redo"

n_order=$(grep -c '^order ' "$acks" || true)
n_earn=$(grep -c '^earn ' "$acks" || true)
n_redeem=$(grep -c '^redeem [0-9]* [1-9]' "$acks" || true)
[ "$n_order" -gt 0 ] && [ "$n_earn" -gt 0 ] && [ "$n_redeem" -gt 0 ] \
	|| fail "too little acknowledged work: $n_order orders, $n_earn earns, $n_redeem redemptions"

# every check prints one line "name count-of-violations"
psql -d "$db" -At -v acks="$acks" >"$work/checks" <<'SQL'
CREATE TEMP TABLE ack (kind text, client_id bigint, id bigint, extra bigint);
-- the server reads the log (the writers' log is the server owner's to read)
COPY ack FROM :'acks' (FORMAT text, DELIMITER ' ');
SELECT 'acked orders missing', count(*) FROM ack a
 WHERE a.kind = 'order'
   AND NOT EXISTS (SELECT FROM crm.orders o WHERE o.client_id = a.client_id AND o.order_id = a.id);
SELECT 'acked orders without their two lines', count(*) FROM ack a
 WHERE a.kind = 'order'
   AND (SELECT count(*) FROM crm.order_lines l WHERE l.client_id = a.client_id AND l.order_id = a.id) <> 2;
SELECT 'acked orders without their cashback entry', count(*) FROM ack a
 WHERE a.kind = 'order'
   AND NOT EXISTS (SELECT FROM crm.loyalty_ledger l
					WHERE l.entry_id = a.extra AND l.client_id = a.client_id AND l.order_id = a.id
					  AND l.kind = 'earn');
SELECT 'acked earns missing', count(*) FROM ack a
 WHERE a.kind = 'earn'
   AND NOT EXISTS (SELECT FROM crm.loyalty_ledger l
					WHERE l.entry_id = a.id AND l.client_id = a.client_id AND l.kind = 'earn'
					  AND l.points = a.extra);
SELECT 'acked redemptions missing', count(*) FROM ack a
 WHERE a.kind = 'redeem' AND a.id > 0
   AND NOT EXISTS (SELECT FROM crm.loyalty_ledger l
					WHERE l.entry_id = a.id AND l.client_id = a.client_id AND l.kind = 'redeem'
					  AND l.points = -a.extra);
SELECT 'verify_ledger', count(*) FROM crm.verify_ledger();
SELECT 'balances not the sum of the ledger', count(*) FROM crm.loyalty_accounts a
 WHERE a.balance <> coalesce((SELECT sum(l.points) FROM crm.loyalty_ledger l
							   WHERE l.client_id = a.client_id AND l.program_id = a.program_id), 0);
SELECT 'negative balances', count(*) FROM crm.loyalty_accounts a WHERE a.balance < 0;
SELECT 'lots not points plus allocations', count(*) FROM crm.loyalty_lots t
 WHERE t.remaining <> t.points + coalesce((SELECT sum(x.points) FROM crm.loyalty_allocations x
										   WHERE x.client_id = t.client_id AND x.lot_id = t.lot_id), 0);
SELECT 'orders whose amounts are not the sums of their lines', count(*) FROM crm.orders o
  JOIN (SELECT l.client_id, l.order_id, sum(l.gross_amount) AS gross, sum(l.net_amount) AS net
		  FROM crm.order_lines l GROUP BY 1, 2) s USING (client_id, order_id)
 WHERE o.external_ref = 'crash-test' AND (o.gross_amount <> s.gross OR o.net_amount <> s.net);
SELECT 'orders of the writers without lines', count(*) FROM crm.orders o
 WHERE o.external_ref = 'crash-test'
   AND NOT EXISTS (SELECT FROM crm.order_lines l WHERE l.client_id = o.client_id AND l.order_id = o.order_id);
SELECT 'orphaned order lines', count(*) FROM crm.order_lines l
 WHERE NOT EXISTS (SELECT FROM crm.orders o WHERE o.client_id = l.client_id AND o.order_id = l.order_id);
SELECT 'ledger entries without an account', count(*) FROM crm.loyalty_ledger l
 WHERE NOT EXISTS (SELECT FROM crm.loyalty_accounts a WHERE a.client_id = l.client_id AND a.program_id = l.program_id);
SELECT 'ledger entries of missing orders', count(*) FROM crm.loyalty_ledger l
 WHERE l.order_id IS NOT NULL
   AND NOT EXISTS (SELECT FROM crm.orders o WHERE o.client_id = l.client_id AND o.order_id = l.order_id);
SELECT 'lots without their entry', count(*) FROM crm.loyalty_lots t
 WHERE NOT EXISTS (SELECT FROM crm.loyalty_ledger l WHERE l.client_id = t.client_id AND l.entry_id = t.lot_id);
SELECT 'allocations without entry or lot', count(*) FROM crm.loyalty_allocations x
 WHERE NOT EXISTS (SELECT FROM crm.loyalty_ledger l WHERE l.client_id = x.client_id AND l.entry_id = x.entry_id)
	OR NOT EXISTS (SELECT FROM crm.loyalty_lots t WHERE t.client_id = x.client_id AND t.lot_id = x.lot_id);
SELECT 'reversals without their entries', count(*) FROM crm.loyalty_reversals r
 WHERE NOT EXISTS (SELECT FROM crm.loyalty_ledger l WHERE l.client_id = r.client_id AND l.entry_id = r.entry_id)
	OR NOT EXISTS (SELECT FROM crm.loyalty_ledger l WHERE l.client_id = r.client_id AND l.entry_id = r.reversed_entry_id);
-- amcheck raises an error on a corrupt index; count the indexes checked
SELECT 'indexes failing amcheck', count(*) - count(bt_index_check(c.oid, true))
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
 WHERE c.relnamespace = 'crm'::regnamespace AND am.amname = 'btree' AND c.relpersistence = 'p';
-- ids handed out after recovery are new
WITH n AS (INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount)
		   VALUES (1, now(), 'web', 1, 1) RETURNING order_id)
SELECT 'new order id not above the logged ones', count(*)
  FROM n WHERE n.order_id <= (SELECT max(id) FROM ack WHERE kind = 'order');
SELECT 'new entry id not above the logged ones', count(*)
  FROM crm.earn_points(1, 'club', 1, 'after-recovery') e
 WHERE e.entry_id <= (SELECT max(CASE WHEN kind = 'order' THEN extra ELSE id END) FROM ack);
SELECT 'acknowledgements read', count(*) FROM ack;
SQL

sed 's/|/: /' "$work/checks"
read_acks=$(sed -n 's/^acknowledgements read|//p' "$work/checks")
[ "$read_acks" -ge "$acked_at_crash" ] || fail "only $read_acks of $acked_at_crash acknowledgements were read"
bad=$(grep -v '^acknowledgements read|' "$work/checks" | grep -cv '|0$' || true)
[ "$bad" = 0 ] || fail "$bad invariants broken after crash recovery"
echo "after recovery: all $n_order orders, $n_earn earns and $n_redeem redemptions acknowledged are there; every invariant holds"
