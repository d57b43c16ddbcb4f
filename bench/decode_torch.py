#!/usr/bin/python3
"""The PyTorch anchor for lora4j's decode benchmark: GPT-2-small-shaped, fp32, batch 1.

  decode_torch.py [--config gpt2-small|small] [--prompt 256] [--new 32] [--reps 3] [--threads 2]

Prefills a random prompt in one forward pass (prompt tokens/s), then decodes greedily one token a
step with a preallocated KV cache (decode tokens/s), under
torch.inference_mode(). Best of --reps after one warm-up round. Prints one JSON line.
Run it through bench/decode.sh, which sets the tuned environment (as bench/train.sh does).
"""
import argparse, json, math, time
import torch
import torch.nn.functional as F

from train_torch import CONFIGS, GPT2


def forward_cached(m, ids, cache, pos):
    """Logits of the last position; appends keys and values of ids (1, n) at [pos, pos + n)."""
    n = ids.shape[1]
    x = m.wte(ids) + m.wpe(torch.arange(pos, pos + n))
    for b, (kc, vc) in zip(m.h, cache):
        C, H = x.shape[-1], b.H
        q, k, v = b.c_attn(b.ln_1(x)).split(C, dim=-1)
        q, k, v = (t.view(1, n, H, C // H).transpose(1, 2) for t in (q, k, v))
        kc[:, :, pos:pos + n] = k
        vc[:, :, pos:pos + n] = v
        s = (q @ kc[:, :, :pos + n].transpose(-1, -2)) / math.sqrt(C // H)
        if n > 1:
            s = s.masked_fill(~torch.ones(n, pos + n, dtype=torch.bool).tril(pos), float("-inf"))
        a = torch.softmax(s, dim=-1) @ vc[:, :, :pos + n]
        x = x + b.c_proj(a.transpose(1, 2).reshape(1, n, C))
        x = x + b.mlp_proj(F.gelu(b.c_fc(b.ln_2(x)), approximate="tanh"))
    return m.ln_f(x[:, -1]) @ m.wte.weight.T


def main(a):
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = CONFIGS[a.config]
    m = GPT2(cfg, 0).eval()
    C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    prompt = torch.randint(0, cfg["vocab_size"], (1, a.prompt))
    best_p = best_d = float("inf")
    with torch.inference_mode():
        for rep in range(a.reps + 1):
            cache = [(torch.zeros(1, H, a.prompt + a.new, C // H), torch.zeros(1, H, a.prompt + a.new, C // H)) for _ in range(L)]
            t0 = time.perf_counter()
            logits = forward_cached(m, prompt, cache, 0)
            t1 = time.perf_counter()
            for i in range(a.new):
                logits = forward_cached(m, logits.argmax(-1).view(1, 1), cache, a.prompt + i)
            t2 = time.perf_counter()
            if rep:
                best_p, best_d = min(best_p, t1 - t0), min(best_d, t2 - t1)
    print(json.dumps({"impl": "pytorch", "prompt_tokens_per_s": a.prompt / best_p, "decode_tokens_per_s": a.new / best_d,
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="gpt2-small", choices=list(CONFIGS))
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    main(ap.parse_args())
