/*-------------------------------------------------------------------------
 *
 * hosts_file.c
 *	  PostgreSQL 19's pg_hosts.conf, the per-host certificates of server
 *	  side SNI (ssl_sni = on, setting hosts_file), read by a small parser
 *	  of our own that uses no memory context (one malloc'd buffer) and
 *	  raises nothing; and, for the SQL functions (certificates, key check,
 *	  findings), the whole file as a list and the checks the server's own
 *	  parser makes of each line.
 *
 * Why not the server's own load_hosts(): it exists only on 19, allocates,
 * may raise, and its result is not exported to extensions; the audit
 * record needs the line that served a connection from an exit callback,
 * where nothing may raise.  The syntax is the one of pg_hba.conf's
 * tokenizer: blank-separated fields, '#' comments, double quotes, comma
 * lists (blanks after a comma allowed), a backslash at the end of a line
 * continues it.  Not handled: "@file" host-name lists are kept as written
 * and match no server name (their names are then served by the "*" line
 * here, by the listed line in the server).
 *
 * The server chooses the line for a connection (be-secure-openssl.c,
 * sni_clienthello_cb, as its tests show): the line naming the client's
 * server name, case-insensitively, else the "*" line; a client sending no
 * server name gets the "/no_sni/" line, else the "*" line; otherwise the
 * handshake fails (unrecognized_name / missing_extension alerts).
 *
 * src/common/hosts_file.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "common/files.h"
#include "common/hosts_file.h"
#include "miscadmin.h"
#include "utils/guc.h"

#define HOSTS_READ_MAX (64 * 1024)

const char *
pgtls_hosts_file_in_use(void)
{
	const char *sni = GetConfigOption("ssl_sni", true, false);
	const char *path = GetConfigOption("hosts_file", true, false);

	if (sni == NULL || strcmp(sni, "on") != 0 || path == NULL || path[0] == '\0')
		return NULL;
	return path;
}

static bool
hosts_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Skip blanks and backslash-newline continuations. */
static size_t
skip_blanks(const char *buf, size_t len, size_t p, int *lineno)
{
	for (;;)
	{
		if (p < len && hosts_blank(buf[p]))
			p++;
		else if (p + 1 < len && buf[p] == '\\' && buf[p + 1] == '\n')
		{
			p += 2;
			(*lineno)++;
		}
		else
			return p;
	}
}

/* Append a character to a field, marking truncation. */
static void
field_add(PgtlsHostsLine *out, int f, size_t *flen, char c)
{
	if (*flen + 1 < PGTLS_HOSTS_FIELD_MAX)
	{
		out->field[f][(*flen)++] = c;
		out->field[f][*flen] = '\0';
	}
	else
		out->truncated = true;
}

/*
 * Read one field from p: a token, or a comma list of tokens.  Returns the
 * position after it.
 */
static size_t
read_field(const char *buf, size_t len, size_t p, int *lineno,
		   PgtlsHostsLine *out, int f)
{
	size_t		flen = 0;
	bool		in_quote = false;

	out->field[f][0] = '\0';
	while (p < len)
	{
		char		c = buf[p];

		if (!in_quote && (c == '\n' || c == '#' || hosts_blank(c)))
			break;
		if (!in_quote && c == '\\' && p + 1 < len && buf[p + 1] == '\n')
			break;
		p++;
		if (c == '"')
		{
			in_quote = !in_quote;
			continue;
		}
		field_add(out, f, &flen, c);
		if (c == ',' && !in_quote)
			p = skip_blanks(buf, len, p, lineno);
	}
	return p;
}

bool
pgtls_hosts_next_line(const char *buf, size_t len, size_t *pos, int *lineno,
					  PgtlsHostsLine *out)
{
	size_t		p = *pos;

	while (p < len)
	{
		int			start_line;

		p = skip_blanks(buf, len, p, lineno);
		start_line = *lineno;
		out->nfields = 0;
		out->truncated = false;
		out->too_many_fields = false;
		while (p < len && buf[p] != '\n' && buf[p] != '#')
		{
			if (out->nfields < PGTLS_HOSTS_MAX_FIELDS)
				p = read_field(buf, len, p, lineno, out, out->nfields++);
			else
			{
				PgtlsHostsLine scratch;

				out->too_many_fields = true;
				p = read_field(buf, len, p, lineno, &scratch, 0);
			}
			p = skip_blanks(buf, len, p, lineno);
		}
		/* the rest of the line: a comment */
		while (p < len && buf[p] != '\n')
			p++;
		if (p < len)
		{
			p++;
			(*lineno)++;
		}
		if (out->nfields > 0)
		{
			out->line = start_line;
			*pos = p;
			return true;
		}
	}
	*pos = p;
	return false;
}

