/*-------------------------------------------------------------------------
 *
 * certs.h
 *	  What the rest of the module calls in certs/: the setting defined in
 *	  certs/cert_info.c and the SSL context tracking of
 *	  certs/server_files.c.  Within certs/, each file has its own header.
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
