/*-------------------------------------------------------------------------
 *
 * hba_rules.c
 *	  pgtls_audit._hba_rules(hba_file): every line of a pg_hba file with
 *	  its analysis (hba_analysis.c), secrets already redacted for callers
 *	  who may not see them (hba_redact.c).
 *
 * src/config/hba_rules.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "common/findings_list.h"

#include "config/hba.h"
#include "config/hba_analysis.h"
#include "config/hba_parse.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

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

/* Column col is s, or NULL when s is */
static void
set_text_or_null(Datum *values, bool *nulls, int col, const char *s)
{
	nulls[col] = s == NULL;
	if (s)
		values[col] = CStringGetTextDatum(s);
}

/* The columns of a line the parser accepted, and its analysis */
static void
set_rule_columns(const HbaRule *r, Datum *values, bool *nulls)
{
	values[HR_RULE] = Int32GetDatum(r->rule_number);
	values[HR_TYPE] = CStringGetTextDatum(hba_conntype_name(r->hba->conntype));
	values[HR_DATABASES] = pgtls_text_array(token_strings(r->hba->databases));
	values[HR_USERS] = pgtls_text_array(token_strings(r->hba->roles));
	values[HR_METHOD] = CStringGetTextDatum(hba_authname(r->hba->auth_method));
	values[HR_OPTIONS] = pgtls_text_array(r->options);
	values[HR_PLAINTEXT] = BoolGetDatum(r->allows_plaintext);
	values[HR_WEAK] = BoolGetDatum(r->weak_method);
	nulls[HR_RULE] = nulls[HR_TYPE] = nulls[HR_DATABASES] = false;
	nulls[HR_USERS] = nulls[HR_METHOD] = nulls[HR_OPTIONS] = false;
	nulls[HR_PLAINTEXT] = nulls[HR_WEAK] = false;
	set_text_or_null(values, nulls, HR_ADDRESS, r->address);
	set_text_or_null(values, nulls, HR_NETMASK, r->netmask);
	set_text_or_null(values, nulls, HR_SHADOWED_BY, r->shadowed_by);
	set_text_or_null(values, nulls, HR_WEAK_REASON, r->weak_reason);
	set_text_or_null(values, nulls, HR_NOTE,
					 r->shadowed_by ? NULL :
					 r->unreachable_reason ? r->unreachable_reason : r->shadow_note);
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

		CHECK_FOR_INTERRUPTS();
		memset(nulls, true, sizeof(nulls));
		values[HR_FILE] = CStringGetTextDatum(r->file);
		values[HR_LINE] = Int32GetDatum(r->line_number);
		values[HR_RAW] = CStringGetTextDatum(r->raw_line);
		values[HR_REACHABLE] = BoolGetDatum(r->hba != NULL && r->reachable);
		nulls[HR_FILE] = nulls[HR_LINE] = nulls[HR_RAW] = nulls[HR_REACHABLE] = false;
		set_text_or_null(values, nulls, HR_ERROR, r->error);
		if (r->hba != NULL)
			set_rule_columns(r, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
