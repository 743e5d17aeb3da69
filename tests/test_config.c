/* Configuration keys: presets, explicit overrides, errors that name the key and the nearest
 * known key, and the JSON form stored with every run. */
#include "check.h"
#include "harness/config.h"
#include "harness/run.h"
#include "harness/run_identity.h"
#include "tasks/task.h"
#include <string.h>

/* the keys a task declares: known to the configuration, checked by their declaration, reaching
 * the task through TaskOptions; a task's presets over the size preset, unless set */
static void test_task_keys(void) {
    char err[512];
    for (int t = 0; t < TASK_KIND_COUNT; t++)
        for (int k = 0; k < TASK_KINDS[t]->n_keys; k++)
            CHECK(config_unknown_key(TASK_KINDS[t]->keys[k].key) == NULL, "task=%s's key %s is a run key",
                  TASK_KINDS[t]->name, TASK_KINDS[t]->keys[k].key);
    Config *c = config_new();
    CHECK(config_set(c, "answers=0", err, sizeof err) != 0 && strstr(err, "answers=0") && strstr(err, "from 1"),
          "vqa's answers= checked by its declaration: %s", err);
    CHECK(config_set(c, "pair=both", err, sizeof err) != 0 && strstr(err, "separate|joint"), "reasoning's pair=: %s", err);
    CHECK(config_set(c, "task=reasoning", err, sizeof err) == 0 && config_set(c, "codebook=64", err, sizeof err) == 0 &&
          config_set(c, "size=tiny", err, sizeof err) == 0, "%s", err);
    config_resolve(c);
    TaskOptions o = run_task_options(c);
    CHECK(task_option_int(&o, "codebook") == 64 && task_option_float(&o, "mask_image") == 0.4 &&
          !strcmp(task_option(&o, "pair"), "separate"), "declared keys reach the task: set, else the default");
    CHECK(config_int(c, "batch") == 64 && config_float(c, "lr") == 1e-3, "reasoning's presets over size=tiny's");
    Config *d = config_new();
    CHECK(config_set(d, "task=reasoning", err, sizeof err) == 0 && config_set(d, "batch=8", err, sizeof err) == 0, "%s", err);
    config_resolve(d);
    CHECK(config_int(d, "batch") == 8 && config_float(d, "lr") == 1e-3, "an explicit batch= wins over the task's preset, lr takes it: %g",
          config_float(d, "lr"));
    config_free(c);
    config_free(d);
    CHECK(task_kind_find("vqa") && !task_kind_find("nosuch") && strstr(task_names(), "captioning"), "the task table");
    /* a route's own key: known, checked by its declaration, out of the stored config at its default */
    Config *e = config_new();
    CHECK(config_unknown_key("sinkhorn_iterations") == NULL, "router=sinkhorn's key is a run key");
    CHECK(config_set(e, "sinkhorn_iterations=0", err, sizeof err) != 0 && strstr(err, "from 1"), "checked: %s", err);
    config_resolve(e);
    char *json = config_to_json(e);
    CHECK(!strstr(json, "sinkhorn_iterations"), "left out of the stored config at its default");
    free(json);
    CHECK(config_set(e, "sinkhorn_iterations=3", err, sizeof err) == 0, "%s", err);
    json = config_to_json(e);
    CHECK(strstr(json, "\"sinkhorn_iterations\":3") != NULL, "stored when set: %s", json);
    free(json);
    config_free(e);
}

/* from=: a stored run under words that change its task or size takes the new presets for the
 * keys it held at its old ones' values, and keeps what it set otherwise */
