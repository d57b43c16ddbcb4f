package dev.lora4j.generate;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.AdapterSet;
import dev.lora4j.model.KvCache;
import dev.lora4j.model.Transformer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

/**
 * Autoregressive generation with a KV cache, for a batch of sequences that may differ in everything:
 * prompt length (a ragged batch: each sequence has its own positions in one shared cache), sampling,
 * stopping rules and length. Prompts are run first (those of equal length together), then one token
 * per unfinished sequence per step, every unfinished sequence in one forward pass. Finished sequences
 * leave the batch. All state of a call lives in the call: one model serves many threads at once.
 */
public final class Generator {
    private Generator() {}

    /** Why a sequence ended: an end-of-sequence id or a stop condition, or its length limit (new tokens or the context). */
    public enum FinishReason { STOP, LENGTH }

    /** Decides, after each new token, whether sequence seq (its n new ids so far) is finished (e.g. a stop string). */
    @FunctionalInterface
    public interface StopCondition {
        boolean done(int seq, int[] ids, int n);

        StopCondition NEVER = (seq, ids, n) -> false;
    }

    /**
     * One sequence to continue: its prompt, how its tokens are picked, when it ends, and who hears each
     * new token as it comes (eos ids are passed too; they end the sequence). The sampler draws ids below
     * vocabLimit (0: any id of the model): a model's embedding is often padded past its tokenizer's
     * vocabulary, and an id the tokenizer has no text for must never come out.
     */
    public record Sequence(int[] prompt, int maxNewTokens, Sampler sampler, int[] eosIds, StopCondition stop, IntConsumer onToken, int vocabLimit) {
        public Sequence {
            if (prompt.length == 0) throw new Lora4jException("the prompt is empty");
            if (maxNewTokens < 1) throw new Lora4jException("max new tokens must be at least 1, got " + maxNewTokens);
            if (vocabLimit < 0) throw new Lora4jException("the vocabulary limit must be 0 (none) or positive, got " + vocabLimit);
        }

        /** Any id of the model may be drawn. */
        public Sequence(int[] prompt, int maxNewTokens, Sampler sampler, int[] eosIds, StopCondition stop, IntConsumer onToken) {
            this(prompt, maxNewTokens, sampler, eosIds, stop, onToken, 0);
        }

        /** How many of the model's vocab ids the sampler looks at: ids [0, drawable). */
        int drawable(int vocab) {
            return vocabLimit == 0 ? vocab : Math.min(vocab, vocabLimit);
        }
    }

    /** A sequence's new ids (its end-of-sequence id included when it met one) and why it ended. */
    public record Output(int[] ids, FinishReason finishReason) {}

    /**
     * Runs each forward pass of a call, given the batch's sequences in it (indices into the call's list):
     * e.g. inside a mixed-adapter routing that gives each sequence its own adapter.
     */
    @FunctionalInterface
    public interface Scope {
        float[] run(int[] sequences, Supplier<float[]> forward);

        Scope PLAIN = (sequences, forward) -> forward.get();

        /** Each forward pass of a mixed-adapter model with sequence i of the call routed to adapter perSequence[i]. */
        static Scope routed(AdapterSet.Mixed mixed, String[] perSequence) {
            mixed.routes(perSequence); // unknown names fail now, not in the middle of generation
            return (sequences, forward) -> {
                String[] names = new String[sequences.length];
                for (int j = 0; j < sequences.length; j++) names[j] = perSequence[sequences[j]];
                return mixed.call(names, forward);
            };
        }
    }

    public static List<Output> generate(Transformer model, List<Sequence> batch) {
        return generate(model, batch, Scope.PLAIN);
    }

