/*-------------------------------------------------------------------------
 *
 * src/churn.c
 *
 * Churn signals and behavioural classes of one client, from the client's
 * purchase profile (crm.purchase_profile, src/profile.c), a few per-client
 * counts that the profile does not hold (purchases in the recent and the
 * previous window, the last engagement, offers sent since the last
 * purchase), the population's rhythm and an as_of:
 *
 *	crm.churn_signal(profile, as_of, population_gap_days, recent_purchases,
 *					 previous_purchases, last_engagement, offers_since_last,
 *					 options jsonb) -> crm.churn_signal
 *	crm.churn_options(options jsonb) -> jsonb (the effective settings)
 *
 * The rhythm: the expected gap is the client's recent mean gap shrunk toward
 * the population's gap with a weight of prior_gaps pseudo-gaps; the spread
 * (coefficient of variation) likewise toward population_cv.  Gaps are taken
 * to be lognormal with that mean and spread (method of moments), which gives
 * the probability of a gap at least as long as the current silence.
 *
 * The options are a jsonb object of named settings (defaults in
 * churn_defaults below and in docs/churn.md); a call parses them once and
 * keeps the result for as long as the same bytes come back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "churn.h"
#include "profile.h"

#define SECS_PER_DAY_F	86400.0




typedef struct SettingDef
{
	const char *name;
	size_t		offset;
	double		def;
	double		min;
	double		max;
	bool		min_open;		/* value must be > min rather than >= */
} SettingDef;

#define S(f) offsetof(ChurnSettings, f)
static const SettingDef churn_defs[] = {
	{"window_days", S(window_days), 90, 1, 3650, false},
	{"prior_gaps", S(prior_gaps), 3, 0, 1000, false},
	{"population_cv", S(population_cv), 1.0, 0.05, 10, false},
	{"min_gap_days", S(min_gap_days), 1, 0, 365, true},
	{"new_days", S(new_days), 30, 0, 3650, false},
	{"slipping_p", S(slipping_p), 0.2, 0, 1, false},
	{"lapsed_p", S(lapsed_p), 0.02, 0, 1, false},
	{"lost_days", S(lost_days), 365, 1, 36500, false},
	{"lost_overdue", S(lost_overdue), 8, 1, 1000, false},
	{"lost_offers", S(lost_offers), 1, 0, 1000, false},
	{"promo_share", S(promo_share), 0.7, 0, 1, true},
	{"season_share", S(season_share), 0.65, 0, 1, true},
	{"seasonal_gap_days", S(seasonal_gap_days), 30, 0, 3650, false},
	{"frequent_purchases", S(frequent_purchases), 10, 1, 100000, false},
	{"loyal_gap_days", S(loyal_gap_days), 14, 0, 3650, true},
	{"promising_days", S(promising_days), 120, 0, 3650, false},
	{"promising_purchases", S(promising_purchases), 2, 2, 100000, false},
	{"promising_gap_days", S(promising_gap_days), 25, 0, 3650, true},
	{"at_risk_rate_ratio", S(at_risk_rate_ratio), 0.6, 0, 1, true},
	{"drifting_cv", S(drifting_cv), 1.2, 0, 100, true},
	{"drifting_days", S(drifting_days), 180, 1, 36500, false},
	{"about_to_lose_overdue", S(about_to_lose_overdue), 3, 1, 1000, false},
	{"about_to_lose_days", S(about_to_lose_days), 45, 0, 36500, false},
	{"offer_lag_days", S(offer_lag_days), 5, 0, 365, true},
	{"share_prior", S(share_prior), 1, 0, 1000, false},
};
#undef S
#define N_DEFS	lengthof(churn_defs)

/* the holiday and event months of the default settings (1 = January) */
static const int default_season_months[] = {3, 4, 6, 7, 11, 12};

/* what a call keeps between rows in fn_extra */
typedef struct ChurnCache
{
	Oid			profile_type;
	TupleDesc	profile_desc;
	TupleDesc	result_desc;
	Jsonb	   *options;		/* copy of the options last parsed */
	ChurnSettings settings;
} ChurnCache;

PG_FUNCTION_INFO_V1(churn_signal);
PG_FUNCTION_INFO_V1(churn_class_scores);
PG_FUNCTION_INFO_V1(churn_options);

static void
settings_defaults(ChurnSettings *s)
{
	for (int i = 0; i < N_DEFS; i++)
		*(double *) ((char *) s + churn_defs[i].offset) = churn_defs[i].def;
	s->population_gap_days = NAN;
	s->population_offer_share = NAN;
	s->population_season_share = NAN;
	memset(s->season_months, 0, sizeof(s->season_months));
	for (int i = 0; i < lengthof(default_season_months); i++)
		s->season_months[default_season_months[i] - 1] = true;
}

static double
jsonb_number(JsonbValue *v, const char *key)
{
	char	   *text;
	char	   *end;
	double		x;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("churn option \"%s\" must be a number", key)));

	/*
	 * A JSON number may lie beyond a double (1e400): that is an option out
	 * of range, not a failed conversion, and the message names the option.
	 */
	text = DatumGetCString(DirectFunctionCall1(numeric_out,
											   NumericGetDatum(v->val.numeric)));
	errno = 0;
	x = strtod(text, &end);
	if (*end != '\0' || isinf(x) || (errno == ERANGE && x == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("churn option \"%s\" is out of range: %s", key,
						numeric_out_sci(v->val.numeric, 0))));
	return x;
}