static void test_merge_stored(void) {
    char err[512];
    Config *old = config_new();
    CHECK(config_set(old, "task=reasoning", err, sizeof err) == 0 && config_set(old, "size=tiny", err, sizeof err) == 0 &&
              config_set(old, "steps=7", err, sizeof err) == 0 && config_set(old, "warmup=5", err, sizeof err) == 0,
          "%s", err);
    config_resolve(old);
    char *stored = config_to_json(old);
    Config *now = config_new();
    CHECK(config_set(now, "task=english", err, sizeof err) == 0 && config_set(now, "size=small", err, sizeof err) == 0, "%s", err);
    CHECK(config_merge_stored(now, stored, err, sizeof err) == 0, "%s", err);
    config_resolve(now);
    CHECK(config_int(now, "batch") == 16 && config_float(now, "lr") == 2e-3, "reasoning's batch 64 and lr 1e-3 give way to "
          "small's: batch %ld lr %g", config_int(now, "batch"), config_float(now, "lr"));
    CHECK(config_int(now, "d_model") == 128 && config_int(now, "seq_len") == 128, "tiny's shape gives way to small's: %ld %ld",
          config_int(now, "d_model"), config_int(now, "seq_len"));
    CHECK(config_int(now, "steps") == 7 && config_int(now, "warmup") == 5, "the run's own steps and warmup kept");
    config_free(now);
    /* the same size and task: everything the run held is kept, as config_merge_json keeps it */
    now = config_new();
    CHECK(config_set(now, "size=tiny", err, sizeof err) == 0 && config_merge_stored(now, stored, err, sizeof err) == 0, "%s", err);
    config_resolve(now);
    CHECK(config_int(now, "batch") == 64 && !strcmp(config_str(now, "task"), "reasoning") && config_int(now, "d_model") == 64,
          "unchanged size: the stored values stay");
    config_free(now);
    free(stored);
    config_free(old);
}

/* every declared key (the harness's, each task's, each route's) has a role, and what the
 * harness derives from the roles holds: recorded keys cannot be set, identity keys are in
 * the comparable configuration and bookkeeping ones are not, a pretraining stage matches the
 * route's and micro_batches but not another task's keys */
static int count_role(const KeyDef *k, const char *owner, const void *ctx) {
    (void)owner;
    return k->role == *(const KeyRole *)ctx;
}

static void test_key_roles(void) {
    char err[512];
    int n = config_key_count();
    CHECK(n > 60, "the key table: %d keys", n);
    for (int i = 0; i < n; i++) {
        const char *owner = NULL;
        const KeyDef *k = config_key_at(i, &owner);
        CHECK(k && k->role > KEY_ROLE_NONE && k->role < KEY_ROLE_COUNT, "key %s (declared by %s) has a role",
              k ? k->key : "?", owner ? owner : "the harness or a route");
        CHECK(k->help && *k->help, "key %s has help", k->key);
        if (k->role == KEY_ROLE_RECORDED) {
            char word[96];
            snprintf(word, sizeof word, "%s=x", k->key);
            Config *c = config_new();
            CHECK(config_set(c, word, err, sizeof err) != 0 && strstr(err, "recorded"), "recorded %s refused: %s", k->key, err);
            config_free(c);
        }
    }
    const char *keys[256];
    for (KeyRole r = KEY_ROLE_TRAINING; r < KEY_ROLE_COUNT; r++)
        CHECK(config_keys_where(keys, 256, count_role, &r) > 0, "role %s is used", key_role_name(r));
    /* the comparable configuration, from the roles */
    Config *c = config_new();
    CHECK(config_set(c, "model=xmoe", err, sizeof err) == 0 && config_set(c, "router=sinkhorn", err, sizeof err) == 0 &&
          config_set(c, "sinkhorn_iterations=3", err, sizeof err) == 0 && config_set(c, "micro_batches=2", err, sizeof err) == 0 &&
          config_set(c, "threads=3", err, sizeof err) == 0 && config_set(c, "name=x", err, sizeof err) == 0, "%s", err);
    config_resolve(c);
    char *cmp = run_comparable_json(c);
    CHECK(strstr(cmp, "\"sinkhorn_iterations\":3") && strstr(cmp, "\"micro_batches\":2") && strstr(cmp, "\"router_dim\"") &&
          !strstr(cmp, "\"threads\"") && !strstr(cmp, "\"name\"") && !strstr(cmp, "\"seed\"") && !strstr(cmp, "\"heads\"") &&
          !strstr(cmp, "\"db\""), "comparable: identity keys in, bookkeeping out, mhmoe's keys out for xmoe: %s", cmp);
    free(cmp);
    config_free(c);
    const char *ids[16];
    int nids = run_id_keys(ids, 16);
    CHECK(nids == 3 && !strcmp(ids[0], "init"), "keys naming runs: %d", nids);
}

