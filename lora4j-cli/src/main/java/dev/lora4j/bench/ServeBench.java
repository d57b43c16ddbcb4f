package dev.lora4j.bench;

import dev.lora4j.lora.AdapterSet;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Serving many adapters over one base: forward latency (B sequences of T tokens through every block)
 * of the base, the base with a merged adapter, with an unmerged adapter, and mixed batches whose
 * sequences use 1, 4 or 16 distinct adapters against a batch that uses one. Adapters are random
 * (B non-zero), r = 8 on the model type's default targets.
 */
public final class ServeBench {
    public record Row(String what, int batch, double millis, double relative) {}

    private ServeBench() {}

    static double time(Runnable r, int reps) {
        for (int i = 0; i < 2; i++) r.run();
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            r.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e6);
        }
        return best;
    }

    public static LoraModel randomAdapter(Transformer base, long seed) {
        LoraConfig cfg = LoraConfig.builder().r(8).alpha(16).build();
        LoraModel m = LoraModel.inject(base, cfg, seed);
        SplittableRandom r = new SplittableRandom(seed + 1);
        for (LoraLinear l : m.modules().values()) for (int i = 0; i < l.b().length; i++) l.b()[i] = (float) r.nextDouble(-0.02, 0.02);
        return m;
    }

    public static List<Row> run(Transformer base, int t, int reps) {
        List<Row> rows = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(0);
        LoraModel one = randomAdapter(base, 100);
        Transformer merged = Merger.mergeInMemory(one, 1.0);
        for (int b : new int[] {1, 16}) {
            int[] tokens = rnd.ints((long) b * t, 0, base.config().vocabSize()).toArray();
            Activations act = new Activations(base.config(), b, t, false);
            // interleaved, best of each: the machine's drift then hits all three alike
            double[] best = {Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE};
            Transformer[] models = {base, merged, one.model()};
            for (int rep = 0; rep < reps; rep++)
                for (int k = 0; k < 3; k++) {
                    Transformer m = models[k];
                    best[k] = Math.min(best[k], time(() -> m.forwardHidden(tokens, b, t, act), 1));
                }
            rows.add(new Row("base", b, best[0], 1.0));
            rows.add(new Row("base + merged adapter", b, best[1], 0));
            rows.add(new Row("base + unmerged adapter", b, best[2], 0));
        }
        // mixed batches of 16 sequences: 1, 4, 16 distinct adapters, against a plain single-adapter batch
        int b = 16;
        int[] tokens = rnd.ints((long) b * t, 0, base.config().vocabSize()).toArray();
        Activations act = new Activations(base.config(), b, t, false);
        AdapterSet set = new AdapterSet(base);
        for (int k = 0; k < 16; k++) set.add("a" + k, randomAdapter(base, 200 + k));
        AdapterSet.Mixed mixed = set.mixed();
        int[] distinct = {1, 4, 16};
        double single = Double.MAX_VALUE;
        double[] best = {Double.MAX_VALUE, Double.MAX_VALUE, Double.MAX_VALUE};
        for (int rep = 0; rep < reps; rep++) { // interleaved, best of each
            single = Math.min(single, time(() -> one.model().forwardHidden(tokens, b, t, act), 1));
            for (int d = 0; d < distinct.length; d++) {
                String[] route = new String[b];
                for (int i = 0; i < b; i++) route[i] = "a" + (i % distinct[d]);
                best[d] = Math.min(best[d], time(() -> mixed.run(route, () -> mixed.model().forwardHidden(tokens, b, t, act)), 1));
            }
        }
        rows.add(new Row("16 sequences, one adapter (plain)", b, single, 1.0));
        for (int d = 0; d < distinct.length; d++)
            rows.add(new Row("16 sequences, " + distinct[d] + " distinct adapter" + (distinct[d] == 1 ? "" : "s") + " (mixed)", b, best[d], single / best[d]));
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            if (r.what().startsWith("base +")) {
                double baseMs = rows.stream().filter(x -> x.what().equals("base") && x.batch() == r.batch()).findFirst().orElseThrow().millis();
                rows.set(i, new Row(r.what(), r.batch(), r.millis(), baseMs / r.millis()));
            }
        }
        return rows;
    }
}
