/*-------------------------------------------------------------------------
 *
 * src/discount_cart.c
 *
 * Reading the cart that crm.price_cart() prices.  A cart is a JSON object
 *
 *	 {"lines": [{"product_id": 10, "quantity": 2, "price_list_id": 1}, ...],
 *	  "segment": "Champions", "tier": "gold", "program": "club",
 *	  "points_paid": 500}
 *
 * (only "lines" is required) or, for short, the array of lines alone.
 * Every line needs product_id, quantity and price_list_id; ids may be
 * JSON numbers or strings of digits (for clients whose JSON numbers lose
 * precision); quantity is a positive number with at most 3 decimals.
 * Anything else is an error that names the line and the field: 22023 for
 * a wrong shape, a missing field or a value out of range, 22P02 for a
 * string that is not a number.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "discount.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

/* the largest quantity numeric(12,3) holds, in thousandths */
#define DISC_MAX_QTY_MILLI	INT64CONST(999999999999)

/* where an error is: "cart" or "cart line N" */
static const char *
where(int line_no)
{
	return line_no > 0 ? psprintf("cart line %d", line_no) : "cart";
}

static const char *
json_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a composite";
	}
}

/*
 * The text of a scalar number or string; for error messages and parsing.
 * *is_string tells which.
 */
static char *
scalar_text(JsonbValue *v, bool *is_string)
{
	if (v->type == jbvNumeric)
	{
		*is_string = false;
		return DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(v->val.numeric)));
	}
	*is_string = true;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * Parses a plain decimal "[-+]digits[.digits]" into an integer scaled by
 * 10^scale.  Returns 0 on success, 1 if the text is not a decimal number,
 * 2 if it has more than `scale` significant decimals, 3 if out of range.
 */
static int
parse_scaled(const char *s, int scale, int64 *out)
{
	bool		neg = false;
	int128		acc = 0;
	int			ndigits = 0;
	int			decimals = 0;
	bool		dot = false;
	bool		big = false;

	if (*s == '-' || *s == '+')
		neg = (*s++ == '-');
	for (; *s; s++)
	{
		if (*s == '.' && !dot)
		{
			dot = true;
			continue;
		}
		if (*s < '0' || *s > '9')
			return 1;
		ndigits++;
		if (dot)
		{
			if (decimals >= scale)
			{
				if (*s != '0')
					return 2;
				continue;
			}
			decimals++;
		}
		if (!big)
		{
			acc = acc * 10 + (*s - '0');
			if (acc > PG_INT64_MAX)
				big = true;
		}
	}
	if (ndigits == 0)
		return 1;
	if (big)
		return 3;
	for (; decimals < scale; decimals++)
	{
		acc *= 10;
		if (acc > PG_INT64_MAX)
			return 3;
	}
	*out = neg ? -(int64) acc : (int64) acc;
	return 0;
}

/* An id: a JSON integer, or a string of digits. */
static int64
get_id(JsonbValue *v, int line_no, const char *field, int64 maxval)
{
	bool		is_string;
	char	   *txt;
	int64		id;
	int			rc;

	if (v->type != jbvNumeric && v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"%s\" must be an integer, not %s",
						where(line_no), field, json_type_name(v))));
	txt = scalar_text(v, &is_string);
	rc = parse_scaled(txt, 0, &id);
	if (rc == 1 && is_string)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("%s: field \"%s\" is not an integer: \"%s\"",
						where(line_no), field, txt)));
	if (rc == 1 || rc == 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"%s\" must be an integer, not %s",
						where(line_no), field, txt)));
	if (rc == 0 && id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"%s\" must not be negative: %s",
						where(line_no), field, txt)));
	if (rc == 3 || id > maxval)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"%s\" is out of range: %s",
						where(line_no), field, txt)));
	return id;
}

