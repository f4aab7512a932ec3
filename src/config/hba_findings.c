/*-------------------------------------------------------------------------
 *
 * hba_findings.c
 *	  The hba and auth findings of a pg_hba file analyzed by
 *	  hba_analysis.c: lines with errors, shadowed lines, weak methods,
 *	  plaintext exposure, wide address ranges, remote superusers (live or
 *	  latent), and whether the file changed on disk after the server last
 *	  loaded its configuration.
 *
 * "Changed on disk": the postmaster's parsed pg_hba lines cannot be read
 * from a backend, so this compares the modification time of every file
 * the analysis read (pg_hba.conf and, on 16+, its include files) with
 * pg_conf_load_time(), the time this backend last (re)loaded the
 * configuration files.  A newer file means the running rules may be older
 * than the file; an older file with errors means the last reload was
 * refused and the server runs older rules (HBA001 says so).  Changes that
 * keep the modification time (e.g. a restored backup) are not seen.
 *
 * src/config/hba_findings.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "common/findings_list.h"
#include "config/hba.h"
#include "config/hba_analysis.h"
#include "config/hba_cover.h"
#include "config/hba_findings.h"
#include "config/hba_parse.h"

#include <sys/stat.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

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

static AuthToken *
make_token(const char *s, bool quoted)
{
	AuthToken  *t = palloc0(sizeof(AuthToken));

	t->string = pstrdup(s);
	t->quoted = quoted;
	return t;
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
			hba_pieces_covered(an, i, list_make1(st), ~0, NULL, NULL) == HBA_COVER_YES)
			continue;
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
						 (char *) lfirst(sc));
	}
	MemoryContextSwitchTo(caller);
	result = pstrdup(names.data);
	MemoryContextReset(scratch);
	return result;
}

/* What the findings of one file share from rule to rule */
typedef struct HbaFindingState
{
	HbaAnalysis *an;
	List	   *supers;			/* login superusers, read when first needed */
	bool		supers_loaded;
	MemoryContext scratch;		/* for superusers_reaching() */
	List	  **findings;
} HbaFindingState;

/*
 * AUTH001 to AUTH006: the method of rule r itself.  plain: unencrypted
 * connections reach the line.
 */
static void
method_findings(const HbaRule *r, const char *loc, bool plain,
				const char *latent, List **findings)
{
	UserAuth	m = r->hba->auth_method;

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
					"Set password_encryption = 'scram-sha-256', have users set their passwords again, then use scram-sha-256 here (a user whose password is already stored as SCRAM authenticates with SCRAM on this line)."
					PGTLS_MD5_DEPRECATION_HINT,
					"method md5: MD5 password hashes are weaker than scram-sha-256%s",
					latent);

	if (m == uaIdent && r->hba->conntype != ctLocal)
		finding_add(findings, "AUTH006", FINDING_WARNING, "auth", loc,
					"Use scram-sha-256 or cert for TCP connections.",
					"ident over TCP trusts whatever the ident server on the client's host answers%s",
					latent);
}

/*
 * HBA004 to HBA006: who can reach rule r: unencrypted connections from
 * non-loopback addresses (remote_plain), every address.
 */
static void
exposure_findings(const HbaRule *r, const char *loc, bool remote_plain,
				  const char *latent, List **findings)
{
	UserAuth	m = r->hba->auth_method;

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
}

