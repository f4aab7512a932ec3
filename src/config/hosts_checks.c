/*-------------------------------------------------------------------------
 *
 * hosts_checks.c
 *	  Findings about PostgreSQL 19's pg_hosts.conf, the per-host
 *	  certificates of server-side SNI, made only when the server uses it
 *	  (ssl = on, ssl_sni = on; common/hosts_file.c says when):
 *
 *	  HOST001  the hosts file cannot be read, or has a line the server's
 *	           parser refuses (then the server loads none of it)
 *	  HOST002  a line's certificate or key cannot be read, the key file's
 *	           owner or mode is refused, or the key does not match
 *	  HOST003  a host name not covered by its certificate (subjectAltName
 *	           DNS names, or the CN when there is none)
 *	  HOST004  neither a "*" nor a "/no_sni/" line: clients sending no
 *	           server name (libpq connecting by IP address, old clients)
 *	           fail the handshake
 *	  HOST005  a line without a usable CA file while pg_hba lines demand
 *	           client certificates (on 19 they are verified against the
 *	           CA of the line that served the connection)
 *	  HOST006  two lines claim one host name
 *	  HOST007  a passphrase command without PASSPHRASE_COMMAND_RELOAD
 *	  HOST008  the hosts file has no line
 *
 * The file is read from disk, as the findings read pg_hba.conf: what the
 * server will load at its next start or reload.  Paths in it are relative
 * to the data directory, this backend's working directory.
 *
 * src/config/hosts_checks.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "certs/key_check.h"
#include "certs/parse.h"
#include "common/files.h"
#include "common/findings_list.h"
#include "common/hosts_file.h"
#include "common/settings.h"
#include "config/hba.h"
#include "config/hosts_checks.h"
#include "lib/stringinfo.h"

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "miscadmin.h"
#include "utils/builtins.h"

static char *
line_location(const char *hosts_path, const PgtlsHostsLine *l)
{
	return psprintf("%s:%d", hosts_path, l->line);
}

static bool
is_special_name(const char *name)
{
	return strcmp(name, "*") == 0 || strcmp(name, "/no_sni/") == 0;
}

/* HOST002 for the key; returns it when it can be compared (caller frees) */
static EVP_PKEY *
key_file_check(List **findings, const char *loc, const char *key_path)
{
	struct stat st;
	KeyFilePermission perm;
	bool		encrypted;
	char	   *problem;
	EVP_PKEY   *pkey;

	if (stat(key_path, &st) != 0)
	{
		finding_add(findings, "HOST002", FINDING_CRITICAL, "certificates", loc,
					"Fix the SSL_KEY path of this line or install the file; the server reads it at start and at reload.",
					"private key file \"%s\" cannot be accessed: %s", key_path, strerror(errno));
		return NULL;
	}
	perm = key_file_permission(&st);
	if (perm != KEY_FILE_OK)
		finding_add(findings, "HOST002", FINDING_CRITICAL, "certificates", loc,
					"Make the key a regular file owned by the database user with mode 0600 (or by root with mode 0640); the server refuses it otherwise.",
					"private key file \"%s\" has an owner or mode the server refuses", key_path);
	pkey = read_private_key_file(key_path, &encrypted, &problem);
	if (problem)
		finding_add(findings, "HOST002", FINDING_CRITICAL, "certificates", loc,
					"Check the SSL_KEY file's owner and permissions.",
					"private key file \"%s\" cannot be read: %s", key_path, problem);
	else if (pkey == NULL && !encrypted)
		finding_add(findings, "HOST002", FINDING_CRITICAL, "certificates", loc,
					"Put the PEM private key of this line's certificate into the SSL_KEY file.",
					"private key file \"%s\" holds no PEM private key the server can load", key_path);
	return pkey;
}

/* HOST002 for the certificate; returns its leaf (caller frees) */
static X509 *
cert_file_check(List **findings, const char *loc, const char *cert_path)
{
	size_t		len;
	char	   *problem;
	char	   *buf = pgtls_read_file(cert_path, &len, &problem);
	X509	   *leaf;

	if (buf == NULL)
	{
		finding_add(findings, "HOST002", FINDING_CRITICAL, "certificates", loc,
					"Fix the SSL_CERTIFICATE path of this line or install the file; the server reads it at start and at reload.",
					"certificate file \"%s\" cannot be read: %s", cert_path, problem);
		return NULL;
	}
	pfree(buf);
	leaf = read_first_certificate_file(cert_path);
	if (leaf == NULL)
		finding_add(findings, "HOST002", FINDING_CRITICAL, "certificates", loc,
					"Put the PEM certificate (leaf first, then its chain) into the SSL_CERTIFICATE file.",
					"certificate file \"%s\" holds no PEM certificate", cert_path);
	return leaf;
}

