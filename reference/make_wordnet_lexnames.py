#!/usr/bin/env python3
"""Writes examples/wordnet-lexnames/: a labelled text-classification set made from WordNet 3.0's noun glosses
(human-written definitions), each labelled with its synset's lexicographer file (noun.animal, noun.artifact, ...),
the category WordNet's lexicographers filed it under.

Source: Debian's wordnet-base package (apt-get download wordnet-base; dpkg -x it, or install it), its data.noun.
Usage: make_wordnet_lexnames.py [DATA_NOUN] (default /usr/share/wordnet/data.noun).

Ten categories, a balanced random sample (seed 0): 300 training and 100 test glosses each. A gloss is the
definition only: the quoted usage examples after it (which often name the word itself) are cut off."""
import json
import os
import random
import re
import sys

CATEGORIES = {4: "noun.act", 5: "noun.animal", 6: "noun.artifact", 10: "noun.communication", 13: "noun.food",
              15: "noun.location", 18: "noun.person", 20: "noun.plant", 26: "noun.state", 27: "noun.substance"}
TRAIN, TEST = 300, 100
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "wordnet-lexnames")


def glosses(path):
    """(lexicographer file number, definition) of every synset in a WordNet data file."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("  "):
                continue  # the licence header
            head, _, gloss = line.partition(" | ")
            lex = int(head.split()[1])
            definition = re.split(r';\s*"', gloss.strip(), maxsplit=1)[0].strip().rstrip(";").strip()
            if definition:
                yield lex, definition


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet/data.noun"
    by_label = {name: [] for name in CATEGORIES.values()}
    for lex, text in glosses(src):
        if lex in CATEGORIES:
            by_label[CATEGORIES[lex]].append(text)
    rng = random.Random(0)
    train, test = [], []
    for label, texts in by_label.items():
        texts = sorted(set(texts))
        rng.shuffle(texts)
        train += [{"text": t, "label": label} for t in texts[:TRAIN]]
        test += [{"text": t, "label": label} for t in texts[TRAIN:TRAIN + TEST]]
    rng.shuffle(train)
    rng.shuffle(test)
    os.makedirs(OUT, exist_ok=True)
    for name, rows in (("train.jsonl", train), ("test.jsonl", test)):
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wordnet-lexnames: {len(train)} training and {len(test)} test glosses over {len(CATEGORIES)} categories")


if __name__ == "__main__":
    main()
