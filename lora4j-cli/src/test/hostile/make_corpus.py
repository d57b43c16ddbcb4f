#!/usr/bin/env python3
"""Writes the hostile-input corpus that HostileCorpusTest runs (lora4j-cli/src/test/resources/hostile).

A micro Llama (base/model: config, random weights, a SentencePiece-style BPE tokenizer, a chat template),
good data (base/data.jsonl) and a good adapter (base/adapter) are the starting point; every case overlays
a few hostile files on copies of them (cases/ID/model, cases/ID/adapter, cases/ID/data.*) and runs one
lora4j command. cases.json lists, per case: the command line (with {model}, {adapter}, {data}, {out},
{case} filled in by the test), the exit codes accepted, text stderr must contain (the file, tensor, field or
option named), and an optional file-size limit in KiB (a full disk). Every case must end within its time
bound, in a child JVM with a small heap, with no stack trace.

Run: python3 lora4j-cli/src/test/hostile/make_corpus.py   (only the standard library; deterministic)
"""
import json
import os
import random
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
OUT = os.path.join(ROOT, "lora4j-cli", "src", "test", "resources", "hostile")
TOKENIZER = os.path.join(ROOT, "lora4j-core", "src", "test", "resources", "fixtures", "tokenizers", "sp-bpe", "tokenizer.json")

rng = random.Random(20261203)
CONFIG = {
    "model_type": "llama", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
    "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 335, "max_position_embeddings": 64,
    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False, "hidden_act": "silu",
    "bos_token_id": 1, "eos_token_id": 2,
}


def shapes(c):
    h, i, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    hd = h // c["num_attention_heads"]
    kv = hd * c["num_key_value_heads"]
    s = {"model.embed_tokens.weight": [v, h], "model.norm.weight": [h], "lm_head.weight": [v, h]}
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        s.update({p + "input_layernorm.weight": [h], p + "post_attention_layernorm.weight": [h],
                  p + "self_attn.q_proj.weight": [h, h], p + "self_attn.k_proj.weight": [kv, h],
                  p + "self_attn.v_proj.weight": [kv, h], p + "self_attn.o_proj.weight": [h, h],
                  p + "mlp.gate_proj.weight": [i, h], p + "mlp.up_proj.weight": [i, h], p + "mlp.down_proj.weight": [h, i]})
    return s


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def values(name, shape):
    if name.endswith("norm.weight"):
        return [1.0] * numel(shape)
    return [rng.gauss(0, 0.2) for _ in range(numel(shape))]


