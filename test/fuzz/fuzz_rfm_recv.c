/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_rfm_recv.c
 *
 * libFuzzer target: crm.rfm's binary input, rfm_recv.  The bytes are
 * untrusted: three bytes 1..9 are the only acceptable value; a short
 * message raises 08P01 as the server's pq_getmsg functions do.  An accepted
 * value must send back the bytes it was read from and print as text that
 * reads back to it.
 *
 *-------------------------------------------------------------------------
 */
#include "fakepg.h"

#include "../../src/rfm.h"

extern PGDLLEXPORT Datum rfm_in(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_out(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_recv(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum rfm_send(PG_FUNCTION_ARGS);

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const errors[] = {"22P03", "08P01", NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StringInfo	msg = fuzz_message((const char *) data, size);
	bool		ok = size >= 3;
	Datum		v;
	Datum		v2;
	Datum		out;
	Datum		bin;

	for (size_t i = 0; i < 3 && i < size; i++)
		if (data[i] < 1 || data[i] > 9)
			ok = false;

	if (!fuzz_call1(rfm_recv, PointerGetDatum(msg), &v))
	{
		fuzz_expect_error("rfm_recv", errors);
		if (ok)
			fuzz_fail("rfm_recv rejected %d %d %d", data[0], data[1], data[2]);
	}
	else
	{
		int16		x = DatumGetInt16(v);
		bytea	   *b;

		if (!ok)
			fuzz_fail("rfm_recv accepted bad bytes as %d", x);
		if (!rfm_is_valid(x) || msg->cursor != 3)
			fuzz_fail("rfm_recv gave %d after %d bytes", x, msg->cursor);
		if (!fuzz_call1(rfm_send, v, &bin))
			fuzz_fail("rfm_send(%d) failed: %s", x, fuzz_error.message);
		b = DatumGetByteaPP(bin);
		if (VARSIZE_ANY_EXHDR(b) != 3 || memcmp(VARDATA_ANY(b), data, 3) != 0)
			fuzz_fail("rfm %d does not send back the bytes it came from", x);
		if (!fuzz_call1(rfm_out, v, &out) ||
			!fuzz_call1(rfm_in, out, &v2) || DatumGetInt16(v2) != x)
			fuzz_fail("rfm %d does not round-trip through text", x);
	}
	fuzz_reset();
	return 0;
}
