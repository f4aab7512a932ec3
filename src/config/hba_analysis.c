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
 * Cost: one line has at most 4 x 2 x t x t pieces (t: tokens in a field).
 * For each piece only the earlier lines that can match it in its database,
 * user or address field are visited (the index below, built once per file
 * in O(n t)), in line order, stopping at the first that covers it.  A file
 * of distinct rules (a database, a user or a network per line) costs
 * O(n t^3 log n): measured 10,000 lines of "hostssl dbN uN,+gN
 * 10.N.0.0/16" in 0.05 s, 100,000 in 0.66 s, where the scan of every
 * earlier line took 0.17 s at 8,000 and 1.05 s at 16,000 (x6 per doubling).  Lines that match
 * in every field (all all all) are still compared with each other, but
 * then the first earlier such line covers a piece and ends its search.  It
 * runs twice per line (all connections, then unencrypted ones) and, for the
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

#include <limits.h>

#include "miscadmin.h"
#include "utils/hsearch.h"

/* Connection kinds that can really reach a rule on this server */
int
hba_effective_kinds(const HbaAnalysis *an, const HbaRule *r)
{
	int			k = r->conn_kinds;

	if (!an->ssl_on)
		k &= ~HBA_CONN_SSL;
	return k;
}

/* ---------------------------------------------------------------------
 * The index of the rules by what they can match
 *
 * The search for the earlier rules that match a piece entirely only needs
 * the rules that can match it in every field.  For each of three fields
 * (database, user, address), the index gives the rules that can match a
 * piece in that field; a rule outside that set answers HBA_COVER_NO for
 * that field (see hba_cover.c), so leaving it out of the search changes
 * nothing.  The search then visits, in line order, the candidates of the
 * field that has the fewest, and applies the same tests as before to
 * each.
 *
 *	database: a plain name (no keyword, no regular expression) can only be
 *	  matched by rules that list the same name or have a keyword or a
 *	  regular expression in their database field (db_other);
 *	user: likewise, with +group, "all" and regular expressions in user_other;
 *	address: an address range (CIDR or contiguous netmask, or a netmask
 *	  whose leading ones are taken) can only be matched by a rule with
 *	  "all", samehost, samenet, a host name or a non-contiguous netmask
 *	  (addr_other), or by a contiguous range that contains it: one per
 *	  prefix length at most, looked up by (family, length, network).
 *	  "all" needs an /0 range or "all"; local lines only local lines.
 *	Regular expressions, samehost, samenet and host names in the piece
 *	itself are not filtered in that field.
 *
 * Names are keyed by their first HBA_INDEX_KEYLEN - 1 bytes: two longer
 * names that share them share a set, which only adds candidates.
 * Building it is O(n t); a piece then costs O(t log c + c) for its c
 * candidates instead of O(n), so files of distinct rules are analyzed in
 * O(n t^3 log n) instead of O(n^2 t^3).
 * ---------------------------------------------------------------------
 */

#define HBA_INDEX_KEYLEN	128

/* Rule numbers in ascending order (rules are added in order) */
typedef struct RuleSet
{
	int			n;
	int			cap;
	int		   *items;
} RuleSet;

typedef struct NameEntry
{
	char		key[HBA_INDEX_KEYLEN];
	RuleSet		set;
} NameEntry;

typedef struct AddrKey
{
	int			family;
	int			prefix;
	uint8		net[16];
} AddrKey;

typedef struct AddrEntry
{
	AddrKey		key;
	RuleSet		set;
} AddrEntry;

typedef struct HbaCoverIndex
{
	HTAB	   *db_names;
	RuleSet		db_other;
	HTAB	   *user_names;
	RuleSet		user_other;
	HTAB	   *addr_ranges;
	RuleSet		addr_other;
	RuleSet		addr_none;
	/* the rules that might cover a piece of the line being searched */
	uint32		search;			/* number of the current search */
	uint32	   *undecided_in;	/* per rule: last search that noted it */
	const char **whys;			/* per rule: why, valid in that search */
} HbaCoverIndex;

/* The candidates of one field for one piece: up to 2 + 129 sets */
#define MAX_PIECE_SETS	(2 + 129)

typedef struct CandidateSets
{
	int			nsets;
	const RuleSet *sets[MAX_PIECE_SETS];
	bool		unfiltered;		/* the field does not narrow the search */
} CandidateSets;

