/* The figures' shared plumbing: queries into string tables, output files, gnuplot. */
#include "plot_lib.h"
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- query helpers: rows gathered into a small table of strings ---- */

static int collect(void *ctx, int ncol, const char *const *vals) {
    Rows *r = ctx;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 256;
        void *grown = realloc(r->v, sizeof *r->v * (size_t)cap);
        if (!grown) return 1; /* the query stops with an error; plot_query says so */
        r->v = grown;
        r->cap = cap;
    }
    assert(ncol <= MAX_COLS); /* a figure's query selects at most MAX_COLS columns: more is a bug, not data to cut */
    r->ncol = ncol;
    for (int c = 0; c < r->ncol; c++)
        if (!(r->v[r->n][c] = strdup(vals[c]))) {
            while (c--) free(r->v[r->n][c]);
            return 1;
        }
    r->n++;
    return 0;
}

Rows *plot_query(Plot *p, const char *sql) {
    Rows *r = calloc(1, sizeof *r);
    if (!r) { snprintf(p->err, sizeof p->err, "out of memory for a query's rows"); return NULL; }
    if (results_query(p->db, sql, collect, r, p->err, sizeof p->err)) { plot_rows_free(r); return NULL; }
    return r;
}

void plot_rows_free(Rows *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++)
        for (int c = 0; c < r->ncol; c++) free(r->v[i][c]);
    free(r->v);
    free(r);
}

/* gnuplot ARG in folder dir, its stderr into dir/log (NULL: /dev/null), its stdout to
 * /dev/null: started with an argument vector, so no folder or file name ever passes through
 * a shell. The exit code, or -1 when it cannot be started. */
static int run_gnuplot(const char *dir, const char *arg, const char *log) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (dir && chdir(dir) != 0) _exit(126);
        int err = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644), null = open("/dev/null", O_WRONLY);
        if (err < 0 || null < 0) _exit(126);
        dup2(null, 1);
        dup2(err, 2);
        execlp("gnuplot", "gnuplot", arg, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int plot_gnuplot_found(void) { return run_gnuplot(NULL, "--version", NULL) == 0; }

FILE *plot_open_out(Plot *p, const char *name, const char *ext) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.%s", p->out, name, ext);
    FILE *f = fopen(path, "w");
    if (!f) snprintf(p->err, sizeof p->err, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

/* the script is written once per terminal: PNG then SVG */
/* One style for every figure: the Okabe-Ito colours (told apart with any colour vision, and in
 * grey by their dash and marker), so series k of any figure (lt k, lc k) has one colour, dash
 * and marker; keys outside the plot area unless a figure says otherwise, never over curves */
static const char PLOT_STYLE[] =
    "set linetype 1 lc rgb '#0072B2' dt 1 pt 7\n"  /* blue */
    "set linetype 2 lc rgb '#D55E00' dt 2 pt 5\n"  /* vermillion */
    "set linetype 3 lc rgb '#009E73' dt 3 pt 9\n"  /* bluish green */
    "set linetype 4 lc rgb '#CC79A7' dt 4 pt 11\n" /* reddish purple */
    "set linetype 5 lc rgb '#E69F00' dt 5 pt 13\n" /* orange */
    "set linetype 6 lc rgb '#56B4E9' dt 1 pt 6\n"  /* sky blue */
    "set linetype 7 lc rgb '#000000' dt 2 pt 4\n"  /* black: kept for references and baselines (lt 7) */
    "set linetype 8 lc rgb '#F0E442' dt 3 pt 8\n"  /* yellow */
    "set linetype cycle 8\n"
    "set key outside right top\n";

int plot_gnuplot(Plot *p, const char *name, const char *body) {
    FILE *f = plot_open_out(p, name, "gp");
    if (!f) return -1;
    fprintf(f, "# %s: regenerate with  gnuplot %s.gp  (run in this folder)\n", name, name);
    fprintf(f, "set datafile separator '\\t'\n%s", PLOT_STYLE);
    /* noenhanced: names are shown as they are (rouge_l is no subscript l) */
    fprintf(f, "set terminal pngcairo size 1200,500 font ',10' noenhanced\nset output '%s.png'\n%s\n", name, body);
    fprintf(f, "set terminal svg size 1200,500 font ',10' noenhanced\nset output '%s.svg'\n%s\n", name, body);
    fclose(f);
    char script[200], log[200];
    snprintf(script, sizeof script, "%s.gp", name);
    snprintf(log, sizeof log, "%s.gp.log", name);
    int rc = run_gnuplot(p->out, script, log);
    if (rc != 0) {
        snprintf(p->err, sizeof p->err, "gnuplot failed on %s/%s.gp (exit %d); its messages are in %s/%s.gp.log",
                 p->out, name, rc, p->out, name);
        return -1;
    }
    char log_path[4300];
    snprintf(log_path, sizeof log_path, "%s/%s.gp.log", p->out, name);
    remove(log_path);
    if (p->caption_used) { /* the caption beside the figure, from the same queries */
        FILE *c = plot_open_out(p, name, "caption.md");
        if (!c) return -1;
        fprintf(c, "%s\n", p->caption);
        if (fclose(c)) { snprintf(p->err, sizeof p->err, "%s/%s.caption.md: cannot write", p->out, name); return -1; }
    }
    printf("plot %s: %s/%s.png, .svg (data %s.dat, script %s.gp%s)\n", name, p->out, name, name, name,
           p->caption_used ? ", caption .caption.md" : "");
    return 0;
}

int plot_missing(Plot *p, const char *fig, const char *what) {
    p->no_data = 1;
    snprintf(p->err, sizeof p->err, "fig=%s: db=%s has no %s", fig, p->dbpath, what);
    return -1;
}


/* ---- the series a figure draws: filters, panels of at most PLOT_MAX_SERIES, captions ---- */

int plot_panel_admit(Panel *panel, const char *name) {
    for (int k = 0; k < panel->n; k++)
        if (!strcmp(panel->name[k], name)) { panel->same_name++; return -1; }
    if (panel->n < PLOT_MAX_SERIES) {
        snprintf(panel->name[panel->n], sizeof panel->name[0], "%s", name);
        return panel->n++;
    }
    size_t used = strlen(panel->dropped_names), len = strlen(name);
    panel->dropped++;
    if (used + len + 3 < sizeof panel->dropped_names)
        snprintf(panel->dropped_names + used, sizeof panel->dropped_names - used, "%s%s", used ? "; " : "", name);
    return -1;
}

/* the first len characters of s as an SQL string literal into out (n bytes); 0, or -1 */
static int sql_literal_n(const char *s, size_t len, char *out, size_t n) {
    size_t used = 0;
    if (2 * len + 3 > n) return -1;
    out[used++] = '\'';
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\'') out[used++] = '\'';
        out[used++] = s[i];
    }
    out[used++] = '\'';
    out[used] = 0;
    return 0;
}

