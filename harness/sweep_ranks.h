/* A sweep over the processes of `mpirun -np P harness sweep ...`: process 0 keeps the grid and
 * results.db and hands each run to the next free process 1 .. P-1; that process runs it as a
 * `harness run` child into a database of its own (a snapshot of results.db for a finetune, so
 * it finds the pretraining run it reuses), and sends the file back; process 0 merges it. So
 * process 0 writes every row, and the processes need no shared folder but for the data. */
#ifndef MOEH_SWEEP_RANKS_H
#define MOEH_SWEEP_RANKS_H

typedef struct {
    char *const *words; /* the run's key=value words */
    int nwords;
    int phase;          /* 1: after every phase-0 run (a finetune reusing their pretraining) */
    int index;          /* in the grid, for the messages */
    const char *line;   /* the words as printed */
} SweepTask;

/* process 0: the tasks over processes 1 .. P-1, each result merged into db as it comes;
 * counts done and failed runs. 0, or 130 when interrupted. */
int sweep_ranks_dispatch(const SweepTask *tasks, int n, int grid_size, const char *db, const char *logs, int *done,
                         int *failed);
/* process 0, when the sweep is over (done or not): the other processes stop waiting */
void sweep_ranks_release(void);
/* processes 1 .. P-1: runs what process 0 sends until it says stop. logs: where this process
 * keeps its runs' logs, databases and checkpoints; threads_given: the words set threads= */
int sweep_ranks_work(const char *logs);

#endif
