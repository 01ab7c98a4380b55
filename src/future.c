/*-------------------------------------------------------------------------
 *
 * src/future.c
 *
 * How far in the future crm lets a time lie: the setting
 * crm.future_tolerance, the function crm.future_tolerance() that reads it,
 * and the trigger function crm.refuse_future_row() that refuses orders
 * and interactions dated beyond now plus that tolerance.
 *
 * The jobs that write for a date (crm.expire_points, crm.refresh_segments,
 * crm.update_tier ...) compare their as_of with the same limit in SQL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "future.h"

/* crm.future_tolerance, in seconds; -1: no limit */
static int	future_tolerance = 3600;

void
future_define_settings(void)
{
	DefineCustomIntVariable("crm.future_tolerance",
							"How far past now a time written to crm may lie (-1: no limit).",
							"Orders and interactions (but scheduled ones) dated later are refused, "
							"and so are the jobs that write for a later date unless told so.",
							&future_tolerance, 3600, -1, INT_MAX,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
}

/* now (the clock, not the transaction's start) plus the tolerance */
static TimestampTz
future_limit(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		add = (int64) future_tolerance * USECS_PER_SEC;

	if (future_tolerance < 0 || now > PG_INT64_MAX - add)
		return DT_NOEND;
	return now + add;
}

static Interval *
tolerance_interval(void)
{
	Interval   *result = (Interval *) palloc0(sizeof(Interval));

	result->time = (int64) future_tolerance * USECS_PER_SEC;
	return result;
}

PG_FUNCTION_INFO_V1(crm_future_tolerance);

/* crm.future_tolerance(): the setting, as an interval; NULL for no limit */
Datum
crm_future_tolerance(PG_FUNCTION_ARGS)
{
	if (future_tolerance < 0)
		PG_RETURN_NULL();
	PG_RETURN_INTERVAL_P(tolerance_interval());
}

PG_FUNCTION_INFO_V1(crm_refuse_future_row);

/*
 * crm.refuse_future_row(): BEFORE INSERT OR UPDATE row trigger.
 * Arguments: the table's name for the message, the timestamptz column,
 * and optionally a text column and a value of it that exempts the row
 * (interactions: outcome 'scheduled').  Raises 22023 when the column lies
 * beyond now plus crm.future_tolerance.
 */
Datum
crm_refuse_future_row(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	char	  **args;
	int			attnum;
	bool		isnull;
	TimestampTz value;
	TimestampTz limit;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm.refuse_future_row() must be called as a trigger")));
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm.refuse_future_row() must be fired before insert or update, for each row")));
	if (trigdata->tg_trigger->tgnargs != 2 && trigdata->tg_trigger->tgnargs != 4)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm.refuse_future_row() takes a table name, a column and optionally a column and the value that exempts a row")));

	args = trigdata->tg_trigger->tgargs;
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;

	attnum = SPI_fnumber(tupdesc, args[1]);
	if (attnum <= 0 || TupleDescAttr(tupdesc, attnum - 1)->atttypid != TIMESTAMPTZOID)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("crm.refuse_future_row(): \"%s\" is not a timestamptz column of %s",
						args[1], args[0])));
	value = DatumGetTimestampTz(heap_getattr(tuple, attnum, tupdesc, &isnull));
	if (isnull || future_tolerance < 0)
		return PointerGetDatum(tuple);

	/* cheap test first: the statement started before the clock's now */
	if (value <= GetCurrentStatementStartTimestamp() + (int64) future_tolerance * USECS_PER_SEC)
		return PointerGetDatum(tuple);
	limit = future_limit();
	if (value <= limit)
		return PointerGetDatum(tuple);

	if (trigdata->tg_trigger->tgnargs == 4)
	{
		int			exempt = SPI_fnumber(tupdesc, args[2]);
		char	   *v;

		if (exempt <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("crm.refuse_future_row(): \"%s\" is not a column of %s",
							args[2], args[0])));
		v = SPI_getvalue(tuple, tupdesc, exempt);
		if (v != NULL && strcmp(v, args[3]) == 0)
			return PointerGetDatum(tuple);
	}

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s %s of %s is in the future",
					args[1], timestamptz_to_str(value), args[0]),
			 errdetail("The latest time accepted is now plus crm.future_tolerance (%s): %s.",
					   GetConfigOptionByName("crm.future_tolerance", NULL, false),
					   timestamptz_to_str(limit)),
			 trigdata->tg_trigger->tgnargs == 4 ?
			 errhint("Only an interaction with outcome '%s' may lie further ahead; to record a later time on purpose, raise crm.future_tolerance for the transaction (SET LOCAL).",
					 args[3]) :
			 errhint("To record a later time on purpose, raise crm.future_tolerance for the transaction (SET LOCAL).")));
	PG_RETURN_NULL();			/* not reached */
}
