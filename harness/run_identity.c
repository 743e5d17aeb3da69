#include "run_identity.h"
#include <stdio.h>
#include <string.h>

/* keys that change how a run is stored or watched, not what it computes */
static const char *const BOOKKEEPING[] = {"seed", "name", "db", "out", "threads", "blas_core", "checkpoint_every",
                                          "resume", "from", "log_every", "eval_every", "eval_tokens", "data_dir",
                                          "parallel", "reduce"};
static const char *const MOE_KEYS[] = {"experts", "topk", "moe_every", "balance", "balance_reduce", "capacity", "expert_dim",
                                       "router", "shared_experts", "granularity", "z_loss", "balance_mode", "bias_rate"};
static const char *const ROUTER_KEYS[] = {"router_dim", "gate", "router_norm"};
static const char *const MH_KEYS[] = {"heads", "parity", "mh_residual"};

const char *const RUN_ID_KEYS[] = {"init", "pretrain_run", "from"};
const int RUN_ID_KEY_COUNT = (int)(sizeof RUN_ID_KEYS / sizeof RUN_ID_KEYS[0]);

#define ADD(list) do { for (size_t i_ = 0; i_ < sizeof list / sizeof list[0]; i_++) drop[n++] = list[i_]; } while (0)

char *run_comparable_json(const Config *cfg) {
    const char *drop[64];
    int n = 0;
    ADD(BOOKKEEPING);
    const char *model = config_str(cfg, "model");
    if (!strcmp(model, "dense")) ADD(MOE_KEYS);
    if (!strcmp(model, "dense") || !strcmp(model, "smoe")) ADD(ROUTER_KEYS);
    if (strcmp(model, "mhmoe")) ADD(MH_KEYS);
    /* a finetune's init is the pretraining run of its own seed: the pretraining keys, which
     * are in the configuration, say what it started from */
    if (config_is_set(cfg, "pretrain_run")) drop[n++] = "init";
    return config_to_json_without(cfg, drop, n);
}

void run_label(const Config *cfg, int topk_used, char *buf, size_t n) {
    const char *model = config_str(cfg, "model");
    if (!strcmp(model, "dense")) { snprintf(buf, n, "dense"); return; }
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
}
