#!/usr/bin/env python3
"""PyTorch reference of the harness's transformer, for the committed test fixtures.

Builds the same model as models/model.c with the same parameter layout (one flat buffer,
tensors in the same order), draws parameters and a batch from a fixed seed, and writes a
fixture: the config, the batch, the parameters, and float64 logits, loss and gradients.
tests/test_reference.c loads the parameters into the C model and compares.

Needs Debian's python3-torch (optional; CI does not run this script, it reads the committed
fixtures). Regenerate with:  /usr/bin/python3 bench/reference.py tests/fixtures
Side-by-side speed:          /usr/bin/python3 bench/reference.py --bench
"""
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F

MAGIC = b"MOEHFIX3"
MOE_NONE, MOE_SMOE, MOE_XMOE, MOE_MHMOE = 0, 1, 2, 3
MOE_DEFAULTS = dict(moe=MOE_NONE, experts=0, topk=0, moe_every=0, expert_dim=0, router_dim=0,
                    mh_heads=1, mh_inner=0, gate_sigmoid=0, patch_dim=0, n_patches=0, router_code=0,
                    route=0, shared=0, balance_bias=0)
ROUTE_TOPK, ROUTE_EXPERT_CHOICE, ROUTE_SINKHORN = 0, 1, 2
SINKHORN_ITERATIONS = 8


def is_moe_block(cfg, l):
    return cfg["moe"] != MOE_NONE and (l + 1) % cfg["moe_every"] == 0


def layout(cfg):
    """(name, shape) of every tensor, in models/model.c's order."""
    V, O, S, C, L, FM = cfg["vocab"], cfg["n_out"], cfg["max_seq"], cfg["d_model"], cfg["layers"], cfg["ffn_mult"]
    Fd = FM * C
    out = [("wte", (V, C)), ("wpe", (S, C))]
    if cfg.get("patch_dim", 0) > 0:
        out += [("patch.w", (C, cfg["patch_dim"])), ("patch.b", (C,)), ("modality", (3, C))]
    for l in range(L):
        out += [(f"h{l}.ln1.w", (C,)), (f"h{l}.ln1.b", (C,)),
                (f"h{l}.attn.qkv.w", (3 * C, C)), (f"h{l}.attn.qkv.b", (3 * C,)),
                (f"h{l}.attn.proj.w", (C, C)), (f"h{l}.attn.proj.b", (C,)),
                (f"h{l}.ln2.w", (C,)), (f"h{l}.ln2.b", (C,))]
        if not is_moe_block(cfg, l):
            out += [(f"h{l}.ffn.fc.w", (Fd, C)), (f"h{l}.ffn.fc.b", (Fd,)),
                    (f"h{l}.ffn.proj.w", (C, Fd)), (f"h{l}.ffn.proj.b", (C,))]
            continue
        N, M, de = cfg["experts"], cfg["expert_dim"], cfg["router_dim"]
        H = cfg["mh_heads"] if cfg["moe"] == MOE_MHMOE else 1
        D = C // H
        if cfg["moe"] == MOE_MHMOE:
            out += [(f"h{l}.mh.head.w", (C, C)), (f"h{l}.mh.head.b", (C,)),
                    (f"h{l}.mh.merge.w", (C, C)), (f"h{l}.mh.merge.b", (C,))]
        if cfg["balance_bias"]:
            out += [(f"h{l}.router.bias", (N,))]
        if cfg["moe"] == MOE_SMOE:
            out += [(f"h{l}.router.w", (N, D))]
        else:
            out += [(f"h{l}.router.proj.w", (de, D)), (f"h{l}.router.experts", (N, de))]
            if not cfg["router_code"]:
                out += [(f"h{l}.router.tau", (1,))]
        N += cfg["shared"]  # the shared experts follow the routed ones
        out += [(f"h{l}.experts.fc.w", (N, M, D)), (f"h{l}.experts.fc.b", (N, M)),
                (f"h{l}.experts.proj.w", (N, D, M)), (f"h{l}.experts.proj.b", (N, D))]
    out += [("lnf.w", (C,)), ("lnf.b", (C,)), ("head.w", (O, C))]
    return out


