#include "config.h"
#include "models/moe_route.h"
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* K_RECORD: written by the harness into the resolved config (what ran), never set by a word */
typedef enum { K_INT, K_FLOAT, K_STR, K_ENUM, K_RECORD } KeyType;

typedef struct {
    const char *key;
    KeyType type;
    const char *def;      /* NULL: taken from the size preset */
    const char *choices;  /* K_ENUM: values separated by '|' */
    double min, max;
    const char *help;
    const char *(*choices_of)(void); /* K_ENUM whose values come from a table (router=) */
} KeyDef;

static const char *key_choices(const KeyDef *k) { return k->choices_of ? k->choices_of() : k->choices; }

#define BIG 1e18
static const KeyDef KEYS[] = {
    {"task", K_ENUM, "english", "english|multilingual|mmm|vqa|reasoning|captioning", 0, 0, "what to train and evaluate"},
    {"init", K_STR, "", NULL, 0, 0, "start from the weights of run RUN_ID of db= (its last checkpoint) or a checkpoint path; the head keeps only outputs that mean the same"},
    {"pretrain_steps", K_INT, NULL, NULL, 0, BIG, "(size) vqa, reasoning, captioning without init=: steps of task=mmm run first (or reused when the db holds that run) to start from; 0: from scratch"},
    {"mask_image", K_FLOAT, "0.4", NULL, 0, 1, "mmm: share of image patches masked"},
    {"mask_text", K_FLOAT, "0.15", NULL, 0, 1, "mmm: share of text tokens masked (0.5 in image-text pairs, as BEiT-3)"},
    {"codebook", K_INT, "128", NULL, 2, 65536, "mmm: visual tokens, k-means centres of training patches built at data preparation"},
    {"answers", K_INT, "3129", NULL, 1, 1 << 20, "vqa: answer classes, the most frequent answers in training (3129 as usual for VQAv2); the share of questions they cover is stored as train/answer_coverage"},
    {"pair", K_ENUM, "separate", "separate|joint", 0, 0, "reasoning: read each image with the statement as a sequence of its own and add the two sequences' true/false logits (as BEiT-3 reads NLVR2; batch counts sequences, two per pair), or both images and the statement as one sequence"},
    {"tokenizer", K_ENUM, "bytes", "bytes|bpe", 0, 0, "tokens: bytes (vocab 256), or a byte-level BPE trained on the training split"},
    {"vocab", K_INT, "1024", NULL, 257, 65536, "tokenizer=bpe: vocabulary size"},
    {"image_size", K_INT, "32", NULL, 4, 4096, "images are resized to image_size x image_size"},
    {"patch", K_INT, "8", NULL, 1, 4096, "image patches are patch x patch pixels; must divide image_size"},
    {"lang_alpha", K_FLOAT, "0.7", NULL, 0, 10, "multilingual: sample languages with probability ~ size^lang_alpha"},
    {"model", K_ENUM, "dense", "dense|smoe|xmoe|mhmoe", 0, 0, "model variant"},
    {"experts", K_INT, "8", NULL, 1, 1024, "experts per MoE layer"},
    {"topk", K_INT, "0", NULL, 0, 1024, "experts per (sub-)token; 0: 2 for smoe, 1 for xmoe and mhmoe"},
    {"heads", K_INT, "4", NULL, 1, 1024, "MH-MoE heads (sub-tokens per token), must divide d_model"},
    {"moe_every", K_INT, "2", NULL, 1, 1024, "every moe_every-th block has an MoE layer as its FFN"},
    {"parity", K_ENUM, "params", "params|flops", 0, 0, "MH-MoE expert size: params (paper: match X-MoE's parameters) or flops (4*d_model, X-MoE's expert FLOPs)"},
    {"expert_dim", K_INT, "0", NULL, 0, 1 << 20, "expert inner size; 0: 4*d_model, or for mhmoe set by parity"},
    {"router_dim", K_INT, "16", NULL, 1, 65536, "X-MoE / MH-MoE router dimension"},
    {"gate", K_ENUM, "softmax", "softmax|sigmoid", 0, 0, "X-MoE / MH-MoE gating (temperature init 0.3 / 0.07)"},
    {"router_norm", K_ENUM, "paper", "paper|code", 0, 0, "X-MoE / MH-MoE router: paper (cosine of the normalised projection and expert embedding over a learnable temperature; balance probabilities at a fixed one) or code (the public torchscale code: the raw projection against unit expert embeddings, no temperature, balance on the gate probabilities)"},
    {"balance", K_FLOAT, "0.01", NULL, 0, 100, "weight of the load-balancing loss"},
    {"balance_reduce", K_ENUM, "mean", "mean|sum", 0, 0, "the balance loss of the MoE layers: averaged before balance weighs it (the harness: the weight means the same at any depth), or summed (the public MH-MoE / torchscale code)"},
    {"capacity", K_FLOAT, "1.25", NULL, 0, 1024, "expert capacity factor in training (0: dropless); evaluation is dropless. router=expert_choice: each expert takes capacity*topk*S/N (sub-)tokens, in evaluation too (0 means 1, at most 4)"},
    {"router", K_ENUM, "topk", NULL, 0, 0, "how (sub-)tokens and experts meet: topk (token choice) or expert_choice (each expert takes its best tokens; Zhou et al. 2022)", moe_route_names},
    {"shared_experts", K_INT, "0", NULL, 0, 1024, "always-on experts of the routed experts' size, added to every (sub-)token's output (DeepSeekMoE)"},
    {"granularity", K_INT, "1", NULL, 1, 1024, "fine-grained experts: each expert split into granularity experts of size M/granularity, with topk*granularity of them per (sub-)token: the same parameters and FLOPs (DeepSeekMoE)"},
    {"z_loss", K_FLOAT, "0", NULL, 0, 100, "weight of the router z-loss, the mean squared log-sum-exp of the router logits, averaged over MoE layers (ST-MoE uses 0.001)"},
    {"balance_mode", K_ENUM, "aux", "aux|loss_free|none", 0, 0, "load balancing: aux (the balance loss, weight balance=), loss_free (no loss: a per-expert bias added to the selection scores only, moved by bias_rate towards the mean load after each step; DeepSeek-V3), or none"},
    {"bias_rate", K_FLOAT, "0.001", NULL, 0, 10, "balance_mode=loss_free: the bias step per training step (DeepSeek-V3: 0.001)"},
    {"mh_residual", K_ENUM, "outer", "outer|inner", 0, 0, "MH-MoE residual: around the layer (public code) or per sub-token before the merge (paper Eq. 6)"},
    {"size", K_ENUM, "small", "tiny|small|base", 0, 0, "preset for the keys marked (size)"},
    {"d_model", K_INT, NULL, NULL, 8, 65536, "(size) model width C"},
    {"layers", K_INT, NULL, NULL, 1, 1024, "(size) transformer blocks"},
    {"attn_heads", K_INT, NULL, NULL, 1, 1024, "(size) attention heads, must divide d_model"},
    {"seq_len", K_INT, NULL, NULL, 2, 65536, "(size) tokens per sequence"},
    {"batch", K_INT, NULL, NULL, 1, 65536, "(size) sequences per step"},
    {"steps", K_INT, NULL, NULL, 1, BIG, "(size) training steps"},
    {"lr", K_FLOAT, NULL, NULL, 0, 10, "(size) peak learning rate"},
    {"warmup", K_INT, NULL, NULL, 0, BIG, "(size) linear warmup steps"},
    {"eval_every", K_INT, NULL, NULL, 0, BIG, "(size) steps between validation passes; 0: only at the end"},
    {"schedule", K_ENUM, "cosine", "cosine|linear", 0, 0, "decay after warmup"},
    {"min_lr_frac", K_FLOAT, "0.1", NULL, 0, 1, "final learning rate as a share of lr"},
    {"weight_decay", K_FLOAT, "0.1", NULL, 0, 10, "AdamW decoupled weight decay (matrices only)"},
    {"grad_clip", K_FLOAT, "1.0", NULL, 0, BIG, "global gradient-norm clip; 0: off"},
    {"beta1", K_FLOAT, "0.9", NULL, 0, 0.999999, "AdamW beta1"},
    {"beta2", K_FLOAT, "0.95", NULL, 0, 0.999999, "AdamW beta2"},
    {"seed", K_INT, "1", NULL, 0, BIG, "seed of initialisation and data order"},
    {"threads", K_INT, "0", NULL, 0, 4096, "OpenMP and OpenBLAS threads; 0: all cores"},
    {"blas_core", K_STR, "auto", NULL, 0, 0, "OpenBLAS kernel: auto (replace OpenBLAS's generic fallback by the kernel the CPU can run, after a self-check), keep (OpenBLAS's choice), or a kernel name (Haswell, SkylakeX, Cooperlake, ...); the stored config holds the kernel that ran"},
    {"blas", K_RECORD, NULL, NULL, 0, 0, "(recorded) the BLAS library, version, kernel, how it was chosen, and the thread count"},
    {"topk_used", K_RECORD, NULL, NULL, 0, 0, "(recorded) MoE: the experts per (sub-)token topk=0 resolved to"},
    {"expert_dim_used", K_RECORD, NULL, NULL, 0, 0, "(recorded) MoE: the expert inner size M expert_dim=0 resolved to (MH-MoE: solved for parity)"},
    {"pretrain_run", K_RECORD, NULL, NULL, 0, 0, "(recorded) the task=mmm run the pretraining stage supplied as init="},
    {"eval_tokens", K_INT, "32768", NULL, 0, BIG, "tokens scored per periodic validation pass (multilingual: shared among the languages); 0: all"},
    {"final_eval_tokens", K_INT, "131072", NULL, 0, BIG, "tokens scored per split (per language) by the final valid and test passes; 0: all"},
    {"log_every", K_INT, "10", NULL, 1, BIG, "steps between training-metric rows"},
    {"data", K_STR, "", NULL, 0, 0, "your own data: a file or folder (default: the prepared set); image tasks: also data=scenes (default) or data=emoji"},
    {"data_dir", K_STR, "data", NULL, 0, 0, "where prepared default data sets live"},
    {"db", K_STR, "results.db", NULL, 0, 0, "results database"},
    {"name", K_STR, "", NULL, 0, 0, "a label for the run"},
    {"out", K_STR, "", NULL, 0, 0, "folder for checkpoints; default: beside the db, named by it (results.db: results.runs/)"},
    {"checkpoint_every", K_INT, "0", NULL, 0, BIG, "steps between checkpoints; 0: only at the end"},
    {"resume", K_STR, "", NULL, 0, 0, "checkpoint file to continue training from"},
    {"from", K_INT, "0", NULL, 0, BIG, "repeat stored run RUN_ID of db= (keys given now win)"},
};
#define NKEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

