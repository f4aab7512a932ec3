/*-------------------------------------------------------------------------
 *
 * tls.h
 *	  The TLS-context hook: the ClientHello callback and the wrapper around
 *	  certificate verification (audit/tls.c).
 *
 * src/audit/tls.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_TLS_H
#define PGTLS_AUDIT_TLS_H

#include "postgres.h"

/* at server start: install the hook; on_client_hello runs in the backend */
extern void audit_install_tls_init_hook(void (*on_client_hello) (void));
extern bool audit_tls_handshake_started(void);

/*
 * The client certificate whose verification failed in this backend (an
 * OpenSSL X509, as void * so that callers need not include OpenSSL), or
 * NULL; *verify_error gets OpenSSL's verification error.
 */
extern void *audit_tls_failed_peer_cert(int *verify_error);

/*
 * The first ClientHello this backend received (one handshake message, from
 * its type byte), or NULL; *len gets its length.
 */
extern const uint8 *audit_tls_client_hello(size_t *len);

/*
 * Whether the message callback saw this connection's handshake (false on
 * PostgreSQL 19, where no hook reaches the serving context).
 */
extern bool audit_tls_hello_observed(void);

#endif							/* PGTLS_AUDIT_TLS_H */
