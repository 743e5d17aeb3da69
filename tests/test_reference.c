/* The C model against the PyTorch reference (bench/reference.py) through committed fixtures:
 * same parameters, same batch; logits, loss and every parameter gradient compared. One fixture
 * per variant: dense (causal; bidirectional with padding), SMoE k=2, X-MoE softmax k=1 and
 * sigmoid k=2, MH-MoE k=1, MH-MoE k=2 with the inner residual and capacity drops in training
 * mode, X-MoE k=1 and MH-MoE k=2 with the public code's router (router_norm=code), and a bidirectional MH-MoE reading 3 image patches before its text (patch and modality
 * embeddings), two images in one row, and pairs of rows whose logits are added (a batch group,
 * later rows still scored on their own targets), and the routing after the paper: expert choice
 * (X-MoE k=1 in training at capacity 1.5, MH-MoE k=2), shared experts (SMoE k=2, MH-MoE k=1
 * with capacity drops), the router z-loss (weight 0.05, with those and with the code router)
 * and the loss-free selection bias (X-MoE k=2); the objective includes the balance loss (weight 0.1). The reference is float64, the harness float32, so the tolerances are float32's:
 * logits and loss |c - r| <= 1e-4 + 1e-4 |r|, gradients |c - r| <= 2e-6 + 1e-3 |r|. */
#include "check.h"
#include "models/model.h"
#include <string.h>

typedef struct {
    int hdr[48], nhdr;
    int *tokens, *targets, *mask;
    float *params, *patches;
    double *logits, loss, aux, *grads;
} Fixture;

static int read_fixture(const char *path, Fixture *fx) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "%s: cannot open\n", path); return -1; }
    char magic[8];
    int ok = fread(magic, 8, 1, f) == 1 && !memcmp(magic, "MOEHFIX3", 8) &&
             fread(&fx->nhdr, 4, 1, f) == 1 && fx->nhdr <= 48 && fread(fx->hdr, 4, fx->nhdr, f) == (size_t)fx->nhdr;
    if (!ok) { fclose(f); fprintf(stderr, "%s: bad header\n", path); return -1; }
    int B = fx->hdr[9], T = fx->hdr[10], masked = fx->hdr[11], np = fx->hdr[12], V = fx->hdr[2];
    size_t BT = (size_t)B * T;
    fx->tokens = malloc(BT * 4); fx->targets = malloc(BT * 4); fx->mask = masked ? malloc(BT * 4) : NULL;
    fx->params = malloc((size_t)np * 4); fx->logits = malloc(BT * V * 8); fx->grads = malloc((size_t)np * 8);
    ok = fread(fx->tokens, 4, BT, f) == BT && fread(fx->targets, 4, BT, f) == BT &&
         (!masked || fread(fx->mask, 4, BT, f) == BT);
    size_t npatch = (size_t)B * fx->hdr[25] * fx->hdr[24];
    if (ok && npatch) { fx->patches = malloc(npatch * 4); ok = fread(fx->patches, 4, npatch, f) == npatch; }
    ok = ok && fread(fx->params, 4, np, f) == (size_t)np &&
         fread(fx->logits, 8, BT * V, f) == BT * V && fread(&fx->loss, 8, 1, f) == 1 && fread(&fx->aux, 8, 1, f) == 1 &&
         fread(fx->grads, 8, np, f) == (size_t)np;
    fclose(f);
    if (!ok) fprintf(stderr, "%s: truncated\n", path);
    return ok ? 0 : -1;
}

