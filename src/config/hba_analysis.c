/*-------------------------------------------------------------------------
 *
 * hba_analysis.c
 *	  pg_hba.conf read with the server's own tokenizer and parser
 *	  (tokenize_auth_file, parse_hba_line), then analyzed line by line:
 *	  reachability and shadowing (with hba_match.c), plaintext exposure,
 *	  weak methods.  Also pgtls_audit.hba_rules() and the hba/auth findings.
 *
 * The file is read from disk, as pg_hba_file_rules does: the postmaster's
 * parsed lines are not reachable from a backend.  findings.c says when the
 * file on disk is newer than the last configuration load.
 *
 * Secrets: pg_hba lines can hold credentials (ldapbindpasswd, radiussecrets
 * on 15 to 18).  Core keeps pg_hba_file_rules superuser-only for that
 * reason; this analysis is granted to pg_monitor, so for a caller without
 * the privileges of pg_read_server_files (who could read the file anyway)
 * hba_redact_rule() replaces every credential value in the raw line, the
 * options and the error text of each rule with HBA_REDACTED as soon as the
 * rule is read.  Every output (hba_rules, hba_match, the findings,
 * check_config, report) is made from those rules, so none of them can show
 * a secret; the parser's own reports, which could (e.g. "could not parse
 * RADIUS secret list"), are silenced while it runs.
 *
 * Shadowing: a line is shadowed when every connection it could match is
 * matched by earlier lines.  The connections a line can match are split
 * into pieces (connection kind x address family x database token x user
 * token); the line is shadowed when each piece is matched entirely by some
 * earlier line (not necessarily the same one).  Pieces that depend on DNS,
 * network interfaces or regular expressions make the answer "undecided",
 * reported as such rather than guessed.
 *
 * Cost: for a file of n lines whose fields hold at most t tokens, one line
 * has at most 4 x 2 x t x t pieces, each compared with every earlier line,
 * and one comparison scans that line's tokens: O(n t^3) per line, O(n^2 t^3)
 * for the file in the worst case (a piece that no earlier line covers ends
 * the search for that line, so ordinary files cost about O(n^2 t)).  It runs
 * twice per line (all connections, then unencrypted ones) and, for the
 * findings, once more per login superuser on each remote line.  Group and
 * role lookups go through the syscache.  Every loop over lines checks for
 * interrupts, so statement_timeout and pg_cancel_backend() stop it; the
 * scratch memory of one line's analysis lives in a context reset after
 * each line, so memory stays O(n t) for the results.
 *
 * src/config/hba_analysis.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "common/findings_list.h"
#include "config/hba.h"
#include "config/hba_cover.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/genam.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

/* What replaces a secret in everything a caller without privileges sees */
#define HBA_REDACTED "<redacted>"

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

		while (*p && (pg_isblank(*p) || *p == ',' || *p == '#'))
			p++;
		if (*p == '\0')
			break;
		start = p;
		initStringInfo(&content);
		while (*p && (in_quote || (!pg_isblank(*p) && *p != '#')))
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
static char *
option_text(List *tokens, bool redact)
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
static bool
hba_caller_sees_secrets(void)
{
	return has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES);
}

/*
 * The one redaction of a rule: its raw line, error text and options, for
 * a caller who must not see secrets.  Everything shown of a rule comes
 * from these fields.
 */
static void
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
			options = lappend(options, option_text(lfirst(lc), true));
	}
	r->options = options;
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
			r->options = lappend(r->options, option_text(lfirst(lc), false));
	}

	r->loopback_only = rule_loopback_only(r);
	r->wide = r->addr_kind == HBA_ADDR_ALL ||
		(r->addr_kind == HBA_ADDR_MASK && r->prefix == 0);
}

bool
hba_rule_uses_client_cert(const HbaRule *r)
{
	return r->hba != NULL &&
		(r->hba->auth_method == uaCert || r->hba->clientcert != clientCertOff);
}

/* Connection kinds that can really reach a rule on this server */
static int
effective_kinds(const HbaAnalysis *an, const HbaRule *r)
{
	int			k = r->conn_kinds;

	if (!an->ssl_on)
		k &= ~HBA_CONN_SSL;
	return k;
}

