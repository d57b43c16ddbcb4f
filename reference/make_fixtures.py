#!/usr/bin/python3
"""Golden fixtures for lora4j's tests, from an independent reference: plain PyTorch (no transformers).

Writes tiny random Hugging Face checkpoints of each architecture lora4j supports, with reference
logits and losses computed by a from-the-definitions PyTorch forward pass, into
lora4j-core/src/test/resources/fixtures/. CI only reads the committed files; it never needs PyTorch.

Regenerate (Debian: apt-get install python3-torch):  /usr/bin/python3 reference/make_fixtures.py
(only some: /usr/bin/python3 reference/make_fixtures.py qwen3|phi3|gemma|ia3|bottleneck|dora|lora-bias|residual-init|prompt-tuning|embeddings|bert|bert-seq-cls)
Fixture version: 1. Changing this script changes the fixtures: commit both together.
"""
import json, math, os, re, struct, sys
import torch

torch.manual_seed(1234)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "lora4j-core", "src", "test", "resources", "fixtures")
SHARED = os.path.join(ROOT, "..", "shared", "models", "stories260k")

DT = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


def save_safetensors(path, tensors, meta=None):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name, t in tensors.items():
        t = t.contiguous()
        if t.dtype == torch.float64:  # references computed in float64 are stored as float32
            t = t.float()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype in (torch.bfloat16, torch.float16) else t.numpy().tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, en = e["data_offsets"]
        assert e["dtype"] in ("F32", "BF16")
        dtype = torch.float32 if e["dtype"] == "F32" else torch.bfloat16
        out[name] = torch.frombuffer(bytearray(data[b:en]), dtype=dtype).float().reshape(e["shape"])
    return out


# ---------------------------------------------------------------- reference forward passes

def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def causal_mask(T, window=0, past=0):
    """(T, past + T): query i stands at position past + i; key j at position j."""
    i = torch.arange(T)[:, None] + past
    j = torch.arange(past + T)[None, :]
    ok = j <= i
    if window:
        ok = ok & (i - j < window)
    return ok


def with_past(past, k, v):
    """k, v (B, T, KV, D) after a layer's past keys and values (n, KV, D) (prefix tuning's past_key_values), and n."""
    if past is None:
        return k, v, 0
    pk, pv = (t[None].expand(k.shape[0], -1, -1, -1) for t in past)
    return torch.cat([pk, k], dim=1), torch.cat([pv, v], dim=1), past[0].shape[0]


