/*-------------------------------------------------------------------------
 *
 * files.h
 *	  Reading a whole configured file through fd.c (common/files.c).
 *
 * src/common/files.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTLS_COMMON_FILES_H
#define PGTLS_COMMON_FILES_H

#include "postgres.h"

/*
 * The whole regular file at path (at most 64 MiB) in palloc'd memory, with
 * a terminating zero after *len bytes; or NULL with *problem set to a
 * palloc'd sentence saying what is wrong.
 */
extern char *pgtls_read_file(const char *path, size_t *len, char **problem);

#endif							/* PGTLS_COMMON_FILES_H */
