/*-------------------------------------------------------------------------
 *
 * hello_unit.c
 *	  Unit tests of src/audit/client_hello.c, compiled outside the server,
 *	  TAP output ("ok N - ..." / "not ok N - ...").
 *
 *	  hello_unit [SEED...]
 *
 * ClientHello messages are built here byte by byte: the JA4 specification's
 * own example (technical_details/JA4.md of FoxIO-LLC/ja4, whose published
 * fingerprint and hashes are asserted), its ALPN rules, GREASE, counted
 * truncation of every list, and malformed messages.  Each SEED (a real
 * ClientHello) must parse, and every shorter prefix of it, and every copy
 * with its message length field changed, must be refused with the output
 * left all zero.
 *
 * test/client_hello/hello_unit.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/client_hello.h"

static int	ntest = 0;
static int	nfail = 0;

static void
ok(int cond, const char *fmt, const char *detail)
{
	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - %s", cond ? "" : "not ", ntest, fmt);
	if (detail)
		printf(" (%s)", detail);
	printf("\n");
}

static void
is_str(const char *got, const char *want, const char *name)
{
	char		detail[512];

	snprintf(detail, sizeof(detail), "got %s, want %s", got, want);
	ok(strcmp(got, want) == 0, name, strcmp(got, want) == 0 ? NULL : detail);
}

static void
is_int(long got, long want, const char *name)
{
	char		detail[128];

	snprintf(detail, sizeof(detail), "got %ld, want %ld", got, want);
	ok(got == want, name, got == want ? NULL : detail);
}

/* ---- a message builder */

typedef struct Buf
{
	uint8_t		b[70000];
	size_t		n;
} Buf;

static void
put8(Buf *b, unsigned v)
{
	b->b[b->n++] = (uint8_t) v;
}

static void
put16(Buf *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v & 0xff);
}

