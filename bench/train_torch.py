#!/usr/bin/python3
"""The PyTorch anchor for lora4j's training benchmark, and the maker of its random checkpoints.

  train_torch.py make --out DIR [--config gpt2-small|small] [--dtype f32|bf16]
      a random GPT-2-shaped HF checkpoint (std 0.02), stored in fp32 or bf16
  train_torch.py bench --config gpt2-small [--full] [--batch 4] [--seq 256] [--steps 6] [--threads 2]
      LoRA (r = 8 on c_attn, AdamW) or full fine-tuning of the same model in plain fp32 PyTorch;
      prints one JSON line: tokens_per_s, peak_rss_bytes.

Run it through bench/train.sh, which sets the tuned environment (OpenBLAS AVX-512 kernels, OpenMP
build, tcmalloc) so that lora4j is compared with PyTorch at its best on this CPU.
"""
import argparse, json, math, os, resource, struct, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "gpt2-small": dict(n_embd=768, n_head=12, n_layer=12, vocab_size=50257, n_positions=1024),
    "small": dict(n_embd=384, n_head=6, n_layer=6, vocab_size=8192, n_positions=1024),
}


class LoRAConv1D(nn.Module):
    """GPT-2's Conv1D (weight (in, out)) with an optional LoRA adapter, PEFT semantics."""
    def __init__(self, nin, nout, r=0, alpha=16):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(nin, nout) * 0.02)
        self.bias = nn.Parameter(torch.zeros(nout))
        self.r = r
        if r:
            self.lora_A = nn.Parameter(torch.empty(r, nin).uniform_(-1 / math.sqrt(nin), 1 / math.sqrt(nin)))
            self.lora_B = nn.Parameter(torch.zeros(nout, r))
            self.scale = alpha / r

    def forward(self, x):
        y = torch.addmm(self.bias, x.view(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)
        if self.r:
            y = y + (x @ self.lora_A.T @ self.lora_B.T) * self.scale
        return y


class Block(nn.Module):
    def __init__(self, C, H, r):
        super().__init__()
        self.H = H
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.c_attn = LoRAConv1D(C, 3 * C, r)
        self.c_proj = LoRAConv1D(C, C)
        self.c_fc = LoRAConv1D(C, 4 * C)
        self.mlp_proj = LoRAConv1D(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=-1)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        s = (q @ k.transpose(-1, -2)) / math.sqrt(C // self.H)
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        a = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1) @ v
        x = x + self.c_proj(a.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, cfg, r):
        super().__init__()
        C = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab_size"], C)
        self.wpe = nn.Embedding(cfg["n_positions"], C)
        nn.init.normal_(self.wte.weight, std=0.02)
        nn.init.normal_(self.wpe.weight, std=0.01)
        self.h = nn.ModuleList(Block(C, cfg["n_head"], r) for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for b in self.h:
            x = b(x)
        logits = self.ln_f(x) @ self.wte.weight.T
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def make(args):
    cfg = CONFIGS[args.config]
    torch.manual_seed(0)
    m = GPT2(cfg, 0)
    tensors = {"wte.weight": m.wte.weight, "wpe.weight": m.wpe.weight, "ln_f.weight": m.ln_f.weight, "ln_f.bias": m.ln_f.bias}
    for i, b in enumerate(m.h):
        p = f"h.{i}."
        for ln in ("ln_1", "ln_2"):
            tensors[p + ln + ".weight"] = getattr(b, ln).weight
            tensors[p + ln + ".bias"] = getattr(b, ln).bias
        for name, mod in (("attn.c_attn", b.c_attn), ("attn.c_proj", b.c_proj), ("mlp.c_fc", b.c_fc), ("mlp.c_proj", b.mlp_proj)):
            tensors[p + name + ".weight"] = mod.weight
            tensors[p + name + ".bias"] = mod.bias
    os.makedirs(args.out, exist_ok=True)
    header, off = {}, 0
    dt, size = {"f32": (torch.float32, 4), "bf16": (torch.bfloat16, 2)}[args.dtype]
    tensors = {k: t.detach().to(dt).contiguous() for k, t in tensors.items()}
    for k, t in tensors.items():
        n = t.numel() * size
        header[k] = {"dtype": "F32" if size == 4 else "BF16", "shape": list(t.shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(args.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for t in tensors.values():
            f.write((t if size == 4 else t.view(torch.int16)).numpy().tobytes())
    conf = dict(model_type="gpt2", n_ctx=cfg["n_positions"], n_inner=None, layer_norm_epsilon=1e-5,
                activation_function="gelu_new", architectures=["GPT2LMHeadModel"], **cfg)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(conf, f, indent=1)


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    m = GPT2(CONFIGS[args.config], 0 if args.full else 8)
    if args.full:
        params = list(m.parameters())
    else:
        for n, p in m.named_parameters():
            p.requires_grad = "lora_" in n
        params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    ids = torch.randint(0, CONFIGS[args.config]["vocab_size"], (args.batch, args.seq))
    times = []
    for step in range(args.steps + 2):
        t0 = time.perf_counter()
        loss = m(ids)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    steady = times[2:]
    tps = args.batch * args.seq / (sum(steady) / len(steady))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"impl": "pytorch", "mode": "full" if args.full else "lora", "tokens_per_s": tps, "peak_rss_bytes": rss,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["make", "bench"])
    ap.add_argument("--out")
    ap.add_argument("--config", default="gpt2-small", choices=list(CONFIGS))
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    make(a) if a.cmd == "make" else bench(a)
