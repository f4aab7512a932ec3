/*-------------------------------------------------------------------------
 *
 * lru_table.h
 *	  A fixed-capacity hash table with least-recently-used eviction, laid
 *	  out in one flat block of shared memory (no pointers, only indexes).
 *
 * Entries have a fixed size and start with a fixed-size key compared with
 * memcmp, so callers must zero keys before filling them.  The table does
 * no locking: callers hold the inventory's spinlock around every call.
 *
 * src/lru_table.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_LRU_TABLE_H
#define PGTLS_LRU_TABLE_H

typedef struct LruTable
{
	int32		capacity;
	int32		used;
	int32		nbuckets;
	Size		key_size;
	Size		entry_size;
	int32		lru_head;		/* most recently used slot, -1 if none */
	int32		lru_tail;		/* least recently used slot, -1 if none */
	int32		free_head;		/* first unused slot, -1 if full */
	uint64		evictions;
	/* then: int32 buckets[nbuckets]; then capacity slots */
} LruTable;

extern Size lru_table_size(int capacity, Size key_size, Size entry_size);
extern void lru_table_init(LruTable *tab, int capacity, Size key_size,
						   Size entry_size);
extern void lru_table_reset(LruTable *tab);
extern uint32 lru_hash_key(const LruTable *tab, const void *key);
extern void *lru_lookup(LruTable *tab, const void *key, uint32 hash);
extern void *lru_insert(LruTable *tab, const void *key, uint32 hash,
						bool *evicted);
extern void *lru_slot_entry(LruTable *tab, int32 slot, bool *used);
extern int32 lru_walk_oldest_first(LruTable *tab, int32 prev);

#endif							/* PGTLS_LRU_TABLE_H */
