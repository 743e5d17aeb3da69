#include "parallel.h"
#include "progress.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef MOEH_MPI
#include <mpi.h>
#endif

static int rank_ = 0, size_ = 1;
static double sent_bytes, comm_seconds;

#ifdef MOEH_MPI
static int active; /* MPI_Init was called */
/* the ordered reduction's receive buffer, grown on the first step and kept: the steps after
 * allocate nothing */
static float *recv_buf;
static size_t recv_cap;


void parallel_init(int *argc, char ***argv) {
    /* started by mpirun (Open MPI or another PMI launcher sets these); a plain start stays one
     * process without initialising MPI */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_SIZE")) return;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) { fprintf(stderr, "error: MPI_Init failed\n"); exit(2); }
    active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

void parallel_finalize(void) {
    free(recv_buf);
    recv_buf = NULL;
    recv_cap = 0;
    if (active) MPI_Finalize();
    active = 0;
}

int parallel_built(void) { return 1; }

/* MPI counts are ints: a long buffer goes in pieces */
#define PIECE ((size_t)1 << 28)

static void sum_floats_ordered(float *v, size_t n) {
    for (size_t at = 0; at < n; at += PIECE) {
        int len = (int)(n - at < PIECE ? n - at : PIECE);
        float *x = v + at;
        if (rank_ > 0) { /* the sum of ranks 0 .. rank-1 arrives, this rank's slice is added */
            if (recv_cap < (size_t)len) {
                free(recv_buf);
                if (!(recv_buf = malloc(sizeof(float) * (size_t)len))) {
                    fprintf(stderr, "error: out of memory for the ordered reduction\n");
                    MPI_Abort(MPI_COMM_WORLD, 2);
                }
                recv_cap = (size_t)len;
            }
            MPI_Recv(recv_buf, len, MPI_FLOAT, rank_ - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            for (int i = 0; i < len; i++) x[i] = recv_buf[i] + x[i];
        }
        if (rank_ < size_ - 1) {
            MPI_Send(x, len, MPI_FLOAT, rank_ + 1, 0, MPI_COMM_WORLD);
            sent_bytes += sizeof(float) * (double)len;
        }
        MPI_Bcast(x, len, MPI_FLOAT, size_ - 1, MPI_COMM_WORLD);
        if (rank_ == size_ - 1) sent_bytes += sizeof(float) * (double)len * (size_ - 1);
    }
}

/* v[0 .. n) of `type` (elem bytes each) summed over processes, counted
 * (a ring allreduce sends 2 (P - 1) / P of the buffer from each process) */
static void sum_in_place(void *v, int n, MPI_Datatype type, size_t elem) {
    if (size_ == 1 || n <= 0) return;
    double t0 = now_seconds();
    MPI_Allreduce(MPI_IN_PLACE, v, n, type, MPI_SUM, MPI_COMM_WORLD);
    sent_bytes += 2.0 * (size_ - 1) / size_ * elem * n;
    comm_seconds += now_seconds() - t0;
}

void parallel_sum_floats(float *v, size_t n, int ordered) {
    if (size_ == 1) return;
    if (!ordered) {
        for (size_t at = 0; at < n; at += PIECE) sum_in_place(v + at, (int)(n - at < PIECE ? n - at : PIECE), MPI_FLOAT, sizeof *v);
        return;
    }
    double t0 = now_seconds();
    sum_floats_ordered(v, n);
    comm_seconds += now_seconds() - t0;
}

void parallel_sum_doubles(double *v, int n) { sum_in_place(v, n, MPI_DOUBLE, sizeof *v); }
void parallel_sum_longs(long long *v, int n) { sum_in_place(v, n, MPI_LONG_LONG, sizeof *v); }

int parallel_send(int to, int tag, const void *bytes, size_t n) {
    if (n > INT_MAX) return -1;
    double t0 = now_seconds();
    int rc = MPI_Send(bytes, (int)n, MPI_BYTE, to, tag, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : -1;
    sent_bytes += (double)n;
    comm_seconds += now_seconds() - t0;
    return rc;
}

/* in messages of at most 2^24 floats (MPI counts are ints), under a tag of their own (the
 * sweep's point-to-point messages use theirs, sweep_ranks.c) */
#define FLOAT_MESSAGE ((size_t)1 << 24)
#define FLOAT_TAG 7
void parallel_send_floats(int to, const float *v, size_t n) {
    double t0 = now_seconds();
    for (size_t at = 0; at < n; at += FLOAT_MESSAGE)
        MPI_Send(v + at, (int)(n - at < FLOAT_MESSAGE ? n - at : FLOAT_MESSAGE), MPI_FLOAT, to, FLOAT_TAG, MPI_COMM_WORLD);
    sent_bytes += sizeof(float) * (double)n;
    comm_seconds += now_seconds() - t0;
}

void parallel_receive_floats(int from, float *v, size_t n) {
    double t0 = now_seconds();
    for (size_t at = 0; at < n; at += FLOAT_MESSAGE)
        MPI_Recv(v + at, (int)(n - at < FLOAT_MESSAGE ? n - at : FLOAT_MESSAGE), MPI_FLOAT, from, FLOAT_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    comm_seconds += now_seconds() - t0;
}

int parallel_receive(int tag, int from, void **bytes, size_t *n, int *sender) {
    MPI_Status st;
    int count;
    double t0 = now_seconds();
    MPI_Probe(from < 0 ? MPI_ANY_SOURCE : from, tag, MPI_COMM_WORLD, &st);
    MPI_Get_count(&st, MPI_BYTE, &count);
    char *buf = malloc((size_t)count + 1);
    if (!buf) return -1;
    MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    buf[count] = 0;
    *bytes = buf;
    *n = (size_t)count;
    if (sender) *sender = st.MPI_SOURCE;
    comm_seconds += now_seconds() - t0;
    return 0;
}

int parallel_broadcast_int(int v) {
    if (size_ == 1) return v;
    double t0 = now_seconds();
    MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank_ == 0) sent_bytes += sizeof v * (double)(size_ - 1);
    comm_seconds += now_seconds() - t0;
    return v;
}
#else
void parallel_init(int *argc, char ***argv) { (void)argc; (void)argv; }
void parallel_finalize(void) {}
int parallel_built(void) { return 0; }
void parallel_sum_floats(float *v, size_t n, int ordered) { (void)v; (void)n; (void)ordered; }
void parallel_sum_doubles(double *v, int n) { (void)v; (void)n; }
void parallel_sum_longs(long long *v, int n) { (void)v; (void)n; }
int parallel_broadcast_int(int v) { return v; }
int parallel_send(int to, int tag, const void *bytes, size_t n) { (void)to; (void)tag; (void)bytes; (void)n; return -1; }
void parallel_send_floats(int to, const float *v, size_t n) { (void)to; (void)v; (void)n; }
void parallel_receive_floats(int from, float *v, size_t n) { (void)from; (void)v; (void)n; }
int parallel_receive(int tag, int from, void **bytes, size_t *n, int *sender) {
    (void)tag; (void)from; (void)bytes; (void)n; (void)sender;
    return -1;
}
#endif

/* one process (any build) keeps its own part; only MPI's path is compiled in without MPI */
void parallel_alltoall_ints(const int *send, int *recv, int n) {
    if (size_ == 1) { memcpy(recv, send, sizeof(int) * n); return; }
#ifdef MOEH_MPI
    double t0 = now_seconds();
    MPI_Alltoall(send, n, MPI_INT, recv, n, MPI_INT, MPI_COMM_WORLD);
    sent_bytes += sizeof(int) * (double)n * (size_ - 1);
    comm_seconds += now_seconds() - t0;
#endif
}

void parallel_alltoallv_floats(const float *send, const int *send_count, const int *send_at, float *recv,
                               const int *recv_count, const int *recv_at) {
    if (size_ == 1) { memcpy(recv + recv_at[0], send + send_at[0], sizeof(float) * send_count[0]); return; }
#ifdef MOEH_MPI
    double t0 = now_seconds();
    MPI_Alltoallv(send, send_count, send_at, MPI_FLOAT, recv, recv_count, recv_at, MPI_FLOAT, MPI_COMM_WORLD);
    for (int q = 0; q < size_; q++)
        if (q != rank_) sent_bytes += sizeof(float) * (double)send_count[q];
    comm_seconds += now_seconds() - t0;
#else
    (void)recv_count;
#endif
}

int parallel_rank(void) { return rank_; }
int parallel_size(void) { return size_; }

void parallel_traffic(double *bytes, double *seconds) {
    *bytes = sent_bytes;
    *seconds = comm_seconds;
}
