/*-------------------------------------------------------------------------
 *
 * views.c
 *	  The SQL functions of the connection inventory: the row sources of
 *	  the views connections, clients, client_certificates,
 *	  client_fingerprints, hba_usage and stats, and reset(); row filtering by privilege, and the text of
 *	  stored strings in the database's encoding.
 *
 * Privileges follow pg_stat_statements: roles with the privileges of
 * pg_read_all_stats see every row; other roles see only rows of their own
 * user name.  User names are compared as text because the hook that
 * stores them must not look up the catalog.
 *
 * Encoding.  Stored strings are UTF-8.  The views return them as is in
 * UTF8 and SQL_ASCII databases, and with non-ASCII bytes as \xHH (and a
 * backslash as \\) in any other database encoding (text_or_null).
 *
 * Readers take the spinlock once per entry and copy under it only the
 * bytes of the entry in use (history_entry_copy and the *_entry_copy
 * functions: most of an entry is empty fixed-size string space).  Each
 * scan notes the inventory's generation when it starts and stops at the
 * first entry it finds after a reset(), so one result never mixes entries
 * from before and after a reset.
 *
 * Cost at scale (README, "Performance"): each row is built in a memory
 * context reset once the row is in the tuplestore, so a call's memory does
 * not grow with the rows; offered suites and groups are named once per
 * call, not once per row, and each distinct offered list (and ALPN list)
 * becomes a text[] once per call (up to CACHED_ARRAYS_MAX of them).
 *
 * Order.  connections_raw() returns the ring newest first by ts (then by
 * insertion), so the connections view needs no ORDER BY (sorting 100k
 * wide rows again cost a fifth of reading the view).  A first pass reads
 * ts and seq of each entry, one entry per lock hold (ring_order); the ring
 * is in that order unless concurrent attempts entered it out of ts order,
 * and only then is the list sorted.  The second pass copies the entries
 * in that order, one per lock hold, and skips any overwritten meanwhile.
 *
 * src/inventory/views.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "access/htup_details.h"
#include "access/toast_compression.h"
#include "access/toast_internals.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "audit/offer.h"
#include "audit/record.h"
#include "inventory/inventory_internal.h"
#include "inventory/lru_table.h"

/*
 * Every function here starts with this: the inventory must exist, and
 * holds every attempt made so far, those deferred by connections that
 * found the lock held included (inventory_internal.h).
 */
static void
require_inventory(void)
{
	if (inventory == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgtls_audit must be loaded via shared_preload_libraries"),
				 errhint("Add pgtls_audit to shared_preload_libraries in postgresql.conf and restart the server.")));
	inventory_drain_deferred();
}

/* Who may see which rows: NULL = everything, else this user name only. */
static char *
visible_user(void)
{
	Oid			userid = GetUserId();

	if (has_privs_of_role(userid, ROLE_PG_READ_ALL_STATS))
		return NULL;
	return GetUserNameFromId(userid, false);
}

/*
 * The text datum of a stored string for the views, NULL for an empty one.
 * Every text column of the inventory views is made here.
 *
 * Stored strings are UTF-8 (capture replaces invalid bytes from the wire
 * with U+FFFD), but a view must return valid text in the database's
 * encoding.  In UTF8 and SQL_ASCII databases the string is returned as
 * is.  In any other encoding, every byte of a non-ASCII character is shown
 * as \xHH (hex of its UTF-8 bytes) and a backslash as \\, so the result is
 * ASCII, valid in every server encoding, and two different names never
 * show the same.  In a UTF8 database a string that is not valid UTF-8
 * (never written by capture; a guard) gets U+FFFD for each invalid byte.
 */
static Datum
text_or_null(const char *s, bool *isnull)
{
	int			encoding = GetDatabaseEncoding();
	size_t		len = strlen(s);
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;
	StringInfoData buf;
	bool		plain = true;
	Datum		result;

	*isnull = (len == 0);
	if (*isnull)
		return (Datum) 0;

	if (encoding == PG_SQL_ASCII)
		return PointerGetDatum(cstring_to_text_with_len(s, len));
	if (encoding == PG_UTF8)
	{
		if (pg_verify_mbstr(PG_UTF8, s, len, true))
			return PointerGetDatum(cstring_to_text_with_len(s, len));
		initStringInfo(&buf);
		while (p < end)
		{
			int			l = pg_utf_mblen(p);

			if (l <= end - p && pg_utf8_islegal(p, l))
				appendBinaryStringInfo(&buf, (const char *) p, l);
			else
			{
				appendStringInfoString(&buf, "\xEF\xBF\xBD");
				l = 1;
			}
			p += l;
		}
	}
	else
	{
		for (const unsigned char *q = p; q < end; q++)
			if (*q >= 0x80 || *q == '\\')
				plain = false;
		if (plain)
			return PointerGetDatum(cstring_to_text_with_len(s, len));
		initStringInfo(&buf);
		for (; p < end; p++)
		{
			if (*p >= 0x80)
				appendStringInfo(&buf, "\\x%02x", *p);
			else if (*p == '\\')
				appendStringInfoString(&buf, "\\\\");
			else
				appendStringInfoChar(&buf, (char) *p);
		}
	}
	result = PointerGetDatum(cstring_to_text_with_len(buf.data, buf.len));
	pfree(buf.data);
	return result;
}

/*
 * What one call of a view function keeps besides its result: the memory
 * of the row being built (reset once the row is in the tuplestore, which
 * copies it, so a call's memory does not grow with the rows), and the
 * names of the offered values met so far in the call (naming a value asks
 * OpenSSL; a few dozen distinct values recur in every row).
 */
