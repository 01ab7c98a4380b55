/*-------------------------------------------------------------------------
 *
 * test/fuzz/fakepg.c
 *
 * A small fake backend, just enough of PostgreSQL's server API for crm's
 * parsers to run inside a libFuzzer process:
 *
 *	- palloc and friends on malloc, every chunk on a list so that one input's
 *	  memory is freed at once (an ERROR leaves its allocations behind, as in
 *	  a real memory context); each chunk is a malloc of its own, so
 *	  AddressSanitizer sees every overrun, and new memory is filled with
 *	  0x7f so that a read of memory nobody wrote shows in the round trips;
 *	- ereport: errstart/errcode/errmsg/.../errfinish record the error and
 *	  siglongjmp back to fuzz_call();
 *	- StringInfo, the pq_getmsg and pq_send functions the types use;
 *	- float8in_internal and float8out_internal with the server's rules
 *	  (strtod, NaN and Infinity spelled out, shortest exact output through
 *	  libpgcommon's double_to_shortest_decimal_buf);
 *	- AggCheckCallContext, construct_array, and for the final functions a
 *	  composite result type and heap_form_tuple that keep the values;
 *	- stubs that abort for the rest of what the objects link against.
 *
 * Everything here is written for this harness; hash_bytes, pg_qsort and
 * double_to_shortest_decimal_buf come from PostgreSQL's libpgcommon and
 * libpgport static libraries.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sanitizer/asan_interface.h>

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "libpq/pqformat.h"
#include "nodes/memnodes.h"
#include "port/pg_bswap.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "fakepg.h"

/* the C library's own, not port.h's replacements */
#undef vsnprintf
#undef snprintf
#undef fprintf
#undef vfprintf
#undef printf

FuzzError	fuzz_error;
int			fuzz_agg_context = 0;
int			fuzz_result_natts = 0;
Datum		fuzz_tuple_values[64];
bool		fuzz_tuple_nulls[64];
int			fuzz_tuple_natts = 0;

void
fuzz_fail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "FUZZ FINDING: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

#define UNSUPPORTED(name) \
	fuzz_fail("%s is not part of the fake backend", name)

/* ---------------------------------------------------------------------
 * Memory
 * ---------------------------------------------------------------------
 */

typedef struct Chunk
{
	struct Chunk *prev;
	struct Chunk *next;
	size_t		size;
	uint64		magic;
} Chunk;

#define CHUNK_MAGIC		UINT64CONST(0x63726d66757a7a21)
#define CHUNK_HDR		MAXALIGN(sizeof(Chunk))

static Chunk chunks = {&chunks, &chunks, 0, 0};

static MemoryContextData fuzz_context = {.type = T_AllocSetContext,
.name = "fuzz"};
MemoryContext CurrentMemoryContext = &fuzz_context;
MemoryContext TopMemoryContext = &fuzz_context;

static Chunk *
chunk_of(void *pointer)
{
	Chunk	   *c = (Chunk *) ((char *) pointer - CHUNK_HDR);

	ASAN_UNPOISON_MEMORY_REGION(c, CHUNK_HDR);
	if (c->magic != CHUNK_MAGIC)
		fuzz_fail("pfree or repalloc of %p, which palloc did not return", pointer);
	return c;
}

static void
chunk_seal(Chunk *c)
{
	ASAN_POISON_MEMORY_REGION(c, CHUNK_HDR);
}

