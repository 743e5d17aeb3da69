/* `harness sweep key=a,b key2=c,d ... [force=1]`: the cartesian product of the comma lists,
 * one `harness run` each, in order. A configuration already finished in the db (same values
 * of every swept and given key) is skipped unless force=1, so an interrupted sweep continues
 * where it stopped when the same command is run again.
 * `harness sweep paper|routers [size=tiny] [seeds=N|plan] [key=value ...]`: a named grid (paper:
 * the grid behind the figures, then `harness plot fig=all`; routers: the routing after the
 * paper, then `harness plot fig=routers`); a word whose key a row sets narrows the grid to
 * its values (`sweep compute size=small steps=1400`: that point alone), a watch key replaces the
 * rows' value (`eval_every=60`). dry=1 lists what would
 * run, timed by the finished seeds of each configuration, and runs nothing.
 * Each run is a `harness run` child process; jobs=N keeps N of them going (one thread each
 * unless threads= is given, output in logs=sweep_logs/TIME-N.log), all writing the same results.db
 * (SQLite WAL, one transaction per write). Finetunes that pretrain start after the rest, so
 * they find the mmm runs they reuse finished. */
#include "sweep.h"
#include "config.h"
#include "run.h"
#include "run_identity.h"
#include "plots/plot.h"
#include "results/results.h"
#include "progress.h"
#include "parallel.h"
#include "sweep_ranks.h"
#include "util/keys.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORDS 32
#define MAX_RUNS 4096
#define MAX_SEEDS 39      /* seed=1,...,39 fits the seed word */
#define GRID_WORD_MAX 4096

typedef struct {
    int n;
    int overflow;  /* runs past MAX_RUNS: the sweep refuses to start rather than run part */
    const char *too_long; /* a word longer than a grid word holds: refused, not cut */
    char *words[MAX_RUNS][MAX_WORDS];
    int nwords[MAX_RUNS];
} Grid;

/* expands words (some holding comma lists) into the grid's runs, appending */
static void expand(Grid *g, char **words, int n, int at, char **cur) {
    if (at == n) {
        if (g->n >= MAX_RUNS) { g->overflow++; return; }
        for (int i = 0; i < n; i++) g->words[g->n][i] = strdup(cur[i]);
        g->nwords[g->n++] = n;
        return;
    }
    const char *eq = strchr(words[at], '=');
    const char *vals = eq ? eq + 1 : "";
    size_t klen = eq ? (size_t)(eq - words[at]) : strlen(words[at]);
    char buf[GRID_WORD_MAX];
    for (const char *p = vals;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (snprintf(buf, sizeof buf, "%.*s=%.*s", (int)klen, words[at], (int)len, p) >= (int)sizeof buf) {
            g->too_long = words[at];
            return;
        }
        cur[at] = buf; /* lives in this frame while the deeper levels copy it */
        expand(g, words, n, at + 1, cur);
        if (!comma) break;
        p = comma + 1;
    }
}

static void add_grid(Grid *g, const char *const *words, int n) {
    char *w[MAX_WORDS], *cur[MAX_WORDS];
    for (int i = 0; i < n; i++) w[i] = (char *)words[i];
    expand(g, w, n, 0, cur);
}

static void key_of(const char *word, char *key, size_t n) {
    size_t k = strcspn(word, "=");
    snprintf(key, n, "%.*s", (int)(k < n ? k : n - 1), word);
}

typedef struct {
    int index;      /* in the grid */
    int phase;      /* 1: a finetune whose pretraining stage reuses a phase-0 run */
    char line[1024];
    char *identity; /* seed and comparable configuration: two grid rows with the same are one run */
} Job;

static volatile sig_atomic_t sweep_stop = 0;
static void on_sweep_signal(int sig) { (void)sig; sweep_stop = 1; }

/* `harness run WORDS` in a child process: its output on the terminal (jobs=1) or in
 * LOGS/N.log; each job one thread unless threads= was given */
static pid_t start_job(const Grid *g, const Job *j, int jobs, int threads_given, const char *logpath) {
    char *argv[MAX_WORDS + 4];
    int a = 0;
    argv[a++] = "harness";
    argv[a++] = "run";
    for (int i = 0; i < g->nwords[j->index]; i++) argv[a++] = g->words[j->index][i];
    if (jobs > 1 && !threads_given) argv[a++] = "threads=1";
    argv[a] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (jobs > 1) {
            int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) { fprintf(stderr, "error: sweep: cannot write %s: %s\n", logpath, strerror(errno)); _exit(2); }
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv("/proc/self/exe", argv);
        fprintf(stderr, "error: sweep: cannot start the harness: %s\n", strerror(errno));
        _exit(2);
    }
    return pid;
}

