/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_quantile_state_recv.c
 *
 * libFuzzer target: crm.quantile_state's binary input,
 * rfm_quantile_state_recv.  Errors must be 22P03 (bad bytes), 08P01 (a
 * short message) or 54000; an accepted state must send back the bytes it
 * was read from (but for -0, which reads as 0) and pass the checks of
 * quantile_common.h.
 *
 *-------------------------------------------------------------------------
 */
#include "quantile_common.h"

static const char *const errors[] = {"22P03", "08P01", "54000", NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	StringInfo	msg = fuzz_message((const char *) data, size);
	Datum		v;

	if (!fuzz_call1(rfm_quantile_state_recv, PointerGetDatum(msg), &v))
		fuzz_expect_error("quantile_state_recv", errors);
	else if (msg->cursor == msg->len)
	{
		bytea	   *b = state_bytes(v);
		const char *out = VARDATA_ANY(b);
		size_t		n = VARSIZE_ANY_EXHDR(b);

		if (n != size)
			fuzz_fail("recv of %zu bytes sends %zu", size, n);
		for (size_t i = 0; i < n; i++)
		{
			/* a value -0 (sign bit alone) comes back as 0 */
			size_t		value_at = i < 9 ? 0 : 9 + (i - 9) / 16 * 16;
			bool		negzero = i >= 9 && (i - 9) % 16 < 8 &&
				(uint8) data[value_at] == 0x80 &&
				memcmp(data + value_at + 1, "\0\0\0\0\0\0\0", 7) == 0;

			if (out[i] != (char) data[i] && !negzero)
				fuzz_fail("recv then send changed byte %zu", i);
		}
		check_state(v);
	}
	fuzz_reset();
	return 0;
}
