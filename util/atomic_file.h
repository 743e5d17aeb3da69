/* Files that are either wholly written or not there: the parts go to PATH.tmp, which is
 * flushed, synced and renamed over PATH. A crash leaves the old file (or none), never half a
 * new one. */
#ifndef MOEH_ATOMIC_FILE_H
#define MOEH_ATOMIC_FILE_H
#include <stddef.h>
#include <stdio.h>

typedef struct { const void *p; size_t n; } FilePart;

/* 0, or -1 with a message naming the file in err */
int atomic_write(const char *path, const FilePart *parts, int n_parts, char *err, size_t errlen);
/* atomic_write that calls before_rename(ctx, err, errlen) once PATH.tmp is whole and synced, before
 * the rename: what records the new file (a checkpoint's row with its sha256) is written first, so
 * a crash leaves either the old file with both records, or the new file with its record. A
 * failing hook (-1 with err) keeps the old file and removes PATH.tmp. */
typedef int (*BeforeRename)(void *ctx, char *err, size_t errlen);
int atomic_write_then(const char *path, const FilePart *parts, int n_parts, BeforeRename before_rename, void *ctx,
                      char *err, size_t errlen);
/* the same written in pieces: PATH.tmp to write to (NULL with err; opened for reading too, so
 * what was written can be read back before it is closed), then, with written 0 if a
 * write failed, synced, before_rename called and renamed over PATH; 0, or -1 with err (PATH.tmp
 * removed) */
FILE *atomic_open(const char *path, char *err, size_t errlen);
int atomic_close_then(FILE *f, int written, const char *path, BeforeRename before_rename, void *ctx, char *err,
                      size_t errlen);
/* 0 when path is a regular file or does not exist (the open that follows says so); else -1
 * with "PATH: not a regular file (a FIFO, a device, a folder ...)" in err: a FIFO or a device
 * named where a file is expected would block or never end */
int file_check_regular(const char *path, char *err, size_t errlen);
/* fopen(path, "rb") of a regular file only: NULL with err (naming the file) otherwise */
FILE *file_open_regular(const char *path, char *err, size_t errlen);
/* the folder path, or nothing if it is there already; 0, or -1 with "PATH: cannot make the
 * folder: REASON" in err */
int file_make_dir(const char *path, char *err, size_t errlen);
/* The whole file into *bytes (malloc'd), its length into *n; 0, or -1 with errno set */
int file_read_whole(const char *path, void **bytes, size_t *n);

#endif
