"""PEFT interop fixtures: adapters made by Hugging Face PEFT that lora4j must read, and adapters made by
lora4j that PEFT must read, each with the loss PEFT computes with it.

Writes lora4j-core/src/test/resources/fixtures/peft/ (CI only reads what is committed there; it never needs PEFT):
  gpt2/, llama/            tiny random models saved by transformers 5 (save_pretrained, safetensors); the
                           Llama one stores rope_theta 500000 inside transformers 5's rope_parameters
  data.jsonl               6 examples of 12 token ids
  <name>/                  a PEFT adapter (adapter_config.json, adapter_model.safetensors), random A and
                           B (init_lora_weights=False) so that it changes the output
  lora4j-<model>/          an adapter trained by lora4j (2 AdamW steps), read back by PEFT
  expected.json            for each adapter: its model and the mean causal-LM loss over data.jsonl that
                           PEFT computes with the adapter applied (as HF computes it: labels = input_ids)

The lora4j direction needs a built lora4j (bin/lora4j) and checks on the spot that lora4j's own `eval
--adapter` loss equals PEFT's; the test then holds lora4j to PEFT's figure for every adapter here.

Usage (PEFT, transformers and torch from the package registry, in a virtual environment):
  python3 -m venv /tmp/peft-env && /tmp/peft-env/bin/pip install torch transformers peft
  /tmp/peft-env/bin/python reference/peft/make_peft_fixtures.py
Made with torch 2.13, transformers 5.18, peft 0.21.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "lora4j-core", "src", "test", "resources", "fixtures", "peft")


def models():
    torch.manual_seed(0)
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                      bos_token_id=0, eos_token_id=0))
    llama = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                         tie_word_embeddings=False, rope_parameters={"rope_type": "default", "rope_theta": 500000.0}))
    for m in (gpt2, llama):
        with torch.no_grad():  # larger than the default init, so that differences show in the loss
            for p in m.parameters():
                if p.dim() == 2:
                    p.normal_(0, 0.2)
    return {"gpt2": gpt2, "llama": llama}


# name: (model, LoraConfig arguments)
ADAPTERS = {
    "gpt2-c_attn": ("gpt2", dict(r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True)),
    "gpt2-rslora-patterns": ("gpt2", dict(r=4, lora_alpha=16, target_modules=["c_attn", "c_proj", "c_fc"], fan_in_fan_out=True,
                                          use_rslora=True, rank_pattern={"h.1.mlp.c_proj": 2}, alpha_pattern={"c_fc": 4})),
    "llama-q-v": ("llama", dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"])),
    "llama-all-linear": ("llama", dict(r=4, lora_alpha=8, target_modules="all-linear",
                                       rank_pattern={"down_proj": 2}, alpha_pattern={"k_proj": 2})),
    "llama-layer1": ("llama", dict(r=2, lora_alpha=2, target_modules=["q_proj", "o_proj", "up_proj"], layers_to_transform=[1])),
}


def data():
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 64, (6, 12), generator=g)


def peft_loss(model, ids):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids, labels=ids).loss.item()


def lora4j(*args):
    r = subprocess.run([os.path.join(ROOT, "bin", "lora4j"), *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"lora4j {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    ms = models()
    for name, m in ms.items():
        m.save_pretrained(os.path.join(OUT, name))
    ids = data()
    data_file = os.path.join(OUT, "data.jsonl")
    with open(data_file, "w") as f:
        for row in ids.tolist():
            f.write(json.dumps({"input_ids": row}) + "\n")
    expected = {}
    for name, (base, kwargs) in ADAPTERS.items():
        torch.manual_seed(2)
        fresh = models()[base]
        peft_model = get_peft_model(fresh, LoraConfig(init_lora_weights=False, lora_dropout=0.0, **kwargs))
        peft_model.save_pretrained(os.path.join(OUT, name))
        expected[name] = {"model": base, "loss": peft_loss(peft_model, ids), "base_loss": peft_loss(models()[base], ids)}
        print(f"{name}: PEFT loss {expected[name]['loss']:.6f} (base {expected[name]['base_loss']:.6f})")
    # The other direction: lora4j trains, PEFT reads.
    for base, targets in (("llama", "q_proj,v_proj,down_proj"), ("gpt2", "c_attn,c_fc")):
        name = f"lora4j-{base}"
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "adapter")
            lora4j("train", "--model", os.path.join(OUT, base), "--data", data_file, "--out", out, "--r", "4",
                   "--alpha", "8", "--target", targets, "--steps", "2", "--lr", "0.05", "--batch-size", "6",
                   "--seq-len", "12", "--seed", "3", "--threads", "1")
            os.makedirs(os.path.join(OUT, name))
            for f in ("adapter_config.json", "adapter_model.safetensors"):
                shutil.copy(os.path.join(out, f), os.path.join(OUT, name, f))
        peft_model = PeftModel.from_pretrained(models()[base], os.path.join(OUT, name))
        loss = peft_loss(peft_model, ids)
        ours = json.loads(lora4j("eval", "--model", os.path.join(OUT, base), "--data", data_file, "--seq-len", "12",
                                 "--adapter", os.path.join(OUT, name), "--json").strip().splitlines()[-1])["loss"]
        print(f"{name}: PEFT loss {loss:.6f}, lora4j's own {ours:.6f}")
        if abs(loss - ours) > 1e-5:
            sys.exit(f"{name}: PEFT reads lora4j's adapter differently: loss {loss} vs lora4j's {ours}")
        expected[name] = {"model": base, "loss": loss, "base_loss": peft_loss(models()[base], ids)}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
