#!/usr/bin/env bash
# Sentence-embedding throughput, lora4j beside ONNX Runtime on all-MiniLM-L6-v2 (the ONNX file and tokenizer from
# LangChain4j's Maven artifact, a test dependency of lora4j-core), same token ids, batches of 32, 2 threads.
# Usage: bench/embed.sh [TEXTS_FILE] [THREADS] [ROUNDS]   (default: README.md lines, 2, 3)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
./mvnw -q -B -DskipTests -pl lora4j-core -am install >&2
cp=$(./mvnw -q -B -pl lora4j-core dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/dev/stdout)
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -XX:+UseParallelGC \
  -cp "lora4j-core/target/test-classes:lora4j-core/target/classes:$cp" dev.lora4j.encoder.EmbedBench "${1:-README.md}" "${2:-2}" "${3:-3}" 2>&1 | grep -v '^WARNING'
