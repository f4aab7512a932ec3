/*-------------------------------------------------------------------------
 *
 * retired.c
 *	  Entry points of SQL functions that an older version of the extension
 *	  declared and a later one removed.
 *
 * The SQL definition of a C function names its symbol in this library, and
 * CREATE FUNCTION ... LANGUAGE C looks the symbol up even inside an
 * extension script.  So that a server still at an older version keeps
 * working, and its install script still runs (ALTER EXTENSION ... UPDATE
 * starts from it), each removed symbol stays here, as a function that
 * refuses to run and says what to do instead.
 *
 *	1.0  measure_record_cost(integer, boolean): the in-process cost probe.
 *		 With include_inventory it added invented attempts to the shared
 *		 inventory, so it is not part of the extension from 1.1 on (the
 *		 upgrade script drops it); the benchmark uses the test-only module
 *		 in test/modules/pgtls_audit_cost_probe/.
 *
 * src/retired.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "fmgr.h"

PG_FUNCTION_INFO_V1(pgtls_audit_measure_record_cost);

Datum
pgtls_audit_measure_record_cost(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("pgtls_audit.measure_record_cost() was removed in pgtls_audit 1.1"),
			 errdetail("The cost probe is a test-only module now, so that nothing a user can call adds records to the inventory."),
			 errhint("Run ALTER EXTENSION pgtls_audit UPDATE.")));
	PG_RETURN_NULL();
}
