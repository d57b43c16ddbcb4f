package dev.lora4j.model;

import dev.lora4j.tensor.Mat;

/**
 * Keys and values of every layer for B sequences of up to maxT positions, filled as tokens are
 * generated. Both are (B, KV, maxT, D): each head's keys, and its values, are one contiguous block,
 * position after position. A decode step reads every cached key and value once, and by then the
 * weights streamed since have pushed them out of the caches; read front to back, they stream from
 * memory at full speed (keys stored transposed, or values interleaved across heads, were read in
 * strides and took half the time of the attention layer's weights).
 */
public final class KvCache {
    /** One layer's cache. */
    public record Layer(float[] k, float[] v, int maxT, int kvHeads, int headDim) {
        /** Where the keys (and values) of sequence b, head kvh start: (maxT, D), position p's row at + p·D. */
        int offset(int b, int kvh) {
            return (b * kvHeads + kvh) * maxT * headDim;
        }

        /** The keys of sequence b, head kvh, positions [0, t), as a (t, D) matrix. */
        Mat keys(int b, int kvh, int t) {
            return Mat.of(k, offset(b, kvh), t, headDim);
        }

        /** The values of sequence b, head kvh, positions [0, t), as a (t, D) matrix. */
        Mat values(int b, int kvh, int t) {
            return Mat.of(v, offset(b, kvh), t, headDim);
        }

        /** Copies the k and v columns of qkv row {@code row} (width W) into sequence b's cache at position pos. */
        void append(float[] qkv, int row, int b, int pos, int kCol, int w) {
            int width = kvHeads * headDim, src = row * w + kCol;
            for (int kvh = 0; kvh < kvHeads; kvh++) {
                int dst = offset(b, kvh) + pos * headDim;
                System.arraycopy(qkv, src + kvh * headDim, k, dst, headDim);
                System.arraycopy(qkv, src + width + kvh * headDim, v, dst, headDim);
            }
        }
    }

    private final Layer[] layers;
    private final int maxT;
    private final int[] lengths; // positions filled, per sequence: sequences of one cache may differ (a ragged batch)

    /** A cache for b sequences of up to maxT tokens each, and the model's virtual tokens before them ({@link ModelConfig#virtualTokens()}). */
    public KvCache(ModelConfig c, int b, int maxT) {
        if (b < 1 || maxT < 1) throw new IllegalArgumentException("a KV cache needs at least one sequence and one position, got " + b + "x" + maxT);
        maxT = Math.addExact(maxT, c.virtualTokens());
        this.maxT = maxT;
        this.lengths = new int[b];
        int width = c.kvHeads() * c.headDim();
        layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++)
            layers[l] = new Layer(new float[Math.multiplyExact(Math.multiplyExact(b, maxT), width)], new float[b * maxT * width], maxT, c.kvHeads(), c.headDim());
    }

    public Layer layer(int l) {
        return layers[l];
    }

    public int batch() {
        return lengths.length;
    }

    /** Positions per sequence, virtual tokens included. */
    public int capacity() {
        return maxT;
    }

    /** Positions filled so far in sequence b, virtual tokens included. */
    public int length(int b) {
        return lengths[b];
    }

    /** Positions filled so far, the same in every sequence (a batch that was filled in step). */
    public int length() {
        for (int len : lengths)
            if (len != lengths[0]) throw new IllegalStateException("the sequences of this cache have different lengths; use length(b)");
        return lengths[0];
    }

    /** Empties sequence b's slot, for a new sequence (continuous batching reuses slots). */
    public void clear(int b) {
        lengths[b] = 0;
    }

    void advance(int b, int n) {
        lengths[b] += n;
    }
}
