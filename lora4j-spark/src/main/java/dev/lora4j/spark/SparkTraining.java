package dev.lora4j.spark;

import dev.lora4j.Lora4jException;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.train.Parameter;
import dev.lora4j.train.StepEngine;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.storage.StorageLevel;

import java.io.PrintStream;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Data-parallel LoRA training on Spark: each optimizer step is one Spark job over the cached training
 * examples. Every task runs forward and backward on the step's examples its partition holds, with the
 * frozen base loaded once per executor JVM ({@link Workers}) and the adapter weights of the step
 * broadcast; the task's adapter gradient, loss sum and target count come back summed up a tree
 * ({@code treeReduce}, {@code treeAggregate}'s form for values made one per partition). The driver's
 * {@link dev.lora4j.train.Trainer} does everything else exactly as in one process: which examples make
 * the step, the normaliser (the step's target tokens), clipping, the optimizer, the schedule,
 * evaluation (whose loss is also computed on the executors) and checkpoints.
 *
 * <p>What differs from one process: the order in which the per-example gradients are summed (within a
 * partition, then across partitions), and the dropout masks, which are drawn per partition. With
 * dropout 0 the two runs agree to float rounding; the gradients of a step do not depend on how Spark
 * schedules or retries its tasks.
 */
public final class SparkTraining implements StepEngine {
    /**
     * How a run uses the cluster.
     *
     * @param partitions      partitions of the training data (0: Spark's default parallelism); a step runs one task per partition
     * @param executorThreads lora4j threads per executor JVM (0: its spark.executor.cores, else all the cores it sees)
     * @param modelPath       where the executors read the base model (shared storage); null: the driver's path
     * @param shipModel       send the model directory with the job ({@code SparkContext.addFile}) instead
     * @param failTask        testing: the first attempt of this task fails (null: none)
     */
    public record Options(int partitions, int executorThreads, String modelPath, boolean shipModel, FailTask failTask) implements Serializable {
        public Options {
            if (partitions < 0) throw new Lora4jException("--partitions must be >= 0, got " + partitions);
            if (executorThreads < 0) throw new Lora4jException("--executor-threads must be >= 0, got " + executorThreads);
            if (shipModel && modelPath != null) throw new Lora4jException("give --ship-model or --executor-model, not both");
        }

        public static Options defaults() {
            return new Options(0, 0, null, false, null);
        }

        public Options withPartitions(int p) {
            return new Options(p, executorThreads, modelPath, shipModel, failTask);
        }

        public Options withExecutorThreads(int n) {
            return new Options(partitions, n, modelPath, shipModel, failTask);
        }

        public Options withModelPath(String path) {
            return new Options(partitions, executorThreads, path, shipModel, failTask);
        }

        public Options withShipModel(boolean ship) {
            return new Options(partitions, executorThreads, modelPath, ship, failTask);
        }

        public Options withFailTask(FailTask f) {
            return new Options(partitions, executorThreads, modelPath, shipModel, f);
        }
    }

    /** A task attempt made to fail, to show that Spark's retry leaves the step unchanged. */
    public record FailTask(long step, int partition) implements Serializable {}

    /**
     * What the cluster cost, over the steps of the last run.
     *
     * @param steps               optimizer steps run
     * @param stepSeconds         mean wall time of a step's Spark job (broadcast, tasks, aggregation), the first step left out (it loads
     *                            the model on every executor and warms the JIT up)
     * @param taskSeconds         mean time of the slowest task's forward and backward in a step, the first left out
     * @param resultBytesPerStep  mean serialized task results per step (what the executors send back)
     * @param broadcastBytes      the adapter weights broadcast each step (sent once to each executor)
     */
    public record Stats(long steps, double stepSeconds, double taskSeconds, double resultBytesPerStep, long broadcastBytes) {
        /** Per step, the time that is not forward and backward: scheduling, serialization, the exchange. */
        public double overheadSeconds() {
            return stepSeconds - taskSeconds;
        }
    }

    private static final java.security.SecureRandom VERSIONS = new java.security.SecureRandom();
    private final JavaSparkContext sc;
    private final Options options;
    private final PrintStream report;
    private volatile Stats stats = new Stats(0, 0, 0, 0, 0);

    /** An engine on sc; report (may be null) receives one summary line when a run ends. */
    public SparkTraining(JavaSparkContext sc, Options options, PrintStream report) {
        this.sc = sc;
        this.options = options;
        this.report = report;
    }

    public Stats stats() {
        return stats;
    }

    @Override
    public void check(dev.lora4j.train.TrainOptions options) {
        if (options.full()) throw fullRefused();
        if (options.bottleneck() != null) throw new Lora4jException("--bottleneck-size is not supported on Spark yet: it distributes LoRA adapters' steps; train bottleneck adapters locally");
        if (options.ia3() != null) throw new Lora4jException("--ia3 is not supported on Spark yet: it distributes LoRA adapters' steps; train IA³ locally");
        if (options.promptTuning() != null || options.prefixTuning() != null)
            throw new Lora4jException("--prompt-tuning and --prefix-tuning are not supported on Spark yet: it distributes LoRA adapters' steps; train them locally");
        if (!options.lora().embeddings().none())
            throw new Lora4jException("--modules-to-save and --trainable-token-indices are not supported on Spark yet: each step would exchange whole embedding"
                    + " rows; train them locally");
    }

    private static Lora4jException fullRefused() {
        return new Lora4jException("--full is not supported on Spark: each step would exchange the whole model's gradients;"
                + " train a LoRA adapter (only its gradients travel)");
    }

    @Override
    public Steps open(Run run) {
        LoraModel lm = run.model().adapter();
        if (lm == null) throw fullRefused();
        Path local = run.model().model().source() == null ? null : run.model().model().source().dir();
        if (local == null && options.modelPath() == null) throw new Lora4jException("the base model was not loaded from a directory: give the executors' model path");
        String shipped = null, path = options.modelPath() != null ? options.modelPath() : local.toAbsolutePath().toString();
        if (options.shipModel()) shipped = ShippedModel.ship(sc, local);
        StepTasks.Job job = new StepTasks.Job(path, shipped, lm.config(), run.config().batchSize(), run.seqLen(), run.config().seed(), options.executorThreads(),
                run.config().gradientCheckpointing(), options.failTask());
        int n = run.train().examples().size();
        int parts = Math.max(1, Math.min(n, options.partitions() > 0 ? options.partitions() : sc.defaultParallelism()));
        return new SparkSteps(run, job, parts);
    }

    private final class SparkSteps implements Steps {
        private final Run run;
        private final StepTasks.Job job;
        private final int parts;
        private final long microPerEpoch;
        private final Map<Long, Layout> layouts = new LinkedHashMap<>();
        private final JavaRDD<ExampleBlock> eval;
        private final List<Parameter> params;
        private final ResultBytes resultBytes = new ResultBytes();
        private Broadcast<float[]> weights;
        private long version = -1, publishedAt = -1, steps, stepNanos, taskNanos;
        private final long bytesBefore;

        /** An epoch's examples over the partitions: position i of the epoch's order is in partition i % parts, at i / parts. */
        private record Layout(int[] order, JavaRDD<ExampleBlock> blocks) {}

        SparkSteps(Run run, StepTasks.Job job, int parts) {
            this.run = run;
            this.job = job;
            this.parts = parts;
            this.params = run.model().parameters();
            int n = run.train().examples().size(), bsz = run.config().batchSize();
            microPerEpoch = (n + bsz - 1) / bsz;
            awaitExecutors(parts);
            eval = run.eval() == null ? null : sc.parallelize(evalBlocks(run.eval(), parts), parts)
                    .persist(StorageLevel.MEMORY_ONLY());
            sc.sc().addSparkListener(resultBytes);
            bytesBefore = resultBytes.bytes.get();
        }

        /**
         * The epoch's layout, cached on the executors. Dealing the epoch's order out round-robin gives every partition an
         * equal share of each micro-batch (consecutive positions), so no task waits for a partition that drew more of the
         * step's examples. The data travels to the executors once an epoch; two epochs are kept (a step may span both).
         */
        private Layout layout(long epoch) {
            Layout l = layouts.get(epoch);
            if (l != null) return l;
            int[] order = run.order().apply(epoch);
            TokenDataset d = run.train();
            List<ExampleBlock> blocks = new ArrayList<>();
            for (int p = 0; p < parts; p++) {
                int first = p;
                blocks.add(ExampleBlock.of(d, (order.length - p + parts - 1) / parts, i -> order[first + i * parts]));
            }
            JavaRDD<ExampleBlock> rdd = sc.parallelize(blocks, parts).persist(StorageLevel.MEMORY_ONLY());
            // cached now, while every executor is free: the blocks spread over them, and each step's tasks then run where
            // their block is (one executor caching everything would run every step's tasks one after the other)
            Jobs.onCluster("caching epoch " + (epoch + 1) + "'s training data", rdd::count);
            l = new Layout(order, rdd);
            layouts.put(epoch, l);
            if (layouts.size() > 2) {
                Long oldest = layouts.keySet().iterator().next();
                layouts.remove(oldest).blocks().unpersist(false);
            }
            return l;
        }

        @Override
        public double step(long step, List<int[]> micro, long targets) {
            long t0 = System.nanoTime();
            int bsz = run.config().batchSize(), accum = run.config().gradAccum();
            // the epochs the step's micro-batches come from (two at an epoch's end), and which examples each partition runs
            List<Long> epochs = new ArrayList<>();
            for (int a = 0; a < micro.size(); a++) {
                long e = (step * accum + a) / microPerEpoch;
                if (!epochs.contains(e)) epochs.add(e);
            }
            int[][][] plan = new int[epochs.size() * parts][micro.size()][];
            for (int[][] p : plan) Arrays.fill(p, new int[0]);
            JavaRDD<ExampleBlock> blocks = null;
            for (int k = 0; k < epochs.size(); k++) {
                Layout l = layout(epochs.get(k));
                blocks = blocks == null ? l.blocks() : blocks.union(l.blocks());
            }
            for (int a = 0; a < micro.size(); a++) {
                long mi = step * accum + a, e = mi / microPerEpoch;
                int k = epochs.indexOf(e), first = (int) (mi % microPerEpoch) * bsz;
                int[] rows = micro.get(a), order = layouts.get(e).order();
                int[] count = new int[parts];
                for (int i = 0; i < rows.length; i++) {
                    if (order[first + i] != rows[i]) throw new IllegalStateException("step " + (step + 1) + ": the data order and the layout disagree");
                    count[(first + i) % parts]++;
                }
                for (int p = 0; p < parts; p++) plan[k * parts + p][a] = new int[count[p]];
                Arrays.fill(count, 0);
                for (int i = 0; i < rows.length; i++) {
                    int pos = first + i, p = pos % parts;
                    plan[k * parts + p][a][count[p]++] = pos / parts;
                }
            }
            JavaRDD<ExampleBlock> on = blocks;
            Broadcast<float[]> w = publish();
            long v = version;
            float scale = 1f / targets;
            StepTasks.Job j = job;
            GradientSum sum = Jobs.onCluster("step " + (step + 1), () -> on
                    .mapPartitionsWithIndex((p, it) -> List.of(StepTasks.step(j, step, p, it, plan[p], w, v, scale)).iterator(), true)
                    .treeReduce(GradientSum::add, 2));
            if (sum.empty()) throw new IllegalStateException("step " + (step + 1) + ": no task returned gradients");
            int at = 0;
            for (Parameter prm : params) {
                float[] g = prm.grad();
                for (int i = 0; i < g.length; i++) g[i] = (float) sum.grad(at++);
            }
            if (sum.targets != targets)
                throw new IllegalStateException("step " + (step + 1) + ": the tasks counted " + sum.targets + " target tokens, the driver " + targets);
            if (steps++ > 0) { // the first step loads the model on every executor and warms the JIT up: the means leave it out
                stepNanos += System.nanoTime() - t0;
                taskNanos += sum.maxTaskNanos;
            }
            return sum.loss;
        }

        @Override
        public Evaluator.Result evaluate() {
            long t0 = System.nanoTime();
            Broadcast<float[]> w = publish();
            long v = version;
            StepTasks.Job j = job;
            int seqLen = run.config().seqLen();
            double[] sum = Jobs.onCluster("evaluation", () -> eval.map(b -> StepTasks.evaluate(j, b, w, v, seqLen))
                    .treeReduce((x, y) -> new double[] {x[0] + y[0], x[1] + y[1], x[2] + y[2]}, 2));
            double loss = sum[1] == 0 ? Double.NaN : sum[0] / sum[1];
            return new Evaluator.Result(loss, Math.exp(loss), (long) sum[1], (int) sum[2], (System.nanoTime() - t0) / 1e9);
        }

        /**
         * Waits (at most a minute) until a cluster's executors offer a task slot per partition: executors register one by
         * one after the application starts.
         */
        private void awaitExecutors(int parts) {
            // local mode has no executors to wait for; with dynamic allocation, executors come only once tasks are pending
            if (sc.master().startsWith("local") || sc.getConf().getBoolean("spark.dynamicAllocation.enabled", false)) return;
            int perExecutor = Math.max(1, sc.getConf().getInt("spark.executor.cores", 1) / Math.max(1, sc.getConf().getInt("spark.task.cpus", 1)));
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (System.nanoTime() < deadline) {
                int executors = sc.statusTracker().getExecutorInfos().length - 1; // less the driver
                if (executors * perExecutor >= parts) return;
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            if (report != null) report.printf("spark: fewer task slots than the %d partitions after a minute; starting anyway%n", parts);
        }

        /** Broadcasts the driver's current adapter weights once per version (a step changes them). */
        private Broadcast<float[]> publish() {
            if (weights != null && publishedAt == steps) return weights;
            if (weights != null) weights.destroy();
            int n = 0;
            for (Parameter p : params) n += p.value().length;
            float[] flat = new float[n];
            int at = 0;
            for (Parameter p : params) {
                System.arraycopy(p.value(), 0, flat, at, p.value().length);
                at += p.value().length;
            }
            weights = sc.broadcast(flat);
            // unique across runs: an executor JVM (a local one above all) keeps its workers from one run to the next
            version = VERSIONS.nextLong();
            publishedAt = steps;
            return weights;
        }

        @Override
        public void close() {
            if (weights != null) weights.destroy();
            for (Layout l : layouts.values()) l.blocks().unpersist(false);
            if (eval != null) eval.unpersist(false);
            sc.sc().removeSparkListener(resultBytes);
            long bytes = resultBytes.bytes.get() - bytesBefore;
            int n = 0;
            for (Parameter p : params) n += p.value().length;
            long timed = Math.max(1, steps - 1);
            stats = new Stats(steps, stepNanos / 1e9 / timed, taskNanos / 1e9 / timed, steps == 0 ? 0 : (double) bytes / steps, 4L * n);
            Stats s = stats;
            if (report != null && steps > 0)
                report.printf(Locale.ROOT, "spark: %d steps on %d partitions: %.3f s a step after the first, of which %.3f s the slowest task's forward"
                                + " and backward (%.3f s overhead); %.0f bytes of task results and %d bytes of broadcast weights a step%n",
                        s.steps(), parts, s.stepSeconds(), s.taskSeconds(), s.overheadSeconds(), s.resultBytesPerStep(), s.broadcastBytes());
        }
    }

    /** The evaluation examples cut into parts contiguous blocks (their order does not matter: the loss is a sum). */
    private static List<ExampleBlock> evalBlocks(TokenDataset d, int parts) {
        List<ExampleBlock> out = new ArrayList<>();
        int n = d.examples().size();
        for (int p = 0; p < parts; p++) {
            int from = (int) ((long) n * p / parts), to = (int) ((long) n * (p + 1) / parts);
            out.add(ExampleBlock.of(d, to - from, i -> from + i));
        }
        return out;
    }

    /** Counts the bytes of task results the driver receives. */
    private static final class ResultBytes extends SparkListener {
        final AtomicLong bytes = new AtomicLong();

        @Override
        public void onTaskEnd(SparkListenerTaskEnd end) {
            if (end.taskMetrics() != null) bytes.addAndGet(end.taskMetrics().resultSize());
        }
    }
}
