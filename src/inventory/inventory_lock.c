/*-------------------------------------------------------------------------
 *
 * inventory_lock.c
 *	  Waiting for the inventory's spinlock, and the test-only lock timing
 *	  (pgtls_audit.debug_lock_timing).  The lock itself, what it protects
 *	  and the rules for holding it are in inventory_internal.h.
 *
 * Waiting.  inventory_lock_acquire (inventory_internal.h) tries the lock
 * once with TAS, as SpinLockAcquire does; only when that fails does it
 * call inventory_lock_wait here.  For now the wait is PostgreSQL's own
 * s_lock(), with its delays and its stuck-spinlock PANIC.
 *
 * Timing.  With pgtls_audit.debug_lock_timing on, each acquisition is
 * timed with CLOCK_MONOTONIC: the wait from before the first TAS to after
 * the acquire, the hold from there to just before the release.  Besides
 * the counts and maxima, the stats keep the acquisitions whose first TAS
 * failed (contended: another process held the lock) and how many of
 * those waited over 1 ms, so that a slow wait of the waiter's own making
 * (descheduled between its two clock reads) can be told from real
 * contention, and the minor page faults the holder took while holding
 * (getrusage before and after the hold: two system calls, inside the
 * hold, counted in it).  All of it is updated under the lock itself.
 *
 * src/inventory/inventory_lock.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <sys/resource.h>
#include <time.h>

#include "storage/spin.h"

#include "inventory/inventory_internal.h"

/*
 * The lock was taken when the first TAS tried it: wait for it.
 */
InventoryLockPath
inventory_lock_wait(void)
{
	s_lock(&inventory->mutex, __FILE__, __LINE__, __func__);
	return INV_LOCK_S_LOCK;
}

/* CLOCK_MONOTONIC in ns, for the lock timing */
static uint64
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64) ts.tv_sec * UINT64CONST(1000000000) + (uint64) ts.tv_nsec;
}

/* this process's minor page faults so far */
static uint64
minor_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64) ru.ru_minflt;
}

/*
 * inventory_lock with pgtls_audit.debug_lock_timing on: the wait is
 * counted under the lock, at once.
 */
void
inventory_lock_timed(InventoryLockTimer *t)
{
	InventoryLockStats *ls = &inventory->lock_stats;
	uint64		wait;
	InventoryLockPath path;

	t->start_ns = monotonic_ns();
	path = inventory_lock_acquire();
	t->acquired_ns = monotonic_ns();
	t->faults = minor_faults();
	wait = t->acquired_ns - t->start_ns;
	ls->timed[t->site]++;
	ls->wait_total_ns += wait;
	if (wait > ls->wait_max_ns)
		ls->wait_max_ns = wait;
	if (wait > INV_LOCK_SLOW_NS)
		ls->waits_slow++;
	if (path != INV_LOCK_FREE)
	{
		ls->contended++;
		if (wait > INV_LOCK_SLOW_NS)
			ls->contended_slow++;
		if (path == INV_LOCK_S_LOCK)
			ls->waits_in_s_lock++;
	}
}

/* inventory_unlock of a timed acquisition: the hold, then the release */
void
inventory_unlock_timed(InventoryLockTimer *t)
{
	InventoryLockStats *ls = &inventory->lock_stats;
	uint64		faults = minor_faults();
	uint64		hold = monotonic_ns() - t->acquired_ns;

	if (faults > t->faults)
		ls->hold_faults += faults - t->faults;
	ls->hold_total_ns += hold;
	if (hold > ls->hold_max_ns)
		ls->hold_max_ns = hold;
	if (hold > INV_LOCK_SLOW_NS)
		ls->holds_slow++;
	SpinLockRelease(&inventory->mutex);
}

/*
 * The lock timing's counters, at LOG, if any acquisition was timed.  The
 * postmaster at a clean shutdown, alone (no lock, as persist.c).
 */
void
inventory_log_lock_timing(void)
{
	InventoryLockStats *ls = &inventory->lock_stats;
	uint64		n = ls->timed[INV_LOCK_CONNECTION] + ls->timed[INV_LOCK_READER];

	if (n == 0)
		return;
	ereport(LOG,
			(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
			 errmsg("pgtls_audit inventory lock timing: %llu acquisitions by connections, %llu by readers",
					(unsigned long long) ls->timed[INV_LOCK_CONNECTION],
					(unsigned long long) ls->timed[INV_LOCK_READER]),
			 errdetail("Longest wait %.3f ms, mean wait %.4f ms, waits over 1 ms: %llu; longest hold %.3f ms, mean hold %.4f ms, holds over 1 ms: %llu.  "
					   "Contended (first test-and-set failed): %llu, of which waited over 1 ms: %llu; waits that went on in s_lock: %llu; page faults while holding: %llu.",
					   ls->wait_max_ns / 1e6, ls->wait_total_ns / 1e6 / n,
					   (unsigned long long) ls->waits_slow,
					   ls->hold_max_ns / 1e6, ls->hold_total_ns / 1e6 / n,
					   (unsigned long long) ls->holds_slow,
					   (unsigned long long) ls->contended,
					   (unsigned long long) ls->contended_slow,
					   (unsigned long long) ls->waits_in_s_lock,
					   (unsigned long long) ls->hold_faults)));
}
