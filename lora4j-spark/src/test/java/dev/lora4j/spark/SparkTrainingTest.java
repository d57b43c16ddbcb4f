package dev.lora4j.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.train.DataConfig;
import dev.lora4j.train.StepEngine;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.TrainListener;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.TrainingRun;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Distributed training in Spark local mode against single-process training on the same global batches:
 * the bundled model, the demo's data, 24 AdamW steps (into a second epoch) with gradient accumulation and
 * evaluation.
 */
class SparkTrainingTest {
    @TempDir
    Path tmp;

    private TrainOptions options(Path out) {
        return options(out, false);
    }

    private TrainOptions options(Path out, boolean recompute) {
        Path model = TestPaths.bundledModel(), data = TestPaths.repo("examples/past-tense.jsonl");
        return TrainOptions.builder(model, data, out)
                .data(DataConfig.builder(data).evalSplit(0.1).build())
                .lora(LoraConfig.builder().r(4).alpha(8).targets("q_proj,v_proj,o_proj").build())
                // 180 training examples, 45 micro-batches an epoch: step 23 takes the last of epoch 1 and the first of epoch 2
                .train(TrainConfig.builder().steps(24).batchSize(4).gradAccum(2).seqLen(64).evalEvery(12).gradientCheckpointing(recompute).build())
                .build();
    }

    /** Trains with engine (made from a Spark context when master is given) and returns the run directory. */
    private Path train(String name, String master, Function<JavaSparkContext, StepEngine> engine) {
        return train(name, master, engine, false);
    }

    private Path train(String name, String master, Function<JavaSparkContext, StepEngine> engine, boolean recompute) {
        Path out = tmp.resolve(name);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        if (master == null) {
            TrainingRun.start(options(out, recompute), quiet, false, TrainListener.NONE, StepEngine.LOCAL);
            return out;
        }
        SparkSession s = SparkSession.builder().master(master).appName("lora4j-test").config("spark.ui.enabled", "false").getOrCreate();
        try {
            s.sparkContext().setLogLevel("ERROR");
            TrainingRun.start(options(out, recompute), quiet, false, TrainListener.NONE, engine.apply(JavaSparkContext.fromSparkContext(s.sparkContext())));
        } finally {
            s.stop();
        }
        return out;
    }

    @Test
    void distributedTrainingEqualsSingleProcess() throws IOException {
        Path local = train("local", null, null);
        Path spark = train("spark", "local[2]", sc -> new SparkTraining(sc, SparkTraining.Options.defaults().withPartitions(3), null));

        List<double[]> a = metrics(local, "loss"), b = metrics(spark, "loss");
        assertThat(b).hasSize(24);
        for (int i = 0; i < a.size(); i++) {
            assertThat(b.get(i)[0]).isEqualTo(a.get(i)[0]);
            assertThat(Math.abs(b.get(i)[1] - a.get(i)[1]) / Math.abs(a.get(i)[1])).as("loss at step %d", i + 1).isLessThan(1e-5);
        }
        List<double[]> ea = metrics(local, "eval_loss"), eb = metrics(spark, "eval_loss");
        assertThat(eb).hasSize(2);
        for (int i = 0; i < ea.size(); i++) assertThat(Math.abs(eb.get(i)[1] - ea.get(i)[1]) / ea.get(i)[1]).isLessThan(1e-5);

        Map<String, float[]> wa = adapter(local), wb = adapter(spark);
        assertThat(wb.keySet()).isEqualTo(wa.keySet()).hasSize(36);
        double worst = 0;
        for (String k : wa.keySet()) worst = Math.max(worst, relativeFrobenius(wb.get(k), wa.get(k)));
        assertThat(worst).isLessThan(1e-4);
        // the adapter did train: B moved away from zero
        assertThat(norm(wa.get("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"))).isGreaterThan(1e-3);
    }

    /** Executors recompute the blocks' activations when the run asks for gradient checkpointing: the same adapter to the bit. */
    @Test
    void gradientCheckpointingOnExecutorsLeavesTheAdapterUnchanged() throws IOException {
        SparkTraining.Options two = SparkTraining.Options.defaults().withPartitions(2);
        Path plain = train("plain", "local[2]", sc -> new SparkTraining(sc, two, null));
        Path recomputed = train("recomputed", "local[2]", sc -> new SparkTraining(sc, two, null), true);
        Map<String, float[]> a = adapter(plain), b = adapter(recomputed);
        for (String k : a.keySet()) assertThat(b.get(k)).as(k).containsExactly(a.get(k));
        assertThat(metrics(recomputed, "loss")).usingRecursiveComparison().isEqualTo(metrics(plain, "loss"));
    }

