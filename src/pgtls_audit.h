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

#define PGTLS_AUDIT_VERSION "1.1"

#include "compat.h"

#include "fmgr.h"

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
	bool		capture_failed; /* a value could not be copied (no memory) */
} AuditRecord;

extern void audit_record_context_init(void);
extern MemoryContext audit_record_context(void);
extern void *audit_record_alloc(AuditRecord *rec, Size size);
extern void pgtls_audit_make_valid_utf8(char *dst, const char *src, size_t len);
extern bool audit_record_init(AuditRecord *rec, Port *port);
extern bool audit_record_tls_handshake_started(void);
extern void audit_record_capture_port(AuditRecord *rec, Port *port);
extern void audit_record_capture_failed_cert(AuditRecord *rec);
extern void audit_record_set_reason(AuditRecord *rec, const char *reason,
									int sqlerrcode);
extern void audit_record_finish_policy(AuditRecord *rec);
extern TlsProtocolRank tls_protocol_rank(const char *name);
extern const char *audit_event_name(AuditEvent event);
extern const char *audit_outcome_name(AuditOutcome outcome);
extern const char *audit_policy_name(AuditPolicy policy);

/* an OpenSSL ASN1_TIME, without including OpenSSL headers here */
struct asn1_string_st;
extern bool asn1_time_to_timestamptz(const struct asn1_string_st *t,
									 TimestampTz *result);
extern void audit_install_tls_init_hook(void);

/* ---- formatting (audit_format.c) ---- */
extern char *audit_format_record_alloc(const AuditRecord *rec,
									   AuditLogFormat format,
									   MemoryContext context);
extern void audit_format_record(StringInfo buf, const AuditRecord *rec,
								AuditLogFormat format);

/* ---- hooks (audit_hooks.c) ---- */
extern void audit_hooks_install(void);
extern void audit_hooks_tls_handshake_started(void);

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

/* ---- configuration findings (findings.c) ---- */

typedef enum FindingSeverity
{
	FINDING_CRITICAL,
	FINDING_WARNING,
	FINDING_INFO
} FindingSeverity;

/* One finding; strings palloc'd in the caller's context. */
typedef struct Finding
{
	const char *check_id;		/* stable id, e.g. "TLS003" */
	FindingSeverity severity;
	const char *area;			/* ssl, ciphers, certificates, hba, auth */
	char	   *location;		/* setting name or file:line */
	char	   *message;
	char	   *hint;
} Finding;

extern void finding_add(List **findings, const char *check_id,
						FindingSeverity severity, const char *area,
						const char *location, const char *hint,
						const char *fmt,...) pg_attribute_printf(7, 8);
extern const char *finding_severity_name(FindingSeverity severity);
extern Datum pgtls_text_array(List *strings);

/* ---- pg_hba.conf analysis (hba_analysis.c, hba_match.c) ---- */

/* Kinds of client connection, as bits: which a pg_hba line type admits. */
#define HBA_CONN_LOCAL	0x01	/* Unix-domain socket */
#define HBA_CONN_SSL	0x02	/* TCP with TLS */
#define HBA_CONN_GSS	0x04	/* TCP with GSSAPI encryption */
#define HBA_CONN_PLAIN	0x08	/* TCP, unencrypted */

typedef enum HbaAddrKind
{
	HBA_ADDR_NONE,				/* local line: no address */
	HBA_ADDR_ALL,
	HBA_ADDR_SAMEHOST,
	HBA_ADDR_SAMENET,
	HBA_ADDR_MASK,				/* address with CIDR or separate netmask */
	HBA_ADDR_HOSTNAME
} HbaAddrKind;

/* One line of a pg_hba file as the server's parser read it, analysed. */
typedef struct HbaRule
{
	char	   *file;
	int			line_number;
	int			rule_number;	/* 1-based among lines without errors; 0 */
	char	   *raw_line;
	char	   *error;			/* tokenizer or parser error, or NULL */
	HbaLine    *hba;			/* NULL when the line could not be parsed */
	int			conn_kinds;		/* HBA_CONN_* bits the type admits */
	HbaAddrKind addr_kind;
	int			family;			/* AF_INET or AF_INET6 for HBA_ADDR_MASK */
	uint8		addr[16];		/* network bytes (4 or 16 used) */
	uint8		mask[16];
	int			prefix;			/* mask length, -1 if not contiguous */
	char	   *address;		/* address field as written */
	char	   *netmask;		/* separate netmask field, or NULL */
	List	   *options;		/* option tokens (char *), name=value */
	/* analysis */
	bool		loopback_only;	/* only loopback or this host can match */
	bool		wide;			/* all, 0.0.0.0/0 or ::/0 */
	bool		reachable;
	char	   *unreachable_reason;
	char	   *shadowed_by;	/* "file:line[, file:line]" or NULL */
	char	   *shadow_note;	/* cannot be decided statically, or NULL */
	bool		allows_plaintext;
	bool		weak_method;
	char	   *weak_reason;
} HbaRule;

typedef struct HbaAnalysis
{
	char	   *path;			/* top-level file */
	int			nrules;
	HbaRule    *rules;
	int			nerrors;		/* lines the server would refuse */
	List	   *files;			/* every file read (char *), for mtimes */
	bool		ssl_on;			/* the live ssl setting */
} HbaAnalysis;

typedef enum HbaCover
{
	HBA_COVER_NO,
	HBA_COVER_UNDECIDED,
	HBA_COVER_YES
} HbaCover;

extern const char *hba_file_argument(FunctionCallInfo fcinfo, int argno);
extern HbaAnalysis *hba_analyze(const char *path);
extern void hba_findings(HbaAnalysis *analysis, List **findings);
extern bool hba_rule_uses_client_cert(const HbaRule *rule);
extern const char *hba_conntype_name(ConnType type);

/* hba_match.c: the server's matching rules, for one connection or a set */
extern HbaCover hba_db_token_covered(const HbaRule *a, AuthToken *db,
									 AuthToken *role, const char **why);
extern HbaCover hba_role_token_covered(const HbaRule *a, AuthToken *role,
									   const char **why);
extern HbaCover hba_addr_covered(const HbaRule *a, const HbaRule *b,
								 int family, const char **why);
extern bool hba_token_is_keyword(const AuthToken *tok, const char *kw);

/* ---- ssl settings, files and cipher suites (ssl_checks.c, ciphers.c) ---- */
extern void ssl_findings(HbaAnalysis *analysis, List **findings);
extern void cipher_findings(List **findings);
extern const char *pgtls_setting(const char *name);

#endif							/* PGTLS_AUDIT_H */
