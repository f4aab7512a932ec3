/*-------------------------------------------------------------------------
 *
 * x509.h
 *	  Small X.509 and text helpers shared by the audit record and the
 *	  certificate functions (common/x509.c).
 *
 * src/common/x509.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_COMMON_X509_H
#define PGTLS_COMMON_X509_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* an OpenSSL ASN1_TIME, without including OpenSSL headers here */
struct asn1_string_st;
extern bool asn1_time_to_timestamptz(const struct asn1_string_st *t,
									 TimestampTz *result);

/*
 * Text from the wire made valid UTF-8: pgtls_valid_utf8_size() is the
 * length pgtls_make_valid_utf8() writes (without the final zero), each byte
 * that is not part of a valid UTF-8 sequence becoming U+FFFD.
 */
extern size_t pgtls_valid_utf8_size(const char *src, size_t len);
extern void pgtls_make_valid_utf8(char *dst, const char *src, size_t len);

#endif							/* PGTLS_COMMON_X509_H */
