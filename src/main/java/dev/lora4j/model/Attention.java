package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.kernels.Ops;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;

import java.util.Arrays;
import java.util.List;

/**
 * Causal multi-head self-attention with grouped-query heads, forward and backward.
 *
 * <p>The input projections write side by side into one qkv buffer (B·T, W), W = (H + 2·KV)·D, laid
 * out [q | k | v]: GPT-2 fills it with its one fused {@code c_attn}, the Llama family with three
 * projections. Query head h reads key/value head h / (H/KV). Rotary embeddings, when present,
 * rotate q and k in place, so qkv holds the rotated values the backward pass needs.
 */
public record Attention(List<Projection> inputs /* write [q | k | v] in order */, Projection output, int heads, int kvHeads,
                        int headDim, Rope rope /* null for learned positions */, int slidingWindow) {

    public int qkvWidth() {
        return (heads + 2 * kvHeads) * headDim;
    }

    /**
     * x(B·T, C) += Wo·attention(h). Leaves qkv (B·T, W, q and k rotated) and att (B·T, H·D) for the backward pass.
     */
    public void forward(float[] h, int b, int t, int c, float[] qkv, float[] att, float[] x) {
        int w = qkvWidth(), bt = b * t;
        Mat hm = Mat.of(h, 0, bt, c);
        int col = 0;
        for (Projection p : inputs) {
            p.forward(hm, qkv, col, w, false);
            col += p.out();
        }
        if (rope != null) rotate(qkv, b, t, 0, false);
        attend(qkv, b, t, att);
        output.forward(Mat.of(att, 0, bt, heads * headDim), x, 0, c, true);
    }

    /**
     * Backward of {@link #forward}: given dy = dL/dx (B·T, C) and the saved h, qkv and att, writes
     * dh = dL/dh (B·T, C); datt (B·T, H·D) and dqkv (B·T, W) are scratch.
     */
    public void backward(float[] h, int b, int t, int c, float[] qkv, float[] att,
                         float[] dy, float[] datt, float[] dqkv, float[] dh) {
        int w = qkvWidth(), bt = b * t;
        output.backward(Mat.of(att, 0, bt, heads * headDim), Mat.of(dy, 0, bt, c), datt, 0, heads * headDim, false);
        attendBackward(qkv, datt, dqkv, b, t);
        if (rope != null) rotate(dqkv, b, t, 0, true);
        Mat hm = Mat.of(h, 0, bt, c);
        int col = 0;
        for (Projection p : inputs) {
            p.backward(hm, Mat.of(dqkv, col, bt, p.out(), w), dh, 0, c, col > 0);
            col += p.out();
        }
    }

    /** Rotates q and k of every row, row i of a sequence being at position pos0 + i (or rotates back, for gradients). */
    private void rotate(float[] qkv, int b, int t, int pos0, boolean inverse) {
        rope.ensure(pos0 + t);
        int w = qkvWidth(), half = rope.half();
        Ops ops = Kernels.ops();
        Parallel.forRange(b * t, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int pos = pos0 + r % t;
                for (int hd = 0; hd < heads + kvHeads; hd++) {
                    if (inverse) ops.ropeBackward(qkv, r * w + hd * headDim, rope.cos(), rope.sin(), pos * half, half);
                    else ops.rope(qkv, r * w + hd * headDim, rope.cos(), rope.sin(), pos * half, half);
                }
            }
        });
    }

    /**
     * Incremental forward for generation: n new tokens per sequence at positions [pos, pos + n), their
     * keys and values appended to the cache, attending to everything cached so far. x(B·n, C) += Wo·attention(h).
     */
    public void forwardCached(float[] h, int b, int n, int pos, int c, float[] qkv, float[] att, float[] x, KvCache.Layer cache) {
        int w = qkvWidth(), rows = b * n, kvw = kvHeads * headDim;
        Mat hm = Mat.of(h, 0, rows, c);
        int col = 0;
        for (Projection p : inputs) {
            p.forward(hm, qkv, col, w, false);
            col += p.out();
        }
        if (rope != null) rotate(qkv, b, n, pos, false);
        cache.append(qkv, b, n, pos, heads * headDim, w);
        int total = pos + n, group = heads / kvHeads, ldo = heads * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        Ops ops = Kernels.ops();
        if (n == 1) { // one new token (decoding): scores as D multiply-adds over the keys' positions, then a weighted sum of values
            int maxT = cache.maxT(), from = firstVisible(pos);
            Parallel.forChunks(b * heads, u -> { // one chunk per head, claimed as threads come free
                float[] p = new float[total];
                int bi = u / heads, hh = u % heads, kvh = hh / group, q = bi * w + hh * headDim;
                int k0 = cache.keyOffset(bi, kvh), v0 = cache.offset(bi) + kvh * headDim, out = bi * ldo + hh * headDim;
                for (int d = 0; d < headDim; d++) ops.axpy(scale * qkv[q + d], cache.kT(), k0 + d * maxT + from, p, from, total - from);
                ops.softmax(p, from, total - from);
                Arrays.fill(att, out, out + headDim, 0f);
                for (int j = from; j < total; j++) ops.axpy(p[j], cache.v(), v0 + j * kvw, att, out, headDim);
            });
            output.forward(Mat.of(att, 0, rows, heads * headDim), x, 0, c, true);
            return;
        }
        Parallel.forRange(b * heads, 1, (u0, u1) -> {
            float[] p = new float[n * total];
            for (int u = u0; u < u1; u++) {
                int bi = u / heads, hh = u % heads, kvh = hh / group;
                Mat q = Mat.of(qkv, bi * n * w + hh * headDim, n, headDim, w);
                Mat k = cache.keys(bi, kvh, total);
                Mat v = Mat.of(cache.v(), cache.offset(bi) + kvh * headDim, total, headDim, kvw);
                Kernels.matmul(q, k.t(), p, 0, total, false);
                for (int i = 0; i < n; i++) {
                    int abs = pos + i, row = i * total, from = firstVisible(abs);
                    Arrays.fill(p, row, row + from, 0f);
                    for (int j = from; j <= abs; j++) p[row + j] *= scale;
                    ops.softmax(p, row + from, abs + 1 - from);
                    Arrays.fill(p, row + abs + 1, row + total, 0f);
                }
                Kernels.matmul(Mat.of(p, 0, n, total), v, att, bi * n * ldo + hh * headDim, ldo, false);
            }
        });
        output.forward(Mat.of(att, 0, rows, heads * headDim), x, 0, c, true);
    }

    /** First key position row i may attend to (causal, and within the sliding window if any). */
    private int firstVisible(int i) {
        return slidingWindow > 0 ? Math.max(0, i - slidingWindow + 1) : 0;
    }

    private Mat q(float[] qkv, int bi, int t, int hh) {
        return Mat.of(qkv, bi * t * qkvWidth() + hh * headDim, t, headDim, qkvWidth());
    }

    private Mat k(float[] qkv, int bi, int t, int kvh) {
        return Mat.of(qkv, bi * t * qkvWidth() + (heads + kvh) * headDim, t, headDim, qkvWidth());
    }

    private Mat v(float[] qkv, int bi, int t, int kvh) {
        return Mat.of(qkv, bi * t * qkvWidth() + (heads + kvHeads + kvh) * headDim, t, headDim, qkvWidth());
    }

    /** att(B·T, H·D) = softmax(q·kᵀ/√D + mask)·v per (batch, head). */
    private void attend(float[] qkv, int b, int t, float[] att) {
        int group = heads / kvHeads, ldo = heads * headDim;
        Parallel.forRange(b * heads, 1, (u0, u1) -> {
            float[] p = new float[t * t];
            for (int u = u0; u < u1; u++) {
                int bi = u / heads, hh = u % heads, kvh = hh / group;
                probabilities(qkv, bi, t, hh, p);
                Kernels.matmul(Mat.of(p, 0, t, t), v(qkv, bi, t, kvh), att, bi * t * ldo + hh * headDim, ldo, false);
            }
        });
    }

    /** p(T, T) = softmax(q·kᵀ/√D + causal/window mask) for one (batch, query head); masked entries are 0. */
    private void probabilities(float[] qkv, int bi, int t, int hh, float[] p) {
        float scale = (float) (1.0 / Math.sqrt(headDim));
        Ops ops = Kernels.ops();
        Kernels.matmul(q(qkv, bi, t, hh), k(qkv, bi, t, hh / (heads / kvHeads)).t(), p, 0, t, false);
        for (int i = 0; i < t; i++) {
            int row = i * t, from = firstVisible(i);
            Arrays.fill(p, row, row + from, 0f);
            for (int j = from; j <= i; j++) p[row + j] *= scale;
            ops.softmax(p, row + from, i + 1 - from);
            Arrays.fill(p, row + i + 1, row + t, 0f);
        }
    }

    /**
     * dqkv from datt, per (batch, key/value head), so the query heads that share a k/v head add their
     * dK and dV in one thread. P is recomputed (cheaper in memory than keeping B·H·T² floats a layer):
     * dV += Pᵀ·dO; dP = dO·Vᵀ; dS = softmax'(dP)/√D; dQ = dS·K; dK += dSᵀ·Q.
     */
    private void attendBackward(float[] qkv, float[] datt, float[] dqkv, int b, int t) {
        int group = heads / kvHeads, ldo = heads * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        Ops ops = Kernels.ops();
        Parallel.forRange(b * kvHeads, 1, (u0, u1) -> {
            float[] p = new float[t * t], dp = new float[t * t];
            for (int u = u0; u < u1; u++) {
                int bi = u / kvHeads, kvh = u % kvHeads;
                Mat dk = k(dqkv, bi, t, kvh), dv = v(dqkv, bi, t, kvh);
                for (int g = 0; g < group; g++) {
                    int hh = kvh * group + g;
                    probabilities(qkv, bi, t, hh, p);
                    Mat dO = Mat.of(datt, bi * t * ldo + hh * headDim, t, headDim, ldo);
                    Kernels.matmul(Mat.of(p, 0, t, t).t(), dO, dqkv, (int) dv.offset(), qkvWidth(), g > 0);
                    Kernels.matmul(dO, v(qkv, bi, t, kvh).t(), dp, 0, t, false);
                    for (int i = 0; i < t; i++) {
                        int from = firstVisible(i);
                        Arrays.fill(dp, i * t, i * t + from, 0f);
                        ops.softmaxBackward(dp, i * t + from, p, i * t + from, i + 1 - from);
                        for (int j = from; j <= i; j++) dp[i * t + j] *= scale;
                        Arrays.fill(dp, i * t + i + 1, i * t + t, 0f);
                    }
                    Mat ds = Mat.of(dp, 0, t, t);
                    Kernels.matmul(ds, k(qkv, bi, t, kvh), dqkv, (int) q(dqkv, bi, t, hh).offset(), qkvWidth(), false);
                    Kernels.matmul(ds.t(), q(qkv, bi, t, hh), dqkv, (int) dk.offset(), qkvWidth(), g > 0);
                }
            }
        });
    }
}
