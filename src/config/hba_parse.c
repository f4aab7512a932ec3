/*-------------------------------------------------------------------------
 *
 * hba_parse.c
 *	  pg_hba.conf read with the server's own tokenizer and parser
 *	  (tokenize_auth_file, parse_hba_line): one HbaRule per line, its
 *	  connection kinds, address and options filled from the parsed line,
 *	  secrets redacted (hba_redact.c) as soon as the line is read.  The
 *	  analysis of the rules is hba_analysis.c.
 *
 * The file is read from disk, as pg_hba_file_rules does: the postmaster's
 * parsed lines are not reachable from a backend.  hba_findings.c says when
 * the file on disk is newer than the last configuration load (HBA007).
 *
 * src/config/hba_parse.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "config/hba.h"
#include "common/settings.h"
#include "config/hba_parse.h"
#include "config/hba_redact.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"

const char *
hba_conntype_name(ConnType type)
{
	switch (type)
	{
		case ctLocal:
			return "local";
		case ctHost:
			return "host";
		case ctHostSSL:
			return "hostssl";
		case ctHostNoSSL:
			return "hostnossl";
		case ctHostGSS:
			return "hostgssenc";
		case ctHostNoGSS:
			return "hostnogssenc";
	}
	return "unknown";
}

static int
conn_kinds_of(ConnType type)
{
	switch (type)
	{
		case ctLocal:
			return HBA_CONN_LOCAL;
		case ctHost:
			return HBA_CONN_SSL | HBA_CONN_GSS | HBA_CONN_PLAIN;
		case ctHostSSL:
			return HBA_CONN_SSL;
		case ctHostNoSSL:
			return HBA_CONN_GSS | HBA_CONN_PLAIN;
		case ctHostGSS:
			return HBA_CONN_GSS;
		case ctHostNoGSS:
			return HBA_CONN_SSL | HBA_CONN_PLAIN;
	}
	return 0;
}

/*
 * The file argument of hba_rules(), hba_match() and check_config(): NULL
 * means the configured hba_file; any other path needs the privileges of
 * pg_read_server_files, as core's pg_read_file() does for paths outside
 * the data directory (superusers have them).
 */
const char *
hba_file_argument(FunctionCallInfo fcinfo, int argno)
{
	char	   *path;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return HbaFileName;
	path = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(path, HbaFileName) != 0 &&
		!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to analyze pg_hba file \"%s\"", path),
				 errdetail("Only roles with privileges of the \"%s\" role may analyze a file other than the configured hba_file.",
						   "pg_read_server_files")));
	return path;
}

/* Network-order bytes of an address, into out[16]; returns its length */
static int
sockaddr_bytes(const struct sockaddr_storage *ss, uint8 *out)
{
	memset(out, 0, 16);
	if (ss->ss_family == AF_INET)
	{
		memcpy(out, &((const struct sockaddr_in *) ss)->sin_addr, 4);
		return 4;
	}
	if (ss->ss_family == AF_INET6)
	{
		memcpy(out, &((const struct sockaddr_in6 *) ss)->sin6_addr, 16);
		return 16;
	}
	return 0;
}

static int
mask_prefix(const uint8 *mask, int len)
{
	int			bits = 0;
	int			i;
	bool		ended = false;

	for (i = 0; i < len * 8; i++)
	{
		bool		one = (mask[i / 8] >> (7 - i % 8)) & 1;

		if (one && ended)
			return -1;
		if (one)
			bits++;
		else
			ended = true;
	}
	return bits;
}

static bool
rule_loopback_only(const HbaRule *r)
{
	switch (r->addr_kind)
	{
		case HBA_ADDR_NONE:
		case HBA_ADDR_SAMEHOST:
			return true;
		case HBA_ADDR_HOSTNAME:
			return pg_strcasecmp(r->hba->hostname, "localhost") == 0;
		case HBA_ADDR_MASK:
			if (r->family == AF_INET)
				return r->mask[0] == 0xff && r->addr[0] == 127;
			{
				static const uint8 lo6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
				int			i;

				for (i = 0; i < 16; i++)
					if (r->mask[i] != 0xff || r->addr[i] != lo6[i])
						return false;
				return true;
			}
		default:
			return false;
	}
}