static void
putn(Buf *b, const void *p, size_t n)
{
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void
put_buf(Buf *b, const Buf *x)
{
	putn(b, x->b, x->n);
}

/* One extension: type, length, content. */
static void
put_ext(Buf *exts, unsigned type, const Buf *content)
{
	put16(exts, type);
	put16(exts, (unsigned) content->n);
	put_buf(exts, content);
}

/* A vector of 16-bit values with a 2-byte (or 1-byte) length. */
static void
put_u16_vec(Buf *b, const unsigned *v, int n, int lenbytes)
{
	int			i;

	if (lenbytes == 1)
		put8(b, (unsigned) (2 * n));
	else
		put16(b, (unsigned) (2 * n));
	for (i = 0; i < n; i++)
		put16(b, v[i]);
}

static void
ext_u16_list(Buf *exts, unsigned type, const unsigned *v, int n, int lenbytes)
{
	Buf		   *c = calloc(1, sizeof(Buf));

	put_u16_vec(c, v, n, lenbytes);
	put_ext(exts, type, c);
	free(c);
}

static void
ext_sni(Buf *exts, const char *name, size_t len)
{
	Buf		   *c = calloc(1, sizeof(Buf));

	put16(c, (unsigned) (len + 3));
	put8(c, 0);
	put16(c, (unsigned) len);
	putn(c, name, len);
	put_ext(exts, 0, c);
	free(c);
}

/* ALPN from values given as (length, bytes) pairs */
static void
ext_alpn(Buf *exts, int nvals, const size_t *lens, const char *const *vals)
{
	Buf		   *c = calloc(1, sizeof(Buf));
	size_t		total = 0;
	int			i;

	for (i = 0; i < nvals; i++)
		total += 1 + lens[i];
	put16(c, (unsigned) total);
	for (i = 0; i < nvals; i++)
	{
		put8(c, (unsigned) lens[i]);
		putn(c, vals[i], lens[i]);
	}
	put_ext(exts, 16, c);
	free(c);
}

static void
ext_empty(Buf *exts, unsigned type)
{
	Buf		   *c = calloc(1, sizeof(Buf));

	put_ext(exts, type, c);
	free(c);
}

/*
 * The handshake message: legacy_version, random, a 32-byte session id, the
 * cipher list, null compression, then the extension block unless exts is
 * NULL.
 */
static void
hello(Buf *msg, unsigned legacy, const unsigned *ciphers, int nciphers,
	  const Buf *exts)
{
	Buf		   *body = calloc(1, sizeof(Buf));
	uint8_t		random[32];

	memset(random, 0x5a, sizeof(random));
	put16(body, legacy);
	putn(body, random, 32);
	put8(body, 32);
	putn(body, random, 32);
	put_u16_vec(body, ciphers, nciphers, 2);
	put8(body, 1);
	put8(body, 0);
	if (exts)
	{
		put16(body, (unsigned) exts->n);
		put_buf(body, exts);
	}
	msg->n = 0;
	put8(msg, 1);
	put8(msg, (unsigned) (body->n >> 16));
	put16(msg, (unsigned) (body->n & 0xffff));
	put_buf(msg, body);
	free(body);
}

static Buf	exts_buf,
			msg_buf;
static PgtlsClientHello ch;

static const char *
ja4_of(const Buf *msg)
{
	static char ja4[PGTLS_JA4_LEN + 1];

	if (!pgtls_parse_client_hello(msg->b, msg->n, &ch))
		return "invalid";
	pgtls_ja4(&ch, ja4);
	return ja4;
}

/* ---- the specification's example */

static const unsigned spec_ciphers[] = {
	0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9,
	0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035
};
static const unsigned spec_sigalgs[] = {
	0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601
};

/* The 16 extensions of JA4.md's example in its order, plus two GREASE. */
static void
spec_extensions(Buf *exts, int with_sigalgs)
{
	static const unsigned order[] = {
		0x1a1a, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d,
		0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a,
		0x0015, 0xfafa
	};
	static const unsigned versions[] = {0x3a3a, 0x0304, 0x0303};
	static const unsigned groups[] = {0x2a2a, 0x001d, 0x0017};
	size_t		lens[] = {2, 8};
	const char *vals[] = {"h2", "http/1.1"};
	size_t		i;

	exts->n = 0;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
	{
		unsigned	t = order[i];

		if (t == 0x0000)
			ext_sni(exts, "example.com", 11);
		else if (t == 0x0010)
			ext_alpn(exts, 2, lens, vals);
		else if (t == 0x000d)
			ext_u16_list(exts, t, spec_sigalgs, with_sigalgs ? 8 : 0, 2);
		else if (t == 0x002b)
			ext_u16_list(exts, t, versions, 3, 1);
		else if (t == 0x000a)
			ext_u16_list(exts, t, groups, 3, 2);
		else if (t == 0x0033)
		{
			Buf		   *c = calloc(1, sizeof(Buf));

			put16(c, 2 + 2 + 1 + 2 + 2 + 32);
			put16(c, 0x2a2a);	/* a GREASE share */
			put16(c, 1);
			put8(c, 0);
			put16(c, 0x001d);
			put16(c, 32);
			memset(c->b + c->n, 7, 32);
			c->n += 32;
			put_ext(exts, t, c);
			free(c);
		}
		else
			ext_empty(exts, t);
	}
}

static void
test_spec_example(void)
{
	spec_extensions(&exts_buf, 1);
	hello(&msg_buf, 0x0303, spec_ciphers, 16, &exts_buf);
	is_str(ja4_of(&msg_buf), "t13d1516h2_8daaf6152771_e5627efa2ab1",
		   "JA4.md example: published fingerprint (GREASE cipher, extensions, version ignored)");
	is_int(ch.nciphers, 16, "example: GREASE cipher kept in the list");
	is_int(ch.nextensions, 18, "example: GREASE extensions kept in the list");
	is_int(ch.nversions, 3, "example: supported_versions, GREASE kept");
	is_int(ch.nkeyshares, 2, "example: two key shares");
	is_int(ch.keyshares[1], 0x001d, "example: second key share is x25519");
	is_int(ch.nalpn, 2, "example: two ALPN values");
	is_str(ch.alpn[1], "http/1.1", "example: second ALPN value");
	is_str(ch.sni, "example.com", "example: SNI host_name");
	ok(ch.has_sni && ch.sni_extension && !ch.truncated && ch.dropped == 0,
	   "example: SNI flags set, nothing truncated", NULL);

	/* a GREASE signature algorithm is ignored too */
	{
		static const unsigned sig_grease[] = {
			0x0a0a, 0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601
		};
		Buf		   *e = calloc(1, sizeof(Buf));
		size_t		i;

		/* replace the signature_algorithms extension */
		spec_extensions(&exts_buf, 1);
		for (i = 0; i + 4 <= exts_buf.n;)
		{
			unsigned	t = (exts_buf.b[i] << 8) | exts_buf.b[i + 1];
			unsigned	l = (exts_buf.b[i + 2] << 8) | exts_buf.b[i + 3];

			if (t == 0x000d)
				ext_u16_list(e, t, sig_grease, 9, 2);
			else
				putn(e, exts_buf.b + i, 4 + l);
			i += 4 + l;
		}
		hello(&msg_buf, 0x0303, spec_ciphers, 16, e);
		is_str(ja4_of(&msg_buf), "t13d1516h2_8daaf6152771_e5627efa2ab1",
			   "GREASE signature algorithm ignored");
		free(e);
	}

	/* signature_algorithms present but empty: no '_' (JA4.md: 6d807ffa2a79) */
	spec_extensions(&exts_buf, 0);
	hello(&msg_buf, 0x0303, spec_ciphers, 16, &exts_buf);
	is_str(ja4_of(&msg_buf) + 24, "6d807ffa2a79",
		   "JA4.md: extension hash without signature algorithms");
}

/* ---- ALPN characters */

static void
test_alpn(void)
{
	static const struct
	{
		const char *bytes;
		size_t		len;
		const char *want;
	}			cases[] = {
		{"h2", 2, "h2"},
		{"http/1.1", 8, "h1"},
		{"x", 1, "xx"},
		{"postgresql", 10, "pl"},
		{"\xab", 1, "ab"},
		{"\x20", 1, "20"},
		{"\xab\xcd", 2, "ad"},
		{"\x20\x61", 2, "21"},
		{"\x30\xab", 2, "3b"},
		{"\x61\x20", 2, "60"},
		{"\x30\x31\xab\xcd", 4, "3d"},
		{"\x30\xab\xcd\x31", 4, "01"},
		{"", 0, "00"},
	};
	static const unsigned ciphers[] = {0x1301};
	size_t		i;
	char		name[128];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		const char *vals[2] = {cases[i].bytes, "h2"};
		size_t		lens[2] = {cases[i].len, 2};
		char		got[3];

		exts_buf.n = 0;
		ext_alpn(&exts_buf, 2, lens, vals);
		hello(&msg_buf, 0x0303, ciphers, 1, &exts_buf);
		memcpy(got, ja4_of(&msg_buf) + 8, 2);
		got[2] = '\0';
		snprintf(name, sizeof(name), "ALPN characters of case %zu (JA4.md)", i + 1);
		is_str(got, cases[i].want, name);
	}
	/* no ALPN extension at all */
	exts_buf.n = 0;
	ext_empty(&exts_buf, 0x0017);
	hello(&msg_buf, 0x0303, ciphers, 1, &exts_buf);
	is_str(ja4_of(&msg_buf), "t12i010100_0f2cb44170f4_1ca028f07214",
		   "no ALPN extension: 00; hashes of \"1301\" and \"0017\" (sha256sum)");
}

