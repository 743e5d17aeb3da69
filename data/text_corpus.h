/* Text corpora as byte streams split into train / valid / test. A document goes to a split by
 * a hash of its bytes, so the split is deterministic, stable when documents are added, and
 * the same wherever the corpus is read from. */
#ifndef MOEH_TEXT_CORPUS_H
#define MOEH_TEXT_CORPUS_H
#include <stddef.h>

typedef struct { unsigned char *data; size_t n, cap; } ByteBuf;

int bytebuf_append(ByteBuf *b, const void *p, size_t n);
void bytebuf_free(ByteBuf *b);

/* Reads a whole file (plain, or gzip-compressed: zlib reads both). 0 or -1 with err. */
int read_whole_file(const char *path, ByteBuf *out, char *err, size_t errlen);
/* Writes a file atomically (temporary file, then rename). */
int write_whole_file(const char *path, const void *p, size_t n, char *err, size_t errlen);

/* 0 train (90%), 1 valid (5%), 2 test (5%) from a hash of the document's bytes */
int document_split(const unsigned char *doc, size_t n);
/* Appends a document (trimmed of surrounding blank space; empty ones are skipped) to the
 * stream of its split, documents separated by a blank line. */
void add_document(ByteBuf split[3], const unsigned char *doc, size_t n);

/* Loads a corpus from path: a folder holding train.txt and valid.txt (test.txt optional) is
 * taken as already split; any other file, or every file under any other folder (in name
 * order), is cut into documents at blank lines and split by hash. */
int corpus_load(const char *path, ByteBuf split[3], char *err, size_t errlen);

#endif
