package dev.lora4j.model;

import dev.lora4j.Lora4jException;
import dev.lora4j.kernels.Kernels;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import dev.lora4j.tensor.Tensor;

/**
 * The way into the blocks, forward and backward side by side:
 * <pre>
 *   x[r] = row(token[r])·scale (+ wpe[position[r]])                      (rows, C)
 *   row(id) = rows' trained value when id is one of them (trainable tokens),
 *             the soft prompt's embedding id − V for the virtual ids V…V+n−1,
 *             wte[id] otherwise
 * </pre>
 * scale is Gemma's √C (1 for the others), applied as the models do, after the lookup.
 *
 * @param positions (P, C) or null (rotary models)
 * @param rows      trained rows of wte, or null
 * @param prompt    the virtual tokens' embeddings, or null
 */
record InputEmbedding(ModelConfig config, Tensor tokens, Tensor positions, TokenRows rows, SoftPrompt prompt) {

    /** x(rows, C) = the embeddings of ids[r] at position rowPos[r]. */
    void forward(int[] ids, int[] rowPos, float[] x) {
        int dim = config.dim(), vocab = config.vocabSize(), virtual = config.virtualTokens();
        float scale = config.gemma().embeddingScale();
        Mat wte = tokens.mat(), wpe = positions == null ? null : positions.mat();
        Parallel.forRange(rowPos.length, 64, (r0, r1) -> {
            float[] row = new float[dim];
            for (int r = r0; r < r1; r++) {
                int tok = ids[r];
                if (tok < 0 || tok >= vocab + virtual) throw new Lora4jException("token id " + tok + " is outside the vocabulary [0, " + vocab + ")");
                int slot = tok < vocab && rows != null ? rows.slot(tok) : -1;
                if (slot >= 0) System.arraycopy(rows.values(), slot * dim, x, r * dim, dim);
                else if (tok < vocab) wte.copyRow(tok, 0, x, r * dim, dim);
                else System.arraycopy(prompt.embeddings(), (tok - vocab) * dim, x, r * dim, dim);
                if (scale != 1f) for (int j = r * dim; j < (r + 1) * dim; j++) x[j] *= scale;
                if (wpe != null) {
                    int p = rowPos[r];
                    if (p >= positions.dim(0)) throw new Lora4jException("position " + p + " exceeds the model's " + positions.dim(0) + " positions");
                    wpe.copyRow(p, 0, row, 0, dim);
                    Kernels.ops().axpy(1f, row, 0, x, r * dim, dim);
                }
            }
        });
    }

    /** Whether backward has anything to update: trained tables (grads), a trained soft prompt, or trained rows. */
    boolean trains(Transformer.EmbeddingGrads grads) {
        return grads != null || prompt != null && prompt.grad() != null || rows != null && rows.grad() != null;
    }

    /**
     * Gradients from dx (B·T, C), rows in order (deterministic): a trained row's, or a virtual token's, to it alone;
     * wte[token] += scale·dx[row] when the table is trained (grads.token), and wpe[position] += dx[row] (grads.position).
     */
    void backward(int[] ids, int b, int t, float[] dx, Transformer.EmbeddingGrads grads) {
        int dim = config.dim(), vocab = config.vocabSize();
        float scale = config.gemma().embeddingScale();
        for (int r = 0; r < b * t; r++) {
            int tok = ids[r], slot = tok < vocab && rows != null ? rows.slot(tok) : -1;
            if (tok >= vocab) {
                if (prompt != null && prompt.grad() != null) Kernels.ops().axpy(scale, dx, r * dim, prompt.grad(), (tok - vocab) * dim, dim);
            } else if (slot >= 0) {
                if (rows.grad() != null) Kernels.ops().axpy(scale, dx, r * dim, rows.grad(), slot * dim, dim);
            } else if (grads != null && grads.token() != null) Kernels.ops().axpy(scale, dx, r * dim, grads.token(), tok * dim, dim);
            if (grads != null && grads.position() != null) Kernels.ops().axpy(1f, dx, r * dim, grads.position(), (r % t) * dim, dim);
        }
    }
}
