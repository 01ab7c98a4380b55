/*-------------------------------------------------------------------------
 *
 * src/owner.c
 *
 * crm.owns_client(client_id): whether the current role owns the client
 * (crm.clients.owner = CURRENT_USER), for the manager row-security
 * policies of a database whose tables Citus distributes
 * (crm.distribute()).
 *
 * On one node the policies read the owned clients in a subquery, once per
 * statement, as an index condition.  Citus refuses a subquery in a policy
 * of a distributed table, and runs the policy's expression on the workers,
 * inside the queries on the shards, where a query on crm.clients would be
 * a distributed query nested in another (which Citus refuses too).  So
 * this function reads the owned clients itself, once per expression per
 * query (the set is kept in fn_extra, which lives as long as the query's
 * expression), and answers each row from that set:
 *
 *   - where crm.clients is an ordinary table (one node), or Citus manages
 *     it and this backend is not running a task for another node (the
 *     coordinator, or a placement of a reference table it reads
 *     locally): SELECT client_id FROM crm.clients WHERE owner =
 *     CURRENT_USER;
 *   - in a Citus task (the query on a shard, sent by the coordinator):
 *     the same query on this node's shards of crm.clients, read directly.
 *     The shards of the client-keyed tables are co-located with those of
 *     crm.clients, so the client of every row a task reads has its row in
 *     one of them.
 *
 * The query runs as the caller, under the policy of crm.clients (owner =
 * CURRENT_USER), so the function tells nobody more than they may see.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "fastpath.h"

PG_FUNCTION_INFO_V1(crm_owns_client);

typedef struct OwnedClients
{
	Oid			user;			/* the role the set was read for */
	int			n;
	int64	   *ids;			/* sorted */
} OwnedClients;

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* the query that lists the owned clients where this backend runs */
static char *
owned_query(void)
{
	Oid			nsp = get_namespace_oid("crm", false);
	Oid			clients = get_relname_relid("clients", nsp);
	char	   *sql;
	bool		isnull;
	Datum		d;

	if (!OidIsValid(clients))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"crm.clients\" does not exist")));
	if (!fastpath_citus_table(clients) || !fastpath_in_citus_task())
		return pstrdup("SELECT client_id FROM crm.clients WHERE owner = CURRENT_USER");

	/* this node's shards of crm.clients, each read directly */
	if (SPI_execute("SELECT pg_catalog.string_agg(pg_catalog.format("
					"'SELECT client_id FROM %s WHERE owner = CURRENT_USER', s.r), ' UNION ALL ')"
					"  FROM (SELECT pg_catalog.to_regclass(pg_catalog.format('crm.%I',"
					"                 'clients_' || d.shardid)) AS r"
					"          FROM pg_catalog.pg_dist_shard d"
					"          JOIN pg_catalog.pg_dist_placement p ON p.shardid = d.shardid"
					"         WHERE d.logicalrelid = 'crm.clients'::pg_catalog.regclass"
					"           AND p.groupid = (SELECT groupid FROM pg_catalog.pg_dist_local_group)) s"
					" WHERE s.r IS NOT NULL", true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "crm.owns_client: could not list the shards of crm.clients");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;			/* no shard of crm.clients here */
	sql = TextDatumGetCString(d);
	return sql;
}

static OwnedClients *
owned_clients(MemoryContext mcxt)
{
	OwnedClients *set = MemoryContextAllocZero(mcxt, sizeof(OwnedClients));
	char	   *sql;

	set->user = GetUserId();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "crm.owns_client: SPI_connect failed");
	sql = owned_query();
	if (sql != NULL)
	{
		if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "crm.owns_client: could not read the owned clients");
		set->n = (int) SPI_processed;
		set->ids = MemoryContextAlloc(mcxt, sizeof(int64) * Max(set->n, 1));
		for (int i = 0; i < set->n; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

			set->ids[i] = isnull ? PG_INT64_MIN : DatumGetInt64(d);
		}
		qsort(set->ids, set->n, sizeof(int64), cmp_int64);
	}
	SPI_finish();
	return set;
}

Datum
crm_owns_client(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	OwnedClients *set = (OwnedClients *) fcinfo->flinfo->fn_extra;

	if (set == NULL || set->user != GetUserId())
	{
		set = owned_clients(fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = set;
	}
	PG_RETURN_BOOL(set->n > 0 &&
				   bsearch(&id, set->ids, set->n, sizeof(int64), cmp_int64) != NULL);
}
