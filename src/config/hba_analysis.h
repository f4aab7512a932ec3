/*-------------------------------------------------------------------------
 *
 * hba_analysis.h
 *	  Reachability and shadowing of the lines of a pg_hba file
 *	  (config/hba_analysis.c).
 *
 * src/config/hba_analysis.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_CONFIG_HBA_ANALYSIS_H
#define PGTLS_CONFIG_HBA_ANALYSIS_H

#include "config/hba.h"
#include "config/hba_cover.h"

#include "lib/stringinfo.h"

extern HbaAnalysis *hba_analyze(const char *path);
extern int	hba_effective_kinds(const HbaAnalysis *an, const HbaRule *r);
extern HbaCover hba_pieces_covered(HbaAnalysis *an, int bi, List *roles,
								   int kinds_mask, StringInfo covering,
								   StringInfo undecided);

#endif							/* PGTLS_CONFIG_HBA_ANALYSIS_H */