static void *
alloc_chunk(size_t size, bool zero)
{
	Chunk	   *c;

	if (!AllocSizeIsValid(size))
		elog(ERROR, "invalid memory alloc request size %zu", size);
	c = malloc(CHUNK_HDR + size);
	if (c == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	c->size = size;
	c->magic = CHUNK_MAGIC;
	c->next = chunks.next;
	c->prev = &chunks;
	if (chunks.next != &chunks)
		ASAN_UNPOISON_MEMORY_REGION(chunks.next, CHUNK_HDR);
	chunks.next->prev = c;
	if (chunks.next != &chunks)
		chunk_seal(chunks.next);
	chunks.next = c;
	memset((char *) c + CHUNK_HDR, zero ? 0 : 0x7f, size);
	chunk_seal(c);
	return (char *) c + CHUNK_HDR;
}

static void
unlink_chunk(Chunk *c)
{
	Chunk	   *p = c->prev;
	Chunk	   *n = c->next;

	if (p != &chunks)
		ASAN_UNPOISON_MEMORY_REGION(p, CHUNK_HDR);
	if (n != &chunks)
		ASAN_UNPOISON_MEMORY_REGION(n, CHUNK_HDR);
	p->next = n;
	n->prev = p;
	if (p != &chunks)
		chunk_seal(p);
	if (n != &chunks)
		chunk_seal(n);
}

void
fuzz_reset(void)
{
	Chunk	   *c = chunks.next;

	while (c != &chunks)
	{
		Chunk	   *next;

		ASAN_UNPOISON_MEMORY_REGION(c, CHUNK_HDR);
		next = c->next;
		c->magic = 0;
		free(c);
		c = next;
	}
	chunks.next = chunks.prev = &chunks;
}

void *
palloc(Size size)
{
	return alloc_chunk(size, false);
}

void *
palloc0(Size size)
{
	return alloc_chunk(size, true);
}

void *
palloc_extended(Size size, int flags)
{
	return alloc_chunk(size, (flags & MCXT_ALLOC_ZERO) != 0);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return alloc_chunk(size, false);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return alloc_chunk(size, true);
}

void *
MemoryContextAllocZeroAligned(MemoryContext context, Size size)
{
	return alloc_chunk(size, true);
}

void
pfree(void *pointer)
{
	Chunk	   *c = chunk_of(pointer);

	unlink_chunk(c);
	c->magic = 0;
	free(c);
}

void *
repalloc(void *pointer, Size size)
{
	Chunk	   *c = chunk_of(pointer);
	size_t		old = c->size;
	void	   *n;

	chunk_seal(c);
	n = alloc_chunk(size, false);
	memcpy(n, pointer, Min(old, size));
	pfree(pointer);
	return n;
}

char *
pstrdup(const char *in)
{
	size_t		len = strlen(in);
	char	   *out = palloc(len + 1);

	memcpy(out, in, len + 1);
	return out;
}

char *
pnstrdup(const char *in, Size len)
{
	char	   *out;

	len = strnlen(in, len);
	out = palloc(len + 1);
	memcpy(out, in, len);
	out[len] = '\0';
	return out;
}

static char *
vformat(const char *fmt, va_list ap)
{
	va_list		copy;
	int			n;
	char	   *out;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		fuzz_fail("vsnprintf failed for format \"%s\"", fmt);
	out = palloc(n + 1);
	vsnprintf(out, n + 1, fmt, ap);
	return out;
}

char *
psprintf(const char *fmt,...)
{
	va_list		ap;
	char	   *out;

	va_start(ap, fmt);
	out = vformat(fmt, ap);
	va_end(ap);
	return out;
}

char *
fuzz_cstring(const uint8_t *data, size_t size)
{
	return pnstrdup((const char *) data, size);
}

/* ---------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------
 */

static sigjmp_buf *error_jump = NULL;
static bool building = false;

bool
errstart(int elevel, const char *domain)
{
	if (elevel < ERROR)
		return false;
	if (building)
		fuzz_fail("an ERROR raised while another was being reported");
	building = true;
	memset(&fuzz_error, 0, sizeof(fuzz_error));
	fuzz_error.elevel = elevel;
	fuzz_error.sqlerrcode = ERRCODE_INTERNAL_ERROR;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

int
errcode(int sqlerrcode)
{
	fuzz_error.sqlerrcode = sqlerrcode;
	return 0;
}

static void
format_into(char *buf, size_t len, const char *fmt, va_list ap)
{
	char	   *s = vformat(fmt, ap);

	strlcpy(buf, s, len);
	pfree(s);
}

int
errmsg(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	format_into(fuzz_error.message, sizeof(fuzz_error.message), fmt, ap);
	va_end(ap);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	format_into(fuzz_error.message, sizeof(fuzz_error.message), fmt, ap);
	va_end(ap);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	format_into(fuzz_error.detail, sizeof(fuzz_error.detail), fmt, ap);
	va_end(ap);
	return 0;
}

int
errdetail_internal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	format_into(fuzz_error.detail, sizeof(fuzz_error.detail), fmt, ap);
	va_end(ap);
	return 0;
}

int
errhint(const char *fmt,...)
{
	va_list		ap;
	char		hint[1024];

	va_start(ap, fmt);
	format_into(hint, sizeof(hint), fmt, ap);
	va_end(ap);
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	int			code = fuzz_error.sqlerrcode;

	building = false;
	if (fuzz_error.elevel < ERROR)
		return;
	fuzz_error.sqlstate[0] = PGUNSIXBIT(code);
	fuzz_error.sqlstate[1] = PGUNSIXBIT(code >> 6);
	fuzz_error.sqlstate[2] = PGUNSIXBIT(code >> 12);
	fuzz_error.sqlstate[3] = PGUNSIXBIT(code >> 18);
	fuzz_error.sqlstate[4] = PGUNSIXBIT(code >> 24);
	fuzz_error.sqlstate[5] = '\0';
	if (error_jump == NULL && PG_exception_stack == NULL)
		fuzz_fail("ERROR outside fuzz_call at %s:%d: %s", filename, lineno,
				  fuzz_error.message);
	pg_re_throw();
}

/*
 * What PG_TRY, PG_CATCH and PG_FINALLY use: an error goes to the innermost
 * PG_TRY first, as in the server, then back to fuzz_call().
 */
sigjmp_buf *PG_exception_stack = NULL;
ErrorContextCallback *error_context_stack = NULL;

void
pg_re_throw(void)
{
	if (PG_exception_stack != NULL)
		siglongjmp(*PG_exception_stack, 1);
	if (error_jump == NULL)
		fuzz_fail("an error re-thrown outside fuzz_call: %s", fuzz_error.message);
	siglongjmp(*error_jump, 1);
}

void
fuzz_expect_error(const char *target, const char *const *sqlstates)
{
	for (; *sqlstates; sqlstates++)
		if (strcmp(*sqlstates, fuzz_error.sqlstate) == 0)
			return;
	fuzz_fail("%s raised SQLSTATE %s: %s (%s)", target, fuzz_error.sqlstate,
			  fuzz_error.message, fuzz_error.detail);
}

/* ---------------------------------------------------------------------
 * Calling fmgr functions
 * ---------------------------------------------------------------------
 */

bool
fuzz_call(PGFunction fn, int nargs, const Datum *args, const bool *nulls,
		  Datum *result, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 8);
	FmgrInfo   *flinfo;
	sigjmp_buf	jump;
	sigjmp_buf *volatile saved = error_jump;
	Datum		r;

	if (nargs > 8)
		fuzz_fail("fuzz_call with %d arguments", nargs);
	flinfo = palloc0(sizeof(FmgrInfo));
	flinfo->fn_addr = fn;
	flinfo->fn_nargs = nargs;
	flinfo->fn_mcxt = CurrentMemoryContext;
	InitFunctionCallInfoData(*fcinfo, flinfo, nargs, InvalidOid, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls ? nulls[i] : false;
	}

	if (sigsetjmp(jump, 0) != 0)
	{
		/* every PG_TRY in between has put these back */
		if (PG_exception_stack != NULL)
			fuzz_fail("an error left PG_exception_stack set");
		error_jump = saved;
		return false;
	}
	error_jump = &jump;
	r = fn(fcinfo);
	error_jump = saved;

	if (fcinfo->isnull && isnull == NULL)
		fuzz_fail("function returned NULL");
	if (isnull)
		*isnull = fcinfo->isnull;
	*result = r;
	return true;
}

