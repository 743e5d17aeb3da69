/* `harness report [db=results.db] [out=report]`: one self-contained HTML page of a results
 * database (report.c) */
#ifndef MOEH_REPORT_H
#define MOEH_REPORT_H
int harness_report(int argc, char **argv);
#endif
