#!/usr/bin/env bash
# fp32 matmul, lora4j against OpenBLAS (numpy) in the same run, same thread count, on the shapes of a
# GPT-2-small training step. Needs: /usr/bin/python3 with numpy, OpenBLAS (apt-get install python3-numpy
# libopenblas0-openmp python3-threadpoolctl). Usage: bench/matmul.sh [THREADS] [SECONDS_PER_CASE] [ROUNDS]
#
# Both stay running and take turns case by case (who goes first alternates by round); each side's best
# over ROUNDS rounds counts. The machine is shared: its cores slow down by 10-15% for seconds at a time
# (seen on one thread, and in OpenBLAS too), so measuring the two sides of a case seconds apart, not
# minutes apart, is what keeps that drift out of the ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
secs=${2:-1.5}
rounds=${3:-3}
"$root/bin/lora4j" --version > /dev/null  # builds the jar first if needed, outside the timing
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="$threads" ROOT="$root" /usr/bin/python3 - "$threads" "$secs" "$rounds" <<'PY'
import json, os, subprocess, sys
threads, secs, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
root = os.environ["ROOT"]
numpy = subprocess.Popen(["/usr/bin/python3", f"{root}/bench/matmul_numpy.py", threads, secs],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
lora4j = subprocess.Popen([f"{root}/bin/lora4j", "bench", "matmul", "--cases-from-stdin", "--threads", threads, "--seconds", secs],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
blas = json.loads(numpy.stdout.readline())["blas"]
def ask(p, case):
    p.stdin.write(case + "\n")
    p.stdin.flush()
    return json.loads(p.stdout.readline())["gflops"]
cases = [f"{m} {k} {n} {lay}" for m, k, n in [(1024, 768, 2304), (1024, 768, 768), (1024, 768, 3072), (1024, 3072, 768)]
         for lay in ("NN", "NT", "TN")]
best = {c: [0.0, 0.0] for c in cases}  # OpenBLAS, lora4j
for r in range(rounds):
    for c in cases:
        for side in ((0, 1) if r % 2 == 0 else (1, 0)):
            best[c][side] = max(best[c][side], ask(numpy if side == 0 else lora4j, c))
for p in (numpy, lora4j):
    p.stdin.close()
    p.wait()
print(f"fp32 matmul GFLOP/s, {threads} thread(s), taking turns case by case, best of {rounds} rounds each; anchor: numpy {blas}")
print("| M x K x N | layout | lora4j | OpenBLAS | ratio |")
print("|---|---|---:|---:|---:|")
ratios = []
for c in cases:
    m, k, n, lay = c.split()
    o, j = best[c]
    ratios.append(j / o)
    print(f"| {m}x{k}x{n} | {lay} | {j:.1f} | {o:.1f} | {j / o:.2f} |")
print(f"min ratio {min(ratios):.2f}, mean {sum(ratios) / len(ratios):.2f}")
PY
