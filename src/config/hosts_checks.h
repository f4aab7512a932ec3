/*-------------------------------------------------------------------------
 *
 * hosts_checks.h
 *	  Findings about PostgreSQL 19's pg_hosts.conf (HOST001-HOST008),
 *	  made when ssl_sni is on (config/hosts_checks.c).
 *
 * src/config/hosts_checks.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_HOSTS_CHECKS_H
#define PGTLS_CONFIG_HOSTS_CHECKS_H

#include "config/hba.h"

/* an: the pg_hba analysis (for HOST005), or NULL when it failed */
extern void hosts_findings(HbaAnalysis *an, List **findings);

#endif							/* PGTLS_CONFIG_HOSTS_CHECKS_H */
