/*-------------------------------------------------------------------------
 *
 * key_check.h
 *	  The server's rules for its private key file, and reading the key
 *	  without a passphrase prompt (certs/key_check.c); used by
 *	  server_key_check() and by the findings (config/ssl_checks.c).
 *
 * src/certs/key_check.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CERTS_KEY_CHECK_H
#define PGTLS_CERTS_KEY_CHECK_H

#include "postgres.h"

#include <sys/stat.h>

#include <openssl/evp.h>

/* What check_ssl_key_file_permissions() would refuse the key file for */
typedef enum KeyFilePermission
{
	KEY_FILE_OK,
	KEY_FILE_NOT_REGULAR,
	KEY_FILE_BAD_OWNER,			/* neither the database user nor root */
	KEY_FILE_GROUP_WORLD_ACCESS /* more than 0600 (owner), 0640 (root) */
} KeyFilePermission;

extern KeyFilePermission key_file_permission(const struct stat *st);
extern EVP_PKEY *read_private_key_file(const char *path, bool *encrypted,
									   char **problem);

#endif							/* PGTLS_CERTS_KEY_CHECK_H */
