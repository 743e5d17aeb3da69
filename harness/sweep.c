/* `harness sweep key=a,b key2=c,d ... [force=1]`: the cartesian product of the comma lists,
 * one `harness run` each, in order. A configuration already finished in the db (same values
 * of every swept and given key) is skipped unless force=1, so an interrupted sweep continues
 * where it stopped when the same command is run again.
 * `harness sweep paper [size=tiny] [seeds=N] [key=value ...]`: the grid behind the figures,
 * then `harness plot fig=all`. */
#include "sweep.h"
#include "config.h"
#include "run.h"
#include "plots/plot.h"
#include "results/results.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 32
#define MAX_RUNS 4096

typedef struct {
    int n;
    char *words[MAX_RUNS][MAX_WORDS];
    int nwords[MAX_RUNS];
} Grid;

/* expands words (some holding comma lists) into the grid's runs, appending */
static void expand(Grid *g, char **words, int n, int at, char **cur) {
    if (at == n) {
        if (g->n >= MAX_RUNS) return;
        for (int i = 0; i < n; i++) g->words[g->n][i] = strdup(cur[i]);
        g->nwords[g->n++] = n;
        return;
    }
    const char *eq = strchr(words[at], '=');
    const char *vals = eq ? eq + 1 : "";
    size_t klen = eq ? (size_t)(eq - words[at]) : strlen(words[at]);
    char buf[512];
    for (const char *p = vals;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s=%.*s", (int)klen, words[at], (int)len, p);
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

int harness_sweep(int argc, char **argv) {
    static Grid g;
    memset(&g, 0, sizeof g);
    int force = 0, paper = argc > 0 && !strcmp(argv[0], "paper"), seeds = 1;
    char *common[MAX_WORDS];
    int nc = 0;
    const char *db = "results.db";
    for (int i = paper; i < argc && nc < MAX_WORDS - 8; i++) {
        if (!strcmp(argv[i], "force=1")) { force = 1; continue; }
        if (paper && !strncmp(argv[i], "seeds=", 6)) { seeds = atoi(argv[i] + 6); continue; }
        if (!strchr(argv[i], '=')) { fprintf(stderr, "error: '%s': expected key=value or key=a,b,c\n", argv[i]); return 2; }
        if (!strncmp(argv[i], "db=", 3)) db = argv[i] + 3;
        common[nc++] = argv[i];
    }
    if (!paper && nc == 0) { fprintf(stderr, "error: usage: harness sweep key=a,b ... | harness sweep paper [size=tiny] [seeds=N]\n"); return 2; }
    char seedlist[256] = "seed=1";
    for (int s = 2; s <= seeds && s < 40; s++) snprintf(seedlist + strlen(seedlist), sizeof seedlist - strlen(seedlist), ",%d", s);
    if (paper) {
        /* the paper's grid at this machine's scale */
        const char *size_default = "size=tiny";
        int has_size = 0;
        for (int i = 0; i < nc; i++) has_size |= !strncmp(common[i], "size=", 5);
        const char *base[MAX_WORDS];
        int nb = 0;
        for (int i = 0; i < nc; i++) base[nb++] = common[i];
        if (!has_size) base[nb++] = size_default;
        base[nb++] = seedlist;
        /* the finetunes start from the mmm runs of the same model: their pretraining is
         * those runs' length, so the pretraining stage finds and reuses them */
        Config *probe = config_new();
        char perr[256], pre_steps[64];
        for (int i = 0; i < nb; i++) if (strncmp(base[i], "seed=", 5)) config_set(probe, base[i], perr, sizeof perr);
        config_resolve(probe);
        snprintf(pre_steps, sizeof pre_steps, "pretrain_steps=%ld", config_int(probe, "steps"));
        config_free(probe);
        const char *grids[][5] = {
            {"task=english,multilingual,mmm", "model=dense", NULL},
            {"task=english,multilingual,mmm", "model=xmoe,mhmoe", "experts=8,32", NULL},
            {"task=english", "model=mhmoe", "experts=8", "heads=1,2,4,8", NULL},
            {"task=english", "model=xmoe,mhmoe", "experts=8,16,32,64", NULL},
            {"task=vqa,reasoning,captioning", "model=dense", pre_steps, NULL},
            {"task=vqa,reasoning,captioning", "model=xmoe,mhmoe", "experts=8,32", pre_steps, NULL},
        };
        for (int k = 0; k < (int)(sizeof grids / sizeof grids[0]); k++) {
            const char *w[MAX_WORDS];
            int n = 0;
            for (int i = 0; i < nb; i++) w[n++] = base[i];
            for (int j = 0; j < 5 && grids[k][j]; j++) w[n++] = grids[k][j];
            add_grid(&g, w, n);
        }
    } else {
        add_grid(&g, (const char *const *)common, nc);
    }
    char err[1024];
    ResultsDb *rdb = results_open(db, err, sizeof err);
    if (!rdb) { fprintf(stderr, "error: db=%s\n", err); return 2; }
    int done = 0, skipped = 0, failed = 0, rc = 0;
    for (int r = 0; r < g.n; r++) {
        Config *cfg = config_new();
        char line[1024] = "";
        int bad = 0;
        for (int i = 0; i < g.nwords[r] && !bad; i++) {
            bad = config_set(cfg, g.words[r][i], err, sizeof err);
            if (strncmp(g.words[r][i], "db=", 3) && strlen(line) + strlen(g.words[r][i]) + 2 < sizeof line)
                strcat(strcat(line, " "), g.words[r][i]);
        }
        if (bad) { fprintf(stderr, "error: %s\n", err); config_free(cfg); rc = 2; break; }
        /* the same run twice in a grid (or already in the db) is done once */
        Config *probe = config_new();
        for (int i = 0; i < g.nwords[r]; i++) config_set(probe, g.words[r][i], err, sizeof err);
        config_resolve(probe);
        char *json = config_to_json(probe);
        const char *keys[MAX_WORDS];
        char keybuf[MAX_WORDS][64];
        int nkeys = 0;
        for (int i = 0; i < g.nwords[r]; i++) {
            key_of(g.words[r][i], keybuf[nkeys], 64);
            /* the stored blas_core is the kernel that ran, not the word: it does not tell runs apart */
            if (strcmp(keybuf[nkeys], "blas_core")) { keys[nkeys] = keybuf[nkeys]; nkeys++; }
        }
        int64_t found = force ? 0 : results_find_done_run(rdb, json, keys, nkeys);
        free(json);
        config_free(probe);
        if (found > 0) {
            printf("sweep [%d/%d]%s: done already as run %lld, skipped\n", r + 1, g.n, line, (long long)found);
            skipped++;
            config_free(cfg);
            continue;
        }
        printf("sweep [%d/%d]%s\n", r + 1, g.n, line);
        fflush(stdout);
        int code = harness_run(cfg);
        config_free(cfg);
        if (code == 130) {
            printf("sweep interrupted at [%d/%d]; run the same command again to continue\n", r + 1, g.n);
            rc = 130;
            break;
        }
        if (code) failed++;
        else done++;
    }
    results_close(rdb);
    printf("sweep: %d runs done, %d skipped as done already, %d failed, of %d\n", done, skipped, failed, g.n);
    if (rc) return rc;
    if (paper) {
        char dbw[600];
        snprintf(dbw, sizeof dbw, "db=%s", db);
        char *pargv[] = {"fig=all", dbw};
        harness_plot(2, pargv);
    }
    return failed ? 1 : 0;
}
