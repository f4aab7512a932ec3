/*-------------------------------------------------------------------------
 *
 * lru_table.c
 *	  Fixed-capacity hash table with LRU eviction in one flat memory block
 *	  (see lru_table.h).  Chained buckets by slot index; a doubly linked
 *	  recency list by slot index; slots handed out in order 0, 1, 2, ...
 *	  until the table is full, then the least recently used one is reused.
 *	  Every operation is O(1) on average, and emptying the table is O(1)
 *	  (a new generation), so the spinlock that callers hold around a call
 *	  is held for a short copy, never for a scan.
 *
 * Why stale data is never reached after a reset: a slot's contents and
 * links are rewritten in full when it is handed out again, and only slots
 * below "used" are handed to readers; the recency list restarts empty; a
 * bucket whose generation is not the table's reads as empty, so no chain
 * written before the reset is followed after it.  The generation is 32
 * bits: when it wraps (after 2^32 resets) the buckets are cleared once,
 * in full, so a bucket can never be mistaken for a current one.
 *
 * src/inventory/lru_table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "inventory/lru_table.h"

typedef struct LruBucket
{
	int32		head;			/* first slot of the chain, -1 if none */
	uint32		generation;		/* chain is valid only in this generation */
} LruBucket;

typedef struct LruSlot
{
	uint32		hash;
	int32		bucket_next;
	int32		prev;			/* towards head (more recent) */
	int32		next;			/* towards tail (less recent) */
	/* entry (key first) follows, MAXALIGNed */
} LruSlot;

#define SLOT_HEADER_SIZE MAXALIGN(sizeof(LruSlot))

static inline LruBucket *
buckets(LruTable *tab)
{
	return (LruBucket *) ((char *) tab + MAXALIGN(sizeof(LruTable)));
}

static inline Size
slot_size(const LruTable *tab)
{
	return SLOT_HEADER_SIZE + MAXALIGN(tab->entry_size);
}

static inline LruSlot *
slot_at(LruTable *tab, int32 i)
{
	char	   *base = (char *) buckets(tab) + MAXALIGN(sizeof(LruBucket) * tab->nbuckets);

	return (LruSlot *) (base + slot_size(tab) * i);
}

static inline void *
slot_entry(LruSlot *slot)
{
	return (char *) slot + SLOT_HEADER_SIZE;
}

static int32
buckets_for(int capacity)
{
	int32		n = 16;

	while (n < capacity * 2)
		n *= 2;
	return n;
}

/*
 * The chain head of a hash's bucket, reclaimed first if the bucket was last
 * written in an older generation (it then holds slots from before a reset).
 */
static inline int32 *
bucket_head(LruTable *tab, uint32 hash)
{
	LruBucket  *b = &buckets(tab)[hash & (tab->nbuckets - 1)];

	if (b->generation != tab->generation)
	{
		b->head = -1;
		b->generation = tab->generation;
	}
	return &b->head;
}

static void
clear_buckets(LruTable *tab)
{
	LruBucket  *b = buckets(tab);

	for (int32 i = 0; i < tab->nbuckets; i++)
	{
		b[i].head = -1;
		b[i].generation = 0;
	}
}

Size
lru_table_size(int capacity, Size key_size, Size entry_size)
{
	Size		size = MAXALIGN(sizeof(LruTable));

	size = add_size(size, MAXALIGN(mul_size(sizeof(LruBucket), buckets_for(capacity))));
	size = add_size(size, mul_size(capacity, SLOT_HEADER_SIZE + MAXALIGN(entry_size)));
	return size;
}

void
lru_table_init(LruTable *tab, int capacity, Size key_size, Size entry_size)
{
	tab->capacity = capacity;
	tab->nbuckets = buckets_for(capacity);
	tab->key_size = key_size;
	tab->entry_size = entry_size;
	tab->evictions = 0;
	tab->used = 0;
	tab->lru_head = tab->lru_tail = -1;
	clear_buckets(tab);
	tab->generation = 1;		/* every bucket (generation 0) is empty */
}

/*
 * Empty the table in O(1).  The eviction counter is the caller's to reset.
 */
