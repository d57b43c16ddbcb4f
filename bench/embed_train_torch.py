"""PyTorch beside lora4j's EmbedTrainBench: the same all-MiniLM-L6-v2 weights (the directory lora4j wrote), the same
token ids, LoRA r = 8 (alpha 16) on query and value, the in-batch contrastive loss (scale 20) on mean-pooled,
normalised embeddings, AdamW; a padded batch with an attention mask, as sentence-transformers trains.
Usage: embed_train_torch.py OUT_DIR THREADS. Prints tokens a second over the steps after two warm-up steps."""
import json, math, os, sys, time
import torch
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
from make_fixtures import load_safetensors

out, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)
W = {k: v.float() for k, v in load_safetensors(os.path.join(out, "minilm", "model.safetensors")).items()}
cfg = json.load(open(os.path.join(out, "minilm", "config.json")))
C, H, L, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["layer_norm_eps"]
D = C // H
torch.manual_seed(0)
lora = {}
for i in range(L):
    for n in ("query", "value"):
        A = (torch.empty(8, C).uniform_(-1 / math.sqrt(C), 1 / math.sqrt(C))).requires_grad_()
        lora[f"encoder.layer.{i}.attention.self.{n}"] = (A, torch.zeros(C, 8, requires_grad=True))
params = [t for ab in lora.values() for t in ab]
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)

def lin(name, h):
    y = h @ W[name + ".weight"].T + W[name + ".bias"]
    if name in lora:
        A, B = lora[name]
        y = y + 2.0 * ((h @ A.T) @ B.T)
    return y

def encode(seqs):
    T = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), T, dtype=torch.long)
    mask = torch.zeros(len(seqs), T)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    ln = lambda x, n: torch.nn.functional.layer_norm(x, (C,), W[n + ".weight"], W[n + ".bias"], eps)
    x = ln(W["embeddings.word_embeddings.weight"][ids] + W["embeddings.token_type_embeddings.weight"][0] + W["embeddings.position_embeddings.weight"][:T], "embeddings.LayerNorm")
    bias = (1 - mask)[:, None, None, :] * torch.finfo(torch.float32).min
    for i in range(L):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(p + "attention.self." + n, x).view(len(seqs), T, H, D).transpose(1, 2) for n in ("query", "key", "value"))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + bias, dim=-1) @ v
        x = ln(x + lin(p + "attention.output.dense", a.transpose(1, 2).reshape(len(seqs), T, C)), p + "attention.output.LayerNorm")
        x = ln(x + lin(p + "output.dense", torch.nn.functional.gelu(lin(p + "intermediate.dense", x))), p + "output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return torch.nn.functional.normalize(pooled, dim=-1)

anchors, positives = json.load(open(os.path.join(out, "steps.json")))
tokens, t0 = 0, None
for s, (a, p) in enumerate(zip(anchors, positives)):
    if s == 2:
        t0 = time.time()
    if s >= 2:
        tokens += sum(len(x) for x in a) + sum(len(x) for x in p)
    scores = 20.0 * encode(a) @ encode(p).T
    loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(a)))
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"PyTorch  {tokens / (time.time() - t0):.0f} tokens/s ({len(anchors) - 2} steps, {threads} threads, torch {torch.__version__})")