def safetensors(tensors, metadata=None):
    """tensors: name -> (dtype, shape, raw bytes). Written as the format defines: offsets in order, no gaps."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return raw_file(json.dumps(header).encode(), data)


def raw_file(header_bytes, data, header_len=None):
    pad = (8 - len(header_bytes) % 8) % 8
    header_bytes += b" " * pad
    return struct.pack("<Q", len(header_bytes) if header_len is None else header_len) + header_bytes + data


def f32(vals):
    return struct.pack(f"<{len(vals)}f", *vals)


def model_tensors(c=CONFIG, override=None):
    t = {}
    for name, shape in shapes(c).items():
        t[name] = ("F32", shape, f32(values(name, shape)))
    if override:
        t.update(override)
    return t


cases = []


def write(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode("utf-8"))


def case(cid, family, args, names, files=None, codes=(1, 2), fsize_kib=None, remove=(), note=None, absent=None):
    """files: relative path in the case (model/..., adapter/..., data.jsonl, ...) -> bytes or str."""
    d = os.path.join(OUT, "cases", cid)
    for rel, content in (files or {}).items():
        write(os.path.join(d, rel), content)
    entry = {"id": cid, "family": family, "args": args, "codes": list(codes), "stderr": names}
    if fsize_kib:
        entry["fsize_kib"] = fsize_kib
    if remove:
        entry["remove"] = list(remove)
    if note:
        entry["note"] = note
    # a refused command leaves no output behind (nothing half-written)
    entry["absent"] = list(absent) if absent is not None else (["{out}"] if "{out}" in args and 0 not in codes else [])
    cases.append(entry)


def cfg(**changes):
    c = dict(CONFIG)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return json.dumps(c)


EVAL = ["eval", "--model", "{model}", "--data", "{data}", "--seq-len", "16"]
GEN = ["generate", "--model", "{model}", "--prompt", "Once upon", "--max-new-tokens", "3", "--temperature", "0"]
TRAIN = ["train", "--model", "{model}", "--data", "{data}", "--out", "{out}", "--steps", "1", "--batch-size", "2", "--seq-len", "16"]
ADAPT = ["generate", "--model", "{model}", "--adapter", "{adapter}", "--prompt", "Once", "--max-new-tokens", "2", "--temperature", "0"]
MERGE = ["merge", "--model", "{model}", "--adapter", "{adapter}", "--out", "{out}"]


def base():
    shutil.rmtree(OUT, ignore_errors=True)
    b = os.path.join(OUT, "base")
    write(os.path.join(b, "model", "config.json"), json.dumps(CONFIG, indent=1))
    write(os.path.join(b, "model", "model.safetensors"), safetensors(model_tensors(), {"format": "pt"}))
    shutil.copy(TOKENIZER, os.path.join(b, "model", "tokenizer.json"))
    write(os.path.join(b, "model", "tokenizer_config.json"), json.dumps({
        "bos_token": "<s>", "eos_token": "</s>",
        "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"}))
    write(os.path.join(b, "data.jsonl"), "".join(json.dumps({"text": t}) + "\n" for t in
                                                 ["Once upon a time there was a cat.", "The dog ran to the park.",
                                                  "She saw a big red ball.", "They played all day long."]))
    write(os.path.join(b, "adapter", "adapter_config.json"), json.dumps(adapter_config()))
    write(os.path.join(b, "adapter", "adapter_model.safetensors"), safetensors(adapter_tensors()))


def adapter_config(**changes):
    c = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj", "v_proj"],
         "base_model_name_or_path": "micro", "bias": "none", "task_type": "CAUSAL_LM"}
    c.update(changes)
    return c


def adapter_tensors(r=2, prefix="base_model.model.", key=""):
    t = {}
    h = CONFIG["hidden_size"]
    kv = h // CONFIG["num_attention_heads"] * CONFIG["num_key_value_heads"]
    for mod, out in (("q_proj", h), ("v_proj", kv)):
        p = f"{prefix}model.layers.0.self_attn.{mod}"
        t[f"{p}.lora_A{key}.weight"] = ("F32", [r, h], f32([rng.gauss(0, 0.1) for _ in range(r * h)]))
        t[f"{p}.lora_B{key}.weight"] = ("F32", [out, r], f32([rng.gauss(0, 0.1) for _ in range(out * r)]))
    return t


def model_file_cases():
    F = "model files"
    bad_configs = {
        "config-not-json": ("{", ["config.json"]),
        "config-array": ("[]", ["config.json"]),
        "config-missing-hidden-size": (cfg(hidden_size=None), ["config.json", "hidden_size"]),
        "config-negative-layers": (cfg(num_hidden_layers=-1), ["config.json", "num_hidden_layers"]),
        "config-zero-heads": (cfg(num_attention_heads=0), ["config.json", "num_attention_heads"]),
        "config-heads-do-not-divide": (cfg(num_attention_heads=3), ["config.json", "num_attention_heads"]),
        "config-kv-heads-do-not-divide": (cfg(num_key_value_heads=3), ["config.json", "num_key_value_heads"]),
        "config-vocab-2^31": (cfg(vocab_size=2147483647), ["config.json"]),
        "config-vocab-overflows-int": (cfg(vocab_size=4294967296), ["config.json", "vocab_size"]),
        "config-hidden-1e9": (cfg(hidden_size=1000000000), ["config.json"]),
        "config-layers-float": (cfg(num_hidden_layers=1.5), ["config.json", "num_hidden_layers"]),
        "config-hidden-string": (cfg(hidden_size="16"), ["config.json", "hidden_size"]),
        "config-eps-infinite": (cfg(rms_norm_eps=1e999).replace("Infinity", "1e999"), ["config.json", "rms_norm_eps"]),
        "config-eps-negative": (cfg(rms_norm_eps=-1), ["config.json", "rms_norm_eps"]),
        "config-rope-theta-zero": (cfg(rope_theta=0), ["config.json", "rope_theta"]),
        "config-unknown-model-type": (cfg(model_type="bert9"), ["config.json", "bert9"]),
        "config-max-positions-zero": (cfg(max_position_embeddings=0), ["config.json", "max_position_embeddings"]),
        "config-rope-scaling-negative": (cfg(rope_scaling={"rope_type": "llama3", "factor": -1, "low_freq_factor": 1,
                                                           "high_freq_factor": 4, "original_max_position_embeddings": 16}),
                                         ["config.json", "rope_scaling"]),
        "config-unknown-activation": (cfg(hidden_act="relu9"), ["config.json", "relu9"]),
        "config-layers-2^31": (cfg(num_hidden_layers=2147483647), ["missing tensor"]),
    }
    for cid, (content, names) in bad_configs.items():
        case(cid, F, EVAL, names, {"model/config.json": content})

    good = model_tensors()
    hdr = {n: {"dtype": d, "shape": s} for n, (d, s, _) in good.items()}

    def st_header(mutate):
        """A model file whose header is mutated after the offsets are laid out."""
        h, data = {}, b""
        for name, (dtype, shape, raw) in good.items():
            h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
            data += raw
        mutate(h)
        return raw_file(json.dumps(h).encode(), data)

    first = next(iter(good))
    second = list(good)[1]
    size0 = len(good[first][2])
    st = {
        "st-empty": (b"", ["model.safetensors"]),
        "st-four-bytes": (b"\x08\x00\x00\x00", ["model.safetensors"]),
        "st-header-length-2^62": (struct.pack("<Q", 1 << 62) + b"{}", ["model.safetensors", "header"]),
        "st-header-length-past-end": (struct.pack("<Q", 4096) + b"{}      ", ["model.safetensors", "header"]),
        "st-header-not-json": (raw_file(b"{not json", b""), ["model.safetensors"]),
        "st-header-array": (raw_file(b"[1, 2]", b""), ["model.safetensors"]),
        "st-bytes-after-header-json": (raw_file(b'{"__metadata__": {}} xyz', b""), ["model.safetensors"]),
        "st-unknown-dtype": (st_header(lambda h: h[first].update(dtype="F128")), ["model.safetensors", first]),
        "st-negative-dim": (st_header(lambda h: h[first].update(shape=[-335, -16])), ["model.safetensors", first]),
        "st-fractional-dim": (st_header(lambda h: h[first].update(shape=[335.5, 16])), ["model.safetensors", first]),
        "st-shape-product-overflows": (st_header(lambda h: h[first].update(shape=[1 << 40, 1 << 40])), ["model.safetensors", first]),
        "st-offsets-past-end": (st_header(lambda h: h[first].update(data_offsets=[0, 1 << 40])), ["model.safetensors", first]),
        "st-offsets-reversed": (st_header(lambda h: h[first].update(data_offsets=[size0, 0])), ["model.safetensors", first]),
        "st-offsets-overlap": (st_header(lambda h: h[second].update(data_offsets=[h[second]["data_offsets"][0] - 8, h[second]["data_offsets"][1] - 8])),
                               ["model.safetensors"]),
        "st-size-does-not-match-shape": (st_header(lambda h: h[first].update(shape=[335, 15])), ["model.safetensors", first]),
        "st-offsets-not-numbers": (st_header(lambda h: h[first].update(data_offsets=["0", "x"])), ["model.safetensors", first]),
        "st-metadata-not-strings": (st_header(lambda h: h.update(__metadata__={"format": 1})), ["model.safetensors", "__metadata__"]),
        "st-tensor-entry-not-object": (st_header(lambda h: h.update({first: 5})), ["model.safetensors", first]),
    }
    for cid, (content, names) in st.items():
        case(cid, F, EVAL, names, {"model/model.safetensors": content})
    # a gap and an uncovered tail: bytes no tensor owns
    h, data = {}, b""
    for i, (name, (dtype, shape, raw)) in enumerate(good.items()):
        if i == 1:
            data += b"\0" * 8
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    case("st-gap-between-tensors", F, EVAL, ["model.safetensors"], {"model/model.safetensors": raw_file(json.dumps(h).encode(), data)})
    case("st-bytes-after-last-tensor", F, EVAL, ["model.safetensors"],
         {"model/model.safetensors": safetensors(good)[:] + b"\0" * 16})
    # a duplicated name in the header JSON
    hj = json.dumps({first: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})
    dup = hj[:-1] + ", " + json.dumps(first) + ": " + json.dumps({"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}) + "}"
    case("st-duplicate-tensor-name", F, EVAL, ["model.safetensors", first], {"model/model.safetensors": raw_file(dup.encode(), b"\0" * 8)})
    missing = dict(good)
    del missing["model.norm.weight"]
    case("st-missing-tensor", F, EVAL, ["model.norm.weight"], {"model/model.safetensors": safetensors(missing)})
    wrong = dict(good)
    wrong["model.layers.0.self_attn.q_proj.weight"] = ("F32", [16, 8], f32([0.0] * 128))
    case("st-wrong-shape", F, EVAL, ["q_proj"], {"model/model.safetensors": safetensors(wrong)})
    ints = dict(good)
    ints["model.norm.weight"] = ("I32", [16], struct.pack("<16i", *range(16)))
    case("st-integer-weight", F, EVAL, ["model.norm.weight"], {"model/model.safetensors": safetensors(ints)})
    nan = dict(good)
    nan["model.layers.0.mlp.up_proj.weight"] = ("F32", [32, 16], f32([float("nan")] * 512))
    case("st-nan-weights-eval", F, EVAL, ["model.layers.0.mlp.up_proj.weight"], {"model/model.safetensors": safetensors(nan)})
    case("st-nan-weights-generate", F, GEN, ["model.layers.0.mlp.up_proj.weight"], {"model/model.safetensors": safetensors(nan)})
    # shards
    index = lambda m: json.dumps({"metadata": {}, "weight_map": m})
    case("shard-path-escapes", F, EVAL, ["model.safetensors.index.json", "../"],
         {"model/model.safetensors.index.json": index({n: "../../../etc/passwd" for n in good})}, remove=["model/model.safetensors"])
    case("shard-absolute-path", F, EVAL, ["model.safetensors.index.json", "/etc/passwd"],
         {"model/model.safetensors.index.json": index({n: "/etc/passwd" for n in good})}, remove=["model/model.safetensors"])
    case("shard-missing-file", F, EVAL, ["model-00001-of-00002.safetensors"],
         {"model/model.safetensors.index.json": index({n: "model-00001-of-00002.safetensors" for n in good})}, remove=["model/model.safetensors"])
    case("shard-index-not-json", F, EVAL, ["model.safetensors.index.json"],
         {"model/model.safetensors.index.json": "{\"weight_map\": "}, remove=["model/model.safetensors"])
    case("shard-index-map-not-object", F, EVAL, ["model.safetensors.index.json", "weight_map"],
         {"model/model.safetensors.index.json": "{\"weight_map\": [1, 2]}"}, remove=["model/model.safetensors"])
    case("pickle-only", F, EVAL, ["pytorch_model.bin"], {"model/pytorch_model.bin": b"\x80\x04\x95cos\nsystem\n"},
         remove=["model/model.safetensors"])
    case("model-dir-missing", F, ["eval", "--model", "{case}/nowhere", "--data", "{data}"], ["nowhere"])


def byte_level(regex):
    """A GPT-2-style byte-level BPE (256 byte tokens, no merges) whose pre-tokenizer splits with regex, as Llama 3's does."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 256, "content": "</s>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {table[b]: b for b in range(256)}, "merges": []}})


