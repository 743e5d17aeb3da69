#include "config.h"
#include "models/moe_route.h"
#include "tasks/task.h"
#include "util/keys.h"
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BIG 1e18
/* A row with no help marks where the keys task `key` declares are listed: stored
 * configurations are compared as text, so these rows keep the key order of the configurations
 * stored before the tasks declared their keys. A task without a row has its keys at the end. */
#define TASK_KEYS_HERE(task) {task, KEY_ROLE_NONE, KEY_STR, NULL, NULL, 0, 0, NULL, NULL, 0}

/* the keys the harness reads itself */
static const KeyDef HARNESS_KEYS[] = {
    {"task", KEY_ROLE_TRAINING, KEY_ENUM, "english", NULL, 0, 0, "what to train and evaluate (the tasks are listed below)", task_names},
    {"init", KEY_ROLE_TRAINING, KEY_STR, "", NULL, 0, 0, "start from the weights of run RUN_ID of db= (its last checkpoint) or a checkpoint path; the head keeps only outputs that mean the same", NULL, KEY_NAMES_RUN},
    {"pretrain_steps", KEY_ROLE_FINETUNE, KEY_INT, NULL, NULL, 0, BIG, "(size) vqa, reasoning, captioning without init=: steps of task=mmm run first (or reused when the db holds that run) to start from; 0: from scratch"},
    {"pretrain_data", KEY_ROLE_FINETUNE, KEY_STR, "", NULL, 0, 0, "vqa, reasoning, captioning: the image-text folder the pretraining stage reads (a COCO captions folder: annotations/captions_train2014.json with train2014/ and val2014/, or the harness's layout); default: data=, which must then hold captions too", NULL, KEY_OMIT_AT_DEFAULT},
    TASK_KEYS_HERE("mmm"),
    TASK_KEYS_HERE("vqa"),
    TASK_KEYS_HERE("reasoning"),
    {"tokenizer", KEY_ROLE_TRAINING, KEY_ENUM, "bytes", "bytes|bpe", 0, 0, "tokens: bytes (vocab 256), or a byte-level BPE trained on the training split"},
    {"vocab", KEY_ROLE_TRAINING, KEY_INT, "1024", NULL, 257, 65536, "tokenizer=bpe: vocabulary size"},
    {"image_size", KEY_ROLE_TRAINING, KEY_INT, "32", NULL, 4, 4096, "images are resized to image_size x image_size"},
    {"patch", KEY_ROLE_TRAINING, KEY_INT, "8", NULL, 1, 4096, "image patches are patch x patch pixels; must divide image_size"},
    TASK_KEYS_HERE("multilingual"),
    {"model", KEY_ROLE_TRAINING, KEY_ENUM, "dense", "dense|smoe|xmoe|mhmoe", 0, 0, "model variant"},
    {"experts", KEY_ROLE_TRAINING, KEY_INT, "8", NULL, 1, 1024, "experts per MoE layer", NULL, KEY_FOR_MOE},
    {"topk", KEY_ROLE_TRAINING, KEY_INT, "0", NULL, 0, 1024, "experts per (sub-)token; 0: 2 for smoe, 1 for xmoe and mhmoe", NULL, KEY_FOR_MOE},
    {"heads", KEY_ROLE_TRAINING, KEY_INT, "4", NULL, 1, 1024, "MH-MoE heads (sub-tokens per token), must divide d_model", NULL, KEY_FOR_MH},
    {"moe_every", KEY_ROLE_TRAINING, KEY_INT, "2", NULL, 1, 1024, "every moe_every-th block has an MoE layer as its FFN", NULL, KEY_FOR_MOE},
    {"parity", KEY_ROLE_TRAINING, KEY_ENUM, "params", "params|flops", 0, 0, "MH-MoE expert size: params (paper: match X-MoE's parameters) or flops (4*d_model, X-MoE's expert FLOPs)", NULL, KEY_FOR_MH},
    {"expert_dim", KEY_ROLE_TRAINING, KEY_INT, "0", NULL, 0, 1 << 20, "expert inner size; 0: 4*d_model, or for mhmoe set by parity", NULL, KEY_FOR_MOE},
    {"router_dim", KEY_ROLE_TRAINING, KEY_INT, "16", NULL, 1, 65536, "X-MoE / MH-MoE router dimension", NULL, KEY_FOR_ROUTER},
    {"gate", KEY_ROLE_TRAINING, KEY_ENUM, "softmax", "softmax|sigmoid", 0, 0, "X-MoE / MH-MoE gating (temperature init 0.3 / 0.07)", NULL, KEY_FOR_ROUTER},
    {"router_norm", KEY_ROLE_TRAINING, KEY_ENUM, "paper", "paper|code", 0, 0, "X-MoE / MH-MoE router: paper (cosine of the normalised projection and expert embedding over a learnable temperature; balance probabilities at a fixed one) or code (the public torchscale code: the raw projection against unit expert embeddings, no temperature, balance on the gate probabilities)", NULL, KEY_FOR_ROUTER},
    {"balance", KEY_ROLE_TRAINING, KEY_FLOAT, "0.01", NULL, 0, 100, "weight of the load-balancing loss", NULL, KEY_FOR_MOE},
    {"balance_reduce", KEY_ROLE_TRAINING, KEY_ENUM, "mean", "mean|sum", 0, 0, "the balance loss of the MoE layers: averaged before balance weighs it (the harness: the weight means the same at any depth), or summed (the public MH-MoE / torchscale code)", NULL, KEY_FOR_MOE},
    {"capacity", KEY_ROLE_TRAINING, KEY_FLOAT, "1.25", NULL, 0, 1024, "expert capacity factor in training (0: dropless); evaluation is dropless. router=expert_choice: each expert takes capacity*topk*S/N (sub-)tokens, in evaluation too (0 means 1, at most 4)", NULL, KEY_FOR_MOE},
    {"router", KEY_ROLE_TRAINING, KEY_ENUM, "topk", NULL, 0, 0, "how (sub-)tokens and experts meet: topk (token choice) or expert_choice (each expert takes its best tokens; Zhou et al. 2022; refused on causal tasks: it picks among later tokens), sinkhorn (S-BASE balanced ranking in training, greedy in dropless evaluation)", moe_route_names, KEY_FOR_MOE},
    {"shared_experts", KEY_ROLE_TRAINING, KEY_INT, "0", NULL, 0, 1024, "always-on experts of the routed experts' size, added to every (sub-)token's output (DeepSeekMoE)", NULL, KEY_FOR_MOE},
    {"granularity", KEY_ROLE_TRAINING, KEY_INT, "1", NULL, 1, 1024, "fine-grained experts: each expert split into granularity experts of size M/granularity, with topk*granularity of them per (sub-)token: the same parameters and FLOPs (DeepSeekMoE)", NULL, KEY_FOR_MOE},
    {"z_loss", KEY_ROLE_TRAINING, KEY_FLOAT, "0", NULL, 0, 100, "weight of the router z-loss, the mean squared log-sum-exp of the router logits, averaged over MoE layers (ST-MoE uses 0.001)", NULL, KEY_FOR_MOE},
    {"balance_mode", KEY_ROLE_TRAINING, KEY_ENUM, "aux", "aux|loss_free|none", 0, 0, "load balancing: aux (the balance loss, weight balance=), loss_free (no loss: a per-expert bias added to the selection scores only, moved by bias_rate towards the mean load after each step; DeepSeek-V3), or none", NULL, KEY_FOR_MOE},
    {"bias_rate", KEY_ROLE_TRAINING, KEY_FLOAT, "0.001", NULL, 0, 10, "balance_mode=loss_free: the bias step per training step (DeepSeek-V3: 0.001)", NULL, KEY_FOR_MOE},
    {"mh_layers", KEY_ROLE_TRAINING, KEY_ENUM, "both", "both|head|merge|none", 0, 0, "MH-MoE's linear layers around the experts: the multi-head layer before the split and the merge layer after it (both: the paper), only one, or none (the paper's Table 6 'w/o MLP')", NULL, KEY_FOR_MH | KEY_OMIT_AT_DEFAULT},
    {"mh_mlp", KEY_ROLE_TRAINING, KEY_INT, "1", NULL, 1, 3, "MH-MoE: linear layers in the multi-head layer and in the merge layer each, a ReLU between two (the paper's Table 7; its n = 0 is mh_layers=none); parity=params pays for them from the expert size", NULL, KEY_FOR_MH | KEY_OMIT_AT_DEFAULT},
    {"dense_mlp", KEY_ROLE_TRAINING, KEY_ENUM, "none", "none|both", 0, 0, "dense: MH-MoE's multi-head and merge layers (C x C each) around every FFN, without the split (the paper's Table 6 'Dense w/ MLP'; X-MoE w/ MLP is model=mhmoe heads=1)", NULL, KEY_FOR_DENSE | KEY_OMIT_AT_DEFAULT},
    {"mh_residual", KEY_ROLE_TRAINING, KEY_ENUM, "outer", "outer|inner", 0, 0, "MH-MoE residual: around the layer (public code) or per sub-token before the merge (paper Eq. 6)", NULL, KEY_FOR_MH},
    {"size", KEY_ROLE_TRAINING, KEY_ENUM, "small", "tiny|small|base", 0, 0, "preset for the keys marked (size)"},
    {"d_model", KEY_ROLE_TRAINING, KEY_INT, NULL, NULL, 8, 65536, "(size) model width C"},
    {"layers", KEY_ROLE_TRAINING, KEY_INT, NULL, NULL, 1, 1024, "(size) transformer blocks"},
    {"attn_heads", KEY_ROLE_TRAINING, KEY_INT, NULL, NULL, 1, 1024, "(size) attention heads, must divide d_model"},
    {"seq_len", KEY_ROLE_TRAINING, KEY_INT, NULL, NULL, 2, 65536, "(size) tokens per sequence"},
    {"batch", KEY_ROLE_TRAINING, KEY_INT, NULL, NULL, 1, 65536, "(size) sequences per step"},
    {"steps", KEY_ROLE_TRAINING, KEY_INT, NULL, NULL, 1, BIG, "(size) training steps"},
    {"lr", KEY_ROLE_TRAINING, KEY_FLOAT, NULL, NULL, 0, 10, "(size) peak learning rate"},
    {"warmup", KEY_ROLE_TRAINING, KEY_INT, NULL, NULL, 0, BIG, "(size) linear warmup steps"},
    {"eval_every", KEY_ROLE_WATCH, KEY_INT, NULL, NULL, 0, BIG, "(size) steps between validation passes; 0: only at the end"},
    {"schedule", KEY_ROLE_TRAINING, KEY_ENUM, "cosine", "cosine|linear", 0, 0, "decay after warmup"},
    {"min_lr_frac", KEY_ROLE_TRAINING, KEY_FLOAT, "0.1", NULL, 0, 1, "final learning rate as a share of lr"},
    {"weight_decay", KEY_ROLE_TRAINING, KEY_FLOAT, "0.1", NULL, 0, 10, "AdamW decoupled weight decay (matrices only)"},
    {"grad_clip", KEY_ROLE_TRAINING, KEY_FLOAT, "1.0", NULL, 0, BIG, "global gradient-norm clip; 0: off"},
    {"beta1", KEY_ROLE_TRAINING, KEY_FLOAT, "0.9", NULL, 0, 0.999999, "AdamW beta1"},
    {"beta2", KEY_ROLE_TRAINING, KEY_FLOAT, "0.95", NULL, 0, 0.999999, "AdamW beta2"},
    {"seed", KEY_ROLE_REPLICATE, KEY_INT, "1", NULL, 0, BIG, "seed of initialisation and data order"},
    {"threads", KEY_ROLE_BOOKKEEPING, KEY_INT, "0", NULL, 0, 4096, "OpenMP and OpenBLAS threads; 0: all cores"},
    {"blas_core", KEY_ROLE_REQUEST, KEY_STR, "auto", NULL, 0, 0, "OpenBLAS kernel: auto (replace OpenBLAS's generic fallback by the kernel the CPU can run, after a self-check), keep (OpenBLAS's choice), or a kernel name (Haswell, SkylakeX, Cooperlake, ...); the stored config holds the kernel that ran"},
    {"gemm", KEY_ROLE_REQUEST, KEY_STR, "openblas", NULL, 0, 0, "the library the matrix products run on: openblas, onednn (oneDNN, in a build that found libdnnl-dev), or auto (each of the model's GEMM shapes timed with both at start-up, the faster kept); the stored config holds the plan that ran (a backend, then BACKEND@SHAPE exceptions), which from= and resume= follow"},
    {"blas", KEY_ROLE_RECORDED, KEY_STR, NULL, NULL, 0, 0, "(recorded) the BLAS library, version, kernel, how it was chosen, and the thread count"},
    {"topk_used", KEY_ROLE_RECORDED, KEY_STR, NULL, NULL, 0, 0, "(recorded) MoE: the experts per (sub-)token topk=0 resolved to"},
    {"expert_dim_used", KEY_ROLE_RECORDED, KEY_STR, NULL, NULL, 0, 0, "(recorded) MoE: the expert inner size M expert_dim=0 resolved to (MH-MoE: solved for parity)"},
    {"ranks", KEY_ROLE_RECORDED, KEY_STR, NULL, NULL, 0, 0, "(recorded) parallel=data: the processes that trained the run"},
    {"pretrain_run", KEY_ROLE_RECORDED, KEY_STR, NULL, NULL, 0, 0, "(recorded) the task=mmm run the pretraining stage supplied as init=", NULL, KEY_NAMES_RUN},
    {"eval_tokens", KEY_ROLE_WATCH, KEY_INT, "32768", NULL, 0, BIG, "tokens scored per periodic validation pass (multilingual: shared among the languages); 0: all"},
    {"final_eval_tokens", KEY_ROLE_EVALUATION, KEY_INT, "131072", NULL, 0, BIG, "tokens scored per split (per language) by the final valid and test passes; 0: all"},
    {"log_every", KEY_ROLE_WATCH, KEY_INT, "10", NULL, 1, BIG, "steps between training-metric rows"},
    {"data", KEY_ROLE_TRAINING, KEY_STR, "", NULL, 0, 0, "your own data: a file or folder (default: the prepared set); image tasks: also data=scenes (default) or data=emoji"},
    {"data_dir", KEY_ROLE_SOURCE, KEY_STR, "data", NULL, 0, 0, "where prepared default data sets live"},
    {"db", KEY_ROLE_PLACE, KEY_STR, "results.db", NULL, 0, 0, "results database"},
    {"name", KEY_ROLE_WATCH, KEY_STR, "", NULL, 0, 0, "a label for the run"},
    {"out", KEY_ROLE_PLACE, KEY_STR, "", NULL, 0, 0, "folder for checkpoints; default: beside the db, named by it (results.db: results.runs/)"},
    {"checkpoint_every", KEY_ROLE_WATCH, KEY_INT, "0", NULL, 0, BIG, "steps between checkpoints; 0: only at the end"},
    {"resume", KEY_ROLE_BOOKKEEPING, KEY_STR, "", NULL, 0, 0, "checkpoint file to continue training from"},
    {"from", KEY_ROLE_BOOKKEEPING, KEY_INT, "0", NULL, 0, BIG, "repeat stored run RUN_ID of db= (keys given now win; a size= or task= given now brings its presets)", NULL, KEY_NAMES_RUN},
    {"parallel", KEY_ROLE_BOOKKEEPING, KEY_ENUM, "none", "none|data|expert", 0, 0, "several processes (mpirun -np P, a build with -DHARNESS_MPI=ON): data (each process a slice of every batch, the gradients summed over processes; process 0 alone writes the db and checkpoints); expert (data, and each MoE layer's routed experts split over the processes, experts a multiple of P: a process runs its experts on every process's rows, sent and returned with MPI_Alltoallv)", NULL, KEY_OMIT_AT_DEFAULT},
    {"reduce", KEY_ROLE_BOOKKEEPING, KEY_ENUM, "allreduce", "allreduce|ordered", 0, 0, "parallel=data|expert: how the gradients are summed: MPI_Allreduce, or in rank order (slower; the same bits as one process with micro_batches= of the same slices)", NULL, KEY_OMIT_AT_DEFAULT},
    {"micro_batches", KEY_ROLE_TRAINING, KEY_INT, "1", NULL, 1, 65536, "slices of each step's batch, each a forward and backward of its own, the gradients summed (gradient accumulation; under mpirun -np P a multiple of P, P when not given). MoE balance statistics and capacity are per slice", NULL, KEY_OMIT_AT_DEFAULT},
};
#define N_HARNESS_KEYS ((int)(sizeof HARNESS_KEYS / sizeof HARNESS_KEYS[0]))

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