/* A quantity: a positive number with at most 3 decimals. */
static int64
get_quantity(JsonbValue *v, int line_no)
{
	bool		is_string;
	char	   *txt;
	int64		q;
	int			rc;

	if (v->type != jbvNumeric && v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"quantity\" must be a number, not %s",
						where(line_no), json_type_name(v))));
	txt = scalar_text(v, &is_string);
	rc = parse_scaled(txt, 3, &q);
	if (rc == 1)
		ereport(ERROR,
				(errcode(is_string ? ERRCODE_INVALID_TEXT_REPRESENTATION
						 : ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"quantity\" is not a number: \"%s\"",
						where(line_no), txt)));
	if (rc == 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"quantity\" has more than 3 decimals: %s",
						where(line_no), txt)));
	if (rc == 0 && q <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"quantity\" must be greater than zero: %s",
						where(line_no), txt)));
	if (rc == 3 || q > DISC_MAX_QTY_MILLI)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"quantity\" is out of range: %s",
						where(line_no), txt)));
	return q;
}

static void
parse_line(DiscLine *line, JsonbValue *elem, int line_no)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		has_product = false,
				has_qty = false,
				has_list = false;

	if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: a line must be an object, not %s",
						where(line_no), json_type_name(elem))));

	memset(line, 0, sizeof(DiscLine));
	line->line_no = line_no;

	it = JsonbIteratorInit(elem->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		JsonbValue	val;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);
		if (val.type == jbvNull)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: field \"%s\" must not be null", where(line_no), key)));
		if (strcmp(key, "product_id") == 0)
		{
			line->product_id = get_id(&val, line_no, key, PG_INT64_MAX);
			has_product = true;
		}
		else if (strcmp(key, "quantity") == 0)
		{
			line->qty_milli = get_quantity(&val, line_no);
			has_qty = true;
		}
		else if (strcmp(key, "price_list_id") == 0)
		{
			line->price_list_id = (int32) get_id(&val, line_no, key, PG_INT32_MAX);
			has_list = true;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: unknown field \"%s\"", where(line_no), key),
					 errhint("A line has the fields product_id, quantity and price_list_id.")));
	}
	if (!has_product)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"product_id\" is missing", where(line_no))));
	if (!has_qty)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"quantity\" is missing", where(line_no))));
	if (!has_list)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: field \"price_list_id\" is missing", where(line_no))));
}

static void
parse_lines(DiscCart *c, JsonbContainer *arr)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = JsonContainerSize(arr);
	int			i = 0;

	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cart: field \"lines\" is empty")));
	c->nlines = n;
	c->lines = palloc0(sizeof(DiscLine) * n);
	it = JsonbIteratorInit(arr);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		Assert(i < n);
		parse_line(&c->lines[i], &v, i + 1);
		i++;
	}
}

void
discount_parse_cart(DiscCart *c, Jsonb *cart)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		has_lines = false;

	c->cart = cart;
	if (JB_ROOT_IS_SCALAR(cart))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cart must be an object with \"lines\" or an array of lines, not a scalar")));
	if (JB_ROOT_IS_ARRAY(cart))
	{
		parse_lines(c, &cart->root);
		return;
	}

	it = JsonbIteratorInit(&cart->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		JsonbValue	val;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);
		if (strcmp(key, "lines") == 0)
		{
			if (val.type != jbvBinary || !JsonContainerIsArray(val.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("cart: field \"lines\" must be an array, not %s",
								json_type_name(&val))));
			parse_lines(c, val.val.binary.data);
			has_lines = true;
		}
		else if (strcmp(key, "segment") == 0 || strcmp(key, "tier") == 0)
		{
			char	   *s;

			if (val.type == jbvNull)
				continue;
			if (val.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("cart: field \"%s\" must be a string, not %s",
								key, json_type_name(&val))));
			s = pnstrdup(val.val.string.val, val.val.string.len);
			if (key[0] == 's')
				c->segment = s;
			else
			{
				c->tier_given = true;
				c->tiers_known = true;
				c->ntiers = 1;
				c->tiers = palloc(sizeof(char *));
				c->tiers[0] = s;
			}
		}
		else if (strcmp(key, "program") == 0)
		{
			if (val.type == jbvNull)
				continue;
			if (val.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("cart: field \"program\" must be a string, not %s",
								json_type_name(&val))));
			c->program = pnstrdup(val.val.string.val, val.val.string.len);
		}
		else if (strcmp(key, "points_paid") == 0)
		{
			if (val.type == jbvNull)
				continue;
			c->points_paid = get_id(&val, 0, key, PG_INT64_MAX);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cart: unknown field \"%s\"", key),
					 errhint("A cart has the fields lines, segment, tier, program and points_paid.")));
	}
	if (!has_lines)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cart: field \"lines\" is missing")));
}
