/*-------------------------------------------------------------------------
 *
 * audit_hooks.c
 *	  Catch every connection attempt and write exactly one audit record
 *	  for it, whatever its outcome.
 *
 * ClientAuthentication_hook alone is not enough: core raises FATAL before
 * calling it when pg_hba.conf has no entry or a reject entry, when
 * clientcert=verify-* finds no valid certificate, and it never reaches
 * authentication at all when the TLS handshake fails.  So three places feed
 * one per-backend attempt:
 *
 *	1. ClientAuthentication_hook: the authentication status (OK, ERROR, EOF)
 *	   and a snapshot of the Port, taken while its pg_hba line still exists.
 *	2. emit_log_hook: a FATAL or COMMERROR raised while the backend is still
 *	   starting (ClientAuthInProgress, or an attempt already pending) gives
 *	   the server's reason and SQLSTATE.  It only copies them into a static
 *	   buffer: nothing here can allocate or fail while core is reporting an
 *	   error.
 *	3. Emission happens in exactly one of two places:
 *	   - a transaction-commit callback, at the commit that ends InitPostgres,
 *		 for an attempt that authenticated and then started successfully;
 *	   - an on_proc_exit callback for every attempt that ends the process
 *		 during start-up (FATAL, a failed handshake, a client that went
 *		 away).  Not before_shmem_exit: a TLS handshake fails before the
 *		 backend attaches to shared memory, and core insists that list be
 *		 empty when it does.
 *	   The attempt is then marked done, so a backend never writes a second
 *	   record.
 *
 * Every path that can fail runs under PG_TRY: an internal failure becomes a
 * WARNING and the connection proceeds exactly as it would without the
 * module.  No catalog access happens anywhere here.
 *
 * A connection that never sends a start-up packet (a bare TCP probe) is not
 * an attempt: PostgreSQL logs nothing for it and neither does this module.
 *
 * src/audit_hooks.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "access/xact.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "utils/elog.h"
#include "utils/memutils.h"

typedef enum AttemptState
{
	ATTEMPT_NONE,				/* nothing seen yet in this backend */
	ATTEMPT_PENDING,			/* seen, record not yet written */
	ATTEMPT_DONE				/* record written (or deliberately skipped) */
} AttemptState;

/* Per-backend state of the one connection attempt this backend serves. */
static AttemptState attempt_state = ATTEMPT_NONE;
static AuditRecord attempt;
static bool attempt_port_captured = false;
static bool attempt_hook_called = false;
static int	attempt_auth_status = STATUS_OK;	/* valid if hook called */
static bool attempt_exit_callback_registered = false;
static bool attempt_xact_callback_registered = false;

/* First startup-time error message, copied without allocating. */
#define REASON_BUFSIZE 1024
static char logged_reason[REASON_BUFSIZE];
static int	logged_sqlerrcode = 0;
static int	logged_elevel = 0;
static bool logged_fatal = false;
static bool logged_ssl_accept_failure = false;

/* Set while this module writes a record, so its own message is ignored. */
static bool writing_record = false;

static ClientAuthentication_hook_type prev_client_auth_hook = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

static void audit_finish_attempt(void);

/* pgtls_audit.debug_inject_failure: an ERROR where a real bug would raise one */
static void
maybe_inject_failure(void)
{
	if (pgtls_audit_debug_inject_failure)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("failure injected by pgtls_audit.debug_inject_failure")));
}

/*
 * Report an internal failure of this module as a WARNING, after PG_CATCH.
 * The caller's connection carries on.
 */
static void
report_internal_failure(MemoryContext oldcontext, const char *what)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(oldcontext);
	edata = CopyErrorData();
	FlushErrorState();
	writing_record = false;
	ereport(WARNING,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("pgtls_audit could not %s: %s", what, edata->message),
			 errdetail("The connection attempt was not affected.")));
	FreeErrorData(edata);
}

static void
audit_exit_callback(int code, Datum arg)
{
	if (attempt_state != ATTEMPT_NONE)
		audit_finish_attempt();
}

static void
audit_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && attempt_state == ATTEMPT_PENDING &&
		attempt_auth_status == STATUS_OK && !logged_fatal)
		audit_finish_attempt();
}

static void
ensure_exit_callback(void)
{
	if (!attempt_exit_callback_registered)
	{
		on_proc_exit(audit_exit_callback, (Datum) 0);
		attempt_exit_callback_registered = true;
	}
}

/* Decide event and outcome from everything seen, just before writing. */
static void
classify_attempt(void)
{
	if (!attempt_hook_called)
	{
		if (attempt.hba_line > 0 ||
			(MyProcPort != NULL && MyProcPort->hba != NULL))
		{
			/* pg_hba.conf was consulted, but the hook was never called */
			attempt.event = AUDIT_EVENT_AUTH;
			attempt.outcome = logged_sqlerrcode == ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION ?
				AUDIT_OUTCOME_REJECTED : AUDIT_OUTCOME_FAILED;
		}
		else
		{
			attempt.event = AUDIT_EVENT_HANDSHAKE;
			attempt.outcome = AUDIT_OUTCOME_FAILED;
		}
	}
	else if (attempt_auth_status == STATUS_OK)
	{
		if (logged_fatal)
		{
			attempt.event = AUDIT_EVENT_AUTHORIZATION;
			attempt.outcome = AUDIT_OUTCOME_FAILED;
		}
		else
		{
			attempt.event = AUDIT_EVENT_ESTABLISHED;
			attempt.outcome = AUDIT_OUTCOME_SUCCESS;
		}
	}
	else if (attempt_auth_status == STATUS_EOF)
	{
		attempt.event = AUDIT_EVENT_AUTH;
		attempt.outcome = AUDIT_OUTCOME_ABORTED;
		if (logged_reason[0] == '\0')
			strlcpy(logged_reason, "client closed the connection during authentication",
					REASON_BUFSIZE);
	}
	else
	{
		/* STATUS_ERROR: the method refused the client */
		attempt.event = AUDIT_EVENT_AUTH;
		attempt.outcome = AUDIT_OUTCOME_FAILED;
	}
}

