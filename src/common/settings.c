/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  Reading server settings by name, for the checks and the certificate
 *	  functions, and TLS protocol names as the settings spell them, in
 *	  order.
 *
 * src/common/settings.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/settings.h"
#include "utils/guc.h"

/* A live setting, NULL when it does not exist in this server version */
const char *
pgtls_setting(const char *name)
{
	return GetConfigOption(name, true, false);
}

/* A setting every supported server has (file names): "" if missing anyway */
const char *
pgtls_setting_or_empty(const char *name)
{
	const char *v = pgtls_setting(name);

	return v ? v : "";
}

/* "TLSv1.2" and the like (as SSL_get_version spells them) in order */
TlsProtocolRank
tls_protocol_rank(const char *name)
{
	if (name == NULL)
		return TLS_RANK_UNKNOWN;
	if (strcmp(name, "TLSv1.3") == 0)
		return TLS_RANK_TLSV1_3;
	if (strcmp(name, "TLSv1.2") == 0)
		return TLS_RANK_TLSV1_2;
	if (strcmp(name, "TLSv1.1") == 0)
		return TLS_RANK_TLSV1_1;
	if (strcmp(name, "TLSv1") == 0)
		return TLS_RANK_TLSV1;
	if (strcmp(name, "SSLv3") == 0)
		return TLS_RANK_SSLV3;
	return TLS_RANK_UNKNOWN;
}
