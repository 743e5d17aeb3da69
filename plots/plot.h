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
#endif
