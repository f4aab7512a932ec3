/*-------------------------------------------------------------------------
 *
 * hooks.c
 *	  Catch every connection attempt and write exactly one audit record
 *	  for it, whatever its outcome.
 *
 * ClientAuthentication_hook alone is not enough: core raises FATAL before
 * calling it when pg_hba.conf has no entry or a reject entry, when
 * clientcert=verify-* finds no valid certificate, and it never reaches
 * authentication at all when the TLS handshake fails.  So four places feed
 * one per-backend attempt:
 *
 *	1. ClientAuthentication_hook: the authentication status (OK, ERROR, EOF)
 *	   and a snapshot of the Port, taken while its pg_hba line still exists.
 *	2. emit_log_hook: a message raised while the backend is still starting
 *	   that decides the outcome gives the server's reason and SQLSTATE: a
 *	   FATAL at any point of start-up, or a COMMERROR before authentication
 *	   (a failed handshake, a bad start-up packet).  A COMMERROR after the
 *	   hook ran decides nothing (COMMERROR is also LOG_SERVER_ONLY, which any
 *	   module may use), and a successful attempt never has a reason.  The
 *	   hook only copies into a static buffer: nothing here can allocate or
 *	   fail while core is reporting an error.
 *	3. The ClientHello callback (audit/tls.c) says that a TLS handshake
 *	   started, so that a client that completes the handshake and leaves
 *	   without a start-up packet (a TLS scanner, a load balancer's health
 *	   check) is recorded too: core logs nothing for it.
 *	4. Emission happens in exactly one of two places:
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
 * Failures.  The hook runs under PG_TRY: an internal failure there becomes
 * a WARNING and the connection proceeds exactly as it would without the
 * module.  Writing the record cannot use PG_TRY, because in an exit
 * callback errstart() turns an ERROR into FATAL: so that path raises
 * nothing at all (audit/record.c and audit/format.c allocate with
 * MCXT_ALLOC_NO_OOM and report failure by result), and a failure there is
 * a WARNING plus a count in records_dropped.  No catalog access happens
 * anywhere here.
 *
 * Signals.  Until start-up ends, core's SIGTERM handler
 * (process_startup_packet_die) and the authentication_timeout handler
 * (StartupPacketTimeoutHandler, on SIGALRM) call _exit(1) at once.  If one
 * landed while this backend held the inventory's spinlock, the lock would
 * stay taken and every later connection would spin until a stuck-spinlock
 * PANIC.  So the exit callback blocks every signal core blocks (BlockSig:
 * SIGTERM, SIGALRM, SIGINT, SIGQUIT, ...) before it touches shared memory
 * and restores the mask when it is done; a signal that arrived meanwhile
 * is then delivered and does what it would have done, with nothing held.
 * Blocking SIGALRM also holds off the start-up timeout.  A client that
 * stalls until authentication_timeout is still ended by core's _exit(1)
 * before any exit callback runs: such an attempt cannot be recorded.
 * The commit-callback path runs after start-up, where SIGTERM only sets a
 * flag, and needs no blocking.
 *
 * A connection that never sends a start-up packet nor starts TLS (a bare
 * TCP probe) is not an attempt: PostgreSQL logs nothing for it and neither
 * does this module.
 *
 * src/audit/hooks.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "audit/client_hello.h"
#include "audit/format.h"
#include "audit/hooks.h"
#include "audit/log_file.h"
#include "audit/offer.h"
#include "audit/record.h"
#include "audit/tls.h"
#include "common/x509.h"
#include "inventory/inventory.h"

#include <signal.h>

#include <openssl/ssl.h>

#include "access/xact.h"
#include "libpq/pqsignal.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "utils/elog.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

typedef enum AttemptState
{
	ATTEMPT_NONE,				/* nothing seen yet in this backend */
	ATTEMPT_PENDING,			/* seen, record not yet written */
	ATTEMPT_DONE				/* record written (or deliberately skipped) */
} AttemptState;

/* Per-backend state of the one connection attempt this backend serves. */
static AttemptState attempt_state = ATTEMPT_NONE;
static AuditRecord attempt;