/* size presets: (size, key, value). small is sized to finish in ~5 minutes on 2 cores. */
static const char *const PRESETS[][3] = {
    {"tiny", "d_model", "64"}, {"tiny", "layers", "2"}, {"tiny", "attn_heads", "4"},
    {"tiny", "seq_len", "64"}, {"tiny", "batch", "16"}, {"tiny", "steps", "300"},
    {"tiny", "lr", "3e-3"}, {"tiny", "warmup", "30"}, {"tiny", "eval_every", "100"}, {"tiny", "pretrain_steps", "200"},
    {"small", "d_model", "128"}, {"small", "layers", "4"}, {"small", "attn_heads", "4"},
    {"small", "seq_len", "128"}, {"small", "batch", "16"}, {"small", "steps", "1200"},
    {"small", "lr", "2e-3"}, {"small", "warmup", "100"}, {"small", "eval_every", "200"}, {"small", "pretrain_steps", "600"},
    {"base", "d_model", "256"}, {"base", "layers", "6"}, {"base", "attn_heads", "8"},
    {"base", "seq_len", "256"}, {"base", "batch", "16"}, {"base", "steps", "5000"},
    {"base", "lr", "1e-3"}, {"base", "warmup", "200"}, {"base", "eval_every", "500"}, {"base", "pretrain_steps", "2000"},
};
#define NPRESETS ((int)(sizeof PRESETS / sizeof PRESETS[0]))

