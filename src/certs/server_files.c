/*-------------------------------------------------------------------------
 *
 * server_files.c
 *	  The files the server is configured with, as rows: ssl_cert_file (and
 *	  whether its leaf is the certificate the server is actually serving),
 *	  ssl_ca_file, ssl_crl_file and ssl_crl_dir.
 *
 * SQL functions (see src/certs/certs.sql for the views over them):
 *	  _server_certificates()                           ssl_cert_file, the
 *	                                                   served leaf, ssl_ca_file,
 *	                                                   and on 19 with ssl_sni
 *	                                                   on each pg_hosts.conf
 *	                                                   line's certificate,
 *	                                                   chain and CA file
 *	  _crls()                                          ssl_crl_file, ssl_crl_dir
 *
 * Configured files that are missing, unreadable or malformed never fail a
 * query: they become a row whose "note" says what is wrong.
 *
 * The served certificate.  Inside a TLS session it is read from the
 * session (SSL_get_certificate).  Otherwise, when the module is preloaded,
 * the openssl_tls_init_hook (installed by audit/tls.c, which calls
 * certificates_tls_init) marks every SSL_CTX the postmaster creates with an
 * ex_data slot whose free callback forgets the context again.  The server
 * creates a new context at start and at each reload, and frees either the
 * new one (when loading failed, so the old one stays) or the old one (when
 * it succeeded): so the newest context still alive is always the one in
 * use.  Backends are forked with a copy of it and read the leaf with
 * SSL_CTX_get0_certificate().  PostgreSQL 19 frees its per-host contexts
 * (with ssl_sni = off, the one built from ssl_cert_file, which the hook
 * sees) in every child, a backend when its session starts: the free
 * callback then keeps the leaf of the newest one (tracked_context_free).
 * With ssl_sni = on the hook never runs, and outside a TLS session the
 * served certificate stays unknown.  A backend therefore reports what was
 * served when it started; a session that began before a reload shows the
 * state before the reload.
 *
 * At start, in the postmaster, the names of the CA certificates of the
 * tracked contexts are printed once for the audit record's issuer DN
 * (certificates_shmem_startup, the name cache of common/x509.c).
 *
 * src/certs/server_files.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "certs/cert_info.h"
#include "certs/server_files.h"
#include "certs/parse.h"
#include "common/files.h"
#include "common/findings_list.h"
#include "common/hosts_file.h"
#include "common/settings.h"
#include "common/x509.h"

#include <ctype.h>
#include <dirent.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

/* ---------------------------------------------------------------------
 * The served certificate: SSL contexts seen by openssl_tls_init_hook
 * ---------------------------------------------------------------------
 */
#define MAX_TRACKED_CONTEXTS 8

typedef struct TrackedContext
{
	SSL_CTX    *ctx;			/* NULL: free slot */
	uint64		seq;			/* creation order */
} TrackedContext;

static TrackedContext tracked_contexts[MAX_TRACKED_CONTEXTS];
static uint64 tracked_seq = 0;
static int	ctx_ex_index = -1;
static char ctx_marker;			/* its address is our ex_data value */

/*
 * The leaf of the newest tracked context that a child process freed (see
 * tracked_context_free), with a reference of its own.
 */
static X509 *retained_leaf = NULL;
static uint64 retained_seq = 0;

/*
 * OpenSSL's ex_data free callback: the context is being freed (its
 * certificate is still there: OpenSSL frees ex_data first).  In the
 * postmaster that is a reload replacing the context, or a failed reload
 * dropping the new one, and the context is simply forgotten.  A child
 * process creates no context, so when it frees one, it is one it
 * inherited: PostgreSQL 19 frees its per-host contexts in every child
 * (observed: auxiliary processes at once, a backend when its session
 * starts) and makes connections from copies of their certificates.  The
 * newest inherited context was the one in use when the child was forked:
 * keep its leaf, so that a session still knows what it was served.
 */