/* ---- versions, GREASE, names */

static void
test_versions(void)
{
	static const unsigned c1[] = {0x002f};
	static const unsigned only_grease[] = {0x4a4a};
	static const unsigned unknown[] = {0x7f17};
	static const unsigned tls12_11[] = {0x0302, 0x0303};
	static const unsigned g[16] = {
		0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a,
		0x8a8a, 0x9a9a, 0xaaaa, 0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa
	};
	char		buf[8];
	int			i,
				all = 1;

	for (i = 0; i < 16; i++)
		all &= pgtls_tls_grease((uint16_t) g[i]);
	ok(all, "the 16 GREASE values of RFC 8701 are GREASE", NULL);
	ok(!pgtls_tls_grease(0x0a0b) && !pgtls_tls_grease(0x1a0a) &&
	   !pgtls_tls_grease(0x0000) && !pgtls_tls_grease(0xaaab) &&
	   !pgtls_tls_grease(0x0b0b), "near-GREASE values are not", NULL);

	is_str(pgtls_tls_version_name(0x0304, buf), "TLSv1.3", "name of 0x0304");
	is_str(pgtls_tls_version_name(0x0303, buf), "TLSv1.2", "name of 0x0303");
	is_str(pgtls_tls_version_name(0x0302, buf), "TLSv1.1", "name of 0x0302");
	is_str(pgtls_tls_version_name(0x0301, buf), "TLSv1", "name of 0x0301");
	is_str(pgtls_tls_version_name(0x0300, buf), "SSLv3", "name of 0x0300");
	is_str(pgtls_tls_version_name(0x7f1c, buf), "0x7F1C", "name of a draft version");
	is_str(pgtls_tls_version_name(0x0a0a, buf), "0x0A0A", "name of GREASE");

	/* no extension block at all (TLS 1.0-1.2 form) */
	hello(&msg_buf, 0x0301, c1, 1, NULL);
	is_str(ja4_of(&msg_buf), "t10i010000_ba72b8082249_000000000000",
		   "hello without extensions: legacy version, empty extension hash");
	ok(ch.valid && ch.nextensions == 0, "hello without extensions is valid", NULL);

	hello(&msg_buf, 0x0300, c1, 1, NULL);
	is_str(ja4_of(&msg_buf), "ts3i010000_ba72b8082249_000000000000", "SSLv3 legacy version: s3");
	hello(&msg_buf, 0x0200, c1, 1, NULL);
	is_str(ja4_of(&msg_buf), "t00i010000_ba72b8082249_000000000000", "unknown legacy version: 00");

	exts_buf.n = 0;
	ext_u16_list(&exts_buf, 43, only_grease, 1, 1);
	hello(&msg_buf, 0x0302, c1, 1, &exts_buf);
	is_str(ja4_of(&msg_buf), "t11i010100_ba72b8082249_b9a491fefe05",
		   "supported_versions of GREASE only: legacy version");
	exts_buf.n = 0;
	ext_u16_list(&exts_buf, 43, unknown, 1, 1);
	hello(&msg_buf, 0x0303, c1, 1, &exts_buf);
	is_str(ja4_of(&msg_buf), "t00i010100_ba72b8082249_b9a491fefe05",
		   "supported_versions of an unknown version: 00");
	exts_buf.n = 0;
	ext_u16_list(&exts_buf, 43, tls12_11, 2, 1);
	hello(&msg_buf, 0x0301, c1, 1, &exts_buf);
	is_str(ja4_of(&msg_buf), "t12i010100_ba72b8082249_b9a491fefe05",
		   "supported_versions: the highest, not the first");

	/* only a GREASE cipher; only SNI and ALPN as extensions */
	{
		const char *vals[1] = {"h2"};
		size_t		lens[1] = {2};

		exts_buf.n = 0;
		ext_sni(&exts_buf, "a.example", 9);
		ext_alpn(&exts_buf, 1, lens, vals);
		hello(&msg_buf, 0x0303, only_grease, 1, &exts_buf);
		is_str(ja4_of(&msg_buf), "t12d0002h2_000000000000_000000000000",
			   "no cipher but GREASE, only SNI and ALPN: empty hashes, counts 00 and 02");
	}
}

