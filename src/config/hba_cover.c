/*-------------------------------------------------------------------------
 *
 * hba_cover.c
 *	  PostgreSQL's pg_hba.conf matching rules for sets of connections: does
 *	  an earlier line match every connection that a later line could match
 *	  (the shadowing analysis of hba_analysis.c)?  Also the token and
 *	  membership tests and hba.c's check_role() for one user, which
 *	  hba_match.c shares.
 *
 * The rules are those of hba.c (check_hba, check_db, check_role,
 * is_member, check_ip, check_same_host_or_net) of PostgreSQL 15 to 18, as
 * hba_match.c's header comment lists them.
 *
 * src/config/hba_cover.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "config/hba_cover.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

bool
hba_token_is_keyword(const AuthToken *tok, const char *kw)
{
	return !tok->quoted && strcmp(tok->string, kw) == 0;
}

/* Any of the special words of the database field (never a literal name) */
bool
hba_db_token_is_keyword(const AuthToken *tok)
{
	return hba_token_is_keyword(tok, "all") ||
		hba_token_is_keyword(tok, "sameuser") ||
		hba_token_is_keyword(tok, "samerole") ||
		hba_token_is_keyword(tok, "samegroup") ||
		hba_token_is_keyword(tok, "replication");
}

/* hba.c is_member(): explicit (possibly indirect) membership, no superuser */
bool
hba_role_is_member(Oid userid, const char *role)
{
	Oid			roleid;

	if (!OidIsValid(userid))
		return false;
	roleid = get_role_oid(role, true);
	if (!OidIsValid(roleid))
		return false;
	return is_member_of_role_nosuper(userid, roleid);
}

/*
 * hba.c check_role(): does a user field (its tokens) match the user user,
 * of role OID roleid (InvalidOid when it does not exist)?
 */
