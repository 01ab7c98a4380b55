# scripts/citus-cluster.sh: a throwaway Citus cluster, sourced by
# test/citus/run and bench/citus_bench.sh (bash, set -eu).
#
#   citus_cluster_up WORK [WORKERS]  builds Citus once per machine
#       (scripts/citus; returns 3 when its source is absent), copies the
#       server of $PG_CONFIG into WORK/server, lays Citus and crm over the
#       copy (make install DESTDIR=...: nothing is installed into the
#       server itself), and starts a coordinator and WORKERS workers
#       (default 2), each listening on 127.0.0.1 on a random port with
#       shared_preload_libraries = citus.  Sets bin, user, port[NODE] and
#       citus_nodes (coordinator worker1 ...).
#   citus_cluster_down  stops every node and removes WORK.
#   citus_psql NODE ARGS...  psql on a node (ON_ERROR_STOP, no psqlrc).
#   citus_database NAME  creates database NAME on every node with the
#       citus extension, and joins the workers to the coordinator there.
#   citus_join NAME  the same for a database the coordinator already has.
#
# As root the servers run as postgres.  Extra server settings:
# CRM_CITUS_SETTINGS (words of -c name=value).

citus_cluster_up() {
	local work=$1 workers=${2:-2} rc=0 i
	citus_nodes=()
	citus_work=
	PG_CONFIG=${PG_CONFIG:-pg_config}
	citus_dir=$(PG_CONFIG="$PG_CONFIG" scripts/citus) || rc=$?
	[ "$rc" = 0 ] || return "$rc"
	citus_work=$work
	mkdir -p "$work" || return 1
	chmod 755 "$work"
	citus_run=()
	user=$(id -un)
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$work"
		citus_run=(runuser -u postgres --)
		user=postgres
	fi
	declare -gA port
	local server=$work/server
	. scripts/cluster.sh
	crm_server_copy "$server" >/dev/null || return 1
	cp -a "$citus_dir"/. "$server"/ || return 1
	rm -f "$server/.complete"
	make -s PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
	make -s PG_CONFIG="$PG_CONFIG" DESTDIR="$server" install >/dev/null || return 1
	bin=$server$("$PG_CONFIG" --bindir)
	chmod -R a+rX "$server"
	citus_start_node coordinator || return 1
	for i in $(seq 1 "$workers"); do
		citus_start_node "worker$i" || return 1
	done
}

citus_start_node() {
	local n=$1 p attempt
	"${citus_run[@]}" "$bin/initdb" -D "$citus_work/$n" -U "$user" -A trust --no-sync -E UTF8 \
		--locale=C >"$citus_work/$n.initdb.log" 2>&1 || { cat "$citus_work/$n.initdb.log"; return 1; }
	citus_nodes+=("$n")
	for attempt in 1 2 3 4 5; do
		p=$(( 20000 + RANDOM % 20000 ))
		# shellcheck disable=SC2086
		if "${citus_run[@]}" "$bin/pg_ctl" -D "$citus_work/$n" -w -l "$citus_work/$n.log" \
			-o "-k $citus_work -c listen_addresses=127.0.0.1 -p $p -c shared_preload_libraries=citus -c fsync=off -c max_connections=200 -c max_worker_processes=32 -c citus.node_conninfo=sslmode=disable ${CRM_CITUS_SETTINGS:-}" \
			start >/dev/null 2>&1; then
			port[$n]=$p
			return 0
		fi
	done
	cat "$citus_work/$n.log"
	return 1
}

citus_cluster_down() {
	local n
	[ -n "${citus_work:-}" ] || return 0
	for n in "${citus_nodes[@]}"; do
		"${citus_run[@]}" "$bin/pg_ctl" -D "$citus_work/$n" -m immediate stop >/dev/null 2>&1 || true
	done
	rm -rf "$citus_work"
}

citus_psql() {
	local n=$1
	shift
	"$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${port[$n]}" -U "$user" "$@"
}

citus_database() {
	citus_psql coordinator -d postgres -c "CREATE DATABASE $1"
	citus_join "$1"
}

# citus_join NAME: Citus for database NAME of the coordinator (which may
# already hold data): the database with citus on every worker, the citus
# extension in NAME, the workers joined to the coordinator.
citus_join() {
	local db=$1 n
	for n in "${citus_nodes[@]}"; do
		[ "$n" = coordinator ] && continue
		citus_psql "$n" -d postgres -c "CREATE DATABASE $db"
		citus_psql "$n" -d "$db" -c 'CREATE EXTENSION citus'
	done
	citus_psql coordinator -d "$db" -c 'CREATE EXTENSION citus'
	citus_psql coordinator -d "$db" -c "SELECT citus_set_coordinator_host('127.0.0.1', ${port[coordinator]})" >/dev/null
	for n in "${citus_nodes[@]}"; do
		[ "$n" = coordinator ] && continue
		citus_psql coordinator -d "$db" -c "SELECT citus_add_node('127.0.0.1', ${port[$n]})" >/dev/null
	done
}