static void
tracked_context_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
					 long argl, void *argp)
{
	if (ptr != &ctx_marker)
		return;
	for (int i = 0; i < MAX_TRACKED_CONTEXTS; i++)
	{
		if (tracked_contexts[i].ctx != parent)
			continue;
		if (IsUnderPostmaster && tracked_contexts[i].seq > retained_seq)
		{
			X509	   *leaf = SSL_CTX_get0_certificate((SSL_CTX *) parent);

			if (leaf != NULL && X509_up_ref(leaf) == 1)
			{
				if (retained_leaf != NULL)
					X509_free(retained_leaf);
				retained_leaf = leaf;
				retained_seq = tracked_contexts[i].seq;
			}
		}
		tracked_contexts[i].ctx = NULL;
	}
}

/*
 * Called from the openssl_tls_init_hook, in the postmaster, each time the
 * server builds a new SSL context (before it loads the certificate).
 * Must not ERROR.
 */
void
certificates_tls_init(void *ssl_context)
{
	SSL_CTX    *context = (SSL_CTX *) ssl_context;
	int			slot = -1;

	if (ctx_ex_index < 0)
		ctx_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
												tracked_context_free);
	if (ctx_ex_index < 0 ||
		SSL_CTX_set_ex_data(context, ctx_ex_index, &ctx_marker) != 1)
		return;

	for (int i = 0; i < MAX_TRACKED_CONTEXTS; i++)
	{
		if (tracked_contexts[i].ctx == NULL)
		{
			slot = i;
			break;
		}
		if (slot < 0 || tracked_contexts[i].seq < tracked_contexts[slot].seq)
			slot = i;
	}
	tracked_contexts[slot].ctx = context;
	tracked_contexts[slot].seq = ++tracked_seq;
}

/*
 * The printed names of the CA certificates in each tracked context's
 * store (common/x509.c, the name cache), for the issuers of client
 * certificates.  In the postmaster, from the shared memory start-up hook:
 * PostgreSQL initializes TLS (secure_initialize) before it creates shared
 * memory, so the contexts are complete by then, CA file loaded; it runs
 * again after a crash restart, when the names are already kept.  A CA
 * that a reload adds is printed per connection until the next start.
 * Raises nothing.
 */
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
certificates_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	if (IsUnderPostmaster)
		return;
	for (int i = 0; i < MAX_TRACKED_CONTEXTS; i++)
	{
		X509_STORE *store;
		STACK_OF(X509_OBJECT) *objects;

		if (tracked_contexts[i].ctx == NULL ||
			(store = SSL_CTX_get_cert_store(tracked_contexts[i].ctx)) == NULL ||
			(objects = X509_STORE_get0_objects(store)) == NULL)
			continue;
		for (int j = 0; j < sk_X509_OBJECT_num(objects); j++)
		{
			X509_OBJECT *o = sk_X509_OBJECT_value(objects, j);

			if (X509_OBJECT_get_type(o) == X509_LU_X509)
				pgtls_x509_name_cache_add(X509_get_subject_name(X509_OBJECT_get0_X509(o)));
		}
	}
}

void
certificates_install_hooks(void)
{
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = certificates_shmem_startup;
}

/* The leaf this backend serves, or NULL; *how says where it came from. */
static X509 *
served_leaf(const char **how)
{
	SSL_CTX    *newest = NULL;
	uint64		newest_seq = 0;

	if (MyProcPort != NULL && MyProcPort->ssl != NULL)
	{
		X509	   *cert = SSL_get_certificate(MyProcPort->ssl);

		if (cert != NULL)
		{
			*how = "session";
			return cert;
		}
	}
	for (int i = 0; i < MAX_TRACKED_CONTEXTS; i++)
	{
		if (tracked_contexts[i].ctx != NULL && tracked_contexts[i].seq > newest_seq)
		{
			newest = tracked_contexts[i].ctx;
			newest_seq = tracked_contexts[i].seq;
		}
	}
	if (newest != NULL)
	{
		*how = "context";
		return SSL_CTX_get0_certificate(newest);
	}
	if (retained_leaf != NULL)
	{
		*how = "context";
		return retained_leaf;
	}
	*how = NULL;
	return NULL;
}

/* ---------------------------------------------------------------------
 * Configured files
 * ---------------------------------------------------------------------
 */

/* ---- server_certificates ---- */