/* Parse an options object into *s (defaults first); errors name the key. */
void
churn_settings_parse(Jsonb *options, ChurnSettings *s)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	settings_defaults(s);
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("churn options must be a JSON object")));

	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;

		if (strcmp(key, "population_gap_days") == 0)
		{
			/* read by crm.churn_signals; null or a positive number */
			if (v.type != jbvNull)
			{
				double		x = jsonb_number(&v, key);

				if (!(x > 0) || isinf(x))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("churn option \"population_gap_days\" must be positive or null: %g", x)));
				s->population_gap_days = x;
			}
			else
				s->population_gap_days = NAN;
			continue;
		}
		if (strcmp(key, "population_offer_share") == 0 ||
			strcmp(key, "population_season_share") == 0)
		{
			/* null: measured over the population; else a share from 0 to 1 */
			double		x = NAN;

			if (v.type != jbvNull)
			{
				x = jsonb_number(&v, key);
				if (!(x >= 0 && x <= 1))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("churn option \"%s\" must be a share from 0 to 1 or null: %g",
									key, x)));
			}
			if (strcmp(key, "population_offer_share") == 0)
				s->population_offer_share = x;
			else
				s->population_season_share = x;
			continue;
		}
		if (strcmp(key, "season_months") == 0)
		{
			JsonbIterator *ait;
			JsonbValue	e;
			JsonbIteratorToken at;

			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("churn option \"season_months\" must be an array of months 1 to 12")));
			memset(s->season_months, 0, sizeof(s->season_months));
			ait = JsonbIteratorInit(v.val.binary.data);
			while ((at = JsonbIteratorNext(&ait, &e, true)) != WJB_DONE)
			{
				double		m;

				if (at != WJB_ELEM)
					continue;
				m = (e.type == jbvNumeric) ? jsonb_number(&e, key) : -1;
				if (m != floor(m) || m < 1 || m > 12)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("churn option \"season_months\" must be an array of months 1 to 12")));
				s->season_months[(int) m - 1] = true;
			}
			continue;
		}
		for (int i = 0;; i++)
		{
			const SettingDef *d;
			double		x;

			if (i == N_DEFS)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown churn option \"%s\"", key),
						 errhint("SELECT crm.churn_options('{}') lists the options and their defaults.")));
			d = &churn_defs[i];
			if (strcmp(key, d->name) != 0)
				continue;
			x = jsonb_number(&v, key);
			if (isnan(x) || x < d->min || x > d->max || (d->min_open && x == d->min))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("churn option \"%s\" is out of range: %g", key, x),
						 errdetail("It must lie in %s%g, %g].",
								   d->min_open ? "(" : "[", d->min, d->max)));
			*(double *) ((char *) s + d->offset) = x;
			break;
		}
	}
	if (s->lapsed_p > s->slipping_p)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("churn option \"lapsed_p\" (%g) must not exceed \"slipping_p\" (%g)",
						s->lapsed_p, s->slipping_p)));
}

/* P(X >= x) for a lognormal X with the given mean and coefficient of variation */
static double
lognormal_tail(double x, double mean, double cv)
{
	double		s2,
				mu;

	if (x <= 0)
		return 1.0;
	s2 = log1p(cv * cv);
	mu = log(mean) - s2 / 2;
	return 0.5 * erfc((log(x) - mu) / sqrt(2 * s2));
}

static const char *
churn_status(const ChurnSettings *s, double age, double silence,
			 double overdue, double p_gap)
{
	if (age < s->new_days)
		return "new";
	if (silence >= s->lost_days || overdue >= s->lost_overdue)
		return "lost";
	if (p_gap < s->lapsed_p)
		return "lapsed";
	if (p_gap < s->slipping_p)
		return "slipping";
	return "active";
}

const char *const churn_class_names[BC_N] = {
	"promo_dependent", "lost", "about_to_lose", "promising", "seasonal_sleeper",
	"at_risk", "drifting", "loyal", "unclassified"
};

/*
 * The prior means that the shares are shrunk toward (share_prior
 * pseudo-purchases) where the population is empty and no option sets them.
 */
#define PRIOR_OFFER_SHARE	0.1
#define PRIOR_SEASON_SHARE	0.5

/*
 * The evidence that x lies above c, in units of w, is tanh(z) with
 * z = (x - c) / w: from -1 through 0 on the border to 1.  The scores keep z
 * and take tanh once per class: tanh rises, so the minimum of the
 * conditions' evidence is tanh of the minimum of their z.
 */
static inline double
above(double x, double c, double w)
{
	return (x - c) / w;
}

/* the same on a log scale (x, c > 0; w in natural-log units) */
static inline double
above_log(double x, double c, double w)
{
	return log(Max(x, 1e-9) / c) / w;
}

