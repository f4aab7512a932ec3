/*-------------------------------------------------------------------------
 *
 * hba_analysis.c
 *	  The lines of a pg_hba file (read by hba_parse.c) analyzed one by one:
 *	  reachability and shadowing (with the coverage predicates of
 *	  hba_cover.c), plaintext exposure, weak methods.
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
 * findings (hba_findings.c), once more per login superuser on each remote
 * line.  Group and role lookups go through the syscache.  Every loop over
 * lines checks for interrupts, so statement_timeout and pg_cancel_backend()
 * stop it; the scratch memory of one line's analysis lives in a context
 * reset after each line, so memory stays O(n t) for the results.
 *
 * src/config/hba_analysis.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "config/hba.h"
#include "config/hba_analysis.h"
#include "config/hba_cover.h"
#include "config/hba_parse.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "miscadmin.h"

/* Connection kinds that can really reach a rule on this server */
int
hba_effective_kinds(const HbaAnalysis *an, const HbaRule *r)
{
	int			k = r->conn_kinds;

	if (!an->ssl_on)
		k &= ~HBA_CONN_SSL;
	return k;
}

/* The search for the earlier lines that cover the pieces of rule bi */
typedef struct PieceSearch
{
	HbaAnalysis *an;
	int			bi;
	List	   *cover_lines;	/* first covering rule of each piece */
	List	   *undecided_lines;	/* rules that might cover a piece */
	const char **whys;			/* why, for each rule in undecided_lines */
} PieceSearch;

/* The address families of the pieces of rule b: both for "all" */
static int
piece_families(const HbaRule *b, int *fams)
{
	if (b->addr_kind == HBA_ADDR_ALL)
	{
		fams[0] = AF_INET;
		fams[1] = AF_INET6;
		return 2;
	}
	fams[0] = b->family;
	return 1;
}

/*
 * Is the piece (connection kind k, address family, database token dt,
 * user token rt) of rule bi matched entirely by one rule before it?
 * Notes the covering rule, or the rules that might cover, in ps.
 */
static HbaCover
piece_covered(PieceSearch *ps, int k, int family, AuthToken *dt,
			  AuthToken *rt)
{
	HbaAnalysis *an = ps->an;
	HbaRule    *b = &an->rules[ps->bi];
	HbaCover	best = HBA_COVER_NO;
	int			ai;

	for (ai = 0; ai < ps->bi; ai++)
	{
		HbaRule    *a = &an->rules[ai];
		const char *why = NULL;
		HbaCover	ca,
					cd,
					cr;

		CHECK_FOR_INTERRUPTS();
		if (a->hba == NULL || !(hba_effective_kinds(an, a) & k))
			continue;
		if ((ca = hba_addr_covered(a, b, family, &why)) == HBA_COVER_NO)
			continue;
		if ((cd = hba_db_token_covered(a, dt, rt, &why)) == HBA_COVER_NO)
			continue;
		if ((cr = hba_role_token_covered(a, rt, &why)) == HBA_COVER_NO)
			continue;
		if (ca == HBA_COVER_YES && cd == HBA_COVER_YES &&
			cr == HBA_COVER_YES)
		{
			ps->cover_lines = list_append_unique_int(ps->cover_lines, ai);
			return HBA_COVER_YES;
		}
		best = HBA_COVER_UNDECIDED;
		if (!list_member_int(ps->undecided_lines, ai))
		{
			ps->undecided_lines = lappend_int(ps->undecided_lines, ai);
			ps->whys[ai] = why ? why : "cannot be decided statically";
		}
	}
	return best;
}

/* "file:line, file:line" of the rules in lines, in order, each with its why */
static void
append_rule_list(StringInfo buf, HbaAnalysis *an, List *lines,
				 const char **whys)
{
	ListCell   *lc;

	list_sort(lines, list_int_cmp);
	foreach(lc, lines)
	{
		HbaRule    *a = &an->rules[lfirst_int(lc)];

		appendStringInfo(buf, "%s%s:%d", buf->len > 0 ? ", " : "",
						 a->file, a->line_number);
		if (whys)
			appendStringInfo(buf, " (%s)", whys[lfirst_int(lc)]);
	}
}

/*
 * Are all connections of rule bi (with its user tokens replaced by roles,
 * if not NIL) matched by rules before it?  Fills covering with the first
 * covering rule of each piece and undecided with rules that might cover.
 */
HbaCover
hba_pieces_covered(HbaAnalysis *an, int bi, List *roles, int kinds_mask,
				   StringInfo covering, StringInfo undecided)
{
	HbaRule    *b = &an->rules[bi];
	int			kinds = hba_effective_kinds(an, b) & kinds_mask;
	PieceSearch ps = {an, bi, NIL, NIL, NULL};
	int			fams[2];
	int			nfams = piece_families(b, fams);
	int			k;
	bool		any_undecided = false;

	ps.whys = palloc0(sizeof(char *) * Max(bi, 1));
	if (roles == NIL)
		roles = b->hba->roles;

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
					HbaCover	c = piece_covered(&ps, k, fams[f],
												  lfirst(dc), lfirst(rc));

					if (c == HBA_COVER_NO)
						return HBA_COVER_NO;
					if (c == HBA_COVER_UNDECIDED)
						any_undecided = true;
				}
			}
		}
	}

	if (any_undecided)
	{
		if (undecided)
			append_rule_list(undecided, an, ps.undecided_lines, ps.whys);
		return HBA_COVER_UNDECIDED;
	}
	if (covering)
		append_rule_list(covering, an, ps.cover_lines, NULL);
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
	if (hba_effective_kinds(an, b) == 0)
	{
		b->reachable = false;
		b->unreachable_reason = MemoryContextStrdup(out, "hostssl line while ssl is off: it can never match");
	}
	else
	{
		initStringInfo(&covering);
		initStringInfo(&undecided);
		c = hba_pieces_covered(an, bi, NIL, ~0, &covering, &undecided);
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
		(hba_effective_kinds(an, b) & HBA_CONN_PLAIN) != 0 &&
		m != uaReject && m != uaCert &&
		hba_pieces_covered(an, bi, NIL, HBA_CONN_PLAIN, NULL, NULL) != HBA_COVER_YES;

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
 * The rules of the pg_hba file at path, read (hba_parse.c) and analyzed:
 * what the server would do with each line.
 */
HbaAnalysis *
hba_analyze(const char *path)
{
	HbaAnalysis *an = hba_read_file(path);
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext scratch;
	int			i;

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