/*
 * source, path, CERT_NCOLS, chain_verifies, chain_error, is_served, note,
 * then (pg_hosts.conf rows only) host_names, hosts_file, hosts_line,
 * hosts_field
 */
#define SC_CHAIN_VERIFIES (2 + CERT_NCOLS)
#define SC_CHAIN_ERROR (SC_CHAIN_VERIFIES + 1)
#define SC_IS_SERVED (SC_CHAIN_VERIFIES + 2)
#define SC_NOTE (SC_CHAIN_VERIFIES + 3)
#define SC_HOST_NAMES (SC_NOTE + 1)
#define SC_HOSTS_FILE (SC_NOTE + 2)
#define SC_HOSTS_LINE (SC_NOTE + 3)
#define SC_HOSTS_FIELD (SC_NOTE + 4)
#define SC_NCOLS (SC_HOSTS_FIELD + 1)

typedef struct ServerCertsState
{
	ReturnSetInfo *rsinfo;
	TimestampTz now;
	/* while the rows of pg_hosts.conf are made: */
	const char *hosts_path;		/* the file, else NULL */
	const PgtlsHostsLine *line; /* its line, else NULL */
	const char *hosts_field;	/* "ssl_certificate" or "ssl_ca", or NULL */
} ServerCertsState;

/*
 * A row of server_certificates or crls begins with source and path (NULL
 * for the served certificate) and has a note (column note_col); every
 * other column is NULL until it is set.
 */
static void
file_row_init(Datum *values, bool *nulls, int ncols, int note_col,
			  const char *source, const char *path, const char *note)
{
	memset(nulls, true, ncols * sizeof(bool));
	values[0] = CStringGetTextDatum(source);
	nulls[0] = false;
	if (path)
	{
		values[1] = CStringGetTextDatum(path);
		nulls[1] = false;
	}
	if (note)
	{
		values[note_col] = CStringGetTextDatum(note);
		nulls[note_col] = false;
	}
}

static void
sc_put(ServerCertsState *st, const char *source, const char *path, X509 *cert,
	   int position, Datum *extra, bool *extra_nulls, const char *note)
{
	Datum		values[SC_NCOLS];
	bool		nulls[SC_NCOLS];

	/* one row per certificate of a file: callers hold it in a PG_TRY */
	CHECK_FOR_INTERRUPTS();
	file_row_init(values, nulls, SC_NCOLS, SC_NOTE, source, path, note);
	if (st->hosts_path)
	{
		values[SC_HOSTS_FILE] = CStringGetTextDatum(st->hosts_path);
		nulls[SC_HOSTS_FILE] = false;
	}
	if (st->line)
	{
		values[SC_HOST_NAMES] = pgtls_text_array(pgtls_hosts_names(st->line));
		nulls[SC_HOST_NAMES] = false;
		values[SC_HOSTS_LINE] = Int32GetDatum(st->line->line);
		nulls[SC_HOSTS_LINE] = false;
	}
	if (st->hosts_field)
	{
		values[SC_HOSTS_FIELD] = CStringGetTextDatum(st->hosts_field);
		nulls[SC_HOSTS_FIELD] = false;
	}
	if (cert)
	{
		memset(nulls + 2, false, CERT_NCOLS * sizeof(bool));
		cert_values(cert, position, st->now, values + 2, nulls + 2);
	}
	if (extra)
	{
		for (int i = 0; i < 3; i++)
		{
			values[SC_CHAIN_VERIFIES + i] = extra[i];
			nulls[SC_CHAIN_VERIFIES + i] = extra_nulls[i];
		}
	}
	tuplestore_putvalues(st->rsinfo->setResult, st->rsinfo->setDesc, values, nulls);
}

/* Read a configured certificate file; on trouble, a row saying so. */
static bool
load_cert_file(ServerCertsState *st, const char *setting, const char *path,
			   ParseResult *res)
{
	char	   *problem;
	size_t		len;
	char	   *buf = pgtls_read_file(path, &len, &problem);

	if (buf == NULL)
	{
		sc_put(st, setting, path, NULL, 0, NULL, NULL, problem);
		return false;
	}
	parse_pem(buf, len, res, false);
	pfree(buf);
	if (res->error)
	{
		sc_put(st, setting, path, NULL, 0, NULL, NULL, res->error);
		return false;
	}
	if (sk_X509_num(res->certs) == 0)
	{
		sc_put(st, setting, path, NULL, 0, NULL, NULL,
			   "the file contains no PEM certificate");
		return false;
	}
	return true;
}