/* task presets: (task, key, value), over the size preset. Reasoning needs 4x the sequences
 * per step and a lower peak rate: with 16 (8 pairs) at 2e-3 its statements stayed at chance
 * for 1,000+ steps; 64 at 1e-3 reaches 0.80 in the default 1,200 (README, Measured). A
 * finetune's pretraining stage does not take them (config_drop_task_defaults). */
static const char *const TASK_PRESETS[][3] = {
    {"reasoning", "batch", "64"},
    {"reasoning", "lr", "1e-3"},
};
#define NTASK_PRESETS ((int)(sizeof TASK_PRESETS / sizeof TASK_PRESETS[0]))

struct Config {
    char *value[NKEYS];
    unsigned char set[NKEYS];
};

Config *config_new(void) { return calloc(1, sizeof(Config)); }

void config_free(Config *c) {
    if (!c) return;
    for (int i = 0; i < NKEYS; i++) free(c->value[i]);
    free(c);
}

static int find_key(const char *key) {
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(KEYS[i].key, key)) return i;
    return -1;
}

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b), row[128];
    if (la > 127 || lb > 127) return 1000;
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *nearest_key(const char *key) {
    int best = 1000;
    const char *name = KEYS[0].key;
    for (int i = 0; i < NKEYS; i++) {
        int d = edit_distance(key, KEYS[i].key);
        if (d < best) { best = d; name = KEYS[i].key; }
    }
    return name;
}

