/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PostgreSQL version difference pgtls_audit depends on, in one
 *	  place.  Other files use these macros and never test PG_VERSION_NUM.
 *
 * Supported: PostgreSQL 15 and newer.
 *
 *	16: the authenticated identity moved from Port.authn_id to
 *		MyClientConnectionInfo.authn_id; HbaLine gained sourcefile and
 *		rulenumber (include directives in pg_hba.conf).
 *	17: direct TLS (sslnegotiation=direct) with ALPN; Port.alpn_used.
 *	18: PG_MODULE_MAGIC_EXT; ssl_ecdh_curve renamed ssl_groups;
 *		ssl_tls13_ciphers; log_connections became a list.
 *
 * src/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_COMPAT_H
#define PGTLS_AUDIT_COMPAT_H

#include "postgres.h"
#include "libpq/libpq-be.h"
#include "libpq/hba.h"

#if PG_VERSION_NUM < 150000
#error "pgtls_audit requires PostgreSQL 15 or newer"
#endif

/* Module magic block, with name and version where the server records them. */
#if PG_VERSION_NUM >= 180000
#define PGTLS_MODULE_MAGIC \
	PG_MODULE_MAGIC_EXT(.name = "pgtls_audit", .version = PGTLS_AUDIT_VERSION)
#else
#define PGTLS_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/* Authenticated identity (NULL when none, e.g. trust). */
#if PG_VERSION_NUM >= 160000
#include "miscadmin.h"
#define PGTLS_AUTHN_ID(port) (MyClientConnectionInfo.authn_id)
#else
#define PGTLS_AUTHN_ID(port) ((port)->authn_id)
#endif

/* File holding the pg_hba line that matched (include files from 16 on). */
#if PG_VERSION_NUM >= 160000
#define PGTLS_HBA_SOURCEFILE(hba) ((hba)->sourcefile)
#define PGTLS_HBA_SET_SOURCEFILE(hba, file) ((hba)->sourcefile = (file))
#else
#include "utils/guc.h"
#define PGTLS_HBA_SOURCEFILE(hba) (HbaFileName)
#define PGTLS_HBA_SET_SOURCEFILE(hba, file) ((void) (file))
#endif

/* Whether the client negotiated ALPN "postgresql" (-1: server cannot tell). */
#if PG_VERSION_NUM >= 170000
#define PGTLS_ALPN_USED(port) ((port)->alpn_used ? 1 : 0)
#else
#define PGTLS_ALPN_USED(port) (-1)
#endif

/* Names of ssl settings that changed. */
#if PG_VERSION_NUM >= 180000
#define PGTLS_GUC_SSL_GROUPS "ssl_groups"
#define PGTLS_HAVE_TLS13_CIPHERS_GUC 1
#else
#define PGTLS_GUC_SSL_GROUPS "ssl_ecdh_curve"
#define PGTLS_HAVE_TLS13_CIPHERS_GUC 0
#endif

#endif							/* PGTLS_AUDIT_COMPAT_H */