/* Verify leaf + rest of chain against the CA certificates. */
static bool
verify_chain(X509 *leaf, STACK_OF(X509) *chain, STACK_OF(X509) *cas,
			 const char **error)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *sctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	bool		ok = false;

	*error = "could not set up certificate verification";
	if (store && sctx && untrusted)
	{
		for (int i = 0; i < sk_X509_num(cas); i++)
			X509_STORE_add_cert(store, sk_X509_value(cas, i));
		for (int i = 1; i < sk_X509_num(chain); i++)
			sk_X509_push(untrusted, sk_X509_value(chain, i));
		if (X509_STORE_CTX_init(sctx, store, leaf, untrusted) == 1)
		{
			X509_STORE_CTX_set_purpose(sctx, X509_PURPOSE_SSL_SERVER);
			ok = X509_verify_cert(sctx) == 1;
			*error = ok ? NULL :
				X509_verify_cert_error_string(X509_STORE_CTX_get_error(sctx));
		}
	}
	if (sctx)
		X509_STORE_CTX_free(sctx);
	if (store)
		X509_STORE_free(store);
	if (untrusted)
		sk_X509_free(untrusted);	/* not the certificates: not ours */
	ERR_clear_error();
	return ok;
}

/*
 * Read ssl_ca_file into cas; false when it is not set (*problem NULL), or
 * cannot be read or holds no certificate (*problem says which).
 */
static bool
load_ca_file(const char *ca_path, ParseResult *cas, char **problem)
{
	size_t		len;
	char	   *buf;

	*problem = NULL;
	if (!ca_path[0])
		return false;
	buf = pgtls_read_file(ca_path, &len, problem);
	if (buf == NULL)
		return false;
	parse_pem(buf, len, cas, false);
	pfree(buf);
	if (cas->error)
		*problem = cas->error;
	else if (sk_X509_num(cas->certs) == 0)
		*problem = "the file contains no PEM certificate";
	else
		return true;
	return false;
}

/*
 * The chain_verifies and chain_error columns of a leaf row (extra[0] and
 * extra[1]): the chain verified against the CA certificates, or, without
 * usable ones, null and why (no_cas_text).
 */
static void
chain_columns(X509 *leaf, ParseResult *chain, ParseResult *cas, bool have_cas,
			  const char *no_cas_text, Datum *extra, bool *extra_nulls)
{
	const char *chain_error = NULL;

	if (!have_cas)
	{
		extra_nulls[0] = true;
		extra[1] = CStringGetTextDatum(no_cas_text);
		return;
	}
	extra[0] = BoolGetDatum(verify_chain(leaf, chain->certs, cas->certs,
										 &chain_error));
	if (chain_error)
		extra[1] = CStringGetTextDatum(chain_error);
	else
		extra_nulls[1] = true;
}

/*
 * The rows of ssl_cert_file: the leaf (with chain_verifies, chain_error,
 * is_served), the rest of its chain, and, when the server serves another
 * certificate than the file's leaf, that one (source "served").
 */