const char *config_unknown_key(const char *key) { return find_key(key) >= 0 ? NULL : nearest_key(key); }

static int choice_ok(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        p += len + (bar != NULL);
    }
    return 0;
}

static int check_value(const KeyDef *k, const char *v, char *err, size_t errlen) {
    char *end;
    errno = 0;
    switch (k->type) {
    case K_INT: {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno || x < k->min || x > k->max) {
            snprintf(err, errlen, "%s=%s: expected a whole number from %.0f to %.0f", k->key, v, k->min, k->max);
            return -1;
        }
        return 0;
    }
    case K_FLOAT: {
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x) || x < k->min || x > k->max) {
            snprintf(err, errlen, "%s=%s: expected a number from %g to %g", k->key, v, k->min, k->max);
            return -1;
        }
        return 0;
    }
    case K_ENUM:
        if (!choice_ok(key_choices(k), v)) {
            snprintf(err, errlen, "%s=%s: expected one of %s", k->key, v, key_choices(k));
            return -1;
        }
        return 0;
    case K_STR:
    case K_RECORD:
        return 0;
    }
    return 0;
}

static int set_key(Config *c, const char *key, const char *v, int explicit, char *err, size_t errlen) {
    int i = find_key(key);
    if (i < 0) {
        snprintf(err, errlen, "unknown key '%s'; nearest known key: '%s' (harness help run lists every key)",
                 key, nearest_key(key));
        return -1;
    }
    if (check_value(&KEYS[i], v, err, errlen)) return -1;
    free(c->value[i]);
    c->value[i] = strdup(v);
    c->set[i] = c->set[i] || explicit;
    return 0;
}

int config_duplicate_word(int n, const char *const *words, char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(words[i], '=');
        if (!eq) continue;
        for (int j = 0; j < i; j++)
            if (!strncmp(words[j], words[i], (size_t)(eq - words[i]) + 1)) {
                snprintf(err, errlen, "key '%.*s' given twice ('%s' and '%s'): give it once", (int)(eq - words[i]),
                         words[i], words[j], words[i]);
                return -1;
            }
    }
    return 0;
}

int config_set(Config *c, const char *word, char *err, size_t errlen) {
    const char *eq = strchr(word, '=');
    if (!eq || eq == word) {
        snprintf(err, errlen, "'%s': expected key=value (harness help run lists every key)", word);
        return -1;
    }
    char key[64];
    size_t n = (size_t)(eq - word) < sizeof key - 1 ? (size_t)(eq - word) : sizeof key - 1;
    memcpy(key, word, n);
    key[n] = 0;
    int i = find_key(key);
    if (i >= 0 && KEYS[i].type == K_RECORD) {
        snprintf(err, errlen, "%s: recorded by the harness (%s), not set by a word", key, KEYS[i].help);
        return -1;
    }
    return set_key(c, key, eq + 1, 1, err, errlen);
}

void config_record(Config *c, const char *key, const char *value) {
    int i = find_key(key);
    if (i < 0) { fprintf(stderr, "internal error: config key '%s' is not defined\n", key); abort(); }
    free(c->value[i]);
    c->value[i] = strdup(value);
    c->set[i] = 1;
}

/* fills the keys not set explicitly from the rows of a preset table (selector, key, value)
 * whose selector is the current value (or default) of key `by` */
static void apply_presets(Config *c, const char *const (*table)[3], int n, const char *by) {
    int bi = find_key(by);
    const char *sel = c->value[bi] ? c->value[bi] : KEYS[bi].def;
    for (int p = 0; p < n; p++) {
        int i = find_key(table[p][1]);
        if (!strcmp(table[p][0], sel) && !c->set[i]) { free(c->value[i]); c->value[i] = strdup(table[p][2]); }
    }
}

void config_resolve(Config *c) {
    apply_presets(c, PRESETS, NPRESETS, "size");
    apply_presets(c, TASK_PRESETS, NTASK_PRESETS, "task");
    for (int i = 0; i < NKEYS; i++)
        if (!c->value[i] && KEYS[i].def) c->value[i] = strdup(KEYS[i].def);
}

