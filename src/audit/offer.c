/*-------------------------------------------------------------------------
 *
 * offer.c
 *	  What the client offered in its ClientHello, into the audit record:
 *	  the server name it asked for (SNI), the TLS versions, cipher suites,
 *	  groups and ALPN protocols it offered, and the JA4 fingerprint.
 *
 * audit/tls.c keeps the first ClientHello of the connection as raw bytes
 * (its message callback runs inside the handshake and only copies into a
 * fixed buffer); here, when the record is captured, the bytes are parsed
 * with the bounds-checked parser of audit/client_hello.c and turned into
 * names: OpenSSL's name of each suite and group it knows, else 0xHHHH, and
 * the version names of ssl_min_protocol_version.  GREASE values (RFC 8701)
 * are left out of the lists; JA4 ignores them too.
 *
 * Lists are stored in the record as comma-separated text (no name holds a
 * comma: ALPN protocol names, which may hold any byte, have ',' '%' and
 * every byte outside printable ASCII written as %HH); audit/format.c
 * writes them as JSON arrays or as one quoted string.
 *
 * On PostgreSQL 19 no hook reaches the context connections are made from;
 * audit/tls.c sets the message callback on the connection's SSL object
 * instead, so the raw ClientHello is seen there too.  Should no message
 * callback have run on a connection (another module replaced it), what
 * OpenSSL still tells from the session is used (offer_from_session).  On
 * 19 the pg_hosts.conf line that served the connection is found too
 * (capture_host_entry).
 *
 * Like the rest of the record's capture this runs in the exit callback,
 * so nothing here raises an error: memory comes from audit_record_alloc()
 * (MCXT_ALLOC_NO_OOM), and a failure marks the record as not captured.
 *
 * src/audit/offer.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "audit/client_hello.h"
#include "audit/offer.h"
#include "audit/record.h"
#include "audit/tls.h"
#include "common/hosts_file.h"
#include "common/x509.h"

/*
 * A list being built in a fixed buffer, then copied into the record.  Start
 * one with OFFER_LIST_INIT: only the length and the first byte are set (the
 * buffer is 8 kB of stack, and zeroing it was a third of the offer fields'
 * instructions and fresh stack pages in every new backend).
 */
#define OFFER_LIST_INIT(l) ((l).len = 0, (l).buf[0] = '\0')

typedef struct OfferList
{
	char		buf[AUDIT_OFFER_MAX_CIPHERS * AUDIT_OFFER_NAME_LEN + 1];
	size_t		len;
} OfferList;

