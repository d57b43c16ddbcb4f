#!/usr/bin/env bash
# LoRA training over a quantized base, on the path users run (lora4j train): tokens/s and peak RSS
# (GNU time's maximum resident set) with the GPT-2-small-shaped base in fp32, in bf16, and quantized
# at load to int8 and NF4 (from the fp32 files), then fp32 and NF4 again with --gradient-checkpointing;
# alternated, best of 2 runs each.
# Usage: bench/qlora-train.sh [BATCH=1] [STEPS=6]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
batch=${1:-1}
steps=${2:-6}
dir=${TMPDIR:-/tmp}
for dt in f32 bf16; do
  model=$dir/lora4j-bench-gpt2-small-$dt
  [[ -f $model/model.safetensors ]] || /usr/bin/python3 "$root/bench/train_torch.py" make --out "$model" --config gpt2-small --dtype "$dt"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -c "
import json, random
random.seed(1)
with open('$tmp/ids.jsonl', 'w') as f:
    for _ in range(64): f.write(json.dumps({'input_ids': [random.randrange(50257) for _ in range(256)]}) + '\n')"
run() { # name, model dtype, extra options
  rm -rf "$tmp/out"
  /usr/bin/time -f "rss %M" -o "$tmp/time" "$root/bin/lora4j" train --model "$dir/lora4j-bench-gpt2-small-$2" --data "$tmp/ids.jsonl" \
    --out "$tmp/out" --steps "$steps" --batch-size "$batch" --seq-len 256 --threads 2 "${@:3}" > "$tmp/log" 2>&1
  tps=$(grep -o '[0-9,]* tok/s' "$tmp/log" | tail -1 | tr -d ', tok/s')
  loss=$(grep -o 'last loss [0-9.]*' "$tmp/log" | awk '{print $3}')
  echo "$1 $tps $(awk '{print $2}' "$tmp/time") $loss" >> "$tmp/results"
}
for i in 1 2; do
  run "fp32" f32; run "bf16" bf16; run "int8" f32 --quantize int8; run "nf4" f32 --quantize nf4
  run "fp32+ckpt" f32 --gradient-checkpointing; run "nf4+ckpt" f32 --quantize nf4 --gradient-checkpointing
done
echo "LoRA (r = 8 on the default targets, c_attn) over GPT-2-small-shaped random weights, batch $batch x 256, 2 threads, $steps steps, best of 2"
echo "| base | tokens/s | peak RSS | RSS vs fp32 | RSS vs fp32, same checkpointing | last loss |"
echo "|---|---:|---:|---:|---:|---:|"
/usr/bin/python3 - "$tmp/results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    name, tps, rss, loss = line.split()
    best = rows.get(name)
    rows[name] = (max(float(tps), best[0]) if best else float(tps), min(int(rss), best[1]) if best else int(rss), loss)
base = rows["fp32"][1]
for name in ("fp32", "bf16", "int8", "nf4", "fp32+ckpt", "nf4+ckpt"):
    tps, rss, loss = rows[name]
    same = rows["fp32+ckpt" if name.endswith("+ckpt") else "fp32"][1]
    label = name.replace("+ckpt", " + gradient checkpointing")
    print(f"| {label} | {tps:.0f} | {rss / 1024:.0f} MB | {rss / base:.2f}x | {rss / same:.2f}x | {loss} |")
PY
