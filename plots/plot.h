/* `harness plot fig=NAME|all db=results.db out=figures`: each figure is an SQL query over
 * results.db and a gnuplot script. The data (.dat) and the script (.gp) are written next to
 * the PNG (pngcairo) and SVG, so a figure can be restyled by editing its script. */
#ifndef MOEH_PLOT_H
#define MOEH_PLOT_H
#include <stdio.h>
int harness_plot(int argc, char **argv);
/* the figure names joined by '|', and `harness help plot`: each figure with what it shows */
const char *plot_figure_names(void);
void plot_print_help(FILE *f);
/* Every figure of db into out (NAME.svg beside NAME.png): after each, drawn(ctx, name, help, ok,
 * why, caption) with caption what the figure shows from the db (n, adjusted verdicts) and why the
 * reason it was not drawn (no runs for it, a failed query or gnuplot). 0, or -1
 * with err when nothing can be drawn (no gnuplot, no db, no folder). */
typedef void (*PlotDrawn)(void *ctx, const char *name, const char *help, int ok, const char *why, const char *caption);
int plot_each(const char *dbpath, const char *out, PlotDrawn drawn, void *ctx, char *err, size_t errlen);
#endif
