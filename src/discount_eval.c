/*-------------------------------------------------------------------------
 *
 * src/discount_eval.c
 *
 * Evaluation of discount and bonus rules on a cart, in integer cents.
 *
 * Order: rules are sorted by phase (line discounts, then order discounts,
 * then bonus rules), then rank (lower first), then rule_id; the order of
 * the rows the rules came from never matters.
 *
 *	 1. Conditions: validity window, uses per client, segment, tier,
 *		turnover to date, the lines covered (price list, category subtree),
 *		order amount and threshold crossing, both on the gross amount of the
 *		covered lines, before any discount.  A rule that fails one is
 *		skipped with the reason.
 *	 2. The stack: every rule that is not exclusive, in order.  A line rule
 *		takes its percent of each covered line (of the original amount or of
 *		what is left, as its base says; rounded half up per line) or its
 *		fixed amount per unit; its cap limits its total over the order.  An
 *		order rule computes one amount on the covered lines (percent of their
 *		sum, or the fixed amount), rounds it once, caps it, and allocates it
 *		to the lines in proportion to what each still costs, by largest
 *		remainder.  No line goes below zero.  A stop rule holds its lines:
 *		no later discount rule touches them.
 *	 3. Exclusive rules: each is computed alone on the original cart; the
 *		best one (ties: evaluation order) replaces the whole stack when it
 *		gives strictly more than the stack; otherwise the stack stays.
 *	 4. Bonus rules, on the net amounts: the points_share rule allowing the
 *		largest amount sets the most points the order may be paid with (with
 *		a loyalty programme, at most what the programme allows); the
 *		largest points multiplier applies; every cashback rule earns
 *		floor(net of its lines, less their share of the points paid, times
 *		percent times multiplier, divided by the point value) points.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "discount.h"
#include "lib/stringinfo.h"

#define PERCENT_DEN		INT64CONST(1000000)	/* value 1/10000 of a percent */
#define FACTOR_ONE		INT64CONST(10000)

/* num / den rounded half up; num >= 0, den > 0 */
int64
discount_round_div(int128 num, int128 den)
{
	return (int64) ((num + den / 2) / den);
}

/* cents as text with two decimals ("-12.05"), written by hand: reasons use many */
char *
discount_money(int64 cents)
{
	char		buf[32];
	char	   *p = buf + sizeof(buf);
	uint64		a = cents < 0 ? -(uint64) cents : (uint64) cents;

	*--p = '\0';
	*--p = '0' + (int) (a % 10);
	*--p = '0' + (int) (a / 10 % 10);
	*--p = '.';
	a /= 100;
	do
	{
		*--p = '0' + (int) (a % 10);
		a /= 10;
	} while (a > 0);
	if (cents < 0)
		*--p = '-';
	return pstrdup(p);
}

static char *
factor(int64 v)
{
	char	   *s = psprintf(INT64_FORMAT ".%04d", v / 10000, (int) (v % 10000));
	char	   *e = s + strlen(s) - 1;

	while (*e == '0')
		*e-- = '\0';
	if (*e == '.')
		*e = '\0';
	return s;
}

/*
 * Splits total into n parts in proportion to weights, by largest
 * remainder: each part is floor(total * w / W) and the units left over go
 * to the largest remainders; equal remainders to the larger weight, then to
 * the lower tie_rank.  The parts sum to total exactly, and no part exceeds
 * its weight when total <= W.
 */
typedef struct AllocSort
{
	const int64 *rem;
	const int64 *weights;
	const int  *tie_rank;
} AllocSort;

/* larger remainder first, then larger weight, then lower tie rank */
static int
alloc_cmp(const void *a, const void *b, void *arg)
{
	const AllocSort *s = arg;
	int			x = *(const int *) a;
	int			y = *(const int *) b;

	if (s->rem[x] != s->rem[y])
		return s->rem[x] > s->rem[y] ? -1 : 1;
	if (s->weights[x] != s->weights[y])
		return s->weights[x] > s->weights[y] ? -1 : 1;
	return s->tie_rank[x] < s->tie_rank[y] ? -1 : s->tie_rank[x] > s->tie_rank[y];
}

