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

/*
 * Fill the record's offer fields from the connection's first ClientHello,
 * if one was seen and parses; leave them NULL otherwise.
 */
void
audit_offer_capture(AuditRecord *rec, struct ssl_st *ssl)
{
	const uint8_t *msg;
	size_t		len;
	PgtlsClientHello ch;
	char		ja4[PGTLS_JA4_LEN + 1];

	msg = audit_tls_client_hello(&len);
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