static void
offer_list_add(OfferList *l, const char *name)
{
	size_t		n = strlen(name);

	if (l->len + n + 2 > sizeof(l->buf))
		return;					/* cannot happen: sized for the maxima */
	if (l->len > 0)
		l->buf[l->len++] = ',';
	memcpy(l->buf + l->len, name, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static char *
offer_list_copy(AuditRecord *rec, const OfferList *l)
{
	char	   *s = audit_record_alloc(rec, l->len + 1);

	if (s)
		memcpy(s, l->buf, l->len + 1);
	return s;
}

/*
 * The name of one offered value, into buf (at least AUDIT_OFFER_NAME_LEN
 * bytes): a version as ssl_min_protocol_version spells it, a cipher suite
 * or group by OpenSSL's name where OpenSSL knows it, else 0xHHHH.  ssl
 * may be NULL (hex only for suites and groups).
 */
const char *
audit_offer_value_name(AuditOfferKind kind, uint16 v, struct ssl_st *ssl,
					   char *buf)
{
	const char *name = NULL;

	switch (kind)
	{
		case AUDIT_OFFER_VERSION:
			return pgtls_tls_version_name(v, buf);
		case AUDIT_OFFER_CIPHER:
			{
				unsigned char wire[2] = {v >> 8, v & 0xff};
				const SSL_CIPHER *c = ssl ? SSL_CIPHER_find(ssl, wire) : NULL;

				name = c ? SSL_CIPHER_get_name(c) : NULL;
				break;
			}
		case AUDIT_OFFER_GROUP:
			/* a TLS group id goes in as TLSEXT_nid_unknown | id (t1_lib.c) */
			name = ssl ? SSL_group_to_name(ssl, TLSEXT_nid_unknown | v) : NULL;
			if (name != NULL && strncmp(name, "0x", 2) == 0)
				name = NULL;
			break;
	}
	if (name != NULL && strlen(name) < AUDIT_OFFER_NAME_LEN)
		return strcpy(buf, name);
	snprintf(buf, AUDIT_OFFER_NAME_LEN, "0x%04x", v);
	return buf;
}

/*
 * An SSL object of this backend for naming values outside a connection
 * (the inventory's views): created once, never freed; NULL if OpenSSL
 * cannot make one (values are then named in hex).
 */
struct ssl_st *
audit_offer_naming_ssl(void)
{
	static SSL_CTX *ctx = NULL;
	static SSL *ssl = NULL;

	if (ssl == NULL && ctx == NULL)
	{
		ctx = SSL_CTX_new(TLS_method());
		if (ctx != NULL)
			ssl = SSL_new(ctx);
		ERR_clear_error();
	}
	return ssl;
}

/*
 * A list of offered values as comma-separated names, written straight into
 * the record's memory, sized for the longest names (each under
 * AUDIT_OFFER_NAME_LEN, with its comma): no list buffer of that size
 * (8 kB) sits on the stack, pushing the callees' frames into stack pages
 * this backend has not touched yet, and each value is named once.
 */
static char *
offer_list_names(AuditRecord *rec, AuditOfferKind kind, const uint16 *values,
				 int n, SSL *ssl)
{
	char		name[AUDIT_OFFER_NAME_LEN];
	char	   *list = audit_record_alloc(rec, (size_t) n * AUDIT_OFFER_NAME_LEN + 1);
	char	   *p = list;

	if (list == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
	{
		const char *v = audit_offer_value_name(kind, values[i], ssl, name);
		size_t		k = strlen(v);

		if (i > 0)
			*p++ = ',';
		memcpy(p, v, k);
		p += k;
	}
	*p = '\0';
	return list;
}

/* Copy a parsed list into the record's offer, GREASE values left out */
static uint8
offer_copy_values(uint16 *dst, int max, const uint16_t *src, int n)
{
	int			k = 0;

	for (int i = 0; i < n && k < max; i++)
		if (!pgtls_tls_grease(src[i]))
			dst[k++] = src[i];
	return (uint8) k;
}

static void
offer_fill(AuditOffer *o, const PgtlsClientHello *ch)
{
	memset(o, 0, sizeof(*o));
	if (ch->nversions == 0)
	{
		o->versions[0] = ch->legacy_version;
		o->nversions = 1;
	}
	else
		o->nversions = offer_copy_values(o->versions, AUDIT_OFFER_MAX_VERSIONS,
										 ch->versions, ch->nversions);
	o->nciphers = offer_copy_values(o->ciphers, AUDIT_OFFER_MAX_CIPHERS,
									ch->ciphers, ch->nciphers);
	o->ngroups = offer_copy_values(o->groups, AUDIT_OFFER_MAX_GROUPS,
								   ch->groups, ch->ngroups);
	o->nkeyshares = offer_copy_values(o->keyshares, AUDIT_OFFER_MAX_GROUPS,
									  ch->keyshares, ch->nkeyshares);
}

/* An ALPN protocol name as list text: ',', '%' and non-printables as %HH */
static void
alpn_text(char *dst, const char *src, int len)
{
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) src[i];

		if (c <= 0x20 || c >= 0x7f || c == ',' || c == '%')
			dst += sprintf(dst, "%%%02X", c);
		else
			*dst++ = (char) c;
	}
	*dst = '\0';
}

/*
 * The offered ALPN values, comma-separated, written straight into the
 * record's memory at their largest escaped size (an OfferList here, 8 kB,
 * made audit_offer_capture's frame 9.7 kB once inlined: fresh stack pages,
 * each a page fault in a new backend).
 */
static char *
offered_alpn(AuditRecord *rec, const PgtlsClientHello *ch)
{
	size_t		size = 1;
	char	   *s;
	char	   *p;

	for (int i = 0; i < ch->nalpn; i++)
		size += (size_t) ch->alpn_len[i] * 3 + 1;
	s = audit_record_alloc(rec, size);
	if (s == NULL)
		return NULL;
	p = s;
	for (int i = 0; i < ch->nalpn; i++)
	{
		if (i > 0)
			*p++ = ',';
		alpn_text(p, ch->alpn[i], ch->alpn_len[i]);
		p += strlen(p);
	}
	*p = '\0';
	return s;
}

/* ---- from the TLS session, when the raw ClientHello was not seen ---- */

#define OFFER_MAX_SESSION_GROUPS 64

/* The server name OpenSSL parsed from the ClientHello, if any. */
static void
session_sni(AuditRecord *rec, SSL *ssl)
{
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	size_t		n;

	if (name == NULL || name[0] == '\0')
		return;
	n = strlen(name);
	rec->sni = audit_record_alloc(rec, pgtls_valid_utf8_size(name, n) + 1);
	if (rec->sni)
		pgtls_make_valid_utf8(rec->sni, name, n);
}

/* The client's suites that OpenSSL knows, in the client's order. */
static char *
session_ciphers(AuditRecord *rec, SSL *ssl)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_get_client_ciphers(ssl);
	OfferList	l;
	int			n = sk ? sk_SSL_CIPHER_num(sk) : 0;

	if (n <= 0)
		return NULL;
	OFFER_LIST_INIT(l);
	for (int i = 0; i < n && i < PGTLS_CH_MAX_CIPHERS; i++)
	{
		const char *name = SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i));

		if (name != NULL && strlen(name) < AUDIT_OFFER_NAME_LEN)
			offer_list_add(&l, name);
	}
	return offer_list_copy(rec, &l);
}

