/*-------------------------------------------------------------------------
 *
 * hba.h
 *	  The types of a pg_hba file read with the server's own parser and
 *	  analyzed: one HbaRule per line, the HbaAnalysis of the whole file.
 *	  Shared by every config/hba_*.c file and by ssl_checks.c.
 *
 * The pg_hba files, lowest layer first (each uses only those before it):
 *	  hba_redact.c	 secret option values replaced, for callers without
 *					 the privileges of pg_read_server_files
 *	  hba_parse.c	 the file read with the server's tokenizer and parser,
 *					 the HbaRule fields filled from the parsed line
 *	  hba_cover.c	 coverage predicates (does one line match all another
 *					 line can match?) and the token tests hba_match.c shares
 *	  hba_analysis.c reachability and shadowing of every line
 *	  hba_findings.c the hba and auth findings
 *	  hba_rules.c	 pgtls_audit._hba_rules()
 *	  hba_match.c	 pgtls_audit.hba_match()
 *
 * src/config/hba.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_HBA_H
#define PGTLS_CONFIG_HBA_H

#include "pg_compat.h"

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

/* One line of a pg_hba file as the server's parser read it, analyzed. */
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
	int			shadowed_by_first;	/* index in rules of its first, or -1 */
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
	struct HbaCoverIndex *cover_index;	/* hba_analysis.c's, or NULL */
} HbaAnalysis;

/* Does the line use a client certificate (the cert method or clientcert)? */
static inline bool
hba_rule_uses_client_cert(const HbaRule *r)
{
	return r->hba != NULL &&
		(r->hba->auth_method == uaCert || r->hba->clientcert != clientCertOff);
}

#endif							/* PGTLS_CONFIG_HBA_H */