int main(void) {
    test_merge_stored();
    char err[512];
    Config *c = config_new();
    CHECK(config_set(c, "size=tiny", err, sizeof err) == 0, "%s", err);
    CHECK(config_set(c, "steps=7", err, sizeof err) == 0, "%s", err);
    config_resolve(c);
    CHECK(config_int(c, "d_model") == 64, "tiny preset d_model: %ld", config_int(c, "d_model"));
    CHECK(config_int(c, "steps") == 7, "explicit steps kept over the preset: %ld", config_int(c, "steps"));
    CHECK(config_float(c, "beta2") == 0.95, "default beta2");
    CHECK(!strcmp(config_str(c, "task"), "english"), "default task");

    CHECK(config_set(c, "stpes=5", err, sizeof err) != 0 && strstr(err, "'stpes'") && strstr(err, "'steps'"),
          "unknown key message: %s", err);
    CHECK(config_set(c, "steps=abc", err, sizeof err) != 0 && strstr(err, "steps=abc") && strstr(err, "whole number"),
          "bad int message: %s", err);
    CHECK(config_set(c, "lr=-1", err, sizeof err) != 0 && strstr(err, "lr=-1"), "negative lr: %s", err);
    CHECK(config_set(c, "schedule=exp", err, sizeof err) != 0 && strstr(err, "cosine|linear"), "enum message: %s", err);
    CHECK(config_set(c, "noequals", err, sizeof err) != 0 && strstr(err, "key=value"), "missing '=': %s", err);
    CHECK(config_int(c, "steps") == 7, "a refused value leaves the old one");

    /* JSON round trip: a run repeated from its stored config resolves to the same values */
    char *json = config_to_json(c);
    Config *d = config_new();
    CHECK(config_merge_json(d, json, err, sizeof err) == 0, "merge: %s", err);
    config_resolve(d);
    char *json2 = config_to_json(d);
    CHECK(!strcmp(json, json2), "round trip\n%s\n%s", json, json2);
    /* explicit words win over the stored config */
    Config *e = config_new();
    config_set(e, "steps=99", err, sizeof err);
    config_merge_json(e, json, err, sizeof err);
    config_resolve(e);
    CHECK(config_int(e, "steps") == 99, "explicit override of a stored run");
    CHECK(config_merge_json(e, "{\"bogus\":1}", err, sizeof err) != 0 && strstr(err, "bogus"), "unknown stored key: %s", err);
    CHECK(config_merge_json(e, "[1,2]", err, sizeof err) != 0, "non-object JSON accepted");
    free(json); free(json2);
    config_free(c); config_free(d); config_free(e);
    test_task_keys();
    test_key_roles();
    CHECK(config_set(c = config_new(), "steps=+3", err, sizeof err) != 0 && config_set(c, "steps=03", err, sizeof err) != 0 &&
          config_set(c, "steps=0", err, sizeof err) != 0 && config_set(c, "seed=0", err, sizeof err) == 0 &&
          config_set(c, "lr=.5e-3", err, sizeof err) == 0 && config_set(c, "lr=0x1p-3", err, sizeof err) != 0 &&
          config_set(c, "lr= 1", err, sizeof err) != 0, "numbers parsed strictly");
    config_free(c);
    CHECK_FINISH();
}
