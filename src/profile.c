/*-------------------------------------------------------------------------
 *
 * src/profile.c
 *
 * The per-client purchase profile: crm.purchase_profile(purchased_at,
 * amount [, offer]), an aggregate that reads a client's purchases in one
 * pass, in any order, and returns the composite crm.purchase_profile that
 * RFM scoring, churn signals and CLV models read.
 *
 * The state is small and flat (ProfileState, a fixed size) and every field
 * of it is a function of the multiset of purchases, never of their order, so
 * that combining two partial states is exact however the rows were split:
 *
 *	- count, money totals (an exact fixed-point integer), offer count;
 *	- first and last purchase time, and the count and spend of the purchases
 *	  at the first instant (for repeat purchases and their mean value);
 *	- the latest PROFILE_WINDOW purchase times, sorted: the top-K of a
 *	  multiset merges exactly, so the spread of the gaps is exact over all
 *	  gaps for a client with at most PROFILE_WINDOW purchases, and over the
 *	  most recent PROFILE_WINDOW - 1 gaps otherwise (documented as such);
 *	- purchases per calendar month (UTC), for seasonality.
 *
 * The mean gap over all gaps needs no order: (last - first) / (n - 1).
 *
 * Amounts are numeric; they are accumulated as int128 millionths (values
 * with more than six decimals are rounded half away from zero to six), read
 * straight from the numeric's digits so that no per-row allocation or
 * string conversion is needed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "profile.h"

#ifndef HAVE_INT128
#error "crm needs a compiler with a 128-bit integer type"
#endif

/*
 * serialised state: format version byte first; the second format (the
 * state with window bounds) adds two windows after the profile's bytes:
 * n (int64), total (int128) and scale (one byte) each
 */
#define PROFILE_SERIAL_VERSION	1
#define PROFILE_SERIAL_WINDOWS	2
#define PROFILE_WINDOWS_BYTES	(2 * (8 + 16 + 1))

PG_FUNCTION_INFO_V1(profile_transfn);
PG_FUNCTION_INFO_V1(profile_combinefn);
PG_FUNCTION_INFO_V1(profile_serialfn);
PG_FUNCTION_INFO_V1(profile_deserialfn);
PG_FUNCTION_INFO_V1(profile_finalfn);
PG_FUNCTION_INFO_V1(profile_state_size);
PG_FUNCTION_INFO_V1(profile_from_state);
PG_FUNCTION_INFO_V1(profile_windows_combinefn);
PG_FUNCTION_INFO_V1(profile_windows_serialfn);
PG_FUNCTION_INFO_V1(profile_windows_deserialfn);

static Datum profile_result(FunctionCallInfo fcinfo, const ProfileState *s);

static const int128 pow10_128[] = {
	1, 10, 100, 1000, 10000, 100000, 1000000
};

/* what micro_of found wrong with a numeric */
enum
{
	MICRO_OK, MICRO_SPECIAL, MICRO_RANGE
};

/*
 * Reads a numeric's digits into millionths, without detoasting into a new
 * 4-byte-header copy and without any allocation.  The numeric on-disk format
 * (sign, display scale, weight, base-10000 digits) is stable across major
 * versions, pg_upgrade relies on it.  *dscale receives the display scale,
 * *problem MICRO_OK, or why there is no value (NaN or an infinity; 10^24 or
 * more).
 */
