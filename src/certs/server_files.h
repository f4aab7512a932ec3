/*-------------------------------------------------------------------------
 *
 * server_files.h
 *	  The server's own certificate files and CRLs from SQL, and the TLS
 *	  contexts the postmaster made, to tell which certificate is served
 *	  (certs/server_files.c).
 *
 * src/certs/server_files.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CERTS_SERVER_FILES_H
#define PGTLS_CERTS_SERVER_FILES_H

#include "postgres.h"

/* SSL_CTX as void *: callers need not include OpenSSL headers */
extern void certificates_tls_init(void *ssl_context);
/* in _PG_init: the printed names of the server's CAs, made at start */
extern void certificates_install_hooks(void);

#endif							/* PGTLS_CERTS_SERVER_FILES_H */
