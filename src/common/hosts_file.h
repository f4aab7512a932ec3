/*-------------------------------------------------------------------------
 *
 * hosts_file.h
 *	  PostgreSQL 19's pg_hosts.conf (ssl_sni = on), read without allocating
 *	  (common/hosts_file.c).
 *
 * src/common/hosts_file.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_COMMON_HOSTS_FILE_H
#define PGTLS_COMMON_HOSTS_FILE_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* Longest field kept; a longer one is cut and marked truncated. */
#define PGTLS_HOSTS_FIELD_MAX 1024
#define PGTLS_HOSTS_MAX_FIELDS 6

/*
 * One line of pg_hosts.conf:
 *	HOSTNAME[,HOSTNAME...] SSL_CERTIFICATE SSL_KEY [SSL_CA]
 *	[PASSPHRASE_COMMAND] [PASSPHRASE_COMMAND_RELOAD]
 * Fields keep their text without quotes; the host-name field is the
 * comma-separated list as written (with the blanks after commas removed).
 */
typedef struct PgtlsHostsLine
{
	int			line;			/* line number (of its first physical line) */
	int			nfields;
	char		field[PGTLS_HOSTS_MAX_FIELDS][PGTLS_HOSTS_FIELD_MAX];
	bool		truncated;		/* a field was longer than the buffer */
	bool		too_many_fields;
} PgtlsHostsLine;

#define PGTLS_HOSTS_NAMES 0
#define PGTLS_HOSTS_CERT 1
#define PGTLS_HOSTS_KEY 2
#define PGTLS_HOSTS_CA 3
#define PGTLS_HOSTS_PASSCMD 4
#define PGTLS_HOSTS_PASSRELOAD 5

/*
 * The hosts file the server reads and whether it uses it: NULL before 19
 * (no hosts_file setting) or when ssl_sni is off.  Reads settings only:
 * safe anywhere, raises nothing.
 */
extern const char *pgtls_hosts_file_in_use(void);

/*
 * Next line of a pg_hosts.conf text (buf, len bytes) from *pos on; false at
 * the end.  Comments, blank lines and backslash-newline continuations are
 * handled as by the server's tokenizer.  Allocates nothing, raises nothing.
 */
extern bool pgtls_hosts_next_line(const char *buf, size_t len, size_t *pos,
								  int *lineno, PgtlsHostsLine *out);

/* Does this line's host-name list hold name (case-insensitively)? */
extern bool pgtls_hosts_line_has_name(const PgtlsHostsLine *l, const char *name);

/*
 * The line that serves a client that sent server name sni (NULL: none
 * sent), as the server chooses it: the line naming it, else the "*" line;
 * without a server name the "/no_sni/" line, else the "*" line.  Returns
 * its line number, 0 when no line serves it.  Reads the file with plain
 * read(2) into a static buffer (64 kB at most): no allocation, no ERROR,
 * usable in an exit callback.
 */
extern int	pgtls_hosts_entry_for(const char *path, const char *sni);

/*
 * For SQL functions (these allocate and may raise): every line of the
 * hosts file at path as a List of palloc'd PgtlsHostsLine, in file order.
 * false with *problem set when the file cannot be read (*missing: it does
 * not exist).
 */
extern bool pgtls_hosts_load(const char *path, List **lines, char **problem,
							 bool *missing);

/* The host names of a line as a List of palloc'd strings. */
extern List *pgtls_hosts_names(const PgtlsHostsLine *l);

/*
 * What the server's parser (be-secure-common.c, parse_hosts_line) refuses
 * in this line, as a full sentence; NULL when it accepts it.  With one
 * refused line the server loads none of the file.
 */
extern const char *pgtls_hosts_line_problem(const PgtlsHostsLine *l);

#endif							/* PGTLS_COMMON_HOSTS_FILE_H */