/* AUTH008: superusers reachable through rule i from non-loopback addresses */
static void
superuser_findings(HbaFindingState *st, int i, const char *loc,
				   const char *latent)
{
	HbaRule    *r = &st->an->rules[i];
	char	   *names;

	if (r->hba->conntype == ctLocal || r->loopback_only ||
		r->hba->auth_method == uaReject)
		return;
	if (!st->supers_loaded)
	{
		st->supers = login_superusers();
		st->supers_loaded = true;
	}
	names = superusers_reaching(st->an, i, st->supers, latent[0] != '\0',
								st->scratch);
	if (names[0] != '\0')
		finding_add(st->findings, "AUTH008", FINDING_WARNING, "auth", loc,
					"Put a line rejecting superusers from remote addresses before this one, or name the users this line is for.",
					"superuser(s) %s can log in from non-loopback addresses (%s) through this line%s",
					names, r->address, latent);
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
rule_risk_findings(HbaFindingState *st, int i, const char *latent)
{
	HbaRule    *r = &st->an->rules[i];
	char	   *loc = rule_location(r);
	UserAuth	m = r->hba->auth_method;
	bool		plain;

	if (latent[0] != '\0')
		plain = (hba_effective_kinds(st->an, r) & HBA_CONN_PLAIN) != 0 &&
			m != uaReject && m != uaCert;
	else
		plain = r->allows_plaintext;

	method_findings(r, loc, plain, latent, st->findings);
	exposure_findings(r, loc, plain && !r->loopback_only, latent,
					  st->findings);
	superuser_findings(st, i, loc, latent);
}

/* The first rule in the shadowed_by list of rule i, NULL if none */
static HbaRule *
first_shadowing_rule(HbaAnalysis *an, int i)
{
	int			j = an->rules[i].shadowed_by_first;

	return j >= 0 && j < i ? &an->rules[j] : NULL;
}

/*
 * HBA002 for shadowed rule i, then its own risk, latent: it becomes live
 * when the lines shadowing it change.
 */
static void
shadowed_rule_findings(HbaFindingState *st, int i, const char *loc)
{
	HbaRule    *r = &st->an->rules[i];
	HbaRule    *first = first_shadowing_rule(st->an, i);

	if (first && hba_rule_uses_client_cert(r) &&
		!hba_rule_uses_client_cert(first) &&
		first->hba->auth_method != uaReject)
		finding_add(st->findings, "HBA002", FINDING_WARNING, "hba", loc,
					"Move the line above the lines that shadow it if it is meant to apply, or delete it.",
					"line can never match: every connection it could match is matched first by %s (this line requires a client certificate, but those connections get method %s of %s instead)",
					r->shadowed_by, method_of(first), rule_location(first));
	else
		finding_add(st->findings, "HBA002", FINDING_WARNING, "hba", loc,
					"Move the line above the lines that shadow it if it is meant to apply, or delete it.",
					"line can never match: every connection it could match is matched first by %s",
					r->shadowed_by);

	rule_risk_findings(st, i,
					   psprintf(strchr(r->shadowed_by, ',') ?
								" (latent: shadowed today by %s; becomes live if those lines change)" :
								" (latent: shadowed today by %s; becomes live if that line changes)",
								r->shadowed_by));
}

void
hba_findings(HbaAnalysis *an, List **findings)
{
	HbaFindingState st = {an, NIL, false, NULL, findings};
	int			i;

	st.scratch = AllocSetContextCreate(CurrentMemoryContext,
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
			shadowed_rule_findings(&st, i, loc);
			continue;
		}
		if (!r->reachable)
			continue;			/* hostssl with ssl off: ssl_checks.c */

		if (r->shadow_note)
			finding_add(findings, "HBA003", FINDING_INFO, "hba", loc,
						"Check by hand whether the earlier lines cover this one, or use addresses and names that can be compared.",
						"line %s; this cannot be decided statically", r->shadow_note);

		rule_risk_findings(&st, i, "");
	}
	MemoryContextDelete(st.scratch);
}

/* HBA007: a file of the analysis is newer than the last configuration load */
void
hba_mtime_findings(HbaAnalysis *an, List **findings)
{
	ListCell   *lc;

	foreach(lc, an->files)
	{
		const char *file = lfirst(lc);
		struct stat st;
		TimestampTz mtime;

		CHECK_FOR_INTERRUPTS();
		if (stat(file, &st) != 0)
			continue;
		mtime = time_t_to_timestamptz(st.st_mtime);
		if (mtime > PgReloadTime)
			finding_add(findings, "HBA007", FINDING_WARNING, "hba", file,
						"Run SELECT pg_reload_conf() (after checking pgtls_audit.findings for errors) so that the server uses the file on disk.",
						"the file on disk was modified at %s, after the server last loaded its configuration (%s): the rules in force may differ from the file",
						timestamptz_to_str(mtime), timestamptz_to_str(PgReloadTime));
	}
}
