#!/usr/bin/env bash
# A real Spark standalone cluster on this machine: a master and two workers as separate JVMs on
# loopback (1 core each), spark-submit of lora4j-spark's jar onto it (executors in other JVMs: the
# job's classes, closures, broadcasts and results really cross processes; --ship-model really ships).
# It trains a LoRA adapter on 1 and on 2 executors beside single-process `lora4j train --threads 1`
# on the same global batches, compares the adapters and losses, runs batch generation and scoring on
# the cluster, prints the step times, and stops everything it started.
# Usage: bench/spark-cluster.sh [small|gpt2-small] [STEPS]   (model: bench/train_torch.py's random checkpoint)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
config=${1:-small}
steps=${2:-12}
batch=8 seq=128
source "$root/bin/jdk.sh"
lora4j_find_jdk || exit 1
java="$JAVA_HOME/bin/java"
model=${TMPDIR:-/tmp}/lora4j-bench-$config
[[ -f $model/model.safetensors ]] || /usr/bin/python3 "$root/bench/train_torch.py" make --out "$model" --config "$config"

"$root/bin/lora4j" spark --version >/dev/null # builds lora4j-spark when needed
version=$(sed -n 's|^  <version>\(.*\)</version>|\1|p' "$root/pom.xml" | head -n 1)
jar="$root/lora4j-spark/target/lora4j-spark-$version.jar"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -n "${KEEP:-}" ]] || rm -rf "$tmp"
}
trap cleanup EXIT

# A Spark home made of the Maven build's jars: the workers launch executors from $SPARK_HOME/jars.
export SPARK_HOME="$tmp/spark-home"
mkdir -p "$SPARK_HOME/jars" "$SPARK_HOME/conf"
tr ':' '\n' < "$root/lora4j-spark/target/spark-classpath.txt" | while read -r j; do ln -s "$j" "$SPARK_HOME/jars/"; done
cp "$root/lora4j-spark/conf/log4j2.properties" "$SPARK_HOME/conf/"
touch "$SPARK_HOME/RELEASE" # a distribution's layout: the launcher then takes $SPARK_HOME/jars
export SPARK_SCALA_VERSION=2.13
export SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_DIRS="$tmp/local" LORA4J_SPARK_LOG=WARN
opens=$(sed -n '/^opens="/,/"$/p' "$root/bin/lora4j-spark" | tr -d '"' | sed 's/^opens=//' | tr '\n' ' ')
# shellcheck disable=SC2206
sparkjvm=(-cp "$SPARK_HOME/jars/*" --add-modules jdk.incubator.vector $opens "-Dlog4j2.configurationFile=$SPARK_HOME/conf/log4j2.properties")

port=$((20000 + RANDOM % 20000))
LORA4J_SPARK_LOG=INFO "$java" "${sparkjvm[@]}" -Xmx512m org.apache.spark.deploy.master.Master --host 127.0.0.1 --port "$port" --webui-port 0 > "$tmp/master.log" 2>&1 &
pids+=($!)
for i in 1 2; do
  LORA4J_SPARK_LOG=INFO "$java" "${sparkjvm[@]}" -Xmx512m org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores 1 --memory 3g --webui-port 0 \
    --work-dir "$tmp/work-$i" "spark://127.0.0.1:$port" > "$tmp/worker-$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 120); do
  (( $(grep -c "Registering worker" "$tmp/master.log" 2>/dev/null || true) >= 2 )) && break
  sleep 0.5
done
(( $(grep -c "Registering worker" "$tmp/master.log" || true) >= 2 )) || { echo "the workers did not register; master log:" >&2; cat "$tmp/master.log" >&2; exit 1; }
echo "cluster: master spark://127.0.0.1:$port, 2 workers of 1 core (separate JVMs)"

