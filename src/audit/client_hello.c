/*-------------------------------------------------------------------------
 *
 * client_hello.c
 *	  A bounds-checked parser of the TLS ClientHello message (RFC 8446
 *	  section 4.1.2, and the TLS 1.0-1.2 form without extensions) and the
 *	  JA4 fingerprint of what it offers.
 *
 * Every read goes through a cursor that knows how many bytes remain: a
 * length field that points past its enclosing structure makes the whole
 * message malformed, as do bytes left over inside a structure whose length
 * is given (a server rejects both).  The parser never allocates, never
 * raises an error and never reads outside [msg, msg + len): it is fuzzed on
 * its own (test/fuzz/).  Of an extension that appears twice (which a server
 * rejects) only the first occurrence's content is read; both appear in the
 * extension list, as JA4 counts them.
 *
 * JA4 follows FoxIO's specification, technical_details/JA4.md (BSD 3-clause),
 * implemented from its text: GREASE values are ignored everywhere, the
 * signature algorithms included.
 *
 * No PostgreSQL header: see client_hello.h.
 *
 * src/audit/client_hello.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "audit/client_hello.h"

#define TLS_HANDSHAKE_CLIENT_HELLO	1

#define EXT_SERVER_NAME			0
#define EXT_SUPPORTED_GROUPS	10
#define EXT_SIGNATURE_ALGORITHMS 13
#define EXT_ALPN				16
#define EXT_SUPPORTED_VERSIONS	43
#define EXT_KEY_SHARE			51

/* A read cursor: n bytes remain at p. */
typedef struct Cursor
{
	const uint8_t *p;
	size_t		n;
} Cursor;

static bool
get_u8(Cursor *c, uint8_t *v)
{
	if (c->n < 1)
		return false;
	*v = c->p[0];
	c->p += 1;
	c->n -= 1;
	return true;
}

static bool
get_u16(Cursor *c, uint16_t *v)
{
	if (c->n < 2)
		return false;
	*v = (uint16_t) ((c->p[0] << 8) | c->p[1]);
	c->p += 2;
	c->n -= 2;
	return true;
}

static bool
skip(Cursor *c, size_t k)
{
	if (c->n < k)
		return false;
	c->p += k;
	c->n -= k;
	return true;
}

/* A sub-cursor over the next k bytes, which c then skips. */
static bool
take(Cursor *c, size_t k, Cursor *sub)
{
	if (c->n < k)
		return false;
	sub->p = c->p;
	sub->n = k;
	c->p += k;
	c->n -= k;
	return true;
}

/* A vector with a one- or two-byte length prefix, as a sub-cursor. */
static bool
take_vec8(Cursor *c, Cursor *sub)
{
	uint8_t		k;

	return get_u8(c, &k) && take(c, k, sub);
}

static bool
take_vec16(Cursor *c, Cursor *sub)
{
	uint16_t	k;

	return get_u16(c, &k) && take(c, k, sub);
}

/* Append v to a bounded list, counting it as dropped when full. */
static void
list_add(PgtlsClientHello *ch, uint16_t *list, int *count, int max,
		 uint16_t v)
{
	if (*count < max)
		list[(*count)++] = v;
	else
	{
		ch->truncated = true;
		ch->dropped++;
	}
}

/*
 * A vector of 16-bit values filling all of c (an odd length is malformed),
 * appended to a bounded list.
 */
static bool
read_u16_list(Cursor *c, PgtlsClientHello *ch, uint16_t *list, int *count,
			  int max)
{
	uint16_t	v;

	if (c->n % 2 != 0)
		return false;
	while (get_u16(c, &v))
		list_add(ch, list, count, max, v);
	return true;
}

