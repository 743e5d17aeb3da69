/* What every figure file uses: a Plot (the db and the output folder), rows of a query as
 * strings, the output files and gnuplot. A figure is a function int fig_NAME(Plot *) in a
 * file of its own or in plot.c, listed in FIGURES (plot.c). */
#ifndef MOEH_PLOT_LIB_H
#define MOEH_PLOT_LIB_H
#include "results/results.h"
#include <stdio.h>

typedef struct {
    ResultsDb *db;
    const char *dbpath, *out;
    char err[8192];
    int no_data;     /* the last figure found nothing to draw (plot_missing) */
} Plot;

#define MAX_COLS 8
/* every row of a query (grown as they come: a long curve is never cut), its first MAX_COLS
 * columns */
typedef struct { int n, cap, ncol; char *(*v)[MAX_COLS]; } Rows;

/* the rows of sql, NULL with p->err on a failed query */
Rows *plot_query(Plot *p, const char *sql);
void plot_rows_free(Rows *r);
/* out/NAME.EXT opened for writing, NULL with p->err */
FILE *plot_open_out(Plot *p, const char *name, const char *ext);
/* writes out/NAME.gp (PNG, then SVG) around body and runs gnuplot on it; 0, or -1 with p->err */
int plot_gnuplot(Plot *p, const char *name, const char *body);
/* 1 if gnuplot can be started */
int plot_gnuplot_found(void);
/* -1 with "fig=FIG: db=... has no WHAT" in p->err */
int plot_missing(Plot *p, const char *fig, const char *what);

/* the figures in files of their own */
int fig_routers(Plot *p);
int fig_compute(Plot *p);
int fig_gaps(Plot *p);

#endif