static int128
micro_of(Datum d, int *dscale, int *problem)
{
	struct varlena *v = PG_DETOAST_DATUM_PACKED(d);
	const char *p = VARDATA_ANY(v);
	int			len = VARSIZE_ANY_EXHDR(v);
	uint16		header;
	int			weight;
	bool		negative;
	int			hdrlen;
	int			ndigits;
	int128		acc = 0;
	int			i;

	if (len < (int) sizeof(uint16))
		elog(ERROR, "invalid numeric datum");
	memcpy(&header, p, sizeof(uint16));

	*problem = MICRO_OK;
	*dscale = 0;
	if ((header & 0xC000) == 0xC000)
	{
		/* a special value is never stored out of line: nothing to free */
		*problem = MICRO_SPECIAL;
		return 0;
	}

	if (header & 0x8000)
	{
		/* short format: sign, dscale and weight packed into the header */
		negative = (header & 0x2000) != 0;
		*dscale = (header & 0x1F80) >> 7;
		weight = (header & 0x0040) ? (int) (~0x003F | (header & 0x003F)) : (header & 0x003F);
		hdrlen = sizeof(uint16);
	}
	else
	{
		int16		w;

		if (len < (int) (2 * sizeof(uint16)))
			elog(ERROR, "invalid numeric datum");
		negative = (header & 0xC000) == 0x4000;
		*dscale = header & 0x3FFF;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		weight = w;
		hdrlen = 2 * sizeof(uint16);
	}
	ndigits = (len - hdrlen) / sizeof(int16);

	if (ndigits > 0 && weight > 5)
	{
		*problem = MICRO_RANGE;
		ndigits = 0;
		weight = -3;			/* no digit read: the value is 0 */
	}

	/*
	 * Accumulate the digits of weight >= -2, that is, in units of 10^-8;
	 * digits further right cannot change the rounding to 10^-6 (see below).
	 */
	for (i = 0; i < ndigits && weight - i >= -2; i++)
	{
		int16		digit;

		memcpy(&digit, p + hdrlen + i * sizeof(int16), sizeof(int16));
		acc = acc * 10000 + digit;
	}
	for (; weight - i >= -2; i++)
		acc *= 10000;

	/*
	 * Round half away from zero to 10^-6: the result rounds up exactly when
	 * the two dropped decimals are >= 50, whatever follows them.
	 */
	acc = (acc + 50) / 100;

	if ((char *) v != DatumGetPointer(d))
		pfree(v);

	return negative ? -acc : acc;
}

int128
profile_numeric_to_micro(Datum d, int *dscale)
{
	int			problem;
	int128		acc = micro_of(d, dscale, &problem);

	if (problem == MICRO_SPECIAL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purchase amount must be a finite number"),
				 errdetail("The amount is %s.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, d)))));
	if (problem == MICRO_RANGE)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("purchase amount out of range"),
				 errdetail("The amount is %s; amounts must be below 10^24.",
						   DatumGetCString(DirectFunctionCall1(numeric_out, d)))));
	return acc;
}

bool
profile_numeric_exact_micro(Datum d, int128 *micro, int *dscale)
{
	int			problem;

	*micro = micro_of(d, dscale, &problem);
	return problem == MICRO_OK && *dscale <= PROFILE_SCALE;
}

/* Converts millionths to a numeric of the given display scale (<= 6). */
Datum
profile_micro_to_numeric(int128 v, int scale)
{
	int128		q = v / pow10_128[PROFILE_SCALE - scale];
	char		buf[64];
	char	   *p = buf + sizeof(buf) - 1;
	bool		negative = q < 0;
	uint128		u;
	int			digits = 0;

	if (q >= PG_INT64_MIN && q <= PG_INT64_MAX)
		return NumericGetDatum(int64_div_fast_to_numeric((int64) q, scale));

	/* beyond int64: go through text */
	u = negative ? -(uint128) q : (uint128) q;
	*p = '\0';
	while (u > 0 || digits <= scale)
	{
		*--p = '0' + (int) (u % 10);
		u /= 10;
		if (++digits == scale && scale > 0)
			*--p = '.';
	}
	if (negative)
		*--p = '-';
	return DirectFunctionCall3(numeric_in, CStringGetDatum(p),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/* Calendar month 0..11 of a finite time, in UTC (immutable: no TimeZone). */
static inline int
profile_month(TimestampTz t)
{
	int64		days = t / USECS_PER_DAY;
	int			year;
	int			month;
	int			day;

	if (t < 0 && t % USECS_PER_DAY != 0)
		days--;
	j2date((int) (days + POSTGRES_EPOCH_JDATE), &year, &month, &day);
	return month - 1;
}

static inline void
profile_add32(int32 *acc, int32 v)
{
	if (pg_add_s32_overflow(*acc, v, acc))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("purchase profile month count out of range")));
}

/* Puts t into the window of the latest PROFILE_WINDOW times. */
static void
profile_window_add(ProfileState *s, TimestampTz t)
{
	int			i;

	if (s->nwin < PROFILE_WINDOW)
	{
		/* room left: insert in place, scanning from the newest end */
		for (i = s->nwin; i > 0 && s->win[i - 1] > t; i--)
			s->win[i] = s->win[i - 1];
		s->win[i] = t;
		s->nwin++;
		return;
	}

	/* full: t enters only if it is later than the oldest kept time */
	if (t <= s->win[0])
		return;
	for (i = 0; i < PROFILE_WINDOW - 1 && s->win[i + 1] < t; i++)
		s->win[i] = s->win[i + 1];
	s->win[i] = t;
}

