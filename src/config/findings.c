/*-------------------------------------------------------------------------
 *
 * findings.c
 *	  pgtls_audit._config_findings(), the C part of pgtls_audit.findings,
 *	  on top of the checks: ssl settings and files (ssl_checks.c), cipher
 *	  suites (ciphers.c), PostgreSQL 19's pg_hosts.conf (hosts_checks.c)
 *	  and pg_hba.conf (hba_findings.c on the analysis of
 *	  hba_analysis.c, including whether the file changed on disk after the
 *	  server last loaded its configuration).
 *
 * src/config/findings.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "common/findings_list.h"
#include "common/settings.h"
#include "config/ciphers.h"
#include "config/hba.h"
#include "config/hba_analysis.h"
#include "config/hba_findings.h"
#include "config/hba_parse.h"
#include "config/hosts_checks.h"
#include "config/ssl_checks.h"

#include <unistd.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"


/*
 * pgtls_audit._config_findings(hba_file text): every finding made in C.
 * hba_file NULL: the configured one (and the mtime check); another path
 * (privileges of pg_read_server_files) analyzes that file together with
 * the live settings.  Secrets of the pg_hba lines never reach a message
 * for callers without those privileges (hba_redact.c redacts them).
 */
PG_FUNCTION_INFO_V1(pgtls_audit_config_findings);

Datum
pgtls_audit_config_findings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *path = hba_file_argument(fcinfo, 0);
	HbaAnalysis *an = NULL;
	List	   *findings = NIL;
	ListCell   *lc;

	InitMaterializedSRF(fcinfo, 0);

	if (access(path, R_OK) != 0)
	{
		int			save_errno = errno;

		finding_add(&findings, "HBA009", FINDING_CRITICAL, "hba", path,
					"Check hba_file and the file's owner and permissions.",
					"pg_hba file cannot be read: %s", strerror(save_errno));
	}
	else
		an = hba_analyze(path);

	ssl_findings(an, &findings);
	hosts_findings(an, &findings);
	cipher_findings(&findings);
	if (an)
	{
		hba_findings(an, &findings);
		if (strcmp(path, HbaFileName) == 0)
			hba_mtime_findings(an, &findings);
	}

	foreach(lc, findings)
	{
		Finding    *f = lfirst(lc);
		Datum		values[6];
		bool		nulls[6] = {false};

		CHECK_FOR_INTERRUPTS();
		values[0] = CStringGetTextDatum(f->check_id);
		values[1] = CStringGetTextDatum(finding_severity_name(f->severity));
		values[2] = CStringGetTextDatum(f->area);
		if (f->location)
			values[3] = CStringGetTextDatum(f->location);
		else
			nulls[3] = true;
		values[4] = CStringGetTextDatum(f->message);
		if (f->hint)
			values[5] = CStringGetTextDatum(f->hint);
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
