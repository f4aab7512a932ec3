/*-------------------------------------------------------------------------
 *
 * record.c
 *	  Fill an AuditRecord from the connection's Port and its TLS session.
 *
 * Everything is copied into a private memory context, because the Port's
 * pg_hba line lives in memory that the backend frees once start-up is
 * over, and a record may be written after that (see audit/hooks.c).
 *
 * Nothing here raises an error: records are also captured in an
 * on_proc_exit callback, where an ERROR would become FATAL.  Every
 * allocation uses MCXT_ALLOC_NO_OOM and OpenSSL never raises; a failure
 * sets AuditRecord.capture_failed and the caller counts the record as
 * dropped.  The memory context is created once in the postmaster
 * (audit_record_context_init), with a first block large enough for a
 * typical record, so that capturing normally allocates nothing new.
 *
 * Strings from the wire and from certificates (user, database and
 * application names, host names, DNs, the server's messages, which quote
 * those names) are made valid UTF-8 as they are copied: every byte that is
 * not part of a valid UTF-8 sequence becomes U+FFFD.  The log record and
 * the inventory views therefore show the same text.
 *
 * Certificate details are read with OpenSSL from the peer certificate, or,
 * when the handshake failed on certificate verification, from the
 * certificate that failed (audit/tls.c keeps it).
 *
 * src/audit/record.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "audit/record.h"
#include "audit/tls.h"
#include "common/settings.h"
#include "common/x509.h"
#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* First block of the record context: a record with long DNs fits in it. */
#define RECORD_CONTEXT_INIT_SIZE (32 * 1024)

static MemoryContext record_context = NULL;

/*
 * Create the record context.  Called from _PG_init in the postmaster, so
 * that backends inherit it and its first block: creating it later could
 * raise an out-of-memory ERROR in an exit callback.
 */
void
audit_record_context_init(void)
{
	if (record_context == NULL)
		record_context = AllocSetContextCreate(TopMemoryContext,
											   "pgtls_audit record",
											   RECORD_CONTEXT_INIT_SIZE,
											   RECORD_CONTEXT_INIT_SIZE,
											   ALLOCSET_DEFAULT_MAXSIZE);
}

MemoryContext
audit_record_context(void)
{
	Assert(record_context != NULL);
	return record_context;
}

/* Allocate in the record context; NULL (never an ERROR) on failure. */
void *
audit_record_alloc(AuditRecord *rec, Size size)
{
	void	   *p = NULL;

	if (record_context != NULL && AllocSizeIsValid(size))
		p = MemoryContextAllocExtended(record_context, size, MCXT_ALLOC_NO_OOM);
	if (p == NULL)
		rec->capture_failed = true;
	return p;
}

/* Copy a string from the wire into the record: valid UTF-8, or NULL. */
static char *
copy_string(AuditRecord *rec, const char *s)
{
	size_t		len;
	char	   *copy;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	copy = audit_record_alloc(rec, pgtls_valid_utf8_size(s, len) + 1);
	if (copy)
		pgtls_make_valid_utf8(copy, s, len);
	return copy;
}

bool
audit_record_init(AuditRecord *rec, Port *port)
{
	memset(rec, 0, sizeof(AuditRecord));
	rec->ts = GetCurrentTimestamp();
	rec->pid = MyProcPid;
	rec->bits = -1;
	rec->alpn = -1;
	rec->policy = AUDIT_POLICY_UNKNOWN;
	if (port)
		audit_record_capture_port(rec, port);
	return !rec->capture_failed;
}

/* audit_record_alloc for the common/x509.c helpers */
static void *
record_alloc(void *arg, Size size)
{
	return audit_record_alloc((AuditRecord *) arg, size);
}

/*
 * Whether a name the server printed (peer_dn: RFC 2253, every byte above
 * 0x7f escaped as \XX) printed a byte above 0x7f.  If not, it is what
 * pgtls_x509_name_text() prints with UTF-8 kept: the two differ only in
 * those bytes.
 */
static bool
rfc2253_has_escaped_msb(const char *s)
{
	for (; *s; s++)
	{
		if (*s != '\\')
			continue;
		s++;
		/* "\XX" (a hex pair) or a backslash before one character */
		if (isxdigit((unsigned char) s[0]) && isxdigit((unsigned char) s[1]))
		{
			if (strchr("89abcdefABCDEF", s[0]) != NULL)
				return true;
			s++;
		}
		else if (*s == '\0')
			break;
	}
	return false;
}

/*
 * The certificate's fields.  server_dn: the server's own print of its
 * subject (Port.peer_dn) when cert is the verified peer certificate, else
 * NULL: printing a name costs about 20,000 instructions, and the server's
 * copy is the same text unless a byte above 0x7f was escaped in it.
 */
static void
capture_certificate(AuditRecord *rec, X509 *cert, const char *server_dn)
{
	PgtlsAllocator mem = {record_alloc, rec, false};
	const char *issuer;

	rec->client_cert_present = true;
	/* RFC 2253, UTF-8 kept as is (the server's peer_dn escapes it) */
	if (server_dn != NULL && !rfc2253_has_escaped_msb(server_dn))
		rec->client_dn = copy_string(rec, server_dn);
	else
		rec->client_dn = pgtls_x509_name_text(X509_get_subject_name(cert),
											  false, true, NULL, &mem);
	/* almost always one of the server's CAs, printed in the postmaster */
	issuer = pgtls_x509_name_cache_lookup(X509_get_issuer_name(cert));
	if (issuer != NULL)
		rec->issuer_dn = copy_string(rec, issuer);
	else
		rec->issuer_dn = pgtls_x509_name_text(X509_get_issuer_name(cert),
											  false, true, NULL, &mem);
	rec->client_serial = pgtls_asn1_integer_text(X509_get_serialNumber(cert),
												 false, &mem);
	rec->client_serial_hex = pgtls_asn1_integer_text(X509_get_serialNumber(cert),
													 true, &mem);

	rec->has_not_after = asn1_time_to_timestamptz(X509_get0_notAfter(cert),
												   &rec->client_not_after);

	rec->client_fingerprint = pgtls_sha256_hex(cert, &mem);
	if (mem.failed)
		rec->capture_failed = true;
}

