#include "sweep_ranks.h"
#include "parallel.h"
#include "progress.h"
#include "run_identity.h"
#include "results/results.h"
#include "util/atomic_file.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { TAG_TASK = 11, TAG_SEED, TAG_RESULT, TAG_DB };

static volatile sig_atomic_t ranks_stop = 0;
static void on_signal(int sig) { (void)sig; ranks_stop = 1; }
static int dispatching = 0; /* process 0 reached the dispatch: the others wait for its stop */

static void remove_db(const char *path) {
    char side[4400];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* process 0: hands task t to process w, with a snapshot of db when it is a finetune */
static int send_task(const SweepTask *t, int w, ResultsDb *rdb, const char *logs) {
    char msg[16384];
    size_t used = (size_t)snprintf(msg, sizeof msg, "%d\n%d\n", t->index, t->phase);
    for (int i = 0; i < t->nwords && used < sizeof msg; i++) used += snprintf(msg + used, sizeof msg - used, "%s\n", t->words[i]);
    if (used >= sizeof msg) { fprintf(stderr, "error: sweep: the words of run %d are too long\n", t->index + 1); return -1; }
    if (parallel_send(w, TAG_TASK, msg, used)) return -1;
    if (t->phase == 0) return 0;
    char seed[4200], err[4400];
    void *bytes = NULL;
    size_t n = 0;
    snprintf(seed, sizeof seed, "%s/seed-%d.db", logs, t->index + 1);
    remove_db(seed);
    int rc = results_snapshot(rdb, seed, err, sizeof err);
    if (rc) fprintf(stderr, "error: sweep: %s\n", err);
    else if ((rc = file_read_whole(seed, &bytes, &n))) fprintf(stderr, "error: sweep: %s: %s\n", seed, strerror(errno));
    remove_db(seed);
    /* the worker waits for the seed: send one even if empty (it then pretrains itself) */
    if (parallel_send(w, TAG_SEED, bytes ? bytes : "", rc ? 0 : n)) rc = -1;
    free(bytes);
    return 0;
}

/* process 0: the next result from any process, merged into db; its sender */
static int take_result(const SweepTask *tasks, int n, int grid_size, ResultsDb *rdb, const char *db, const char *logs,
                       double *started, int *done, int *failed, int *interrupted) {
    void *msg, *file;
    size_t len, flen;
    int w;
    if (parallel_receive(TAG_RESULT, -1, &msg, &len, &w) || parallel_receive(TAG_DB, w, &file, &flen, NULL)) {
        fprintf(stderr, "error: sweep: out of memory for a result\n");
        exit(2);
    }
    int index = -1, code = 2;
    sscanf(msg, "%d\n%d", &index, &code);
    free(msg);
    const SweepTask *t = NULL;
    for (int i = 0; i < n; i++) if (tasks[i].index == index) t = &tasks[i];
    char path[4200], err[8800] = "";
    snprintf(path, sizeof path, "%s/result-%d.db", logs, index + 1);
    MergeCount c = {0};
    int merged = flen > 0;
    if (merged) {
        FilePart part = {file, flen};
        const char *ids[16];
        int nids = run_id_keys(ids, 16);
        remove_db(path);
        merged = !atomic_write(path, &part, 1, err, sizeof err) &&
                 !results_merge(rdb, path, ids, nids, &c, err, sizeof err);
        remove_db(path);
    }
    free(file);
    if (code == 0) (*done)++;
    else if (code == 130) *interrupted = 1;
    else (*failed)++;
    printf("sweep [%d/%d]%s: %s on process %d after %.0f s", index + 1, grid_size, t ? t->line : "",
           code == 0 ? "done" : code == 130 ? "interrupted" : "failed", w, now_seconds() - started[w]);
    if (merged && c.merged) printf(", into %s as run %lld", db, c.last);
    else if (merged) printf(", into %s (replacing its earlier copy)", db);
    else if (*err) printf(", NOT merged: %s", err);
    if (code) printf(" (its log: %s/rank-%d/run-%d.log)", logs, w, index + 1);
    printf("\n");
    fflush(stdout);
    return w;
}

int sweep_ranks_dispatch(const SweepTask *tasks, int n, int grid_size, const char *db, const char *logs, int *done,
                         int *failed) {
    dispatching = 1;
    int P = parallel_size(), running = 0, interrupted = 0;
    if (mkdir(logs, 0755) && errno != EEXIST) {
        fprintf(stderr, "error: sweep: logs=%s: cannot make the folder: %s\n", logs, strerror(errno));
        return 2;
    }
    char err[4400];
    ResultsDb *rdb = results_open(db, err, sizeof err);
    if (!rdb) { fprintf(stderr, "error: db=%s\n", err); return 2; }
    int *busy = calloc((size_t)P, sizeof *busy);
    double *started = calloc((size_t)P, sizeof *started);
    if (!busy || !started) { fprintf(stderr, "error: sweep: out of memory\n"); exit(2); }
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    ranks_stop = 0;
    for (int phase = 0; phase < 2 && !interrupted && !ranks_stop; phase++) {
        int next = 0;
        for (;;) {
            for (int w = 1; w < P && !ranks_stop && !interrupted; w++) {
                if (busy[w]) continue;
                while (next < n && tasks[next].phase != phase) next++;
                if (next >= n) break;
                printf("sweep [%d/%d]%s -> process %d\n", tasks[next].index + 1, grid_size, tasks[next].line, w);
                fflush(stdout);
                if (send_task(&tasks[next], w, rdb, logs)) { interrupted = 1; break; }
                busy[w] = 1;
                started[w] = now_seconds();
                next++;
                running++;
            }
            if (!running) break;
            int w = take_result(tasks, n, grid_size, rdb, db, logs, started, done, failed, &interrupted);
            busy[w] = 0;
            running--;
        }
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    results_close(rdb);
    free(busy);
    free(started);
    if (interrupted || ranks_stop) {
        printf("sweep interrupted; run the same command again to continue\n");
        return 130;
    }
    return 0;
}

void sweep_ranks_release(void) {
    if (!dispatching) return;
    for (int w = 1; w < parallel_size(); w++) parallel_send(w, TAG_TASK, "", 0);
    dispatching = 0;
}

/* a child `harness run`: a process of its own, not of the MPI job (the launcher's variables go) */
static pid_t start_run(char **argv, const char *logpath) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0) return pid;
    extern char **environ;
    char *drop[256];
    int nd = 0;
    for (char **e = environ; *e && nd < 256; e++)
        if (!strncmp(*e, "OMPI_", 5) || !strncmp(*e, "PMIX_", 5) || !strncmp(*e, "PMI_", 4)) drop[nd++] = strndup(*e, strcspn(*e, "="));
    for (int i = 0; i < nd; i++) unsetenv(drop[i]);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); close(fd); }
    execv("/proc/self/exe", argv);
    fprintf(stderr, "error: sweep: cannot start the harness: %s\n", strerror(errno));
    _exit(2);
}