bool
fuzz_call1(PGFunction fn, Datum a, Datum *result)
{
	return fuzz_call(fn, 1, &a, NULL, result, NULL);
}

bool
fuzz_call2(PGFunction fn, Datum a, Datum b, Datum *result)
{
	Datum		args[2] = {a, b};

	return fuzz_call(fn, 2, args, NULL, result, NULL);
}

static Datum
direct_call(PGFunction fn, Oid collation, int nargs, Datum *args)
{
	LOCAL_FCINFO(fcinfo, 3);
	Datum		r;

	InitFunctionCallInfoData(*fcinfo, NULL, nargs, collation, NULL, NULL);
	for (int i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = false;
	}
	r = fn(fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "function %p returned NULL", (void *) fn);
	return r;
}

Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	Datum		args[1] = {arg1};

	return direct_call(func, collation, 1, args);
}

Datum
DirectFunctionCall3Coll(PGFunction func, Oid collation, Datum arg1,
						Datum arg2, Datum arg3)
{
	Datum		args[3] = {arg1, arg2, arg3};

	return direct_call(func, collation, 3, args);
}

int
AggCheckCallContext(FunctionCallInfo fcinfo, MemoryContext *aggcontext)
{
	if (aggcontext)
		*aggcontext = fuzz_agg_context ? CurrentMemoryContext : NULL;
	return fuzz_agg_context;
}

/* ---------------------------------------------------------------------
 * Varlena
 * ---------------------------------------------------------------------
 */

struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	if (VARATT_IS_EXTERNAL(datum) || VARATT_IS_COMPRESSED(datum))
		UNSUPPORTED("detoasting an external or compressed datum");
	if (VARATT_IS_SHORT(datum))
	{
		Size		len = VARSIZE_SHORT(datum) - VARHDRSZ_SHORT;
		struct varlena *copy = palloc(len + VARHDRSZ);

		SET_VARSIZE(copy, len + VARHDRSZ);
		memcpy(VARDATA(copy), VARDATA_SHORT(datum), len);
		return copy;
	}
	return datum;
}

struct varlena *
pg_detoast_datum_packed(struct varlena *datum)
{
	if (VARATT_IS_EXTERNAL(datum) || VARATT_IS_COMPRESSED(datum))
		UNSUPPORTED("detoasting an external or compressed datum");
	return datum;
}

bool
fuzz_varlena_equal(const void *a, const void *b)
{
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

/* ---------------------------------------------------------------------
 * StringInfo and the wire format
 * ---------------------------------------------------------------------
 */

void
initStringInfo(StringInfo str)
{
	str->maxlen = 1024;
	str->data = palloc(str->maxlen);
	resetStringInfo(str);
}

StringInfo
makeStringInfo(void)
{
	StringInfo	str = palloc(sizeof(StringInfoData));

	initStringInfo(str);
	return str;
}

void
resetStringInfo(StringInfo str)
{
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	int			want;

	if (needed < 0 || (Size) needed >= MaxAllocSize - (Size) str->len)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("out of memory"),
				 errdetail("Cannot enlarge string buffer containing %d bytes by %d more bytes.",
						   str->len, needed)));
	want = str->len + needed + 1;
	if (want <= str->maxlen)
		return;
	while (str->maxlen < want)
	{
		if ((Size) str->maxlen * 2 > MaxAllocSize)
		{
			str->maxlen = want;
			break;
		}
		str->maxlen *= 2;
	}
	str->data = repalloc(str->data, str->maxlen);
}

void
appendBinaryStringInfo(StringInfo str, const char *data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
	str->data[str->len] = '\0';
}

void
appendBinaryStringInfoNT(StringInfo str, const char *data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
}

void
appendStringInfoString(StringInfo str, const char *s)
{
	appendBinaryStringInfo(str, s, strlen(s));
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	appendBinaryStringInfo(str, &ch, 1);
}

void
appendStringInfo(StringInfo str, const char *fmt,...)
{
	va_list		ap;
	char	   *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	appendStringInfoString(str, s);
	pfree(s);
}

StringInfo
fuzz_message(const char *data, size_t size)
{
	StringInfo	msg = palloc(sizeof(StringInfoData));

	/* exactly the bytes and a terminating NUL, as the server passes them */
	msg->data = palloc(size + 1);
	memcpy(msg->data, data, size);
	msg->data[size] = '\0';
	msg->len = size;
	msg->maxlen = size + 1;
	msg->cursor = 0;
	return msg;
}

void
pq_begintypsend(StringInfo buf)
{
	initStringInfo(buf);
	appendBinaryStringInfoNT(buf, "\0\0\0\0", 4);
}

bytea *
pq_endtypsend(StringInfo buf)
{
	bytea	   *result = (bytea *) buf->data;

	SET_VARSIZE(result, buf->len);
	return result;
}

void
pq_sendfloat8(StringInfo buf, float8 f)
{
	union
	{
		float8		f;
		int64		i;
	}			u;

	u.f = f;
	pq_sendint64(buf, u.i);
}

static void
take_bytes(StringInfo msg, void *out, int n)
{
	if (n < 0 || n > msg->len - msg->cursor)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("insufficient data left in message")));
	memcpy(out, msg->data + msg->cursor, n);
	msg->cursor += n;
}

int
pq_getmsgbyte(StringInfo msg)
{
	unsigned char b;

	if (msg->cursor >= msg->len)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("no data left in message")));
	take_bytes(msg, &b, 1);
	return b;
}

unsigned int
pq_getmsgint(StringInfo msg, int b)
{
	uint8		v8;
	uint16		v16;
	uint32		v32;

	switch (b)
	{
		case 1:
			take_bytes(msg, &v8, 1);
			return v8;
		case 2:
			take_bytes(msg, &v16, 2);
			return pg_ntoh16(v16);
		case 4:
			take_bytes(msg, &v32, 4);
			return pg_ntoh32(v32);
	}
	elog(ERROR, "unsupported integer size %d", b);
	return 0;
}

