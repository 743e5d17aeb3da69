#include "hash_map.h"
#include <stdlib.h>
#include <string.h>

/* splitmix64's finaliser: ids are often sequential, so they need mixing before masking */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t str_hash64(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return mix64(h);
}

int id_map_get(const IdMap *m, uint64_t key) {
    if (!m->cap) return -1;
    for (size_t i = mix64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->values[i] < 0) return -1;
        if (m->keys[i] == key) return m->values[i];
    }
}

static int id_map_grow(IdMap *m) {
    size_t cap = m->cap ? 2 * m->cap : 64;
    uint64_t *keys = malloc(sizeof *keys * cap);
    int *values = malloc(sizeof *values * cap);
    if (!keys || !values) { free(keys); free(values); return -1; }
    memset(values, 0xff, sizeof *values * cap); /* every slot -1 */
    for (size_t j = 0; j < m->cap; j++) {
        if (m->values[j] < 0) continue;
        size_t i = mix64(m->keys[j]) & (cap - 1);
        while (values[i] >= 0) i = (i + 1) & (cap - 1);
        keys[i] = m->keys[j];
        values[i] = m->values[j];
    }
    free(m->keys);
    free(m->values);
    m->keys = keys;
    m->values = values;
    m->cap = cap;
    return 0;
}

int id_map_put(IdMap *m, uint64_t key, int value) {
    if (2 * (m->n + 1) > m->cap && id_map_grow(m)) return -1;
    size_t i = mix64(key) & (m->cap - 1);
    while (m->values[i] >= 0 && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    if (m->values[i] < 0) m->n++;
    m->keys[i] = key;
    m->values[i] = value;
    return 0;
}

void id_map_free(IdMap *m) {
    free(m->keys);
    free(m->values);
    *m = (IdMap){0};
}

int str_map_find(const StrMap *m, const char *s) {
    if (!m->cap) return -1;
    for (size_t i = str_hash64(s) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->slots[i] < 0) return -1;
        if (!strcmp(m->strings[m->slots[i]], s)) return m->slots[i];
    }
}

static int str_map_grow(StrMap *m) {
    size_t cap = m->cap ? 2 * m->cap : 64;
    int *slots = malloc(sizeof *slots * cap);
    if (!slots) return -1;
    memset(slots, 0xff, sizeof *slots * cap);
    for (int id = 0; id < m->n; id++) {
        size_t i = str_hash64(m->strings[id]) & (cap - 1);
        while (slots[i] >= 0) i = (i + 1) & (cap - 1);
        slots[i] = id;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int str_map_intern(StrMap *m, const char *s) {
    int id = str_map_find(m, s);
    if (id >= 0) return id;
    if (2 * ((size_t)m->n + 1) > m->cap && str_map_grow(m)) return -1;
    if (m->n == m->strings_cap) {
        int cap = m->strings_cap ? 2 * m->strings_cap : 64;
        char **strings = realloc(m->strings, sizeof *strings * cap);
        if (!strings) return -1;
        m->strings = strings;
        m->strings_cap = cap;
    }
    char *copy = strdup(s);
    if (!copy) return -1;
    size_t i = str_hash64(s) & (m->cap - 1);
    while (m->slots[i] >= 0) i = (i + 1) & (m->cap - 1);
    m->slots[i] = m->n;
    m->strings[m->n] = copy;
    return m->n++;
}

void str_map_free(StrMap *m) {
    for (int i = 0; i < m->n; i++) free(m->strings[i]);
    free(m->strings);
    free(m->slots);
    *m = (StrMap){0};
}
