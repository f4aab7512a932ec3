/*-------------------------------------------------------------------------
 *
 * pgtls_audit.h
 *	  Declarations shared by the pgtls_audit source files: settings, the
 *	  audit record, and the entry points of each part.
 *
 * src/pgtls_audit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_H
#define PGTLS_AUDIT_H

#define PGTLS_AUDIT_VERSION "1.0"

#include "compat.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

/* Every log record starts with this marker, for log shippers to select. */
#define PGTLS_AUDIT_MARKER "PGTLS_AUDIT"
/* Version of the record schema (field "v"); bumped on incompatible change. */
#define PGTLS_AUDIT_RECORD_VERSION 1

/* ---- settings (pgtls_audit.c) ---- */
typedef enum AuditLogFormat
{
	AUDIT_FORMAT_TEXT,
	AUDIT_FORMAT_JSON
} AuditLogFormat;

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

extern bool pgtls_audit_log_connections;
extern bool pgtls_audit_log_failures;
extern int	pgtls_audit_log_format;
extern int	pgtls_audit_log_level;
extern int	pgtls_audit_policy_min_protocol;
extern bool pgtls_audit_preloaded;
extern bool pgtls_audit_debug_inject_failure;

/* ---- the audit record (audit_record.c) ---- */

/* Stage of the connection attempt at which its outcome was decided. */
typedef enum AuditEvent
{
	AUDIT_EVENT_HANDSHAKE,		/* TLS handshake or start-up packet */
	AUDIT_EVENT_AUTH,			/* pg_hba.conf matching and authentication */
	AUDIT_EVENT_AUTHORIZATION,	/* after authentication: role, database */
	AUDIT_EVENT_ESTABLISHED		/* session started */
} AuditEvent;

typedef enum AuditOutcome
{
	AUDIT_OUTCOME_SUCCESS,
	AUDIT_OUTCOME_FAILED,		/* authentication or start-up failed */
	AUDIT_OUTCOME_REJECTED,		/* refused by pg_hba.conf before any method */
	AUDIT_OUTCOME_ABORTED		/* client went away before finishing */
} AuditOutcome;

typedef enum AuditPolicy
{
	AUDIT_POLICY_UNKNOWN,		/* no completed TLS session and no plaintext */
	AUDIT_POLICY_OK,
	AUDIT_POLICY_PLAINTEXT,
	AUDIT_POLICY_BELOW_MIN_PROTOCOL
} AuditPolicy;

/*
 * One connection attempt.  Strings live in the record's memory context
 * (audit_record.c); NULL means unknown.  Numbers use -1 for unknown.
 */
typedef struct AuditRecord
{
	AuditEvent	event;
	AuditOutcome outcome;
	char	   *reason;			/* the server's own message, if any */
	char		sqlstate[6];	/* SQLSTATE of that message, "" if none */
	TimestampTz ts;
	int			pid;
	char	   *remote_host;
	char	   *remote_port;
	char	   *user_name;
	char	   *database_name;
	char	   *application_name;
	bool		ssl;
	bool		gss_encrypted;
	char	   *protocol;
	char	   *cipher;
	int			bits;
	int			alpn;			/* 1/0, -1 unknown (before PG 17) */
	bool		client_cert_present;
	char	   *client_dn;
	char	   *issuer_dn;
	char	   *client_serial;	/* decimal, as pg_stat_ssl */
	char	   *client_serial_hex;
	bool		has_not_after;
	TimestampTz client_not_after;
	char	   *client_fingerprint;	/* SHA-256, lowercase hex */
	char	   *hba_file;
	int			hba_line;		/* 0 when no line matched */
	char	   *auth_method;
	char	   *identity;
	AuditPolicy policy;
} AuditRecord;

extern MemoryContext audit_record_context(void);
extern void audit_record_init(AuditRecord *rec, Port *port);
extern void audit_record_capture_port(AuditRecord *rec, Port *port);
extern void audit_record_capture_failed_cert(AuditRecord *rec);
extern void audit_record_set_reason(AuditRecord *rec, const char *reason,
									int sqlerrcode);
extern void audit_record_finish_policy(AuditRecord *rec);
extern TlsProtocolRank tls_protocol_rank(const char *name);
extern const char *audit_event_name(AuditEvent event);
extern const char *audit_outcome_name(AuditOutcome outcome);
extern const char *audit_policy_name(AuditPolicy policy);
extern void audit_install_tls_init_hook(void);

/* ---- formatting (audit_format.c) ---- */
extern void audit_format_record(StringInfo buf, const AuditRecord *rec,
								AuditLogFormat format);

/* ---- hooks (audit_hooks.c) ---- */
extern void audit_hooks_install(void);

/* ---- certificates, CRLs and the server key (certificates.c) ---- */
extern int	pgtls_audit_expiry_warning_days;
extern void certificates_define_settings(void);
/* SSL_CTX as void *: callers need not include OpenSSL headers */
extern void certificates_tls_init(void *ssl_context);

/* ---- inventory (inventory.c) ---- */
extern void inventory_define_settings(void);
extern void inventory_install_hooks(void);
extern void inventory_add(const AuditRecord *rec);
extern void inventory_count_dropped(void);

#endif							/* PGTLS_AUDIT_H */
