#include "model.h"
#include <stdlib.h>

Batch *batch_alloc(int B, int T, int with_mask) {
    Batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->B = B;
    b->T = T;
    b->group = 1;
    b->tokens = calloc((size_t)B * T, sizeof(int));
    b->targets = calloc((size_t)B * T, sizeof(int));
    if (with_mask) b->key_mask = calloc((size_t)B * T, 1);
    if (!b->tokens || !b->targets || (with_mask && !b->key_mask)) { batch_free(b); return NULL; }
    return b;
}

void batch_free(Batch *b) {
    if (!b) return;
    free(b->tokens); free(b->targets); free(b->key_mask); free(b->patches);
    free(b);
}

Batch *batch_alloc_images(int B, int T, int with_mask, int n_patches, int patch_dim) {
    Batch *b = batch_alloc(B, T, with_mask);
    if (b && n_patches > 0 && patch_dim > 0) {
        b->patches = calloc((size_t)B * n_patches * patch_dim, sizeof(float));
        if (!b->patches) { batch_free(b); return NULL; }
    }
    return b;
}

Batch batch_rows(const Batch *b, int first, int rows, int n_patches, int patch_dim) {
    size_t at = (size_t)first * b->T;
    Batch v = *b;
    v.B = rows;
    v.tokens = b->tokens + at;
    v.targets = b->targets ? b->targets + at : NULL;
    v.key_mask = b->key_mask ? b->key_mask + at : NULL;
    v.patches = b->patches ? b->patches + (size_t)first * n_patches * patch_dim : NULL;
    return v;
}

long batch_scored(const Batch *b) {
    long n = 0;
    for (size_t i = 0; b->targets && i < (size_t)b->B * b->T; i++) n += b->targets[i] >= 0;
    return n;
}
