package dev.lora4j.model;

/**
 * Keys and values of every layer for B sequences of up to maxT positions, filled as tokens are
 * generated: keys (already rotated) and values per layer, (B, maxT, KV·D) each.
 */
public final class KvCache {
    /** One layer's cache. */
    public record Layer(float[] k, float[] v, int maxT, int width /* KV·D */) {
        int offset(int b) {
            return b * maxT * width;
        }

        /** Copies the k and v columns of qkv rows (B·n, W) for positions [pos, pos + n) into the cache. */
        void append(float[] qkv, int b, int n, int pos, int kCol, int w) {
            for (int bi = 0; bi < b; bi++)
                for (int i = 0; i < n; i++) {
                    int src = (bi * n + i) * w, dst = offset(bi) + (pos + i) * width;
                    System.arraycopy(qkv, src + kCol, k, dst, width);
                    System.arraycopy(qkv, src + kCol + width, v, dst, width);
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
            layers[l] = new Layer(new float[Math.multiplyExact(b * maxT, width)], new float[b * maxT * width], maxT, width);
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
