/*-------------------------------------------------------------------------
 *
 * inventory.h
 *	  The connection inventory in shared memory (inventory/inventory.c).
 *
 * src/inventory/inventory.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_INVENTORY_INVENTORY_H
#define PGTLS_INVENTORY_INVENTORY_H

#include "audit/record.h"

extern void inventory_define_settings(void);
extern void inventory_install_hooks(void);
extern void inventory_add(const AuditRecord *rec);
extern void inventory_count_dropped(void);

#endif							/* PGTLS_INVENTORY_INVENTORY_H */