/* Fill the address and option fields of a parsed rule from its tokens */
static void
fill_rule_fields(HbaRule *r, TokenizedAuthLine *tl)
{
	HbaLine    *hba = r->hba;
	int			method_field;
	int			i = 0;
	ListCell   *lc;

	r->conn_kinds = conn_kinds_of(hba->conntype);
	method_field = 3;
	if (hba->conntype == ctLocal)
		r->addr_kind = HBA_ADDR_NONE;
	else
	{
		AuthToken  *addrtok = linitial((List *) list_nth(tl->fields, 3));

		r->address = pstrdup(addrtok->string);
		method_field = 4;
		switch (hba->ip_cmp_method)
		{
			case ipCmpAll:
				r->addr_kind = HBA_ADDR_ALL;
				break;
			case ipCmpSameHost:
				r->addr_kind = HBA_ADDR_SAMEHOST;
				break;
			case ipCmpSameNet:
				r->addr_kind = HBA_ADDR_SAMENET;
				break;
			case ipCmpMask:
				if (hba->hostname)
					r->addr_kind = HBA_ADDR_HOSTNAME;
				else
				{
					int			len;

					r->addr_kind = HBA_ADDR_MASK;
					r->family = hba->addr.ss_family;
					len = sockaddr_bytes(&hba->addr, r->addr);
					sockaddr_bytes(&hba->mask, r->mask);
					r->prefix = mask_prefix(r->mask, len);
					if (strchr(addrtok->string, '/') == NULL)
					{
						AuthToken  *m = linitial((List *) list_nth(tl->fields, 4));

						r->netmask = pstrdup(m->string);
						method_field = 5;
					}
				}
				break;
		}
	}

	foreach(lc, tl->fields)
	{
		if (i++ > method_field)
			r->options = lappend(r->options, hba_option_text(lfirst(lc), false));
	}

	r->loopback_only = rule_loopback_only(r);
	r->wide = r->addr_kind == HBA_ADDR_ALL ||
		(r->addr_kind == HBA_ADDR_MASK && r->prefix == 0);
}


/*
 * The server's tokenizer and parser report each problem at the level they
 * are given besides returning it in err_msg (which is what the rules keep).
 * Those reports would reach a client that set client_min_messages = debug3,
 * and the server log, with the line's secrets in them ("could not parse
 * RADIUS secret list \"...\""), so they are silenced while the file is
 * read, the way a function's SET clause works: the settings come back at
 * the end, or when an error unwinds the transaction.
 */
static int
quiet_parser_begin(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("client_min_messages", "error", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, ERROR, false);
	(void) set_config_option("log_min_messages", "error", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, ERROR, false);
	return nest;
}

/*
 * A budget on the files a pg_hba file opens.  The server's own tokenizer
 * opens a file every time it is named: by an include, include_if_exists or
 * include_dir directive (16+), and by an @file reference in a field (an
 * @file may reference @files itself).  From 16 on it stops at ten levels of
 * nesting; 15 has no limit (a file that references itself nests until the
 * backend runs out of file descriptors).  So a set of files that include
 * each other grows exponentially: a fuzzed set of 3,325 files that include
 * a directory of themselves made a backend run out of memory, and one line
 * "@u.txt,@u.txt,@u.txt" in u.txt names 3^10 files.  Before handing a file
 * to the tokenizer, what it would open is counted here, each opening once
 * (reading each file whole, so that no file stays open while a deeper one
 * is counted), and more than HBA_MAX_FILE_OPENS is an error.  Files that
 * cannot be opened and lines that cannot be read are left to the
 * tokenizer, which reports them as the server would.
 */
#define HBA_MAX_FILE_OPENS	1000

/* what a counted file holds */
typedef enum HbaCountedFile
{
	HBA_FILE_RULES,				/* rules and include directives */
	HBA_FILE_LIST				/* an @file: names and @file references */
} HbaCountedFile;