/* a class's condition: the feature and its z; the score is their minimum */
static void
term(ChurnClassScore *k, const char *name, double value, double z)
{
	Assert(k->nterms < BC_MAX_TERMS);
	k->term_name[k->nterms] = name;
	k->term_value[k->nterms] = value;
	k->term_score[k->nterms] = z;
	if (k->nterms == 0 || z < k->score)
		k->score = z;
	k->nterms++;
}

/* the features the scores read (docs/churn.md, "The evidence") */
typedef struct ClassFeatures
{
	double		n;				/* purchases */
	double		age;
	double		silence;
	double		own_gap;		/* recent mean gap, or the expected gap for one purchase */
	double		own_cv;			/* 0 with fewer than two gaps */
	double		cv_before_last;	/* the window's gaps but the last: their cv (own_cv if < 3 gaps) */
	double		gap_before_last;	/* mean of the window's gaps but the last (own_gap if < 3 gaps) */
	double		pre_window_gap;	/* mean of the gaps before the profile's window; NaN if < 3 */
	double		last_gap;		/* the own gap for one purchase */
	double		recent_n;
	double		offers_since_last;
	double		offer_purchases;
	double		after_offer;	/* of the window's purchases, those that followed an offer */
	double		window_purchases;	/* the profile's window: min(n, 16) */
	double		in_season;
	double		prior_offer;	/* the population's share of purchases with an offer */
	double		prior_after;	/* ... of window purchases soon after an offer */
	double		prior_season;	/* ... of purchases in the season months */
} ClassFeatures;

/*
 * The score of every class (docs/churn.md states each with its settings):
 * each class's score is the minimum of the evidence of its conditions, a
 * number from -1 (clearly not) to 1 (clearly so); a class holds where its
 * score is positive, and the client's class is the one with the highest
 * score, unclassified (score 0) when none is positive.
 */
