/*-------------------------------------------------------------------------
 *
 * hba_cover.h
 *	  Does one pg_hba line cover what another admits?  The coverage
 *	  predicates of the shadowing analysis (config/hba_cover.c).
 *
 * src/config/hba_cover.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_HBA_COVER_H
#define PGTLS_CONFIG_HBA_COVER_H

#include "config/hba.h"

/* Does a line match all connections of a piece of another? */
typedef enum HbaCover
{
	HBA_COVER_NO,
	HBA_COVER_UNDECIDED,		/* depends on DNS, interfaces, regexes */
	HBA_COVER_YES
} HbaCover;

/* the server's matching rules applied to sets of connections */
extern HbaCover hba_db_token_covered(const HbaRule *a, AuthToken *db,
									 AuthToken *role, const char **why);
extern HbaCover hba_role_token_covered(const HbaRule *a, AuthToken *role,
									   const char **why);
extern HbaCover hba_addr_covered(const HbaRule *a, const HbaRule *b,
								 int family, const char **why);
extern bool hba_token_is_keyword(const AuthToken *tok, const char *kw);
extern bool hba_db_token_is_keyword(const AuthToken *tok);
extern bool hba_role_is_member(Oid userid, const char *role);
extern bool hba_role_list_matches(List *tokens, const char *user, Oid roleid);

/* a +group token of the user field */
#define hba_token_is_member_check(t)	(!(t)->quoted && (t)->string[0] == '+')

#endif							/* PGTLS_CONFIG_HBA_COVER_H */