/* Copy up to max bytes into a NUL-terminated buffer; a cut counts. */
static int
copy_bytes(PgtlsClientHello *ch, char *dst, const uint8_t *src, size_t n,
		   size_t max)
{
	if (n > max)
	{
		n = max;
		ch->truncated = true;
		ch->dropped++;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return (int) n;
}

/* server_name (RFC 6066 section 3): the first host_name entry. */
static bool
parse_server_name(Cursor *ext, PgtlsClientHello *ch)
{
	Cursor		list,
				name;
	uint8_t		type;

	if (!take_vec16(ext, &list) || ext->n != 0)
		return false;
	while (list.n > 0)
	{
		if (!get_u8(&list, &type) || !take_vec16(&list, &name))
			return false;
		if (type == 0 && !ch->has_sni)
		{
			ch->sni_len = copy_bytes(ch, ch->sni, name.p, name.n,
									 PGTLS_CH_SNI_LEN);
			ch->has_sni = true;
		}
	}
	return true;
}

/* application_layer_protocol_negotiation (RFC 7301 section 3.1) */
static bool
parse_alpn(Cursor *ext, PgtlsClientHello *ch)
{
	Cursor		list,
				name;
	bool		first = true;

	if (!take_vec16(ext, &list) || ext->n != 0)
		return false;
	while (list.n > 0)
	{
		if (!take_vec8(&list, &name))
			return false;
		if (first)
		{
			ch->alpn_first_len = (int) name.n;
			if (name.n > 0)
			{
				ch->alpn_first_ends[0] = name.p[0];
				ch->alpn_first_ends[1] = name.p[name.n - 1];
			}
			first = false;
		}
		if (ch->nalpn < PGTLS_CH_MAX_ALPN)
		{
			ch->alpn_len[ch->nalpn] =
				(uint8_t) copy_bytes(ch, ch->alpn[ch->nalpn], name.p, name.n,
									 PGTLS_CH_ALPN_LEN);
			ch->nalpn++;
		}
		else
		{
			ch->truncated = true;
			ch->dropped++;
		}
	}
	return true;
}

/* key_share (RFC 8446 section 4.2.8): the group of each share */
static bool
parse_key_share(Cursor *ext, PgtlsClientHello *ch)
{
	Cursor		list,
				key;
	uint16_t	group;

	if (!take_vec16(ext, &list) || ext->n != 0)
		return false;
	while (list.n > 0)
	{
		if (!get_u16(&list, &group) || !take_vec16(&list, &key))
			return false;
		list_add(ch, ch->keyshares, &ch->nkeyshares, PGTLS_CH_MAX_GROUPS,
				 group);
	}
	return true;
}

/*
 * The content of one extension whose type this parser reads, all of ext.
 * seen: the types already read (one bit each of the six).
 */
static bool
parse_extension(uint16_t type, Cursor *ext, PgtlsClientHello *ch,
				unsigned *seen)
{
	Cursor		list;
	unsigned	bit;

	switch (type)
	{
		case EXT_SERVER_NAME:
			bit = 1;
			break;
		case EXT_SUPPORTED_GROUPS:
			bit = 2;
			break;
		case EXT_SIGNATURE_ALGORITHMS:
			bit = 4;
			break;
		case EXT_ALPN:
			bit = 8;
			break;
		case EXT_SUPPORTED_VERSIONS:
			bit = 16;
			break;
		case EXT_KEY_SHARE:
			bit = 32;
			break;
		default:
			return true;		/* content not needed */
	}
	if (type == EXT_SERVER_NAME)
		ch->sni_extension = true;
	if (*seen & bit)
		return true;			/* a repeated extension: first one wins */
	*seen |= bit;

	switch (type)
	{
		case EXT_SERVER_NAME:
			/* an empty server_name is what a server sends back; accept it */
			return ext->n == 0 || parse_server_name(ext, ch);
		case EXT_SUPPORTED_GROUPS:
			return take_vec16(ext, &list) && ext->n == 0 &&
				read_u16_list(&list, ch, ch->groups, &ch->ngroups,
							  PGTLS_CH_MAX_GROUPS);
		case EXT_SIGNATURE_ALGORITHMS:
			return take_vec16(ext, &list) && ext->n == 0 &&
				read_u16_list(&list, ch, ch->sigalgs, &ch->nsigalgs,
							  PGTLS_CH_MAX_SIGALGS);
		case EXT_ALPN:
			return parse_alpn(ext, ch);
		case EXT_SUPPORTED_VERSIONS:
			return take_vec8(ext, &list) && ext->n == 0 &&
				read_u16_list(&list, ch, ch->versions, &ch->nversions,
							  PGTLS_CH_MAX_VERSIONS);
		case EXT_KEY_SHARE:
			return parse_key_share(ext, ch);
	}
	return true;
}

/* The ClientHello body after legacy_version, random and legacy_session_id. */
static bool
parse_hello_body(Cursor *body, PgtlsClientHello *ch)
{
	Cursor		list,
				exts,
				ext;
	uint16_t	type;
	unsigned	seen = 0;

	/* cipher_suites<2..2^16-2> */
	if (!take_vec16(body, &list) || list.n == 0 ||
		!read_u16_list(&list, ch, ch->ciphers, &ch->nciphers,
					   PGTLS_CH_MAX_CIPHERS))
		return false;
	/* legacy_compression_methods<1..2^8-1> */
	if (!take_vec8(body, &list) || list.n == 0)
		return false;
	/* extensions<8..2^16-1>, absent in some TLS 1.0-1.2 hellos */
	if (body->n == 0)
		return true;
	if (!take_vec16(body, &exts) || body->n != 0)
		return false;
	while (exts.n > 0)
	{
		if (!get_u16(&exts, &type) || !take_vec16(&exts, &ext))
			return false;
		list_add(ch, ch->extensions, &ch->nextensions,
				 PGTLS_CH_MAX_EXTENSIONS, type);
		if (!parse_extension(type, &ext, ch, &seen))
			return false;
	}
	return true;
}

bool
pgtls_parse_client_hello(const uint8_t *msg, size_t len,
						 PgtlsClientHello *out)
{
	Cursor		c,
				body,
				sid;
	uint8_t		type;
	size_t		mlen;

	memset(out, 0, sizeof(*out));
	if (msg == NULL)
		return false;
	c.p = msg;
	c.n = len;
	/* Handshake: msg_type, uint24 length, body */
	if (!get_u8(&c, &type) || type != TLS_HANDSHAKE_CLIENT_HELLO || c.n < 3)
		return false;
	mlen = ((size_t) c.p[0] << 16) | ((size_t) c.p[1] << 8) | c.p[2];
	(void) skip(&c, 3);
	if (!take(&c, mlen, &body))
		return false;
	/* legacy_version, random[32], legacy_session_id<0..32> */
	if (!get_u16(&body, &out->legacy_version) || !skip(&body, 32) ||
		!take_vec8(&body, &sid) || sid.n > 32 ||
		!parse_hello_body(&body, out))
	{
		memset(out, 0, sizeof(*out));
		return false;
	}
	out->valid = true;
	return true;
}

bool
pgtls_tls_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* JA4's two characters of a version */
static const char *
ja4_version(uint16_t v)
{
	switch (v)
	{
		case 0x0304:
			return "13";
		case 0x0303:
			return "12";
		case 0x0302:
			return "11";
		case 0x0301:
			return "10";
		case 0x0300:
			return "s3";
		case 0x0002:
			return "s2";
		case 0xfeff:
			return "d1";
		case 0xfefd:
			return "d2";
		case 0xfefc:
			return "d3";
	}
	return "00";
}

/*
 * The version JA4 names: the highest non-GREASE value of supported_versions
 * when the extension is present (and holds one), else legacy_version.
 */
static uint16_t
ja4_highest_version(const PgtlsClientHello *ch)
{
	uint16_t	best = 0;
	bool		found = false;
	int			i;

	for (i = 0; i < ch->nversions; i++)
	{
		if (pgtls_tls_grease(ch->versions[i]))
			continue;
		if (!found || ch->versions[i] > best)
			best = ch->versions[i];
		found = true;
	}
	return found ? best : ch->legacy_version;
}

static bool
is_alnum_ascii(uint8_t b)
{
	return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') ||
		(b >= 'a' && b <= 'z');
}

/*
 * JA4's two ALPN characters: first and last character of the first value,
 * "00" without one; when either end byte is not an ASCII letter or digit,
 * the first and last hex digit of the value instead.
 */
static void
ja4_alpn(const PgtlsClientHello *ch, char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t		a = ch->alpn_first_ends[0],
				z = ch->alpn_first_ends[1];

	if (ch->alpn_first_len == 0)
	{
		out[0] = out[1] = '0';
		return;
	}
	if (is_alnum_ascii(a) && is_alnum_ascii(z))
	{
		out[0] = (char) a;
		out[1] = (char) z;
	}
	else
	{
		out[0] = hex[a >> 4];
		out[1] = hex[z & 0x0f];
	}
}

/* The non-GREASE values of list, minus two excluded ones, sorted if asked. */
static int
ja4_filter(const uint16_t *list, int n, uint16_t *dst, bool sorted,
		   bool drop_sni_alpn)
{
	int			k = 0,
				i,
				j;

	for (i = 0; i < n; i++)
	{
		uint16_t	v = list[i];

		if (pgtls_tls_grease(v))
			continue;
		if (drop_sni_alpn && (v == EXT_SERVER_NAME || v == EXT_ALPN))
			continue;
		if (sorted)
		{
			/* insertion sort: lists are short */
			for (j = k; j > 0 && dst[j - 1] > v; j--)
				dst[j] = dst[j - 1];
			dst[j] = v;
		}
		else
			dst[k] = v;
		k++;
	}
	return k;
}

/* Append "hhhh,hhhh,..." of n values to buf at *pos. */
static void
ja4_append_hex(char *buf, size_t *pos, const uint16_t *v, int n)
{
	static const char hex[] = "0123456789abcdef";
	int			i;

	for (i = 0; i < n; i++)
	{
		char	   *p = buf + *pos;

		if (i > 0)
			*p++ = ',';
		p[0] = hex[(v[i] >> 12) & 0xf];
		p[1] = hex[(v[i] >> 8) & 0xf];
		p[2] = hex[(v[i] >> 4) & 0xf];
		p[3] = hex[v[i] & 0xf];
		*pos = (size_t) (p + 4 - buf);
	}
}

/*
 * SHA-256 for JA4, fetched once, and one digest context reused.  With
 * OpenSSL 3.0 the one-shot SHA256() fetches the implementation and makes a
 * context at every call, which was most of JA4's cost; the server prepares
 * both in _PG_init (pgtls_ja4_prepare), so that each new backend inherits
 * them.
 */
static EVP_MD *ja4_sha256 = NULL;
static EVP_MD_CTX *ja4_ctx = NULL;

void
pgtls_ja4_prepare(void)
{
	if (ja4_sha256 == NULL)
		ja4_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (ja4_ctx == NULL)
		ja4_ctx = EVP_MD_CTX_new();
}

/* The first 12 lowercase hex digits of SHA-256(text[0..n)) into out. */
static void
ja4_hash12(const char *text, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	int			i;

	pgtls_ja4_prepare();
	if (ja4_sha256 == NULL || ja4_ctx == NULL ||
		EVP_DigestInit_ex2(ja4_ctx, ja4_sha256, NULL) != 1 ||
		EVP_DigestUpdate(ja4_ctx, text, n) != 1 ||
		EVP_DigestFinal_ex(ja4_ctx, md, NULL) != 1)
		SHA256((const unsigned char *) text, n, md);
	for (i = 0; i < 6; i++)
	{
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
}

void
pgtls_ja4(const PgtlsClientHello *ch, char *buf)
{
	uint16_t	ciphers[PGTLS_CH_MAX_CIPHERS];
	uint16_t	exts[PGTLS_CH_MAX_EXTENSIONS];
	uint16_t	sigalgs[PGTLS_CH_MAX_SIGALGS];
	/* 5 bytes a value: "hhhh," plus the '_' */
	char		text[5 * (PGTLS_CH_MAX_CIPHERS + PGTLS_CH_MAX_EXTENSIONS +
						  PGTLS_CH_MAX_SIGALGS)];
	int			nciphers,
				nciphers_shown,
				next,
				nsig,
				ncounted,
				i;
	size_t		pos;
	char		alpn[2];

	nciphers = ja4_filter(ch->ciphers, ch->nciphers, ciphers, true, false);
	/* counted: every non-GREASE extension, SNI and ALPN included */
	ncounted = 0;
	for (i = 0; i < ch->nextensions; i++)
		if (!pgtls_tls_grease(ch->extensions[i]))
			ncounted++;
	next = ja4_filter(ch->extensions, ch->nextensions, exts, true, true);
	nsig = ja4_filter(ch->sigalgs, ch->nsigalgs, sigalgs, false, false);
	ja4_alpn(ch, alpn);

	if (nciphers > 99)
		nciphers_shown = 99;
	else
		nciphers_shown = nciphers;
	if (ncounted > 99)
		ncounted = 99;
	memcpy(buf, "t", 1);
	memcpy(buf + 1, ja4_version(ja4_highest_version(ch)), 2);
	buf[3] = ch->sni_extension ? 'd' : 'i';
	buf[4] = (char) ('0' + nciphers_shown / 10);
	buf[5] = (char) ('0' + nciphers_shown % 10);
	buf[6] = (char) ('0' + ncounted / 10);
	buf[7] = (char) ('0' + ncounted % 10);
	buf[8] = alpn[0];
	buf[9] = alpn[1];
	buf[10] = '_';

	if (nciphers == 0)
		memcpy(buf + 11, "000000000000", 12);
	else
	{
		pos = 0;
		ja4_append_hex(text, &pos, ciphers, nciphers);
		ja4_hash12(text, pos, buf + 11);
	}
	buf[23] = '_';

	if (next == 0)
		memcpy(buf + 24, "000000000000", 12);
	else
	{
		pos = 0;
		ja4_append_hex(text, &pos, exts, next);
		if (nsig > 0)
		{
			text[pos++] = '_';
			ja4_append_hex(text, &pos, sigalgs, nsig);
		}
		ja4_hash12(text, pos, buf + 24);
	}
	buf[PGTLS_JA4_LEN] = '\0';
}

const char *
pgtls_tls_version_name(uint16_t v, char *buf)
{
	switch (v)
	{
		case 0x0304:
			return "TLSv1.3";
		case 0x0303:
			return "TLSv1.2";
		case 0x0302:
			return "TLSv1.1";
		case 0x0301:
			return "TLSv1";
		case 0x0300:
			return "SSLv3";
	}
	snprintf(buf, 7, "0x%04X", (unsigned) v);
	return buf;
}