/* A purchase time must be finite: an error naming it otherwise. */
void
profile_check_time(TimestampTz t)
{
	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purchase time must be finite"),
				 errdetail("The purchase time is %s.",
						   timestamptz_to_str(t))));
}

/*
 * crm.purchase_profile transition: (state, purchased_at, amount [, offer]).
 * A row with a NULL time or amount is not a purchase and is skipped; a NULL
 * offer counts as no offer.
 *
 * With window bounds (state, purchased_at, amount, offer, recent_from,
 * previous_from), the transition of crm.purchase_profile_state's second
 * form: the state is a ProfileWindows, whose windows take the purchases
 * after recent_from, and those after previous_from up to recent_from (a
 * NULL bound: the window takes no purchase, as SQL's t > NULL).  The
 * windows' bounds are each row's own: constants in practice.
 */
Datum
profile_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	ProfileState *s;
	TimestampTz t;
	int128		amount;
	int			dscale;
	bool		offer;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "profile_transfn called in non-aggregate context");

	s = PG_ARGISNULL(0) ? NULL : (ProfileState *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}

	t = PG_GETARG_TIMESTAMPTZ(1);
	profile_check_time(t);
	amount = profile_numeric_to_micro(PG_GETARG_DATUM(2), &dscale);
	offer = PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);

	if (s == NULL)
		s = (ProfileState *) MemoryContextAllocZero(aggcontext, PG_NARGS() > 4 ?
													sizeof(ProfileWindows) :
													sizeof(ProfileState));
	profile_state_add(s, t, amount, dscale, offer);
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
	{
		ProfileWindow *w = ((ProfileWindows *) s)->w;

		if (t > PG_GETARG_TIMESTAMPTZ(4))
			profile_window_sum_add(&w[0], amount, dscale);
		else if (!PG_ARGISNULL(5) && t > PG_GETARG_TIMESTAMPTZ(5))
			profile_window_sum_add(&w[1], amount, dscale);
	}

	PG_RETURN_POINTER(s);
}

/*
 * Adds one purchase (a finite time, an amount in millionths and its display
 * scale) to a state; a zeroed state is the empty one.
 */
void
profile_state_add(ProfileState *s, TimestampTz t, int128 amount, int dscale,
				  bool offer)
{
	if (s->n == 0)
	{
		s->first = t;
		s->last = t;
	}

	s->n++;
	profile_add_amount(&s->total, amount);
	if (offer)
		s->n_offer++;
	s->scale = Max(s->scale, Min(dscale, PROFILE_SCALE));

	if (s->n == 1 || t < s->first)
	{
		s->first = t;
		s->n_first = 1;
		s->first_total = amount;
	}
	else if (t == s->first)
	{
		s->n_first++;
		profile_add_amount(&s->first_total, amount);
	}
	if (t > s->last)
		s->last = t;

	profile_window_add(s, t);
	profile_add32(&s->months[profile_month(t)], 1);
}

/* Merges b into a; both non-empty. */
static void
profile_merge(ProfileState *a, const ProfileState *b)
{
	TimestampTz merged[PROFILE_WINDOW];
	int			i = a->nwin - 1;
	int			j = b->nwin - 1;
	int			k;
	int			m = Min(a->nwin + b->nwin, PROFILE_WINDOW);

	a->n += b->n;
	a->n_offer += b->n_offer;
	profile_add_amount(&a->total, b->total);
	a->scale = Max(a->scale, b->scale);

	if (b->first < a->first)
	{
		a->first = b->first;
		a->n_first = b->n_first;
		a->first_total = b->first_total;
	}
	else if (b->first == a->first)
	{
		a->n_first += b->n_first;
		profile_add_amount(&a->first_total, b->first_total);
	}
	a->last = Max(a->last, b->last);
	for (k = 0; k < 12; k++)
		profile_add32(&a->months[k], b->months[k]);

	/* the latest m of the union, taken from the newest ends */
	for (k = m - 1; k >= 0; k--)
	{
		if (j < 0 || (i >= 0 && a->win[i] >= b->win[j]))
			merged[k] = a->win[i--];
		else
			merged[k] = b->win[j--];
	}
	memcpy(a->win, merged, m * sizeof(TimestampTz));
	a->nwin = m;
}

