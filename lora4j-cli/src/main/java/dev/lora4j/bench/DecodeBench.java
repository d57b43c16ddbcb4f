package dev.lora4j.bench;

import dev.lora4j.model.Block;
import dev.lora4j.model.KvCache;
import dev.lora4j.model.Projection;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.SplittableRandom;

/**
 * Generation speed at batch 1: prompt tokens/s (one prefill of a random prompt) and decode tokens/s
 * (greedy, one token a step, attending to the KV cache), beside the machine's memory bandwidth measured
 * in the same process. Decode reads every weight once a token, so bandwidth / weight bytes is its limit.
 */
public final class DecodeBench {
    /** Prompt and decode speed, the weight bytes a decode step reads and the measured read bandwidth. */
    public record Result(double promptTokensPerSecond, double decodeTokensPerSecond, long weightBytes, double bandwidthBytesPerSecond,
                         boolean weightsOnHeap) {
        /** The fraction of the bandwidth limit that decoding reaches. */
        public double fractionOfLimit() {
            return decodeTokensPerSecond * weightBytes / bandwidthBytesPerSecond;
        }
    }

    private DecodeBench() {}

    public static Result run(Transformer model, int promptLength, int newTokens, int reps) {
        int vocab = model.config().vocabSize();
        if (promptLength + newTokens > model.config().maxPositions())
            throw new dev.lora4j.Lora4jException("prompt + new tokens (" + (promptLength + newTokens) + ") exceed the context of " + model.config().maxPositions());
        int[] prompt = new SplittableRandom(0).ints(promptLength, 0, vocab).toArray();
        boolean onHeap = model.copyWeightsForDecoding(); // as generation does
        // This machine's bandwidth moves by half for seconds at a time: measured before and after, the higher counts.
        float[] buffer = new float[Math.toIntExact(Math.min(1L << 30, Runtime.getRuntime().maxMemory() / 4) / 4)]; // far larger than the caches; fits a small heap
        double bandwidth = readBandwidth(buffer, 5);
        double bestPrompt = Double.MAX_VALUE, bestDecode = Double.MAX_VALUE;
        for (int rep = 0; rep < reps + 1; rep++) { // the first round warms the JIT up
            KvCache cache = new KvCache(model.config(), 1, promptLength + newTokens);
            long t0 = System.nanoTime();
            float[] logits = model.forwardCached(prompt, 1, promptLength, cache);
            long t1 = System.nanoTime();
            for (int i = 0; i < newTokens; i++) logits = model.forwardCached(new int[] {argmax(logits)}, 1, 1, cache);
            long t2 = System.nanoTime();
            if (rep == 0) continue;
            bestPrompt = Math.min(bestPrompt, (t1 - t0) / 1e9);
            bestDecode = Math.min(bestDecode, (t2 - t1) / 1e9);
        }
        return new Result(promptLength / bestPrompt, newTokens / bestDecode, weightBytes(model), Math.max(bandwidth, readBandwidth(buffer, 5)), onHeap);
    }

    /** Bytes of every matrix a decode step streams: the block projections and the LM head. */
    public static long weightBytes(Transformer model) {
        long bytes = model.head().byteSize();
        for (Block b : model.blocks())
            for (Projection p : b.projections()) bytes += p.base().weight().byteSize();
        return bytes;
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * Read bandwidth: every thread sums its share of buf (far larger than the caches; overwritten),
     * each chunk read as four streams (its quarters, a vector of each at a time): one stream a core left a third
     * of this machine's bandwidth unused (≈ 44 GB/s against ≈ 58 with four, same run), and the limit
     * should be the machine's, not one access pattern's. Best of reps passes.
     */
    private static double readBandwidth(float[] buf, int reps) {
        java.util.Arrays.fill(buf, 1f);
        int chunks = Parallel.threads() * 16, l = S.length();
        int quarter = buf.length / chunks / (4 * l) * l, per = 4 * quarter;
        double best = Double.MAX_VALUE;
        float[] sink = new float[chunks];
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            Parallel.forRange(chunks, 1, (c0, c1) -> {
                for (int c = c0; c < c1; c++) {
                    FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
                    for (int o = c * per, end = o + quarter; o < end; o += l) {
                        a0 = a0.add(FloatVector.fromArray(S, buf, o));
                        a1 = a1.add(FloatVector.fromArray(S, buf, o + quarter));
                        a2 = a2.add(FloatVector.fromArray(S, buf, o + 2 * quarter));
                        a3 = a3.add(FloatVector.fromArray(S, buf, o + 3 * quarter));
                    }
                    sink[c] = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD); // kept, so the loads are not dead
                }
            });
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return 4.0 * per * chunks / best;
    }
}