    public static List<Output> generate(Transformer model, List<Sequence> batch, Scope scope) {
        int b = batch.size(), vocab = model.config().vocabSize(), context = model.config().maxPositions();
        if (b == 0) return List.of();
        int[] total = new int[b];
        int capacity = 0;
        for (int i = 0; i < b; i++) {
            int[] p = batch.get(i).prompt();
            if (p.length >= context) throw new Lora4jException("the prompt has " + p.length + " tokens; the model's context is " + context);
            for (int id : p) if (id < 0 || id >= vocab) throw new Lora4jException("token id " + id + " is outside the vocabulary [0, " + vocab + ")");
            total[i] = (int) Math.min(context, (long) p.length + batch.get(i).maxNewTokens());
            capacity = Math.max(capacity, total[i]);
        }
        model.copyWeightsForDecoding(); // decoding streams every weight once a token: from the heap, fastest
        KvCache cache = new KvCache(model.config(), b, capacity);
        int[][] seen = new int[b][], out = new int[b][];
        int[] seenCount = new int[b], produced = new int[b];
        FinishReason[] reason = new FinishReason[b];
        float[][] logits = new float[b][];
        // prompts: those of one length as one batch
        Map<Integer, List<Integer>> byLength = new LinkedHashMap<>();
        for (int i = 0; i < b; i++) byLength.computeIfAbsent(batch.get(i).prompt().length, k -> new ArrayList<>()).add(i);
        for (var group : byLength.entrySet()) {
            int p = group.getKey();
            int[] seqs = group.getValue().stream().mapToInt(Integer::intValue).toArray(), flat = new int[seqs.length * p];
            for (int j = 0; j < seqs.length; j++) System.arraycopy(batch.get(seqs[j]).prompt(), 0, flat, j * p, p);
            float[] l = scope.run(seqs, () -> model.forwardCached(flat, seqs, p, cache));
            for (int j = 0; j < seqs.length; j++) logits[seqs[j]] = Arrays.copyOfRange(l, j * vocab, (j + 1) * vocab);
        }
        for (int i = 0; i < b; i++) {
            int[] p = batch.get(i).prompt();
            seen[i] = Arrays.copyOf(p, total[i]);
            seenCount[i] = p.length;
            out[i] = new int[total[i] - p.length];
        }
        int[] active = new int[b];
        for (int i = 0; i < b; i++) active[i] = i;
        while (active.length > 0) {
            int[] next = new int[active.length], still = new int[active.length];
            int kept = 0;
            for (int a = 0; a < active.length; a++) {
                int i = active[a];
                Sequence s = batch.get(i);
                int id = s.sampler().next(logits[i], 0, s.drawable(vocab), seen[i], seenCount[i]);
                out[i][produced[i]++] = id;
                seen[i][seenCount[i]++] = id;
                s.onToken().accept(id);
                if (contains(s.eosIds(), id) || s.stop().done(i, out[i], produced[i])) reason[i] = FinishReason.STOP;
                else if (seenCount[i] == total[i]) reason[i] = FinishReason.LENGTH;
                else {
                    next[kept] = id;
                    still[kept++] = i;
                }
            }
            active = Arrays.copyOf(still, kept);
            if (kept == 0) break;
            int[] seqs = active, tokens = Arrays.copyOf(next, kept);
            float[] l = scope.run(seqs, () -> model.forwardCached(tokens, seqs, 1, cache));
            for (int j = 0; j < seqs.length; j++) logits[seqs[j]] = Arrays.copyOfRange(l, j * vocab, (j + 1) * vocab);
        }
        List<Output> result = new ArrayList<>(b);
        for (int i = 0; i < b; i++) result.add(new Output(Arrays.copyOf(out[i], produced[i]), reason[i]));
        return result;
    }

    /**
     * Generates from B prompts with one sampler and one end-of-sequence id (−1: none) for all; each new
     * token of sequence 0 is passed to onToken as produced. Returns the new ids of each sequence.
     */
    public static int[][] generate(Transformer model, int[][] prompts, int maxNewTokens, Sampler sampler, int eos, IntConsumer onToken) {
        return generate(model, prompts, maxNewTokens, sampler, eos, onToken, StopCondition.NEVER);
    }

    public static int[][] generate(Transformer model, int[][] prompts, int maxNewTokens, Sampler sampler, int eos,
                                   IntConsumer onToken, StopCondition stop) {
        int[] eosIds = eos < 0 ? new int[0] : new int[] {eos};
        List<Sequence> batch = new ArrayList<>();
        for (int i = 0; i < prompts.length; i++)
            batch.add(new Sequence(prompts[i], maxNewTokens, sampler, eosIds, stop, i == 0 ? onToken : id -> {}));
        return generate(model, batch).stream().map(Output::ids).toArray(int[][]::new);
    }

    private static boolean contains(int[] ids, int id) {
        for (int x : ids) if (x == id) return true;
        return false;
    }
}
