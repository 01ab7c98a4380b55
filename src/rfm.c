/*-------------------------------------------------------------------------
 *
 * src/rfm.c
 *
 * The crm.rfm type: a client's recency, frequency and monetary scores,
 * each 1..9, in two bytes (passed by value).  Text form is the three
 * digits, '543'; '5-4-3' is accepted on input too.  Binary send/receive,
 * comparison (recency first, then frequency, then monetary, which is also
 * the order of the three-digit number) and hashing for the btree and hash
 * operator classes, accessors and a constructor.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "compat.h"
#include "rfm.h"

#define RFM_MIN_SCORE	1
#define RFM_MAX_SCORE	9

PG_FUNCTION_INFO_V1(rfm_in);
PG_FUNCTION_INFO_V1(rfm_out);
PG_FUNCTION_INFO_V1(rfm_recv);
PG_FUNCTION_INFO_V1(rfm_send);
PG_FUNCTION_INFO_V1(rfm_make);
PG_FUNCTION_INFO_V1(rfm_recency);
PG_FUNCTION_INFO_V1(rfm_frequency);
PG_FUNCTION_INFO_V1(rfm_monetary);
PG_FUNCTION_INFO_V1(rfm_eq);
PG_FUNCTION_INFO_V1(rfm_ne);
PG_FUNCTION_INFO_V1(rfm_lt);
PG_FUNCTION_INFO_V1(rfm_le);
PG_FUNCTION_INFO_V1(rfm_gt);
PG_FUNCTION_INFO_V1(rfm_ge);
PG_FUNCTION_INFO_V1(rfm_cmp);
PG_FUNCTION_INFO_V1(rfm_hash);
PG_FUNCTION_INFO_V1(rfm_hash_extended);

pg_noreturn static void rfm_bad_text(const char *str);

/* Is v the code of three scores 1..9? */
bool
rfm_is_valid(int16 v)
{
	int			r = v / 100;
	int			f = (v / 10) % 10;
	int			m = v % 10;

	return v >= 111 && v <= 999 &&
		r >= RFM_MIN_SCORE && f >= RFM_MIN_SCORE && m >= RFM_MIN_SCORE;
}

static void
rfm_bad_text(const char *str)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type crm.rfm: \"%s\"", str),
			 errdetail("An RFM value is three scores from 1 to 9, written as '543' or '5-4-3'.")));
}

Datum
rfm_in(PG_FUNCTION_ARGS)
{
	const char *str = PG_GETARG_CSTRING(0);
	const char *p = str;
	const char *e;
	int			len;
	int			score[3];
	int			i;

	/* surrounding white space is allowed, as for the numeric types */
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	len = e - p;

	/* '543' or '5-4-3' */
	if (len == 5 && p[1] == '-' && p[3] == '-')
	{
		score[0] = p[0];
		score[1] = p[2];
		score[2] = p[4];
	}
	else if (len == 3)
	{
		score[0] = p[0];
		score[1] = p[1];
		score[2] = p[2];
	}
	else
		rfm_bad_text(str);

	for (i = 0; i < 3; i++)
	{
		if (score[i] < '0' + RFM_MIN_SCORE || score[i] > '0' + RFM_MAX_SCORE)
			rfm_bad_text(str);
		score[i] -= '0';
	}

	PG_RETURN_INT16(RFM_MAKE(score[0], score[1], score[2]));
}

Datum
rfm_out(PG_FUNCTION_ARGS)
{
	int16		v = PG_GETARG_INT16(0);
	char	   *s = palloc(4);

	s[0] = '0' + v / 100;
	s[1] = '0' + (v / 10) % 10;
	s[2] = '0' + v % 10;
	s[3] = '\0';
	PG_RETURN_CSTRING(s);
}

/* Binary form: three bytes, the recency, frequency and monetary scores. */
Datum
rfm_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			r = pq_getmsgbyte(buf);
	int			f = pq_getmsgbyte(buf);
	int			m = pq_getmsgbyte(buf);

	if (r < RFM_MIN_SCORE || r > RFM_MAX_SCORE ||
		f < RFM_MIN_SCORE || f > RFM_MAX_SCORE ||
		m < RFM_MIN_SCORE || m > RFM_MAX_SCORE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary crm.rfm value: scores %d, %d, %d", r, f, m),
				 errdetail("Each score must be between 1 and 9.")));
	PG_RETURN_INT16(RFM_MAKE(r, f, m));
}

Datum
rfm_send(PG_FUNCTION_ARGS)
{
	int16		v = PG_GETARG_INT16(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, v / 100);
	pq_sendbyte(&buf, (v / 10) % 10);
	pq_sendbyte(&buf, v % 10);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* crm.rfm(r, f, m) */
Datum
rfm_make(PG_FUNCTION_ARGS)
{
	int32		s[3];
	static const char *const names[3] = {"recency", "frequency", "monetary"};
	int			i;

	for (i = 0; i < 3; i++)
	{
		s[i] = PG_GETARG_INT32(i);
		if (s[i] < RFM_MIN_SCORE || s[i] > RFM_MAX_SCORE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s score %d is out of range", names[i], s[i]),
					 errdetail("Scores must be between 1 and 9.")));
	}
	PG_RETURN_INT16(RFM_MAKE(s[0], s[1], s[2]));
}

Datum
rfm_recency(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_INT16(0) / 100);
}

Datum
rfm_frequency(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((PG_GETARG_INT16(0) / 10) % 10);
}

Datum
rfm_monetary(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_INT16(0) % 10);
}

Datum
rfm_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_INT16(0) == PG_GETARG_INT16(1));
}

Datum
rfm_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_INT16(0) != PG_GETARG_INT16(1));
}

Datum
rfm_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_INT16(0) < PG_GETARG_INT16(1));
}

Datum
rfm_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_INT16(0) <= PG_GETARG_INT16(1));
}

Datum
rfm_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_INT16(0) > PG_GETARG_INT16(1));
}

Datum
rfm_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_INT16(0) >= PG_GETARG_INT16(1));
}

Datum
rfm_cmp(PG_FUNCTION_ARGS)
{
	int16		a = PG_GETARG_INT16(0);
	int16		b = PG_GETARG_INT16(1);

	PG_RETURN_INT32(a < b ? -1 : (a > b ? 1 : 0));
}

Datum
rfm_hash(PG_FUNCTION_ARGS)
{
	return hash_uint32((uint32) PG_GETARG_INT16(0));
}

Datum
rfm_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_uint32_extended((uint32) PG_GETARG_INT16(0), PG_GETARG_INT64(1));
}
