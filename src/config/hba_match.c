/*-------------------------------------------------------------------------
 *
 * hba_match.c
 *	  PostgreSQL's pg_hba.conf matching rules for one connection, on lines
 *	  parsed by the server's own parser: pgtls_audit.hba_match(), the
 *	  what-if question "which line would this connection hit, and with what
 *	  method".  The same rules for sets of connections (shadowing) are in
 *	  hba_cover.c.
 *
 * check_hba() in the server's hba.c is static, and a regular backend no
 * longer has the postmaster's parsed lines, so the rules are written out
 * here from hba.c (check_hba, check_db, check_role, is_member, check_ip,
 * check_same_host_or_net) of PostgreSQL 15 to 18:
 *
 *	- connection type: local only for Unix sockets; host for every TCP
 *	  connection; hostssl only with TLS; hostnossl only without TLS;
 *	  hostgssenc only with GSSAPI encryption; hostnogssenc only without;
 *	- address: all; address and mask (same family only, no IPv4-mapped
 *	  IPv6); samehost and samenet against this machine's interfaces; host
 *	  names need DNS and are never decided here;
 *	- database: replication matches only physical replication connections,
 *	  which match nothing else; all; sameuser; samerole/samegroup (explicit
 *	  membership, superuser status does not count); names; regular
 *	  expressions (16+); @file lists are expanded by the tokenizer;
 *	- user: all; +group (explicit membership); names; regular expressions.
 *
 * The first line that matches wins; a matching reject line or no line at
 * all refuses the connection.  clientcert and the cert method do not take
 * part in matching: they refuse the connection after the line was chosen.
 *
 * hba_match() shows the chosen line as hba_parse.c read it: with secret
 * option values already redacted (hba_redact.c) for callers who may not
 * see them.
 *
 * src/config/hba_match.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "access/htup_details.h"
#include "common/findings_list.h"
#include "config/hba.h"
#include "config/hba_analysis.h"
#include "config/hba_cover.h"
#include "config/hba_parse.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/ifaddr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inet.h"

/* ---------------------------------------------------------------------
 * One connection (hba_match)
 * ---------------------------------------------------------------------
 */

typedef struct HbaConn
{
	bool		local;
	bool		ssl;
	bool		gss;
	bool		physical_replication;
	struct sockaddr_storage addr;
	const char *user;
	Oid			roleid;
	const char *database;
} HbaConn;

/* hba.c check_db() */
static bool
conn_db_matches(const HbaConn *c, List *tokens)
{
	ListCell   *lc;

	foreach(lc, tokens)
	{
		AuthToken  *tok = lfirst(lc);

		if (c->physical_replication)
		{
			if (hba_token_is_keyword(tok, "replication"))
				return true;
		}
		else if (hba_token_is_keyword(tok, "all"))
			return true;
		else if (hba_token_is_keyword(tok, "sameuser"))
		{
			if (strcmp(c->database, c->user) == 0)
				return true;
		}
		else if (hba_token_is_keyword(tok, "samegroup") ||
				 hba_token_is_keyword(tok, "samerole"))
		{
			if (hba_role_is_member(c->roleid, c->database))
				return true;
		}
		else if (hba_token_is_keyword(tok, "replication"))
			continue;
		else if (PGTLS_TOKEN_HAS_REGEX(tok))
		{
			if (pgtls_token_regex_matches(tok, c->database))
				return true;
		}
		else if (strcmp(tok->string, c->database) == 0)
			return true;
	}
	return false;
}

typedef struct IfaddrCheck
{
	const struct sockaddr_storage *client;
	IPCompareMethod method;
	bool		result;
} IfaddrCheck;

/* hba.c check_network_callback() */
static void
ifaddr_callback(struct sockaddr *addr, struct sockaddr *netmask, void *cb_data)
{
	IfaddrCheck *ck = (IfaddrCheck *) cb_data;
	struct sockaddr_storage mask;

	if (ck->result)
		return;
	if (ck->client->ss_family != addr->sa_family)
		return;
	if (ck->method == ipCmpSameHost)
	{
		pg_sockaddr_cidr_mask(&mask, NULL, addr->sa_family);
		ck->result = pg_range_sockaddr(ck->client,
									   (struct sockaddr_storage *) addr,
									   &mask) != 0;
	}
	else
		ck->result = pg_range_sockaddr(ck->client,
									   (struct sockaddr_storage *) addr,
									   (struct sockaddr_storage *) netmask) != 0;
}