/* inventory_add's due summaries (audit_hooks_install) */
static InventorySummary *due_summaries = NULL;
static bool attempt_port_captured = false;
static bool attempt_hook_called = false;
static bool attempt_auth_decided = false;	/* the hook chain was entered */
static int	attempt_auth_status = STATUS_OK;	/* valid if hook called */
static bool attempt_exit_callback_registered = false;
static bool attempt_xact_callback_registered = false;

/*
 * First startup-time error message, copied without allocating; cut at a
 * UTF-8 character boundary and marked with "..." when longer.
 */
#define REASON_BUFSIZE 1024
#define REASON_CUT_MARKER "..."
static char logged_reason[REASON_BUFSIZE];
static int	logged_sqlerrcode = 0;
static int	logged_elevel = 0;
static bool logged_fatal = false;
static bool logged_ssl_accept_failure = false;

/* Set while this module writes a record, so its own message is ignored. */
static bool writing_record = false;

static ClientAuthentication_hook_type prev_client_auth_hook = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

/* A client completed the TLS handshake and left: no message, no hook. */
static bool attempt_tls_only = false;

static void audit_finish_attempt(bool in_exit_callback);

/*
 * Server-only messages of this module (WARNINGs about its own failures):
 * never sent to a client that is still connecting or already gone.
 */
#define server_only_ereport(elevel, ...) \
	do { \
		CommandDest saved_dest_ = whereToSendOutput; \
		whereToSendOutput = DestNone; \
		ereport(elevel, __VA_ARGS__); \
		whereToSendOutput = saved_dest_; \
	} while (0)

/* pgtls_audit.debug_inject_failure: an ERROR where a real bug would raise one */
static void
maybe_inject_hook_failure(void)
{
	if (pgtls_audit_debug_inject_failure == INJECT_FAILURE_HOOK ||
		pgtls_audit_debug_inject_failure == INJECT_FAILURE_ALL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("failure injected by pgtls_audit.debug_inject_failure")));
}

/* ... and, where nothing may raise, a failure reported by result */
static bool
record_failure_injected(void)
{
	return pgtls_audit_debug_inject_failure == INJECT_FAILURE_RECORD ||
		pgtls_audit_debug_inject_failure == INJECT_FAILURE_ALL;
}

/*
 * Report an internal failure of the hook as a WARNING, after PG_CATCH.
 * The caller's connection carries on.
 */
static void
report_hook_failure(MemoryContext oldcontext)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(oldcontext);
	edata = CopyErrorData();
	FlushErrorState();
	writing_record = false;
	server_only_ereport(WARNING,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("pgtls_audit could not capture a connection attempt: %s",
								edata->message),
						 errdetail("The connection attempt was not affected; its audit record is counted in pgtls_audit.stats.records_dropped.")));
	FreeErrorData(edata);
}

static void
audit_exit_callback(int code, Datum arg)
{
	if (attempt_state == ATTEMPT_NONE && audit_tls_handshake_started())
	{
		/* TLS, then nothing: neither core nor the hook saw this client */
		attempt_state = ATTEMPT_PENDING;
		attempt_tls_only = true;
	}
	if (attempt_state != ATTEMPT_NONE)
		audit_finish_attempt(true);
}