/* The include target of a line ("include x", "include_dir 'x'"), or NULL */
static char *
include_target(char *line, bool *is_dir)
{
	char	   *p = line;
	char	   *word;
	char	   *end;

	while (*p == ' ' || *p == '\t')
		p++;
	word = p;
	while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
		p++;
	if (*p == '\0')
		return NULL;
	*p++ = '\0';
	if (strcmp(word, "include") != 0 && strcmp(word, "include_if_exists") != 0 &&
		strcmp(word, "include_dir") != 0)
		return NULL;
	*is_dir = strcmp(word, "include_dir") == 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"' || *p == '\'')
	{
		char		q = *p++;

		end = strchr(p, q);
	}
	else
		end = p + strcspn(p, " \t\r\n#");
	if (end == NULL || end == p)
		return NULL;
	*end = '\0';
	return p;
}

/*
 * location relative to the directory of calling_file, canonicalized, as the
 * server does
 */
static char *
include_path(const char *location, const char *calling_file)
{
	char		dir[MAXPGPATH];
	char	   *full;

	if (is_absolute_path(location))
		full = pstrdup(location);
	else
	{
		strlcpy(dir, calling_file, sizeof(dir));
		get_parent_directory(dir);
		full = psprintf("%s/%s", dir, location);
	}
	canonicalize_path(full);	/* "users.txt/" names users.txt */
	return full;
}

/* The whole file at path, NUL-terminated, or NULL if it cannot be opened */
static char *
read_counted_file(const char *path)
{
	FILE	   *file = AllocateFile(path, "r");
	StringInfoData buf;
	char		chunk[8192];
	size_t		n;

	if (file == NULL)
		return NULL;
	initStringInfo(&buf);
	while ((n = fread(chunk, 1, sizeof(chunk), file)) > 0)
	{
		CHECK_FOR_INTERRUPTS();
		appendBinaryStringInfo(&buf, chunk, n);
	}
	FreeFile(file);
	return buf.data;
}

static void count_file_opens(const char *top, const char *path, int depth,
							 HbaCountedFile kind, int *opens);

