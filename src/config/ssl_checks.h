/*-------------------------------------------------------------------------
 *
 * ssl_checks.h
 *	  Findings about the ssl_* settings and the server's files
 *	  (config/ssl_checks.c).
 *
 * src/config/ssl_checks.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_SSL_CHECKS_H
#define PGTLS_CONFIG_SSL_CHECKS_H

#include "config/hba.h"

extern void ssl_findings(HbaAnalysis *analysis, List **findings);

#endif							/* PGTLS_CONFIG_SSL_CHECKS_H */
