package dev.lora4j.model;

/**
 * Prefix tuning's learned keys and values: at every layer, n keys and n values that each sequence's tokens attend to
 * before their own, at positions 0…n−1, as they are (no rotation: they are cache entries, PEFT's past_key_values).
 * Stored as PEFT stores them, one row of L·2·KV·D per virtual token j: layer l's keys at column 2l·KV·D and its
 * values right after, each KV heads of D. That is the [k | v] layout of a qkv row, so a layer's prefix entry for
 * token j goes in or out with one copy.
 *
 * <p>A model with a prefix runs n virtual rows before each sequence (their inputs do not matter); at every layer their
 * keys and values are replaced by the prefix's after the rotation, and in the backward pass the gradients reaching
 * them are taken off into {@link #grad} and go no further, so the rows themselves learn nothing.
 *
 * @param table (n, L·2·KV·D)
 * @param grad  the same shape, where training accumulates the gradient; null in inference
 */
public record KvPrefix(float[] table, float[] grad, int tokens, int layers, int kvWidth) {
    public KvPrefix {
        if (tokens < 1 || table.length != tokens * layers * 2 * kvWidth)
            throw new IllegalArgumentException(table.length + " floats are not " + tokens + " rows of " + layers + " layers' keys and values of " + kvWidth);
        if (grad != null && grad.length != table.length) throw new IllegalArgumentException("gradient of " + grad.length + " floats for " + table.length);
    }

    int rowWidth() {
        return layers * 2 * kvWidth;
    }

    /** Layer l's view, for its attention. */
    public Layer layer(int l) {
        return new Layer(this, l);
    }

    /** Writes every layer's keys and values into sequence seq's empty cache slot (positions 0…n−1) and advances it. */
    void fill(KvCache cache, int seq) {
        for (int l = 0; l < layers; l++)
            for (int j = 0; j < tokens; j++) cache.layer(l).append(table, j, seq, j, 2 * l * kvWidth, rowWidth());
        cache.advance(seq, tokens);
    }

    /** One layer's prefix. */
    public record Layer(KvPrefix prefix, int l) {
        /** In a pass over b sequences of t rows, the first n of each virtual: their k and v (qkv columns kCol…, width w) become the prefix's. */
        void overwrite(float[] qkv, int b, int t, int w, int kCol) {
            KvPrefix p = prefix;
            for (int i = 0; i < b; i++)
                for (int j = 0; j < p.tokens; j++)
                    System.arraycopy(p.table, j * p.rowWidth() + 2 * l * p.kvWidth, qkv, (i * t + j) * w + kCol, 2 * p.kvWidth);
        }

        /** Backward: the gradients in the virtual rows' k and v columns of dqkv go to the prefix's gradient, and are zeroed there. */
        void takeGradient(float[] dqkv, int b, int t, int w, int kCol) {
            KvPrefix p = prefix;
            for (int i = 0; i < b; i++)
                for (int j = 0; j < p.tokens; j++) {
                    int from = (i * t + j) * w + kCol, to = j * p.rowWidth() + 2 * l * p.kvWidth;
                    if (p.grad != null) for (int c = 0; c < 2 * p.kvWidth; c++) p.grad[to + c] += dqkv[from + c];
                    java.util.Arrays.fill(dqkv, from, from + 2 * p.kvWidth, 0f);
                }
        }
    }
}
