/*-------------------------------------------------------------------------
 *
 * inventory.c
 *	  The connection inventory in shared memory: a ring of recent attempts,
 *	  and LRU-bounded tables of clients, client certificates and pg_hba
 *	  line usage, with the SQL functions behind the pgtls_audit views and
 *	  persistence across clean restarts.
 *
 * Locking.  One spinlock protects all of it.  Not an LWLock, on purpose:
 * a failed TLS handshake is recorded before the backend has a PGPROC, and
 * records are added from an on_proc_exit callback, where LWLocks are gone.
 * A writer builds every key and copy outside the lock and holds it for a
 * few memcpy's and O(1) hash/LRU operations.  Readers take it once per
 * entry, copy that entry, and release it, so a reader never holds up a
 * connection for longer than one entry copy, however large the tables.
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
 * history_overwritten), max_clients and max_certificates LRU entries, and
 * PGTLS_MAX_HBA_ENTRIES pg_hba lines; each eviction is counted.  Strings
 * longer than their fixed field are cut at a UTF-8 boundary, end with
 * "..." and are counted in values_truncated.  A record that cannot be
 * stored at all (internal failure) is counted in records_dropped.
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
 * Persistence.  With pgtls_audit.save (default on) the postmaster writes
 * the clients, certificates and pg_hba tables to
 * $PGDATA/pg_stat/pgtls_audit.stat at a clean shutdown and reads them back
 * at start (the file is then removed, so a crash does not resurrect stale
 * data).  Both directions stream entry by entry with a running CRC-32C, as
 * pg_stat_statements does, so memory use does not grow with the tables.
 * A missing file is an empty start; a truncated or corrupt one (CRC
 * mismatch, wrong sizes) gives a WARNING and an empty start.  The ring of
 * recent attempts (connections) is not saved.
 *
 * src/inventory/inventory.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "inventory/inventory.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/tuplestore.h"
#include "utils/timestamp.h"

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
#define PGTLS_MAX_HBA_ENTRIES 1024

#define INVENTORY_DIR		"pg_stat"
#define INVENTORY_FILE		"pg_stat/pgtls_audit.stat"
#define INVENTORY_FILE_TMP	"pg_stat/pgtls_audit.stat.tmp"
#define INVENTORY_MAGIC		0x50544c41	/* "PTLA" */
#define INVENTORY_FORMAT	1

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

typedef struct ClientEntry
{
	ClientKey	key;
	uint64		connections;
	TimestampTz first_seen;
	TimestampTz last_seen;
} ClientEntry;

typedef struct CertKey
{
	char		issuer_dn[INV_DN_LEN];
	char		serial[INV_SERIAL_LEN];
} CertKey;

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

typedef struct InventoryShared
{
	slock_t		mutex;
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
	HistoryEntry *history;
} InventoryShared;

/* settings */
static int	inventory_history_size = 1000;
static int	inventory_max_clients = 5000;
static int	inventory_max_certificates = 1000;
static bool inventory_save = true;

static InventoryShared *inventory = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void inventory_shmem_shutdown(int code, Datum arg);
static void inventory_load_file(void);

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
	return size;
}

static void
inventory_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(inventory_shmem_size());
}

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
		inventory->stats_reset = GetCurrentTimestamp();
	}
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
	{
		on_shmem_exit(inventory_shmem_shutdown, (Datum) 0);
		if (!found)
			inventory_load_file();
	}
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

