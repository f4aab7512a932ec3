/*-------------------------------------------------------------------------
 *
 * certs.h
 *	  Certificates, CRLs and the server key from SQL (certs/certificates.c).
 *
 * src/certs/certs.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CERTS_CERTS_H
#define PGTLS_CERTS_CERTS_H

#include "postgres.h"

extern void certificates_define_settings(void);
/* SSL_CTX as void *: callers need not include OpenSSL headers */
extern void certificates_tls_init(void *ssl_context);

#endif							/* PGTLS_CERTS_CERTS_H */