int plot_sql_literal(const char *s, char *out, size_t n) { return sql_literal_n(s, strlen(s), out, n); }

const char *plot_gp(const char *s) {
    static char ring[8][512];
    static int next;
    char *out = ring[next];
    next = (next + 1) % 8;
    size_t used = 0;
    for (; *s && used < 255; s++) {
        if (*s == '\'') out[used++] = '\'';
        out[used++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
    }
    out[used] = 0;
    return out;
}

/* a comma list as SQL literals ('a', 'b'); numbers only when numeric; 0, or -1 when an element is
 * empty or not a number where one is needed */
static int sql_list(const char *list, int numeric, char *out, size_t n) {
    size_t used = 0;
    const char *s = list;
    out[0] = 0;
    while (1) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (!len || used + 2 * len + 8 >= n) return -1;
        if (used) out[used++] = ',';
        if (numeric) {
            for (size_t i = 0; i < len; i++) if (s[i] < '0' || s[i] > '9') return -1;
            memcpy(out + used, s, len);
            out[used += len] = 0;
        } else if (sql_literal_n(s, len, out + used, n - used)) return -1;
        used += strlen(out + used);
        if (!e) return 0;
        s = e + 1;
    }
}

int plot_set_filters(Plot *p, const char *task, const char *experts, const char *labels) {
    char t[512] = "", e[512] = "", l[1200] = "";
    if (task && *task && sql_list(task, 0, t, sizeof t)) {
        snprintf(p->err, sizeof p->err, "task=%s: expected task names separated by commas", task);
        return -1;
    }
    if (experts && *experts && sql_list(experts, 1, e, sizeof e)) {
        snprintf(p->err, sizeof p->err, "experts=%s: expected expert counts separated by commas (8,32)", experts);
        return -1;
    }
    if (labels && *labels && sql_list(labels, 0, l, sizeof l)) {
        snprintf(p->err, sizeof p->err, "labels=%s: expected run labels separated by commas (dense,xmoe-8)", labels);
        return -1;
    }
    snprintf(p->where_task, sizeof p->where_task, "%s%s%s", t[0] ? "task IN (" : "1", t, t[0] ? ")" : "");
    snprintf(p->where_experts, sizeof p->where_experts, "%s%s%s", e[0] ? "experts IN (0," : "1", e, e[0] ? ")" : "");
    p->experts_given = e[0] != 0;
    p->labels_given = l[0] != 0;
    snprintf(p->where_labels, sizeof p->where_labels, "%s%s%s",
             l[0] ? "label IN (" : "label IN (" PLOT_PAPER_LABELS ")", l, l[0] ? ")" : "");
    snprintf(p->where, sizeof p->where, "(%s AND %s AND %s)", p->where_task, p->where_experts, p->where_labels);
    return 0;
}

