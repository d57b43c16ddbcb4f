#!/usr/bin/env bash
# Decode tokens/s at batch 1 on a random 134M-parameter Llama (bench/make_llama.py), 2 threads: lora4j with
# fp32, bf16, int8 and NF4 weights (the last two quantized at load) and reading Q8_0 / Q4_0 / Q4_K_M / Q5_K_M
# GGUF files, beside llama.cpp (node-llama-cpp 3.21.1, reference/llamacpp) on the same weights as F32, F16, Q8_0,
# Q4_0 GGUF files written by lora4j export-gguf and Q4_K_M / Q5_K_M files (bench/kquant_gguf.py), at 2 threads and
# at 1 (llama.cpp's threads wait for each other after every operation, and on a shared 2-core host one
# thread is often its faster setting); alternated, best of 2 rounds; with the read-bandwidth limit of each
# weight size (bandwidth measured in lora4j's process).
# Usage: bench/quant-decode.sh [NEW_TOKENS=64]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
new=${1:-64}
dir=${TMPDIR:-/tmp}
for dt in f32 bf16; do
  m=$dir/lora4j-bench-llama134m-$dt
  [[ -f $m/model.safetensors ]] || /usr/bin/python3 "$root/bench/make_llama.py" --out "$m" --dtype "$dt"
done
for t in f32 f16 q8_0 q4_0; do
  [[ -f $dir/lora4j-bench-llama134m-$t.gguf ]] || "$root/bin/lora4j" export-gguf --model "$dir/lora4j-bench-llama134m-f32" --type $t --out "$dir/lora4j-bench-llama134m-$t.gguf"
done
for t in q4_k_m q5_k_m; do
  [[ -f $dir/lora4j-bench-llama134m-$t.gguf ]] || /usr/bin/python3 "$root/bench/kquant_gguf.py" "$dir/lora4j-bench-llama134m-f32.gguf" "$dir/lora4j-bench-llama134m-$t.gguf" $t
done
[[ -d $root/reference/llamacpp/node_modules/node-llama-cpp ]] || (cd "$root/reference/llamacpp" && npm ci --no-audit --no-fund --loglevel=error)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lora4j() { # name, model, options...
  "$root/bin/lora4j" bench decode --model "$2" --seq-len 16 --steps "$new" --threads 2 --json "${@:3}" 2>/dev/null | tail -1 | sed "s/^/$1 /" >> "$tmp/lora4j"
}
llamacpp() { # type, threads
  echo "$1 $(node "$root/bench/llamacpp_decode.mjs" "$dir/lora4j-bench-llama134m-$1.gguf" "$new" 2 "$2")" >> "$tmp/llamacpp$2"
}
for i in 1 2; do
  for t in f32 f16 q8_0 q4_0 q4_k_m q5_k_m; do llamacpp $t 2; llamacpp $t 1; done
  lora4j fp32 "$dir/lora4j-bench-llama134m-f32"; lora4j bf16 "$dir/lora4j-bench-llama134m-bf16"
  lora4j int8 "$dir/lora4j-bench-llama134m-f32" --quantize int8; lora4j nf4 "$dir/lora4j-bench-llama134m-f32" --quantize nf4
  lora4j q8_0 "$dir/lora4j-bench-llama134m-q8_0.gguf"; lora4j q4_0 "$dir/lora4j-bench-llama134m-q4_0.gguf"
  lora4j q4_k_m "$dir/lora4j-bench-llama134m-q4_k_m.gguf"; lora4j q5_k_m "$dir/lora4j-bench-llama134m-q5_k_m.gguf"
done
/usr/bin/python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
def best(file):
    out = {}
    for line in open(f"{d}/{file}"):
        name, js = line.split(" ", 1)
        j = json.loads(js)
        if name not in out or j["decode_tokens_per_s"] > out[name]["decode_tokens_per_s"]: out[name] = j
    return out
l, c, c1 = best("lora4j"), best("llamacpp2"), best("llamacpp1")
bw = max(j["bandwidth_gb_per_s"] for j in l.values())
print(f"batch 1, 16-token prompt then greedy decoding, 134M Llama shape, 2 threads, best of 2; read bandwidth {bw:.1f} GB/s")
print("| weights | bits a weight | lora4j decode tokens/s | llama.cpp (same bits), 2 threads | lora4j / llama.cpp | llama.cpp, 1 thread | lora4j / llama.cpp | bandwidth limit |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
pairs = [("fp32", "f32", 32), ("bf16", "f16", 16), ("int8", None, 8.3), ("q8_0", "q8_0", 8.5), ("nf4", "q4_0", 4.1), ("q4_0", "q4_0", 4.5), ("q4_k_m", "q4_k_m", 5.1), ("q5_k_m", "q5_k_m", 5.8)]
for mine, theirs, bits in pairs:
    j = l[mine]
    mine_tps, limit = j["decode_tokens_per_s"], bw * 1e9 / j["weight_bytes"]
    row = f"| lora4j {mine}" + (f" / llama.cpp {theirs.upper()}" if theirs else "") + f" | {bits} | {mine_tps:.1f} | "
    for table in (c, c1):
        other = table[theirs]["decode_tokens_per_s"] if theirs else None
        row += f"{other:.1f} | {mine_tps / other:.2f}x | " if other else "- | - | "
    print(row + f"{limit:.0f} |")
print(f"int8 against lora4j's bf16: {l['int8']['decode_tokens_per_s'] / l['bf16']['decode_tokens_per_s']:.2f}x")
PY
