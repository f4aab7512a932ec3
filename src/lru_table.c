/*-------------------------------------------------------------------------
 *
 * lru_table.c
 *	  Fixed-capacity hash table with LRU eviction in one flat memory block
 *	  (see lru_table.h).  Chained buckets by slot index; a doubly linked
 *	  recency list by slot index; a free list of unused slots.  Every
 *	  operation is O(1) on average, so the spinlock that callers hold
 *	  around it is held for a short copy, not for a scan.
 *
 * src/lru_table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lru_table.h"

typedef struct LruSlot
{
	uint32		hash;
	int32		bucket_next;
	int32		prev;			/* towards head (more recent) */
	int32		next;			/* towards tail (less recent) */
	bool		used;
	/* entry (key first) follows, MAXALIGNed */
} LruSlot;

#define SLOT_HEADER_SIZE MAXALIGN(sizeof(LruSlot))

static inline int32 *
buckets(LruTable *tab)
{
	return (int32 *) ((char *) tab + MAXALIGN(sizeof(LruTable)));
}

static inline Size
slot_size(const LruTable *tab)
{
	return SLOT_HEADER_SIZE + MAXALIGN(tab->entry_size);
}

static inline LruSlot *
slot_at(LruTable *tab, int32 i)
{
	char	   *base = (char *) buckets(tab) + MAXALIGN(sizeof(int32) * tab->nbuckets);

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

Size
lru_table_size(int capacity, Size key_size, Size entry_size)
{
	Size		size = MAXALIGN(sizeof(LruTable));

	size = add_size(size, MAXALIGN(mul_size(sizeof(int32), buckets_for(capacity))));
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
	lru_table_reset(tab);
}

void
lru_table_reset(LruTable *tab)
{
	int32	   *b = buckets(tab);

	for (int32 i = 0; i < tab->nbuckets; i++)
		b[i] = -1;
	for (int32 i = 0; i < tab->capacity; i++)
	{
		LruSlot    *s = slot_at(tab, i);

		s->used = false;
		s->prev = -1;
		s->bucket_next = -1;
		s->next = (i + 1 < tab->capacity) ? i + 1 : -1;
	}
	tab->free_head = tab->capacity > 0 ? 0 : -1;
	tab->lru_head = tab->lru_tail = -1;
	tab->used = 0;
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
	int32	   *link = &buckets(tab)[s->hash & (tab->nbuckets - 1)];

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
	int32		i = buckets(tab)[hash & (tab->nbuckets - 1)];

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

	*evicted = false;
	if (tab->capacity <= 0)
		return NULL;
	if (tab->free_head >= 0)
	{
		i = tab->free_head;
		s = slot_at(tab, i);
		tab->free_head = s->next;
		tab->used++;
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
	s->used = true;
	s->hash = hash;
	memset(slot_entry(s), 0, tab->entry_size);
	memcpy(slot_entry(s), key, tab->key_size);
	s->bucket_next = buckets(tab)[hash & (tab->nbuckets - 1)];
	buckets(tab)[hash & (tab->nbuckets - 1)] = i;
	lru_push_head(tab, i);
	return slot_entry(s);
}

/* The entry in slot i, for readers walking the table one slot at a time. */
void *
lru_slot_entry(LruTable *tab, int32 slot, bool *used)
{
	LruSlot    *s = slot_at(tab, slot);

	*used = s->used;
	return slot_entry(s);
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