void
lru_table_reset(LruTable *tab)
{
	tab->used = 0;
	tab->lru_head = tab->lru_tail = -1;
	if (++tab->generation == 0)
	{
		/* wrapped: once in 2^32 resets, clear the buckets for real */
		clear_buckets(tab);
		tab->generation = 1;
	}
}

uint32
lru_hash_key(const LruTable *tab, const void *key)
{
	return hash_bytes((const unsigned char *) key, (int) tab->key_size);
}

static void
lru_unlink(LruTable *tab, int32 i)
{
	LruSlot    *s = slot_at(tab, i);

	if (s->prev >= 0)
		slot_at(tab, s->prev)->next = s->next;
	else
		tab->lru_head = s->next;
	if (s->next >= 0)
		slot_at(tab, s->next)->prev = s->prev;
	else
		tab->lru_tail = s->prev;
	s->prev = s->next = -1;
}

static void
lru_push_head(LruTable *tab, int32 i)
{
	LruSlot    *s = slot_at(tab, i);

	s->prev = -1;
	s->next = tab->lru_head;
	if (tab->lru_head >= 0)
		slot_at(tab, tab->lru_head)->prev = i;
	tab->lru_head = i;
	if (tab->lru_tail < 0)
		tab->lru_tail = i;
}

static void
bucket_remove(LruTable *tab, int32 i)
{
	LruSlot    *s = slot_at(tab, i);
	int32	   *link = bucket_head(tab, s->hash);

	while (*link >= 0)
	{
		if (*link == i)
		{
			*link = s->bucket_next;
			break;
		}
		link = &slot_at(tab, *link)->bucket_next;
	}
	s->bucket_next = -1;
}

/* Find an entry; on a hit it becomes the most recently used. */
void *
lru_lookup(LruTable *tab, const void *key, uint32 hash)
{
	int32		i = *bucket_head(tab, hash);

	while (i >= 0)
	{
		LruSlot    *s = slot_at(tab, i);

		if (s->hash == hash && memcmp(slot_entry(s), key, tab->key_size) == 0)
		{
			if (tab->lru_head != i)
			{
				lru_unlink(tab, i);
				lru_push_head(tab, i);
			}
			return slot_entry(s);
		}
		i = s->bucket_next;
	}
	return NULL;
}

/*
 * Add a new entry (the caller has checked it is absent), evicting the least
 * recently used one when full.  The entry is zeroed but for its key.
 */
void *
lru_insert(LruTable *tab, const void *key, uint32 hash, bool *evicted)
{
	int32		i;
	LruSlot    *s;
	int32	   *head;

	*evicted = false;
	if (tab->capacity <= 0)
		return NULL;
	if (tab->used < tab->capacity)
	{
		/* the next never-used slot of this generation: rewritten in full */
		i = tab->used++;
		s = slot_at(tab, i);
	}
	else
	{
		i = tab->lru_tail;
		s = slot_at(tab, i);
		lru_unlink(tab, i);
		bucket_remove(tab, i);
		tab->evictions++;
		*evicted = true;
	}
	s->hash = hash;
	memset(slot_entry(s), 0, tab->entry_size);
	memcpy(slot_entry(s), key, tab->key_size);
	head = bucket_head(tab, hash);
	s->bucket_next = *head;
	*head = i;
	lru_push_head(tab, i);
	return slot_entry(s);
}

/*
 * The entry in slot i, for readers walking the table one slot at a time;
 * NULL (and *used false) for a slot that holds no entry of the current
 * generation.  Readers may stop at the first unused slot: used slots are
 * 0 .. used-1.
 */
void *
lru_slot_entry(LruTable *tab, int32 slot, bool *used)
{
	*used = slot >= 0 && slot < tab->used;
	return *used ? slot_entry(slot_at(tab, slot)) : NULL;
}

/* The slot of an entry returned by this table (the inverse of slot_entry). */
int32
lru_entry_slot(LruTable *tab, const void *entry)
{
	const char *base = (const char *) slot_at(tab, 0);

	return (int32) (((const char *) entry - SLOT_HEADER_SIZE - base) /
					(ptrdiff_t) slot_size(tab));
}