static AuthToken *
make_token(const char *s, bool quoted)
{
	AuthToken  *t = palloc0(sizeof(AuthToken));

	t->string = pstrdup(s);
	t->quoted = quoted;
	return t;
}

/*
 * Are all connections of rule bi (with its user tokens replaced by roles,
 * if not NIL) matched by rules before it?  Fills covering with the first
 * covering rule of each piece and undecided with rules that might cover.
 */
static HbaCover
pieces_covered(HbaAnalysis *an, int bi, List *roles, int kinds_mask,
			   StringInfo covering, StringInfo undecided)
{
	HbaRule    *b = &an->rules[bi];
	int			kinds = effective_kinds(an, b) & kinds_mask;
	const char **whys = palloc0(sizeof(char *) * Max(bi, 1));
	int			fams[2];
	int			nfams;
	int			k;
	bool		any_undecided = false;
	List	   *cover_lines = NIL;
	List	   *undecided_lines = NIL;

	if (roles == NIL)
		roles = b->hba->roles;

	if (b->addr_kind == HBA_ADDR_ALL)
	{
		fams[0] = AF_INET;
		fams[1] = AF_INET6;
		nfams = 2;
	}
	else
	{
		fams[0] = b->family;
		nfams = 1;
	}

	for (k = 1; k <= HBA_CONN_PLAIN; k <<= 1)
	{
		int			f;

		if (!(kinds & k))
			continue;
		for (f = 0; f < nfams; f++)
		{
			ListCell   *dc;

			foreach(dc, b->hba->databases)
			{
				ListCell   *rc;

				foreach(rc, roles)
				{
					AuthToken  *dt = lfirst(dc);
					AuthToken  *rt = lfirst(rc);
					HbaCover	best = HBA_COVER_NO;
					int			ai;

					for (ai = 0; ai < bi; ai++)
					{
						HbaRule    *a = &an->rules[ai];
						const char *why = NULL;
						HbaCover	ca,
									cd,
									cr;

						CHECK_FOR_INTERRUPTS();
						if (a->hba == NULL || !(effective_kinds(an, a) & k))
							continue;
						if ((ca = hba_addr_covered(a, b, fams[f], &why)) == HBA_COVER_NO)
							continue;
						if ((cd = hba_db_token_covered(a, dt, rt, &why)) == HBA_COVER_NO)
							continue;
						if ((cr = hba_role_token_covered(a, rt, &why)) == HBA_COVER_NO)
							continue;
						if (ca == HBA_COVER_YES && cd == HBA_COVER_YES &&
							cr == HBA_COVER_YES)
						{
							best = HBA_COVER_YES;
							cover_lines = list_append_unique_int(cover_lines, ai);
							break;
						}
						if (best == HBA_COVER_NO)
							best = HBA_COVER_UNDECIDED;
						if (!list_member_int(undecided_lines, ai))
						{
							undecided_lines = lappend_int(undecided_lines, ai);
							whys[ai] = why ? why : "cannot be decided statically";
						}
					}
					if (best == HBA_COVER_NO)
						return HBA_COVER_NO;
					if (best == HBA_COVER_UNDECIDED)
						any_undecided = true;
				}
			}
		}
	}

	if (any_undecided)
	{
		ListCell   *lc;

		list_sort(undecided_lines, list_int_cmp);
		foreach(lc, undecided_lines)
		{
			HbaRule    *a = &an->rules[lfirst_int(lc)];

			if (undecided)
				appendStringInfo(undecided, "%s%s:%d (%s)",
								 undecided->len > 0 ? ", " : "",
								 a->file, a->line_number, whys[lfirst_int(lc)]);
		}
		return HBA_COVER_UNDECIDED;
	}

	if (covering)
	{
		ListCell   *lc;

		list_sort(cover_lines, list_int_cmp);
		foreach(lc, cover_lines)
		{
			HbaRule    *a = &an->rules[lfirst_int(lc)];

			appendStringInfo(covering, "%s%s:%d", covering->len > 0 ? ", " : "",
							 a->file, a->line_number);
		}
	}
	return HBA_COVER_YES;
}

/*
 * Analyze rule bi against the rules before it.  Runs in a scratch context
 * that the caller resets; the results are copied into out.
 */