/*
 * The two states of a combine call (of size bytes each), when both are
 * there; otherwise sets *result to the answer (NULL, the one state, or a
 * copy of the second in the aggregate context, where the result must live)
 * and returns false.
 */
static bool
profile_combine_args(FunctionCallInfo fcinfo, Size size, void **a, void **b, Datum *result)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "crm.purchase_profile's combine function called in non-aggregate context");
	*a = PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0);
	*b = PG_ARGISNULL(1) ? NULL : PG_GETARG_POINTER(1);
	if (*a != NULL && *b != NULL)
		return true;
	fcinfo->isnull = (*a == NULL && *b == NULL);
	if (*b == NULL)
		*result = PointerGetDatum(*a);
	else
	{
		void	   *copy = MemoryContextAlloc(aggcontext, size);

		memcpy(copy, *b, size);
		*result = PointerGetDatum(copy);
	}
	return false;
}

Datum
profile_combinefn(PG_FUNCTION_ARGS)
{
	void	   *a;
	void	   *b;
	Datum		result;

	if (!profile_combine_args(fcinfo, sizeof(ProfileState), &a, &b, &result))
		return result;
	profile_merge((ProfileState *) a, (const ProfileState *) b);
	PG_RETURN_POINTER(a);
}

/*
 * Serialised form: a format version byte, then n, n_first, n_offer, first,
 * last (int64 each), total and first_total (int128 each, high half first),
 * scale and nwin (one byte each), the 12 month counts (int32), then nwin
 * window times (int64), all in network byte order, written straight into a
 * bytea of the exact size.
 */
#define PROFILE_SERIAL_FIXED	(1 + 5 * 8 + 2 * 16 + 2 + 12 * 4)

static inline char *
profile_put64(char *p, uint64 v)
{
	v = pg_hton64(v);
	memcpy(p, &v, sizeof(v));
	return p + sizeof(v);
}

static inline const char *
profile_get64(const char *p, uint64 *v)
{
	memcpy(v, p, sizeof(*v));
	*v = pg_ntoh64(*v);
	return p + sizeof(*v);
}

/*
 * The state's bytes in the given format, with room for extra bytes after
 * the profile's, where *tail points.
 */
static bytea *
profile_serialize(const ProfileState *s, char version, int extra, char **tail)
{
	bytea	   *result;
	char	   *p;
	int			len;
	int			i;

	len = PROFILE_SERIAL_FIXED + s->nwin * 8 + extra;
	result = (bytea *) palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	p = VARDATA(result);
	*p++ = version;
	p = profile_put64(p, (uint64) s->n);
	p = profile_put64(p, (uint64) s->n_first);
	p = profile_put64(p, (uint64) s->n_offer);
	p = profile_put64(p, (uint64) s->first);
	p = profile_put64(p, (uint64) s->last);
	p = profile_put64(p, (uint64) ((uint128) s->total >> 64));
	p = profile_put64(p, (uint64) s->total);
	p = profile_put64(p, (uint64) ((uint128) s->first_total >> 64));
	p = profile_put64(p, (uint64) s->first_total);
	*p++ = (char) s->scale;
	*p++ = (char) s->nwin;
	for (i = 0; i < 12; i++)
	{
		uint32		m = pg_hton32((uint32) s->months[i]);

		memcpy(p, &m, sizeof(m));
		p += sizeof(m);
	}
	for (i = 0; i < s->nwin; i++)
		p = profile_put64(p, (uint64) s->win[i]);
	Assert(p == VARDATA(result) + len - extra);
	*tail = p;
	return result;
}

Datum
profile_serialfn(PG_FUNCTION_ARGS)
{
	char	   *tail;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "profile_serialfn called in non-aggregate context");
	PG_RETURN_BYTEA_P(profile_serialize((ProfileState *) PG_GETARG_POINTER(0),
										PROFILE_SERIAL_VERSION, 0, &tail));
}

static void
profile_corrupt(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid purchase profile state: %s", what)));
}

/*
 * The bytes may come from another process: check every invariant before
 * trusting them.
 */
/*
 * The profile of bytes in either format, and the windows of the second
 * (into w, when w is not NULL); true when the bytes have windows.
 */