/*
 * Copy what the Port knows now.  Called again as the attempt progresses;
 * each call overwrites with the more complete state.
 */
void
audit_record_capture_port(AuditRecord *rec, Port *port)
{
	rec->remote_host = copy_string(rec, port->remote_host);
	rec->remote_port = (port->remote_port && port->remote_port[0]) ?
		copy_string(rec, port->remote_port) : NULL;
	rec->user_name = copy_string(rec, port->user_name);
	rec->database_name = copy_string(rec, port->database_name);
	rec->application_name = copy_string(rec, port->application_name);

#ifdef ENABLE_GSS
	rec->gss_encrypted = be_gssapi_get_enc(port);
#endif

	rec->ssl = port->ssl_in_use || port->ssl != NULL;
	if (port->ssl != NULL && SSL_is_init_finished(port->ssl))
	{
		rec->protocol = copy_string(rec, SSL_get_version(port->ssl));
		rec->cipher = copy_string(rec, SSL_get_cipher(port->ssl));
		rec->bits = SSL_get_cipher_bits(port->ssl, NULL);
		rec->alpn = PGTLS_ALPN_USED(port);
	}

	if (port->peer != NULL)
		capture_certificate(rec, port->peer, port->peer_dn);
	else
		audit_record_capture_failed_cert(rec);

	if (port->hba != NULL && port->hba->linenumber > 0)
	{
		rec->hba_file = copy_string(rec, PGTLS_HBA_SOURCEFILE(port->hba));
		rec->hba_line = port->hba->linenumber;
		rec->auth_method = copy_string(rec, hba_authname(port->hba->auth_method));
	}

	rec->identity = copy_string(rec, PGTLS_AUTHN_ID(port));
	audit_record_finish_policy(rec);
}

/* Use the certificate that failed verification, if there was one. */
void
audit_record_capture_failed_cert(AuditRecord *rec)
{
	int			error;
	X509	   *cert = audit_tls_failed_peer_cert(&error);

	if (cert != NULL && !rec->client_cert_present)
		capture_certificate(rec, cert, NULL);
}

void
audit_record_set_reason(AuditRecord *rec, const char *reason, int sqlerrcode)
{
	const char *state = sqlerrcode ? unpack_sql_state(sqlerrcode) : "";
	int			error = X509_V_OK;
	X509	   *failed = audit_tls_failed_peer_cert(&error);

	rec->reason = copy_string(rec, reason);
	if (rec->reason && failed != NULL && error != X509_V_OK)
	{
		/* say why the certificate was refused, which the server does not */
		const char *why = X509_verify_cert_error_string(error);
		const char *fmt = " (client certificate: %s)";
		size_t		len = strlen(rec->reason) + strlen(fmt) + strlen(why);
		char	   *full = audit_record_alloc(rec, len + 1);

		if (full)
		{
			snprintf(full, len + 1, "%s (client certificate: %s)", rec->reason, why);
			rec->reason = full;
		}
	}
	strlcpy(rec->sqlstate, state, sizeof(rec->sqlstate));
}


void
audit_record_finish_policy(AuditRecord *rec)
{
	if (!rec->ssl && !rec->gss_encrypted)
		rec->policy = AUDIT_POLICY_PLAINTEXT;
	else if (rec->gss_encrypted && !rec->ssl)
		rec->policy = AUDIT_POLICY_OK;
	else if (rec->protocol == NULL)
		rec->policy = AUDIT_POLICY_UNKNOWN;
	else if (tls_protocol_rank(rec->protocol) < pgtls_audit_policy_min_protocol)
		rec->policy = AUDIT_POLICY_BELOW_MIN_PROTOCOL;
	else
		rec->policy = AUDIT_POLICY_OK;
}

const char *
audit_event_name(AuditEvent event)
{
	switch (event)
	{
		case AUDIT_EVENT_HANDSHAKE:
			return "handshake";
		case AUDIT_EVENT_AUTH:
			return "auth";
		case AUDIT_EVENT_AUTHORIZATION:
			return "authorization";
		case AUDIT_EVENT_ESTABLISHED:
			return "established";
		case AUDIT_EVENT_SUMMARY:
			return "summary";
	}
	return "unknown";
}

const char *
audit_outcome_name(AuditOutcome outcome)
{
	switch (outcome)
	{
		case AUDIT_OUTCOME_SUCCESS:
			return "success";
		case AUDIT_OUTCOME_FAILED:
			return "failed";
		case AUDIT_OUTCOME_REJECTED:
			return "rejected";
		case AUDIT_OUTCOME_ABORTED:
			return "aborted";
	}
	return "unknown";
}

const char *
audit_policy_name(AuditPolicy policy)
{
	switch (policy)
	{
		case AUDIT_POLICY_UNKNOWN:
			return NULL;
		case AUDIT_POLICY_OK:
			return "ok";
		case AUDIT_POLICY_PLAINTEXT:
			return "plaintext";
		case AUDIT_POLICY_BELOW_MIN_PROTOCOL:
			return "below_min_protocol";
	}
	return NULL;
}

