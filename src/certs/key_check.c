/*-------------------------------------------------------------------------
 *
 * key_check.c
 *	  server_key_check(): the private key in ssl_key_file checked as the
 *	  server checks it at start (present, owner and mode, readable, not
 *	  protected by a passphrase, matching the certificate), without ever
 *	  showing key material.  The key file rules and the key reader are
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
#include "utils/builtins.h"

/* ---------------------------------------------------------------------
 * server_key_check(): never shows key material.  Who may call it is
 * decided by GRANT (pg_monitor by default), as for every function here.
 * ---------------------------------------------------------------------
 */
#define KC_NCOLS 12

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

PG_FUNCTION_INFO_V1(pgtls_audit_server_key_check);

Datum
pgtls_audit_server_key_check(PG_FUNCTION_ARGS)
{
	const char *key_path = pgtls_setting_or_empty("ssl_key_file");
	const char *cert_path = pgtls_setting_or_empty("ssl_cert_file");
	TupleDesc	tupdesc;
	Datum		values[KC_NCOLS];
	bool		nulls[KC_NCOLS];
	StringInfoData problems;
	struct stat st;
	bool		readable = false;
	bool		asked = false;
	EVP_PKEY   *pkey = NULL;
	char	   *problem = NULL;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	memset(nulls, true, sizeof(nulls));
	initStringInfo(&problems);
	/* key_file */
	values[0] = CStringGetTextDatum(key_path);
	nulls[0] = false;

	if (key_path[0] == '\0' || stat(key_path, &st) != 0)
	{
		values[1] = BoolGetDatum(false);	/* present */
		nulls[1] = false;
		if (key_path[0] == '\0')
			appendStringInfoString(&problems, "ssl_key_file is not set");
		else
			appendStringInfo(&problems, "could not access file \"%s\": %m", key_path);
	}
	else
	{
		struct passwd *pw = getpwuid(st.st_uid);
		KeyFilePermission perm = key_file_permission(&st);

		values[1] = BoolGetDatum(true);
		nulls[1] = false;
		/* owner, mode */
		values[2] = CStringGetTextDatum(pw ? pw->pw_name : psprintf("%u", (unsigned) st.st_uid));
		nulls[2] = false;
		values[3] = CStringGetTextDatum(psprintf("%04o", (unsigned) (st.st_mode & 07777)));
		nulls[3] = false;

		if (perm == KEY_FILE_NOT_REGULAR)
			appendStringInfoString(&problems, "not a regular file");
		else if (perm == KEY_FILE_BAD_OWNER)
			appendStringInfoString(&problems, "must be owned by the database user or root");
		else if (perm == KEY_FILE_GROUP_WORLD_ACCESS)
			appendStringInfoString(&problems, "has group or world access: at most 0600 if owned by the database user, 0640 if owned by root");
		values[4] = BoolGetDatum(perm == KEY_FILE_OK);
		nulls[4] = false;

		if (S_ISREG(st.st_mode))
		{
			pkey = read_private_key_file(key_path, &asked, &problem);
			readable = problem == NULL;
		}
		values[5] = BoolGetDatum(readable);
		nulls[5] = false;
		if (S_ISREG(st.st_mode) && !readable)
		{
			if (problems.len)
				appendStringInfoString(&problems, "; ");
			appendStringInfoString(&problems, problem);
		}
	}

	if (readable)
	{
		values[8] = BoolGetDatum(asked);	/* encrypted */
		nulls[8] = false;
		if (pkey)
		{
			char	   *cbuf;
			size_t		clen;
			char	   *cproblem;

			values[6] = CStringGetTextDatum(key_type_name(pkey));
			nulls[6] = false;
			values[7] = Int32GetDatum(EVP_PKEY_bits(pkey));
			nulls[7] = false;

			/* matches_certificate: the first certificate of ssl_cert_file */
			cbuf = pgtls_read_file(cert_path, &clen, &cproblem);
			if (cbuf)
			{
				ParseResult res;

				parse_result_init(&res);
				parse_pem(cbuf, clen, &res, false);
				pfree(cbuf);
				if (res.error == NULL && sk_X509_num(res.certs) > 0)
				{
					values[9] = BoolGetDatum(X509_check_private_key(sk_X509_value(res.certs, 0), pkey) == 1);
					nulls[9] = false;
					if (!DatumGetBool(values[9]))
					{
						if (problems.len)
							appendStringInfoString(&problems, "; ");
						appendStringInfoString(&problems, "the key does not match the certificate in ssl_cert_file");
					}
				}
				parse_result_free(&res);
				ERR_clear_error();
			}
			EVP_PKEY_free(pkey);
		}
		else
		{
			if (problems.len)
				appendStringInfoString(&problems, "; ");
			appendStringInfoString(&problems, asked ?
								   "the key is protected by a passphrase; its type and match with the certificate were not checked" :
								   "the file holds no PEM private key the server can load");
		}
	}

	/* passphrase command, as a hint for encrypted keys */
	values[10] = BoolGetDatum(pgtls_setting_or_empty("ssl_passphrase_command")[0] != '\0');
	nulls[10] = false;
	if (problems.len)
	{
		values[11] = CStringGetTextDatum(problems.data);
		nulls[11] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