static void
analyze_rule(HbaAnalysis *an, int bi, MemoryContext out)
{
	HbaRule    *b = &an->rules[bi];
	HbaLine    *hba = b->hba;
	UserAuth	m = hba->auth_method;
	StringInfoData covering;
	StringInfoData undecided;
	HbaCover	c;
	const char *weak = NULL;

	b->reachable = true;
	if (effective_kinds(an, b) == 0)
	{
		b->reachable = false;
		b->unreachable_reason = MemoryContextStrdup(out, "hostssl line while ssl is off: it can never match");
	}
	else
	{
		initStringInfo(&covering);
		initStringInfo(&undecided);
		c = pieces_covered(an, bi, NIL, ~0, &covering, &undecided);
		if (c == HBA_COVER_YES)
		{
			b->reachable = false;
			b->shadowed_by = MemoryContextStrdup(out, covering.data);
			b->unreachable_reason = MemoryContextStrdup(out,
														psprintf("shadowed by %s", covering.data));
		}
		else if (c == HBA_COVER_UNDECIDED)
			b->shadow_note = MemoryContextStrdup(out,
												 psprintf("may be shadowed by %s", undecided.data));
	}

	/* unencrypted connections reach it (not all taken by earlier lines) */
	b->allows_plaintext = b->reachable &&
		(effective_kinds(an, b) & HBA_CONN_PLAIN) != 0 &&
		m != uaReject && m != uaCert &&
		pieces_covered(an, bi, NIL, HBA_CONN_PLAIN, NULL, NULL) != HBA_COVER_YES;

	if (m == uaTrust)
		weak = "trust: no authentication at all";
	else if (m == uaPassword)
		weak = "password: the password is sent in clear text";
	else if (m == uaMD5)
		weak = "md5: MD5 password hashes; scram-sha-256 is stronger";
	else if (m == uaIdent && hba->conntype != ctLocal)
		weak = "ident over TCP: trusts the ident server of the client's host";
	b->weak_reason = weak ? MemoryContextStrdup(out, weak) : NULL;
	b->weak_method = weak != NULL;
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

HbaAnalysis *
hba_analyze(const char *path)
{
	HbaAnalysis *an = palloc0(sizeof(HbaAnalysis));
	PgtlsAuthFile af;
	List	   *lines;
	ListCell   *lc;
	int			i = 0;
	int			rule_number = 0;
	const char *ssl = GetConfigOption("ssl", true, false);
	bool		redact = !hba_caller_sees_secrets();
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext scratch;
	int			nest;

	an->path = pstrdup(path);
	an->ssl_on = ssl != NULL && strcmp(ssl, "on") == 0;
	an->files = list_make1(an->path);

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

	scratch = AllocSetContextCreate(CurrentMemoryContext,
									"pgtls_audit hba line analysis",
									ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < an->nrules; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (an->rules[i].hba == NULL)
			continue;
		MemoryContextSwitchTo(scratch);
		analyze_rule(an, i, outer);
		MemoryContextSwitchTo(outer);
		MemoryContextReset(scratch);
	}
	MemoryContextDelete(scratch);

	return an;
}

static char *
rule_location(const HbaRule *r)
{
	return psprintf("%s:%d", r->file, r->line_number);
}

static const char *
method_of(const HbaRule *r)
{
	return hba_authname(r->hba->auth_method);
}

/* Methods that make the client send its password in clear text */
static bool
method_sends_password(UserAuth m)
{
	return m == uaPassword || m == uaLDAP || PGTLS_UA_IS_RADIUS(m) ||
		m == uaPAM || m == uaBSD;
}

static int
cmp_strings(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/* Login-capable superusers, by name */
static List *
login_superusers(void)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *names = NIL;

	rel = table_open(AuthIdRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_authid a = (Form_pg_authid) GETSTRUCT(tup);

		CHECK_FOR_INTERRUPTS();
		if (a->rolsuper && a->rolcanlogin)
			names = lappend(names, pstrdup(NameStr(a->rolname)));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	list_sort(names, cmp_strings);
	return names;
}

/*
 * Login superusers that can reach rule i from non-loopback addresses,
 * comma-separated ("" if none).  latent: the rule is shadowed today, so
 * the earlier lines are ignored (what it would let in once live).  The
 * work is done in scratch (reset here); the result is in the caller's
 * context.
 */
static char *
superusers_reaching(HbaAnalysis *an, int i, List *supers, bool latent,
					MemoryContext scratch)
{
	HbaRule    *r = &an->rules[i];
	MemoryContext caller = MemoryContextSwitchTo(scratch);
	StringInfoData names;
	ListCell   *sc;
	char	   *result;

	initStringInfo(&names);
	foreach(sc, supers)
	{
		AuthToken  *st = make_token(lfirst(sc), true);
		const char *why = NULL;

		CHECK_FOR_INTERRUPTS();
		if (hba_role_token_covered(r, st, &why) != HBA_COVER_YES)
			continue;
		if (!latent &&
			pieces_covered(an, i, list_make1(st), ~0, NULL, NULL) == HBA_COVER_YES)
			continue;
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
						 (char *) lfirst(sc));
	}
	MemoryContextSwitchTo(caller);
	result = pstrdup(names.data);
	MemoryContextReset(scratch);
	return result;
}

/*
 * The findings of the risk of rule i: its method, plaintext exposure,
 * address range and superusers.  latent is "" for a live rule; for a rule
 * shadowed today it is the note appended to each message, and the rule is
 * judged on its own (as if the lines shadowing it were changed): its own
 * connection types decide plaintext exposure, and superusers count when
 * its user field names them.  Every such finding is at least a warning.
 */
static void
rule_risk_findings(HbaAnalysis *an, int i, const char *latent,
				   List **supers, bool *supers_loaded, MemoryContext scratch,
				   List **findings)
{
	HbaRule    *r = &an->rules[i];
	char	   *loc = rule_location(r);
	UserAuth	m = r->hba->auth_method;
	bool		is_latent = latent[0] != '\0';
	bool		plain;
	bool		remote_plain;

	if (is_latent)
		plain = (effective_kinds(an, r) & HBA_CONN_PLAIN) != 0 &&
			m != uaReject && m != uaCert;
	else
		plain = r->allows_plaintext;
	remote_plain = plain && !r->loopback_only;

	if (m == uaTrust && r->hba->conntype != ctLocal)
		finding_add(findings, "AUTH001", FINDING_CRITICAL, "auth", loc,
					"Use scram-sha-256 or cert instead of trust.",
					"trust on a TCP line: anyone who can reach %s connects as any user it names without a password%s",
					r->address, latent);
	else if (m == uaTrust)
		finding_add(findings, "AUTH002", FINDING_WARNING, "auth", loc,
					"Use peer (or scram-sha-256) for local connections.",
					"trust on a local line: every operating system user of this host can connect as any user it names, superusers included%s",
					latent);

	if (method_sends_password(m) && plain)
		finding_add(findings, "AUTH003", FINDING_CRITICAL, "auth", loc,
					"Use hostssl instead of host/hostnossl for this line, and scram-sha-256 instead of password.",
					"method %s sends the password in clear text and this line accepts unencrypted connections%s%s",
					method_of(r), r->loopback_only ? " (loopback only)" : "", latent);
	else if (m == uaPassword)
		finding_add(findings, "AUTH004", FINDING_WARNING, "auth", loc,
					"Use scram-sha-256: the server then never sees the password.",
					"method password sends the clear-text password to the server (inside TLS)%s",
					latent);

	if (m == uaMD5)
		finding_add(findings, "AUTH005", FINDING_WARNING, "auth", loc,
					"Set password_encryption = 'scram-sha-256', have users set their passwords again, then use scram-sha-256 here.",
					"method md5: MD5 password hashes are weaker than scram-sha-256%s",
					latent);

	if (m == uaIdent && r->hba->conntype != ctLocal)
		finding_add(findings, "AUTH006", FINDING_WARNING, "auth", loc,
					"Use scram-sha-256 or cert for TCP connections.",
					"ident over TCP trusts whatever the ident server on the client's host answers%s",
					latent);

	if (remote_plain && m != uaTrust && !method_sends_password(m))
		finding_add(findings, "HBA004", FINDING_WARNING, "hba", loc,
					"Use hostssl (and add a hostnossl ... reject line) so that only encrypted connections are accepted.",
					"%s line accepts unencrypted connections from non-loopback addresses (%s, method %s): passwords, hashes and data can cross the network unencrypted%s",
					hba_conntype_name(r->hba->conntype), r->address, method_of(r),
					latent);

	if (r->wide && m != uaReject &&
		(r->weak_method || method_sends_password(m)))
		finding_add(findings, "HBA005", FINDING_CRITICAL, "hba", loc,
					"Restrict the address to the networks that need access and use a strong method.",
					"weak method %s for every address (%s)%s", method_of(r), r->address,
					latent);
	else if (r->wide && m != uaReject && m != uaCert &&
			 r->hba->clientcert == clientCertOff)
		finding_add(findings, "HBA006", FINDING_WARNING, "hba", loc,
					"Restrict the address to the networks that need access, or require a client certificate.",
					"every address (%s) may try to log in with a password only (method %s)%s",
					r->address, method_of(r), latent);

	/* superusers reachable from non-loopback addresses */
	if (r->hba->conntype != ctLocal && !r->loopback_only && m != uaReject)
	{
		char	   *names;

		if (!*supers_loaded)
		{
			*supers = login_superusers();
			*supers_loaded = true;
		}
		names = superusers_reaching(an, i, *supers, is_latent, scratch);
		if (names[0] != '\0')
			finding_add(findings, "AUTH008", FINDING_WARNING, "auth", loc,
						"Put a line rejecting superusers from remote addresses before this one, or name the users this line is for.",
						"superuser(s) %s can log in from non-loopback addresses (%s) through this line%s",
						names, r->address, latent);
	}
}

void
hba_findings(HbaAnalysis *an, List **findings)
{
	int			i;
	List	   *supers = NIL;
	bool		supers_loaded = false;
	MemoryContext scratch;

	scratch = AllocSetContextCreate(CurrentMemoryContext,
									"pgtls_audit hba findings",
									ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < an->nrules; i++)
	{
		HbaRule    *r = &an->rules[i];
		char	   *loc = rule_location(r);

		CHECK_FOR_INTERRUPTS();
		if (r->hba == NULL)
		{
			finding_add(findings, "HBA001", FINDING_CRITICAL, "hba", loc,
						"Correct or remove the line; pg_hba_file_rules shows the same error.",
						"line has an error: %s; the server refuses to load a pg_hba file with errors (a reload keeps the previous rules, a restart fails)",
						r->error);
			continue;
		}

		if (r->shadowed_by)
		{
			HbaRule    *first = NULL;
			int			j;

			for (j = 0; j < i; j++)
			{
				char	   *l = rule_location(&an->rules[j]);

				CHECK_FOR_INTERRUPTS();
				if (strncmp(r->shadowed_by, l, strlen(l)) == 0 &&
					(r->shadowed_by[strlen(l)] == '\0' || r->shadowed_by[strlen(l)] == ','))
				{
					first = &an->rules[j];
					pfree(l);
					break;
				}
				pfree(l);
			}
			if (first && hba_rule_uses_client_cert(r) &&
				!hba_rule_uses_client_cert(first) &&
				first->hba->auth_method != uaReject)
				finding_add(findings, "HBA002", FINDING_WARNING, "hba", loc,
							"Move the line above the lines that shadow it if it is meant to apply, or delete it.",
							"line can never match: every connection it could match is matched first by %s (this line requires a client certificate, but those connections get method %s of %s instead)",
							r->shadowed_by, method_of(first), rule_location(first));
			else
				finding_add(findings, "HBA002", FINDING_WARNING, "hba", loc,
							"Move the line above the lines that shadow it if it is meant to apply, or delete it.",
							"line can never match: every connection it could match is matched first by %s",
							r->shadowed_by);

			/* its own risk, latent: it becomes live when those lines change */
			rule_risk_findings(an, i,
							   psprintf(strchr(r->shadowed_by, ',') ?
										" (latent: shadowed today by %s; becomes live if those lines change)" :
										" (latent: shadowed today by %s; becomes live if that line changes)",
										r->shadowed_by),
							   &supers, &supers_loaded, scratch, findings);
			continue;
		}
		if (!r->reachable)
			continue;			/* hostssl with ssl off: ssl_checks.c */

		if (r->shadow_note)
			finding_add(findings, "HBA003", FINDING_INFO, "hba", loc,
						"Check by hand whether the earlier lines cover this one, or use addresses and names that can be compared.",
						"line %s; this cannot be decided statically", r->shadow_note);

		rule_risk_findings(an, i, "", &supers, &supers_loaded, scratch, findings);
	}
	MemoryContextDelete(scratch);
}

/*
 * pgtls_audit._hba_rules(hba_file text): every line with its analysis.
 * Lines with errors have only file, line_number, reachable (false),
 * error and raw_line.
 */
enum
{
	HR_FILE, HR_LINE, HR_RULE, HR_TYPE, HR_DATABASES, HR_USERS, HR_ADDRESS,
	HR_NETMASK, HR_METHOD, HR_OPTIONS, HR_REACHABLE, HR_SHADOWED_BY,
	HR_PLAINTEXT, HR_WEAK, HR_WEAK_REASON, HR_NOTE, HR_ERROR, HR_RAW,
	HR_NCOLS
};

static List *
token_strings(List *tokens)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, tokens)
	{
		AuthToken  *t = lfirst(lc);

		out = lappend(out, t->quoted ? psprintf("\"%s\"", t->string) : t->string);
	}
	return out;
}

