/*-------------------------------------------------------------------------
 *
 * ciphers.h
 *	  Cipher suites as the server expands them, and their findings
 *	  (config/ciphers.c).
 *
 * src/config/ciphers.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_CIPHERS_H
#define PGTLS_CONFIG_CIPHERS_H

#include "common/findings_list.h"

extern void cipher_findings(List **findings);

#endif							/* PGTLS_CONFIG_CIPHERS_H */
