#include "checkpoint.h"
#include "util/atomic_file.h"
#include "util/invariant.h"
#include "util/sha256.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char MAGIC[8] = {'M', 'H', 'M', 'O', 'E', 'C', 'K', 'P'};

/* format 6: the model configuration as "name=value" lines (MODEL_CONFIG_FIELDS); format 7: the
 * same layout, its checksum over the header too (with the checksum field 0), so a flipped bit
 * of opt_step or of the model configuration is caught as well as one of the payload */
#define CONFIG_TEXT 1024
typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t has_optimizer;
    char cfg[CONFIG_TEXT]; /* ModelConfig as name=value lines */
    uint64_t n_params;
    int64_t opt_step;
    uint64_t checksum;     /* FNV-1a over everything after the header (format 7: the header first) */
} Header;

/* format 5, still read: the 21 ModelConfig ints of that time, by position */
#define V5_CONFIG_INTS 21
typedef struct {
    char magic[8];
    uint32_t version;
    uint32_t has_optimizer;
    int32_t cfg[V5_CONFIG_INTS];
    uint64_t n_params;
    int64_t opt_step;
    uint64_t checksum;
} HeaderV5;

static int *config_field(ModelConfig *c, int i) { return (int *)((char *)c + MODEL_CONFIG_FIELDS[i].offset); }

static void config_to_text(const ModelConfig *c, char *text) {
    size_t used = 0;
    for (int i = 0; i < MODEL_CONFIG_FIELD_COUNT; i++)
        used += (size_t)snprintf(text + used, CONFIG_TEXT - used, "%s=%d\n", MODEL_CONFIG_FIELDS[i].name,
                                 *config_field((ModelConfig *)c, i));
}

/* 0, or -1 with what is wrong: a name this build does not know is refused (the model it
 * describes could not be built faithfully); a field not stored keeps 0 */
static int text_to_config(const char *text, ModelConfig *c, char *why, size_t whylen) {
    memset(c, 0, sizeof *c);
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n'), *eq = strchr(line, '=');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (!eq || eq > line + len) { snprintf(why, whylen, "model configuration line '%.*s' is not name=value", (int)len, line); return -1; }
        int found = -1;
        for (int i = 0; i < MODEL_CONFIG_FIELD_COUNT && found < 0; i++)
            if (strlen(MODEL_CONFIG_FIELDS[i].name) == (size_t)(eq - line) && !strncmp(MODEL_CONFIG_FIELDS[i].name, line, (size_t)(eq - line)))
                found = i;
        if (found < 0) { snprintf(why, whylen, "model configuration field '%.*s' is unknown to this build", (int)(eq - line), line); return -1; }
        char *num_end;
        long v = strtol(eq + 1, &num_end, 10);
        if (num_end != line + len || num_end == eq + 1) { snprintf(why, whylen, "model configuration '%.*s': not a whole number", (int)len, line); return -1; }
        *config_field(c, found) = (int)v;
        line += len + (end != NULL);
    }
    return 0;
}

/* the header of either format as format 6; 0, or -1 with the reason in err */
static int read_header(FILE *f, const char *path, Header *h, char *err, size_t errlen) {
    char magic[8];
    uint32_t version;
    if (fread(magic, 8, 1, f) != 1 || memcmp(magic, MAGIC, 8) != 0 || fread(&version, 4, 1, f) != 1) {
        snprintf(err, errlen, "%s: not a harness checkpoint (bad magic number)", path);
        return -1;
    }
    rewind(f);
    if (version == 5) {
        HeaderV5 old;
        if (fread(&old, sizeof old, 1, f) != 1) { snprintf(err, errlen, "%s: truncated checkpoint", path); return -1; }
        memset(h, 0, sizeof *h);
        memcpy(h->magic, old.magic, 8);
        h->version = 5;
        h->has_optimizer = old.has_optimizer;
        ModelConfig c;
        memset(&c, 0, sizeof c);
        for (int i = 0; i < V5_CONFIG_INTS; i++) *config_field(&c, i) = old.cfg[i];
        config_to_text(&c, h->cfg);
        h->n_params = old.n_params;
        h->opt_step = old.opt_step;
        h->checksum = old.checksum;
        return 0;
    }
    if (version != 6 && version != CHECKPOINT_VERSION) {
        snprintf(err, errlen, "%s: checkpoint format version %u, this build reads versions 5 to %d", path, version, CHECKPOINT_VERSION);
        return -1;
    }
    if (fread(h, sizeof *h, 1, f) != 1) { snprintf(err, errlen, "%s: truncated checkpoint", path); return -1; }
    h->cfg[CONFIG_TEXT - 1] = 0;
    return 0;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}

