/*-------------------------------------------------------------------------
 *
 * test/fuzz/fuzz_quantile_state_in.c
 *
 * libFuzzer target: crm.quantile_state's text input,
 * rfm_quantile_state_in ("<classes> higher|lower [<value>:<count> ...]").
 * Errors must be the documented ones (22P02 bad text, 22003 a value out of
 * double range, 54000 too many values); an accepted state must survive the
 * round trips and the aggregate checks of quantile_common.h.
 *
 *-------------------------------------------------------------------------
 */
#include "quantile_common.h"

static const char *const errors[] = {"22P02", "22003", "54000", NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *s = fuzz_cstring(data, size);
	Datum		v;

	if (!fuzz_call1(rfm_quantile_state_in, CStringGetDatum(s), &v))
		fuzz_expect_error("quantile_state_in", errors);
	else
		check_state(v);
	fuzz_reset();
	return 0;
}