static void
class_scores(const ChurnSettings *s, const ClassFeatures *f, ChurnClassScore *k)
{
	double		a = s->share_prior;
	double		promo = (f->offer_purchases + a * f->prior_offer) / (f->n + a);
	double		after = (f->after_offer + a * f->prior_after) / (f->window_purchases + a);
	double		season = (f->in_season + a * f->prior_season) / (f->n + a);
	double		overdue = f->silence / f->own_gap;
	/*
	 * the recent gap: the last gap where it is long for the rhythm before it
	 * (a slowdown: from 1.5 to 3 times the gaps before it, the log of the
	 * recent gap moves from the mean gap's to the last gap's), else the
	 * window's mean gap
	 */
	double		rhythm_before = isnan(f->pre_window_gap) ? f->gap_before_last :
		Min(f->gap_before_last, f->pre_window_gap);
	double		slowdown = Min(Max(log(Max(f->last_gap, 1e-9) / rhythm_before) / M_LN2 - log2(1.5), 0), 1);
	double		recent_gap = exp(log(f->own_gap) + slowdown * (log(Max(f->own_gap, f->last_gap)) - log(f->own_gap)));
	double		overdue_recent = f->silence / recent_gap;
	double		overdue_longest = f->silence / Max(f->own_gap, f->last_gap);
	double		gone = above(f->silence, s->lost_days, 20);
	double		offered = above(f->offers_since_last, s->lost_offers - 0.5, 0.25);
	double		frequent = above(f->n, s->frequent_purchases + 0.5, 2);
	double		earlier_rate = -1;
	double		frequent_before = -1;
	double		recent_rate = f->recent_n > 0 ? f->recent_n / s->window_days : 1e-3;

	for (int i = 0; i < BC_N; i++)
	{
		k[i].nterms = 0;
		k[i].score = 0;
	}
	if (f->age > s->window_days)
	{
		earlier_rate = (f->n - f->recent_n - 1) / (f->age - s->window_days);
		/* was frequent: the rhythm before the window of recent gaps, where it is known */
		frequent_before = earlier_rate;
		if (!isnan(f->pre_window_gap))
			frequent_before = Max(earlier_rate, 1 / f->pre_window_gap);
	}

	/* promo-dependent: purchases with an offer's code, or soon after an offer */
	term(&k[BC_PROMO], "promo_evidence",
		 Max(promo, after) + 0.5 * Min(promo, after),
		 above(Max(promo, after) + 0.5 * Min(promo, after), s->promo_share, 0.1));

	/* lost: long gone, and offers did not bring the client back */
	term(&k[BC_LOST], "silence_days", f->silence, gone);
	term(&k[BC_LOST], "offers_since_last_purchase", f->offers_since_last, offered);

	/*
	 * about to lose: long gone without an offer tried, or stopped: silent
	 * for several of its recent gaps (the longer of its recent mean and its
	 * last gap, so that a client who slowed down is not taken for one who
	 * stopped), on a rhythm regular enough for that to mean something
	 */
	{
		ChurnClassScore st = {0};
		ChurnClassScore lg = {0};

		term(&lg, "silence_days", f->silence, gone);
		term(&lg, "offers_since_last_purchase", f->offers_since_last, -offered);
		term(&st, "silence_over_recent_gap", overdue_recent,
			 above_log(overdue_recent, s->about_to_lose_overdue, 0.25));
		term(&st, "silence_days", f->silence, Min(above(f->silence, s->about_to_lose_days, 10), -gone));
		term(&st, "gap_cv", f->own_cv, above_log(s->drifting_cv, Max(f->own_cv, 1e-3), 0.3));
		k[BC_ABOUT_TO_LOSE] = lg.score >= st.score ? lg : st;
	}

	term(&k[BC_PROMISING], "age_days", f->age, above(s->promising_days, f->age, 10));
	term(&k[BC_PROMISING], "purchases", f->n, above(f->n, s->promising_purchases - 0.5, 0.5));
	term(&k[BC_PROMISING], "own_gap_days", f->own_gap,
		 above_log(s->promising_gap_days, f->own_gap, 0.3));
	term(&k[BC_PROMISING], "overdue_ratio", overdue,
		 above_log(s->about_to_lose_overdue, overdue, 0.3));

	term(&k[BC_SEASONAL], "purchases", f->n, above(f->n, 1.5, 0.5));
	term(&k[BC_SEASONAL], "season_share_shrunk", season, above(season, s->season_share, 0.08));
	term(&k[BC_SEASONAL], "age_days", f->age, above(f->age, s->promising_days, 10));
	term(&k[BC_SEASONAL], "own_gap_days", f->own_gap,
		 above_log(f->own_gap, s->seasonal_gap_days, 0.3));

	if (earlier_rate < 0)
		term(&k[BC_AT_RISK], "earlier_rate", 0, -HUGE_VAL);
	else
	{
		term(&k[BC_AT_RISK], "purchases", f->n, frequent);
		term(&k[BC_AT_RISK], "earlier_rate", frequent_before,
			 above_log(frequent_before * s->loyal_gap_days * 1.3, 1, 0.3));
		term(&k[BC_AT_RISK], "rate_ratio", recent_rate / earlier_rate,
			 above_log(s->at_risk_rate_ratio * earlier_rate, recent_rate, 0.3));
		term(&k[BC_AT_RISK], "silence_days", f->silence,
			 above(s->lost_days / 3, f->silence, 10));
		term(&k[BC_AT_RISK], "silence_over_longest_recent_gap", overdue_longest,
			 above_log(s->about_to_lose_overdue * 1.5, overdue_longest, 0.25));
	}

	term(&k[BC_DRIFTING], "purchases", f->n, frequent);
	term(&k[BC_DRIFTING], "gap_cv", f->own_cv, above_log(Max(f->own_cv, 1e-3), s->drifting_cv, 0.2));
	/* more than one long gap: a single one at the end is a slowdown, not a drift */
	term(&k[BC_DRIFTING], "gap_cv_before_last", f->cv_before_last,
		 above_log(Max(f->cv_before_last, 1e-3), s->drifting_cv, 0.2));
	term(&k[BC_DRIFTING], "silence_days", f->silence, above(s->drifting_days, f->silence, 10));

	term(&k[BC_LOYAL], "purchases", f->n, frequent);
	/* established: a client younger than promising_days is promising instead */
	term(&k[BC_LOYAL], "age_days", f->age, above(f->age, s->promising_days, 10));
	if (earlier_rate >= 0)
		term(&k[BC_LOYAL], "not_at_risk", tanh(k[BC_AT_RISK].score), -k[BC_AT_RISK].score);
	term(&k[BC_LOYAL], "own_gap_days", f->own_gap, above_log(s->loyal_gap_days, f->own_gap, 0.2));
	term(&k[BC_LOYAL], "gap_cv", f->own_cv, above_log(s->drifting_cv, Max(f->own_cv, 1e-3), 0.2));
	term(&k[BC_LOYAL], "overdue_ratio", overdue,
		 Max(above_log(s->about_to_lose_overdue, overdue, 0.3),
			 above(s->about_to_lose_days, f->silence, 10)));

	/* the evidence of each class: tanh of its z */
	for (int i = 0; i < BC_UNCLASSIFIED; i++)
		k[i].score = tanh(k[i].score);
	k[BC_UNCLASSIFIED].score = 0;
}

/* the best class and the runner-up (ties: the first in class order) */
static void
class_choice(const ChurnClassScore *k, int *best, int *second)
{
	*best = -1;
	*second = -1;
	for (int i = 0; i < BC_N; i++)
	{
		if (*best < 0 || k[i].score > k[*best].score)
		{
			*second = *best;
			*best = i;
		}
		else if (*second < 0 || k[i].score > k[*second].score)
			*second = i;
	}
}

/* a float as a JSON number: 17 significant digits, nonfinite as null */
static char *
json_number(double x)
{
	if (isnan(x) || isinf(x))
		return "null";
	return psprintf("%.17g", x);
}

