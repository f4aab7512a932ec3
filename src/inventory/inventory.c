/*-------------------------------------------------------------------------
 *
 * inventory.c
 *	  The connection inventory in shared memory: a ring of recent attempts,
 *	  and LRU-bounded tables of clients, client certificates, ClientHello
 *	  fingerprints (JA4) and pg_hba line usage.  This file sizes and creates it, defines its settings,
 *	  adds each attempt to it and empties it (reset).
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

/* An attempt's keys in the tables, with their hashes. */
typedef struct AttemptKeys
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
} AttemptKeys;

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

static void
client_touch(const AttemptKeys *k, const HistoryEntry *h)
{
	bool		inserted;
	ClientEntry *ce = lookup_or_insert(inventory->clients, &k->client,
									   k->client_hash, &inserted);

	if (inserted)
		ce->first_seen = h->ts;
	ce->connections++;
	ce->last_seen = h->ts;
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
 * Add one attempt to the inventory.  Never raises an error.  Everything
 * is built outside the lock; under it: the counters, the ring entry and
 * the table updates.
 */
void
inventory_add(const AuditRecord *rec)
{
	HistoryEntry h;
	AttemptKeys keys;
	uint64		truncated = 0;
	bool		success,
				have_user;

	if (inventory == NULL)
		return;

	success = rec->outcome == AUDIT_OUTCOME_SUCCESS;
	have_user = rec->user_name != NULL && rec->user_name[0] != '\0';
	history_entry_build(&h, rec, &truncated);
	attempt_keys_build(&keys, &h, rec);

	SpinLockAcquire(&inventory->mutex);
	inventory->records_total++;
	inventory->values_truncated += truncated;

	h.seq = ++inventory->history_count;
	inventory->history[(h.seq - 1) % inventory->history_size] = h;

	client_touch(&keys, &h);
	if (keys.have_cert)
		cert_touch(&keys, &h, have_user);
	if (keys.have_hba)
		hba_touch(&keys, &h, success);
	if (keys.have_fingerprint)
		fingerprint_touch(&keys, &h);
	SpinLockRelease(&inventory->mutex);
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
	inventory->clients->evictions = 0;
	inventory->certs->evictions = 0;
	inventory->hba->evictions = 0;
	inventory->fingerprints->evictions = 0;
}

/*
 * Empty the whole inventory in O(1) under the spinlock, whatever the
 * sizes: the ring keeps its entries but only those numbered after
 * history_base are shown; each table starts a new generation (see
 * lru_table.c); the counters go to zero.  Stale slots are reclaimed as new
 * attempts reuse them.
 */
void
inventory_reset(TimestampTz now)
{
	SpinLockAcquire(&inventory->mutex);
	inventory->generation++;
	inventory->history_base = inventory->history_count;
	inventory_reset_tables();
	inventory->records_total = 0;
	inventory->records_dropped = 0;
	inventory->values_truncated = 0;
	inventory->stats_reset = now;
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
