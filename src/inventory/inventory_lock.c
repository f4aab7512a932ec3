/*-------------------------------------------------------------------------
 *
 * inventory_lock.c
 *	  Waiting for the inventory's spinlock, and the test-only lock timing
 *	  (pgtls_audit.debug_lock_timing).  The lock itself, what it protects
 *	  and the rules for holding it are in inventory_internal.h.
 *
 * Waiting.  inventory_lock_acquire (inventory_internal.h) tries the lock
 * once with TAS, as SpinLockAcquire does; only when that fails does it
 * call inventory_lock_wait here: a short back-off (100 us of spinning,
 * then sleeps of tens of microseconds), then PostgreSQL's own s_lock()
 * with its delays and its stuck-spinlock PANIC (see inventory_lock_wait).
 * A connection adding its attempt takes the first TAS and the spin only
 * (inventory_lock_try): when the lock is still held after them, it defers
 * its attempt instead of sleeping (inventory_internal.h, inventory.c), and
 * goes on to the sleeps only when no slot is free.
 *
 * Timing.  With pgtls_audit.debug_lock_timing on, each acquisition is
 * timed with CLOCK_MONOTONIC: the wait from before the first TAS to after
 * the acquire, the hold from there to near the release (see below).
 * Besides the counts and maxima, the stats keep the acquisitions whose first TAS
 * failed (contended: another process held the lock) and how many of
 * those waited over 1 ms, so that a slow wait of the waiter's own making
 * (descheduled between its two clock reads) can be told from real
 * contention, and the minor page faults the holder took while holding
 * (getrusage just before the acquire and just before the release, so
 * also any fault while waiting, rare: the second call keeps the lock
 * about 1.5 us longer when timed, left out of the hold time; neither is
 * in the wait, whose window for an uncontended acquisition is one TAS
 * between two clock reads).  All of it is updated under the lock
 * itself.
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
 * The short back-off: spin for INV_LOCK_SPIN_NS (holds last about a
 * microsecond, the longest under load tens of them, so a waiter whose
 * holder is running gets the lock here without leaving the CPU: a
 * sched_yield() or a sleep could keep it off the CPU for milliseconds on
 * a busy machine); then sleep INV_LOCK_SLEEP_MIN_US doubling to
 * INV_LOCK_SLEEP_MAX_US, spinning INV_LOCK_RESPIN_NS after each, until
 * INV_LOCK_BACKOFF_US of sleep were asked for in all (the kernel's timer
 * slack, 50 us by default, adds to each sleep: about 20 to 40 ms in all).
 */
#define INV_LOCK_SPIN_NS		100000
#define INV_LOCK_RESPIN_NS		5000
#define INV_LOCK_SPINS_PER_CLOCK 32	/* TAS_SPIN tries between clock reads */
#define INV_LOCK_SLEEP_MIN_US	10
#define INV_LOCK_SLEEP_MAX_US	100
#define INV_LOCK_BACKOFF_US		20000

static InventoryLockPath lock_wait_sleeping(void);
static uint64 minor_faults(void);
static void lock_timed_acquired(InventoryLockTimer *t, InventoryLockPath path);

/* CLOCK_MONOTONIC in ns, for the spinning and the lock timing */
static uint64
monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64) ts.tv_sec * UINT64CONST(1000000000) + (uint64) ts.tv_nsec;
}

/* TAS_SPIN until the lock is taken (true) or ns have passed (false) */
static bool
spin_for(volatile slock_t *lock, uint64 ns)
{
	uint64		until = monotonic_ns() + ns;

	do
	{
		for (int i = 0; i < INV_LOCK_SPINS_PER_CLOCK; i++)
		{
			if (!TAS_SPIN(lock))
				return true;
			SPIN_DELAY();
		}
	} while (monotonic_ns() < until);
	return false;
}

/*
 * The lock was taken when the first TAS tried it: wait for it.  A holder
 * keeps it for microseconds, but s_lock() sleeps at least 1 ms once its
 * spinning fails, so any wait longer than the spinning (a holder
 * descheduled on a busy machine, a holder taking a page fault) would
 * become a wait of 1 ms or more.  So first a short back-off of our own,
 * spinning, then with sleeps of tens of microseconds; a lock still held
 * after it (a holder that is stuck or descheduled for long) is left to
 * s_lock(), which keeps its semantics: its own delays, then a
 * stuck-spinlock PANIC after minutes, as for any spinlock of the server.
 * The back-off adds tens of milliseconds to that, never an endless loop.
 *
 * Safe where it runs: nothing here raises an error or checks for
 * interrupts, and the lock is not held while waiting, so a signal
 * handler's _exit(1) during start-up (core's SIGTERM and
 * authentication_timeout handlers) leaves nothing behind.  pg_usleep
 * returns early on a signal; the loop then simply goes on.
 */
InventoryLockPath
inventory_lock_wait(void)
{
	if (spin_for(&inventory->mutex, INV_LOCK_SPIN_NS))
		return INV_LOCK_BACKOFF;
	return lock_wait_sleeping();
}

