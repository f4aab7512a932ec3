/*-------------------------------------------------------------------------
 *
 * persist.h
 *	  The inventory's save file: loaded at start, written at a clean
 *	  shutdown (inventory/persist.c).
 *
 * src/inventory/persist.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_INVENTORY_PERSIST_H
#define PGTLS_INVENTORY_PERSIST_H

#include "postgres.h"

/* from _PG_init, with the inventory's hooks */
extern void inventory_persist_install(void);

#endif							/* PGTLS_INVENTORY_PERSIST_H */