def tokenizer_cases():
    F = "tokenizers"
    with open(TOKENIZER, encoding="utf-8") as f:
        tok = json.load(f)

    def t(mutate):
        c = json.loads(json.dumps(tok))
        mutate(c)
        return json.dumps(c)

    def setm(**kv):
        return lambda c: c["model"].update(kv)

    cases_ = {
        "tok-not-json": ("{\"model\": ", ["tokenizer.json"]),
        "tok-unknown-model-type": (t(setm(type="Unigram9")), ["tokenizer.json", "Unigram9"]),
        "tok-vocab-id-4e8": (t(lambda c: c["model"]["vocab"].update({"zz": 400000000})), ["tokenizer.json", "400000000"]),
        "tok-vocab-id-negative": (t(lambda c: c["model"]["vocab"].update({"zz": -5})), ["tokenizer.json", "-5"]),
        "tok-vocab-id-not-number": (t(lambda c: c["model"]["vocab"].update({"zz": "x"})), ["tokenizer.json", "zz"]),
        "tok-vocab-not-object": (t(setm(vocab=[1, 2])), ["tokenizer.json", "vocab"]),
        "tok-merge-of-unknown-tokens": (t(lambda c: c["model"]["merges"].append("qqq zzz")), ["tokenizer.json", "qqq"]),
        "tok-merge-malformed": (t(lambda c: c["model"]["merges"].append("lonely")), ["tokenizer.json", "lonely"]),
        "tok-merges-not-list": (t(setm(merges=5)), ["tokenizer.json", "merges"]),
        "tok-added-token-id-huge": (t(lambda c: c["added_tokens"].append({"id": 2000000000, "content": "<x>", "special": True})),
                                    ["tokenizer.json", "2000000000"]),
        "tok-added-token-empty": (t(lambda c: c["added_tokens"].append({"id": 3, "content": "", "special": True})), ["tokenizer.json"]),
        "tok-unknown-normalizer": (t(lambda c: c.update(normalizer={"type": "Klingon"})), ["tokenizer.json", "Klingon"]),
        "tok-unknown-pre-tokenizer": (t(lambda c: c.update(pre_tokenizer={"type": "Klingon"})), ["tokenizer.json", "Klingon"]),
        "tok-unknown-decoder": (t(lambda c: c.update(decoder={"type": "Klingon"})), ["tokenizer.json", "Klingon"]),
        "tok-post-processor-unknown-token": (t(lambda c: c["post_processor"]["special_tokens"].update(
            {"<zz>": {"id": "<zz>", "ids": [99999999], "tokens": ["<zz>"]}}) or c["post_processor"]["single"].insert(0, {"SpecialToken": {"id": "<zz>", "type_id": 0}})),
                                             ["99999999"]),
    }
    for cid, (content, names) in cases_.items():
        case(cid, F, EVAL, names, {"model/tokenizer.json": content})
    # catastrophic backtracking: ((a+)+)+b over a long run of a's must end (error or result) within the time bound
    case("tok-invalid-regex", F, EVAL, ["tokenizer.json", "Split"], {"model/tokenizer.json": byte_level("((")})
    case("tok-catastrophic-regex", F, EVAL, ["tokenizer.json", "catastrophic backtracking"], {"model/tokenizer.json": byte_level("((a+)+)+b"),
                                                            "data.jsonl": json.dumps({"text": "a" * 5000 + "!"}) + "\n"},
         codes=(0, 1), note="accepted or refused within the bound: the regex runs with a work limit")
    many = t(lambda c: c["added_tokens"].extend({"id": 3 + i, "content": f"<tok{i:03d}>", "special": False} for i in range(300)))
    line = "".join(rng.choice(["<tok%03d>" % rng.randrange(300), "ab ", "c"]) for _ in range(40000))
    case("tok-300-added-tokens-long-line", F, EVAL, ["loss"], {"model/tokenizer.json": many, "data.jsonl": json.dumps({"text": line}) + "\n"},
         codes=(0,), note="accepted: added-token matching is linear, 300 tokens over a 200 KB line")
    # chat templates (tokenizer_config.json) are untrusted code: no files, no Java, bounded work
    templates = {
        "tpl-include-passwd": "{% include '/etc/passwd' %}",
        "tpl-import": "{% import 'x.html' as x %}{{ x }}",
        "tpl-extends": "{% extends '/etc/hosts' %}",
        "tpl-get-class": "{{ ''.getClass().forName('java.lang.Runtime') }}",
        "tpl-interpreter": "{{ ____int3rpr3t3r____ }}",
        "tpl-nested-loops": "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}x{% endfor %}{% endfor %}{% endfor %}",
        "tpl-string-doubling": "{% set s = 'aa' %}{% for i in range(64) %}{% set s = s ~ s %}{% endfor %}{{ s }}",
        "tpl-syntax-error": "{% for m in messages %}{{ m['content'] }",
        "tpl-recursive-macro": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    }
    chat = ["eval", "--model", "{model}", "--data", "{case}/chat.jsonl"]
    messages = json.dumps({"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi there"}]}) + "\n"
    for cid, tpl in templates.items():
        case(cid, "chat templates", chat, ["template"],
             {"model/tokenizer_config.json": json.dumps({"bos_token": "<s>", "eos_token": "</s>", "chat_template": tpl}), "chat.jsonl": messages},
             codes=(1,))
    case("tpl-not-a-string", "chat templates", chat, ["tokenizer_config.json", "chat_template"],
         {"model/tokenizer_config.json": json.dumps({"eos_token": "</s>", "chat_template": 123}), "chat.jsonl": messages})
    case("tokenizer-config-not-json", "chat templates", chat, ["tokenizer_config.json"], {"model/tokenizer_config.json": "{", "chat.jsonl": messages})


