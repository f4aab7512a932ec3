/*-------------------------------------------------------------------------
 *
 * pg_compat.h
 *	  Every PostgreSQL version difference pgtls_audit depends on, in one
 *	  place.  Other files use these macros and never test PG_VERSION_NUM.
 *
 * Supported: PostgreSQL 15 and newer.
 *
 *	16: the authenticated identity moved from Port.authn_id to
 *		MyClientConnectionInfo.authn_id; HbaLine gained sourcefile and
 *		rulenumber (include directives in pg_hba.conf).
 *	17: direct TLS (sslnegotiation=direct) with ALPN; Port.alpn_used.
 *	16: pg_hba.conf tokenizer API: open_auth_file()/free_auth_file(),
 *		tokenize_auth_file() gained a depth argument and lost its memory
 *		context result; include/include_dir/include_if_exists directives;
 *		TokenizedAuthLine.file_name; AuthToken.regex (database and user
 *		fields starting with a slash are regular expressions).
 *	18: PG_MODULE_MAGIC_EXT; ssl_ecdh_curve renamed ssl_groups;
 *		ssl_tls13_ciphers; log_connections became a list; oauth method;
 *		MD5 passwords deprecated (md5_password_warnings).
 *	19 (rc, tested in the matrix): the radius method is gone; a warning
 *		after every login with an MD5 password; postgres.h
 *		no longer includes varatt.h (in its own header since 16);
 *		pg_isblank() is gone; server-side SNI (pg_hosts.conf) with the
 *		ClientHello callback owned by core (README, "What PostgreSQL 19
 *		lets an extension see").
 *
 * src/pg_compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_AUDIT_COMPAT_H
#define PGTLS_AUDIT_COMPAT_H

#include "postgres.h"
#include "libpq/libpq-be.h"
#include "libpq/hba.h"

#if PG_VERSION_NUM < 150000
#error "pgtls_audit requires PostgreSQL 15 or newer"
#endif

/*
 * include, include_if_exists and include_dir in pg_hba.conf (16+), and how
 * deep the tokenizer nests included and @files: 16+ stops at 10 levels
 * (CONF_FILE_MAX_DEPTH), 15 has no limit (0 here).
 */
#if PG_VERSION_NUM >= 160000
#define PGTLS_HBA_HAS_INCLUDES true
#define PGTLS_HBA_MAX_NESTING 10
#else
#define PGTLS_HBA_HAS_INCLUDES false
#define PGTLS_HBA_MAX_NESTING 0
#endif

/*
 * Symbol visibility.  The module is built with -fvisibility=hidden (the
 * Makefile; PGXS itself from 16 on), so that only what the server looks up
 * by name is exported: the SQL-callable functions and their pg_finfo
 * records (PG_FUNCTION_INFO_V1), _PG_init and the magic block, all
 * declared PGDLLEXPORT.  16's c.h defines PGDLLEXPORT as default
 * visibility and its PG_FUNCTION_INFO_V1 declares the function itself
 * PGDLLEXPORT.  15's c.h defines PGDLLEXPORT empty outside Windows, its
 * PG_FUNCTION_INFO_V1 exports only the pg_finfo record, and its fmgr.h
 * does not declare _PG_init: all three would be hidden, so on 15 they
 * are redefined here as 16 has them (fmgr.h expands these macros where
 * they are used, after this header).
 */
#if PG_VERSION_NUM < 160000 && !defined(WIN32) && defined(__GNUC__)
#include "fmgr.h"
#undef PGDLLEXPORT
#define PGDLLEXPORT __attribute__((visibility("default")))
#undef PG_FUNCTION_INFO_V1
#define PG_FUNCTION_INFO_V1(funcname) \
extern PGDLLEXPORT Datum funcname(PG_FUNCTION_ARGS); \
extern PGDLLEXPORT const Pg_finfo_record * CppConcat(pg_finfo_,funcname)(void); \
const Pg_finfo_record * \
CppConcat(pg_finfo_,funcname) (void) \
{ \
	static const Pg_finfo_record my_finfo = { 1 }; \
	return &my_finfo; \
} \
extern int no_such_variable
extern PGDLLEXPORT void _PG_init(void);
#endif

/* Module magic block, with name and version where the server records them. */
#if PG_VERSION_NUM >= 180000
#define PGTLS_MODULE_MAGIC \
	PG_MODULE_MAGIC_EXT(.name = "pgtls_audit", .version = PGTLS_AUDIT_VERSION)
