/*-------------------------------------------------------------------------
 *
 * src/currency.c
 *
 * crm.one_currency(text), the aggregate with which the analytics make sure
 * that the amounts they add or compare are in one currency: it gives that
 * currency, or raises an error naming two of those found.  crm converts
 * no currencies (docs/currency.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif
#include "utils/builtins.h"
#include "utils/elog.h"

PG_FUNCTION_INFO_V1(one_currency_trans);

/*
 * Transition and combine function (strict: the first currency becomes the
 * state as it is): the state while the next value is the same currency,
 * otherwise the error.  The two currencies are named in sorted order, so
 * that the message does not depend on the order of the rows.  The error
 * comes without the context of the statement that met it (a query of an
 * analytic function that the caller did not write).
 */
Datum
one_currency_trans(PG_FUNCTION_ARGS)
{
	text	   *state = PG_GETARG_TEXT_PP(0);
	text	   *value = PG_GETARG_TEXT_PP(1);
	int			slen = VARSIZE_ANY_EXHDR(state);
	int			vlen = VARSIZE_ANY_EXHDR(value);
	char	   *a;
	char	   *b;
	int			cmp;

	if (slen == vlen && memcmp(VARDATA_ANY(state), VARDATA_ANY(value), slen) == 0)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	a = text_to_cstring(state);
	b = text_to_cstring(value);
	cmp = strcmp(a, b);
	error_context_stack = NULL;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot add amounts in different currencies: %s and %s",
					cmp < 0 ? a : b, cmp < 0 ? b : a),
			 errdetail("The purchases read are in more than one currency, and crm converts none."),
			 errhint("Record the amounts of crm.orders in one currency (convert them when they are written), or keep each currency's business in a database of its own.")));
	PG_RETURN_NULL();			/* not reached */
}