bool
pgtls_hosts_line_has_name(const PgtlsHostsLine *l, const char *name)
{
	const char *s = l->field[PGTLS_HOSTS_NAMES];
	size_t		n = strlen(name);

	while (*s)
	{
		const char *comma = strchr(s, ',');
		size_t		len = comma ? (size_t) (comma - s) : strlen(s);

		if (len == n && pg_strncasecmp(s, name, n) == 0)
			return true;
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	return false;
}

/*
 * The line serving a connection, for the exit path: the file is read into
 * one malloc'd buffer, freed before returning (a static one of 64 kB sat
 * between the small statics every connection writes, a page fault more per
 * backend); 0 when the file cannot be read or the memory is not there.
 */
int
pgtls_hosts_entry_for(const char *path, const char *sni)
{
	struct
	{
		PgtlsHostsLine line;
		char		buf[HOSTS_READ_MAX];
	}		   *work;
	int			fd;
	ssize_t		n;
	size_t		len = 0;
	size_t		pos = 0;
	int			lineno = 1;
	int			named = 0,
				no_sni = 0,
				deflt = 0;

	work = malloc(sizeof(*work));
	if (work == NULL)
		return 0;
	fd = open(path, O_RDONLY | PG_BINARY, 0);
	if (fd < 0)
	{
		free(work);
		return 0;
	}
	while (len < sizeof(work->buf) &&
		   (n = read(fd, work->buf + len, sizeof(work->buf) - len)) > 0)
		len += n;
	close(fd);

	while (pgtls_hosts_next_line(work->buf, len, &pos, &lineno, &work->line))
	{
		if (named == 0 && sni != NULL && pgtls_hosts_line_has_name(&work->line, sni))
			named = work->line.line;
		if (no_sni == 0 && pgtls_hosts_line_has_name(&work->line, "/no_sni/"))
			no_sni = work->line.line;
		if (deflt == 0 && pgtls_hosts_line_has_name(&work->line, "*"))
			deflt = work->line.line;
	}
	free(work);
	if (sni != NULL)
		return named ? named : deflt;
	return no_sni ? no_sni : deflt;
}

/* ---------------------------------------------------------------------
 * For SQL functions: the whole file as a list (allocates, may raise)
 * ---------------------------------------------------------------------
 */
bool
pgtls_hosts_load(const char *path, List **lines, char **problem, bool *missing)
{
	size_t		len;
	size_t		pos = 0;
	int			lineno = 1;
	char	   *buf;
	PgtlsHostsLine *l = palloc(sizeof(PgtlsHostsLine));

	*lines = NIL;
	*missing = access(path, F_OK) != 0 && errno == ENOENT;
	buf = pgtls_read_file(path, &len, problem);
	if (buf == NULL)
	{
		pfree(l);
		return false;
	}
	while (pgtls_hosts_next_line(buf, len, &pos, &lineno, l))
	{
		CHECK_FOR_INTERRUPTS();
		*lines = lappend(*lines, l);
		l = palloc(sizeof(PgtlsHostsLine));
	}
	pfree(l);
	pfree(buf);
	return true;
}

List *
pgtls_hosts_names(const PgtlsHostsLine *l)
{
	List	   *names = NIL;
	const char *s = l->field[PGTLS_HOSTS_NAMES];

	while (*s)
	{
		const char *comma = strchr(s, ',');
		size_t		len = comma ? (size_t) (comma - s) : strlen(s);

		CHECK_FOR_INTERRUPTS();
		if (len > 0)
			names = lappend(names, pnstrdup(s, len));
		if (comma == NULL)
			break;
		s = comma + 1;
	}
	return names;
}

static bool
hosts_bool_word(const char *s)
{
	static const char *const words[] = {"on", "off", "true", "false", "yes",
	"no", "1", "0", "t", "f", "y", "n", NULL};

	for (int i = 0; words[i]; i++)
		if (pg_strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

const char *
pgtls_hosts_line_problem(const PgtlsHostsLine *l)
{
	List	   *names = pgtls_hosts_names(l);
	ListCell   *lc;

	if (l->truncated)
		return "A field is longer than pgtls_audit reads; the line was not checked.";
	if (l->too_many_fields)
		return "The line has more than six fields: the server refuses it (extra fields at end of line).";
	if (l->nfields < 3)
		return "The line has no certificate or no key field: the server refuses it (missing entry at end of line).";
	if (list_length(names) > 1)
	{
		foreach(lc, names)
		{
			const char *n = lfirst(lc);

			if (strcmp(n, "*") == 0 || strcmp(n, "/no_sni/") == 0)
				return "The line mixes \"*\" or \"/no_sni/\" with other host names: the server refuses it.";
		}
	}
	if (l->nfields == 6 && !hosts_bool_word(l->field[PGTLS_HOSTS_PASSRELOAD]))
		return "The passphrase reload field is not a boolean: the server refuses the line.";
	return NULL;
}
