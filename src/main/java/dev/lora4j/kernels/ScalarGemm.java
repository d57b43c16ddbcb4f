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
}