void config_drop_task_defaults(const Config *from, Config *to) {
    const char *task = from->value[find_key("task")];
    for (int p = 0; task && p < NTASK_PRESETS; p++) {
        int i = find_key(TASK_PRESETS[p][1]);
        if (strcmp(TASK_PRESETS[p][0], task) || from->set[i]) continue;
        free(to->value[i]);
        to->value[i] = NULL;
        to->set[i] = 0;
    }
}

int config_is_set(const Config *c, const char *key) {
    int i = find_key(key);
    return i >= 0 && c->set[i];
}

const char *config_str(const Config *c, const char *key) {
    int i = find_key(key);
    if (i < 0 || !c->value[i]) {
        fprintf(stderr, "internal error: config key '%s' %s\n", key, i < 0 ? "is not defined" : "has no value");
        abort();
    }
    return c->value[i];
}

long config_int(const Config *c, const char *key) { return strtol(config_str(c, key), NULL, 10); }
double config_float(const Config *c, const char *key) { return strtod(config_str(c, key), NULL); }

/* shortest text that reads back as the same double */
static void shortest_double(char *buf, size_t n, double x) {
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

static int listed(const char *key, const char *const *keys, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(key, keys[i])) return 1;
    return 0;
}

/* the resolved keys as JSON, leaving out the recorded ones when records == 0 and the keys in drop */
static char *keys_to_json(const Config *c, int records, const char *const *drop, int ndrop) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < NKEYS; i++) {
        if (!c->value[i] || (!records && KEYS[i].type == K_RECORD) || listed(KEYS[i].key, drop, ndrop)) continue;
        char num[64];
        if (KEYS[i].type == K_FLOAT) {
            shortest_double(num, sizeof num, strtod(c->value[i], NULL));
            cJSON_AddItemToObject(o, KEYS[i].key, cJSON_CreateRaw(num));
        } else if (KEYS[i].type == K_INT)
            cJSON_AddItemToObject(o, KEYS[i].key, cJSON_CreateRaw(c->value[i]));
        else
            cJSON_AddStringToObject(o, KEYS[i].key, c->value[i]);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *config_to_json(const Config *c) { return keys_to_json(c, 1, NULL, 0); }

char *config_to_json_without(const Config *c, const char *const *drop, int ndrop) {
    return keys_to_json(c, 0, drop, ndrop);
}

int config_merge_json(Config *c, const char *json, char *err, size_t errlen) {
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "stored config is not a JSON object");
        cJSON_Delete(o);
        return -1;
    }
    int rc = 0;
    for (cJSON *it = o->child; it && !rc; it = it->next) {
        int i = find_key(it->string);
        if (i >= 0 && c->set[i]) continue;
        char num[64];
        const char *v = cJSON_IsString(it) ? it->valuestring : NULL;
        if (cJSON_IsNumber(it)) {
            if (i >= 0 && KEYS[i].type == K_INT) snprintf(num, sizeof num, "%.0f", it->valuedouble);
            else shortest_double(num, sizeof num, it->valuedouble);
            v = num;
        }
        if (!v) { snprintf(err, errlen, "stored config: key '%s' holds neither text nor a number", it->string); rc = -1; break; }
        rc = set_key(c, it->string, v, 1, err, errlen);
    }
    cJSON_Delete(o);
    return rc;
}

void config_print_help(FILE *f) {
    fprintf(f, "harness run key=value ...   keys, defaults and meanings:\n\n");
    for (int i = 0; i < NKEYS; i++) {
        const KeyDef *k = &KEYS[i];
        char def[160] = "";
        if (k->def) snprintf(def, sizeof def, "%s", *k->def ? k->def : "\"\"");
        else {
            size_t used = 0;
            for (int p = 0; p < NPRESETS; p++)
                if (!strcmp(PRESETS[p][1], k->key) && used < sizeof def)
                    used += snprintf(def + used, sizeof def - used, "%s%s:%s", used ? " " : "", PRESETS[p][0], PRESETS[p][2]);
        }
        for (int p = 0; p < NTASK_PRESETS; p++)
            if (!strcmp(TASK_PRESETS[p][1], k->key) && strlen(def) + 40 < sizeof def)
                snprintf(def + strlen(def), sizeof def - strlen(def), " (%s:%s)", TASK_PRESETS[p][0], TASK_PRESETS[p][2]);
        fprintf(f, "  %-16s %-34s %s", k->key, def, k->help);
        if (k->type == K_ENUM) fprintf(f, " (%s)", key_choices(k));
        fputc('\n', f);
    }
}
