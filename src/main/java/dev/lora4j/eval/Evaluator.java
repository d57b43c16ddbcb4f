package dev.lora4j.eval;

import dev.lora4j.data.Batch;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;

import java.util.List;

/**
 * Mean causal-LM loss over a set of examples, as Hugging Face computes it: position i predicts
 * token i+1, every predicted token counts once, and the mean is taken over all of them (token-weighted
 * across batches, so the figure does not depend on the batch size). Examples are truncated to seqLen.
 */
public final class Evaluator {
    public record Result(double loss, double perplexity, long tokens, int examples, double seconds) {}

    private Evaluator() {}

    public static Result evaluate(Transformer model, List<int[]> examples, int seqLen, int batchSize) {
        return evaluate(model, examples, seqLen, batchSize, (first, t) -> {});
    }

    /** Called before each batch with the index of its first example and T (e.g. to route a mixed-adapter batch). */
    @FunctionalInterface
    public interface BeforeBatch {
        void accept(int first, int t);
    }

    public static Result evaluate(Transformer model, List<int[]> examples, int seqLen, int batchSize, BeforeBatch beforeBatch) {
        return evaluate(model, examples, null, seqLen, batchSize, beforeBatch);
    }

    /** With per-example labels (−100 = not counted); null labels: the ids themselves. */
    /** The mean loss over examples whose labels (per example, null: the ids themselves) say which targets count. */
    public static Result evaluate(Transformer model, List<int[]> examples, List<int[]> labels, int seqLen, int batchSize) {
        return evaluate(model, examples, labels, seqLen, batchSize, (first, t) -> {});
    }

    public static Result evaluate(Transformer model, List<int[]> examples, List<int[]> labels, int seqLen, int batchSize, BeforeBatch beforeBatch) {
        long start = System.nanoTime();
        int t = 1;
        for (int[] e : examples) t = Math.max(t, Math.min(seqLen, e.length));
        Activations act = new Activations(model.config(), batchSize, t, false);
        double sum = 0;
        long count = 0;
        for (int first = 0; first < examples.size(); first += batchSize) {
            Batch batch = Batch.of(examples, labels, first, batchSize, t);
            beforeBatch.accept(first, t);
            Transformer.LossSum ls = model.loss(batch.tokens(), batch.targets(), batchSize, t, act, 0f);
            sum += ls.sum();
            count += ls.count();
        }
        double loss = count == 0 ? Double.NaN : sum / count;
        return new Result(loss, Math.exp(loss), count, examples.size(), (System.nanoTime() - start) / 1e9);
    }
}