def data_cases():
    F = "data"
    d = {
        "data-empty-file": ("data.jsonl", "", ["data.jsonl"]),
        "data-blank-lines-only": ("data.jsonl", "\n\n  \n", ["data.jsonl"]),
        "data-not-json": ("data.jsonl", "{\"text\": \"ok\"}\nnot json\n", ["data.jsonl:2"]),
        "data-array-line": ("data.jsonl", "[1, 2, 3]\n", ["data.jsonl:1"]),
        "data-ids-out-of-range": ("data.jsonl", "{\"input_ids\": [1, 5, 335]}\n", ["data.jsonl:1", "335"]),
        "data-ids-negative": ("data.jsonl", "{\"input_ids\": [1, -4, 7]}\n", ["data.jsonl:1", "-4"]),
        "data-ids-fractional": ("data.jsonl", "{\"input_ids\": [1, 2.5, 7]}\n", ["data.jsonl:1"]),
        "data-ids-2^40": ("data.jsonl", "{\"input_ids\": [1, 1099511627776, 7]}\n", ["data.jsonl:1"]),
        "data-ids-strings": ("data.jsonl", "{\"input_ids\": [\"1\", \"2\"]}\n", ["data.jsonl:1"]),
        "data-labels-length-differs": ("data.jsonl", "{\"input_ids\": [1, 2, 3], \"labels\": [1, 2]}\n", ["data.jsonl:1", "labels"]),
        "data-labels-out-of-range": ("data.jsonl", "{\"input_ids\": [1, 2, 3], \"labels\": [1, 2, 9999]}\n", ["data.jsonl:1"]),
        "data-one-token-examples": ("data.jsonl", "{\"input_ids\": [5]}\n{\"input_ids\": [7]}\n", ["data.jsonl", "nothing to train"]),
        "data-all-labels-masked": ("data.jsonl", "{\"input_ids\": [1, 2, 3], \"labels\": [-100, -100, -100]}\n", ["data.jsonl", "nothing to train"]),
        "data-messages-not-list": ("data.jsonl", "{\"messages\": \"hi\"}\n", ["data.jsonl:1", "messages"]),
        "data-messages-missing-content": ("data.jsonl", "{\"messages\": [{\"role\": \"user\"}]}\n", ["data.jsonl:1"]),
        "data-prompt-without-completion": ("data.jsonl", "{\"prompt\": \"hi\"}\n", ["data.jsonl:1"]),
        "data-text-not-string": ("data.jsonl", "{\"text\": 5}\n", ["data.jsonl:1", "text"]),
        "data-invalid-utf8": ("data.jsonl", b"{\"text\": \"caf\xe9 \xff\"}\n", ["data.jsonl"]),
        "data-no-known-field": ("data.jsonl", "{\"body\": \"hi\"}\n", ["data.jsonl:1"]),
        "data-txt-empty": ("data.txt", "\n\n", ["data.txt"]),
        "data-deeply-nested-json": ("data.jsonl", "{\"text\": " + "[" * 5000 + "]" * 5000 + "}\n", ["data.jsonl:1"]),
    }
    for cid, (name, content, names) in d.items():
        args = [a if a != "{data}" else "{case}/" + name for a in TRAIN]
        case(cid, F, args, names, {name: content})
    case("data-missing-file", F, [a if a != "{data}" else "{case}/absent.jsonl" for a in TRAIN], ["absent.jsonl"])
    # a damaged token cache beside the data is ignored and rewritten, never trusted
    cache = struct.pack("<ii", 0x4C344A54, 0) + struct.pack("<ii", 2147483647, 0)
    case("data-token-cache-counts-huge", F, TRAIN[:4] + ["{case}/data.jsonl"] + TRAIN[5:], ["done"],
         {"data.jsonl": "{\"text\": \"Once upon a time.\"}\n{\"text\": \"The end.\"}\n", "data.jsonl.lora4j-tokens": cache},
         codes=(0,), note="accepted: a token cache that does not fit its file is ignored and the data tokenized again")


