/*-------------------------------------------------------------------------
 *
 * audit_record.c
 *	  Fill an AuditRecord from the connection's Port and its TLS session.
 *
 * Everything is copied into a private memory context, because the Port's
 * pg_hba line lives in memory that the backend frees once start-up is
 * over, and a record may be written after that (see audit_hooks.c).
 *
 * Certificate details are read with OpenSSL from the peer certificate.
 * When the handshake itself fails on certificate verification, the server
 * never gets a peer certificate; for that case this file wraps the TLS
 * context's certificate verification (through openssl_tls_init_hook) and
 * keeps a reference to the certificate that failed, so that the record of
 * the failed attempt still names it.
 *
 * src/audit_record.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

static MemoryContext record_context = NULL;

/* The client certificate whose verification failed in this backend. */
static X509 *failed_peer_cert = NULL;
static int	failed_peer_error = X509_V_OK;

static openssl_tls_init_hook_typ prev_openssl_tls_init_hook = NULL;

MemoryContext
audit_record_context(void)
{
	if (record_context == NULL)
		record_context = AllocSetContextCreate(TopMemoryContext,
											   "pgtls_audit record",
											   ALLOCSET_SMALL_SIZES);
	return record_context;
}

static char *
copy_string(const char *s)
{
	return s ? MemoryContextStrdup(audit_record_context(), s) : NULL;
}

void
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
}

/* Print an X509 name in RFC 2253 form, UTF-8 kept as is (as the server). */
static char *
x509_name_to_string(X509_NAME *name)
{
	BIO		   *bio;
	BUF_MEM    *mem;
	char	   *result = NULL;

	if (name == NULL)
		return NULL;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return NULL;
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
	{
		BIO_get_mem_ptr(bio, &mem);
		result = MemoryContextAlloc(audit_record_context(), mem->length + 1);
		memcpy(result, mem->data, mem->length);
		result[mem->length] = '\0';
	}
	BIO_free(bio);
	return result;
}

/*
 * Convert an ASN1_TIME to a TimestampTz; false if it cannot be read or is
 * out of range.  Shared with certificates.c.
 */
bool
asn1_time_to_timestamptz(const ASN1_TIME *t, TimestampTz *result)
{
	struct tm	tm;
	struct pg_tm ptm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	memset(&ptm, 0, sizeof(ptm));
	ptm.tm_year = tm.tm_year + 1900;
	ptm.tm_mon = tm.tm_mon + 1;
	ptm.tm_mday = tm.tm_mday;
	ptm.tm_hour = tm.tm_hour;
	ptm.tm_min = tm.tm_min;
	ptm.tm_sec = tm.tm_sec;
	return tm2timestamp(&ptm, 0, NULL, result) == 0;
}

static void
capture_certificate(AuditRecord *rec, X509 *cert)
{
	ASN1_INTEGER *serial;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	rec->client_cert_present = true;
	rec->client_dn = x509_name_to_string(X509_get_subject_name(cert));
	rec->issuer_dn = x509_name_to_string(X509_get_issuer_name(cert));

	serial = X509_get_serialNumber(cert);
	if (serial)
	{
		BIGNUM	   *bn = ASN1_INTEGER_to_BN(serial, NULL);

		if (bn)
		{
			char	   *dec = BN_bn2dec(bn);
			char	   *hex = BN_bn2hex(bn);

			rec->client_serial = copy_string(dec);
			rec->client_serial_hex = copy_string(hex);
			OPENSSL_free(dec);
			OPENSSL_free(hex);
			BN_free(bn);
		}
	}

	rec->has_not_after = asn1_time_to_timestamptz(X509_get0_notAfter(cert),
												   &rec->client_not_after);

	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1)
	{
		char	   *hex = MemoryContextAlloc(audit_record_context(), mdlen * 2 + 1);

		for (unsigned int i = 0; i < mdlen; i++)
			snprintf(hex + i * 2, 3, "%02x", md[i]);
		hex[mdlen * 2] = '\0';
		rec->client_fingerprint = hex;
	}
}

/*
 * Copy what the Port knows now.  Called again as the attempt progresses;
 * each call overwrites with the more complete state.
 */