/* ---- malformed messages */

static int
refused(const uint8_t *p, size_t n)
{
	static const PgtlsClientHello zero;

	memset(&ch, 0x55, sizeof(ch));
	return !pgtls_parse_client_hello(p, n, &ch) &&
		memcmp(&ch, &zero, sizeof(ch)) == 0;
}

/* ---- truncation */

static void
test_truncation(void)
{
	static unsigned many[300];
	char		longname[400];
	char		ja4[PGTLS_JA4_LEN + 1];
	int			i;

	for (i = 0; i < 300; i++)
		many[i] = 0x0100 + (unsigned) i;

	hello(&msg_buf, 0x0303, many, 100, NULL);
	memcpy(ja4, ja4_of(&msg_buf) + 4, 4);
	ja4[4] = '\0';
	is_str(ja4, "9900", "100 ciphers: count capped at 99");
	ok(!ch.truncated && ch.nciphers == 100, "100 ciphers fit", NULL);

	hello(&msg_buf, 0x0303, many, 200, NULL);
	ok(pgtls_parse_client_hello(msg_buf.b, msg_buf.n, &ch) && ch.truncated &&
	   ch.nciphers == PGTLS_CH_MAX_CIPHERS && ch.dropped == 200 - PGTLS_CH_MAX_CIPHERS &&
	   ch.ciphers[127] == 0x0100 + 127, "200 ciphers: 128 kept in order, 72 dropped and counted", NULL);

	exts_buf.n = 0;
	for (i = 0; i < 70; i++)
		ext_empty(&exts_buf, 0x1000 + (unsigned) i);
	hello(&msg_buf, 0x0303, many, 1, &exts_buf);
	ok(pgtls_parse_client_hello(msg_buf.b, msg_buf.n, &ch) && ch.truncated &&
	   ch.nextensions == PGTLS_CH_MAX_EXTENSIONS && ch.dropped == 6,
	   "70 extensions: 64 kept, 6 dropped", NULL);

	exts_buf.n = 0;
	ext_u16_list(&exts_buf, 10, many, 40, 2);
	ext_u16_list(&exts_buf, 13, many, 70, 2);
	ext_u16_list(&exts_buf, 43, many, 20, 1);
	ok(refused(msg_buf.b, 0), "empty input refused", NULL);
	hello(&msg_buf, 0x0303, many, 1, &exts_buf);
	ok(pgtls_parse_client_hello(msg_buf.b, msg_buf.n, &ch) && ch.truncated &&
	   ch.ngroups == PGTLS_CH_MAX_GROUPS && ch.nsigalgs == PGTLS_CH_MAX_SIGALGS &&
	   ch.nversions == PGTLS_CH_MAX_VERSIONS && ch.dropped == 8 + 6 + 4,
	   "groups, sigalgs, versions over their bounds: kept and dropped counted", NULL);

	/* SNI of 300 bytes; 10 ALPN values, the first 40 bytes long */
	memset(longname, 'a', sizeof(longname));
	longname[299] = 'z';
	{
		const char *vals[10];
		size_t		lens[10];
		char		first[40];

		memset(first, 'q', 40);
		first[39] = '9';
		for (i = 0; i < 10; i++)
		{
			vals[i] = "h2";
			lens[i] = 2;
		}
		vals[0] = first;
		lens[0] = 40;
		exts_buf.n = 0;
		ext_sni(&exts_buf, longname, 300);
		ext_alpn(&exts_buf, 10, lens, vals);
		hello(&msg_buf, 0x0303, many, 1, &exts_buf);
		ok(pgtls_parse_client_hello(msg_buf.b, msg_buf.n, &ch) && ch.truncated &&
		   ch.sni_len == PGTLS_CH_SNI_LEN && strlen(ch.sni) == PGTLS_CH_SNI_LEN &&
		   ch.nalpn == PGTLS_CH_MAX_ALPN && ch.alpn_len[0] == PGTLS_CH_ALPN_LEN &&
		   strlen(ch.alpn[0]) == PGTLS_CH_ALPN_LEN && ch.dropped == 1 + 1 + 2,
		   "SNI of 300 and ALPN value of 40 bytes cut (one drop each), 2 of 10 ALPN values dropped", NULL);
		pgtls_ja4(&ch, ja4);
		ja4[10] = '\0';
		is_str(ja4 + 8, "q9", "ALPN characters of a value longer than kept: its real last byte");
	}

	/* an SNI holding a NUL byte is kept whole, its length says so */
	exts_buf.n = 0;
	ext_sni(&exts_buf, "ab\0cd", 5);
	hello(&msg_buf, 0x0303, many, 1, &exts_buf);
	ok(pgtls_parse_client_hello(msg_buf.b, msg_buf.n, &ch) && ch.sni_len == 5 &&
	   memcmp(ch.sni, "ab\0cd", 6) == 0, "SNI with a NUL byte: all 5 bytes kept", NULL);
}

