/*-------------------------------------------------------------------------
 *
 * src/crm.c
 *
 * Module entry point of the crm extension: the module magic and
 * _PG_init().  The SQL-callable functions live in one file per concern.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "discount.h"
#include "fastpath.h"
#include "future.h"
#include "profiles.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * no hooks; settings: crm.future_tolerance (src/future.c),
	 * crm.price_cart_cache (src/discount_cache.c, which also registers its
	 * relcache callback), crm.read_profiles and crm.pass_memory_limit
	 * (src/profiles.c), and crm.log_fast_path (src/fastpath.c), which also
	 * reserves the prefix
	 */
	future_define_settings();
	discount_cache_define_settings();
	profiles_define_settings();
	fastpath_define_settings();
}
