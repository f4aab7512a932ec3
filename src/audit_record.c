/*-------------------------------------------------------------------------
 *
 * audit_record.c
 *	  Fill an AuditRecord from the connection's Port and its TLS session.
 *
 * Everything is copied into a private memory context, because the Port's
 * pg_hba line lives in memory that the backend frees once start-up is
 * over, and a record may be written after that (see audit_hooks.c).
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
 * Certificate details are read with OpenSSL from the peer certificate.
 * When the handshake itself fails on certificate verification, the server
 * never gets a peer certificate.  For that case a ClientHello callback,
 * set on the server's TLS context through openssl_tls_init_hook, wraps the
 * connection's own certificate verification callback (core's verify_cb,
 * or whatever is set there): the wrapper calls it, never changes its
 * result, and keeps a reference to the leaf certificate when verification
 * fails, so that the record of the failed attempt still names it.  The
 * ClientHello callback also tells the hooks that a TLS handshake started
 * (audit_record_tls_handshake_started), for clients that complete the
 * handshake and leave without a start-up packet.
 *
 * OpenSSL keeps one ClientHello callback per context and offers no way to
 * read it back, so it cannot be chained: when another module also hooks
 * the TLS initialization, pgtls_audit installs its callback first, lets
 * the other module's hook run after it (so a callback of theirs wins), and
 * says so in a WARNING at server start.
 *
 * src/audit_record.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <dlfcn.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "libpq/auth.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* First block of the record context: a record with long DNs fits in it. */
#define RECORD_CONTEXT_INIT_SIZE (32 * 1024)

static MemoryContext record_context = NULL;

/* The client certificate whose verification failed in this backend. */
static X509 *failed_peer_cert = NULL;
static int	failed_peer_error = X509_V_OK;

/* Set by the ClientHello callback: this backend's client started TLS. */
static bool tls_handshake_started = false;

static openssl_tls_init_hook_typ prev_openssl_tls_init_hook = NULL;

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

/*
 * Number of bytes pgtls_audit_make_valid_utf8() writes for src[0..len),
 * without the terminating zero.
 */
static size_t
valid_utf8_size(const unsigned char *src, size_t len)
{
	size_t		out = 0;

	while (len > 0)
	{
		int			l = pg_utf_mblen(src);

		if (*src < 0x80)
			l = 1;
		else if ((size_t) l > len || !pg_utf8_islegal(src, l))
		{
			/* one invalid byte becomes U+FFFD (3 bytes) */
			out += 3;
			src++;
			len--;
			continue;
		}
		out += l;
		src += l;
		len -= l;
	}
	return out;
}

/*
 * Copy src[0..len) to dst (valid_utf8_size(src, len) + 1 bytes), replacing
 * each byte that is not part of a valid UTF-8 sequence with U+FFFD.  A NUL
 * byte cannot occur: the strings are C strings.
 */
void
pgtls_audit_make_valid_utf8(char *dst, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *) src;

	while (len > 0)
	{
		int			l = pg_utf_mblen(s);

		if (*s < 0x80)
			l = 1;
		else if ((size_t) l > len || !pg_utf8_islegal(s, l))
		{
			memcpy(dst, "\xEF\xBF\xBD", 3);
			dst += 3;
			s++;
			len--;
			continue;
		}
		memcpy(dst, s, l);
		dst += l;
		s += l;
		len -= l;
	}
	*dst = '\0';
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
	copy = audit_record_alloc(rec, valid_utf8_size((const unsigned char *) s, len) + 1);
	if (copy)
		pgtls_audit_make_valid_utf8(copy, s, len);
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