static void
test_malformed(void)
{
	static const unsigned c2[] = {0x1301, 0x1302};
	static const unsigned g2[] = {0x001d, 0x0017};
	Buf		   *m = calloc(1, sizeof(Buf));

	exts_buf.n = 0;
	ext_u16_list(&exts_buf, 10, g2, 2, 2);
	hello(&msg_buf, 0x0303, c2, 2, &exts_buf);
	ok(pgtls_parse_client_hello(msg_buf.b, msg_buf.n, &ch) && ch.ngroups == 2,
	   "base message of the malformed cases parses", NULL);
	ok(refused(NULL, 10), "NULL input refused", NULL);

	*m = msg_buf;
	m->b[0] = 2;
	ok(refused(m->b, m->n), "handshake type 2 (ServerHello) refused", NULL);

	*m = msg_buf;
	m->b[3] += 1;
	ok(refused(m->b, m->n), "message length one past the input refused", NULL);

	*m = msg_buf;
	m->b[3] -= 1;
	ok(refused(m->b, m->n), "message length one short (extension block cut) refused", NULL);

	*m = msg_buf;
	m->b[4 + 2 + 32] = 33;
	ok(refused(m->b, m->n), "session id of 33 bytes refused", NULL);

	*m = msg_buf;
	m->b[4 + 2 + 32 + 1 + 32 + 1] = 3;	/* cipher list length 3 */
	ok(refused(m->b, m->n), "odd cipher list length refused", NULL);

	*m = msg_buf;
	m->b[4 + 2 + 32 + 1 + 32 + 1] = 0;	/* cipher list length 0 */
	ok(refused(m->b, m->n), "empty cipher list refused", NULL);

	/* extra byte inside the body after the extensions */
	{
		Buf		   *e = calloc(1, sizeof(Buf));

		*e = exts_buf;
		hello(m, 0x0303, c2, 2, e);
		m->b[m->n++] = 0;
		m->b[3] += 1;
		ok(refused(m->b, m->n), "byte after the extension block refused", NULL);

		/* inner list length disagreeing with the extension length */
		*e = exts_buf;
		e->b[5] = 2;
		hello(m, 0x0303, c2, 2, e);
		ok(refused(m->b, m->n), "supported_groups list shorter than its extension refused", NULL);
		free(e);
	}

	/* bytes after the message are not part of it */
	*m = msg_buf;
	m->b[m->n++] = 0xff;
	ok(pgtls_parse_client_hello(m->b, m->n, &ch) && ch.ngroups == 2,
	   "bytes after a complete message ignored", NULL);

	/* a repeated extension: both counted, first content kept */
	{
		static const unsigned g1[] = {0x0018};

		exts_buf.n = 0;
		ext_u16_list(&exts_buf, 10, g2, 2, 2);
		ext_u16_list(&exts_buf, 10, g1, 1, 2);
		hello(m, 0x0303, c2, 2, &exts_buf);
		ok(pgtls_parse_client_hello(m->b, m->n, &ch) && ch.nextensions == 2 &&
		   ch.ngroups == 2 && ch.groups[1] == 0x0017,
		   "repeated supported_groups: both in the extension list, first content kept", NULL);
	}
	free(m);
}

