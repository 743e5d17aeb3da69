#include "run.h"
#include "progress.h"
#include "parallel.h"
#include "blas_core.h"
#include "gemm_tune.h"
#include "models/gemm.h"
#include "models/gemm_plan.h"
#include "run_identity.h"
#include "models/checkpoint.h"
#include "models/model.h"
#include "models/moe_route.h"
#include "models/optim.h"
#include "util/rng.h"
#include "models/transfer.h"
#include "results/results.h"
#include "tasks/task.h"
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include "util/sha256.h"
#include "util/invariant.h"
#include "util/stop.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MOEH_GIT_REV
#define MOEH_GIT_REV "unknown"
#endif

static void on_signal(int sig) { (void)sig; stop_request(); }

/* a training loss this many times the run's first is divergence, not noise: an untrained model
 * starts at about ln(vocab), and lr=10 ended a run at 7x that with status done */
#define DIVERGE_FACTOR 3.0f

int set_threads(long n) {
    int t = n > 0 ? (int)n : omp_get_num_procs();
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
    return t;
}

/* Metrics of one step gathered from the task and the loop, then written in one transaction. */
#define SINK_MAX 256
typedef struct {
    MetricSink sink;
    ResultsDb *db;
    int64_t run;
    int n;
    long puts;       /* every value put so far; the first `puts - n` of them are written */
    char split[SINK_MAX][32], name[SINK_MAX][48];
    double value[SINK_MAX];
    Progress *progress;
    Model *model;
    long step;       /* the step the gathered metrics belong to */
    MoeStats *base;  /* (layers) statistics at the last section of an evaluation pass */
    const char *bench_suffix; /* appended to downstream benchmark names ("_step0": before training) */
    const char *valid_as;     /* the valid split's rows under this name ("valid_capped": the
                                 evaluation at the training capacity) */
    ActivationCount *rows;   /* (3, rows_cap) histogram rows: all, image, text; allocated with the run */
    size_t rows_cap;         /* sum over MoE layers of heads x experts */
    int write_failed;        /* a write to results.db failed: the run fails at the end of the step */
    int evaluating;          /* inside an evaluation pass: once a stop is requested, what the task
                                puts is from a pass cut short and is dropped */
} StepMetrics;

static int sink_flush(StepMetrics *m, long step);

/* split, or "valid..." as StepMetrics.valid_as says (valid/de -> valid_capped/de) */
static const char *split_name(const StepMetrics *m, const char *split, char *buf, size_t n) {
    if (!m->valid_as || strncmp(split, "valid", 5) || (split[5] && split[5] != '/')) return split;
    snprintf(buf, n, "%s%s", m->valid_as, split + 5);
    return buf;
}

static void sink_put(MetricSink *s, const char *split, const char *name, double value) {
    StepMetrics *m = (StepMetrics *)s;
    if (m->evaluating && stop_requested()) return;
    if (m->n == SINK_MAX && sink_flush(m, m->step)) m->write_failed = 1; /* a full buffer is written, not dropped */
    char renamed[32];
    snprintf(m->split[m->n], sizeof m->split[0], "%s", split_name(m, split, renamed, sizeof renamed));
    snprintf(m->name[m->n], sizeof m->name[0], "%s", name);
    m->value[m->n++] = value;
    m->puts++;
}

static int sink_flush(StepMetrics *m, long step) {
    MetricValue v[SINK_MAX];
    for (int i = 0; i < m->n; i++) v[i] = (MetricValue){m->split[i], m->name[i], m->value[i]};
    int rc = m->n ? results_metrics(m->db, m->run, step, v, m->n) : 0;
    m->n = 0;
    return rc;
}

/* What the evaluation line shows: the numbers a person watches (the task's score, the drop
 * rate, the router's entropy), each split's; the rest of what the pass put (per-layer
 * statistics, balance, histograms) is counted and left to results.db. */
static const char *const CONSOLE_METRICS[] = {"loss", "ppl", "bpb", "acc", "acc_norm", "bleu4", "cider", "rouge_l",
                                              "dropped_frac", "router_entropy"};

static int console_metric(const char *name) {
    for (size_t i = 0; i < sizeof CONSOLE_METRICS / sizeof CONSOLE_METRICS[0]; i++)
        if (!strcmp(name, CONSOLE_METRICS[i])) return 1;
    return 0;
}

/* the values put since the running count was `from` (those a full buffer already wrote are
 * counted with the rest) */
static void report_eval(StepMetrics *sm, long step, long from) {
    char line[512] = "";
    size_t used = 0;
    long written = sm->puts - sm->n, start = from - written, rest = start < 0 ? -start : 0;
    for (int i = (int)(start < 0 ? 0 : start); i < sm->n; i++) {
        if (!console_metric(sm->name[i]) || used >= sizeof line - 1) { rest++; continue; }
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%s %s %.4f", used ? ", " : "", sm->split[i],
                                 sm->name[i], sm->value[i]);
    }
    if (rest) snprintf(line + used, sizeof line - used, "%s%ld more in results.db", used ? "; " : "", rest);
    progress_note(sm->progress, "step %ld: %s", step, line);
}

static const char *const MODEL_NAMES[] = {"dense", "smoe", "xmoe", "mhmoe"};

static void moe_stats_reset_all(Model *m) {
    for (int l = 0; l < m->cfg.layers; l++)
        if (m->moe[l].s.kind != MOE_NONE) moe_stats_reset(&m->moe[l]);
}

/* The model's configuration from the run keys and the task's spec; NULL, or what is wrong
 * with which keys. */
const char *model_config_from(const Config *cfg, const TaskSpec *spec, ModelConfig *mc) {
    static char why[256];
    int kind = 0;
    for (int i = 0; i < 4; i++) if (!strcmp(config_str(cfg, "model"), MODEL_NAMES[i])) kind = i;
    int C = (int)config_int(cfg, "d_model"), topk = (int)config_int(cfg, "topk");
    *mc = (ModelConfig){.vocab = spec->vocab, .n_out = spec->n_out, .max_seq = spec->seq_len,
                        .d_model = C, .layers = (int)config_int(cfg, "layers"),
                        .attn_heads = (int)config_int(cfg, "attn_heads"), .ffn_mult = 4, .causal = spec->causal,
                        .patch_dim = spec->patch_dim, .n_patches = spec->n_patches, .images = spec->images};
    mc->dense_linears = kind == MOE_NONE && !strcmp(config_str(cfg, "dense_mlp"), "both");
    if (kind != MOE_NONE) {
        mc->moe = kind;
        mc->experts = (int)config_int(cfg, "experts");
        mc->topk = topk ? topk : kind == MOE_SMOE ? 2 : 1;
        mc->moe_every = (int)config_int(cfg, "moe_every");
        mc->router_dim = (int)config_int(cfg, "router_dim");
        mc->mh_heads = kind == MOE_MHMOE ? (int)config_int(cfg, "heads") : 1;
        mc->mh_inner_residual = !strcmp(config_str(cfg, "mh_residual"), "inner");
        const char *layers = config_str(cfg, "mh_layers");
        mc->mh_without = (!strcmp(layers, "merge") || !strcmp(layers, "none") ? MH_WITHOUT_HEAD : 0) |
                         (!strcmp(layers, "head") || !strcmp(layers, "none") ? MH_WITHOUT_MERGE : 0);
        mc->mh_extra_layers = kind == MOE_MHMOE ? (int)config_int(cfg, "mh_mlp") - 1 : 0;
        mc->gate_sigmoid = !strcmp(config_str(cfg, "gate"), "sigmoid");
        mc->router_code = !strcmp(config_str(cfg, "router_norm"), "code");
        mc->expert_dim = (int)config_int(cfg, "expert_dim");
        if (!mc->expert_dim) mc->expert_dim = mc->ffn_mult * C;
        mc->route = moe_route_find(config_str(cfg, "router"));
        const MoeRoute *route = MOE_ROUTES[mc->route];
        int *arg[MOE_ROUTE_ARGS] = {&mc->route_arg0, &mc->route_arg1};
        /* a value at its default is 0, so the model config (and a checkpoint's) is the one from
         * before the route had the key */
        for (int k = 0; k < route->n_keys && k < MOE_ROUTE_ARGS; k++) {
            long v = config_int(cfg, route->keys[k].key);
            *arg[k] = v == strtol(route->keys[k].def, NULL, 10) ? 0 : (int)v;
        }
        mc->shared_experts = (int)config_int(cfg, "shared_experts");
        mc->balance_bias = !strcmp(config_str(cfg, "balance_mode"), "loss_free");
        if (kind == MOE_MHMOE && !config_int(cfg, "expert_dim") && !strcmp(config_str(cfg, "parity"), "params") &&
            mc->mh_heads > 0 && C % mc->mh_heads == 0)
            mc->expert_dim = model_parity_expert_dim(mc);
        /* fine-grained experts: G times as many, 1/G the size, G times as many per token */
        int G = (int)config_int(cfg, "granularity");
        if (G > 1) {
            if (!config_int(cfg, "expert_dim") && kind == MOE_MHMOE && !strcmp(config_str(cfg, "parity"), "params"))
                mc->expert_dim -= mc->expert_dim % G; /* parity's M is the nearest size anyway: round to G */
            if (mc->expert_dim % G) {
                snprintf(why, sizeof why, "granularity=%d must divide the expert size %d (expert_dim=, or the one parity solved)", G, mc->expert_dim);
                return why;
            }
            mc->experts *= G;
            mc->expert_dim /= G;
            mc->topk *= G;
        }
    }
    const char *bad = model_config_check(mc);
    if (!bad) bad = model_route_check(mc, config_float(cfg, "capacity"));
    if (bad) {
        snprintf(why, sizeof why, "task=%s model=%s router=%s d_model=%d attn_heads=%d experts=%d topk=%d heads=%d: %s",
                 config_str(cfg, "task"), MODEL_NAMES[kind], config_str(cfg, "router"), C, mc->attn_heads, mc->experts,
                 mc->topk, mc->mh_heads, bad);
        return why;
    }
    return NULL;
}

