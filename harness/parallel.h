/* Processes of one run under `mpirun -np P` (a build with -DHARNESS_MPI=ON): rank, size and
 * the few collectives data parallelism needs. Without MPI, or started without mpirun, there is
 * one process and every call is a no-op, so the run loop reads the same either way. Bytes
 * sent and seconds spent communicating are counted for the run's metrics. */
#ifndef MOEH_PARALLEL_H
#define MOEH_PARALLEL_H
#include <stddef.h>

/* MPI_Init when built with MPI; call first thing in main */
void parallel_init(int *argc, char ***argv);
void parallel_finalize(void);
/* 1 when this build has MPI */
int parallel_built(void);
int parallel_rank(void);
int parallel_size(void);

/* v[0 .. n) := the sum over processes, the same on every process. ordered: summed in rank
 * order (((v_0 + v_1) + v_2) + ...), passed along the ranks and broadcast from the last, so the
 * result is the bits one process gets adding the slices in that order; else MPI_Allreduce. */
void parallel_sum_floats(float *v, size_t n, int ordered);
void parallel_sum_doubles(double *v, int n);
void parallel_sum_longs(long long *v, int n);
/* expert parallelism's exchanges, every process at once: n ints from send + q n to each process
 * q, recv + q n from each; and send_count[q] floats from send + send_at[q] to process q, with
 * recv_count[q] of them arriving at recv + recv_at[q]. One process: its own part copied. */
void parallel_alltoall_ints(const int *send, int *recv, int n);
void parallel_alltoallv_floats(const float *send, const int *send_count, const int *send_at, float *recv,
                               const int *recv_count, const int *recv_at);
/* n floats to process `to`, and from process `from` into v, in order (expert sharding's
 * checkpoint blocks) */
void parallel_send_floats(int to, const float *v, size_t n);
void parallel_receive_floats(int from, float *v, size_t n);
/* rank 0's value on every process */
int parallel_broadcast_int(int v);

/* point to point, for handing out work (sweeps): n bytes to process `to` under tag; and the
 * next message with tag from any process: its bytes (malloc'd, NUL-terminated past n) and
 * sender. 0, or -1 (a message over 2 GB, out of memory, or no MPI). */
int parallel_send(int to, int tag, const void *bytes, size_t n);
int parallel_receive(int tag, int from, void **bytes, size_t *n, int *sender);

/* bytes this process sent and seconds it spent in the calls above, since the start */
void parallel_traffic(double *bytes, double *seconds);

#endif
