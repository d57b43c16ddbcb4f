#!/usr/bin/env bash
# LoRA training throughput and peak memory, lora4j against PyTorch fp32 in the same run.
# Config: a random GPT-2-small-shaped checkpoint (or the small one: 6 layers, d 384, vocab 8192),
# batch 4 x 256 (small: 8 x 256), r = 8 on c_attn, AdamW, 2 threads. PyTorch runs tuned: OpenBLAS's
# AVX-512 kernels (OPENBLAS_CORETYPE/L2_SIZE unset), its OpenMP build, tcmalloc.
# Needs: apt-get install python3-torch libopenblas0-openmp libtcmalloc-minimal4
# Also full fine-tuning once each (FULL=0 skips it). Usage: bench/train.sh [gpt2-small|small] [STEPS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-gpt2-small}
steps=${2:-4}
batch=4
[[ $config == small ]] && batch=8
model=${TMPDIR:-/tmp}/lora4j-bench-$config
[[ -f $model/model.safetensors ]] || /usr/bin/python3 "$root/bench/train_torch.py" make --out "$model" --config "$config"
tcmalloc=$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -n 1 || true)
torch() {
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=2 ${tcmalloc:+LD_PRELOAD=$tcmalloc} \
    /usr/bin/python3 "$root/bench/train_torch.py" bench --config "$config" --batch "$batch" --steps "$steps" "$@"
}
lora4j() {
  "$root/bin/lora4j" bench train --model "$model" --batch-size "$batch" --seq-len 256 --r 8 --target c_attn --steps "$steps" --threads 2 --json "$@" 2>/dev/null
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
torch > "$tmp/t1"; lora4j > "$tmp/j1"; torch > "$tmp/t2"; lora4j > "$tmp/j2"
if [[ ${FULL:-1} == 1 ]]; then torch --full > "$tmp/tf"; lora4j --full > "$tmp/jf"; fi
/usr/bin/python3 - "$tmp" "$config" "$batch" <<'PY'
import json, sys
d, config, batch = sys.argv[1:]
t = [json.loads(open(f"{d}/t{i}").read()) for i in (1, 2)]
j = [json.loads(open(f"{d}/j{i}").read()) for i in (1, 2)]
tt = max(x["tokens_per_s"] for x in t); jt = max(x["tokens_per_s"] for x in j)
tr = min(x["peak_rss_bytes"] for x in t); jr = min(x["peak_rss_bytes"] for x in j)
print(f"LoRA training, {config}, batch {batch} x 256, r = 8 on c_attn, fp32, 2 threads (best of 2 runs each)")
print(f"| | tokens/s | peak RSS |")
print(f"|---|---:|---:|")
print(f"| PyTorch (tuned) | {tt:.1f} | {tr / 2**30:.2f} GiB |")
print(f"| lora4j | {jt:.1f} | {jr / 2**30:.2f} GiB |")
print(f"| ratio | {jt / tt:.2f}x | {jr / tr:.2f}x |")
import os
if os.path.exists(f"{d}/tf"):
    tf, jf = json.loads(open(f"{d}/tf").read()), json.loads(open(f"{d}/jf").read())
    print(f"| PyTorch, full fine-tuning | {tf['tokens_per_s']:.1f} | {tf['peak_rss_bytes'] / 2**30:.2f} GiB |")
    print(f"| lora4j, full fine-tuning | {jf['tokens_per_s']:.1f} | {jf['peak_rss_bytes'] / 2**30:.2f} GiB |")
    print(f"| lora4j LoRA vs lora4j full | {jt / jf['tokens_per_s']:.2f}x | {jr / jf['peak_rss_bytes']:.2f}x |")
PY