def adapter_cases():
    F = "adapters"
    ac = lambda **kv: json.dumps(adapter_config(**kv))
    cfgs = {
        "ad-config-not-json": ("{", ["adapter_config.json"]),
        "ad-r-zero": (ac(r=0), ["adapter_config.json", "r"]),
        "ad-r-2^31": (ac(r=2147483647), ["adapter_config.json"]),
        "ad-r-string": (ac(r="2"), ["adapter_config.json", "r"]),
        "ad-alpha-negative": (ac(lora_alpha=-4), ["adapter_config.json", "lora_alpha"]),
        "ad-dropout-2": (ac(lora_dropout=2), ["adapter_config.json", "lora_dropout"]),
        "ad-targets-match-nothing": (ac(target_modules=["nothing_here"]), ["nothing_here"]),
        "ad-targets-invalid-regex": (ac(target_modules="(("), ["adapter_config.json", "(("]),
        "ad-rank-pattern-zero": (ac(rank_pattern={"q_proj": 0}), ["adapter_config.json", "rank_pattern"]),
        "ad-layers-negative": (ac(layers_to_transform=[-1]), ["adapter_config.json", "layers_to_transform"]),
        "ad-peft-type-prefix": (ac(peft_type="PREFIX_TUNING"), ["adapter_config.json", "num_virtual_tokens"]),
        "ad-peft-type-adalora": (ac(peft_type="ADALORA"), ["adapter_config.json", "ADALORA"]),
        "ad-trainable-tokens-negative": (ac(trainable_token_indices=[-3]), ["adapter_config.json", "trainable_token_indices"]),
        "ad-modules-to-save-unknown": (ac(modules_to_save=["score"]), ["adapter_config.json", "score"]),
    }
    for cid, (content, names) in cfgs.items():
        case(cid, F, ADAPT, names, {"adapter/adapter_config.json": content})
    wrong = adapter_tensors()
    k = next(iter(wrong))
    wrong[k] = ("F32", [3, 16], f32([0.0] * 48))
    case("ad-shape-mismatch", F, ADAPT, ["lora_A"], {"adapter/adapter_model.safetensors": safetensors(wrong)})
    nob = {n: v for n, v in adapter_tensors().items() if "lora_B" not in n}
    case("ad-missing-lora-B", F, ADAPT, ["lora_B"], {"adapter/adapter_model.safetensors": safetensors(nob)})
    both = adapter_tensors()
    both.update(adapter_tensors(key=".default"))
    case("ad-plain-and-default-keys", F, ADAPT, ["adapter_model.safetensors", ".default"], {"adapter/adapter_model.safetensors": safetensors(both)})
    nan = adapter_tensors()
    kb = [n for n in nan if "lora_B" in n][0]
    nan[kb] = ("F32", nan[kb][1], f32([float("inf")] * numel(nan[kb][1])))
    case("ad-infinite-weights-merge", F, MERGE, ["non-finite", "nothing was written"], {"adapter/adapter_model.safetensors": safetensors(nan)})
    case("ad-weights-missing", F, ADAPT, ["adapter_model.safetensors"], remove=["adapter/adapter_model.safetensors"])
    case("merge-out-is-a-file", F, ["merge", "--model", "{model}", "--adapter", "{adapter}", "--out", "{case}/file.txt"], ["file.txt"],
         {"file.txt": "keep me"})


