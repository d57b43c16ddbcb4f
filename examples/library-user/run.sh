#!/usr/bin/env bash
# Builds this separate project against the lora4j-core in the local Maven repository and runs it on the
# bundled model: train a LoRA adapter, evaluate it, generate with it. Exits non-zero if the adapter did
# not lower the loss. Needs `./mvnw install` of lora4j first (bin/test does it).
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/bin/jdk.sh"
lora4j_find_jdk || exit 1
mvn=("$root/mvnw" -B -q -f "$here/pom.xml")
"${mvn[@]}" compile
"${mvn[@]}" dependency:build-classpath -Dmdep.outputFile="$here/target/classpath.txt"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector -cp "$here/target/classes:$(cat "$here/target/classpath.txt")" \
  example.TrainAndGenerate "$root/models/lora4j-stories" "$root/examples/past-tense.jsonl" "$out/adapter"
