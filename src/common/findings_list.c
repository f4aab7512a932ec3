/*-------------------------------------------------------------------------
 *
 * findings_list.c
 *	  The list every configuration check adds its findings to
 *	  (finding_add), and a text[] of a list of strings.  A leaf: it knows
 *	  no check, so that every check and the findings entry point
 *	  (config/findings.c) can use it without a cycle.
 *
 * src/common/findings_list.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/findings_list.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

const char *
finding_severity_name(FindingSeverity severity)
{
	switch (severity)
	{
		case FINDING_CRITICAL:
			return "critical";
		case FINDING_WARNING:
			return "warning";
		case FINDING_INFO:
			return "info";
	}
	return "unknown";
}

void
finding_add(List **findings, const char *check_id, FindingSeverity severity,
			const char *area, const char *location, const char *hint,
			const char *fmt,...)
{
	Finding    *f = palloc0(sizeof(Finding));
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}

	f->check_id = check_id;
	f->severity = severity;
	f->area = area;
	f->location = location ? pstrdup(location) : NULL;
	f->message = buf.data;
	f->hint = hint ? pstrdup(hint) : NULL;
	*findings = lappend(*findings, f);
}

Datum
pgtls_text_array(List *strings)
{
	Datum	   *elems;
	int			n = list_length(strings);
	int			i = 0;
	ListCell   *lc;

	if (n == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	elems = palloc(sizeof(Datum) * n);
	foreach(lc, strings)
	{
		CHECK_FOR_INTERRUPTS();
		elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
	}
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}
