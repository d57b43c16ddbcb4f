package dev.lora4j.model;

import dev.lora4j.lora.LoraLinear;
import dev.lora4j.model.ModelConfig.LayerNormKind;
import dev.lora4j.model.ModelConfig.RmsNormKind;
import dev.lora4j.model.ModelConfig.Rotary;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

import static dev.lora4j.FiniteDifferences.assertClose;
import static dev.lora4j.FiniteDifferences.d;
import static dev.lora4j.FiniteDifferences.numeric;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Finite-difference checks of every layer's backward pass. Each layer's forward is written again
 * here in double precision, straight from its definition; central differences of that forward
 * (step 1e-5) are the reference for the analytic fp32 gradients of the loss L = Σ w·y, w random.
 */
class GradientCheckTest {
    final SplittableRandom rnd = new SplittableRandom(42);

    float[] random(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-scale, scale);
        return a;
    }

    static double dot(double[] w, double[] y) {
        double s = 0;
        for (int i = 0; i < w.length; i++) s += w[i] * y[i];
        return s;
    }

    // ---------------------------------------------------------------- double-precision definitions

    static double[] linear(double[] x, int rows, double[] w /* (out,in) */, double[] bias, int in, int out) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < out; o++) {
                double s = bias == null ? 0 : bias[o];
                for (int i = 0; i < in; i++) s += x[r * in + i] * w[o * in + i];
                y[r * out + o] = s;
            }
        return y;
    }

    /** y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ. */
    static double[] lora(double[] x, int rows, double[] w, int in, int out, double[] a, double[] b, int r, double s) {
        double[] y = linear(x, rows, w, null, in, out), u = linear(x, rows, a, null, in, r), v = linear(u, rows, b, null, r, out);
        for (int i = 0; i < y.length; i++) y[i] += s * v[i];
        return y;
    }

    static double[] norm(double[] x, int rows, int c, double[] g, double[] beta, boolean rms, double eps) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double mean = 0, var = 0;
            if (!rms) for (int i = 0; i < c; i++) mean += x[r * c + i] / c;
            for (int i = 0; i < c; i++) var += (x[r * c + i] - mean) * (x[r * c + i] - mean) / c;
            double rstd = 1 / Math.sqrt(var + eps);
            for (int i = 0; i < c; i++) y[r * c + i] = (x[r * c + i] - mean) * rstd * g[i] + (beta == null ? 0 : beta[i]);
        }
        return y;
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    // ---------------------------------------------------------------- checks

    @Test
    void norms() {
        int rows = 3, c = 21;
        float[] x = random(rows * c, 2), g = random(c, 1.5), beta = random(c, 0.5), w = random(rows * c, 1);
        for (boolean rms : new boolean[] {false, true}) {
            Norm n = new Norm("n", rms ? new RmsNormKind(1e-5f) : new LayerNormKind(1e-5f), g, rms ? null : beta);
            float[] out = new float[rows * c], stats = new float[rows * 2], dx = new float[rows * c];
            n.forward(out, x, rows, c, stats);
            n.backward(dx, w, x, rows, c, stats);
            double[] gd = d(g), bd = rms ? null : d(beta), wd = d(w);
            assertClose(rms ? "RMSNorm dx" : "LayerNorm dx", dx, numeric(xx -> dot(wd, norm(xx, rows, c, gd, bd, rms, 1e-5)), d(x)));
        }
    }

    /** Gemma's RMSNorm, its weight stored as γ − 1: dx and (trained, as in full fine-tuning) dγ. */
    @Test
    void normWithUnitOffset() {
        int rows = 3, c = 21;
        float[] x = random(rows * c, 2), w = random(rows * c, 1);
        Norm n = new Norm("n", new RmsNormKind(1e-6f, 1f), random(c, 0.3), null).trainable();
        float[] out = new float[rows * c], stats = new float[rows * 2], dx = new float[rows * c];
        n.forward(out, x, rows, c, stats);
        n.backward(dx, w, x, rows, c, stats);
        double[] wd = d(w), xd = d(x), gd = d(n.weight());
        java.util.function.Function<double[], double[]> gain = g -> {
            double[] one = g.clone();
            for (int i = 0; i < one.length; i++) one[i] += 1;
            return one;
        };
        assertClose("Gemma RMSNorm dx", dx, numeric(xx -> dot(wd, norm(xx, rows, c, gain.apply(gd), null, true, 1e-6)), xd.clone()));
        assertClose("Gemma RMSNorm dγ", n.weightGrad(), numeric(gg -> dot(wd, norm(xd, rows, c, gain.apply(gg), null, true, 1e-6)), gd.clone()));
    }

    LoraLinear loraOn(String name, int in, int out, int r, float s) {
        Linear base = new Linear(name, Tensor.of(name, random(out * in, 0.5), out, in), random(out, 0.2), in, out, false);
        LoraLinear l = new LoraLinear(base, r, s, 0f, random(r * in, 0.5), random(out * r, 0.5));
        l.setTraining(true, null); // keeps what backward needs
        return l;
    }

    Linear plain(String name, int in, int out, boolean bias) {
        return new Linear(name, Tensor.of(name, random(out * in, 0.5), out, in), bias ? random(out, 0.2) : null, in, out, false);
    }

    /** Checks dh, dA and dB of a LoRA projection inside a layer whose double forward is f(h, A, B). */
    void checkLora(String what, LoraLinear l, float[] dh, double[] h, TriFunction f) {
        double[] a = d(l.a()), b = d(l.b());
        assertClose(what + " dh", dh, numeric(hh -> f.apply(hh, a, b), h.clone()));
        assertClose(what + " dA", l.gradA(), numeric(aa -> f.apply(h, aa, b), a.clone()));
        assertClose(what + " dB", l.gradB(), numeric(bb -> f.apply(h, a, bb), b.clone()));
    }

    interface TriFunction {
        double apply(double[] h, double[] a, double[] b);
    }

    @Test
    void geluMlpWithLoraOnFc() {
        int rows = 4, c = 6, f = 37, r = 3; // f spans a SIMD vector and a scalar tail
        LoraLinear fc = loraOn("fc", c, f, r, 1.7f);
        Linear proj = plain("proj", f, c, true);
        Mlp mlp = new Mlp.Gelu(fc, proj);
        float[] h = random(rows * c, 1.5), w = random(rows * c, 1);
        float[] pre = new float[rows * f], act = new float[rows * f], x = new float[rows * c], dh = new float[rows * c];
        mlp.forward(h, rows, c, pre, act, x);
        mlp.backward(h, rows, c, pre, act, w, new float[rows * f], new float[rows * f], dh);
        double[] wf = d(fc.base().weight().toArray()), bf = d(fc.base().bias()), wp = d(proj.weight().toArray()), bp = d(proj.bias()), wd = d(w);
        checkLora("GELU MLP", fc, dh, d(h), (hh, a, b) -> {
            double[] p = lora(hh, rows, wf, c, f, a, b, r, 1.7);
            for (int i = 0; i < p.length; i++) p[i] = gelu(p[i] + bf[i % f]);
            return dot(wd, linear(p, rows, wp, bp, f, c));
        });
    }

    @Test
    void swigluMlpWithLoraOnDownAndUp() {
        int rows = 3, c = 5, f = 19, r = 2;
        Linear gate = plain("gate", c, f, false);
        LoraLinear up = loraOn("up", c, f, r, 0.8f), down = loraOn("down", f, c, r, 2.5f);
        Mlp mlp = new Mlp.SwiGlu(gate, up, down);
        float[] h = random(rows * c, 1.5), w = random(rows * c, 1);
        float[] pre = new float[rows * 2 * f], act = new float[rows * f], x = new float[rows * c], dh = new float[rows * c];
        mlp.forward(h, rows, c, pre, act, x);
        mlp.backward(h, rows, c, pre, act, w, new float[rows * f], new float[rows * 2 * f], dh);
        double[] wg = d(gate.weight().toArray()), wu = d(up.base().weight().toArray()), bu = d(up.base().bias());
        double[] wdn = d(down.base().weight().toArray()), bdn = d(down.base().bias()), wd = d(w), ua = d(up.a()), ub = d(up.b());
        checkLora("SwiGLU down", down, dh, d(h), (hh, a, b) -> {
            double[] g = linear(hh, rows, wg, null, c, f), u = lora(hh, rows, wu, c, f, ua, ub, r, 0.8);
            double[] m = new double[rows * f];
            for (int i = 0; i < m.length; i++) m[i] = silu(g[i]) * (u[i] + bu[i % f]);
            double[] y = lora(m, rows, wdn, f, c, a, b, r, 2.5);
            for (int i = 0; i < y.length; i++) y[i] += bdn[i % c];
            return dot(wd, y);
        });
        double[] hd = d(h), dA = d(down.a()), dB = d(down.b());
        ToDoubleFunction<double[][]> viaUp = ab -> {
            double[] g = linear(hd, rows, wg, null, c, f), u = lora(hd, rows, wu, c, f, ab[0], ab[1], r, 0.8);
            double[] m = new double[rows * f];
            for (int i = 0; i < m.length; i++) m[i] = silu(g[i]) * (u[i] + bu[i % f]);
            double[] y = lora(m, rows, wdn, f, c, dA, dB, r, 2.5);
            for (int i = 0; i < y.length; i++) y[i] += bdn[i % c];
            return dot(wd, y);
        };
        assertClose("SwiGLU up dA", up.gradA(), numeric(aa -> viaUp.applyAsDouble(new double[][] {aa, ub}), ua.clone()));
        assertClose("SwiGLU up dB", up.gradB(), numeric(bb -> viaUp.applyAsDouble(new double[][] {ua, bb}), ub.clone()));
    }

    /** Gemma's MLP: down(gelu_tanh(gate)·up), LoRA on gate and down. */
    @Test
    void gegluMlpWithLoraOnGateAndDown() {
        int rows = 3, c = 5, f = 19, r = 2;
        LoraLinear gate = loraOn("gate", c, f, r, 1.1f), down = loraOn("down", f, c, r, 2.5f);
        Linear up = plain("up", c, f, true);
        Mlp mlp = new Mlp.GeGlu(gate, up, down);
        float[] h = random(rows * c, 1.5), w = random(rows * c, 1);
        float[] pre = new float[rows * 2 * f], act = new float[rows * f], x = new float[rows * c], dh = new float[rows * c];
        mlp.forward(h, rows, c, pre, act, x);
        mlp.backward(h, rows, c, pre, act, w, new float[rows * f], new float[rows * 2 * f], dh);
        double[] wg = d(gate.base().weight().toArray()), bg = d(gate.base().bias()), wu = d(up.weight().toArray()), bu = d(up.bias());
        double[] wdn = d(down.base().weight().toArray()), bdn = d(down.base().bias()), wd = d(w), ga = d(gate.a()), gb = d(gate.b());
        double[] da = d(down.a()), db = d(down.b()), hd = d(h);
        ToDoubleFunction<double[][]> loss = p -> { // p = {h, gate A, gate B, down A, down B}
            double[] g = lora(p[0], rows, wg, c, f, p[1], p[2], r, 1.1), u = linear(p[0], rows, wu, bu, c, f);
            double[] m = new double[rows * f];
            for (int i = 0; i < m.length; i++) m[i] = gelu(g[i] + bg[i % f]) * u[i];
            double[] y = lora(m, rows, wdn, f, c, p[3], p[4], r, 2.5);
            for (int i = 0; i < y.length; i++) y[i] += bdn[i % c];
            return dot(wd, y);
        };
        assertClose("GeGLU dh", dh, numeric(hh -> loss.applyAsDouble(new double[][] {hh, ga, gb, da, db}), hd.clone()));
        assertClose("GeGLU gate dA", gate.gradA(), numeric(aa -> loss.applyAsDouble(new double[][] {hd, aa, gb, da, db}), ga.clone()));
        assertClose("GeGLU gate dB", gate.gradB(), numeric(bb -> loss.applyAsDouble(new double[][] {hd, ga, bb, da, db}), gb.clone()));
        assertClose("GeGLU down dA", down.gradA(), numeric(aa -> loss.applyAsDouble(new double[][] {hd, ga, gb, aa, db}), da.clone()));
        assertClose("GeGLU down dB", down.gradB(), numeric(bb -> loss.applyAsDouble(new double[][] {hd, ga, gb, da, bb}), db.clone()));
    }

    /** Double-precision attention over qkv rows laid out [q | k | v], rotate-half RoPE, causal + window. */
    static double[] attention(double[] qkv, int b, int t, int heads, int kv, int hd, double theta, int window) {
        return attention(qkv, b, t, heads, kv, hd, theta, window, 1 / Math.sqrt(hd), 0);
    }

    /** As above with scores scale·q·k, soft-capped to cap·tanh(s/cap) when cap > 0 (Gemma 2). */
    static double[] attention(double[] qkv, int b, int t, int heads, int kv, int hd, double theta, int window, double scale, double cap) {
        int w = (heads + 2 * kv) * hd;
        double[] x = qkv.clone();
        if (theta > 0) {
            for (int r = 0; r < b * t; r++)
                for (int h = 0; h < heads + kv; h++)
                    for (int i = 0; i < hd / 2; i++) {
                        double f = 1 / Math.pow(theta, (double) (2 * i) / hd), ang = (r % t) * f;
                        int o = r * w + h * hd;
                        double x1 = x[o + i], x2 = x[o + hd / 2 + i];
                        x[o + i] = x1 * Math.cos(ang) - x2 * Math.sin(ang);
                        x[o + hd / 2 + i] = x2 * Math.cos(ang) + x1 * Math.sin(ang);
                    }
        }
        double[] out = new double[b * t * heads * hd];
        for (int bi = 0; bi < b; bi++)
            for (int h = 0; h < heads; h++) {
                int kvh = h / (heads / kv);
                for (int i = 0; i < t; i++) {
                    int from = window > 0 ? Math.max(0, i - window + 1) : 0;
                    double[] s = new double[t];
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = from; j <= i; j++) {
                        double dotp = 0;
                        for (int e = 0; e < hd; e++) dotp += x[(bi * t + i) * w + h * hd + e] * x[(bi * t + j) * w + (heads + kvh) * hd + e];
                        s[j] = dotp * scale;
                        if (cap > 0) s[j] = cap * Math.tanh(s[j] / cap);
                        max = Math.max(max, s[j]);
                    }
                    for (int j = from; j <= i; j++) sum += s[j] = Math.exp(s[j] - max);
                    for (int j = from; j <= i; j++)
                        for (int e = 0; e < hd; e++)
                            out[(bi * t + i) * heads * hd + h * hd + e] += s[j] / sum * x[(bi * t + j) * w + (heads + kv + kvh) * hd + e];
                }
            }
        return out;
    }

    @Test
    void gpt2AttentionWithLoraOnFusedInput() {
        int b = 2, t = 5, heads = 2, hd = 4, c = 8, r = 2;
        LoraLinear cattn = loraOn("c_attn", c, 3 * c, r, 1.3f);
        Linear cproj = plain("c_proj", c, c, true);
        checkAttention(new Attention(List.of(cattn), cproj, heads, heads, hd, null, 0), b, t, c, 0, 0, cattn);
    }

    @Test
    void llamaAttentionWithGqaRopeWindowAndLora() {
        int b = 2, t = 6, heads = 4, kv = 2, hd = 4, c = 8, r = 2;
        LoraLinear q = loraOn("q_proj", c, heads * hd, r, 2f);
        Linear k = plain("k_proj", c, kv * hd, true);
        LoraLinear v = loraOn("v_proj", c, kv * hd, r, 0.5f);
        Linear o = plain("o_proj", heads * hd, c, false);
        Rope rope = new Rope(new Rotary(10000.0, null), hd);
        Attention at = new Attention(List.of(q, k, v), o, heads, kv, hd, rope, 3);
        checkAttention(at, b, t, c, 10000.0, 3, q);
        checkAttention(at, b, t, c, 10000.0, 3, v);
    }

    /** Phi-3's MLP: gate and up fused in one projection ([gate | up]), LoRA on it and on down. */
    @Test
    void fusedSwigluMlpWithLoraOnGateUp() {
        int rows = 3, c = 5, f = 7, r = 2;
        LoraLinear gateUp = loraOn("gate_up", c, 2 * f, r, 1.7f), down = loraOn("down", f, c, r, 0.9f);
        Mlp mlp = new Mlp.FusedSwiGlu(gateUp, down);
        float[] h = random(rows * c, 1.5), w = random(rows * c, 1);
        float[] pre = new float[rows * 2 * f], act = new float[rows * f], x = new float[rows * c], dh = new float[rows * c];
        mlp.forward(h, rows, c, pre, act, x);
        mlp.backward(h, rows, c, pre, act, w, new float[rows * f], new float[rows * 2 * f], dh);
        double[] wgu = d(gateUp.base().weight().toArray()), bgu = d(gateUp.base().bias()), wdn = d(down.base().weight().toArray());
        double[] bdn = d(down.base().bias()), wd = d(w), da = d(down.a()), db = d(down.b());
        checkLora("fused SwiGLU gate_up", gateUp, dh, d(h), (hh, a, b) -> {
            double[] gu = lora(hh, rows, wgu, c, 2 * f, a, b, r, 1.7);
            double[] m = new double[rows * f];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < f; j++)
                    m[i * f + j] = silu(gu[i * 2 * f + j] + bgu[j]) * (gu[i * 2 * f + f + j] + bgu[f + j]);
            double[] y = lora(m, rows, wdn, f, c, da, db, r, 0.9);
            for (int i = 0; i < y.length; i++) y[i] += bdn[i % c];
            return dot(wd, y);
        });
    }

    @Test
    void qwen3AttentionWithHeadNormsAndLora() {
        int b = 2, t = 6, heads = 4, kv = 2, hd = 4, c = 8, r = 2;
        LoraLinear q = loraOn("q_proj", c, heads * hd, r, 2f);
        LoraLinear k = loraOn("k_proj", c, kv * hd, r, 1.5f);
        LoraLinear v = loraOn("v_proj", c, kv * hd, r, 0.5f);
        Linear o = plain("o_proj", heads * hd, c, false);
        Rope rope = new Rope(new Rotary(1000000.0, null), hd);
        ModelConfig.RmsNormKind kind = new ModelConfig.RmsNormKind(1e-6f);
        float[] qw = random(hd, 0.3), kw = random(hd, 0.3);
        for (int i = 0; i < hd; i++) {
            qw[i] += 1;
            kw[i] += 1;
        }
        Attention at = new Attention(List.of(q, k, v), o, heads, kv, hd, rope, 0, new Norm("q_norm", kind, qw, null), new Norm("k_norm", kind, kw, null));
        checkAttention(at, b, t, c, 1000000.0, 0, q);
        checkAttention(at, b, t, c, 1000000.0, 0, k);
        checkAttention(at, b, t, c, 1000000.0, 0, v);
    }

    /** Gemma 2: scores scaled by query_pre_attn_scalar^−½ and soft-capped; Gemma 3: q/k norms whose weights are stored as γ − 1. */
    @Test
    void gemmaAttentionWithSoftcapScaleHeadNormsAndLora() {
        int b = 2, t = 7, heads = 4, kv = 2, hd = 4, c = 8, r = 2;
        LoraLinear q = loraOn("q_proj", c, heads * hd, r, 2f);
        LoraLinear k = loraOn("k_proj", c, kv * hd, r, 1.5f);
        LoraLinear v = loraOn("v_proj", c, kv * hd, r, 0.5f);
        Linear o = plain("o_proj", heads * hd, c, false);
        Rope rope = new Rope(new Rotary(10000.0, null), hd);
        Attention capped = new Attention(List.of(q, k, v), o, heads, kv, hd, rope, 3, null, null, Attention.Scores.of(hd, 0.35f, 1.2f));
        checkAttention(capped, b, t, c, 10000.0, 3, q);
        checkAttention(capped, b, t, c, 10000.0, 3, k);
        ModelConfig.RmsNormKind gemma = new ModelConfig.RmsNormKind(1e-6f, 1f);
        Attention normed = new Attention(List.of(q, k, v), o, heads, kv, hd, rope, 0, new Norm("q_norm", gemma, random(hd, 0.3), null),
                new Norm("k_norm", gemma, random(hd, 0.3), null), Attention.Scores.of(hd, 0.25f, 0f));
        checkAttention(normed, b, t, c, 10000.0, 0, q);
        checkAttention(normed, b, t, c, 10000.0, 0, v);
    }

    /**
     * Past 64 positions the training pass works on blocks of query rows (and, for dK and dV, of key
     * rows): these lengths cross block edges, end mid-block, and have a sliding window that starts
     * inside an earlier block.
     */
    @Test
    void attentionLongerThanOneBlock() {
        int c = 8, r = 2;
        LoraLinear cattn = loraOn("c_attn", c, 3 * c, r, 1.3f);
        checkAttention(new Attention(List.of(cattn), plain("c_proj", c, c, true), 2, 2, 4, null, 0), 1, 130, c, 0, 0, cattn);
        LoraLinear q = loraOn("q_proj", c, 4 * 2, r, 2f);
        LoraLinear v = loraOn("v_proj", c, 2 * 2, r, 0.5f);
        Attention at = new Attention(List.of(q, plain("k_proj", c, 2 * 2, true), v), plain("o_proj", 4 * 2, c, false), 4, 2, 2,
                new Rope(new Rotary(10000.0, null), 2), 70);
        checkAttention(at, 1, 150, c, 10000.0, 70, v);
    }

    /** L = Σ w·attention(h); checks dh and the gradients of one LoRA input projection. */
    void checkAttention(Attention at, int b, int t, int c, double theta, int window, LoraLinear target) {
        int bt = b * t, wdt = at.qkvWidth(), hd = at.headDim();
        float[] h = random(bt * c, 1.5), w = random(bt * c, 1);
        float[] qkv = new float[bt * wdt], att = new float[bt * at.heads() * hd];
        float[] x = new float[bt * c], dh = new float[bt * c];
        float[] qkPre = at.normalisesHeads() ? new float[bt * (at.heads() + at.kvHeads()) * hd] : null;
        for (Projection p : at.inputs()) if (p instanceof LoraLinear l) l.zeroGrad();
        at.forward(h, b, t, c, qkv, qkPre, att, x);
        at.backward(h, b, t, c, qkv, qkPre, att, w, new float[att.length], new float[qkv.length], dh);
        double[] wd = d(w);
        checkLora("attention (" + target.name() + ")", target, dh, d(h), (hh, a, bb) -> {
            double[] q = new double[bt * wdt];
            int col = 0;
            for (Projection p : at.inputs()) {
                Linear base = p.base();
                double[] y = p == target ? lora(hh, bt, d(base.weight().toArray()), c, p.out(), a, bb, target.rank(), target.scale())
                        : p instanceof LoraLinear l ? lora(hh, bt, d(base.weight().toArray()), c, p.out(), d(l.a()), d(l.b()), l.rank(), l.scale())
                        : linear(hh, bt, d(base.weight().toArray()), null, c, p.out());
                for (int r = 0; r < bt; r++)
                    for (int j = 0; j < p.out(); j++) q[r * wdt + col + j] = y[r * p.out() + j] + (base.bias() == null ? 0 : base.bias()[j]);
                col += p.out();
            }
            if (at.normalisesHeads()) // Qwen3: RMSNorm over each head of q and k, before the rotation
                for (int r = 0; r < bt; r++)
                    for (int head = 0; head < at.heads() + at.kvHeads(); head++) {
                        Norm n = head < at.heads() ? at.qNorm() : at.kNorm();
                        int o = r * wdt + head * hd;
                        double ss = 0;
                        for (int j = 0; j < hd; j++) ss += q[o + j] * q[o + j];
                        double rstd = 1 / Math.sqrt(ss / hd + n.kind().eps());
                        for (int j = 0; j < hd; j++) q[o + j] = q[o + j] * rstd * n.gain()[j];
                    }
            double[] a2 = attention(q, b, t, at.heads(), at.kvHeads(), hd, theta, window, at.scores().scale(), at.scores().softcap());
            Linear out = at.output().base();
            return dot(wd, linear(a2, bt, d(out.weight().toArray()), out.bias() == null ? null : d(out.bias()), at.heads() * hd, c));
        });
    }

    @Test
    void conv1dOrientationIsHandledOnce() {
        // GPT-2 stores (in, out); the same map stored (out, in) must give the same forward and backward
        int rows = 3, in = 4, out = 5;
        float[] w = random(out * in, 1), wt = new float[in * out];
        for (int o = 0; o < out; o++) for (int i = 0; i < in; i++) wt[i * out + o] = w[o * in + i];
        Linear lin = new Linear("l", Tensor.of("l", w, out, in), null, in, out, false);
        Linear conv = new Linear("c", Tensor.of("c", wt, in, out), null, in, out, true);
        float[] x = random(rows * in, 1), dy = random(rows * out, 1);
        float[] y1 = new float[rows * out], y2 = new float[rows * out], dx1 = new float[rows * in], dx2 = new float[rows * in];
        lin.forward(Mat.of(x, 0, rows, in), y1, 0, out, false);
        conv.forward(Mat.of(x, 0, rows, in), y2, 0, out, false);
        lin.backward(Mat.of(x, 0, rows, in), Mat.of(dy, 0, rows, out), dx1, 0, in, false);
        conv.backward(Mat.of(x, 0, rows, in), Mat.of(dy, 0, rows, out), dx2, 0, in, false);
        assertThat(y2).containsExactly(y1);
        assertThat(dx2).containsExactly(dx1);
        double[] wd = d(w), dyd = d(dy);
        assertClose("linear dx", dx1, numeric(xx -> dot(dyd, linear(xx, rows, wd, null, in, out)), d(x)));
    }
}