/* Add one attempt to the inventory.  Never raises an error. */
void
inventory_add(const AuditRecord *rec)
{
	HistoryEntry h;
	ClientKey	ck;
	CertKey		cert_key;
	HbaKey		hk;
	uint64		truncated = 0;
	uint32		client_hash,
				cert_hash = 0,
				hba_hash = 0;
	bool		have_cert,
				have_hba,
				success,
				evicted;
	const char *outcome_user = rec->user_name ? rec->user_name : "";

	if (inventory == NULL)
		return;

	success = rec->outcome == AUDIT_OUTCOME_SUCCESS;

	/* everything that can be prepared outside the lock */
	memset(&h, 0, sizeof(h));
	h.ts = rec->ts;
	h.pid = rec->pid;
	h.bits = rec->bits;
	h.hba_line = rec->hba_line;
	h.event = (uint8) rec->event;
	h.outcome = (uint8) rec->outcome;
	h.policy = (uint8) rec->policy;
	h.ssl = rec->ssl;
	h.gss_encrypted = rec->gss_encrypted;
	h.client_cert = rec->client_cert_present;
	h.has_not_after = rec->has_not_after;
	h.alpn = (int8) rec->alpn;
	h.not_after = rec->client_not_after;
	memcpy(h.sqlstate, rec->sqlstate, sizeof(h.sqlstate));
	copy_field(h.reason, sizeof(h.reason), rec->reason, &truncated);
	copy_field(h.remote_host, sizeof(h.remote_host), rec->remote_host, &truncated);
	copy_field(h.remote_port, sizeof(h.remote_port), rec->remote_port, &truncated);
	copy_field(h.user_name, sizeof(h.user_name), rec->user_name, &truncated);
	copy_field(h.database_name, sizeof(h.database_name), rec->database_name, &truncated);
	copy_field(h.application_name, sizeof(h.application_name), rec->application_name, &truncated);
	copy_field(h.protocol, sizeof(h.protocol), rec->protocol, &truncated);
	copy_field(h.cipher, sizeof(h.cipher), rec->cipher, &truncated);
	copy_field(h.client_dn, sizeof(h.client_dn), rec->client_dn, &truncated);
	copy_field(h.issuer_dn, sizeof(h.issuer_dn), rec->issuer_dn, &truncated);
	copy_field(h.serial, sizeof(h.serial), rec->client_serial, &truncated);
	copy_field(h.fingerprint, sizeof(h.fingerprint), rec->client_fingerprint, &truncated);
	copy_field(h.hba_file, sizeof(h.hba_file), rec->hba_file, &truncated);
	copy_field(h.auth_method, sizeof(h.auth_method), rec->auth_method, &truncated);
	copy_field(h.identity, sizeof(h.identity), rec->identity, &truncated);

	memset(&ck, 0, sizeof(ck));
	memcpy(ck.user_name, h.user_name, sizeof(ck.user_name));
	memcpy(ck.database_name, h.database_name, sizeof(ck.database_name));
	memcpy(ck.client_addr, h.remote_host, sizeof(ck.client_addr));
	memcpy(ck.protocol, h.protocol, sizeof(ck.protocol));
	memcpy(ck.cipher, h.cipher, sizeof(ck.cipher));
	memcpy(ck.issuer_dn, h.issuer_dn, sizeof(ck.issuer_dn));
	memcpy(ck.serial, h.serial, sizeof(ck.serial));
	memcpy(ck.hba_file, h.hba_file, sizeof(ck.hba_file));
	memcpy(ck.auth_method, h.auth_method, sizeof(ck.auth_method));
	ck.hba_line = h.hba_line;
	ck.outcome = h.outcome;
	ck.ssl = h.ssl;
	client_hash = lru_hash_key(inventory->clients, &ck);

	have_cert = rec->client_cert_present && h.issuer_dn[0] && h.serial[0];
	if (have_cert)
	{
		memset(&cert_key, 0, sizeof(cert_key));
		memcpy(cert_key.issuer_dn, h.issuer_dn, sizeof(cert_key.issuer_dn));
		memcpy(cert_key.serial, h.serial, sizeof(cert_key.serial));
		cert_hash = lru_hash_key(inventory->certs, &cert_key);
	}
	have_hba = h.hba_line > 0;
	if (have_hba)
	{
		memset(&hk, 0, sizeof(hk));
		memcpy(hk.hba_file, h.hba_file, sizeof(hk.hba_file));
		hk.hba_line = h.hba_line;
		hba_hash = lru_hash_key(inventory->hba, &hk);
	}

	SpinLockAcquire(&inventory->mutex);
	{
		ClientEntry *ce;
		HbaEntry   *he;

		inventory->records_total++;
		inventory->values_truncated += truncated;

		h.seq = ++inventory->history_count;
		inventory->history[(h.seq - 1) % inventory->history_size] = h;

		ce = lru_lookup(inventory->clients, &ck, client_hash);
		if (ce == NULL)
		{
			ce = lru_insert(inventory->clients, &ck, client_hash, &evicted);
			ce->first_seen = h.ts;
		}
		ce->connections++;
		ce->last_seen = h.ts;

		if (have_cert)
		{
			CertEntry  *cert = lru_lookup(inventory->certs, &cert_key, cert_hash);
			int			i;

			if (cert == NULL)
			{
				cert = lru_insert(inventory->certs, &cert_key, cert_hash, &evicted);
				cert->first_seen = h.ts;
				memcpy(cert->subject_dn, h.client_dn, sizeof(cert->subject_dn));
				memcpy(cert->fingerprint, h.fingerprint, sizeof(cert->fingerprint));
				cert->has_not_after = h.has_not_after;
				cert->not_after = h.not_after;
			}
			cert->connections++;
			cert->last_seen = h.ts;
			for (i = 0; i < cert->nroles; i++)
				if (strcmp(cert->roles[i], h.user_name) == 0)
					break;
			if (i == cert->nroles && outcome_user[0])
			{
				if (cert->nroles < INV_CERT_ROLES)
					memcpy(cert->roles[cert->nroles++], h.user_name, INV_NAME_LEN);
				else
					cert->roles_truncated = true;
			}
		}

		if (have_hba)
		{
			he = lru_lookup(inventory->hba, &hk, hba_hash);
			if (he == NULL)
				he = lru_insert(inventory->hba, &hk, hba_hash, &evicted);
			he->attempts++;
			if (success)
				he->successes++;
			else
				he->failures++;
			he->last_used = h.ts;
		}
	}
	SpinLockRelease(&inventory->mutex);
}