/* ---- real ClientHello seeds: every prefix and every length change refused */

static void
test_seed(const char *path)
{
	static uint8_t data[1 << 20];
	static uint8_t copy[1 << 20];
	FILE	   *f = fopen(path, "rb");
	size_t		n,
				k;
	int			all = 1;
	char		name[600];

	if (f == NULL)
	{
		ok(0, path, "cannot open");
		return;
	}
	n = fread(data, 1, sizeof(data), f);
	fclose(f);
	snprintf(name, sizeof(name), "%s parses", path);
	ok(pgtls_parse_client_hello(data, n, &ch), name, NULL);
	for (k = 0; k < n; k++)
		all &= refused(data, k);
	snprintf(name, sizeof(name), "%s: each of its %zu shorter prefixes refused", path, n);
	ok(all, name, NULL);

	/* the message length field off by -3..+3 (not 0): refused */
	all = 1;
	for (k = 1; k <= 3; k++)
	{
		size_t		len = n - 4;
		size_t		l2 = len + k,
					l3 = len - k;

		memcpy(copy, data, n);
		copy[1] = (uint8_t) (l2 >> 16);
		copy[2] = (uint8_t) (l2 >> 8);
		copy[3] = (uint8_t) l2;
		memset(copy + n, 0, k);
		all &= refused(copy, n + k);	/* longer: trailing zero bytes inside */
		copy[1] = (uint8_t) (l3 >> 16);
		copy[2] = (uint8_t) (l3 >> 8);
		copy[3] = (uint8_t) l3;
		all &= refused(copy, n);
	}
	snprintf(name, sizeof(name), "%s: message length changed by 1 to 3 either way refused", path);
	ok(all, name, NULL);
}

int
main(int argc, char **argv)
{
	int			i;

	test_spec_example();
	test_alpn();
	test_versions();
	test_truncation();
	test_malformed();
	for (i = 1; i < argc; i++)
		test_seed(argv[i]);
	printf("1..%d\n", ntest);
	return nfail == 0 ? 0 : 1;
}
