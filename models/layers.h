/* Transformer layers, each a forward/backward pair in the manner of llm.c.
 * Shapes: B batch, T time, C channels, V vocabulary/outputs, NH attention heads, N = B*T rows.
 * Every backward ACCUMULATES (+=) into the gradients it is given, so a caller zeroes the
 * gradient buffers once per step and shared tensors (residual streams) just add up. */
#ifndef MOEH_LAYERS_H
#define MOEH_LAYERS_H
#include <stddef.h>

/* out (B,T,C) = wte[tokens] + wpe[t]; tokens (B,T) */
void encoder_forward(float *out, const int *tokens, const float *wte, const float *wpe,
                     int B, int T, int C);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tokens,
                      int B, int T, int C);

/* out (N,C) = (inp - mean) * rstd * w + b; mean, rstd (N) saved for backward */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C);

/* out (N,OC) = inp (N,IC) . w (OC,IC)^T + bias (OC, may be NULL); one sgemm */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                    int N, int IC, int OC);
/* dinp (N,IC) += dout.w ; dw (OC,IC) += dout^T.inp ; dbias (OC) += column sums of dout.
 * dinp or dbias may be NULL when not wanted. */
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                     const float *w, int N, int IC, int OC);

/* Multi-head self-attention core (projections are separate matmuls).
 * qkv (B,T,3C) holds q|k|v per token; out (B,T,C); att (B,NH,T,T) keeps the softmax.
 * causal: a query sees keys at or before it, and also the first `prefix` positions (a prefix
 * language model: an image's patches see each other while its caption is read left to right;
 * prefix 0 is plain causal; ignored when not causal). key_mask (B,T) may be NULL; a 0 hides
 * that key position from every query (padding). A query that can see no key gets a zero output. */
void attention_forward(float *out, float *att, const float *qkv, const unsigned char *key_mask,
                       int causal, int prefix, int B, int T, int C, int NH);
/* dqkv (B,T,3C) += ...; scratch (scratch_slots, T, T) is work space, one (T, T) slot per
 * thread (at most scratch_slots threads run it) */
void attention_backward(float *dqkv, float *scratch, int scratch_slots, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH);

/* GELU, tanh approximation (GPT-2, PyTorch approximate='tanh'); N elements. The forward also
 * writes the slope GELU'(inp) into slope (NULL: not wanted), which may be inp itself: the
 * pre-activation has no reader but the backward, and the backward then only multiplies (it
 * recomputed the tanh before, 40% of GELU's time). */
void gelu_forward(float *out, float *slope, const float *inp, size_t N);
/* dinp += slope * dout */
void gelu_backward(float *dinp, const float *slope, const float *dout, size_t N);

/* out = a + b; N elements */
void residual_forward(float *out, const float *a, const float *b, size_t N);
/* da += dout; db += dout */
void residual_backward(float *da, float *db, const float *dout, size_t N);

/* Softmax cross-entropy over N rows of V logits. targets < 0 are ignored.
 * probs (N,V) are kept for backward; losses (N) per row (0 where ignored).
 * Returns the mean loss over the counted rows and stores their number in *count. */
float crossentropy_forward(float *probs, float *losses, const float *logits, const int *targets,
                           int N, int V, int *count);
/* dlogits (N,V) = scale * (probs - onehot(target)) on counted rows, 0 on ignored rows;
 * scale is d(total loss)/d(mean loss) / count. Overwrites dlogits. */
void crossentropy_backward(float *dlogits, const float *probs, const int *targets,
                           int N, int V, float scale);

#endif
