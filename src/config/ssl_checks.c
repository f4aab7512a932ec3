/*-------------------------------------------------------------------------
 *
 * ssl_checks.c
 *	  Findings about the live ssl_* settings and the files they name, read
 *	  as the server reads them (this backend runs as the server's user, in
 *	  the data directory, so relative paths and permissions are the
 *	  server's): protocol range, cipher preference, certificate, key, CA
 *	  and CRL files, key file permissions (be-secure-common.c rules),
 *	  whether key and certificate belong together, the key exchange groups
 *	  (ssl_groups, ssl_ecdh_curve before 18), ssl off while pg_hba
 *	  expects TLS, client certificates required without a CA, and
 *	  password_encryption, and whether successful connections are logged
 *	  at all (by this module or by core's log_connections).
 *
 * Settings are read with GetConfigOption(), so a caller without the
 * privilege to SHOW them (pg_monitor members have it) still gets the
 * checks; the values appear only in finding locations and messages.
 *
 * src/config/ssl_checks.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "certs/key_check.h"
#include "certs/parse.h"
#include "common/findings_list.h"
#include "common/settings.h"
#include "config/hba.h"
#include "config/ssl_checks.h"
#include "lib/stringinfo.h"

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "utils/guc.h"

static bool
setting_is(const char *name, const char *value)
{
	const char *v = pgtls_setting(name);

	return v != NULL && strcmp(v, value) == 0;
}

static bool
setting_set(const char *name)
{
	const char *v = pgtls_setting(name);

	return v != NULL && v[0] != '\0';
}

/* Check that a file exists and can be read; finding otherwise */
static bool
file_readable(List **findings, const char *id, const char *setting,
			  const char *what)
{
	const char *path = pgtls_setting(setting);
	struct stat st;

	if (stat(path, &st) != 0)
	{
		int			save_errno = errno;

		finding_add(findings, id, FINDING_CRITICAL, "certificates", setting,
					"Fix the path in the setting or install the file; the server reads it at start and at reload.",
					"%s \"%s\" cannot be accessed: %s", what, path, strerror(save_errno));
		return false;
	}
	if (access(path, R_OK) != 0)
	{
		int			save_errno = errno;

		finding_add(findings, id, FINDING_CRITICAL, "certificates", setting,
					"Make the file readable by the operating system user the server runs as.",
					"%s \"%s\" cannot be read by the server: %s", what, path, strerror(save_errno));
		return false;
	}
	return true;
}

/* be-secure-common.c check_ssl_key_file_permissions(), as findings */
static void
key_permissions(List **findings, const char *path)
{
	struct stat st;
	KeyFilePermission perm;

	if (stat(path, &st) != 0)
		return;
	perm = key_file_permission(&st);
	if (perm == KEY_FILE_NOT_REGULAR)
		finding_add(findings, "CERT003", FINDING_CRITICAL, "certificates", "ssl_key_file",
					"Point ssl_key_file at a regular file.",
					"private key file \"%s\" is not a regular file", path);
	else if (perm == KEY_FILE_BAD_OWNER)
		finding_add(findings, "CERT003", FINDING_CRITICAL, "certificates", "ssl_key_file",
					"chown the file to the database user (mode 0600) or to root (mode 0640, group of the database user).",
					"private key file \"%s\" must be owned by the database user or root: the server refuses it", path);
	else if (perm == KEY_FILE_GROUP_WORLD_ACCESS)
		finding_add(findings, "CERT003", FINDING_CRITICAL, "certificates", "ssl_key_file",
					"chmod 0600 the file if the database user owns it, or 0640 if root owns it.",
					"private key file \"%s\" has group or world access (mode %04o, owner %s): the server refuses it",
					path, (unsigned int) (st.st_mode & 07777),
					st.st_uid == 0 ? "root" : "the database user");
}

