/*-------------------------------------------------------------------------
 *
 * key_check.c
 *	  server_key_check(): the private key in ssl_key_file checked as the
 *	  server checks it at start (present, owner and mode, readable, not
 *	  protected by a passphrase, matching the certificate), without ever
 *	  showing key material; on PostgreSQL 19 with ssl_sni = on, the key of
 *	  every pg_hosts.conf line too.  The key file rules and the key reader are
 *	  also those of the findings (config/ssl_checks.c).
 *
 * src/certs/key_check.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "certs/cert_info.h"
#include "certs/key_check.h"
#include "certs/parse.h"
#include "common/files.h"
#include "common/findings_list.h"
#include "common/hosts_file.h"
#include "common/settings.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

/* ---------------------------------------------------------------------
 * server_key_check(): never shows key material.  Who may call it is
 * decided by GRANT (pg_monitor by default), as for every function here.
 * ---------------------------------------------------------------------
 */

/* Never prompt for a passphrase: report the key as encrypted instead */
static int
no_passphrase_cb(char *buf, int size, int rwflag, void *userdata)
{
	*(bool *) userdata = true;
	return -1;
}

/*
 * The rules of the server's check_ssl_key_file_permissions()
 * (be-secure-common.c) for the file st describes, checked in this order.
 */
KeyFilePermission
key_file_permission(const struct stat *st)
{
	uid_t		me = geteuid();

	if (!S_ISREG(st->st_mode))
		return KEY_FILE_NOT_REGULAR;
	if (st->st_uid != me && st->st_uid != 0)
		return KEY_FILE_BAD_OWNER;
	if ((st->st_uid == me && (st->st_mode & (S_IRWXG | S_IRWXO))) ||
		(st->st_uid == 0 && (st->st_mode & (S_IWGRP | S_IXGRP | S_IRWXO))))
		return KEY_FILE_GROUP_WORLD_ACCESS;
	return KEY_FILE_OK;
}

/*
 * The PEM private key in the file at path, read through fd.c, never asking
 * for a passphrase.  NULL with *problem set when the file cannot be read;
 * NULL with *problem NULL when it holds no key OpenSSL can load, *encrypted
 * saying whether that is because it needs a passphrase.  The bytes read are
 * wiped before they are freed.
 */
EVP_PKEY *
read_private_key_file(const char *path, bool *encrypted, char **problem)
{
	size_t		len = 0;
	char	   *buf = pgtls_read_file(path, &len, problem);
	BIO		   *bio;
	EVP_PKEY   *pkey = NULL;

	*encrypted = false;
	if (buf == NULL)
		return NULL;
	ERR_clear_error();
	bio = BIO_new_mem_buf(buf, (int) len);
	if (bio)
	{
		pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, encrypted);
		BIO_free(bio);
	}
	OPENSSL_cleanse(buf, len);
	pfree(buf);
	ERR_clear_error();
	return pkey;
}

/* ---------------------------------------------------------------------
 * server_key_check(): one row per key, its columns filled by what can be
 * checked
 * ---------------------------------------------------------------------
 */
enum
{
	KC_KEY_FILE,
	KC_PRESENT,
	KC_OWNER,
	KC_MODE,
	KC_PERMISSIONS_OK,
	KC_READABLE,
	KC_KEY_TYPE,
	KC_KEY_BITS,
	KC_ENCRYPTED,
	KC_MATCHES_CERTIFICATE,
	KC_PASSPHRASE_COMMAND_SET,
	KC_PROBLEM,
	KC_SOURCE,
	KC_HOST_NAMES,
	KC_HOSTS_FILE,
	KC_HOSTS_LINE,
	KC_NCOLS
};

typedef struct KeyCheck
{
	Datum		values[KC_NCOLS];
	bool		nulls[KC_NCOLS];
	StringInfoData problems;	/* "; "-separated, for the problem column */
} KeyCheck;

static void
kc_set(KeyCheck *kc, int column, Datum value)
{
	kc->values[column] = value;
	kc->nulls[column] = false;
}

