/*-------------------------------------------------------------------------
 *
 * src/discount.h
 *
 * The in-memory form of a cart and of the discount rules that
 * crm.price_cart() evaluates: the SQL entry point (discount.c) reads the
 * rules once per call into an array of DiscRule, the cart parser
 * (discount_cart.c) fills the DiscLine array, and the evaluator
 * (discount_eval.c) works on both in integer cents.
 *
 * Units: money in cents (int64); percents, multipliers and point values
 * in 1/10000 (a value of 12.5 % is 125000); quantities in 1/1000.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CRM_DISCOUNT_H
#define CRM_DISCOUNT_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#ifndef HAVE_INT128
#error "crm's discount evaluation needs a 128-bit integer type"
#endif

/* actions */
#define DISC_PERCENT		'p'
#define DISC_FIXED			'f'
#define DISC_CASHBACK		'c'
#define DISC_MULTIPLIER		'm'
#define DISC_SHARE			's'

/* stacking */
#define DISC_STACK			's'
#define DISC_EXCLUSIVE		'x'
#define DISC_STOP			't'

/* evaluation phases: line discounts, order discounts, bonus rules */
#define DISC_PHASE_LINE		0
#define DISC_PHASE_ORDER	1
#define DISC_PHASE_BONUS	2

/* status of a rule */
#define DISC_CANDIDATE		0	/* passed its conditions, not yet decided */
#define DISC_APPLIED		1
#define DISC_SKIPPED		2

/* state of one (rule, line) pair */
#define DISC_MARK_NONE		0	/* the rule does not cover the line */
#define DISC_MARK_COVERED	1	/* covered, not applied (yet) */
#define DISC_MARK_APPLIED	2
#define DISC_MARK_STOPPED	3	/* an earlier stop rule holds the line */
#define DISC_MARK_NOTHING	4	/* nothing left of the line to discount */

typedef struct DiscLine
{
	int			line_no;		/* position in the cart, from 1 */
	int64		product_id;
	int32		price_list_id;
	int64		qty_milli;		/* quantity in thousandths */
	int64		unit_price;		/* cents */
	int64		unit_cost;		/* cents */
	int64		gross;			/* cents: quantity * unit price, half up */
	int64		cost;			/* cents: quantity * unit cost, half up */
	int32	   *categories;		/* the product's category and its ancestors */
	int			ncategories;
	int			tie_rank;		/* position in the content order (ties) */
	/* evaluation state */
	int64		remaining;		/* what is left of the line after discounts */
	int			stopped_by;		/* 1 + index of the stop rule, 0 none */
} DiscLine;

typedef struct DiscRule
{
	int64		rule_id;
	char	   *code;
	int			codelen;		/* strlen(code) */
	int32		rank;
	int			phase;			/* DISC_PHASE_* */
	char		action;			/* DISC_PERCENT ... */
	int64		value;			/* cents (fixed) or 1/10000 (others) */
	int64		cap;			/* cents, -1: none */
	char		stacking;		/* DISC_STACK ... */
	bool		base_original;
	bool		has_price_list;
	int32		price_list_id;
	bool		has_category;
	int32		category_id;
	int			window;			/* 0 inside, -1 not yet, 1 ended */
	int64		min_order;		/* cents, -1: none */
	int64		min_turnover;	/* cents, -1: none */
	int64		crossing;		/* cents, -1: none */
	char	   *segment;		/* NULL: any */
	char	   *tier;			/* NULL: any */
	int32		uses_limit;		/* -1: unlimited */
	int64		uses;
	int64		point_value;	/* 1/10000 of the currency */
	/* the validity window's bounds, for a cached rule (its window is found per call) */
	bool		lower_inf;
	bool		upper_inf;
	bool		lower_inc;
	bool		upper_inc;
	TimestampTz lower;
	TimestampTz upper;
	char	   *no_line_reason; /* a cached rule's reason when it covers no line */
	char	   *no_line_out;	/* its explanation skipped for it, as the answer writes it */
	int			no_line_outlen;
	/* results */
	int			status;
	char	   *reason;			/* why skipped */
	int64		covered_gross;	/* gross of the lines it covers */
	int64		amount;			/* discount, cents */
	int64		points;			/* points earned or payable */
	bool		capped;			/* the cap limited the amount */
} DiscRule;

