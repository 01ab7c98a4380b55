/*-------------------------------------------------------------------------
 *
 * src/loyalty_check.c
 *
 * crm.loyalty_entry_valid(...): the row rules of a loyalty ledger entry,
 * used as the single CHECK constraint loyalty_ledger_entry_check of
 * crm.loyalty_ledger.
 *
 * The rules were a dozen separate CHECK constraints.  PostgreSQL reads a
 * table's CHECK expressions back from their stored node trees and
 * prepares them once per statement that inserts into the table; for the
 * ledger, whose every row is written by one statement of its own, that
 * was most of the cost of the insert.  One constraint calling this
 * function costs a few node reads; the rules themselves are unchanged:
 *
 *   - kind is one of earn, redeem, expire, adjust, reversal, welcome,
 *     birthday;
 *   - earn, welcome, birthday credit (points > 0); redeem, expire debit
 *     (points < 0); adjust is not zero; a reversal may be anything;
 *   - balance_after >= 0 (no balance below zero, ever);
 *   - a credit of new points (points > 0, not a reversal) opens its own
 *     lot (lot_id = entry_id), and only such a credit has
 *     lot_id = entry_id;
 *   - expires_at only on an entry that opens a lot;
 *   - only a reversal has reverses_entry_id, unrecovered <> 0 or a
 *     refund_amount, and a reversal has exactly one of reverses_entry_id
 *     and refund_amount;
 *   - a refund amount is >= 0 and has an order; unrecovered >= 0;
 *   - the idempotency key has 1 to 200 characters;
 *   - request is a jsonb object.
 *
 * Arguments are passed NULL where the column is NULL; NOT NULL columns
 * are NOT NULL constraints of the table already and are only read here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

PG_FUNCTION_INFO_V1(loyalty_entry_valid);

/* argument positions of crm.loyalty_entry_valid */
enum
{
	LY_KIND,
	LY_POINTS,
	LY_BALANCE_AFTER,
	LY_ENTRY_ID,
	LY_LOT_ID,
	LY_EXPIRES_AT,
	LY_REVERSES,
	LY_UNRECOVERED,
	LY_REFUND,
	LY_ORDER_ID,
	LY_KEY,
	LY_REQUEST,
	LY_NARGS
};

typedef enum LoyaltyKind
{
	LYK_EARN,
	LYK_REDEEM,
	LYK_EXPIRE,
	LYK_ADJUST,
	LYK_REVERSAL,
	LYK_WELCOME,
	LYK_BIRTHDAY,
	LYK_INVALID
} LoyaltyKind;

static LoyaltyKind
loyalty_kind(text *t)
{
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	static const struct
	{
		const char *name;
		LoyaltyKind kind;
	}			kinds[] = {
		{"earn", LYK_EARN},
		{"redeem", LYK_REDEEM},
		{"expire", LYK_EXPIRE},
		{"adjust", LYK_ADJUST},
		{"reversal", LYK_REVERSAL},
		{"welcome", LYK_WELCOME},
		{"birthday", LYK_BIRTHDAY},
	};

	for (int i = 0; i < lengthof(kinds); i++)
	{
		if (strlen(kinds[i].name) == len && memcmp(kinds[i].name, s, len) == 0)
			return kinds[i].kind;
	}
	return LYK_INVALID;
}

/*
 * loyalty_entry_valid(kind text, points bigint, balance_after bigint,
 *                     entry_id bigint, lot_id bigint, expires_at timestamptz,
 *                     reverses_entry_id bigint, unrecovered bigint,
 *                     refund_amount numeric, order_id bigint,
 *                     idempotency_key text, request jsonb) RETURNS boolean
 *
 * True when the row follows every rule above.  A NULL in a column that
 * the table declares NOT NULL gives true: the NOT NULL constraint reports
 * it.
 */
