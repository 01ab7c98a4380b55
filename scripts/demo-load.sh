# scripts/demo-load.sh: the load step of scripts/demo, shared with the test
# of the README's tour (test/scripts/readme_tour.sh).  Source it, then:
#
#   crm_demo_load CLIENTS SEED AS_OF
#
# runs crm.generate_demo_data(CLIENTS, SEED, AS_OF) in the database of the
# environment (PGDATABASE, which has crm and crm_demo) and prints how long
# it took and the row count of each table it returned.

crm_demo_load() {
	local clients=$1 seed=$2 as_of=$3 start end rows
	start=$(date +%s.%N)
	rows=$(psql -X -q -v ON_ERROR_STOP=1 -P footer=off -P pager=off \
		-c "SELECT table_name, row_count FROM crm.generate_demo_data($clients, $seed, '$as_of')")
	end=$(date +%s.%N)
	awk -v n="$clients" -v s="$seed" -v a="$as_of" -v t0="$start" -v t1="$end" \
		'BEGIN { printf "loaded %s demo clients (seed %s, as of %s) in %.1f s\n\n", n, s, a, t1 - t0 }'
	printf '%s\n\n' "$rows"
}
