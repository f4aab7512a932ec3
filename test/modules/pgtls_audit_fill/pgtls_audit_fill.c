/*-------------------------------------------------------------------------
 *
 * pgtls_audit_fill.c
 *	  A test-only module: fill the server's real connection inventory with
 *	  synthetic attempts, to measure the inventory views at 10k, 100k and
 *	  1M entries (test/lib/bench_inventory.sh) and to check in the suite
 *	  that the views return exactly the rows filled (test/t/017_scale.pl);
 *	  and report the shared memory of each part of the inventory.
 *
 * Not part of the extension, and never to be installed on a server whose
 * audit trail matters: the attempts it adds never happened.  It is built
 * and installed by the test harness (test/run) and the benchmark, never by
 * the extension's Makefile; pgtls_audit_fill.sql creates its functions in
 * a schema of their own and revokes them from PUBLIC.  No superuser()
 * test: who may run it is decided by GRANT.
 *
 * How it reaches the inventory.  It #includes the main module's
 * inventory/inventory.c and compiles its own copies of
 * inventory/lru_table.c and inventory/inventory_lock.c, so an attempt is
 * added by the very code a connection runs (inventory_add: the same
 * spinlock, ring, LRU tables and eviction).  Both
 * modules are built with -fvisibility=hidden, so this module's calls bind
 * to its own copies and its variables (inventory, the sizes) are its own.
 * It attaches to the segment the main module's postmaster created: it reads
 * the four size settings (defined only when pgtls_audit is in
 * shared_preload_libraries), computes the segment's size with inventory.c's
 * own inventory_shmem_size(), and looks the segment up with
 * ShmemInitStruct under the same name and size (which finds the existing
 * one, and fails on a size that differs).  The InventoryShared header holds
 * plain pointers, valid in every backend (the segment is mapped at the
 * same address: no EXEC_BACKEND on the platforms this is built on).
 *
 * Every loop checks for interrupts.
 *
 * test/modules/pgtls_audit_fill/pgtls_audit_fill.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include "audit/record.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(pgtls_fill_fill);
PG_FUNCTION_INFO_V1(pgtls_fill_shmem_sizes);
PG_FUNCTION_INFO_V1(pgtls_fill_hold_lock);
PG_FUNCTION_INFO_V1(pgtls_fill_fill_deferred);

#include "inventory/inventory.c"

/*
 * inventory.c reads pgtls_audit.debug_lock_timing, a variable of the main
 * module's pgtls_audit.c (not compiled here): the fill's own acquisitions
 * are never timed.
 */
__typeof__(pgtls_audit_debug_lock_timing) pgtls_audit_debug_lock_timing = false;

/*
 * The size settings of the running server into inventory.c's variables
 * (this module's copies), or an error when pgtls_audit is not preloaded.
 */
static void
fill_read_settings(void)
{
	static const char *const names[] = {
		"pgtls_audit.history_size", "pgtls_audit.max_clients",
		"pgtls_audit.max_certificates", "pgtls_audit.max_fingerprints"
	};
	int		   *vars[] = {
		&inventory_history_size, &inventory_max_clients,
		&inventory_max_certificates, &inventory_max_fingerprints
	};

	for (int i = 0; i < lengthof(names); i++)
	{
		const char *v = GetConfigOption(names[i], true, false);

		if (v == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("pgtls_audit must be loaded via shared_preload_libraries")));
		*vars[i] = pg_strtoint32(v);
	}
}

/* Attach to the main module's inventory segment (see the header). */
static void
fill_attach(void)
{
	bool		found;
	Size		size;

	fill_read_settings();
	size = inventory_shmem_size();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	inventory = ShmemInitStruct("pgtls_audit inventory", size, &found);
	LWLockRelease(AddinShmemInitLock);
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("the pgtls_audit inventory was not found in shared memory")));
}

/* realistic variety: a few issuers, applications, databases, methods */
#define FILL_ISSUERS	20
#define FILL_USERS		400
#define FILL_DATABASES	30
#define FILL_HBA_LINES	1100

static const char *const fill_apps[] = {
	"psql", "orders-service", "PostgreSQL JDBC Driver", "pgbench",
	"billing-worker", "grafana", "airflow", ""
};

/* TLS 1.3 + 1.2 suites as libpq 15 with OpenSSL 3 offers them */
static const uint16 fill_ciphers_13[] = {
	0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa,
	0xc02b, 0xc02f, 0x009e, 0xc024, 0xc028, 0x006b, 0xc023, 0xc027, 0x0067,
	0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033, 0x009d, 0x009c, 0x003d,
	0x003c, 0x0035, 0x002f, 0x00ff
};