#else
#define PGTLS_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/* Authenticated identity (NULL when none, e.g. trust). */
#if PG_VERSION_NUM >= 160000
#include "miscadmin.h"
#define PGTLS_AUTHN_ID(port) (MyClientConnectionInfo.authn_id)
#else
#define PGTLS_AUTHN_ID(port) ((port)->authn_id)
#endif

/*
 * Memory for a GUC check hook's "extra": from 16 on the GUC machinery frees
 * it with guc_free() (pfree in its own context), before with free().
 */
#if PG_VERSION_NUM >= 160000
#include "utils/guc.h"
#define PGTLS_GUC_MALLOC(size) guc_malloc(LOG, (size))
#else
#define PGTLS_GUC_MALLOC(size) malloc(size)
#endif

/* Variable-length datum macros (VARDATA_ANY ...): their own header from 16 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/* The radius authentication method (removed in 19). */
#if PG_VERSION_NUM >= 190000
#define PGTLS_UA_IS_RADIUS(m) false
#else
#define PGTLS_UA_IS_RADIUS(m) ((m) == uaRADIUS)
#endif

/*
 * hba.c's test for a blank between tokens: exported as pg_isblank() up to
 * 18, static in 19 (the same three characters).
 */
#if PG_VERSION_NUM >= 190000
#define PGTLS_ISBLANK(c) ((c) == ' ' || (c) == '\t' || (c) == '\r')
#else
#define PGTLS_ISBLANK(c) pg_isblank(c)
#endif

/* File holding the pg_hba line that matched (include files from 16 on). */
#if PG_VERSION_NUM >= 160000
#define PGTLS_HBA_SOURCEFILE(hba) ((hba)->sourcefile)
#define PGTLS_HBA_SET_SOURCEFILE(hba, file) ((hba)->sourcefile = (file))
#else
#include "utils/guc.h"
#define PGTLS_HBA_SOURCEFILE(hba) (HbaFileName)
#define PGTLS_HBA_SET_SOURCEFILE(hba, file) ((void) (file))
#endif

/* Whether the client negotiated ALPN "postgresql" (-1: server cannot tell). */
#if PG_VERSION_NUM >= 170000
#define PGTLS_ALPN_USED(port) ((port)->alpn_used ? 1 : 0)
#else
#define PGTLS_ALPN_USED(port) (-1)
#endif

/* Names of ssl settings that changed. */
#if PG_VERSION_NUM >= 180000
#define PGTLS_GUC_SSL_GROUPS "ssl_groups"
#define PGTLS_HAVE_TLS13_CIPHERS_GUC 1
#else
#define PGTLS_GUC_SSL_GROUPS "ssl_ecdh_curve"
#define PGTLS_HAVE_TLS13_CIPHERS_GUC 0
#endif

/*
 * What the running server does about MD5 passwords, appended to the hints of
 * the findings on MD5 (AUTH005: an md5 line, AUTH007: password_encryption =
 * md5).  18 deprecates them: md5_password_warnings (on by default) makes
 * CREATE/ALTER ROLE warn "setting an MD5-encrypted password".  19 also warns
 * the client after every login that used an MD5 password ("authenticated
 * with an MD5-encrypted password"), with the md5 and the password method.
 */
#if PG_VERSION_NUM >= 190000
#define PGTLS_MD5_DEPRECATION_HINT \
	" This server (PostgreSQL 19) warns when an MD5 password is set and after every login that uses one (md5_password_warnings), and MD5 passwords are to be removed in a future release."
#elif PG_VERSION_NUM >= 180000
#define PGTLS_MD5_DEPRECATION_HINT \
	" This server (PostgreSQL 18) warns when an MD5 password is set (md5_password_warnings), and MD5 passwords are to be removed in a future release."
#else
#define PGTLS_MD5_DEPRECATION_HINT \
	" PostgreSQL 18 deprecates MD5 passwords (it warns when one is set, 19 also after every login that uses one), and a future release removes them."
#endif

/*
 * Whether core's log_connections logs authorized connections: a bool
 * before 18, a list of aspects from 18 ('on' = receipt, authentication,
 * authorization).
 */
#if PG_VERSION_NUM >= 180000
#include "tcop/backend_startup.h"
#define PGTLS_CORE_LOGS_AUTHORIZATION() \
	((log_connections & LOG_CONNECTION_AUTHORIZATION) != 0)
