/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  Reading server settings by name (common/settings.c).
 *
 * src/common/settings.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_COMMON_SETTINGS_H
#define PGTLS_COMMON_SETTINGS_H

#include "pgtls_audit.h"

extern const char *pgtls_setting(const char *name);
extern const char *pgtls_setting_or_empty(const char *name);
extern TlsProtocolRank tls_protocol_rank(const char *name);

#endif							/* PGTLS_COMMON_SETTINGS_H */