PG_FUNCTION_INFO_V1(pgtls_audit_hba_rules);

Datum
pgtls_audit_hba_rules(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *path = hba_file_argument(fcinfo, 0);
	HbaAnalysis *an;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	an = hba_analyze(path);

	for (i = 0; i < an->nrules; i++)
	{
		HbaRule    *r = &an->rules[i];
		Datum		values[HR_NCOLS];
		bool		nulls[HR_NCOLS];
		const char *note;

		CHECK_FOR_INTERRUPTS();
		memset(nulls, true, sizeof(nulls));
		values[HR_FILE] = CStringGetTextDatum(r->file);
		values[HR_LINE] = Int32GetDatum(r->line_number);
		values[HR_RAW] = CStringGetTextDatum(r->raw_line);
		values[HR_REACHABLE] = BoolGetDatum(r->hba != NULL && r->reachable);
		nulls[HR_FILE] = nulls[HR_LINE] = nulls[HR_RAW] = nulls[HR_REACHABLE] = false;
		if (r->error)
		{
			values[HR_ERROR] = CStringGetTextDatum(r->error);
			nulls[HR_ERROR] = false;
		}
		if (r->hba != NULL)
		{
			values[HR_RULE] = Int32GetDatum(r->rule_number);
			values[HR_TYPE] = CStringGetTextDatum(hba_conntype_name(r->hba->conntype));
			values[HR_DATABASES] = pgtls_text_array(token_strings(r->hba->databases));
			values[HR_USERS] = pgtls_text_array(token_strings(r->hba->roles));
			values[HR_METHOD] = CStringGetTextDatum(method_of(r));
			values[HR_OPTIONS] = pgtls_text_array(r->options);
			values[HR_PLAINTEXT] = BoolGetDatum(r->allows_plaintext);
			values[HR_WEAK] = BoolGetDatum(r->weak_method);
			nulls[HR_RULE] = nulls[HR_TYPE] = nulls[HR_DATABASES] = false;
			nulls[HR_USERS] = nulls[HR_METHOD] = nulls[HR_OPTIONS] = false;
			nulls[HR_PLAINTEXT] = nulls[HR_WEAK] = false;
			if (r->address)
			{
				values[HR_ADDRESS] = CStringGetTextDatum(r->address);
				nulls[HR_ADDRESS] = false;
			}
			if (r->netmask)
			{
				values[HR_NETMASK] = CStringGetTextDatum(r->netmask);
				nulls[HR_NETMASK] = false;
			}
			if (r->shadowed_by)
			{
				values[HR_SHADOWED_BY] = CStringGetTextDatum(r->shadowed_by);
				nulls[HR_SHADOWED_BY] = false;
			}
			if (r->weak_reason)
			{
				values[HR_WEAK_REASON] = CStringGetTextDatum(r->weak_reason);
				nulls[HR_WEAK_REASON] = false;
			}
			note = r->shadowed_by ? NULL :
				r->unreachable_reason ? r->unreachable_reason : r->shadow_note;
			if (note)
			{
				values[HR_NOTE] = CStringGetTextDatum(note);
				nulls[HR_NOTE] = false;
			}
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
