/*-------------------------------------------------------------------------
 *
 * x509.c
 *	  Small X.509 and text helpers shared by the audit record
 *	  (audit/record.c) and the certificate functions (certs/): ASN.1 times
 *	  as timestamps, and text from the wire or from a certificate made
 *	  valid UTF-8.  Nothing here raises an error or allocates, so the
 *	  audit record may use it in an exit callback.
 *
 * src/common/x509.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/asn1.h>

#include "common/x509.h"
#include "mb/pg_wchar.h"
#include "utils/datetime.h"

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
pgtls_make_valid_utf8(char *dst, const char *src, size_t len)
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
