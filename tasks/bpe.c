#include "util/xalloc.h"
#include "bpe.h"
#include "util/atomic_file.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORD 64

struct Bpe {
    int vocab, n_merges;
    int (*merges)[2];       /* rank -> (left, right) */
    unsigned char **bytes;  /* id -> its bytes */
    int *len;               /* id -> byte count */
    uint64_t *pair_key;     /* open-addressing table: (left, right) -> rank */
    int *pair_rank;
    size_t pair_cap;
};

static uint64_t mix(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}
static uint64_t pair_of(int a, int b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static int word_start(unsigned char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* ---- tables from the merges ---- */
static int build_tables(Bpe *b) {
    b->bytes = xcalloc(b->vocab, sizeof *b->bytes);
    b->len = xcalloc(b->vocab, sizeof(int));
    b->pair_cap = 1;
    while (b->pair_cap < (size_t)b->n_merges * 2 + 16) b->pair_cap <<= 1;
    b->pair_key = xmalloc(b->pair_cap * sizeof(uint64_t));
    b->pair_rank = xmalloc(b->pair_cap * sizeof(int));
    if (!b->bytes || !b->len || !b->pair_key || !b->pair_rank) return -1;
    memset(b->pair_key, 0xff, b->pair_cap * sizeof(uint64_t));
    for (int i = 0; i < 256; i++) {
        b->bytes[i] = xmalloc(1);
        b->bytes[i][0] = (unsigned char)i;
        b->len[i] = 1;
    }
    for (int r = 0; r < b->n_merges; r++) {
        int l = b->merges[r][0], rt = b->merges[r][1], id = 256 + r;
        if (l < 0 || rt < 0 || l >= id || rt >= id) return -1;
        b->len[id] = b->len[l] + b->len[rt];
        b->bytes[id] = xmalloc(b->len[id]);
        memcpy(b->bytes[id], b->bytes[l], b->len[l]);
        memcpy(b->bytes[id] + b->len[l], b->bytes[rt], b->len[rt]);
        uint64_t k = pair_of(l, rt);
        size_t h = mix(k) & (b->pair_cap - 1);
        while (b->pair_key[h] != UINT64_MAX && b->pair_key[h] != k) h = (h + 1) & (b->pair_cap - 1);
        b->pair_key[h] = k;
        b->pair_rank[h] = r;
    }
    return 0;
}

static int pair_rank(const Bpe *b, int l, int r) {
    uint64_t k = pair_of(l, r);
    size_t h = mix(k) & (b->pair_cap - 1);
    while (b->pair_key[h] != UINT64_MAX) {
        if (b->pair_key[h] == k) return b->pair_rank[h];
        h = (h + 1) & (b->pair_cap - 1);
    }
    return -1;
}

void bpe_free(Bpe *b) {
    if (!b) return;
    for (int i = 0; b->bytes && i < b->vocab; i++) free(b->bytes[i]);
    free(b->bytes); free(b->len); free(b->merges); free(b->pair_key); free(b->pair_rank);
    free(b);
}

int bpe_vocab(const Bpe *b) { return b->vocab; }
int bpe_token_len(const Bpe *b, int id) { return b->len[id]; }
const unsigned char *bpe_token_bytes(const Bpe *b, int id) { return b->bytes[id]; }

/* ---- training over word types ---- */
typedef struct { int sym[MAX_WORD]; int n; long long count; } WordType;

typedef struct { uint64_t *key; long long *val; size_t cap; } CountMap;

static void cm_init(CountMap *m, size_t cap) {
    m->cap = cap;
    m->key = xmalloc(cap * sizeof(uint64_t));
    m->val = xmalloc(cap * sizeof(long long));
}

Bpe *bpe_train(const unsigned char *text, size_t n, int vocab) {
    if (vocab < 257 || vocab > 65536) return NULL;
    /* word types: hash of the bytes -> index */
    size_t tcap = 1 << 16, ntypes = 0, hcap = 1 << 18;
    WordType *types = xmalloc(tcap * sizeof(WordType));
    int64_t *slot = xmalloc(hcap * sizeof(int64_t));
    uint64_t *slot_hash = xmalloc(hcap * sizeof(uint64_t));
    for (size_t i = 0; i < hcap; i++) slot[i] = -1;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !word_start(text[j]) && j - i < MAX_WORD) j++;
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t k = i; k < j; k++) { h ^= text[k]; h *= 0x100000001b3ull; }
        h ^= (j - i);
        size_t p = mix(h) & (hcap - 1);
        for (;;) {
            if (slot[p] < 0) {
                if (ntypes == tcap) { tcap *= 2; types = xrealloc(types, tcap * sizeof(WordType)); }
                WordType *w = &types[ntypes];
                w->n = (int)(j - i);
                for (size_t k = i; k < j; k++) w->sym[k - i] = text[k];
                w->count = 1;
                slot[p] = (int64_t)ntypes++;
                slot_hash[p] = h;
                break;
            }
            WordType *w = &types[slot[p]];
            if (slot_hash[p] == h && w->n == (int)(j - i)) {
                int same = 1;
                for (size_t k = i; k < j && same; k++) same = w->sym[k - i] == text[k];
                if (same) { w->count++; break; }
            }
            p = (p + 1) & (hcap - 1);
            if (ntypes * 2 > hcap) break; /* table nearly full: the rest of the words are ignored */
        }
        if (ntypes * 2 > hcap) break;
        i = j;
    }
    free(slot);
    free(slot_hash);
    Bpe *b = xcalloc(1, sizeof *b);
    b->vocab = vocab;
    b->merges = xmalloc(sizeof(int[2]) * (vocab - 256 > 0 ? vocab - 256 : 1));
    CountMap pairs;
    cm_init(&pairs, 1 << 20);
    memset(pairs.key, 0xff, pairs.cap * sizeof(uint64_t));
    size_t *touched = xmalloc(pairs.cap / 2 * sizeof(size_t));
    for (int id = 256; id < vocab; id++) {
        size_t used = 0;
        for (size_t t = 0; t < ntypes && used * 2 < pairs.cap; t++)
            for (int k = 0; k + 1 < types[t].n; k++) {
                uint64_t key = pair_of(types[t].sym[k], types[t].sym[k + 1]);
                size_t h = mix(key) & (pairs.cap - 1);
                while (pairs.key[h] != UINT64_MAX && pairs.key[h] != key) h = (h + 1) & (pairs.cap - 1);
                if (pairs.key[h] == UINT64_MAX) { pairs.key[h] = key; pairs.val[h] = 0; touched[used++] = h; }
                pairs.val[h] += types[t].count;
            }
        uint64_t best = UINT64_MAX;
        long long best_count = 0;
        for (size_t u = 0; u < used; u++) {
            size_t h = touched[u];
            if (pairs.val[h] > best_count || (pairs.val[h] == best_count && pairs.key[h] < best)) {
                best = pairs.key[h];
                best_count = pairs.val[h];
            }
            pairs.key[h] = UINT64_MAX; /* clear as we go: only the touched slots */
        }
        if (best_count < 2) break; /* nothing left worth merging */
        int l = (int)(best >> 32), r = (int)(best & 0xffffffffu);
        b->merges[b->n_merges][0] = l;
        b->merges[b->n_merges][1] = r;
        b->n_merges++;
        for (size_t t = 0; t < ntypes; t++) {
            WordType *w = &types[t];
            int o = 0;
            for (int k = 0; k < w->n; k++) {
                if (k + 1 < w->n && w->sym[k] == l && w->sym[k + 1] == r) { w->sym[o++] = id; k++; }
                else w->sym[o++] = w->sym[k];
            }
            w->n = o;
        }
    }
    free(pairs.key);
    free(pairs.val);
    free(touched);
    free(types);
    b->vocab = 256 + b->n_merges;
    if (build_tables(b)) { bpe_free(b); return NULL; }
    return b;
}

