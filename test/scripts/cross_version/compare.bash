# test/scripts/cross_version/compare.bash: what the scripts of this
# directory share.  Sourced, not run (the name does not end in .sh, so that
# scripts/test does not take it for a test).  Gives:
#
#   cv_init                 a work directory ($cv_work, readable by the
#                           servers' user) and the exit trap that stops
#                           every cluster started here and removes it
#   cv_initdb NAME BINDIR [INITDB OPTION ...]
#                           a cluster NAME in $cv_work/NAME, made by
#                           BINDIR/initdb (UTF8, locale C, no fsync, trust)
#   cv_start NAME BINDIR    starts it on a Unix socket in $cv_work/NAME, on a
#                           free random port (${cv_port[NAME]})
#   cv_stop NAME            stops it (fast shutdown)
#   cv_psql NAME DB ...     its own psql, with ON_ERROR_STOP, on that cluster
#   cv_load_data NAME DB    CREATE EXTENSION crm; demo data; loyalty activity;
#                           discount rules and recorded carts; segments
#   cv_snapshot NAME DB OUT every row of every table of schema crm (count and
#                           digest per table), every sequence's position and
#                           the analytics' answers, as text, and the path
#                           (C or SQL) crm's fast-path functions took for
#                           them, into OUT.rows and OUT.analytics
#   cv_check_coverage OUT   the snapshot covers what it should (tables with
#                           rows, ledger kinds, analytics, a clean ledger)
#   cv_compare LABEL_A A LABEL_B B
#                           diffs two snapshots; prints what was compared,
#                           or the differences (and the differing rows of
#                           the first tables that differ) and returns 1
#
# Runs as root (the servers then run as postgres) or as the user who owns
# the clusters.

cv_fail() { echo "FAIL: $*" >&2; exit 1; }

cv_init() {
	declare -gA cv_bindir=() cv_port=()
	cv_run=()
	cv_user=$(id -un)
	if [ "$(id -u)" = 0 ]; then
		cv_run=(runuser -u postgres --)
		cv_user=postgres
	fi
	cv_work=$(mktemp -d /tmp/crm-cross.XXXXXX)
	chmod 755 "$cv_work"
	[ "$(id -u)" != 0 ] || chown postgres: "$cv_work"
	trap cv_cleanup EXIT
	unset PGOPTIONS PGSERVICE PGPASSWORD PGHOST PGPORT PGDATABASE PGUSER PGHOSTADDR
	# the moments the analytics are computed at (the demo data end there),
	# and carts are priced at
	cv_as_of="'2025-01-01 00:00:00+00'"
	cv_priced_at="'2024-12-28 12:00:00+00'"
}

cv_cleanup() {
	local name
	for name in "${!cv_bindir[@]}"; do
		"${cv_run[@]}" "${cv_bindir[$name]}/pg_ctl" -D "$cv_work/$name/data" -m immediate \
			stop >/dev/null 2>&1 || true
	done
	if [ "${CRM_CROSS_KEEP:-0}" = 1 ]; then
		echo "kept $cv_work (CRM_CROSS_KEEP=1)" >&2
	else
		rm -rf "$cv_work"
	fi
}

cv_initdb() {
	local name=$1 bindir=$2
	shift 2
	"${cv_run[@]}" mkdir -p "$cv_work/$name"
	cv_bindir[$name]=$bindir
	"${cv_run[@]}" "$bindir/initdb" -D "$cv_work/$name/data" -U "$cv_user" -A trust \
		--no-sync -E UTF8 --locale=C "$@" >"$cv_work/$name.initdb.log" 2>&1 \
		|| { cat "$cv_work/$name.initdb.log"; cv_fail "initdb of cluster $name ($bindir) failed"; }
}

cv_start() {
	local name=$1 bindir=$2 _ port
	cv_bindir[$name]=$bindir
	for _ in 1 2 3 4 5; do
		port=$(( 20000 + RANDOM % 20000 ))
		if "${cv_run[@]}" "$bindir/pg_ctl" -D "$cv_work/$name/data" -w \
			-l "$cv_work/$name/server.log" \
			-o "-k $cv_work/$name -c listen_addresses='' -c fsync=off -p $port" \
			start >/dev/null 2>&1; then
			cv_port[$name]=$port
			return 0
		fi
	done
	cat "$cv_work/$name/server.log" >&2 || true
	cv_fail "could not start cluster $name ($bindir)"
}

cv_stop() {
	local name=$1
	"${cv_run[@]}" "${cv_bindir[$name]}/pg_ctl" -D "$cv_work/$name/data" -m fast -w stop >/dev/null \
		|| cv_fail "could not stop cluster $name"
}

# the client programs of BINDIR against cluster NAME: cv_client NAME PROGRAM ARG...
cv_client() {
	local name=$1 program=$2
	shift 2
	"${cv_bindir[$name]}/$program" -h "$cv_work/$name" -p "${cv_port[$name]}" -U "$cv_user" "$@"
}

cv_psql() {
	local name=$1 db=$2
	shift 2
	cv_client "$name" psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
}

