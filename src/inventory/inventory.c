/*-------------------------------------------------------------------------
 *
 * inventory.c
 *	  The connection inventory in shared memory: a ring of recent attempts,
 *	  and LRU-bounded tables of clients, client certificates, ClientHello
 *	  fingerprints (JA4) and pg_hba line usage.  This file sizes and
 *	  creates it, defines its settings, adds each attempt to it, decides
 *	  there whether the attempt's record is written, and empties it (reset).
 *
 * Audit volume (log_connections / log_failures = new).  The decision is
 * taken in inventory_add, in the same spinlock hold that counts the
 * attempt: a success is looked up by its clients tuple (the entry it
 * counts anyway), a failure by (address, user, reason) in a small LRU
 * table of its own.  A tuple written less than log_repeat_interval ago is
 * only counted (RepeatState); the next record written for it carries the
 * count (repeats).  A tuple whose interval passed with a count but no new
 * attempt is copied out as a summary by the next attempt of any kind (at
 * most INVENTORY_SWEEP_PER_TABLE per table, oldest pending first), and by
 * the postmaster at a clean shutdown (inventory_flush_summaries, before
 * the save file is written); a tuple about to be evicted is copied out
 * first too.  Copies only, under the lock: the caller formats and writes
 * the summaries after releasing it.
 *
 * The layout, the locking contract, the O(1) reset and the bounds are
 * described in inventory_internal.h; the save file in persist.c; the SQL
 * functions behind the pgtls_audit views in views.c; the LRU tables in
 * lru_table.h.
 *
 * src/inventory/inventory.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "inventory/inventory.h"

#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "inventory/inventory_internal.h"
#include "inventory/lru_table.h"

/* settings */
static int	inventory_history_size = 1000;
static int	inventory_max_clients = 5000;
static int	inventory_max_certificates = 1000;
static int	inventory_max_fingerprints = 1000;
bool		inventory_save = true;

InventoryShared *inventory = NULL;

/* the summary sizes of inventory.h are the inventory's own */
StaticAssertDecl(sizeof(((InventorySummary *) 0)->client_addr) == INV_ADDR_LEN &&
				 sizeof(((InventorySummary *) 0)->user_name) == INV_NAME_LEN &&
				 sizeof(((InventorySummary *) 0)->protocol) == INV_PROTO_LEN &&
				 sizeof(((InventorySummary *) 0)->cipher) == INV_CIPHER_LEN &&
				 sizeof(((InventorySummary *) 0)->issuer_dn) == INV_DN_LEN &&
				 sizeof(((InventorySummary *) 0)->serial) == INV_SERIAL_LEN &&
				 sizeof(((InventorySummary *) 0)->hba_file) == INV_FILE_LEN &&
				 sizeof(((InventorySummary *) 0)->auth_method) == INV_METHOD_LEN &&
				 sizeof(((InventorySummary *) 0)->reason) == INV_REASON_LEN,
				 "InventorySummary fields match the inventory's");

/* writes one summary record (audit/hooks.c), for the shutdown flush */
static void (*summary_writer) (const InventorySummary *sum) = NULL;

typedef struct AttemptKeys AttemptKeys;
static void attempt_apply(HistoryEntry *h, const AttemptKeys *keys,
						  AuditLogMode mode, int64 interval, bool have_user,
						  uint64 truncated, bool written, InventoryDecision *d);
static bool deferred_put(const HistoryEntry *h, const AttemptKeys *keys,
						 AuditLogMode mode, int64 interval, bool have_user,
						 uint64 truncated, const InventoryLockTimer *lt);
static int	deferred_drain(InventoryDecision *d, int capacity);

/* An attempt's keys in the tables, with their hashes. */
struct AttemptKeys
{
	ClientKey	client;
	uint32		client_hash;
	bool		have_cert;		/* a certificate with issuer and serial */
	CertKey		cert;
	uint32		cert_hash;
	bool		have_hba;		/* a pg_hba line was matched */
	HbaKey		hba;
	uint32		hba_hash;
	bool		have_fingerprint;	/* a ClientHello with its JA4 */
	FingerprintKey fingerprint;
	uint32		fingerprint_hash;
	uint32		addr_hash;		/* of the client address, for its count */
	bool		have_failure;	/* not a success: its (address, user, reason) */
	FailureKey	failure;
	uint32		failure_hash;
};

/*
 * An attempt whose connection found the lock held (inventory_internal.h,
 * "Deferred attempts"): what inventory_add would have added under it.
 * state goes EMPTY -> WRITING (the connection's compare-and-swap) -> READY
 * (written) -> EMPTY (added by a lock holder).
 */
#define DEFERRED_EMPTY		0
#define DEFERRED_WRITING	1
#define DEFERRED_READY		2