typedef struct ViewScratch
{
	MemoryContext call_cxt;		/* lives as long as the call */
	MemoryContext row_cxt;		/* reset after each row */
	HTAB	   *names;			/* OfferName by kind << 16 | value */
	HTAB	   *arrays;			/* CachedArray by CachedArrayKey */
	struct ssl_st *ssl;			/* audit_offer_naming_ssl(), or NULL */
} ViewScratch;

typedef struct OfferName
{
	uint32		key;
	Datum		name;			/* text, in call_cxt */
} OfferName;

/*
 * The arrays of a call, cached by what they are made of: the kind of list
 * (an AuditOfferKind, or CACHED_ALPN for offered_alpn) and the bytes it is
 * made from (the code points of an offered list, the text of the ALPN
 * list).  Clients with the same TLS stack offer the same lists, so most
 * rows reuse an array built once; tuplestore_putvalues copies it into the
 * row.  At most CACHED_ARRAYS_MAX arrays are kept (a few MB at most);
 * past that, arrays are built per row as before.
 *
 * A cached array is kept compressed (pglz, as TOAST would store it in a
 * table) when that makes it smaller: the suite names of one offer (about
 * 780 bytes for libpq's 31) are half of a connections row, and a result
 * of 100k rows does not fit in work_mem, so every byte of a row is
 * written to the tuplestore's temporary file and read back.  A compressed
 * inline datum is an ordinary value (every function that reads a varlena
 * detoasts it), so what a query sees is the same array.
 */
#define CACHED_ALPN			0xffff
#define CACHED_ARRAY_BYTES	Max(AUDIT_OFFER_MAX_CIPHERS * sizeof(uint16), INV_ALPN_LEN)
#define CACHED_ARRAYS_MAX	1024

typedef struct CachedArrayKey
{
	uint16		kind;
	uint16		len;			/* bytes of data in use */
	char		data[CACHED_ARRAY_BYTES];
} CachedArrayKey;

typedef struct CachedArray
{
	CachedArrayKey key;
	Datum		array;			/* text[], in call_cxt */
} CachedArray;

static void
view_scratch_init(ViewScratch *vs)
{
	vs->call_cxt = CurrentMemoryContext;
	vs->row_cxt = AllocSetContextCreate(CurrentMemoryContext,
										"pgtls_audit view row",
										ALLOCSET_DEFAULT_SIZES);
	vs->names = NULL;
	vs->arrays = NULL;
	vs->ssl = NULL;
}

static void
view_scratch_done(ViewScratch *vs)
{
	MemoryContextDelete(vs->row_cxt);
	if (vs->names != NULL)
		hash_destroy(vs->names);
	if (vs->arrays != NULL)
		hash_destroy(vs->arrays);
}