cv_load_data() {
	local name=$1 db=$2
	cv_psql "$name" "$db" -At >"$cv_work/load.out" <<'SQL' || cv_fail "loading the data into $db ($name) failed"
CREATE EXTENSION crm;
SELECT count(*) FROM crm.generate_demo_data(1000, 2, '2025-01-01');

-- loyalty: a programme with two tiers
INSERT INTO crm.loyalty_programs (code, name, cashback_percent, point_value, points_lifetime,
								  bonus_lifetime, welcome_points, birthday_points, max_redeem_share,
								  tier_window, tier_hold)
VALUES ('club', 'Club', 5, 0.01, '365 days', '30 days', 200, 300, 0.5, '365 days', '90 days');
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold, earn_multiplier, benefits)
VALUES (1, 'member', 'Member', 0, 1, '{}'), (1, 'silver', 'Silver', 500, 1.5, '{"discount_percent": 5}');
-- welcome points for every client (opens the accounts), the cashback of
-- the paid orders of every third, birthday points of the last week
SELECT count(crm.award_welcome_bonus(c.client_id, 'club')) FROM crm.clients c;
SELECT count(crm.award_order_points(o.client_id, o.order_id, 'club'))
  FROM crm.orders o WHERE o.status = 'paid' AND o.client_id % 3 = 0;
SELECT sum(crm.award_birthday_bonuses('club', d::date))
  FROM generate_series(current_date - 6, current_date, interval '1 day') d;
-- plain earnings, some living one second, and the expiry job a day later
SELECT count(crm.earn_points(c.client_id, 'club', 15 + c.client_id % 50, 'earn-' || c.client_id))
  FROM crm.clients c WHERE c.client_id % 5 = 1;
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

-- discounts: a per-category level, an order threshold, a once-per-client
-- voucher, cashback and paying with points; carts recorded as orders
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
  FROM generate_series(1, 80) c;

-- segments stored and their transitions logged
SELECT * FROM crm.refresh_segments('2024-12-01');
SELECT * FROM crm.refresh_segments('2025-01-01');
SELECT 'fastpath ' || s::text FROM crm.fast_path_stats() s ORDER BY 1;
SQL
	echo "fast path of the load ($name): $(sed -n 's/^fastpath //p' "$cv_work/load.out" | tr '\n' ' ')"
	# the moment every points balance is read at: after every entry
	cv_balance_at="'$(cv_psql "$name" "$db" -At -c "SELECT clock_timestamp()")'"
}

# cv_snapshot NAME DB OUT: OUT.rows and OUT.analytics, one fact a line
cv_snapshot() {
	local name=$1 db=$2 out=$3
	cv_psql "$name" "$db" -At >"$out.rows" <<'SQL' || cv_fail "reading the rows of $db ($name) failed"
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 3;
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
SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension WHERE extname = 'crm';
SELECT 'table ' || c.oid::regclass::text || ' ' || pg_temp.rows_digest(c.oid)
  FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
 ORDER BY 1;
SELECT 'sequence ' || c.oid::regclass::text || ' ' || pg_temp.sequence_position(c.oid)
  FROM pg_class c WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind = 'S'
 ORDER BY 1;
SQL
	cv_psql "$name" "$db" -At -v as_of="$cv_as_of" -v priced_at="$cv_priced_at" \
		-v balance_at="$cv_balance_at" >"$out.analytics" <<'SQL' || cv_fail "the analytics failed in $db ($name)"
SET statement_timeout = '60s';
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 3;
SELECT 'rfm ' || r::text FROM crm.rfm_scores(:as_of) r ORDER BY r.client_id;
SELECT 'rfm-sql ' || r::text FROM crm.rfm_scores_sql(:as_of) r ORDER BY r.client_id;
SELECT 'rfm-mean ' || r::text FROM crm.rfm_scores(:as_of, 'rfm11', 'mean') r ORDER BY r.client_id;
SELECT 'churn ' || c::text FROM crm.churn_signals(:as_of) c ORDER BY c.client_id;
SELECT 'churn-sql ' || c::text FROM crm.churn_signals_sql(:as_of) c ORDER BY c.client_id;
SELECT 'profile ' || p::text FROM crm.client_profiles(:as_of) p ORDER BY p.client_id;
SELECT 'bgnbd ' || crm.bgnbd_fit(s.frequency, s.recency, s.t)::text FROM crm.clv_summary(:as_of, 'week') s;
SELECT 'gamma-gamma ' || crm.gamma_gamma_fit(s.frequency, s.monetary)::text
  FROM crm.clv_summary(:as_of, 'week') s;
SELECT 'clv ' || c::text FROM crm.clv_report(:as_of, 52, 'week', discount_rate => 0.002) c ORDER BY c.client_id;
SELECT 'abc ' || a::text FROM crm.abc_analysis(:as_of) a ORDER BY a.client_id;
SELECT 'repeat ' || r::text FROM crm.repeat_curve(:as_of) r ORDER BY r.order_number;
SELECT 'cohort ' || c::text FROM crm.cohort_retention(:as_of) c ORDER BY c.cohort, c.period_number;
SELECT 'segment-revenue ' || s::text FROM crm.segment_category_revenue(:as_of) s
 ORDER BY s.segment, s.category_id;
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
-- which path (C or SQL) crm's fast-path functions took for the calls above
SELECT 'fastpath ' || s::text FROM crm.fast_path_stats() s ORDER BY 1;
SQL
}