struct DeferredAttempt
{
	pg_atomic_uint32 state;
	uint8		mode;			/* the AuditLogMode that applied */
	bool		have_user;
	bool		timed;			/* wait_ns was measured */
	int64		interval;		/* log_repeat_interval, in us */
	uint64		truncated;		/* values cut in the entry */
	uint64		wait_ns;		/* until the connection gave up the lock */
	HistoryEntry h;
	AttemptKeys keys;
};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void
inventory_define_settings(void)
{
	DefineCustomIntVariable("pgtls_audit.history_size",
							"Number of recent connection attempts kept in pgtls_audit.connections.",
							NULL,
							&inventory_history_size,
							1000, 10, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgtls_audit.max_clients",
							"Number of distinct clients kept in pgtls_audit.clients.",
							"When full, the least recently seen entry is evicted and counted.",
							&inventory_max_clients,
							5000, 10, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgtls_audit.max_certificates",
							"Number of distinct client certificates kept in pgtls_audit.client_certificates.",
							"When full, the least recently seen entry is evicted and counted.",
							&inventory_max_certificates,
							1000, 10, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pgtls_audit.max_fingerprints",
							"Number of distinct ClientHello fingerprints (JA4) kept in pgtls_audit.client_fingerprints.",
							"When full, the least recently seen entry is evicted and counted.",
							&inventory_max_fingerprints,
							1000, 10, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("pgtls_audit.save",
							 "Saves the inventory across server shutdowns.",
							 NULL,
							 &inventory_save,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
}

static Size
inventory_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(InventoryShared));

	size = add_size(size, MAXALIGN(mul_size(inventory_history_size, sizeof(HistoryEntry))));
	size = add_size(size, MAXALIGN(lru_table_size(inventory_max_clients, sizeof(ClientKey), sizeof(ClientEntry))));
	size = add_size(size, MAXALIGN(lru_table_size(inventory_max_certificates, sizeof(CertKey), sizeof(CertEntry))));
	size = add_size(size, MAXALIGN(lru_table_size(PGTLS_MAX_HBA_ENTRIES, sizeof(HbaKey), sizeof(HbaEntry))));
	size = add_size(size, MAXALIGN(lru_table_size(inventory_max_fingerprints, sizeof(FingerprintKey), sizeof(FingerprintEntry))));
	size = add_size(size, MAXALIGN(lru_table_size(PGTLS_MAX_FAILURE_ENTRIES, sizeof(FailureKey), sizeof(FailureEntry))));
	size = add_size(size, MAXALIGN(mul_size(INV_DEFERRED_SLOTS, sizeof(DeferredAttempt))));
	return size;
}

static void
inventory_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(inventory_shmem_size());
}

/* set by persist.c: what the postmaster does after creating the tables */
static void (*postmaster_startup_callback) (bool found) = NULL;

static void
inventory_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	inventory = ShmemInitStruct("pgtls_audit inventory", inventory_shmem_size(), &found);
	if (!found)
	{
		char	   *p = (char *) inventory + MAXALIGN(sizeof(InventoryShared));

		memset(inventory, 0, sizeof(InventoryShared));
		SpinLockInit(&inventory->mutex);
		inventory->history_size = inventory_history_size;
		inventory->history = (HistoryEntry *) p;
		memset(p, 0, mul_size(inventory_history_size, sizeof(HistoryEntry)));
		p += MAXALIGN(mul_size(inventory_history_size, sizeof(HistoryEntry)));
		inventory->clients = (LruTable *) p;
		lru_table_init(inventory->clients, inventory_max_clients, sizeof(ClientKey), sizeof(ClientEntry));
		p += MAXALIGN(lru_table_size(inventory_max_clients, sizeof(ClientKey), sizeof(ClientEntry)));
		inventory->certs = (LruTable *) p;
		lru_table_init(inventory->certs, inventory_max_certificates, sizeof(CertKey), sizeof(CertEntry));
		p += MAXALIGN(lru_table_size(inventory_max_certificates, sizeof(CertKey), sizeof(CertEntry)));
		inventory->hba = (LruTable *) p;
		lru_table_init(inventory->hba, PGTLS_MAX_HBA_ENTRIES, sizeof(HbaKey), sizeof(HbaEntry));
		p += MAXALIGN(lru_table_size(PGTLS_MAX_HBA_ENTRIES, sizeof(HbaKey), sizeof(HbaEntry)));
		inventory->fingerprints = (LruTable *) p;
		lru_table_init(inventory->fingerprints, inventory_max_fingerprints,
					   sizeof(FingerprintKey), sizeof(FingerprintEntry));
		p += MAXALIGN(lru_table_size(inventory_max_fingerprints, sizeof(FingerprintKey), sizeof(FingerprintEntry)));
		inventory->failures = (LruTable *) p;
		lru_table_init(inventory->failures, PGTLS_MAX_FAILURE_ENTRIES,
					   sizeof(FailureKey), sizeof(FailureEntry));
		p += MAXALIGN(lru_table_size(PGTLS_MAX_FAILURE_ENTRIES, sizeof(FailureKey), sizeof(FailureEntry)));
		inventory->deferred = (DeferredAttempt *) p;
		memset(p, 0, mul_size(INV_DEFERRED_SLOTS, sizeof(DeferredAttempt)));
		for (int i = 0; i < INV_DEFERRED_SLOTS; i++)
			pg_atomic_init_u32(&inventory->deferred[i].state, DEFERRED_EMPTY);
		pg_atomic_init_u32(&inventory->deferred_ready, 0);
		inventory->clients_pending.head = inventory->clients_pending.tail = -1;
		inventory->failures_pending.head = inventory->failures_pending.tail = -1;
		inventory->stats_reset = GetCurrentTimestamp();
	}
	LWLockRelease(AddinShmemInitLock);

	/* in the postmaster: the save file (persist.c), told through a callback */
	if (!IsUnderPostmaster && postmaster_startup_callback != NULL)
		postmaster_startup_callback(found);
}

/*
 * What the postmaster does once the tables exist (persist.c registers the
 * save at shutdown and loads the file).  A callback, so that this file
 * never calls persist.c, which uses it.
 */
void
inventory_set_postmaster_startup(void (*callback) (bool found))
{
	postmaster_startup_callback = callback;
}

void
inventory_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = inventory_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = inventory_shmem_startup;
}

/*
 * Copy a string into a fixed field; cut at a UTF-8 character boundary with
 * a "..." marker when too long, and count the cut.
 */
static void
copy_field(char *dst, size_t size, const char *src, uint64 *truncated)
{
	size_t		len;

	if (src == NULL)
	{
		dst[0] = '\0';
		return;
	}
	len = strlen(src);
	if (len < size)
	{
		memcpy(dst, src, len + 1);
		return;
	}
	len = pg_encoding_mbcliplen(PG_UTF8, src, len, size - 4);
	memcpy(dst, src, len);
	memcpy(dst + len, "...", 4);
	(*truncated)++;
}

/*
 * The ring entry of an attempt, every string cut to its field (cuts are
 * counted in *truncated).
 */
