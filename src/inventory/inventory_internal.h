/*-------------------------------------------------------------------------
 *
 * inventory_internal.h
 *	  The layout of the connection inventory in shared memory, shared by
 *	  the files of src/inventory/: inventory.c (sizes, start-up, adding an
 *	  attempt), persist.c (the save file) and views.c (the SQL functions).
 *	  Callers outside this folder use inventory/inventory.h only.
 *
 * Locking.  One spinlock protects all of it.  Not an LWLock, on purpose:
 * a failed TLS handshake is recorded before the backend has a PGPROC, and
 * records are added from an on_proc_exit callback, where LWLocks are gone.
 * A writer builds every key and copy outside the lock, and faults in the
 * pages of shared memory it is about to touch before taking it
 * (inventory_prefetch, lru_prefetch), then holds it for a few memcpy's and
 * O(1) hash/LRU operations.  Readers take it once per entry, copy that
 * entry, and release it (connections_raw takes it twice per ring entry: a
 * first pass reads its ts and number to order the rows, views.c), so a
 * reader never holds up a connection for longer than one entry copy,
 * however large the tables.  A contended
 * acquisition waits with a short back-off of its own before PostgreSQL's
 * s_lock() (inventory_lock.c): s_lock sleeps at least 1 ms at a time.
 *
 * Deferred attempts.  A connection never waits for the lock longer than
 * its first spin (INV_LOCK_SPIN_NS, 100 us; holds last microseconds, so a
 * lock still held after it has a holder that was descheduled or is
 * stuck): it then leaves its built ring entry and keys in a free slot of
 * the deferred array (INV_DEFERRED_SLOTS, claimed with an atomic
 * compare-and-swap, no lock) and goes on, its record written as
 * log_connections / log_failures = on would write it.  Whoever holds the
 * lock next adds the deferred attempts as if they had taken it: a
 * connection after its own attempt, a reader (every SQL function that
 * reads the inventory) before it reads, the postmaster before it saves.
 * So every view, count and save file includes them; only their ring
 * order differs (the views order the ring by time).  deferred_ready
 * counts the slots claimed and not yet added, so that the common case
 * reads one counter and touches no slot.  When every slot is taken the
 * connection waits as before.  A claimed slot cannot be left half
 * written: signals that _exit during start-up are blocked in the exit
 * callback that records the attempt (audit/hooks.c), and after start-up
 * they only set flags; a backend killed outright makes the postmaster
 * reinitialize shared memory.
 *
 * Reset is O(1) under the lock too: it bumps a generation counter instead
 * of rewriting the tables.  Ring entries numbered at or below history_base
 * (the count at the last reset) are treated as empty; each LRU table starts
 * a new generation in which its stale slots and buckets read as empty and
 * are reclaimed lazily as new attempts reuse them (lru_table.c).  A reader
 * notes the generation when it starts and stops at the first entry it sees
 * after a reset, so no result mixes entries from before and after one.
 *
 * Bounds.  history_size ring entries (oldest overwritten, counted as
 * history_overwritten), max_clients, max_certificates and max_fingerprints
 * LRU entries, and
 * PGTLS_MAX_HBA_ENTRIES pg_hba lines; each eviction is counted.  Strings
 * longer than their fixed field are cut at a UTF-8 boundary, end with
 * "..." and are counted in values_truncated.  A record that cannot be
 * stored at all (internal failure) is counted in records_dropped.
 *
 * Lock timing (test only).  Every acquisition goes through inventory_lock
 * and inventory_unlock.  With pgtls_audit.debug_lock_timing off they cost
 * one branch each; with it on they time the wait (before the acquire to
 * after it) and the hold (after the acquire to before the release) with
 * CLOCK_MONOTONIC and keep counts and maxima in InventoryLockStats, updated
 * under the lock itself: also the contended acquisitions (first TAS
 * failed) and their slow waits, the waits that reached s_lock(), and the
 * page faults taken while holding (inventory_lock.c).  reset() zeroes
 * them.  The postmaster logs them at a clean shutdown (persist.c), where
 * test/t/015_load.pl and 018_lock_wait.pl read them.
 *
 * src/inventory/inventory_internal.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_INVENTORY_INTERNAL_H
#define PGTLS_INVENTORY_INTERNAL_H

#include "port/atomics.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "audit/record.h"
#include "inventory/lru_table.h"

#define INV_NAME_LEN	NAMEDATALEN
#define INV_DN_LEN		512
#define INV_ADDR_LEN	64
#define INV_PORT_LEN	8
#define INV_PROTO_LEN	16
#define INV_CIPHER_LEN	64
#define INV_SERIAL_LEN	64
#define INV_FILE_LEN	256
#define INV_METHOD_LEN	32
#define INV_REASON_LEN	256
#define INV_IDENT_LEN	256
#define INV_FP_LEN		65
#define INV_CERT_ROLES	8
#define INV_SNI_LEN		256
#define INV_JA4_LEN		40
#define INV_ALPN_LEN	128
#define INV_FP_NAMES	8		/* user and application names per JA4 */
#define INV_FP_ADDRS	32		/* distinct addresses counted per JA4 */
#define PGTLS_MAX_HBA_ENTRIES 1024
#define PGTLS_MAX_FAILURE_ENTRIES 1024