def attention(q, k, v, H, KV, window=0, past=None):
    # q: (B, T, H, D), k/v: (B, T, KV, D)
    B, T, _, D = q.shape
    k, v, n = with_past(past, k, v)
    k = k.repeat_interleave(H // KV, dim=2)
    v = v.repeat_interleave(H // KV, dim=2)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
    s = q @ k.transpose(-1, -2) / math.sqrt(D)
    s = s.masked_fill(~causal_mask(T, window, n), float("-inf"))
    p = torch.softmax(s, dim=-1)
    return (p @ v).transpose(1, 2).reshape(B, T, H * D)


def gemma_rms_norm(x, w, eps):
    """Gemma's RMSNorm: the checkpoint stores the gain as w = gain - 1."""
    var = x.pow(2).mean(-1, keepdim=True)
    return (x * torch.rsqrt(var + eps)) * (1.0 + w)


def gemma_attention(q, k, v, H, KV, window, scale, softcap, past=None):
    """Attention as Gemma 2/3 define it: scores scaled by query_pre_attn_scalar^-1/2, soft-capped (Gemma 2)."""
    B, T, _, D = q.shape
    k, v, n = with_past(past, k, v)
    k = k.repeat_interleave(H // KV, dim=2)
    v = v.repeat_interleave(H // KV, dim=2)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    s = (q @ k.transpose(-1, -2)) * scale
    if softcap:
        s = torch.tanh(s / softcap) * softcap
    s = s.masked_fill(~causal_mask(T, window, n), float("-inf"))
    p = torch.softmax(s, dim=-1)
    return (p @ v).transpose(1, 2).reshape(B, T, H * D)


def gemma_sliding(cfg, i):
    """Whether layer i attends within the sliding window: Gemma 2 every other layer from the first, Gemma 3 all but
    every sliding_window_pattern-th, unless layer_types lists them."""
    if cfg["model_type"] == "gemma":
        return False
    if cfg.get("layer_types"):
        return cfg["layer_types"][i] == "sliding_attention"
    pattern = 2 if cfg["model_type"] == "gemma2" else cfg.get("sliding_window_pattern", 6)
    return (i + 1) % pattern != 0


def with_virtual(virtual, x):
    """x (B, T, C) after the soft prompt's n embeddings (n, C), as PEFT's prompt tuning builds inputs_embeds: (B, n+T, C)."""
    return x if virtual is None else torch.cat([virtual[None].expand(x.shape[0], -1, -1), x], dim=1)


def gemma_forward(cfg, W, ids, lora=None, virtual=None, past=None, head=None):
    """Gemma, Gemma 2 and Gemma 3 (text) from their model definitions: GeGLU, embeddings times sqrt(C), norms before and
    after each half (2, 3), soft caps (2), q/k norms and the sliding layers' own rotary base (3), tied head."""
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    KV, D, eps, kind = cfg.get("num_key_value_heads", H), cfg.get("head_dim", C // H), cfg["rms_norm_eps"], cfg["model_type"]
    x = with_virtual(virtual, W["model.embed_tokens.weight"][ids]) * torch.tensor(C ** 0.5, dtype=torch.float32)
    B, T = x.shape[:2]
    lin = lambda name, h: h @ W[name + ".weight"].T + lora_term(lora, name, h, W[name + ".weight"])
    sandwich = kind != "gemma"
    scale = cfg["query_pre_attn_scalar"] ** -0.5 if cfg.get("query_pre_attn_scalar") else D ** -0.5
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        sliding = gemma_sliding(cfg, i)
        rcfg = dict(cfg, rope_theta=cfg.get("rope_local_base_freq", 10000.0), rope_scaling=None) if kind == "gemma3_text" and sliding else cfg
        h = gemma_rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q, k, v = lin(p + "self_attn.q_proj", h).view(B, T, H, D), lin(p + "self_attn.k_proj", h).view(B, T, KV, D), lin(p + "self_attn.v_proj", h).view(B, T, KV, D)
        if p + "self_attn.q_norm.weight" in W:
            q, k = gemma_rms_norm(q, W[p + "self_attn.q_norm.weight"], eps), gemma_rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        n = past[i][0].shape[0] if past else 0
        q, k = rope(q, rcfg, n), rope(k, rcfg, n)
        o = lin(p + "self_attn.o_proj", gemma_attention(q, k, v, H, KV, cfg["sliding_window"] if sliding else 0, scale, cfg.get("attn_logit_softcapping"),
                                                        past[i] if past else None))
        if sandwich:
            o = gemma_rms_norm(o, W[p + "post_attention_layernorm.weight"], eps)
        x = x + o
        h = gemma_rms_norm(x, W[p + ("pre_feedforward_layernorm" if sandwich else "post_attention_layernorm") + ".weight"], eps)
        m = lin(p + "mlp.down_proj", torch.nn.functional.gelu(lin(p + "mlp.gate_proj", h), approximate="tanh") * lin(p + "mlp.up_proj", h))
        if sandwich:
            m = gemma_rms_norm(m, W[p + "post_feedforward_layernorm.weight"], eps)
        x = x + m
    x = gemma_rms_norm(x, W["model.norm.weight"], eps)
    logits = x @ (W["model.embed_tokens.weight"] if head is None else head).T
    cap = cfg.get("final_logit_softcapping")
    return torch.tanh(logits / cap) * cap if cap else logits


def longrope(cfg, D, T):
    """LongRoPE as transformers defines it: short or long divisors by the pass's length T, and the attention factor."""
    rs = cfg["rope_scaling"]
    original = cfg.get("original_max_position_embeddings", cfg["max_position_embeddings"])
    factor = cfg["max_position_embeddings"] / original
    att = rs.get("attention_factor") or (1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(original)))
    ext = torch.tensor(rs["long_factor"] if T > original else rs["short_factor"], dtype=torch.float32)
    shape = torch.arange(0, D, 2, dtype=torch.int64).float() / D
    return 1.0 / (ext * cfg.get("rope_theta", 10000.0) ** shape), att


def inv_freq(cfg, D):
    f = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "linear":  # positions divided by factor
        return f / rs["factor"]
    if rs:
        factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        low_wavelen, high_wavelen = old / lo, old / hi
        wavelen = 2 * math.pi / f
        f2 = torch.where(wavelen > low_wavelen, f / factor, f)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * f2 / factor + smooth * f2
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        f = torch.where(medium, smoothed, f2)
    return f


def rope(x, cfg, pos0=0):
    # x: (B, T, heads, D), HF rotate-half; row i at position pos0 + i
    B, T, _, D = x.shape
    rs = cfg.get("rope_scaling")
    inv, att = longrope(cfg, D, pos0 + T) if rs and rs.get("type", rs.get("rope_type")) == "longrope" else (inv_freq(cfg, D), 1.0)
    freqs = torch.arange(pos0, pos0 + T, dtype=torch.float32)[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = (emb.cos() * att)[None, :, None, :], (emb.sin() * att)[None, :, None, :]
    x1, x2 = x[..., : D // 2], x[..., D // 2:]
    rot = torch.cat([-x2, x1], dim=-1)
    return x * cos + rot * sin


def lora_term(lora, name, h, W=None):
    """s·(h·Aᵀ)·Bᵀ for an adapted module (PEFT LoRA, no dropout), else 0. With a magnitude m (DoRA, PEFT's
    DoraLinearLayer): (g - 1)·(h·W0ᵀ) + g·s·(h·Aᵀ)·Bᵀ, g = m / ||W0 + s·B·A|| per output row, the norm detached."""
    if not lora or name not in lora:
        return 0
    A, B, s = lora[name][:3]
    bias = lora[name][4] if len(lora[name]) > 4 else None  # lora_bias: lora_B is a Linear with a bias
    low = s * ((h @ A.T) @ B.T + (bias if bias is not None else 0))
    if len(lora[name]) == 3 or lora[name][3] is None:
        return low
    m = lora[name][3]
    norm = torch.linalg.norm(W + s * (B @ A), dim=1).detach()  # W: (out, in)
    g = m / norm
    return (g - 1) * (h @ W.T) + g * low


def after(post, name, z):
    """z, or post[name](z) when a module's output is transformed (a bottleneck adapter after it)."""
    return post[name](z) if post and name in post else z


def llama_forward(cfg, W, ids, lora=None, post=None, virtual=None, past=None, head=None):
    C, H = cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    D = cfg.get("head_dim", C // H)
    eps = cfg["rms_norm_eps"]
    window = cfg.get("sliding_window") or 0 if (cfg["model_type"] in ("mistral", "phi3") or cfg.get("use_sliding_window")) else 0
    x = with_virtual(virtual, W["model.embed_tokens.weight"][ids])
    B, T = x.shape[:2]
    lin = lambda name, h: after(post, name, h @ W[name + ".weight"].T + (W[name + ".bias"] if name + ".bias" in W else 0) + lora_term(lora, name, h, W[name + ".weight"]))
    fused = cfg["model_type"] == "phi3"  # qkv_proj = [q | k | v], gate_up_proj = [gate | up]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        if fused:
            qkv = lin(p + "self_attn.qkv_proj", h)
            q, k, v = qkv[..., : H * D].reshape(B, T, H, D), qkv[..., H * D: (H + KV) * D].reshape(B, T, KV, D), qkv[..., (H + KV) * D:].reshape(B, T, KV, D)
        else:
            q, k, v = lin(p + "self_attn.q_proj", h).view(B, T, H, D), lin(p + "self_attn.k_proj", h).view(B, T, KV, D), lin(p + "self_attn.v_proj", h).view(B, T, KV, D)
        if p + "self_attn.q_norm.weight" in W:  # Qwen3: RMSNorm over each head of q and k, before the rotation
            q, k = rms_norm(q, W[p + "self_attn.q_norm.weight"], eps), rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        n = past[i][0].shape[0] if past else 0
        q, k = rope(q, cfg, n), rope(k, cfg, n)
        x = x + lin(p + "self_attn.o_proj", attention(q, k, v, H, KV, window, past[i] if past else None))
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        if fused:
            gate, up = lin(p + "mlp.gate_up_proj", h).chunk(2, dim=-1)
        else:
            gate, up = lin(p + "mlp.gate_proj", h), lin(p + "mlp.up_proj", h)
        x = x + lin(p + "mlp.down_proj", torch.nn.functional.silu(gate) * up)
    x = rms_norm(x, W["model.norm.weight"], eps)
    if head is None:
        head = W["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else W["lm_head.weight"]
    return x @ head.T


def gpt2_forward(cfg, W, ids, prefix, lora=None, post=None, virtual=None, past=None, head=None):
    C, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    g = lambda n: W[prefix + n]
    x = with_virtual(virtual, g("wte.weight")[ids])
    B, T = x.shape[:2]
    n = past[0][0].shape[0] if past else 0
    x = x + g("wpe.weight")[n:n + T][None]
    conv = lambda n, h: after(post, "transformer." + n, h @ g(n + ".weight") + g(n + ".bias") + lora_term(lora, "transformer." + n, h, g(n + ".weight").T))
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        h = layer_norm(x, g(p + "ln_1.weight"), g(p + "ln_1.bias"), eps)
        q, k, v = conv(p + "attn.c_attn", h).split(C, dim=-1)
        a = attention(q.view(B, T, H, C // H), k.view(B, T, H, C // H), v.view(B, T, H, C // H), H, H, past=past[i] if past else None)
        x = x + conv(p + "attn.c_proj", a)
        h = layer_norm(x, g(p + "ln_2.weight"), g(p + "ln_2.bias"), eps)
        x = x + conv(p + "mlp.c_proj", gelu_new(conv(p + "mlp.c_fc", h)))
    x = layer_norm(x, g("ln_f.weight"), g("ln_f.bias"), eps)
    return x @ (g("wte.weight") if head is None else head).T


def causal_lm_loss(logits, ids, lengths):
    """Mean CE over all predicted positions (position i predicts token i+1), token-weighted."""
    total, count = 0.0, 0
    for b, n in enumerate(lengths):
        if n < 2:
            continue
        lp = torch.log_softmax(logits[b, : n - 1].double(), dim=-1)
        total += -lp[torch.arange(n - 1), ids[b, 1:n]].sum().item()
        count += n - 1
    return total / count


# ---------------------------------------------------------------- random checkpoints

def leaf64(t):
    """A float32 draw widened to a float64 leaf: the same values as saved, computed on in float64."""
    return t.double().requires_grad_()


def rnd(*shape, std=0.2):
    return torch.randn(*shape) * std


def make_llama(cfg):
    C, H, V, F = cfg["hidden_size"], cfg["num_attention_heads"], cfg["vocab_size"], cfg["intermediate_size"]
    KV = cfg.get("num_key_value_heads", H)
    D = cfg.get("head_dim", C // H)
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    W = {"model.embed_tokens.weight": rnd(V, C, std=0.5)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        W[p + "input_layernorm.weight"] = 1 + rnd(C, std=0.1)
        if cfg["model_type"] == "phi3":
            W[p + "self_attn.qkv_proj.weight"] = rnd((H + 2 * KV) * D, C)
        else:
            for n, o in (("q", H * D), ("k", KV * D), ("v", KV * D)):
                W[p + f"self_attn.{n}_proj.weight"] = rnd(o, C)
                if qkv_bias:
                    W[p + f"self_attn.{n}_proj.bias"] = rnd(o, std=0.1)
        W[p + "self_attn.o_proj.weight"] = rnd(C, H * D)
        if cfg["model_type"] == "qwen3":
            W[p + "self_attn.q_norm.weight"] = 1 + rnd(D, std=0.3)
            W[p + "self_attn.k_norm.weight"] = 1 + rnd(D, std=0.3)
        W[p + "post_attention_layernorm.weight"] = 1 + rnd(C, std=0.1)
        if cfg["model_type"] == "phi3":
            W[p + "mlp.gate_up_proj.weight"] = rnd(2 * F, C)
        else:
            W[p + "mlp.gate_proj.weight"] = rnd(F, C)
            W[p + "mlp.up_proj.weight"] = rnd(F, C)
        W[p + "mlp.down_proj.weight"] = rnd(C, F)
    W["model.norm.weight"] = 1 + rnd(C, std=0.1)
    if not cfg.get("tie_word_embeddings"):
        W["lm_head.weight"] = rnd(V, C, std=0.5)
    return W


def make_gemma(cfg):
    C, H, V, F = cfg["hidden_size"], cfg["num_attention_heads"], cfg["vocab_size"], cfg["intermediate_size"]
    KV, D = cfg.get("num_key_value_heads", H), cfg.get("head_dim", C // H)
    norms = ["input_layernorm", "post_attention_layernorm"] + (["pre_feedforward_layernorm", "post_feedforward_layernorm"] if cfg["model_type"] != "gemma" else [])
    W = {"model.embed_tokens.weight": rnd(V, C, std=0.5)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for n in norms:
            W[p + n + ".weight"] = rnd(C, std=0.3)  # stored as gain - 1
        for n, o in (("q", H * D), ("k", KV * D), ("v", KV * D)):
            W[p + f"self_attn.{n}_proj.weight"] = rnd(o, C)
        W[p + "self_attn.o_proj.weight"] = rnd(C, H * D)
        if cfg["model_type"] == "gemma3_text":
            W[p + "self_attn.q_norm.weight"] = rnd(D, std=0.3)
            W[p + "self_attn.k_norm.weight"] = rnd(D, std=0.3)
        W[p + "mlp.gate_proj.weight"] = rnd(F, C)
        W[p + "mlp.up_proj.weight"] = rnd(F, C)
        W[p + "mlp.down_proj.weight"] = rnd(C, F)
    W["model.norm.weight"] = rnd(C, std=0.3)
    return W


def make_gpt2(cfg):
    C, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    W = {"wte.weight": rnd(V, C, std=0.5), "wpe.weight": rnd(P, C, std=0.1)}
    for i in range(cfg["n_layer"]):
        p = f"h.{i}."
        for ln in ("ln_1", "ln_2"):
            W[p + ln + ".weight"] = 1 + rnd(C, std=0.1)
            W[p + ln + ".bias"] = rnd(C, std=0.1)
        for n, (a, b) in (("attn.c_attn", (C, 3 * C)), ("attn.c_proj", (C, C)), ("mlp.c_fc", (C, 4 * C)), ("mlp.c_proj", (4 * C, C))):
            W[p + n + ".weight"] = rnd(a, b)
            W[p + n + ".bias"] = rnd(b, std=0.1)
    W["ln_f.weight"] = 1 + rnd(C, std=0.1)
    W["ln_f.bias"] = rnd(C, std=0.1)
    return W


def write_fixture(name, cfg, W, forward, dtype=torch.float32, shards=1, extra=None):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    stored = {k: v.to(dtype) for k, v in W.items()}
    if extra:
        stored.update(extra)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    if shards == 1:
        save_safetensors(os.path.join(d, "model.safetensors"), stored, {"format": "pt"})
    else:
        names = list(stored)
        weight_map = {}
        for s in range(shards):
            part = names[s::shards]
            fn = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            save_safetensors(os.path.join(d, fn), {n: stored[n] for n in part}, {"format": "pt"})
            weight_map.update({n: fn for n in part})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=1)
    # the reference computes from the stored (possibly rounded) weights, in fp32
    Wf = {k: v.float() for k, v in stored.items()}
    V = cfg["vocab_size"]
    B, T = 2, 12
    ids = torch.randint(0, V, (B, T))
    with torch.no_grad():
        logits = forward(cfg, Wf, ids)
    lengths = [T, T]
    loss = causal_lm_loss(logits, ids, lengths)
    # variable-length examples for eval: token-weighted mean over examples of different lengths
    ex = [torch.randint(0, V, (n,)) for n in (5, 12, 9)]
    total = count = 0
    for e in ex:
        with torch.no_grad():
            lg = forward(cfg, Wf, e[None])
        n = len(e) - 1
        total += causal_lm_loss(lg, e[None], [len(e)]) * n
        count += n
    save_safetensors(os.path.join(d, "reference.safetensors"), {"logits": logits.contiguous()})
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"input_ids": ids.tolist(), "loss": loss, "eval_examples": [e.tolist() for e in ex],
                   "eval_loss": total / count, "eval_tokens": count}, f)
    with open(os.path.join(d, "eval.jsonl"), "w") as f:
        for e in ex:
            f.write(json.dumps({"input_ids": e.tolist()}) + "\n")
    print(f"{name}: loss {loss:.6f}, eval loss {total / count:.6f}")


def fixture_base(base_name):
    """A fixture model's config, weights (every shard) in float64, and the token ids its reference was computed on: the
    adapter methods' references compute in float64 (their parameters drawn in float32, as saved, then widened)."""
    base = os.path.join(OUT, base_name)
    with open(os.path.join(base, "config.json")) as f:
        cfg = json.load(f)
    W = {}
    for shard in sorted(f for f in os.listdir(base) if f.startswith("model") and f.endswith(".safetensors")):
        W.update({k: v.double() for k, v in load_safetensors(os.path.join(base, shard)).items()})
    with open(os.path.join(base, "reference.json")) as f:
        ids = torch.tensor(json.load(f)["input_ids"])
    return cfg, W, ids


def write_lora_fixture(base_name, name, forward, modules, cfg_lora, dora=False, lora_bias=False):
    """A PEFT adapter with random non-zero A and B on a fixture model, and autograd's gradients of the
    batch-mean causal-LM loss with respect to every A and B (lora_grads.safetensors, PEFT key names). With dora,
    a magnitude too (PEFT's lora_magnitude_vector), away from its starting value ||W0 + s·B·A|| so that g != 1."""
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cfg, W, ids = fixture_base(base_name)
    lora, tensors = {}, {}
    for mod, (fan_in, fan_out) in modules.items():
        key = mod.split(".")[-1]
        r = cfg_lora["rank_pattern"].get(key, cfg_lora["r"])
        alpha = cfg_lora["alpha_pattern"].get(key, cfg_lora["lora_alpha"])
        s = alpha / math.sqrt(r) if cfg_lora["use_rslora"] else alpha / r
        A = leaf64(torch.randn(r, fan_in) * 0.3)
        B = leaf64(torch.randn(fan_out, r) * 0.3)
        lora[mod] = (A, B, s)
        tensors[f"base_model.model.{mod}.lora_A.weight"] = A
        tensors[f"base_model.model.{mod}.lora_B.weight"] = B
        if lora_bias:
            bB = leaf64(torch.randn(fan_out) * 0.3)
            lora[mod] = (A, B, s, None, bB)
            tensors[f"base_model.model.{mod}.lora_B.bias"] = bB
        if dora:
            w = W[mod + ".weight"] if mod + ".weight" in W else W[mod.removeprefix("transformer.") + ".weight"]
            w = w.T if cfg["model_type"] == "gpt2" else w  # PEFT's transpose(weight, fan_in_fan_out): (out, in)
            with torch.no_grad():
                m0 = (torch.linalg.norm(w + s * (B @ A), dim=1).float() * (1 + 0.3 * torch.rand(fan_out)))
            m = leaf64(m0)
            lora[mod] = (A, B, s, m)
            tensors[f"base_model.model.{mod}.lora_magnitude_vector.weight"] = m
    logits = forward(cfg, W, ids, lora)
    lp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    loss = -lp.gather(-1, ids[:, 1:, None]).mean()
    loss.backward()
    save_safetensors(os.path.join(d, "adapter_model.safetensors"), {k: v.detach() for k, v in tensors.items()}, {"format": "pt"})
    save_safetensors(os.path.join(d, "lora_grads.safetensors"), {k: v.grad.float() for k, v in tensors.items()})
    conf = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_name, "bias": "none",
            "lora_dropout": 0.0, "init_lora_weights": True, "layers_to_transform": None, "modules_to_save": None,
            "fan_in_fan_out": cfg["model_type"] == "gpt2", "use_dora": dora, "lora_bias": lora_bias, **cfg_lora}
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"base": base_name, "input_ids": ids.tolist(), "loss": loss.item()}, f)
    print(f"{name}: loss with adapter {loss.item():.6f}")


def write_full_grads(base_name, forward):
    """Autograd's gradient of the batch-mean causal-LM loss for every weight (full fine-tuning)."""
    d = os.path.join(OUT, base_name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    W = {k: v.double() for k, v in load_safetensors(os.path.join(d, "model.safetensors")).items()}
    with open(os.path.join(d, "reference.json")) as f:
        ids = torch.tensor(json.load(f)["input_ids"])
    params = {k: v.clone().requires_grad_() for k, v in W.items() if not re.search(r"\.attn\.(bias|masked_bias)$", k)}
    logits = forward(cfg, {**W, **params}, ids)
    lp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    loss = -lp.gather(-1, ids[:, 1:, None]).mean()
    loss.backward()
    save_safetensors(os.path.join(d, "full_grads.safetensors"), {k: v.grad.float() for k, v in params.items()})
    print(f"{base_name}: full gradients written")


def write_analysis_fixture():
    """The LoRA paper's §7 measures for lora-llama-all-linear on llama-gqa, factorisation errors, and φ."""
    base = os.path.join(OUT, "llama-gqa")
    W = load_safetensors(os.path.join(base, "model.safetensors"))
    ad = os.path.join(OUT, "lora-llama-all-linear")
    with open(os.path.join(ad, "adapter_config.json")) as f:
        conf = json.load(f)
    L = load_safetensors(os.path.join(ad, "adapter_model.safetensors"))
    out = {"modules": {}}
    for key in L:
        if not key.endswith("lora_A.weight"):
            continue
        mod = key[len("base_model.model."):-len(".lora_A.weight")]
        A, B = L[key].double(), L[key.replace("lora_A", "lora_B")].double()
        short = mod.split(".")[-1]
        r = conf["rank_pattern"].get(short, conf["r"])
        alpha = conf["alpha_pattern"].get(short, conf["lora_alpha"])
        dW = (alpha / r) * B @ A
        Wm = W[mod + ".weight"].double()
        U, S, Vh = torch.linalg.svd(dW, full_matrices=False)
        Uw, Sw, Vhw = torch.linalg.svd(Wm, full_matrices=False)
        proj = lambda U, Vh: torch.linalg.norm(U[:, :r].T @ Wm @ Vh[:r].T).item()
        pd = proj(U, Vh)
        out["modules"][mod] = {"rank": r, "delta_fro": torch.linalg.norm(dW).item(), "w_fro": torch.linalg.norm(Wm).item(),
                               "proj_delta": pd, "proj_w": proj(Uw, Vhw), "amplification": torch.linalg.norm(dW).item() / pd,
                               "singular_values": S[:r].tolist()}
    q = W["model.layers.0.self_attn.q_proj.weight"].double()
    s = torch.linalg.svd(q)[1]
    p = s / s.sum()
    out["factorize"] = {"tensor": "model.layers.0.self_attn.q_proj.weight",
                        "relative_error": {str(k): (torch.sqrt((s[k:] ** 2).sum() / (s ** 2).sum())).item() for k in (1, 4, 16)},
                        "effective_rank": torch.exp(-(p * torch.log(p)).sum()).item()}
    # φ between the q_proj A of that adapter (r = 4) and a random A (r = 3)
    A1 = L["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"].double()
    A2 = torch.randn(3, A1.shape[1], dtype=torch.float64)
    V1, V2 = torch.linalg.svd(A1, full_matrices=False)[2].T, torch.linalg.svd(A2, full_matrices=False)[2].T
    out["similarity"] = {"A2": A2.float().tolist(),
                         "phi": [[(torch.linalg.norm(V1[:, :i].T @ V2[:, :j]) ** 2 / min(i, j)).item() for j in range(1, 4)] for i in range(1, 5)]}
    with open(os.path.join(OUT, "analysis.json"), "w") as f:
        json.dump(out, f)
    print("analysis: written")


def write_optimizer_fixture():
    """PyTorch's AdamW and SGD on a small parameter over a few steps of given gradients."""
    p0 = torch.randn(7)
    grads = [torch.randn(7) for _ in range(4)]
    out = {"p0": p0.tolist(), "grads": [g.tolist() for g in grads], "cases": []}
    for name, make in (("adamw", lambda p: torch.optim.AdamW([p], lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
                       ("sgd", lambda p: torch.optim.SGD([p], lr=0.05)),
                       ("sgd-momentum", lambda p: torch.optim.SGD([p], lr=0.05, momentum=0.9, weight_decay=0.01))):
        p = p0.clone().requires_grad_()
        opt = make(p)
        traj = []
        for g in grads:
            p.grad = g.clone()
            opt.step()
            traj.append(p.detach().tolist())
        out["cases"].append({"name": name, "after": traj})
    with open(os.path.join(OUT, "optimizers.json"), "w") as f:
        json.dump(out, f)
    print("optimizers: written")


def write_qwen3_fixtures():
    """Qwen3 (q/k head norms, head_dim apart from hidden_size / heads), with its own seed: the other fixtures do not move."""
    torch.manual_seed(3)
    qwen3 = {"model_type": "qwen3", "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 103, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
             "rope_theta": 1000000.0, "tie_word_embeddings": True, "hidden_act": "silu", "attention_bias": False, "use_sliding_window": False}
    write_fixture("qwen3-qknorm", qwen3, make_llama(qwen3), llama_forward)
    C, H, KV, D = 48, 4, 2, 16
    mods = {}
    for i in range(2):
        p = f"model.layers.{i}."
        mods.update({p + "self_attn.q_proj": (C, H * D), p + "self_attn.k_proj": (C, KV * D), p + "self_attn.v_proj": (C, KV * D),
                     p + "self_attn.o_proj": (H * D, C)})
    write_lora_fixture("qwen3-qknorm", "lora-qwen3-attention", llama_forward, mods,
                       {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"], "use_rslora": False,
                        "rank_pattern": {}, "alpha_pattern": {}})
    write_full_grads("qwen3-qknorm", llama_forward)


def write_phi3_fixtures():
    """Phi-3 (fused qkv_proj and gate_up_proj, sliding window), with its own seed."""
    torch.manual_seed(5)
    phi3 = {"model_type": "phi3", "hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 6,
            "num_key_value_heads": 2, "vocab_size": 107, "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
            "rope_scaling": None, "tie_word_embeddings": False, "hidden_act": "silu", "sliding_window": 7, "attention_bias": False}
    write_fixture("phi3-fused", phi3, make_llama(phi3), llama_forward)
    C, H, KV, D, F = 48, 6, 2, 8, 64
    mods = {}
    for i in range(2):
        p = f"model.layers.{i}."
        mods.update({p + "self_attn.qkv_proj": (C, (H + 2 * KV) * D), p + "self_attn.o_proj": (H * D, C),
                     p + "mlp.gate_up_proj": (C, 2 * F), p + "mlp.down_proj": (F, C)})
    write_lora_fixture("phi3-fused", "lora-phi3-fused", llama_forward, mods,
                       {"r": 4, "lora_alpha": 8, "target_modules": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"], "use_rslora": False,
                        "rank_pattern": {"gate_up_proj": 2}, "alpha_pattern": {}})
    write_full_grads("phi3-fused", llama_forward)
    # the 128k models' LongRoPE. A pass's table depends on its (padded) length, as in transformers, so each fixture keeps
    # every pass on one side: original context 4 (every pass longer: long divisors, attention factor from 64 / 4), and
    # original context 64 (every pass within it: short divisors)
    D = 8
    for name, original in (("phi3-longrope", 4), ("phi3-longrope-short", 64)):
        cfg = dict(phi3, max_position_embeddings=64, original_max_position_embeddings=original, sliding_window=None,
                   rope_scaling={"type": "longrope", "short_factor": [1.0 + 0.3 * i for i in range(D // 2)],
                                 "long_factor": [1.0 + 0.9 * i * i for i in range(D // 2)]})
        write_fixture(name, cfg, make_llama(cfg), llama_forward)


def write_dora_fixtures():
    """DoRA adapters (PEFT's use_dora) on the Llama and GPT-2 fixtures (Conv1D's (in, out) weights), with autograd's
    gradients of A, B and the magnitude; their own seed."""
    torch.manual_seed(11)
    C, H, KV, D, F = 64, 4, 2, 16, 96
    mods = {}
    for i in range(2):
        p = f"model.layers.{i}."
        mods.update({p + "self_attn.q_proj": (C, H * D), p + "self_attn.v_proj": (C, KV * D), p + "mlp.down_proj": (F, C)})
    write_lora_fixture("llama-gqa", "dora-llama", llama_forward, mods,
                       {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj", "down_proj"], "use_rslora": False,
                        "rank_pattern": {}, "alpha_pattern": {}}, dora=True)
    C = 48
    mods = {}
    for i in range(2):
        p = f"transformer.h.{i}."
        mods.update({p + "attn.c_attn": (C, 3 * C), p + "mlp.c_fc": (C, 4 * C)})
    write_lora_fixture("gpt2-plain", "dora-gpt2", lambda c, w, i, l: gpt2_forward(c, w, i, "", l), mods,
                       {"r": 3, "lora_alpha": 6, "target_modules": ["c_attn", "c_fc"], "use_rslora": False,
                        "rank_pattern": {}, "alpha_pattern": {}}, dora=True)


def write_lora_bias_fixture():
    """lora_bias (PEFT: lora_B a Linear with a bias, the adapter adding s·(B·A·x + b_B)) on GPT-2's c_attn and c_fc."""
    torch.manual_seed(13)
    C = 48
    mods = {}
    for i in range(2):
        p = f"transformer.h.{i}."
        mods.update({p + "attn.c_attn": (C, 3 * C), p + "mlp.c_fc": (C, 4 * C)})
    write_lora_fixture("gpt2-plain", "lora-gpt2-bias", lambda c, w, i, l: gpt2_forward(c, w, i, "", l), mods,
                       {"r": 2, "lora_alpha": 5, "target_modules": ["c_attn", "c_fc"], "use_rslora": False,
                        "rank_pattern": {}, "alpha_pattern": {}}, lora_bias=True)


def bert_forward(cfg, W, ids, types, lora=None, pos_offset=0):
    """BertModel's last hidden state for one sequence (no padding), from the model definition: post-norm blocks, exact GELU.
    RoBERTa's positions start at pos_offset (pad_token_id + 1)."""
    C, H, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    D, T = C // H, len(ids)
    lin = lambda name, h: h @ W[name + ".weight"].T + W[name + ".bias"] + lora_term(lora, name, h)
    ln = lambda x, name: layer_norm(x, W[name + ".weight"], W[name + ".bias"], eps)
    x = ln(W["embeddings.word_embeddings.weight"][ids] + W["embeddings.token_type_embeddings.weight"][types]
           + W["embeddings.position_embeddings.weight"][pos_offset:pos_offset + T], "embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(p + "attention.self." + n, x).view(T, H, D).transpose(0, 1) for n in ("query", "key", "value"))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), dim=-1) @ v
        x = ln(x + lin(p + "attention.output.dense", a.transpose(0, 1).reshape(T, C)), p + "attention.output.LayerNorm")
        x = ln(x + lin(p + "output.dense", torch.nn.functional.gelu(lin(p + "intermediate.dense", x))), p + "output.LayerNorm")
    return x


def random_bert(C, F, V, positions, types):
    """A random 2-layer BERT-shaped encoder's weights under BertModel's names (drawn in a fixed order from torch's stream)."""
    W = {"embeddings.word_embeddings.weight": rnd(V, C, std=0.5), "embeddings.position_embeddings.weight": rnd(positions, C, std=0.3),
         "embeddings.token_type_embeddings.weight": rnd(types, C, std=0.3),
         "embeddings.LayerNorm.weight": 1 + rnd(C, std=0.1), "embeddings.LayerNorm.bias": rnd(C, std=0.1)}
    for i in range(2):
        p = f"encoder.layer.{i}."
        for n, (o, ii) in (("attention.self.query", (C, C)), ("attention.self.key", (C, C)), ("attention.self.value", (C, C)),
                           ("attention.output.dense", (C, C)), ("intermediate.dense", (F, C)), ("output.dense", (C, F))):
            W[p + n + ".weight"], W[p + n + ".bias"] = rnd(o, ii), rnd(o, std=0.1)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            W[p + n + ".weight"], W[p + n + ".bias"] = 1 + rnd(C, std=0.1), rnd(C, std=0.1)
    return W


def write_bert_fixture():
    """A tiny random BERT (float64 reference), LoRA on query and value with random A and B, two sequences of different
    lengths; the hidden states and autograd's gradients of L = sum(w * hidden) for A and B."""
    torch.manual_seed(17)
    cfg = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": 61, "hidden_size": 24, "num_hidden_layers": 2,
           "num_attention_heads": 4, "intermediate_size": 40, "max_position_embeddings": 32, "type_vocab_size": 2,
           "layer_norm_eps": 1e-12, "hidden_act": "gelu", "position_embedding_type": "absolute"}
    C, F, V = 24, 40, 61
    W = random_bert(C, F, V, 32, 2)
    d = os.path.join(OUT, "bert-tiny")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    save_safetensors(os.path.join(d, "model.safetensors"), W, {"format": "pt"})
    Wd = {k: v.double() for k, v in W.items()}
    lora, tensors = random_qv_lora(C, "")
    seqs, types = [[2, 7, 9, 30, 4], [5, 1, 60, 33, 12, 8, 3, 44]], [[0, 0, 0, 1, 1], [0] * 8]
    hidden = [bert_forward(cfg, Wd, torch.tensor(s), torch.tensor(t), lora) for s, t in zip(seqs, types)]
    weights = [torch.randn(h.shape, dtype=torch.float64) for h in hidden]
    loss = sum((w * h).sum() for w, h in zip(weights, hidden))
    loss.backward()
    save_safetensors(os.path.join(d, "adapter_model.safetensors"), {k: v.detach().float() for k, v in tensors.items()}, {"format": "pt"})
    save_safetensors(os.path.join(d, "lora_grads.safetensors"), {k: v.grad.float() for k, v in tensors.items()})
    save_safetensors(os.path.join(d, "reference.safetensors"), {"hidden": torch.cat(hidden).detach().float().contiguous(),
                                                                 "loss_weights": torch.cat(weights).float().contiguous()})
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"sequences": seqs, "types": types, "lora_r": 4, "lora_scale": 2.0, "loss": loss.item()}, f)
    print(f"bert-tiny: loss {loss.item():.6f}")


def random_qv_lora(C, wrapped):
    """Random LoRA pairs (r 4, scale 2) on a 2-layer encoder's query and value, float64 leaves for autograd, keyed as PEFT
    saves them over the encoder itself (wrapped "") or a task model whose encoder is wrapped.* ("bert", "roberta")."""
    lora, tensors = {}, {}
    for i in range(2):
        for n in ("query", "value"):
            mod = f"encoder.layer.{i}.attention.self.{n}"
            A = (torch.randn(4, C, dtype=torch.float64) * 0.3).requires_grad_()
            B = (torch.randn(C, 4, dtype=torch.float64) * 0.3).requires_grad_()
            lora[mod] = (A, B, 2.0)
            key = f"base_model.model.{wrapped + '.' if wrapped else ''}{mod}"
            tensors[key + ".lora_A.weight"], tensors[key + ".lora_B.weight"] = A, B
    return lora, tensors


def write_seq_cls_adapter(d, tensors, pooling, classes):
    """A SEQ_CLS adapter as PEFT writes it (the head in modules_to_save) with lora4j's classifier_config.json, and the
    gradients of its tensors beside it (d/grads.safetensors)."""
    a = os.path.join(d, "adapter")
    save_safetensors(os.path.join(a, "adapter_model.safetensors"), {k: v.detach().float() for k, v in tensors.items()}, {"format": "pt"})
    with open(os.path.join(a, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "LORA", "task_type": "SEQ_CLS", "r": 4, "lora_alpha": 8, "lora_dropout": 0.0,
                   "target_modules": ["query", "value"], "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
                   "use_dora": False, "init_lora_weights": True, "modules_to_save": ["classifier", "score"]}, f, indent=1)
    with open(os.path.join(a, "classifier_config.json"), "w") as f:
        json.dump({"method": "lora", "pooling": pooling, "labels": classes}, f, indent=1)
    save_safetensors(os.path.join(d, "grads.safetensors"), {k: v.grad.float().contiguous() for k, v in tensors.items()})


def write_bert_seq_cls_fixture():
    """Sequence classification over bert-tiny (float64 reference of BertForSequenceClassification without dropout):
    (a) with a pooler (tanh(Wp·h[CLS] + bp)), LoRA on query and value and a classifier saved as PEFT's SEQ_CLS adapter;
    the loss (mean cross-entropy over two sequences) and autograd's gradients of A, B and the classifier;
    (b) over the mean of the tokens (bert-tiny has no pooler), every weight trained: the gradients of all of them."""
    torch.manual_seed(19)
    src = os.path.join(OUT, "bert-tiny")
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    W = load_safetensors(os.path.join(src, "model.safetensors"))
    C, K = cfg["hidden_size"], 3
    seqs, labels = [[2, 7, 9, 30, 4], [5, 1, 60, 33, 12, 8, 3, 44]], [2, 0]
    classes = ["apple", "banana", "cherry"]
    # (a) pooler + LoRA
    d = os.path.join(OUT, "bert-tiny-cls")
    os.makedirs(os.path.join(d, "adapter"), exist_ok=True)
    Wa = dict(W)
    Wa["pooler.dense.weight"], Wa["pooler.dense.bias"] = rnd(C, C), rnd(C, std=0.1)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(dict(cfg, architectures=["BertModel"]), f, indent=1)
    save_safetensors(os.path.join(d, "model.safetensors"), Wa, {"format": "pt"})
    Wd = {k: v.double() for k, v in Wa.items()}
    lora, tensors = random_qv_lora(C, "bert")  # PEFT wraps BertForSequenceClassification: its modules are bert.*
    Wc = (torch.randn(K, C, dtype=torch.float64) * 0.5).requires_grad_()
    bc = (torch.randn(K, dtype=torch.float64) * 0.1).requires_grad_()
    tensors["base_model.model.classifier.weight"], tensors["base_model.model.classifier.bias"] = Wc, bc
    f_ = torch.stack([torch.tanh(bert_forward(cfg, Wd, torch.tensor(s), torch.zeros(len(s), dtype=torch.long), lora)[0]
                                 @ Wd["pooler.dense.weight"].T + Wd["pooler.dense.bias"]) for s in seqs])
    logits = f_ @ Wc.T + bc
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    loss.backward()
    write_seq_cls_adapter(d, tensors, "pooler", classes)
    # (b) mean pooling, every weight trained
    Wf = {k: v.double().requires_grad_() for k, v in W.items()}
    Wc2 = (torch.randn(K, C, dtype=torch.float64) * 0.5).requires_grad_()
    bc2 = (torch.randn(K, dtype=torch.float64) * 0.1).requires_grad_()
    f2 = torch.stack([bert_forward(cfg, Wf, torch.tensor(s), torch.zeros(len(s), dtype=torch.long)).mean(0) for s in seqs])
    loss2 = torch.nn.functional.cross_entropy(f2 @ Wc2.T + bc2, torch.tensor(labels))
    loss2.backward()
    full = {k: v.grad.float().contiguous() for k, v in Wf.items()}
    full["classifier.weight"], full["classifier.bias"] = Wc2.grad.float().contiguous(), bc2.grad.float().contiguous()
    save_safetensors(os.path.join(d, "full_grads.safetensors"), full)
    save_safetensors(os.path.join(d, "full_head.safetensors"), {"classifier.weight": Wc2.detach().float().contiguous(),
                                                                "classifier.bias": bc2.detach().float().contiguous()})
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"sequences": seqs, "labels": labels, "classes": classes, "loss_pooler_lora": loss.item(),
                   "logits_pooler_lora": logits.detach().tolist(), "loss_mean_full": loss2.item()}, f, indent=1)
    print(f"bert-tiny-cls: loss {loss.item():.6f} (pooler, LoRA), {loss2.item():.6f} (mean, full)")


def write_roberta_seq_cls_fixture():
    """A tiny RobertaForSequenceClassification checkpoint (roberta.* weights, positions after pad_token_id 1, one token
    type, RobertaClassificationHead: dense + tanh over <s>, then out_proj) with labels in id2label: its logits and the
    hidden states (float64 reference, no dropout); and a SEQ_CLS LoRA adapter over it (query and value, the head in
    modules_to_save) with the loss and autograd's gradients of A, B and the head's four tensors."""
    torch.manual_seed(23)
    C, F, V, K, P = 24, 40, 61, 3, 34
    cfg = {"model_type": "roberta", "architectures": ["RobertaForSequenceClassification"], "vocab_size": V, "hidden_size": C,
           "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": F, "max_position_embeddings": P,
           "type_vocab_size": 1, "layer_norm_eps": 1e-5, "hidden_act": "gelu", "position_embedding_type": "absolute",
           "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "id2label": {"0": "neg", "1": "neu", "2": "pos"},
           "label2id": {"neg": 0, "neu": 1, "pos": 2}}
    W = random_bert(C, F, V, P, 1)
    head = {"classifier.dense.weight": rnd(C, C, std=0.5), "classifier.dense.bias": rnd(C, std=0.1),
            "classifier.out_proj.weight": rnd(K, C, std=0.5), "classifier.out_proj.bias": rnd(K, std=0.1)}
    d = os.path.join(OUT, "roberta-tiny-cls")
    os.makedirs(os.path.join(d, "adapter"), exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    saved = {"roberta." + k: v for k, v in W.items()}
    saved.update(head)
    save_safetensors(os.path.join(d, "model.safetensors"), saved, {"format": "pt"})
    Wd = {k: v.double() for k, v in W.items()}
    seqs, labels = [[0, 7, 9, 30, 2], [0, 5, 11, 60, 33, 12, 8, 2]], [2, 0]
    zeros = lambda s: torch.zeros(len(s), dtype=torch.long)

    def classify(Hd, lora=None):
        hidden = [bert_forward(cfg, Wd, torch.tensor(s), zeros(s), lora, pos_offset=2) for s in seqs]
        f = torch.stack([torch.tanh(h[0] @ Hd["classifier.dense.weight"].T + Hd["classifier.dense.bias"]) for h in hidden])
        return hidden, f @ Hd["classifier.out_proj.weight"].T + Hd["classifier.out_proj.bias"]

    with torch.no_grad():
        hidden, logits = classify({k: v.double() for k, v in head.items()})
    lora, tensors = random_qv_lora(C, "roberta")
    Hl = {k: (torch.randn(v.shape, dtype=torch.float64) * 0.4).requires_grad_() for k, v in head.items()}
    for k, v in Hl.items():
        tensors["base_model.model." + k] = v
    _, logits2 = classify(Hl, lora)
    loss = torch.nn.functional.cross_entropy(logits2, torch.tensor(labels))
    loss.backward()
    write_seq_cls_adapter(d, tensors, "dense", ["neg", "neu", "pos"])
    save_safetensors(os.path.join(d, "reference.safetensors"), {"hidden": torch.cat(hidden).float().contiguous()})
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"sequences": seqs, "labels": labels, "logits": logits.tolist(), "loss_lora": loss.item()}, f, indent=1)
    print(f"roberta-tiny-cls: loss {loss.item():.6f} (LoRA + head)")


def write_ia3_fixture(base_name, name, forward, modules, feedforward):
    """A PEFT IA³ adapter with random vectors l (near 1) on a fixture model, and autograd's gradients of the batch-mean
    causal-LM loss with respect to each. From the definition as PEFT computes it, (W·x + b) ⊙ l for a module, W·(x ⊙ l) + b
    for a feed-forward one, written as the same model with each weight (and an output-scaled module's bias) multiplied
    by l. modules: PEFT module name → the checkpoint's weight name; GPT-2's Conv1D weights are stored (in, out)."""
    torch.manual_seed(29)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cfg, W, ids = fixture_base(base_name)
    conv1d = cfg["model_type"] == "gpt2"
    scaled, tensors = dict(W), {}
    for mod, key in modules.items():
        w = W[key].T if conv1d else W[key]  # (out, in)
        ff = mod.split(".")[-1] in feedforward or ".".join(mod.split(".")[-2:]) in feedforward
        l = leaf64(1 + 0.3 * torch.randn(w.shape[1] if ff else w.shape[0]))
        tensors[f"base_model.model.{mod}.ia3_l"] = l
        w2 = w * l[None, :] if ff else w * l[:, None]
        scaled[key] = w2.T if conv1d else w2
        bias = key[: -len(".weight")] + ".bias"
        if not ff and bias in W:
            scaled[bias] = W[bias] * l
    logits = forward(cfg, scaled, ids)
    lp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    loss = -lp.gather(-1, ids[:, 1:, None]).mean()
    loss.backward()
    shapes = {k: (1, -1) if any(k[: -len(".ia3_l")].endswith(f) for f in feedforward) else (-1, 1) for k in tensors}
    save_safetensors(os.path.join(d, "adapter_model.safetensors"), {k: v.detach().reshape(shapes[k]) for k, v in tensors.items()}, {"format": "pt"})
    save_safetensors(os.path.join(d, "ia3_grads.safetensors"), {k: v.grad.float() for k, v in tensors.items()})
    conf = {"peft_type": "IA3", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_name,
            "target_modules": sorted({m.split(".")[-1] if m.split(".")[-1] not in ("c_proj",) else "mlp.c_proj" for m in modules}),
            "feedforward_modules": feedforward, "fan_in_fan_out": conv1d, "init_ia3_weights": True, "modules_to_save": None}
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"base": base_name, "input_ids": ids.tolist(), "loss": loss.item()}, f)
    print(f"{name}: loss with adapter {loss.item():.6f}")


def write_ia3_fixtures():
    mods = {}
    for i in range(2):
        p = f"model.layers.{i}."
        mods.update({p + "self_attn.k_proj": p + "self_attn.k_proj.weight", p + "self_attn.v_proj": p + "self_attn.v_proj.weight",
                     p + "mlp.down_proj": p + "mlp.down_proj.weight"})
    write_ia3_fixture("qwen2-tied-bias", "ia3-qwen2", llama_forward, mods, ["down_proj"])
    mods = {}
    for i in range(2):
        mods.update({f"transformer.h.{i}.attn.c_attn": f"h.{i}.attn.c_attn.weight", f"transformer.h.{i}.mlp.c_proj": f"h.{i}.mlp.c_proj.weight"})
    write_ia3_fixture("gpt2-plain", "ia3-gpt2", lambda c, w, i: gpt2_forward(c, w, i, ""), mods, ["mlp.c_proj"])


def write_bottleneck_fixture(base_name, name, forward, modules, size):
    """Houlsby bottleneck adapters (random non-zero D, b_D, U, b_U) after the given output projections of a fixture
    model, y = z + U·gelu(D·z + b_D) + b_U, in lora4j's files; autograd's gradients of the batch-mean causal-LM loss
    for every adapter tensor. modules: PEFT module name → its output width."""
    torch.manual_seed(31)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cfg, W, ids = fixture_base(base_name)
    tensors, post = {}, {}
    for mod, width in modules.items():
        t = [leaf64(torch.randn(size, width) * 0.3), leaf64(torch.randn(size) * 0.1), leaf64(torch.randn(width, size) * 0.3), leaf64(torch.randn(width) * 0.1)]
        for part, v in zip(("adapter_down.weight", "adapter_down.bias", "adapter_up.weight", "adapter_up.bias"), t):
            tensors[f"base_model.model.{mod}.{part}"] = v
        post[mod] = lambda z, t=t: z + torch.nn.functional.gelu(z @ t[0].T + t[1]) @ t[2].T + t[3]
    logits = forward(cfg, W, ids, post)
    lp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    loss = -lp.gather(-1, ids[:, 1:, None]).mean()
    loss.backward()
    save_safetensors(os.path.join(d, "adapter_model.safetensors"), {k: v.detach() for k, v in tensors.items()}, {"format": "pt"})
    save_safetensors(os.path.join(d, "bottleneck_grads.safetensors"), {k: v.grad.float() for k, v in tensors.items()})
    targets = sorted({".".join(m.split(".")[-2:]) if cfg["model_type"] == "gpt2" else m.split(".")[-1] for m in modules})
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump({"peft_type": "BOTTLENECK", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_name, "bottleneck_size": size,
                   "non_linearity": "gelu", "target_modules": targets}, f, indent=1)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"base": base_name, "input_ids": ids.tolist(), "loss": loss.item()}, f)
    print(f"{name}: loss with adapters {loss.item():.6f}")


def write_bottleneck_fixtures():
    mods = {}
    for i in range(2):
        mods.update({f"model.layers.{i}.self_attn.o_proj": 64, f"model.layers.{i}.mlp.down_proj": 64})
    write_bottleneck_fixture("llama-gqa", "bottleneck-llama", lambda c, w, i, post: llama_forward(c, w, i, post=post), mods, 5)
    mods = {}
    for i in range(2):
        mods.update({f"transformer.h.{i}.attn.c_proj": 48, f"transformer.h.{i}.mlp.c_proj": 48})
    write_bottleneck_fixture("gpt2-plain", "bottleneck-gpt2", lambda c, w, i, post: gpt2_forward(c, w, i, "", post=post), mods, 3)


def save_adapter_fixture(d, base_name, ids, logits, tensors, conf, with_logits=False):
    """The batch-mean causal-LM loss of logits (B, T, V) against ids, run backward; then the adapter (tensors by key), autograd's
    gradient of each (lora_grads.safetensors, or prompt_grads.safetensors with the logits too), adapter_config.json and
    reference.json written into d. Returns the loss."""
    lp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
    loss = -lp.gather(-1, ids[:, 1:, None]).mean()
    loss.backward()
    save_safetensors(os.path.join(d, "adapter_model.safetensors"), {k: v.detach() for k, v in tensors.items()}, {"format": "pt"})
    grads = {k: v.grad for k, v in tensors.items()}
    if with_logits:
        grads["logits"] = logits.detach()
    save_safetensors(os.path.join(d, "prompt_grads.safetensors" if with_logits else "lora_grads.safetensors"), grads)
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(conf, f, indent=1)
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"base": base_name, "input_ids": ids.tolist(), "loss": loss.item()}, f)
    return loss.item()


def write_prompt_tuning_fixture(base_name, name, forward, n):
    """A PEFT prompt-tuning adapter (random embeddings, n virtual tokens) on a fixture model: the logits of the caller's
    positions and autograd's gradient of the batch-mean causal-LM loss over them with respect to the embeddings. The
    virtual positions predict nothing (PEFT's also has the last one predict the first token: one target more)."""
    torch.manual_seed(37)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cfg, W, ids = fixture_base(base_name)
    C = cfg.get("hidden_size", cfg.get("n_embd"))
    P = leaf64(torch.randn(n, C) * 0.5)
    conf = {"peft_type": "PROMPT_TUNING", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_name, "num_virtual_tokens": n,
            "token_dim": C, "num_transformer_submodules": 1, "num_attention_heads": cfg.get("num_attention_heads", cfg.get("n_head")),
            "num_layers": cfg.get("num_hidden_layers", cfg.get("n_layer")), "prompt_tuning_init": "RANDOM",
            "prompt_tuning_init_text": None, "tokenizer_name_or_path": None, "inference_mode": True}
    loss = save_adapter_fixture(d, base_name, ids, forward(cfg, W, ids, P)[:, n:], {"prompt_embeddings": P}, conf, with_logits=True)
    print(f"{name}: loss with the soft prompt {loss:.6f}")


def write_prompt_tuning_fixtures():
    write_prompt_tuning_fixture("llama-gqa", "prompt-llama", lambda c, w, i, p: llama_forward(c, w, i, virtual=p), 5)
    write_prompt_tuning_fixture("gpt2-plain", "prompt-gpt2", lambda c, w, i, p: gpt2_forward(c, w, i, "", virtual=p), 4)
    write_prompt_tuning_fixture("gemma2-softcap", "prompt-gemma2", lambda c, w, i, p: gemma_forward(c, w, i, virtual=p), 3)


def write_prefix_tuning_fixture(base_name, name, forward, n):
    """A PEFT prefix-tuning adapter (random table, n virtual tokens) on a fixture model, from the definition: each layer's
    keys and values start with the prefix's (past_key_values, unrotated), the caller's tokens at positions n on. The
    logits of the caller's positions and autograd's gradient of the batch-mean causal-LM loss over them."""
    torch.manual_seed(41)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cfg, W, ids = fixture_base(base_name)
    L = cfg.get("num_hidden_layers", cfg.get("n_layer"))
    H = cfg.get("num_attention_heads", cfg.get("n_head"))
    C = cfg.get("hidden_size", cfg.get("n_embd"))
    KV, D = cfg.get("num_key_value_heads", H), cfg.get("head_dim", C // H)
    table = leaf64(torch.randn(n, L * 2 * KV * D) * 0.7)
    kv = table.view(n, L * 2, KV, D)  # PEFT's view of a row: layer l's keys at 2l, values at 2l + 1
    past = [(kv[:, 2 * l], kv[:, 2 * l + 1]) for l in range(L)]
    conf = {"peft_type": "PREFIX_TUNING", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_name, "num_virtual_tokens": n,
            "token_dim": KV * D, "num_transformer_submodules": 1, "num_attention_heads": KV, "num_layers": L,
            "encoder_hidden_size": C, "prefix_projection": False, "inference_mode": True}
    loss = save_adapter_fixture(d, base_name, ids, forward(cfg, W, ids, past), {"prompt_embeddings": table}, conf, with_logits=True)
    print(f"{name}: loss with the prefix {loss:.6f}")


def write_prefix_tuning_fixtures():
    write_prefix_tuning_fixture("llama-gqa", "prefix-llama", lambda c, w, i, p: llama_forward(c, w, i, past=p), 5)
    write_prefix_tuning_fixture("gpt2-plain", "prefix-gpt2", lambda c, w, i, p: gpt2_forward(c, w, i, "", past=p), 4)
    write_prefix_tuning_fixture("gemma2-softcap", "prefix-gemma2", lambda c, w, i, p: gemma_forward(c, w, i, past=p), 3)
    write_prefix_tuning_fixture("qwen3-qknorm", "prefix-qwen3", lambda c, w, i, p: llama_forward(c, w, i, past=p), 3)


def write_embeddings_fixture(base_name, name, forward, embed_key, modules, save=(), rows=None):
    """A PEFT LoRA adapter (random A and B on modules) that also trains the input embedding or the LM head: whole copies
    (modules_to_save, each moved away from the base) or rows (trainable_token_indices {module: ids}, rows moved away from
    the base's), as PEFT applies them: a copied head is the model's own even when the base ties it; replaced embedding rows
    are the tied head's rows too. Autograd's gradients of the batch-mean causal-LM loss for every trained tensor, PEFT keys."""
    torch.manual_seed(43)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    cfg, W, ids = fixture_base(base_name)
    tied = cfg["model_type"] == "gpt2" or cfg.get("tie_word_embeddings", False)
    module = {"embed": "transformer.wte" if cfg["model_type"] == "gpt2" else "model.embed_tokens", "head": "lm_head"}
    lora, tensors = {}, {}
    for mod, (fan_in, fan_out) in modules.items():
        A, B = leaf64(torch.randn(4, fan_in) * 0.3), leaf64(torch.randn(fan_out, 4) * 0.3)
        lora[mod] = (A, B, 2.0)
        tensors[f"base_model.model.{mod}.lora_A.weight"], tensors[f"base_model.model.{mod}.lora_B.weight"] = A, B
    E = W[embed_key]
    head_w = None if tied else W["lm_head.weight"]
    W2 = dict(W)
    head = None
    for which in save:
        base_t = E if which == "embed" or tied else head_w
        copy = leaf64((base_t + 0.1 * torch.randn_like(base_t)).float())
        tensors[f"base_model.model.{module[which]}.weight"] = copy
        if which == "embed":
            W2[embed_key] = copy
            if tied and "head" not in save:
                head = E  # PEFT's copy of the embedding leaves the tied head on the original
        else:
            head = copy
    for which, idx in (rows or {}).items():
        base_t = E if which == "embed" else head_w
        r = leaf64((base_t[idx] + 0.3 * torch.randn(len(idx), base_t.shape[1])).float())
        tensors[f"base_model.model.{module[which]}.token_adapter.trainable_tokens_delta"] = r
        new = base_t.index_copy(0, torch.tensor(idx), r)
        if which == "embed":
            W2[embed_key] = new  # a tied head reads it too
        else:
            head = new
    targets = sorted({m.split(".")[-1] for m in modules})
    conf = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_name, "bias": "none", "r": 4, "lora_alpha": 8,
            "lora_dropout": 0.0, "target_modules": targets, "init_lora_weights": True, "use_rslora": False, "rank_pattern": {}, "alpha_pattern": {},
            "fan_in_fan_out": cfg["model_type"] == "gpt2", "modules_to_save": [module[w].split(".")[-1] for w in save] or None,
            "trainable_token_indices": {module[w].split(".")[-1]: idx for w, idx in rows.items()} if rows else None}
    loss = save_adapter_fixture(d, base_name, ids, forward(cfg, W2, ids, lora, head), tensors, conf)
    print(f"{name}: loss {loss:.6f}")


def write_embeddings_fixtures():
    qv = lambda C, Q, V: {f"model.layers.{i}.self_attn.{p}": (C, w) for i in range(2) for p, w in (("q_proj", Q), ("v_proj", V))}
    llama = lambda c, w, i, lora, head: llama_forward(c, w, i, lora, head=head)
    write_embeddings_fixture("llama-gqa", "emb-llama-save", llama, "model.embed_tokens.weight", qv(64, 64, 32), save=("embed", "head"))
    write_embeddings_fixture("llama-gqa", "emb-llama-rows", llama, "model.embed_tokens.weight", qv(64, 64, 32),
                             rows={"embed": [3, 7, 11, 40], "head": [5, 9, 3]})
    write_embeddings_fixture("qwen2-tied-bias", "emb-qwen2-rows", llama, "model.embed_tokens.weight", qv(48, 48, 16), rows={"embed": [4, 10, 20, 2]})
    write_embeddings_fixture("qwen2-tied-bias", "emb-qwen2-head", llama, "model.embed_tokens.weight", qv(48, 48, 16), save=("head",))
    gemma = lambda c, w, i, lora, head: gemma_forward(c, w, i, lora, head=head)
    write_embeddings_fixture("gemma2-softcap", "emb-gemma2-rows", gemma, "model.embed_tokens.weight",
                             {f"model.layers.{i}.self_attn.q_proj": (32, 64) for i in range(3)}, rows={"embed": [1, 6, 50]})
    gpt2 = lambda c, w, i, lora, head: gpt2_forward(c, w, i, "", lora, head=head)
    write_embeddings_fixture("gpt2-plain", "emb-gpt2-save", gpt2, "wte.weight", {f"transformer.h.{i}.attn.c_attn": (48, 144) for i in range(2)},
                             save=("embed",))


def write_residual_init_fixture():
    """PiSSA and OLoRA starts as PEFT's pissa_init and olora_init compute them (the weight taken as (out, in)): for a
    Llama and a GPT-2 (Conv1D) module at r = 4, s = 2, the product s·B0·A0 that is taken out of W0 (signs of
    singular and QR vectors cancel in it)."""
    out = {}
    for model, mod, key in (("llama-gqa", "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.q_proj.weight"),
                            ("gpt2-plain", "transformer.h.0.attn.c_attn", "h.0.attn.c_attn.weight")):
        W = load_safetensors(os.path.join(OUT, model, "model.safetensors"))[key].float()
        w = W.T if model.startswith("gpt2") else W
        r, scaling = 4, 2.0
        V, S, Uh = torch.linalg.svd(w, full_matrices=False)
        Sr = S[:r] / scaling
        A, B = torch.diag(torch.sqrt(Sr)) @ Uh[:r], V[:, :r] @ torch.diag(torch.sqrt(Sr))
        out["pissa." + mod] = (scaling * B @ A).contiguous()
        Q, R = torch.linalg.qr(w)
        out["olora." + mod] = (scaling * Q[:, :r] @ R[:r]).contiguous()
    save_safetensors(os.path.join(OUT, "residual_init.safetensors"), out)
    print("residual_init: written")


def write_gemma_fixtures():
    """Gemma 2 (soft caps, sandwich norms, alternating sliding layers) and Gemma 3 text (q/k norms, local rotary base,
    linear rope scaling on the global layers), each with a LoRA adapter on every linear module and full gradients."""
    torch.manual_seed(7)
    gemma2 = {"model_type": "gemma2", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4,
              "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 109, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
              "rope_theta": 10000.0, "tie_word_embeddings": True, "hidden_activation": "gelu_pytorch_tanh",
              "query_pre_attn_scalar": 24, "sliding_window": 4, "attn_logit_softcapping": 3.0, "final_logit_softcapping": 5.0,
              "attention_bias": False}
    gemma3 = {"model_type": "gemma3_text", "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 3, "num_attention_heads": 4,
              "num_key_value_heads": 1, "head_dim": 16, "vocab_size": 113, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
              "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0, "rope_scaling": {"rope_type": "linear", "factor": 4.0},
              "tie_word_embeddings": True, "hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": 16,
              "sliding_window": 5, "sliding_window_pattern": 3, "attn_logit_softcapping": None, "final_logit_softcapping": None,
              "attention_bias": False}
    for name, cfg in (("gemma2-softcap", gemma2), ("gemma3-local-global", gemma3)):
        write_fixture(name, cfg, make_gemma(cfg), gemma_forward)
        C, H, KV, D, F = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["intermediate_size"]
        mods = {}
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            mods.update({p + "self_attn.q_proj": (C, H * D), p + "self_attn.k_proj": (C, KV * D), p + "self_attn.v_proj": (C, KV * D),
                         p + "self_attn.o_proj": (H * D, C), p + "mlp.gate_proj": (C, F), p + "mlp.up_proj": (C, F), p + "mlp.down_proj": (F, C)})
        write_lora_fixture(name, "lora-" + name, gemma_forward, mods,
                           {"r": 4, "lora_alpha": 8, "target_modules": "all-linear", "use_rslora": False,
                            "rank_pattern": {}, "alpha_pattern": {}})
        write_full_grads(name, gemma_forward)


def main():
    if sys.argv[1:] == ["bert"]:
        write_bert_fixture()
        write_bert_seq_cls_fixture()
        return
    if sys.argv[1:] == ["ia3"]:
        write_ia3_fixtures()
        return
    if sys.argv[1:] == ["embeddings"]:
        write_embeddings_fixtures()
        return
    if sys.argv[1:] == ["prompt-tuning"]:
        write_prompt_tuning_fixtures()
        write_prefix_tuning_fixtures()
        return
    if sys.argv[1:] == ["bottleneck"]:
        write_bottleneck_fixtures()
        return
    if sys.argv[1:] == ["bert-seq-cls"]:
        write_bert_seq_cls_fixture()
        write_roberta_seq_cls_fixture()
        return
    if sys.argv[1:] == ["lora-bias"]:
        write_lora_bias_fixture()
        return
    if sys.argv[1:] == ["residual-init"]:
        write_residual_init_fixture()
        return
    if sys.argv[1:] == ["dora"]:
        write_dora_fixtures()
        return
    if sys.argv[1:] == ["gemma"]:
        write_gemma_fixtures()
        return
    if sys.argv[1:] == ["qwen3"]:
        write_qwen3_fixtures()
        return
    if sys.argv[1:] == ["phi3"]:
        write_phi3_fixtures()
        return
    llama = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 97, "max_position_embeddings": 64,
             "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False, "hidden_act": "silu",
             "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 16}}
    write_fixture("llama-gqa", llama, make_llama(llama), llama_forward)

    qwen = {"model_type": "qwen2", "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
            "num_attention_heads": 6, "num_key_value_heads": 2, "vocab_size": 101, "max_position_embeddings": 64,
            "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": True, "hidden_act": "silu",
            "use_sliding_window": False}
    write_fixture("qwen2-tied-bias", qwen, make_llama(qwen), llama_forward, shards=2)

    mistral = {"model_type": "mistral", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
               "num_attention_heads": 4, "num_key_value_heads": 1, "vocab_size": 83, "max_position_embeddings": 64,
               "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False, "hidden_act": "silu",
               "sliding_window": 5}
    write_fixture("mistral-window", mistral, make_llama(mistral), llama_forward)

    bf = dict(llama, rope_scaling=None, torch_dtype="bfloat16")
    write_fixture("llama-bf16", bf, make_llama(bf), llama_forward, dtype=torch.bfloat16)

    gpt2 = {"model_type": "gpt2", "n_embd": 48, "n_head": 4, "n_layer": 2, "n_positions": 32, "n_ctx": 32,
            "vocab_size": 89, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
    W = make_gpt2(gpt2)
    write_fixture("gpt2-plain", gpt2, W, lambda c, w, i: gpt2_forward(c, w, i, ""),
                  extra={"h.0.attn.bias": torch.tril(torch.ones(1, 1, 32, 32))})
    Wp = {"transformer." + k: v for k, v in W.items()}
    write_fixture("gpt2-prefixed", gpt2, Wp, lambda c, w, i: gpt2_forward(c, w, i, "transformer."))

    # LoRA adapters with autograd gradients: every projection kind of both families
    C, H, KV, D, F = 64, 4, 2, 16, 96
    llama_mods = {}
    for i in range(2):
        p = f"model.layers.{i}."
        llama_mods.update({p + "self_attn.q_proj": (C, H * D), p + "self_attn.k_proj": (C, KV * D), p + "self_attn.v_proj": (C, KV * D),
                           p + "self_attn.o_proj": (H * D, C), p + "mlp.gate_proj": (C, F), p + "mlp.up_proj": (C, F), p + "mlp.down_proj": (F, C)})
    write_lora_fixture("llama-gqa", "lora-llama-all-linear", llama_forward, llama_mods,
                       {"r": 4, "lora_alpha": 8, "target_modules": "all-linear", "use_rslora": False,
                        "rank_pattern": {"v_proj": 2}, "alpha_pattern": {"o_proj": 3}})
    C = 48
    gpt2_mods = {}
    for i in range(2):
        p = f"transformer.h.{i}."
        gpt2_mods.update({p + "attn.c_attn": (C, 3 * C), p + "attn.c_proj": (C, C), p + "mlp.c_fc": (C, 4 * C), p + "mlp.c_proj": (4 * C, C)})
    write_lora_fixture("gpt2-plain", "lora-gpt2-rslora", lambda c, w, i, l: gpt2_forward(c, w, i, "", l), gpt2_mods,
                       {"r": 3, "lora_alpha": 6, "target_modules": ["c_attn", "c_proj", "c_fc"], "use_rslora": True,
                        "rank_pattern": {}, "alpha_pattern": {}})

    write_optimizer_fixture()
    write_analysis_fixture()
    write_full_grads("gpt2-plain", lambda c, w, i: gpt2_forward(c, w, i, ""))
    write_full_grads("llama-gqa", llama_forward)

    if os.path.exists(os.path.join(SHARED, "model.safetensors")):
        with open(os.path.join(SHARED, "config.json")) as f:
            cfg = json.load(f)
        W = load_safetensors(os.path.join(SHARED, "model.safetensors"))
        ids = torch.tensor([[1, 461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299, 362, 409, 283, 264, 283, 452, 288, 13,
                             100, 200, 300, 400, 500, 7, 9, 11, 2]])
        with torch.no_grad():
            logits = llama_forward(cfg, W, ids)
        loss = causal_lm_loss(logits, ids, [ids.shape[1]])
        d = os.path.join(OUT, "stories260k")
        os.makedirs(d, exist_ok=True)
        save_safetensors(os.path.join(d, "reference.safetensors"), {"logits": logits.contiguous()})
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump({"input_ids": ids.tolist(), "loss": loss}, f)
        print(f"stories260k: loss {loss:.6f}")
    else:
        print("stories260k not found beside the repository; its fixture was left as it was", file=sys.stderr)
    write_qwen3_fixtures()  # last: these seed their own streams
    write_phi3_fixtures()
    write_gemma_fixtures()
    write_dora_fixtures()
    write_residual_init_fixture()
    write_lora_bias_fixture()
    write_bert_fixture()
    write_bert_seq_cls_fixture()
    write_roberta_seq_cls_fixture()
    write_ia3_fixtures()
    write_bottleneck_fixtures()


if __name__ == "__main__":
    main()
