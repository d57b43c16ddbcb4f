package dev.lora4j.generate;

import dev.lora4j.Lora4jException;
import dev.lora4j.model.KvCache;
import dev.lora4j.model.Transformer;

import java.util.function.IntConsumer;

/**
 * Autoregressive generation with a KV cache: the prompt in one forward pass (prefill), then one token
 * per step, each attending to the cache. Stops at EOS or after maxNewTokens.
 */
public final class Generator {
    private Generator() {}

    /** Callback before each forward pass with the number of tokens per sequence in it (e.g. to route a mixed batch). */
    @FunctionalInterface
    public interface BeforeStep {
        void accept(int n);
    }

    /**
     * Generates from B prompts of equal length (row-major, B·P); each new token is passed to onToken
     * (for sequence 0, as produced). Returns the new ids of each sequence (EOS included when reached).
     */
    public static int[][] generate(Transformer model, int[][] prompts, int maxNewTokens, Sampler sampler, int eos,
                                   BeforeStep beforeStep, IntConsumer onToken) {
        return generate(model, prompts, maxNewTokens, sampler, eos, beforeStep, onToken, (seq, ids, n) -> false);
    }

    /** Decides, after each new token, whether sequence seq (its n new ids so far) is finished (e.g. a stop string). */
    @FunctionalInterface
    public interface StopCondition {
        boolean done(int seq, int[] ids, int n);
    }

    public static int[][] generate(Transformer model, int[][] prompts, int maxNewTokens, Sampler sampler, int eos,
                                   BeforeStep beforeStep, IntConsumer onToken, StopCondition stop) {
        int b = prompts.length, p = prompts[0].length, vocab = model.config().vocabSize();
        for (int[] pr : prompts) if (pr.length != p) throw new Lora4jException("prompts of one batch must have the same length");
        if (p == 0) throw new Lora4jException("the prompt is empty");
        int context = model.config().maxPositions();
        if (p >= context) throw new Lora4jException("the prompt has " + p + " tokens; the model's context is " + context);
        int total = Math.min(context, p + maxNewTokens);
        model.copyWeightsForDecoding(); // decoding streams every weight once a token: from the heap, fastest
        KvCache cache = new KvCache(model.config(), b, total);
        int[][] seen = new int[b][total];
        int[] seenCount = new int[b];
        int[] flat = new int[b * p];
        for (int i = 0; i < b; i++) {
            System.arraycopy(prompts[i], 0, flat, i * p, p);
            System.arraycopy(prompts[i], 0, seen[i], 0, p);
            seenCount[i] = p;
        }
        int[][] out = new int[b][total - p];
        int[] produced = new int[b];
        boolean[] done = new boolean[b];
        beforeStep.accept(p);
        float[] logits = model.forwardCached(flat, b, p, cache);
        for (int step = 0; step < total - p; step++) {
            int[] next = new int[b];
            boolean allDone = true;
            for (int i = 0; i < b; i++) {
                if (done[i]) continue;
                next[i] = sampler.next(logits, i * vocab, vocab, seen[i], seenCount[i]);
                out[i][produced[i]++] = next[i];
                seen[i][seenCount[i]++] = next[i];
                if (i == 0) onToken.accept(next[i]);
                if (next[i] == eos || stop.done(i, out[i], produced[i])) done[i] = true;
                allDone &= done[i];
            }
            if (allDone || step + 1 == total - p) break;
            beforeStep.accept(1);
            logits = model.forwardCached(next, b, 1, cache);
        }
        int[][] result = new int[b][];
        for (int i = 0; i < b; i++) result[i] = java.util.Arrays.copyOf(out[i], produced[i]);
        return result;
    }
}