void
discount_allocate(int64 total, int n, const int64 *weights,
				  const int *tie_rank, int64 *out)
{
	int128		wsum = 0;
	int64		left = total;
	int64	   *rem;
	int		   *idx;
	AllocSort	sort;
	int			i;

	for (i = 0; i < n; i++)
		wsum += weights[i];
	if (wsum == 0)
	{
		for (i = 0; i < n; i++)
			out[i] = 0;
		return;
	}
	rem = palloc(sizeof(int64) * n);
	idx = palloc(sizeof(int) * n);
	for (i = 0; i < n; i++)
	{
		int128		p = (int128) total * weights[i];

		out[i] = (int64) (p / wsum);
		rem[i] = (int64) (p % wsum);
		left -= out[i];
		idx[i] = i;
	}
	if (left > 0)
	{
		sort.rem = rem;
		sort.weights = weights;
		sort.tie_rank = tie_rank;
		qsort_arg(idx, n, sizeof(int), alloc_cmp, &sort);
		for (i = 0; i < n && left > 0; i++, left--)
			out[idx[i]]++;
	}
	pfree(rem);
	pfree(idx);
}

int
discount_rule_cmp(const void *a, const void *b)
{
	const DiscRule *x = *(DiscRule *const *) a;
	const DiscRule *y = *(DiscRule *const *) b;

	if (x->phase != y->phase)
		return x->phase < y->phase ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->rule_id != y->rule_id)
		return x->rule_id < y->rule_id ? -1 : 1;
	return 0;
}

/*
 * Sorts the rules into evaluation order: an array of pointers (unless the
 * caller gave them in that order already, from the cache).
 */
static void
sort_rules(DiscCart *c)
{
	if (c->rules != NULL)
		return;
	c->rules = palloc(sizeof(DiscRule *) * Max(c->nrules, 1));
	for (int i = 0; i < c->nrules; i++)
		c->rules[i] = &c->rule_store[i];
	qsort(c->rules, c->nrules, sizeof(DiscRule *), discount_rule_cmp);
}

static void
skip(DiscRule *r, char *reason)
{
	r->status = DISC_SKIPPED;
	r->reason = reason;
}

#define SKIP(r, reason) \
	do { skip((r), (reason)); return; } while (0)

static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return x < y ? -1 : x > y;
}

/* every category of the cart's lines, sorted, once per call */
static void
cart_categories(DiscCart *c)
{
	int			n = 0;
	int			k = 0;

	for (int i = 0; i < c->nlines; i++)
		n += c->lines[i].ncategories;
	c->cart_categories = palloc(sizeof(int32) * Max(n, 1));
	for (int i = 0; i < c->nlines; i++)
		for (int j = 0; j < c->lines[i].ncategories; j++)
			c->cart_categories[k++] = c->lines[i].categories[j];
	qsort(c->cart_categories, n, sizeof(int32), int32_cmp);
	c->ncart_categories = 0;
	for (int i = 0; i < n; i++)
		if (i == 0 || c->cart_categories[i] != c->cart_categories[i - 1])
			c->cart_categories[c->ncart_categories++] = c->cart_categories[i];
}

static bool
in_category(DiscLine *l, int32 category_id)
{
	for (int k = 0; k < l->ncategories; k++)
		if (l->categories[k] == category_id)
			return true;
	return false;
}

static void
clear_row(DiscCart *c, int ri)
{
	for (int i = 0; i < c->nlines; i++)
	{
		DISC_AMT(c, ri, i) = 0;
		DISC_MARK(c, ri, i) = DISC_MARK_NONE;
	}
}

/*
 * Step 1: the conditions that do not depend on other rules.  Marks the
 * lines the rule covers.
 */
