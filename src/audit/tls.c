/*-------------------------------------------------------------------------
 *
 * tls.c
 *	  The TLS-context hook of the audit: a ClientHello callback set on the
 *	  server's TLS context through openssl_tls_init_hook, which marks the
 *	  connection as a TLS attempt and wraps its certificate verification.
 *
 * When the handshake itself fails on certificate verification, the server
 * never gets a peer certificate.  For that case the ClientHello callback
 * wraps the connection's own certificate verification callback (core's
 * verify_cb, or whatever is set there): the wrapper calls it, never
 * changes its result, and keeps a reference to the leaf certificate when
 * verification fails, so that the record of the failed attempt still
 * names it (audit_tls_failed_peer_cert).  The ClientHello callback also
 * tells the hooks that a TLS handshake started (the on_client_hello
 * callback given at install), for clients that complete the handshake and
 * leave without a start-up packet.
 *
 * A message callback keeps the connection's first ClientHello as raw bytes
 * (audit_tls_client_hello): it runs inside the handshake, so it only
 * copies into a fixed per-backend buffer; audit/offer.c parses it when the
 * record is captured.  A HelloRetryRequest makes the client send a second
 * ClientHello: only the first is kept.  Core sets no message callback.
 *
 * PostgreSQL 19 makes every connection from a context no hook sees (the
 * hook is called only for the per-host contexts of pg_hosts.conf, with
 * ssl_sni = off, and never with ssl_sni = on), and owns the ClientHello
 * callback.  There a BIO ex_data "new" callback (audit_bio_new), which
 * OpenSSL calls when core makes the connection's BIO just after its SSL
 * object, sets the message callback on the connection and tells the hooks
 * that TLS began; whether a ClientHello arrived is then read from the
 * session (its client random), and the refused client certificate from
 * the chain OpenSSL kept.  The same runs on every version, harmlessly.
 *
 * OpenSSL keeps one ClientHello callback per context and offers no way to
 * read it back, so it cannot be chained: when another module also hooks
 * the TLS initialization, pgtls_audit installs its callback first, lets
 * the other module's hook run after it (so a callback of theirs wins), and
 * says so in a WARNING at server start.
 *
 * src/audit/tls.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <dlfcn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "audit/tls.h"
#include "certs/server_files.h"
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"

/* The client certificate whose verification failed in this backend. */
static X509 *failed_peer_cert = NULL;
static int	failed_peer_error = X509_V_OK;

/* Set by the ClientHello callback: this backend's client started TLS. */
static bool tls_handshake_started = false;

/*
 * The first ClientHello of this connection, as the message callback saw
 * it.  16 kB holds any ClientHello seen in practice (one with a
 * post-quantum key share is about 1.8 kB); a longer one is not kept
 * (hello_too_long), and its fields stay unknown.
 */
#define CLIENT_HELLO_BUFSIZE (16 * 1024)
static uint8 client_hello[CLIENT_HELLO_BUFSIZE] PGTLS_LARGE_BUFFER;
static size_t client_hello_len = 0;
static bool client_hello_too_long = false;

/* The message callback ran on this connection (its context had it set). */
static bool msg_callback_ran = false;

/* Told about each ClientHello (audit/hooks.c) */
static void (*client_hello_notify) (void) = NULL;

static openssl_tls_init_hook_typ prev_openssl_tls_init_hook = NULL;

static void audit_msg_callback(int write_p, int version, int content_type,
							   const void *buf, size_t len, SSL *ssl, void *arg);

/* The BIO ex_data index whose "new" callback sees every connection. */
static int	audit_bio_new_index = -1;

/*
 * Whether this backend's client started a TLS handshake: the ClientHello
 * callback saw it, or (PostgreSQL 19, where core owns the ClientHello
 * callback) the connection's SSL object received a ClientHello, whose
 * client random OpenSSL keeps (all zero until a ClientHello was read).
 */
bool
audit_tls_handshake_started(void)
{
	SSL		   *ssl;
	unsigned char random[SSL3_RANDOM_SIZE];
	size_t		len;

	if (tls_handshake_started)
		return true;
	ssl = MyProcPort != NULL ? (SSL *) MyProcPort->ssl : NULL;
	if (ssl == NULL || !SSL_is_server(ssl))
		return false;
	len = SSL_get_client_random(ssl, random, sizeof(random));
	for (size_t i = 0; i < len; i++)
		if (random[i] != 0)
			return true;
	return false;
}