Datum
loyalty_entry_valid(PG_FUNCTION_ARGS)
{
	LoyaltyKind kind;
	int64		points;
	bool		has_lot = !PG_ARGISNULL(LY_LOT_ID);
	bool		opens_lot;
	bool		has_reverses = !PG_ARGISNULL(LY_REVERSES);
	bool		has_refund = !PG_ARGISNULL(LY_REFUND);
	int64		unrecovered;

	if (PG_NARGS() != LY_NARGS)
		elog(ERROR, "crm.loyalty_entry_valid takes %d arguments, not %d",
			 LY_NARGS, PG_NARGS());
	if (PG_ARGISNULL(LY_KIND) || PG_ARGISNULL(LY_POINTS) ||
		PG_ARGISNULL(LY_BALANCE_AFTER) || PG_ARGISNULL(LY_ENTRY_ID) ||
		PG_ARGISNULL(LY_UNRECOVERED) || PG_ARGISNULL(LY_KEY) ||
		PG_ARGISNULL(LY_REQUEST))
		PG_RETURN_BOOL(true);

	kind = loyalty_kind(PG_GETARG_TEXT_PP(LY_KIND));
	points = PG_GETARG_INT64(LY_POINTS);
	unrecovered = PG_GETARG_INT64(LY_UNRECOVERED);

	/* the kind, and the sign of its points */
	switch (kind)
	{
		case LYK_EARN:
		case LYK_WELCOME:
		case LYK_BIRTHDAY:
			if (points <= 0)
				PG_RETURN_BOOL(false);
			break;
		case LYK_REDEEM:
		case LYK_EXPIRE:
			if (points >= 0)
				PG_RETURN_BOOL(false);
			break;
		case LYK_ADJUST:
			if (points == 0)
				PG_RETURN_BOOL(false);
			break;
		case LYK_REVERSAL:
			break;
		case LYK_INVALID:
			PG_RETURN_BOOL(false);
	}

	/* no balance below zero */
	if (PG_GETARG_INT64(LY_BALANCE_AFTER) < 0)
		PG_RETURN_BOOL(false);

	/* a credit of new points, and only it, is its own lot */
	opens_lot = points > 0 && kind != LYK_REVERSAL;
	if (opens_lot != (has_lot && PG_GETARG_INT64(LY_LOT_ID) == PG_GETARG_INT64(LY_ENTRY_ID)))
		PG_RETURN_BOOL(false);

	/* an expiry date belongs to a lot */
	if (!PG_ARGISNULL(LY_EXPIRES_AT) &&
		!(has_lot && PG_GETARG_INT64(LY_LOT_ID) == PG_GETARG_INT64(LY_ENTRY_ID)))
		PG_RETURN_BOOL(false);

	/* reversal columns */
	if (kind != LYK_REVERSAL)
	{
		if (has_reverses || unrecovered != 0 || has_refund)
			PG_RETURN_BOOL(false);
	}
	else if (has_reverses == has_refund)
		PG_RETURN_BOOL(false);
	if (unrecovered < 0)
		PG_RETURN_BOOL(false);
	if (has_refund)
	{
		Numeric		amount = PG_GETARG_NUMERIC(LY_REFUND);

		if (numeric_is_nan(amount) ||
			DatumGetInt32(DirectFunctionCall2(numeric_cmp,
											  NumericGetDatum(amount),
											  NumericGetDatum(int64_to_numeric(0)))) < 0)
			PG_RETURN_BOOL(false);
		if (PG_ARGISNULL(LY_ORDER_ID))
			PG_RETURN_BOOL(false);
	}

	/* the idempotency key: 1 to 200 characters */
	{
		text	   *key = PG_GETARG_TEXT_PP(LY_KEY);
		int			chars = pg_mbstrlen_with_len(VARDATA_ANY(key),
												 VARSIZE_ANY_EXHDR(key));

		if (chars < 1 || chars > 200)
			PG_RETURN_BOOL(false);
	}

	/* the request is an object */
	{
		Jsonb	   *request = PG_GETARG_JSONB_P(LY_REQUEST);

		if (!JB_ROOT_IS_OBJECT(request) || JB_ROOT_IS_SCALAR(request))
			PG_RETURN_BOOL(false);
	}

	PG_RETURN_BOOL(true);
}