int sweep_ranks_work(const char *logs) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/rank-%d", logs, parallel_rank());
    mkdir(logs, 0755);
    mkdir(dir, 0755);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (;;) {
        void *msg;
        size_t len;
        if (parallel_receive(TAG_TASK, 0, &msg, &len, NULL)) return 2;
        if (len == 0) { free(msg); return 0; } /* process 0: no more runs */
        char *words[64], *save = NULL, *line = strtok_r(msg, "\n", &save);
        int index = atoi(line), phase = atoi(strtok_r(NULL, "\n", &save)), nw = 0, threads_given = 0;
        char dbpath[4300], dbword[4400], outword[4400], logpath[4400];
        snprintf(dbpath, sizeof dbpath, "%s/run-%d.db", dir, index + 1);
        snprintf(dbword, sizeof dbword, "db=%s", dbpath);
        snprintf(outword, sizeof outword, "out=%s/run-%d.runs", dir, index + 1);
        snprintf(logpath, sizeof logpath, "%s/run-%d.log", dir, index + 1);
        remove_db(dbpath);
        if (phase) { /* the snapshot to start from: the pretraining run is in it */
            void *seed;
            size_t n;
            if (parallel_receive(TAG_SEED, 0, &seed, &n, NULL)) return 2;
            char err[4400];
            FilePart part = {seed, n};
            if (n && atomic_write(dbpath, &part, 1, err, sizeof err)) fprintf(stderr, "error: sweep: %s\n", err);
            free(seed);
        }
        words[nw++] = "harness";
        words[nw++] = "run";
        for (char *w = strtok_r(NULL, "\n", &save); w && nw < 60; w = strtok_r(NULL, "\n", &save)) {
            if (!strncmp(w, "db=", 3) || !strncmp(w, "out=", 4)) continue; /* this process's own */
            threads_given |= !strncmp(w, "threads=", 8);
            words[nw++] = w;
        }
        words[nw++] = dbword;
        words[nw++] = outword;
        if (!threads_given) words[nw++] = "threads=1";
        words[nw] = NULL;
        pid_t pid = start_run(words, logpath);
        int status = 0, code = 2, forwarded = 0;
        while (pid > 0 && waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) break;
            if (ranks_stop && !forwarded) { kill(pid, SIGTERM); forwarded = 1; }
        }
        if (pid > 0) code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        free(msg);
        char result[64];
        int rn = snprintf(result, sizeof result, "%d\n%d\n", index, code);
        void *file = NULL;
        size_t flen = 0;
        if (file_read_whole(dbpath, &file, &flen)) flen = 0;
        if (parallel_send(0, TAG_RESULT, result, (size_t)rn) || parallel_send(0, TAG_DB, file ? file : "", flen)) return 2;
        free(file);
        remove_db(dbpath);
    }
}
