/*-------------------------------------------------------------------------
 *
 * cost_probe.c
 *	  pgtls_audit.measure_record_cost(): time, inside the server, the work
 *	  the connection hooks do per attempt, against a baseline measured in
 *	  the same call: the work core itself does for its log_connections
 *	  "connection authorized" line.
 *
 * Connection-rate benchmarks (test/bench) are dominated by TLS handshakes,
 * fork() and machine noise; this measures the module's own CPU cost
 * directly, by repeating each step on the calling session's real Port
 * (run it from a TLS session with a client certificate to measure the
 * most expensive case).  Superuser only.
 *
 * src/cost_probe.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

typedef enum CostStep
{
	STEP_CORE_BASELINE,
	STEP_CAPTURE,
	STEP_FORMAT_TEXT,
	STEP_FORMAT_JSON,
	STEP_INVENTORY
} CostStep;

static const char *const step_names[] = {
	"core log_connections line (baseline)",
	"capture from Port and TLS session",
	"format text record",
	"format json record",
	"add to shared inventory"
};

static void
run_step(CostStep step, AuditRecord *rec, MemoryContext scratch)
{
	MemoryContext old = MemoryContextSwitchTo(scratch);
	Port	   *port = MyProcPort;

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
			{
				StringInfoData buf;

				initStringInfo(&buf);
				audit_format_record(&buf, rec, step == STEP_FORMAT_JSON ?
									AUDIT_FORMAT_JSON : AUDIT_FORMAT_TEXT);
			}
			break;
		case STEP_INVENTORY:
			inventory_add(rec);
			break;
	}
	MemoryContextSwitchTo(old);
	if (step != STEP_CAPTURE)
		MemoryContextReset(scratch);
}

PG_FUNCTION_INFO_V1(pgtls_audit_measure_record_cost);

Datum
pgtls_audit_measure_record_cost(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		iterations = PG_GETARG_INT32(0);
	bool		with_inventory = PG_GETARG_BOOL(1);
	MemoryContext scratch;
	AuditRecord rec;
	double		baseline_ns = 0;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only superusers can measure the record cost")));
	if (iterations < 1 || iterations > 10000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iterations must be between 1 and 10000000")));
	if (MyProcPort == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("measure_record_cost() needs a client connection")));

	InitMaterializedSRF(fcinfo, 0);
	scratch = AllocSetContextCreate(CurrentMemoryContext, "pgtls_audit cost probe",
									ALLOCSET_DEFAULT_SIZES);
	audit_record_init(&rec, MyProcPort);
	rec.outcome = AUDIT_OUTCOME_SUCCESS;
	rec.event = AUDIT_EVENT_ESTABLISHED;

	for (int s = STEP_CORE_BASELINE; s <= STEP_INVENTORY; s++)
	{
		instr_time	start,
					elapsed;
		double		ns;
		Datum		values[4];
		bool		nulls[4] = {0};

		if (s == STEP_INVENTORY && !with_inventory)
			continue;
		if (s == STEP_FORMAT_TEXT)
		{
			/* format the record captured last, from stable memory */
			MemoryContextReset(scratch);
			audit_record_init(&rec, MyProcPort);
		}
		INSTR_TIME_SET_CURRENT(start);
		for (int32 i = 0; i < iterations; i++)
		{
			run_step((CostStep) s, &rec, scratch);
			if (s == STEP_CAPTURE && (i & 63) == 63)
				MemoryContextReset(audit_record_context());
		}
		INSTR_TIME_SET_CURRENT(elapsed);
		INSTR_TIME_SUBTRACT(elapsed, start);
		ns = INSTR_TIME_GET_DOUBLE(elapsed) * 1e9 / iterations;
		if (s == STEP_CORE_BASELINE)
			baseline_ns = ns;

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
