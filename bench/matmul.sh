#!/usr/bin/env bash
# fp32 matmul, lora4j against OpenBLAS (numpy) in the same run, same thread count, on the shapes of a
# GPT-2-small training step. Needs: /usr/bin/python3 with numpy, OpenBLAS (apt-get install python3-numpy
# libopenblas0-openmp python3-threadpoolctl). Usage: bench/matmul.sh [THREADS] [SECONDS_PER_CASE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
secs=${2:-1.5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# OpenBLAS and lora4j take turns, twice each; each side's best of its two runs counts (the machine is
# shared and its speed drifts: alternating exposes both to the same drift).
for i in 1 2; do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads" /usr/bin/python3 "$root/bench/matmul_numpy.py" "$threads" "$secs" > "$tmp/np$i"
  "$root/bin/lora4j" bench matmul --threads "$threads" --seconds "$secs" --json 2>/dev/null > "$tmp/j$i"
done
/usr/bin/python3 - "$tmp" "$threads" <<'PY'
import json, sys
d, threads = sys.argv[1], sys.argv[2]
def load(f):
    rows = [json.loads(l) for l in open(f"{d}/{f}")]
    return rows[0].get("blas"), {(r["m"], r["k"], r["n"], r["layout"]): r["gflops"] for r in rows if "m" in r}
blas, np1 = load("np1")
_, np2 = load("np2")
_, j1 = load("j1")
_, j2 = load("j2")
j = {key: max(j1[key], j2[key]) for key in j1}
print(f"fp32 matmul GFLOP/s, {threads} thread(s); anchor: numpy {blas}")
print(f"| M x K x N | layout | lora4j | OpenBLAS | ratio |")
print(f"|---|---|---:|---:|---:|")
ratios = []
for key, g in j.items():
    anchor = max(np1[key], np2[key])
    ratios.append(g / anchor)
    print(f"| {key[0]}x{key[1]}x{key[2]} | {key[3]} | {g:.1f} | {anchor:.1f} | {g / anchor:.2f} |")
print(f"min ratio {min(ratios):.2f}, mean {sum(ratios) / len(ratios):.2f}")
PY
