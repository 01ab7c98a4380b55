#!/usr/bin/env bash
#
# test/scripts/dump_restore_analytics.sh: nothing is lost by pg_dump and
# pg_restore.  A database with crm, 300 demo clients, a loyalty programme
# with earn, redeem, expire, reverse, refund, adjust and tier activity,
# discount rules used by recorded carts and a segment refresh is dumped
# (custom format) and restored into a fresh database.  Then:
#
#   - every table of schema crm has the same rows (count and a digest of the
#     rows in text form), every sequence the same position;
#   - the analytics give the same answers, as text, computed with the same
#     explicit moments in both: RFM scores and segments, churn signals and
#     status, the BG/NBD and Gamma-Gamma fits, the CLV report, ABC, the
#     repeat curve, every points balance, a points statement, the price of
#     a few carts;
#   - crm.verify_ledger() returns no row in the restored database.
#
# Runs against the cluster in PGHOST/PGPORT (test/run-all provides one).
set -euo pipefail
db=crm_dump_analytics_$$
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d /tmp/crm-dump.XXXXXX)
cleanup() {
	command psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS ${db}_restored" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# the moment the analytics are computed at, and the moment carts are priced at
as_of="'2025-01-01 00:00:00+00'"
priced_at="'2024-12-28 12:00:00+00'"

psql -d postgres -c "CREATE DATABASE $db"
psql -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION crm;
SELECT count(*) FROM crm.generate_demo_data(300, 2, '2025-01-01');

-- loyalty: a programme with two tiers
INSERT INTO crm.loyalty_programs (code, name, cashback_percent, point_value, points_lifetime,
								  bonus_lifetime, welcome_points, birthday_points, max_redeem_share,
								  tier_window, tier_hold)
VALUES ('club', 'Club', 5, 0.01, '365 days', '30 days', 200, 300, 0.5, '365 days', '90 days');
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold, earn_multiplier, benefits)
VALUES (1, 'member', 'Member', 0, 1, '{}'), (1, 'silver', 'Silver', 500, 1.5, '{"discount_percent": 5}');
-- welcome points for every client, the cashback of the paid orders of every third
SELECT count(crm.award_welcome_bonus(c.client_id, 'club')) FROM crm.clients c;
SELECT count(crm.award_order_points(o.client_id, o.order_id, 'club'))
  FROM crm.orders o WHERE o.status = 'paid' AND o.client_id % 3 = 0;
-- points that live one second, and the expiry job a day later
SELECT count(crm.earn_points(c.client_id, 'club', 40, 'short-' || c.client_id,
							 expires_at => now() + interval '1 second'))
  FROM crm.clients c WHERE c.client_id % 4 = 0;
SELECT * FROM crm.expire_points(now() + interval '1 day');
-- redemptions, some of them reversed; partial refunds; goodwill; tiers
SELECT count(crm.redeem_points(a.client_id, 'club', a.balance / 3, 'redeem-' || a.client_id))
  FROM crm.loyalty_accounts a WHERE a.balance >= 3 AND a.client_id % 2 = 0;
SELECT count(crm.reverse_entry(l.entry_id, 'undo-' || l.entry_id))
  FROM crm.loyalty_ledger l WHERE l.kind = 'redeem' AND l.client_id % 10 = 0;
SELECT count(*) FROM crm.loyalty_ledger l,
	   LATERAL crm.refund_order_points(l.client_id, l.order_id, 'refund-' || l.order_id, 1.00) r
 WHERE l.kind = 'earn' AND l.order_id IS NOT NULL AND l.client_id % 9 = 0;
SELECT count(crm.adjust_points(c.client_id, 'club', 25, 'goodwill-' || c.client_id, 'goodwill'))
  FROM crm.clients c WHERE c.client_id % 7 = 0;
