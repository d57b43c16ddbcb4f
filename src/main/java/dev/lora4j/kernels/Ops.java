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

    /** out = silu(gate)·up (the SwiGLU product), elementwise. */
    void swiglu(float[] out, int outOff, float[] gate, int gateOff, float[] up, int upOff, int n);

    /** y[yOff:+n] += a·x[xOff:+n]. */
    void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n);

    /** Σ x·y. */
    float dot(float[] x, int xOff, float[] y, int yOff, int n);

    /**
     * Rotates one head in place, HF's rotate-half convention: for i < half,
     * (x[i], x[i+half]) ← (x[i]·cos[i] − x[i+half]·sin[i], x[i+half]·cos[i] + x[i]·sin[i]).
     */
    void rope(float[] x, int off, float[] cos, float[] sin, int tableOff, int half);
}
