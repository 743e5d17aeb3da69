/* Checkpoints: model config, parameters, AdamW moments and step, the RNG/data position, and
 * the run's resolved configuration text. Written to PATH.tmp, synced, then renamed over PATH,
 * so a crash never leaves a half-written checkpoint under the real name. A magic number, a
 * format version and a checksum of the payload are checked on load. */
#ifndef MOEH_CHECKPOINT_H
#define MOEH_CHECKPOINT_H
#include "model.h"
#include "optim.h"
#include "util/atomic_file.h"
#include <stdint.h>

#define CHECKPOINT_VERSION 7 /* 2: model config with the MoE fields; 3: with image patches; 4: images; 5: router_norm;
                                6: the model config by field name; 7: the checksum covers the header
                                (5 and 6 are still read) */

typedef struct {
    int64_t step;          /* training steps done */
    uint64_t rng_state;    /* training RNG (dropout, sampling) */
    uint64_t data_state;   /* the task's data position / sampler state */
    char config[4096];     /* resolved run configuration (text) */
} CheckpointState;

/* 0 on success; otherwise -1 with a message naming the file in err */
int checkpoint_save(const char *path, const Model *m, const AdamW *opt, const CheckpointState *st,
                    char *err, size_t errlen);
/* checkpoint_save that puts the file's sha256 into sha256 and then calls before_rename (NULL:
 * none; see atomic_write_then) while the file is whole under PATH.tmp, before it takes its name */
int checkpoint_save_then(const char *path, const Model *m, const AdamW *opt, const CheckpointState *st,
                         char sha256[65], BeforeRename before_rename, void *ctx, char *err, size_t errlen);
/* A sharded model's checkpoint (expert parallelism) is the file the unsharded model writes:
 * process 0 writes it, fetching each other process's block of every routed-expert tensor (of
 * the parameters, then of AdamW's m and v) in the file's order, once; the other processes
 * call checkpoint_send_blocks at the same time, which sends them in that order. fetch(ctx,
 * process, into, n) receives n floats from that process into buf, which holds
 * checkpoint_gather_floats(m) (allocated once, beforehand: a checkpoint allocates no model-sized
 * memory). */
typedef struct {
    void (*fetch)(void *ctx, int process, float *into, size_t n);
    void *ctx;
    float *buf;
} CheckpointGather;
size_t checkpoint_gather_floats(const Model *m);
int checkpoint_save_gathered(const char *path, const Model *m, const AdamW *opt, const CheckpointState *st,
                             const CheckpointGather *gather, char sha256[65], BeforeRename before_rename, void *ctx,
                             char *err, size_t errlen);
void checkpoint_send_blocks(const Model *m, const AdamW *opt, void (*send)(void *ctx, const float *p, size_t n), void *ctx);
/* Loads into m: if m->params is NULL the model is built from the stored config, otherwise the
 * stored config must equal m->cfg. opt may be NULL (weights only); if given it must be
 * initialised for the same number of parameters. st may be NULL. A sharded m keeps the values it
 * holds (the file has them all, whatever the processes that wrote it). */
int checkpoint_load(const char *path, Model *m, AdamW *opt, CheckpointState *st,
                    char *err, size_t errlen);

/* Reads only the stored state (step, RNG, data position, run configuration) of a checkpoint,
 * after checking its magic number and version. */
int checkpoint_read_state(const char *path, CheckpointState *st, char *err, size_t errlen);

#endif
