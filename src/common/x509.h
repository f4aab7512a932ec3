/*-------------------------------------------------------------------------
 *
 * x509.h
 *	  Small X.509 and text helpers shared by the audit record and the
 *	  certificate functions (common/x509.c).  None of them raises.
 *
 * src/common/x509.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_COMMON_X509_H
#define PGTLS_COMMON_X509_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* OpenSSL's ASN1_TIME, ASN1_INTEGER, X509_NAME and X509, without its headers */
struct asn1_string_st;
struct X509_name_st;
struct x509_st;

extern bool asn1_time_to_timestamptz(const struct asn1_string_st *t,
									 TimestampTz *result);

/*
 * Where the helpers below put what they return.  alloc(arg, size) returns
 * NULL on failure and never raises: the audit record captures in an exit
 * callback (audit/record.c), and an ERROR here would leak OpenSSL's memory.
 * failed is set when memory ran out, in alloc or in OpenSSL; a value that
 * OpenSSL cannot produce for another reason is NULL without it.
 */
typedef struct PgtlsAllocator
{
	void	   *(*alloc) (void *arg, Size size);
	void	   *arg;
	bool		failed;
} PgtlsAllocator;

/*
 * An X.509 name in RFC 2253 form, as the server prints peer_dn: UTF-8 kept
 * as is, or with escape_non_ascii each non-ASCII byte as \XX (RFC 4514).
 * With valid_utf8, bytes that are not valid UTF-8 become U+FFFD; without,
 * the text is OpenSSL's as is.  NULL for a NULL name.  *len (if len is not
 * NULL) gets the length without the final zero.
 */
extern char *pgtls_x509_name_text(const struct X509_name_st *name,
								  bool escape_non_ascii, bool valid_utf8,
								  size_t *len, PgtlsAllocator *mem);
/*
 * The printed names of the server's CA certificates (the usual issuers of
 * client certificates), made in the postmaster and inherited by every
 * backend: pgtls_x509_name_cache_add() prints a name and keeps it (never
 * raises; a name that does not fit or cannot be printed is not kept);
 * pgtls_x509_name_cache_lookup() returns what pgtls_x509_name_text(name,
 * false, true, ...) would print, or NULL if the name is not kept.
 */
extern void pgtls_x509_name_cache_add(const struct X509_name_st *name);
extern const char *pgtls_x509_name_cache_lookup(const struct X509_name_st *name);
/* SHA-256, fetched once per process (NULL if OpenSSL has none) */
extern const struct evp_md_st *pgtls_sha256_md(void);
/* The SHA-256 fingerprint of the DER certificate in lower-case hex */
extern char *pgtls_sha256_hex(const struct x509_st *cert, PgtlsAllocator *mem);
/* An ASN.1 INTEGER (a serial, a CRL number) in decimal or upper-case hex */
extern char *pgtls_asn1_integer_text(const struct asn1_string_st *ai,
									 bool hex, PgtlsAllocator *mem);

/*
 * Text from the wire made valid UTF-8: pgtls_valid_utf8_size() is the
 * length pgtls_make_valid_utf8() writes (without the final zero), each byte
 * that is not part of a valid UTF-8 sequence becoming U+FFFD.
 */
extern size_t pgtls_valid_utf8_size(const char *src, size_t len);
extern void pgtls_make_valid_utf8(char *dst, const char *src, size_t len);

#endif							/* PGTLS_COMMON_X509_H */