static void
audit_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && attempt_state == ATTEMPT_PENDING &&
		attempt_auth_status == STATUS_OK && !logged_fatal)
		audit_finish_attempt(false);
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
		else if (attempt_tls_only)
		{
			attempt.event = AUDIT_EVENT_HANDSHAKE;
			attempt.outcome = AUDIT_OUTCOME_ABORTED;
			strlcpy(logged_reason,
					attempt.protocol != NULL ?
					"client closed the connection after the TLS handshake, before sending a start-up packet" :
					"client closed the connection during the TLS handshake",
					REASON_BUFSIZE);
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
			/* nothing decided against it: a success has no reason */
			logged_reason[0] = '\0';
			logged_sqlerrcode = 0;
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
 * Write one record to the server log, never to the client.  Returns false
 * when the record could not be formatted.  Raises nothing: an ereport at
 * LOG level does not throw.
 */
static bool
write_record_to_log(const AuditRecord *rec)
{
	char	   *line;
	int			elevel = pgtls_audit_log_level;

	line = audit_format_record_alloc(rec, pgtls_audit_log_format,
									 audit_record_context());
	if (line == NULL)
		return false;
	writing_record = true;
	server_only_ereport(elevel == LOG ? LOG_SERVER_ONLY : elevel,
						(errmsg_internal("%s", line),
						 errhidestmt(true),
						 errhidecontext(true)));
	writing_record = false;
	return true;
}

/*
 * Write one record to every destination of pgtls_audit.log_destination
 * (the server log, the audit file).  Returns false when the server log's
 * record could not be written (the caller reports it); a failure of the
 * file alone is counted here and has its own rate-limited WARNING.
 * Raises nothing.
 */
static bool
write_record(const AuditRecord *rec)
{
	bool		logged = true;

	if (pgtls_audit_log_destination & AUDIT_DEST_SERVER_LOG)
		logged = write_record_to_log(rec);
	if ((pgtls_audit_log_destination & AUDIT_DEST_FILE) &&
		!audit_log_file_write(rec) && logged)
		inventory_count_dropped();
	return logged;
}

/*
 * Write one summary record (a tuple's repeats that no record carried) to
 * every destination.  Raises nothing; a failure is a WARNING and a counted
 * drop.  Also the inventory's writer at shutdown, in the postmaster.
 */
static void
write_summary(const InventorySummary *sum)
{
	AuditRecord rec;

	inventory_summary_record(sum, &rec, GetCurrentTimestamp());
	if (!write_record(&rec))
	{
		inventory_count_dropped();
		server_only_ereport(WARNING,
							(errcode(ERRCODE_INTERNAL_ERROR),
							 errmsg("pgtls_audit could not write a summary record"),
							 errdetail("The repeats it carried (" UINT64_FORMAT ") are counted as one record in pgtls_audit.stats.records_dropped.",
									   sum->repeats)));
	}
}

/*
 * Put the attempt into the inventory and its destinations (the server log,
 * the audit file), as log_connections / log_failures decide; false on a
 * failure that the caller reports.
 */
static bool
record_attempt(void)
{
	bool		success;
	InventoryDecision decision;

	if (record_failure_injected())
		return false;
	if (!attempt_port_captured)
	{
		/* log-driven attempt: the Port is still intact at this point */
		audit_record_init(&attempt, MyProcPort);
		if (MyProcPort != NULL)
			audit_offer_capture(&attempt, MyProcPort->ssl);
		attempt_port_captured = true;
	}
	else if (logged_ssl_accept_failure)
		audit_record_capture_failed_cert(&attempt);

	classify_attempt();
	if (logged_reason[0] != '\0')
		audit_record_set_reason(&attempt, logged_reason, logged_sqlerrcode);
	if (attempt.capture_failed)
		return false;

	/* one spinlock hold: counted, and decided (log_connections = new) */
	success = attempt.outcome == AUDIT_OUTCOME_SUCCESS;
	decision.summaries = due_summaries;
	inventory_add(&attempt,
				  (AuditLogMode) (success ? pgtls_audit_log_connections :
								  pgtls_audit_log_failures),
				  pgtls_audit_log_repeat_interval, &decision);

	/* due summaries first: they are older than this attempt */
	for (int i = 0; i < decision.nsummaries; i++)
		write_summary(&decision.summaries[i]);

	if (!decision.write)
		return true;
	attempt.repeats = decision.repeats;
	attempt.repeats_first = decision.repeats_first;
	attempt.repeats_last = decision.repeats_last;
	return write_record(&attempt);
}

/*
 * Write the record of this backend's attempt, once.  Raises nothing (see
 * the header comment): a failure is a WARNING and a counted drop.
 */
static void
audit_finish_attempt(bool in_exit_callback)
{
	sigset_t	saved_mask;

	if (attempt_state == ATTEMPT_DONE)
		return;
	attempt_state = ATTEMPT_DONE;

	/* no _exit(1) from a signal handler while shared memory is touched */
	if (in_exit_callback)
	{
		sigprocmask(SIG_BLOCK, &BlockSig, &saved_mask);
		if (pgtls_audit_debug_record_delay > 0)
			pg_usleep(pgtls_audit_debug_record_delay * 1000L);
	}

	if (!record_attempt())
	{
		inventory_count_dropped();
		server_only_ereport(WARNING,
							(errcode(ERRCODE_INTERNAL_ERROR),
							 errmsg("pgtls_audit could not write the audit record of a connection attempt"),
							 errdetail("The connection attempt was not affected; its audit record is counted in pgtls_audit.stats.records_dropped.")));
	}

	if (attempt_xact_callback_registered)
	{
		UnregisterXactCallback(audit_xact_callback, NULL);
		attempt_xact_callback_registered = false;
	}
	MemoryContextReset(audit_record_context());

	if (in_exit_callback)
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
}

static void
audit_client_authentication(Port *port, int status)
{
	MemoryContext oldcontext = CurrentMemoryContext;

	/* from here on, server-only messages (of other hooks too) decide nothing */
	attempt_auth_decided = true;

	if (prev_client_auth_hook)
		prev_client_auth_hook(port, status);

	if (attempt_state == ATTEMPT_DONE)
		return;

	PG_TRY();
	{
		maybe_inject_hook_failure();
		audit_record_init(&attempt, port);
		audit_offer_capture(&attempt, port->ssl);
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
		report_hook_failure(oldcontext);
		inventory_count_dropped();
		attempt_state = ATTEMPT_DONE;
	}
	PG_END_TRY();
}

/*
 * Copy a message into logged_reason; when too long, cut it at a UTF-8
 * character boundary and end it with REASON_CUT_MARKER.
 */
static void
copy_reason(const char *msg)
{
	size_t		len = strlen(msg);
	size_t		cut;

	if (len < REASON_BUFSIZE)
	{
		memcpy(logged_reason, msg, len + 1);
		return;
	}
	cut = REASON_BUFSIZE - sizeof(REASON_CUT_MARKER);
	while (cut > 0 && (((unsigned char) msg[cut]) & 0xC0) == 0x80)
		cut--;
	memcpy(logged_reason, msg, cut);
	memcpy(logged_reason + cut, REASON_CUT_MARKER, sizeof(REASON_CUT_MARKER));
}

/*
 * Does this message decide a connection attempt that is still starting?
 * A FATAL does, at any point of start-up.  A COMMERROR does only before
 * authentication (handshake and start-up packet errors), and only with an
 * error SQLSTATE: COMMERROR is the same level as LOG_SERVER_ONLY, which
 * any module may use for a message that decides nothing.  Anything raised
 * after the attempt was written is none of our business.
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
	if (edata->elevel == COMMERROR &&
		(attempt_auth_decided ||
		 ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_SUCCESSFUL_COMPLETION ||
		 ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_WARNING))
		return;

	/* keep the first COMMERROR, but a FATAL is always the final word */
	if (logged_reason[0] == '\0' || (edata->elevel == FATAL && !logged_fatal))
	{
		copy_reason(edata->message ? edata->message : "");
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

/*
 * Called by the ClientHello callback (audit/tls.c), in the backend, during
 * the TLS handshake: make sure the exit callback will run.
 */
static void
audit_hooks_tls_handshake_started(void)
{
	ensure_exit_callback();
}

void
audit_hooks_install(void)
{
	prev_client_auth_hook = ClientAuthentication_hook;
	ClientAuthentication_hook = audit_client_authentication;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = audit_emit_log;
	audit_install_tls_init_hook(audit_hooks_tls_handshake_started);
	inventory_set_summary_writer(write_summary);

	/*
	 * The array for the summaries inventory_add may hand back (14 kB),
	 * allocated here in the postmaster: a backend's stack had it before,
	 * which pushed every frame below into stack pages a new backend had not
	 * touched, and a static one would sit between the small statics.  A
	 * backend touches its pages only when a count is due.
	 */
	due_summaries = MemoryContextAlloc(TopMemoryContext,
									   INVENTORY_MAX_SUMMARIES * sizeof(InventorySummary));

	/*
	 * The SHA-256 of JA4 and of the certificate fingerprint, fetched here in
	 * the postmaster so that every backend inherits them: with OpenSSL 3.0 a
	 * fetch costs more than the hashing it serves.
	 */
	pgtls_ja4_prepare();
	(void) pgtls_sha256_md();
}