static void
history_entry_build(HistoryEntry *h, const AuditRecord *rec, uint64 *truncated)
{
	memset(h, 0, sizeof(*h));
	h->ts = rec->ts;
	h->pid = rec->pid;
	h->bits = rec->bits;
	h->hba_line = rec->hba_line;
	h->event = (uint8) rec->event;
	h->outcome = (uint8) rec->outcome;
	h->policy = (uint8) rec->policy;
	h->ssl = rec->ssl;
	h->gss_encrypted = rec->gss_encrypted;
	h->client_cert = rec->client_cert_present;
	h->has_not_after = rec->has_not_after;
	h->alpn = (int8) rec->alpn;
	h->not_after = rec->client_not_after;
	memcpy(h->sqlstate, rec->sqlstate, sizeof(h->sqlstate));
	copy_field(h->reason, sizeof(h->reason), rec->reason, truncated);
	copy_field(h->remote_host, sizeof(h->remote_host), rec->remote_host, truncated);
	copy_field(h->remote_port, sizeof(h->remote_port), rec->remote_port, truncated);
	copy_field(h->user_name, sizeof(h->user_name), rec->user_name, truncated);
	copy_field(h->database_name, sizeof(h->database_name), rec->database_name, truncated);
	copy_field(h->application_name, sizeof(h->application_name), rec->application_name, truncated);
	copy_field(h->protocol, sizeof(h->protocol), rec->protocol, truncated);
	copy_field(h->cipher, sizeof(h->cipher), rec->cipher, truncated);
	copy_field(h->client_dn, sizeof(h->client_dn), rec->client_dn, truncated);
	copy_field(h->issuer_dn, sizeof(h->issuer_dn), rec->issuer_dn, truncated);
	copy_field(h->serial, sizeof(h->serial), rec->client_serial, truncated);
	copy_field(h->fingerprint, sizeof(h->fingerprint), rec->client_fingerprint, truncated);
	copy_field(h->hba_file, sizeof(h->hba_file), rec->hba_file, truncated);
	copy_field(h->auth_method, sizeof(h->auth_method), rec->auth_method, truncated);
	copy_field(h->identity, sizeof(h->identity), rec->identity, truncated);
	h->has_offer = rec->has_offer;
	if (rec->has_offer)
	{
		h->offer = rec->offer;
		h->has_sni = rec->sni != NULL;
		copy_field(h->sni, sizeof(h->sni), rec->sni, truncated);
		copy_field(h->ja4, sizeof(h->ja4), rec->ja4, truncated);
		copy_field(h->offered_alpn, sizeof(h->offered_alpn), rec->offered_alpn,
				   truncated);
	}
}

/*
 * Build the keys from the ring entry (keys are zeroed first: the tables
 * compare them with memcmp).  Reads only the tables' constant key sizes,
 * so it needs no lock.
 */
static void
attempt_keys_build(AttemptKeys *k, const HistoryEntry *h,
				   const AuditRecord *rec)
{
	ClientKey  *ck = &k->client;

	memset(ck, 0, sizeof(*ck));
	memcpy(ck->user_name, h->user_name, sizeof(ck->user_name));
	memcpy(ck->database_name, h->database_name, sizeof(ck->database_name));
	memcpy(ck->client_addr, h->remote_host, sizeof(ck->client_addr));
	memcpy(ck->protocol, h->protocol, sizeof(ck->protocol));
	memcpy(ck->cipher, h->cipher, sizeof(ck->cipher));
	memcpy(ck->issuer_dn, h->issuer_dn, sizeof(ck->issuer_dn));
	memcpy(ck->serial, h->serial, sizeof(ck->serial));
	memcpy(ck->hba_file, h->hba_file, sizeof(ck->hba_file));
	memcpy(ck->auth_method, h->auth_method, sizeof(ck->auth_method));
	ck->hba_line = h->hba_line;
	ck->outcome = h->outcome;
	ck->ssl = h->ssl;
	k->client_hash = lru_hash_key(inventory->clients, ck);

	k->have_cert = rec->client_cert_present && h->issuer_dn[0] && h->serial[0];
	k->cert_hash = 0;
	if (k->have_cert)
	{
		memset(&k->cert, 0, sizeof(k->cert));
		memcpy(k->cert.issuer_dn, h->issuer_dn, sizeof(k->cert.issuer_dn));
		memcpy(k->cert.serial, h->serial, sizeof(k->cert.serial));
		k->cert_hash = lru_hash_key(inventory->certs, &k->cert);
	}
	k->have_hba = h->hba_line > 0;
	k->hba_hash = 0;
	if (k->have_hba)
	{
		memset(&k->hba, 0, sizeof(k->hba));
		memcpy(k->hba.hba_file, h->hba_file, sizeof(k->hba.hba_file));
		k->hba.hba_line = h->hba_line;
		k->hba_hash = lru_hash_key(inventory->hba, &k->hba);
	}
	k->have_fingerprint = h->has_offer && h->ja4[0] != '\0';
	k->fingerprint_hash = 0;
	k->addr_hash = 0;
	if (k->have_fingerprint)
	{
		memset(&k->fingerprint, 0, sizeof(k->fingerprint));
		memcpy(k->fingerprint.ja4, h->ja4, sizeof(k->fingerprint.ja4));
		k->fingerprint_hash = lru_hash_key(inventory->fingerprints,
										   &k->fingerprint);
		k->addr_hash = hash_bytes((const unsigned char *) h->remote_host,
								  strlen(h->remote_host));
	}
	k->have_failure = h->outcome != AUDIT_OUTCOME_SUCCESS;
	k->failure_hash = 0;
	if (k->have_failure)
	{
		memset(&k->failure, 0, sizeof(k->failure));
		memcpy(k->failure.client_addr, h->remote_host, sizeof(k->failure.client_addr));
		memcpy(k->failure.user_name, h->user_name, sizeof(k->failure.user_name));
		memcpy(k->failure.reason, h->reason, sizeof(k->failure.reason));
		k->failure_hash = lru_hash_key(inventory->failures, &k->failure);
	}
}