/* Every run key: the harness's, with each task's declared keys at its TASK_KEYS_HERE row (or
 * at the end), each name once. Built on first use from the tables. */
static const KeyDef **KEYS;
static const char **OWNER; /* [NKEYS]: the task that declared the key, NULL for the harness's and the routes' */
static int NKEYS;

static const KeyDef *registered(const char *key) {
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(KEYS[i]->key, key)) return KEYS[i];
    return NULL;
}

static void register_key(const KeyDef *k, const char *owner) {
    const KeyDef *had = registered(k->key);
    if (had && (had->type != k->type || had->role != k->role || strcmp(had->def ? had->def : "", k->def ? k->def : ""))) {
        fprintf(stderr, "internal error: key '%s' is declared twice, differently\n", k->key);
        exit(70);
    }
    if (had) return;
    OWNER[NKEYS] = owner;
    KEYS[NKEYS++] = k;
}

static void register_task_keys(const TaskKind *t) {
    for (int k = 0; k < t->n_keys; k++) register_key(&t->keys[k], t->name);
}

static void register_keys(void) {
    if (KEYS) return;
    int cap = N_HARNESS_KEYS;
    for (int t = 0; t < TASK_KIND_COUNT; t++) cap += TASK_KINDS[t]->n_keys;
    for (int r = 0; r < MOE_ROUTE_COUNT; r++) cap += MOE_ROUTES[r]->n_keys;
    KEYS = malloc(sizeof *KEYS * (size_t)cap);
    OWNER = malloc(sizeof *OWNER * (size_t)cap);
    if (!KEYS || !OWNER) { fprintf(stderr, "error: out of memory for the key table\n"); exit(70); }
    for (int i = 0; i < N_HARNESS_KEYS; i++) {
        const KeyDef *k = &HARNESS_KEYS[i];
        if (k->help) { register_key(k, NULL); continue; }
        const TaskKind *t = task_kind_find(k->key);
        if (!t) { fprintf(stderr, "internal error: TASK_KEYS_HERE(\"%s\"): no such task\n", k->key); exit(70); }
        register_task_keys(t);
    }
    for (int t = 0; t < TASK_KIND_COUNT; t++) register_task_keys(TASK_KINDS[t]);
    for (int r = 0; r < MOE_ROUTE_COUNT; r++)
        for (int k = 0; k < MOE_ROUTES[r]->n_keys; k++) {
            const KeyDef *d = &MOE_ROUTES[r]->keys[k];
            if (k >= MOE_ROUTE_ARGS || d->type != KEY_INT || !(d->flags & KEY_OMIT_AT_DEFAULT)) {
                fprintf(stderr, "internal error: router=%s's key %s: a route declares at most %d whole-number keys, "
                        "left out of stored configs at their default\n", MOE_ROUTES[r]->name, d->key, MOE_ROUTE_ARGS);
                exit(70);
            }
            register_key(d, NULL);
        }
}