/* a TLS 1.2-only client: GCM and CBC */
static const uint16 fill_ciphers_12[] = {
	0xc02f, 0xc030, 0xc02b, 0xc02c, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f,
	0x0035
};

/* a TLS 1.2-only client offering CBC suites only */
static const uint16 fill_ciphers_cbc[] = {0xc013, 0xc014, 0x002f, 0x0035};

static const uint16 fill_groups[] = {0x001d, 0x0017, 0x001e, 0x0019, 0x0018};

/*
 * The offer of fingerprint number f: most are libpq over TLS 1.3; one in
 * ten a TLS 1.2-only client; one in 25 a CBC-only TLS 1.2 client.
 */
static void
fill_offer(AuditOffer *o, uint32 f)
{
	const uint16 *ciphers;
	int			nciphers;

	memset(o, 0, sizeof(*o));
	if (f % 25 == 7)
	{
		ciphers = fill_ciphers_cbc;
		nciphers = lengthof(fill_ciphers_cbc);
	}
	else if (f % 10 == 3)
	{
		ciphers = fill_ciphers_12;
		nciphers = lengthof(fill_ciphers_12);
	}
	else
	{
		ciphers = fill_ciphers_13;
		nciphers = lengthof(fill_ciphers_13);
		o->versions[o->nversions++] = 0x0304;
	}
	o->versions[o->nversions++] = 0x0303;
	/* drop one suite or none, by f, so offers differ */
	for (int i = 0; i < nciphers; i++)
		if (nciphers < 5 || i != (int) (f % (nciphers + 1)))
			o->ciphers[o->nciphers++] = ciphers[i];
	for (int i = 0; i < lengthof(fill_groups); i++)
		o->groups[o->ngroups++] = fill_groups[i];
	o->keyshares[o->nkeyshares++] = 0x001d;
}

/*
 * Leave rec in a deferred slot as a connection that found the lock held
 * leaves its attempt: the same build and inventory.c's deferred_put.
 * False when no slot is free.
 */
static bool
fill_defer(const AuditRecord *rec)
{
	HistoryEntry h;
	AttemptKeys keys;
	InventoryLockTimer lt = {0};
	uint64		truncated = 0;

	history_entry_build(&h, rec, &truncated);
	attempt_keys_build(&keys, &h, rec);
	return deferred_put(&h, &keys, AUDIT_LOG_ON, (int64) 3600 * USECS_PER_SEC,
						true, truncated, &lt);
}

/*
 * Synthetic attempt k (the values as described at pgtls_fill_fill), at
 * time ts, into the inventory through inventory_add; or, with defer, into
 * a deferred slot (fill_defer; false when no slot is free).
 */