/*
 * lookup_or_insert and the *_touch functions run under the spinlock:
 * O(1) lookups, inserts and copies of fixed size, nothing that can raise
 * an error.
 */

/*
 * The entry of a key, made the most recently used; if absent, inserted
 * (zeroed but for its key, evicting the least recently used entry when
 * the table is full) and *inserted set.
 */
static void *
lookup_or_insert(LruTable *tab, const void *key, uint32 hash, bool *inserted)
{
	void	   *entry = lru_lookup(tab, key, hash);
	bool		evicted;

	*inserted = entry == NULL;
	if (entry == NULL)
		entry = lru_insert(tab, key, hash, &evicted);
	return entry;
}

/*
 * The pending lists of the two tables with a RepeatState (clients and
 * failures), linked by slot.  Under the spinlock, or in the postmaster
 * alone.
 */
static RepeatState *
repeat_state_at(LruTable *tab, int32 slot)
{
	bool		used;
	char	   *entry = lru_slot_entry(tab, slot, &used);

	if (entry == NULL)
		return NULL;
	if (tab == inventory->clients)
		return &((ClientEntry *) entry)->repeat;
	return &((FailureEntry *) entry)->repeat;
}

static RepeatList *
pending_list_of(LruTable *tab)
{
	return tab == inventory->clients ? &inventory->clients_pending :
		&inventory->failures_pending;
}

static void
pending_push(LruTable *tab, int32 slot, RepeatState *rs)
{
	RepeatList *l = pending_list_of(tab);

	rs->pending_prev = l->tail;
	rs->pending_next = -1;
	if (l->tail >= 0)
		repeat_state_at(tab, l->tail)->pending_next = slot;
	else
		l->head = slot;
	l->tail = slot;
}

static void
pending_remove(LruTable *tab, RepeatState *rs)
{
	RepeatList *l = pending_list_of(tab);

	if (rs->pending_prev >= 0)
		repeat_state_at(tab, rs->pending_prev)->pending_next = rs->pending_next;
	else
		l->head = rs->pending_next;
	if (rs->pending_next >= 0)
		repeat_state_at(tab, rs->pending_next)->pending_prev = rs->pending_prev;
	else
		l->tail = rs->pending_prev;
	rs->pending_prev = rs->pending_next = -1;
}

/* copy a string field of the same size as its destination */
#define COPY_FIELD(dst, src) \
	do { \
		StaticAssertStmt(sizeof(dst) == sizeof(src), "field sizes differ"); \
		memcpy((dst), (src), sizeof(dst)); \
	} while (0)

/*
 * Copy a pending tuple out as a summary, take it off the pending list and
 * count the summary as its record (written at now).
 */
static void
summary_take(LruTable *tab, void *entry, RepeatState *rs, TimestampTz now,
			 InventorySummary *sum)
{
	memset(sum, 0, sizeof(*sum));
	if (tab == inventory->clients)
	{
		ClientKey  *ck = &((ClientEntry *) entry)->key;

		sum->failure = false;
		sum->event = AUDIT_EVENT_SUMMARY;
		sum->outcome = ck->outcome;
		sum->ssl = ck->ssl;
		sum->hba_line = ck->hba_line;
		COPY_FIELD(sum->client_addr, ck->client_addr);
		COPY_FIELD(sum->user_name, ck->user_name);
		COPY_FIELD(sum->database_name, ck->database_name);
		COPY_FIELD(sum->protocol, ck->protocol);
		COPY_FIELD(sum->cipher, ck->cipher);
		COPY_FIELD(sum->issuer_dn, ck->issuer_dn);
		COPY_FIELD(sum->serial, ck->serial);
		COPY_FIELD(sum->hba_file, ck->hba_file);
		COPY_FIELD(sum->auth_method, ck->auth_method);
	}
	else
	{
		FailureEntry *fe = (FailureEntry *) entry;

		sum->failure = true;
		sum->event = fe->event;
		sum->outcome = fe->outcome;
		sum->ssl = fe->ssl;
		COPY_FIELD(sum->sqlstate, fe->sqlstate);
		COPY_FIELD(sum->client_addr, fe->key.client_addr);
		COPY_FIELD(sum->user_name, fe->key.user_name);
		COPY_FIELD(sum->reason, fe->key.reason);
	}
	sum->repeats = rs->suppressed;
	sum->first = rs->suppressed_first;
	sum->last = rs->suppressed_last;
	pending_remove(tab, rs);
	rs->suppressed = 0;
	rs->last_written = now;
}

/*
 * The entry of a key in a table with a RepeatState, as lookup_or_insert;
 * an entry about to be evicted with a pending count is copied out into
 * the decision's summaries first (there is always room for one per table).
 */
static void *
lookup_or_insert_repeat(LruTable *tab, const void *key, uint32 hash,
						bool *inserted, TimestampTz now, InventoryDecision *d)
{
	void	   *entry = lru_lookup(tab, key, hash);
	bool		evicted;

	*inserted = entry == NULL;
	if (entry != NULL)
		return entry;
	if (tab->used >= tab->capacity && tab->lru_tail >= 0)
	{
		bool		used;
		void	   *victim = lru_slot_entry(tab, tab->lru_tail, &used);
		RepeatState *rs = repeat_state_at(tab, tab->lru_tail);

		if (victim != NULL && rs->suppressed > 0)
		{
			Assert(d->nsummaries < INVENTORY_MAX_SUMMARIES);
			if (d->nsummaries < INVENTORY_MAX_SUMMARIES)
				summary_take(tab, victim, rs, now, &d->summaries[d->nsummaries++]);
			else
				pending_remove(tab, rs);
		}
	}
	entry = lru_insert(tab, key, hash, &evicted);
	if (entry != NULL)
	{
		RepeatState *rs = repeat_state_at(tab, lru_entry_slot(tab, entry));

		rs->pending_prev = rs->pending_next = -1;
	}
	return entry;
}