/* HOST003: each host name of the line against its certificate */
static void
san_check(List **findings, const char *loc, const PgtlsHostsLine *l, X509 *leaf)
{
	ListCell   *lc;

	foreach(lc, pgtls_hosts_names(l))
	{
		const char *name = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		if (is_special_name(name) || name[0] == '@')
			continue;
		if (X509_check_host(leaf, name, strlen(name), 0, NULL) != 1)
			finding_add(findings, "HOST003", FINDING_WARNING, "certificates", loc,
						"Issue the certificate with this name in its subjectAltName (DNS), or move the name to a line whose certificate covers it.",
						"host name \"%s\" is not covered by the certificate in \"%s\" (subjectAltName DNS names, or the CN when there are none): clients with sslmode=verify-full connecting to it refuse the server",
						name, l->field[PGTLS_HOSTS_CERT]);
		ERR_clear_error();
	}
}

/* HOST002, HOST003, HOST007 for one line the server's parser accepts */
static void
line_file_checks(List **findings, const char *loc, const PgtlsHostsLine *l)
{
	X509	   *leaf = cert_file_check(findings, loc, l->field[PGTLS_HOSTS_CERT]);
	EVP_PKEY   *pkey = key_file_check(findings, loc, l->field[PGTLS_HOSTS_KEY]);

	if (leaf && pkey && X509_check_private_key(leaf, pkey) != 1)
		finding_add(findings, "HOST002", FINDING_CRITICAL, "certificates", loc,
					"Install the key that belongs to this line's certificate (or the certificate of this key); the server refuses to start or keeps the old configuration at reload.",
					"private key \"%s\" does not match the certificate in \"%s\"",
					l->field[PGTLS_HOSTS_KEY], l->field[PGTLS_HOSTS_CERT]);
	ERR_clear_error();
	if (leaf)
		san_check(findings, loc, l, leaf);
	if (leaf)
		X509_free(leaf);
	if (pkey)
		EVP_PKEY_free(pkey);
}

/* HOST007: a passphrase command that does not run at reload */
static void
passphrase_check(List **findings, const char *loc, const PgtlsHostsLine *l)
{
	bool		reload = false;

	if (l->nfields <= PGTLS_HOSTS_PASSCMD || l->field[PGTLS_HOSTS_PASSCMD][0] == '\0')
		return;
	if (l->nfields > PGTLS_HOSTS_PASSRELOAD)
		(void) parse_bool(l->field[PGTLS_HOSTS_PASSRELOAD], &reload);
	if (!reload)
		finding_add(findings, "HOST007", FINDING_WARNING, "certificates", loc,
					"Set the PASSPHRASE_COMMAND_RELOAD field of this line to on if the command can run without a terminal, or restart the server after changing this host's certificate.",
					"this line has a passphrase command but PASSPHRASE_COMMAND_RELOAD is not on: at a reload the server cannot load this host's key again, so a renewed certificate needs a restart");
}

/*
 * HOST006 for each host name of a line that an earlier line claims too
 * (seen_names and seen_locs grow with this line's names).  Returns true
 * when the line is a fallback ("*" or "/no_sni/").
 */
static bool
name_checks(List **findings, char *loc, PgtlsHostsLine *l,
			List **seen_names, List **seen_locs)
{
	bool		fallback = false;
	ListCell   *nc;

	foreach(nc, pgtls_hosts_names(l))
	{
		char	   *name = lfirst(nc);
		ListCell   *sc;
		ListCell   *sl;

		if (is_special_name(name))
			fallback = true;
		forboth(sc, *seen_names, sl, *seen_locs)
		{
			if (pg_strcasecmp(lfirst(sc), name) == 0)
				finding_add(findings, "HOST006", FINDING_WARNING, "certificates", loc,
							"Keep each host name on one line of the hosts file.",
							"host name \"%s\" is also claimed by %s: only one of the two lines can serve it",
							name, (char *) lfirst(sl));
		}
		*seen_names = lappend(*seen_names, name);
		*seen_locs = lappend(*seen_locs, loc);
	}
	return fallback;
}

