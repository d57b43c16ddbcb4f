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

        /** Copies the k and v columns of qkv rows (B·n, W) for positions [pos, pos + n) into the cache. */
        void append(float[] qkv, int b, int n, int pos, int kCol, int w) {
            int width = kvHeads * headDim;
            for (int bi = 0; bi < b; bi++)
                for (int i = 0; i < n; i++) {
                    int src = (bi * n + i) * w + kCol;
                    for (int kvh = 0; kvh < kvHeads; kvh++) {
                        int dst = offset(bi, kvh) + (pos + i) * headDim;
                        System.arraycopy(qkv, src + kvh * headDim, k, dst, headDim);
                        System.arraycopy(qkv, src + width + kvh * headDim, v, dst, headDim);
                    }
                }
        }
    }

    private final Layer[] layers;
    private final int b, maxT;
    private int length;

    public KvCache(ModelConfig c, int b, int maxT) {
        this.b = b;
        this.maxT = maxT;
        int width = c.kvHeads() * c.headDim();
        layers = new Layer[c.layers()];
        for (int l = 0; l < layers.length; l++)
            layers[l] = new Layer(new float[Math.multiplyExact(b * maxT, width)], new float[b * maxT * width], maxT, c.kvHeads(), c.headDim());
    }

    public Layer layer(int l) {
        return layers[l];
    }

    public int batch() {
        return b;
    }

    public int capacity() {
        return maxT;
    }

    /** Positions filled so far. */
    public int length() {
        return length;
    }

    void advance(int n) {
        length += n;
    }
}
