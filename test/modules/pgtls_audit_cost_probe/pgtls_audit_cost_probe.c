/*-------------------------------------------------------------------------
 *
 * pgtls_audit_cost_probe.c
 *	  A test-only module: time, inside the server, the work pgtls_audit's
 *	  connection hooks do per attempt, against a baseline measured in the
 *	  same call: the work core itself does for its log_connections
 *	  "connection authorized" line.
 *
 * Connection-rate benchmarks (test/bench) are dominated by TLS handshakes,
 * fork() and machine noise; this measures the module's own CPU cost
 * directly, by repeating each step on the calling session's real Port
 * (run it from a TLS session with a client certificate to measure the
 * most expensive case).
 *
 * Not part of the extension.  In 1.0 this was the extension's
 * measure_record_cost(), whose inventory step added invented "successful"
 * attempts to the server's shared inventory: an audit trail must hold only
 * real attempts.  This module is built and installed by the test harness
 * (test/run, test/bench), never by the extension's Makefile;
 * pgtls_audit_cost_probe.sql creates its function in a schema of its own
 * and revokes it from PUBLIC.
 *
 * How it stays away from the real inventory.  It is compiled from copies of
 * the main module's audit/record.c, audit/format.c, common/x509.c,
 * common/settings.c, inventory/lru_table.c, inventory/inventory_lock.c
 * and (below, by #include) inventory/inventory.c, so that it measures the
 * same code.  Both
 * modules are built with -fvisibility=hidden, so every call in here binds
 * to this module's own copies: PostgreSQL dlopen()s modules RTLD_GLOBAL,
 * and with default visibility the probe's calls to inventory_add() could
 * bind to the main module's (ELF interposition) and write into the shared
 * inventory.  test/lib/check_exports.sh checks what both libraries
 * export.  The copy of inventory.c gets its memory from
 * probe_private_struct() instead of ShmemInitStruct(): a private inventory
 * in this backend's memory, created for one call and deleted after it,
 * with the main module's default sizes.  The save file's code
 * (inventory/persist.c, which the main module's _PG_init hooks into
 * inventory.c's start-up through a callback) and the SQL functions
 * (inventory/views.c) are not compiled in, so the private inventory can
 * never be saved or loaded; and the probe refuses to run outside a
 * backend of a running server.
 *
 * Every loop checks for interrupts, so statement_timeout and
 * pg_cancel_backend() stop it (the check is inside the timed loops, a few
 * nanoseconds per call, baseline included).  No superuser() test: who may run it is
 * decided by GRANT.
 *
 * The session's Port cannot be used as it is: its pg_hba line lived in
 * PostmasterContext, which the backend deleted when start-up ended, so
 * port->hba now dangles.  The probe captures from a copy of the Port whose
 * hba points to a stand-in line built here.
 *
 * test/modules/pgtls_audit_cost_probe/pgtls_audit_cost_probe.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "audit/format.h"
#include "audit/record.h"
#include "audit/tls.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(pgtls_cost_probe_measure);

/*
 * Settings the copied files may read, at the main module's defaults; the
 * main module's own variables are hidden and must stay out of reach.
 * __typeof__ keeps each definition in step with its declaration in
 * pgtls_audit.h.
 */
__typeof__(pgtls_audit_log_connections) pgtls_audit_log_connections = true;
__typeof__(pgtls_audit_log_failures) pgtls_audit_log_failures = true;
__typeof__(pgtls_audit_log_format) pgtls_audit_log_format = AUDIT_FORMAT_TEXT;
__typeof__(pgtls_audit_log_level) pgtls_audit_log_level = LOG;
__typeof__(pgtls_audit_policy_min_protocol) pgtls_audit_policy_min_protocol = TLS_RANK_TLSV1_2;
__typeof__(pgtls_audit_preloaded) pgtls_audit_preloaded = false;
__typeof__(pgtls_audit_debug_inject_failure) pgtls_audit_debug_inject_failure = 0;
__typeof__(pgtls_audit_debug_lock_timing) pgtls_audit_debug_lock_timing = false;

/*
 * audit/record.c asks audit/tls.c, which the probe does not compile (it
 * installs no TLS callback), for the certificate of a failed handshake:
 * there is none.
 */