/*
 * Write one record to the server log, never to the client.  (A function of
 * its own so that its PG_TRY does not nest in its caller's.)
 */
static void
write_record_to_log(const AuditRecord *rec)
{
	StringInfoData buf;
	int			elevel = pgtls_audit_log_level;
	CommandDest saved_dest = whereToSendOutput;

	initStringInfo(&buf);
	audit_format_record(&buf, rec, pgtls_audit_log_format);

	writing_record = true;
	whereToSendOutput = DestNone;
	PG_TRY();
	{
		ereport(elevel == LOG ? LOG_SERVER_ONLY : elevel,
				(errmsg_internal("%s", buf.data),
				 errhidestmt(true),
				 errhidecontext(true)));
	}
	PG_FINALLY();
	{
		whereToSendOutput = saved_dest;
		writing_record = false;
	}
	PG_END_TRY();
	pfree(buf.data);
}

/* Write the record of this backend's attempt, once. */
static void
audit_finish_attempt(void)
{
	MemoryContext oldcontext = CurrentMemoryContext;

	if (attempt_state == ATTEMPT_DONE)
		return;
	attempt_state = ATTEMPT_DONE;

	PG_TRY();
	{
		bool		success;

		maybe_inject_failure();
		if (!attempt_port_captured)
		{
			/* log-driven attempt: the Port is still intact at this point */
			audit_record_init(&attempt, MyProcPort);
			attempt_port_captured = true;
		}
		else if (logged_ssl_accept_failure)
			audit_record_capture_failed_cert(&attempt);

		classify_attempt();
		if (logged_reason[0] != '\0')
			audit_record_set_reason(&attempt, logged_reason, logged_sqlerrcode);

		inventory_add(&attempt);

		success = attempt.outcome == AUDIT_OUTCOME_SUCCESS;
		if (success ? pgtls_audit_log_connections : pgtls_audit_log_failures)
			write_record_to_log(&attempt);
	}
	PG_CATCH();
	{
		report_internal_failure(oldcontext, "write the audit record");
		inventory_count_dropped();
	}
	PG_END_TRY();

	if (attempt_xact_callback_registered)
	{
		UnregisterXactCallback(audit_xact_callback, NULL);
		attempt_xact_callback_registered = false;
	}
	MemoryContextReset(audit_record_context());
}

static void
audit_client_authentication(Port *port, int status)
{
	MemoryContext oldcontext = CurrentMemoryContext;

	if (prev_client_auth_hook)
		prev_client_auth_hook(port, status);

	if (attempt_state == ATTEMPT_DONE)
		return;

	PG_TRY();
	{
		maybe_inject_failure();
		audit_record_init(&attempt, port);
		attempt_port_captured = true;
		attempt_hook_called = true;
		attempt_auth_status = status;
		attempt_state = ATTEMPT_PENDING;
		ensure_exit_callback();
		if (status == STATUS_OK && !attempt_xact_callback_registered)
		{
			RegisterXactCallback(audit_xact_callback, NULL);
			attempt_xact_callback_registered = true;
		}
	}
	PG_CATCH();
	{
		report_internal_failure(oldcontext, "capture the connection attempt");
		inventory_count_dropped();
		attempt_state = ATTEMPT_DONE;
	}
	PG_END_TRY();
}

/*
 * Is this a message that ends (or decides) a connection attempt that is
 * still starting?  Only FATAL and COMMERROR are; anything raised after the
 * attempt was written is none of our business.
 */
static void
audit_emit_log(ErrorData *edata)
{
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);

	if (writing_record || attempt_state == ATTEMPT_DONE || MyProcPort == NULL)
		return;
	if (edata->elevel != FATAL && edata->elevel != COMMERROR)
		return;
	if (!ClientAuthInProgress && attempt_state != ATTEMPT_PENDING)
		return;

	/* keep the first COMMERROR, but a FATAL is always the final word */
	if (logged_reason[0] == '\0' || (edata->elevel == FATAL && !logged_fatal))
	{
		strlcpy(logged_reason, edata->message ? edata->message : "",
				REASON_BUFSIZE);
		logged_sqlerrcode = edata->sqlerrcode;
		logged_elevel = edata->elevel;
	}
	if (edata->elevel == FATAL)
		logged_fatal = true;
	if (edata->message_id &&
		strncmp(edata->message_id, "could not accept SSL connection", 31) == 0)
		logged_ssl_accept_failure = true;

	if (attempt_state == ATTEMPT_NONE)
	{
		attempt_state = ATTEMPT_PENDING;
		ensure_exit_callback();
	}
}

void
audit_hooks_install(void)
{
	prev_client_auth_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = audit_client_authentication;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = audit_emit_log;
	audit_install_tls_init_hook();
}
