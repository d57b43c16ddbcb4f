#!/usr/bin/env bash
# QLoRA's quality on the demo task: the demo's LoRA (r = 4 on q_proj, v_proj, 1000 steps, its data) trained
# over the bundled model as stored (bf16) and over it quantized at load to int8 and NF4; each adapter's
# held-out eval loss over the base it was trained on, and the quantized ones' over the bf16 base too.
# Usage: bench/qlora-quality.sh [STEPS=1000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
steps=${1:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$root/bin/lora4j" demo --out "$tmp/demo" --steps 1 > /dev/null 2>&1 # writes the task's train.jsonl and held-out.jsonl
model=$root/models/lora4j-stories
train() { # name, options...
  "$root/bin/lora4j" train --model "$model" --data "$tmp/demo/train.jsonl" --out "$tmp/$1" --r 4 --alpha 8 --target q_proj,v_proj \
    --lr 1e-2 --warmup-steps $((steps / 10)) --steps "$steps" --batch-size 16 --seq-len 64 --seed 7 --threads 2 "${@:2}" > /dev/null 2>&1
}
evaluate() { # adapter, options...
  "$root/bin/lora4j" eval --model "$model" --adapter "$tmp/$1" --data "$tmp/demo/held-out.jsonl" --json "${@:2}" 2>/dev/null | tail -1 \
    | /usr/bin/python3 -c "import json, sys; print(f\"{json.load(sys.stdin)['loss']:.4f}\")"
}
train bf16; train int8 --quantize int8; train nf4 --quantize nf4
base=$("$root/bin/lora4j" eval --model "$model" --data "$tmp/demo/held-out.jsonl" --json 2>/dev/null | tail -1 | /usr/bin/python3 -c "import json, sys; print(f\"{json.load(sys.stdin)['loss']:.4f}\")")
echo "demo task, held-out eval loss (base model alone: $base); $steps steps"
echo "| trained over | eval over the same base | eval over the bf16 base |"
echo "|---|---:|---:|"
echo "| bf16 (as stored) | $(evaluate bf16) | (same) |"
echo "| int8 | $(evaluate int8 --quantize int8) | $(evaluate int8) |"
echo "| nf4 | $(evaluate nf4 --quantize nf4) | $(evaluate nf4) |"
