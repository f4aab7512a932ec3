/*-------------------------------------------------------------------------
 *
 * inventory.h
 *	  The connection inventory in shared memory (inventory/inventory.c),
 *	  and the audit volume decision it takes for each attempt under its
 *	  one lock (log_connections / log_failures = new).
 *
 * src/inventory/inventory.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_INVENTORY_INVENTORY_H
#define PGTLS_INVENTORY_INVENTORY_H

#include "audit/record.h"

/*
 * A tuple's repeats that no record has carried yet, copied out of the
 * inventory to be written as a summary record after the lock is released.
 * The sizes are those of the inventory's fields (checked in inventory.c).
 */
typedef struct InventorySummary
{
	bool		failure;		/* a failure key, else a client tuple */
	uint8		event;			/* failures: the latest one's stage */
	uint8		outcome;
	bool		ssl;
	int32		hba_line;
	char		sqlstate[6];
	char		client_addr[64];
	char		user_name[NAMEDATALEN];
	char		database_name[NAMEDATALEN];
	char		protocol[16];
	char		cipher[64];
	char		issuer_dn[512];
	char		serial[64];
	char		hba_file[256];
	char		auth_method[32];
	char		reason[256];
	uint64		repeats;
	TimestampTz first;
	TimestampTz last;
} InventorySummary;

/* at most 4 due summaries per table per attempt, plus one eviction each */
#define INVENTORY_SWEEP_PER_TABLE	4
#define INVENTORY_MAX_SUMMARIES		(2 * INVENTORY_SWEEP_PER_TABLE + 2)

/* What inventory_add decided for one attempt. */
typedef struct InventoryDecision
{
	bool		write;			/* write the attempt's record */
	uint64		repeats;		/* ... carrying these (see AuditRecord) */
	TimestampTz repeats_first;
	TimestampTz repeats_last;
	int			nsummaries;		/* summaries to write after the lock */
	/*
	 * The caller's array of INVENTORY_MAX_SUMMARIES, which receives them: a
	 * static one (14 kB on the stack pushed every frame below it into
	 * stack pages a new backend had not touched, a page fault each)
	 */
	InventorySummary *summaries;
} InventoryDecision;

extern void inventory_define_settings(void);
extern void inventory_install_hooks(void);
extern void inventory_add(const AuditRecord *rec, AuditLogMode mode,
						  int repeat_interval_s, InventoryDecision *decision);
extern void inventory_count_dropped(void);
extern void inventory_summary_record(const InventorySummary *sum,
									 AuditRecord *rec, TimestampTz now);
extern void inventory_set_summary_writer(void (*writer) (const InventorySummary *sum));

#endif							/* PGTLS_INVENTORY_INVENTORY_H */
