/* What every figure file uses: a Plot (the db and the output folder), rows of a query as
 * strings, the output files and gnuplot. A figure is a function int fig_NAME(Plot *) in a
 * file of its own or in plot.c, listed in FIGURES (plot.c). */
#ifndef MOEH_PLOT_LIB_H
#define MOEH_PLOT_LIB_H
#include "results/results.h"
#include <stdio.h>

/* at most this many series in one panel: more cannot be told apart (issue 28); the others are
 * named in the caption, and labels= chooses */
#define PLOT_MAX_SERIES 6
/* the one sequential scale (viridis' stops: ordered in lightness, read with any colour vision,
 * never white on the white page) for load maps and expert ranks */
#define PLOT_SEQUENTIAL_PALETTE "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21908d', 0.75 '#5dc963', 1 '#fde725')\n"

typedef struct {
    ResultsDb *db;
    const char *dbpath, *out;
    char err[8192];
    int no_data;     /* the last figure found nothing to draw (plot_missing) */
    /* the series the filters keep, as SQL over a view with task, label and experts columns:
     * task=, experts= (dense always kept) and labels=; without labels=, the paper's series
     * (dense, xmoe-E, mhmoe-Eh4-params) at every expert count unless experts= says which */
    char where[2800];
    /* its parts, for figures whose x axis is one of them (heads, experts): each SQL, "1" for none */
    char where_task[600], where_experts[600], where_labels[1400];
    int experts_given, labels_given;
    /* the figure's caption, built from the db as it draws: n per series, what was left out,
     * the adjusted verdicts it shows; written beside it as NAME.caption.md */
    char caption[8192];
    size_t caption_used;
} Plot;

/* SQL: the paper's series, the figures' default labels= (an expression of a row's experts) */
#define PLOT_PAPER_LABELS "'dense', 'xmoe-' || experts, 'mhmoe-' || experts || 'h4-params'"

/* SQL: a group's training length, "tiny/1200", from KEY, its comparable configuration: NULL
 * when KEY has none (PLOT_SIZE_STEPS), '' (PLOT_POINT) */
#define PLOT_SIZE_STEPS(KEY) "json_extract(" KEY ", '$.size') || '/' || json_extract(" KEY ", '$.steps')"
#define PLOT_POINT(KEY) "coalesce(" PLOT_SIZE_STEPS(KEY) ", '')"

/* SQL: a curve's point is drawn where every seed of its series logged the step (N of SEEDS): the
 * seeds of one group may have been evaluated at other steps (eval_every= and log_every= only
 * watch a run), and a mean over a changing subset of them would zig-zag with the subset */
#define PLOT_EVERY_SEED(N, SEEDS) "(" N " = " SEEDS ")"

/* SQL: a group's name as the figures give it, its label and its size / steps ("xmoe-8 tiny/1200"),
 * KEY its comparable configuration */
#define PLOT_SIZED_LABEL(LABEL, KEY) "(" LABEL " || coalesce(' ' || " PLOT_SIZE_STEPS(KEY) ", ''))"

/* the series drawn in one panel: the first PLOT_MAX_SERIES names, the rest counted */
typedef struct {
    char name[PLOT_MAX_SERIES][128];
    int n, dropped;
    char dropped_names[512];
    int same_name; /* groups left out for a drawn series' name: they differ in a key the label does not name */
} Panel;
/* a new group of runs named name: its index in the panel (added if there is room), or -1 when it
 * is left out (no room; or a drawn series has its name: groups come largest first) */
int plot_panel_admit(Panel *panel, const char *name);

#define MAX_COLS 12
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
/* the filters task=, experts= (a comma list of numbers), labels= (a comma list) into p->where;
 * 0, or -1 with p->err naming the word */
int plot_set_filters(Plot *p, const char *task, const char *experts, const char *labels);
/* s as one SQL string literal (each quote doubled) into out; 0, or -1 when it does not fit */
int plot_sql_literal(const char *s, char *out, size_t n);
/* s for inside a gnuplot single-quoted string (a title, a tic): a quote doubled, a control
 * character a space, cut at 255 bytes; gnuplot's text is set noenhanced, so _ ^ @ & ~ { } stay
 * themselves. One of 8 buffers in turn: up to 8 in one printf. */
const char *plot_gp(const char *s);
/* appends to the caption (printf-style) */
void plot_caption(Plot *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* the caption's lines for one panel: each drawn series and its n (seeds), those left out and why */
void plot_caption_panel(Plot *p, const char *title, const Panel *panel, const int *n);
/* the series a panel left out and why (part of plot_caption_panel) */
void plot_caption_left_out(Plot *p, const Panel *panel);
/* the Holm-adjusted verdicts (verdicts_holm) of task's metric between two series the panel
 * drew (the names begin with the labels): difference, interval, n, p_holm and its family,
 * the adjusted verdict; 0, or -1 with p->err */
int plot_caption_verdicts(Plot *p, const char *task, const char *metric, const Panel *panel);
/* -1 with "fig=FIG: db=... has no WHAT" in p->err */
int plot_missing(Plot *p, const char *fig, const char *what);

/* the figures in files of their own */
int fig_routers(Plot *p);
int fig_compute(Plot *p);
int fig_gaps(Plot *p);
int fig_ablations(Plot *p);

#endif
