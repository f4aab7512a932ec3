/*-------------------------------------------------------------------------
 *
 * parse.h
 *	  Certificates and CRLs from PEM and DER bytes (certs/parse.c).
 *
 * src/certs/parse.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CERTS_PARSE_H
#define PGTLS_CERTS_PARSE_H

#include "postgres.h"

#include <openssl/x509.h>

#include "lib/stringinfo.h"

/*
 * What parse_pem or parse_der found.  The OpenSSL objects are not memory
 * PostgreSQL frees: what parse_result_init set up is released by
 * parse_result_free (the callers do so in a PG_FINALLY).
 */
typedef struct ParseResult
{
	STACK_OF(X509) *certs;
	STACK_OF(X509_CRL) *crls;
	int			objects;		/* PEM objects read */
	int			keys;			/* private keys seen (wiped, never decoded) */
	StringInfoData others;		/* labels of other objects, for messages */
	char	   *error;			/* NULL: fine */
	int			errcode;

	/*
	 * Set by the caller after parse_result_init: certificates may be
	 * decoded without their public key (certificate_info; see parse.c,
	 * "Certificates decoded without their public key").  Their rows are
	 * the same; X509_get0_pubkey() is NULL for them.
	 */
	bool		keyless;
} ParseResult;

extern void parse_result_init(ParseResult *res);
extern void parse_result_free(ParseResult *res);
extern void parse_pem(const char *buf, size_t len, ParseResult *res,
					  bool stop_at_key);
extern void parse_der(const unsigned char *buf, size_t len, ParseResult *res);
extern bool only_whitespace(const char *s, size_t len);
extern void report_input_problem(ParseResult *res, bool is_crl, int found);
extern X509 *read_first_certificate_file(const char *path);

/*
 * For a certificate decoded without its public key (ParseResult.keyless),
 * true with the key's type ("RSA" or "EC") and size as EVP_PKEY_bits()
 * gives them; false for any other certificate (use X509_get0_pubkey).
 */
extern bool cert_key_summary(X509 *cert, const char **type, int *bits);
/* The certificate decoded again with its public key (X509_free it), or NULL */
extern X509 *cert_decode_with_key(X509 *cert);

#endif							/* PGTLS_CERTS_PARSE_H */