static void
check_conditions(DiscCart *c, int ri)
{
	DiscRule   *r = c->rules[ri];
	int			ncovered = 0;
	bool		some_line;

	r->status = DISC_CANDIDATE;
	if (r->window < 0)
		SKIP(r, pstrdup("outside its validity window: not started yet"));
	if (r->window > 0)
		SKIP(r, pstrdup("outside its validity window: ended"));
	if (r->uses_limit >= 0 && r->uses >= r->uses_limit)
		SKIP(r, psprintf("used " INT64_FORMAT " of %d times by this client",
				r->uses, r->uses_limit));
	if (r->segment)
	{
		if (!c->segment)
			SKIP(r, psprintf("needs segment \"%s\"; the client's segment is not known",
					r->segment));
		if (strcmp(r->segment, c->segment) != 0)
			SKIP(r, psprintf("needs segment \"%s\"; the client is in \"%s\"",
					r->segment, c->segment));
	}
	if (r->tier)
	{
		bool		found = false;

		Assert(c->tiers_known);	/* given, or read because a rule needs it */
		for (int k = 0; k < c->ntiers; k++)
			if (strcmp(c->tiers[k], r->tier) == 0)
				found = true;
		if (!found)
		{
			StringInfoData s;

			initStringInfo(&s);
			appendStringInfo(&s, "needs tier \"%s\"; ", r->tier);
			if (c->ntiers == 0)
				appendStringInfoString(&s, "the client has no tier");
			else
			{
				appendStringInfoString(&s, "the client's tier is ");
				for (int k = 0; k < c->ntiers; k++)
					appendStringInfo(&s, "%s\"%s\"", k ? ", " : "", c->tiers[k]);
			}
			SKIP(r, s.data);
		}
	}
	if (r->min_turnover >= 0 && c->turnover < r->min_turnover)
		SKIP(r, psprintf("turnover to date %s is below %s",
				discount_money(c->turnover), discount_money(r->min_turnover)));

	r->covered_gross = 0;
	/* a category none of the lines is in: no line to look at */
	some_line = !r->has_category ||
		bsearch(&r->category_id, c->cart_categories, c->ncart_categories,
				sizeof(int32), int32_cmp) != NULL;
	for (int i = 0; some_line && i < c->nlines; i++)
	{
		DiscLine   *l = &c->lines[i];

		if (r->has_price_list && l->price_list_id != r->price_list_id)
			continue;
		if (r->has_category && !in_category(l, r->category_id))
			continue;
		DISC_MARK(c, ri, i) = DISC_MARK_COVERED;
		r->covered_gross += l->gross;
		ncovered++;
	}
	if (ncovered == 0)
	{
		if (r->no_line_reason)
			SKIP(r, r->no_line_reason);
		if (r->has_price_list && r->has_category)
			SKIP(r, psprintf("no line is on price list %d in category %d",
					r->price_list_id, r->category_id));
		if (r->has_price_list)
			SKIP(r, psprintf("no line is on price list %d", r->price_list_id));
		SKIP(r, psprintf("no line is in category %d", r->category_id));
	}
	if (r->min_order >= 0 && r->covered_gross < r->min_order)
	{
		clear_row(c, ri);
		SKIP(r, psprintf("order amount %s is below %s",
				discount_money(r->covered_gross), discount_money(r->min_order)));
	}
	if (r->crossing >= 0)
	{
		if (c->turnover >= r->crossing)
		{
			clear_row(c, ri);
			SKIP(r, psprintf("turnover to date %s had already reached %s",
					discount_money(c->turnover), discount_money(r->crossing)));
		}
		if (c->turnover + r->covered_gross < r->crossing)
		{
			clear_row(c, ri);
			SKIP(r, psprintf("this order (%s) takes turnover %s to %s, below %s",
					discount_money(r->covered_gross), discount_money(c->turnover),
					discount_money(c->turnover + r->covered_gross),
					discount_money(r->crossing)));
		}
	}
}

static void
reset_lines(DiscCart *c)
{
	for (int i = 0; i < c->nlines; i++)
	{
		c->lines[i].remaining = c->lines[i].gross;
		c->lines[i].stopped_by = 0;
	}
}

/* scratch space of the evaluation, one slot per line */
typedef struct Scratch
{
	int64	   *a;
	int64	   *w;
	int64	   *out;
	int		   *ties;
	bool	   *active;
} Scratch;

/*
 * Step 2: applies a discount rule to the current state of the lines.
 */