static void compare(const char *path) {
    Fixture fx;
    memset(&fx, 0, sizeof fx);
    if (read_fixture(path, &fx)) { CHECK(0, "fixture %s unreadable", path); return; }
    const int *h = fx.hdr;
    ModelConfig cfg = {.vocab = h[1], .n_out = h[2], .max_seq = h[3], .d_model = h[4], .layers = h[5],
                       .attn_heads = h[6], .ffn_mult = h[7], .causal = h[8], .moe = h[0],
                       .experts = h[13], .topk = h[14], .moe_every = h[15], .expert_dim = h[16],
                       .router_dim = h[17], .mh_heads = h[18], .mh_inner_residual = h[19], .gate_sigmoid = h[20],
                       .patch_dim = h[24], .n_patches = h[25], .images = fx.nhdr > 26 ? h[26] : 0,
                       .router_code = fx.nhdr > 28 ? h[28] : 0, .route = fx.nhdr > 29 ? h[29] : 0,
                       .shared_experts = fx.nhdr > 30 ? h[30] : 0, .balance_bias = fx.nhdr > 31 ? h[31] : 0};
    int B = h[9], T = h[10];
    Model m;
    CHECK(model_build(&m, &cfg, 0) == 0 && model_alloc_batch(&m, B, T) == 0, "build");
    CHECK((int)m.n_params == h[12], "%s: C model has %zu parameters, reference %d", path, m.n_params, h[12]);
    if ((int)m.n_params != h[12]) return;
    memcpy(m.params, fx.params, m.n_params * sizeof(float));
    model_set_moe_options(&m, h[21], h[22] / 1000.0f, h[23] / 1e6f);
    model_set_router_options(&m, fx.nhdr > 32 ? h[32] / 1e6f : 0.0f, 0.0f);
    Batch *b = batch_alloc(B, T, fx.mask != NULL);
    b->group = fx.nhdr > 27 ? h[27] : 1;
    memcpy(b->tokens, fx.tokens, sizeof(int) * B * T);
    memcpy(b->targets, fx.targets, sizeof(int) * B * T);
    if (fx.mask) for (int i = 0; i < B * T; i++) b->key_mask[i] = (unsigned char)fx.mask[i];
    b->patches = fx.patches;
    float loss = model_forward(&m, b);
    const float *logits = model_logits(&m);
    double worst = 0;
    int bad = 0;
    for (int i = 0; i < B * T * cfg.n_out; i++) {
        double d = fabs(logits[i] - fx.logits[i]);
        if (d > worst) worst = d;
        bad += d > 1e-4 + 1e-4 * fabs(fx.logits[i]);
    }
    printf("%s\n  logits: max |c - r| = %.3g\n  loss: c %.7f r %.7f\n", path, worst, loss, fx.loss);
    CHECK(!bad, "%d logits differ", bad);
    CHECK(fabs(loss - fx.loss) <= 1e-4 + 1e-4 * fabs(fx.loss), "loss %g vs %g", loss, fx.loss);
    long long dropped = 0;
    for (int l = 0; l < cfg.layers; l++) dropped += m.moe[l].stats.dropped;
    printf("  balance loss: c %.7f r %.7f; %lld assignments dropped by capacity\n", m.aux_loss, fx.aux, dropped);
    if (h[21] && h[22] && !cfg.route) CHECK(dropped > 0, "%s: a capacity fixture that drops nothing tests nothing", path);
    CHECK(fabs(m.aux_loss - fx.aux) <= 1e-5 + 1e-5 * fabs(fx.aux), "aux %g vs %g", m.aux_loss, fx.aux);
    model_zero_grad(&m);
    model_backward(&m);
    for (int t = 0; t < m.n_tensors; t++) {
        const ParamTensor *pt = &m.tensors[t];
        double w = 0, scale = 0;
        int nbad = 0;
        for (size_t i = 0; i < pt->n; i++) {
            double r = fx.grads[pt->off + i], d = fabs(m.grads[pt->off + i] - r);
            if (d > w) w = d;
            if (fabs(r) > scale) scale = fabs(r);
            nbad += d > 2e-6 + 1e-3 * fabs(r);
        }
        printf("  grad %-18s max |c - r| = %.3g (max |r| %.3g)%s\n", pt->name, w, scale, nbad ? "  MISMATCH" : "");
        CHECK(!nbad, "%s: %d gradient entries differ", pt->name, nbad);
    }
    b->patches = NULL; /* the fixture's, freed below */
    batch_free(b);
    model_free(&m);
    free(fx.tokens); free(fx.targets); free(fx.mask); free(fx.params); free(fx.logits); free(fx.grads); free(fx.patches);
}

int main(void) {
    compare(MOEH_FIXTURES "/ref_dense_causal.bin");
    compare(MOEH_FIXTURES "/ref_dense_bidir_masked.bin");
    compare(MOEH_FIXTURES "/ref_smoe.bin");
    compare(MOEH_FIXTURES "/ref_xmoe.bin");
    compare(MOEH_FIXTURES "/ref_xmoe_sigmoid.bin");
    compare(MOEH_FIXTURES "/ref_mhmoe.bin");
    compare(MOEH_FIXTURES "/ref_mhmoe_inner_capacity.bin");
    compare(MOEH_FIXTURES "/ref_xmoe_code.bin");  /* router_norm=code: the torchscale router */
    compare(MOEH_FIXTURES "/ref_mhmoe_code.bin");
    compare(MOEH_FIXTURES "/ref_images_mhmoe.bin");
    compare(MOEH_FIXTURES "/ref_images_prefix_lm.bin"); /* captioning: patches see each other, text causal */
    compare(MOEH_FIXTURES "/ref_two_images.bin"); /* pair=joint: two images restart the positions */
    compare(MOEH_FIXTURES "/ref_pair_rows.bin");  /* pair=separate: one image per row, rows' logits added */
    /* the routing after the paper: expert choice, shared experts, router z-loss, loss-free bias */
    compare(MOEH_FIXTURES "/ref_xmoe_expert_choice.bin");
    compare(MOEH_FIXTURES "/ref_mhmoe_expert_choice.bin");
    compare(MOEH_FIXTURES "/ref_xmoe_sinkhorn.bin");  /* S-BASE: token choice on a Sinkhorn-balanced ranking */
    compare(MOEH_FIXTURES "/ref_mhmoe_sinkhorn.bin");
    compare(MOEH_FIXTURES "/ref_smoe_shared_z.bin");
    compare(MOEH_FIXTURES "/ref_mhmoe_shared_z.bin");
    compare(MOEH_FIXTURES "/ref_xmoe_loss_free_z.bin");
    compare(MOEH_FIXTURES "/ref_xmoe_code_z.bin");
    CHECK_FINISH();
}