bool
hba_role_list_matches(List *tokens, const char *user, Oid roleid)
{
	ListCell   *lc;

	foreach(lc, tokens)
	{
		AuthToken  *tok = lfirst(lc);

		if (hba_token_is_member_check(tok))
		{
			if (hba_role_is_member(roleid, tok->string + 1))
				return true;
		}
		else if (hba_token_is_keyword(tok, "all"))
			return true;
		else if (PGTLS_TOKEN_HAS_REGEX(tok))
		{
			if (pgtls_token_regex_matches(tok, user))
				return true;
		}
		else if (strcmp(tok->string, user) == 0)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------------
 * Sets of connections (shadowing)
 *
 * Each function answers whether line a matches every connection of one
 * "piece" of a later line b: one connection kind, one address family, one
 * database token and one user token of b.  HBA_COVER_UNDECIDED means the
 * answer depends on something not known statically (DNS, network
 * interfaces, what a regular expression matches); *why then says what.
 * ---------------------------------------------------------------------
 */

/* Is the address range of b inside that of a (both HBA_ADDR_MASK)? */
static bool
mask_contains(const HbaRule *a, const HbaRule *b)
{
	int			len = a->family == AF_INET ? 4 : 16;
	int			i;

	if (a->family != b->family)
		return false;
	for (i = 0; i < len; i++)
	{
		if (a->mask[i] & ~b->mask[i])
			return false;		/* b leaves free a bit that a fixes */
		if ((a->addr[i] ^ b->addr[i]) & a->mask[i])
			return false;
	}
	return true;
}

static bool
mask_is_zero(const HbaRule *a)
{
	int			len = a->family == AF_INET ? 4 : 16;
	int			i;

	for (i = 0; i < len; i++)
		if (a->mask[i] != 0)
			return false;
	return true;
}

/* Case-insensitive host name pattern test of hba.c hostname_match() */
static bool
hostname_covers(const char *pattern, const char *name)
{
	if (pattern[0] == '.')
	{
		size_t		plen = strlen(pattern);
		size_t		nlen = strlen(name);

		if (name[0] == '.')
			return nlen >= plen &&
				pg_strcasecmp(pattern, name + nlen - plen) == 0;
		return nlen > plen && pg_strcasecmp(pattern, name + nlen - plen) == 0;
	}
	return pg_strcasecmp(pattern, name) == 0;
}

HbaCover
hba_addr_covered(const HbaRule *a, const HbaRule *b, int family,
				 const char **why)
{
	if (b->addr_kind == HBA_ADDR_NONE)
		return a->addr_kind == HBA_ADDR_NONE ? HBA_COVER_YES : HBA_COVER_NO;
	if (a->addr_kind == HBA_ADDR_NONE)
		return HBA_COVER_NO;
	if (a->addr_kind == HBA_ADDR_ALL)
		return HBA_COVER_YES;

	switch (b->addr_kind)
	{
		case HBA_ADDR_ALL:
			/* the piece is every address of one family */
			if (a->addr_kind == HBA_ADDR_MASK && a->family == family &&
				mask_is_zero(a))
				return HBA_COVER_YES;
			return HBA_COVER_NO;

		case HBA_ADDR_MASK:
			if (a->addr_kind == HBA_ADDR_MASK)
				return mask_contains(a, b) ? HBA_COVER_YES : HBA_COVER_NO;
			if (a->addr_kind == HBA_ADDR_HOSTNAME)
			{
				*why = "host names depend on DNS";
				return HBA_COVER_UNDECIDED;
			}
			*why = "samehost/samenet depend on the server's network interfaces";
			return HBA_COVER_UNDECIDED;

		case HBA_ADDR_SAMEHOST:
			if (a->addr_kind == HBA_ADDR_SAMEHOST ||
				a->addr_kind == HBA_ADDR_SAMENET)
				return HBA_COVER_YES;
			*why = a->addr_kind == HBA_ADDR_HOSTNAME ?
				"host names depend on DNS" :
				"samehost depends on the server's network interfaces";
			return HBA_COVER_UNDECIDED;

		case HBA_ADDR_SAMENET:
			if (a->addr_kind == HBA_ADDR_SAMENET)
				return HBA_COVER_YES;
			*why = a->addr_kind == HBA_ADDR_HOSTNAME ?
				"host names depend on DNS" :
				"samenet depends on the server's network interfaces";
			return HBA_COVER_UNDECIDED;

		case HBA_ADDR_HOSTNAME:
			if (a->addr_kind == HBA_ADDR_HOSTNAME &&
				hostname_covers(a->hba->hostname, b->hba->hostname))
				return HBA_COVER_YES;
			*why = "host names depend on DNS";
			return HBA_COVER_UNDECIDED;

		default:
			return HBA_COVER_NO;
	}
}

static bool
list_has_regex(List *tokens)
{
	ListCell   *lc;

	foreach(lc, tokens)
		if (PGTLS_TOKEN_HAS_REGEX((AuthToken *) lfirst(lc)))
			return true;
	return false;
}

static bool
list_has_keyword(List *tokens, const char *kw)
{
	ListCell   *lc;

	foreach(lc, tokens)
		if (hba_token_is_keyword(lfirst(lc), kw))
			return true;
	return false;
}

/* Same token text and kind (for regular expressions and keywords) */
static bool
list_has_same_token(List *tokens, const AuthToken *t)
{
	ListCell   *lc;

	foreach(lc, tokens)
	{
		AuthToken  *x = lfirst(lc);

		if (x->quoted == t->quoted && strcmp(x->string, t->string) == 0)
			return true;
	}
	return false;
}

/*
 * HBA_COVER_NO, unless a's tokens hold a regular expression, which might
 * match what is asked about: then HBA_COVER_UNDECIDED, *why naming it.
 */
static HbaCover
no_unless_regex(List *atoks, const char *regex_why, const char **why)
{
	if (list_has_regex(atoks))
	{
		*why = regex_why;
		return HBA_COVER_UNDECIDED;
	}
	return HBA_COVER_NO;
}

/* Is role b's user token naming one single user (no group, all or regex)? */
static bool
role_token_is_single_user(const AuthToken *role)
{
	return !hba_token_is_member_check(role) &&
		!PGTLS_TOKEN_HAS_REGEX(role) &&
		!hba_token_is_keyword(role, "all");
}

/*
 * Is every user of b's user token role (one user or the members of a
 * +group) a member of the role named dbrole_name?  samerole on a database
 * of that name matches them all.
 */
static bool
role_token_members_of(const AuthToken *role, const char *dbrole_name)
{
	Oid			dbrole = get_role_oid(dbrole_name, true);
	Oid			u;

	if (!OidIsValid(dbrole) || PGTLS_TOKEN_HAS_REGEX(role) ||
		hba_token_is_keyword(role, "all"))
		return false;
	if (hba_token_is_member_check(role))
		u = get_role_oid(role->string + 1, true);
	else
		u = get_role_oid(role->string, true);
	return OidIsValid(u) && is_member_of_role_nosuper(u, dbrole);
}

/*
 * Does a's database field atoks match the one database name, for users
 * matched by b's user token role?
 */
static HbaCover
db_name_covered(List *atoks, const char *name, const AuthToken *role)
{
	ListCell   *lc;

	foreach(lc, atoks)
	{
		AuthToken  *t = lfirst(lc);

		if (hba_token_is_keyword(t, "sameuser"))
		{
			/* only when b's user is that same single name */
			if (role_token_is_single_user(role) &&
				strcmp(role->string, name) == 0)
				return HBA_COVER_YES;
		}
		else if (hba_token_is_keyword(t, "samerole") ||
				 hba_token_is_keyword(t, "samegroup"))
		{
			if (role_token_members_of(role, name))
				return HBA_COVER_YES;
		}
		else if (hba_db_token_is_keyword(t))
			continue;
		else if (PGTLS_TOKEN_HAS_REGEX(t))
		{
			if (pgtls_token_regex_matches(t, name))
				return HBA_COVER_YES;
		}
		else if (strcmp(t->string, name) == 0)
			return HBA_COVER_YES;
	}
	return HBA_COVER_NO;
}

/*
 * Does a's database field match every database the database token db of b
 * can match, for users matched by b's user token role?
 */
HbaCover
hba_db_token_covered(const HbaRule *a, AuthToken *db, AuthToken *role,
					 const char **why)
{
	List	   *atoks = a->hba->databases;

	if (hba_token_is_keyword(db, "replication"))
		return list_has_keyword(atoks, "replication") ? HBA_COVER_YES : HBA_COVER_NO;

	/* every other kind of b token matches only non-replication connections */
	if (list_has_keyword(atoks, "all"))
		return HBA_COVER_YES;

	if (hba_token_is_keyword(db, "all"))
		return no_unless_regex(atoks,
							   "a regular expression for databases may match every name",
							   why);

	if (hba_token_is_keyword(db, "sameuser"))
	{
		/* samerole also matches: every role is a member of itself */
		if (list_has_keyword(atoks, "sameuser") ||
			list_has_keyword(atoks, "samerole") ||
			list_has_keyword(atoks, "samegroup"))
			return HBA_COVER_YES;
		/* sameuser for a single named user is that database */
		if (role_token_is_single_user(role))
			return db_name_covered(atoks, role->string, role);
		return no_unless_regex(atoks,
							   "a regular expression for databases",
							   why);
	}

	if (hba_token_is_keyword(db, "samerole") ||
		hba_token_is_keyword(db, "samegroup"))
	{
		if (list_has_keyword(atoks, "samerole") ||
			list_has_keyword(atoks, "samegroup"))
			return HBA_COVER_YES;
		return no_unless_regex(atoks,
							   "a regular expression for databases",
							   why);
	}

	if (PGTLS_TOKEN_HAS_REGEX(db))
	{
		if (list_has_same_token(atoks, db))
			return HBA_COVER_YES;
		*why = "what a regular expression for databases matches cannot be decided";
		return HBA_COVER_UNDECIDED;
	}

	/* b matches exactly one database name */
	return db_name_covered(atoks, db->string, role);
}

/*
 * Does a's user field atoks match every member of b's +group token role?
 * Members of a group are members of every group it belongs to.
 */
static HbaCover
group_token_covered(List *atoks, AuthToken *role, const char **why)
{
	Oid			g = get_role_oid(role->string + 1, true);
	ListCell   *lc;

	foreach(lc, atoks)
	{
		AuthToken  *t = lfirst(lc);

		if (!hba_token_is_member_check(t))
			continue;
		if (strcmp(t->string, role->string) == 0)
			return HBA_COVER_YES;
		if (OidIsValid(g))
		{
			Oid			h = get_role_oid(t->string + 1, true);

			/* members of g are members of every group g belongs to */
			if (OidIsValid(h) && is_member_of_role_nosuper(g, h))
				return HBA_COVER_YES;
		}
	}
	return no_unless_regex(atoks, "a regular expression for users", why);
}

/*
 * Does a's user field match every user the user token role of b can match?
 * Group membership is read from the catalog as it is now.
 */
HbaCover
hba_role_token_covered(const HbaRule *a, AuthToken *role, const char **why)
{
	List	   *atoks = a->hba->roles;

	if (list_has_keyword(atoks, "all"))
		return HBA_COVER_YES;

	if (hba_token_is_keyword(role, "all"))
		return no_unless_regex(atoks,
							   "a regular expression for users may match every name",
							   why);

	if (hba_token_is_member_check(role))
		return group_token_covered(atoks, role, why);

	if (PGTLS_TOKEN_HAS_REGEX(role))
	{
		if (list_has_same_token(atoks, role))
			return HBA_COVER_YES;
		*why = "what a regular expression for users matches cannot be decided";
		return HBA_COVER_UNDECIDED;
	}

	/* a single user name: the server's own test for one connection */
	return hba_role_list_matches(atoks, role->string,
								 get_role_oid(role->string, true)) ?
		HBA_COVER_YES : HBA_COVER_NO;
}
