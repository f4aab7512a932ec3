/*-------------------------------------------------------------------------
 *
 * x509.c
 *	  Small X.509 and text helpers shared by the audit record
 *	  (audit/record.c) and the certificate functions (certs/): ASN.1 times
 *	  as timestamps, names, fingerprints and serials as text, and text from
 *	  the wire or from a certificate made valid UTF-8.  Nothing here raises
 *	  an error, so the audit record may use it in an exit callback: what
 *	  is returned is allocated by the caller's PgtlsAllocator, which
 *	  returns NULL rather than raise, and OpenSSL's own memory is freed
 *	  before returning.
 *
 * src/common/x509.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/hashfn.h"
#include "common/x509.h"
#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/memutils.h"

/*
 * Convert an ASN1_TIME to a TimestampTz; false if it cannot be read or is
 * out of range. 
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

/*
 * Number of bytes pgtls_make_valid_utf8() writes for src[0..len), without
 * the terminating zero.
 */
size_t
pgtls_valid_utf8_size(const char *source, size_t len)
{
	const unsigned char *src = (const unsigned char *) source;
	size_t		out = 0;

	while (len > 0)
	{
		int			l;

		if (*src < 0x80 && *src != 0)
		{
			/* ASCII, most of what a connection sends: no call per byte */
			out++;
			src++;
			len--;
			continue;
		}
		l = pg_utf_mblen(src);
		if (*src == 0 || (size_t) l > len || !pg_utf8_islegal(src, l))
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
 * byte (possible in a server name from the wire) becomes U+FFFD too, so
 * the result is always one C string.
 */
void
pgtls_make_valid_utf8(char *dst, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *) src;

	while (len > 0)
	{
		int			l;

		if (*s < 0x80 && *s != 0)
		{
			/* a run of ASCII in one copy */
			size_t		run = 1;

			while (run < len && s[run] < 0x80 && s[run] != 0)
				run++;
			memcpy(dst, s, run);
			dst += run;
			s += run;
			len -= run;
			continue;
		}
		l = pg_utf_mblen(s);
		if (*s == 0 || (size_t) l > len || !pg_utf8_islegal(s, l))
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

/* Memory from the caller's allocator; NULL (and mem->failed) on failure. */
static void *
pgtls_alloc(PgtlsAllocator *mem, Size size)
{
	void	   *p = mem->alloc(mem->arg, size);

	if (p == NULL)
		mem->failed = true;
	return p;
}

/* An X.509 name in RFC 2253 form; see x509.h. */
char *
pgtls_x509_name_text(const X509_NAME *name, bool escape_non_ascii,
					 bool valid_utf8, size_t *len, PgtlsAllocator *mem)
{
	unsigned long flags = XN_FLAG_RFC2253;

	/*
	 * One memory BIO for every call, emptied before each (a new one for
	 * each name grew its buffer a few times per name); kept for the life
	 * of the process.
	 */
	static BIO *bio = NULL;
	BUF_MEM    *bm;
	char	   *result = NULL;

	if (name == NULL)
		return NULL;
	if (!escape_non_ascii)
		flags &= ~ASN1_STRFLGS_ESC_MSB;
	if (bio == NULL && (bio = BIO_new(BIO_s_mem())) == NULL)
	{
		mem->failed = true;
		return NULL;
	}
	(void) BIO_reset(bio);
	if (X509_NAME_print_ex(bio, name, 0, flags) >= 0)
	{
		size_t		n;

		BIO_get_mem_ptr(bio, &bm);
		n = valid_utf8 ? pgtls_valid_utf8_size(bm->data, bm->length) : bm->length;
		result = pgtls_alloc(mem, n + 1);
		if (result && valid_utf8)
			pgtls_make_valid_utf8(result, bm->data, bm->length);
		else if (result)
		{
			if (n > 0)
				memcpy(result, bm->data, n);
			result[n] = '\0';
		}
		if (result && len)
			*len = n;
	}
	/* a huge name's buffer is not kept (BIO_reset clears all of it) */
	BIO_get_mem_ptr(bio, &bm);
	if (bm->max > 65536)
	{
		BIO_free(bio);
		bio = NULL;
	}
	else
		(void) BIO_reset(bio);
	return result;
}

/*
 * The name cache (x509.h): the DER of a name and its text, both in
 * TopMemoryContext of the process that adds them (the postmaster, so that
 * every backend inherits them and reads them without a page fault: pages
 * the postmaster wrote are already mapped in a child).  A memo of a pure
 * function, so never stale: a reload that changes the CA file only makes
 * the new CAs' names miss.  Printing a name costs about 20,000
 * instructions; a lookup is a hash of its DER and a scan of at most
 * NAME_CACHE_MAX entries, comparing hashes.
 */
typedef struct NameCacheEntry
{
	uint32		hash;
	size_t		der_len;
	unsigned char *der;
	char	   *text;
} NameCacheEntry;

#define NAME_CACHE_MAX 1024

static NameCacheEntry *name_cache = NULL;
static int	name_cache_count = 0;
static int	name_cache_size = 0;

static void *
top_memory_alloc(void *arg, Size size)
{
	return MemoryContextAllocExtended(TopMemoryContext, size, MCXT_ALLOC_NO_OOM);
}

static const NameCacheEntry *
name_cache_find(const unsigned char *der, size_t len, uint32 hash)
{
	for (int i = 0; i < name_cache_count; i++)
	{
		const NameCacheEntry *e = &name_cache[i];

		if (e->hash == hash && e->der_len == len && memcmp(e->der, der, len) == 0)
			return e;
	}
	return NULL;
}

void
pgtls_x509_name_cache_add(const X509_NAME *name)
{
	const unsigned char *der;
	size_t		len;
	uint32		hash;
	PgtlsAllocator mem = {top_memory_alloc, NULL, false};
	NameCacheEntry e;

	if (name == NULL || X509_NAME_get0_der(name, &der, &len) != 1 ||
		len == 0 || len > MaxAllocSize)
		return;
	hash = hash_bytes(der, (int) len);
	if (name_cache_find(der, len, hash) != NULL || name_cache_count >= NAME_CACHE_MAX)
		return;
	if (name_cache_count == name_cache_size)
	{
		int			size = name_cache_size == 0 ? 16 : name_cache_size * 2;
		NameCacheEntry *grown = top_memory_alloc(NULL, size * sizeof(NameCacheEntry));

		if (grown == NULL)
			return;
		if (name_cache_count > 0)
		{
			memcpy(grown, name_cache, name_cache_count * sizeof(NameCacheEntry));
			pfree(name_cache);
		}
		name_cache = grown;
		name_cache_size = size;
	}
	e.hash = hash;
	e.der_len = len;
	e.text = pgtls_x509_name_text(name, false, true, NULL, &mem);
	e.der = top_memory_alloc(NULL, len);
	if (e.text == NULL || e.der == NULL)
	{
		if (e.text)
			pfree(e.text);
		if (e.der)
			pfree(e.der);
		return;
	}
	memcpy(e.der, der, len);
	name_cache[name_cache_count++] = e;
}

const char *
pgtls_x509_name_cache_lookup(const X509_NAME *name)
{
	const unsigned char *der;
	size_t		len;
	const NameCacheEntry *e;

	if (name_cache_count == 0 || name == NULL ||
		X509_NAME_get0_der(name, &der, &len) != 1 || len == 0 || len > MaxAllocSize)
		return NULL;
	e = name_cache_find(der, len, hash_bytes(der, (int) len));
	return e ? e->text : NULL;
}

/*
 * SHA-256, fetched once: with OpenSSL 3.0, EVP_sha256() makes X509_digest()
 * fetch the implementation at every call, and in the certificate's library
 * context, which may have none (certs/parse.c).  _PG_init fetches it in the
 * postmaster, so that each new backend inherits it.  NULL if it cannot.
 */
const EVP_MD *
pgtls_sha256_md(void)
{
	static EVP_MD *sha256 = NULL;

	if (sha256 == NULL)
		sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	return sha256;
}

/* SHA-256 of the DER certificate in lower-case hex; see x509.h. */
char *
pgtls_sha256_hex(const X509 *cert, PgtlsAllocator *mem)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const EVP_MD *sha256 = pgtls_sha256_md();
	char	   *hex;

	if (sha256 == NULL)
		return NULL;
	if (X509_digest(cert, sha256, md, &mdlen) != 1)
		return NULL;
	hex = pgtls_alloc(mem, mdlen * 2 + 1);
	if (hex == NULL)
		return NULL;
	for (unsigned int i = 0; i < mdlen; i++)
	{
		hex[i * 2] = digits[md[i] >> 4];
		hex[i * 2 + 1] = digits[md[i] & 0x0f];
	}
	hex[mdlen * 2] = '\0';
	return hex;
}

/* An ASN.1 INTEGER in decimal or upper-case hex (BN_bn2dec, BN_bn2hex). */
char *
pgtls_asn1_integer_text(const ASN1_INTEGER *ai, bool hex, PgtlsAllocator *mem)
{
	BIGNUM	   *bn;
	char	   *text;
	char	   *result = NULL;

	if (ai == NULL || (bn = ASN1_INTEGER_to_BN(ai, NULL)) == NULL)
		return NULL;
	text = hex ? BN_bn2hex(bn) : BN_bn2dec(bn);
	if (text == NULL)
		mem->failed = true;
	else
	{
		size_t		n = strlen(text);

		result = pgtls_alloc(mem, n + 1);
		if (result)
			memcpy(result, text, n + 1);
	}
	OPENSSL_free(text);
	BN_free(bn);
	return result;
}
