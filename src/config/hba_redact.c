/*-------------------------------------------------------------------------
 *
 * hba_redact.c
 *	  Secret option values of pg_hba lines, found and replaced.
 *
 * Secrets: pg_hba lines can hold credentials (ldapbindpasswd, radiussecrets
 * on 15 to 18).  Core keeps pg_hba_file_rules superuser-only for that
 * reason; this analysis is granted to pg_monitor, so for a caller without
 * the privileges of pg_read_server_files (who could read the file anyway)
 * hba_redact_rule() replaces every credential value in the raw line, the
 * options and the error text of each rule with HBA_REDACTED as soon as the
 * rule is read (hba_parse.c).  Every output (hba_rules, hba_match, the
 * findings, check_config, report) is made from those rules, so none of
 * them can show a secret; the parser's own reports, which could (e.g.
 * "could not parse RADIUS secret list"), are silenced while it runs.
 *
 * src/config/hba_redact.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "config/hba.h"
#include "config/hba_redact.h"

#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "utils/acl.h"

/* What replaces a secret in everything a caller without privileges sees */
#define HBA_REDACTED "<redacted>"

/* ---------------------------------------------------------------------
 * Secrets
 *
 * A credential option is one whose name is ldapbindpasswd or radiussecrets,
 * or contains "passw", "pwd", "secret", "credential", "token" or "key" (a
 * misspelt or future option that holds a secret: the server rejects an
 * unknown name, and its error names the option only).  Its value, and the
 * tokens after it in the same comma list (radiussecrets=a,b splits into two
 * tokens), are secret.  A credential option name written without its value
 * ("ldapbindpasswd" then "=x" or "= x") makes the next fields secret too.
 * ---------------------------------------------------------------------
 */

/* Option names whose value is secret, by substring (lower case) */
static bool
option_name_is_secret(const char *name, size_t len)
{
	static const char *const words[] = {
		"passw", "pwd", "secret", "credential", "token", "key"
	};
	char	   *lower = pnstrdup(name, len);
	bool		result = false;
	int			i;

	for (i = 0; lower[i]; i++)
		lower[i] = pg_tolower((unsigned char) lower[i]);
	for (i = 0; i < lengthof(words) && !result; i++)
		result = strstr(lower, words[i]) != NULL;
	pfree(lower);
	return result;
}

/* A bare token naming a credential option (its value follows) */
static bool
token_is_secret_option_name(const char *s)
{
	return pg_strcasecmp(s, "ldapbindpasswd") == 0 ||
		pg_strcasecmp(s, "radiussecrets") == 0;
}

/*
 * Where the secret part of one field (its tokens' texts, in order) starts:
 * the index of its first credential option token, or 0 when the previous
 * field was a credential option name without its value; -1 when it holds
 * no secret.  *pending (in: the previous field left a value to come; out:
 * this one does) carries that state from field to field.
 */
static int
field_secret_start(List *contents, bool *pending)
{
	bool		was_pending = *pending;
	int			i = 0;
	ListCell   *lc;

	*pending = false;
	if (was_pending)
	{
		if (list_length(contents) == 1 && strcmp(linitial(contents), "=") == 0)
		{
			*pending = true;	/* "name = value": the value comes next */
			return 0;
		}
		return 0;
	}
	foreach(lc, contents)
	{
		const char *s = lfirst(lc);
		const char *eq = strchr(s, '=');

		if (eq != NULL && option_name_is_secret(s, eq - s))
		{
			if (eq[1] == '\0' && i == list_length(contents) - 1)
				*pending = true;
			return i;
		}
		if (eq == NULL && token_is_secret_option_name(s) &&
			i == list_length(contents) - 1)
		{
			*pending = true;
			return -1;
		}
		i++;
	}
	return -1;
}

/* Add the secret texts of a field, from token start on, to *secrets */
static void
add_field_secrets(List *contents, int start, bool was_pending, List **secrets)
{
	int			i;

	for (i = start; i < list_length(contents); i++)
	{
		const char *s = list_nth(contents, i);

		if (i == start)
		{
			if (was_pending)
				s = s[0] == '=' ? s + 1 : s;
			else
				s = strchr(s, '=') + 1;
		}
		if (s[0] != '\0')
			*secrets = lappend(*secrets, pstrdup(s));
	}
}

/* One token of a raw line: where it is, and its text once unquoted */
typedef struct RawToken
{
	int			start;
	int			end;
	char	   *content;
} RawToken;

/*
 * The fields of a raw line (a List of Lists of RawToken), split as hba.c's
 * next_token() and next_field_expand() split them: blanks separate
 * fields, unquoted commas separate the tokens of one field, double quotes
 * protect both, "" is a literal quote.  One difference: an unquoted '#'
 * only separates, so a comment is split into fields too and a credential
 * written in a comment is redacted as well.
 */