/* ---- encoding: per word, merge the lowest-ranked adjacent pair until none is left ---- */
size_t bpe_encode(const Bpe *b, const unsigned char *text, size_t n, int *ids) {
    size_t out = 0;
    int sym[MAX_WORD];
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !word_start(text[j]) && j - i < MAX_WORD) j++;
        int m = (int)(j - i);
        for (int k = 0; k < m; k++) sym[k] = text[i + k];
        for (;;) {
            int best = -1, at = -1;
            for (int k = 0; k + 1 < m; k++) {
                int r = pair_rank(b, sym[k], sym[k + 1]);
                if (r >= 0 && (best < 0 || r < best)) { best = r; at = k; }
            }
            if (best < 0) break;
            sym[at] = 256 + best;
            memmove(sym + at + 1, sym + at + 2, sizeof(int) * (m - at - 2));
            m--;
        }
        for (int k = 0; k < m; k++) ids[out++] = sym[k];
        i = j;
    }
    return out;
}

size_t bpe_decode(const Bpe *b, const int *ids, size_t n, unsigned char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + o, b->bytes[ids[i]], b->len[ids[i]]);
        o += b->len[ids[i]];
    }
    return o;
}

int bpe_save(const Bpe *b, const char *path, char *err, size_t errlen) {
    size_t cap = 64 + (size_t)b->n_merges * 24, n = 0;
    char *text = xmalloc(cap);
    n += snprintf(text + n, cap - n, "moeh-bpe 1 merges %d\n", b->n_merges);
    for (int r = 0; r < b->n_merges; r++) n += snprintf(text + n, cap - n, "%d %d\n", b->merges[r][0], b->merges[r][1]);
    FilePart part = {text, n};
    int rc = atomic_write(path, &part, 1, err, errlen);
    free(text);
    return rc;
}

Bpe *bpe_load(const char *path, char *err, size_t errlen) {
    FILE *f = file_open_regular(path, err, errlen);
    if (!f) return NULL;
    int n;
    if (fscanf(f, "moeh-bpe 1 merges %d\n", &n) != 1 || n < 0 || n > 65536 - 256) {
        snprintf(err, errlen, "%s: line 1: expected 'moeh-bpe 1 merges N'", path);
        fclose(f);
        return NULL;
    }
    Bpe *b = xcalloc(1, sizeof *b);
    b->n_merges = n;
    b->vocab = 256 + n;
    b->merges = xmalloc(sizeof(int[2]) * (n ? n : 1));
    for (int r = 0; r < n; r++)
        if (fscanf(f, "%d %d", &b->merges[r][0], &b->merges[r][1]) != 2) {
            snprintf(err, errlen, "%s: line %d: expected two token ids", path, r + 2);
            fclose(f);
            bpe_free(b);
            return NULL;
        }
    fclose(f);
    if (build_tables(b)) {
        snprintf(err, errlen, "%s: a merge refers to a token that does not exist yet", path);
        bpe_free(b);
        return NULL;
    }
    return b;
}