/*
 * OpenSSL calls this ex_data "new" callback for every BIO created in the
 * process.  In a backend, core makes the connection's BIO right after its
 * SSL object (port->ssl is set by then) and before the handshake, whatever
 * context the SSL object is made from.  On PostgreSQL 19, whose serving
 * context no hook sees, this is the only code of the module that runs for
 * a client that completes the TLS handshake and leaves without a start-up
 * packet: it tells the hooks (which register their exit callback), and
 * sets the message callback on the connection's SSL object, so that the
 * raw ClientHello is kept as on earlier versions (where the context
 * already has it: setting it again changes nothing).  Core sets no message
 * callback.  Only the first BIO made while port->ssl exists counts; the
 * slot itself stays empty.  (The SSL object's own "new" callback would be
 * too early: OpenSSL calls it before the object knows its context.)
 */
static void
audit_bio_new(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
			  long argl, void *argp)
{
	static bool seen = false;

	if (seen || !IsUnderPostmaster || MyProcPort == NULL || MyProcPort->ssl == NULL)
		return;
	seen = true;
	if (client_hello_notify)
		client_hello_notify();
	SSL_set_msg_callback((SSL *) MyProcPort->ssl, audit_msg_callback);
}

/*
 * The refused client certificate.  Where the verification wrapper ran (the
 * ClientHello callback was installed), its copy.  Otherwise (PostgreSQL 19,
 * where core owns the ClientHello callback and copies the chosen host's
 * verification settings into the connection) it is read back from the
 * connection's own SSL object, which still exists while the failed
 * attempt is recorded:
 * OpenSSL keeps the chain it built (SSL_get0_verified_chain, leaf first)
 * and the verification result of the failed handshake, although it never
 * sets the peer certificate.
 */
void *
audit_tls_failed_peer_cert(int *verify_error)
{
	SSL		   *ssl;
	STACK_OF(X509) *chain;
	long		result;

	*verify_error = failed_peer_error;
	if (failed_peer_cert != NULL)
		return failed_peer_cert;

	ssl = MyProcPort != NULL ? (SSL *) MyProcPort->ssl : NULL;
	if (ssl == NULL || SSL_get0_peer_certificate(ssl) != NULL)
		return NULL;
	result = SSL_get_verify_result(ssl);
	chain = SSL_get0_verified_chain(ssl);
	if (result == X509_V_OK || chain == NULL || sk_X509_num(chain) == 0)
		return NULL;
	*verify_error = (int) result;
	return sk_X509_value(chain, 0);
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
	if (client_hello_notify)
		client_hello_notify();

	if (current != audit_verify_callback && audit_verify_ex_index >= 0 &&
		SSL_set_ex_data(ssl, audit_verify_ex_index, (void *) current) == 1)
		SSL_set_verify(ssl, SSL_get_verify_mode(ssl), audit_verify_callback);
	return SSL_CLIENT_HELLO_SUCCESS;
}

/*
 * Message callback: keep the first ClientHello received.  Runs for every
 * protocol message of the handshake; costs one comparison for the others.
 */
static void
audit_msg_callback(int write_p, int version, int content_type,
				   const void *buf, size_t len, SSL *ssl, void *arg)
{
	const uint8 *msg = buf;

	msg_callback_ran = true;
	if (write_p || content_type != SSL3_RT_HANDSHAKE || len < 4 ||
		msg[0] != SSL3_MT_CLIENT_HELLO || client_hello_len > 0 ||
		client_hello_too_long)
		return;
	if (len > sizeof(client_hello))
	{
		client_hello_too_long = true;
		return;
	}
	memcpy(client_hello, msg, len);
	client_hello_len = len;
}

/*
 * The first ClientHello of this connection (one handshake message, from
 * its type byte), or NULL when none was received or it was too long.
 */
const uint8 *
audit_tls_client_hello(size_t *len)
{
	*len = client_hello_len;
	return client_hello_len > 0 ? client_hello : NULL;
}

/*
 * Whether our message callback ran on this connection: set on the serving
 * context by the TLS init hook (before 19) or on the connection itself by
 * audit_bio_new (every version).  Not when another module replaced it.
 */
bool
audit_tls_hello_observed(void)
{
	return msg_callback_ran;
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
	SSL_CTX_set_msg_callback(context, audit_msg_callback);

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
audit_install_tls_init_hook(void (*on_client_hello) (void))
{
	client_hello_notify = on_client_hello;
	if (audit_bio_new_index < 0)
		audit_bio_new_index = BIO_get_ex_new_index(0, "pgtls_audit connection",
												   audit_bio_new, NULL, NULL);
	prev_openssl_tls_init_hook = openssl_tls_init_hook;
	openssl_tls_init_hook = audit_openssl_tls_init;
}