/* Count a record that could not be stored (internal failure). */
void
inventory_count_dropped(void)
{
	if (inventory == NULL)
		return;
	SpinLockAcquire(&inventory->mutex);
	inventory->records_dropped++;
	SpinLockRelease(&inventory->mutex);
}

/* ---------------------------------------------------------------------
 * Persistence
 *
 * File layout: InventoryFileHeader, then nclients ClientEntry, ncerts
 * CertEntry and nhba HbaEntry (each table oldest first), then the CRC-32C
 * of everything before it.  Both directions stream one entry at a time
 * with a running CRC, as pg_stat_statements does: the file is never held
 * in memory whole, whatever the table sizes.
 * ---------------------------------------------------------------------
 */
typedef struct InventoryFileHeader
{
	uint32		magic;
	uint32		format;
	uint32		client_entry_size;
	uint32		cert_entry_size;
	uint32		hba_entry_size;
	int32		nclients;
	int32		ncerts;
	int32		nhba;
	uint64		records_total;
	uint64		records_dropped;
	uint64		values_truncated;
	uint64		evictions[3];
	TimestampTz stats_reset;
} InventoryFileHeader;

/* the largest entry, for reading one entry at a time */
typedef union InventoryFileEntry
{
	ClientEntry client;
	CertEntry	cert;
	HbaEntry	hba;
} InventoryFileEntry;

/* Write one block, adding it to the running CRC. */
static bool
write_block(FILE *file, const void *data, size_t len, pg_crc32c *crc)
{
	COMP_CRC32C(*crc, data, len);
	return fwrite(data, 1, len, file) == len;
}

/*
 * Write a table's entries, oldest first.  Returns false on a write error
 * (errno set), or with *inconsistent set when the recency list does not
 * hold exactly the table's entries (a guard: never loop on a broken list).
 */
