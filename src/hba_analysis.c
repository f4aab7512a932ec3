/*-------------------------------------------------------------------------
 *
 * hba_analysis.c
 *	  pg_hba.conf read with the server's own tokenizer and parser
 *	  (tokenize_auth_file, parse_hba_line), then analysed line by line:
 *	  reachability and shadowing (with hba_match.c), plaintext exposure,
 *	  weak methods.  Also pgtls_audit.hba_rules() and the hba/auth findings.
 *
 * The file is read from disk, as pg_hba_file_rules does: the postmaster's
 * parsed lines are not reachable from a backend.  findings.c says when the
 * file on disk is newer than the last configuration load.
 *
 * Shadowing: a line is shadowed when every connection it could match is
 * matched by earlier lines.  The connections a line can match are split
 * into pieces (connection kind x address family x database token x user
 * token); the line is shadowed when each piece is matched entirely by some
 * earlier line (not necessarily the same one).  Pieces that depend on DNS,
 * network interfaces or regular expressions make the answer "undecided",
 * reported as such rather than guessed.
 *
 * src/hba_analysis.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

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
 * means the configured hba_file; any other path needs superuser.
 */
const char *
hba_file_argument(FunctionCallInfo fcinfo, int argno)
{
	char	   *path;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return HbaFileName;
	path = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(path, HbaFileName) != 0 && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to analyse pg_hba file \"%s\"", path),
				 errdetail("Only superusers can analyse a file other than the configured hba_file.")));
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
		{
			List	   *toks = lfirst(lc);
			StringInfoData buf;
			ListCell   *tc;

			initStringInfo(&buf);
			foreach(tc, toks)
			{
				if (buf.len > 0)
					appendStringInfoChar(&buf, ',');
				appendStringInfoString(&buf, ((AuthToken *) lfirst(tc))->string);
			}
			r->options = lappend(r->options, buf.data);
		}
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

static void
analyse_rule(HbaAnalysis *an, int bi)
{
	HbaRule    *b = &an->rules[bi];
	HbaLine    *hba = b->hba;
	UserAuth	m = hba->auth_method;
	StringInfoData covering;
	StringInfoData undecided;
	HbaCover	c;

	b->reachable = true;
	if (effective_kinds(an, b) == 0)
	{
		b->reachable = false;
		b->unreachable_reason = pstrdup("hostssl line while ssl is off: it can never match");
	}
	else
	{
		initStringInfo(&covering);
		initStringInfo(&undecided);
		c = pieces_covered(an, bi, NIL, ~0, &covering, &undecided);
		if (c == HBA_COVER_YES)
		{
			b->reachable = false;
			b->shadowed_by = covering.data;
			b->unreachable_reason = psprintf("shadowed by %s", covering.data);
		}
		else if (c == HBA_COVER_UNDECIDED)
			b->shadow_note = psprintf("may be shadowed by %s", undecided.data);
	}

	/* unencrypted connections reach it (not all taken by earlier lines) */
	b->allows_plaintext = b->reachable &&
		(effective_kinds(an, b) & HBA_CONN_PLAIN) != 0 &&
		m != uaReject && m != uaCert &&
		pieces_covered(an, bi, NIL, HBA_CONN_PLAIN, NULL, NULL) != HBA_COVER_YES;

	if (m == uaTrust)
		b->weak_reason = pstrdup("trust: no authentication at all");
	else if (m == uaPassword)
		b->weak_reason = pstrdup("password: the password is sent in clear text");
	else if (m == uaMD5)
		b->weak_reason = pstrdup("md5: MD5 password hashes; scram-sha-256 is stronger");
	else if (m == uaIdent && hba->conntype != ctLocal)
		b->weak_reason = pstrdup("ident over TCP: trusts the ident server of the client's host");
	b->weak_method = b->weak_reason != NULL;
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

	an->path = pstrdup(path);
	an->ssl_on = ssl != NULL && strcmp(ssl, "on") == 0;
	an->files = list_make1(an->path);

	lines = pgtls_tokenize_hba_file(path, &af);
	an->rules = palloc0(sizeof(HbaRule) * Max(list_length(lines), 1));

	foreach(lc, lines)
	{
		TokenizedAuthLine *tl = lfirst(lc);
		HbaRule    *r = &an->rules[i++];
		const char *file = PGTLS_TOKLINE_FILE(tl, path);
		ListCell   *fc;
		bool		known = false;

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

		foreach(fc, an->files)
			if (strcmp((char *) lfirst(fc), r->file) == 0)
				known = true;
		if (!known)
			an->files = lappend(an->files, r->file);
	}
	an->nrules = i;

	pgtls_free_hba_file(&af);

	for (i = 0; i < an->nrules; i++)
		if (an->rules[i].hba != NULL)
			analyse_rule(an, i);

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

		if (a->rolsuper && a->rolcanlogin)
			names = lappend(names, pstrdup(NameStr(a->rolname)));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	list_sort(names, cmp_strings);
	return names;
}