/*
 * Does this line match the connection?  1 yes, 0 no, -1 cannot be decided
 * here (host names: the server asks DNS).
 */
static int
conn_matches(const HbaRule *r, const HbaConn *c)
{
	HbaLine    *hba = r->hba;

	if (hba->conntype == ctLocal)
	{
		if (!c->local)
			return 0;
	}
	else
	{
		if (c->local)
			return 0;
		if (c->ssl && hba->conntype == ctHostNoSSL)
			return 0;
		if (!c->ssl && hba->conntype == ctHostSSL)
			return 0;
		if (c->gss && hba->conntype == ctHostNoGSS)
			return 0;
		if (!c->gss && hba->conntype == ctHostGSS)
			return 0;

		switch (hba->ip_cmp_method)
		{
			case ipCmpMask:
				if (hba->hostname)
					return -1;
				if (c->addr.ss_family != hba->addr.ss_family ||
					!pg_range_sockaddr(&c->addr, &hba->addr, &hba->mask))
					return 0;
				break;
			case ipCmpAll:
				break;
			case ipCmpSameHost:
			case ipCmpSameNet:
				{
					IfaddrCheck ck;

					ck.client = &c->addr;
					ck.method = hba->ip_cmp_method;
					ck.result = false;
					if (pg_foreach_ifaddr(ifaddr_callback, &ck) < 0)
						return -1;
					if (!ck.result)
						return 0;
				}
				break;
			default:
				return 0;
		}
	}

	if (!conn_db_matches(c, hba->databases))
		return 0;
	if (!hba_role_list_matches(hba->roles, c->user, c->roleid))
		return 0;
	return 1;
}

/* inet -> sockaddr_storage (address only, port 0) */
static void
inet_to_sockaddr(inet *in, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ip_family(in) == PGSQL_AF_INET)
	{
		struct sockaddr_in *sin = (struct sockaddr_in *) ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, ip_addr(in), 4);
	}
	else
	{
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, ip_addr(in), 16);
	}
}

/*
 * The connection the arguments of hba_match() describe, in the order the
 * function checks them; *client_cert and *path are its other arguments.
 */
static void
conn_from_args(FunctionCallInfo fcinfo, HbaConn *c, bool *client_cert,
			   const char **path)
{
	memset(c, 0, sizeof(*c));
	c->user = NameStr(*PG_GETARG_NAME(0));
	c->database = NameStr(*PG_GETARG_NAME(1));
	c->local = PG_ARGISNULL(2);
	if (!c->local)
		inet_to_sockaddr(PG_GETARG_INET_PP(2), &c->addr);
	c->ssl = !c->local && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3);
	*client_cert = !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	*path = hba_file_argument(fcinfo, 5);
	c->gss = !c->local && !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
	c->physical_replication = !PG_ARGISNULL(7) && PG_GETARG_BOOL(7);
	c->roleid = get_role_oid(c->user, true);

	if (c->ssl && c->gss)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a connection cannot use both TLS and GSSAPI encryption")));
}

/* Notes about the file, the server and the role, before any line */
static List *
conn_notes(const HbaAnalysis *an, const HbaConn *c)
{
	List	   *notes = NIL;

	if (an->nerrors > 0)
		notes = lappend(notes,
						psprintf("%s has %d line(s) with errors: the server refuses to load it, so it keeps its previous rules (or does not start)",
								 an->path, an->nerrors));
	if (c->ssl && !an->ssl_on)
		notes = lappend(notes, pstrdup("ssl is off on this server: a TLS connection cannot be made"));
	if (!OidIsValid(c->roleid))
		notes = lappend(notes,
						psprintf("role \"%s\" does not exist: group and samerole tests fail for it, and the login would fail after authentication",
								 c->user));
	return notes;
}

