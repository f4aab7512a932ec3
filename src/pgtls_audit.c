/*-------------------------------------------------------------------------
 *
 * pgtls_audit.c
 *	  Module entry point: settings, hook installation, and the SQL functions
 *	  that report whether the module is active.
 *
 * Loaded through shared_preload_libraries the module installs its hooks
 * (see audit/hooks.c).  Loaded any other way (CREATE EXTENSION in a server
 * that does not preload it) it installs nothing, and pgtls_audit.status()
 * and the install script say that connection auditing is inactive.
 *
 * src/pgtls_audit.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "audit/hooks.h"
#include "audit/log_file.h"
#include "audit/record.h"
#include "certs/cert_info.h"
#include "certs/server_files.h"
#include "inventory/inventory.h"
#include "inventory/persist.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/varlena.h"

PGTLS_MODULE_MAGIC;

int			pgtls_audit_log_connections = AUDIT_LOG_ON;
int			pgtls_audit_log_failures = AUDIT_LOG_ON;
int			pgtls_audit_log_repeat_interval = 3600;
int			pgtls_audit_log_format = AUDIT_FORMAT_TEXT;
int			pgtls_audit_log_level = LOG;
int			pgtls_audit_log_destination = AUDIT_DEST_SERVER_LOG;
static char *log_destination_string = NULL;
char	   *pgtls_audit_log_file = NULL;
int			pgtls_audit_policy_min_protocol = TLS_RANK_TLSV1_2;
bool		pgtls_audit_preloaded = false;
int			pgtls_audit_debug_inject_failure = INJECT_FAILURE_OFF;
int			pgtls_audit_debug_record_delay = 0;
bool		pgtls_audit_debug_lock_timing = false;

static const struct config_enum_entry log_format_options[] = {
	{"text", AUDIT_FORMAT_TEXT, false},
	{"json", AUDIT_FORMAT_JSON, false},
	{"json_compact", AUDIT_FORMAT_JSON_COMPACT, false},
	{NULL, 0, false}
};

/* on/off keep every spelling they had when these settings were bools */
static const struct config_enum_entry log_mode_options[] = {
	{"off", AUDIT_LOG_OFF, false},
	{"on", AUDIT_LOG_ON, false},
	{"new", AUDIT_LOG_NEW, false},
	{"false", AUDIT_LOG_OFF, true},
	{"true", AUDIT_LOG_ON, true},
	{"no", AUDIT_LOG_OFF, true},
	{"yes", AUDIT_LOG_ON, true},
	{"0", AUDIT_LOG_OFF, true},
	{"1", AUDIT_LOG_ON, true},
	{NULL, 0, false}
};

static const struct config_enum_entry log_level_options[] = {
	{"debug5", DEBUG5, false},
	{"debug4", DEBUG4, false},
	{"debug3", DEBUG3, false},
	{"debug2", DEBUG2, false},
	{"debug1", DEBUG1, false},
	{"info", INFO, false},
	{"notice", NOTICE, false},
	{"warning", WARNING, false},
	{"log", LOG, false},
	{NULL, 0, false}
};

static const struct config_enum_entry min_protocol_options[] = {
	{"TLSv1", TLS_RANK_TLSV1, false},
	{"TLSv1.1", TLS_RANK_TLSV1_1, false},
	{"TLSv1.2", TLS_RANK_TLSV1_2, false},
	{"TLSv1.3", TLS_RANK_TLSV1_3, false},
	{NULL, 0, false}
};

/* "on" and "off" keep the meaning they had when the setting was a bool */
static const struct config_enum_entry inject_failure_options[] = {
	{"off", INJECT_FAILURE_OFF, false},
	{"hook", INJECT_FAILURE_HOOK, false},
	{"record", INJECT_FAILURE_RECORD, false},
	{"on", INJECT_FAILURE_ALL, false},
	{"false", INJECT_FAILURE_OFF, true},
	{"true", INJECT_FAILURE_ALL, true},
	{NULL, 0, false}
};

