/*-------------------------------------------------------------------------
 *
 * hba_parse.h
 *	  A pg_hba file read with the server's own tokenizer and parser, one
 *	  HbaRule per line (config/hba_parse.c).
 *
 * src/config/hba_parse.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_HBA_PARSE_H
#define PGTLS_CONFIG_HBA_PARSE_H

#include "config/hba.h"

#include "fmgr.h"

extern const char *hba_file_argument(FunctionCallInfo fcinfo, int argno);
extern HbaAnalysis *hba_read_file(const char *path);
extern const char *hba_conntype_name(ConnType type);

#endif							/* PGTLS_CONFIG_HBA_PARSE_H */