/*
 * log_connections / log_failures = new: the state of one tuple, in its
 * table's entry.  A tuple with suppressed > 0 is on its table's pending
 * list (RepeatList, linked by slot), in the order its first suppressed
 * attempt came; it leaves it when a record carries its count (its next
 * written record, a summary, or the summary written before an eviction).
 */
typedef struct RepeatState
{
	TimestampTz last_written;	/* the tuple's last record; 0: never */
	uint64		suppressed;		/* attempts not written since then */
	TimestampTz suppressed_first;
	TimestampTz suppressed_last;
	int32		pending_prev;	/* slots on the pending list, -1 ends it */
	int32		pending_next;
} RepeatState;

typedef struct RepeatList
{
	int32		head;			/* oldest pending tuple, -1 if none */
	int32		tail;
} RepeatList;

/*
 * One attempt in the ring.  Readers copy it field by field, only the bytes
 * in use (views.c, history_entry_copy): a new field must be added there.
 */
typedef struct HistoryEntry
{
	uint64		seq;			/* 1-based insertion number; 0 = empty */
	TimestampTz ts;
	int32		pid;
	int32		bits;
	int32		hba_line;
	uint8		event;
	uint8		outcome;
	uint8		policy;
	bool		ssl;
	bool		gss_encrypted;
	bool		client_cert;
	bool		has_not_after;
	int8		alpn;
	TimestampTz not_after;
	char		sqlstate[6];
	char		reason[INV_REASON_LEN];
	char		remote_host[INV_ADDR_LEN];
	char		remote_port[INV_PORT_LEN];
	char		user_name[INV_NAME_LEN];
	char		database_name[INV_NAME_LEN];
	char		application_name[INV_NAME_LEN];
	char		protocol[INV_PROTO_LEN];
	char		cipher[INV_CIPHER_LEN];
	char		client_dn[INV_DN_LEN];
	char		issuer_dn[INV_DN_LEN];
	char		serial[INV_SERIAL_LEN];
	char		fingerprint[INV_FP_LEN];
	char		hba_file[INV_FILE_LEN];
	char		auth_method[INV_METHOD_LEN];
	char		identity[INV_IDENT_LEN];
	/* what the ClientHello offered; has_offer false without one */
	bool		has_offer;
	char		sni[INV_SNI_LEN];	/* "" when none was sent */
	bool		has_sni;
	char		ja4[INV_JA4_LEN];
	char		offered_alpn[INV_ALPN_LEN]; /* comma-separated, as the record */
	AuditOffer	offer;
} HistoryEntry;

typedef struct ClientKey
{
	char		user_name[INV_NAME_LEN];
	char		database_name[INV_NAME_LEN];
	char		client_addr[INV_ADDR_LEN];
	char		protocol[INV_PROTO_LEN];
	char		cipher[INV_CIPHER_LEN];
	char		issuer_dn[INV_DN_LEN];
	char		serial[INV_SERIAL_LEN];
	char		hba_file[INV_FILE_LEN];
	char		auth_method[INV_METHOD_LEN];
	int32		hba_line;
	uint8		outcome;
	bool		ssl;
} ClientKey;

