/*-------------------------------------------------------------------------
 *
 * format.h
 *	  The two record formats, text and JSON (audit/format.c).
 *
 * src/audit/format.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_FORMAT_H
#define PGTLS_AUDIT_FORMAT_H

#include "audit/record.h"
#include "lib/stringinfo.h"

extern char *audit_format_record_alloc(const AuditRecord *rec,
									   AuditLogFormat format,
									   MemoryContext context);
extern char *audit_format_file_line_alloc(const AuditRecord *rec,
										  MemoryContext context, size_t *len);
extern void audit_format_record(StringInfo buf, const AuditRecord *rec,
								AuditLogFormat format);

#endif							/* PGTLS_AUDIT_FORMAT_H */