static void
ruleset_add(RuleSet *s, int rule)
{
	if (s->n > 0 && s->items[s->n - 1] == rule)
		return;					/* the same rule twice in a row */
	if (s->n == s->cap)
	{
		s->cap = s->cap == 0 ? 4 : s->cap * 2;
		s->items = s->items == NULL ? palloc(sizeof(int) * s->cap) :
			repalloc(s->items, sizeof(int) * s->cap);
	}
	s->items[s->n++] = rule;
}

/* How many rules of s come before rule bi (binary search) */
static int
ruleset_count_before(const RuleSet *s, int bi)
{
	int			lo = 0,
				hi = s->n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (s->items[mid] < bi)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static HTAB *
name_table(const char *name)
{
	HASHCTL		ctl;

	ctl.keysize = HBA_INDEX_KEYLEN;
	ctl.entrysize = sizeof(NameEntry);
	ctl.hcxt = CurrentMemoryContext;
	return hash_create(name, 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

static void
name_add(HTAB *tab, const char *name, int rule)
{
	char		key[HBA_INDEX_KEYLEN];
	NameEntry  *e;
	bool		found;

	strlcpy(key, name, sizeof(key));
	e = hash_search(tab, key, HASH_ENTER, &found);
	if (!found)
		memset(&e->set, 0, sizeof(e->set));
	ruleset_add(&e->set, rule);
}

static const RuleSet *
name_lookup(HTAB *tab, const char *name)
{
	char		key[HBA_INDEX_KEYLEN];
	NameEntry  *e;

	strlcpy(key, name, sizeof(key));
	e = hash_search(tab, key, HASH_FIND, NULL);
	return e ? &e->set : NULL;
}

/* The key of the range of prefix bits of addr (family's length) */
static void
addr_key(AddrKey *key, int family, int prefix, const uint8 *addr)
{
	int			len = family == AF_INET ? 4 : 16;
	int			i;

	memset(key, 0, sizeof(*key));
	key->family = family;
	key->prefix = prefix;
	for (i = 0; i < len; i++)
	{
		int			bits = Min(Max(prefix - i * 8, 0), 8);

		key->net[i] = addr[i] & (uint8) (0xff00 >> bits);
	}
}

/* Leading one bits of a netmask */
static int
leading_ones(const uint8 *mask, int len)
{
	int			bits = 0;

	while (bits < len * 8 && ((mask[bits / 8] >> (7 - bits % 8)) & 1))
		bits++;
	return bits;
}

static HbaCoverIndex *
build_cover_index(HbaAnalysis *an)
{
	HbaCoverIndex *ix = palloc0(sizeof(HbaCoverIndex));
	HASHCTL		ctl;
	int			i;

	ix->undecided_in = palloc0(sizeof(uint32) * Max(an->nrules, 1));
	ix->whys = palloc0(sizeof(char *) * Max(an->nrules, 1));
	ix->db_names = name_table("pgtls_audit hba database names");
	ix->user_names = name_table("pgtls_audit hba user names");
	ctl.keysize = sizeof(AddrKey);
	ctl.entrysize = sizeof(AddrEntry);
	ctl.hcxt = CurrentMemoryContext;
	ix->addr_ranges = hash_create("pgtls_audit hba address ranges", 256, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	for (i = 0; i < an->nrules; i++)
	{
		HbaRule    *r = &an->rules[i];
		ListCell   *lc;

		CHECK_FOR_INTERRUPTS();
		if (r->hba == NULL)
			continue;
		foreach(lc, r->hba->databases)
		{
			AuthToken  *t = lfirst(lc);

			if (hba_db_token_is_keyword(t) || PGTLS_TOKEN_HAS_REGEX(t))
				ruleset_add(&ix->db_other, i);
			else
				name_add(ix->db_names, t->string, i);
		}
		foreach(lc, r->hba->roles)
		{
			AuthToken  *t = lfirst(lc);

			if (hba_token_is_member_check(t) ||
				hba_token_is_keyword(t, "all") || PGTLS_TOKEN_HAS_REGEX(t))
				ruleset_add(&ix->user_other, i);
			else
				name_add(ix->user_names, t->string, i);
		}
		if (r->addr_kind == HBA_ADDR_NONE)
			ruleset_add(&ix->addr_none, i);
		else if (r->addr_kind == HBA_ADDR_MASK && r->prefix >= 0)
		{
			AddrKey		key;
			AddrEntry  *e;
			bool		found;

			addr_key(&key, r->family, r->prefix, r->addr);
			e = hash_search(ix->addr_ranges, &key, HASH_ENTER, &found);
			if (!found)
				memset(&e->set, 0, sizeof(e->set));
			ruleset_add(&e->set, i);
		}
		else
			ruleset_add(&ix->addr_other, i);
	}
	return ix;
}

static void
add_set(CandidateSets *cs, const RuleSet *s)
{
	if (s != NULL && s->n > 0)
	{
		Assert(cs->nsets < MAX_PIECE_SETS);
		cs->sets[cs->nsets++] = s;
	}
}

/* The rules that can match database token dt for user token rt */
static void
db_candidates(HbaCoverIndex *ix, AuthToken *dt, AuthToken *rt,
			  CandidateSets *cs)
{
	if (PGTLS_TOKEN_HAS_REGEX(dt))
	{
		cs->unfiltered = true;
		return;
	}
	add_set(cs, &ix->db_other);
	if (!hba_db_token_is_keyword(dt))
		add_set(cs, name_lookup(ix->db_names, dt->string));
	else if (hba_token_is_keyword(dt, "sameuser") &&
			 !hba_token_is_member_check(rt) && !PGTLS_TOKEN_HAS_REGEX(rt) &&
			 !hba_token_is_keyword(rt, "all"))
		add_set(cs, name_lookup(ix->db_names, rt->string));
}

/* The rules that can match user token rt */
static void
user_candidates(HbaCoverIndex *ix, AuthToken *rt, CandidateSets *cs)
{
	if (PGTLS_TOKEN_HAS_REGEX(rt))
	{
		cs->unfiltered = true;
		return;
	}
	add_set(cs, &ix->user_other);
	if (!hba_token_is_member_check(rt) && !hba_token_is_keyword(rt, "all"))
		add_set(cs, name_lookup(ix->user_names, rt->string));
}

/* The rules that can match the addresses of family of rule b */
static void
addr_candidates(HbaCoverIndex *ix, const HbaRule *b, int family,
				CandidateSets *cs)
{
	AddrKey		key;
	uint8		zero[16] = {0};
	int			p,
				last;

	switch (b->addr_kind)
	{
		case HBA_ADDR_NONE:
			add_set(cs, &ix->addr_none);
			return;
		case HBA_ADDR_ALL:
			add_set(cs, &ix->addr_other);
			{
				AddrEntry  *e;

				addr_key(&key, family, 0, zero);
				e = hash_search(ix->addr_ranges, &key, HASH_FIND, NULL);
				if (e)
					add_set(cs, &e->set);
			}
			return;
		case HBA_ADDR_MASK:
			add_set(cs, &ix->addr_other);
			last = leading_ones(b->mask, b->family == AF_INET ? 4 : 16);
			for (p = 0; p <= last; p++)
			{
				AddrEntry  *e;

				addr_key(&key, b->family, p, b->addr);
				e = hash_search(ix->addr_ranges, &key, HASH_FIND, NULL);
				if (e)
					add_set(cs, &e->set);
			}
			return;
		default:
			cs->unfiltered = true;
			return;
	}
}

/* How many candidates before rule bi; INT_MAX when unfiltered */
static int
candidate_count(const CandidateSets *cs, int bi)
{
	int			n = 0;
	int			i;

	if (cs->unfiltered)
		return INT_MAX;
	for (i = 0; i < cs->nsets; i++)
		n += ruleset_count_before(cs->sets[i], bi);
	return n;
}

/*
 * The candidates of a piece in line order, merged on the fly from the sets
 * of one field (the search usually stops at an early one).
 */
typedef struct CandidateCursor
{
	CandidateSets sets;
	int			pos[MAX_PIECE_SETS];
	int			end[MAX_PIECE_SETS];	/* the rules before bi */
	int			last;			/* the candidate returned last, or -1 */
} CandidateCursor;

/*
 * Set up cur for the field with the fewest candidates before rule bi for
 * the piece; false when no field narrows the search.
 */
static bool
piece_candidates(HbaCoverIndex *ix, const HbaRule *b, int bi, int family,
				 AuthToken *dt, AuthToken *rt, CandidateCursor *cur)
{
	CandidateSets fields[3];
	int			counts[3];
	int			best = -1;
	int			f,
				i;

	cur->sets.nsets = 0;
	cur->last = -1;
	memset(fields, 0, sizeof(fields));
	db_candidates(ix, dt, rt, &fields[0]);
	user_candidates(ix, rt, &fields[1]);
	addr_candidates(ix, b, family, &fields[2]);
	for (f = 0; f < 3; f++)
	{
		counts[f] = candidate_count(&fields[f], bi);
		if (counts[f] != INT_MAX && (best < 0 || counts[f] < counts[best]))
			best = f;
	}
	if (best < 0)
		return false;

	cur->sets = fields[best];
	for (i = 0; i < cur->sets.nsets; i++)
	{
		cur->pos[i] = 0;
		cur->end[i] = ruleset_count_before(cur->sets.sets[i], bi);
	}
	cur->last = -1;
	return true;
}

/* The next candidate of cur in line order (each once), or -1 at the end */
static int
cursor_next(CandidateCursor *cur)
{
	int			next = -1;
	int			i;

	for (i = 0; i < cur->sets.nsets; i++)
	{
		const int  *items = cur->sets.sets[i]->items;

		while (cur->pos[i] < cur->end[i] && items[cur->pos[i]] <= cur->last)
			cur->pos[i]++;
		if (cur->pos[i] < cur->end[i] &&
			(next < 0 || items[cur->pos[i]] < next))
			next = items[cur->pos[i]];
	}
	cur->last = next;
	return next;
}

/* The search for the earlier lines that cover the pieces of rule bi */
typedef struct PieceSearch
{
	HbaAnalysis *an;
	int			bi;
	List	   *cover_lines;	/* first covering rule of each piece */
	List	   *undecided_lines;	/* rules that might cover a piece */
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
	CandidateCursor cur;
	bool		indexed;
	int			ai = -1;

	indexed = piece_candidates(an->cover_index, b, ps->bi, family, dt, rt,
							   &cur);
	for (;;)
	{
		HbaRule    *a;
		const char *why = NULL;
		HbaCover	ca,
					cd,
					cr;

		ai = indexed ? cursor_next(&cur) : ai + 1;
		if (ai < 0 || ai >= ps->bi)
			break;
		a = &an->rules[ai];
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
		if (an->cover_index->undecided_in[ai] != an->cover_index->search)
		{
			an->cover_index->undecided_in[ai] = an->cover_index->search;
			ps->undecided_lines = lappend_int(ps->undecided_lines, ai);
			an->cover_index->whys[ai] = why ? why : "cannot be decided statically";
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
static HbaCover
pieces_covered(HbaAnalysis *an, int bi, List *roles, int kinds_mask,
			   StringInfo covering, StringInfo undecided, int *first_cover)
{
	HbaRule    *b = &an->rules[bi];
	int			kinds = hba_effective_kinds(an, b) & kinds_mask;
	PieceSearch ps = {an, bi, NIL, NIL};
	int			fams[2];
	int			nfams = piece_families(b, fams);
	int			k;
	bool		any_undecided = false;

	if (an->cover_index == NULL)
	{
		/* in the context of the rules: it lives as long as they do */
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(an->rules));

		an->cover_index = build_cover_index(an);
		MemoryContextSwitchTo(old);
	}
	an->cover_index->search++;
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
			append_rule_list(undecided, an, ps.undecided_lines,
							 an->cover_index->whys);
		return HBA_COVER_UNDECIDED;
	}
	if (first_cover)
	{
		ListCell   *lc;

		*first_cover = -1;
		foreach(lc, ps.cover_lines)
			if (*first_cover < 0 || lfirst_int(lc) < *first_cover)
				*first_cover = lfirst_int(lc);
	}
	if (covering)
		append_rule_list(covering, an, ps.cover_lines, NULL);
	return HBA_COVER_YES;
}

HbaCover
hba_pieces_covered(HbaAnalysis *an, int bi, List *roles, int kinds_mask,
				   StringInfo covering, StringInfo undecided)
{
	return pieces_covered(an, bi, roles, kinds_mask, covering, undecided,
						  NULL);
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
	b->shadowed_by_first = -1;
	if (hba_effective_kinds(an, b) == 0)
	{
		b->reachable = false;
		b->unreachable_reason = MemoryContextStrdup(out, "hostssl line while ssl is off: it can never match");
	}
	else
	{
		initStringInfo(&covering);
		initStringInfo(&undecided);
		c = pieces_covered(an, bi, NIL, ~0, &covering, &undecided,
						   &b->shadowed_by_first);
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