    @Test
    void aRetriedTaskLeavesTheStepUnchanged() throws IOException {
        SparkTraining.Options two = SparkTraining.Options.defaults().withPartitions(2);
        Path clean = train("clean", "local[2]", sc -> new SparkTraining(sc, two, null));
        Path failed = train("failed", "local[2,2]", sc -> new SparkTraining(sc, two.withFailTask(new SparkTraining.FailTask(3, 1)), null));
        Map<String, float[]> a = adapter(clean), b = adapter(failed);
        for (String k : a.keySet()) assertThat(b.get(k)).as(k).containsExactly(a.get(k));
        assertThat(metrics(failed, "loss")).usingRecursiveComparison().isEqualTo(metrics(clean, "loss"));
    }

    @Test
    void aTaskThatFailsEveryAttemptFailsTheRunWithOneLine() {
        SparkTraining.Options failing = SparkTraining.Options.defaults().withPartitions(2).withFailTask(new SparkTraining.FailTask(0, 0));
        assertThatThrownBy(() -> train("dead", "local[2]", sc -> new SparkTraining(sc, failing, null)))
                .isInstanceOf(dev.lora4j.Lora4jException.class)
                .hasMessageStartingWith("step 1 failed on the cluster: Job aborted due to stage failure")
                .hasMessageContaining("injected failure of step 1, partition 0");
    }

    @Test
    void aLostDriverResumesFromItsLastCheckpointToTheSameAdapter() throws IOException {
        SparkTraining.Options two = SparkTraining.Options.defaults().withPartitions(2);
        Path whole = train("whole", "local[2]", sc -> new SparkTraining(sc, two, null));
        // the first driver stops after step 10 (as a killed one would, its last checkpoint at step 10); a new one resumes
        Path out = tmp.resolve("resumed");
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        TrainOptions o = options(out).toBuilder().train(options(out).train().toBuilder().saveEvery(5).build()).build();
        SparkSession s = SparkSession.builder().master("local[2]").appName("lora4j-test").config("spark.ui.enabled", "false").getOrCreate();
        try {
            s.sparkContext().setLogLevel("ERROR");
            var sc = JavaSparkContext.fromSparkContext(s.sparkContext());
            TrainingRun.Result first = TrainingRun.start(o, quiet, false, new TrainListener() {
                int steps;

                @Override
                public void onStep(Step step) {
                    steps++;
                }

                @Override
                public boolean stopRequested() {
                    return steps == 10;
                }
            }, new SparkTraining(sc, two, null));
            assertThat(first.interrupted()).isTrue();
            assertThat(out.resolve("checkpoint-10")).isDirectory();
            TrainingRun.Result second = TrainingRun.resume(out, null, quiet, TrainListener.NONE, new SparkTraining(sc, two, null));
            assertThat(second.steps()).isEqualTo(24);
        } finally {
            s.stop();
        }
        Map<String, float[]> a = adapter(whole), b = adapter(out);
        for (String k : a.keySet()) assertThat(b.get(k)).as(k).containsExactly(a.get(k));
        assertThat(metrics(out, "loss")).usingRecursiveComparison().isEqualTo(metrics(whole, "loss"));
    }

    @Test
    void fullFineTuningIsRefusedWithTheReason() {
        assertThatThrownBy(() -> {
            SparkSession s = SparkSession.builder().master("local[1]").appName("lora4j-test").config("spark.ui.enabled", "false").getOrCreate();
            try {
                Path out = tmp.resolve("full");
                TrainingRun.start(options(out).toBuilder().full(true).build(), new PrintStream(new ByteArrayOutputStream()), false, TrainListener.NONE,
                        new SparkTraining(JavaSparkContext.fromSparkContext(s.sparkContext()), SparkTraining.Options.defaults(), null));
            } finally {
                s.stop();
            }
        }).isInstanceOf(dev.lora4j.Lora4jException.class).hasMessageContaining("--full is not supported on Spark");
        assertThat(tmp.resolve("full")).as("refused before the output directory is claimed").doesNotExist();
    }

    private static List<double[]> metrics(Path run, String key) throws IOException {
        List<double[]> out = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            JsonNode j = json.readTree(line);
            if (j.has(key)) out.add(new double[] {j.get("step").asDouble(), j.get(key).asDouble()});
        }
        return out;
    }

    static Map<String, float[]> adapter(Path dir) {
        Map<String, float[]> out = new java.util.TreeMap<>();
        try (SafeTensors st = SafeTensors.open(dir.resolve("adapter_model.safetensors"))) {
            for (String name : st.entries().keySet()) out.put(name, st.tensor(name).toArray());
        }
        return out;
    }

    private static double relativeFrobenius(float[] x, float[] ref) {
        double d = 0, n = 0;
        for (int i = 0; i < x.length; i++) {
            d += (x[i] - (double) ref[i]) * (x[i] - (double) ref[i]);
            n += (double) ref[i] * ref[i];
        }
        return Math.sqrt(d / Math.max(n, 1e-30));
    }

    private static double norm(float[] x) {
        double n = 0;
        for (float v : x) n += v * v;
        return Math.sqrt(n);
    }
}
