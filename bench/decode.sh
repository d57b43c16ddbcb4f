#!/usr/bin/env bash
# Generation speed at batch 1 on a random GPT-2-small-shaped checkpoint: prompt tokens/s (a 256-token
# prompt in one pass) and decode tokens/s (greedy, KV cache), lora4j with fp32 and with bf16 weights
# beside PyTorch fp32 (tuned as in bench/train.sh) in the same run, and the machine's read bandwidth,
# which bounds decoding (every weight is read once a token).
# Needs: apt-get install python3-torch libopenblas0-openmp libtcmalloc-minimal4. Usage: bench/decode.sh [NEW_TOKENS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
new=${1:-32}
dir=${TMPDIR:-/tmp}
for dt in f32 bf16; do
  model=$dir/lora4j-bench-gpt2-small-$dt
  [[ -f $model/model.safetensors ]] || /usr/bin/python3 "$root/bench/train_torch.py" make --out "$model" --config gpt2-small --dtype "$dt"
done
tcmalloc=$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -n 1 || true)
torch() {
  (cd "$root/bench" && env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 ${tcmalloc:+LD_PRELOAD=$tcmalloc} \
    /usr/bin/python3 decode_torch.py --new "$new")
}
lora4j() {
  "$root/bin/lora4j" bench decode --model "$dir/lora4j-bench-gpt2-small-$1" --seq-len 256 --steps "$new" --threads 2 --json 2>/dev/null
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in 1 2; do torch > "$tmp/t$i"; lora4j f32 > "$tmp/f$i"; lora4j bf16 > "$tmp/b$i"; done
/usr/bin/python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
best = lambda p, k: max(json.loads(open(f"{d}/{p}{i}").read())[k] for i in (1, 2))
t_dec, t_pr = best("t", "decode_tokens_per_s"), best("t", "prompt_tokens_per_s")
bw = max(json.loads(open(f"{d}/{p}{i}").read())["bandwidth_gb_per_s"] for p in "fb" for i in (1, 2))
print(f"batch 1, 256-token prompt, GPT-2-small shape, 2 threads, best of 2 runs; read bandwidth {bw:.1f} GB/s")
print("| | prompt tokens/s | decode tokens/s | decode vs PyTorch | weights read a token | decode / bandwidth limit |")
print("|---|---:|---:|---:|---:|---:|")
print(f"| PyTorch fp32 (tuned) | {t_pr:.0f} | {t_dec:.1f} | 1.00x | 494 MB | {t_dec * 0.494 / bw:.0%} |")
for p, name in (("f", "lora4j fp32"), ("b", "lora4j bf16")):
    dec, pr = best(p, "decode_tokens_per_s"), best(p, "prompt_tokens_per_s")
    mb = json.loads(open(f"{d}/{p}1").read())["weight_bytes"] / 1e6
    print(f"| {name} | {pr:.0f} | {dec:.1f} | {dec / t_dec:.2f}x | {mb:.0f} MB | {dec * mb / 1e3 / bw:.0%} |")
PY