def option_cases():
    F = "options"
    opts = [
        ("opt-lr-nan", TRAIN + ["--lr", "NaN"], ["--lr"]),
        ("opt-lr-negative", TRAIN + ["--lr", "-1"], ["--lr"]),
        ("opt-r-zero", TRAIN + ["--r", "0"], ["--r"]),
        ("opt-r-overflows-int", TRAIN + ["--r", "2147483648"], ["--r"]),
        ("opt-threads-100000", TRAIN + ["--threads", "100000"], ["--threads"]),
        ("opt-threads-zero", TRAIN + ["--threads", "0"], ["--threads"]),
        ("opt-steps-negative", TRAIN + ["--steps", "-1"], ["--steps"]),
        ("opt-batch-zero", TRAIN + ["--batch-size", "0"], ["--batch-size"]),
        ("opt-seq-len-2^31", TRAIN + ["--seq-len", "2147483647"], ["--seq-len"]),
        ("opt-rank-pattern-zero", TRAIN + ["--rank-pattern", "q_proj=0"], ["--rank-pattern"]),
        ("opt-target-regex-invalid", TRAIN + ["--target-regex", "(("], ["(("]),
        ("opt-eval-split-1.5", TRAIN + ["--eval-split", "1.5"], ["--eval-split"]),
        ("opt-betas-one", TRAIN + ["--betas", "1,1"], ["--betas"]),
        ("opt-eps-nan", TRAIN + ["--eps", "NaN"], ["--eps"]),
        ("opt-warmup-overflow", TRAIN + ["--warmup-steps", "99999999999999999999"], ["--warmup-steps"]),
        ("opt-gen-max-new-negative", GEN[:-4] + ["--max-new-tokens", "-1"], ["--max-new-tokens"]),
        ("opt-gen-temperature-nan", GEN[:-2] + ["--temperature", "NaN"], ["--temperature"]),
        ("opt-gen-top-p-2", GEN + ["--top-p", "2"], ["--top-p"]),
        ("opt-gen-top-k-negative", GEN + ["--top-k", "-1"], ["--top-k"]),
        ("opt-eval-batch-zero", EVAL + ["--batch-size", "0"], ["--batch-size"]),
        ("opt-combine-rank-negative", ["combine", "--model", "{model}", "--adapter", "{adapter}", "--adapter", "{adapter}", "--out", "{out}",
                                  "--method", "svd", "--rank", "-1"], ["--rank"]),
        ("opt-combine-weight-nan", ["combine", "--model", "{model}", "--adapter", "{adapter}:NaN", "--adapter", "{adapter}", "--out", "{out}"],
         ["NaN"]),
        ("opt-factorize-ranks-zero", ["factorize", "--model", "{model}", "--module", "model.layers.0.self_attn.q_proj", "--ranks", "0",
                                      "--out", "{out}"], ["rank 0"]),
        ("opt-factorize-unknown-module", ["factorize", "--model", "{model}", "--module", "nothing", "--ranks", "2", "--out", "{out}"], ["nothing"]),
    ]
    for cid, args, names in opts:
        case(cid, F, args, names)


def disk_full_cases():
    F = "full disk"
    case("full-disk-merge", F, MERGE, ["{out}", "cannot write"], fsize_kib=16)
    case("full-disk-train", F, TRAIN, ["{out}", "cannot write"], fsize_kib=1, absent=["{out}/adapter_model.safetensors"])
    case("full-disk-combine", F, ["combine", "--model", "{model}", "--adapter", "{adapter}", "--adapter", "{adapter}", "--out", "{out}"],
         ["{out}", "cannot write"], fsize_kib=1)
    case("full-disk-factorize", F, ["factorize", "--model", "{model}", "--module", "model.layers.0.mlp.up_proj", "--ranks", "4", "--out", "{out}"],
         ["{out}", "cannot write"], fsize_kib=1, absent=["{out}/factors.safetensors"])


def main():
    base()
    model_file_cases()
    tokenizer_cases()
    data_cases()
    adapter_cases()
    option_cases()
    disk_full_cases()
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    write(os.path.join(OUT, "cases.json"), json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases in {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