/* one MoE layer's value of a metric, stored as NAME/lL */
static void put_layer_metric(StepMetrics *sm, const char *split, const char *metric, int layer, double value) {
    char name[48];
    snprintf(name, sizeof name, "%s/l%d", metric, layer);
    sink_put(&sm->sink, split, name, value);
}

/* MoE statistics gathered since base (or since the counters were last reset, base NULL):
 * activation histograms to the activations table, summaries to the step's metrics. With no
 * base the counters start again; with one, base becomes the current state, so sections of an
 * evaluation (one per language) are written as they pass and the whole pass at its end.
 * When images were seen, the histogram is also written split into SPLIT/image (sub-tokens of
 * image-patch positions) and SPLIT/text (the rest). */
static int write_moe_stats(ResultsDb *db, int64_t run, long step, const char *split, Model *m,
                           StepMetrics *sm, MoeStats *base) {
    if (!m->n_moe) return 0;
    ActivationCount *rows[3] = {sm->rows, sm->rows + sm->rows_cap, sm->rows + 2 * sm->rows_cap};
    int n = 0, rc = 0, layers = 0;
    long long image_total = 0;
    double aux = 0, zl = 0, ent = 0, distinct = 0, tau = 0, spread = 0, rms = 0, cv = 0, maxvio = 0, dead = 0;
    long long dropped = 0, assigned = 0, unrouted = 0, subtokens = 0;
    for (int l = 0; l < m->cfg.layers; l++) {
        MoeLayer *L = &m->moe[l];
        if (L->s.kind == MOE_NONE) continue;
        MoeStats *b0 = base ? &base[l] : NULL;
        MoeWindow w = moe_window(L, b0);
        if (w.passes <= 0) continue;
        int H = moe_heads(L), N = L->s.experts;
        long long load[MOE_MAX_EXPERTS] = {0}; /* over the heads */
        for (int h = 0; h < H; h++) {
            long long total = 0, itotal = 0;
            for (int e = 0; e < N; e++) {
                total += moe_window_count(L, b0, h, e, 0);
                itotal += moe_window_count(L, b0, h, e, 1);
            }
            image_total += itotal;
            for (int e = 0; e < N; e++, n++) { /* rows_cap holds every layer's H * N (run_train) */
                long long c = moe_window_count(L, b0, h, e, 0), ic = moe_window_count(L, b0, h, e, 1);
                load[e] += c;
                rows[0][n] = (ActivationCount){l, h, e, c, total};
                rows[1][n] = (ActivationCount){l, h, e, ic, itotal};
                rows[2][n] = (ActivationCount){l, h, e, c - ic, total - itotal};
            }
        }
        put_layer_metric(sm, split, "router_entropy", l, w.entropy);
        put_layer_metric(sm, split, "moe_out_rms", l, w.out_rms);
        MoeImbalance im = moe_imbalance(load, N);
        put_layer_metric(sm, split, "load_cv", l, im.load_cv);
        put_layer_metric(sm, split, "max_violation", l, im.max_violation);
        put_layer_metric(sm, split, "dead_experts", l, im.dead_experts);
        cv += im.load_cv;
        maxvio += im.max_violation;
        dead += im.dead_experts;
        if (L->s.kind != MOE_SMOE) {
            put_layer_metric(sm, split, "router_tau", l, w.tau);
            put_layer_metric(sm, split, "router_cos_spread", l, w.cos_spread);
        }
        tau += w.tau;
        spread += w.cos_spread;
        rms += w.out_rms;
        aux += w.aux;
        zl += w.z_loss;
        unrouted += w.unrouted;
        subtokens += w.subtokens;
        ent += w.entropy;
        distinct += w.distinct;
        dropped += w.dropped;
        assigned += w.assignments;
        layers++;
        if (base) moe_stats_snapshot(L, &base[l]);
        else moe_stats_reset(L);
    }
    if (n) {
        rc = results_activations(db, run, step, split, rows[0], n);
        if (image_total > 0) {
            char sub[64];
            snprintf(sub, sizeof sub, "%s/image", split);
            rc = rc || results_activations(db, run, step, sub, rows[1], n);
            snprintf(sub, sizeof sub, "%s/text", split);
            rc = rc || results_activations(db, run, step, sub, rows[2], n);
        }
        sink_put(&sm->sink, split, "aux_loss", aux / layers);
        sink_put(&sm->sink, split, "router_entropy", ent / layers);
        sink_put(&sm->sink, split, "experts_per_token", distinct / layers);
        sink_put(&sm->sink, split, "dropped_frac", assigned ? (double)dropped / assigned : 0);
        sink_put(&sm->sink, split, "moe_out_rms", rms / layers);
        sink_put(&sm->sink, split, "load_cv", cv / layers);
        sink_put(&sm->sink, split, "max_violation", maxvio / layers);
        sink_put(&sm->sink, split, "dead_experts", dead / layers);
        if (m->z_coef > 0) sink_put(&sm->sink, split, "z_loss", zl / layers);
        if (m->cfg.route) sink_put(&sm->sink, split, "unrouted_frac", subtokens ? (double)unrouted / subtokens : 0);
        if (m->cfg.moe != MOE_SMOE) {
            sink_put(&sm->sink, split, "router_tau", tau / layers);
            sink_put(&sm->sink, split, "router_cos_spread", spread / layers);
        }
    }
    return rc;
}

/* sink->section: the part of an evaluation pass since the last section, under its label */
static void sink_section(MetricSink *s, const char *label) {
    StepMetrics *sm = (StepMetrics *)s;
    if (stop_requested()) return; /* the section was cut short */
    char renamed[64];
    if (write_moe_stats(sm->db, sm->run, sm->step, split_name(sm, label, renamed, sizeof renamed), sm->model, sm, sm->base))
        sm->write_failed = 1;
}

static void sink_eval(MetricSink *s, const char *benchmark, const char *metric, double value) {
    StepMetrics *sm = (StepMetrics *)s;
    if (stop_requested()) return; /* the benchmark was cut short */
    /* the suffix goes on the benchmark, before a language part: mc_step0/de */
    char name[96];
    const char *suffix = sm->bench_suffix ? sm->bench_suffix : "", *slash = strchr(benchmark, '/');
    int head = slash ? (int)(slash - benchmark) : (int)strlen(benchmark);
    snprintf(name, sizeof name, "%.*s%s%s", head, benchmark, suffix, slash ? slash : "");
    if (results_eval(sm->db, sm->run, name, metric, value)) sm->write_failed = 1;
    progress_note(sm->progress, "downstream %s %s = %.4f", name, metric, value);
}

/* a new evaluation pass: counters and section bases start from zero */
static void start_eval_pass(StepMetrics *sm, long step) {
    Model *m = sm->model;
    sm->step = step;
    for (int l = 0; l < m->cfg.layers; l++) {
        if (m->moe[l].s.kind == MOE_NONE) continue;
        moe_stats_reset(&m->moe[l]);
        moe_stats_snapshot(&m->moe[l], &sm->base[l]); /* the zeros just set */
    }
}