# data: random ids the model's vocabulary holds, as many examples as the steps take
vocab=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$model/config.json")
/usr/bin/python3 - "$tmp/data.jsonl" "$vocab" "$((steps * batch))" "$seq" <<'PY'
import json, random, sys
out, vocab, n, seq = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
r = random.Random(7)
with open(out, "w") as f:
    for _ in range(n):
        f.write(json.dumps({"input_ids": [r.randrange(vocab) for _ in range(r.randrange(seq // 2, seq + 1))]}) + "\n")
PY
common=(--model "$model" --data "$tmp/data.jsonl" --steps "$steps" --batch-size "$batch" --seq-len "$seq" --r 8 --target c_attn --lr 1e-3 --log-every 1000)

submit() { # submit EXECUTORS OUT ARGS...: the lora4j-spark jar through spark-submit onto the cluster
  local execs=$1 out=$2; shift 2
  "$java" "${sparkjvm[@]}" -Xmx2g org.apache.spark.deploy.SparkSubmit --master "spark://127.0.0.1:$port" --deploy-mode client \
    --conf spark.executor.cores=1 --conf spark.cores.max="$execs" --conf spark.executor.memory=2g --conf spark.ui.enabled=false \
    --conf "spark.executor.extraJavaOptions=--add-modules jdk.incubator.vector -XX:+UseParallelGC ${EXECUTOR_OPTS:-}" \
    --class dev.lora4j.spark.SparkMain "$jar" "$@" > "$tmp/$out.log" 2>&1 || { cat "$tmp/$out.log" >&2; exit 1; }
}

echo "single process: lora4j train --threads 1"
LORA4J_JAVA_OPTS=-Xmx2g "$root/bin/lora4j" train "${common[@]}" --threads 1 --out "$tmp/local" > "$tmp/local.log" 2>&1 || { cat "$tmp/local.log" >&2; exit 1; }
echo "spark, 1 executor"
submit 1 spark1 train "${common[@]}" --out "$tmp/spark1" --partitions 1 --executor-threads 1 --ship-model
echo "spark, 2 executors"
submit 2 spark2 train "${common[@]}" --out "$tmp/spark2" --partitions 2 --executor-threads 1 --ship-model

# batch inference on the cluster: ids prompts need no tokenizer for scoring? the random model has none, so score the bundled model's texts
bm="$root/models/lora4j-stories"
/usr/bin/python3 - "$tmp/prompts.jsonl" <<'PY'
import json, sys
rows = [("Once upon a time", None), ("The little dog", "tense"), ("Present: Max likes Ella.\nIn the past:", "tense"), ("Lily went to", None)]
with open(sys.argv[1], "w") as f:
    for i, (p, a) in enumerate(rows * 4):
        f.write(json.dumps({"id": i, "prompt": p, "adapter": a}) + "\n")
PY
LORA4J_JAVA_OPTS=-Xmx1g "$root/bin/lora4j" train --model "$bm" --data "$root/examples/past-tense.jsonl" --out "$tmp/tense" --steps 10 --lr 1e-2 \
  --log-every 1000 > "$tmp/tense.log" 2>&1
submit 2 generate generate --model "$bm" --adapter "tense=$tmp/tense" --input "$tmp/prompts.jsonl" --output "$tmp/generated" --ship-model \
  --max-new-tokens 8 --partitions 2
submit 2 score score --model "$bm" --adapter "tense=$tmp/tense" --input "$tmp/prompts.jsonl" --column prompt --output "$tmp/scored" \
  --executor-model "$bm" --partitions 2
# the same rows in one process, for comparison
LORA4J_JAVA_OPTS=-Xmx1g "$root/bin/lora4j" spark generate --master 'local[1]' --model "$bm" --adapter "tense=$tmp/tense" --input "$tmp/prompts.jsonl" \
  --output "$tmp/generated-local" --max-new-tokens 8 > "$tmp/generate-local.log" 2>&1

/usr/bin/python3 - "$tmp" "$steps" "$batch" "$seq" "$config" <<'PY'
import glob, json, struct, sys
import numpy as np
d, steps, batch, seq, config = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5]

def tensors(run):
    b = open(f"{d}/{run}/adapter_model.safetensors", "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype=np.float32)
            for k, v in h.items() if k != "__metadata__"}

def metrics(run):
    return [json.loads(l) for l in open(f"{d}/{run}/metrics.jsonl") if '"loss"' in l]

def spark_line(run):
    for l in open(f"{d}/{run}.log"):
        if l.startswith("spark:"):
            return l
ref, refm = tensors("local"), metrics("local")
print(f"\nLoRA training on a Spark standalone cluster, {config} model, {steps} AdamW steps, batch {batch} x <= {seq}, r 8 on c_attn")
print("| run | s/step (steps 2..N) | loss max rel. diff | adapter max rel. Frobenius diff |")
print("|---|---:|---:|---:|")
def step_time(m):
    t = [x["elapsed_s"] for x in m]
    return (t[-1] - t[0]) / (len(t) - 1)
print(f"| lora4j train --threads 1 (anchor) | {step_time(refm):.3f} | - | - |")
for run, name in (("spark1", "Spark, 1 executor x 1 core"), ("spark2", "Spark, 2 executors x 1 core")):
    m, t = metrics(run), tensors(run)
    lr = max(abs(a["loss"] - b["loss"]) / abs(b["loss"]) for a, b in zip(m, refm))
    fr = max(np.linalg.norm(t[k] - ref[k]) / max(np.linalg.norm(ref[k]), 1e-30) for k in ref)
    print(f"| {name} | {step_time(m):.3f} | {lr:.1e} | {fr:.1e} |")
for run in ("spark1", "spark2"):
    print(run + ": " + spark_line(run).strip())

def rows(out):
    r = []
    for f in glob.glob(f"{d}/{out}/*.json"):
        r += [json.loads(l) for l in open(f)]
    return {x["id"]: x for x in r}
g, gl, s = rows("generated"), rows("generated-local"), rows("scored")
same = sum(g[i]["completion"] == gl[i]["completion"] for i in gl)
print(f"\nbatch generation on the cluster: {len(g)} rows, {same} of {len(gl)} completions equal to a one-JVM run; scoring: {len(s)} rows, "
      f"mean log-likelihood {np.mean([x['mean_log_likelihood'] for x in s.values()]):.3f}")
print("e.g.", json.dumps(g[2]))
PY