/* readers copy it field by field (views.c): add a new field there too */
typedef struct ClientEntry
{
	ClientKey	key;
	uint64		connections;
	TimestampTz first_seen;
	TimestampTz last_seen;
	/* from save file format 3 on: log_connections = new */
	RepeatState repeat;
} ClientEntry;

/* the size of a ClientEntry in save files of format 1 and 2 */
#define CLIENT_ENTRY_SIZE_V2 offsetof(ClientEntry, repeat)

/*
 * log_failures = new: failures by (address, user, reason), with the stage,
 * outcome, SQLSTATE and TLS use of the latest one (for its summary).  Not
 * saved across restarts: after one, each key is written once again.
 */
typedef struct FailureKey
{
	char		client_addr[INV_ADDR_LEN];
	char		user_name[INV_NAME_LEN];
	char		reason[INV_REASON_LEN];
} FailureKey;

typedef struct FailureEntry
{
	FailureKey	key;
	uint8		event;
	uint8		outcome;
	bool		ssl;
	char		sqlstate[6];
	uint64		failures;
	RepeatState repeat;
} FailureEntry;

typedef struct CertKey
{
	char		issuer_dn[INV_DN_LEN];
	char		serial[INV_SERIAL_LEN];
} CertKey;

/* readers copy it field by field (views.c): add a new field there too */
typedef struct CertEntry
{
	CertKey		key;
	char		subject_dn[INV_DN_LEN];
	char		fingerprint[INV_FP_LEN];
	bool		has_not_after;
	bool		roles_truncated;
	int32		nroles;
	TimestampTz not_after;
	char		roles[INV_CERT_ROLES][INV_NAME_LEN];
	uint64		connections;
	TimestampTz first_seen;
	TimestampTz last_seen;
} CertEntry;

/*
 * One distinct ClientHello, by its JA4 fingerprint: what it offers (from
 * the first attempt seen with it), who used it (bounded lists, with
 * truncation flags) and how often.  Addresses are counted by a 32-bit hash
 * of the address text, up to INV_FP_ADDRS distinct ones.
 */
typedef struct FingerprintKey
{
	char		ja4[INV_JA4_LEN];
} FingerprintKey;

/* readers copy it field by field (views.c): add a new field there too */
typedef struct FingerprintEntry
{
	FingerprintKey key;
	AuditOffer	offer;
	int32		nusers;
	int32		napps;
	int32		naddrs;
	bool		users_truncated;
	bool		apps_truncated;
	bool		addrs_truncated;
	char		users[INV_FP_NAMES][INV_NAME_LEN];
	char		apps[INV_FP_NAMES][INV_NAME_LEN];
	uint32		addrs[INV_FP_ADDRS];
	uint64		connections;
	uint64		handshake_failures;
	TimestampTz first_seen;
	TimestampTz last_seen;
} FingerprintEntry;

typedef struct HbaKey
{
	char		hba_file[INV_FILE_LEN];
	int32		hba_line;
} HbaKey;

typedef struct HbaEntry
{
	HbaKey		key;
	uint64		attempts;
	uint64		successes;
	uint64		failures;
	TimestampTz last_used;
} HbaEntry;

/* who takes the lock, for the lock timing */
typedef enum InventoryLockSite
{
	INV_LOCK_CONNECTION,		/* adding an attempt, counting a drop */
	INV_LOCK_READER,			/* the views, reset() */
	INV_LOCK_NSITES
} InventoryLockSite;

/* the lock timing's counters (pgtls_audit.debug_lock_timing), in ns */
#define INV_LOCK_SLOW_NS	1000000 /* over 1 ms counts as slow */

typedef struct InventoryLockStats
{
	uint64		timed[INV_LOCK_NSITES]; /* acquisitions timed */
	uint64		wait_max_ns;
	uint64		hold_max_ns;
	uint64		wait_total_ns;
	uint64		hold_total_ns;
	uint64		waits_slow;		/* waits longer than INV_LOCK_SLOW_NS */
	uint64		holds_slow;
	uint64		contended;		/* acquisitions whose first TAS failed */
	uint64		contended_slow; /* of those, waits over INV_LOCK_SLOW_NS */
	uint64		waits_in_s_lock;	/* contended waits that reached s_lock() */
	uint64		hold_faults;	/* minor page faults taken while holding */
	uint64		deferred;		/* connections that deferred their attempt */
	uint64		deferred_slow;	/* of those, waits over INV_LOCK_SLOW_NS */
} InventoryLockStats;

