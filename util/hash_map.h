/* Open-addressing hash maps for loading data sets at their real size: 64-bit ids to an
 * index (question_id -> question, image_id -> image slot), and an interner that numbers
 * distinct strings (answers, question texts, image paths). Both grow; both report a failed
 * allocation instead of crashing. A leaf helper: uses nothing from the project. */
#ifndef MOEH_HASH_MAP_H
#define MOEH_HASH_MAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys;
    int *values;   /* -1: empty slot */
    size_t cap, n; /* cap is a power of two, at most half full */
} IdMap;

/* value of key, or -1 */
int id_map_get(const IdMap *m, uint64_t key);
/* sets key to value (>= 0), replacing an earlier value. 0, or -1 when out of memory. */
int id_map_put(IdMap *m, uint64_t key, int value);
void id_map_free(IdMap *m);

typedef struct {
    char **strings; /* id -> its string (a copy) */
    int n, strings_cap;
    int *slots;     /* hash slot -> id, -1 empty */
    size_t cap;
} StrMap;

/* the 64-bit hash the string map uses (FNV-1a, then mixed): also a stable name for a string */
uint64_t str_hash64(const char *s);

/* id of s, or -1 */
int str_map_find(const StrMap *m, const char *s);
/* id of s, numbering a new string n; -1 when out of memory */
int str_map_intern(StrMap *m, const char *s);
void str_map_free(StrMap *m);

#endif
