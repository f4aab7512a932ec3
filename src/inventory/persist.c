/*-------------------------------------------------------------------------
 *
 * persist.c
 *	  The inventory's save file: the clients, certificates, pg_hba and
 *	  fingerprint tables written at a clean shutdown and read back at start.
 *
 * Persistence.  With pgtls_audit.save (default on) the postmaster writes
 * the clients, certificates, pg_hba and fingerprint tables to
 * $PGDATA/pg_stat/pgtls_audit.stat at a clean shutdown and reads them back
 * at start (the file is then removed, so a crash does not resurrect stale
 * data).  Both directions stream entry by entry with a running CRC-32C, as
 * pg_stat_statements does, so memory use does not grow with the tables.
 * A missing file is an empty start; a truncated or corrupt one (CRC
 * mismatch, wrong sizes) gives a WARNING and an empty start.  The ring of
 * recent attempts (connections) is not saved.
 *
 * File layout: InventoryFileHeader, then nclients ClientEntry, ncerts
 * CertEntry and nhba HbaEntry (each table oldest first), then (format 2)
 * InventoryFileFingerprints and its nfingerprints FingerprintEntry, then
 * the CRC-32C of everything before it.  Format 3 entries of the clients
 * table end with their RepeatState (log_connections = new); format 1
 * (without fingerprints) and 2 files, whose client entries are
 * CLIENT_ENTRY_SIZE_V2 bytes, are still read, with no pending repeats.
 * Before saving, the shutdown callback writes every pending summary to
 * the log (inventory_flush_summaries), so the saved counts are normally
 * zero; the failures table of log_failures = new is not saved.  Both directions stream one entry at a time
 * with a running CRC, as pg_stat_statements does: the file is never held
 * in memory whole, whatever the table sizes.
 *
 * src/inventory/persist.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <fcntl.h>
#include <unistd.h>

#include "port/pg_crc32c.h"
#include "storage/fd.h"

#include "storage/ipc.h"
#include "inventory/inventory_internal.h"
#include "inventory/persist.h"
#include "inventory/lru_table.h"

#define INVENTORY_DIR		"pg_stat"
#define INVENTORY_FILE		"pg_stat/pgtls_audit.stat"
#define INVENTORY_FILE_TMP	"pg_stat/pgtls_audit.stat.tmp"
#define INVENTORY_MAGIC		0x50544c41	/* "PTLA" */
#define INVENTORY_FORMAT	3	/* 1: without the fingerprints; 2: clients
								 * without their RepeatState (both still
								 * read) */

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

/* Format 2: after the pg_hba table, the fingerprints table */
typedef struct InventoryFileFingerprints
{
	uint32		fingerprint_entry_size;
	int32		nfingerprints;
	uint64		evictions;
} InventoryFileFingerprints;

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

/* The file's header, from shared memory. */
static void
file_header_build(InventoryFileHeader *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->magic = INVENTORY_MAGIC;
	hdr->format = INVENTORY_FORMAT;
	hdr->client_entry_size = sizeof(ClientEntry);
	hdr->cert_entry_size = sizeof(CertEntry);
	hdr->hba_entry_size = sizeof(HbaEntry);
	hdr->nclients = inventory->clients->used;
	hdr->ncerts = inventory->certs->used;
	hdr->nhba = inventory->hba->used;
	hdr->records_total = inventory->records_total;
	hdr->records_dropped = inventory->records_dropped;
	hdr->values_truncated = inventory->values_truncated;
	hdr->evictions[0] = inventory->clients->evictions;
	hdr->evictions[1] = inventory->certs->evictions;
	hdr->evictions[2] = inventory->hba->evictions;
	hdr->stats_reset = inventory->stats_reset;
}

/*
 * Write the whole file (header, tables, CRC) and fsync it.  Returns false
 * on a write error (errno set) or with *inconsistent set (write_table).
 */
static bool
write_file(FILE *file, bool *inconsistent)
{
	InventoryFileHeader hdr;
	InventoryFileFingerprints fhdr;
	pg_crc32c	crc;
	bool		ok;

	file_header_build(&hdr);
	memset(&fhdr, 0, sizeof(fhdr));
	fhdr.fingerprint_entry_size = sizeof(FingerprintEntry);
	fhdr.nfingerprints = inventory->fingerprints->used;
	fhdr.evictions = inventory->fingerprints->evictions;
	INIT_CRC32C(crc);
	ok = write_block(file, &hdr, sizeof(hdr), &crc) &&
		write_table(file, inventory->clients, &crc, inconsistent) &&
		write_table(file, inventory->certs, &crc, inconsistent) &&
		write_table(file, inventory->hba, &crc, inconsistent) &&
		write_block(file, &fhdr, sizeof(fhdr), &crc) &&
		write_table(file, inventory->fingerprints, &crc, inconsistent);
	if (ok)
	{
		FIN_CRC32C(crc);
		ok = fwrite(&crc, sizeof(crc), 1, file) == 1 &&
			fflush(file) == 0 &&
			pg_fsync(fileno(file)) == 0;
	}
	return ok;
}

/*
 * Write INVENTORY_FILE_TMP in full and close it.  On any failure, report
 * it at LOG, remove the partial file and return false.
 */
