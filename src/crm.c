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

#include "fastpath.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* no hooks; one setting, crm.log_fast_path (src/fastpath.c) */
	fastpath_define_settings();
}