void		_PG_init(void);

/*
 * pgtls_audit.log_destination: a comma-separated list, as core's
 * log_destination; the set of AUDIT_DEST_* is passed to the assign hook
 * in "extra" (allocated as the GUC machinery frees it: pg_compat.h).
 */
static bool
check_log_destination(char **newval, void **extra, GucSource source)
{
	char	   *rawstring;
	List	   *elemlist;
	ListCell   *l;
	int			dest = 0;
	int		   *myextra;

	rawstring = pstrdup(*newval);
	if (!SplitIdentifierString(rawstring, ',', &elemlist))
	{
		GUC_check_errdetail("List syntax is invalid.");
		pfree(rawstring);
		list_free(elemlist);
		return false;
	}
	foreach(l, elemlist)
	{
		char	   *tok = (char *) lfirst(l);

		if (pg_strcasecmp(tok, "server_log") == 0)
			dest |= AUDIT_DEST_SERVER_LOG;
		else if (pg_strcasecmp(tok, "file") == 0)
			dest |= AUDIT_DEST_FILE;
		else
		{
			GUC_check_errdetail("Unrecognized key word: \"%s\".", tok);
			pfree(rawstring);
			list_free(elemlist);
			return false;
		}
	}
	pfree(rawstring);
	list_free(elemlist);
	if (dest == 0)
	{
		GUC_check_errdetail("Name server_log, file, or both.");
		return false;
	}
	myextra = PGTLS_GUC_MALLOC(sizeof(int));
	if (myextra == NULL)
		return false;
	*myextra = dest;
	*extra = myextra;
	return true;
}

static void
assign_log_destination(const char *newval, void *extra)
{
	pgtls_audit_log_destination = *((int *) extra);
}

static bool
check_log_file(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
	{
		GUC_check_errdetail("The audit file name must not be empty.");
		return false;
	}
	if (strlen(*newval) >= MAXPGPATH)
	{
		GUC_check_errdetail("The audit file name is too long.");
		return false;
	}
	return true;
}