static bool
fill_one_attempt(uint64 k, int32 nfingerprints, TimestampTz ts,
				 TimestampTz now, const char *hba_file, bool defer)
{
	uint32		f = (uint32) (k % nfingerprints);
	AuditRecord rec;
	InventoryDecision decision;
	static InventorySummary fill_summaries[INVENTORY_MAX_SUMMARIES];
	char		addr[INV_ADDR_LEN];
	char		port[INV_PORT_LEN];
	char		user[INV_NAME_LEN];
	char		db[INV_NAME_LEN];
	char		subject[INV_DN_LEN];
	char		issuer[INV_DN_LEN];
	char		serial[INV_SERIAL_LEN];
	char		fingerprint[INV_FP_LEN];
	char		ja4[INV_JA4_LEN];
	bool		tls12;

	memset(&rec, 0, sizeof(rec));
	snprintf(addr, sizeof(addr), "10.%u.%u.%u",
			 (unsigned) ((k >> 16) & 255), (unsigned) ((k >> 8) & 255),
			 (unsigned) (k & 255));
	if (k >= (UINT64CONST(1) << 24))
		snprintf(addr, sizeof(addr), "fd00::%x:%x",
				 (unsigned) (k >> 16), (unsigned) (k & 0xffff));
	snprintf(port, sizeof(port), "%u", (unsigned) (32768 + k % 28000));
	snprintf(user, sizeof(user), "app_user_%03u", (unsigned) (k % FILL_USERS));
	snprintf(db, sizeof(db), "db_%02u", (unsigned) (k % FILL_DATABASES));
	snprintf(subject, sizeof(subject),
			 "CN=%s client %llu,OU=Services,O=Example Corp,C=US",
			 user, (unsigned long long) k);
	snprintf(issuer, sizeof(issuer),
			 "CN=Example Issuing CA %02u,OU=Public Key Infrastructure,O=Example Corp,L=Springfield,ST=Illinois,C=US",
			 (unsigned) (k % FILL_ISSUERS));
	snprintf(serial, sizeof(serial), "4242%020llu", (unsigned long long) k);
	for (int j = 0; j < 8; j++)
		snprintf(fingerprint + 8 * j, 9, "%08x",
				 hash_bytes_uint32((uint32) (k * 8 + j)));
	snprintf(ja4, sizeof(ja4), "t13d3109h2_%012x_%012x",
			 (unsigned) f, hash_bytes_uint32(f) & 0xffffff);
	fill_offer(&rec.offer, f);
	tls12 = rec.offer.versions[0] != 0x0304;
	if (tls12)
		ja4[2] = '2';

	rec.event = AUDIT_EVENT_ESTABLISHED;
	rec.outcome = AUDIT_OUTCOME_SUCCESS;
	rec.ts = ts;
	rec.pid = 100000 + (int) (k % 50000);
	rec.remote_host = addr;
	rec.remote_port = port;
	rec.user_name = user;
	rec.database_name = db;
	rec.application_name = (char *) fill_apps[k % lengthof(fill_apps)];
	rec.ssl = true;
	rec.protocol = tls12 ? "TLSv1.2" : "TLSv1.3";
	rec.cipher = tls12 ? "ECDHE-RSA-AES256-GCM-SHA384" : "TLS_AES_256_GCM_SHA384";
	rec.bits = 256;
	rec.alpn = -1;
	rec.client_cert_present = true;
	rec.client_dn = subject;
	rec.issuer_dn = issuer;
	rec.client_serial = serial;
	rec.has_not_after = true;
	rec.client_not_after = now + (TimestampTz) (30 + k % 700) * USECS_PER_DAY;
	rec.client_fingerprint = fingerprint;
	rec.hba_file = (char *) hba_file;
	/* 1,100 lines in turn: more than hba_usage holds (1,024) */
	rec.hba_line = 90 + (int) (k % FILL_HBA_LINES);
	rec.auth_method = "cert";
	rec.identity = subject;
	rec.policy = AUDIT_POLICY_OK;
	rec.sni = (k % 3 == 0) ? NULL : "db.example.com";
	rec.offered_alpn = "postgresql";
	rec.ja4 = ja4;
	rec.has_offer = true;

	if (defer)
		return fill_defer(&rec);
	decision.summaries = fill_summaries;
	inventory_add(&rec, AUDIT_LOG_ON, 3600, &decision);
	return true;
}

/*
 * pgtls_fill.fill(attempts, fingerprints): add attempts synthetic
 * successful TLS 1.3/1.2 attempts with client certificates.  Attempt k
 * (counted on from the inventory's records_total, so a second call adds
 * new entries) is a distinct client (its address), a distinct certificate
 * (its serial, under one of 20 issuers) and the fingerprint k modulo
 * fingerprints (NULL: attempts distinct ones).  Returns records_total after.
 */
Datum
pgtls_fill_fill(PG_FUNCTION_ARGS)
{
	int32		attempts;
	int32		nfingerprints;
	uint64		base;
	uint64		total;
	TimestampTz now = GetCurrentTimestamp();
	const char *hba_file;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("attempts must not be null")));
	attempts = PG_GETARG_INT32(0);
	nfingerprints = PG_ARGISNULL(1) ? Max(attempts, 1) : PG_GETARG_INT32(1);
	if (attempts < 0 || attempts > 10000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("attempts must be between 0 and 10000000")));
	if (nfingerprints < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("fingerprints must be at least 1")));
	fill_attach();
	hba_file = HbaFileName ? HbaFileName : "pg_hba.conf";

	SpinLockAcquire(&inventory->mutex);
	base = inventory->records_total;
	SpinLockRelease(&inventory->mutex);

	for (int32 i = 0; i < attempts; i++)
	{
		CHECK_FOR_INTERRUPTS();
		fill_one_attempt(base + i, nfingerprints,
						 now - (TimestampTz) (attempts - i) * 1000, now, hba_file,
						 false);
	}

	SpinLockAcquire(&inventory->mutex);
	total = inventory->records_total;
	SpinLockRelease(&inventory->mutex);
	PG_RETURN_INT64((int64) total);
}

/*
 * pgtls_fill.shmem_sizes(): one row per part of the inventory at the
 * server's settings, from inventory.c's and lru_table.c's own size code,
 * and a last row "total" with inventory_shmem_size(), the size the module
 * requests (compare pg_shmem_allocations).  A slot is an entry plus the
 * LRU table's 16-byte header (hash, chain and recency links); a table
 * adds its buckets (8 bytes each, a power of two at least twice the
 * capacity).
 */