static bool
profile_read(bytea *sstate, ProfileState *s, ProfileWindow *w)
{
	const char *p = VARDATA_ANY(sstate);
	int			len = VARSIZE_ANY_EXHDR(sstate);
	uint64		v;
	uint64		hi;
	int64		month_total = 0;
	int			i;
	int			extra = 0;

	if (len >= 1 && *p == PROFILE_SERIAL_VERSION)
		extra = 0;
	else if (len >= 1 && *p == PROFILE_SERIAL_WINDOWS)
		extra = PROFILE_WINDOWS_BYTES;
	else
		profile_corrupt("unknown format version");
	if (len < PROFILE_SERIAL_FIXED + extra)
		profile_corrupt("too short");
	p++;

	p = profile_get64(p, &v);
	s->n = (int64) v;
	p = profile_get64(p, &v);
	s->n_first = (int64) v;
	p = profile_get64(p, &v);
	s->n_offer = (int64) v;
	p = profile_get64(p, &v);
	s->first = (TimestampTz) v;
	p = profile_get64(p, &v);
	s->last = (TimestampTz) v;
	p = profile_get64(p, &hi);
	p = profile_get64(p, &v);
	s->total = (int128) (((uint128) hi << 64) | v);
	p = profile_get64(p, &hi);
	p = profile_get64(p, &v);
	s->first_total = (int128) (((uint128) hi << 64) | v);
	s->scale = (unsigned char) *p++;
	s->nwin = (unsigned char) *p++;
	for (i = 0; i < 12; i++)
	{
		uint32		m;

		memcpy(&m, p, sizeof(m));
		p += sizeof(m);
		s->months[i] = (int32) pg_ntoh32(m);
		if (s->months[i] < 0)
			profile_corrupt("negative month count");
		month_total += s->months[i];
	}

	if (s->n < 1)
		profile_corrupt("no purchases");
	if (s->n_first < 1 || s->n_first > s->n)
		profile_corrupt("purchases at the first instant out of range");
	if (s->n_offer < 0 || s->n_offer > s->n)
		profile_corrupt("offer purchases out of range");
	if (!IS_VALID_TIMESTAMP(s->first) || !IS_VALID_TIMESTAMP(s->last) ||
		s->first > s->last)
		profile_corrupt("first and last purchase out of order or out of range");
	{
		int128		rest;

		if (__builtin_sub_overflow(s->total, s->first_total, &rest))
			profile_corrupt("spend totals out of range");
	}
	if (s->scale > PROFILE_SCALE)
		profile_corrupt("scale out of range");
	if (s->nwin != Min(s->n, PROFILE_WINDOW))
		profile_corrupt("window size does not match the purchase count");
	if (month_total != s->n)
		profile_corrupt("month counts do not add up to the purchase count");
	if (len != PROFILE_SERIAL_FIXED + s->nwin * 8 + extra)
		profile_corrupt("length does not match the window size");
	for (i = 0; i < s->nwin; i++)
	{
		p = profile_get64(p, &v);
		s->win[i] = (TimestampTz) v;
		if (s->win[i] < s->first || s->win[i] > s->last ||
			(i > 0 && s->win[i] < s->win[i - 1]))
			profile_corrupt("window times out of order or out of range");
	}
	if (s->win[s->nwin - 1] != s->last ||
		(s->n <= PROFILE_WINDOW && s->win[0] != s->first))
		profile_corrupt("window does not match first and last purchase");
	if (extra == 0)
		return false;

	{
		ProfileWindow got[2];

		for (i = 0; i < 2; i++)
		{
			p = profile_get64(p, &v);
			got[i].n = (int64) v;
			p = profile_get64(p, &hi);
			p = profile_get64(p, &v);
			got[i].total = (int128) (((uint128) hi << 64) | v);
			got[i].scale = (unsigned char) *p++;
			if (got[i].n < 0 || got[i].n > s->n)
				profile_corrupt("window purchase count out of range");
			if (got[i].scale > s->scale)
				profile_corrupt("window scale out of range");
			if (got[i].n == 0 && (got[i].total != 0 || got[i].scale != 0))
				profile_corrupt("empty window with a spend");
		}
		if (got[0].n + got[1].n > s->n)
			profile_corrupt("window purchase counts add up to more than the purchases");
		if (w != NULL)
			memcpy(w, got, sizeof(got));
	}
	return true;
}

void
profile_state_read(bytea *sstate, ProfileState *s)
{
	(void) profile_read(sstate, s, NULL);
}

/* The profile and the windows of bytes made with window bounds. */
void
profile_windows_read(bytea *sstate, ProfileState *s, ProfileWindow *w)
{
	if (!profile_read(sstate, s, w))
		profile_corrupt("no windows");
}