/* inventory_lock_wait after its first spin: the sleeps, then s_lock() */
static InventoryLockPath
lock_wait_sleeping(void)
{
	volatile slock_t *lock = &inventory->mutex;
	long		delay_us = INV_LOCK_SLEEP_MIN_US;
	long		slept_us = 0;

	while (slept_us < INV_LOCK_BACKOFF_US)
	{
		pg_usleep(delay_us);
		slept_us += delay_us;
		delay_us = Min(delay_us * 2, INV_LOCK_SLEEP_MAX_US);
		if (spin_for(lock, INV_LOCK_RESPIN_NS))
			return INV_LOCK_BACKOFF;
	}
	s_lock(lock, __FILE__, __LINE__, __func__);
	return INV_LOCK_S_LOCK;
}

/*
 * A connection's acquisition (inventory_add): the first TAS and the short
 * spin only.  True with the lock taken; false, with nothing held, when it
 * is still held after INV_LOCK_SPIN_NS: the caller then defers its attempt
 * (inventory.c) or, when it cannot, waits on with inventory_lock_after_try.
 * Timed as inventory_lock; a deferral's wait (until it gave up) is counted
 * by inventory_lock_count_deferred, when the attempt is added.
 */
bool
inventory_lock_try(InventoryLockTimer *t)
{
	InventoryLockPath path;

	t->timed = unlikely(pgtls_audit_debug_lock_timing);
	t->site = INV_LOCK_CONNECTION;
	if (t->timed)
	{
		t->faults = minor_faults();
		t->start_ns = monotonic_ns();
	}
	if (likely(!TAS(&inventory->mutex)))
		path = INV_LOCK_FREE;
	else if (spin_for(&inventory->mutex, INV_LOCK_SPIN_NS))
		path = INV_LOCK_BACKOFF;
	else
	{
		if (t->timed)
			t->acquired_ns = monotonic_ns();	/* when it gave up */
		return false;
	}
	if (t->timed)
		lock_timed_acquired(t, path);
	return true;
}

/* After a failed inventory_lock_try: wait for the lock as inventory_lock does */
void
inventory_lock_after_try(InventoryLockTimer *t)
{
	InventoryLockPath path = lock_wait_sleeping();

	if (t->timed)
		lock_timed_acquired(t, path);
}

/*
 * Under the lock: a deferred attempt was added.  Its connection's wait, when
 * timed, counts as a wait (until it gave up the lock and deferred); it is
 * not an acquisition.
 */
void
inventory_lock_count_deferred(bool timed, uint64 wait_ns)
{
	InventoryLockStats *ls = &inventory->lock_stats;

	ls->deferred++;
	if (!timed)
		return;
	ls->wait_total_ns += wait_ns;
	if (wait_ns > ls->wait_max_ns)
		ls->wait_max_ns = wait_ns;
	if (wait_ns > INV_LOCK_SLOW_NS)
	{
		ls->waits_slow++;
		ls->deferred_slow++;
	}
}

/*
 * This process's minor page faults so far.  RUSAGE_THREAD where there is
 * one (Linux; a backend has one thread): a system call of about 1.5 us
 * on the test machine, where RUSAGE_SELF takes about 4 us.
 */
static uint64
minor_faults(void)
{
	struct rusage ru;

#ifdef RUSAGE_THREAD
	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return 0;
#else
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
#endif
	return (uint64) ru.ru_minflt;
}

/*
 * inventory_lock with pgtls_audit.debug_lock_timing on: the wait is
 * counted under the lock, at once.
 */
void
inventory_lock_timed(InventoryLockTimer *t)
{
	InventoryLockPath path;

	t->faults = minor_faults();
	t->start_ns = monotonic_ns();
	path = inventory_lock_acquire();
	lock_timed_acquired(t, path);
}

/* A timed acquisition, just taken by path: count its wait, under the lock */
static void
lock_timed_acquired(InventoryLockTimer *t, InventoryLockPath path)
{
	InventoryLockStats *ls = &inventory->lock_stats;
	uint64		wait;

	t->acquired_ns = monotonic_ns();
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
	uint64		hold = monotonic_ns() - t->acquired_ns;
	uint64		faults = minor_faults();

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
	uint64		waits = n + ls->deferred;

	if (waits == 0)
		return;
	ereport(LOG,
			(errcode(ERRCODE_SUCCESSFUL_COMPLETION),
			 errmsg("pgtls_audit inventory lock timing: %llu acquisitions by connections, %llu by readers",
					(unsigned long long) ls->timed[INV_LOCK_CONNECTION],
					(unsigned long long) ls->timed[INV_LOCK_READER]),
			 errdetail("Longest wait %.3f ms, mean wait %.4f ms, waits over 1 ms: %llu; longest hold %.3f ms, mean hold %.4f ms, holds over 1 ms: %llu.  "
					   "Contended (first test-and-set failed): %llu, of which waited over 1 ms: %llu; waits that went on in s_lock: %llu; page faults while holding: %llu.  "
					   "Attempts deferred (the lock still held after the first spin; their waits are among the waits): %llu, of which waited over 1 ms: %llu.",
					   ls->wait_max_ns / 1e6, ls->wait_total_ns / 1e6 / waits,
					   (unsigned long long) ls->waits_slow,
					   ls->hold_max_ns / 1e6, ls->hold_total_ns / 1e6 / Max(n, 1),
					   (unsigned long long) ls->holds_slow,
					   (unsigned long long) ls->contended,
					   (unsigned long long) ls->contended_slow,
					   (unsigned long long) ls->waits_in_s_lock,
					   (unsigned long long) ls->hold_faults,
					   (unsigned long long) ls->deferred,
					   (unsigned long long) ls->deferred_slow)));
}