/*
 * The volume decision for one attempt of a tuple: write it (carrying the
 * tuple's count) or only count it.  mode off writes nothing and counts
 * nothing; on writes; new writes only when the tuple's last record is at
 * least interval old (or it has none).  written: a deferred attempt, whose
 * record its connection wrote already, as on would, without the tuple's
 * count: that count stays pending for the next record or summary, and
 * the tuple's last record is this one.
 */
static void
repeat_decide(LruTable *tab, void *entry, RepeatState *rs, AuditLogMode mode,
			  TimestampTz ts, int64 interval, bool written,
			  InventoryDecision *d)
{
	d->write = false;
	if (mode == AUDIT_LOG_OFF)
		return;
	if (written)
	{
		if (ts > rs->last_written)
			rs->last_written = ts;
		return;
	}
	if (mode == AUDIT_LOG_NEW && rs->last_written != 0 &&
		ts - rs->last_written < interval)
	{
		if (rs->suppressed++ == 0)
		{
			rs->suppressed_first = ts;
			pending_push(tab, lru_entry_slot(tab, entry), rs);
		}
		rs->suppressed_last = ts;
		return;
	}
	d->write = true;
	d->repeats = rs->suppressed;
	d->repeats_first = rs->suppressed_first;
	d->repeats_last = rs->suppressed_last;
	if (rs->suppressed > 0)
		pending_remove(tab, rs);
	rs->suppressed = 0;
	rs->last_written = ts;
}

/*
 * Copy out up to INVENTORY_SWEEP_PER_TABLE tuples of a table whose count
 * is due (their last record at least interval before now), oldest
 * pending first.
 */
static void
repeat_sweep(LruTable *tab, TimestampTz now, int64 interval,
			 InventoryDecision *d)
{
	int32		slot = pending_list_of(tab)->head;

	for (int i = 0; i < INVENTORY_SWEEP_PER_TABLE && slot >= 0 &&
		 d->nsummaries < INVENTORY_MAX_SUMMARIES; i++)
	{
		bool		used;
		void	   *entry = lru_slot_entry(tab, slot, &used);
		RepeatState *rs = repeat_state_at(tab, slot);
		int32		next;

		if (entry == NULL)
			break;				/* cannot happen: never follow a stale link */
		next = rs->pending_next;
		if (now - rs->last_written >= interval)
			summary_take(tab, entry, rs, now, &d->summaries[d->nsummaries++]);
		slot = next;
	}
}

static void
client_touch(const AttemptKeys *k, const HistoryEntry *h, AuditLogMode mode,
			 int64 interval, bool written, InventoryDecision *d)
{
	bool		inserted;
	ClientEntry *ce = lookup_or_insert_repeat(inventory->clients, &k->client,
											  k->client_hash, &inserted,
											  h->ts, d);

	if (ce == NULL)
	{
		/* no table to decide with (cannot happen): write as "on" would */
		if (h->outcome == AUDIT_OUTCOME_SUCCESS)
			d->write = mode != AUDIT_LOG_OFF;
		return;
	}
	if (inserted)
		ce->first_seen = h->ts;
	ce->connections++;
	ce->last_seen = h->ts;
	if (h->outcome == AUDIT_OUTCOME_SUCCESS)
		repeat_decide(inventory->clients, ce, &ce->repeat, mode, h->ts,
					  interval, written, d);
}

/* log_failures: the decision for a failure, by (address, user, reason) */
static void
failure_touch(const AttemptKeys *k, const HistoryEntry *h, AuditLogMode mode,
			  int64 interval, bool written, InventoryDecision *d)
{
	bool		inserted;
	FailureEntry *fe;

	fe = lookup_or_insert_repeat(inventory->failures, &k->failure,
								 k->failure_hash, &inserted, h->ts, d);
	if (fe == NULL)
	{
		d->write = mode != AUDIT_LOG_OFF;
		return;
	}
	fe->event = h->event;
	fe->outcome = h->outcome;
	fe->ssl = h->ssl;
	memcpy(fe->sqlstate, h->sqlstate, sizeof(fe->sqlstate));
	fe->failures++;
	repeat_decide(inventory->failures, fe, &fe->repeat, mode, h->ts,
				  interval, written, d);
}

/* have_user: the attempt named a user, to be listed among the roles */
static void
cert_touch(const AttemptKeys *k, const HistoryEntry *h, bool have_user)
{
	bool		inserted;
	CertEntry  *cert = lookup_or_insert(inventory->certs, &k->cert,
										k->cert_hash, &inserted);
	int			i;

	if (inserted)
	{
		cert->first_seen = h->ts;
		memcpy(cert->subject_dn, h->client_dn, sizeof(cert->subject_dn));
		memcpy(cert->fingerprint, h->fingerprint, sizeof(cert->fingerprint));
		cert->has_not_after = h->has_not_after;
		cert->not_after = h->not_after;
	}
	cert->connections++;
	cert->last_seen = h->ts;
	for (i = 0; i < cert->nroles; i++)
		if (strcmp(cert->roles[i], h->user_name) == 0)
			break;
	if (i == cert->nroles && have_user)
	{
		if (cert->nroles < INV_CERT_ROLES)
			memcpy(cert->roles[cert->nroles++], h->user_name, INV_NAME_LEN);
		else
			cert->roles_truncated = true;
	}
}

static void
hba_touch(const AttemptKeys *k, const HistoryEntry *h, bool success)
{
	bool		inserted;
	HbaEntry   *he = lookup_or_insert(inventory->hba, &k->hba, k->hba_hash,
									  &inserted);

	he->attempts++;
	if (success)
		he->successes++;
	else
		he->failures++;
	he->last_used = h->ts;
}

