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

#include <openssl/ssl.h>

#include "audit/client_hello.h"
#include "audit/offer.h"
#include "audit/record.h"
#include "audit/tls.h"
#include "common/hosts_file.h"
#include "common/x509.h"

/* Longest name written for one value (OpenSSL suite names are shorter) */
#define OFFER_NAME_MAX 64

/* A list being built in a fixed buffer, then copied into the record. */
typedef struct OfferList
{
	char		buf[PGTLS_CH_MAX_CIPHERS * (OFFER_NAME_MAX + 1) + 1];
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

static char *
offered_versions(AuditRecord *rec, const PgtlsClientHello *ch)
{
	OfferList	l = {{0}, 0};
	char		name[8];

	if (ch->nversions == 0)
		offer_list_add(&l, pgtls_tls_version_name(ch->legacy_version, name));
	for (int i = 0; i < ch->nversions; i++)
		if (!pgtls_tls_grease(ch->versions[i]))
			offer_list_add(&l, pgtls_tls_version_name(ch->versions[i], name));
	return offer_list_copy(rec, &l);
}

static char *
offered_ciphers(AuditRecord *rec, const PgtlsClientHello *ch, SSL *ssl)
{
	OfferList	l = {{0}, 0};

	for (int i = 0; i < ch->nciphers; i++)
	{
		uint16_t	v = ch->ciphers[i];
		unsigned char wire[2] = {v >> 8, v & 0xff};
		const SSL_CIPHER *c = ssl ? SSL_CIPHER_find(ssl, wire) : NULL;
		char		hex[8];

		if (pgtls_tls_grease(v))
			continue;
		if (c != NULL && SSL_CIPHER_get_name(c) != NULL &&
			strlen(SSL_CIPHER_get_name(c)) <= OFFER_NAME_MAX)
			offer_list_add(&l, SSL_CIPHER_get_name(c));
		else
		{
			snprintf(hex, sizeof(hex), "0x%04x", v);
			offer_list_add(&l, hex);
		}
	}
	return offer_list_copy(rec, &l);
}

static char *
offered_groups(AuditRecord *rec, const PgtlsClientHello *ch, SSL *ssl)
{
	OfferList	l = {{0}, 0};

	for (int i = 0; i < ch->ngroups; i++)
	{
		uint16_t	v = ch->groups[i];
		/* a TLS group id is passed as TLSEXT_nid_unknown | id (ssl/t1_lib.c) */
		const char *name = ssl ? SSL_group_to_name(ssl, TLSEXT_nid_unknown | v) : NULL;
		char		hex[8];

		if (pgtls_tls_grease(v))
			continue;
		if (name != NULL && strlen(name) <= OFFER_NAME_MAX &&
			strncmp(name, "0x", 2) != 0)
			offer_list_add(&l, name);
		else
		{
			snprintf(hex, sizeof(hex), "0x%04x", v);
			offer_list_add(&l, hex);
		}
	}
	return offer_list_copy(rec, &l);
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

static char *
offered_alpn(AuditRecord *rec, const PgtlsClientHello *ch)
{
	OfferList	l = {{0}, 0};
	char		text[PGTLS_CH_ALPN_LEN * 3 + 1];

	for (int i = 0; i < ch->nalpn; i++)
	{
		alpn_text(text, ch->alpn[i], ch->alpn_len[i]);
		offer_list_add(&l, text);
	}
	return offer_list_copy(rec, &l);
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
	OfferList	l = {{0}, 0};
	int			n = sk ? sk_SSL_CIPHER_num(sk) : 0;

	if (n <= 0)
		return NULL;
	for (int i = 0; i < n && i < PGTLS_CH_MAX_CIPHERS; i++)
	{
		const char *name = SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i));

		if (name != NULL && strlen(name) <= OFFER_NAME_MAX)
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
	OfferList	l = {{0}, 0};

	if (n <= 0 || n > OFFER_MAX_SESSION_GROUPS || SSL_get1_groups(ssl, groups) != n)
		return NULL;
	for (int i = 0; i < n; i++)
	{
		const char *name = SSL_group_to_name(ssl, groups[i]);
		char		hex[8];

		if ((groups[i] & TLSEXT_nid_unknown) != 0 &&
			pgtls_tls_grease(groups[i] & 0xffff))
			continue;
		if (name != NULL && strlen(name) <= OFFER_NAME_MAX &&
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
 * not the extension list, so no JA4: those stay NULL.
 */
static void
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
	rec->offered_versions = offered_versions(rec, &ch);
	rec->offered_ciphers = offered_ciphers(rec, &ch, ssl);
	rec->offered_groups = offered_groups(rec, &ch, ssl);
	rec->offered_alpn = ch.nalpn > 0 ? offered_alpn(rec, &ch) : NULL;
	pgtls_ja4(&ch, ja4);
	rec->ja4 = audit_record_alloc(rec, strlen(ja4) + 1);
	if (rec->ja4)
		strcpy(rec->ja4, ja4);
}