/*
 * The state lives only until the combine function has merged (or copied)
 * it, so it is allocated in the per-call context.
 */
Datum
profile_deserialfn(PG_FUNCTION_ARGS)
{
	ProfileState *s;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "profile_deserialfn called in non-aggregate context");
	s = (ProfileState *) palloc(sizeof(ProfileState));
	profile_state_read(PG_GETARG_BYTEA_PP(0), s);
	PG_RETURN_POINTER(s);
}

/* a += b: the purchases of both, and their windows */
static void
profile_windows_merge(ProfileWindows *a, const ProfileWindows *b)
{
	profile_merge(&a->p, &b->p);
	for (int i = 0; i < 2; i++)
	{
		a->w[i].n += b->w[i].n;
		profile_add_amount(&a->w[i].total, b->w[i].total);
		a->w[i].scale = Max(a->w[i].scale, b->w[i].scale);
	}
}

/*
 * crm.purchase_profile_state(purchased_at, amount, offer, recent_from,
 * previous_from): the profile's state and two windows in one pass (its
 * transition is profile_transfn's); crm.churn_signals gathers it per client
 * from the shards of a Citus cluster.
 */
Datum
profile_windows_combinefn(PG_FUNCTION_ARGS)
{
	ProfileWindows *a;
	ProfileWindows *b;
	Datum		result;

	if (!profile_combine_args(fcinfo, sizeof(ProfileWindows), (void **) &a, (void **) &b, &result))
		return result;
	profile_windows_merge(a, b);
	PG_RETURN_POINTER(a);
}

/* the bytes of a state with windows */
static bytea *
profile_windows_bytes(const ProfileWindows *s)
{
	bytea	   *result;
	char	   *p;

	result = profile_serialize(&s->p, PROFILE_SERIAL_WINDOWS, PROFILE_WINDOWS_BYTES, &p);
	for (int i = 0; i < 2; i++)
	{
		p = profile_put64(p, (uint64) s->w[i].n);
		p = profile_put64(p, (uint64) ((uint128) s->w[i].total >> 64));
		p = profile_put64(p, (uint64) s->w[i].total);
		*p++ = (char) s->w[i].scale;
	}
	Assert(p == VARDATA(result) + VARSIZE(result) - VARHDRSZ);
	return result;
}

Datum
profile_windows_serialfn(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "profile_windows_serialfn called in non-aggregate context");
	PG_RETURN_BYTEA_P(profile_windows_bytes((ProfileWindows *) PG_GETARG_POINTER(0)));
}

Datum
profile_windows_deserialfn(PG_FUNCTION_ARGS)
{
	ProfileWindows *s;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "profile_windows_deserialfn called in non-aggregate context");
	s = (ProfileWindows *) palloc(sizeof(ProfileWindows));
	profile_windows_read(PG_GETARG_BYTEA_PP(0), &s->p, s->w);
	PG_RETURN_POINTER(s);
}

/*
 * Days from a to b.  The difference of two timestamps can exceed an int64
 * (4713 BC to 294276 AD is about 9.4e18 microseconds): it is taken in 128
 * bits.
 */
static inline double
profile_days(TimestampTz b, TimestampTz a)
{
	return (double) ((int128) b - (int128) a) / (double) USECS_PER_DAY;
}

/* The spend of the repeat purchases, in millionths, as a double. */
static inline double
profile_repeat_total(const ProfileState *s)
{
	int128		rest;

	if (unlikely(__builtin_sub_overflow(s->total, s->first_total, &rest)))
		return (double) s->total - (double) s->first_total;
	return (double) rest;
}

/*
 * Builds the composite.  Read-only: the state is not modified, so the
 * aggregate also works as a window function.
 */
Datum
profile_finalfn(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "profile_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	return profile_result(fcinfo, (ProfileState *) PG_GETARG_POINTER(0));
}

/* crm.purchase_profile_from_state(state bytea): the profile of a state's bytes */
Datum
profile_from_state(PG_FUNCTION_ARGS)
{
	ProfileState s;

	profile_state_read(PG_GETARG_BYTEA_PP(0), &s);
	return profile_result(fcinfo, &s);
}