/*
 * A name into a bounded list of names, unless it is there or empty; a name
 * that does not fit sets *truncated.
 */
static void
name_list_add(char (*names)[INV_NAME_LEN], int32 *n, bool *truncated,
			  const char *name)
{
	if (name[0] == '\0')
		return;
	for (int32 i = 0; i < *n; i++)
		if (strcmp(names[i], name) == 0)
			return;
	if (*n < INV_FP_NAMES)
		memcpy(names[(*n)++], name, INV_NAME_LEN);
	else
		*truncated = true;
}

static void
fingerprint_touch(const AttemptKeys *k, const HistoryEntry *h)
{
	bool		inserted;
	FingerprintEntry *fe = lookup_or_insert(inventory->fingerprints,
											&k->fingerprint,
											k->fingerprint_hash, &inserted);
	int32		i;

	if (inserted)
	{
		fe->first_seen = h->ts;
		fe->offer = h->offer;
	}
	fe->connections++;
	if (h->event == AUDIT_EVENT_HANDSHAKE && h->outcome == AUDIT_OUTCOME_FAILED)
		fe->handshake_failures++;
	fe->last_seen = h->ts;
	name_list_add(fe->users, &fe->nusers, &fe->users_truncated, h->user_name);
	name_list_add(fe->apps, &fe->napps, &fe->apps_truncated,
				  h->application_name);
	for (i = 0; i < fe->naddrs; i++)
		if (fe->addrs[i] == k->addr_hash)
			break;
	if (i == fe->naddrs)
	{
		if (fe->naddrs < INV_FP_ADDRS)
			fe->addrs[fe->naddrs++] = k->addr_hash;
		else
			fe->addrs_truncated = true;
	}
}

/*
 * Fault in, without the lock, the pages of shared memory inventory_add is
 * about to touch under it (lru_table.c, "Pre-touching"): the ring entry
 * the attempt will most likely take (history_count read without the lock:
 * a concurrent insert may take it first, then the next one's page is
 * usually mapped by the same fault), each table's bucket, chain and
 * insert slot for the attempt's keys, and the two pending lists' ends.
 * Also, when a count is pending (log_connections or log_failures = new),
 * the caller's array for the decision's summaries, which the lock holder
 * writes when a tuple's count is due (one byte per page, before any
 * summary is counted in it).  Only reads of shared memory; what they
 * read only chooses what to touch.
 */
static void
inventory_prefetch(const AttemptKeys *k, InventoryDecision *d)
{
	volatile InventoryShared *vi = inventory;
	uint64		next = vi->history_count;
	volatile char *sums = (volatile char *) d->summaries;

	lru_touch_pages(&inventory->history[next % inventory->history_size],
					sizeof(HistoryEntry));
	lru_prefetch(inventory->clients, k->client_hash);
	lru_prefetch_slot(inventory->clients, vi->clients_pending.head);
	lru_prefetch_slot(inventory->clients, vi->clients_pending.tail);
	if (k->have_failure)
	{
		lru_prefetch(inventory->failures, k->failure_hash);
		lru_prefetch_slot(inventory->failures, vi->failures_pending.head);
		lru_prefetch_slot(inventory->failures, vi->failures_pending.tail);
	}
	if (k->have_cert)
		lru_prefetch(inventory->certs, k->cert_hash);
	if (k->have_hba)
		lru_prefetch(inventory->hba, k->hba_hash);
	if (k->have_fingerprint)
		lru_prefetch(inventory->fingerprints, k->fingerprint_hash);
	if (vi->clients_pending.head < 0 && vi->failures_pending.head < 0)
		return;					/* no count pending: no summary is taken */
	for (Size off = 0; off < INVENTORY_MAX_SUMMARIES * sizeof(InventorySummary); off += 4096)
		sums[off] = 0;
	sums[INVENTORY_MAX_SUMMARIES * sizeof(InventorySummary) - 1] = 0;
}

/*
 * Add one attempt to the inventory and decide whether its record is
 * written (mode: the log_connections or log_failures value that applies
 * to it).  Never raises an error.  Everything is built outside the lock,
 * and the pages it will touch are faulted in there too; under it: the
 * counters, the ring entry, the table updates, the volume decision and
 * the copies of due summaries.  When the lock is still held after the
 * first spin, the attempt is deferred instead (inventory_internal.h) and
 * its record written as mode on would.  Without the inventory (not
 * preloaded) every record that mode allows is written.
 */
void
inventory_add(const AuditRecord *rec, AuditLogMode mode,
			  int repeat_interval_s, InventoryDecision *d)
{
	HistoryEntry h;
	AttemptKeys keys;
	InventoryLockTimer lt;
	uint64		truncated = 0;
	bool		have_user;
	int64		interval = (int64) repeat_interval_s * USECS_PER_SEC;

	d->write = mode != AUDIT_LOG_OFF;
	d->repeats = 0;
	d->repeats_first = d->repeats_last = 0;
	d->nsummaries = 0;
	if (inventory == NULL)
		return;

	have_user = rec->user_name != NULL && rec->user_name[0] != '\0';
	history_entry_build(&h, rec, &truncated);
	attempt_keys_build(&keys, &h, rec);
	inventory_prefetch(&keys, d);

	if (!inventory_lock_try(&lt))
	{
		/* held for longer than any hold lasts: do not wait for it */
		if (deferred_put(&h, &keys, mode, interval, have_user, truncated, &lt))
		{
			d->write = mode != AUDIT_LOG_OFF;
			return;
		}
		inventory_lock_after_try(&lt);
	}
	attempt_apply(&h, &keys, mode, interval, have_user, truncated, false, d);
	deferred_drain(d, INVENTORY_MAX_SUMMARIES);
	repeat_sweep(inventory->clients, h.ts, interval, d);
	repeat_sweep(inventory->failures, h.ts, interval, d);
	inventory_unlock(&lt);
}