static ChurnCache *
churn_cache(FunctionCallInfo fcinfo, Oid profile_type, bool composite_result)
{
	ChurnCache *c = (ChurnCache *) fcinfo->flinfo->fn_extra;

	if (c == NULL || c->profile_type != profile_type)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		TupleDesc	pd;
		TupleDesc	rd;

		pd = lookup_rowtype_tupdesc_copy(profile_type, -1);
		if (pd->natts != PROFILE_NATTS ||
			TupleDescAttr(pd, PF_LAST)->atttypid != TIMESTAMPTZOID ||
			TupleDescAttr(pd, PF_PURCHASES)->atttypid != INT8OID ||
			TupleDescAttr(pd, PF_GAP_WINDOW)->atttypid != INT4OID ||
			TupleDescAttr(pd, PF_MONTHS)->atttypid != INT4ARRAYOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("churn_signal expects a crm.purchase_profile value")));
		rd = NULL;
		if (composite_result)
		{
			if (get_call_result_type(fcinfo, NULL, &rd) != TYPEFUNC_COMPOSITE)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("function returning record called in context that cannot accept type record")));
			if (rd->natts != CS_NATTS)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("crm.churn_signal has %d fields, expected %d", rd->natts, CS_NATTS)));
			rd = BlessTupleDesc(CreateTupleDescCopy(rd));
		}
		if (c == NULL)
			c = palloc0(sizeof(ChurnCache));
		c->profile_type = profile_type;
		c->profile_desc = pd;
		c->result_desc = rd;
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = c;
	}
	return c;
}

static const ChurnSettings *
churn_settings(FunctionCallInfo fcinfo, ChurnCache *c, Jsonb *options)
{
	if (c->options == NULL || VARSIZE(c->options) != VARSIZE(options) ||
		memcmp(c->options, options, VARSIZE(options)) != 0)
	{
		ChurnSettings s;

		churn_settings_parse(options, &s);
		if (c->options)
			pfree(c->options);
		c->options = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, VARSIZE(options));
		memcpy(c->options, options, VARSIZE(options));
		c->settings = s;
	}
	return &c->settings;
}

/* Days from a to b, in 128 bits: the difference can exceed an int64. */
static double
days_between(TimestampTz b, TimestampTz a)
{
	return (double) ((int128) b - (int128) a) / (USECS_PER_SEC * SECS_PER_DAY_F);
}

/*
 * A float field of the profile that the signals read: NULL, or a finite
 * number within [0, max].  A profile from crm.purchase_profile always is;
 * one written by hand may not be, and NaN or infinity would pass into every
 * signal.
 */
static void
check_profile_field(Datum d, bool isnull, const char *field, double max)
{
	double		x;

	if (isnull)
		return;
	x = DatumGetFloat8(d);
	if (isnan(x) || x < 0 || x > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("inconsistent purchase profile: %s is %s", field,
						float8out_internal(x)),
				 errdetail("It must be a finite number from 0 to %s.",
						   float8out_internal(max))));
}

/*
 * crm.churn_signal(profile crm.purchase_profile, as_of timestamptz,
 *					population_gap_days float8, recent_purchases bigint,
 *					previous_purchases bigint, last_engagement timestamptz,
 *					offers_since_last bigint, options jsonb)
 *
 * Not strict: a NULL profile or as_of gives NULL; a NULL count is 0, a NULL
 * last_engagement means none.  population_gap_days must be positive (it is
 * what a client without a gap is expected to wait).
 */
static Datum churn_signal_common(FunctionCallInfo fcinfo, ChurnClassScore *scores,
								 ChurnCache **cache);

/*
 * The population's counts from the argument population_counts: bigint[16],
 * {purchases, purchases with an offer, purchases in the profiles' windows,
 * of those the ones soon after an offer, then purchases per month, January
 * to December}; errors name what is wrong.
 */
static void
population_counts(ArrayType *a, ChurnPopulation *p)
{
	int64	   *x;
	int64		months = 0;

	if (ARR_NDIM(a) != 1 || ARR_DIMS(a)[0] != CHURN_POPULATION_COUNTS ||
		ARR_HASNULL(a) || ARR_ELEMTYPE(a) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("population_counts must be %d counts without nulls",
						CHURN_POPULATION_COUNTS)));
	x = (int64 *) ARR_DATA_PTR(a);
	for (int i = 0; i < CHURN_POPULATION_COUNTS; i++)
		if (x[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("population_counts[%d] is negative: %lld", i + 1,
							(long long) x[i])));
	p->purchases = x[0];
	p->offer_purchases = x[1];
	p->window_purchases = x[2];
	p->after_offer = x[3];
	for (int i = 0; i < 12; i++)
	{
		p->months[i] = x[4 + i];
		if (__builtin_add_overflow(months, x[4 + i], &months))
			months = PG_INT64_MAX;	/* beyond any count of purchases */
	}
	if (p->offer_purchases > p->purchases || p->window_purchases > p->purchases ||
		p->after_offer > p->window_purchases || months > p->purchases)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("inconsistent population_counts: %lld purchases, %lld with an offer, %lld in the windows, %lld after an offer, %lld by month",
						(long long) p->purchases, (long long) p->offer_purchases,
						(long long) p->window_purchases, (long long) p->after_offer,
						(long long) months)));
}

Datum
churn_signal(PG_FUNCTION_ARGS)
{
	return churn_signal_common(fcinfo, NULL, NULL);
}

/*
 * The body of crm.churn_signal and crm.churn_class_scores, which take the
 * same arguments: the signals (NULL when the profile or as_of is NULL),
 * the classes' scores into scores[] when it is not NULL.
 */