int64
pq_getmsgint64(StringInfo msg)
{
	uint64		v;

	take_bytes(msg, &v, 8);
	return (int64) pg_ntoh64(v);
}

float8
pq_getmsgfloat8(StringInfo msg)
{
	union
	{
		float8		f;
		int64		i;
	}			u;

	u.i = pq_getmsgint64(msg);
	return u.f;
}

void
pq_copymsgbytes(StringInfo msg, char *buf, int datalen)
{
	take_bytes(msg, buf, datalen);
}

/* ---------------------------------------------------------------------
 * float8 text conversion, with the server's rules
 * ---------------------------------------------------------------------
 */

static bool
take_word(char **p, const char *word)
{
	size_t		n = strlen(word);

	if (strncasecmp(*p, word, n) != 0)
		return false;
	*p += n;
	return true;
}

float8
float8in_internal(char *num, char **endptr_p, const char *type_name,
				  const char *orig_string)
{
	char	   *p = num;
	char	   *end;
	double		v;
	int			saved;

	while (*p != '\0' && isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		goto syntax;

	errno = 0;
	v = strtod(p, &end);
	saved = errno;
	if (end == p || saved != 0)
	{
		char	   *q = p;

		/* the spellings of NaN and the infinities the server accepts */
		if (take_word(&q, "NaN"))
			v = NAN;
		else if (take_word(&q, "Infinity") || take_word(&q, "+Infinity"))
			v = INFINITY;
		else if (take_word(&q, "-Infinity"))
			v = -INFINITY;
		else if (take_word(&q, "inf") || take_word(&q, "+inf"))
			v = INFINITY;
		else if (take_word(&q, "-inf"))
			v = -INFINITY;
		else if (saved == ERANGE)
		{
			if (v == 0.0 || isinf(v))
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("\"%.*s\" is out of range for type double precision",
								(int) (end - p), p)));
			q = end;
		}
		else
			goto syntax;
		end = q;
	}
	while (*end != '\0' && isspace((unsigned char) *end))
		end++;
	if (endptr_p)
		*endptr_p = end;
	else if (*end != '\0')
		goto syntax;
	return v;

syntax:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"",
					type_name, orig_string)));
	return 0;
}

char *
float8out_internal(float8 num)
{
	char	   *out = palloc(DOUBLE_SHORTEST_DECIMAL_LEN);

	/* the server's default, extra_float_digits = 1: shortest exact form */
	double_to_shortest_decimal_buf(num, out);
	return out;
}

/* ---------------------------------------------------------------------
 * Arrays and composite results
 * ---------------------------------------------------------------------
 */

int
ArrayGetNItems(int ndim, const int *dims)
{
	int64		n = 1;

	if (ndim <= 0)
		return 0;
	for (int i = 0; i < ndim; i++)
		n *= dims[i];
	if (n > (int64) MaxArraySize)
		elog(ERROR, "array size exceeds the maximum allowed");
	return (int) n;
}

bool
array_contains_nulls(ArrayType *array)
{
	return ARR_HASNULL(array);
}

/* one-dimensional, no nulls, pass-by-value fixed-length elements */
ArrayType *
construct_array(Datum *elems, int nelems, Oid elmtype, int elmlen,
				bool elmbyval, char elmalign)
{
	Size		size;
	ArrayType  *a;
	char	   *p;

	if (!elmbyval || elmlen <= 0 || elmlen > 8)
		UNSUPPORTED("construct_array of this element type");
	size = ARR_OVERHEAD_NONULLS(1) + (Size) nelems * elmlen;
	a = palloc0(size);
	SET_VARSIZE(a, size);
	a->ndim = 1;
	a->dataoffset = 0;
	a->elemtype = elmtype;
	ARR_DIMS(a)[0] = nelems;
	ARR_LBOUND(a)[0] = 1;
	p = ARR_DATA_PTR(a);
	for (int i = 0; i < nelems; i++)
	{
		switch (elmlen)
		{
			case 4:
				{
					int32		v = DatumGetInt32(elems[i]);

					memcpy(p, &v, 4);
					break;
				}
			case 8:
				{
					int64		v = DatumGetInt64(elems[i]);

					memcpy(p, &v, 8);
					break;
				}
			default:
				UNSUPPORTED("construct_array of this element length");
		}
		p += elmlen;
	}
	return a;
}