/* The text name of an offered value, named once per call */
static Datum
offer_value_text(ViewScratch *vs, AuditOfferKind kind, uint16 v)
{
	uint32		key = ((uint32) kind << 16) | v;
	OfferName  *entry;
	bool		found;

	if (vs->names == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(OfferName);
		ctl.hcxt = vs->call_cxt;
		vs->names = hash_create("pgtls_audit offered value names", 256, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		vs->ssl = audit_offer_naming_ssl();
	}
	entry = hash_search(vs->names, &key, HASH_ENTER, &found);
	if (!found)
	{
		char		name[AUDIT_OFFER_NAME_LEN];
		MemoryContext old = MemoryContextSwitchTo(vs->call_cxt);

		entry->name = CStringGetTextDatum(audit_offer_value_name(kind, v, vs->ssl, name));
		MemoryContextSwitchTo(old);
	}
	return entry->name;
}

/* dynahash callbacks of the array cache: only the bytes in use count */
static uint32
cached_array_hash(const void *key, Size keysize)
{
	const CachedArrayKey *k = key;

	return hash_bytes((const unsigned char *) k,
					  offsetof(CachedArrayKey, data) + k->len);
}

static int
cached_array_match(const void *key1, const void *key2, Size keysize)
{
	const CachedArrayKey *a = key1;
	const CachedArrayKey *b = key2;

	if (a->kind != b->kind || a->len != b->len)
		return 1;
	return memcmp(a->data, b->data, a->len);
}

static void *
cached_array_keycopy(void *dest, const void *src, Size keysize)
{
	const CachedArrayKey *k = src;

	return memcpy(dest, src, offsetof(CachedArrayKey, data) + k->len);
}

/*
 * The cache entry for key, NULL when the cache is full and key is not in
 * it.  A new entry's array is (Datum) 0: the caller builds it in call_cxt.
 */
static CachedArray *
cached_array_lookup(ViewScratch *vs, const CachedArrayKey *key)
{
	CachedArray *entry;
	bool		found;

	if (vs->arrays == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(CachedArrayKey);
		ctl.entrysize = sizeof(CachedArray);
		ctl.hash = cached_array_hash;
		ctl.match = cached_array_match;
		ctl.keycopy = cached_array_keycopy;
		ctl.hcxt = vs->call_cxt;
		vs->arrays = hash_create("pgtls_audit view arrays", 64, &ctl,
								 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE |
								 HASH_KEYCOPY | HASH_CONTEXT);
	}
	entry = hash_search(vs->arrays, key, HASH_FIND, NULL);
	if (entry != NULL || hash_get_num_entries(vs->arrays) >= CACHED_ARRAYS_MAX)
		return entry;
	entry = hash_search(vs->arrays, key, HASH_ENTER, &found);
	entry->array = (Datum) 0;
	return entry;
}

/* A cached array as it is kept: compressed if that makes it smaller */
static Datum
cached_array_compress(Datum array)
{
	Datum		compressed = toast_compress_datum(array, TOAST_PGLZ_COMPRESSION);

	if (DatumGetPointer(compressed) == NULL)
		return array;
	pfree(DatumGetPointer(array));
	return compressed;
}

/* An offered list as text[], each value named (offer_value_text) */
static Datum
offer_array_build(ViewScratch *vs, AuditOfferKind kind, const uint16 *v, int n)
{
	Datum		elems[Max(AUDIT_OFFER_MAX_CIPHERS, AUDIT_OFFER_MAX_GROUPS)];

	n = Min(n, (int) lengthof(elems));
	for (int i = 0; i < n; i++)
		elems[i] = offer_value_text(vs, kind, v[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/*
 * An offered list as text[]: each value named as in the record
 * (audit_offer_value_name), hex where OpenSSL does not know it.  Built
 * once per call for each distinct list (the array cache above).
 */
static Datum
offer_array(ViewScratch *vs, AuditOfferKind kind, const uint16 *v, int n)
{
	CachedArrayKey key;
	CachedArray *entry;
	MemoryContext old;

	n = Min(n, (int) Max(AUDIT_OFFER_MAX_CIPHERS, AUDIT_OFFER_MAX_GROUPS));
	key.kind = (uint16) kind;
	key.len = (uint16) (n * sizeof(uint16));
	memcpy(key.data, v, key.len);
	entry = cached_array_lookup(vs, &key);
	if (entry == NULL)
		return offer_array_build(vs, kind, v, n);
	if (entry->array == (Datum) 0)
	{
		old = MemoryContextSwitchTo(vs->call_cxt);
		entry->array = cached_array_compress(offer_array_build(vs, kind, v, n));
		MemoryContextSwitchTo(old);
	}
	return entry->array;
}

/* A comma-separated list as stored (offered_alpn) as text[] */
static Datum
list_array_build(const char *list)
{
	char	   *copy = pstrdup(list);
	int			max = 1;
	Datum	   *elems;
	int			n = 0;
	char	   *p = copy;
	Datum		result;

	for (const char *q = list; *q; q++)
		max += (*q == ',');
	elems = palloc(sizeof(Datum) * max);
	for (;;)
	{
		char	   *comma = strchr(p, ',');
		bool		isnull;

		if (comma)
			*comma = '\0';
		elems[n] = text_or_null(p, &isnull);
		if (isnull)
			elems[n] = CStringGetTextDatum("");
		n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	result = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
											 TYPALIGN_INT));
	pfree(elems);
	pfree(copy);
	return result;
}

/* offered_alpn as text[], built once per call for each distinct list */
static Datum
list_array(ViewScratch *vs, const char *list)
{
	CachedArrayKey key;
	CachedArray *entry;
	MemoryContext old;
	size_t		len = strlen(list);

	if (len > sizeof(key.data))
		return list_array_build(list);
	key.kind = CACHED_ALPN;
	key.len = (uint16) len;
	memcpy(key.data, list, len);
	entry = cached_array_lookup(vs, &key);
	if (entry == NULL)
		return list_array_build(list);
	if (entry->array == (Datum) 0)
	{
		old = MemoryContextSwitchTo(vs->call_cxt);
		entry->array = cached_array_compress(list_array_build(list));
		MemoryContextSwitchTo(old);
	}
	return entry->array;
}

/* The 6 offer columns of connections_raw() */
static int
history_offer_columns(ViewScratch *vs, const HistoryEntry *h, Datum *values,
					  bool *nulls, int i)
{
	if (!h->has_offer)
	{
		for (int k = 0; k < 6; k++)
			nulls[i + k] = true;
		return i + 6;
	}
	if (h->has_sni)
		values[i] = text_or_null(h->sni, &nulls[i]);
	else
		nulls[i] = true;
	i++;
	values[i++] = offer_array(vs, AUDIT_OFFER_VERSION, h->offer.versions, h->offer.nversions);
	values[i++] = offer_array(vs, AUDIT_OFFER_CIPHER, h->offer.ciphers, h->offer.nciphers);
	values[i++] = offer_array(vs, AUDIT_OFFER_GROUP, h->offer.groups, h->offer.ngroups);
	if (h->offered_alpn[0] != '\0')
		values[i] = list_array(vs, h->offered_alpn);
	else
		nulls[i] = true;
	i++;
	values[i] = text_or_null(h->ja4, &nulls[i]), i++;
	return i;
}

/* The 33 columns of connections_raw() for one ring entry. */
static void
history_row(ViewScratch *vs, const HistoryEntry *h, Datum *values, bool *nulls)
{
	int			i = 0;
	const char *policy;

	values[i++] = TimestampTzGetDatum(h->ts);
	values[i++] = Int32GetDatum(h->pid);
	values[i++] = CStringGetTextDatum(audit_event_name((AuditEvent) h->event));
	values[i++] = CStringGetTextDatum(audit_outcome_name((AuditOutcome) h->outcome));
	values[i] = text_or_null(h->reason, &nulls[i]), i++;
	values[i] = text_or_null(h->sqlstate, &nulls[i]), i++;
	values[i] = text_or_null(h->remote_host, &nulls[i]), i++;
	values[i] = text_or_null(h->remote_port, &nulls[i]), i++;
	values[i] = text_or_null(h->user_name, &nulls[i]), i++;
	values[i] = text_or_null(h->database_name, &nulls[i]), i++;
	values[i] = text_or_null(h->application_name, &nulls[i]), i++;
	values[i++] = BoolGetDatum(h->ssl);
	values[i] = text_or_null(h->protocol, &nulls[i]), i++;
	values[i] = text_or_null(h->cipher, &nulls[i]), i++;
	nulls[i] = h->bits < 0;
	values[i++] = Int32GetDatum(h->bits);
	values[i++] = BoolGetDatum(h->client_cert);
	values[i] = text_or_null(h->client_dn, &nulls[i]), i++;
	values[i] = text_or_null(h->issuer_dn, &nulls[i]), i++;
	values[i] = text_or_null(h->serial, &nulls[i]), i++;
	nulls[i] = !h->has_not_after;
	values[i++] = TimestampTzGetDatum(h->not_after);
	values[i] = text_or_null(h->fingerprint, &nulls[i]), i++;
	values[i] = text_or_null(h->hba_file, &nulls[i]), i++;
	nulls[i] = h->hba_line <= 0;
	values[i++] = Int32GetDatum(h->hba_line);
	values[i] = text_or_null(h->auth_method, &nulls[i]), i++;
	values[i] = text_or_null(h->identity, &nulls[i]), i++;
	policy = audit_policy_name((AuditPolicy) h->policy);
	nulls[i] = policy == NULL;
	values[i++] = policy ? CStringGetTextDatum(policy) : (Datum) 0;
	values[i++] = BoolGetDatum(h->gss_encrypted);
	i = history_offer_columns(vs, h, values, nulls, i);
	Assert(i == 33);
}

/* copy a string field up to its terminator (fields always hold one) */
#define COPY_STRING_FIELD(dst, src, field) \
	do { \
		size_t		len_ = strnlen((src)->field, sizeof((src)->field) - 1); \
		memcpy((dst)->field, (src)->field, len_); \
		(dst)->field[len_] = '\0'; \
	} while (0)

/* copy the first n values of an offered list */
#define COPY_OFFER_LIST(dst, src, list, n) \
	memcpy((dst)->list, (src)->list, \
		   sizeof((src)->list[0]) * Min((n), lengthof((src)->list)))

/*
 * Copy a ring entry out of shared memory, under the lock: only the bytes
 * in use (a ring entry is 3.2 kB of fixed-size fields, mostly empty
 * string space; copying all of it was a third of the time of reading
 * the view).  Every field of HistoryEntry must be copied here; unused
 * bytes of dst are left as they are, and no reader looks past a string's
 * terminator or a list's count.
 */
static void
history_entry_copy(HistoryEntry *dst, const HistoryEntry *src)
{
	/* the scalars before the strings: seq .. sqlstate */
	memcpy(dst, src, offsetof(HistoryEntry, reason));
	COPY_STRING_FIELD(dst, src, reason);
	COPY_STRING_FIELD(dst, src, remote_host);
	COPY_STRING_FIELD(dst, src, remote_port);
	COPY_STRING_FIELD(dst, src, user_name);
	COPY_STRING_FIELD(dst, src, database_name);
	COPY_STRING_FIELD(dst, src, application_name);
	COPY_STRING_FIELD(dst, src, protocol);
	COPY_STRING_FIELD(dst, src, cipher);
	COPY_STRING_FIELD(dst, src, client_dn);
	COPY_STRING_FIELD(dst, src, issuer_dn);
	COPY_STRING_FIELD(dst, src, serial);
	COPY_STRING_FIELD(dst, src, fingerprint);
	COPY_STRING_FIELD(dst, src, hba_file);
	COPY_STRING_FIELD(dst, src, auth_method);
	COPY_STRING_FIELD(dst, src, identity);
	dst->has_offer = src->has_offer;
	dst->has_sni = src->has_sni;
	if (!src->has_offer)
		return;
	COPY_STRING_FIELD(dst, src, sni);
	COPY_STRING_FIELD(dst, src, ja4);
	COPY_STRING_FIELD(dst, src, offered_alpn);
	dst->offer.nversions = Min(src->offer.nversions, AUDIT_OFFER_MAX_VERSIONS);
	dst->offer.nciphers = Min(src->offer.nciphers, AUDIT_OFFER_MAX_CIPHERS);
	dst->offer.ngroups = Min(src->offer.ngroups, AUDIT_OFFER_MAX_GROUPS);
	dst->offer.nkeyshares = Min(src->offer.nkeyshares, AUDIT_OFFER_MAX_GROUPS);
	COPY_OFFER_LIST(&dst->offer, &src->offer, versions, dst->offer.nversions);
	COPY_OFFER_LIST(&dst->offer, &src->offer, ciphers, dst->offer.nciphers);
	COPY_OFFER_LIST(&dst->offer, &src->offer, groups, dst->offer.ngroups);
	COPY_OFFER_LIST(&dst->offer, &src->offer, keyshares, dst->offer.nkeyshares);
}

/*
 * The order of the connections view: newest first by ts, then by
 * insertion.  Attempts are timestamped before they take the lock, so
 * concurrent ones can enter the ring slightly out of ts order; the view
 * needs no ORDER BY because connections_raw() returns its rows in this
 * order.
 */
typedef struct RingOrder
{
	TimestampTz ts;
	uint64		seq;
} RingOrder;

static int
ring_order_cmp(const void *a, const void *b)
{
	const RingOrder *x = a;
	const RingOrder *y = b;

	if (x->ts != y->ts)
		return x->ts > y->ts ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq > y->seq ? -1 : 1;
	return 0;
}

/*
 * The ring's entries numbered oldest .. newest that are still there, in
 * the view's order; *count is set to their number.  Reads the ts and seq
 * of each entry under the lock, one entry per hold, newest first, and
 * stops at a reset.  Sorts only when the ring is out of ts order (rare:
 * the ring is filled in order of insertion).
 */
static RingOrder *
ring_order(uint64 newest, uint64 oldest, uint64 generation, int32 size,
		   int64 *count)
{
	RingOrder  *order;
	int64		n = 0;
	bool		sorted = true;

	order = palloc(sizeof(RingOrder) * Max(newest - oldest + 1, 1));
	for (uint64 seq = newest; seq >= oldest && seq > 0; seq--)
	{
		InventoryLockTimer lt;
		const HistoryEntry *h = &inventory->history[(seq - 1) % size];
		bool		reset_since;

		CHECK_FOR_INTERRUPTS();
		inventory_lock(&lt, INV_LOCK_READER);
		reset_since = inventory->generation != generation;
		order[n].seq = h->seq;
		order[n].ts = h->ts;
		inventory_unlock(&lt);
		if (reset_since)
			break;
		if (order[n].seq != seq)
			continue;			/* overwritten meanwhile by a newer attempt */
		if (n > 0 && ring_order_cmp(&order[n - 1], &order[n]) > 0)
			sorted = false;
		n++;
	}
	if (!sorted)
		qsort(order, n, sizeof(RingOrder), ring_order_cmp);
	*count = n;
	return order;
}

PG_FUNCTION_INFO_V1(pgtls_audit_connections);

/*
 * The rows of the connections view, newest first (ring_order), each entry
 * copied under the lock one at a time, in a row context reset per row.
 */
Datum
pgtls_audit_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	InventoryLockTimer lt;
	char	   *only_user;
	uint64		newest,
				oldest,
				generation;
	int32		size;
	RingOrder  *order;
	int64		count;
	ViewScratch vs;

	require_inventory();
	only_user = visible_user();
	InitMaterializedSRF(fcinfo, 0);
	view_scratch_init(&vs);

	inventory_lock(&lt, INV_LOCK_READER);
	newest = inventory->history_count;
	generation = inventory->generation;
	/* entries of this generation still in the ring: seq oldest .. newest */
	oldest = Max(inventory->history_base,
				 newest > (uint64) inventory->history_size ?
				 newest - inventory->history_size : 0) + 1;
	inventory_unlock(&lt);
	size = inventory->history_size;
	order = ring_order(newest, oldest, generation, size, &count);

	for (int64 k = 0; k < count; k++)
	{
		HistoryEntry h;
		MemoryContext old;
		Datum		values[33];
		bool		nulls[33] = {0};
		bool		reset_since;

		CHECK_FOR_INTERRUPTS();
		inventory_lock(&lt, INV_LOCK_READER);
		reset_since = inventory->generation != generation;
		if (!reset_since)
			history_entry_copy(&h, &inventory->history[(order[k].seq - 1) % size]);
		inventory_unlock(&lt);
#ifdef __GNUC__
		/* the next entry, a page away: start its TLB and cache miss */
		if (k + 1 < count)
			__builtin_prefetch(&inventory->history[(order[k + 1].seq - 1) % size]);
#endif
		if (reset_since)
			break;
		if (h.seq != order[k].seq)
			continue;			/* overwritten meanwhile by a newer attempt */
		if (only_user && strcmp(h.user_name, only_user) != 0)
			continue;

		old = MemoryContextSwitchTo(vs.row_cxt);
		history_row(&vs, &h, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(vs.row_cxt);
	}
	pfree(order);
	view_scratch_done(&vs);
	return (Datum) 0;
}

/*
 * Copy a table entry out of shared memory, under the lock, only the bytes
 * in use (as history_entry_copy; most of an entry is empty string space).
 * Every field of the entry struct must be copied by its function; an
 * entry type without one is copied whole.
 */
typedef void (*EntryCopyFunc) (InventoryEntry *dst, const void *src);

static void
client_entry_copy(InventoryEntry *dst, const void *src)
{
	const ClientEntry *s = src;
	ClientEntry *d = &dst->client;

	COPY_STRING_FIELD(&d->key, &s->key, user_name);
	COPY_STRING_FIELD(&d->key, &s->key, database_name);
	COPY_STRING_FIELD(&d->key, &s->key, client_addr);
	COPY_STRING_FIELD(&d->key, &s->key, protocol);
	COPY_STRING_FIELD(&d->key, &s->key, cipher);
	COPY_STRING_FIELD(&d->key, &s->key, issuer_dn);
	COPY_STRING_FIELD(&d->key, &s->key, serial);
	COPY_STRING_FIELD(&d->key, &s->key, hba_file);
	COPY_STRING_FIELD(&d->key, &s->key, auth_method);
	d->key.hba_line = s->key.hba_line;
	d->key.outcome = s->key.outcome;
	d->key.ssl = s->key.ssl;
	d->connections = s->connections;
	d->first_seen = s->first_seen;
	d->last_seen = s->last_seen;
	d->repeat = s->repeat;
}

static void
cert_entry_copy(InventoryEntry *dst, const void *src)
{
	const CertEntry *s = src;
	CertEntry  *d = &dst->cert;

	COPY_STRING_FIELD(&d->key, &s->key, issuer_dn);
	COPY_STRING_FIELD(&d->key, &s->key, serial);
	COPY_STRING_FIELD(d, s, subject_dn);
	COPY_STRING_FIELD(d, s, fingerprint);
	d->has_not_after = s->has_not_after;
	d->roles_truncated = s->roles_truncated;
	d->nroles = Min(Max(s->nroles, 0), INV_CERT_ROLES);
	d->not_after = s->not_after;
	for (int r = 0; r < d->nroles; r++)
		COPY_STRING_FIELD(d, s, roles[r]);
	d->connections = s->connections;
	d->first_seen = s->first_seen;
	d->last_seen = s->last_seen;
}

static void
fingerprint_entry_copy(InventoryEntry *dst, const void *src)
{
	const FingerprintEntry *s = src;
	FingerprintEntry *d = &dst->fingerprint;

	COPY_STRING_FIELD(&d->key, &s->key, ja4);
	d->offer.nversions = Min(s->offer.nversions, AUDIT_OFFER_MAX_VERSIONS);
	d->offer.nciphers = Min(s->offer.nciphers, AUDIT_OFFER_MAX_CIPHERS);
	d->offer.ngroups = Min(s->offer.ngroups, AUDIT_OFFER_MAX_GROUPS);
	d->offer.nkeyshares = Min(s->offer.nkeyshares, AUDIT_OFFER_MAX_GROUPS);
	COPY_OFFER_LIST(&d->offer, &s->offer, versions, d->offer.nversions);
	COPY_OFFER_LIST(&d->offer, &s->offer, ciphers, d->offer.nciphers);
	COPY_OFFER_LIST(&d->offer, &s->offer, groups, d->offer.ngroups);
	COPY_OFFER_LIST(&d->offer, &s->offer, keyshares, d->offer.nkeyshares);
	d->nusers = Min(Max(s->nusers, 0), INV_FP_NAMES);
	d->napps = Min(Max(s->napps, 0), INV_FP_NAMES);
	d->naddrs = Min(Max(s->naddrs, 0), INV_FP_ADDRS);
	d->users_truncated = s->users_truncated;
	d->apps_truncated = s->apps_truncated;
	d->addrs_truncated = s->addrs_truncated;
	for (int k = 0; k < d->nusers; k++)
		COPY_STRING_FIELD(d, s, users[k]);
	for (int k = 0; k < d->napps; k++)
		COPY_STRING_FIELD(d, s, apps[k]);
	memcpy(d->addrs, s->addrs, sizeof(s->addrs[0]) * d->naddrs);
	d->connections = s->connections;
	d->handshake_failures = s->handshake_failures;
	d->first_seen = s->first_seen;
	d->last_seen = s->last_seen;
}

/*
 * Copy the entry in a table slot under the lock (with copy, or whole).
 * Returns false at the end of the scan: no entry in that slot, or a reset
 * since the scan started.
 */
static bool
copy_slot(LruTable *tab, int32 slot, uint64 generation, EntryCopyFunc copy,
		  InventoryEntry *dst)
{
	InventoryLockTimer lt;
	bool		used = false;
	void	   *src;

	CHECK_FOR_INTERRUPTS();
	inventory_lock(&lt, INV_LOCK_READER);
	if (inventory->generation == generation)
	{
		src = lru_slot_entry(tab, slot, &used);
		if (used && copy != NULL)
			copy(dst, src);
		else if (used)
			memcpy(dst, src, tab->entry_size);
	}
	inventory_unlock(&lt);
	return used;
}

static uint64
current_generation(void)
{
	InventoryLockTimer lt;
	uint64		generation;

	inventory_lock(&lt, INV_LOCK_READER);
	generation = inventory->generation;
	inventory_unlock(&lt);
	return generation;
}

/*
 * Fill the row of one table entry; false leaves the entry out (a row the
 * caller may not see).  only_user is as visible_user() returns it.
 */
typedef bool (*TableRowFunc) (ViewScratch *vs, const InventoryEntry *entry,
							  const char *only_user,
							  Datum *values, bool *nulls);

/* columns of the widest table view, client_fingerprints_raw() */
#define TABLE_VIEW_MAX_COLUMNS 17

/*
 * Return the rows of a table, one entry copied under the lock at a time,
 * in slot order, as a materialized set.
 */
static void
table_view(FunctionCallInfo fcinfo, LruTable *tab, EntryCopyFunc copy,
		   const char *only_user, TableRowFunc row)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		generation;
	InventoryEntry e;
	ViewScratch vs;

	InitMaterializedSRF(fcinfo, 0);
	Assert(rsinfo->setDesc->natts <= TABLE_VIEW_MAX_COLUMNS);
	view_scratch_init(&vs);
	generation = current_generation();

	for (int32 slot = 0; copy_slot(tab, slot, generation, copy, &e); slot++)
	{
		Datum		values[TABLE_VIEW_MAX_COLUMNS];
		bool		nulls[TABLE_VIEW_MAX_COLUMNS] = {0};
		MemoryContext old = MemoryContextSwitchTo(vs.row_cxt);

		if (row(&vs, &e, only_user, values, nulls))
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(vs.row_cxt);
	}
	view_scratch_done(&vs);
}

/* The 15 columns of clients_raw(): the caller's own rows, or every row. */
static bool
client_row(ViewScratch *vs, const InventoryEntry *entry,
		   const char *only_user, Datum *values, bool *nulls)
{
	const ClientEntry *e = &entry->client;
	int			i = 0;

	if (only_user && strcmp(e->key.user_name, only_user) != 0)
		return false;

	values[i] = text_or_null(e->key.user_name, &nulls[i]), i++;
	values[i] = text_or_null(e->key.database_name, &nulls[i]), i++;
	values[i] = text_or_null(e->key.client_addr, &nulls[i]), i++;
	values[i++] = BoolGetDatum(e->key.ssl);
	values[i] = text_or_null(e->key.protocol, &nulls[i]), i++;
	values[i] = text_or_null(e->key.cipher, &nulls[i]), i++;
	values[i] = text_or_null(e->key.issuer_dn, &nulls[i]), i++;
	values[i] = text_or_null(e->key.serial, &nulls[i]), i++;
	values[i] = text_or_null(e->key.hba_file, &nulls[i]), i++;
	nulls[i] = e->key.hba_line <= 0;
	values[i++] = Int32GetDatum(e->key.hba_line);
	values[i] = text_or_null(e->key.auth_method, &nulls[i]), i++;
	values[i++] = CStringGetTextDatum(audit_outcome_name((AuditOutcome) e->key.outcome));
	values[i++] = Int64GetDatum((int64) e->connections);
	values[i++] = TimestampTzGetDatum(e->first_seen);
	values[i++] = TimestampTzGetDatum(e->last_seen);
	Assert(i == 15);
	return true;
}

/*
 * The 10 columns of client_certificates_raw(): a certificate is the
 * caller's when the caller's user name is among its roles.
 */
static bool
cert_row(ViewScratch *vs, const InventoryEntry *entry,
		 const char *only_user, Datum *values, bool *nulls)
{
	const CertEntry *e = &entry->cert;
	Datum		roles[INV_CERT_ROLES];
	int			nroles = Min(e->nroles, INV_CERT_ROLES);
	int			i = 0;
	bool		mine = (only_user == NULL);

	for (int r = 0; r < nroles && !mine; r++)
		if (strcmp(e->roles[r], only_user) == 0)
			mine = true;
	if (!mine)
		return false;
	for (int r = 0; r < nroles; r++)
	{
		bool		role_null;

		roles[r] = text_or_null(e->roles[r], &role_null);
		if (role_null)
			roles[r] = CStringGetTextDatum("");
	}

	values[i] = text_or_null(e->subject_dn, &nulls[i]), i++;
	values[i] = text_or_null(e->key.issuer_dn, &nulls[i]), i++;
	values[i] = text_or_null(e->key.serial, &nulls[i]), i++;
	nulls[i] = !e->has_not_after;
	values[i++] = TimestampTzGetDatum(e->not_after);
	values[i++] = PointerGetDatum(construct_array(roles, nroles, TEXTOID, -1, false, TYPALIGN_INT));
	values[i++] = BoolGetDatum(e->roles_truncated);
	values[i++] = Int64GetDatum((int64) e->connections);
	values[i++] = TimestampTzGetDatum(e->first_seen);
	values[i++] = TimestampTzGetDatum(e->last_seen);
	values[i] = text_or_null(e->fingerprint, &nulls[i]), i++;
	Assert(i == 10);
	return true;
}

/* The 6 columns of hba_usage_raw(), every row (no per-user filter). */
static bool
hba_row(ViewScratch *vs, const InventoryEntry *entry,
		const char *only_user, Datum *values, bool *nulls)
{
	const HbaEntry *e = &entry->hba;

	values[0] = text_or_null(e->key.hba_file, &nulls[0]);
	values[1] = Int32GetDatum(e->key.hba_line);
	values[2] = Int64GetDatum((int64) e->attempts);
	values[3] = Int64GetDatum((int64) e->successes);
	values[4] = Int64GetDatum((int64) e->failures);
	values[5] = TimestampTzGetDatum(e->last_used);
	return true;
}

/*
 * Post-quantum key exchange groups, hybrid and pure (IANA TLS Supported
 * Groups registry; the Kyber drafts as browsers sent them in 2023-2024).
 */
static bool
post_quantum_group(uint16 v)
{
	switch (v)
	{
		case 0x11eb:			/* SecP256r1MLKEM768 */
		case 0x11ec:			/* X25519MLKEM768 */
		case 0x11ed:			/* SecP384r1MLKEM1024 */
		case 0x6399:			/* X25519Kyber768Draft00 */
		case 0x639a:			/* SecP256r1Kyber768Draft00 */
		case 0x0200:			/* MLKEM512 */
		case 0x0201:			/* MLKEM768 */
		case 0x0202:			/* MLKEM1024 */
			return true;
	}
	return false;
}

/* The names of a bounded name list, as text[] */
static Datum
name_array(const char (*names)[INV_NAME_LEN], int32 n)
{
	Datum		elems[INV_FP_NAMES];

	n = Min(n, INV_FP_NAMES);
	for (int32 k = 0; k < n; k++)
	{
		bool		isnull;

		elems[k] = text_or_null(names[k], &isnull);
		if (isnull)
			elems[k] = CStringGetTextDatum("");
	}
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/*
 * The 17 columns of client_fingerprints_raw(), every row: the view is
 * granted to pg_read_all_stats (a fingerprint is shared by many users).
 */
static bool
fingerprint_row(ViewScratch *vs, const InventoryEntry *entry,
				const char *only_user, Datum *values, bool *nulls)
{
	const FingerprintEntry *e = &entry->fingerprint;
	uint16		highest = 0;
	uint16		pq[AUDIT_OFFER_MAX_GROUPS];
	int			npq = 0;
	int			i = 0;

	for (int k = 0; k < e->offer.nversions; k++)
		highest = Max(highest, e->offer.versions[k]);
	for (int k = 0; k < e->offer.ngroups; k++)
		if (post_quantum_group(e->offer.groups[k]))
			pq[npq++] = e->offer.groups[k];

	values[i] = text_or_null(e->key.ja4, &nulls[i]), i++;
	nulls[i] = e->offer.nversions == 0;
	if (!nulls[i])
		values[i] = offer_value_text(vs, AUDIT_OFFER_VERSION, highest);
	i++;
	values[i++] = offer_array(vs, AUDIT_OFFER_VERSION, e->offer.versions, e->offer.nversions);
	values[i++] = offer_array(vs, AUDIT_OFFER_CIPHER, e->offer.ciphers, e->offer.nciphers);
	values[i++] = offer_array(vs, AUDIT_OFFER_GROUP, e->offer.groups, e->offer.ngroups);
	values[i++] = offer_array(vs, AUDIT_OFFER_GROUP, e->offer.keyshares, e->offer.nkeyshares);
	values[i++] = offer_array(vs, AUDIT_OFFER_GROUP, pq, npq);
	values[i++] = name_array(e->users, e->nusers);
	values[i++] = BoolGetDatum(e->users_truncated);
	values[i++] = name_array(e->apps, e->napps);
	values[i++] = BoolGetDatum(e->apps_truncated);
	values[i++] = Int32GetDatum(e->naddrs);
	values[i++] = BoolGetDatum(e->addrs_truncated);
	values[i++] = Int64GetDatum((int64) e->connections);
	values[i++] = Int64GetDatum((int64) e->handshake_failures);
	values[i++] = TimestampTzGetDatum(e->first_seen);
	values[i++] = TimestampTzGetDatum(e->last_seen);
	Assert(i == 17);
	return true;
}

PG_FUNCTION_INFO_V1(pgtls_audit_client_fingerprints);

/* granted to pg_read_all_stats (inventory.sql): every row */
Datum
pgtls_audit_client_fingerprints(PG_FUNCTION_ARGS)
{
	require_inventory();
	table_view(fcinfo, inventory->fingerprints, fingerprint_entry_copy, NULL,
			   fingerprint_row);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgtls_audit_clients);

Datum
pgtls_audit_clients(PG_FUNCTION_ARGS)
{
	require_inventory();
	table_view(fcinfo, inventory->clients, client_entry_copy, visible_user(),
			   client_row);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgtls_audit_client_certificates);

Datum
pgtls_audit_client_certificates(PG_FUNCTION_ARGS)
{
	require_inventory();
	table_view(fcinfo, inventory->certs, cert_entry_copy, visible_user(),
			   cert_row);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgtls_audit_hba_usage);

/* hba_usage_raw() is granted to pg_read_all_stats (inventory.sql): every row */
Datum
pgtls_audit_hba_usage(PG_FUNCTION_ARGS)
{
	require_inventory();
	table_view(fcinfo, inventory->hba, NULL, NULL, hba_row);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgtls_audit_stats);

Datum
pgtls_audit_stats(PG_FUNCTION_ARGS)
{
	InventoryLockTimer lt;
	TupleDesc	tupdesc;
	Datum		values[18];
	bool		nulls[18] = {0};
	InventoryShared s;
	int32		clients_used,
				certs_used,
				hba_used,
				fingerprints_used;
	uint64		ev_clients,
				ev_certs,
				ev_hba,
				ev_fingerprints,
				in_ring;

	require_inventory();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	inventory_lock(&lt, INV_LOCK_READER);
	s = *inventory;
	clients_used = inventory->clients->used;
	certs_used = inventory->certs->used;
	hba_used = inventory->hba->used;
	ev_clients = inventory->clients->evictions;
	ev_certs = inventory->certs->evictions;
	ev_hba = inventory->hba->evictions;
	fingerprints_used = inventory->fingerprints->used;
	ev_fingerprints = inventory->fingerprints->evictions;
	inventory_unlock(&lt);

	/* attempts put in the ring since the last reset */
	in_ring = s.history_count - s.history_base;

	values[0] = Int64GetDatum((int64) s.records_total);
	values[1] = Int32GetDatum((int32) Min(in_ring, (uint64) s.history_size));
	values[2] = Int32GetDatum(s.history_size);
	values[3] = Int64GetDatum((int64) (in_ring > (uint64) s.history_size ?
									   in_ring - s.history_size : 0));
	values[4] = Int32GetDatum(clients_used);
	values[5] = Int32GetDatum(inventory->clients->capacity);
	values[6] = Int64GetDatum((int64) ev_clients);
	values[7] = Int32GetDatum(certs_used);
	values[8] = Int32GetDatum(inventory->certs->capacity);
	values[9] = Int64GetDatum((int64) ev_certs);
	values[10] = Int32GetDatum(hba_used);
	values[11] = Int64GetDatum((int64) ev_hba);
	values[12] = Int64GetDatum((int64) s.records_dropped);
	values[13] = Int64GetDatum((int64) s.values_truncated);
	values[14] = TimestampTzGetDatum(s.stats_reset);
	values[15] = Int32GetDatum(fingerprints_used);
	values[16] = Int32GetDatum(inventory->fingerprints->capacity);
	values[17] = Int64GetDatum((int64) ev_fingerprints);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(pgtls_audit_reset);

/* Empty the whole inventory (inventory_reset, O(1) whatever the sizes). */
Datum
pgtls_audit_reset(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();

	require_inventory();
	inventory_reset(now);
	PG_RETURN_VOID();
}