void
hba_findings(HbaAnalysis *an, List **findings)
{
	int			i;
	List	   *supers = NIL;
	bool		supers_loaded = false;

	for (i = 0; i < an->nrules; i++)
	{
		HbaRule    *r = &an->rules[i];
		char	   *loc = rule_location(r);
		UserAuth	m;
		bool		remote_plain;

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

				if (strncmp(r->shadowed_by, l, strlen(l)) == 0 &&
					(r->shadowed_by[strlen(l)] == '\0' || r->shadowed_by[strlen(l)] == ','))
				{
					first = &an->rules[j];
					break;
				}
			}
			finding_add(findings, "HBA002", FINDING_WARNING, "hba", loc,
						"Move the line above the lines that shadow it if it is meant to apply, or delete it.",
						"line can never match: every connection it could match is matched first by %s%s",
						r->shadowed_by,
						(first && hba_rule_uses_client_cert(r) && !hba_rule_uses_client_cert(first) &&
						 first->hba->auth_method != uaReject) ?
						psprintf(" (this line requires a client certificate, but those connections get method %s of %s instead)",
								 method_of(first), rule_location(first)) : "");
			continue;
		}
		if (!r->reachable)
			continue;			/* hostssl with ssl off: ssl_checks.c */

		if (r->shadow_note)
			finding_add(findings, "HBA003", FINDING_INFO, "hba", loc,
						"Check by hand whether the earlier lines cover this one, or use addresses and names that can be compared.",
						"line %s; this cannot be decided statically", r->shadow_note);

		m = r->hba->auth_method;
		remote_plain = r->allows_plaintext && !r->loopback_only;

		if (m == uaTrust && r->hba->conntype != ctLocal)
			finding_add(findings, "AUTH001", FINDING_CRITICAL, "auth", loc,
						"Use scram-sha-256 or cert instead of trust.",
						"trust on a TCP line: anyone who can reach %s connects as any user it names without a password",
						r->address);
		else if (m == uaTrust)
			finding_add(findings, "AUTH002", FINDING_WARNING, "auth", loc,
						"Use peer (or scram-sha-256) for local connections.",
						"trust on a local line: every operating system user of this host can connect as any user it names, superusers included");

		if (method_sends_password(m) && r->allows_plaintext)
			finding_add(findings, "AUTH003", FINDING_CRITICAL, "auth", loc,
						"Use hostssl instead of host/hostnossl for this line, and scram-sha-256 instead of password.",
						"method %s sends the password in clear text and this line accepts unencrypted connections%s",
						method_of(r), r->loopback_only ? " (loopback only)" : "");
		else if (m == uaPassword)
			finding_add(findings, "AUTH004", FINDING_WARNING, "auth", loc,
						"Use scram-sha-256: the server then never sees the password.",
						"method password sends the clear-text password to the server (inside TLS)");

		if (m == uaMD5)
			finding_add(findings, "AUTH005", FINDING_WARNING, "auth", loc,
						"Set password_encryption = 'scram-sha-256', have users set their passwords again, then use scram-sha-256 here.",
						"method md5: MD5 password hashes are weaker than scram-sha-256");

		if (m == uaIdent && r->hba->conntype != ctLocal)
			finding_add(findings, "AUTH006", FINDING_WARNING, "auth", loc,
						"Use scram-sha-256 or cert for TCP connections.",
						"ident over TCP trusts whatever the ident server on the client's host answers");

		if (remote_plain && m != uaTrust && !method_sends_password(m))
			finding_add(findings, "HBA004", FINDING_WARNING, "hba", loc,
						"Use hostssl (and add a hostnossl ... reject line) so that only encrypted connections are accepted.",
						"%s line accepts unencrypted connections from non-loopback addresses (%s, method %s): passwords, hashes and data can cross the network unencrypted",
						hba_conntype_name(r->hba->conntype), r->address, method_of(r));

		if (r->wide && m != uaReject &&
			(r->weak_method || method_sends_password(m)))
			finding_add(findings, "HBA005", FINDING_CRITICAL, "hba", loc,
						"Restrict the address to the networks that need access and use a strong method.",
						"weak method %s for every address (%s)", method_of(r), r->address);
		else if (r->wide && m != uaReject && m != uaCert &&
				 r->hba->clientcert == clientCertOff)
			finding_add(findings, "HBA006", FINDING_WARNING, "hba", loc,
						"Restrict the address to the networks that need access, or require a client certificate.",
						"every address (%s) may try to log in with a password only (method %s)",
						r->address, method_of(r));

		/* superusers reachable from non-loopback addresses */
		if (r->hba->conntype != ctLocal && !r->loopback_only && m != uaReject)
		{
			ListCell   *sc;
			StringInfoData names;

			if (!supers_loaded)
			{
				supers = login_superusers();
				supers_loaded = true;
			}
			initStringInfo(&names);
			foreach(sc, supers)
			{
				AuthToken  *st = make_token(lfirst(sc), true);
				const char *why = NULL;

				if (hba_role_token_covered(r, st, &why) != HBA_COVER_YES)
					continue;
				if (pieces_covered(an, i, list_make1(st), ~0, NULL, NULL) == HBA_COVER_YES)
					continue;
				appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
								 (char *) lfirst(sc));
			}
			if (names.len > 0)
				finding_add(findings, "AUTH008", FINDING_WARNING, "auth", loc,
							"Put a line rejecting superusers from remote addresses before this one, or name the users this line is for.",
							"superuser(s) %s can log in from non-loopback addresses (%s) through this line",
							names.data, r->address);
		}
	}
}

/*
 * pgtls_audit.hba_rules_raw(hba_file text): every line with its analysis.
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