/* Print an X509 name in RFC 2253 form, UTF-8 kept as is (as the server). */
static char *
x509_name_to_string(AuditRecord *rec, X509_NAME *name)
{
	BIO		   *bio;
	BUF_MEM    *mem;
	char	   *result = NULL;

	if (name == NULL)
		return NULL;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
	{
		rec->capture_failed = true;
		return NULL;
	}
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
	{
		const unsigned char *data;

		BIO_get_mem_ptr(bio, &mem);
		data = (const unsigned char *) mem->data;
		result = audit_record_alloc(rec, valid_utf8_size(data, mem->length) + 1);
		if (result)
			pgtls_audit_make_valid_utf8(result, mem->data, mem->length);
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
	rec->client_dn = x509_name_to_string(rec, X509_get_subject_name(cert));
	rec->issuer_dn = x509_name_to_string(rec, X509_get_issuer_name(cert));

	serial = X509_get_serialNumber(cert);
	if (serial)
	{
		BIGNUM	   *bn = ASN1_INTEGER_to_BN(serial, NULL);

		if (bn)
		{
			char	   *dec = BN_bn2dec(bn);
			char	   *hex = BN_bn2hex(bn);

			if (dec == NULL || hex == NULL)
				rec->capture_failed = true;
			rec->client_serial = copy_string(rec, dec);
			rec->client_serial_hex = copy_string(rec, hex);
			OPENSSL_free(dec);
			OPENSSL_free(hex);
			BN_free(bn);
		}
	}

	rec->has_not_after = asn1_time_to_timestamptz(X509_get0_notAfter(cert),
												   &rec->client_not_after);

	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1)
	{
		char	   *hex = audit_record_alloc(rec, mdlen * 2 + 1);

		if (hex)
		{
			for (unsigned int i = 0; i < mdlen; i++)
				snprintf(hex + i * 2, 3, "%02x", md[i]);
			hex[mdlen * 2] = '\0';
		}
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
		capture_certificate(rec, port->peer);
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
	if (failed_peer_cert != NULL && !rec->client_cert_present)
		capture_certificate(rec, failed_peer_cert);
}

void
audit_record_set_reason(AuditRecord *rec, const char *reason, int sqlerrcode)
{
	const char *state = sqlerrcode ? unpack_sql_state(sqlerrcode) : "";

	rec->reason = copy_string(rec, reason);
	if (rec->reason && failed_peer_cert != NULL && failed_peer_error != X509_V_OK)
	{
		/* say why the certificate was refused, which the server does not */
		const char *why = X509_verify_cert_error_string(failed_peer_error);
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

bool
audit_record_tls_handshake_started(void)
{
	return tls_handshake_started;
}

/* The verification callback the connection had before ours (core's). */
static int	audit_verify_ex_index = -1;

/*
 * Per-certificate verification wrapper, set on each connection by the
 * ClientHello callback.  It calls the callback the connection had (so core
 * still logs what it logs), never changes the result, and remembers the
 * leaf certificate when verification fails.
 */
static int
audit_verify_callback(int ok, X509_STORE_CTX *ctx)
{
	SSL		   *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	SSL_verify_cb prev = NULL;

	if (ssl != NULL && audit_verify_ex_index >= 0)
		prev = (SSL_verify_cb) SSL_get_ex_data(ssl, audit_verify_ex_index);
	if (prev != NULL)
		ok = prev(ok, ctx);

	if (!ok && failed_peer_cert == NULL)
	{
		X509	   *cert = X509_STORE_CTX_get0_cert(ctx);

		if (cert != NULL && X509_up_ref(cert) == 1)
		{
			failed_peer_cert = cert;
			failed_peer_error = X509_STORE_CTX_get_error(ctx);
		}
	}
	return ok;
}

/*
 * Runs in the backend, once per ClientHello (twice after a
 * HelloRetryRequest), before certificates are exchanged.  Never fails the
 * handshake: it always returns SSL_CLIENT_HELLO_SUCCESS.
 */
static int
audit_client_hello_callback(SSL *ssl, int *alert, void *arg)
{
	SSL_verify_cb current = SSL_get_verify_callback(ssl);

	tls_handshake_started = true;
	audit_hooks_tls_handshake_started();

	if (current != audit_verify_callback && audit_verify_ex_index >= 0 &&
		SSL_set_ex_data(ssl, audit_verify_ex_index, (void *) current) == 1)
		SSL_set_verify(ssl, SSL_get_verify_mode(ssl), audit_verify_callback);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Name of the shared object holding a function, for the start-up WARNING. */
static const char *
module_of(void *fn)
{
	Dl_info		info;

	if (fn != NULL && dladdr(fn, &info) != 0 && info.dli_fname != NULL)
		return info.dli_fname;
	return "unknown";
}

static void
audit_openssl_tls_init(SSL_CTX *context, bool isServerStart)
{
	Dl_info		prev_info,
				core_info;
	bool		prev_is_module;

	if (audit_verify_ex_index < 0)
		audit_verify_ex_index = SSL_get_ex_new_index(0, "pgtls_audit verify callback",
													 NULL, NULL, NULL);
	SSL_CTX_set_client_hello_cb(context, audit_client_hello_callback, NULL);

	/*
	 * Core's own hook lives in the server executable; any other previous
	 * hook belongs to another module, whose TLS set-up may replace our
	 * ClientHello callback (OpenSSL has one slot and no getter).  Run it
	 * after ours so that it wins, and say so once at start.
	 */
	prev_is_module = prev_openssl_tls_init_hook != NULL &&
		dladdr((void *) prev_openssl_tls_init_hook, &prev_info) != 0 &&
		dladdr((void *) ClientAuthentication, &core_info) != 0 &&
		prev_info.dli_fbase != core_info.dli_fbase;
	if (isServerStart && prev_is_module)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("another module also hooks TLS initialization: %s",
						module_of((void *) prev_openssl_tls_init_hook)),
				 errdetail("OpenSSL allows one ClientHello callback per context; if that module installs one, pgtls_audit no longer records the certificates of failed handshakes or TLS-only probes."),
				 errhint("Load pgtls_audit last in shared_preload_libraries, or check that module's documentation.")));
	if (isServerStart && openssl_tls_init_hook != audit_openssl_tls_init)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a module loaded after pgtls_audit hooks TLS initialization: %s",
						module_of((void *) openssl_tls_init_hook)),
				 errdetail("OpenSSL allows one ClientHello callback per context; if that module installs one, pgtls_audit no longer records the certificates of failed handshakes or TLS-only probes.")));

	if (prev_openssl_tls_init_hook)
		prev_openssl_tls_init_hook(context, isServerStart);
	/* remember the context, to tell which certificate is served */
	certificates_tls_init(context);
}

void
audit_install_tls_init_hook(void)
{
	prev_openssl_tls_init_hook = openssl_tls_init_hook;
	openssl_tls_init_hook = audit_openssl_tls_init;
}