/* CERT007: does the key belong to the certificate? */
static void
key_matches_certificate(List **findings, const char *certpath, const char *keypath)
{
	X509	   *cert = read_first_certificate_file(certpath);
	EVP_PKEY   *key = NULL;
	bool		encrypted = false;
	bool		bad_cert = false;
	bool		mismatch = false;
	char	   *problem;

	if (cert == NULL)
		bad_cert = true;
	else
	{
		/* an unreadable or encrypted key is not a mismatch: no finding */
		key = read_private_key_file(keypath, &encrypted, &problem);
		if (key && X509_check_private_key(cert, key) != 1)
			mismatch = true;
	}
	if (key)
		EVP_PKEY_free(key);
	if (cert)
		X509_free(cert);
	ERR_clear_error();

	if (bad_cert)
		finding_add(findings, "CERT001", FINDING_CRITICAL, "certificates", "ssl_cert_file",
					"Install a PEM certificate (server certificate first, then intermediates).",
					"server certificate file \"%s\" does not hold a PEM certificate", certpath);
	else if (mismatch)
		finding_add(findings, "CERT007", FINDING_CRITICAL, "certificates", "ssl_key_file",
					"Install the key that belongs to the certificate (or the certificate that belongs to the key).",
					"private key \"%s\" does not match the certificate \"%s\": the server refuses them", keypath, certpath);
}

/*
 * Security of one key exchange group in bits, or -1 when it is not an
 * elliptic curve this can measure (X25519, X448, ffdhe*, hybrids: all at
 * least 128).  An elliptic curve gives half its order's bits.
 */
static int
ec_group_security_bits(const char *name)
{
	int			nid = OBJ_sn2nid(name);
	EC_GROUP   *group;
	int			bits;

	if (nid == NID_undef)
		return -1;
	group = EC_GROUP_new_by_curve_name(nid);
	if (group == NULL)
		return -1;
	bits = EC_GROUP_order_bits(group) / 2;
	EC_GROUP_free(group);
	return bits;
}

/* Would the server accept the groups setting?  As be-secure-openssl.c. */
static bool
groups_setting_accepted(const char *value)
{
	bool		accepted;

#if PGTLS_SSL_GROUPS_IS_LIST
	SSL_CTX    *ctx = SSL_CTX_new(TLS_method());

	if (ctx == NULL)
		return true;			/* cannot tell: say nothing */
	accepted = SSL_CTX_set1_groups_list(ctx, value) == 1;
	SSL_CTX_free(ctx);
#else
	accepted = ec_group_security_bits(value) > 0;
#endif
	ERR_clear_error();
	return accepted;
}

/*
 * TLS011: OpenSSL refuses ssl_groups (ssl_ecdh_curve before 18), so the
 * server cannot set up TLS.  TLS012: a group below 128-bit security.
 */
static void
groups_findings(List **findings)
{
	const char *setting = PGTLS_GUC_SSL_GROUPS;
	const char *value = pgtls_setting(setting);
	char	   *copy;
	char	   *saveptr = NULL;
	StringInfoData weak;

	if (value == NULL || value[0] == '\0')
		return;
	if (!groups_setting_accepted(value))
	{
		finding_add(findings, "TLS011", FINDING_CRITICAL, "ssl", setting,
					PGTLS_SSL_GROUPS_IS_LIST ?
					"Use group names OpenSSL knows, e.g. 'X25519:prime256v1' (the default)." :
					"Use one elliptic curve short name, e.g. 'prime256v1' (the default).",
					"OpenSSL refuses %s = '%s': the server cannot set up TLS (start fails, a reload keeps the old settings)",
					setting, value);
		return;
	}

	initStringInfo(&weak);
	copy = pstrdup(value);
	for (char *name = strtok_r(copy, ":", &saveptr); name != NULL;
		 name = strtok_r(NULL, ":", &saveptr))
	{
		int			bits = ec_group_security_bits(name);

		if (bits > 0 && bits < 128)
			appendStringInfo(&weak, "%s%s (%d-bit security)",
							 weak.len ? ", " : "", name, bits);
	}
	ERR_clear_error();
	if (weak.len)
		finding_add(findings, "TLS012", FINDING_WARNING, "ssl", setting,
					"Use curves of 256 bits or more, e.g. 'X25519:prime256v1' on 18, 'prime256v1' before.",
					"%s = '%s' offers key exchange groups below 128-bit security: %s",
					setting, value, weak.data);
	pfree(copy);
	pfree(weak.data);
}

