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
# Also cv_check_same_crm (crm installed alike for both versions) and
# cv_fail.  Runs as root (the servers then run as postgres) or as the user
# who owns the clusters.

cv_fail() { echo "FAIL: $*" >&2; exit 1; }

# the SQL the dump tests share (test/include)
cv_include=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../include" && pwd)

# cv_check_same_crm PG_CONFIG_A PG_CONFIG_B: crm is installed for both, the
# same version from the same install script (else a difference would not be
# the versions' doing)
cv_check_same_crm() {
	local a b va vb
	a="$("$1" --sharedir)/extension"
	b="$("$2" --sharedir)/extension"
	if [ ! -f "$("$1" --pkglibdir)/crm.so" ] || [ ! -f "$a/crm.control" ]; then
		cv_fail "crm is not installed for $("$1" --version) ($1)"
	fi
	if [ ! -f "$("$2" --pkglibdir)/crm.so" ] || [ ! -f "$b/crm.control" ]; then
		cv_fail "crm is not installed for $("$2" --version) ($2)"
	fi
	va=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$a/crm.control")
	vb=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$b/crm.control")
	[ "$va" = "$vb" ] || cv_fail "crm $va is installed for $("$1" --version), crm $vb for $("$2" --version)"
	cmp -s "$a/crm--$va.sql" "$b/crm--$vb.sql" \
		|| cv_fail "crm--$va.sql differs between $a and $b: install crm from the same tree for both"
}

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
	cv_psql "$name" "$db" -At -v clients=1000 -v carts=80 >"$cv_work/load.out" \
		-c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo' -f "$cv_include/activity.sql" \
		-c "SELECT 'fastpath ' || s::text FROM crm.fast_path_stats() s ORDER BY 1" \
		|| cv_fail "loading the data into $db ($name) failed"
	echo "fast path of the load ($name): $(sed -n 's/^fastpath //p' "$cv_work/load.out" | tr '\n' ' ')"
	# the moment every points balance is read at: after every entry
	cv_balance_at="'$(cv_psql "$name" "$db" -At -c "SELECT clock_timestamp()")'"
}

# cv_snapshot NAME DB OUT: OUT.rows and OUT.analytics, one fact a line
cv_snapshot() {
	local name=$1 db=$2 out=$3
	cv_psql "$name" "$db" -At -f "$cv_include/snapshot_rows.sql" >"$out.rows" \
		|| cv_fail "reading the rows of $db ($name) failed"
	cv_psql "$name" "$db" -At -v as_of="$cv_as_of" -v priced_at="$cv_priced_at" \
		-v balance_at="$cv_balance_at" -f "$cv_include/snapshot_analytics.sql" >"$out.analytics" \
		|| cv_fail "the analytics failed in $db ($name)"
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
	# (converged is the eighth field: r, alpha, a, b, loglik, n, iterations, converged, ...)
	grep -Eq '^bgnbd \(([^,]*,){7}t[,)]' "$out.analytics" || cv_fail "the BG/NBD fit did not converge in the source"
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
