/*-------------------------------------------------------------------------
 *
 * src/demo_compat.c
 *
 * The demo generator is the extension crm_demo (demo/) since 0.3.0; crm
 * before 0.3.0 had it inside, its C functions bound to crm's module.  A
 * database still at such a version (the module updated, ALTER EXTENSION
 * crm UPDATE not yet run), and the install scripts of those versions,
 * name these symbols in crm's module: each hands its call, arguments and
 * result set as they are, to the function of the same name in crm_demo's
 * module, which the crm package installs beside crm's.  ALTER EXTENSION
 * crm UPDATE drops the SQL functions that use them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

/* calls the function NAME of crm_demo's module with this call's fcinfo */
static Datum
demo_forward(FunctionCallInfo fcinfo, const char *name)
{
	PGFunction	fn = load_external_function("$libdir/crm_demo", name, true, NULL);

	return fn(fcinfo);
}

#define DEMO_FORWARD(name) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS); \
	Datum name(PG_FUNCTION_ARGS) { return demo_forward(fcinfo, #name); }

DEMO_FORWARD(demo_client_rows)
DEMO_FORWARD(demo_truth_rows)
DEMO_FORWARD(demo_consent_rows)
DEMO_FORWARD(demo_order_rows)
DEMO_FORWARD(demo_line_rows)
DEMO_FORWARD(demo_incident_rows)
DEMO_FORWARD(demo_interaction_rows)
DEMO_FORWARD(demo_category_rows)
DEMO_FORWARD(demo_product_rows)
DEMO_FORWARD(demo_price_list_rows)
DEMO_FORWARD(demo_price_rows)
DEMO_FORWARD(demo_model)
DEMO_FORWARD(demo_archetypes)