static bool
write_table(FILE *file, LruTable *tab, pg_crc32c *crc, bool *inconsistent)
{
	int32		slot = -1;
	int32		n = 0;

	while ((slot = lru_walk_oldest_first(tab, slot)) >= 0)
	{
		bool		used;
		void	   *entry = lru_slot_entry(tab, slot, &used);

		if (!used || n >= tab->used)
		{
			*inconsistent = true;
			return false;
		}
		if (!write_block(file, entry, tab->entry_size, crc))
			return false;
		n++;
	}
	if (n != tab->used)
	{
		*inconsistent = true;
		return false;
	}
	return true;
}

/* fsync a directory by name; -1 with errno set on failure */
static int
fsync_dir(const char *path)
{
	int			fd = open(path, O_RDONLY, 0);
	int			rc;
	int			save_errno;

	if (fd < 0)
		return -1;
	rc = pg_fsync(fd);
	save_errno = errno;
	close(fd);
	errno = save_errno;
	return rc;
}

/*
 * on_shmem_exit callback of the postmaster: save the tables at a clean
 * shutdown.
 *
 * This runs while the postmaster exits, where an ERROR cannot be caught
 * (it would become FATAL in the middle of proc_exit) and where nothing
 * should be allocated in proportion to the tables.  So it uses plain stdio
 * and system calls (AllocateFile, OpenTransientFile and durable_rename can
 * raise ERROR), writes straight from shared memory entry by entry, and
 * reports every failure at LOG, leaving no partial file behind.  No lock
 * is taken: every other process has exited by now, and one that died
 * holding the spinlock must not make the postmaster spin.
 */
static void
inventory_shmem_shutdown(int code, Datum arg)
{
	InventoryFileHeader hdr;
	pg_crc32c	crc;
	FILE	   *file;
	bool		inconsistent = false;
	bool		ok;

	if (code != 0 || inventory == NULL)
		return;
	if (!inventory_save)
	{
		/* nothing is saved, and nothing older may be reloaded */
		if (unlink(INVENTORY_FILE) != 0 && errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", INVENTORY_FILE)));
		return;
	}

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = INVENTORY_MAGIC;
	hdr.format = INVENTORY_FORMAT;
	hdr.client_entry_size = sizeof(ClientEntry);
	hdr.cert_entry_size = sizeof(CertEntry);
	hdr.hba_entry_size = sizeof(HbaEntry);
	hdr.nclients = inventory->clients->used;
	hdr.ncerts = inventory->certs->used;
	hdr.nhba = inventory->hba->used;
	hdr.records_total = inventory->records_total;
	hdr.records_dropped = inventory->records_dropped;
	hdr.values_truncated = inventory->values_truncated;
	hdr.evictions[0] = inventory->clients->evictions;
	hdr.evictions[1] = inventory->certs->evictions;
	hdr.evictions[2] = inventory->hba->evictions;
	hdr.stats_reset = inventory->stats_reset;

	file = fopen(INVENTORY_FILE_TMP, PG_BINARY_W);
	if (file == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", INVENTORY_FILE_TMP)));
		return;
	}

	INIT_CRC32C(crc);
	ok = write_block(file, &hdr, sizeof(hdr), &crc) &&
		write_table(file, inventory->clients, &crc, &inconsistent) &&
		write_table(file, inventory->certs, &crc, &inconsistent) &&
		write_table(file, inventory->hba, &crc, &inconsistent);
	if (ok)
	{
		FIN_CRC32C(crc);
		ok = fwrite(&crc, sizeof(crc), 1, file) == 1 &&
			fflush(file) == 0 &&
			pg_fsync(fileno(file)) == 0;
	}
	if (!ok)
	{
		int			save_errno = errno;

		fclose(file);
		unlink(INVENTORY_FILE_TMP);
		if (inconsistent)
			ereport(LOG,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not save the pgtls_audit inventory"),
					 errdetail("The recency list of a table does not hold exactly the table's entries.")));
		else
		{
			errno = save_errno;
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not write file \"%s\": %m", INVENTORY_FILE_TMP)));
		}
		return;
	}
	if (fclose(file) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", INVENTORY_FILE_TMP)));
		unlink(INVENTORY_FILE_TMP);
		return;
	}
	if (rename(INVENTORY_FILE_TMP, INVENTORY_FILE) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not rename file \"%s\" to \"%s\": %m",
						INVENTORY_FILE_TMP, INVENTORY_FILE)));
		unlink(INVENTORY_FILE_TMP);
		return;
	}
	if (fsync_dir(INVENTORY_DIR) != 0)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not fsync directory \"%s\": %m",
						INVENTORY_DIR)));
}