/* AUTH007: MD5 password hashes; AUTH009: successful logins not logged */
static void
auth_findings(List **findings)
{
	if (setting_is("password_encryption", "md5"))
		finding_add(findings, "AUTH007", FINDING_WARNING, "auth", "password_encryption",
					"Set password_encryption = 'scram-sha-256' and have users set their passwords again."
					PGTLS_MD5_DEPRECATION_HINT,
					"password_encryption is md5: new passwords are stored as MD5 hashes, which scram-sha-256 lines cannot use");

	if (!PGTLS_CORE_LOGS_AUTHORIZATION() && pgtls_audit_preloaded &&
		!pgtls_audit_log_connections)
		finding_add(findings, "AUTH009", FINDING_WARNING, "auth", "log_connections",
					"Set pgtls_audit.log_connections = on (or log_connections in core).",
					"successful connections leave no record in the server log: pgtls_audit.log_connections is off, and core's log_connections does not log authorization");
	else if (!PGTLS_CORE_LOGS_AUTHORIZATION() && !pgtls_audit_preloaded)
		finding_add(findings, "AUTH009", FINDING_WARNING, "auth", "log_connections",
					"Add pgtls_audit to shared_preload_libraries and restart, or set log_connections in core.",
					"successful connections leave no record in the server log: pgtls_audit is not preloaded, and core's log_connections does not log authorization");
}

/* ssl = off: TLS001 hostssl lines that never match, TLS002 remote plain text */
static void
ssl_off_findings(HbaAnalysis *an, List **findings)
{
	StringInfoData hostssl;
	StringInfoData remote;

	if (an == NULL)
		return;
	initStringInfo(&hostssl);
	initStringInfo(&remote);
	for (int i = 0; i < an->nrules; i++)
	{
		HbaRule    *r = &an->rules[i];

		if (r->hba == NULL || r->hba->auth_method == uaReject)
			continue;
		if (r->hba->conntype == ctHostSSL)
			appendStringInfo(&hostssl, "%s%d", hostssl.len ? ", " : "", r->line_number);
		else if (r->hba->conntype != ctLocal && r->reachable && !r->loopback_only &&
				 r->hba->conntype != ctHostGSS)
			appendStringInfo(&remote, "%s%d", remote.len ? ", " : "", r->line_number);
	}
	if (hostssl.len)
		finding_add(findings, "TLS001", FINDING_CRITICAL, "ssl", "ssl",
					"Set ssl = on (with a certificate and key) or remove the hostssl lines.",
					"ssl is off but %s has hostssl lines (%s): they can never match, so the clients they were meant for are refused or fall through to other lines",
					an->path, hostssl.data);
	if (remote.len)
		finding_add(findings, "TLS002", FINDING_CRITICAL, "ssl", "ssl",
					"Set ssl = on and make remote lines hostssl.",
					"ssl is off and %s accepts TCP connections from non-loopback addresses (lines %s): all of that traffic, passwords included, is unencrypted",
					an->path, remote.data);
}

