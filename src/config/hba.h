/*-------------------------------------------------------------------------
 *
 * hba.h
 *	  pg_hba.conf read with the server's own parser and analyzed: the rules,
 *	  their reachability and shadowing, and the hba findings
 *	  (config/hba_analysis.c).
 *
 * src/config/hba.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_HBA_H
#define PGTLS_CONFIG_HBA_H

#include "pg_compat.h"

#include "fmgr.h"
#include "common/findings_list.h"

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

#endif							/* PGTLS_CONFIG_HBA_H */
