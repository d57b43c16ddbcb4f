#!/usr/bin/env bash
# LoRA embedding fine-tuning throughput on all-MiniLM-L6-v2, lora4j beside PyTorch (system python3-torch) on the
# same weights and token ids, alternated twice. PyTorch runs tuned as in bench/train.sh (OpenBLAS's OpenMP build
# with its AVX-512 kernels, tcmalloc): apt-get install python3-torch libopenblas0-openmp libtcmalloc-minimal4.
# Usage: bench/embed-train.sh [TEXTS_FILE] [THREADS] [STEPS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
work=$(mktemp -d)
tcmalloc=$(ls /usr/lib/*/libtcmalloc_minimal.so.4 2>/dev/null | head -n 1 || true)
./mvnw -q -B -DskipTests -pl lora4j-core -am install >&2
cp=$(./mvnw -q -B -pl lora4j-core dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/dev/stdout)
for _ in 1 2; do
  "$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC -cp "lora4j-core/target/test-classes:lora4j-core/target/classes:$cp" \
    dev.lora4j.encoder.EmbedTrainBench "$work" "${1:-README.md}" "${2:-2}" "${3:-10}" 2>&1 | grep -v '^WARNING'
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS="${2:-2}" ${tcmalloc:+LD_PRELOAD=$tcmalloc} \
    /usr/bin/python3 bench/embed_train_torch.py "$work" "${2:-2}"
done
rm -rf "$work"
