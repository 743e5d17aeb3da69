#include "run_identity.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    unsigned models_drop; /* the KEY_FOR_* flags of keys that mean nothing to this model */
    int drop_init;
} ComparableCtx;

static int comparable_key(const KeyDef *k, const char *owner, const void *ctx) {
    (void)owner;
    const ComparableCtx *c = ctx;
    if (!key_role_is_experiment(k->role) || (k->flags & c->models_drop)) return 0;
    return !(c->drop_init && !strcmp(k->key, "init"));
}

/* the KEY_FOR_* flags of the keys that mean nothing to the run's model */
static unsigned keys_not_for(const Config *cfg) {
    const char *model = config_str(cfg, "model");
    unsigned drop = 0;
    if (!strcmp(model, "dense")) drop |= KEY_FOR_MOE;
    if (!strcmp(model, "dense") || !strcmp(model, "smoe")) drop |= KEY_FOR_ROUTER;
    if (strcmp(model, "mhmoe")) drop |= KEY_FOR_MH;
    if (strcmp(model, "dense")) drop |= KEY_FOR_DENSE;
    return drop;
}

char *run_comparable_json(const Config *cfg) {
    ComparableCtx c = {keys_not_for(cfg), 0};
    /* a finetune's init is the pretraining run of its own seed: the pretraining keys, which
     * are in the configuration, say what it started from */
    c.drop_init = config_is_set(cfg, "pretrain_run");
    return config_to_json_where(cfg, comparable_key, &c);
}

static int names_run(const KeyDef *k, const char *owner, const void *ctx) {
    (void)owner, (void)ctx;
    return (k->flags & KEY_NAMES_RUN) != 0;
}

int run_id_keys(const char **keys, int cap) { return config_keys_where(keys, cap, names_run, NULL); }

/* an MoE model's part of run_label; its length */
static size_t moe_label(const Config *cfg, int topk_used, char *buf, size_t n) {
    const char *model = config_str(cfg, "model");
    size_t used = (size_t)snprintf(buf, n, "%s-%ld", model, config_int(cfg, "experts"));
    int default_topk = (!strcmp(model, "smoe") ? 2 : 1) * (int)config_int(cfg, "granularity");
    if (topk_used != default_topk && used < n) used += snprintf(buf + used, n - used, "k%d", topk_used);
    if (!strcmp(model, "mhmoe") && used < n) {
        used += snprintf(buf + used, n - used, "h%ld", config_int(cfg, "heads"));
        if (config_int(cfg, "expert_dim") && used < n) used += snprintf(buf + used, n - used, "-M%ld", config_int(cfg, "expert_dim"));
        else if (used < n) used += snprintf(buf + used, n - used, "-%s", config_str(cfg, "parity"));
    }
    if (strcmp(model, "smoe") && !strcmp(config_str(cfg, "router_norm"), "code") && used < n)
        used += snprintf(buf + used, n - used, "-code");
    if (strcmp(model, "dense") && !strcmp(config_str(cfg, "balance_reduce"), "sum") && used < n)
        used += snprintf(buf + used, n - used, "-balsum");
    if (strcmp(config_str(cfg, "router"), "topk") && used < n) used += snprintf(buf + used, n - used, "-%s", config_str(cfg, "router"));
    if (config_int(cfg, "granularity") > 1 && used < n) used += snprintf(buf + used, n - used, "-g%ld", config_int(cfg, "granularity"));
    if (config_int(cfg, "shared_experts") && used < n) used += snprintf(buf + used, n - used, "-sh%ld", config_int(cfg, "shared_experts"));
    if (strcmp(config_str(cfg, "balance_mode"), "aux") && used < n) used += snprintf(buf + used, n - used, "-%s", config_str(cfg, "balance_mode"));
    if (config_float(cfg, "z_loss") > 0 && used < n) used += snprintf(buf + used, n - used, "-z%g", config_float(cfg, "z_loss"));
    double cap = config_float(cfg, "capacity");
    if (cap == 0 && used < n) used += snprintf(buf + used, n - used, "-dropless");
    else if (cap != 1.25 && used < n) used += snprintf(buf + used, n - used, "-cap%g", cap);
    return used;
}

void run_label(const Config *cfg, int topk_used, char *buf, size_t n) {
    const char *model = config_str(cfg, "model");
    size_t used = !strcmp(model, "dense") ? (size_t)snprintf(buf, n, "dense") : moe_label(cfg, topk_used, buf, n);
    /* and every experiment key stored only away from its default (KEY_OMIT_AT_DEFAULT: the keys
     * added after the runs they must still group with) that is away from it, as -key=value;
     * text keys (paths) are left to the configuration */
    unsigned drop = keys_not_for(cfg);
    for (int i = 0; i < config_key_count(); i++) {
        const KeyDef *k = config_key_at(i, NULL);
        if (!(k->flags & KEY_OMIT_AT_DEFAULT) || (k->flags & drop) || !key_role_is_experiment(k->role) ||
            k->type == KEY_STR || !k->def || !strcmp(config_str(cfg, k->key), k->def))
            continue;
        if (used < n) used += snprintf(buf + used, n - used, "-%s=%s", k->key, config_str(cfg, k->key));
    }
}
