/*-------------------------------------------------------------------------
 *
 * pgtls_audit.h
 *	  The module's version, its log marker, every setting defined in
 *	  pgtls_audit.c, and where large static buffers go
 *	  (PGTLS_LARGE_BUFFER).  Each folder of src/ has its own headers for
 *	  the rest; every PostgreSQL version difference is in pg_compat.h.
 *
 * src/pgtls_audit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_H
#define PGTLS_AUDIT_H

#define PGTLS_AUDIT_VERSION "1.1"

#include "pg_compat.h"

#include "fmgr.h"

#include "datatype/timestamp.h"

/*
 * A large static buffer (the kept ClientHello, the exit path's
 * pg_hosts.conf) goes into x86-64's large-data BSS section, which the
 * linker places after .bss, so that the small statics a connection writes
 * share one page: each page of them is a page fault in every new backend
 * (README "Performance", point 8).  Elsewhere an ordinary static.
 */
#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__)
#define PGTLS_LARGE_BUFFER __attribute__((section(".lbss")))
#else
#define PGTLS_LARGE_BUFFER
#endif

/* Every log record starts with this marker, for log shippers to select. */
#define PGTLS_AUDIT_MARKER "PGTLS_AUDIT"
/* Version of the record schema (field "v"); bumped on incompatible change. */
#define PGTLS_AUDIT_RECORD_VERSION 1

/* ---- settings (pgtls_audit.c) ---- */
typedef enum AuditLogFormat
{
	AUDIT_FORMAT_TEXT,
	AUDIT_FORMAT_JSON,
	AUDIT_FORMAT_JSON_COMPACT	/* json without null fields */
} AuditLogFormat;

/*
 * pgtls_audit.log_connections and log_failures: off, on, or new (write a
 * record only for a tuple not written within log_repeat_interval, count
 * the others; see inventory/inventory.c).  off is 0, so "!setting" still
 * reads as "off".
 */
typedef enum AuditLogMode
{
	AUDIT_LOG_OFF = 0,
	AUDIT_LOG_ON,
	AUDIT_LOG_NEW
} AuditLogMode;

/* TLS protocol versions in order, for policy comparisons */
typedef enum TlsProtocolRank
{
	TLS_RANK_UNKNOWN = 0,
	TLS_RANK_SSLV3,
	TLS_RANK_TLSV1,
	TLS_RANK_TLSV1_1,
	TLS_RANK_TLSV1_2,
	TLS_RANK_TLSV1_3
} TlsProtocolRank;

/* pgtls_audit.log_destination: a set of these */
#define AUDIT_DEST_SERVER_LOG	0x01
#define AUDIT_DEST_FILE			0x02

extern int	pgtls_audit_log_connections;
extern int	pgtls_audit_log_failures;
extern int	pgtls_audit_log_repeat_interval;	/* seconds */
extern int	pgtls_audit_log_format;
extern int	pgtls_audit_log_level;
extern int	pgtls_audit_log_destination;
extern char *pgtls_audit_log_file;
extern int	pgtls_audit_policy_min_protocol;
extern bool pgtls_audit_preloaded;

/* pgtls_audit.debug_inject_failure: where the hooks fail on purpose */
typedef enum InjectFailure
{
	INJECT_FAILURE_OFF,
	INJECT_FAILURE_HOOK,		/* an ERROR in ClientAuthentication_hook */
	INJECT_FAILURE_RECORD,		/* a failure writing the record */
	INJECT_FAILURE_ALL			/* both */
} InjectFailure;

extern int	pgtls_audit_debug_inject_failure;
extern int	pgtls_audit_debug_record_delay;
extern bool pgtls_audit_debug_lock_timing;


/* certs/cert_info.c */
extern int	pgtls_audit_expiry_warning_days;

#endif							/* PGTLS_AUDIT_H */