void plot_caption(Plot *p, const char *fmt, ...) {
    if (p->caption_used >= sizeof p->caption - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->caption + p->caption_used, sizeof p->caption - p->caption_used, fmt, ap);
    va_end(ap);
    if (n > 0) p->caption_used += (size_t)n;
    if (p->caption_used > sizeof p->caption - 1) p->caption_used = sizeof p->caption - 1;
}

void plot_caption_panel(Plot *p, const char *title, const Panel *panel, const int *n) {
    plot_caption(p, "%s%s: ", p->caption_used ? "\n" : "", title);
    for (int k = 0; k < panel->n; k++) plot_caption(p, "%s%s (n=%d)", k ? ", " : "", panel->name[k], n ? n[k] : 0);
    plot_caption_left_out(p, panel);
    plot_caption(p, ".");
}

void plot_caption_left_out(Plot *p, const Panel *panel) {
    if (panel->dropped)
        plot_caption(p, "; %d more series not drawn (at most %d per panel; choose with labels=): %s", panel->dropped,
                     PLOT_MAX_SERIES, panel->dropped_names);
    if (panel->same_name)
        plot_caption(p, "; %d smaller group%s with a drawn series' name not drawn (a key the label does not name)",
                     panel->same_name, panel->same_name > 1 ? "s" : "");
}

int plot_caption_verdicts(Plot *p, const char *task, const char *metric, const Panel *panel) {
    char in[PLOT_MAX_SERIES * 260] = "", sql[8192];
    size_t used = 0;
    for (int k = 0; k < panel->n; k++) {
        char one[300];
        if (plot_sql_literal(panel->name[k], one, sizeof one)) continue;
        used += (size_t)snprintf(in + used, sizeof in - used, "%s%s", used ? "," : "", one);
    }
    if (!used || used >= sizeof in) return 0;
    char tq[140], mq[140];
    if (plot_sql_literal(task, tq, sizeof tq) || plot_sql_literal(metric, mq, sizeof mq)) return 0;
    /* a side named as the figures name a group: its label and its size / steps (a pair at another
     * length than its partner -- by_key steps -- is not a comparison the panel draws) */
#define SIDE(l, key) PLOT_SIZED_LABEL(l, key)
    snprintf(sql, sizeof sql,
             "SELECT " SIDE("a_label", "a_key") ", " SIDE("b_label", "b_key") ", n, diff, ci_low, ci_high,"
             " coalesce(printf('%%.2g of %%d', p_holm, family), '-'), verdict_holm FROM verdicts_holm"
             " WHERE task = %s AND metric = %s AND " SIDE("a_label", "a_key") " IN (%s) AND " SIDE("b_label", "b_key") " IN (%s)"
             " AND json_extract(a_key, '$.size') IS json_extract(b_key, '$.size')"
             " AND json_extract(a_key, '$.steps') IS json_extract(b_key, '$.steps') ORDER BY a_key, a_label, b_label",
             tq, mq, in, in);
#undef SIDE
    Rows *r = plot_query(p, sql);
    if (!r) return -1;
    for (int i = 0; i < r->n; i++) {
        char *const *v = r->v[i];
        plot_caption(p, "%s%s - %s = %+.4f [%+.4f, %+.4f] (n=%s, p_holm %s): %s", i ? "; " : "\nAfter Holm, at the end: ",
                     v[1], v[0], atof(v[3]), atof(v[4]), atof(v[5]), v[2], v[6], v[7]);
    }
    if (r->n) plot_caption(p, " (%s; 95%% intervals over the paired seeds).", metric);
    else plot_caption(p, "\nNo paired verdicts of %s between the drawn series (pairs need the same seeds).", metric);
    plot_rows_free(r);
    return 0;
}
