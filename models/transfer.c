#include "transfer.h"
#include "checkpoint.h"
#include <stdio.h>
#include <string.h>

/* the first backbone setting that differs, or NULL */
static const char *backbone_difference(const ModelConfig *a, const ModelConfig *b, int *va, int *vb) {
#define SAME(field, key) if (a->field != b->field) { *va = a->field; *vb = b->field; return key; }
    SAME(d_model, "d_model") SAME(layers, "layers") SAME(attn_heads, "attn_heads") SAME(ffn_mult, "ffn_mult")
    SAME(moe, "model") SAME(experts, "experts") SAME(topk, "topk") SAME(moe_every, "moe_every")
    SAME(expert_dim, "expert_dim") SAME(router_dim, "router_dim") SAME(mh_heads, "heads")
    SAME(mh_inner_residual, "mh_residual") SAME(mh_without, "mh_layers") SAME(gate_sigmoid, "gate") SAME(router_code, "router_norm")
    if (a->patch_dim > 0 && b->patch_dim > 0) SAME(patch_dim, "patch") /* text-only weights may start an image model */
#undef SAME
    return NULL;
}

static ParamTensor *find_tensor(Model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++) if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
    return NULL;
}

int model_init_from(Model *dst, const char *path, int shared_out, char *note, size_t notelen,
                    char *err, size_t errlen) {
    Model src;
    memset(&src, 0, sizeof src);
    if (checkpoint_load(path, &src, NULL, NULL, err, errlen)) return -1;
    int va = 0, vb = 0;
    const char *key = backbone_difference(&src.cfg, &dst->cfg, &va, &vb);
    if (key) {
        snprintf(err, errlen, "%s: its model has %s %d, this run %d (give the same model keys as the run that wrote it)",
                 path, key, va, vb);
        model_free(&src);
        return -1;
    }
    int C = dst->cfg.d_model, copied = 0, partial = 0;
    for (int i = 0; i < dst->n_tensors; i++) {
        ParamTensor *t = &dst->tensors[i], *s = find_tensor(&src, t->name);
        if (!s) continue; /* patch and modality tables of an image model started from text-only weights */
        size_t rows = 0;
        if (!strcmp(t->name, "wte") || !strcmp(t->name, "wpe")) {
            rows = (s->n < t->n ? s->n : t->n) / C;
        } else if (!strcmp(t->name, "head.w")) {
            rows = (size_t)shared_out;
            if (rows * C > s->n) rows = s->n / C;
            if (rows * C > t->n) rows = t->n / C;
        } else if (s->full == t->full) { /* a sharded dst keeps its block of the experts */
            memcpy(dst->params + t->off, src.params + s->off + t->lo, sizeof(float) * t->n);
            copied++;
            continue;
        }
        memcpy(dst->params + t->off, src.params + s->off, sizeof(float) * rows * C);
        partial++;
    }
    snprintf(note, notelen, "%s: %d tensors copied, %d in part (token/position tables, head: %d shared outputs of %d)",
             path, copied, partial, shared_out < dst->cfg.n_out ? shared_out : dst->cfg.n_out, dst->cfg.n_out);
    model_free(&src);
    return 0;
}