/* The composite crm.purchase_profile of a state, the result of fcinfo's call. */
static Datum
profile_result(FunctionCallInfo fcinfo, const ProfileState *s)
{
	TupleDesc	tupdesc;
	Datum		values[PROFILE_NATTS];
	bool		nulls[PROFILE_NATTS];

	/* the blessed result descriptor is looked up once per query */
	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (tupdesc == NULL)
	{
		MemoryContext oldcontext;

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		if (tupdesc->natts != PROFILE_NATTS)
			elog(ERROR, "crm.purchase_profile has %d columns, expected %d",
				 tupdesc->natts, PROFILE_NATTS);
		oldcontext = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		MemoryContextSwitchTo(oldcontext);
		fcinfo->flinfo->fn_extra = tupdesc;
	}

	profile_state_values(s, values, nulls);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* recent_mean_gap_days of a state: false for a single purchase (no gap) */
bool
profile_state_recent_gap(const ProfileState *s, double *gap)
{
	int			ngaps = s->nwin - 1;

	if (s->n <= 1)
		return false;
	*gap = profile_days(s->win[ngaps], s->win[0]) / ngaps;
	return true;
}

/* The PROFILE_NATTS fields of the composite crm.purchase_profile of a state. */
void
profile_state_values(const ProfileState *s, Datum *values, bool *nulls)
{
	int64		repeat;
	int			ngaps;

	memset(nulls, 0, sizeof(bool) * PROFILE_NATTS);
	repeat = s->n - s->n_first;
	ngaps = s->nwin - 1;

	values[PF_FIRST] = TimestampTzGetDatum(s->first);
	values[PF_LAST] = TimestampTzGetDatum(s->last);
	values[PF_PURCHASES] = Int64GetDatum(s->n);
	values[PF_REPEAT] = Int64GetDatum(repeat);
	values[PF_SPAN] = Float8GetDatum(profile_days(s->last, s->first));
	values[PF_TOTAL] = profile_micro_to_numeric(s->total, s->scale);
	values[PF_MEAN] = Float8GetDatum((double) s->total / 1e6 / (double) s->n);
	if (repeat > 0)
		values[PF_REPEAT_MEAN] = Float8GetDatum(profile_repeat_total(s) / 1e6 /
								   (double) repeat);
	else
		nulls[PF_REPEAT_MEAN] = true;

	if (s->n > 1)
	{
		double		wmean = 0;
		double		ss = 0;
		int			i;

		values[PF_MEAN_GAP] = Float8GetDatum(profile_days(s->last, s->first) /
								   (double) (s->n - 1));
		values[PF_LAST_GAP] = Float8GetDatum(profile_days(s->win[ngaps], s->win[ngaps - 1]));

		/* mean and sample deviation of the gaps inside the window */
		profile_state_recent_gap(s, &wmean);
		values[PF_RECENT_GAP] = Float8GetDatum(wmean);
		for (i = 1; i <= ngaps; i++)
		{
			double		d = profile_days(s->win[i], s->win[i - 1]) - wmean;

			ss += d * d;
		}
		if (ngaps >= 2)
			values[PF_GAP_SD] = Float8GetDatum(sqrt(ss / (ngaps - 1)));
		else
			nulls[PF_GAP_SD] = true;
	}
	else
	{
		nulls[PF_MEAN_GAP] = nulls[PF_LAST_GAP] = nulls[PF_RECENT_GAP] = nulls[PF_GAP_SD] = true;
	}
	values[PF_GAP_WINDOW] = Int32GetDatum(ngaps);
	values[PF_OFFER_PURCHASES] = Int64GetDatum(s->n_offer);
	values[PF_OFFER_SHARE] = Float8GetDatum((double) s->n_offer / (double) s->n);

	/* purchases by month, and the largest share in three consecutive months */
	{
		Datum		m[12];
		int64		peak = 0;
		int			i;

		for (i = 0; i < 12; i++)
		{
			int64		q = (int64) s->months[i] + s->months[(i + 1) % 12] +
				s->months[(i + 2) % 12];

			m[i] = Int32GetDatum(s->months[i]);
			peak = Max(peak, q);
		}
		values[PF_MONTHS] = PointerGetDatum(construct_array(m, 12, INT4OID, sizeof(int32),
													 true, TYPALIGN_INT));
		values[PF_PEAK_QUARTER] = Float8GetDatum((double) peak / (double) s->n);
	}

}

/* The size of the aggregate state in bytes, for the documentation. */
Datum
profile_state_size(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) sizeof(ProfileState));
}

/*
 * crm.recency_days(last_purchase, as_of): whole days from the last purchase
 * to as_of, rounded down (negative when the purchase is after as_of).
 */