static void
apply_discount(DiscCart *c, int ri, Scratch *s)
{
	DiscRule   *r = c->rules[ri];
	int			n = c->nlines;
	int			nactive = 0;
	int			stopper = -1;
	int64		total = 0;

	r->capped = false;
	for (int i = 0; i < n; i++)
	{
		DiscLine   *l = &c->lines[i];
		uint8		m = DISC_MARK(c, ri, i);

		s->active[i] = false;
		s->a[i] = 0;
		s->w[i] = 0;
		if (m == DISC_MARK_NONE)
			continue;
		DISC_AMT(c, ri, i) = 0;
		if (l->stopped_by)
		{
			DISC_MARK(c, ri, i) = DISC_MARK_STOPPED;
			stopper = l->stopped_by - 1;
			continue;
		}
		if (l->remaining == 0)
		{
			DISC_MARK(c, ri, i) = DISC_MARK_NOTHING;
			continue;
		}
		DISC_MARK(c, ri, i) = DISC_MARK_COVERED;
		s->active[i] = true;
		nactive++;
	}
	if (nactive == 0)
	{
		if (stopper >= 0)
		{
			/* one text per stop rule, however many rules it holds lines of */
			if (c->held_reason[stopper] == NULL)
				c->held_reason[stopper] =
					psprintf("every line it covers is held by stop rule \"%s\"",
							 c->rules[stopper]->code);
			skip(r, c->held_reason[stopper]);
		}
		else
			skip(r, pstrdup("nothing is left to discount on its lines"));
		return;
	}

	if (r->phase == DISC_PHASE_LINE)
	{
		for (int i = 0; i < n; i++)
		{
			DiscLine   *l = &c->lines[i];
			int64		a;

			if (!s->active[i])
				continue;
			if (r->action == DISC_PERCENT)
				a = discount_round_div((int128) (r->base_original ? l->gross : l->remaining) * r->value,
									   PERCENT_DEN);
			else
				a = discount_round_div((int128) r->value * l->qty_milli, 1000);
			s->a[i] = Min(a, l->remaining);
			total += s->a[i];
		}
		if (r->cap >= 0 && total > r->cap)
		{
			discount_allocate(r->cap, n, s->a, s->ties, s->out);
			memcpy(s->a, s->out, sizeof(int64) * n);
			total = r->cap;
			r->capped = true;
		}
	}
	else
	{
		int128		base = 0;
		int64		left = 0;

		for (int i = 0; i < n; i++)
		{
			DiscLine   *l = &c->lines[i];

			if (!s->active[i])
				continue;
			base += r->base_original ? l->gross : l->remaining;
			left += l->remaining;
			s->w[i] = l->remaining;
		}
		if (r->action == DISC_PERCENT)
			total = discount_round_div(base * r->value, PERCENT_DEN);
		else
			total = r->value;
		if (r->cap >= 0 && total > r->cap)
		{
			total = r->cap;
			r->capped = true;
		}
		if (total > left)
			total = left;
		discount_allocate(total, n, s->w, s->ties, s->a);
	}

	if (total == 0)
	{
		skip(r, pstrdup("gives 0.00"));
		return;
	}
	for (int i = 0; i < n; i++)
	{
		DiscLine   *l = &c->lines[i];

		if (!s->active[i])
			continue;
		DISC_AMT(c, ri, i) = s->a[i];
		DISC_MARK(c, ri, i) = DISC_MARK_APPLIED;
		l->remaining -= s->a[i];
		if (r->stacking == DISC_STOP)
			l->stopped_by = ri + 1;
	}
	r->status = DISC_APPLIED;
	r->amount = total;
}

static int64
discounted(DiscCart *c)
{
	int64		d = 0;

	for (int i = 0; i < c->nlines; i++)
		d += c->lines[i].gross - c->lines[i].remaining;
	return d;
}

