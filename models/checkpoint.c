#include "checkpoint.h"
#include "atomic_file.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char MAGIC[8] = {'M', 'H', 'M', 'O', 'E', 'C', 'K', 'P'};

typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t has_optimizer;
    int32_t cfg[MODEL_CONFIG_INTS]; /* ModelConfig fields in declaration order */
    uint64_t n_params;
    int64_t opt_step;
    uint64_t checksum;     /* FNV-1a over everything after the header */
} Header;

_Static_assert(sizeof(ModelConfig) == MODEL_CONFIG_INTS * sizeof(int32_t), "ModelConfig must be all ints");
static void cfg_to_ints(const ModelConfig *c, int32_t *v) { memcpy(v, c, sizeof *c); }
static void ints_to_cfg(const int32_t *v, ModelConfig *c) { memcpy(c, v, sizeof *c); }

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}

int checkpoint_save(const char *path, const Model *m, const AdamW *opt, const CheckpointState *st,
                    char *err, size_t errlen) {
    Header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.version = CHECKPOINT_VERSION;
    h.has_optimizer = opt != NULL;
    cfg_to_ints(&m->cfg, h.cfg);
    h.n_params = m->n_params;
    h.opt_step = opt ? opt->step : 0;
    CheckpointState zero;
    if (!st) { memset(&zero, 0, sizeof zero); st = &zero; }
    size_t pbytes = m->n_params * sizeof(float);
    FilePart parts[5] = {{&h, sizeof h}, {st, sizeof *st}, {m->params, pbytes},
                         {opt ? opt->m : NULL, opt ? pbytes : 0}, {opt ? opt->v : NULL, opt ? pbytes : 0}};
    uint64_t sum = 0xcbf29ce484222325ull;
    for (int i = 1; i < 5; i++) sum = fnv1a(sum, parts[i].p, parts[i].n);
    h.checksum = sum;
    return atomic_write(path, parts, 5, err, errlen);
}

int checkpoint_load(const char *path, Model *m, AdamW *opt, CheckpointState *st,
                    char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    Header h;
    CheckpointState local;
    int rc = -1;
    float *buf = NULL;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, MAGIC, 8) != 0) {
        snprintf(err, errlen, "%s: not a harness checkpoint (bad magic number)", path);
        goto done;
    }
    if (h.version != CHECKPOINT_VERSION) {
        snprintf(err, errlen, "%s: checkpoint format version %u, this build reads version %d",
                 path, h.version, CHECKPOINT_VERSION);
        goto done;
    }
    ModelConfig cfg;
    ints_to_cfg(h.cfg, &cfg);
    const char *why = model_config_check(&cfg);
    if (why) { snprintf(err, errlen, "%s: stored model config is invalid: %s", path, why); goto done; }
    if (m->params) {
        if (memcmp(&cfg, &m->cfg, sizeof cfg) != 0) {
            snprintf(err, errlen, "%s: stored model config differs from the model being loaded", path);
            goto done;
        }
    } else if (model_build(m, &cfg, 0) != 0) {
        snprintf(err, errlen, "%s: out of memory building the model", path);
        goto done;
    }
    if (h.n_params != m->n_params) {
        snprintf(err, errlen, "%s: %llu parameters stored, model has %zu", path,
                 (unsigned long long)h.n_params, m->n_params);
        goto done;
    }
    if (opt && !h.has_optimizer) { snprintf(err, errlen, "%s: holds no optimizer state", path); goto done; }
    if (opt && opt->n != m->n_params) { snprintf(err, errlen, "%s: optimizer size mismatch", path); goto done; }
    /* read everything into scratch first: a bad file must not leave a half-loaded model */
    size_t pbytes = m->n_params * sizeof(float), n_arrays = h.has_optimizer ? 3 : 1;
    buf = malloc(pbytes * n_arrays);
    if (!buf) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
    if (fread(&local, sizeof local, 1, f) != 1 || fread(buf, pbytes, n_arrays, f) != n_arrays) {
        snprintf(err, errlen, "%s: truncated checkpoint", path);
        goto done;
    }
    uint64_t sum = fnv1a(0xcbf29ce484222325ull, &local, sizeof local);
    sum = fnv1a(sum, buf, pbytes * n_arrays);
    if (sum != h.checksum) { snprintf(err, errlen, "%s: checksum mismatch (corrupt file)", path); goto done; }
    memcpy(m->params, buf, pbytes);
    if (opt) {
        memcpy(opt->m, (char *)buf + pbytes, pbytes);
        memcpy(opt->v, (char *)buf + 2 * pbytes, pbytes);
        opt->step = h.opt_step;
    }
    if (st) *st = local;
    rc = 0;
done:
    free(buf);
    fclose(f);
    return rc;
}

int checkpoint_read_state(const char *path, CheckpointState *st, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    Header h;
    int rc = -1;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, MAGIC, 8) != 0)
        snprintf(err, errlen, "%s: not a harness checkpoint (bad magic number)", path);
    else if (h.version != CHECKPOINT_VERSION)
        snprintf(err, errlen, "%s: checkpoint format version %u, this build reads version %d", path, h.version, CHECKPOINT_VERSION);
    else if (fread(st, sizeof *st, 1, f) != 1)
        snprintf(err, errlen, "%s: truncated checkpoint", path);
    else {
        st->config[sizeof st->config - 1] = 0;
        rc = 0;
    }
    fclose(f);
    return rc;
}
