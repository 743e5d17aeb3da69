/* Byte-level BPE: a vocabulary of the 256 bytes plus merges learned on training text, so
 * every language and script encodes, and decode(encode(x)) == x for any bytes. Merges never
 * cross a word start (a whitespace byte begins a word, GPT-2 style), which keeps training and
 * encoding word by word. */
#ifndef MOEH_BPE_H
#define MOEH_BPE_H
#include <stddef.h>

typedef struct Bpe Bpe;

/* Learns vocab - 256 merges from text (vocab from 257 to 65536). NULL on bad vocab. */
Bpe *bpe_train(const unsigned char *text, size_t n, int vocab);
void bpe_free(Bpe *b);
int bpe_vocab(const Bpe *b);
/* bytes of token id */
int bpe_token_len(const Bpe *b, int id);
const unsigned char *bpe_token_bytes(const Bpe *b, int id);
/* Encodes n bytes into ids (room for n ids: never more tokens than bytes); returns the count. */
size_t bpe_encode(const Bpe *b, const unsigned char *text, size_t n, int *ids);
/* Decodes into out (room for the sum of token lengths); returns the byte count. */
size_t bpe_decode(const Bpe *b, const int *ids, size_t n, unsigned char *out);
/* Text file: a header line, then one merge "left right" per line, in rank order. */
int bpe_save(const Bpe *b, const char *path, char *err, size_t errlen);
Bpe *bpe_load(const char *path, char *err, size_t errlen);

#endif
