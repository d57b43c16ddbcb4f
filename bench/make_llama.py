"""A random Llama checkpoint of about 134M parameters (width 768, 12 layers, 12 heads, MLP 2048, vocabulary
32000, untied head), for decode benchmarks against llama.cpp. Weights have std 1/sqrt(fan_in); the
tokenizer is the bundled model's (padded to the vocabulary with unused tokens when exported to GGUF).

    /usr/bin/python3 bench/make_llama.py --out DIR [--dtype f32|bf16]
"""
import argparse
import json
import os
import shutil
import struct

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DIM, LAYERS, HEADS, FFN, VOCAB = 768, 12, 12, 2048, 32000


def save(path, tensors, dtype):
    header, blobs, at = {}, [], 0
    for name, a in tensors.items():
        if dtype == "bf16":
            b = (a.astype(np.float32).view(np.uint32) + 0x7FFF + ((a.astype(np.float32).view(np.uint32) >> 16) & 1)) >> 16
            data = b.astype(np.uint16).tobytes()
        else:
            data = a.astype(np.float32).tobytes()
        header[name] = {"dtype": "BF16" if dtype == "bf16" else "F32", "shape": list(a.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    args = ap.parse_args()
    rng = np.random.default_rng(0)

    def normal(out, inp):
        return (rng.standard_normal((out, inp), dtype=np.float32) / np.sqrt(inp)).astype(np.float32)

    t = {"model.embed_tokens.weight": normal(VOCAB, DIM), "model.norm.weight": np.ones(DIM, np.float32), "lm_head.weight": normal(VOCAB, DIM)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = np.ones(DIM, np.float32)
        t[p + "post_attention_layernorm.weight"] = np.ones(DIM, np.float32)
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            t[p + "self_attn." + n + ".weight"] = normal(DIM, DIM)
        t[p + "mlp.gate_proj.weight"] = normal(FFN, DIM)
        t[p + "mlp.up_proj.weight"] = normal(FFN, DIM)
        t[p + "mlp.down_proj.weight"] = normal(DIM, FFN)
    os.makedirs(args.out, exist_ok=True)
    save(os.path.join(args.out, "model.safetensors"), t, args.dtype)
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": DIM, "intermediate_size": FFN,
           "num_attention_heads": HEADS, "num_key_value_heads": HEADS, "num_hidden_layers": LAYERS, "vocab_size": VOCAB,
           "max_position_embeddings": 1024, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
           "hidden_act": "silu", "bos_token_id": 510, "eos_token_id": 510, "torch_dtype": "bfloat16" if args.dtype == "bf16" else "float32"}
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    shutil.copy(os.path.join(ROOT, "models", "lora4j-stories", "tokenizer.json"), os.path.join(args.out, "tokenizer.json"))
    print(args.out, sum(a.size for a in t.values()), "parameters")


if __name__ == "__main__":
    main()