static void
cert_file_rows(ServerCertsState *st, const char *cert_path, const char *ca_path,
			   ParseResult *chain, ParseResult *cas, bool have_cas)
{
	X509	   *leaf = sk_X509_value(chain->certs, 0);
	const char *how;
	X509	   *served = served_leaf(&how);
	char	   *leaf_fp = cert_fingerprint(leaf);
	char	   *served_fp = served ? cert_fingerprint(served) : NULL;
	Datum		extra[3];
	bool		extra_nulls[3] = {false, false, false};
	const char *note = NULL;

	chain_columns(leaf, chain, cas, have_cas,
				  ca_path[0] ? "ssl_ca_file could not be read or holds no certificate" :
				  "ssl_ca_file is not set",
				  extra, extra_nulls);

	if (served_fp == NULL || leaf_fp == NULL)
	{
		extra_nulls[2] = true;
		note = pgtls_hosts_file_in_use() != NULL ?
			"with ssl_sni = on the server chooses a certificate per connection from the hosts file (hosts_file) and no module sees its contexts: the served certificate is known only in a TLS session" :
			"the served certificate is known only in a TLS session, or in any session when pgtls_audit is in shared_preload_libraries";
	}
	else
	{
		bool		same = strcmp(served_fp, leaf_fp) == 0;

		extra[2] = BoolGetDatum(same);
		if (!same)
			note = "the server is not serving this certificate: ssl_cert_file changed since the configuration was last loaded; reload (SELECT pg_reload_conf()) to serve it, see the row with source 'served'";
	}
	sc_put(st, "ssl_cert_file", cert_path, leaf, 1, extra, extra_nulls, note);

	for (int i = 1; i < sk_X509_num(chain->certs); i++)
		sc_put(st, "ssl_cert_file", cert_path, sk_X509_value(chain->certs, i),
			   i + 1, NULL, NULL, NULL);

	if (served_fp && leaf_fp && strcmp(served_fp, leaf_fp) != 0)
	{
		extra_nulls[0] = extra_nulls[1] = true;
		extra[2] = BoolGetDatum(true);
		extra_nulls[2] = false;
		sc_put(st, "served", NULL, served, 1, extra, extra_nulls,
			   strcmp(how, "session") == 0 ?
			   "the certificate this TLS session was served; it differs from ssl_cert_file on disk" :
			   "the certificate the server was serving when this session started; it differs from ssl_cert_file on disk");
	}
}

/* The rows of server_certificates; chain and cas are freed by the caller. */
static void
server_certificate_rows(ServerCertsState *st, const char *cert_path,
						const char *ca_path, ParseResult *chain, ParseResult *cas)
{
	char	   *ca_problem;
	/* read ssl_ca_file first: the leaf row needs it; its rows come last */
	bool		have_cas = load_ca_file(ca_path, cas, &ca_problem);

	if (cert_path[0] && load_cert_file(st, "ssl_cert_file", cert_path, chain))
		cert_file_rows(st, cert_path, ca_path, chain, cas, have_cas);

	if (have_cas)
	{
		for (int i = 0; i < sk_X509_num(cas->certs); i++)
			sc_put(st, "ssl_ca_file", ca_path, sk_X509_value(cas->certs, i),
				   i + 1, NULL, NULL, NULL);
	}
	else if (ca_problem)
		sc_put(st, "ssl_ca_file", ca_path, NULL, 0, NULL, NULL, ca_problem);
}

/* ---- server_certificates: pg_hosts.conf (PostgreSQL 19, ssl_sni = on) ---- */

/*
 * The leaf of a pg_hosts.conf line (chain verified against the line's CA
 * file, is_served from this TLS session), then the rest of its chain.
 */
static void
host_cert_rows(ServerCertsState *st, const char *cert_path, ParseResult *chain,
			   ParseResult *cas, bool have_cas, const char *ca_path,
			   const char *line_problem)
{
	X509	   *leaf = sk_X509_value(chain->certs, 0);
	X509	   *session_leaf = NULL;
	Datum		extra[3];
	bool		extra_nulls[3] = {false, false, false};
	const char *note = line_problem;

	chain_columns(leaf, chain, cas, have_cas,
				  ca_path[0] ? "the line's CA file could not be read or holds no certificate" :
				  "the line names no CA file",
				  extra, extra_nulls);

	if (MyProcPort != NULL && MyProcPort->ssl != NULL)
		session_leaf = SSL_get_certificate(MyProcPort->ssl);
	if (session_leaf != NULL && X509_cmp(session_leaf, leaf) == 0)
		extra[2] = BoolGetDatum(true);
	else
	{
		extra_nulls[2] = true;
		if (note == NULL)
			note = session_leaf != NULL ?
				"this TLS session was served another certificate; with ssl_sni = on no module sees the server's per-host contexts, so whether this file is what the server serves for this line is known only in a TLS session it served" :
				"with ssl_sni = on no module sees the server's per-host contexts: whether this file is what the server serves for this line is known only in a TLS session it served";
	}
	sc_put(st, "pg_hosts.conf", cert_path, leaf, 1, extra, extra_nulls, note);

	for (int i = 1; i < sk_X509_num(chain->certs); i++)
		sc_put(st, "pg_hosts.conf", cert_path, sk_X509_value(chain->certs, i),
			   i + 1, NULL, NULL, NULL);
}

