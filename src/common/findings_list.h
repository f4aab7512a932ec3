/*-------------------------------------------------------------------------
 *
 * findings_list.h
 *	  A list of misconfiguration findings, filled by every check and turned
 *	  into rows by the findings entry point (common/findings_list.c).
 *
 * src/common/findings_list.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_COMMON_FINDINGS_LIST_H
#define PGTLS_COMMON_FINDINGS_LIST_H

#include "postgres.h"

#include "fmgr.h"
#include "nodes/pg_list.h"

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

#endif							/* PGTLS_COMMON_FINDINGS_LIST_H */
