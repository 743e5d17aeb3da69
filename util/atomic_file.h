/* Files that are either wholly written or not there: the parts go to PATH.tmp, which is
 * flushed, synced and renamed over PATH. A crash leaves the old file (or none), never half a
 * new one. */
#ifndef MOEH_ATOMIC_FILE_H
#define MOEH_ATOMIC_FILE_H
#include <stddef.h>

typedef struct { const void *p; size_t n; } FilePart;

/* 0, or -1 with a message naming the file in err */
int atomic_write(const char *path, const FilePart *parts, int n_parts, char *err, size_t errlen);
/* The whole file into *bytes (malloc'd), its length into *n; 0, or -1 with errno set */
int file_read_whole(const char *path, void **bytes, size_t *n);

#endif
