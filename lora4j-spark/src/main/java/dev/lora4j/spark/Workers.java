package dev.lora4j.spark;

import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Parallel;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The executor's side of a distributed run: the frozen base, loaded (memory-mapped) once per executor
 * JVM, and a pool of adapter copies over it, one per task running at the same time. A worker remembers
 * which broadcast weights it holds, so consecutive tasks of one step on one executor copy them once.
 */
final class Workers {
    private static final Map<String, Transformer> BASES = new ConcurrentHashMap<>();
    private static final Map<String, ConcurrentLinkedQueue<Worker>> IDLE = new ConcurrentHashMap<>();
    private static volatile boolean threadsSet;

    private Workers() {}

    /** One task's adapter over the shared base, with its activation buffers. */
    static final class Worker {
        final String key;
        final LoraModel lora;
        private final int t;
        private final Map<Integer, Activations> acts = new java.util.HashMap<>();
        long version = -1;

        Worker(String key, LoraModel lora, int t) {
            this.key = key;
            this.lora = lora;
            this.t = t;
        }

        /**
         * Training activations for a batch of rows (recomputed in backward with gradient checkpointing): a task's share of a micro-batch is run at its own size, not padded
         * to the full micro-batch (padding rows would cost as much as real ones).
         */
        Activations activations(int rows, boolean recompute) {
            return acts.computeIfAbsent(2 * rows + (recompute ? 1 : 0), k -> recompute ? Activations.recomputing(lora.model().config(), rows, t)
                    : new Activations(lora.model().config(), rows, t, true));
        }

        /** Loads the flat A, B, A, B, ... weights of version (module order) unless they are loaded already. */
        void load(long version, float[] flat) {
            if (this.version == version) return;
            int at = 0;
            for (LoraLinear l : lora.modules().values())
                for (float[] p : values(l)) {
                    System.arraycopy(flat, at, p, 0, p.length);
                    at += p.length;
                }
            if (at != flat.length) throw new IllegalStateException("broadcast holds " + flat.length + " weights, the adapter " + at);
            this.version = version;
        }

        /** The gradients, flat in the order of {@link #load}. */
        float[] grads() {
            int n = 0;
            for (LoraLinear l : lora.modules().values()) for (float[] g : gradients(l)) n += g.length;
            float[] out = new float[n];
            int at = 0;
            for (LoraLinear l : lora.modules().values())
                for (float[] g : gradients(l)) {
                    System.arraycopy(g, 0, out, at, g.length);
                    at += g.length;
                }
            return out;
        }

        /** A module's trained arrays in the driver's parameter order: A, B, and DoRA's magnitude or lora_B's bias. */
        private static List<float[]> values(LoraLinear l) {
            return l.dora() ? List.of(l.a(), l.b(), l.magnitude()) : l.biasB() != null ? List.of(l.a(), l.b(), l.biasB()) : List.of(l.a(), l.b());
        }

        private static List<float[]> gradients(LoraLinear l) {
            return l.dora() ? List.of(l.gradA(), l.gradB(), l.gradMagnitude())
                    : l.biasB() != null ? List.of(l.gradA(), l.gradB(), l.gradBiasB()) : List.of(l.gradA(), l.gradB());
        }
    }

    /** A worker for the model at dir with adapters of config, training batches t long; give it back with {@link #release}. */
    static Worker acquire(String dir, LoraConfig config, int t, int threads) {
        if (!threadsSet && !onDriver()) {
            // an executor's tasks use the cores it was given, not every core of the machine it shares
            int n = threads > 0 ? threads : org.apache.spark.SparkEnv.get().conf().getInt("spark.executor.cores", 0);
            if (n > 0) Parallel.setThreads(n);
            threadsSet = true;
        }
        String key = dir + "|" + config.hashCode() + "|" + t;
        Worker w = IDLE.computeIfAbsent(key, k -> new ConcurrentLinkedQueue<>()).poll();
        if (w != null) return w;
        Transformer base = BASES.computeIfAbsent(dir, d -> Transformer.load(Path.of(d)));
        LoraModel lm = LoraModel.of(base, config, lin -> new float[][] {new float[config.rankFor(lin.name()) * lin.in()],
                new float[lin.out() * config.rankFor(lin.name())]});
        return new Worker(key, lm, t);
    }

    static void release(Worker w) {
        IDLE.get(w.key).add(w);
    }

    private static boolean onDriver() {
        org.apache.spark.SparkEnv env = org.apache.spark.SparkEnv.get();
        return env == null || "driver".equals(env.executorId());
    }
}
