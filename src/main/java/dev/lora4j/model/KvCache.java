package dev.lora4j.model;

import dev.lora4j.tensor.Mat;

/**
 * Keys and values of every layer for B sequences of up to maxT positions, filled as tokens are
 * generated. Values are (B, maxT, KV·D); keys (already rotated) are stored transposed per head,
 * (B, KV, D, maxT): one new token's scores against every cached key are then D multiply-adds over
 * contiguous positions, with no sum across vector lanes per key.
 */
public final class KvCache {
    /** One layer's cache. */
    public record Layer(float[] kT, float[] v, int maxT, int kvHeads, int headDim) {
        int width() {
            return kvHeads * headDim;
        }

        /** Where sequence b's values start; row p of them (KV·D wide) follows at + p·width. */
        int offset(int b) {
            return b * maxT * width();
        }

        /** Where the keys of sequence b, head kvh start: (D, maxT), dimension d's row at + d·maxT. */
        int keyOffset(int b, int kvh) {
            return offset(b) + kvh * headDim * maxT;
        }

        /** The keys of sequence b, head kvh, positions [0, t), as a (t, D) matrix. */
        Mat keys(int b, int kvh, int t) {
            return new Mat(kT, null, keyOffset(b, kvh), t, headDim, 1, maxT);
        }

        /** Copies the k and v columns of qkv rows (B·n, W) for positions [pos, pos + n) into the cache. */
        void append(float[] qkv, int b, int n, int pos, int kCol, int w) {
            int width = width();
            for (int bi = 0; bi < b; bi++)
                for (int i = 0; i < n; i++) {
                    int src = (bi * n + i) * w;
                    for (int kvh = 0; kvh < kvHeads; kvh++) {
                        int k0 = keyOffset(bi, kvh) + pos + i, s0 = src + kCol + kvh * headDim;
                        for (int d = 0; d < headDim; d++) kT[k0 + d * maxT] = qkv[s0 + d];
                    }
                    System.arraycopy(qkv, src + kCol + width, v, offset(bi) + (pos + i) * width, width);
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
