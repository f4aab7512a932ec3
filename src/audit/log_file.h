/*-------------------------------------------------------------------------
 *
 * log_file.h
 *	  The dedicated audit file: one JSON record per line
 *	  (audit/log_file.c).
 *
 * src/audit/log_file.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_LOG_FILE_H
#define PGTLS_AUDIT_LOG_FILE_H

#include "audit/record.h"

extern void audit_log_file_install(void);
extern bool audit_log_file_write(const AuditRecord *rec);

#endif							/* PGTLS_AUDIT_LOG_FILE_H */
