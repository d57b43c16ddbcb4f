#!/usr/bin/env python3
"""A Unigram tokenizer.json of XLM-R's size for bench/tokenizers.sh: the layout of lora4j's unigram-xlmr test
fixture (Precompiled rules, Metaspace, <s> $A </s>) with its vocabulary grown to 250,000 pieces of random
letters and scores. No npm package ships a real Unigram file; this one times loading and encoding a
vocabulary of that size. Usage: bench/make_unigram_vocab.py OUT.json"""
import json
import pathlib
import random
import sys

root = pathlib.Path(__file__).resolve().parent.parent
j = json.loads((root / "lora4j-core/src/test/resources/fixtures/tokenizers/unigram-xlmr/tokenizer.json").read_text(encoding="utf-8"))
random.seed(3)
letters = "abcdefghijklmnopqrstuvwxyzàéüöñçабвгдежзийклмнопрстуфхцчшщыэюя"
vocab = list(j["model"]["vocab"][:-1])  # without <mask>, which goes last again
seen = {p for p, _ in vocab}
while len(vocab) < 249_999:
    n = min(16, max(1, int(random.expovariate(1 / 6))))
    piece = ("▁" if random.random() < 0.5 else "") + "".join(random.choice(letters) for _ in range(n))
    if piece not in seen:
        seen.add(piece)
        vocab.append([piece, -random.uniform(5, 20)])
vocab.append(["<mask>", 0.0])
j["model"]["vocab"] = vocab
j["added_tokens"][-1]["id"] = len(vocab) - 1
pathlib.Path(sys.argv[1]).write_text(json.dumps(j), encoding="utf-8")
