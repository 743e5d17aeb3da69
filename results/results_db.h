/* Inside the results layer only: the database handle behind ResultsDb, for the files of this
 * folder that run their own SQL (results.c, results_merge.c). */
#ifndef MOEH_RESULTS_DB_H
#define MOEH_RESULTS_DB_H
#include <sqlite3.h>

struct ResultsDb { sqlite3 *db; };

#endif