struct Config {
    char **value;        /* [NKEYS] */
    unsigned char *set;  /* [NKEYS] */
};

Config *config_new(void) {
    register_keys();
    Config *c = calloc(1, sizeof *c);
    if (!c || !(c->value = calloc((size_t)NKEYS, sizeof *c->value)) || !(c->set = calloc((size_t)NKEYS, 1))) {
        fprintf(stderr, "error: out of memory for a configuration\n");
        exit(70);
    }
    return c;
}

void config_free(Config *c) {
    if (!c) return;
    for (int i = 0; i < NKEYS; i++) free(c->value[i]);
    free(c->value);
    free(c->set);
    free(c);
}

static int find_key(const char *key) {
    register_keys();
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(KEYS[i]->key, key)) return i;
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
    const char *name = KEYS[0]->key;
    for (int i = 0; i < NKEYS; i++) {
        int d = edit_distance(key, KEYS[i]->key);
        if (d < best) { best = d; name = KEYS[i]->key; }
    }
    return name;
}

const char *config_unknown_key(const char *key) { return find_key(key) >= 0 ? NULL : nearest_key(key); }

static int set_key(Config *c, const char *key, const char *v, int explicit, char *err, size_t errlen) {
    int i = find_key(key);
    if (i < 0) {
        snprintf(err, errlen, "unknown key '%s'; nearest known key: '%s' (harness help run lists every key)",
                 key, nearest_key(key));
        return -1;
    }
    if (key_check_value(KEYS[i], v, err, errlen)) return -1;
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
    if (i >= 0 && KEYS[i]->role == KEY_ROLE_RECORDED) {
        snprintf(err, errlen, "%s: recorded by the harness (%s), not set by a word", key, KEYS[i]->help);
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

/* the task= value, set or default (the presets are chosen by it before the defaults fill in) */
static const TaskKind *config_task(const Config *c) {
    int i = find_key("task");
    return task_kind_find(c->value[i] ? c->value[i] : KEYS[i]->def);
}

static void preset_key(Config *c, const char *key, const char *value) {
    int i = find_key(key);
    if (i < 0) { fprintf(stderr, "internal error: a preset names the key '%s', which is not defined\n", key); exit(70); }
    if (!c->set[i]) { free(c->value[i]); c->value[i] = strdup(value); }
}

void config_resolve(Config *c) {
    int si = find_key("size");
    const char *size = c->value[si] ? c->value[si] : KEYS[si]->def;
    for (int p = 0; p < NPRESETS; p++)
        if (!strcmp(PRESETS[p][0], size)) preset_key(c, PRESETS[p][1], PRESETS[p][2]);
    const TaskKind *t = config_task(c);
    for (int p = 0; t && p < t->n_presets; p++) preset_key(c, t->presets[p][0], t->presets[p][1]);
    for (int i = 0; i < NKEYS; i++)
        if (!c->value[i] && KEYS[i]->def) c->value[i] = strdup(KEYS[i]->def);
}

void config_drop_task_defaults(const Config *from, Config *to) {
    const TaskKind *t = config_task(from);
    for (int p = 0; t && p < t->n_presets; p++) {
        int i = find_key(t->presets[p][0]);
        if (from->set[i]) continue;
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

/* key = value into o, a number for a number key */
static void add_typed(cJSON *o, const KeyDef *k, const char *value) {
    char num[64];
    if (k->type == KEY_FLOAT) {
        shortest_double(num, sizeof num, strtod(value, NULL));
        cJSON_AddItemToObject(o, k->key, cJSON_CreateRaw(num));
    } else if (k->type == KEY_INT)
        cJSON_AddItemToObject(o, k->key, cJSON_CreateRaw(value));
    else
        cJSON_AddStringToObject(o, k->key, value);
}

/* the resolved keys that keep() accepts as JSON (a KEY_OMIT_AT_DEFAULT key at its default left out) */
static char *keys_to_json(const Config *c, ConfigKeyFilter keep, const void *ctx) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < NKEYS; i++) {
        if (!c->value[i] || (keep && !keep(KEYS[i], OWNER[i], ctx))) continue;
        if ((KEYS[i]->flags & KEY_OMIT_AT_DEFAULT) && KEYS[i]->def && !strcmp(c->value[i], KEYS[i]->def)) continue;
        add_typed(o, KEYS[i], c->value[i]);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *config_omitted_defaults_json(void) {
    register_keys();
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < NKEYS; i++)
        if ((KEYS[i]->flags & KEY_OMIT_AT_DEFAULT) && KEYS[i]->def && key_role_is_experiment(KEYS[i]->role))
            add_typed(o, KEYS[i], KEYS[i]->def);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

char *config_to_json(const Config *c) { return keys_to_json(c, NULL, NULL); }

char *config_to_json_where(const Config *c, ConfigKeyFilter keep, const void *ctx) { return keys_to_json(c, keep, ctx); }

int config_keys_where(const char **keys, int cap, ConfigKeyFilter keep, const void *ctx) {
    register_keys();
    int n = 0;
    for (int i = 0; i < NKEYS; i++)
        if (keep(KEYS[i], OWNER[i], ctx)) {
            if (n == cap) { fprintf(stderr, "internal error: more than %d keys selected\n", cap); exit(70); }
            keys[n++] = KEYS[i]->key;
        }
    return n;
}

int config_key_count(void) {
    register_keys();
    return NKEYS;
}

const KeyDef *config_key_at(int i, const char **owner) {
    register_keys();
    if (i < 0 || i >= NKEYS) return NULL;
    if (owner) *owner = OWNER[i];
    return KEYS[i];
}

const KeyDef *config_key_def(const char *key) {
    int i = find_key(key);
    return i >= 0 ? KEYS[i] : NULL;
}

/* a stored configuration's JSON object, or NULL with err */
static cJSON *parse_stored(const char *json, char *err, size_t errlen) {
    cJSON *o = cJSON_Parse(json);
    if (cJSON_IsObject(o)) return o;
    snprintf(err, errlen, "stored config is not a JSON object");
    cJSON_Delete(o);
    return NULL;
}

/* every key of o that c has not set; frees o */
static int merge_object(Config *c, cJSON *o, char *err, size_t errlen) {
    int rc = 0;
    for (cJSON *it = o->child; it && !rc; it = it->next) {
        int i = find_key(it->string);
        if (i >= 0 && c->set[i]) continue;
        char num[64];
        const char *v = cJSON_IsString(it) ? it->valuestring : NULL;
        if (cJSON_IsNumber(it)) {
            if (i >= 0 && KEYS[i]->type == KEY_INT) snprintf(num, sizeof num, "%.0f", it->valuedouble);
            else shortest_double(num, sizeof num, it->valuedouble);
            v = num;
        }
        if (!v) { snprintf(err, errlen, "stored config: key '%s' holds neither text nor a number", it->string); rc = -1; break; }
        rc = set_key(c, it->string, v, 1, err, errlen);
    }
    cJSON_Delete(o);
    return rc;
}

int config_merge_json(Config *c, const char *json, char *err, size_t errlen) {
    cJSON *o = parse_stored(json, err, errlen);
    return o ? merge_object(c, o, err, errlen) : -1;
}

/* 1 when a stored value is a preset's (numbers as numbers: the JSON holds 0.003 for 3e-3) */
static int is_preset_value(const cJSON *item, const char *preset) {
    if (cJSON_IsNumber(item)) return item->valuedouble == strtod(preset, NULL);
    return cJSON_IsString(item) && !strcmp(item->valuestring, preset);
}

/* drops key from the stored object when it holds the preset's value there: it came from the
 * stored run's preset (or equals it), so the new preset fills it */
static void drop_if_preset(cJSON *o, const char *key, const char *preset) {
    cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    if (item && is_preset_value(item, preset)) cJSON_DeleteItemFromObjectCaseSensitive(o, key);
}

/* the stored value of a text key when the words given now set it to another one; else NULL */
static const char *changed_now(const Config *c, const cJSON *o, const char *key) {
    int i = find_key(key);
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);
    return c->set[i] && cJSON_IsString(item) && strcmp(item->valuestring, c->value[i]) ? item->valuestring : NULL;
}

int config_merge_stored(Config *c, const char *json, char *err, size_t errlen) {
    cJSON *o = parse_stored(json, err, errlen);
    if (!o) return -1;
    const char *size = changed_now(c, o, "size"), *task = changed_now(c, o, "task");
    for (int p = 0; size && p < NPRESETS; p++)
        if (!strcmp(PRESETS[p][0], size)) drop_if_preset(o, PRESETS[p][1], PRESETS[p][2]);
    const TaskKind *t = task ? task_kind_find(task) : NULL;
    for (int p = 0; t && p < t->n_presets; p++) drop_if_preset(o, t->presets[p][0], t->presets[p][1]);
    return merge_object(c, o, err, errlen);
}

const char *config_task_value(const void *cfg, const char *key) {
    int i = find_key(key);
    return i >= 0 ? ((const Config *)cfg)->value[i] : NULL;
}

static void print_key(FILE *f, const KeyDef *k) {
    char def[160] = "";
    if (k->def) snprintf(def, sizeof def, "%s", *k->def ? k->def : "\"\"");
    else {
        size_t used = 0;
        for (int p = 0; p < NPRESETS; p++)
            if (!strcmp(PRESETS[p][1], k->key) && used < sizeof def)
                used += snprintf(def + used, sizeof def - used, "%s%s:%s", used ? " " : "", PRESETS[p][0], PRESETS[p][2]);
    }
    for (int t = 0; t < TASK_KIND_COUNT; t++)
        for (int p = 0; p < TASK_KINDS[t]->n_presets; p++)
            if (!strcmp(TASK_KINDS[t]->presets[p][0], k->key) && strlen(def) + 40 < sizeof def)
                snprintf(def + strlen(def), sizeof def - strlen(def), " (%s:%s)", TASK_KINDS[t]->name,
                         TASK_KINDS[t]->presets[p][1]);
    fprintf(f, "  %-16s %-34s %s", k->key, def, k->help);
    if (k->type == KEY_ENUM) fprintf(f, " (%s)", key_choices(k));
    fputc('\n', f);
}

void config_print_help(FILE *f) {
    fprintf(f, "harness run key=value ...   keys, defaults and meanings:\n\n");
    for (int i = 0; i < N_HARNESS_KEYS; i++)
        if (HARNESS_KEYS[i].help) print_key(f, &HARNESS_KEYS[i]);
    fprintf(f, "\nroutes (router=), each with the keys it declares:\n");
    for (int r = 0; r < MOE_ROUTE_COUNT; r++) {
        fprintf(f, "\n  router=%s: %s\n", MOE_ROUTES[r]->name, MOE_ROUTES[r]->help);
        for (int k = 0; k < MOE_ROUTES[r]->n_keys; k++) print_key(f, &MOE_ROUTES[r]->keys[k]);
    }
    fprintf(f, "\ntasks (task=), each with the keys it declares:\n");
    for (int t = 0; t < TASK_KIND_COUNT; t++) {
        fprintf(f, "\n  task=%s: %s\n", TASK_KINDS[t]->name, TASK_KINDS[t]->help);
        for (int k = 0; k < TASK_KINDS[t]->n_keys; k++) print_key(f, &TASK_KINDS[t]->keys[k]);
    }
}