/*
 * Under the lock: count one attempt, put its entry in the ring (setting
 * h->seq) and update the tables; decide into d whether its record is
 * written, unless written already (a deferred attempt).
 */
static void
attempt_apply(HistoryEntry *h, const AttemptKeys *keys, AuditLogMode mode,
			  int64 interval, bool have_user, uint64 truncated, bool written,
			  InventoryDecision *d)
{
	inventory->records_total++;
	inventory->values_truncated += truncated;

	h->seq = ++inventory->history_count;
	inventory->history[(h->seq - 1) % inventory->history_size] = *h;

	/* a failure is decided by its own key, unless it is not counted at all */
	d->write = false;
	client_touch(keys, h, mode, interval, written, d);
	if (keys->have_failure && mode != AUDIT_LOG_OFF)
		failure_touch(keys, h, mode, interval, written, d);
	if (keys->have_cert)
		cert_touch(keys, h, have_user);
	if (keys->have_hba)
		hba_touch(keys, h, h->outcome == AUDIT_OUTCOME_SUCCESS);
	if (keys->have_fingerprint)
		fingerprint_touch(keys, h);
}

/*
 * Without the lock: leave the attempt in a free deferred slot for the next
 * lock holder.  False when every slot is taken.  Nothing here can fail or
 * block: a compare-and-swap, copies, two atomic writes.
 */
static bool
deferred_put(const HistoryEntry *h, const AttemptKeys *keys,
			 AuditLogMode mode, int64 interval, bool have_user,
			 uint64 truncated, const InventoryLockTimer *lt)
{
	for (int i = 0; i < INV_DEFERRED_SLOTS; i++)
	{
		DeferredAttempt *da = &inventory->deferred[i];
		uint32		expected = DEFERRED_EMPTY;

		if (pg_atomic_read_u32(&da->state) != DEFERRED_EMPTY ||
			!pg_atomic_compare_exchange_u32(&da->state, &expected,
											DEFERRED_WRITING))
			continue;
		da->mode = (uint8) mode;
		da->have_user = have_user;
		da->timed = lt->timed;
		da->wait_ns = lt->timed ? lt->acquired_ns - lt->start_ns : 0;
		da->interval = interval;
		da->truncated = truncated;
		da->h = *h;
		da->keys = *keys;
		/* counted before it is READY (a full barrier), so never below 0 */
		pg_atomic_fetch_add_u32(&inventory->deferred_ready, 1);
		pg_atomic_write_u32(&da->state, DEFERRED_READY);
		return true;
	}
	return false;
}

/*
 * Under the lock (or in the postmaster alone): add the READY deferred
 * attempts, as long as d's summaries (capacity in all) have room for the
 * summaries one may make (an eviction from clients and one from
 * failures); their summaries go to d.  Returns how many READY ones were
 * left for lack of room.  Reads one counter when there are none.
 */
static int
deferred_drain(InventoryDecision *d, int capacity)
{
	int			left = 0;

	if (likely(pg_atomic_read_u32(&inventory->deferred_ready) == 0))
		return 0;
	for (int i = 0; i < INV_DEFERRED_SLOTS; i++)
	{
		DeferredAttempt *da = &inventory->deferred[i];
		InventoryDecision dd;

		if (pg_atomic_read_u32(&da->state) != DEFERRED_READY)
			continue;
		if (d->nsummaries + 2 > capacity)
		{
			left++;
			continue;
		}
		pg_read_barrier();
		memset(&dd, 0, sizeof(dd));
		dd.summaries = d->summaries;
		dd.nsummaries = d->nsummaries;
		attempt_apply(&da->h, &da->keys, (AuditLogMode) da->mode,
					  da->interval, da->have_user, da->truncated, true, &dd);
		d->nsummaries = dd.nsummaries;
		inventory_lock_count_deferred(da->timed, da->wait_ns);
		/* every read of the slot done before it is free again */
		pg_memory_barrier();
		pg_atomic_write_u32(&da->state, DEFERRED_EMPTY);
		pg_atomic_fetch_sub_u32(&inventory->deferred_ready, 1);
	}
	return left;
}

/*
 * Add every deferred attempt that is READY, writing the summaries that
 * makes; lock says whether to take the lock (a reader, before it reads)
 * or not (the postmaster alone, at shutdown).  Room for two summaries on
 * the stack, what one attempt can make: a pass adds attempts until one
 * makes a summary, which is written before the next pass; nothing is
 * allocated (the postmaster runs this in proc_exit).  An attempt still
 * being written into its slot (microseconds) is the next holder's, as an
 * attempt still waiting for the lock would be.
 */
static void
drain_deferred(bool lock)
{
	if (inventory == NULL)
		return;
	for (int pass = 0; pass <= INV_DEFERRED_SLOTS; pass++)
	{
		InventorySummary sums[2];
		InventoryDecision d;
		InventoryLockTimer lt;
		int			left;

		if (likely(pg_atomic_read_u32(&inventory->deferred_ready) == 0))
			return;
		memset(&d, 0, sizeof(d));
		d.summaries = sums;
		if (lock)
			inventory_lock(&lt, INV_LOCK_READER);
		left = deferred_drain(&d, lengthof(sums));
		if (lock)
			inventory_unlock(&lt);
		for (int i = 0; i < d.nsummaries; i++)
			if (summary_writer != NULL)
				summary_writer(&sums[i]);
		if (left == 0)
			return;
	}
}

/* A reader, before it reads the inventory: see drain_deferred. */
void
inventory_drain_deferred(void)
{
	drain_deferred(true);
}

/* The postmaster at a clean shutdown, alone (no lock, as persist.c). */
void
inventory_drain_deferred_alone(void)
{
	drain_deferred(false);
}

/*
 * The summary record of a copied-out tuple: strings point into sum, which
 * must outlive rec; ts is now, the repeats' times are the first and last
 * attempts counted.
 */