/* where the checksum starts: format 7 covers the header (its checksum field as 0) */
static uint64_t checksum_start(const Header *h) {
    uint64_t sum = 0xcbf29ce484222325ull;
    if (h->version < 7) return sum;
    Header zeroed = *h;
    zeroed.checksum = 0;
    return fnv1a(sum, &zeroed, sizeof zeroed);
}

int checkpoint_save(const char *path, const Model *m, const AdamW *opt, const CheckpointState *st,
                    char *err, size_t errlen) {
    char sha[65];
    return checkpoint_save_then(path, m, opt, st, sha, NULL, NULL, err, errlen);
}

int checkpoint_save_then(const char *path, const Model *m, const AdamW *opt, const CheckpointState *st,
                         char sha256[65], BeforeRename before_rename, void *ctx, char *err, size_t errlen) {
    return checkpoint_save_gathered(path, m, opt, st, NULL, sha256, before_rename, ctx, err, errlen);
}

/* One pass writes the file: the header with its checksum 0, then everything after it, summed
 * (FNV-1a, from checksum_start) as it goes; the checksum is then written into the header. A
 * sharded model's blocks are fetched once. */
typedef struct {
    uint64_t fnv;
    FILE *f;
    int ok;
} Emit;

static void emit(Emit *w, const void *p, size_t n) {
    w->fnv = fnv1a(w->fnv, p, n);
    if (w->ok && n) w->ok = fwrite(p, n, 1, w->f) == 1;
}

/* arrays: the parameters, then AdamW's moments m and v */
static const float *checkpoint_array(const Model *m, const AdamW *opt, int a) {
    return a == 0 ? m->params : a == 1 ? opt->m : opt->v;
}

/* the parameters (and moments) in the whole model's order: a sharded tensor's blocks in
 * process order, the others' fetched into buf */
static void emit_arrays(Emit *w, const Model *m, const AdamW *opt, const CheckpointGather *gather, float *buf) {
    for (int a = 0; a < (opt ? 3 : 1); a++) {
        const float *base = checkpoint_array(m, opt, a);
        for (int i = 0; i < m->n_tensors; i++) {
            const ParamTensor *t = &m->tensors[i];
            if (!t->expert_unit || m->shard.ranks == 1) { emit(w, base + t->off, sizeof(float) * t->n); continue; }
            for (int q = 0; q < m->shard.ranks; q++) {
                if (q == m->shard.rank) { emit(w, base + t->off, sizeof(float) * t->n); continue; }
                gather->fetch(gather->ctx, q, buf, t->n);
                emit(w, buf, sizeof(float) * t->n);
            }
        }
    }
}

int checkpoint_save_gathered(const char *path, const Model *m, const AdamW *opt, const CheckpointState *st,
                             const CheckpointGather *gather, char sha256[65], BeforeRename before_rename, void *ctx,
                             char *err, size_t errlen) {
    INVARIANT(m->shard.ranks == 1 || (gather && m->shard.rank == 0));
    Header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, MAGIC, 8);
    h.version = CHECKPOINT_VERSION;
    h.has_optimizer = opt != NULL;
    config_to_text(&m->cfg, h.cfg);
    h.n_params = m->n_params_full;
    h.opt_step = opt ? opt->step : 0;
    CheckpointState zero;
    if (!st) { memset(&zero, 0, sizeof zero); st = &zero; }
    float *buf = gather ? gather->buf : NULL;
    /* the blocks are fetched even if PATH.tmp cannot be opened: the other processes send them
     * either way */
    Emit w = {.fnv = checksum_start(&h), .f = atomic_open(path, err, errlen)};
    w.ok = w.f != NULL && fwrite(&h, sizeof h, 1, w.f) == 1;
    emit(&w, st, sizeof *st);
    emit_arrays(&w, m, opt, gather, buf);
    if (!w.f) return -1;
    h.checksum = w.fnv;
    /* the sha256 is the file's as written, read back (from the page cache): the header's
     * checksum comes first in it and is known only at the end */
    Sha256 sha;
    sha256_init(&sha);
    if (w.ok) w.ok = fseek(w.f, 0, SEEK_SET) == 0 && fwrite(&h, sizeof h, 1, w.f) == 1 && fflush(w.f) == 0 &&
                     fseek(w.f, 0, SEEK_SET) == 0;
    unsigned char chunk[1 << 15];
    for (size_t got; w.ok && (got = fread(chunk, 1, sizeof chunk, w.f)) > 0;) sha256_update(&sha, chunk, got);
    if (w.ok) w.ok = !ferror(w.f);
    sha256_hex(&sha, sha256);
    return atomic_close_then(w.f, w.ok, path, before_rename, ctx, err, errlen);
}