/* the .conf files of an include_dir, as the server takes them */
static void
count_dir_opens(const char *top, const char *dirpath, int depth, int *opens)
{
	DIR		   *dir = AllocateDir(dirpath);
	struct dirent *de;
	List	   *files = NIL;
	ListCell   *lc;

	if (dir == NULL)
		return;
	while ((de = ReadDirExtended(dir, dirpath, DEBUG3)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		CHECK_FOR_INTERRUPTS();
		if (de->d_name[0] == '.' || len < 6 ||
			strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		files = lappend(files, psprintf("%s/%s", dirpath, de->d_name));
	}
	FreeDir(dir);
	foreach(lc, files)
		count_file_opens(top, lfirst(lc), depth, HBA_FILE_RULES, opens);
	list_free_deep(files);
}

/*
 * The @file references of one line, as the server's tokenizer expands
 * them: a token (tokens are separated by blanks and commas outside double
 * quotes, a # outside quotes ends the line) that does not start with a
 * quote, starts with @ and has a name after it; quotes inside it are
 * removed.  Each counts as an opening of that file, one level deeper.
 */
static void
count_line_references(const char *top, const char *line, const char *path,
					  int depth, int *opens)
{
	const char *p = line;
	StringInfoData name;

	initStringInfo(&name);
	for (;;)
	{
		bool		in_quote = false;
		bool		initial_quote;

		CHECK_FOR_INTERRUPTS();
		while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		initial_quote = *p == '"';
		resetStringInfo(&name);
		for (; *p != '\0'; p++)
		{
			if (!in_quote && (*p == ' ' || *p == '\t' || *p == ',' ||
							  *p == '\r' || *p == '#'))
				break;
			if (*p == '"')
				in_quote = !in_quote;
			else
				appendStringInfoChar(&name, *p);
		}
		if (!initial_quote && name.len > 1 && name.data[0] == '@')
		{
			char	   *full = include_path(name.data + 1, path);

			count_file_opens(top, full, depth + 1, HBA_FILE_LIST, opens);
			pfree(full);
		}
	}
	pfree(name.data);
}

/* one line of a counted file: an include directive, or @file references */
static void
count_line_opens(const char *top, char *line, const char *path, int depth,
				 HbaCountedFile kind, int *opens)
{
	if (kind == HBA_FILE_RULES && PGTLS_HBA_HAS_INCLUDES)
	{
		char	   *copy = pstrdup(line);
		bool		is_dir = false;
		char	   *target = include_target(copy, &is_dir);

		if (target != NULL)
		{
			char	   *full = include_path(target, path);

			if (is_dir)
				count_dir_opens(top, full, depth + 1, opens);
			else
				count_file_opens(top, full, depth + 1, HBA_FILE_RULES, opens);
			pfree(full);
			pfree(copy);
			return;
		}
		pfree(copy);
	}
	count_line_references(top, line, path, depth, opens);
}

static void
count_file_opens(const char *top, const char *path, int depth,
				 HbaCountedFile kind, int *opens)
{
	char	   *contents;
	char	   *line;
	char	   *next;

	check_stack_depth();
	if (PGTLS_HBA_MAX_NESTING > 0 && depth > PGTLS_HBA_MAX_NESTING)
		return;					/* the tokenizer reports the depth */
	if (++(*opens) > HBA_MAX_FILE_OPENS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("pg_hba file \"%s\" and the files it includes open more than %d files",
						top, HBA_MAX_FILE_OPENS),
				 errdetail("Each file is counted every time an include, include_if_exists or include_dir directive or an @file reference names it."),
				 errhint("Check the include directives and @file references for files that include each other.")));
	contents = read_counted_file(path);
	if (contents == NULL)
		return;
	for (line = contents; line != NULL; line = next)
	{
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		count_line_opens(top, line, path, depth, kind, opens);
	}
	pfree(contents);
}

/*
 * The rules of the file at path (and its include files), as read: the
 * analysis fields are left for hba_analyze().
 */
HbaAnalysis *
hba_read_file(const char *path)
{
	HbaAnalysis *an = palloc0(sizeof(HbaAnalysis));
	PgtlsAuthFile af;
	List	   *lines;
	ListCell   *lc;
	int			i = 0;
	int			rule_number = 0;
	const char *ssl = pgtls_setting("ssl");
	bool		redact = !hba_caller_sees_secrets();
	int			nest;

	an->path = pstrdup(path);
	an->ssl_on = ssl != NULL && strcmp(ssl, "on") == 0;
	an->files = list_make1(an->path);

	{
		int			opens = 0;

		count_file_opens(path, path, 0, HBA_FILE_RULES, &opens);
	}
	nest = quiet_parser_begin();
	lines = pgtls_tokenize_hba_file(path, &af);
	an->rules = palloc0(sizeof(HbaRule) * Max(list_length(lines), 1));

	foreach(lc, lines)
	{
		TokenizedAuthLine *tl = lfirst(lc);
		HbaRule    *r = &an->rules[i++];
		const char *file = PGTLS_TOKLINE_FILE(tl, path);
		ListCell   *fc;
		bool		known = false;

		CHECK_FOR_INTERRUPTS();
		r->file = pstrdup(file ? file : path);
		r->line_number = tl->line_num;
		r->raw_line = pstrdup(tl->raw_line ? tl->raw_line : "");
		if (tl->err_msg == NULL)
			r->hba = parse_hba_line(tl, DEBUG3);
		if (tl->err_msg)
			r->error = pstrdup(tl->err_msg);
		if (r->hba == NULL)
		{
			if (r->error == NULL)
				r->error = pstrdup("line could not be parsed");
			an->nerrors++;
		}
		else
		{
			r->rule_number = ++rule_number;
			fill_rule_fields(r, tl);
		}
		if (redact)
			hba_redact_rule(r, tl);

		foreach(fc, an->files)
			if (strcmp((char *) lfirst(fc), r->file) == 0)
				known = true;
		if (!known)
			an->files = lappend(an->files, r->file);
	}
	an->nrules = i;

	pgtls_free_hba_file(&af);
	AtEOXact_GUC(true, nest);

	return an;
}
