package dev.lora4j.kernels;

import dev.lora4j.quant.QuantizedMatrix;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * C(m, out) (+)= A(m, in)·Wᵀ for a quantized weight: a decode step of one to a few dozen sequences.
 * Each weight row is dequantized once into a row buffer that stays in L1, then dotted with every row of
 * A; the quantized bytes are all that stream from memory, so fewer bytes a weight means a faster step.
 *
 * <p>Each output is one dot product summed the same way (four vector accumulators in order, their
 * lanes, then the tail) whatever m and the thread count, so a sequence's logits do not depend on what
 * else is in the batch. The scalar twin is {@link ScalarGemm#matmul(Mat, Mat, float[], int, int, boolean)}
 * over the weight's dequantizing view.
 */
final class QuantGemv {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[L]);

    private QuantGemv() {}

    static void multiply(Mat a, QuantizedMatrix w, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = a.rows(), k = a.cols();
        if (k != w.cols()) throw new IllegalArgumentException("inner dims differ: A " + m + "x" + k + ", W " + w.rows() + "x" + w.cols());
        float[] x = new float[m * k];
        for (int i = 0; i < m; i++) a.copyRow(i, 0, x, i * k, k);
        Parallel.forRange(w.rows(), 16, (j0, j1) -> {
            float[] row = ROW.get();
            if (row.length < k) ROW.set(row = new float[k]);
            float[] lanes = LANES.get();
            for (int j = j0; j < j1; j++) {
                w.dequantize(j, 0, row, 0, k, true);
                for (int i = 0; i < m; i++) {
                    float sum = dot(row, x, i * k, k, lanes);
                    int at = cOff + i * ldc + j;
                    c[at] = accumulate ? c[at] + sum : sum;
                }
            }
        });
    }

    /** Lanes are added in lane order: reduceLanes sums in another order once compiled than interpreted. */
    private static float dot(float[] w, float[] x, int xOff, int k, float[] lanes) {
        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
        int p = 0;
        for (; p + 4 * L <= k; p += 4 * L) {
            s0 = FloatVector.fromArray(S, w, p).fma(FloatVector.fromArray(S, x, xOff + p), s0);
            s1 = FloatVector.fromArray(S, w, p + L).fma(FloatVector.fromArray(S, x, xOff + p + L), s1);
            s2 = FloatVector.fromArray(S, w, p + 2 * L).fma(FloatVector.fromArray(S, x, xOff + p + 2 * L), s2);
            s3 = FloatVector.fromArray(S, w, p + 3 * L).fma(FloatVector.fromArray(S, x, xOff + p + 3 * L), s3);
        }
        for (; p + L <= k; p += L) s0 = FloatVector.fromArray(S, w, p).fma(FloatVector.fromArray(S, x, xOff + p), s0);
        s0.add(s1).add(s2.add(s3)).intoArray(lanes, 0);
        float sum = 0;
        for (float lane : lanes) sum += lane;
        for (; p < k; p++) sum += w[p] * x[xOff + p];
        return sum;
    }
}
