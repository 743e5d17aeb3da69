#!/usr/bin/env python3
"""PyTorch reference of the harness's transformer, for the committed test fixtures.

Builds the same model as models/model.c with the same parameter layout (one flat buffer,
tensors in the same order), draws parameters and a batch from a fixed seed, and writes a
fixture: the config, the batch, the parameters, and float64 logits, loss and gradients.
tests/test_reference.c loads the parameters into the C model and compares.

Needs Debian's python3-torch (optional; CI does not run this script, it reads the committed
fixtures). Regenerate with:  /usr/bin/python3 bench/reference.py tests/fixtures
"""
import math
import struct
import sys

import torch
import torch.nn.functional as F

MAGIC = b"MOEHFIX1"
VARIANT_DENSE = 0


def layout(cfg):
    """(name, shape) of every tensor, in models/model.c's order."""
    V, O, S, C, L, FM = cfg["vocab"], cfg["n_out"], cfg["max_seq"], cfg["d_model"], cfg["layers"], cfg["ffn_mult"]
    Fd = FM * C
    out = [("wte", (V, C)), ("wpe", (S, C))]
    for l in range(L):
        out += [(f"h{l}.ln1.w", (C,)), (f"h{l}.ln1.b", (C,)),
                (f"h{l}.attn.qkv.w", (3 * C, C)), (f"h{l}.attn.qkv.b", (3 * C,)),
                (f"h{l}.attn.proj.w", (C, C)), (f"h{l}.attn.proj.b", (C,)),
                (f"h{l}.ln2.w", (C,)), (f"h{l}.ln2.b", (C,)),
                (f"h{l}.ffn.fc.w", (Fd, C)), (f"h{l}.ffn.fc.b", (Fd,)),
                (f"h{l}.ffn.proj.w", (C, Fd)), (f"h{l}.ffn.proj.b", (C,))]
    out += [("lnf.w", (C,)), ("lnf.b", (C,)), ("head.w", (O, C))]
    return out


def attention(qkv, key_mask, causal, NH):
    B, T, C3 = qkv.shape
    C = C3 // 3
    hs = C // NH
    q, k, v = qkv.split(C, dim=2)
    q = q.view(B, T, NH, hs).transpose(1, 2)
    k = k.view(B, T, NH, hs).transpose(1, 2)
    v = v.view(B, T, NH, hs).transpose(1, 2)
    s = q @ k.transpose(-1, -2) / math.sqrt(hs)
    visible = torch.ones(B, 1, T, T, dtype=torch.bool)
    if causal:
        visible = visible & torch.tril(torch.ones(T, T, dtype=torch.bool))
    if key_mask is not None:
        visible = visible & key_mask.bool().view(B, 1, 1, T)
    s = s.masked_fill(~visible, float("-inf"))
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)  # a query that sees no key outputs zero
    return (p @ v).transpose(1, 2).reshape(B, T, C)


def forward(cfg, P, tokens, targets, key_mask):
    B, T = tokens.shape
    C, NH = cfg["d_model"], cfg["attn_heads"]
    ln = lambda x, w, b: F.layer_norm(x, (C,), w, b, eps=1e-5)
    x = P["wte"][tokens] + P["wpe"][:T]
    for l in range(cfg["layers"]):
        h = ln(x, P[f"h{l}.ln1.w"], P[f"h{l}.ln1.b"])
        qkv = h @ P[f"h{l}.attn.qkv.w"].T + P[f"h{l}.attn.qkv.b"]
        a = attention(qkv, key_mask, cfg["causal"], NH)
        x = x + a @ P[f"h{l}.attn.proj.w"].T + P[f"h{l}.attn.proj.b"]
        h = ln(x, P[f"h{l}.ln2.w"], P[f"h{l}.ln2.b"])
        h = F.gelu(h @ P[f"h{l}.ffn.fc.w"].T + P[f"h{l}.ffn.fc.b"], approximate="tanh")
        x = x + h @ P[f"h{l}.ffn.proj.w"].T + P[f"h{l}.ffn.proj.b"]
    x = ln(x, P["lnf.w"], P["lnf.b"])
    logits = x @ P["head.w"].T
    loss = F.cross_entropy(logits.view(B * T, -1), targets.view(-1), ignore_index=-1)
    return logits, loss


def make_fixture(path, cfg, B, T, masked, seed):
    g = torch.Generator().manual_seed(seed)
    names = layout(cfg)
    params = {}
    for name, shape in names:
        is_norm = ".ln" in name or name.startswith("lnf")
        noise = torch.randn(shape, generator=g, dtype=torch.float64)
        if is_norm and name.endswith(".w"):
            t = 1.0 + 0.2 * noise
        elif is_norm:
            t = 0.2 * noise
        else:
            t = 0.3 * noise
        params[name] = t.float().double()  # exactly representable in the C model's float32
    tokens = torch.randint(0, cfg["vocab"], (B, T), generator=g)
    targets = torch.randint(0, cfg["n_out"], (B, T), generator=g)
    targets[:, 1::3] = -1  # some positions are not scored
    key_mask = None
    if masked:
        key_mask = torch.ones(B, T, dtype=torch.int32)
        key_mask[0, T - 2:] = 0
    for t in params.values():
        t.requires_grad_(True)
    logits, loss = forward(cfg, params, tokens, targets, key_mask)
    loss.backward()
    hdr = [VARIANT_DENSE, cfg["vocab"], cfg["n_out"], cfg["max_seq"], cfg["d_model"], cfg["layers"],
           cfg["attn_heads"], cfg["ffn_mult"], cfg["causal"], B, T, 1 if masked else 0,
           sum(math.prod(s) for _, s in names)]
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<i", len(hdr)))
        f.write(struct.pack(f"<{len(hdr)}i", *hdr))
        f.write(struct.pack(f"<{B * T}i", *tokens.flatten().tolist()))
        f.write(struct.pack(f"<{B * T}i", *targets.flatten().tolist()))
        if masked:
            f.write(struct.pack(f"<{B * T}i", *key_mask.flatten().tolist()))
        flat = lambda ts: torch.cat([t.detach().flatten() for t in ts])
        f.write(flat(params[n] for n, _ in names).float().numpy().tobytes())
        f.write(logits.detach().double().flatten().numpy().tobytes())
        f.write(struct.pack("<d", loss.item()))
        f.write(flat(params[n].grad for n, _ in names).double().numpy().tobytes())
    print(f"{path}: loss {loss.item():.6f}, {hdr[-1]} parameters")


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    base = dict(vocab=13, n_out=13, max_seq=8, d_model=16, layers=2, attn_heads=4, ffn_mult=4)
    make_fixture(f"{out}/ref_dense_causal.bin", dict(base, causal=1), B=2, T=7, masked=False, seed=1)
    make_fixture(f"{out}/ref_dense_bidir_masked.bin", dict(base, causal=0), B=2, T=7, masked=True, seed=2)