Datum
pgtls_fill_shmem_sizes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	struct
	{
		const char *name;
		Size		key;
		Size		entry;
		int			capacity;
		bool		lru;
	}			parts[8];
	int			n = 0;

	fill_read_settings();
	InitMaterializedSRF(fcinfo, 0);

#define PART(nm, k, e, c, l) \
	(parts[n].name = (nm), parts[n].key = (k), parts[n].entry = (e), \
	 parts[n].capacity = (c), parts[n].lru = (l), n++)
	PART("header", 0, sizeof(InventoryShared), 1, false);
	PART("connections (ring)", 0, sizeof(HistoryEntry), inventory_history_size, false);
	PART("clients", sizeof(ClientKey), sizeof(ClientEntry), inventory_max_clients, true);
	PART("client_certificates", sizeof(CertKey), sizeof(CertEntry), inventory_max_certificates, true);
	PART("hba_usage", sizeof(HbaKey), sizeof(HbaEntry), PGTLS_MAX_HBA_ENTRIES, true);
	PART("client_fingerprints", sizeof(FingerprintKey), sizeof(FingerprintEntry), inventory_max_fingerprints, true);
	PART("failures (log_failures = new)", sizeof(FailureKey), sizeof(FailureEntry), PGTLS_MAX_FAILURE_ENTRIES, true);
	PART("deferred attempts", 0, sizeof(DeferredAttempt), INV_DEFERRED_SLOTS, false);
#undef PART

	for (int i = 0; i <= n; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {0};

		CHECK_FOR_INTERRUPTS();
		if (i == n)
		{
			values[0] = CStringGetTextDatum("total");
			nulls[1] = nulls[2] = nulls[3] = true;
			values[4] = Int64GetDatum((int64) inventory_shmem_size());
		}
		else
		{
			Size		slot = parts[i].lru ?
				MAXALIGN(4 * sizeof(int32)) + MAXALIGN(parts[i].entry) :
				parts[i].entry;
			Size		bytes = parts[i].lru ?
				lru_table_size(parts[i].capacity, parts[i].key, parts[i].entry) :
				mul_size(parts[i].capacity, parts[i].entry);

			values[0] = CStringGetTextDatum(parts[i].name);
			values[1] = Int64GetDatum((int64) parts[i].entry);
			values[2] = Int64GetDatum((int64) slot);
			values[3] = Int32GetDatum(parts[i].capacity);
			values[4] = Int64GetDatum((int64) MAXALIGN(bytes));
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * pgtls_fill.fill_deferred(attempts): leave attempts (1 to the number of
 * deferred slots) synthetic attempts in the deferred slots, as connections
 * that found the inventory's lock held leave theirs, numbered on from
 * records_total as fill's (so they are distinct from filled ones, unless
 * a fill runs between); the next lock holder (any reader: every view
 * function) adds them.  Returns how many slots were claimed and not yet
 * added after it (deferred_ready); an ERROR when a slot was not free.
 */
Datum
pgtls_fill_fill_deferred(PG_FUNCTION_ARGS)
{
	int32		attempts = PG_GETARG_INT32(0);
	TimestampTz now = GetCurrentTimestamp();
	uint64		base;

	if (attempts < 1 || attempts > INV_DEFERRED_SLOTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("attempts must be between 1 and %d", INV_DEFERRED_SLOTS)));
	fill_attach();
	SpinLockAcquire(&inventory->mutex);
	base = inventory->records_total;
	SpinLockRelease(&inventory->mutex);
	for (int32 i = 0; i < attempts; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (!fill_one_attempt(base + i, attempts, now - (TimestampTz) (attempts - i) * 1000,
							  now, HbaFileName ? HbaFileName : "pg_hba.conf", true))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("no free deferred slot for attempt %d", i + 1)));
	}
	PG_RETURN_INT32((int32) pg_atomic_read_u32(&inventory->deferred_ready));
}

/*
 * pgtls_fill.hold_lock(ms): hold the inventory's spinlock for ms
 * milliseconds (0 to 10,000), as a holder descheduled that long would, so
 * that a test sees connections defer their attempts instead of waiting,
 * and wait into s_lock() when every deferred slot is taken
 * (test/t/018_lock_wait.pl).  Nothing between the acquire and the release
 * can raise or check for interrupts.
 */
Datum
pgtls_fill_hold_lock(PG_FUNCTION_ARGS)
{
	int32		ms = PG_GETARG_INT32(0);

	if (ms < 0 || ms > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ms must be between 0 and 10000")));
	fill_attach();
	SpinLockAcquire(&inventory->mutex);
	pg_usleep(ms * 1000L);
	SpinLockRelease(&inventory->mutex);
	PG_RETURN_VOID();
}