/* The rows of one pg_hosts.conf line: certificate file, then CA file. */
static void
host_line_rows(ServerCertsState *st, const PgtlsHostsLine *l)
{
	const char *problem = pgtls_hosts_line_problem(l);
	const char *ca_path = l->nfields > PGTLS_HOSTS_CA ? l->field[PGTLS_HOSTS_CA] : "";
	ParseResult chain;
	ParseResult cas;

	st->line = l;
	st->hosts_field = NULL;
	if (l->nfields <= PGTLS_HOSTS_KEY || l->truncated)
	{
		sc_put(st, "pg_hosts.conf", NULL, NULL, 0, NULL, NULL, problem);
		st->line = NULL;
		return;
	}

	parse_result_init(&chain);
	parse_result_init(&cas);
	PG_TRY();
	{
		char	   *ca_problem;
		bool		have_cas = load_ca_file(ca_path, &cas, &ca_problem);
		const char *cert_path = l->field[PGTLS_HOSTS_CERT];

		st->hosts_field = "ssl_certificate";
		if (load_cert_file(st, "pg_hosts.conf", cert_path, &chain))
			host_cert_rows(st, cert_path, &chain, &cas, have_cas, ca_path, problem);

		st->hosts_field = "ssl_ca";
		if (have_cas)
		{
			for (int i = 0; i < sk_X509_num(cas.certs); i++)
				sc_put(st, "pg_hosts.conf", ca_path, sk_X509_value(cas.certs, i),
					   i + 1, NULL, NULL, NULL);
		}
		else if (ca_problem)
			sc_put(st, "pg_hosts.conf", ca_path, NULL, 0, NULL, NULL, ca_problem);
	}
	PG_FINALLY();
	{
		parse_result_free(&chain);
		parse_result_free(&cas);
	}
	PG_END_TRY();
	st->line = NULL;
	st->hosts_field = NULL;
}

/*
 * Every line of the hosts file the server uses (PostgreSQL 19 with
 * ssl_sni = on); none otherwise.  A file that cannot be read or holds no
 * line is one row saying so.
 */
static void
hosts_file_rows(ServerCertsState *st)
{
	const char *hosts_path = pgtls_hosts_file_in_use();
	List	   *lines;
	char	   *problem;
	bool		missing;
	ListCell   *lc;

	if (hosts_path == NULL)
		return;
	st->hosts_path = hosts_path;
	if (!pgtls_hosts_load(hosts_path, &lines, &problem, &missing))
		sc_put(st, "pg_hosts.conf", hosts_path, NULL, 0, NULL, NULL, problem);
	else if (lines == NIL)
		sc_put(st, "pg_hosts.conf", hosts_path, NULL, 0, NULL, NULL,
			   "the hosts file has no line: with ssl_sni = on it configures no host certificate");
	foreach(lc, lines)
		host_line_rows(st, lfirst(lc));
	st->hosts_path = NULL;
}

PG_FUNCTION_INFO_V1(pgtls_audit_server_certificates);

Datum
pgtls_audit_server_certificates(PG_FUNCTION_ARGS)
{
	ServerCertsState st;
	ParseResult chain;
	ParseResult cas;

	InitMaterializedSRF(fcinfo, 0);
	st.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	st.now = GetCurrentTransactionStartTimestamp();
	st.hosts_path = NULL;
	st.line = NULL;
	st.hosts_field = NULL;

	parse_result_init(&chain);
	parse_result_init(&cas);
	PG_TRY();
	{
		server_certificate_rows(&st, pgtls_setting_or_empty("ssl_cert_file"),
								pgtls_setting_or_empty("ssl_ca_file"), &chain, &cas);
	}
	PG_FINALLY();
	{
		parse_result_free(&chain);
		parse_result_free(&cas);
	}
	PG_END_TRY();
	hosts_file_rows(&st);
	PG_RETURN_NULL();
}