void *
audit_tls_failed_peer_cert(int *verify_error)
{
	*verify_error = 0;
	return NULL;
}

/* ---------------------------------------------------------------------
 * The private inventory: inventory.c compiled into this file, its shared
 * memory replaced by memory of this backend
 * ---------------------------------------------------------------------
 */
static MemoryContext private_inventory_cxt = NULL;

static void *
probe_private_struct(const char *name, Size size, bool *found)
{
	if (private_inventory_cxt == NULL)
		elog(ERROR, "cost probe: \"%s\" requested outside the probe", name);
	*found = false;
	return MemoryContextAllocExtended(private_inventory_cxt, size,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

#define ShmemInitStruct(name, size, foundPtr) \
	probe_private_struct((name), (size), (foundPtr))

#include "inventory/inventory.c"

#undef ShmemInitStruct

/*
 * Create a fresh private inventory in a child of parent (deleted with it,
 * also on error), through inventory.c's own start-up code.
 */
static void
private_inventory_create(MemoryContext parent)
{
	private_inventory_cxt = AllocSetContextCreate(parent,
												  "pgtls_audit cost probe inventory",
												  ALLOCSET_DEFAULT_SIZES);
	inventory = NULL;
	inventory_shmem_startup();
	if (inventory == NULL)
		elog(ERROR, "cost probe: the private inventory was not created");
}

static void
private_inventory_check_and_drop(int32 iterations)
{
	uint64		recorded = inventory->records_total;

	inventory = NULL;
	MemoryContextDelete(private_inventory_cxt);
	private_inventory_cxt = NULL;
	if (recorded != (uint64) iterations)
		elog(ERROR, "cost probe: the private inventory holds " UINT64_FORMAT " records, expected %d",
			 recorded, iterations);
}

/* ---------------------------------------------------------------------
 * The steps
 * ---------------------------------------------------------------------
 */
typedef enum CostStep
{
	STEP_CORE_BASELINE,
	STEP_CAPTURE,
	STEP_FORMAT_TEXT,
	STEP_FORMAT_JSON,
	STEP_FORMAT_JSON_COMPACT,
	STEP_INVENTORY,
	STEP_INVENTORY_NEW
} CostStep;

static const char *const step_names[] = {
	"core log_connections line (baseline)",
	"capture from Port and TLS session",
	"format text record",
	"format json record",
	"format json_compact record",
	"add to inventory (private copy)",
	"add to inventory, log_connections = new (private copy)"
};

static void
run_step(CostStep step, Port *port, AuditRecord *rec, MemoryContext scratch)
{
	MemoryContext old = MemoryContextSwitchTo(scratch);

	switch (step)
	{
		case STEP_CORE_BASELINE:
			/* what PerformAuthentication builds for log_connections */
			if (port->ssl_in_use)
				(void) psprintf("connection authorized: user=%s database=%s application_name=%s SSL enabled (protocol=%s, cipher=%s, bits=%d)",
								port->user_name, port->database_name,
								port->application_name ? port->application_name : "",
								be_tls_get_version(port), be_tls_get_cipher(port),
								be_tls_get_cipher_bits(port));
			else
				(void) psprintf("connection authorized: user=%s database=%s application_name=%s",
								port->user_name, port->database_name,
								port->application_name ? port->application_name : "");
			break;
		case STEP_CAPTURE:
			audit_record_init(rec, port);
			break;
		case STEP_FORMAT_TEXT:
		case STEP_FORMAT_JSON:
		case STEP_FORMAT_JSON_COMPACT:
			{
				StringInfoData buf;

				initStringInfo(&buf);
				audit_format_record(&buf, rec,
									step == STEP_FORMAT_JSON ? AUDIT_FORMAT_JSON :
									step == STEP_FORMAT_JSON_COMPACT ? AUDIT_FORMAT_JSON_COMPACT :
									AUDIT_FORMAT_TEXT);
			}
			break;
		case STEP_INVENTORY:
		case STEP_INVENTORY_NEW:
			{
				/* the same record each time: with new, all but the first are counted */
				InventoryDecision decision;
				static InventorySummary summaries[INVENTORY_MAX_SUMMARIES];

				decision.summaries = summaries;
				inventory_add(rec, step == STEP_INVENTORY_NEW ? AUDIT_LOG_NEW : AUDIT_LOG_ON,
							  3600, &decision);
			}
			break;
	}
	MemoryContextSwitchTo(old);
	if (step != STEP_CAPTURE)
		MemoryContextReset(scratch);
}

/*
 * Nanoseconds per call of one step, run iterations times (captured records
 * are freed every 64 calls).
 */
static double
time_step(CostStep step, int32 iterations, Port *port, AuditRecord *rec,
		  MemoryContext scratch)
{
	instr_time	start,
				elapsed;

	INSTR_TIME_SET_CURRENT(start);
	for (int32 i = 0; i < iterations; i++)
	{
		CHECK_FOR_INTERRUPTS();
		run_step(step, port, rec, scratch);
		if (step == STEP_CAPTURE && (i & 63) == 63)
			MemoryContextReset(audit_record_context());
	}
	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);
	return INSTR_TIME_GET_DOUBLE(elapsed) * 1e9 / iterations;
}

/* A copy of the session's Port with a live stand-in for its freed pg_hba line. */
static void
probe_port_init(Port *probe_port, HbaLine *probe_hba)
{
	memset(probe_hba, 0, sizeof(*probe_hba));
	probe_hba->linenumber = 1;
	probe_hba->auth_method = uaSCRAM;
	PGTLS_HBA_SET_SOURCEFILE(probe_hba, HbaFileName);
	*probe_port = *MyProcPort;
	probe_port->hba = probe_hba;
}

/*
 * pgtls_cost_probe.measure_record_cost(iterations, include_inventory):
 * one row per step with its nanoseconds per call.
 */
Datum
pgtls_cost_probe_measure(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		iterations;
	bool		with_inventory;
	MemoryContext scratch;
	AuditRecord rec;
	Port		probe_port;
	HbaLine		probe_hba;
	double		baseline_ns = 0;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("iterations and include_inventory must not be null")));
	iterations = PG_GETARG_INT32(0);
	with_inventory = PG_GETARG_BOOL(1);
	if (iterations < 1 || iterations > 10000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iterations must be between 1 and 10000000")));
	if (MyProcPort == NULL || !IsUnderPostmaster)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the cost probe needs a client connection to a running server")));
	/* the probe's own copy of the record context (audit/record.c) */
	audit_record_context_init();

	probe_port_init(&probe_port, &probe_hba);

	/* pointers left dangling by a cancelled call, if any */
	inventory = NULL;
	private_inventory_cxt = NULL;

	InitMaterializedSRF(fcinfo, 0);
	scratch = AllocSetContextCreate(CurrentMemoryContext, "pgtls_audit cost probe",
									ALLOCSET_DEFAULT_SIZES);
	/* left over from a cancelled call, if any */
	MemoryContextReset(audit_record_context());
	audit_record_init(&rec, &probe_port);
	rec.outcome = AUDIT_OUTCOME_SUCCESS;
	rec.event = AUDIT_EVENT_ESTABLISHED;

	for (int s = STEP_CORE_BASELINE; s <= STEP_INVENTORY_NEW; s++)
	{
		double		ns;
		Datum		values[4];
		bool		nulls[4] = {0};

		if (s == STEP_INVENTORY || s == STEP_INVENTORY_NEW)
		{
			if (!with_inventory)
				continue;
			private_inventory_create(CurrentMemoryContext);
		}
		if (s == STEP_FORMAT_TEXT)
		{
			/* format the record captured last, from stable memory */
			MemoryContextReset(scratch);
			audit_record_init(&rec, &probe_port);
		}
		ns = time_step((CostStep) s, iterations, &probe_port, &rec, scratch);
		if (s == STEP_CORE_BASELINE)
			baseline_ns = ns;
		if (s == STEP_INVENTORY || s == STEP_INVENTORY_NEW)
			private_inventory_check_and_drop(iterations);

		values[0] = CStringGetTextDatum(step_names[s]);
		values[1] = Int32GetDatum(iterations);
		values[2] = Float8GetDatum(ns);
		values[3] = Float8GetDatum(baseline_ns > 0 ? ns / baseline_ns : 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextReset(audit_record_context());
	MemoryContextDelete(scratch);
	return (Datum) 0;
}
