package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.kernels.Ops;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;

import java.util.Arrays;
import java.util.List;

/**
 * Causal multi-head self-attention with grouped-query heads.
 *
 * <p>The input projections write side by side into one qkv buffer (B·T, (H + 2·KV)·D) laid out
 * [q | k | v]: GPT-2 fills it with its one fused {@code c_attn}, the Llama family with three
 * projections. Query head h reads key/value head h / (H/KV). Rotary embeddings, when present,
 * rotate q and k in place.
 */
public record Attention(List<Linear> inputs /* write [q | k | v] in order */, Linear output, int heads, int kvHeads,
                        int headDim, Rope rope /* null for learned positions */, int slidingWindow) {

    public int qkvWidth() {
        return (heads + 2 * kvHeads) * headDim;
    }

    /**
     * x(B·T, C) += Wo·attention(h); also leaves qkv (B·T, W) and att (B·T, H·D), and, when probs is
     * not null, the attention probabilities (B, H, T, T) for the backward pass.
     */
    public void forward(float[] h, int b, int t, int c, float[] qkv, float[] att, float[] probs, float[] x) {
        int w = qkvWidth(), bt = b * t;
        Mat hm = Mat.of(h, 0, bt, c);
        int col = 0;
        for (Linear lin : inputs) {
            lin.forward(hm, qkv, col, w, false);
            col += lin.out();
        }
        if (rope != null) applyRope(qkv, b, t);
        attend(qkv, b, t, att, probs);
        output.forward(Mat.of(att, 0, bt, heads * headDim), x, 0, c, true);
    }

    private void applyRope(float[] qkv, int b, int t) {
        rope.ensure(t);
        int w = qkvWidth(), half = rope.half();
        Ops ops = Kernels.ops();
        Parallel.forRange(b * t, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int pos = r % t;
                for (int hd = 0; hd < heads + kvHeads; hd++) ops.rope(qkv, r * w + hd * headDim, rope.cos(), rope.sin(), pos * half, half);
            }
        });
    }

    /** att(B·T, H·D) = softmax(q·kᵀ/√D + causal mask)·v, per (batch, head). */
    private void attend(float[] qkv, int b, int t, float[] att, float[] probs) {
        int w = qkvWidth(), group = heads / kvHeads, ldo = heads * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        Ops ops = Kernels.ops();
        Parallel.forRange(b * heads, 1, (u0, u1) -> {
            float[] scratch = probs == null ? new float[t * t] : null;
            for (int u = u0; u < u1; u++) {
                int bi = u / heads, hh = u % heads, kvh = hh / group;
                int rowBase = bi * t * w;
                Mat q = Mat.of(qkv, rowBase + hh * headDim, t, headDim, w);
                Mat k = Mat.of(qkv, rowBase + (heads + kvh) * headDim, t, headDim, w);
                Mat v = Mat.of(qkv, rowBase + (heads + kvHeads + kvh) * headDim, t, headDim, w);
                float[] p = probs != null ? probs : scratch;
                int pOff = probs != null ? u * t * t : 0;
                Kernels.matmul(q, k.t(), p, pOff, t, false);
                for (int i = 0; i < t; i++) {
                    int row = pOff + i * t;
                    int from = slidingWindow > 0 ? Math.max(0, i - slidingWindow + 1) : 0;
                    Arrays.fill(p, row, row + from, 0f);
                    for (int j = from; j <= i; j++) p[row + j] *= scale;
                    ops.softmax(p, row + from, i + 1 - from);
                    Arrays.fill(p, row + i + 1, row + t, 0f);
                }
                Kernels.matmul(Mat.of(p, pOff, t, t), v, att, bi * t * ldo + hh * headDim, ldo, false);
            }
        });
    }
}
