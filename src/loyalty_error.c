/*-------------------------------------------------------------------------
 *
 * src/loyalty_error.c
 *
 * crm.loyalty_raise(sqlstate, message, detail, hint): the errors of the
 * loyalty functions, raised without a CONTEXT.
 *
 * The loyalty functions are PL/pgSQL functions that call one another
 * (crm.earn_points's SQL twin looks the programme up with
 * crm.loyalty_program_row, locks the account with crm.loyalty_lock_account
 * ...).  A RAISE in PL/pgSQL gets one line of CONTEXT per function and
 * statement it is nested in, which tells an application nothing its
 * message and SQLSTATE do not.  Raised from here, with the error context
 * stack emptied, the error has no CONTEXT at all, wherever it is raised
 * from.  (The stack is restored by whoever catches the error: PG_TRY,
 * a PL/pgSQL exception block, or the top-level error recovery.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(loyalty_raise);

/*
 * crm.loyalty_raise(sqlstate text, message text, detail text, hint text)
 * raises an ERROR with that SQLSTATE (five digits or upper-case letters),
 * message, and detail and hint where they are not NULL.
 */
Datum
loyalty_raise(PG_FUNCTION_ARGS)
{
	char	   *state;
	char	   *message;
	char	   *detail;
	char	   *hint;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		elog(ERROR, "crm.loyalty_raise needs a SQLSTATE and a message");
	state = text_to_cstring(PG_GETARG_TEXT_PP(0));
	message = text_to_cstring(PG_GETARG_TEXT_PP(1));
	detail = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	hint = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strlen(state) != 5 || strspn(state, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 5)
		elog(ERROR, "invalid SQLSTATE \"%s\" for crm.loyalty_raise", state);

	error_context_stack = NULL;
	ereport(ERROR,
			(errcode(MAKE_SQLSTATE(state[0], state[1], state[2], state[3], state[4])),
			 errmsg_internal("%s", message),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
	PG_RETURN_VOID();			/* not reached */
}