/* The settings of the audit record: what is written, how, and the policy */
static void
define_record_settings(void)
{
	DefineCustomEnumVariable("pgtls_audit.log_connections",
							 "Writes an audit record for each successful connection.",
							 "on: every one; new: only a client tuple not written within pgtls_audit.log_repeat_interval, the others counted in the next record (repeats); off: none.",
							 &pgtls_audit_log_connections,
							 AUDIT_LOG_ON,
							 log_mode_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("pgtls_audit.log_failures",
							 "Writes an audit record for each failed, rejected or aborted connection attempt.",
							 "on: every one; new: only an (address, user, reason) not written within pgtls_audit.log_repeat_interval, the others counted in the next record (repeats); off: none.",
							 &pgtls_audit_log_failures,
							 AUDIT_LOG_ON,
							 log_mode_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgtls_audit.log_repeat_interval",
							"With log_connections or log_failures = new, how long a written tuple's repeats are only counted.",
							"A summary record carries the count when the interval passes without a new record.",
							&pgtls_audit_log_repeat_interval,
							3600, 1, 365 * 24 * 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("pgtls_audit.log_format",
							 "Format of audit records in the server log.",
							 "text: one line of key=value pairs; json: one JSON object; json_compact: the same object without its null fields.",
							 &pgtls_audit_log_format,
							 AUDIT_FORMAT_TEXT,
							 log_format_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("pgtls_audit.log_level",
							 "Message level of audit records in the server log.",
							 NULL,
							 &pgtls_audit_log_level,
							 LOG,
							 log_level_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("pgtls_audit.log_destination",
							   "Where audit records are written.",
							   "A list of server_log (the server log, after the PGTLS_AUDIT marker, in pgtls_audit.log_format) and file (pgtls_audit.log_file, one JSON object per line).",
							   &log_destination_string,
							   "server_log",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_log_destination, assign_log_destination, NULL);

	DefineCustomStringVariable("pgtls_audit.log_file",
							   "Audit file written when pgtls_audit.log_destination includes file.",
							   "Relative to the data directory unless absolute.  Always one JSON object per line, whatever pgtls_audit.log_format says.",
							   &pgtls_audit_log_file,
							   "log/pgtls_audit.jsonl",
							   PGC_SIGHUP,
							   0,
							   check_log_file, NULL, NULL);

	DefineCustomEnumVariable("pgtls_audit.policy_min_protocol",
							 "Lowest TLS protocol version the audit policy accepts.",
							 "Connections below it are marked policy=below_min_protocol; they are not refused.",
							 &pgtls_audit_policy_min_protocol,
							 TLS_RANK_TLSV1_2,
							 min_protocol_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
}

/* Settings that exist only to test the module's own failure handling */
static void
define_debug_settings(void)
{
	DefineCustomEnumVariable("pgtls_audit.debug_inject_failure",
							 "Makes the connection hooks fail internally (for testing only).",
							 "hook: an ERROR in the authentication hook; record: a failure while writing the record, also in the exit callback; on: both.  Proves that an internal failure becomes a WARNING and a counted drop, never a refused login.",
							 &pgtls_audit_debug_inject_failure,
							 INJECT_FAILURE_OFF,
							 inject_failure_options,
							 PGC_SIGHUP,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pgtls_audit.debug_record_delay",
							"Delays writing the record of an attempt that ends during start-up (for testing only).",
							"Signals are blocked during the delay, as while the record is written.",
							&pgtls_audit_debug_record_delay,
							0, 0, 60000,
							PGC_SIGHUP,
							GUC_NOT_IN_SAMPLE | GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pgtls_audit.debug_lock_timing",
							 "Times each acquisition of the inventory lock (for testing only).",
							 "The longest wait and hold, and the counts, are logged when the server stops.",
							 &pgtls_audit_debug_lock_timing,
							 false,
							 PGC_SUSET,
							 GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
}

void
_PG_init(void)
{
	/*
	 * Settings are defined in every case so that SHOW and pg_settings work
	 * even where the module is only loaded by CREATE EXTENSION.
	 */
	define_record_settings();
	define_debug_settings();
	certificates_define_settings();

	if (!process_shared_preload_libraries_in_progress)
		return;

	/* sizes of shared memory: only meaningful, and only allowed, here */
	inventory_define_settings();

	pgtls_audit_preloaded = true;

	/* created here so that backends inherit it (see audit/record.c) */
	audit_record_context_init();

	MarkGUCPrefixReserved("pgtls_audit");

	audit_hooks_install();
	audit_log_file_install();
	inventory_install_hooks();
	inventory_persist_install();
	certificates_install_hooks();
}

/*
 * pgtls_audit.status(): is connection auditing active in this server?
 */
PG_FUNCTION_INFO_V1(pgtls_audit_status);

Datum
pgtls_audit_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	values[0] = BoolGetDatum(pgtls_audit_preloaded);
	values[1] = CStringGetTextDatum(PGTLS_AUDIT_VERSION);
	values[2] = Int32GetDatum(PGTLS_AUDIT_RECORD_VERSION);
	values[3] = CStringGetTextDatum(PGTLS_AUDIT_MARKER);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * Called by the install script: warn when the module is not preloaded, so
 * that CREATE EXTENSION says plainly that nothing is being audited.
 */
PG_FUNCTION_INFO_V1(pgtls_audit_check_preloaded);

Datum
pgtls_audit_check_preloaded(PG_FUNCTION_ARGS)
{
	if (!pgtls_audit_preloaded)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgtls_audit is not loaded via shared_preload_libraries, so connection auditing is inactive"),
				 errhint("Add pgtls_audit to shared_preload_libraries in postgresql.conf and restart the server.")));
	PG_RETURN_BOOL(pgtls_audit_preloaded);
}

/*
 * Retired SQL entry points: functions that an older version of the
 * extension declared and a later one removed.
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
 */
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
