package dev.lora4j.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits as Hugging Face's generate does: repetition penalty on tokens
 * already present (logit/p if positive, logit·p if not), then temperature, top-k, top-p (nucleus),
 * and a draw; temperature 0 is greedy (argmax, lowest id on ties).
 */
public record Sampler(double temperature, int topK, double topP, double repetitionPenalty, SplittableRandom rng) {

    public int next(float[] logits, int off, int vocab, int[] seen, int seenCount) {
        if (temperature <= 0 && repetitionPenalty == 1.0) { // greedy over the logits as they are: no copy
            int best = off;
            for (int i = off + 1; i < off + vocab; i++) if (logits[i] > logits[best]) best = i;
            return best - off;
        }
        float[] l = Arrays.copyOfRange(logits, off, off + vocab);
        if (repetitionPenalty != 1.0)
            for (int i = 0; i < seenCount; i++) {
                int tok = seen[i];
                if (tok >= vocab) continue; // a prompt id past the ids drawn from: nothing to penalize
                l[tok] = l[tok] > 0 ? (float) (l[tok] / repetitionPenalty) : (float) (l[tok] * repetitionPenalty);
            }
        if (temperature <= 0) {
            int best = 0;
            for (int i = 1; i < vocab; i++) if (l[i] > l[best]) best = i;
            return best;
        }
        int[] order = descending(l, vocab);
        int keep = topK > 0 ? Math.min(topK, vocab) : vocab;
        double max = l[order[0]];
        double[] p = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) sum += p[i] = Math.exp((l[order[i]] - max) / temperature);
        if (topP < 1.0) { // smallest prefix whose mass reaches topP (at least one token)
            double acc = 0;
            int n = 0;
            while (n < keep && (acc < topP * sum || n == 0)) acc += p[n++];
            keep = n;
            sum = acc;
        }
        double u = rng.nextDouble() * sum;
        for (int i = 0; i < keep; i++) {
            u -= p[i];
            if (u <= 0) return order[i];
        }
        return order[keep - 1];
    }

    /**
     * Token ids by logit, highest first, ties by lower id (the order a stable sort by logit gives). Each
     * id is sorted as one long, (logit's order key, id), so the sort is of primitives: sorting boxed ids
     * with a comparator took milliseconds a token at a 50k vocabulary.
     */
    static int[] descending(float[] l, int vocab) {
        long[] keys = new long[vocab];
        for (int i = 0; i < vocab; i++) {
            int bits = Float.floatToIntBits(l[i]);
            int ascending = bits < 0 ? ~bits : bits | Integer.MIN_VALUE; // unsigned order of this = order of the floats
            // ~: highest logit first as an unsigned high word; flipping its top bit makes that the signed order
            keys[i] = (((long) ~ascending << 32) | i) ^ Long.MIN_VALUE;
        }
        Arrays.sort(keys);
        int[] order = new int[vocab];
        for (int i = 0; i < vocab; i++) order[i] = (int) keys[i];
        return order;
    }
}