static bool
write_tmp_file(void)
{
	FILE	   *file;
	bool		inconsistent = false;

	file = fopen(INVENTORY_FILE_TMP, PG_BINARY_W);
	if (file == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", INVENTORY_FILE_TMP),
				 errdetail("The pgtls_audit inventory is not saved; the next start begins with an empty inventory.")));
		return false;
	}
	if (!write_file(file, &inconsistent))
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
					 errmsg("could not write file \"%s\": %m", INVENTORY_FILE_TMP),
					 errdetail("The pgtls_audit inventory is not saved; the next start begins with an empty inventory.")));
		}
		return false;
	}
	if (fclose(file) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not close file \"%s\": %m", INVENTORY_FILE_TMP),
				 errdetail("The pgtls_audit inventory is not saved; the next start begins with an empty inventory.")));
		unlink(INVENTORY_FILE_TMP);
		return false;
	}
	return true;
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
	if (code != 0 || inventory == NULL)
		return;
	/* attempts deferred by connections and not yet added, first */
	inventory_drain_deferred_alone();
	inventory_log_lock_timing();
	/* first the log: every count not yet written, as summary records */
	inventory_flush_summaries();
	if (!inventory_save)
	{
		/* nothing is saved, and nothing older may be reloaded */
		if (unlink(INVENTORY_FILE) != 0 && errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not remove file \"%s\": %m", INVENTORY_FILE)));
		return;
	}

	if (!write_tmp_file())
		return;
	if (rename(INVENTORY_FILE_TMP, INVENTORY_FILE) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not rename file \"%s\" to \"%s\": %m",
						INVENTORY_FILE_TMP, INVENTORY_FILE),
				 errdetail("The pgtls_audit inventory is not saved; the next start begins with an empty inventory.")));
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
load_table(FILE *file, LruTable *tab, Size file_entry_size, int32 count,
		   pg_crc32c *crc)
{
	InventoryEntry buf;

	Assert(tab->entry_size <= sizeof(buf));
	Assert(file_entry_size <= tab->entry_size);
	for (int32 i = 0; i < count; i++)
	{
		bool		evicted;
		void	   *dst;

		/* an older format's shorter entry: the fields after it are zero */
		memset(&buf, 0, tab->entry_size);
		if (fread(&buf, file_entry_size, 1, file) != 1)
			return false;
		COMP_CRC32C(*crc, &buf, file_entry_size);
		dst = lru_insert(tab, &buf, lru_hash_key(tab, &buf), &evicted);
		if (dst)
			memcpy(dst, &buf, tab->entry_size);
	}
	return true;
}

/*
 * Read the whole file into the tables: the header, checked against this
 * build's sizes, the tables and the CRC, with nothing after it.  Returns
 * false for a short, long, foreign or corrupt file (ferror() tells a read
 * error apart).
 */
static bool
read_file(FILE *file, InventoryFileHeader *hdr, InventoryFileFingerprints *fhdr)
{
	pg_crc32c	crc,
				stored_crc;
	bool		ok;

	memset(fhdr, 0, sizeof(*fhdr));
	INIT_CRC32C(crc);
	ok = fread(hdr, sizeof(*hdr), 1, file) == 1;
	if (ok)
	{
		COMP_CRC32C(crc, hdr, sizeof(*hdr));
		ok = hdr->magic == INVENTORY_MAGIC &&
			hdr->format >= 1 && hdr->format <= INVENTORY_FORMAT &&
			hdr->client_entry_size == (hdr->format >= 3 ?
									   sizeof(ClientEntry) :
									   CLIENT_ENTRY_SIZE_V2) &&
			hdr->cert_entry_size == sizeof(CertEntry) &&
			hdr->hba_entry_size == sizeof(HbaEntry) &&
			hdr->nclients >= 0 && hdr->ncerts >= 0 && hdr->nhba >= 0;
	}
	ok = ok &&
		load_table(file, inventory->clients, hdr->client_entry_size,
				   hdr->nclients, &crc) &&
		load_table(file, inventory->certs, sizeof(CertEntry), hdr->ncerts,
				   &crc) &&
		load_table(file, inventory->hba, sizeof(HbaEntry), hdr->nhba, &crc);
	if (ok && hdr->format >= 2)
	{
		ok = fread(fhdr, sizeof(*fhdr), 1, file) == 1;
		if (ok)
			COMP_CRC32C(crc, fhdr, sizeof(*fhdr));
		ok = ok && fhdr->fingerprint_entry_size == sizeof(FingerprintEntry) &&
			fhdr->nfingerprints >= 0 &&
			load_table(file, inventory->fingerprints, sizeof(FingerprintEntry),
					   fhdr->nfingerprints, &crc);
	}
	if (ok)
	{
		FIN_CRC32C(crc);
		/* the CRC, and nothing after it */
		ok = fread(&stored_crc, sizeof(stored_crc), 1, file) == 1 &&
			EQ_CRC32C(crc, stored_crc) &&
			fgetc(file) == EOF && !ferror(file);
	}
	return ok;
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
	InventoryFileFingerprints fhdr;

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

	if (!read_file(file, &hdr, &fhdr))
	{
		bool		read_error = ferror(file);
		int			save_errno = errno;

		inventory_reset_tables();
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
	/* the saved slot links are another server's */
	inventory_rebuild_pending();
	/* evictions while reloading into smaller tables are counted too */
	inventory->clients->evictions += hdr.evictions[0];
	inventory->certs->evictions += hdr.evictions[1];
	inventory->hba->evictions += hdr.evictions[2];
	inventory->fingerprints->evictions += fhdr.evictions;
	inventory->records_total = hdr.records_total;
	inventory->records_dropped = hdr.records_dropped;
	inventory->values_truncated = hdr.values_truncated;
	inventory->stats_reset = hdr.stats_reset;
}

/* In the postmaster, once the tables exist: load the file, save at exit. */
static void
persist_at_postmaster_startup(bool found)
{
	on_shmem_exit(inventory_shmem_shutdown, (Datum) 0);
	if (!found)
		inventory_load_file();
}

void
inventory_persist_install(void)
{
	inventory_set_postmaster_startup(persist_at_postmaster_startup);
}
