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
 * Entries are never deleted one by one (only evicted and reused in place),
 * so the slots in use are always slots 0 .. used-1.  Emptying the table
 * (lru_table_reset) is O(1): it sets used to 0 and starts a new generation;
 * buckets carry the generation they were last written in, and a bucket of
 * an older generation reads as empty and is reclaimed when next touched.
 *
 * lru_prefetch and lru_prefetch_slot are the exception: called without
 * the lock, they only read, to fault in the pages a call under the lock
 * is about to touch (see lru_table.c).
 *
 * src/inventory/lru_table.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_LRU_TABLE_H
#define PGTLS_LRU_TABLE_H

typedef struct LruTable
{
	int32		capacity;
	int32		used;			/* slots 0 .. used-1 hold entries */
	int32		nbuckets;
	uint32		generation;		/* buckets of another generation are empty */
	Size		key_size;
	Size		entry_size;
	int32		lru_head;		/* most recently used slot, -1 if none */
	int32		lru_tail;		/* least recently used slot, -1 if none */
	uint64		evictions;
	/* then: LruBucket buckets[nbuckets]; then capacity slots */
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
extern int32 lru_entry_slot(LruTable *tab, const void *entry);
extern int32 lru_walk_oldest_first(LruTable *tab, int32 prev);

/* without the lock: fault pages in before taking it (see lru_table.c) */
extern void lru_touch_pages(const void *p, Size len);
extern void lru_prefetch(LruTable *tab, uint32 hash);
extern void lru_prefetch_slot(LruTable *tab, int32 slot);

#endif							/* PGTLS_LRU_TABLE_H */