-- recent paid orders (after the analytics' as_of) lift ten clients to silver
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT c, now() - interval '1 hour', 'web', 'paid', 600, 600 FROM generate_series(1, 10) c;
SELECT count(crm.award_order_points(o.client_id, o.order_id, 'club'))
  FROM crm.orders o WHERE o.ordered_at > '2025-06-01';
SELECT count(crm.update_tier(a.client_id, 'club')) FROM crm.loyalty_accounts a;

-- discounts: a per-category level, an order threshold, a once-per-client voucher,
-- cashback and paying with points; carts recorded as orders for 40 clients
INSERT INTO crm.discount_rules (code, name, rank, action, value, price_list_id, category_id)
VALUES ('juice-10', '10 % on juice', 10, 'percent', 10, 1, 8);
INSERT INTO crm.discount_rules (code, name, rank, level, action, value, min_order_amount, cap)
VALUES ('over-50', '5 % off orders from 50.00, at most 10.00', 20, 'order', 'percent', 5, 50, 10);
INSERT INTO crm.discount_rules (code, name, rank, level, action, value, uses_per_client)
VALUES ('welcome-5', '5.00 off, once', 30, 'order', 'fixed', 5, 1);
INSERT INTO crm.discount_rules (code, name, action, value) VALUES ('back-2', '2 % back in points', 'cashback', 2);
INSERT INTO crm.discount_rules (code, name, action, value) VALUES ('half', 'up to half in points', 'points_share', 50);
SELECT count(crm.record_priced_cart(
		crm.price_cart(c, jsonb_build_object(
			'program', 'club', 'points_paid', CASE WHEN c % 5 = 0 THEN 50 ELSE 0 END,
			'lines', jsonb_build_array(
				jsonb_build_object('product_id', 1 + c % 5, 'quantity', 1 + c % 4, 'price_list_id', 1),
				jsonb_build_object('product_id', 20 + c % 30, 'quantity', 2, 'price_list_id', 1 + c % 2))),
			'2024-12-20 12:00+00'::timestamptz + c * interval '1 minute'),
		'web', CASE WHEN c % 3 = 0 THEN 'paid' ELSE 'placed' END, 'cart-' || c))
  FROM generate_series(1, 40) c;

-- segments stored and their transitions logged
SELECT * FROM crm.refresh_segments('2024-12-01');
SELECT * FROM crm.refresh_segments('2025-01-01');
SQL
# the moment every points balance is read at: after every entry
balance_at="'$(psql -d "$db" -At -c "SELECT clock_timestamp()")'"

# fingerprint DB: rows of every table of schema crm, position of every sequence
fingerprint() {
	psql -d "$1" -At <<'SQL'
CREATE FUNCTION pg_temp.rows_digest(rel regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	d			text;
BEGIN
	EXECUTE format('SELECT count(*) || '' '' || coalesce(md5(string_agg(t::text, E''\n'' ORDER BY t::text)), ''-'') FROM %s t', rel)
	   INTO d;
	RETURN d;
END $$;
CREATE FUNCTION pg_temp.sequence_position(rel regclass) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	d			text;
BEGIN
	EXECUTE format('SELECT last_value || '' called='' || is_called FROM %s', rel) INTO d;
	RETURN d;
END $$;
SELECT 'table ' || c.oid::regclass::text || ' ' || pg_temp.rows_digest(c.oid)
  FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY 1;
SELECT 'sequence ' || c.oid::regclass::text || ' ' || pg_temp.sequence_position(c.oid)
  FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'S'
 ORDER BY 1;
SQL
}

# analytics DB: the answers, as text
analytics() {
	psql -d "$1" -At -v as_of="$as_of" -v priced_at="$priced_at" -v balance_at="$balance_at" <<'SQL'
SET statement_timeout = '30s';
SET TimeZone = 'UTC';
SET extra_float_digits = 1;
SELECT 'rfm ' || r::text FROM crm.rfm_scores(:as_of) r ORDER BY r.client_id;
SELECT 'churn ' || c::text FROM crm.churn_signals(:as_of) c ORDER BY c.client_id;
SELECT 'bgnbd ' || crm.bgnbd_fit(s.frequency, s.recency, s.t)::text FROM crm.clv_summary(:as_of, 'week') s;
SELECT 'gamma-gamma ' || crm.gamma_gamma_fit(s.frequency, s.monetary)::text
  FROM crm.clv_summary(:as_of, 'week') s;
SELECT 'clv ' || c::text FROM crm.clv_report(:as_of, 52, 'week', discount_rate => 0.002) c ORDER BY c.client_id;
SELECT 'abc ' || a::text FROM crm.abc_analysis(:as_of) a ORDER BY a.client_id;
SELECT 'repeat ' || r::text FROM crm.repeat_curve(:as_of) r ORDER BY r.order_number;
SELECT 'balance ' || a.client_id || ' ' || crm.points_balance(a.client_id, 'club', :balance_at)
  FROM crm.loyalty_accounts a ORDER BY a.client_id;
SELECT 'statement ' || s::text FROM crm.points_statement(30, 'club') s ORDER BY s.entry_id;
SELECT 'cart ' || c || ' ' || crm.price_cart(c, jsonb_build_object(
		'program', 'club', 'points_paid', 20,
		'lines', jsonb_build_array(
			jsonb_build_object('product_id', 1 + c, 'quantity', 3, 'price_list_id', 1),
			jsonb_build_object('product_id', 40 + c, 'quantity', 1, 'price_list_id', 2))),
		:priced_at)::text
  FROM generate_series(1, 45, 4) c;
SELECT 'verify_ledger ' || v::text FROM crm.verify_ledger() v;
SQL
}

fingerprint "$db" >"$work/rows-before"
analytics "$db" >"$work/analytics-before"

# the test is only as good as what it covers: these tables must have rows
for t in clients consents orders order_lines interactions incidents demo_clients \
	loyalty_programs loyalty_tiers loyalty_accounts loyalty_ledger loyalty_lots \
	loyalty_allocations loyalty_reversals loyalty_tier_changes discount_rules \
	order_discounts discount_usage client_segments segment_transitions segment_refreshes; do
	grep -qE "^table crm\.$t [1-9][0-9]* " "$work/rows-before" || fail "no rows in crm.$t before the dump"
done
for kind in earn welcome redeem expire reversal adjust; do
	n=$(psql -d "$db" -At -c "SELECT count(*) FROM crm.loyalty_ledger WHERE kind = '$kind'")
	[ "$n" -gt 0 ] || fail "no '$kind' entry in the ledger before the dump"
done
for what in rfm churn bgnbd gamma-gamma clv abc repeat balance statement cart; do
	grep -q "^$what " "$work/analytics-before" || fail "no '$what' result before the dump"
done
grep -q '^bgnbd (.*,t)$' "$work/analytics-before" || fail "the BG/NBD fit did not converge"
! grep -q '^verify_ledger ' "$work/analytics-before" || fail "crm.verify_ledger() is not clean before the dump"
echo "before: $(grep -c '^table ' "$work/rows-before") tables, $(grep -c '^sequence ' "$work/rows-before") sequences, $(wc -l <"$work/analytics-before") analytics lines"

pg_dump -Fc -f "$work/dump" "$db"
psql -d postgres -c "CREATE DATABASE ${db}_restored"
pg_restore --exit-on-error -d "${db}_restored" "$work/dump" || fail "pg_restore failed"

fingerprint "${db}_restored" >"$work/rows-after"
analytics "${db}_restored" >"$work/analytics-after"
status=0
if diff -u --label before --label restored "$work/rows-before" "$work/rows-after"; then
	echo "rows: the same in all $(grep -c '^table ' "$work/rows-after") tables, sequences at the same positions"
else
	echo "FAIL: rows or sequence positions differ after restore (- before, + restored)" >&2
	status=1
fi
if diff -u --label before --label restored "$work/analytics-before" "$work/analytics-after"; then
	echo "analytics: the same $(wc -l <"$work/analytics-after") lines"
else
	echo "FAIL: the analytics differ after restore (- before, + restored)" >&2
	status=1
fi
v=$(psql -d "${db}_restored" -At -c "SELECT count(*) FROM crm.verify_ledger()")
[ "$v" = 0 ] || { echo "FAIL: crm.verify_ledger() reports $v problems in the restored database" >&2; status=1; }
[ "$status" = 0 ] && echo "verify_ledger: clean in the restored database"
exit $status
