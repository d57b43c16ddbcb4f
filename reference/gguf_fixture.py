"""GGUF files lora4j did not write: a small random Llama (widths of 256, so the K-quants apply) written
from the GGUF format's definition with the block quantizers of quant_fixture.py, in Q4_K or Q5_K (matrices)
with Q6_K (token embeddings), as llama.cpp's own Q4_K_M and Q5_K_M mix them. Weights have
std 1/sqrt(fan_in) (spread like trained ones, so a wrong q/k row order shows at once). The vocabulary is
the bundled model's tokenizer.json (byte-level BPE, 511 tokens) as llama.cpp's "gpt2" vocabulary.

Also the bundled model (models/lora4j-stories, trained: its predictions are confident, so an argmax
comparison with llama.cpp means something) in Q4_0, every matrix but the norms.

Writes lora4j-core/src/test/resources/fixtures/gguf/random-llama-q4_k.gguf, random-llama-q5_k.gguf and stories-q4_0.gguf.

    /usr/bin/python3 reference/gguf_fixture.py
"""
import json
import os
import struct

import numpy as np

import make_fixtures
import quant_fixture as q

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "lora4j-core", "src", "test", "resources", "fixtures", "gguf")
F32, F16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K = 0, 1, 2, 8, 12, 13, 14
DIM, FFN, LAYERS, HEADS, KV, VOCAB, CTX = 256, 512, 2, 4, 2, 511, 256


def permute(w, heads):
    """HF's q/k rows to llama.cpp's order: each head's two halves interleaved."""
    out, inp = w.shape
    return w.reshape(heads, 2, out // heads // 2, inp).swapaxes(1, 2).reshape(out, inp)


def encode(w, t):
    if t == F32:
        return w.astype(np.float32).tobytes()
    fn = {Q4_0: q.q4_0, Q8_0: q.q8_0, Q4_K: q.q4_k, Q5_K: q.q5_k, Q6_K: q.q6_k}[t]
    return bytes(fn(w.astype(np.float32))[0])


def kv(key, value):
    k = key.encode()
    head = struct.pack("<Q", len(k)) + k
    if isinstance(value, str):
        v = value.encode()
        return head + struct.pack("<IQ", 8, len(v)) + v
    if isinstance(value, float):
        return head + struct.pack("<If", 6, value)
    if isinstance(value, bool):
        return head + struct.pack("<IB", 7, value)
    if isinstance(value, int):
        return head + struct.pack("<II", 4, value)
    if isinstance(value, list) and isinstance(value[0], str):
        body = b"".join(struct.pack("<Q", len(s.encode())) + s.encode() for s in value)
        return head + struct.pack("<IIQ", 9, 8, len(value)) + body
    if isinstance(value, list):
        return head + struct.pack("<IIQ", 9, 5, len(value)) + struct.pack(f"<{len(value)}i", *value)
    raise TypeError(key)


def write(path, metadata, tensors):
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    header += b"".join(kv(k, v) for k, v in metadata.items())
    offset, infos, blobs = 0, b"", []
    for name, shape, t, data in tensors:
        n = name.encode()
        infos += struct.pack("<Q", len(n)) + n + struct.pack("<I", len(shape)) + struct.pack(f"<{len(shape)}Q", *reversed(shape))
        infos += struct.pack("<IQ", t, offset)
        blobs.append((offset, data))
        offset = (offset + len(data) + 31) // 32 * 32
    head = header + infos
    head += b"\0" * ((len(head) + 31) // 32 * 32 - len(head))
    body = bytearray(offset)
    for at, data in blobs:
        body[at:at + len(data)] = data
    with open(path, "wb") as f:
        f.write(head + bytes(body))


def main():
    rng = np.random.default_rng(22)
    tok = json.load(open(os.path.join(ROOT, "models", "lora4j-stories", "tokenizer.json")))
    tokens = [None] * VOCAB
    for s, i in tok["model"]["vocab"].items():
        tokens[i] = s
    types = [1] * VOCAB
    for a in tok["added_tokens"]:
        tokens[a["id"]], types[a["id"]] = a["content"], 3
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]

    def normal(out, inp):
        return (rng.standard_normal((out, inp)) / np.sqrt(inp)).astype(np.float32)

    hd = DIM // HEADS
    weights = [("token_embd.weight", normal(VOCAB, DIM)), ("output_norm.weight", (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32))]
    for i in range(LAYERS):
        p = f"blk.{i}."
        weights += [(p + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)),
                    (p + "ffn_norm.weight", (1 + 0.1 * rng.standard_normal(DIM)).astype(np.float32)),
                    (p + "attn_q.weight", permute(normal(HEADS * hd, DIM), HEADS)),
                    (p + "attn_k.weight", permute(normal(KV * hd, DIM), KV)),
                    (p + "attn_v.weight", normal(KV * hd, DIM)),
                    (p + "attn_output.weight", normal(DIM, HEADS * hd)),
                    (p + "ffn_gate.weight", normal(FFN, DIM)),
                    (p + "ffn_up.weight", normal(FFN, DIM)),
                    (p + "ffn_down.weight", normal(DIM, FFN))]
    os.makedirs(OUT, exist_ok=True)
    for label, matrix, embed, file_type in (("q4_k", Q4_K, Q6_K, 15), ("q5_k", Q5_K, Q6_K, 17)):
        metadata = {"general.architecture": "llama", "general.name": "random-llama-" + label, "general.file_type": file_type,
                    "llama.context_length": CTX, "llama.embedding_length": DIM, "llama.block_count": LAYERS,
                    "llama.feed_forward_length": FFN, "llama.attention.head_count": HEADS, "llama.attention.head_count_kv": KV,
                    "llama.rope.dimension_count": hd, "llama.rope.freq_base": 10000.0, "llama.attention.layer_norm_rms_epsilon": 1e-5,
                    "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2", "tokenizer.ggml.tokens": tokens,
                    "tokenizer.ggml.token_type": types, "tokenizer.ggml.merges": merges,
                    "tokenizer.ggml.bos_token_id": 510, "tokenizer.ggml.eos_token_id": 510}
        tensors = []
        for name, w in weights:
            t = F32 if w.ndim == 1 else embed if name == "token_embd.weight" else matrix
            tensors.append((name, list(w.shape), t, encode(w, t)))
        path = os.path.join(OUT, f"random-llama-{label}.gguf")
        write(path, metadata, tensors)
        print(path, os.path.getsize(path))