/*
 * The first line that matches the connection, NULL if none; lines that
 * cannot be decided are skipped with a note, as the server would skip
 * them when DNS does not name the client.
 */
static HbaRule *
first_matching_rule(HbaAnalysis *an, const HbaConn *c, List **notes)
{
	int			i;

	for (i = 0; i < an->nrules; i++)
	{
		HbaRule    *r = &an->rules[i];
		int			m;

		CHECK_FOR_INTERRUPTS();
		if (r->hba == NULL)
			continue;
		m = conn_matches(r, c);
		if (m < 0)
		{
			*notes = lappend(*notes,
							 psprintf("%s:%d skipped: host name \"%s\" (or samehost/samenet) cannot be decided without the client's DNS names",
									  r->file, r->line_number,
									  r->hba->hostname ? r->hba->hostname : r->address));
			continue;
		}
		if (m == 1)
			return r;
	}
	return NULL;
}

/* What happens to the connection once line hit is chosen */
static const char *
match_outcome(const HbaRule *hit, bool client_cert)
{
	HbaLine    *hba = hit->hba;
	const char *method = hba_authname(hba->auth_method);

	if (hba->auth_method == uaReject)
		return "rejected: the matching line is a reject line";
	if (hba->auth_method == uaCert && !client_cert)
		return "refused: the cert method needs a client certificate";
	if (hba->clientcert != clientCertOff && !client_cert)
		return "refused: connection requires a valid client certificate (clientcert)";
	if (hba->auth_method == uaCert ||
		hba->clientcert == clientCertFull)
		return hba->clientcertname == clientCertDN ?
			"certificate: the client certificate must verify and its distinguished name must match the role (or user map)" :
			"certificate: the client certificate must verify and its common name must match the role (or user map)";
	if (hba->auth_method == uaTrust)
		return "accepted without any password or certificate (trust)";
	if (hba->clientcert == clientCertCA)
		return psprintf("authenticates with %s, after the client certificate verifies (clientcert=verify-ca)",
						method);
	return psprintf("authenticates with %s", method);
}

/*
 * pgtls_audit.hba_match(role, database, address, ssl, client_cert,
 *						  hba_file, gssenc, replication)
 *
 * The line a connection like that would hit and what would happen then.
 * address NULL means a Unix-socket connection.
 */
PG_FUNCTION_INFO_V1(pgtls_audit_hba_match);

Datum
pgtls_audit_hba_match(PG_FUNCTION_ARGS)
{
	const char *path;
	HbaAnalysis *an;
	HbaConn		c;
	TupleDesc	tupdesc;
	Datum		values[9];
	bool		nulls[9] = {false};
	List	   *notes;
	HbaRule    *hit;
	bool		client_cert;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role and database must not be null")));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	conn_from_args(fcinfo, &c, &client_cert, &path);
	an = hba_analyze(path);
	notes = conn_notes(an, &c);
	hit = first_matching_rule(an, &c, &notes);

	if (hit == NULL)
	{
		for (i = 0; i < 5; i++)
			nulls[i] = true;
		values[5] = CStringGetTextDatum("reject");
		nulls[6] = true;
		values[7] = CStringGetTextDatum("rejected: no pg_hba.conf entry matches");
	}
	else
	{
		values[0] = CStringGetTextDatum(hit->file);
		values[1] = Int32GetDatum(hit->line_number);
		values[2] = Int32GetDatum(hit->rule_number);
		values[3] = CStringGetTextDatum(hba_conntype_name(hit->hba->conntype));
		values[4] = CStringGetTextDatum(hit->raw_line);
		values[5] = CStringGetTextDatum(hba_authname(hit->hba->auth_method));
		values[6] = pgtls_text_array(hit->options);
		values[7] = CStringGetTextDatum(match_outcome(hit, client_cert));
		if (hit->hba->auth_method == uaPassword && !c.ssl && !c.gss && !c.local)
			notes = lappend(notes, pstrdup("the password would cross the network in clear text"));
	}

	values[8] = pgtls_text_array(notes);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