void
audit_record_capture_port(AuditRecord *rec, Port *port)
{
	rec->remote_host = copy_string(port->remote_host);
	rec->remote_port = (port->remote_port && port->remote_port[0]) ?
		copy_string(port->remote_port) : NULL;
	rec->user_name = copy_string(port->user_name);
	rec->database_name = copy_string(port->database_name);
	rec->application_name = copy_string(port->application_name);

#ifdef ENABLE_GSS
	rec->gss_encrypted = be_gssapi_get_enc(port);
#endif

	rec->ssl = port->ssl_in_use || port->ssl != NULL;
	if (port->ssl != NULL && SSL_is_init_finished(port->ssl))
	{
		rec->protocol = copy_string(SSL_get_version(port->ssl));
		rec->cipher = copy_string(SSL_get_cipher(port->ssl));
		rec->bits = SSL_get_cipher_bits(port->ssl, NULL);
		rec->alpn = PGTLS_ALPN_USED(port);
	}

	if (port->peer != NULL)
		capture_certificate(rec, port->peer);
	else
		audit_record_capture_failed_cert(rec);

	if (port->hba != NULL && port->hba->linenumber > 0)
	{
		rec->hba_file = copy_string(PGTLS_HBA_SOURCEFILE(port->hba));
		rec->hba_line = port->hba->linenumber;
		rec->auth_method = copy_string(hba_authname(port->hba->auth_method));
	}

	rec->identity = copy_string(PGTLS_AUTHN_ID(port));
	audit_record_finish_policy(rec);
}

/* Use the certificate that failed verification, if there was one. */
void
audit_record_capture_failed_cert(AuditRecord *rec)
{
	if (failed_peer_cert != NULL && !rec->client_cert_present)
		capture_certificate(rec, failed_peer_cert);
}

void
audit_record_set_reason(AuditRecord *rec, const char *reason, int sqlerrcode)
{
	const char *state = sqlerrcode ? unpack_sql_state(sqlerrcode) : "";

	if (failed_peer_cert != NULL && failed_peer_error != X509_V_OK && reason)
	{
		/* say why the certificate was refused, which the server does not */
		MemoryContext oldcontext = MemoryContextSwitchTo(audit_record_context());

		rec->reason = psprintf("%s (client certificate: %s)", reason,
							   X509_verify_cert_error_string(failed_peer_error));
		MemoryContextSwitchTo(oldcontext);
	}
	else
		rec->reason = copy_string(reason);
	strlcpy(rec->sqlstate, state, sizeof(rec->sqlstate));
}

TlsProtocolRank
tls_protocol_rank(const char *name)
{
	if (name == NULL)
		return TLS_RANK_UNKNOWN;
	if (strcmp(name, "TLSv1.3") == 0)
		return TLS_RANK_TLSV1_3;
	if (strcmp(name, "TLSv1.2") == 0)
		return TLS_RANK_TLSV1_2;
	if (strcmp(name, "TLSv1.1") == 0)
		return TLS_RANK_TLSV1_1;
	if (strcmp(name, "TLSv1") == 0)
		return TLS_RANK_TLSV1;
	if (strcmp(name, "SSLv3") == 0)
		return TLS_RANK_SSLV3;
	return TLS_RANK_UNKNOWN;
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

/*
 * Certificate verification wrapper.  It runs OpenSSL's normal verification
 * (which calls the server's own verify callback) and only remembers the
 * leaf certificate when verification fails.  It never changes the result.
 */
static int
audit_cert_verify_callback(X509_STORE_CTX *ctx, void *arg)
{
	int			ok = X509_verify_cert(ctx);

	if (ok <= 0)
	{
		X509	   *cert = X509_STORE_CTX_get0_cert(ctx);

		if (cert != NULL && failed_peer_cert == NULL && X509_up_ref(cert) == 1)
		{
			failed_peer_cert = cert;
			failed_peer_error = X509_STORE_CTX_get_error(ctx);
		}
	}
	return ok;
}

static void
audit_openssl_tls_init(SSL_CTX *context, bool isServerStart)
{
	if (prev_openssl_tls_init_hook)
		prev_openssl_tls_init_hook(context, isServerStart);
	SSL_CTX_set_cert_verify_callback(context, audit_cert_verify_callback, NULL);
	/* remember the context, to tell which certificate is served */
	certificates_tls_init(context);
}

void
audit_install_tls_init_hook(void)
{
	prev_openssl_tls_init_hook = openssl_tls_init_hook;
	openssl_tls_init_hook = audit_openssl_tls_init;
}