PG_FUNCTION_INFO_V1(profile_recency_days);

Datum
profile_recency_days(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(profile_days_since(PG_GETARG_TIMESTAMPTZ(0),
									   PG_GETARG_TIMESTAMPTZ(1)));
}

/* Whole days from last to as_of, rounded down; both must be finite. */
int32
profile_days_since(TimestampTz last, TimestampTz as_of)
{
	int128		diff;
	int128		days;

	if (TIMESTAMP_NOT_FINITE(last) || TIMESTAMP_NOT_FINITE(as_of))
	{
		/* timestamptz_to_str returns a static buffer: copy the first */
		char	   *last_str = pstrdup(timestamptz_to_str(last));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("recency needs finite times: last purchase %s, as of %s",
						last_str, timestamptz_to_str(as_of))));
	}
	/* in 128 bits: the difference of two timestamps can exceed an int64 */
	diff = (int128) as_of - (int128) last;
	days = diff / USECS_PER_DAY;
	if (diff < 0 && diff % USECS_PER_DAY != 0)
		days--;
	return (int32) days;
}

/*
 * The pieces crm.refresh_profiles folds new purchases with (into a stored
 * client's state, without reading the client's history again).
 */

/*
 * crm.profile_state_merge(a, b): the state with windows of the purchases of
 * both (the combine function of crm.purchase_profile_state with window
 * bounds, outside an aggregate); NULL is the empty state.
 */
PG_FUNCTION_INFO_V1(profile_state_merge);
Datum
profile_state_merge(PG_FUNCTION_ARGS)
{
	ProfileWindows a;
	ProfileWindows b;

	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(1))
	{
		profile_windows_read(PG_GETARG_BYTEA_PP(0), &a.p, a.w);
		PG_RETURN_BYTEA_P(profile_windows_bytes(&a));
	}
	if (PG_ARGISNULL(0))
	{
		profile_windows_read(PG_GETARG_BYTEA_PP(1), &b.p, b.w);
		PG_RETURN_BYTEA_P(profile_windows_bytes(&b));
	}
	profile_windows_read(PG_GETARG_BYTEA_PP(0), &a.p, a.w);
	profile_windows_read(PG_GETARG_BYTEA_PP(1), &b.p, b.w);
	profile_windows_merge(&a, &b);
	PG_RETURN_BYTEA_P(profile_windows_bytes(&a));
}

/* crm.profile_state_last(state): the latest purchase time of a state; NULL: NULL */
PG_FUNCTION_INFO_V1(profile_state_last);
Datum
profile_state_last(PG_FUNCTION_ARGS)
{
	ProfileState s;

	profile_state_read(PG_GETARG_BYTEA_PP(0), &s);
	PG_RETURN_TIMESTAMPTZ(s.last);
}

/*
 * crm.profile_latest_change(old, new, entering): of the latest purchase
 * times the states keep (the latest 16, with repeats), those of new that
 * are not in old (entering) or those of old that are not in new (leaving),
 * as multisets; NULL is the empty state.
 */
PG_FUNCTION_INFO_V1(profile_latest_change);
Datum
profile_latest_change(PG_FUNCTION_ARGS)
{
	ProfileState o;
	ProfileState n;
	const ProfileState *from;
	const ProfileState *minus;
	Datum		out[PROFILE_WINDOW];
	int			k = 0;
	int			i = 0;
	int			j = 0;
	bool		entering;

	if (PG_ARGISNULL(2))
		PG_RETURN_NULL();
	entering = PG_GETARG_BOOL(2);
	memset(&o, 0, sizeof(o));
	memset(&n, 0, sizeof(n));
	if (!PG_ARGISNULL(0))
		profile_state_read(PG_GETARG_BYTEA_PP(0), &o);
	if (!PG_ARGISNULL(1))
		profile_state_read(PG_GETARG_BYTEA_PP(1), &n);
	from = entering ? &n : &o;
	minus = entering ? &o : &n;
	/* both ascending: a merge */
	while (i < from->nwin)
	{
		if (j < minus->nwin && minus->win[j] < from->win[i])
			j++;
		else if (j < minus->nwin && minus->win[j] == from->win[i])
		{
			i++;
			j++;
		}
		else
			out[k++] = TimestampTzGetDatum(from->win[i++]);
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(out, k, TIMESTAMPTZOID, sizeof(TimestampTz),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
