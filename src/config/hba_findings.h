/*-------------------------------------------------------------------------
 *
 * hba_findings.h
 *	  The hba and auth findings of an analyzed pg_hba file
 *	  (config/hba_findings.c).
 *
 * src/config/hba_findings.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_HBA_FINDINGS_H
#define PGTLS_CONFIG_HBA_FINDINGS_H

#include "config/hba.h"

extern void hba_findings(HbaAnalysis *analysis, List **findings);
extern void hba_mtime_findings(HbaAnalysis *analysis, List **findings);

#endif							/* PGTLS_CONFIG_HBA_FINDINGS_H */