/* The client's supported_groups, as OpenSSL kept them (NIDs). */
static char *
session_groups(AuditRecord *rec, SSL *ssl)
{
	int			groups[OFFER_MAX_SESSION_GROUPS];
	int			n = SSL_get1_groups(ssl, NULL);
	OfferList	l;

	if (n <= 0 || n > OFFER_MAX_SESSION_GROUPS || SSL_get1_groups(ssl, groups) != n)
		return NULL;
	OFFER_LIST_INIT(l);
	for (int i = 0; i < n; i++)
	{
		const char *name = SSL_group_to_name(ssl, groups[i]);
		char		hex[8];

		if ((groups[i] & TLSEXT_nid_unknown) != 0 &&
			pgtls_tls_grease(groups[i] & 0xffff))
			continue;
		if (name != NULL && strlen(name) < AUDIT_OFFER_NAME_LEN &&
			strncmp(name, "0x", 2) != 0)
			offer_list_add(&l, name);
		else
		{
			snprintf(hex, sizeof(hex), "0x%04x", groups[i] & 0xffff);
			offer_list_add(&l, hex);
		}
	}
	return offer_list_copy(rec, &l);
}

/*
 * What OpenSSL still tells after the handshake (or after a handshake that
 * failed once the ClientHello was processed): the server name, the suites
 * it knows, the supported groups.  Not the offered versions (only the
 * negotiated one is kept), not the ALPN list (only the selected protocol),
 * not the extension list, so no JA4: those stay NULL.  Not inlined: its
 * name lists (8 kB of stack) would enlarge the frame of
 * audit_offer_capture, which every connection with TLS runs.
 */
static pg_noinline void
offer_from_session(AuditRecord *rec, SSL *ssl)
{
	session_sni(rec, ssl);
	rec->offered_ciphers = session_ciphers(rec, ssl);
	rec->offered_groups = session_groups(rec, ssl);
}

/*
 * PostgreSQL 19 with ssl_sni = on: the pg_hosts.conf line whose certificate
 * the connection was served, as "file:line" (common/hosts_file.c chooses
 * it as the server does, from the server name OpenSSL parsed).  Only once
 * a certificate was chosen for the connection; NULL before 19, with
 * ssl_sni off, and when no line serves it (an empty hosts file: the
 * server then serves ssl_cert_file).
 */
static void
capture_host_entry(AuditRecord *rec, SSL *ssl)
{
	const char *path = pgtls_hosts_file_in_use();
	const char *sni;
	char		text[MAXPGPATH + 16];
	size_t		n;
	int			line;

	if (path == NULL || ssl == NULL || SSL_get_certificate(ssl) == NULL)
		return;
	sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	line = pgtls_hosts_entry_for(path, (sni && sni[0]) ? sni : NULL);
	if (line <= 0)
		return;
	snprintf(text, sizeof(text), "%s:%d", path, line);
	n = strlen(text);
	rec->host_entry = audit_record_alloc(rec, pgtls_valid_utf8_size(text, n) + 1);
	if (rec->host_entry)
		pgtls_make_valid_utf8(rec->host_entry, text, n);
}

/*
 * Fill the record's offer fields from the connection's first ClientHello,
 * if one was seen and parses; leave them NULL otherwise.  When the
 * handshake ran without our message callback (another module replaced
 * it), fill what the TLS session still gives (offer_from_session).
 */
void
audit_offer_capture(AuditRecord *rec, struct ssl_st *ssl)
{
	const uint8_t *msg;
	size_t		len;
	PgtlsClientHello ch;
	char		ja4[PGTLS_JA4_LEN + 1];

	capture_host_entry(rec, ssl);
	msg = audit_tls_client_hello(&len);
	if (msg == NULL && ssl != NULL && !audit_tls_hello_observed())
	{
		offer_from_session(rec, ssl);
		return;
	}
	if (msg == NULL || !pgtls_parse_client_hello(msg, len, &ch))
		return;

	if (ch.has_sni)
	{
		rec->sni = audit_record_alloc(rec, pgtls_valid_utf8_size(ch.sni, ch.sni_len) + 1);
		if (rec->sni)
			pgtls_make_valid_utf8(rec->sni, ch.sni, ch.sni_len);
	}
	offer_fill(&rec->offer, &ch);
	rec->has_offer = true;
	rec->offered_versions = offer_list_names(rec, AUDIT_OFFER_VERSION,
											 rec->offer.versions,
											 rec->offer.nversions, ssl);
	rec->offered_ciphers = offer_list_names(rec, AUDIT_OFFER_CIPHER,
											rec->offer.ciphers,
											rec->offer.nciphers, ssl);
	rec->offered_groups = offer_list_names(rec, AUDIT_OFFER_GROUP,
										   rec->offer.groups,
										   rec->offer.ngroups, ssl);
	rec->offered_alpn = ch.nalpn > 0 ? offered_alpn(rec, &ch) : NULL;
	pgtls_ja4(&ch, ja4);
	rec->ja4 = audit_record_alloc(rec, strlen(ja4) + 1);
	if (rec->ja4)
		strcpy(rec->ja4, ja4);
}