/* TLS003-TLS005: the protocol range; TLS006: the client picks the suite */
static void
protocol_findings(List **findings)
{
	const char *minp = pgtls_setting("ssl_min_protocol_version");
	const char *maxp = pgtls_setting("ssl_max_protocol_version");
	TlsProtocolRank minr = tls_protocol_rank(minp);
	TlsProtocolRank maxr = tls_protocol_rank(maxp);

	if (minr < TLS_RANK_TLSV1_2)
		finding_add(findings, "TLS003", FINDING_WARNING, "ssl", "ssl_min_protocol_version",
					"Set ssl_min_protocol_version = 'TLSv1.2' (or 'TLSv1.3' when every client supports it).",
					"ssl_min_protocol_version is %s: TLS 1.0 and 1.1 are deprecated (RFC 8996)",
					minp && minp[0] ? minp : "empty");
	if (maxp && maxp[0] && maxr != TLS_RANK_UNKNOWN && maxr < minr)
		finding_add(findings, "TLS004", FINDING_CRITICAL, "ssl", "ssl_max_protocol_version",
					"Set ssl_max_protocol_version to '' (no limit) or at least ssl_min_protocol_version.",
					"ssl_max_protocol_version (%s) is lower than ssl_min_protocol_version (%s): the server cannot set up TLS (start fails, a reload keeps the old settings)",
					maxp, minp);
	else if (maxp && maxp[0] && maxr < TLS_RANK_TLSV1_3)
		finding_add(findings, "TLS005", FINDING_WARNING, "ssl", "ssl_max_protocol_version",
					"Set ssl_max_protocol_version = '' so that TLS 1.3 can be used.",
					"ssl_max_protocol_version is %s: TLS 1.3 is disabled", maxp);

	if (setting_is("ssl_prefer_server_ciphers", "off"))
		finding_add(findings, "TLS006", FINDING_WARNING, "ssl", "ssl_prefer_server_ciphers",
					"Set ssl_prefer_server_ciphers = on.",
					"ssl_prefer_server_ciphers is off: the client's preference order chooses the TLS 1.2 suite, weaker ones included");
}

/* CERT001-CERT005, CERT007: the certificate, key, CA and CRL files */
static void
file_findings(List **findings)
{
	bool		cert_ok = file_readable(findings, "CERT001", "ssl_cert_file",
										"server certificate file");
	bool		key_ok = file_readable(findings, "CERT002", "ssl_key_file",
									   "private key file");

	if (key_ok)
		key_permissions(findings, pgtls_setting("ssl_key_file"));
	if (cert_ok && key_ok)
		key_matches_certificate(findings, pgtls_setting("ssl_cert_file"),
								pgtls_setting("ssl_key_file"));
	if (setting_set("ssl_ca_file"))
		file_readable(findings, "CERT004", "ssl_ca_file", "CA file");
	if (setting_set("ssl_crl_file"))
		file_readable(findings, "CERT005", "ssl_crl_file", "CRL file");
	if (setting_set("ssl_crl_dir"))
		file_readable(findings, "CERT005", "ssl_crl_dir", "CRL directory");
}

/* CERT006: client certificates required without a CA to verify them */
static void
client_ca_findings(HbaAnalysis *an, List **findings)
{
	StringInfoData lines;

	if (an == NULL || setting_set("ssl_ca_file"))
		return;
	initStringInfo(&lines);
	for (int i = 0; i < an->nrules; i++)
		if (an->rules[i].reachable && hba_rule_uses_client_cert(&an->rules[i]))
			appendStringInfo(&lines, "%s%d", lines.len ? ", " : "",
							 an->rules[i].line_number);
	if (lines.len)
		finding_add(findings, "CERT006", FINDING_CRITICAL, "certificates", "ssl_ca_file",
					"Set ssl_ca_file to the CA that issues client certificates.",
					"%s lines %s use the cert method or clientcert, but ssl_ca_file is empty: the server requests no client certificate, so those connections always fail",
					an->path, lines.data);
}

/* Every finding of this file, in this order; with ssl off, auth and ssl off only */
void
ssl_findings(HbaAnalysis *an, List **findings)
{
	auth_findings(findings);
	if (!setting_is("ssl", "on"))
	{
		ssl_off_findings(an, findings);
		return;
	}
	protocol_findings(findings);
	groups_findings(findings);
	file_findings(findings);
	client_ca_findings(an, findings);
}