#else
#include "postmaster/postmaster.h"
#define PGTLS_CORE_LOGS_AUTHORIZATION() (Log_connections)
#endif

/*
 * How the server applies that setting: 18 passes ssl_groups, a
 * colon-separated list, to SSL_CTX_set1_groups_list(); before 18
 * ssl_ecdh_curve is one elliptic curve's short name, turned into a key with
 * OBJ_sn2nid() and EC_KEY_new_by_curve_name() (so X25519 is refused).
 */
#if PG_VERSION_NUM >= 180000
#define PGTLS_SSL_GROUPS_IS_LIST 1
#else
#define PGTLS_SSL_GROUPS_IS_LIST 0
#endif

/*
 * ---- pg_hba.conf tokenizing (config/hba_parse.c) ----
 *
 * PgtlsAuthFile holds what must be released after the tokens are used.
 * pgtls_tokenize_hba_file() opens the file (ERROR if it cannot) and returns
 * the list of TokenizedAuthLine the server's own tokenizer made of it, with
 * @file lists (and on 16+ include directives) expanded;
 * pgtls_free_hba_file() frees the tokens (not what parse_hba_line()
 * allocated in the caller's context).
 *
 *	15:  the caller opens and closes the file; tokenize_auth_file(filename,
 *		 file, &lines, elevel) returns the memory context of the tokens.
 *	16+: open_auth_file(filename, elevel, depth, &err) opens the file and
 *		 creates hba.c's tokenizer context; tokenize_auth_file(..., depth)
 *		 fills the list; free_auth_file(file, depth) closes the file and
 *		 deletes the context.
 */
#include "mb/pg_wchar.h"
#include "storage/fd.h"
#include "utils/memutils.h"

typedef struct PgtlsAuthFile
{
	FILE	   *file;			/* 16+: open until freed */
	MemoryContext cxt;			/* 15: the tokens' context */
} PgtlsAuthFile;

#if PG_VERSION_NUM >= 160000

static inline List *
pgtls_tokenize_hba_file(const char *path, PgtlsAuthFile *af)
{
	List	   *lines = NIL;

	af->cxt = NULL;
	af->file = open_auth_file(path, ERROR, 0, NULL);
	tokenize_auth_file(path, af->file, &lines, DEBUG3, 0);
	return lines;
}

static inline void
pgtls_free_hba_file(PgtlsAuthFile *af)
{
	free_auth_file(af->file, 0);
	af->file = NULL;
}

/* File a tokenized line came from (include files on 16+). */
#define PGTLS_TOKLINE_FILE(tokline, toppath) ((tokline)->file_name)
/* Whether pg_hba.conf may contain include directives */
#define PGTLS_HBA_HAVE_INCLUDES 1

/* Database and user tokens starting with a slash are regular expressions. */
#define PGTLS_TOKEN_HAS_REGEX(tok) ((tok)->regex != NULL)

/* Does a regular-expression token match str?  (hba.c: regexec_auth_token) */
static inline bool
pgtls_token_regex_matches(AuthToken *tok, const char *str)
{
	pg_wchar   *wstr;
	int			wlen;
	int			r;

	if (tok->regex == NULL)
		return false;
	wstr = palloc((strlen(str) + 1) * sizeof(pg_wchar));
	wlen = pg_mb2wchar_with_len(str, wstr, strlen(str));
	r = pg_regexec(tok->regex, wstr, wlen, 0, NULL, 0, NULL, 0);
	pfree(wstr);
	return r == REG_OKAY;
}

#else							/* PostgreSQL 15 */

static inline List *
pgtls_tokenize_hba_file(const char *path, PgtlsAuthFile *af)
{
	List	   *lines = NIL;
	FILE	   *file;

	af->file = NULL;
	file = AllocateFile(path, "r");
	if (file == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	af->cxt = tokenize_auth_file(path, file, &lines, DEBUG3);
	FreeFile(file);
	return lines;
}

static inline void
pgtls_free_hba_file(PgtlsAuthFile *af)
{
	MemoryContextDelete(af->cxt);
	af->cxt = NULL;
}

#define PGTLS_TOKLINE_FILE(tokline, toppath) (toppath)
#define PGTLS_HBA_HAVE_INCLUDES 0
#define PGTLS_TOKEN_HAS_REGEX(tok) ((void) (tok), false)

static inline bool
pgtls_token_regex_matches(AuthToken *tok, const char *str)
{
	return false;
}

#endif

#endif							/* PGTLS_AUDIT_COMPAT_H */
