/* Configuration keys as the parts that read them declare them: the harness, each task
 * (tasks/task.h) and the route table. A key has a type, a default, a range or a list of
 * choices and a line of help; `harness help run` and the checking of key=value words are
 * derived from the declarations. A leaf: uses nothing of the project. */
#ifndef MOEH_KEYS_H
#define MOEH_KEYS_H
#include <stddef.h>

/* KEY_RECORD: written by the harness into the resolved config (what ran), never set by a word */
typedef enum { KEY_INT, KEY_FLOAT, KEY_STR, KEY_ENUM, KEY_RECORD } KeyType;

typedef struct {
    const char *key;
    KeyType type;
    const char *def;      /* NULL: taken from a preset (size=) */
    const char *choices;  /* KEY_ENUM: values separated by '|' */
    double min, max;      /* KEY_INT, KEY_FLOAT */
    const char *help;
    const char *(*choices_of)(void); /* KEY_ENUM whose values come from a table (task=, router=) */
    /* left out of stored configurations while at its default: a key added after runs were
     * stored without it, whose default computes what they computed, so that their stored
     * (and comparable) configuration text stays the same */
    int omit_at_default;
} KeyDef;

/* the '|'-separated values a KEY_ENUM accepts */
const char *key_choices(const KeyDef *k);
/* 0 if value suits k, else -1 with a message naming the key and what it accepts */
int key_check_value(const KeyDef *k, const char *value, char *err, size_t errlen);

/* The names name(0) .. name(count - 1) joined by '|' into buf (for a key's choices); exits
 * with a message if buf is too small rather than cutting a name off. */
const char *key_join_names(char *buf, size_t n, const char *(*name)(int i), int count);

#endif