def attention(qkv, key_mask, causal, NH, prefix=0):
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
        seen = torch.tril(torch.ones(T, T, dtype=torch.bool))
        seen[:, :prefix] = True  # causal == 2: the image patches see each other (prefix LM)
        visible = visible & seen
    if key_mask is not None:
        visible = visible & key_mask.bool().view(B, 1, 1, T)
    s = s.masked_fill(~visible, float("-inf"))
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)  # a query that sees no key outputs zero
    return (p @ v).transpose(1, 2).reshape(B, T, C)


def expert(P, pre, e, X):
    h = F.gelu(X @ P[pre + "experts.fc.w"][e].T + P[pre + "experts.fc.b"][e], approximate="tanh")
    return h @ P[pre + "experts.proj.w"][e].T + P[pre + "experts.proj.b"][e]


def moe_layer(cfg, P, l, x, training, capacity):
    """x (B, T, C) -> (B, T, C), the layer's balance loss and its router z-loss, as models/moe.c
    computes them."""
    B, T, C = x.shape
    kind, N, k, M = cfg["moe"], cfg["experts"], cfg["topk"], cfg["expert_dim"]
    H = cfg["mh_heads"] if kind == MOE_MHMOE else 1
    D = C // H
    pre = f"h{l}."
    x2 = x.reshape(B * T, C)
    if kind == MOE_MHMOE:
        x2 = x2 @ P[pre + "mh.head.w"].T + P[pre + "mh.head.b"]
    U = x2.reshape(B * T * H, D)  # sub-tokens in token order
    S = U.shape[0]
    if kind == MOE_SMOE:
        logits = U @ P[pre + "router.w"].T
        p = torch.softmax(logits, dim=-1)
        p0 = p
    else:
        tau0 = 0.07 if cfg["gate_sigmoid"] else 0.3
        r = U @ P[pre + "router.proj.w"].T
        E = P[pre + "router.experts"]
        ehat = E / E.norm(dim=1, keepdim=True).clamp_min(1e-6)
        act = torch.sigmoid if cfg["gate_sigmoid"] else (lambda z: torch.softmax(z, dim=-1))
        if cfg["router_code"]:  # torchscale: raw projection, unit expert embeddings, no temperature
            logits = r @ ehat.T
            p = act(logits)
            p0 = p
        else:
            rhat = r / r.norm(dim=1, keepdim=True).clamp_min(1e-6)
            cos = rhat @ ehat.T
            tau = P[pre + "router.tau"].clamp_min(1e-2)
            logits = cos / tau
            p = act(logits)
            p0 = act(cos / tau0)
    zloss = (torch.logsumexp(logits, dim=-1) ** 2).mean()  # ST-MoE
    o = U.clone() if (kind == MOE_MHMOE and cfg["mh_inner"]) else torch.zeros_like(U)
    if cfg["route"] == ROUTE_EXPERT_CHOICE:
        # each expert takes its cap best sub-tokens; balanced by construction (no balance loss)
        cap = min(S, math.ceil((capacity if capacity > 0 else 1.0) * k * S / N))
        for e in range(N):
            rows = torch.topk(p[:, e].detach(), cap).indices
            o = o.index_add(0, rows, p[rows, e:e + 1] * expert(P, pre, e, U[rows]))
        aux = torch.zeros((), dtype=U.dtype)
    else:
        score = p.detach() + (P[pre + "router.bias"].detach() if cfg["balance_bias"] else 0)
        # S-BASE: rank by the Sinkhorn-balanced matrix's columns where the capacity applies
        # (training); a dropless evaluation ranks by the probabilities, as BASE layers at test time
        if cfg["route"] == ROUTE_SINKHORN and training:
            c = torch.ones(N, dtype=p.dtype)
            for _ in range(SINKHORN_ITERATIONS):
                rows = score / (score * c).sum(dim=1, keepdim=True)
                c = (S / N) / rows.sum(dim=0)
            score = score * c
        choice = torch.topk(score, k, dim=-1).indices  # (S, k), best first
        psel = p.gather(1, choice)
        gate = psel if k == 1 else psel / psel.sum(dim=1, keepdim=True)
        frac = torch.bincount(choice[:, 0], minlength=N).double() / S
        aux = N * (frac * p0.mean(dim=0)).sum()
        # capacity: rank-0 choices of every sub-token first, in token order
        keep = torch.ones(S, k, dtype=torch.bool)
        if training and capacity > 0:
            cap = math.ceil(capacity * k * S / N)
            used = [0] * N
            for j in range(k):
                for s_ in range(S):
                    e = int(choice[s_, j])
                    if used[e] < cap:
                        used[e] += 1
                    else:
                        keep[s_, j] = False
        for e in range(N):
            for j in range(k):
                rows = ((choice[:, j] == e) & keep[:, j]).nonzero().flatten()
                if rows.numel() == 0:
                    continue
                o = o.index_add(0, rows, gate[rows, j:j + 1] * expert(P, pre, e, U[rows]))
    for j in range(cfg["shared"]):  # always on, gate 1
        o = o + expert(P, pre, N + j, U)
    o = o.reshape(B * T, C)
    if kind == MOE_MHMOE:
        o = o @ P[pre + "mh.merge.w"].T + P[pre + "mh.merge.b"]
    return o.reshape(B, T, C), aux, zloss


