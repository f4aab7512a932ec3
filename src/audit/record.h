/*-------------------------------------------------------------------------
 *
 * record.h
 *	  The audit record of one connection attempt, and how it is filled from
 *	  the Port and the TLS session (audit/record.c).
 *
 * src/audit/record.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_RECORD_H
#define PGTLS_AUDIT_RECORD_H

#include "pgtls_audit.h"

#include "datatype/timestamp.h"

/* Stage of the connection attempt at which its outcome was decided. */
typedef enum AuditEvent
{
	AUDIT_EVENT_HANDSHAKE,		/* TLS handshake or start-up packet */
	AUDIT_EVENT_AUTH,			/* pg_hba.conf matching and authentication */
	AUDIT_EVENT_AUTHORIZATION,	/* after authentication: role, database */
	AUDIT_EVENT_ESTABLISHED,	/* session started */
	AUDIT_EVENT_SUMMARY			/* repeats of a tuple not written one by one */
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
 * What the ClientHello offered, as numbers in wire order with GREASE values
 * left out (audit/offer.c fills it; the inventory keeps it and names the
 * values when it is read).  Sized for what the parser keeps
 * (PGTLS_CH_MAX_*), so nothing is cut on the way.
 */
#define AUDIT_OFFER_MAX_VERSIONS	16
#define AUDIT_OFFER_MAX_CIPHERS		128
#define AUDIT_OFFER_MAX_GROUPS		32

typedef struct AuditOffer
{
	uint8		nversions;
	uint8		nciphers;
	uint8		ngroups;
	uint8		nkeyshares;
	uint16		versions[AUDIT_OFFER_MAX_VERSIONS];
	uint16		ciphers[AUDIT_OFFER_MAX_CIPHERS];
	uint16		groups[AUDIT_OFFER_MAX_GROUPS];
	uint16		keyshares[AUDIT_OFFER_MAX_GROUPS];
} AuditOffer;

/*
 * One connection attempt.  Strings live in the record's memory context
 * (audit/record.c); NULL means unknown.  Numbers use -1 for unknown.
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
	/* what the ClientHello offered (audit/offer.c); lists comma-separated */
	char	   *sni;
	char	   *offered_versions;
	char	   *offered_ciphers;
	char	   *offered_groups;
	char	   *offered_alpn;
	char	   *ja4;
	bool		has_offer;		/* offer below is filled */
	AuditOffer	offer;
	/* PostgreSQL 19, ssl_sni = on: the pg_hosts.conf line that served it */
	char	   *host_entry;		/* "file:line" */
	bool		capture_failed; /* a value could not be copied (no memory) */
	/*
	 * log_connections/log_failures = new: attempts of this record's tuple
	 * not written since its previous record, and when the first and last
	 * of them happened (repeats 0: none, times unset).
	 */
	uint64		repeats;
	TimestampTz repeats_first;
	TimestampTz repeats_last;
} AuditRecord;

extern void audit_record_context_init(void);
extern MemoryContext audit_record_context(void);
extern void *audit_record_alloc(AuditRecord *rec, Size size);
extern bool audit_record_init(AuditRecord *rec, Port *port);
extern void audit_record_capture_port(AuditRecord *rec, Port *port);
extern void audit_record_capture_failed_cert(AuditRecord *rec);
extern void audit_record_set_reason(AuditRecord *rec, const char *reason,
									int sqlerrcode);
extern void audit_record_finish_policy(AuditRecord *rec);
extern const char *audit_event_name(AuditEvent event);
extern const char *audit_outcome_name(AuditOutcome outcome);
extern const char *audit_policy_name(AuditPolicy policy);

#endif							/* PGTLS_AUDIT_RECORD_H */