/*
 * HOST005: a line without a readable CA file while pg_hba lines
 * (cert_lines, in hba_path) demand client certificates.
 */
static void
ca_check(List **findings, const char *loc, PgtlsHostsLine *l,
		 const char *hba_path, const char *cert_lines)
{
	const char *ca = l->nfields > PGTLS_HOSTS_CA ? l->field[PGTLS_HOSTS_CA] : "";
	char	   *ca_problem = NULL;
	char	   *buf = NULL;
	size_t		len;

	if (ca[0])
		buf = pgtls_read_file(ca, &len, &ca_problem);
	if (buf)
	{
		pfree(buf);
		return;
	}
	finding_add(findings, "HOST005", FINDING_CRITICAL, "certificates", loc,
				"Name the CA that issues client certificates in the SSL_CA field of this line.",
				ca[0] ?
				"%s lines %s demand client certificates, but this line's CA file cannot be read (%s): connections it serves cannot present one" :
				"%s lines %s demand client certificates, but this line names no CA file%s: with ssl_sni = on the server verifies client certificates against the CA of the line that served the connection, so connections it serves cannot present one",
				hba_path, cert_lines, ca[0] ? ca_problem : "");
}

/* HOST005: the hba lines that demand client certificates, or NULL */
static char *
client_cert_lines(HbaAnalysis *an)
{
	StringInfoData lines;

	if (an == NULL)
		return NULL;
	initStringInfo(&lines);
	for (int i = 0; i < an->nrules; i++)
		if (an->rules[i].reachable && hba_rule_uses_client_cert(&an->rules[i]))
			appendStringInfo(&lines, "%s%d", lines.len ? ", " : "",
							 an->rules[i].line_number);
	return lines.len ? lines.data : NULL;
}

void
hosts_findings(HbaAnalysis *an, List **findings)
{
	const char *hosts_path = pgtls_hosts_file_in_use();
	const char *ssl = pgtls_setting("ssl");
	List	   *lines;
	char	   *problem;
	bool		missing;
	bool		fallback = false;
	bool		any_refused = false;
	char	   *cert_lines;
	List	   *seen_names = NIL;
	List	   *seen_locs = NIL;
	ListCell   *lc;

	if (hosts_path == NULL || ssl == NULL || strcmp(ssl, "on") != 0)
		return;
	if (!pgtls_hosts_load(hosts_path, &lines, &problem, &missing))
	{
		finding_add(findings, "HOST001", FINDING_CRITICAL, "certificates", "hosts_file",
					missing ?
					"Create the hosts file with a line per host name and a \"*\" line, or set ssl_sni = off." :
					"Check hosts_file and the file's owner and permissions.",
					"ssl_sni is on but the hosts file cannot be read: %s", problem);
		return;
	}
	if (lines == NIL)
	{
		finding_add(findings, "HOST008", FINDING_CRITICAL, "certificates", "hosts_file",
					"Add a line per host name and a \"*\" line to the hosts file, or set ssl_sni = off.",
					"ssl_sni is on but the hosts file \"%s\" has no line: it configures no host certificate", hosts_path);
		return;
	}

	cert_lines = client_cert_lines(an);
	foreach(lc, lines)
	{
		PgtlsHostsLine *l = lfirst(lc);
		char	   *loc = line_location(hosts_path, l);
		const char *refused = pgtls_hosts_line_problem(l);

		CHECK_FOR_INTERRUPTS();
		if (refused)
		{
			any_refused = true;
			finding_add(findings, "HOST001", FINDING_CRITICAL, "certificates", loc,
						"Fix the line: with one refused line the server loads none of the hosts file (it does not start, or keeps the old configuration at reload).",
						"the server refuses this line of the hosts file: %s", refused);
			continue;
		}
		if (name_checks(findings, loc, l, &seen_names, &seen_locs))
			fallback = true;
		line_file_checks(findings, loc, l);
		passphrase_check(findings, loc, l);
		if (cert_lines)
			ca_check(findings, loc, l, an->path, cert_lines);
	}
	if (!fallback && !any_refused)
		finding_add(findings, "HOST004", FINDING_WARNING, "certificates", hosts_path,
					"Add a \"*\" line (the default certificate) or a \"/no_sni/\" line.",
					"the hosts file has neither a \"*\" nor a \"/no_sni/\" line: clients that send no server name (libpq connecting by IP address, older clients) fail the handshake (missing_extension alert), and unknown names fail too");
}
