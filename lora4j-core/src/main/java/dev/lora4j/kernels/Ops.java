package dev.lora4j.kernels;

/**
 * The row kernels of a transformer, one row (a contiguous vector of length n at an offset) per call.
 * Callers parallelise over rows. Two implementations: {@link ScalarOps}, the plain reference, and
 * {@link SimdOps}, the Vector API one; {@link Kernels} picks one, once. Tests hold SIMD to scalar.
 *
 * <p>Normalisation kernels return their statistics so that backward passes can reuse them.
 */
public interface Ops {
    /** x[off:off+n] = softmax(x[off:off+n]), numerically stable (max subtracted). */
    void softmax(float[] x, int off, int n);

    /** x = e^(x − c), in place. */
    void expMinus(float[] x, int off, int n, float c);

    /** log Σ exp(x[off:off+n]), stable. */
    float logSumExp(float[] x, int off, int n);

    /** Cross-entropy of one row of logits against a target index: logΣexp(x) − x[target]. */
    default float crossEntropy(float[] logits, int off, int n, int target) {
        return logSumExp(logits, off, n) - logits[off + target];
    }

    /**
     * out = (x − mean)·rstd·gamma + beta over one row; returns {mean, rstd}.
     * rstd = 1/√(var + eps), var the biased variance (as PyTorch's LayerNorm).
     */
    float[] layerNorm(float[] out, int outOff, float[] x, int xOff, float[] gamma, float[] beta, int n, float eps);

    /** out = x·rstd·weight, rstd = 1/√(mean(x²) + eps) (HF's LlamaRMSNorm); returns rstd. */
    float rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps);

    /** out = GELU(x) with the tanh approximation (HF "gelu_new"). */
    void geluTanh(float[] out, int outOff, float[] x, int xOff, int n);

    /** out = x·½·(1 + erf(x/√2)), the exact GELU (BERT's "gelu"), erf as a rational approximation good to a few fp32 ulps. */
    void geluErf(float[] out, int outOff, float[] x, int xOff, int n);

    /** out = silu(gate)·up (the SwiGLU product), elementwise. */
    void swiglu(float[] out, int outOff, float[] gate, int gateOff, float[] up, int upOff, int n);

    /** y[yOff:+n] += a·x[xOff:+n]. */
    void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n);

    /**
     * y[yOff:+n] += Σ_r a[aOff + r]·x[xOff + r·ld :+n], rows r = 0..rows−1 added in order: {@link #axpy}
     * over many rows with y held in registers (decoding's attention: scores from transposed keys,
     * probabilities times values).
     */
    void axpyRows(float[] a, int aOff, int rows, float[] x, int xOff, int ld, float[] y, int yOff, int n);

    /**
     * out[outOff + r] = Σ_d q[qOff + d]·x[xOff + r·ld + d] for rows r = 0..rows−1, d < n: one vector
     * against many rows (decoding's attention: a new query against every cached key).
     */
    void dotRows(float[] q, int qOff, float[] x, int xOff, int ld, int rows, int n, float[] out, int outOff);

    /** Σ x·y. */
    float dot(float[] x, int xOff, float[] y, int yOff, int n);

    /**
     * Rotates one head in place, HF's rotate-half convention: for i < half,
     * (x[i], x[i+half]) ← (x[i]·cos[i] − x[i+half]·sin[i], x[i+half]·cos[i] + x[i]·sin[i]).
     */
    void rope(float[] x, int off, float[] cos, float[] sin, int tableOff, int half);

    // ---- backward passes: each beside the name of the forward it differentiates ----

    /**
     * LayerNorm backward for one row: dx += rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dout·γ, x̂ = (x − mean)·rstd.
     * When dgamma/dbeta are not null they receive dout·x̂ and dout (accumulated).
     */
    void layerNormBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, float mean, float rstd,
                           float[] gamma, float[] dgamma, float[] dbeta, int n);

    /** RMSNorm backward: dx += rstd·(g − x·rstd²·mean(g·x)), g = dout·w; dweight (if not null) += dout·x·rstd. */
    void rmsNormBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, float rstd,
                         float[] weight, float[] dweight, int n);

    /** dpre = dact · GELU'(pre) (tanh approximation). */
    void geluTanhBackward(float[] dpre, int dpOff, float[] dact, int daOff, float[] pre, int pOff, int n);

    /** dpre = dact·gelu'(pre) for the exact GELU: gelu'(x) = ½(1 + erf(x/√2)) + x·e^(−x²/2)/√(2π). */
    void geluErfBackward(float[] dpre, int dpOff, float[] dact, int daOff, float[] pre, int pOff, int n);

    /** Given dact for act = silu(gate)·up: dgate = dact·up·σ(g)(1 + g(1 − σ(g))), dup = dact·silu(gate). */
    void swigluBackward(float[] dgate, int dgOff, float[] dup, int duOff, float[] dact, int daOff,
                        float[] gate, int gOff, float[] up, int uOff, int n);

    /** Softmax backward in place: dp ← p·(dp − Σ dp·p), for p = softmax(s) and dp = dL/dp; gives dL/ds. */
    void softmaxBackward(float[] dp, int dOff, float[] p, int pOff, int n);

    /** The inverse rotation of {@link #rope}: the gradient through it. */
    void ropeBackward(float[] x, int off, float[] cos, float[] sin, int tableOff, int half);
}