# cv_check_coverage OUT: the comparison is only as good as what it covers
cv_check_coverage() {
	local out=$1 t what
	for t in clients consents orders order_lines interactions incidents demo_clients \
		loyalty_programs loyalty_tiers loyalty_accounts loyalty_ledger loyalty_lots \
		loyalty_allocations loyalty_reversals loyalty_tier_changes discount_rules \
		order_discounts discount_usage client_segments segment_transitions segment_refreshes; do
		grep -qE "^table crm\.$t [1-9][0-9]* " "$out.rows" || cv_fail "no rows in crm.$t in the source"
	done
	for what in rfm rfm-sql rfm-mean churn churn-sql profile bgnbd gamma-gamma clv abc repeat \
		cohort segment-revenue balance statement cart fastpath; do
		grep -q "^$what " "$out.analytics" || cv_fail "no '$what' result in the source"
	done
	grep -q '^bgnbd (.*,t)$' "$out.analytics" || cv_fail "the BG/NBD fit did not converge in the source"
	! grep -q '^verify_ledger ' "$out.analytics" || cv_fail "crm.verify_ledger() is not clean in the source"
}

# cv_ledger_kinds NAME DB: every kind of ledger entry is there
cv_check_ledger_kinds() {
	local name=$1 db=$2 kind n
	for kind in earn welcome birthday redeem expire reversal adjust; do
		n=$(cv_psql "$name" "$db" -At -c "SELECT count(*) FROM crm.loyalty_ledger WHERE kind = '$kind'")
		[ "$n" -gt 0 ] || cv_fail "no '$kind' entry in the ledger of the source"
	done
}

# the rows of one table, as text, sorted: cv_table_rows NAME DB TABLE
cv_table_rows() {
	cv_psql "$1" "$2" -At -c "SET TimeZone = 'UTC'" -c "SET DateStyle = 'ISO, YMD'" \
		-c "SET extra_float_digits = 3" -c "SELECT t::text FROM $3 t ORDER BY 1"
}

# cv_compare LABEL_A NAME_A DB_A OUT_A LABEL_B NAME_B DB_B OUT_B
cv_compare() {
	local la=$1 na=$2 da=$3 a=$4 lb=$5 nb=$6 db=$7 b=$8 status=0 t shown=0 what
	if diff -u --label "$la" --label "$lb" "$a.rows" "$b.rows"; then
		echo "rows: the same in all $(grep -c '^table ' "$b.rows") tables of schema crm" \
			"($(awk '/^table /{n += $3} END {print n}' "$b.rows") rows);" \
			"$(grep -c '^sequence ' "$b.rows") sequences at the same position"
	else
		echo "FAIL: rows or sequence positions differ (- $la, + $lb)" >&2
		status=1
		# the differing rows of the first three tables that differ
		for t in $(diff "$a.rows" "$b.rows" | sed -n 's/^[<>] table \([^ ]*\) .*/\1/p' | sort -u); do
			[ "$shown" -lt 3 ] || break
			shown=$((shown + 1))
			echo "rows of $t that differ (- $la, + $lb), at most 20 lines:" >&2
			diff <(cv_table_rows "$na" "$da" "$t" 2>&1) <(cv_table_rows "$nb" "$db" "$t" 2>&1) \
				| grep '^[<>]' | sed 's/^</-/; s/^>/+/' | head -n 20 >&2 || true
		done
	fi
	if diff -U 1 --label "$la" --label "$lb" "$a.analytics" "$b.analytics" >"$cv_work/analytics.diff"; then
		echo -n "analytics: the same $(wc -l <"$b.analytics") lines:"
		for what in rfm rfm-sql rfm-mean churn churn-sql profile bgnbd gamma-gamma clv abc repeat \
			cohort segment-revenue balance statement cart fastpath verify_ledger; do
			echo -n " $what $(grep -c "^$what " "$b.analytics")"
		done
		echo
	else
		echo "FAIL: the analytics differ (- $la, + $lb), first 60 lines of the diff:" >&2
		head -n 60 "$cv_work/analytics.diff" >&2
		echo "diff lines (- and +) by kind: $(sed -n '3,$p' "$cv_work/analytics.diff" | grep '^[-+]' \
			| sed -E 's/^[-+]([a-z_-]+) .*/\1/' | sort | uniq -c \
			| awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }')" >&2
		status=1
	fi
	if grep -q '^verify_ledger ' "$b.analytics"; then
		echo "FAIL: crm.verify_ledger() reports problems in $lb" >&2
		status=1
	else
		echo "verify_ledger: clean in $lb"
	fi
	return $status
}