size_t checkpoint_gather_floats(const Model *m) {
    size_t largest = 1;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].expert_unit && m->tensors[i].n > largest) largest = m->tensors[i].n;
    return largest;
}

void checkpoint_send_blocks(const Model *m, const AdamW *opt, void (*send)(void *ctx, const float *p, size_t n), void *ctx) {
    for (int a = 0; a < (opt ? 3 : 1); a++)
        for (int i = 0; i < m->n_tensors; i++)
            if (m->tensors[i].expert_unit) send(ctx, checkpoint_array(m, opt, a) + m->tensors[i].off, m->tensors[i].n);
}

int checkpoint_load(const char *path, Model *m, AdamW *opt, CheckpointState *st,
                    char *err, size_t errlen) {
    FILE *f = file_open_regular(path, err, errlen);
    if (!f) return -1;
    Header h;
    CheckpointState local;
    int rc = -1;
    float *buf = NULL, *chunk = NULL;
    if (read_header(f, path, &h, err, errlen)) goto done;
    ModelConfig cfg;
    char bad[160];
    if (text_to_config(h.cfg, &cfg, bad, sizeof bad)) { snprintf(err, errlen, "%s: %s", path, bad); goto done; }
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
    if (h.n_params != m->n_params_full) {
        snprintf(err, errlen, "%s: %llu parameters stored, model has %zu", path,
                 (unsigned long long)h.n_params, m->n_params_full);
        goto done;
    }
    if (opt && !h.has_optimizer) { snprintf(err, errlen, "%s: holds no optimizer state", path); goto done; }
    if (opt && opt->n != m->n_params) { snprintf(err, errlen, "%s: optimizer size mismatch", path); goto done; }
    /* read into scratch first, checksum whole: a bad file must not leave a half-loaded model.
     * The file holds every value; a sharded model keeps those it holds. */
    size_t held = m->n_params, n_arrays = h.has_optimizer ? 3 : 1, chunk_n = 1 << 16;
    buf = malloc(sizeof(float) * held * n_arrays);
    chunk = malloc(sizeof(float) * chunk_n);
    if (!buf || !chunk) { snprintf(err, errlen, "%s: out of memory", path); goto done; }
    if (fread(&local, sizeof local, 1, f) != 1) { snprintf(err, errlen, "%s: truncated checkpoint", path); goto done; }
    uint64_t sum = fnv1a(checksum_start(&h), &local, sizeof local);
    for (size_t a = 0; a < n_arrays; a++)
        for (int i = 0; i < m->n_tensors; i++) {
            const ParamTensor *t = &m->tensors[i];
            for (size_t at = 0; at < t->full; at += chunk_n) {
                size_t n = t->full - at < chunk_n ? t->full - at : chunk_n;
                if (fread(chunk, sizeof(float), n, f) != n) { snprintf(err, errlen, "%s: truncated checkpoint", path); goto done; }
                sum = fnv1a(sum, chunk, sizeof(float) * n);
                size_t lo = at > t->lo ? at : t->lo, hi = at + n < t->lo + t->n ? at + n : t->lo + t->n;
                if (lo < hi) memcpy(buf + a * held + t->off + (lo - t->lo), chunk + (lo - at), sizeof(float) * (hi - lo));
            }
        }
    if (sum != h.checksum) { snprintf(err, errlen, "%s: checksum mismatch (corrupt file)", path); goto done; }
    if (h.opt_step < 0 || local.step < 0) { snprintf(err, errlen, "%s: negative step count (corrupt file)", path); goto done; }
    memcpy(m->params, buf, sizeof(float) * held);
    if (opt) {
        memcpy(opt->m, buf + held, sizeof(float) * held);
        memcpy(opt->v, buf + 2 * held, sizeof(float) * held);
        opt->step = h.opt_step;
    }
    if (st) *st = local;
    rc = 0;
done:
    free(buf);
    free(chunk);
    fclose(f);
    return rc;
}

int checkpoint_read_state(const char *path, CheckpointState *st, char *err, size_t errlen) {
    FILE *f = file_open_regular(path, err, errlen);
    if (!f) return -1;
    Header h;
    int rc = -1;
    if (read_header(f, path, &h, err, errlen)) { fclose(f); return -1; }
    if (fread(st, sizeof *st, 1, f) != 1)
        snprintf(err, errlen, "%s: truncated checkpoint", path);
    else {
        st->config[sizeof st->config - 1] = 0;
        rc = 0;
    }
    fclose(f);
    return rc;
}