typedef struct DiscCart
{
	/* input */
	int64		client_id;
	TimestampTz at;
	Jsonb	   *cart;
	int			nlines;
	DiscLine   *lines;
	int			nrules;
	DiscRule   *rule_store;		/* the rules as read */
	DiscRule  **rules;			/* the same, in evaluation order */
	char	   *currency;
	char	   *segment;		/* NULL: not given */
	bool		tier_given;		/* the cart names the tier */
	char	  **tiers;			/* the client's tier codes */
	int			ntiers;
	bool		tiers_known;	/* given or looked up */
	int64		turnover;		/* cents, before this order, in the cart's currency */
	char	   *turnover_currency;	/* of turnover; NULL: no purchase or several currencies */
	int64		points_paid;	/* asked to pay with, 0 if not given */
	char	   *program;		/* loyalty programme code, NULL if not given */
	/* the stored segment, when the cart gives none */
	bool		segment_stored;	/* c->segment is crm.client_segments' */
	TimestampTz segment_since;	/* the refresh that set it */
	/* the loyalty programme: the cart's, or the client's only account's */
	bool		has_program;
	bool		program_named;	/* the cart named it */
	int64		program_id;
	char	   *program_tier;	/* the client's tier in it, NULL: none */
	int64		program_point_value;	/* 1/10000 of the currency */
	int64		program_cap;	/* most points the order may be paid with */
	int64		program_earned; /* the programme's cashback of the order */
	int64		rules_earned;	/* the bonus rules' points */
	/* fills program_cap and program_earned once the net is known */
	void		(*program_terms) (struct DiscCart *c);
	/* every category of the lines (with their ancestors), sorted, unique */
	int32	   *cart_categories;
	int			ncart_categories;
	/* per stop rule, the reason of the rules whose lines it holds */
	char	  **held_reason;
	/* (rule, line) matrices, nrules * nlines */
	int64	   *amt;
	uint8	   *mark;
	/* results */
	int64		gross;
	int64		discount;
	int64		net;
	int64		points_earned;
	int64		max_points;
	int			share_rule;		/* index of the points_share rule, -1 */
	int			multiplier_rule;	/* index of the multiplier rule, -1 */
} DiscCart;

/*
 * What crm.price_cart keeps between calls in a backend (discount_cache.c):
 * the active general rules (client_id NULL), in evaluation order, and the
 * category tree, as of one version of crm.pricing_version.
 */
typedef struct DiscCache
{
	MemoryContext cxt;			/* holds all of it; NULL before the first */
	bool		valid;
	Oid			rules_relid;
	Oid			categories_relid;
	Oid			version_relid;
	int64		version;		/* crm.pricing_version.version read at */
	TransactionId xmin;			/* and the xmin of that row version */
	int			nrules;
	DiscRule   *rules;			/* in evaluation order */
	int			client_rules;	/* active rules with a client_id: 0 none, 1 some, -1 not known */
	bool		reader_sees_all;	/* this call's role reads every rule, row security or not */
	int			ncategories;
	int32	   *category_id;	/* sorted */
	int32	   *parent_id;		/* 0 with has_parent false: a root */
	bool	   *has_parent;
} DiscCache;

struct FastPath;
struct SPITupleTable;

/* a statement's rows as the memo keeps them: nrows * ncols values, row by row */
typedef struct DiscRows
{
	int			nrows;
	int			ncols;
	Datum	   *values;
	bool	   *nulls;
} DiscRows;

/* discount_cache.c */
extern void discount_cache_define_settings(void);
extern DiscCache *discount_cache_usable(struct FastPath *fp, int64 *version,
										TransactionId *xmin);
extern uint64 discount_cache_begin(DiscCache *cache);
extern void discount_cache_done(DiscCache *cache, uint64 begun, int64 version,
								TransactionId xmin);
extern void discount_cache_window(DiscRule *r, TimestampTz at);
extern bool discount_memo_usable(void);
extern DiscRows *discount_memo_get(const char *key, int keylen);
extern DiscRows *discount_memo_put(const char *key, int keylen,
								   struct SPITupleTable *tt, int n);

/* discount_cart.c */
extern void discount_parse_cart(DiscCart *c, Jsonb *cart);

/* discount_eval.c */
extern void discount_evaluate(DiscCart *c);
extern int	discount_rule_cmp(const void *a, const void *b);
extern int64 discount_round_div(int128 num, int128 den);
extern char *discount_money(int64 cents);
extern void discount_allocate(int64 total, int n, const int64 *weights,
							  const int *tie_rank, int64 *out);

#define DISC_AMT(c, r, i)	((c)->amt[(size_t) (r) * (c)->nlines + (i)])
#define DISC_MARK(c, r, i)	((c)->mark[(size_t) (r) * (c)->nlines + (i)])

#endif							/* CRM_DISCOUNT_H */