def forward(cfg, P, tokens, targets, key_mask, training=False, capacity=0.0, patches=None, group=1):
    B, T = tokens.shape
    C, NH = cfg["d_model"], cfg["attn_heads"]
    ln = lambda x, w, b: F.layer_norm(x, (C,), w, b, eps=1e-5)
    x = P["wte"][tokens] + P["wpe"][:T]
    if cfg.get("patch_dim", 0) > 0:
        NP = cfg["n_patches"] if patches is not None else 0
        per = cfg["n_patches"] // max(cfg.get("images", 1), 1)
        t = torch.arange(T)
        # every image restarts the positions; the text follows one image's positions
        pos = torch.where(t < NP, t % per, t - NP + (per if NP else 0))
        # the k-th row of a batch group holds image k; image 0 has modality row 0, later ones 2
        image = (torch.arange(B) % group).view(B, 1) + (t // per).view(1, T)
        row = torch.where((t < NP).view(1, T), torch.where(image == 0, 0, 2), 1)
        is_img = (t < NP).view(1, T, 1)
        x = P["wte"][tokens]
        if NP:
            img = patches @ P["patch.w"].T + P["patch.b"]  # (B, NP, C)
            img = torch.cat([img, torch.zeros(B, T - NP, C, dtype=img.dtype)], dim=1)
            # a patch position whose token is not 0 is a masked patch: its token's embedding
            real = is_img & (tokens == 0).view(B, T, 1)
            x = torch.where(real, img, x)
        x = x + P["wpe"][pos] + P["modality"][row]  # row (B, T)
    auxes, zs = [], []
    for l in range(cfg["layers"]):
        h = ln(x, P[f"h{l}.ln1.w"], P[f"h{l}.ln1.b"])
        qkv = h @ P[f"h{l}.attn.qkv.w"].T + P[f"h{l}.attn.qkv.b"]
        a = attention(qkv, key_mask, cfg["causal"], NH, cfg["n_patches"] if cfg["causal"] == 2 else 0)
        x = x + a @ P[f"h{l}.attn.proj.w"].T + P[f"h{l}.attn.proj.b"]
        h = ln(x, P[f"h{l}.ln2.w"], P[f"h{l}.ln2.b"])
        if is_moe_block(cfg, l):
            y, aux, z = moe_layer(cfg, P, l, h, training, capacity)
            x = x + y
            auxes.append(aux)
            zs.append(z)
            continue
        h = F.gelu(h @ P[f"h{l}.ffn.fc.w"].T + P[f"h{l}.ffn.fc.b"], approximate="tanh")
        x = x + h @ P[f"h{l}.ffn.proj.w"].T + P[f"h{l}.ffn.proj.b"]
    x = ln(x, P["lnf.w"], P["lnf.b"])
    logits = x @ P["head.w"].T
    if group > 1:  # a group's first row outputs the sum of the group's logits
        lg = logits.view(B // group, group, T, -1)
        logits = torch.cat([lg.sum(1, keepdim=True), lg[:, 1:]], dim=1).view(B, T, -1)
    loss = F.cross_entropy(logits.view(B * T, -1), targets.view(-1), ignore_index=-1)
    aux = torch.stack(auxes).mean() if auxes else torch.zeros((), dtype=loss.dtype)
    z = torch.stack(zs).mean() if zs else torch.zeros((), dtype=loss.dtype)
    return logits, loss, aux, z


def make_fixture(path, cfg, B, T, masked, seed, training=False, capacity=0.0, balance=0.0, group=1, z_loss=0.0):
    """One fixture file; with patch_dim > 0 the first n_patches positions are image patches."""
    cfg = dict(MOE_DEFAULTS, **cfg)
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
        elif name.endswith("router.tau"):
            t = torch.full(shape, 0.07 if cfg["gate_sigmoid"] else 0.3, dtype=torch.float64)
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
    patches = None
    if cfg["patch_dim"] > 0:
        patches = torch.randn(B, cfg["n_patches"], cfg["patch_dim"], generator=g, dtype=torch.float64).float().double()
        tokens[:, : cfg["n_patches"]] = 0  # real patches ...
        tokens[0, 1] = 2  # ... but one masked (its [MASK] token's embedding instead)
    for t in params.values():
        t.requires_grad_(True)
    logits, loss, aux, z = forward(cfg, params, tokens, targets, key_mask, training, capacity, patches, group)
    (loss + balance * aux + z_loss * z).backward()
    hdr = [cfg["moe"], cfg["vocab"], cfg["n_out"], cfg["max_seq"], cfg["d_model"], cfg["layers"],
           cfg["attn_heads"], cfg["ffn_mult"], cfg["causal"], B, T, 1 if masked else 0,
           sum(math.prod(s) for _, s in names),
           cfg["experts"], cfg["topk"], cfg["moe_every"], cfg["expert_dim"], cfg["router_dim"],
           cfg["mh_heads"], cfg["mh_inner"], cfg["gate_sigmoid"], int(training),
           round(capacity * 1000), round(balance * 1000000), cfg["patch_dim"], cfg["n_patches"], cfg.get("images", 0), group,
           cfg["router_code"], cfg["route"], cfg["shared"], cfg["balance_bias"], round(z_loss * 1000000)]
    while len(hdr) > 29 and hdr[-1] == 0:  # the fixtures from before these fields keep their bytes
        hdr.pop()
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<i", len(hdr)))
        f.write(struct.pack(f"<{len(hdr)}i", *hdr))
        f.write(struct.pack(f"<{B * T}i", *tokens.flatten().tolist()))
        f.write(struct.pack(f"<{B * T}i", *targets.flatten().tolist()))
        if masked:
            f.write(struct.pack(f"<{B * T}i", *key_mask.flatten().tolist()))
        if patches is not None:
            f.write(patches.float().numpy().tobytes())
        flat = lambda ts: torch.cat([t.detach().flatten() for t in ts])
        f.write(flat(params[n] for n, _ in names).float().numpy().tobytes())
        f.write(logits.detach().double().flatten().numpy().tobytes())
        f.write(struct.pack("<dd", loss.item(), aux.item()))
        # the loss-free bias only selects: no gradient reaches it
        grad = lambda t: t.grad if t.grad is not None else torch.zeros_like(t)
        f.write(flat(grad(params[n]) for n, _ in names).double().numpy().tobytes())
    print(f"{path}: loss {loss.item():.6f} aux {aux.item():.6f}, {hdr[12]} parameters")


def count_params(cfg):
    n = 0
    for _, shape in layout(cfg):
        k = 1
        for d in shape:
            k *= d
        n += k
    return n


def parity_expert_dim(cfg):
    """models/model.c's model_parity_expert_dim: the MH-MoE expert size with X-MoE's parameters"""
    x = dict(cfg, moe=MOE_XMOE, expert_dim=cfg["ffn_mult"] * cfg["d_model"])
    target = count_params(x)
    p1 = count_params(dict(cfg, expert_dim=1))
    slope = count_params(dict(cfg, expert_dim=2)) - p1
    m = int(math.floor(1 + (target - p1) / slope + 0.5))
    return max(m, 1)


def blas_in_use():
    """the BLAS library this process loaded (Debian's torch takes libblas.so.3, an alternative)"""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "blas" in path:
                libs.add(os.path.realpath(path))
    info = [x for x in torch.__config__.show().replace(",", "\n").splitlines() if "BLAS_INFO" in x]
    return (info[0].strip() if info else "BLAS_INFO ?") + "; loaded: " + ", ".join(sorted(libs))


SIZES = {"tiny": (64, 2, 4, 64), "small": (128, 4, 4, 128), "base": (256, 6, 8, 256)}


def bench(size="small", threads=2, steps=5):
    """Training tokens/s of the same models in PyTorch (eager, float32) on harness bench's
    shapes, for a side-by-side ratio with `harness bench size=SIZE threads=THREADS`."""
    import time
    torch.set_num_threads(threads)
    C, L, NH, T = SIZES[size]
    B = 16
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {blas_in_use()}")
    base = dict(MOE_DEFAULTS, vocab=256, n_out=256, max_seq=T, d_model=C, layers=L, attn_heads=NH, ffn_mult=4, causal=1)
    variants = [("dense", base)]
    for N in (8, 32):
        moe = dict(base, experts=N, moe_every=2, router_dim=16, mh_heads=4)
        mh = dict(moe, moe=MOE_MHMOE, topk=1)
        variants += [(f"xmoe-{N}", dict(moe, moe=MOE_XMOE, topk=1, expert_dim=4 * C)),
                     (f"mhmoe-{N} params", dict(mh, expert_dim=parity_expert_dim(mh))),
                     (f"mhmoe-{N} flops", dict(mh, expert_dim=4 * C))]
    g = torch.Generator().manual_seed(1)
    print(f"| {size} model | expert_dim | params | torch train tokens/s |")
    print("|---|---|---|---|")
    for name, cfg in variants:
        P = {}
        for n, shape in layout(cfg):
            t = 0.02 * torch.randn(shape, generator=g)
            if n.endswith("router.tau"):
                t = torch.full(shape, 0.3)
            P[n] = t.requires_grad_(True)
        tokens = torch.randint(0, 256, (B, T), generator=g)
        targets = torch.randint(0, 256, (B, T), generator=g)
        opt = torch.optim.AdamW(P.values(), lr=1e-3)
        for i in range(steps + 2):
            if i == 2:
                t0 = time.time()
            logits, loss, aux, _ = forward(cfg, P, tokens, targets, None, True, 1.25)
            opt.zero_grad()
            (loss + 0.01 * aux).backward()
            opt.step()
        dt = (time.time() - t0) / steps
        print(f"| {name} | {cfg['expert_dim']} | {count_params(cfg)} | {B * T / dt:.0f} |", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--bench":
        # --bench [SIZE] [THREADS] [STEPS]
        bench(sys.argv[2] if len(sys.argv) > 2 else "small", int(sys.argv[3]) if len(sys.argv) > 3 else 2,
              int(sys.argv[4]) if len(sys.argv) > 4 else 5)
        sys.exit(0)
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    base = dict(vocab=13, n_out=13, max_seq=8, d_model=16, layers=2, attn_heads=4, ffn_mult=4)
    make_fixture(f"{out}/ref_dense_causal.bin", dict(base, causal=1), B=2, T=7, masked=False, seed=1)
    make_fixture(f"{out}/ref_dense_bidir_masked.bin", dict(base, causal=0), B=2, T=7, masked=True, seed=2)
    moe = dict(base, causal=1, experts=4, moe_every=2, expert_dim=24, router_dim=6, mh_heads=4)
    make_fixture(f"{out}/ref_smoe.bin", dict(moe, moe=MOE_SMOE, topk=2), B=2, T=7, masked=False, seed=3, balance=0.1)
    make_fixture(f"{out}/ref_xmoe.bin", dict(moe, moe=MOE_XMOE, topk=1), B=2, T=7, masked=False, seed=4, balance=0.1)
    make_fixture(f"{out}/ref_xmoe_sigmoid.bin", dict(moe, moe=MOE_XMOE, topk=2, gate_sigmoid=1), B=2, T=7,
                 masked=False, seed=5, balance=0.1)
    make_fixture(f"{out}/ref_mhmoe.bin", dict(moe, moe=MOE_MHMOE, topk=1), B=2, T=7, masked=False, seed=6,
                 balance=0.1)
    make_fixture(f"{out}/ref_images_mhmoe.bin", dict(moe, causal=0, moe=MOE_MHMOE, topk=1, patch_dim=12, n_patches=3),
                 B=2, T=7, masked=True, seed=8, balance=0.1)
    make_fixture(f"{out}/ref_images_prefix_lm.bin", dict(base, causal=2, patch_dim=12, n_patches=3),
                 B=2, T=7, masked=True, seed=9)
    make_fixture(f"{out}/ref_two_images.bin", dict(base, causal=0, patch_dim=12, n_patches=4, images=2),
                 B=2, T=7, masked=True, seed=10)
    # reasoning: each image of a pair read with the text as its own row, the rows' logits added
    make_fixture(f"{out}/ref_pair_rows.bin", dict(base, causal=0, patch_dim=12, n_patches=3),
                 B=4, T=7, masked=True, seed=11, group=2)
    make_fixture(f"{out}/ref_xmoe_code.bin", dict(moe, moe=MOE_XMOE, topk=1, router_code=1), B=2, T=7, masked=False,
                 seed=12, balance=0.1)
    make_fixture(f"{out}/ref_mhmoe_code.bin", dict(moe, moe=MOE_MHMOE, topk=2, router_code=1), B=2, T=7, masked=False,
                 seed=13, balance=0.1)
    make_fixture(f"{out}/ref_mhmoe_inner_capacity.bin", dict(moe, moe=MOE_MHMOE, topk=2, mh_inner=1), B=2, T=7,
                 masked=False, seed=7, training=True, capacity=0.5, balance=0.1)
    # the routing after the paper (issue 14): expert choice, shared experts, z-loss, loss-free bias
    make_fixture(f"{out}/ref_xmoe_expert_choice.bin", dict(moe, moe=MOE_XMOE, topk=1, route=ROUTE_EXPERT_CHOICE), B=2, T=7,
                 masked=False, seed=15, training=True, capacity=1.5, balance=0.1)
    make_fixture(f"{out}/ref_mhmoe_expert_choice.bin", dict(moe, moe=MOE_MHMOE, topk=2, route=ROUTE_EXPERT_CHOICE), B=2, T=7,
                 masked=False, seed=16, balance=0.1)
    make_fixture(f"{out}/ref_xmoe_sinkhorn.bin", dict(moe, moe=MOE_XMOE, topk=1, route=ROUTE_SINKHORN), B=2, T=7,
                 masked=False, seed=22, training=True, balance=0.1)
    make_fixture(f"{out}/ref_mhmoe_sinkhorn.bin", dict(moe, moe=MOE_MHMOE, topk=2, route=ROUTE_SINKHORN), B=2, T=7,
                 masked=False, seed=21, training=True, capacity=1.0, balance=0.1)
    make_fixture(f"{out}/ref_smoe_shared_z.bin", dict(moe, moe=MOE_SMOE, topk=2, shared=1), B=2, T=7, masked=False,
                 seed=17, balance=0.1, z_loss=0.05)
    make_fixture(f"{out}/ref_mhmoe_shared_z.bin", dict(moe, moe=MOE_MHMOE, topk=1, shared=2), B=2, T=7, masked=False,
                 seed=18, training=True, capacity=1.0, balance=0.1, z_loss=0.05)
    make_fixture(f"{out}/ref_xmoe_loss_free_z.bin", dict(moe, moe=MOE_XMOE, topk=2, balance_bias=1), B=2, T=7,
                 masked=False, seed=19, z_loss=0.05)
    make_fixture(f"{out}/ref_xmoe_code_z.bin", dict(moe, moe=MOE_XMOE, topk=1, router_code=1), B=2, T=7, masked=False,
                 seed=20, balance=0.1, z_loss=0.05)