/*
 * Read count entries of a table from the file, each added to the running
 * CRC and inserted at once (oldest first, so the recency order comes back;
 * a table smaller than the file's evicts and counts as it goes).
 */
static bool
load_table(FILE *file, LruTable *tab, int32 count, pg_crc32c *crc)
{
	InventoryFileEntry buf;

	Assert(tab->entry_size <= sizeof(buf));
	for (int32 i = 0; i < count; i++)
	{
		bool		evicted;
		void	   *dst;

		if (fread(&buf, tab->entry_size, 1, file) != 1)
			return false;
		COMP_CRC32C(*crc, &buf, tab->entry_size);
		dst = lru_insert(tab, &buf, lru_hash_key(tab, &buf), &evicted);
		if (dst)
			memcpy(dst, &buf, tab->entry_size);
	}
	return true;
}

/*
 * At postmaster start: read the file saved at the last clean shutdown,
 * then remove it.  Entries go into the tables as they are read; if the
 * file turns out to be short, long, of another format or with a wrong CRC,
 * everything loaded is discarded (an O(1) reset) and the inventory starts
 * empty with a WARNING.  Memory use does not depend on the file's size.
 */
static void
inventory_load_file(void)
{
	FILE	   *file;
	InventoryFileHeader hdr;
	pg_crc32c	crc,
				stored_crc;
	bool		ok;

	file = AllocateFile(INVENTORY_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not open file \"%s\": %m", INVENTORY_FILE),
					 errdetail("The pgtls_audit inventory starts empty.")));
		return;
	}

	INIT_CRC32C(crc);
	ok = fread(&hdr, sizeof(hdr), 1, file) == 1;
	if (ok)
	{
		COMP_CRC32C(crc, &hdr, sizeof(hdr));
		ok = hdr.magic == INVENTORY_MAGIC &&
			hdr.format == INVENTORY_FORMAT &&
			hdr.client_entry_size == sizeof(ClientEntry) &&
			hdr.cert_entry_size == sizeof(CertEntry) &&
			hdr.hba_entry_size == sizeof(HbaEntry) &&
			hdr.nclients >= 0 && hdr.ncerts >= 0 && hdr.nhba >= 0;
	}
	ok = ok &&
		load_table(file, inventory->clients, hdr.nclients, &crc) &&
		load_table(file, inventory->certs, hdr.ncerts, &crc) &&
		load_table(file, inventory->hba, hdr.nhba, &crc);
	if (ok)
	{
		FIN_CRC32C(crc);
		/* the CRC, and nothing after it */
		ok = fread(&stored_crc, sizeof(stored_crc), 1, file) == 1 &&
			EQ_CRC32C(crc, stored_crc) &&
			fgetc(file) == EOF && !ferror(file);
	}

	if (!ok)
	{
		bool		read_error = ferror(file);
		int			save_errno = errno;

		lru_table_reset(inventory->clients);
		lru_table_reset(inventory->certs);
		lru_table_reset(inventory->hba);
		inventory->clients->evictions = 0;
		inventory->certs->evictions = 0;
		inventory->hba->evictions = 0;
		FreeFile(file);
		unlink(INVENTORY_FILE);
		errno = save_errno;
		if (read_error)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", INVENTORY_FILE),
					 errdetail("The pgtls_audit inventory starts empty.")));
		else
			ereport(WARNING,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("pgtls_audit inventory file \"%s\" is corrupt or from another version", INVENTORY_FILE),
					 errdetail("The pgtls_audit inventory starts empty.")));
		return;
	}

	FreeFile(file);
	unlink(INVENTORY_FILE);
	/* evictions while reloading into smaller tables are counted too */
	inventory->clients->evictions += hdr.evictions[0];
	inventory->certs->evictions += hdr.evictions[1];
	inventory->hba->evictions += hdr.evictions[2];
	inventory->records_total = hdr.records_total;
	inventory->records_dropped = hdr.records_dropped;
	inventory->values_truncated = hdr.values_truncated;
	inventory->stats_reset = hdr.stats_reset;
}