static int make_dir(const char *p) { return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1; }

/* One run, handed from stage to stage (run_configure, run_environment, run_build,
 * run_register, run_train); run_free is the one cleanup of whatever the stages reached. */
typedef struct {
    Model model;
    AdamW opt;
    Task *task;
    Batch *batch;
    ResultsDb *db;
    int64_t run;
    char *config_json;
    char err[1024];
    ModelConfig mc;
    TaskSpec spec;
    OptimConfig oc;
    Rng train_rng;
    int B, T, threads;
    long steps, start_step;
    double flops_per_token;
    char host[256];
    MoeStats *base; /* (layers) the evaluation passes' section statistics (StepMetrics.base) */
    /* a step's batch in slices (micro_batches=, or processes under mpirun: parallel=data):
     * this process runs slices rank * per_rank .. + per_rank - 1 of `slices`, slice_rows each */
    int rank, ranks, slices, per_rank, slice_rows, ordered;
    int expert_parallel;   /* parallel=expert: the MoE layers exchange rows through `exchange` */
    int sharded;           /* ... over several processes: each holds only its experts (ModelShard) */
    MoeExchange exchange;
    CheckpointGather gather; /* process 0 of a sharded run: the other processes' expert blocks */
    float *grad_sum;  /* (n_params) the slices' gradients added up, when a process runs several */
    float step_loss;  /* the last step's mean loss over its scored positions, every slice */
    int step_finite;  /* its objective was finite in every slice */
} Run;

/* What process 0 tells the others before each thing they do together (run_train_follower) */
enum { FOLLOW_END = 0, FOLLOW_STEP = 1, FOLLOW_EVALUATE = 2, FOLLOW_CHECKPOINT = 3 };

static void run_free(Run *r) {
    if (r->task) r->task->close(r->task);
    batch_free(r->batch);
    model_free(&r->model);
    adamw_free(&r->opt);
    results_close(r->db);
    free(r->config_json);
    free(r->grad_sum);
    free(r->gather.buf);
    for (int l = 0; r->base && l < r->mc.layers; l++) moe_stats_snapshot_free(&r->base[l]);
    free(r->base);
}

/* the stage's error into r->err (arguments may not point into r->err); returns 2, the exit
 * code of input that cannot run */
