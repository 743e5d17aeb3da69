/* Allocation that cannot be forgotten to check: on failure it says where and how much, and
 * exits with status 2 (an input too large for this machine). For data loading and evaluation,
 * where a NULL would otherwise travel; the training step allocates nothing. */
#ifndef MOEH_XALLOC_H
#define MOEH_XALLOC_H
#include <stddef.h>

void *xmalloc_at(size_t n, const char *file, int line);
void *xcalloc_at(size_t n, size_t size, const char *file, int line);
void *xrealloc_at(void *p, size_t n, const char *file, int line);

#define xmalloc(n) xmalloc_at((n), __FILE__, __LINE__)
#define xcalloc(n, size) xcalloc_at((n), (size), __FILE__, __LINE__)
#define xrealloc(p, n) xrealloc_at((p), (n), __FILE__, __LINE__)

#endif
