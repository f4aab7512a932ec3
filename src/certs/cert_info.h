/*-------------------------------------------------------------------------
 *
 * cert_info.h
 *	  Certificates and CRLs as row values, shared by the SQL functions on
 *	  user input and on the configured files (certs/cert_info.c).
 *
 * src/certs/cert_info.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CERTS_CERT_INFO_H
#define PGTLS_CERTS_CERT_INFO_H

#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "datatype/timestamp.h"

/*
 * The certificate columns shared by certificate_info() and the
 * server_certificates view, from position to sha256_fingerprint.
 */
#define CERT_NCOLS 15

extern void cert_values(X509 *cert, int position, TimestampTz now,
						Datum *values, bool *nulls);

/* The CRL columns shared by crl_info() and the crls view. */
#define CRL_NCOLS 9

extern void crl_values(X509_CRL *crl, int position, TimestampTz now,
					   Datum *values, bool *nulls);

/* SHA-256 of the DER certificate in lower-case hex (palloc'd), or NULL */
extern char *cert_fingerprint(X509 *cert);
/* "RSA", "EC", "Ed25519" and the like */
extern const char *key_type_name(EVP_PKEY *pkey);

/* pgtls_audit.expiry_warning_days (defined from _PG_init) */
extern void certificates_define_settings(void);

#endif							/* PGTLS_CERTS_CERT_INFO_H */
