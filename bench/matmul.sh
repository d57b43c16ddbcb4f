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
# OpenBLAS and lora4j take turns, ROUNDS times each (default 3); each side's best run per shape counts.
# The machine is shared: its cores slow down by 10-15% for seconds at a time (seen even on one thread),
# and taking turns exposes both sides to the same drift.
rounds=${ROUNDS:-3}
for i in $(seq "$rounds"); do
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads" /usr/bin/python3 "$root/bench/matmul_numpy.py" "$threads" "$secs" > "$tmp/np$i"
  "$root/bin/lora4j" bench matmul --threads "$threads" --seconds "$secs" --json 2>/dev/null > "$tmp/j$i"
done
/usr/bin/python3 - "$tmp" "$threads" <<'PY'
import json, sys
d, threads = sys.argv[1], sys.argv[2]
def load(f):
    rows = [json.loads(l) for l in open(f"{d}/{f}")]
    return rows[0].get("blas"), {(r["m"], r["k"], r["n"], r["layout"]): r["gflops"] for r in rows if "m" in r}
import glob
runs = lambda prefix: [load(f.rsplit("/", 1)[1]) for f in sorted(glob.glob(f"{d}/{prefix}[0-9]*"))]
blas = runs("np")[0][0]
best = lambda prefix: {key: max(r[1][key] for r in runs(prefix)) for key in runs(prefix)[0][1]}
npb, j = best("np"), best("j")
print(f"fp32 matmul GFLOP/s, {threads} thread(s), best of {len(runs('j'))} runs each, taking turns; anchor: numpy {blas}")
print(f"| M x K x N | layout | lora4j | OpenBLAS | ratio |")
print(f"|---|---|---:|---:|---:|")
ratios = []
for key, g in j.items():
    anchor = npb[key]
    ratios.append(g / anchor)
    print(f"| {key[0]}x{key[1]}x{key[2]} | {key[3]} | {g:.1f} | {anchor:.1f} | {g / anchor:.2f} |")
print(f"min ratio {min(ratios):.2f}, mean {sum(ratios) / len(ratios):.2f}")
PY