/* ---- crls ---- */

/* source, path, CRL_NCOLS, note */
#define CRLS_NCOLS (2 + CRL_NCOLS + 1)

static void
crl_put(ReturnSetInfo *rsinfo, TimestampTz now, const char *source,
		const char *path, X509_CRL *crl, int position, const char *note)
{
	Datum		values[CRLS_NCOLS];
	bool		nulls[CRLS_NCOLS];

	/* one row per CRL of a file: callers hold it in a PG_TRY */
	CHECK_FOR_INTERRUPTS();
	file_row_init(values, nulls, CRLS_NCOLS, CRLS_NCOLS - 1, source, path, note);
	if (crl)
	{
		memset(nulls + 2, false, CRL_NCOLS * sizeof(bool));
		crl_values(crl, position, now, values + 2, nulls + 2);
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Every CRL of one file as rows, or one row saying what is wrong. */
static void
crl_file_rows(ReturnSetInfo *rsinfo, TimestampTz now, const char *source,
			  const char *path)
{
	char	   *problem;
	size_t		len;
	char	   *buf = pgtls_read_file(path, &len, &problem);
	ParseResult res;

	if (buf == NULL)
	{
		crl_put(rsinfo, now, source, path, NULL, 0, problem);
		return;
	}
	parse_result_init(&res);
	parse_pem(buf, len, &res, false);
	pfree(buf);
	PG_TRY();
	{
		if (res.error)
			crl_put(rsinfo, now, source, path, NULL, 0, res.error);
		else if (sk_X509_CRL_num(res.crls) == 0)
			crl_put(rsinfo, now, source, path, NULL, 0,
					"the file contains no PEM CRL");
		for (int i = 0; i < sk_X509_CRL_num(res.crls); i++)
			crl_put(rsinfo, now, source, path, sk_X509_CRL_value(res.crls, i),
					i + 1, NULL);
	}
	PG_FINALLY();
	{
		parse_result_free(&res);
	}
	PG_END_TRY();
}

/* Names OpenSSL looks up in a CRL directory: 8 hex digits, ".r", digits. */
static bool
is_crl_hash_name(const char *name)
{
	int			i;

	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char) name[i]))
			return false;
	if (name[8] != '.' || name[9] != 'r' || name[10] == '\0')
		return false;
	for (i = 10; name[i]; i++)
		if (!isdigit((unsigned char) name[i]))
			return false;
	return true;
}

static int
compare_strings(const ListCell *a, const ListCell *b)
{
	return strcmp((const char *) lfirst(a), (const char *) lfirst(b));
}

PG_FUNCTION_INFO_V1(pgtls_audit_crls);

Datum
pgtls_audit_crls(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	const char *crl_file = pgtls_setting_or_empty("ssl_crl_file");
	const char *crl_dir = pgtls_setting_or_empty("ssl_crl_dir");

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	if (crl_file[0])
		crl_file_rows(rsinfo, now, "ssl_crl_file", crl_file);

	if (crl_dir[0])
	{
		DIR		   *dir = AllocateDir(crl_dir);
		struct dirent *de;
		List	   *names = NIL;
		ListCell   *lc;

		if (dir == NULL)
		{
			crl_put(rsinfo, now, "ssl_crl_dir", crl_dir, NULL, 0,
					psprintf("could not open directory \"%s\": %m", crl_dir));
			PG_RETURN_NULL();
		}
		while ((de = ReadDirExtended(dir, crl_dir, LOG)) != NULL)
		{
			CHECK_FOR_INTERRUPTS();
			if (is_crl_hash_name(de->d_name))
				names = lappend(names, pstrdup(de->d_name));
		}
		FreeDir(dir);
		list_sort(names, compare_strings);
		if (names == NIL)
			crl_put(rsinfo, now, "ssl_crl_dir", crl_dir, NULL, 0,
					"the directory holds no file named HASH.rN (see openssl rehash), so the server finds no CRL in it");
		foreach(lc, names)
			crl_file_rows(rsinfo, now, "ssl_crl_dir",
						  psprintf("%s/%s", crl_dir, (char *) lfirst(lc)));
	}
	PG_RETURN_NULL();
}
