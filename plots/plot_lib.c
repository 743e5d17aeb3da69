/* The figures' shared plumbing: queries into string tables, output files, gnuplot. */
#include "plot_lib.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- query helpers: rows gathered into a small table of strings ---- */

static int collect(void *ctx, int ncol, const char *const *vals) {
    Rows *r = ctx;
    if (r->n >= MAX_ROWS) return 1;
    r->ncol = ncol < MAX_COLS ? ncol : MAX_COLS;
    for (int c = 0; c < r->ncol; c++) r->v[r->n][c] = strdup(vals[c]);
    r->n++;
    return 0;
}

Rows *plot_query(Plot *p, const char *sql) {
    Rows *r = calloc(1, sizeof *r);
    if (results_query(p->db, sql, collect, r, p->err, sizeof p->err)) { free(r); return NULL; }
    return r;
}

void plot_rows_free(Rows *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++)
        for (int c = 0; c < r->ncol; c++) free(r->v[i][c]);
    free(r);
}

FILE *plot_open_out(Plot *p, const char *name, const char *ext) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.%s", p->out, name, ext);
    FILE *f = fopen(path, "w");
    if (!f) snprintf(p->err, sizeof p->err, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

/* the script is written once per terminal: PNG then SVG */
int plot_gnuplot(Plot *p, const char *name, const char *body) {
    FILE *f = plot_open_out(p, name, "gp");
    if (!f) return -1;
    fprintf(f, "# %s: regenerate with  gnuplot %s.gp  (run in this folder)\n", name, name);
    fprintf(f, "set datafile separator '\\t'\n");
    fprintf(f, "set terminal pngcairo size 1200,500 font ',10'\nset output '%s.png'\n%s\n", name, body);
    fprintf(f, "set terminal svg size 1200,500 font ',10'\nset output '%s.svg'\n%s\n", name, body);
    fclose(f);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot '%s.gp' 2> '%s.gp.log'", p->out, name, name);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(p->err, sizeof p->err, "gnuplot failed on %s/%s.gp (exit %d); its messages are in %s/%s.gp.log",
                 p->out, name, rc, p->out, name);
        return -1;
    }
    char log[4300];
    snprintf(log, sizeof log, "%s/%s.gp.log", p->out, name);
    remove(log);
    printf("plot %s: %s/%s.png, .svg (data %s.dat, script %s.gp)\n", name, p->out, name, name, name);
    return 0;
}

int plot_missing(Plot *p, const char *fig, const char *what) {
    p->no_data = 1;
    snprintf(p->err, sizeof p->err, "fig=%s: db=%s has no %s", fig, p->dbpath, what);
    return -1;
}