static Datum
churn_signal_common(FunctionCallInfo fcinfo, ChurnClassScore *scores, ChurnCache **cache)
{
	HeapTupleHeader ph;
	HeapTupleData tuple;
	Datum		pv[PROFILE_NATTS];
	bool		pn[PROFILE_NATTS];
	Datum		values[CS_NATTS];
	bool		nulls[CS_NATTS];
	ChurnCache *c;
	const ChurnSettings *s;
	ChurnPopulation population;
	const ChurnPopulation *pop = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(2) || PG_ARGISNULL(7))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("population_gap_days and options must not be null")));

	ph = PG_GETARG_HEAPTUPLEHEADER(0);
	c = churn_cache(fcinfo, HeapTupleHeaderGetTypeId(ph), scores == NULL);
	s = churn_settings(fcinfo, c, PG_GETARG_JSONB_P(7));

	tuple.t_len = HeapTupleHeaderGetDatumLength(ph);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = ph;
	heap_deform_tuple(&tuple, c->profile_desc, pv, pn);

	if (PG_NARGS() > 9 && !PG_ARGISNULL(9))
	{
		population_counts(PG_GETARG_ARRAYTYPE_P(9), &population);
		pop = &population;
	}
	churn_compute(s, pv, pn, PG_GETARG_TIMESTAMPTZ(1), PG_GETARG_FLOAT8(2),
				  PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3),
				  PG_ARGISNULL(4) ? 0 : PG_GETARG_INT64(4),
				  !PG_ARGISNULL(5), PG_ARGISNULL(5) ? 0 : PG_GETARG_TIMESTAMPTZ(5),
				  PG_ARGISNULL(6) ? 0 : PG_GETARG_INT64(6),
				  (PG_NARGS() > 8 && !PG_ARGISNULL(8)) ? PG_GETARG_INT64(8) : 0,
				  pop, values, nulls, scores);
	if (cache)
		*cache = c;
	if (scores)
		return (Datum) 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(c->result_desc, values, nulls)));
}

/*
 * crm.churn_class_scores(the arguments of crm.churn_signal) -> SETOF
 * (class, score, chosen, conditions jsonb): each class's score and the
 * conditions it is the minimum of, with the feature each reads and its
 * evidence; unclassified last, with score 0.  No rows for a NULL profile
 * or as_of.
 */
Datum
churn_class_scores(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ChurnClassScore k[BC_N];
	int			best,
				second;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;
	churn_signal_common(fcinfo, k, NULL);
	class_choice(k, &best, &second);
	for (int i = 0; i < BC_N; i++)
	{
		Datum		v[4];
		bool		isnull[4] = {false, false, false, false};
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoChar(&buf, '[');
		for (int t = 0; t < k[i].nterms; t++)
			appendStringInfo(&buf, "%s{\"feature\": \"%s\", \"value\": %s, \"evidence\": %s}",
							 t ? ", " : "", k[i].term_name[t],
							 json_number(k[i].term_value[t]), json_number(tanh(k[i].term_score[t])));
		appendStringInfoChar(&buf, ']');
		v[0] = CStringGetTextDatum(churn_class_names[i]);
		v[1] = Float8GetDatum(k[i].score);
		v[2] = CStringGetTextDatum(i == best ? "class" : i == second ? "runner-up" : "");
		v[3] = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, isnull);
	}
	return (Datum) 0;
}

/*
 * The CS_NATTS fields of crm.churn_signal from the fields of a client's
 * purchase profile (pv, pn: PROFILE_NATTS of them) and the other inputs.
 */
