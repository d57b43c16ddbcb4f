package dev.lora4j.kernels;

import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;

/** The scalar twin of {@link Gemm}: the plain triple loop, rows split across threads. */
public final class ScalarGemm {
    private ScalarGemm() {}

    public static void matmul(Mat a, Mat b, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = a.rows(), n = b.cols(), k = a.cols();
        if (b.rows() != k) throw new IllegalArgumentException("inner dims differ: A " + a.rows() + "x" + k + ", B " + b.rows() + "x" + n);
        Parallel.forRange(m, 1, (i0, i1) -> {
            float[] acc = new float[n];
            for (int i = i0; i < i1; i++) {
                java.util.Arrays.fill(acc, 0f);
                for (int p = 0; p < k; p++) {
                    float aip = a.get(i, p);
                    for (int j = 0; j < n; j++) acc[j] += aip * b.get(p, j);
                }
                int ci = cOff + i * ldc;
                for (int j = 0; j < n; j++) c[ci + j] = accumulate ? c[ci + j] + acc[j] : acc[j];
            }
        });
    }

    /** C(m, out) (+)= A(m, in)·Wᵀ for a weight held as heap panels: each output one fused multiply-add chain over the inputs in order, as {@link PanelGemv}. */
    public static void matmul(Mat a, WeightPanels w, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = a.rows(), k = a.cols();
        if (k != w.cols()) throw new IllegalArgumentException("inner dims differ: A " + m + "x" + k + ", W " + w.rows() + "x" + w.cols());
        Parallel.forRange(w.rows(), 1, (j0, j1) -> {
            for (int j = j0; j < j1; j++)
                for (int i = 0; i < m; i++) {
                    float sum = 0f;
                    for (int p = 0; p < k; p++) sum = Math.fma(w.get(j, p), a.get(i, p), sum);
                    c[cOff + i * ldc + j] = accumulate ? c[cOff + i * ldc + j] + sum : sum;
                }
        });
    }
}
