/*-------------------------------------------------------------------------
 *
 * hba_redact.h
 *	  Secret option values of pg_hba lines replaced, for callers without the
 *	  privileges of pg_read_server_files (config/hba_redact.c).
 *
 * src/config/hba_redact.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_HBA_REDACT_H
#define PGTLS_CONFIG_HBA_REDACT_H

#include "config/hba.h"

extern bool hba_caller_sees_secrets(void);
extern void hba_redact_rule(HbaRule *r, TokenizedAuthLine *tl);
extern char *hba_option_text(List *tokens, bool redact);

#endif							/* PGTLS_CONFIG_HBA_REDACT_H */
