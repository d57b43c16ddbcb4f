package dev.lora4j.kernels;

/** The plain-Java reference of every row kernel: simple loops, the definition on the page. */
public final class ScalarOps implements Ops {
    static final float GELU_K = (float) Math.sqrt(2.0 / Math.PI);

    @Override
    public void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int i = 0; i < n; i++) x[off + i] *= inv;
    }

    @Override
    public void expMinus(float[] x, int off, int n, float c) {
        for (int i = 0; i < n; i++) x[off + i] = (float) Math.exp(x[off + i] - c);
    }

    @Override
    public float logSumExp(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(x[off + i] - max);
        return max + (float) Math.log(sum);
    }

    @Override
    public float[] layerNorm(float[] out, int outOff, float[] x, int xOff, float[] gamma, float[] beta, int n, float eps) {
        float sum = 0f;
        for (int i = 0; i < n; i++) sum += x[xOff + i];
        float mean = sum / n;
        float var = 0f;
        for (int i = 0; i < n; i++) {
            float d = x[xOff + i] - mean;
            var += d * d;
        }
        float rstd = (float) (1.0 / Math.sqrt(var / n + eps));
        for (int i = 0; i < n; i++) out[outOff + i] = (x[xOff + i] - mean) * rstd * gamma[i] + beta[i];
        return new float[] {mean, rstd};
    }

    @Override
    public float rmsNorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        float ss = 0f;
        for (int i = 0; i < n; i++) ss += x[xOff + i] * x[xOff + i];
        float rstd = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int i = 0; i < n; i++) out[outOff + i] = weight[i] * (x[xOff + i] * rstd);
        return rstd;
    }

    /**
     * erf(x) as a rational function of x², clamped to [−4, 4] (where erf is 1 to fp32 precision): the
     * approximation Eigen and XLA use for float. Max error against the true erf ≈ 3 fp32 ulps (OpsTest).
     */
    static float erf(float x) {
        float z = Math.max(-4f, Math.min(4f, x)), z2 = z * z;
        float p = ERF_A[0];
        for (int i = 1; i < ERF_A.length; i++) p = p * z2 + ERF_A[i];
        float q = ERF_B[0];
        for (int i = 1; i < ERF_B.length; i++) q = q * z2 + ERF_B[i];
        return z * p / q;
    }

    /** Numerator (x¹³ … x¹ coefficients, in x²) and denominator (x⁸ … x⁰) of {@link #erf}. */
    static final float[] ERF_A = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f, -5.69250639462346e-05f,
            -7.34990630326855e-04f, -2.95459980854025e-03f, -1.60960333262415e-02f};
    static final float[] ERF_B = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f, -7.37332916720468e-03f,
            -1.42647390514189e-02f};
    static final float INV_SQRT2 = (float) (1 / Math.sqrt(2));

    @Override
    public void geluErf(float[] out, int outOff, float[] x, int xOff, int n) {
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            out[outOff + i] = 0.5f * v * (1f + erf(v * INV_SQRT2));
        }
    }

    static final float INV_SQRT_2PI = (float) (1 / Math.sqrt(2 * Math.PI));

    @Override
    public void geluErfBackward(float[] dpre, int dpOff, float[] dact, int daOff, float[] pre, int pOff, int n) {
        for (int i = 0; i < n; i++) {
            float x = pre[pOff + i];
            float d = 0.5f * (1f + erf(x * INV_SQRT2)) + x * (float) Math.exp(-0.5f * x * x) * INV_SQRT_2PI;
            dpre[dpOff + i] = dact[daOff + i] * d;
        }
    }

    @Override
    public void geluTanh(float[] out, int outOff, float[] x, int xOff, int n) {
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            out[outOff + i] = 0.5f * v * (1f + (float) Math.tanh(GELU_K * (v + 0.044715f * v * v * v)));
        }
    }

    @Override
    public void swiglu(float[] out, int outOff, float[] gate, int gateOff, float[] up, int upOff, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[gateOff + i];
            out[outOff + i] = g / (1f + (float) Math.exp(-g)) * up[upOff + i];
        }
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    @Override
    public void axpyRows(float[] a, int aOff, int rows, float[] x, int xOff, int ld, float[] y, int yOff, int n) {
        for (int r = 0; r < rows; r++) axpy(a[aOff + r], x, xOff + r * ld, y, yOff, n);
    }

    @Override
    public void dotRows(float[] q, int qOff, float[] x, int xOff, int ld, int rows, int n, float[] out, int outOff) {
        for (int r = 0; r < rows; r++) out[outOff + r] = dot(q, qOff, x, xOff + r * ld, n);
    }

    @Override
    public float dot(float[] x, int xOff, float[] y, int yOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += x[xOff + i] * y[yOff + i];
        return s;
    }

    @Override
    public void rope(float[] x, int off, float[] cos, float[] sin, int tableOff, int half) {
        for (int i = 0; i < half; i++) {
            float x1 = x[off + i], x2 = x[off + half + i];
            float c = cos[tableOff + i], s = sin[tableOff + i];
            x[off + i] = x1 * c - x2 * s;
            x[off + half + i] = x2 * c + x1 * s;
        }
    }

    @Override
    public void layerNormBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, float mean, float rstd,
                                  float[] gamma, float[] dgamma, float[] dbeta, int n) {
        float sumG = 0f, sumGx = 0f;
        for (int i = 0; i < n; i++) {
            float xhat = (x[xOff + i] - mean) * rstd;
            float g = dout[dOff + i] * gamma[i];
            sumG += g;
            sumGx += g * xhat;
        }
        float meanG = sumG / n, meanGx = sumGx / n;
        for (int i = 0; i < n; i++) {
            float xhat = (x[xOff + i] - mean) * rstd;
            float g = dout[dOff + i] * gamma[i];
            dx[dxOff + i] += rstd * (g - meanG - xhat * meanGx);
            if (dgamma != null) dgamma[i] += dout[dOff + i] * xhat;
            if (dbeta != null) dbeta[i] += dout[dOff + i];
        }
    }

    @Override
    public void rmsNormBackward(float[] dx, int dxOff, float[] dout, int dOff, float[] x, int xOff, float rstd,
                                float[] weight, float[] dweight, int n) {
        float sumGx = 0f;
        for (int i = 0; i < n; i++) sumGx += dout[dOff + i] * weight[i] * x[xOff + i];
        float c = rstd * rstd * sumGx / n;
        for (int i = 0; i < n; i++) {
            float g = dout[dOff + i] * weight[i];
            dx[dxOff + i] += rstd * (g - x[xOff + i] * c);
            if (dweight != null) dweight[i] += dout[dOff + i] * x[xOff + i] * rstd;
        }
    }

    @Override
    public void geluTanhBackward(float[] dpre, int dpOff, float[] dact, int daOff, float[] pre, int pOff, int n) {
        for (int i = 0; i < n; i++) {
            float x = pre[pOff + i];
            float t = (float) Math.tanh(GELU_K * (x + 0.044715f * x * x * x));
            float d = 0.5f * (1f + t) + 0.5f * x * (1f - t * t) * GELU_K * (1f + 3f * 0.044715f * x * x);
            dpre[dpOff + i] = dact[daOff + i] * d;
        }
    }

    @Override
    public void swigluBackward(float[] dgate, int dgOff, float[] dup, int duOff, float[] dact, int daOff,
                               float[] gate, int gOff, float[] up, int uOff, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[gOff + i], sig = 1f / (1f + (float) Math.exp(-g)), d = dact[daOff + i];
            dgate[dgOff + i] = d * up[uOff + i] * sig * (1f + g * (1f - sig));
            dup[duOff + i] = d * g * sig;
        }
    }

    @Override
    public void softmaxBackward(float[] dp, int dOff, float[] p, int pOff, int n) {
        float dot = 0f;
        for (int i = 0; i < n; i++) dot += dp[dOff + i] * p[pOff + i];
        for (int i = 0; i < n; i++) dp[dOff + i] = p[pOff + i] * (dp[dOff + i] - dot);
    }

    @Override
    public void ropeBackward(float[] x, int off, float[] cos, float[] sin, int tableOff, int half) {
        for (int i = 0; i < half; i++) {
            float x1 = x[off + i], x2 = x[off + half + i];
            float c = cos[tableOff + i], s = sin[tableOff + i];
            x[off + i] = x1 * c + x2 * s;
            x[off + half + i] = x2 * c - x1 * s;
        }
    }
}