void
inventory_summary_record(const InventorySummary *sum, AuditRecord *rec,
						 TimestampTz now)
{
#define FIELD_OR_NULL(f) ((f)[0] != '\0' ? (char *) (f) : NULL)
	memset(rec, 0, sizeof(*rec));
	rec->event = AUDIT_EVENT_SUMMARY;
	rec->outcome = (AuditOutcome) sum->outcome;
	rec->ts = now;
	rec->pid = -1;
	rec->bits = -1;
	rec->alpn = -1;
	rec->policy = AUDIT_POLICY_UNKNOWN;
	rec->ssl = sum->ssl;
	rec->hba_line = sum->hba_line;
	memcpy(rec->sqlstate, sum->sqlstate, sizeof(rec->sqlstate));
	rec->reason = FIELD_OR_NULL(sum->reason);
	rec->remote_host = FIELD_OR_NULL(sum->client_addr);
	rec->user_name = FIELD_OR_NULL(sum->user_name);
	rec->database_name = FIELD_OR_NULL(sum->database_name);
	rec->protocol = FIELD_OR_NULL(sum->protocol);
	rec->cipher = FIELD_OR_NULL(sum->cipher);
	rec->issuer_dn = FIELD_OR_NULL(sum->issuer_dn);
	rec->client_serial = FIELD_OR_NULL(sum->serial);
	rec->client_cert_present = sum->serial[0] != '\0';
	rec->hba_file = FIELD_OR_NULL(sum->hba_file);
	rec->auth_method = FIELD_OR_NULL(sum->auth_method);
	rec->repeats = sum->repeats;
	rec->repeats_first = sum->first;
	rec->repeats_last = sum->last;
#undef FIELD_OR_NULL
}

/* audit/hooks.c: how to write a summary (used at shutdown) */
void
inventory_set_summary_writer(void (*writer) (const InventorySummary *sum))
{
	summary_writer = writer;
}

/*
 * Put every tuple with suppressed > 0 on its table's pending list (after
 * loading the save file, whose slot links are those of another server).
 * The postmaster, alone, at start.
 */
void
inventory_rebuild_pending(void)
{
	LruTable   *tabs[2] = {inventory->clients, inventory->failures};

	inventory->clients_pending.head = inventory->clients_pending.tail = -1;
	inventory->failures_pending.head = inventory->failures_pending.tail = -1;
	for (int t = 0; t < 2; t++)
	{
		for (int32 slot = 0; slot < tabs[t]->used; slot++)
		{
			RepeatState *rs = repeat_state_at(tabs[t], slot);

			rs->pending_prev = rs->pending_next = -1;
			if (rs->suppressed > 0)
				pending_push(tabs[t], slot, rs);
		}
	}
}

/*
 * The postmaster at a clean shutdown, alone (every other process has
 * exited; no lock, as persist.c): write the summary of every pending
 * tuple, due or not, so that the log reconciles with the inventory.
 * Nothing here raises: the writer reports its own failures at LOG or
 * WARNING.  At most one pass over each table, even on a broken list.
 */
void
inventory_flush_summaries(void)
{
	LruTable   *tabs[2] = {inventory->clients, inventory->failures};
	TimestampTz now = GetCurrentTimestamp();

	if (summary_writer == NULL)
		return;
	for (int t = 0; t < 2; t++)
	{
		int32		budget = tabs[t]->used;
		int32		slot;

		while ((slot = pending_list_of(tabs[t])->head) >= 0 && budget-- > 0)
		{
			bool		used;
			void	   *entry = lru_slot_entry(tabs[t], slot, &used);
			InventorySummary sum;

			if (entry == NULL)
				break;
			summary_take(tabs[t], entry, repeat_state_at(tabs[t], slot), now,
						 &sum);
			summary_writer(&sum);
		}
	}
}

/*
 * Empty the LRU tables and their eviction counters.  The caller
 * holds the spinlock, or is the postmaster starting up, alone.
 */
void
inventory_reset_tables(void)
{
	lru_table_reset(inventory->clients);
	lru_table_reset(inventory->certs);
	lru_table_reset(inventory->hba);
	lru_table_reset(inventory->fingerprints);
	lru_table_reset(inventory->failures);
	inventory->clients->evictions = 0;
	inventory->certs->evictions = 0;
	inventory->hba->evictions = 0;
	inventory->fingerprints->evictions = 0;
	inventory->failures->evictions = 0;
	/* pending counts go with their tuples */
	inventory->clients_pending.head = inventory->clients_pending.tail = -1;
	inventory->failures_pending.head = inventory->failures_pending.tail = -1;
}

/*
 * Empty the whole inventory in O(1) under the spinlock, whatever the
 * sizes: the ring keeps its entries but only those numbered after
 * history_base are shown; each table starts a new generation (see
 * lru_table.c); the counters go to zero, the lock timing's too.  Stale slots are reclaimed as new
 * attempts reuse them.
 */
void
inventory_reset(TimestampTz now)
{
	InventoryLockTimer lt;

	inventory_lock(&lt, INV_LOCK_READER);
	inventory->generation++;
	inventory->history_base = inventory->history_count;
	inventory_reset_tables();
	inventory->records_total = 0;
	inventory->records_dropped = 0;
	inventory->values_truncated = 0;
	inventory->stats_reset = now;
	/* the lock timing starts again too, with this acquisition */
	memset(&inventory->lock_stats, 0, sizeof(inventory->lock_stats));
	if (lt.timed)
		inventory->lock_stats.timed[lt.site] = 1;
	inventory_unlock(&lt);
}

/* Count a record that could not be stored (internal failure). */
void
inventory_count_dropped(void)
{
	InventoryLockTimer lt;

	if (inventory == NULL)
		return;
	inventory_lock(&lt, INV_LOCK_CONNECTION);
	inventory->records_dropped++;
	inventory_unlock(&lt);
}