static void
kc_problem(KeyCheck *kc, const char *problem)
{
	if (kc->problems.len)
		appendStringInfoString(&kc->problems, "; ");
	appendStringInfoString(&kc->problems, problem);
}

/*
 * present, owner, mode, permissions_ok, readable: the key file as the
 * server finds it.  Returns the key when the file could be read and holds
 * one (the caller frees it); *readable and *encrypted say what was read.
 */
static EVP_PKEY *
key_file_columns(KeyCheck *kc, const char *key_setting, const char *key_path,
				 bool *readable, bool *encrypted)
{
	struct stat st;
	struct passwd *pw;
	KeyFilePermission perm;
	EVP_PKEY   *pkey = NULL;
	char	   *problem = NULL;

	*readable = false;
	*encrypted = false;
	if (key_path[0] == '\0' || stat(key_path, &st) != 0)
	{
		kc_set(kc, KC_PRESENT, BoolGetDatum(false));
		if (key_path[0] == '\0')
			appendStringInfo(&kc->problems, "%s is not set", key_setting);
		else
			appendStringInfo(&kc->problems, "could not access file \"%s\": %m", key_path);
		return NULL;
	}

	pw = getpwuid(st.st_uid);
	perm = key_file_permission(&st);
	kc_set(kc, KC_PRESENT, BoolGetDatum(true));
	kc_set(kc, KC_OWNER, CStringGetTextDatum(pw ? pw->pw_name : psprintf("%u", (unsigned) st.st_uid)));
	kc_set(kc, KC_MODE, CStringGetTextDatum(psprintf("%04o", (unsigned) (st.st_mode & 07777))));

	if (perm == KEY_FILE_NOT_REGULAR)
		kc_problem(kc, "not a regular file");
	else if (perm == KEY_FILE_BAD_OWNER)
		kc_problem(kc, "must be owned by the database user or root");
	else if (perm == KEY_FILE_GROUP_WORLD_ACCESS)
		kc_problem(kc, "has group or world access: at most 0600 if owned by the database user, 0640 if owned by root");
	kc_set(kc, KC_PERMISSIONS_OK, BoolGetDatum(perm == KEY_FILE_OK));

	if (S_ISREG(st.st_mode))
	{
		pkey = read_private_key_file(key_path, encrypted, &problem);
		*readable = problem == NULL;
		if (!*readable)
			kc_problem(kc, problem);
	}
	kc_set(kc, KC_READABLE, BoolGetDatum(*readable));
	return pkey;
}

/* matches_certificate: the key against the first certificate of cert_path */
static void
matches_certificate_column(KeyCheck *kc, EVP_PKEY *pkey, const char *cert_setting,
						   const char *cert_path)
{
	char	   *cbuf;
	size_t		clen;
	char	   *cproblem;
	ParseResult res;

	cbuf = pgtls_read_file(cert_path, &clen, &cproblem);
	if (cbuf == NULL)
		return;
	parse_result_init(&res);
	parse_pem(cbuf, clen, &res, false);
	pfree(cbuf);
	if (res.error == NULL && sk_X509_num(res.certs) > 0)
	{
		bool		matches = X509_check_private_key(sk_X509_value(res.certs, 0), pkey) == 1;

		kc_set(kc, KC_MATCHES_CERTIFICATE, BoolGetDatum(matches));
		if (!matches)
			kc_problem(kc, psprintf("the key does not match the certificate in %s", cert_setting));
	}
	parse_result_free(&res);
	ERR_clear_error();
}

/* encrypted, key_type, key_bits, matches_certificate, of a readable file */
static void
key_columns(KeyCheck *kc, EVP_PKEY *pkey, bool encrypted,
			const char *cert_setting, const char *cert_path)
{
	kc_set(kc, KC_ENCRYPTED, BoolGetDatum(encrypted));
	if (pkey == NULL)
	{
		kc_problem(kc, encrypted ?
				   "the key is protected by a passphrase; its type and match with the certificate were not checked" :
				   "the file holds no PEM private key the server can load");
		return;
	}
	kc_set(kc, KC_KEY_TYPE, CStringGetTextDatum(key_type_name(pkey)));
	kc_set(kc, KC_KEY_BITS, Int32GetDatum(EVP_PKEY_bits(pkey)));
	matches_certificate_column(kc, pkey, cert_setting, cert_path);
}

