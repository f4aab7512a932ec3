/*-------------------------------------------------------------------------
 *
 * log_file.c
 *	  Append audit records to the dedicated audit file
 *	  (pgtls_audit.log_destination = 'file'): one JSON object per line,
 *	  nothing before or after it, whatever pgtls_audit.log_format says for
 *	  the server log.
 *
 * Each record is one write() of the whole line on a descriptor opened
 * with O_APPEND, so records of concurrent backends never interleave (the
 * kernel appends each write whole to a regular file).  A backend writes
 * one record in its life (audit/hooks.c), and with log_connections or
 * log_failures = new at most a few summary records just before it; the
 * file is opened for each record and closed after it: nothing is kept
 * open, a rename by
 * logrotate takes effect for the very next record (the reload that
 * logrotate sends only matters when the settings changed), and a record
 * is in either the old or the new file, never lost and never in both.
 * The file is created with mode 0600, owned by the server's user; if its
 * directory does not exist, that one directory is created (mode of the
 * data directory).  The path is relative to the data directory (the
 * backend's working directory) unless absolute.
 *
 * Nothing here raises an error or blocks on a lock: the record is also
 * written from an on_proc_exit callback during start-up, where an ERROR
 * becomes FATAL (see audit/hooks.c).  The line is formatted into the
 * record context with MCXT_ALLOC_NO_OOM, the file is opened with plain
 * open() (fd.c's bookkeeping would not help for a descriptor held for
 * one write), and a failure is reported by result: the caller counts it
 * in records_dropped and the login is never delayed or refused.  The
 * WARNING about a failure is written at most once a minute by the whole
 * server, with the number of records that could not be written since the
 * previous one; the time and that number live in a small shared-memory
 * struct updated with atomics only.  A short write (disk full) is taken
 * back: the file is truncated to where the record began, if nothing was
 * appended after it (with the disk full nothing else can be; the file's
 * size is compared first), so no half record stays in the file.  Where
 * that cannot be done the cut line is ended with a newline, so that the
 * next record starts a line of its own.  Either way the record is counted
 * in records_dropped.
 *
 * src/audit/log_file.c
 *
 *-------------------------------------------------------------------------
 */
#include "pgtls_audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/format.h"
#include "audit/log_file.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"

/* A failure WARNING at most this often (seconds), for the whole server. */
#define FAILURE_WARNING_INTERVAL 60

typedef struct LogFileShared
{
	pg_atomic_uint64 last_warning;	/* time(NULL) of the last WARNING, 0 none */
	pg_atomic_uint32 unreported;	/* failures since that WARNING */
} LogFileShared;

static LogFileShared *log_file_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
log_file_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(LogFileShared)));
}

static void
log_file_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	log_file_shared = ShmemInitStruct("pgtls_audit log file",
									  sizeof(LogFileShared), &found);
	if (!found)
	{
		pg_atomic_init_u64(&log_file_shared->last_warning, 0);
		pg_atomic_init_u32(&log_file_shared->unreported, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init, when preloaded. */
void
audit_log_file_install(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = log_file_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = log_file_shmem_startup;
}

/*
 * Is it this backend's turn to warn?  *count is set to the number of
 * failures the WARNING reports (this one included).
 */
static bool
take_warning_turn(uint32 *count)
{
	uint64		now = (uint64) time(NULL);
	uint64		last;

	if (log_file_shared == NULL)
	{
		*count = 1;
		return true;
	}
	pg_atomic_fetch_add_u32(&log_file_shared->unreported, 1);
	last = pg_atomic_read_u64(&log_file_shared->last_warning);
	if (last != 0 && now >= last && now - last < FAILURE_WARNING_INTERVAL)
		return false;
	/* one backend wins the minute; the others' failures wait for the next */
	if (!pg_atomic_compare_exchange_u64(&log_file_shared->last_warning, &last, now))
		return false;
	*count = pg_atomic_exchange_u32(&log_file_shared->unreported, 0);
	return true;
}

/* A server-only WARNING, rate-limited (see the header comment). */
static void
report_failure(const char *path, int save_errno)
{
	uint32		count;
	CommandDest saved_dest = whereToSendOutput;

	if (!take_warning_turn(&count))
		return;
	/* never to a client that is still connecting or already gone */
	whereToSendOutput = DestNone;
	errno = save_errno;
	ereport(WARNING,
			(errcode_for_file_access(),
			 errmsg("pgtls_audit could not write to audit file \"%s\": %m", path),
			 errdetail_plural("%u audit record could not be written to the file since the last such warning; each is counted in pgtls_audit.stats.records_dropped.",
							  "%u audit records could not be written to the file since the last such warning; each is counted in pgtls_audit.stats.records_dropped.",
							  count, count),
			 errhint("This warning is written at most once a minute.  Connection attempts are not affected.")));
	whereToSendOutput = saved_dest;
}

/* open() for appending, creating the file and, once, its directory */
static int
open_audit_file(const char *path)
{
	int			fd;
	char		dir[MAXPGPATH];
	char	   *slash;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return -1;
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return -1;
	*slash = '\0';
	if (MakePGDirectory(dir) < 0 && errno != EEXIST)
	{
		errno = ENOENT;
		return -1;
	}
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, S_IRUSR | S_IWUSR);
}

/*
 * Append the record to the audit file.  False (and a rate-limited WARNING)
 * when it could not be written whole; never raises an error.
 */
bool
audit_log_file_write(const AuditRecord *rec)
{
	const char *path = pgtls_audit_log_file;
	char	   *line;
	size_t		len = 0;
	ssize_t		written;
	int			fd;
	int			save_errno = 0;

	if (path == NULL || path[0] == '\0')
	{
		report_failure("", ENOENT);
		return false;
	}
	line = audit_format_file_line_alloc(rec, audit_record_context(), &len);
	if (line == NULL)
	{
		report_failure(path, ENOMEM);
		return false;
	}

	fd = open_audit_file(path);
	if (fd < 0)
	{
		report_failure(path, errno);
		return false;
	}
	do
		written = write(fd, line, len);
	while (written < 0 && errno == EINTR);
	if (written < 0)
		save_errno = errno;
	else if ((size_t) written < len)
	{
		/* disk full: take the cut line back, or else end it */
		off_t		end = lseek(fd, 0, SEEK_CUR);
		struct stat st;

		save_errno = ENOSPC;
		if (end < written || fstat(fd, &st) != 0 || st.st_size != end ||
			ftruncate(fd, end - written) != 0)
		{
			if (write(fd, "\n", 1) < 0)
				save_errno = errno;
		}
	}
	close(fd);
	if (save_errno != 0)
	{
		report_failure(path, save_errno);
		return false;
	}
	return true;
}