TypeFuncClass
get_call_result_type(FunctionCallInfo fcinfo, Oid *resultTypeId,
					 TupleDesc *resultTupleDesc)
{
	TupleDesc	desc;

	if (fuzz_result_natts <= 0)
		UNSUPPORTED("get_call_result_type without fuzz_result_natts");
	desc = palloc0(offsetof(struct TupleDescData, attrs) +
				   fuzz_result_natts * sizeof(FormData_pg_attribute));
	desc->natts = fuzz_result_natts;
	desc->tdtypeid = RECORDOID;
	desc->tdtypmod = -1;
	if (resultTypeId)
		*resultTypeId = RECORDOID;
	if (resultTupleDesc)
		*resultTupleDesc = desc;
	return TYPEFUNC_COMPOSITE;
}

TupleDesc
CreateTupleDescCopy(TupleDesc tupdesc)
{
	Size		size = offsetof(struct TupleDescData, attrs) +
		tupdesc->natts * sizeof(FormData_pg_attribute);
	TupleDesc	copy = palloc(size);

	memcpy(copy, tupdesc, size);
	return copy;
}

TupleDesc
BlessTupleDesc(TupleDesc tupdesc)
{
	return tupdesc;
}

HeapTuple
heap_form_tuple(TupleDesc tupleDescriptor, Datum *values, bool *isnull)
{
	HeapTuple	tuple = palloc0(HEAPTUPLESIZE + sizeof(HeapTupleHeaderData));

	if (tupleDescriptor->natts > lengthof(fuzz_tuple_values))
		UNSUPPORTED("heap_form_tuple of this many columns");
	fuzz_tuple_natts = tupleDescriptor->natts;
	memcpy(fuzz_tuple_values, values, sizeof(Datum) * fuzz_tuple_natts);
	memcpy(fuzz_tuple_nulls, isnull, sizeof(bool) * fuzz_tuple_natts);
	tuple->t_len = sizeof(HeapTupleHeaderData);
	tuple->t_data = (HeapTupleHeader) ((char *) tuple + HEAPTUPLESIZE);
	return tuple;
}

Datum
HeapTupleHeaderGetDatum(HeapTupleHeader tuple)
{
	return PointerGetDatum(tuple);
}

/* ---------------------------------------------------------------------
 * Stand-ins: numerics are not modelled, the rest is not reached
 * ---------------------------------------------------------------------
 */

/* a stand-in numeric: the int64 and scale, good enough for a final function */
Numeric
int64_div_fast_to_numeric(int64 val1, int log10val2)
{
	int64	   *p = palloc(2 * sizeof(int64));

	p[0] = val1;
	p[1] = log10val2;
	return (Numeric) p;
}

Datum
numeric_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);

	/* a finite decimal, as the callers write it */
	if (*s == '-')
		s++;
	if (!isdigit((unsigned char) *s))
		fuzz_fail("numeric_in given \"%s\"", PG_GETARG_CSTRING(0));
	PG_RETURN_POINTER(pstrdup(PG_GETARG_CSTRING(0)));
}

Datum
numeric_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(pstrdup("<numeric>"));
}

const char *
timestamptz_to_str(TimestampTz t)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "<timestamp " INT64_FORMAT ">", (int64) t);
	return buf;
}

void
j2date(int jd, int *year, int *month, int *day)
{
	UNSUPPORTED("j2date");
}

char *
format_type_be(Oid type_oid)
{
	return psprintf("type %u", type_oid);
}

char *
format_type_be_qualified(Oid type_oid)
{
	return psprintf("crm.type %u", type_oid);
}

Datum
GetAttributeByNum(HeapTupleHeader tuple, AttrNumber attrno, bool *isNull)
{
	UNSUPPORTED("GetAttributeByNum");
	return (Datum) 0;
}

JsonbIterator *
JsonbIteratorInit(JsonbContainer *container)
{
	UNSUPPORTED("JsonbIteratorInit");
	return NULL;
}

JsonbIteratorToken
JsonbIteratorNext(JsonbIterator **it, JsonbValue *val, bool skipNested)
{
	UNSUPPORTED("JsonbIteratorNext");
	return WJB_DONE;
}

/* the fits' and models' code linked with the state's parser; never reached from it */
volatile sig_atomic_t InterruptPending = false;

void
ProcessInterrupts(void)
{
	UNSUPPORTED("ProcessInterrupts");
}

struct HeapTupleHeaderData *
DatumGetHeapTupleHeader(Datum t)
{
	UNSUPPORTED("DatumGetHeapTupleHeader");
	return NULL;
}

ArrayType *
construct_md_array(Datum *elems, bool *nulls, int ndims, int *dims, int *lbs,
				   Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	UNSUPPORTED("construct_md_array");
	return NULL;
}