/* Step 3: exclusive rules against the stack. */
static void
resolve_exclusive(DiscCart *c, Scratch *s)
{
	int			n = c->nlines;
	int64		stack_total = discounted(c);
	int64	   *save_rem = palloc(sizeof(int64) * n);
	int		   *save_stop = palloc(sizeof(int) * n);
	int			best = -1;
	bool		any = false;

	for (int i = 0; i < n; i++)
	{
		save_rem[i] = c->lines[i].remaining;
		save_stop[i] = c->lines[i].stopped_by;
	}
	for (int ri = 0; ri < c->nrules; ri++)
	{
		DiscRule   *r = c->rules[ri];

		if (r->phase == DISC_PHASE_BONUS || r->stacking != DISC_EXCLUSIVE ||
			r->status != DISC_CANDIDATE)
			continue;
		any = true;
		reset_lines(c);
		apply_discount(c, ri, s);
		if (r->status == DISC_APPLIED &&
			(best < 0 || r->amount > c->rules[best]->amount))
			best = ri;
	}
	if (!any)
		return;

	if (best >= 0 && c->rules[best]->amount > stack_total)
	{
		DiscRule   *b = c->rules[best];

		for (int ri = 0; ri < c->nrules; ri++)
		{
			DiscRule   *r = c->rules[ri];

			if (ri == best || r->phase == DISC_PHASE_BONUS || r->status != DISC_APPLIED)
				continue;
			if (r->stacking == DISC_EXCLUSIVE && r->amount == b->amount)
				skip(r, psprintf("exclusive rule \"%s\" gives as much (%s) and comes first",
								 b->code, discount_money(b->amount)));
			else if (r->stacking == DISC_EXCLUSIVE)
				skip(r, psprintf("exclusive rule \"%s\" gives more (%s, this rule %s)",
								 b->code, discount_money(b->amount), discount_money(r->amount)));
			else
				skip(r, psprintf("excluded by exclusive rule \"%s\", which gives %s against %s from the other rules together",
								 b->code, discount_money(b->amount), discount_money(stack_total)));
			r->amount = 0;
			clear_row(c, ri);
		}
		for (int i = 0; i < n; i++)
		{
			c->lines[i].remaining = c->lines[i].gross - DISC_AMT(c, best, i);
			c->lines[i].stopped_by = 0;
		}
	}
	else
	{
		for (int i = 0; i < n; i++)
		{
			c->lines[i].remaining = save_rem[i];
			c->lines[i].stopped_by = save_stop[i];
		}
		for (int ri = 0; ri < c->nrules; ri++)
		{
			DiscRule   *r = c->rules[ri];

			if (r->phase == DISC_PHASE_BONUS || r->stacking != DISC_EXCLUSIVE ||
				r->status != DISC_APPLIED)
				continue;
			skip(r, psprintf("exclusive: alone it gives %s, not more than %s from the other rules together",
							 discount_money(r->amount), discount_money(stack_total)));
			r->amount = 0;
			clear_row(c, ri);
		}
	}
	pfree(save_rem);
	pfree(save_stop);
}

/* net of the lines a rule covers */
static int64
covered_net(DiscCart *c, int ri)
{
	int64		net = 0;

	for (int i = 0; i < c->nlines; i++)
		if (DISC_MARK(c, ri, i) != DISC_MARK_NONE)
			net += c->lines[i].remaining;
	return net;
}