void
churn_compute(const ChurnSettings *s, const Datum *pv, const bool *pn,
			  TimestampTz as_of, double population_gap, int64 recent_count,
			  int64 previous_count, bool has_engagement, TimestampTz engagement,
			  int64 offers_count, int64 after_offer,
			  const ChurnPopulation *population, Datum *values, bool *nulls,
			  ChurnClassScore *scores)
{
	ChurnClassScore own_scores[BC_N];
	ClassFeatures f;
	int			best,
				second;
	int			window_n;
	TimestampTz first,
				last;
	int64		n;
	int			g;
	double		recent_n = (double) recent_count,
				previous_n = (double) previous_count,
				offers = (double) offers_count;
	double		age,
				silence,
				own_gap,
				own_sd,
				own_cv,
				expected,
				cv,
				overdue,
				p_gap,
				season_share;
	int64		in_season = 0;
	ArrayType  *months;

	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be finite")));
	if (!(population_gap > 0) || isinf(population_gap))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("population_gap_days must be positive and finite: %g", population_gap)));
	if (recent_n < 0 || previous_n < 0 || offers < 0 || after_offer < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purchase and offer counts must not be negative")));

	if (pn[PF_FIRST] || pn[PF_LAST] || pn[PF_PURCHASES] || pn[PF_GAP_WINDOW])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purchase profile without first, last purchase or count")));
	first = DatumGetTimestampTz(pv[PF_FIRST]);
	last = DatumGetTimestampTz(pv[PF_LAST]);
	n = DatumGetInt64(pv[PF_PURCHASES]);
	g = DatumGetInt32(pv[PF_GAP_WINDOW]);
	window_n = g + 1;

	if (last > as_of)
	{
		char	   *last_s = pstrdup(timestamptz_to_str(last));
		char	   *as_of_s = pstrdup(timestamptz_to_str(as_of));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("last purchase %s is after as_of %s", last_s, as_of_s),
				 errhint("Count only the purchases at or before as_of.")));
	}
	if (n < 1 || g < 0 || g >= n || first > last)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("inconsistent purchase profile: %lld purchases, %d gaps",
						(long long) n, g)));
	if (TIMESTAMP_NOT_FINITE(first))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("inconsistent purchase profile: first purchase %s is not finite",
						timestamptz_to_str(first))));
	check_profile_field(pv[PF_RECENT_GAP], pn[PF_RECENT_GAP], "recent_mean_gap_days",
						DBL_MAX);
	check_profile_field(pv[PF_GAP_SD], pn[PF_GAP_SD], "gap_sd_days", DBL_MAX);
	check_profile_field(pv[PF_OFFER_SHARE], pn[PF_OFFER_SHARE], "offer_share", 1);
	check_profile_field(pv[PF_LAST_GAP], pn[PF_LAST_GAP], "last_gap_days", DBL_MAX);
	if (!pn[PF_OFFER_PURCHASES] &&
		(DatumGetInt64(pv[PF_OFFER_PURCHASES]) < 0 || DatumGetInt64(pv[PF_OFFER_PURCHASES]) > n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("inconsistent purchase profile: %lld purchases with an offer, %lld in all",
						(long long) DatumGetInt64(pv[PF_OFFER_PURCHASES]), (long long) n)));
	if (after_offer > window_n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purchases after an offer (%lld) exceed the %d purchases of the profile's window",
						(long long) after_offer, window_n)));
	if (recent_n + previous_n > (double) n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recent (%g) and previous (%g) purchases exceed the %lld purchases of the profile",
						recent_n, previous_n, (long long) n)));

	age = days_between(as_of, first);
	silence = days_between(as_of, last);

	/* the client's own rhythm, over the profile's window of recent gaps */
	own_gap = NAN;
	own_cv = NAN;
	own_sd = 0;
	if (g >= 1 && !pn[PF_RECENT_GAP])
	{
		own_gap = Max(DatumGetFloat8(pv[PF_RECENT_GAP]), s->min_gap_days);
		if (g >= 2 && !pn[PF_GAP_SD])
		{
			own_sd = DatumGetFloat8(pv[PF_GAP_SD]);
			own_cv = own_sd / own_gap;
		}
	}
	else
		g = 0;

	/* shrink toward the population: prior_gaps pseudo-gaps of its rhythm */
	if (g == 0)
		expected = population_gap;
	else
		expected = (g * own_gap + s->prior_gaps * population_gap) / (g + s->prior_gaps);
	if (g >= 2 && !isnan(own_cv))
	{
		double		w = (g - 1) / (g - 1 + s->prior_gaps);

		cv = w * own_cv + (1 - w) * s->population_cv;
	}
	else
		cv = s->population_cv;
	cv = Max(cv, 0.05);

	overdue = silence / expected;
	p_gap = lognormal_tail(silence, expected, cv);

	months = pn[PF_MONTHS] ? NULL : DatumGetArrayTypeP(pv[PF_MONTHS]);
	if (months && ARR_NDIM(months) == 1 && ARR_DIMS(months)[0] == 12 &&
		!ARR_HASNULL(months) && ARR_ELEMTYPE(months) == INT4OID)
	{
		int32	   *m = (int32 *) ARR_DATA_PTR(months);
		int64		all = 0;

		for (int i = 0; i < 12; i++)
		{
			if (m[i] < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("inconsistent purchase profile: month_purchases[%d] is %d",
								i + 1, m[i])));
			all += m[i];
			if (s->season_months[i])
				in_season += m[i];
		}
		if (all > n)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("inconsistent purchase profile: %lld purchases by month, %lld in all",
							(long long) all, (long long) n)));
	}
	season_share = (double) in_season / (double) n;

	memset(nulls, 0, sizeof(bool) * CS_NATTS);
	values[CS_AGE] = Float8GetDatum(age);
	values[CS_SILENCE] = Float8GetDatum(silence);
	values[CS_OWN_GAP] = Float8GetDatum(own_gap);
	nulls[CS_OWN_GAP] = isnan(own_gap);
	values[CS_EXPECTED_GAP] = Float8GetDatum(expected);
	values[CS_GAP_CV] = Float8GetDatum(cv);
	values[CS_OVERDUE] = Float8GetDatum(overdue);
	values[CS_P_GAP] = Float8GetDatum(p_gap);
	values[CS_SEASON_SHARE] = Float8GetDatum(season_share);
	if (!has_engagement)
		nulls[CS_ENGAGEMENT_SILENCE] = true;
	else
	{
		TimestampTz e = engagement;

		if (TIMESTAMP_NOT_FINITE(e) || e > as_of)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("last engagement %s is not a finite time at or before as_of",
							timestamptz_to_str(e))));
		values[CS_ENGAGEMENT_SILENCE] = Float8GetDatum(days_between(as_of, e));
	}
	values[CS_OFFERS] = Int64GetDatum(offers_count);
	values[CS_STATUS] = CStringGetTextDatum(churn_status(s, age, silence, overdue, p_gap));
	f.n = (double) n;
	f.age = age;
	f.silence = silence;
	f.own_gap = isnan(own_gap) ? expected : own_gap;
	f.own_cv = isnan(own_cv) ? 0 : own_cv;
	f.cv_before_last = f.own_cv;
	f.gap_before_last = f.own_gap;
	f.pre_window_gap = NAN;
	if (g >= 1 && n - 1 - g >= 3 && !pn[PF_SPAN])
		f.pre_window_gap = Max((DatumGetFloat8(pv[PF_SPAN]) - g * DatumGetFloat8(pv[PF_RECENT_GAP])) /
							   (double) (n - 1 - g), s->min_gap_days);
	if (g >= 3 && !isnan(own_cv) && !pn[PF_LAST_GAP])
	{
		/*
		 * The window's g gaps without the last one: their mean and sample
		 * deviation from the window's (mean, deviation and last gap), by
		 * taking the last gap out of the sums.
		 */
		double		mean = DatumGetFloat8(pv[PF_RECENT_GAP]);
		double		lastg = DatumGetFloat8(pv[PF_LAST_GAP]);
		double		m1 = (g * mean - lastg) / (g - 1);
		double		ss1 = (g - 1) * own_sd * own_sd - (g - 1.0) / g * (lastg - m1) * (lastg - m1);

		f.cv_before_last = sqrt(Max(ss1, 0) / (g - 2)) / Max(m1, s->min_gap_days);
		f.gap_before_last = Max(m1, s->min_gap_days);
	}
	f.last_gap = (!pn[PF_LAST_GAP] && g >= 1) ? DatumGetFloat8(pv[PF_LAST_GAP]) : f.own_gap;
	f.recent_n = recent_n;
	f.offers_since_last = offers;
	f.offer_purchases = pn[PF_OFFER_PURCHASES] ? 0 : (double) DatumGetInt64(pv[PF_OFFER_PURCHASES]);
	f.after_offer = (double) after_offer;
	f.window_purchases = (double) window_n;
	f.in_season = (double) in_season;

	/*
	 * The priors of the shares: the options, else the population's shares
	 * (exact counts), else the fixed means for an empty population.
	 */
	f.prior_offer = PRIOR_OFFER_SHARE;
	f.prior_after = PRIOR_OFFER_SHARE;
	f.prior_season = PRIOR_SEASON_SHARE;
	if (population && population->purchases > 0)
	{
		int64		pop_season = 0;

		for (int i = 0; i < 12; i++)
			if (s->season_months[i])
				pop_season += population->months[i];
		f.prior_offer = (double) population->offer_purchases / (double) population->purchases;
		f.prior_season = (double) pop_season / (double) population->purchases;
	}
	if (population && population->window_purchases > 0)
		f.prior_after = (double) population->after_offer / (double) population->window_purchases;
	if (!isnan(s->population_offer_share))
		f.prior_offer = f.prior_after = s->population_offer_share;
	if (!isnan(s->population_season_share))
		f.prior_season = s->population_season_share;
	if (scores == NULL)
		scores = own_scores;
	class_scores(s, &f, scores);
	class_choice(scores, &best, &second);
	values[CS_CLASS] = CStringGetTextDatum(churn_class_names[best]);
	values[CS_CONFIDENCE] = Float8GetDatum(scores[best].score - scores[second].score);
	values[CS_RUNNER_UP] = CStringGetTextDatum(churn_class_names[second]);
}

