/* The figures' shared plumbing: queries into string tables, output files, gnuplot. */
#include "plot_lib.h"
#include <errno.h>
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
    r->ncol = ncol < MAX_COLS ? ncol : MAX_COLS;
    for (int c = 0; c < r->ncol; c++) r->v[r->n][c] = strdup(vals[c]);
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
    "set linetype 7 lc rgb '#000000' dt 2 pt 4\n"  /* black */
    "set linetype 8 lc rgb '#F0E442' dt 3 pt 8\n"  /* yellow */
    "set linetype cycle 8\n"
    "set key outside right top noenhanced\n";

int plot_gnuplot(Plot *p, const char *name, const char *body) {
    FILE *f = plot_open_out(p, name, "gp");
    if (!f) return -1;
    fprintf(f, "# %s: regenerate with  gnuplot %s.gp  (run in this folder)\n", name, name);
    fprintf(f, "set datafile separator '\\t'\n%s", PLOT_STYLE);
    fprintf(f, "set terminal pngcairo size 1200,500 font ',10'\nset output '%s.png'\n%s\n", name, body);
    fprintf(f, "set terminal svg size 1200,500 font ',10'\nset output '%s.svg'\n%s\n", name, body);
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
    printf("plot %s: %s/%s.png, .svg (data %s.dat, script %s.gp)\n", name, p->out, name, name, name);
    return 0;
}

int plot_missing(Plot *p, const char *fig, const char *what) {
    p->no_data = 1;
    snprintf(p->err, sizeof p->err, "fig=%s: db=%s has no %s", fig, p->dbpath, what);
    return -1;
}

