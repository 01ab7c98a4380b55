# scripts/cluster.sh: a throwaway PostgreSQL cluster, for test/run-all,
# scripts/demo and the bench/ scripts.  Source it, then:
#
#   crm_cluster_start [--keep] [NAME=VALUE ...]
#
# makes a cluster with the PostgreSQL that $PG_CONFIG (default pg_config)
# names, in a new temporary directory ($CRM_CLUSTER_DIR), listening only on
# a Unix socket there, with each NAME=VALUE as a server setting; exports
# PGHOST, PGPORT, PGUSER and PGDATABASE=postgres.  As root the server runs
# as the postgres user (initdb refuses root).  Unless --keep is given, the
# cluster is stopped and removed when the calling shell exits.  Also sets
# $bindir (the server's binaries) and the array crm_run_server (the command
# prefix that runs a server program as the cluster's owner).  With
# CRM_SERVER_ENV set to NAME=VALUE words, crm_run_server also sets those in
# the server programs' environment (test/sanitize preloads AddressSanitizer
# this way); with CRM_SERVER_SETTINGS set to NAME=VALUE words, those are
# server settings too, after the arguments (test/sanitize turns JIT off).

crm_cluster_stop() {
	"${crm_run_server[@]}" "$bindir/pg_ctl" -D "$CRM_CLUSTER_DIR/data" -m immediate stop \
		>/dev/null 2>&1 || true
	rm -rf "$CRM_CLUSTER_DIR"
}

crm_cluster_start() {
	local keep=0 opts setting attempt
	if [ "${1:-}" = --keep ]; then
		keep=1
		shift
	fi
	PG_CONFIG=${PG_CONFIG:-pg_config}
	bindir=$("$PG_CONFIG" --bindir)
	CRM_CLUSTER_DIR=$(mktemp -d /tmp/crm-cluster.XXXXXX)
	crm_run_server=()
	PGUSER=$(id -un)
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$CRM_CLUSTER_DIR"
		crm_run_server=(runuser -u postgres --)
		PGUSER=postgres
	fi
	if [ -n "${CRM_SERVER_ENV:-}" ]; then
		# shellcheck disable=SC2206 # NAME=VALUE words, split on purpose
		crm_run_server+=(env $CRM_SERVER_ENV)
	fi
	[ "$keep" = 1 ] || trap crm_cluster_stop EXIT

	"${crm_run_server[@]}" "$bindir/initdb" -D "$CRM_CLUSTER_DIR/data" -U "$PGUSER" -A trust \
		--no-sync -E UTF8 --locale=C >"$CRM_CLUSTER_DIR/initdb.log" 2>&1 \
		|| { cat "$CRM_CLUSTER_DIR/initdb.log"; return 1; }
	opts="-k $CRM_CLUSTER_DIR -c listen_addresses=''"
	# shellcheck disable=SC2086 # NAME=VALUE words, split on purpose
	for setting in "$@" ${CRM_SERVER_SETTINGS:-}; do
		opts="$opts -c $setting"
	done
	# a random port; another one if that is taken
	for attempt in 1 2 3 4 5; do
		PGPORT=$(( 20000 + RANDOM % 20000 ))
		if "${crm_run_server[@]}" "$bindir/pg_ctl" -D "$CRM_CLUSTER_DIR/data" -w \
			-l "$CRM_CLUSTER_DIR/server.log" -o "$opts -p $PGPORT" start >/dev/null 2>&1; then
			export PGHOST=$CRM_CLUSTER_DIR PGPORT PGUSER PGDATABASE=postgres
			unset PGOPTIONS PGSERVICE PGPASSWORD
			return 0
		fi
	done
	cat "$CRM_CLUSTER_DIR/server.log"
	return 1
}

# crm_server_copy DIR: copies the programs, libraries and shared files of
# the server of $PG_CONFIG into DIR, each at its own path under DIR, where
# they find each other by their relative places as PostgreSQL's programs
# do; prints the copy's pg_config.  What is then installed into the copy
# (make install DESTDIR=DIR) never touches the server itself.
crm_server_copy() {
	local dir=$1 d
	PG_CONFIG=${PG_CONFIG:-pg_config}
	for d in "$("$PG_CONFIG" --bindir)" "$("$PG_CONFIG" --pkglibdir)" "$("$PG_CONFIG" --sharedir)"; do
		mkdir -p "$dir$(dirname "$d")"
		cp -a "$d" "$dir$d"
	done
	echo "$dir$("$PG_CONFIG" --bindir)/pg_config"
}
