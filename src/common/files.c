/*-------------------------------------------------------------------------
 *
 * files.c
 *	  Reading a whole file the server is configured with (certificates,
 *	  keys, CRLs) through fd.c's AllocateFile, so that the descriptor is
 *	  tracked and closed at the end of the transaction even on an ERROR.
 *
 * What goes wrong with the file is returned as a sentence (for a note or a
 * finding), never raised: a configured file that is missing or unreadable
 * must not fail the query that looks at it.
 *
 * src/common/files.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "common/files.h"
#include "storage/fd.h"

/* Larger configured files are reported, not read. */
#define MAX_CONFIG_FILE_SIZE (64 * 1024 * 1024)

/* Whole file in palloc'd memory, or NULL with *problem set. */
char *
pgtls_read_file(const char *path, size_t *len, char **problem)
{
	FILE	   *f;
	struct stat st;
	char	   *buf;

	*problem = NULL;
	f = AllocateFile(path, PG_BINARY_R);
	if (f == NULL)
	{
		*problem = psprintf("could not open file \"%s\": %m", path);
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0)
	{
		*problem = psprintf("could not stat file \"%s\": %m", path);
		FreeFile(f);
		return NULL;
	}
	if (!S_ISREG(st.st_mode))
	{
		*problem = psprintf("\"%s\" is not a regular file", path);
		FreeFile(f);
		return NULL;
	}
	if (st.st_size > MAX_CONFIG_FILE_SIZE)
	{
		*problem = psprintf("file \"%s\" is too large (%lld bytes)", path,
							(long long) st.st_size);
		FreeFile(f);
		return NULL;
	}
	buf = palloc(st.st_size + 1);
	*len = fread(buf, 1, st.st_size, f);
	if (ferror(f))
	{
		*problem = psprintf("could not read file \"%s\": %m", path);
		FreeFile(f);
		pfree(buf);
		return NULL;
	}
	FreeFile(f);
	buf[*len] = '\0';
	return buf;
}