/*
 * Walk from the least to the most recently used entry: pass -1 first, then
 * the previous result; returns -1 at the end.  Used to save a table in an
 * order that, reloaded with lru_insert, rebuilds the same recency order.
 */
int32
lru_walk_oldest_first(LruTable *tab, int32 prev)
{
	if (prev < 0)
		return tab->lru_tail;
	return slot_at(tab, prev)->prev;
}

/*
 * Pre-touching.  A backend is a fresh process: each page of shared memory
 * it touches for the first time costs it a minor page fault (the kernel
 * maps the page into its page table), a few microseconds.  Under the
 * spinlock that lengthens the hold and makes every waiter wait for it.
 * So, before taking the lock, the caller reads one byte of each page that
 * its lookup or insert will most likely touch; a read fault also maps the
 * neighbouring pages already in memory (the kernel's fault-around).
 *
 * These functions run without the lock, while other processes change the
 * table: what they read only chooses what to touch.  Every slot index is
 * checked against the capacity before use (capacity, nbuckets and the
 * sizes never change after lru_table_init), a chain walk stops after
 * LRU_PREFETCH_CHAIN slots whatever the links say, and nothing is
 * written.  A stale guess costs a page fault under the lock later, as
 * without pre-touching, never a wrong access.
 */
#define LRU_PREFETCH_CHAIN	4
#define LRU_TOUCH_STRIDE	4096	/* no larger than any page size */

/* Read one byte of every page of [p, p + len). */
void
lru_touch_pages(const void *p, Size len)
{
	const volatile char *c = (const volatile char *) p;

	if (len == 0)
		return;
	for (Size off = 0; off < len; off += LRU_TOUCH_STRIDE)
		(void) c[off];
	(void) c[len - 1];
}

/* slot i whole, if i is a slot of the table */
void
lru_prefetch_slot(LruTable *tab, int32 i)
{
	if (i >= 0 && i < tab->capacity)
		lru_touch_pages(slot_at(tab, i), slot_size(tab));
}

/* the header of slot i (its recency links), if i is a slot */
static void
prefetch_slot_header(LruTable *tab, int32 i)
{
	if (i >= 0 && i < tab->capacity)
		lru_touch_pages(slot_at(tab, i), SLOT_HEADER_SIZE);
}

/*
 * The pages a lookup and, if the key is absent, an insert of this hash
 * will touch: its bucket and chain, the found slot's recency neighbours,
 * the recency list's head and, unless a slot of the chain has the same
 * hash, the slot an insert would take (when full, the least recently used
 * one, with its bucket and neighbour).
 */
void
lru_prefetch(LruTable *tab, uint32 hash)
{
	volatile LruTable *vt = tab;
	volatile LruBucket *b = &buckets(tab)[hash & (tab->nbuckets - 1)];
	int32		i = b->generation == vt->generation ? b->head : -1;
	int32		victim;

	for (int steps = 0; steps < LRU_PREFETCH_CHAIN && i >= 0 &&
		 i < tab->capacity; steps++)
	{
		volatile LruSlot *s = slot_at(tab, i);

		lru_prefetch_slot(tab, i);
		if (s->hash == hash)
		{
			/* most likely the key's entry: no insert will follow */
			prefetch_slot_header(tab, s->prev);
			prefetch_slot_header(tab, s->next);
			prefetch_slot_header(tab, vt->lru_head);
			return;
		}
		i = s->bucket_next;
	}
	prefetch_slot_header(tab, vt->lru_head);
	if (vt->used < tab->capacity)
	{
		lru_prefetch_slot(tab, vt->used);
		return;
	}
	victim = vt->lru_tail;
	if (victim >= 0 && victim < tab->capacity)
	{
		volatile LruSlot *s = slot_at(tab, victim);

		lru_prefetch_slot(tab, victim);
		prefetch_slot_header(tab, s->prev);
		lru_touch_pages((const void *) &buckets(tab)[s->hash & (tab->nbuckets - 1)],
						sizeof(LruBucket));
	}
}