/*
 * One row: the key at key_path against the certificate at cert_path.
 * key_setting and cert_setting name them in problems; line is the
 * pg_hosts.conf line they come from, or NULL for ssl_key_file.
 */
static void
key_check_row(ReturnSetInfo *rsinfo, const char *key_setting, const char *key_path,
			  const char *cert_setting, const char *cert_path,
			  bool passphrase_command_set, const char *hosts_path,
			  const PgtlsHostsLine *line)
{
	KeyCheck	kc;
	bool		readable;
	bool		encrypted;
	EVP_PKEY   *pkey;

	CHECK_FOR_INTERRUPTS();
	memset(kc.nulls, true, sizeof(kc.nulls));
	initStringInfo(&kc.problems);
	kc_set(&kc, KC_KEY_FILE, CStringGetTextDatum(key_path));
	kc_set(&kc, KC_SOURCE, CStringGetTextDatum(line ? "pg_hosts.conf" : "ssl_key_file"));
	if (line)
	{
		kc_set(&kc, KC_HOST_NAMES, pgtls_text_array(pgtls_hosts_names(line)));
		kc_set(&kc, KC_HOSTS_FILE, CStringGetTextDatum(hosts_path));
		kc_set(&kc, KC_HOSTS_LINE, Int32GetDatum(line->line));
	}

	pkey = key_file_columns(&kc, key_setting, key_path, &readable, &encrypted);
	if (readable)
		key_columns(&kc, pkey, encrypted, cert_setting, cert_path);
	if (pkey)
		EVP_PKEY_free(pkey);

	/* passphrase command, as a hint for encrypted keys */
	kc_set(&kc, KC_PASSPHRASE_COMMAND_SET, BoolGetDatum(passphrase_command_set));
	if (kc.problems.len)
		kc_set(&kc, KC_PROBLEM, CStringGetTextDatum(kc.problems.data));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, kc.values, kc.nulls);
}

/*
 * server_key_check(): ssl_key_file first, then (PostgreSQL 19 with
 * ssl_sni = on) the key of each pg_hosts.conf line against the line's
 * certificate.  Lines the server's parser refuses, and a hosts file that
 * cannot be read, are the findings' business (config/hosts_checks.c).
 */
PG_FUNCTION_INFO_V1(pgtls_audit_server_key_check);

Datum
pgtls_audit_server_key_check(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	const char *hosts_path = pgtls_hosts_file_in_use();

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	key_check_row(rsinfo, "ssl_key_file", pgtls_setting_or_empty("ssl_key_file"),
				  "ssl_cert_file", pgtls_setting_or_empty("ssl_cert_file"),
				  pgtls_setting_or_empty("ssl_passphrase_command")[0] != '\0',
				  NULL, NULL);

	if (hosts_path)
	{
		List	   *lines;
		char	   *problem;
		bool		missing;
		ListCell   *lc;

		if (pgtls_hosts_load(hosts_path, &lines, &problem, &missing))
		{
			foreach(lc, lines)
			{
				PgtlsHostsLine *l = lfirst(lc);
				char	   *where;

				if (l->nfields <= PGTLS_HOSTS_KEY || l->truncated)
					continue;
				where = psprintf("%s line %d", hosts_path, l->line);
				key_check_row(rsinfo,
							  psprintf("the SSL_KEY field of %s", where),
							  l->field[PGTLS_HOSTS_KEY],
							  psprintf("the SSL_CERTIFICATE field of %s", where),
							  l->field[PGTLS_HOSTS_CERT],
							  l->nfields > PGTLS_HOSTS_PASSCMD &&
							  l->field[PGTLS_HOSTS_PASSCMD][0] != '\0',
							  hosts_path, l);
			}
		}
	}
	return (Datum) 0;
}
