/* `harness plot fig=NAME|all db=results.db out=figures`: each figure is an SQL query over
 * results.db and a gnuplot script. The data (.dat) and the script (.gp) are written next to
 * the PNG (pngcairo) and SVG, so a figure can be restyled by editing its script. */
#ifndef MOEH_PLOT_H
#define MOEH_PLOT_H
int harness_plot(int argc, char **argv);
#endif