/* Step 4: bonus rules on the net amounts. */
static void
evaluate_bonus(DiscCart *c)
{
	int			share = -1;
	int64		share_money = 0;
	int			mult = -1;
	int128		paid4 = 0;		/* value of the points paid, 1/10000 */
	int64		plain = 0;

	/* the share of the order payable with points */
	for (int ri = 0; ri < c->nrules; ri++)
	{
		DiscRule   *r = c->rules[ri];
		int64		m;

		if (r->action != DISC_SHARE || r->status != DISC_CANDIDATE)
			continue;
		m = (int64) (((int128) covered_net(c, ri) * r->value) / PERCENT_DEN);
		r->amount = 0;
		r->points = (int64) (((int128) m * 100) / r->point_value);
		if (share < 0 || m > share_money)
		{
			share = ri;
			share_money = m;
		}
	}
	for (int ri = 0; ri < c->nrules; ri++)
	{
		DiscRule   *r = c->rules[ri];

		if (r->action != DISC_SHARE || r->status != DISC_CANDIDATE)
			continue;
		if (ri == share)
			r->status = DISC_APPLIED;
		else
		{
			skip(r, psprintf("rule \"%s\" allows %s to be paid with points",
							 c->rules[share]->code,
							 (int64) (((int128) covered_net(c, ri) * r->value) / PERCENT_DEN) == share_money ?
							 "as much, and comes first," : "more"));
			r->points = 0;
		}
	}
	c->share_rule = share;
	/*
	 * With a loyalty programme, its own share (what crm.redeem_points
	 * allows on the order) bounds the points, and a points_share rule may
	 * lower it; without one, only a points_share rule lets points pay.
	 */
	if (c->has_program)
	{
		c->program_terms(c);
		c->max_points = c->program_cap;
		if (share >= 0 && c->rules[share]->points < c->max_points)
			c->max_points = c->rules[share]->points;
	}
	else
		c->max_points = share >= 0 ? c->rules[share]->points : 0;
	if (c->points_paid > c->max_points)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cart: field \"points_paid\" asks for " INT64_FORMAT " points, at most " INT64_FORMAT " may be paid with points",
						c->points_paid, c->max_points),
				 share >= 0 && (!c->has_program || c->rules[share]->points < c->program_cap) ?
				 errdetail("Rule \"%s\" allows %s of this order to be paid with points.",
						   c->rules[share]->code, discount_money(share_money)) :
				 c->has_program ?
				 errdetail("Loyalty programme \"%s\" allows " INT64_FORMAT " points on this order (its max_redeem_share).",
						   c->program, c->program_cap) :
				 errdetail("No points_share rule applies to this order, and the cart has no loyalty programme.")));
	if (c->has_program)
		paid4 = (int128) c->points_paid * c->program_point_value;
	else if (share >= 0)
		paid4 = (int128) c->points_paid * c->rules[share]->point_value;

	/* the largest multiplier */
	for (int ri = 0; ri < c->nrules; ri++)
	{
		DiscRule   *r = c->rules[ri];

		if (r->action != DISC_MULTIPLIER || r->status != DISC_CANDIDATE)
			continue;
		if (mult < 0 || r->value > c->rules[mult]->value)
			mult = ri;
	}
	c->multiplier_rule = mult;

	/* cashback */
	c->points_earned = 0;
	for (int ri = 0; ri < c->nrules; ri++)
	{
		DiscRule   *r = c->rules[ri];
		int64		e;
		int128		base4;
		int128		num;
		int64		m = mult >= 0 ? c->rules[mult]->value : FACTOR_ONE;

		if (r->action != DISC_CASHBACK || r->status != DISC_CANDIDATE)
			continue;
		e = covered_net(c, ri);
		base4 = (int128) e * 100;
		if (c->net > 0)
			base4 -= paid4 * e / c->net;
		num = base4 * r->value;
		r->points = (int64) (num * m / ((int128) PERCENT_DEN * FACTOR_ONE * r->point_value));
		plain += (int64) (num / ((int128) PERCENT_DEN * r->point_value));
		if (r->points == 0)
			skip(r, pstrdup("earns 0 points"));
		else
		{
			r->status = DISC_APPLIED;
			c->points_earned += r->points;
		}
	}
	for (int ri = 0; ri < c->nrules; ri++)
	{
		DiscRule   *r = c->rules[ri];

		if (r->action != DISC_MULTIPLIER || r->status != DISC_CANDIDATE)
			continue;
		if (ri != mult)
			skip(r, psprintf("rule \"%s\" multiplies %s (x%s)",
							 c->rules[mult]->code,
							 r->value == c->rules[mult]->value ? "as much, and comes first" : "more",
							 factor(c->rules[mult]->value)));
		else if (c->points_earned == 0)
		{
			skip(r, pstrdup("no cashback points to multiply"));
			c->multiplier_rule = -1;
		}
		else
		{
			r->status = DISC_APPLIED;
			r->points = c->points_earned - plain;
		}
	}

	/* the order's points: the programme's cashback and the rules' */
	c->rules_earned = c->points_earned;
	c->points_earned += c->program_earned;
}

void
discount_evaluate(DiscCart *c)
{
	int			n = c->nlines;
	Scratch		s;

	sort_rules(c);
	cart_categories(c);
	/* zeroed arrays the caller may give */
	if (c->held_reason == NULL)
		c->held_reason = palloc0(sizeof(char *) * Max(c->nrules, 1));
	if (c->amt == NULL)
		c->amt = palloc0(sizeof(int64) * Max(1, (size_t) c->nrules * n));
	if (c->mark == NULL)
		c->mark = palloc0(sizeof(uint8) * Max(1, (size_t) c->nrules * n));
	s.a = palloc(sizeof(int64) * n);
	s.w = palloc(sizeof(int64) * n);
	s.out = palloc(sizeof(int64) * n);
	s.active = palloc(sizeof(bool) * n);
	s.ties = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
		s.ties[i] = c->lines[i].tie_rank;

	c->gross = 0;
	for (int i = 0; i < n; i++)
		c->gross += c->lines[i].gross;

	for (int ri = 0; ri < c->nrules; ri++)
		check_conditions(c, ri);

	/* the stack, line rules first (the sort put them first) */
	reset_lines(c);
	for (int ri = 0; ri < c->nrules; ri++)
	{
		DiscRule   *r = c->rules[ri];

		if (r->phase == DISC_PHASE_BONUS || r->stacking == DISC_EXCLUSIVE ||
			r->status != DISC_CANDIDATE)
			continue;
		apply_discount(c, ri, &s);
	}
	resolve_exclusive(c, &s);

	c->discount = discounted(c);
	c->net = c->gross - c->discount;
	evaluate_bonus(c);
}