def stories_q4_0():
    d = os.path.join(ROOT, "models", "lora4j-stories")
    cfg = json.load(open(os.path.join(d, "config.json")))
    tok = json.load(open(os.path.join(d, "tokenizer.json")))
    w = {k: v.numpy() for k, v in make_fixtures.load_safetensors(os.path.join(d, "model.safetensors")).items()}
    vocab, dim, heads, kv = cfg["vocab_size"], cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    tokens, types = [None] * vocab, [1] * vocab
    for s_, i in tok["model"]["vocab"].items():
        tokens[i] = s_
    for a in tok["added_tokens"]:
        tokens[a["id"]], types[a["id"]] = a["content"], 3
    metadata = {"general.architecture": "llama", "general.name": "lora4j-stories-q4_0", "general.file_type": 2,
                "llama.context_length": cfg["max_position_embeddings"], "llama.embedding_length": dim,
                "llama.block_count": cfg["num_hidden_layers"], "llama.feed_forward_length": cfg["intermediate_size"],
                "llama.attention.head_count": heads, "llama.attention.head_count_kv": kv, "llama.rope.dimension_count": dim // heads,
                "llama.rope.freq_base": float(cfg["rope_theta"]), "llama.attention.layer_norm_rms_epsilon": float(cfg["rms_norm_eps"]),
                "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2", "tokenizer.ggml.tokens": tokens,
                "tokenizer.ggml.token_type": types, "tokenizer.ggml.merges": [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]],
                "tokenizer.ggml.bos_token_id": cfg["bos_token_id"], "tokenizer.ggml.eos_token_id": cfg["eos_token_id"]}
    names = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    tensors = [("token_embd.weight", [vocab, dim], Q4_0, encode(w["model.embed_tokens.weight"], Q4_0)),
               ("output_norm.weight", [dim], F32, encode(w["model.norm.weight"], F32))]
    for i in range(cfg["num_hidden_layers"]):
        for hf, g in names.items():
            x = w[f"model.layers.{i}.{hf}.weight"]
            if hf.endswith("q_proj"):
                x = permute(x, heads)
            if hf.endswith("k_proj"):
                x = permute(x, kv)
            t = F32 if x.ndim == 1 else Q4_0
            tensors.append((f"blk.{i}.{g}.weight", list(x.shape), t, encode(x, t)))
    path = os.path.join(OUT, "stories-q4_0.gguf")
    write(path, metadata, tensors)
    print(path, os.path.getsize(path))


if __name__ == "__main__":
    stories_q4_0()
    main()