/* runs the jobs, up to `jobs` at once, phase 0 before phase 1; 0, or 130 when interrupted */
static int run_jobs(const Grid *g, const Job *todo, int ntodo, int jobs, int threads_given, const char *logs,
                    int *done, int *failed) {
    if (jobs > 1 && ntodo && mkdir(logs, 0755) && errno != EEXIST) {
        fprintf(stderr, "error: sweep: logs=%s: cannot make the folder: %s\n", logs, strerror(errno));
        return 2;
    }
    /* logs of one sweep carry its start time, so a later sweep into the same folder keeps them */
    char stamp[32];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
    sweep_stop = 0;
    struct sigaction sa = {.sa_handler = on_sweep_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    pid_t pid_of[64];
    int job_of[64], running = 0, interrupted = 0, forwarded = 0;
    double started[64];
    char logpath[64][600];
    for (int phase = 0; phase < 2 && !interrupted && !sweep_stop; phase++) {
        int next = 0;
        for (;;) {
            while (running < jobs && !sweep_stop && !interrupted) {
                while (next < ntodo && todo[next].phase != phase) next++;
                if (next >= ntodo) break;
                int slot = running;
                snprintf(logpath[slot], sizeof logpath[slot], "%s/%s-%d.log", logs, stamp, todo[next].index + 1);
                pid_t pid = start_job(g, &todo[next], jobs, threads_given, logpath[slot]);
                if (pid < 0) { fprintf(stderr, "error: sweep: fork: %s\n", strerror(errno)); interrupted = 1; break; }
                printf("sweep [%d/%d]%s%s%s\n", todo[next].index + 1, g->n, todo[next].line,
                       jobs > 1 ? "  -> " : "", jobs > 1 ? logpath[slot] : "");
                fflush(stdout);
                pid_of[slot] = pid;
                job_of[slot] = next++;
                started[slot] = now_seconds();
                running++;
            }
            if (!running) break;
            if (sweep_stop && !forwarded) { /* a SIGTERM to the sweep reaches its runs too */
                for (int k = 0; k < running; k++) kill(pid_of[k], SIGTERM);
                forwarded = 1;
            }
            int status;
            pid_t pid = waitpid(-1, &status, 0);
            if (pid < 0) {
                if (errno == EINTR) continue;
                break;
            }
            int slot = 0;
            while (slot < running && pid_of[slot] != pid) slot++;
            if (slot == running) continue;
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            const Job *j = &todo[job_of[slot]];
            if (code == 0) (*done)++;
            else if (code == 130) interrupted = 1;
            else (*failed)++;
            if (jobs > 1 || code)
                printf("sweep [%d/%d]%s: %s after %.0f s%s%s\n", j->index + 1, g->n, j->line,
                       code == 0 ? "done" : code == 130 ? "interrupted" : "failed", now_seconds() - started[slot],
                       code && jobs > 1 ? ", see " : "", code && jobs > 1 ? logpath[slot] : "");
            fflush(stdout);
            /* the slot's place goes to the last running job */
            running--;
            pid_of[slot] = pid_of[running];
            job_of[slot] = job_of[running];
            started[slot] = started[running];
            memcpy(logpath[slot], logpath[running], sizeof logpath[slot]);
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (interrupted || sweep_stop) {
        printf("sweep interrupted; run the same command again to continue\n");
        return 130;
    }
    return 0;
}

/* The named grids: `sweep NAME` runs every row (each word list expanded as a cartesian
 * product) with the grid's defaults and seeds=N. "{pre}" stands for pretrain_steps=STEPS, the
 * grid's own mmm runs' length. A new grid is one table here and one line in NAMED_GRIDS. */
#define GRID_ROW_WORDS 9
typedef const char *GridRow[GRID_ROW_WORDS];
typedef struct {
    const char *name, *help;
    const GridRow *rows;
    int nrows;
    const char *fig; /* the figures drawn after it (harness plot fig=) */
} NamedGrid;

static const GridRow PAPER_ROWS[] = {
    {"task=english,multilingual,mmm", "model=dense", NULL},
    {"task=english,multilingual,mmm", "model=xmoe,mhmoe", "experts=8,32", NULL},
    {"task=english", "model=mhmoe", "experts=8", "heads=1,2,4,8", NULL},
    {"task=english", "model=xmoe,mhmoe", "experts=8,16,32,64", NULL},
    /* what a reader needs to trust the MH-MoE rows: FLOP parity beside parameter
     * parity, and dropless controls beside the capacity default */
    {"task=english", "model=mhmoe", "experts=8,32", "parity=flops", NULL},
    {"task=english", "model=xmoe,mhmoe", "experts=8", "capacity=0", NULL},
    /* the public code's router beside the paper's. (Its other choice, balance_reduce=sum,
     * is the same run at this size: tiny has one MoE layer, where a sum is the mean; the
     * 3-seed sweep of 2026-11-28 gave bit-identical numbers, so the row is left out.) */
    {"task=english", "model=xmoe,mhmoe", "experts=8", "router_norm=code", NULL},
    {"task=vqa,reasoning,captioning", "model=dense", "{pre}", NULL},
    {"task=vqa,reasoning,captioning", "model=xmoe,mhmoe", "experts=8,32", "{pre}", NULL},
};

/* the routing after the paper, one change at a time from the X-MoE / MH-MoE default (token
 * choice top-1, auxiliary balance loss): balance modes, Sinkhorn, z-loss, a shared expert,
 * fine-grained experts (granularity 2 divides MH-MoE's parity size 974); expert choice on the
 * masked multimodal task, since a causal one refuses it (it picks among later tokens) */
static const GridRow ROUTER_ROWS[] = {
    {"task=english", "model=xmoe,mhmoe", "experts=8", "balance_mode=aux,loss_free,none", NULL},
    {"task=english", "model=xmoe,mhmoe", "experts=8", "router=sinkhorn", NULL},
    {"task=mmm", "model=xmoe,mhmoe", "experts=8", "router=topk,expert_choice", NULL},
    {"task=english", "model=xmoe,mhmoe", "experts=8", "z_loss=0.001", NULL},
    {"task=english", "model=xmoe,mhmoe", "experts=8", "shared_experts=1", NULL},
    {"task=english", "model=xmoe,mhmoe", "experts=8", "granularity=2", NULL},
};

/* the paper's Table 6 at FLOP parity (the experts the same in every row): MH-MoE without its
 * multi-head layer, its merge layer or both (mh_layers), without the token split and merge
 * (heads=1: X-MoE with MH-MoE's two layers, the paper's "X-MoE w/ MLP"), beside MH-MoE and X-MoE,
 * and dense with and without those two layers ("Dense w/ MLP"); read with `harness compare
 * by=mh_layers`, `by=heads` and `by=dense_mlp` */
static const GridRow ABLATION_ROWS[] = {
    {"task=english", "model=mhmoe", "experts=8", "parity=flops", "mh_layers=both,head,merge,none"},
    {"task=english", "model=mhmoe", "experts=8", "parity=flops", "heads=1"},
    {"task=english", "model=xmoe", "experts=8", NULL},
    {"task=english", "model=dense", "dense_mlp=none,both", NULL},
    /* Table 7: 0 to 3 linear layers in the multi-head and the merge layer, at parameter parity
     * (the paper keeps the parameters: the expert size pays for the layers) */
    {"task=english", "model=mhmoe", "experts=8", "mh_mlp=1,2,3", NULL},
    {"task=english", "model=mhmoe", "experts=8", "mh_layers=none", NULL},
};

/* the MH-MoE gap across compute (issue 27): dense, X-MoE and MH-MoE (parameter parity; FLOP
 * parity too at the smallest point) at 8 and 32 experts, at three points from tiny / 1,200 steps
 * to small / 1,400: 17x the training FLOPs; the last reads 2.87 M bytes of the 2.29 MB English
 * corpus, 1.25 epochs (the only way past 16x at or near one epoch without a wider, 6x dearer
 * model), the others at most one. tiny / 600 was the pilot's first point: its seed-to-seed spread
 * (paired sd up to 0.15 bpb) put 0.01 detectable out of reach, so it left the grid, and small /
 * 1,100 with it (kept in the db as pilot runs). Every held-out number over the whole split; read
 * with `harness plot fig=compute`, which reads each run's last numbers only. Since 2026-12-03
 * the curves are sparser: an interim evaluation every 300 steps, not 60, and training rows and
 * histograms every 60, not 10 (measured at tiny / 1,200: time outside the training steps 26-31%
 * of a run -> 14-19%; 0.13 MB of the compressed published database a run -> 0.031, which keeps
 * the planned runs under GitHub's 100 MB per file). Both are watch keys: the runs stored with
 * 60 and 10 are the same runs, their last numbers alike */
static const GridRow COMPUTE_ROWS[] = {
    {"task=english", "final_eval_tokens=0", "log_every=60", "eval_every=300", "size=tiny", "steps=1200", "model=dense", NULL},
    {"task=english", "final_eval_tokens=0", "log_every=60", "eval_every=300", "size=tiny", "steps=1200", "model=xmoe,mhmoe", "experts=8,32", NULL},
    {"task=english", "final_eval_tokens=0", "log_every=60", "eval_every=300", "size=tiny", "steps=1200", "model=mhmoe", "experts=8,32", "parity=flops"},
    {"task=english", "final_eval_tokens=0", "log_every=60", "eval_every=300", "size=small", "steps=550,1400", "model=dense", NULL},
    {"task=english", "final_eval_tokens=0", "log_every=60", "eval_every=300", "size=small", "steps=550,1400", "model=xmoe,mhmoe", "experts=8,32", NULL},
};

#define GRID(rows) rows, (int)(sizeof rows / sizeof rows[0])
static const NamedGrid NAMED_GRIDS[] = {
    {"paper", "the grid behind the paper's figures", GRID(PAPER_ROWS), "fig=all"},
    {"routers", "routes and balance modes against quality and imbalance", GRID(ROUTER_ROWS), "fig=routers"},
    {"ablations", "the paper's Tables 6 and 7: MH-MoE without its head / merge layers or the split, Dense / X-MoE with them, 0-3 layers in them", GRID(ABLATION_ROWS),
     "fig=all"},
    {"compute", "the paired gaps (MH-MoE - X-MoE, each - dense) across 17x the training FLOPs", GRID(COMPUTE_ROWS),
     "fig=compute"},
};

void sweep_print_named(FILE *f) {
    for (size_t i = 0; i < sizeof NAMED_GRIDS / sizeof NAMED_GRIDS[0]; i++)
        fprintf(f, "  sweep %-10s [seeds=3|plan] [jobs=N] [key=value ...]\n%29s%s (then plot %s)\n", NAMED_GRIDS[i].name, "",
                NAMED_GRIDS[i].help, NAMED_GRIDS[i].fig);
}

/* grid row r as a resolved configuration (NULL with err when a word is bad), its words as one
 * line (db= left out), and the keys of its words that tell runs apart, less skip_key */
static Config *row_config(const Grid *g, int r, char *line, size_t nline, char keybuf[][64], const char **keys, int *nkeys,
                          const char *skip_key, char *err, size_t nerr) {
    Config *probe = config_new();
    line[0] = 0;
    for (int i = 0; i < g->nwords[r]; i++) {
        if (config_set(probe, g->words[r][i], err, nerr)) { config_free(probe); return NULL; }
        if (strncmp(g->words[r][i], "db=", 3) && strlen(line) + strlen(g->words[r][i]) + 2 < nline)
            strcat(strcat(line, " "), g->words[r][i]);
    }
    config_resolve(probe);
    *nkeys = 0;
    for (int i = 0; i < g->nwords[r]; i++) {
        key_of(g->words[r][i], keybuf[*nkeys], 64);
        /* keys that never tell runs apart (their role: where a run is written, a request
         * whose stored value is what ran) are not compared */
        const KeyDef *k = config_key_def(keybuf[*nkeys]);
        if (k && key_role_is_sweep_identity(k->role) && (!skip_key || strcmp(keybuf[*nkeys], skip_key))) {
            keys[*nkeys] = keybuf[*nkeys];
            (*nkeys)++;
        }
    }
    return probe;
}

/* seeds=plan: each configuration of `from` (its seed word a placeholder) into `to` with the seeds
 * 1..N the newest stored power plan gives it (`harness plan`, read off a finished run of it: its
 * label and point); 0, or 2 with the configuration named when it has no finished run, no plan,
 * or a plan that could not plan it */
static int expand_by_plan(const Grid *from, Grid *to, ResultsDb *db, int *most) {
    for (int r = 0; r < from->n; r++) {
        char line[1024], keybuf[MAX_WORDS][64], err[1024], label[128] = "", point[64] = "";
        const char *keys[MAX_WORDS];
        int nkeys, seeds = 0;
        Config *probe = row_config(from, r, line, sizeof line, keybuf, keys, &nkeys, "seed", err, sizeof err);
        if (!probe) { fprintf(stderr, "error: %s\n", err); return 2; }
        char *comparable = run_comparable_json(probe), *json = config_to_json(probe);
        int64_t run = comparable && json ? results_find_done_run(db, RESULTS_ANY_SEED, comparable, json, keys, nkeys) : -1, plan = 0;
        free(comparable);
        free(json);
        config_free(probe);
        int found = run > 0 ? results_planned_seeds(db, run, &seeds, &plan, label, sizeof label, point, sizeof point) : -1;
        if (run == 0) {
            fprintf(stderr, "error: seeds=plan:%s: no finished run of this configuration to plan from: run its pilot first "
                    "(seeds=3), then harness plan\n", line);
            return 2;
        }
        if (run < 0 || found < 0) {
            fprintf(stderr, "error: seeds=plan:%s: cannot read the db: %s\n", line, results_error(db));
            return 2;
        }
        if (found == 1) {
            fprintf(stderr, "error: seeds=plan:%s: no stored plan has %s at %s (size, steps): harness plan ... at that "
                    "point first\n", line, label, point);
            return 2;
        }
        if (seeds < 1) {
            fprintf(stderr, "error: seeds=plan:%s: plan %lld could not plan %s at %s (fewer than 2 pilot seeds, or more "
                    "than 1,000 seeds needed): plan again with more pilot seeds or a larger target=\n", line, (long long)plan, label, point);
            return 2;
        }
        static char seedword[GRID_WORD_MAX];
        size_t used = (size_t)snprintf(seedword, sizeof seedword, "seed=1");
        for (int k = 2; k <= seeds && used < sizeof seedword; k++) used += (size_t)snprintf(seedword + used, sizeof seedword - used, ",%d", k);
        const char *w[MAX_WORDS];
        for (int i = 0; i < from->nwords[r]; i++) w[i] = strncmp(from->words[r][i], "seed=", 5) ? from->words[r][i] : seedword;
        add_grid(to, w, from->nwords[r]);
        printf("sweep: %s at %s: seeds 1-%d (plan %lld)\n", label, point, seeds, (long long)plan);
        if (seeds > *most) *most = seeds;
    }
    return 0;
}

/* the runs of g by seed, first all configurations' seed 1, then seed 2, ... (each configuration in
 * its grid order): a sweep stopped part way leaves every configuration with about as many seeds */
static void order_by_seed(Grid *g, int most) {
    static Grid sorted;
    memset(&sorted, 0, sizeof sorted);
    for (int seed = 1; seed <= most; seed++)
        for (int r = 0; r < g->n; r++)
            for (int i = 0; i < g->nwords[r]; i++)
                if (!strncmp(g->words[r][i], "seed=", 5) && atoi(g->words[r][i] + 5) == seed) {
                    memcpy(sorted.words[sorted.n], g->words[r], sizeof g->words[r]);
                    sorted.nwords[sorted.n++] = g->nwords[r];
                }
    assert(sorted.n == g->n);
    *g = sorted;
}

/* A word of a named sweep narrows the rows that set its key (`sweep compute size=small
 * steps=1400`: that point alone): such a row keeps the values both list and leaves the grid
 * when none is left; a key no row sets is given to every row, and so is a key that never tells
 * runs apart (`sweep compute eval_every=60`: how a run is watched or written, not which run),
 * in place of the row's value.
 * What narrows a row: for each word given[i] that the row sets too, sets[i] = 1; 1 when the row
 * stays, its words in w (n of them; narrowed lists written to buf), 0 when a word leaves it no
 * value */
static int narrow_row(const GridRow row, const char *const *given, int ngiven, const char **w, int *n,
                      char buf[][GRID_WORD_MAX], int *sets) {
    int nw = 0;
    const char *use[GRID_ROW_WORDS]; /* the row's words as the given ones leave them */
    for (int j = 0; j < GRID_ROW_WORDS; j++) use[j] = row[j];
    for (int i = 0; i < ngiven; i++) {
        size_t klen = strcspn(given[i], "=");
        int j = 0;
        while (j < GRID_ROW_WORDS && row[j] && !(strlen(row[j]) > klen && row[j][klen] == '=' && !strncmp(row[j], given[i], klen))) j++;
        if (j == GRID_ROW_WORDS || !row[j]) { w[nw++] = given[i]; continue; }
        char key[64];
        key_of(row[j], key, sizeof key);
        const KeyDef *def = config_key_def(key);
        if (def && !key_role_is_sweep_identity(def->role)) { /* how a run is watched or written: the user's */
            use[j] = given[i];
            continue;
        }
        sets[i] = 1;
        const char *mine = row[j] + klen + 1;
        int len = snprintf(buf[j], GRID_WORD_MAX, "%.*s=", (int)klen, given[i]), kept = 0;
        for (const char *p = given[i] + klen + 1;;) { /* the values both list: at most the row's word */
            size_t vlen = strcspn(p, ",");
            if (list_has(mine, ',', p, vlen))
                len += snprintf(buf[j] + len, GRID_WORD_MAX - (size_t)len, "%s%.*s", kept++ ? "," : "", (int)vlen, p);
            if (!p[vlen]) break;
            p += vlen + 1;
        }
        if (!kept) return 0;
        use[j] = buf[j];
    }
    for (int j = 0; j < GRID_ROW_WORDS && row[j]; j++) w[nw++] = use[j];
    *n = nw;
    return 1;
}

/* a run of the grid has the word key=value (vlen bytes of value) */
static int grid_has(const Grid *g, const char *word, size_t klen, const char *value, size_t vlen) {
    for (int r = 0; r < g->n; r++)
        for (int i = 0; i < g->nwords[r]; i++)
            if (strlen(g->words[r][i]) == klen + 1 + vlen && !strncmp(g->words[r][i], word, klen + 1) &&
                !strncmp(g->words[r][i] + klen + 1, value, vlen))
                return 1;
    return 0;
}

static const NamedGrid *named_grid(const char *word) {
    for (size_t i = 0; i < sizeof NAMED_GRIDS / sizeof NAMED_GRIDS[0]; i++)
        if (!strcmp(word, NAMED_GRIDS[i].name)) return &NAMED_GRIDS[i];
    return NULL;
}

/* dry=1: what the sweep would run, each with what the finished runs of its configuration (any
 * seed, the comparable configuration the sweep skips by) took in the db, as harness plan prices
 * a seed */
static void sweep_dry(ResultsDb *db, const Job *todo, int ntodo, int skipped, int total, int jobs) {
    double core_s = 0;
    int timed = 0;
    for (int j = 0; j < ntodo; j++) {
        /* the seed is the identity's first word; its configuration the rest */
        const char *comparable = strchr(todo[j].identity, ' ');
        double mean = 0;
        int n = comparable && db ? results_timed_runs(db, comparable + 1, &mean) : 0;
        if (n > 0) printf("sweep [%d/%d]%s: to run, about %.1f core-minutes (the mean of %d finished seeds)\n", todo[j].index + 1,
                          total, todo[j].line, mean / 60, n);
        else printf("sweep [%d/%d]%s: to run, not timed (no finished run of this configuration)\n", todo[j].index + 1, total, todo[j].line);
        if (n > 0) core_s += mean, timed++;
    }
    printf("sweep dry=1: %d runs to run, %d skipped as done already, of %d; about %.2f core-hours for the %d timed "
           "(%.2f hours at jobs=%d); nothing run\n", ntodo, skipped, total, core_s / 3600, timed, core_s / 3600 / jobs, jobs);
}

int harness_sweep(int argc, char **argv) {
    static Grid g, planned;
    memset(&g, 0, sizeof g);
    const NamedGrid *named = argc > 0 ? named_grid(argv[0]) : NULL;
    int force = 0, dry = 0, is_named = named != NULL, seeds = 3, jobs = 1, threads_given = 0, seeds_by_plan = 0;
    const char *logs = "sweep_logs";
    char *common[MAX_WORDS];
    int nc = 0;
    const char *db = "results.db";
    char dup[512];
    if (config_duplicate_word(argc - is_named, (const char *const *)argv + is_named, dup, sizeof dup)) {
        fprintf(stderr, "error: %s\n", dup);
        return 2;
    }
    if (argc - is_named > MAX_WORDS - 8) {
        fprintf(stderr, "error: %d words: a sweep takes at most %d key=value words\n", argc - is_named, MAX_WORDS - 8);
        return 2;
    }
    for (int i = is_named; i < argc; i++) {
        if (!strcmp(argv[i], "force=1")) { force = 1; continue; }
        if (!strcmp(argv[i], "dry=1")) { dry = 1; continue; }
        if (!strncmp(argv[i], "jobs=", 5)) {
            char *end;
            jobs = (int)strtol(argv[i] + 5, &end, 10);
            if (*end || jobs < 1 || jobs > 64) { fprintf(stderr, "error: jobs=%s: expected a whole number from 1 to 64\n", argv[i] + 5); return 2; }
            continue;
        }
        if (!strncmp(argv[i], "logs=", 5)) { logs = argv[i] + 5; continue; }
        if (!strncmp(argv[i], "threads=", 8)) threads_given = 1;
        if (is_named && !strncmp(argv[i], "seed=", 5)) {
            fprintf(stderr, "error: '%s': a named grid takes seeds=N (seeds 1 to N; the finished ones are skipped), not seed=\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "seeds=plan")) { seeds = 1, seeds_by_plan = 1; continue; }
        if (is_named && !strncmp(argv[i], "seeds=", 6)) {
            char *end;
            seeds = (int)strtol(argv[i] + 6, &end, 10);
            if (!argv[i][6] || *end || seeds < 1 || seeds > MAX_SEEDS) {
                fprintf(stderr, "error: seeds=%s: expected a whole number from 1 to %d, or plan\n", argv[i] + 6, MAX_SEEDS);
                return 2;
            }
            continue;
        }
        if (!strchr(argv[i], '=')) { fprintf(stderr, "error: '%s': expected key=value or key=a,b,c\n", argv[i]); return 2; }
        if (!strncmp(argv[i], "db=", 3)) db = argv[i] + 3;
        common[nc++] = argv[i];
    }
    if (!is_named && nc == 0) {
        fprintf(stderr, "error: usage: harness sweep key=a,b ... [seeds=plan] | harness sweep NAME [size=tiny] [seeds=N|plan], NAME one of:\n");
        sweep_print_named(stderr);
        return 2;
    }
    if (dry && parallel_size() > 1) {
        fprintf(stderr, "error: dry=1 runs nothing: start it without mpirun\n");
        return 2;
    }
    /* under mpirun: process 0 keeps the grid and the db, the others run what it hands out */
    if (parallel_rank() > 0) return sweep_ranks_work(logs);
    char seedlist[4 * MAX_SEEDS + 8] = "seed=1";
    for (int s = 2; s <= seeds; s++) snprintf(seedlist + strlen(seedlist), sizeof seedlist - strlen(seedlist), ",%d", s);
    if (is_named) {
        /* a named grid at this machine's scale; the defaults are sized by the power study
         * in the README (3 seeds of the full grid within 2.5 hours on 2 cores with jobs=2) and
         * give 20 evaluation points per run */
        const char *defaults[][2] = {{"size=", "size=tiny"}, {"steps=", "steps=1200"}, {"eval_every=", "eval_every=60"}};
        const char *base[MAX_WORDS];
        int nb = 0;
        for (int i = 0; i < nc; i++) base[nb++] = common[i];
        for (size_t d = 0; d < sizeof defaults / sizeof defaults[0]; d++) {
            int given = 0;
            for (int i = 0; i < nc; i++) given |= !strncmp(common[i], defaults[d][0], strlen(defaults[d][0]));
            for (int k = 0; k < named->nrows; k++) /* a grid that sets it in its rows (compute's sizes) */
                for (int j = 0; j < GRID_ROW_WORDS && named->rows[k][j]; j++)
                    given |= !strncmp(named->rows[k][j], defaults[d][0], strlen(defaults[d][0]));
            if (!given) base[nb++] = defaults[d][1];
        }
        base[nb++] = seedlist;
        /* the finetunes start from the mmm runs of the same model: their pretraining is
         * those runs' length, so the pretraining stage finds and reuses them */
        Config *probe = config_new();
        char perr[256], pre_steps[64];
        for (int i = 0; i < nb; i++) if (strncmp(base[i], "seed=", 5)) config_set(probe, base[i], perr, sizeof perr);
        config_resolve(probe);
        snprintf(pre_steps, sizeof pre_steps, "pretrain_steps=%ld", config_int(probe, "steps"));
        config_free(probe);
        int sets[MAX_WORDS] = {0};
        for (int k = 0; k < named->nrows; k++) {
            const char *w[MAX_WORDS];
            static char narrowed[GRID_ROW_WORDS][GRID_WORD_MAX];
            int n = 0;
            if (!narrow_row(named->rows[k], base, nb, w, &n, narrowed, sets)) continue;
            for (int i = 0; i < n; i++) if (!strcmp(w[i], "{pre}")) w[i] = pre_steps;
            add_grid(&g, w, n);
        }
        /* every value a word lists is in some row the words leave: steps=2000 or size=tiny
         * steps=550 would run nothing of what was asked */
        for (int i = 0; i < nb && !g.overflow && !g.too_long; i++) { /* (a grid built in part is refused below) */
            size_t klen = strcspn(base[i], "=");
            for (const char *p = base[i] + klen + 1; sets[i];) {
                size_t len = strcspn(p, ",");
                if (!grid_has(&g, base[i], klen, p, len)) {
                    fprintf(stderr, "error: %s: no row of sweep %s that the other words leave has %.*s=%.*s\n", base[i], named->name,
                            (int)klen, base[i], (int)len, p);
                    return 2;
                }
                if (!p[len]) break;
                p += len + 1;
            }
        }
    } else {
        for (int i = 0; i < nc && seeds_by_plan; i++)
            if (!strncmp(common[i], "seed=", 5)) {
                fprintf(stderr, "error: '%s' with seeds=plan: the plan gives each configuration its seeds\n", common[i]);
                return 2;
            }
        if (seeds_by_plan) common[nc++] = seedlist; /* seed=1: where the plan's seeds go */
        add_grid(&g, (const char *const *)common, nc);
    }
    if (g.too_long) {
        fprintf(stderr, "error: '%.60s...': a value of a sweep word is longer than %d characters\n", g.too_long, GRID_WORD_MAX);
        return 2;
    }
    if (g.overflow) {
        fprintf(stderr, "error: the grid has %d runs, a sweep runs at most %d: split it into several sweeps\n", g.n + g.overflow, MAX_RUNS);
        return 2;
    }
    char err[1024];
    /* a word of the command that a grid row sets too (sweep paper seed=5, task=...), before
     * anything is opened or started */
    for (int r = 0; r < g.n; r++)
        if (config_duplicate_word(g.nwords[r], (const char *const *)g.words[r], err, sizeof err)) {
            fprintf(stderr, "error: %s\n", err);
            return 2;
        }
    /* dry=1 reads the db (none yet: every run is to run, none timed) */
    struct stat dbst;
    int no_db = dry && !seeds_by_plan && stat(db, &dbst) != 0;
    ResultsDb *rdb = no_db ? NULL : dry ? results_open_read(db, err, sizeof err) : results_open(db, err, sizeof err);
    if (!rdb && !no_db) { fprintf(stderr, "error: db=%s\n", err); return 2; }
    if (seeds_by_plan) {
        memset(&planned, 0, sizeof planned);
        int most = 0, prc = expand_by_plan(&g, &planned, rdb, &most);
        if (!prc && (planned.overflow || planned.too_long)) {
            fprintf(stderr, "error: seeds=plan: the plan's grid has over %d runs: a sweep runs at most that many\n", MAX_RUNS);
            prc = 2;
        }
        if (prc) { results_close(rdb); return prc; }
        order_by_seed(&planned, most);
        g = planned;
    }
    /* what is left to do: the grid less the runs the db holds as finished; finetunes that
     * pretrain go in a second phase, after the mmm runs they reuse */
    static Job todo[MAX_RUNS];
    int ntodo = 0, skipped = 0, rc = 0;
    for (int r = 0; r < g.n; r++) {
        char line[1024], keybuf[MAX_WORDS][64];
        const char *keys[MAX_WORDS];
        int nkeys;
        Config *probe = row_config(&g, r, line, sizeof line, keybuf, keys, &nkeys, NULL, err, sizeof err);
        if (!probe) { fprintf(stderr, "error: %s\n", err); rc = 2; break; }
        char *json = config_to_json(probe);
        /* the same run twice in a grid (the heads ablation's h=4 is the main grid's mhmoe; the
         * scaling rows repeat its 8 and 32 experts) or already in the db is done once */
        char *comparable = run_comparable_json(probe), *identity = NULL;
        int64_t found = force || !comparable || !rdb ? 0
                                             : results_find_done_run(rdb, config_int(probe, "seed"), comparable, json, keys, nkeys);
        if (comparable && asprintf(&identity, "%ld %s", config_int(probe, "seed"), comparable) < 0) identity = NULL;
        free(comparable);
        int twice = 0;
        for (int j = 0; j < ntodo && identity && !twice; j++) twice = !strcmp(todo[j].identity, identity);
        if (found > 0) {
            printf("sweep [%d/%d]%s: done already as run %lld, skipped\n", r + 1, g.n, line, (long long)found);
            skipped++;
        } else if (twice) {
            printf("sweep [%d/%d]%s: the same run as an earlier row of this sweep, skipped\n", r + 1, g.n, line);
            skipped++;
        } else if (!identity) {
            fprintf(stderr, "error: sweep: out of memory\n");
            rc = 2;
        } else {
            todo[ntodo] = (Job){.index = r, .phase = run_needs_pretraining(probe), .identity = identity};
            snprintf(todo[ntodo].line, sizeof todo[ntodo].line, "%s", line);
            ntodo++;
            identity = NULL;
        }
        free(identity);
        free(json);
        config_free(probe);
    }
    if (dry && !rc) {
        sweep_dry(rdb, todo, ntodo, skipped, g.n, jobs);
        for (int j = 0; j < ntodo; j++) free(todo[j].identity);
        results_close(rdb);
        return 0;
    }
    results_close(rdb);
    int done = 0, failed = 0;
    if (!rc && parallel_size() > 1) {
        static SweepTask tasks[MAX_RUNS];
        for (int j = 0; j < ntodo; j++)
            tasks[j] = (SweepTask){g.words[todo[j].index], g.nwords[todo[j].index], todo[j].phase, todo[j].index, todo[j].line};
        rc = sweep_ranks_dispatch(tasks, ntodo, g.n, db, logs, &done, &failed);
    } else if (!rc)
        rc = run_jobs(&g, todo, ntodo, jobs, threads_given, logs, &done, &failed);
    for (int j = 0; j < ntodo; j++) free(todo[j].identity);
    if (rc == 2) return rc;
    printf("sweep: %d runs done, %d skipped as done already, %d failed, of %d\n", done, skipped, failed, g.n);
    if (rc) return rc;
    if (is_named) {
        char dbw[600];
        snprintf(dbw, sizeof dbw, "db=%s", db);
        char *pargv[] = {(char *)named->fig, dbw};
        harness_plot(2, pargv);
    }
    return failed ? 1 : 0;
}