static List *
raw_fields(const char *raw)
{
	List	   *fields = NIL;
	List	   *field = NIL;
	const char *p = raw;

	for (;;)
	{
		const char *start;
		bool		comma = false;
		bool		in_quote = false;
		bool		was_quote = false;
		StringInfoData content;
		RawToken   *t;

		while (*p && (PGTLS_ISBLANK(*p) || *p == ',' || *p == '#'))
			p++;
		if (*p == '\0')
			break;
		start = p;
		initStringInfo(&content);
		while (*p && (in_quote || (!PGTLS_ISBLANK(*p) && *p != '#')))
		{
			char		c = *p;

			if (c == ',' && !in_quote)
			{
				comma = true;
				break;
			}
			if (c != '"' || was_quote)
				appendStringInfoChar(&content, c);
			if (in_quote && c == '"')
				was_quote = !was_quote;
			else
				was_quote = false;
			if (c == '"')
				in_quote = !in_quote;
			p++;
		}
		t = palloc(sizeof(RawToken));
		t->start = start - raw;
		t->end = p - raw;
		t->content = content.data;
		field = lappend(field, t);
		if (!comma)
		{
			fields = lappend(fields, field);
			field = NIL;
		}
	}
	if (field != NIL)
		fields = lappend(fields, field);
	return fields;
}

/*
 * The raw line with every secret replaced: "name=" HBA_REDACTED from the
 * credential option to the end of its field.  Adds the secret texts to
 * *secrets.
 */
static char *
redact_raw_line(const char *raw, List **secrets)
{
	List	   *fields = raw_fields(raw);
	StringInfoData out;
	int			copied = 0;
	bool		pending = false;
	ListCell   *fc;

	initStringInfo(&out);
	foreach(fc, fields)
	{
		List	   *field = lfirst(fc);
		List	   *contents = NIL;
		bool		was_pending = pending;
		ListCell   *tc;
		RawToken   *first;
		int			start;

		foreach(tc, field)
			contents = lappend(contents, ((RawToken *) lfirst(tc))->content);
		start = field_secret_start(contents, &pending);
		if (start < 0 || (was_pending && pending))
			continue;			/* nothing secret, or the "=" of "name = value" */
		first = list_nth(field, start);
		appendBinaryStringInfo(&out, raw + copied, first->start - copied);
		if (was_pending)
			appendStringInfoString(&out, first->content[0] == '=' ?
								   "=" HBA_REDACTED : HBA_REDACTED);
		else
			appendStringInfo(&out, "%.*s=%s",
							 (int) (strchr(first->content, '=') - first->content),
							 first->content, HBA_REDACTED);
		copied = ((RawToken *) llast(field))->end;
		add_field_secrets(contents, start, was_pending, secrets);
	}
	appendStringInfoString(&out, raw + copied);
	return out.data;
}

/* The secret texts of a tokenized line (@file lists expanded) */
static void
token_secrets(List *fields, List **secrets)
{
	bool		pending = false;
	ListCell   *fc;

	foreach(fc, fields)
	{
		List	   *contents = NIL;
		bool		was_pending = pending;
		ListCell   *tc;
		int			start;

		foreach(tc, (List *) lfirst(fc))
			contents = lappend(contents, ((AuthToken *) lfirst(tc))->string);
		start = field_secret_start(contents, &pending);
		if (start >= 0 && !(was_pending && pending))
			add_field_secrets(contents, start, was_pending, secrets);
	}
}

/* text with every occurrence of any of secrets (longest first) replaced */
static char *
redact_strings(const char *text, List *secrets)
{
	StringInfoData out;
	const char *p = text;

	if (secrets == NIL)
		return pstrdup(text);
	initStringInfo(&out);
	while (*p)
	{
		size_t		best = 0;
		ListCell   *lc;

		foreach(lc, secrets)
		{
			size_t		len = strlen(lfirst(lc));

			if (len > best && strncmp(p, lfirst(lc), len) == 0)
				best = len;
		}
		if (best > 0)
		{
			appendStringInfoString(&out, HBA_REDACTED);
			p += best;
		}
		else
			appendStringInfoChar(&out, *p++);
	}
	return out.data;
}

/* One option field as text ("name=value", comma lists kept), redacted */
char *
hba_option_text(List *tokens, bool redact)
{
	StringInfoData buf;
	List	   *contents = NIL;
	bool		pending = false;
	int			start = -1;
	int			i = 0;
	ListCell   *tc;

	foreach(tc, tokens)
		contents = lappend(contents, ((AuthToken *) lfirst(tc))->string);
	if (redact)
		start = field_secret_start(contents, &pending);
	initStringInfo(&buf);
	foreach(tc, contents)
	{
		const char *s = lfirst(tc);

		if (i == start)
		{
			appendStringInfo(&buf, "%s%.*s=%s", buf.len > 0 ? "," : "",
							 (int) (strchr(s, '=') - s), s, HBA_REDACTED);
			break;
		}
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? "," : "", s);
		i++;
	}
	return buf.data;
}

/*
 * Does the caller see secret option values?  Only with the privileges of
 * pg_read_server_files, which can read the file itself.
 */
bool
hba_caller_sees_secrets(void)
{
	return has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES);
}

/*
 * The one redaction of a rule: its raw line, error text and options, for
 * a caller who must not see secrets.  Everything shown of a rule comes
 * from these fields.
 */
void
hba_redact_rule(HbaRule *r, TokenizedAuthLine *tl)
{
	List	   *secrets = NIL;
	int			skip;
	int			i = 0;
	ListCell   *lc;
	List	   *options = NIL;

	r->raw_line = redact_raw_line(r->raw_line, &secrets);
	token_secrets(tl->fields, &secrets);
	if (r->error)
		r->error = redact_strings(r->error, secrets);

	/* the options are the last fields of the line */
	skip = list_length(tl->fields) - list_length(r->options);
	foreach(lc, tl->fields)
	{
		if (i++ >= skip)
			options = lappend(options, hba_option_text(lfirst(lc), true));
	}
	r->options = options;
}