static int run_fail(Run *r, const char *fmt, ...) {
    char msg[sizeof r->err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(r->err, msg, sizeof msg);
    return 2;
}

/* the checkpoint's row, written while the new file is whole under PATH.tmp and before it takes
 * its name: a crash between the two leaves the previous file, which its own row still vouches
 * for (checkpoint_is_runs accepts any checkpoint the run recorded) */
typedef struct { Run *r; long step; const char *path, *sha; } CheckpointRow;
static int record_checkpoint(void *ctx, char *err, size_t errlen) {
    CheckpointRow *c = ctx;
    if (!results_checkpoint(c->r->db, c->r->run, c->step, c->path, c->sha)) return 0;
    snprintf(err, errlen, "db: cannot record the checkpoint %.600s: %s", c->path, results_error(c->r->db));
    return -1;
}

static int save_checkpoint(Run *r, const Config *cfg, long step, Rng *train_rng) {
    char path[4200];
    const char *out = config_str(cfg, "out");
    if (make_dir(out)) { snprintf(r->err, sizeof r->err, "out=%s: cannot create folder: %s", out, strerror(errno)); return -1; }
    snprintf(path, sizeof path, "%s/run-%lld.ckpt", out, (long long)r->run);
    CheckpointState st;
    memset(&st, 0, sizeof st);
    st.step = step;
    st.rng_state = train_rng->s;
    st.data_state = r->task->get_state(r->task);
    snprintf(st.config, sizeof st.config, "%s", r->config_json);
    /* the tokenizer, if any, beside it first: results.runs/run-3.ckpt, results.runs/run-3.bpe */
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s/run-%lld", out, (long long)r->run);
    if (r->task->save && r->task->save(r->task, prefix, r->err, sizeof r->err)) return -1;
    /* the file's identity: init=, pretraining reuse and resume= check it before loading, so a
     * file another db's run overwrote is refused instead of loaded */
    char sha[65];
    CheckpointRow row = {r, step, path, sha};
    if (r->sharded) parallel_broadcast_int(FOLLOW_CHECKPOINT); /* the others send their experts */
    return checkpoint_save_gathered(path, &r->model, &r->opt, &st, r->sharded ? &r->gather : NULL, sha, record_checkpoint,
                                    &row, r->err, sizeof r->err);
}

/* 0 if path is a file run wrote (the sha256 of its latest row, or of any of its rows: a crash
 * after a row and before its file's rename leaves the previous file; rows from before schema 5
 * have none), else -1 with err saying why */
static int checkpoint_is_runs(ResultsDb *rdb, const char *path, const char *sha_recorded, long long run, const char *db,
                              char *err, size_t errlen) {
    char sha[65];
    if (!*sha_recorded) return 0;
    if (file_check_regular(path, err, errlen)) return -1;
    if (sha256_file(path, sha)) { snprintf(err, errlen, "%.900s: cannot read: %s", path, strerror(errno)); return -1; }
    if (strcmp(sha, sha_recorded) && results_checkpoint_recorded(rdb, run, sha) != 1) {
        snprintf(err, errlen, "%.600s is not the checkpoint run %lld of db=%.200s wrote (sha256 %.12s..., recorded %.12s...): "
                 "another run, perhaps of another db with the same out=, has written over it", path, run, db, sha, sha_recorded);
        return -1;
    }
    return 0;
}

/* the keys a reused pretraining run must match: the pretraining roles (util/keys.h), less the
 * keys other tasks declare (a vqa key does not shape the mmm stage) */
static int pretraining_key(const KeyDef *k, const char *owner, const void *ctx) {
    return key_role_is_pretraining(k->role) && (!owner || !strcmp(owner, (const char *)ctx));
}

/* the latest finished mmm run with the pretraining's settings whose checkpoint this build can
 * read: its id, 0 if none (a match whose checkpoint is gone or of another format is said and
 * passed over, so the stage pretrains again), -1 if the db cannot be read (said on stderr) */
static int64_t find_pretraining(const char *dbpath, const char *task, const char *config_json) {
    char err[1024], path[4096];
    ResultsDb *db = results_open(dbpath, err, sizeof err);
    if (!db) { fprintf(stderr, "error: db=%s\n", err); return -1; }
    const char *keys[config_key_count()];
    int nkeys = config_keys_where(keys, config_key_count(), pretraining_key, task);
    int64_t id = results_find_done_run(db, 0, NULL, config_json, keys, nkeys); /* every pretraining key: all of them */
    CheckpointState st;
    char sha[65];
    if (id > 0) {
        int none = results_last_checkpoint(db, id, path, sizeof path, sha);
        if (none || checkpoint_read_state(path, &st, err, sizeof err) ||
            checkpoint_is_runs(db, path, sha, (long long)id, dbpath, err, sizeof err)) {
            printf("pretraining: run %lld has these settings but no usable checkpoint (%s); pretraining again\n",
                   (long long)id, none ? "none recorded" : err);
            id = 0;
        }
    }
    results_close(db);
    return id;
}

/* the task whose run this one starts from (TaskKind.pretrained_by), NULL if none */
static const char *pretraining_task(const Config *cfg) {
    const TaskKind *t = task_kind_find(config_str(cfg, "task"));
    return t ? t->pretrained_by : NULL;
}

int run_needs_pretraining(const Config *cfg) {
    return pretraining_task(cfg) && !*config_str(cfg, "init") && !*config_str(cfg, "resume") &&
           config_int(cfg, "pretrain_steps") > 0;
}

/* vqa, reasoning and captioning start from a masked multimodal modelling run. Without init=,
 * pretrain_steps of task=mmm with the same model and data run first as a run of their own (or
 * the db's finished run with the same settings is reused), and init= is set to it (and
 * recorded as pretrain_run), so both stages are in results.db. 0, or the exit code of a
 * pretraining run that did not finish. */
static int pretrain_stage(Config *cfg) {
    if (!run_needs_pretraining(cfg)) return 0;
    const char *task = pretraining_task(cfg);
    Config *pre = config_new();
    char word[256], err[1024];
    long steps = config_int(cfg, "pretrain_steps");
    char *json = config_to_json(cfg);
    int bad = 0;
    /* the stage's own words first: keys already set are kept by the merge */
    const char *own[] = {"pretrain_steps=0", "init=", "from=0", "resume=", "checkpoint_every=0"};
    for (size_t i = 0; i < sizeof own / sizeof own[0] && !bad; i++) bad = config_set(pre, own[i], err, sizeof err);
    snprintf(word, sizeof word, "task=%s", task);
    if (!bad) bad = config_set(pre, word, err, sizeof err);
    snprintf(word, sizeof word, "steps=%ld", steps);
    if (!bad) bad = config_set(pre, word, err, sizeof err);
    snprintf(word, sizeof word, "name=pretraining for %s", config_str(cfg, "task"));
    if (!bad) bad = config_set(pre, word, err, sizeof err);
    /* the stage's own data: pretrain_data= (an official VQAv2 or NLVR2 folder holds no captions) */
    const char *pre_data = config_str(cfg, "pretrain_data");
    char *data_word = NULL;
    if (!bad && *pre_data) {
        if (asprintf(&data_word, "data=%s", pre_data) < 0) data_word = NULL;
        bad = !data_word || config_set(pre, data_word, err, sizeof err);
        free(data_word);
    }
    if (!bad) bad = config_merge_json(pre, json, err, sizeof err);
    free(json);
    if (bad) { fprintf(stderr, "error: pretraining: %s\n", err); config_free(pre); return 2; }
    config_drop_task_defaults(cfg, pre); /* e.g. reasoning's batch: mmm takes its own */
    config_resolve(pre);
    char *pjson = config_to_json(pre);
    const char *dbpath = config_str(cfg, "db");
    int64_t id = find_pretraining(dbpath, task, pjson);
    if (id > 0) {
        printf("pretraining: reusing run %lld (task=%s, %ld steps, same model and data)\n", (long long)id, task, steps);
    } else if (id == 0) {
        printf("pretraining: task=%s for %ld steps first; %s then starts from it\n", task, steps, config_str(cfg, "task"));
        int rc = harness_run(pre);
        if (rc == 2) /* its input: most often a folder without image-text pairs */
            fprintf(stderr, "error: pretraining: task=%s could not start on data=%s (said above). %s starts from a "
                    "%s run, which needs image-text pairs: give pretrain_data=FOLDER (COCO captions: "
                    "annotations/captions_train2014.json with its images), or init=RUN_ID|PATH (weights to start "
                    "from), or pretrain_steps=0 (from scratch)\n", task, *config_str(pre, "data") ? config_str(pre, "data") : "(default)",
                    config_str(cfg, "task"), task);
        if (rc) { free(pjson); config_free(pre); return rc; }
        id = find_pretraining(dbpath, task, pjson);
        if (id > 0) printf("pretraining: finished run %lld\n", (long long)id);
    }
    free(pjson);
    config_free(pre);
    if (id <= 0) { fprintf(stderr, "error: pretraining: no finished task=%s run to start from\n", task); return 2; }
    snprintf(word, sizeof word, "init=%lld", (long long)id);
    if (config_set(cfg, word, err, sizeof err)) { fprintf(stderr, "error: pretraining: %s\n", err); return 2; }
    snprintf(word, sizeof word, "%lld", (long long)id);
    config_record(cfg, "pretrain_run", word);
    return 0;
}

/* init=RUN_ID (its last checkpoint in db=) or init=PATH into the built model; 0 or -1 with err */
static int init_weights(Model *m, const Config *cfg, int text_outputs, char *err, size_t errlen) {
    const char *init = config_str(cfg, "init");
    char path[4200], note[4600];
    if (init[strspn(init, "0123456789")] == '\0') {
        ResultsDb *db = results_open(config_str(cfg, "db"), err, errlen);
        if (!db) return -1;
        char sha[65];
        int none = results_last_checkpoint(db, atoll(init), path, sizeof path, sha);
        if (none) snprintf(err, errlen, "init=%s: db=%s holds no checkpoint of run %s", init, config_str(cfg, "db"), init);
        int bad = none || checkpoint_is_runs(db, path, sha, atoll(init), config_str(cfg, "db"), err, errlen);
        results_close(db);
        if (bad) return -1;
    } else {
        snprintf(path, sizeof path, "%s", init);
    }
    if (model_init_from(m, path, text_outputs, note, sizeof note, err, errlen)) return -1;
    printf("init=%s: %s\n", init, note);
    return 0;
}

/* resume= of a run this db holds that did not finish (interrupted, failed, or dead: its process
 * killed) continues that run id when the configuration is the same: its id, with the run
 * reopened from step; 0 for a new run (said why when the db knows the file); -1 with err when
 * the run is still alive, the file is not the one it wrote, or the db cannot be written */
static int64_t resume_run_id(ResultsDb *db, const char *resume, long step, const char *comparable, const char *dbpath,
                             const char *host, char *err, size_t errlen) {
    long owner_step = 0;
    char sha[65], status_was[32] = "";
    char *comparable_was = NULL;
    int64_t owner = results_checkpoint_owner(db, resume, &owner_step, sha), id = 0;
    if (owner <= 0 || results_run_status(db, owner, status_was, sizeof status_was, &comparable_was)) return 0;
    if (!strcmp(status_was, "running")) {
        snprintf(err, errlen, "resume=%.600s: run %lld of db=%.200s is still running (harness list shows it)", resume,
                 (long long)owner, dbpath);
        id = -1;
    } else if (strcmp(status_was, "done") && comparable_was && comparable && !strcmp(comparable_was, comparable)) {
        char why[1024];
        if (checkpoint_is_runs(db, resume, sha, (long long)owner, dbpath, why, sizeof why)) {
            snprintf(err, errlen, "resume=%.1000s", why);
            id = -1;
        } else if (results_run_reopen(db, owner, step, (long)getpid(), host)) {
            snprintf(err, errlen, "db=%.900s: cannot reopen run %lld: %s", dbpath, (long long)owner, results_error(db));
            id = -1;
        } else {
            printf("resume: run %lld (%s) continues from step %ld\n", (long long)owner, status_was, step);
            id = owner;
        }
    } else {
        printf("resume: run %lld of db=%s wrote %s, but %s: this is a new run\n", (long long)owner, dbpath, resume,
               !strcmp(status_was, "done") ? "it finished" : "the configuration differs");
    }
    free(comparable_was);
    return id;
}

TaskOptions run_task_options(const Config *cfg) {
    return (TaskOptions){.data = config_str(cfg, "data"), .data_dir = config_str(cfg, "data_dir"),
                         .seq_len = (int)config_int(cfg, "seq_len"), .batch = (int)config_int(cfg, "batch"),
                         .tokenizer = config_str(cfg, "tokenizer"), .vocab = (int)config_int(cfg, "vocab"),
                         .image_size = (int)config_int(cfg, "image_size"), .patch = (int)config_int(cfg, "patch"),
                         .seed = (uint64_t)config_int(cfg, "seed"), .value = config_task_value, .value_ctx = cfg};
}

/* parallel=expert's collectives, as the MoE layers call them */
static void alltoall_ints(void *ctx, const int *send, int *recv, int n) { (void)ctx; parallel_alltoall_ints(send, recv, n); }
static void alltoallv_floats(void *ctx, const float *send, const int *send_count, const int *send_at, float *recv,
                             const int *recv_count, const int *recv_at) {
    (void)ctx;
    parallel_alltoallv_floats(send, send_count, send_at, recv, recv_count, recv_at);
}

/* a sharded run's evaluation forwards: process 0 names each MoE layer whose rows it sends */
static void announce_layer(void *ctx, const MoeLayer *L) {
    const Run *r = ctx;
    parallel_broadcast_int((int)(L - r->model.moe));
}
static void sum_longs(void *ctx, long long *v, int n) { (void)ctx; parallel_sum_longs(v, n); }
static void sum_doubles(void *ctx, double *v, int n) { (void)ctx; parallel_sum_doubles(v, n); }
static void fetch_block(void *ctx, int process, float *into, size_t n) { (void)ctx; parallel_receive_floats(process, into, n); }
static void send_block(void *ctx, const float *p, size_t n) { (void)ctx; parallel_send_floats(0, p, n); }

/* processes and slices: parallel=, reduce=, micro_batches= against how the program was started */
static int run_configure_parallel(Run *r, Config *cfg) {
    r->rank = parallel_rank();
    r->ranks = parallel_size();
    const char *how = config_str(cfg, "parallel");
    int data = strcmp(how, "none") != 0; /* expert parallelism slices the batch as data does */
    r->expert_parallel = !strcmp(how, "expert");
    r->sharded = r->expert_parallel && r->ranks > 1;
    if (data && !parallel_built())
        return run_fail(r, "parallel=%s: this build has no MPI (cmake -DHARNESS_MPI=ON, with libopenmpi-dev)", how);
    if (r->ranks > 1 && !data)
        return run_fail(r, "started by mpirun as %d processes: say parallel=data (each process a slice of every batch) or "
                        "parallel=expert (and the experts split over the processes)", r->ranks);
    if (r->ranks > 1) {
        char v[32];
        if (!config_is_set(cfg, "micro_batches")) {
            snprintf(v, sizeof v, "%d", r->ranks);
            config_record(cfg, "micro_batches", v);
        }
        if (config_int(cfg, "micro_batches") % r->ranks)
            return run_fail(r, "micro_batches=%ld: with %d processes, expected a multiple of %d", config_int(cfg, "micro_batches"),
                            r->ranks, r->ranks);
        snprintf(v, sizeof v, "%d", r->ranks);
        config_record(cfg, "ranks", v);
    }
    r->slices = (int)config_int(cfg, "micro_batches");
    r->per_rank = r->slices / r->ranks;
    r->ordered = !strcmp(config_str(cfg, "reduce"), "ordered");
    return 0;
}

/* from=, resume='s stored configuration, then the presets */
static int run_configure(Run *r, Config *cfg) {
    char why[sizeof r->err];
    /* from=RUN_ID repeats a stored run: its configuration, with the words given now winning */
    if (config_is_set(cfg, "from") && config_int(cfg, "from") > 0) {
        const char *dbp = config_is_set(cfg, "db") ? config_str(cfg, "db") : "results.db";
        long long id = config_int(cfg, "from");
        ResultsDb *db = results_open(dbp, why, sizeof why);
        char *json = db ? results_run_config(db, id) : NULL;
        if (!json && db) snprintf(why, sizeof why, "db=%s holds no run %lld (harness list shows the runs)", dbp, id);
        int bad = !json || config_merge_stored(cfg, json, why, sizeof why);
        free(json);
        results_close(db);
        if (bad) return run_fail(r, "from=%lld: %s", id, why);
    }
    /* a resumed run takes the configuration stored in its checkpoint; words given now win */
    if (config_is_set(cfg, "resume") && *config_str(cfg, "resume")) {
        CheckpointState st;
        const char *path = config_str(cfg, "resume");
        /* resumed into another db (db= given): its checkpoints go beside that db, not back
         * into the folder the stored configuration names, where they would overwrite the
         * files the first db's sha256 rows vouch for */
        if (config_is_set(cfg, "db") && !config_is_set(cfg, "out") && config_set(cfg, "out=", why, sizeof why))
            return run_fail(r, "resume=%s: %s", path, why);
        if (checkpoint_read_state(path, &st, why, sizeof why) || config_merge_json(cfg, st.config, why, sizeof why))
            return run_fail(r, "resume=%s", why);
    }
    config_resolve(cfg);
    return run_configure_parallel(r, cfg);
}

/* threads, the BLAS recorded, the db and checkpoint folder usable */
static int run_environment(Run *r, Config *cfg) {
    r->threads = set_threads(config_int(cfg, "threads"));
    char blas[1024];
    blas_describe(blas, sizeof blas, r->threads);
    config_record(cfg, "blas_core", blas_core_name());
    config_record(cfg, "blas", blas);
    /* gemm=auto is measured once the model's shapes are known (run_build) */
    if (strcmp(config_str(cfg, "gemm"), "auto")) {
        char why[600];
        if (gemm_plan_parse(config_str(cfg, "gemm"), why, sizeof why))
            return run_fail(r, "%s%s", why, gemm_backend_count() == 1 ? " (oneDNN: apt-get install libdnnl-dev, then build again)" : "");
    }
    /* everything that can be wrong with the input is found before the run row is written */
    if (!*config_str(cfg, "db")) return run_fail(r, "db=: expected the path of a results database");
    if (!*config_str(cfg, "out")) { /* beside the db and named by it: two dbs never share a checkpoint */
        char beside[4200];
        const char *db = config_str(cfg, "db");
        size_t len = strlen(db);
        if (len > 3 && !strcmp(db + len - 3, ".db")) len -= 3;
        snprintf(beside, sizeof beside, "%.*s.runs", (int)len, db);
        config_record(cfg, "out", beside);
    }
    const char *outdir = config_str(cfg, "out");
    if (!*outdir || make_dir(outdir) || access(outdir, W_OK))
        return run_fail(r, "out=%s: checkpoints cannot be written there: %s", outdir, *outdir ? strerror(errno) : "expected a folder");
    return 0;
}

/* the task's data, the model (initialised, or from init= or resume=) and its optimizer */
static int gemm_auto(Run *r, Config *cfg);

static int run_build(Run *r, Config *cfg) {
    char why[sizeof r->err];
    r->B = (int)config_int(cfg, "batch");
    r->steps = config_int(cfg, "steps");
    TaskOptions topt = run_task_options(cfg);
    r->task = task_open(config_str(cfg, "task"), &topt, why, sizeof why);
    if (!r->task) return run_fail(r, "%s", why);
    r->spec = r->task->spec;
    r->T = r->spec.seq_len; /* a task may lengthen its sequences (image patches before the text) */
    int B = r->B, T = r->T;
    if (r->spec.group > 1 && B % r->spec.group)
        return run_fail(r, "batch=%d: task=%s reads each example as %d sequences; batch must be a multiple of %d",
                        B, config_str(cfg, "task"), r->spec.group, r->spec.group);
    r->slice_rows = B / r->slices;
    int group = r->spec.group > 1 ? r->spec.group : 1;
    if (B % r->slices || r->slice_rows % group)
        return run_fail(r, "batch=%d does not split into micro_batches=%d slices of whole examples (%d sequences each)", B,
                        r->slices, group);
    const char *bad = model_config_from(cfg, &r->spec, &r->mc);
    if (bad) return run_fail(r, "%s", bad);
    uint64_t seed = (uint64_t)config_int(cfg, "seed");
    r->oc = (OptimConfig){.lr = (float)config_float(cfg, "lr"), .beta1 = (float)config_float(cfg, "beta1"),
                          .beta2 = (float)config_float(cfg, "beta2"), .eps = 1e-8f,
                          .weight_decay = (float)config_float(cfg, "weight_decay"),
                          .grad_clip = (float)config_float(cfg, "grad_clip"),
                          .min_lr_frac = (float)config_float(cfg, "min_lr_frac"),
                          .warmup = (int)config_int(cfg, "warmup"), .total_steps = (int)r->steps,
                          .cosine = !strcmp(config_str(cfg, "schedule"), "cosine")};
    const ModelConfig *mc = &r->mc;
    r->batch = batch_alloc_images(B, T, r->spec.needs_mask, r->spec.n_patches, r->spec.patch_dim);
    if (r->batch && r->spec.group > 1) r->batch->group = r->spec.group;
    if (r->expert_parallel) {
        const char *why_not = moe_exchange_check(&(MoeShape){.experts = mc->experts}, r->ranks);
        if (!mc->moe) return run_fail(r, "parallel=expert: model=%s has no experts to split (parallel=data slices the batch)", config_str(cfg, "model"));
        if (why_not) return run_fail(r, "parallel=expert: experts=%d over %d processes: %s", mc->experts, r->ranks, why_not);
    }
    /* sharded: this process holds its block of every MoE layer's routed experts */
    ModelShard shard = {r->rank, r->ranks, sum_doubles, NULL};
    if (!r->batch || model_build_sharded(&r->model, mc, seed, r->sharded ? &shard : NULL) || model_alloc_batch(&r->model, B, T) ||
        adamw_init(&r->opt, &r->oc, r->model.n_params))
        return run_fail(r, "out of memory for d_model=%d layers=%d batch=%d seq_len=%d", mc->d_model, mc->layers, B, T);
    /* a signal cuts an evaluation forward short within one expert's work (a pass of experts=1024
     * topk=1024 took minutes); training forwards run whole */
    r->model.abandon = stop_requested;
    if (!strcmp(config_str(cfg, "gemm"), "auto") && gemm_auto(r, cfg)) return 2;
    if (r->expert_parallel) {
        const char *why_not;
        r->exchange = (MoeExchange){.rank = r->rank, .ranks = r->ranks, .slice_tokens = r->slice_rows * T, .ordered = r->ordered, .alltoall_ints = alltoall_ints,
                                    .alltoallv_floats = alltoallv_floats, .sharded = r->sharded, .announce = announce_layer, .ctx = r};
        if (model_set_exchange(&r->model, &r->exchange, &why_not)) {
            INVARIANT(!why_not); /* the experts were checked to split before the model was built */
            return run_fail(r, "out of memory for parallel=expert's exchange buffers");
        }
    }
    if (r->sharded) {
        int E = mc->experts / r->ranks;
        printf("process %d holds %zu of %zu parameters (experts %d-%d of %d in each MoE layer, with their gradients and "
               "optimizer state)\n", r->rank, r->model.n_params, r->model.n_params_full, r->rank * E, r->rank * E + E - 1, mc->experts);
    }
    if (r->sharded && r->rank == 0) {
        r->gather = (CheckpointGather){fetch_block, NULL, malloc(sizeof(float) * checkpoint_gather_floats(&r->model))};
        if (!r->gather.buf) return run_fail(r, "out of memory for gathering the experts into a checkpoint");
    }
    if (r->per_rank > 1 && !(r->grad_sum = malloc(sizeof(float) * r->model.n_params)))
        return run_fail(r, "out of memory for the gradient sum of micro_batches=%d", r->slices);
    r->flops_per_token = model_flops_per_token(mc, T);
    if (*config_str(cfg, "init") && !*config_str(cfg, "resume") &&
        init_weights(&r->model, cfg, r->spec.text_outputs, why, sizeof why))
        return run_fail(r, "%s", why);
    rng_seed(&r->train_rng, seed * 31 + 7);
    const char *resume = config_str(cfg, "resume");
    if (*resume) {
        CheckpointState st;
        if (checkpoint_load(resume, &r->model, &r->opt, &st, why, sizeof why)) return run_fail(r, "resume=%s", why);
        r->start_step = (long)st.step;
        r->train_rng.s = st.rng_state;
        r->task->set_state(r->task, st.data_state);
        /* at steps itself only a run a signal stopped in its closing evaluation goes on (run_register) */
        if (r->start_step > r->steps)
            return run_fail(r, "resume=%s is at step %ld, steps=%ld leaves nothing to do", resume, r->start_step, r->steps);
    }
    /* each layer's evaluation-section statistics */
    r->base = calloc(mc->layers, sizeof(MoeStats));
    if (!r->base) return run_fail(r, "out of memory for the MoE statistics");
    for (int l = 0; l < mc->layers; l++)
        if (moe_stats_snapshot_alloc(&r->model.moe[l], &r->base[l]))
            return run_fail(r, "out of memory for the MoE statistics");
    return 0;
}

/* gemm=auto: process 0 times the shapes and every process follows its plan (the same bits
 * whatever the process); the plan is stored as the run's gemm= */
static int gemm_auto(Run *r, Config *cfg) {
    char plan[4096], why[512];
    int len = 0;
    double t0 = now_seconds();
    if (r->rank == 0) {
        if (gemm_tune(&r->mc, r->batch, r->slices > 1 ? r->slice_rows : r->B, r->spec.n_patches, r->spec.patch_dim,
                      (float)config_float(cfg, "capacity"), why, sizeof why)) {
            run_fail(r, "%s", why);
            len = -1;
        } else if ((len = (int)gemm_plan_text(plan, sizeof plan)) >= (int)sizeof plan) {
            run_fail(r, "gemm=auto: the plan is %d bytes, more than a checkpoint's configuration holds", len);
            len = -1;
        }
    }
    if ((len = parallel_broadcast_int(len)) < 0) return -1;
    for (int i = 0; i <= len; i++) plan[i] = (char)parallel_broadcast_int(r->rank == 0 ? plan[i] : 0);
    if (r->rank != 0 && gemm_plan_parse(plan, why, sizeof why)) {
        run_fail(r, "%s", why);
        return -1;
    }
    config_record(cfg, "gemm", plan);
    if (r->rank == 0) printf("gemm=auto: %s (%.1f s to measure)\n", plan, now_seconds() - t0);
    return 0;
}

/* the run's row in results.db (or the resumed run's, reopened), with what was resolved */
static int run_register(Run *r, Config *cfg) {
    char why[sizeof r->err];
    const char *dbpath = config_str(cfg, "db"), *resume = config_str(cfg, "resume");
    const ModelConfig *mc = &r->mc;
    r->db = results_open(dbpath, why, sizeof why);
    if (!r->db) return run_fail(r, "db=%s", why);
    if (mc->moe) {
        char v[32];
        snprintf(v, sizeof v, "%d", mc->topk);
        config_record(cfg, "topk_used", v);
        snprintf(v, sizeof v, "%d", mc->expert_dim);
        config_record(cfg, "expert_dim_used", v);
    }
    r->config_json = config_to_json(cfg);
    if (strlen(r->config_json) >= sizeof ((CheckpointState *)0)->config) /* else resume= would read a cut config */
        return run_fail(r, "the run's configuration is %zu bytes as JSON, a checkpoint holds %zu: shorten name=, data= or "
                        "the other paths", strlen(r->config_json), sizeof ((CheckpointState *)0)->config - 1);
    char *comparable = run_comparable_json(cfg), label[96];
    run_label(cfg, mc->moe ? mc->topk : 0, label, sizeof label);
    gethostname(r->host, sizeof r->host - 1);
    RunInfo info = {.name = config_str(cfg, "name"), .task = config_str(cfg, "task"),
                    .model = config_str(cfg, "model"), .seed = config_int(cfg, "seed"),
                    .experts = mc->moe ? mc->experts : 0, .topk = mc->moe ? mc->topk : 0,
                    .heads = mc->moe == MOE_MHMOE ? mc->mh_heads : 0,
                    .config = r->config_json, .params = (long long)model_num_params(&r->model),
                    .flops_per_token = r->flops_per_token, .host = r->host, .git_rev = MOEH_GIT_REV,
                    .comparable = comparable, .label = label};
    r->run = *resume ? resume_run_id(r->db, resume, r->start_step, comparable, dbpath, r->host, r->err, sizeof r->err) : 0;
    if (r->run < 0) { free(comparable); return 2; } /* resume_run_id said why in r->err */
    if (*resume && !r->run && r->start_step >= r->steps) {
        free(comparable);
        return run_fail(r, "resume=%s is at step %ld, steps=%ld leaves nothing to do", resume, r->start_step, r->steps);
    }
    if (!r->run) r->run = results_run_begin(r->db, &info);
    free(comparable);
    if (r->run < 0) return run_fail(r, "db=%s: cannot add the run: %s", dbpath, results_error(r->db));
    if (results_run_alive(r->db, r->run, (long)getpid(), r->host))
        return run_fail(r, "db=%s: cannot record this process for run %lld: %s", dbpath, (long long)r->run, results_error(r->db));
    printf("run %lld: task=%s model=%s params=%zu flops/token=%.3g threads=%d steps=%ld batch=%dx%d db=%s\n",
           (long long)r->run, info.task, info.model, model_num_params(&r->model), r->flops_per_token, r->threads,
           r->steps, r->B, r->T, dbpath);
    if (mc->moe)
        printf("  experts=%d topk=%d heads=%d expert_dim=%d router_dim=%d moe_every=%d capacity=%g balance=%g\n",
               mc->experts, mc->topk, mc->mh_heads, mc->expert_dim, mc->router_dim, mc->moe_every,
               config_float(cfg, "capacity"), config_float(cfg, "balance"));
    return 0;
}

/* The router options every process sets alike (z-loss per slice, the loss-free bias step), and
 * the weight of the model's mean balance loss, which train_step divides among the slices */
static float training_options(Run *r, const Config *cfg) {
    model_set_router_options(&r->model, (float)config_float(cfg, "z_loss") / r->slices, (float)config_float(cfg, "bias_rate"));
    if (strcmp(config_str(cfg, "balance_mode"), "aux")) return 0; /* loss_free, none: no balance loss */
    float balance = (float)config_float(cfg, "balance");
    /* the model averages the layers' balance losses; a sum is the average weighed n_moe times */
    return !strcmp(config_str(cfg, "balance_reduce"), "sum") ? balance * (float)r->model.n_moe : balance;
}

/* the gradients over processes: all of them; sharded, those of the tensors every process
 * holds (each runs of consecutive ones summed at once), an expert's being its owner's alone */
static void sum_replicated_grads(Model *m, int ordered) {
    if (m->shard.ranks == 1) { parallel_sum_floats(m->grads, m->n_params, ordered); return; }
    size_t from = 0, to = 0;
    for (int i = 0; i <= m->n_tensors; i++) {
        if (i < m->n_tensors && !m->tensors[i].expert_unit) { to = m->tensors[i].off + m->tensors[i].n; continue; }
        if (to > from) parallel_sum_floats(m->grads + from, to - from, ordered);
        if (i < m->n_tensors) from = to = m->tensors[i].off + m->tensors[i].n;
    }
}

/* One training step up to the optimizer: the next batch, then this process's slices, each a
 * forward and backward, their gradients added in slice order; over processes, the gradients,
 * the loss, the loss-free balancing loads and (log_window: the step closes a logging window)
 * the MoE statistics summed. Every process calls the same collectives in the same order, so
 * all of a step's communication is here. Sets r->step_loss and r->step_finite. */
static void train_step(Run *r, float capacity, float balance, int log_window) {
    Model *m = &r->model;
    r->task->next_batch(r->task, r->batch);
    /* each slice's balance (and z-) loss counts 1 / slices: their sum is one loss of the step */
    model_set_moe_options(m, 1, capacity, balance / r->slices);
    if (r->slices == 1) {
        model_set_loss_denominator(m, 0);
        r->step_loss = model_forward(m, r->batch);
        r->step_finite = isfinite(model_objective(m));
        model_zero_grad(m);
        model_backward(m);
        return;
    }
    long scored = batch_scored(r->batch);
    model_set_rows(m, r->slice_rows);
    model_set_loss_denominator(m, (int)scored);
    double loss_sum = 0;
    int finite = 1;
    for (int j = 0; j < r->per_rank; j++) {
        Batch slice = batch_rows(r->batch, (r->rank * r->per_rank + j) * r->slice_rows, r->slice_rows,
                                 r->spec.n_patches, r->spec.patch_dim);
        loss_sum += (double)model_forward(m, &slice) * m->loss_count;
        finite &= isfinite(model_objective(m));
        model_zero_grad(m);
        model_backward(m);
        if (r->per_rank == 1) break;
        if (j == 0) memcpy(r->grad_sum, m->grads, sizeof(float) * m->n_params);
        else
            for (size_t i = 0; i < m->n_params; i++) r->grad_sum[i] = r->grad_sum[i] + m->grads[i];
    }
    if (r->per_rank > 1) memcpy(m->grads, r->grad_sum, sizeof(float) * m->n_params);
    if (r->ranks > 1) {
        sum_replicated_grads(m, r->ordered);
        double v[2] = {loss_sum, !finite};
        parallel_sum_doubles(v, 2);
        loss_sum = v[0];
        finite = v[1] == 0;
        for (int l = 0; l < m->cfg.layers; l++) {
            int n;
            long long *load = model_step_load(m, l, &n);
            parallel_sum_longs(load, n);
        }
        if (log_window) model_moe_stats_reduce(m, &(MoeSum){sum_longs, sum_doubles, NULL});
    }
    model_set_rows(m, r->B); /* evaluations read whole batches */
    model_set_loss_denominator(m, 0);
    r->step_loss = (float)(scored ? loss_sum / scored : 0);
    r->step_finite = finite;
}

/* processes 1 .. P-1 of parallel=data or expert: the steps (and, sharded, their experts' part
 * of process 0's evaluations and checkpoints), as long as process 0 says go on, with no
 * evaluation, db or checkpoint (process 0 has them); the run's exit code as process 0 tells */
static int run_train_follower(Run *r, Config *cfg) {
    float capacity = (float)config_float(cfg, "capacity"), balance = training_options(r, cfg);
    long log_every = config_int(cfg, "log_every"), step = r->start_step;
    for (int what; (what = parallel_broadcast_int(0)) != FOLLOW_END;) {
        if (what == FOLLOW_EVALUATE) { /* sharded: the experts of each layer process 0 names */
            for (int l; (l = parallel_broadcast_int(0)) >= 0;) moe_exchange_serve(&r->model.moe[l], r->model.params);
            continue;
        }
        if (what == FOLLOW_CHECKPOINT) {
            checkpoint_send_blocks(&r->model, &r->opt, send_block, NULL);
            continue;
        }
        int log_window = (step + 1) % log_every == 0 || step + 1 == r->steps;
        train_step(r, capacity, balance, log_window);
        adamw_step(&r->opt, &r->model);
        model_balance_update(&r->model);
        if (log_window) moe_stats_reset_all(&r->model);
        step++;
    }
    return parallel_broadcast_int(0);
}

/* process 0's evaluation: a sharded run's other processes serve their experts meanwhile */
static void evaluation_begin(const Run *r) { if (r->sharded) parallel_broadcast_int(FOLLOW_EVALUATE); }
static void evaluation_end(const Run *r) { if (r->sharded) parallel_broadcast_int(-1); }

/* An evaluation is due after `step` of `steps`: every eval_every steps and after the last. */
static int evaluation_due(long step, long steps, long eval_every) {
    return (eval_every && step % eval_every == 0) || step == steps;
}

/* The evaluations due after step (final: the closing pass, with the test split and the
 * downstream benchmarks). 1 when a signal cut them short: the tasks return within a batch, what
 * they put from then on is dropped, and the step's evaluation is done again on resume. */
static int evaluate_step(Run *r, StepMetrics *sm, long step, int final, long max_tokens, long final_eval_tokens,
                         float capacity, float balance) {
    long from = sm->puts;
    sm->evaluating = 1;
    evaluation_begin(r);
    model_set_moe_options(&r->model, 0, capacity, balance); /* evaluation is dropless */
    start_eval_pass(sm, step);
    r->task->evaluate(r->task, &r->model, r->batch, SPLIT_VALID, max_tokens, final, &sm->sink);
    if (!stop_requested() && write_moe_stats(r->db, r->run, step, "valid", &r->model, sm, NULL)) sm->write_failed = 1;
    /* the closing evaluation also scores the valid split at the training capacity, as
     * valid_capped: what capped evaluation would have reported (the default is dropless) */
    if (final && !stop_requested() && model_set_capped_evaluation(&r->model, 1)) {
        start_eval_pass(sm, step);
        sm->valid_as = "valid_capped";
        r->task->evaluate(r->task, &r->model, r->batch, SPLIT_VALID, max_tokens, final, &sm->sink);
        if (!stop_requested() && write_moe_stats(r->db, r->run, step, "valid_capped", &r->model, sm, NULL)) sm->write_failed = 1;
        sm->valid_as = NULL;
    }
    model_set_capped_evaluation(&r->model, 0);
    if (final && !stop_requested()) {
        start_eval_pass(sm, step);
        r->task->evaluate(r->task, &r->model, r->batch, SPLIT_TEST, final_eval_tokens, 1, &sm->sink);
        if (!stop_requested() && write_moe_stats(r->db, r->run, step, "test", &r->model, sm, NULL)) sm->write_failed = 1;
        if (r->task->downstream && !stop_requested()) {
            start_eval_pass(sm, step);
            r->task->downstream(r->task, &r->model, r->batch, &sm->sink);
            moe_stats_reset_all(&r->model);
        }
    }
    sm->evaluating = 0;
    evaluation_end(r);
    if (stop_requested()) {
        moe_stats_reset_all(&r->model);
        return 1;
    }
    report_eval(sm, step, from);
    return 0;
}

/* the training loop with its evaluations and checkpoints; the run's exit code: 0 done, 1
 * diverged or failed, 130 interrupted */
static int run_train(Run *r, Config *cfg) {
    const char *dbpath = config_str(cfg, "db");
    int B = r->B, T = r->T;
    long steps = r->steps, start_step = r->start_step;
    Progress progress;
    progress_start(&progress, steps, config_int(cfg, "log_every"));
    StepMetrics sm = {.sink = {sink_put, sink_eval, sink_section, NULL}, .db = r->db, .run = r->run,
                      .progress = &progress, .model = &r->model, .step = start_step, .base = r->base};
    for (int l = 0; l < r->mc.layers; l++)
        if (r->model.moe[l].s.kind != MOE_NONE) sm.rows_cap += (size_t)moe_heads(&r->model.moe[l]) * r->model.moe[l].s.experts;
    sm.rows = malloc(sizeof *sm.rows * (3 * sm.rows_cap + 1));
    if (!sm.rows) { snprintf(r->err, sizeof r->err, "out of memory for the activation histograms"); fprintf(stderr, "error: %s\n", r->err); return 2; }
    long log_every = config_int(cfg, "log_every"), eval_every = config_int(cfg, "eval_every");
    long ckpt_every = config_int(cfg, "checkpoint_every"), eval_tokens = config_int(cfg, "eval_tokens");
    long final_eval_tokens = config_int(cfg, "final_eval_tokens");
    float capacity = (float)config_float(cfg, "capacity"), balance = training_options(r, cfg);
    /* the data's description, once: at step 0 (a resumed run's are kept) */
    if (start_step == 0) r->task->describe(r->task, &sm.sink);
    if (sink_flush(&sm, start_step)) sm.write_failed = 1; /* the first step's check fails the run */
    /* the zero-shot score of the model the run starts from (untrained, or init='s weights):
     * the floor each trained score is read against (a 3-step model scored 0.300 at tiny) */
    if (r->task->downstream && start_step == 0 && !stop_requested()) {
        model_set_moe_options(&r->model, 0, capacity, balance);
        start_eval_pass(&sm, 0);
        sm.bench_suffix = "_step0";
        sm.evaluating = 1;
        evaluation_begin(r);
        r->task->downstream(r->task, &r->model, r->batch, &sm.sink);
        evaluation_end(r);
        sm.evaluating = 0;
        sm.bench_suffix = NULL;
        moe_stats_reset_all(&r->model);
    }

    progress_restart_clock(&progress); /* the estimate counts training steps, not the step-0 evaluation */
    const char *status = "done";
    double wall0 = now_seconds(), train_time = 0, window_time = 0;
    long window_tokens = 0, trained_steps = 0;
    long step = start_step;
    float first_loss = 0;
    double comm_bytes0, comm_seconds0;
    parallel_traffic(&comm_bytes0, &comm_seconds0);
    long window_steps = 0;
    /* resumed where an evaluation was due: it is done again before training goes on (resuming
     * dropped its rows, as a signal may have cut it short), and at the last step it is all
     * that is left */
    int redo_evaluation = start_step > 0 && evaluation_due(start_step, steps, eval_every);
    while (step < steps || redo_evaluation) {
        if (stop_requested()) { status = "interrupted"; break; }
        if (!redo_evaluation) {
            parallel_broadcast_int(FOLLOW_STEP); /* the other processes: one more step */
            double t0 = now_seconds();
            train_step(r, capacity, balance, (step + 1) % log_every == 0 || step + 1 == steps);
            float loss = r->step_loss;
            if (!r->step_finite) {
                status = "diverged";
                snprintf(r->err, sizeof r->err, "training loss became %g at step %ld", loss, step + 1);
                break;
            }
            if (step == start_step) first_loss = loss;
            else if (loss > DIVERGE_FACTOR * first_loss) {
                status = "diverged";
                snprintf(r->err, sizeof r->err, "training loss %g at step %ld is over %gx its %g at step %ld (lower lr= or raise warmup=)",
                         loss, step + 1, DIVERGE_FACTOR, first_loss, start_step + 1);
                break;
            }
            double gnorm = adamw_step(&r->opt, &r->model);
            model_balance_update(&r->model);
            step++;
            sm.step = step;
            trained_steps++;
            double dt = now_seconds() - t0;
            train_time += dt;
            window_time += dt;
            window_tokens += (long)B * T;
            window_steps++;
            double tps = window_tokens / (window_time > 0 ? window_time : 1e-9);
            progress_step(&progress, step, loss, tps);
            if (step % log_every == 0 || step == steps) {
                sink_put(&sm.sink, "train", "loss", loss);
                sink_put(&sm.sink, "train", "lr", lr_at(&r->oc, step - 1));
                sink_put(&sm.sink, "train", "grad_norm", gnorm);
                sink_put(&sm.sink, "train", "tokens_per_s", tps);
                if (r->ranks > 1) { /* what data parallelism sent and waited, per step of the window */
                    double bytes, seconds;
                    parallel_traffic(&bytes, &seconds);
                    sink_put(&sm.sink, "train", "comm_bytes_per_step", (bytes - comm_bytes0) / window_steps);
                    sink_put(&sm.sink, "train", "comm_seconds_per_step", (seconds - comm_seconds0) / window_steps);
                    comm_bytes0 = bytes;
                    comm_seconds0 = seconds;
                }
                window_time = 0;
                window_tokens = 0;
                window_steps = 0;
                if (write_moe_stats(r->db, r->run, step, "train", &r->model, &sm, NULL)) sm.write_failed = 1;
            }
        }
        redo_evaluation = 0;
        int final = step == steps;
        if (evaluation_due(step, steps, eval_every) &&
            evaluate_step(r, &sm, step, final, final ? final_eval_tokens : eval_tokens, final_eval_tokens, capacity, balance)) {
            status = "interrupted"; /* the training step's own metrics are flushed below */
            break;
        }
        if (final && trained_steps) sink_put(&sm.sink, "train", "train_tokens_per_s", (double)trained_steps * B * T / train_time);
        if (sink_flush(&sm, step) || sm.write_failed ||
            (step % log_every == 0 && results_run_alive(r->db, r->run, (long)getpid(), r->host))) { /* the heartbeat */
            status = "failed";
            snprintf(r->err, sizeof r->err, "db=%s: cannot write metrics: %s", dbpath, results_error(r->db));
            break;
        }
        if ((ckpt_every && step % ckpt_every == 0) || final) {
            if (save_checkpoint(r, cfg, step, &r->train_rng)) { status = "failed"; break; }
        }
    }
    progress_end(&progress);
    if (!strcmp(status, "interrupted") && (sink_flush(&sm, step) || sm.write_failed)) {
        status = "failed";
        snprintf(r->err, sizeof r->err, "db=%s: cannot write metrics: %s", dbpath, results_error(r->db));
    }
    if (!strcmp(status, "interrupted") && save_checkpoint(r, cfg, step, &r->train_rng) == 0)
        printf("interrupted at step %ld; continue with resume=%s/run-%lld.ckpt\n", step, config_str(cfg, "out"), (long long)r->run);
    parallel_broadcast_int(FOLLOW_END); /* the other processes: no more steps */
    int done = !strcmp(status, "done");
    if (results_run_finish(r->db, r->run, status, done ? NULL : (*r->err ? r->err : status), now_seconds() - wall0)) {
        fprintf(stderr, "error: db=%s: cannot record run %lld as %s: %s\n", dbpath, (long long)r->run, status,
                results_error(r->db));
        if (done) status = "failed", done = 0;
    }
    if (!done) fprintf(stderr, "run %lld %s%s%s\n", (long long)r->run, status, *r->err ? ": " : "", r->err);
    else printf("run %lld done in %.1fs (%.0f training tokens/s)\n", (long long)r->run, now_seconds() - wall0,
                train_time > 0 ? trained_steps * (double)B * T / train_time : 0);
    free(sm.rows);
    return parallel_broadcast_int(done ? 0 : !strcmp(status, "interrupted") ? 130 : 1);
}

int harness_run(Config *cfg) {
    Run r;
    memset(&r, 0, sizeof r);
    /* from the start: a signal during data loading or the step-0 evaluation stops the run at
     * its first step with a checkpoint, instead of being lost (a background job of a script
     * starts with SIGINT ignored) or killing it with nothing stored */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);  /* the terminal closed: the same as Ctrl-C */
    signal(SIGPIPE, on_signal); /* stdout's reader went away (harness run | head): stop and save */
    int rc = run_configure(&r, cfg), pre = 0;
    /* the pretraining stage is a run of its own, which says its own errors */
    if (!rc) pre = pretrain_stage(cfg);
    if (!rc && !pre) rc = run_environment(&r, cfg);
    if (!rc && !pre) rc = run_build(&r, cfg);
    if (!rc && !pre && r.rank == 0) rc = run_register(&r, cfg); /* process 0 alone writes the db */
    if (rc && parallel_size() > 1) fprintf(stderr, "process %d: ", parallel_rank());
    if (rc) fprintf(stderr, "error: %s\n", r.err);
    if (!pre && parallel_size() > 1) { /* the processes train together or not at all */
        long long failed = rc != 0;
        parallel_sum_longs(&failed, 1);
        if (failed && !rc) rc = 2;
    }
    if (!rc && !pre) rc = r.rank == 0 ? run_train(&r, cfg) : run_train_follower(&r, cfg);
    run_free(&r);
    return pre ? pre : rc;
}
