package dev.lora4j.kernels;

import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * C(m, out) (+)= A(m, in)·Wᵀ for a weight held as heap panels ({@link WeightPanels}): a decode step of
 * one to a few dozen sequences (continuous batching). Output j of row i is the dot product of W's row j
 * with A's row i.
 *
 * <p>A vector of a panel holds {@link WeightPanels#P} outputs' weights for one input, so the product
 * is a sum of outer products: for each input p, A(i, p) broadcast times the panel's vector, added
 * into output lanes. Register tiles of eight rows of A by three panels (24 accumulators; four rows
 * where the machine has 16 vector registers), then four rows, then one: each weight vector loaded
 * serves every row of the tile, so a weight is read from memory once per call whatever m is. With one
 * row of A the step is bound by reading W; with sixteen, by the multiply-adds, and no lane ever has to
 * be summed across.
 *
 * <p>Every output is summed the same way, whatever m, the tile it falls in and the thread count: one
 * fused multiply-add chain over the inputs in order, starting from 0. A sequence's logits therefore do
 * not depend on what else is in the batch. The scalar twin, {@link ScalarGemm#matmul(Mat, WeightPanels,
 * float[], int, int, boolean)}, is that chain written with {@link Math#fma}.
 */
final class PanelGemv {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int P = WeightPanels.P, G = WeightPanels.GROUP;
    /** Rows of A in the large tile: eight rows by three panels plus their operands need 32 vector registers. */
    private static final int TILE_ROWS = P >= 16 ? 8 : 4;

    private PanelGemv() {}

    static void multiply(Mat a, WeightPanels w, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = a.rows(), k = a.cols();
        if (k != w.cols()) throw new IllegalArgumentException("inner dims differ: A " + m + "x" + k + ", W " + w.rows() + "x" + w.cols());
        X x = X.of(a, c);
        int groups = WeightPanels.panels(w.rows()) / G;
        // more ranges than Parallel.forRange makes when there is arithmetic to share: the wait for the
        // last range at the end of each call is shorter
        int ranges = Math.max(1, Math.min(groups, (m >= 4 ? 16 : 4) * Parallel.threads()));
        Parallel.forChunks(ranges, r -> range(x, w, (int) ((long) groups * r / ranges), (int) ((long) groups * (r + 1) / ranges),
                c, cOff, ldc, accumulate));
    }

    /**
     * A's rows: where row i starts in {@code data}. A heap A with contiguous rows is read in place (not
     * in C's array, which the call writes); any other is copied.
     */
    private record X(float[] data, int[] at) {
        static X of(Mat a, float[] c) {
            int m = a.rows(), k = a.cols();
            int[] at = new int[m];
            if (a.array() != null && a.array() != c && a.colStride() == 1) {
                for (int i = 0; i < m; i++) at[i] = Math.toIntExact(a.offset() + (long) i * a.rowStride());
                return new X(a.array(), at);
            }
            float[] data = new float[m * k];
            for (int i = 0; i < m; i++) {
                at[i] = i * k;
                a.copyRow(i, 0, data, at[i], k);
            }
            return new X(data, at);
        }

        int rows() {
            return at.length;
        }
    }

    /** A thread's tile sums, (rows of A, G·P), kept between calls (allocating them per range was a visible part of a step). */
    private static final ThreadLocal<float[]> SUMS = new ThreadLocal<>();

    private static float[] sums(int m) {
        float[] s = SUMS.get();
        if (s == null || s.length < m * G * P) {
            s = new float[Math.max(m, 8) * G * P];
            SUMS.set(s);
        }
        return s;
    }

    /** Panel groups [g0, g1): each against every row of A, then its outputs stored. */
    private static void range(X x, WeightPanels w, int g0, int g1, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = x.rows(), k = w.cols();
        float[] sums = sums(m);
        for (int g = g0; g < g1; g++) {
            int i = 0;
            if (w.f32() != null) {
                if (TILE_ROWS == 8) for (; i + 8 <= m; i += 8) tile8F32(x, i, w.f32(), k, g, sums);
                for (; i + 4 <= m; i += 4) tile4F32(x, i, w.f32(), k, g, sums);
                for (; i < m; i++) tile1F32(x, i, w.f32(), k, g, sums);
            } else {
                if (TILE_ROWS == 8) for (; i + 8 <= m; i += 8) tile8Bf16(x, i, w.bf16(), k, g, sums);
                for (; i + 4 <= m; i += 4) tile4Bf16(x, i, w.bf16(), k, g, sums);
                for (; i < m; i++) tile1Bf16(x, i, w.bf16(), k, g, sums);
            }
            int j0 = g * G * P, n = Math.min(G * P, w.rows() - j0); // the group's real outputs (the last panels are padding)
            for (i = 0; i < m; i++) {
                int at = cOff + i * ldc + j0, s = i * G * P;
                if (accumulate) for (int j = 0; j < n; j++) c[at + j] += sums[s + j];
                else System.arraycopy(sums, s, c, at, n);
            }
        }
    }

    // The fp32 and bf16 tiles are kept apart on purpose: choosing the load inside the loop (the choice
    // is loop-invariant) decoded bf16 slower. Each stores its accumulators itself: passing its vectors
    // to a helper that C2 does not inline boxes them (several times slower).

    /** Rows i..i+7 of A against panel group g (24 accumulators). */
    private static void tile8F32(X x, int i, float[] w, int k, int g, float[] sums) {
        float[] xs = x.data();
        int x0 = x.at()[i], x1 = x.at()[i + 1], x2 = x.at()[i + 2], x3 = x.at()[i + 3], x4 = x.at()[i + 4], x5 = x.at()[i + 5], x6 = x.at()[i + 6], x7 = x.at()[i + 7];
        int w0 = g * G * k * P, w1 = w0 + k * P, w2 = w1 + k * P;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z;
        FloatVector c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z;
        for (int p = 0; p < k; p++) {
            int o0 = w0 + p * P, o1 = w1 + p * P, o2 = w2 + p * P;
            FloatVector v0 = FloatVector.fromArray(S, w, o0), v1 = FloatVector.fromArray(S, w, o1), v2 = FloatVector.fromArray(S, w, o2);
            FloatVector a;
            a = FloatVector.broadcast(S, xs[x0 + p]); c00 = v0.fma(a, c00); c01 = v1.fma(a, c01); c02 = v2.fma(a, c02);
            a = FloatVector.broadcast(S, xs[x1 + p]); c10 = v0.fma(a, c10); c11 = v1.fma(a, c11); c12 = v2.fma(a, c12);
            a = FloatVector.broadcast(S, xs[x2 + p]); c20 = v0.fma(a, c20); c21 = v1.fma(a, c21); c22 = v2.fma(a, c22);
            a = FloatVector.broadcast(S, xs[x3 + p]); c30 = v0.fma(a, c30); c31 = v1.fma(a, c31); c32 = v2.fma(a, c32);
            a = FloatVector.broadcast(S, xs[x4 + p]); c40 = v0.fma(a, c40); c41 = v1.fma(a, c41); c42 = v2.fma(a, c42);
            a = FloatVector.broadcast(S, xs[x5 + p]); c50 = v0.fma(a, c50); c51 = v1.fma(a, c51); c52 = v2.fma(a, c52);
            a = FloatVector.broadcast(S, xs[x6 + p]); c60 = v0.fma(a, c60); c61 = v1.fma(a, c61); c62 = v2.fma(a, c62);
            a = FloatVector.broadcast(S, xs[x7 + p]); c70 = v0.fma(a, c70); c71 = v1.fma(a, c71); c72 = v2.fma(a, c72);
        }
        int s0 = i * G * P; c00.intoArray(sums, s0); c01.intoArray(sums, s0 + P); c02.intoArray(sums, s0 + 2 * P);
        int s1 = (i + 1) * G * P; c10.intoArray(sums, s1); c11.intoArray(sums, s1 + P); c12.intoArray(sums, s1 + 2 * P);
        int s2 = (i + 2) * G * P; c20.intoArray(sums, s2); c21.intoArray(sums, s2 + P); c22.intoArray(sums, s2 + 2 * P);
        int s3 = (i + 3) * G * P; c30.intoArray(sums, s3); c31.intoArray(sums, s3 + P); c32.intoArray(sums, s3 + 2 * P);
        int s4 = (i + 4) * G * P; c40.intoArray(sums, s4); c41.intoArray(sums, s4 + P); c42.intoArray(sums, s4 + 2 * P);
        int s5 = (i + 5) * G * P; c50.intoArray(sums, s5); c51.intoArray(sums, s5 + P); c52.intoArray(sums, s5 + 2 * P);
        int s6 = (i + 6) * G * P; c60.intoArray(sums, s6); c61.intoArray(sums, s6 + P); c62.intoArray(sums, s6 + 2 * P);
        int s7 = (i + 7) * G * P; c70.intoArray(sums, s7); c71.intoArray(sums, s7 + P); c72.intoArray(sums, s7 + 2 * P);
    }

    /** Rows i..i+3 of A against panel group g. */
    private static void tile4F32(X x, int i, float[] w, int k, int g, float[] sums) {
        float[] xs = x.data();
        int x0 = x.at()[i], x1 = x.at()[i + 1], x2 = x.at()[i + 2], x3 = x.at()[i + 3];
        int w0 = g * G * k * P, w1 = w0 + k * P, w2 = w1 + k * P;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
        for (int p = 0; p < k; p++) {
            int o0 = w0 + p * P, o1 = w1 + p * P, o2 = w2 + p * P;
            FloatVector v0 = FloatVector.fromArray(S, w, o0), v1 = FloatVector.fromArray(S, w, o1), v2 = FloatVector.fromArray(S, w, o2);
            FloatVector a;
            a = FloatVector.broadcast(S, xs[x0 + p]); c00 = v0.fma(a, c00); c01 = v1.fma(a, c01); c02 = v2.fma(a, c02);
            a = FloatVector.broadcast(S, xs[x1 + p]); c10 = v0.fma(a, c10); c11 = v1.fma(a, c11); c12 = v2.fma(a, c12);
            a = FloatVector.broadcast(S, xs[x2 + p]); c20 = v0.fma(a, c20); c21 = v1.fma(a, c21); c22 = v2.fma(a, c22);
            a = FloatVector.broadcast(S, xs[x3 + p]); c30 = v0.fma(a, c30); c31 = v1.fma(a, c31); c32 = v2.fma(a, c32);
        }
        int s0 = i * G * P; c00.intoArray(sums, s0); c01.intoArray(sums, s0 + P); c02.intoArray(sums, s0 + 2 * P);
        int s1 = (i + 1) * G * P; c10.intoArray(sums, s1); c11.intoArray(sums, s1 + P); c12.intoArray(sums, s1 + 2 * P);
        int s2 = (i + 2) * G * P; c20.intoArray(sums, s2); c21.intoArray(sums, s2 + P); c22.intoArray(sums, s2 + 2 * P);
        int s3 = (i + 3) * G * P; c30.intoArray(sums, s3); c31.intoArray(sums, s3 + P); c32.intoArray(sums, s3 + 2 * P);
    }

    /** One row of A (a leftover, or the only one) against panel group g. */
    private static void tile1F32(X x, int i, float[] w, int k, int g, float[] sums) {
        float[] xs = x.data();
        int x0 = x.at()[i];
        int w0 = g * G * k * P, w1 = w0 + k * P, w2 = w1 + k * P;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z;
        for (int p = 0; p < k; p++) {
            int o0 = w0 + p * P, o1 = w1 + p * P, o2 = w2 + p * P;
            FloatVector v0 = FloatVector.fromArray(S, w, o0), v1 = FloatVector.fromArray(S, w, o1), v2 = FloatVector.fromArray(S, w, o2);
            FloatVector a;
            a = FloatVector.broadcast(S, xs[x0 + p]); c00 = v0.fma(a, c00); c01 = v1.fma(a, c01); c02 = v2.fma(a, c02);
        }
        int s0 = i * G * P; c00.intoArray(sums, s0); c01.intoArray(sums, s0 + P); c02.intoArray(sums, s0 + 2 * P);
    }

    private static void tile8Bf16(X x, int i, short[] w, int k, int g, float[] sums) {
        float[] xs = x.data();
        int x0 = x.at()[i], x1 = x.at()[i + 1], x2 = x.at()[i + 2], x3 = x.at()[i + 3], x4 = x.at()[i + 4], x5 = x.at()[i + 5], x6 = x.at()[i + 6], x7 = x.at()[i + 7];
        int w0 = g * G * k * P, w1 = w0 + k * P, w2 = w1 + k * P;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z;
        FloatVector c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z;
        for (int p = 0; p < k; p++) {
            int o0 = w0 + p * P, o1 = w1 + p * P, o2 = w2 + p * P;
            FloatVector v0 = Gemm.bf16(w, o0), v1 = Gemm.bf16(w, o1), v2 = Gemm.bf16(w, o2);
            FloatVector a;
            a = FloatVector.broadcast(S, xs[x0 + p]); c00 = v0.fma(a, c00); c01 = v1.fma(a, c01); c02 = v2.fma(a, c02);
            a = FloatVector.broadcast(S, xs[x1 + p]); c10 = v0.fma(a, c10); c11 = v1.fma(a, c11); c12 = v2.fma(a, c12);
            a = FloatVector.broadcast(S, xs[x2 + p]); c20 = v0.fma(a, c20); c21 = v1.fma(a, c21); c22 = v2.fma(a, c22);
            a = FloatVector.broadcast(S, xs[x3 + p]); c30 = v0.fma(a, c30); c31 = v1.fma(a, c31); c32 = v2.fma(a, c32);
            a = FloatVector.broadcast(S, xs[x4 + p]); c40 = v0.fma(a, c40); c41 = v1.fma(a, c41); c42 = v2.fma(a, c42);
            a = FloatVector.broadcast(S, xs[x5 + p]); c50 = v0.fma(a, c50); c51 = v1.fma(a, c51); c52 = v2.fma(a, c52);
            a = FloatVector.broadcast(S, xs[x6 + p]); c60 = v0.fma(a, c60); c61 = v1.fma(a, c61); c62 = v2.fma(a, c62);
            a = FloatVector.broadcast(S, xs[x7 + p]); c70 = v0.fma(a, c70); c71 = v1.fma(a, c71); c72 = v2.fma(a, c72);
        }
        int s0 = i * G * P; c00.intoArray(sums, s0); c01.intoArray(sums, s0 + P); c02.intoArray(sums, s0 + 2 * P);
        int s1 = (i + 1) * G * P; c10.intoArray(sums, s1); c11.intoArray(sums, s1 + P); c12.intoArray(sums, s1 + 2 * P);
        int s2 = (i + 2) * G * P; c20.intoArray(sums, s2); c21.intoArray(sums, s2 + P); c22.intoArray(sums, s2 + 2 * P);
        int s3 = (i + 3) * G * P; c30.intoArray(sums, s3); c31.intoArray(sums, s3 + P); c32.intoArray(sums, s3 + 2 * P);
        int s4 = (i + 4) * G * P; c40.intoArray(sums, s4); c41.intoArray(sums, s4 + P); c42.intoArray(sums, s4 + 2 * P);
        int s5 = (i + 5) * G * P; c50.intoArray(sums, s5); c51.intoArray(sums, s5 + P); c52.intoArray(sums, s5 + 2 * P);
        int s6 = (i + 6) * G * P; c60.intoArray(sums, s6); c61.intoArray(sums, s6 + P); c62.intoArray(sums, s6 + 2 * P);
        int s7 = (i + 7) * G * P; c70.intoArray(sums, s7); c71.intoArray(sums, s7 + P); c72.intoArray(sums, s7 + 2 * P);
    }

    private static void tile4Bf16(X x, int i, short[] w, int k, int g, float[] sums) {
        float[] xs = x.data();
        int x0 = x.at()[i], x1 = x.at()[i + 1], x2 = x.at()[i + 2], x3 = x.at()[i + 3];
        int w0 = g * G * k * P, w1 = w0 + k * P, w2 = w1 + k * P;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
        for (int p = 0; p < k; p++) {
            int o0 = w0 + p * P, o1 = w1 + p * P, o2 = w2 + p * P;
            FloatVector v0 = Gemm.bf16(w, o0), v1 = Gemm.bf16(w, o1), v2 = Gemm.bf16(w, o2);
            FloatVector a;
            a = FloatVector.broadcast(S, xs[x0 + p]); c00 = v0.fma(a, c00); c01 = v1.fma(a, c01); c02 = v2.fma(a, c02);
            a = FloatVector.broadcast(S, xs[x1 + p]); c10 = v0.fma(a, c10); c11 = v1.fma(a, c11); c12 = v2.fma(a, c12);
            a = FloatVector.broadcast(S, xs[x2 + p]); c20 = v0.fma(a, c20); c21 = v1.fma(a, c21); c22 = v2.fma(a, c22);
            a = FloatVector.broadcast(S, xs[x3 + p]); c30 = v0.fma(a, c30); c31 = v1.fma(a, c31); c32 = v2.fma(a, c32);
        }
        int s0 = i * G * P; c00.intoArray(sums, s0); c01.intoArray(sums, s0 + P); c02.intoArray(sums, s0 + 2 * P);
        int s1 = (i + 1) * G * P; c10.intoArray(sums, s1); c11.intoArray(sums, s1 + P); c12.intoArray(sums, s1 + 2 * P);
        int s2 = (i + 2) * G * P; c20.intoArray(sums, s2); c21.intoArray(sums, s2 + P); c22.intoArray(sums, s2 + 2 * P);
        int s3 = (i + 3) * G * P; c30.intoArray(sums, s3); c31.intoArray(sums, s3 + P); c32.intoArray(sums, s3 + 2 * P);
    }

    private static void tile1Bf16(X x, int i, short[] w, int k, int g, float[] sums) {
        float[] xs = x.data();
        int x0 = x.at()[i];
        int w0 = g * G * k * P, w1 = w0 + k * P, w2 = w1 + k * P;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z;
        for (int p = 0; p < k; p++) {
            int o0 = w0 + p * P, o1 = w1 + p * P, o2 = w2 + p * P;
            FloatVector v0 = Gemm.bf16(w, o0), v1 = Gemm.bf16(w, o1), v2 = Gemm.bf16(w, o2);
            FloatVector a;
            a = FloatVector.broadcast(S, xs[x0 + p]); c00 = v0.fma(a, c00); c01 = v1.fma(a, c01); c02 = v2.fma(a, c02);
        }
        int s0 = i * G * P; c00.intoArray(sums, s0); c01.intoArray(sums, s0 + P); c02.intoArray(sums, s0 + 2 * P);
    }
}
