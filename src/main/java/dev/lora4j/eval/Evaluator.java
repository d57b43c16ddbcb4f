package dev.lora4j.eval;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Parallel;

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
        long start = System.nanoTime();
        int t = 1;
        for (int[] e : examples) t = Math.max(t, Math.min(seqLen, e.length));
        Transformer.Activations act = new Transformer.Activations(model.config(), batchSize, t);
        int vocab = model.config().vocabSize();
        double sum = 0;
        long count = 0;
        int[] tokens = new int[batchSize * t];
        int[] lengths = new int[batchSize];
        for (int first = 0; first < examples.size(); first += batchSize) {
            java.util.Arrays.fill(tokens, 0);
            for (int r = 0; r < batchSize; r++) {
                int[] e = first + r < examples.size() ? examples.get(first + r) : new int[0];
                lengths[r] = Math.min(t, e.length);
                System.arraycopy(e, 0, tokens, r * t, lengths[r]);
            }
            float[] logits = model.forward(tokens, batchSize, t, act);
            double[] rowLoss = new double[batchSize];
            int tt = t;
            Parallel.forRange(batchSize, 1, (r0, r1) -> {
                for (int r = r0; r < r1; r++)
                    for (int i = 0; i + 1 < lengths[r]; i++)
                        rowLoss[r] += Kernels.ops().crossEntropy(logits, (r * tt + i) * vocab, vocab, tokens[r * tt + i + 1]);
            });
            for (int r = 0; r < batchSize; r++) {
                sum += rowLoss[r];
                count += Math.max(0, lengths[r] - 1);
            }
        }
        double loss = count == 0 ? Double.NaN : sum / count;
        return new Result(loss, Math.exp(loss), count, examples.size(), (System.nanoTime() - start) / 1e9);
    }
}