/* slots for attempts whose connection found the lock held (see above) */
#define INV_DEFERRED_SLOTS	16
typedef struct DeferredAttempt DeferredAttempt;	/* inventory.c */

typedef struct InventoryShared
{
	slock_t		mutex;
	InventoryLockStats lock_stats;	/* not saved to the file */
	int32		history_size;
	uint64		history_count;	/* entries ever put in the ring */
	uint64		history_base;	/* history_count at the last reset */
	uint64		generation;		/* number of resets, for readers */
	uint64		records_total;
	uint64		records_dropped;
	uint64		values_truncated;
	TimestampTz stats_reset;
	LruTable   *clients;
	LruTable   *certs;
	LruTable   *hba;
	LruTable   *fingerprints;
	LruTable   *failures;		/* log_failures = new */
	RepeatList	clients_pending;
	RepeatList	failures_pending;
	HistoryEntry *history;
	pg_atomic_uint32 deferred_ready;	/* slots claimed, not yet added */
	DeferredAttempt *deferred;	/* INV_DEFERRED_SLOTS of them */
} InventoryShared;

/* any table's entry (the largest), to copy or read one entry at a time */
typedef union InventoryEntry
{
	ClientEntry client;
	CertEntry	cert;
	HbaEntry	hba;
	FingerprintEntry fingerprint;
	FailureEntry failure;
} InventoryEntry;

/* the inventory in shared memory (inventory.c); NULL when not preloaded */
extern InventoryShared *inventory;

/* pgtls_audit.save (inventory.c) */
extern bool inventory_save;

/* one acquisition of inventory->mutex, for the lock timing */
typedef struct InventoryLockTimer
{
	bool		timed;
	InventoryLockSite site;
	uint64		start_ns;
	uint64		acquired_ns;
	uint64		faults;			/* minor page faults before acquiring */
} InventoryLockTimer;

/* how an acquisition got the lock (inventory_lock_acquire) */
typedef enum InventoryLockPath
{
	INV_LOCK_FREE,				/* the first TAS took it */
	INV_LOCK_BACKOFF,			/* taken during the short back-off */
	INV_LOCK_S_LOCK				/* taken in s_lock() */
} InventoryLockPath;

/* inventory_lock.c */
extern InventoryLockPath inventory_lock_wait(void);
extern void inventory_lock_timed(InventoryLockTimer *t);
extern void inventory_unlock_timed(InventoryLockTimer *t);
extern bool inventory_lock_try(InventoryLockTimer *t);
extern void inventory_lock_after_try(InventoryLockTimer *t);
extern void inventory_lock_count_deferred(bool timed, uint64 wait_ns);
extern void inventory_log_lock_timing(void);

/*
 * Take inventory->mutex: one TAS, as SpinLockAcquire does, and only if
 * that fails the wait of inventory_lock.c.  Released with
 * SpinLockRelease.
 */
static inline InventoryLockPath
inventory_lock_acquire(void)
{
	if (likely(!TAS(&inventory->mutex)))
		return INV_LOCK_FREE;
	return inventory_lock_wait();
}

/*
 * Take and release inventory->mutex.  pgtls_audit.debug_lock_timing is
 * read once per acquisition, so turning it on or off between the two
 * cannot unbalance them.
 */
static inline void
inventory_lock(InventoryLockTimer *t, InventoryLockSite site)
{
	t->timed = unlikely(pgtls_audit_debug_lock_timing);
	if (t->timed)
	{
		t->site = site;
		inventory_lock_timed(t);
	}
	else
		(void) inventory_lock_acquire();
}

static inline void
inventory_unlock(InventoryLockTimer *t)
{
	if (unlikely(t->timed))
		inventory_unlock_timed(t);
	else
		SpinLockRelease(&inventory->mutex);
}

extern void inventory_reset_tables(void);
extern void inventory_rebuild_pending(void);
extern void inventory_flush_summaries(void);
extern void inventory_reset(TimestampTz now);
extern void inventory_drain_deferred(void);
extern void inventory_drain_deferred_alone(void);
extern void inventory_set_postmaster_startup(void (*callback) (bool found));

#endif							/* PGTLS_INVENTORY_INTERNAL_H */