/* ---------------------------------------------------------------------
 * SQL functions
 *
 * Readers take the spinlock once per entry.  Each scan notes the
 * inventory's generation when it starts and stops at the first entry it
 * finds after a reset(), so one result never mixes entries from before and
 * after a reset.
 * ---------------------------------------------------------------------
 */
static void
require_inventory(void)
{
	if (inventory == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pgtls_audit must be loaded via shared_preload_libraries"),
				 errhint("Add pgtls_audit to shared_preload_libraries in postgresql.conf and restart the server.")));
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

PG_FUNCTION_INFO_V1(pgtls_audit_connections);

Datum
pgtls_audit_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *only_user;
	uint64		newest,
				oldest,
				generation;
	int32		size;

	require_inventory();
	only_user = visible_user();
	InitMaterializedSRF(fcinfo, 0);

	SpinLockAcquire(&inventory->mutex);
	newest = inventory->history_count;
	generation = inventory->generation;
	/* entries of this generation still in the ring: seq oldest .. newest */
	oldest = Max(inventory->history_base,
				 newest > (uint64) inventory->history_size ?
				 newest - inventory->history_size : 0) + 1;
	SpinLockRelease(&inventory->mutex);
	size = inventory->history_size;

	for (uint64 seq = newest; seq >= oldest && seq > 0; seq--)
	{
		HistoryEntry h;
		Datum		values[27];
		bool		nulls[27] = {0};
		int			i = 0;
		const char *policy;
		bool		reset_since;

		CHECK_FOR_INTERRUPTS();
		SpinLockAcquire(&inventory->mutex);
		reset_since = inventory->generation != generation;
		if (!reset_since)
			h = inventory->history[(seq - 1) % size];
		SpinLockRelease(&inventory->mutex);
		if (reset_since)
			break;
		if (h.seq != seq)
			continue;			/* overwritten meanwhile by a newer attempt */
		if (only_user && strcmp(h.user_name, only_user) != 0)
			continue;

		values[i++] = TimestampTzGetDatum(h.ts);
		values[i++] = Int32GetDatum(h.pid);
		values[i++] = CStringGetTextDatum(audit_event_name((AuditEvent) h.event));
		values[i++] = CStringGetTextDatum(audit_outcome_name((AuditOutcome) h.outcome));
		values[i] = text_or_null(h.reason, &nulls[i]), i++;
		values[i] = text_or_null(h.sqlstate, &nulls[i]), i++;
		values[i] = text_or_null(h.remote_host, &nulls[i]), i++;
		values[i] = text_or_null(h.remote_port, &nulls[i]), i++;
		values[i] = text_or_null(h.user_name, &nulls[i]), i++;
		values[i] = text_or_null(h.database_name, &nulls[i]), i++;
		values[i] = text_or_null(h.application_name, &nulls[i]), i++;
		values[i++] = BoolGetDatum(h.ssl);
		values[i] = text_or_null(h.protocol, &nulls[i]), i++;
		values[i] = text_or_null(h.cipher, &nulls[i]), i++;
		nulls[i] = h.bits < 0;
		values[i++] = Int32GetDatum(h.bits);
		values[i++] = BoolGetDatum(h.client_cert);
		values[i] = text_or_null(h.client_dn, &nulls[i]), i++;
		values[i] = text_or_null(h.issuer_dn, &nulls[i]), i++;
		values[i] = text_or_null(h.serial, &nulls[i]), i++;
		nulls[i] = !h.has_not_after;
		values[i++] = TimestampTzGetDatum(h.not_after);
		values[i] = text_or_null(h.fingerprint, &nulls[i]), i++;
		values[i] = text_or_null(h.hba_file, &nulls[i]), i++;
		nulls[i] = h.hba_line <= 0;
		values[i++] = Int32GetDatum(h.hba_line);
		values[i] = text_or_null(h.auth_method, &nulls[i]), i++;
		values[i] = text_or_null(h.identity, &nulls[i]), i++;
		policy = audit_policy_name((AuditPolicy) h.policy);
		nulls[i] = policy == NULL;
		values[i++] = policy ? CStringGetTextDatum(policy) : (Datum) 0;
		values[i++] = BoolGetDatum(h.gss_encrypted);
		Assert(i == 27);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Copy the entry in a table slot under the lock.  Returns false at the end
 * of the scan: no entry in that slot, or a reset since the scan started.
 */
static bool
copy_slot(LruTable *tab, int32 slot, uint64 generation, void *dst)
{
	bool		used = false;
	void	   *src;

	CHECK_FOR_INTERRUPTS();
	SpinLockAcquire(&inventory->mutex);
	if (inventory->generation == generation)
	{
		src = lru_slot_entry(tab, slot, &used);
		if (used)
			memcpy(dst, src, tab->entry_size);
	}
	SpinLockRelease(&inventory->mutex);
	return used;
}

static uint64
current_generation(void)
{
	uint64		generation;

	SpinLockAcquire(&inventory->mutex);
	generation = inventory->generation;
	SpinLockRelease(&inventory->mutex);
	return generation;
}

PG_FUNCTION_INFO_V1(pgtls_audit_clients);

Datum
pgtls_audit_clients(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *only_user;
	LruTable   *tab;
	uint64		generation;
	ClientEntry e;

	require_inventory();
	only_user = visible_user();
	InitMaterializedSRF(fcinfo, 0);
	tab = inventory->clients;
	generation = current_generation();

	for (int32 slot = 0; copy_slot(tab, slot, generation, &e); slot++)
	{
		Datum		values[15];
		bool		nulls[15] = {0};
		int			i = 0;

		if (only_user && strcmp(e.key.user_name, only_user) != 0)
			continue;

		values[i] = text_or_null(e.key.user_name, &nulls[i]), i++;
		values[i] = text_or_null(e.key.database_name, &nulls[i]), i++;
		values[i] = text_or_null(e.key.client_addr, &nulls[i]), i++;
		values[i++] = BoolGetDatum(e.key.ssl);
		values[i] = text_or_null(e.key.protocol, &nulls[i]), i++;
		values[i] = text_or_null(e.key.cipher, &nulls[i]), i++;
		values[i] = text_or_null(e.key.issuer_dn, &nulls[i]), i++;
		values[i] = text_or_null(e.key.serial, &nulls[i]), i++;
		values[i] = text_or_null(e.key.hba_file, &nulls[i]), i++;
		nulls[i] = e.key.hba_line <= 0;
		values[i++] = Int32GetDatum(e.key.hba_line);
		values[i] = text_or_null(e.key.auth_method, &nulls[i]), i++;
		values[i++] = CStringGetTextDatum(audit_outcome_name((AuditOutcome) e.key.outcome));
		values[i++] = Int64GetDatum((int64) e.connections);
		values[i++] = TimestampTzGetDatum(e.first_seen);
		values[i++] = TimestampTzGetDatum(e.last_seen);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgtls_audit_client_certificates);

Datum
pgtls_audit_client_certificates(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *only_user;
	LruTable   *tab;
	uint64		generation;
	CertEntry	e;

	require_inventory();
	only_user = visible_user();
	InitMaterializedSRF(fcinfo, 0);
	tab = inventory->certs;
	generation = current_generation();

	for (int32 slot = 0; copy_slot(tab, slot, generation, &e); slot++)
	{
		Datum		values[10];
		bool		nulls[10] = {0};
		Datum		roles[INV_CERT_ROLES];
		int			nroles = Min(e.nroles, INV_CERT_ROLES);
		int			i = 0;
		bool		mine = (only_user == NULL);

		for (int r = 0; r < nroles && !mine; r++)
			if (strcmp(e.roles[r], only_user) == 0)
				mine = true;
		if (!mine)
			continue;
		for (int r = 0; r < nroles; r++)
		{
			bool		role_null;

			roles[r] = text_or_null(e.roles[r], &role_null);
			if (role_null)
				roles[r] = CStringGetTextDatum("");
		}

		values[i] = text_or_null(e.subject_dn, &nulls[i]), i++;
		values[i] = text_or_null(e.key.issuer_dn, &nulls[i]), i++;
		values[i] = text_or_null(e.key.serial, &nulls[i]), i++;
		nulls[i] = !e.has_not_after;
		values[i++] = TimestampTzGetDatum(e.not_after);
		values[i++] = PointerGetDatum(construct_array(roles, nroles, TEXTOID, -1, false, TYPALIGN_INT));
		values[i++] = BoolGetDatum(e.roles_truncated);
		values[i++] = Int64GetDatum((int64) e.connections);
		values[i++] = TimestampTzGetDatum(e.first_seen);
		values[i++] = TimestampTzGetDatum(e.last_seen);
		values[i] = text_or_null(e.fingerprint, &nulls[i]), i++;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgtls_audit_hba_usage);

Datum
pgtls_audit_hba_usage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LruTable   *tab;
	uint64		generation;
	HbaEntry	e;

	require_inventory();
	InitMaterializedSRF(fcinfo, 0);
	tab = inventory->hba;
	generation = current_generation();

	for (int32 slot = 0; copy_slot(tab, slot, generation, &e); slot++)
	{
		Datum		values[6];
		bool		nulls[6] = {0};

		values[0] = text_or_null(e.key.hba_file, &nulls[0]);
		values[1] = Int32GetDatum(e.key.hba_line);
		values[2] = Int64GetDatum((int64) e.attempts);
		values[3] = Int64GetDatum((int64) e.successes);
		values[4] = Int64GetDatum((int64) e.failures);
		values[5] = TimestampTzGetDatum(e.last_used);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(pgtls_audit_stats);

Datum
pgtls_audit_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[15];
	bool		nulls[15] = {0};
	InventoryShared s;
	int32		clients_used,
				certs_used,
				hba_used;
	uint64		ev_clients,
				ev_certs,
				ev_hba,
				in_ring;

	require_inventory();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	SpinLockAcquire(&inventory->mutex);
	s = *inventory;
	clients_used = inventory->clients->used;
	certs_used = inventory->certs->used;
	hba_used = inventory->hba->used;
	ev_clients = inventory->clients->evictions;
	ev_certs = inventory->certs->evictions;
	ev_hba = inventory->hba->evictions;
	SpinLockRelease(&inventory->mutex);

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
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

PG_FUNCTION_INFO_V1(pgtls_audit_reset);

/*
 * Empty the whole inventory in O(1) under the spinlock, whatever the
 * sizes: the ring keeps its entries but only those numbered after
 * history_base are shown; each table starts a new generation (see
 * lru_table.c); the counters go to zero.  Stale slots are reclaimed as new
 * attempts reuse them.
 */
Datum
pgtls_audit_reset(PG_FUNCTION_ARGS)
{
	TimestampTz now = GetCurrentTimestamp();

	require_inventory();
	SpinLockAcquire(&inventory->mutex);
	inventory->generation++;
	inventory->history_base = inventory->history_count;
	lru_table_reset(inventory->clients);
	lru_table_reset(inventory->certs);
	lru_table_reset(inventory->hba);
	inventory->clients->evictions = 0;
	inventory->certs->evictions = 0;
	inventory->hba->evictions = 0;
	inventory->records_total = 0;
	inventory->records_dropped = 0;
	inventory->values_truncated = 0;
	inventory->stats_reset = now;
	SpinLockRelease(&inventory->mutex);
	PG_RETURN_VOID();
}