/*
 * crm.churn_options(options jsonb) -> jsonb: every setting with the value
 * that the options give it (defaults for the others); errors as churn_signal.
 */
Datum
churn_options(PG_FUNCTION_ARGS)
{
	Jsonb	   *options = PG_GETARG_JSONB_P(0);
	ChurnSettings s;
	StringInfoData buf;
	bool		first = true;

	churn_settings_parse(options, &s);
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < N_DEFS; i++)
	{
		double		x = *(double *) ((char *) &s + churn_defs[i].offset);
		char	   *num = float8out_internal(x);

		appendStringInfo(&buf, "%s\"%s\": %s", first ? "" : ", ",
						 churn_defs[i].name, num);
		first = false;
	}
	if (isnan(s.population_gap_days))
		appendStringInfoString(&buf, ", \"population_gap_days\": null");
	else
		appendStringInfo(&buf, ", \"population_gap_days\": %s",
						 float8out_internal(s.population_gap_days));
	if (isnan(s.population_offer_share))
		appendStringInfoString(&buf, ", \"population_offer_share\": null");
	else
		appendStringInfo(&buf, ", \"population_offer_share\": %s",
						 float8out_internal(s.population_offer_share));
	if (isnan(s.population_season_share))
		appendStringInfoString(&buf, ", \"population_season_share\": null");
	else
		appendStringInfo(&buf, ", \"population_season_share\": %s",
						 float8out_internal(s.population_season_share));
	appendStringInfoString(&buf, ", \"season_months\": [");
	first = true;
	for (int i = 0; i < 12; i++)
		if (s.season_months[i])
		{
			appendStringInfo(&buf, "%s%d", first ? "" : ", ", i + 1);
			first = false;
		}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
