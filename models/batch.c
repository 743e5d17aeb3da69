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
