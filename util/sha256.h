/* SHA-256 (FIPS 180-4), streaming: the identity of a checkpoint file recorded in results.db,
 * checked before a stored run's weights are loaded. A leaf helper. */
#ifndef MOEH_SHA256_H
#define MOEH_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char block[64];
    size_t used;
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
/* the digest as 64 lowercase hex digits and a terminating 0 */
void sha256_hex(Sha256 *s, char out[65]);
/* the digest of a whole file into out; 0, or -1 if it cannot be read */
int sha256_file(const char *path, char out[65]);

#endif
