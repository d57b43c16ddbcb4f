package dev.lora4j.eval;

import dev.lora4j.data.Batch;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;

import java.util.List;
import java.util.function.Supplier;

/**
 * Mean causal-LM loss over a set of examples, as Hugging Face computes it: position i predicts
 * token i+1, every predicted token counts once, and the mean is taken over all of them (token-weighted
 * across batches, so the figure does not depend on the batch size). Examples are truncated to seqLen.
 */
public final class Evaluator {
    public record Result(double loss, double perplexity, long tokens, int examples, double seconds) {}

    private Evaluator() {}

    public static Result evaluate(Transformer model, List<int[]> examples, int seqLen, int batchSize) {
        return evaluate(model, examples, null, seqLen, batchSize);
    }

    /** Runs each batch's forward pass, given the index of its first example (e.g. inside a mixed-adapter routing). */
    @FunctionalInterface
    public interface BatchScope {
        Transformer.LossSum run(int first, Supplier<Transformer.LossSum> batch);
    }

    /** The mean loss over examples whose labels (per example, null: the ids themselves) say which targets count. */
    public static Result evaluate(Transformer model, List<int[]> examples, List<int[]> labels, int seqLen, int batchSize) {
        return evaluate(model, examples, labels, seqLen, batchSize, (first, batch) -> batch.get());
    }

    public static Result evaluate(Transformer model, List<int[]> examples, List<int[]> labels, int seqLen, int batchSize, BatchScope scope) {
        long start = System.nanoTime();
        int t = 1;
        for (int[] e : examples) t = Math.max(t, Math.min(seqLen, e.length));
        Activations act = new Activations(model.config(), batchSize, t, false);
        double sum = 0;
        long count = 0;
        for (int first = 0; first < examples.size(); first += batchSize) {
            Batch batch = Batch.of(examples, labels, first, batchSize, t);
            int tt = t;
            Transformer.LossSum ls = scope.run(first, () -> model.loss(batch.tokens(), batch.targets(), batchSize, tt, act, 0f));
            sum += ls.sum();
            count += ls.count();
        }
        double loss = count == 0 ? Double.NaN : sum / count;
        return new Result(loss, Math.exp(loss), count, examples.size(), (System.nanoTime() - start) / 1e9);
    }
}
