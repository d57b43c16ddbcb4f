package dev.lora4j.kernels;

import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * C(m, out) (+)= A(m, in)·Wᵀ for a weight held as heap rows ({@link WeightRows}): a decode step of one
 * to a few dozen sequences (continuous batching). Output j of row i is the dot product of W's row j
 * with A's row i.
 *
 * <p>Register tiles of four weight rows by four rows of A (sixteen accumulators): each weight vector
 * loaded serves four rows of A and each A vector four weights, so a weight is read from memory once
 * per call whatever m is, and the tile needs half a load per FMA. With one row of A the step is bound
 * by reading W; with sixteen, by the FMAs. The four weight rows of a tile come from the four quarters
 * of the thread's range: four sequential streams per core (one stream does not reach the machine's
 * read bandwidth; adjacent rows are no second stream).
 *
 * <p>Every output is summed the same way, whatever m, the tile it falls in and the thread count: one
 * accumulator over the vectors in order, its lanes in lane order ({@link LaneSums}), then the last
 * k % L products in order. A sequence's logits therefore do not depend on what else is in the batch.
 * The scalar twin is {@link ScalarGemm#matmul(Mat, WeightRows, float[], int, int, boolean)}.
 */
final class RowsGemv {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /**
     * Weight rows (streams) and rows of A in one register tile; rows of A go six at a time first (24
     * accumulators, fewer loads a multiply-add), then four, then one.
     */
    private static final int TW = 4, TA = 4;

    private RowsGemv() {}

    static void multiply(Mat a, WeightRows w, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = a.rows(), k = a.cols();
        if (k != w.cols()) throw new IllegalArgumentException("inner dims differ: A " + m + "x" + k + ", W " + w.rows() + "x" + w.cols());
        X x = X.of(a, c);
        // more ranges than Parallel.forRange makes when there is arithmetic to share: the wait for the
        // last range at the end of each call is shorter
        int ranges = Math.max(1, Math.min(w.rows() / 64, (m >= TA ? 16 : 4) * Parallel.threads()));
        Parallel.forChunks(ranges, r -> range(x, w, (int) ((long) w.rows() * r / ranges), (int) ((long) w.rows() * (r + 1) / ranges),
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

    /** Each thread's partial sums, kept between calls: allocating them per range was a visible part of a step. */
    private static final ThreadLocal<LaneSums[]> SUMS = new ThreadLocal<>();

    private static LaneSums[] sums(int m) {
        LaneSums[] s = SUMS.get();
        if (s == null || s[0].rows() < m) {
            s = new LaneSums[TW];
            for (int i = 0; i < TW; i++) s[i] = new LaneSums(Math.max(m, 4));
            SUMS.set(s);
        }
        return s;
    }

    /**
     * Outputs [j0, j1): stream s is [j0 + s·q, j0 + (s+1)·q) clipped to j1, walked in groups of
     * {@link LaneSums#GROUP} outputs. A tile whose stream has run out reads stream 0's row again and
     * drops the result (at most three such tiles per range).
     */
    private static void range(X x, WeightRows w, int j0, int j1, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = x.rows(), k = w.cols(), q = (j1 - j0 + TW - 1) / TW;
        LaneSums[] sums = sums(m);
        int[] count = new int[TW], row = new int[TW];
        for (int g = 0; g < q; g += LaneSums.GROUP) {
            for (int s = 0; s < TW; s++) count[s] = Math.clamp(Math.min(j1, j0 + (s + 1) * q) - (j0 + s * q + g), 0, LaneSums.GROUP);
            for (int t = 0; t < count[0]; t++) {
                for (int s = 0; s < TW; s++) row[s] = t < count[s] ? j0 + s * q + g + t : j0 + g + t;
                int i = 0;
                if (w.f32() != null) {
                    for (; i + 6 <= m && m - i != 8; i += 6) tile6F32(x, i, w.f32(), k, row, sums, t);
                    for (; i + TA <= m; i += TA) tileF32(x, i, w.f32(), k, row, sums, t);
                    for (; i < m; i++) columnF32(x, i, w.f32(), k, row, sums, t);
                } else {
                    for (; i + 6 <= m && m - i != 8; i += 6) tile6Bf16(x, i, w.bf16(), k, row, sums, t);
                    for (; i + TA <= m; i += TA) tileBf16(x, i, w.bf16(), k, row, sums, t);
                    for (; i < m; i++) columnBf16(x, i, w.bf16(), k, row, sums, t);
                }
            }
            for (int s = 0; s < TW; s++) finish(sums[s], x, w, j0 + s * q + g, count[s], c, cOff, ldc, accumulate);
        }
    }

    /** Stores outputs [first, first + count) of every row of A: the lane sums plus each row's last k % L products. */
    private static void finish(LaneSums sums, X x, WeightRows w, int first, int count, float[] c, int cOff, int ldc, boolean accumulate) {
        int k = w.cols(), kv = k - k % L;
        for (int i = 0; i < x.rows() && count > 0; i++) {
            float[] total = sums.finish(i, count);
            for (int t = 0; t < count; t++) {
                float sum = total[t];
                for (int p = kv; p < k; p++) sum += x.data()[x.at()[i] + p] * w.get(first + t, p);
                int at = cOff + i * ldc + first + t;
                c[at] = accumulate ? c[at] + sum : sum;
            }
        }
    }

    // The fp32 and bf16 tiles are kept apart on purpose: choosing the load inside the loop (the choice
    // is loop-invariant) decoded bf16 slower. Each writes its accumulators into the partial sums
    // itself: passing sixteen vectors to a helper that C2 does not inline boxes them (the bf16 tile,
    // the larger, ran several times slower that way).

    /** Rows i..i+5 of A against the tile's four weight rows (24 accumulators). */
    private static void tile6F32(X x, int i, float[] w, int k, int[] row, LaneSums[] sums, int t) {
        float[] l0 = sums[0].lanes(), l1 = sums[1].lanes(), l2 = sums[2].lanes(), l3 = sums[3].lanes(); // each stream's partial sums
        float[] xs = x.data();
        int x0 = x.at()[i], x1 = x.at()[i + 1], x2 = x.at()[i + 2], x3 = x.at()[i + 3], x4 = x.at()[i + 4], x5 = x.at()[i + 5];
        int r0 = row[0] * k, r1 = row[1] * k, r2 = row[2] * k, r3 = row[3] * k, kv = k - k % L;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kv; p += L) {
            FloatVector w0 = FloatVector.fromArray(S, w, r0 + p), w1 = FloatVector.fromArray(S, w, r1 + p);
            FloatVector w2 = FloatVector.fromArray(S, w, r2 + p), w3 = FloatVector.fromArray(S, w, r3 + p);
            FloatVector a;
            a = FloatVector.fromArray(S, xs, x0 + p);
            c00 = w0.fma(a, c00); c01 = w1.fma(a, c01); c02 = w2.fma(a, c02); c03 = w3.fma(a, c03);
            a = FloatVector.fromArray(S, xs, x1 + p);
            c10 = w0.fma(a, c10); c11 = w1.fma(a, c11); c12 = w2.fma(a, c12); c13 = w3.fma(a, c13);
            a = FloatVector.fromArray(S, xs, x2 + p);
            c20 = w0.fma(a, c20); c21 = w1.fma(a, c21); c22 = w2.fma(a, c22); c23 = w3.fma(a, c23);
            a = FloatVector.fromArray(S, xs, x3 + p);
            c30 = w0.fma(a, c30); c31 = w1.fma(a, c31); c32 = w2.fma(a, c32); c33 = w3.fma(a, c33);
            a = FloatVector.fromArray(S, xs, x4 + p);
            c40 = w0.fma(a, c40); c41 = w1.fma(a, c41); c42 = w2.fma(a, c42); c43 = w3.fma(a, c43);
            a = FloatVector.fromArray(S, xs, x5 + p);
            c50 = w0.fma(a, c50); c51 = w1.fma(a, c51); c52 = w2.fma(a, c52); c53 = w3.fma(a, c53);
        }
        int o = LaneSums.at(i, t);
        c00.intoArray(l0, o); c01.intoArray(l1, o); c02.intoArray(l2, o); c03.intoArray(l3, o);
        int o1 = LaneSums.at(i + 1, t);
        c10.intoArray(l0, o1); c11.intoArray(l1, o1); c12.intoArray(l2, o1); c13.intoArray(l3, o1);
        int o2 = LaneSums.at(i + 2, t);
        c20.intoArray(l0, o2); c21.intoArray(l1, o2); c22.intoArray(l2, o2); c23.intoArray(l3, o2);
        int o3 = LaneSums.at(i + 3, t);
        c30.intoArray(l0, o3); c31.intoArray(l1, o3); c32.intoArray(l2, o3); c33.intoArray(l3, o3);
        int o4 = LaneSums.at(i + 4, t);
        c40.intoArray(l0, o4); c41.intoArray(l1, o4); c42.intoArray(l2, o4); c43.intoArray(l3, o4);
        int o5 = LaneSums.at(i + 5, t);
        c50.intoArray(l0, o5); c51.intoArray(l1, o5); c52.intoArray(l2, o5); c53.intoArray(l3, o5);
    }

    /** Rows i..i+3 of A against the tile's four weight rows. */
    private static void tileF32(X x, int i, float[] w, int k, int[] row, LaneSums[] sums, int t) {
        float[] l0 = sums[0].lanes(), l1 = sums[1].lanes(), l2 = sums[2].lanes(), l3 = sums[3].lanes(); // each stream's partial sums
        float[] xs = x.data();
        int x0 = x.at()[i], x1 = x.at()[i + 1], x2 = x.at()[i + 2], x3 = x.at()[i + 3];
        int r0 = row[0] * k, r1 = row[1] * k, r2 = row[2] * k, r3 = row[3] * k, kv = k - k % L;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        for (int p = 0; p < kv; p += L) {
            FloatVector a0 = FloatVector.fromArray(S, xs, x0 + p), a1 = FloatVector.fromArray(S, xs, x1 + p);
            FloatVector a2 = FloatVector.fromArray(S, xs, x2 + p), a3 = FloatVector.fromArray(S, xs, x3 + p);
            FloatVector w0 = FloatVector.fromArray(S, w, r0 + p);
            c00 = w0.fma(a0, c00); c10 = w0.fma(a1, c10); c20 = w0.fma(a2, c20); c30 = w0.fma(a3, c30);
            FloatVector w1 = FloatVector.fromArray(S, w, r1 + p);
            c01 = w1.fma(a0, c01); c11 = w1.fma(a1, c11); c21 = w1.fma(a2, c21); c31 = w1.fma(a3, c31);
            FloatVector w2 = FloatVector.fromArray(S, w, r2 + p);
            c02 = w2.fma(a0, c02); c12 = w2.fma(a1, c12); c22 = w2.fma(a2, c22); c32 = w2.fma(a3, c32);
            FloatVector w3 = FloatVector.fromArray(S, w, r3 + p);
            c03 = w3.fma(a0, c03); c13 = w3.fma(a1, c13); c23 = w3.fma(a2, c23); c33 = w3.fma(a3, c33);
        }
        int o = LaneSums.at(i, t);
        c00.intoArray(l0, o); c01.intoArray(l1, o); c02.intoArray(l2, o); c03.intoArray(l3, o);
        int o1 = LaneSums.at(i + 1, t);
        c10.intoArray(l0, o1); c11.intoArray(l1, o1); c12.intoArray(l2, o1); c13.intoArray(l3, o1);
        int o2 = LaneSums.at(i + 2, t);
        c20.intoArray(l0, o2); c21.intoArray(l1, o2); c22.intoArray(l2, o2); c23.intoArray(l3, o2);
        int o3 = LaneSums.at(i + 3, t);
        c30.intoArray(l0, o3); c31.intoArray(l1, o3); c32.intoArray(l2, o3); c33.intoArray(l3, o3);
    }

    /** One row of A (a leftover, or the only one) against the tile's four weight rows. */
    private static void columnF32(X x, int i, float[] w, int k, int[] row, LaneSums[] sums, int t) {
        float[] l0 = sums[0].lanes(), l1 = sums[1].lanes(), l2 = sums[2].lanes(), l3 = sums[3].lanes(); // each stream's partial sums
        float[] xs = x.data();
        int xi = x.at()[i];
        int r0 = row[0] * k, r1 = row[1] * k, r2 = row[2] * k, r3 = row[3] * k, kv = k - k % L;
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int p = 0; p < kv; p += L) {
            FloatVector a = FloatVector.fromArray(S, xs, xi + p);
            c0 = FloatVector.fromArray(S, w, r0 + p).fma(a, c0);
            c1 = FloatVector.fromArray(S, w, r1 + p).fma(a, c1);
            c2 = FloatVector.fromArray(S, w, r2 + p).fma(a, c2);
            c3 = FloatVector.fromArray(S, w, r3 + p).fma(a, c3);
        }
        int o = LaneSums.at(i, t);
        c0.intoArray(l0, o); c1.intoArray(l1, o); c2.intoArray(l2, o); c3.intoArray(l3, o);
    }

    private static void tile6Bf16(X x, int i, short[] w, int k, int[] row, LaneSums[] sums, int t) {
        float[] l0 = sums[0].lanes(), l1 = sums[1].lanes(), l2 = sums[2].lanes(), l3 = sums[3].lanes(); // each stream's partial sums
        float[] xs = x.data();
        int x0 = x.at()[i], x1 = x.at()[i + 1], x2 = x.at()[i + 2], x3 = x.at()[i + 3], x4 = x.at()[i + 4], x5 = x.at()[i + 5];
        int r0 = row[0] * k, r1 = row[1] * k, r2 = row[2] * k, r3 = row[3] * k, kv = k - k % L;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        FloatVector c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kv; p += L) {
            FloatVector w0 = Gemm.bf16(w, r0 + p), w1 = Gemm.bf16(w, r1 + p);
            FloatVector w2 = Gemm.bf16(w, r2 + p), w3 = Gemm.bf16(w, r3 + p);
            FloatVector a;
            a = FloatVector.fromArray(S, xs, x0 + p);
            c00 = w0.fma(a, c00); c01 = w1.fma(a, c01); c02 = w2.fma(a, c02); c03 = w3.fma(a, c03);
            a = FloatVector.fromArray(S, xs, x1 + p);
            c10 = w0.fma(a, c10); c11 = w1.fma(a, c11); c12 = w2.fma(a, c12); c13 = w3.fma(a, c13);
            a = FloatVector.fromArray(S, xs, x2 + p);
            c20 = w0.fma(a, c20); c21 = w1.fma(a, c21); c22 = w2.fma(a, c22); c23 = w3.fma(a, c23);
            a = FloatVector.fromArray(S, xs, x3 + p);
            c30 = w0.fma(a, c30); c31 = w1.fma(a, c31); c32 = w2.fma(a, c32); c33 = w3.fma(a, c33);
            a = FloatVector.fromArray(S, xs, x4 + p);
            c40 = w0.fma(a, c40); c41 = w1.fma(a, c41); c42 = w2.fma(a, c42); c43 = w3.fma(a, c43);
            a = FloatVector.fromArray(S, xs, x5 + p);
            c50 = w0.fma(a, c50); c51 = w1.fma(a, c51); c52 = w2.fma(a, c52); c53 = w3.fma(a, c53);
        }
        int o = LaneSums.at(i, t);
        c00.intoArray(l0, o); c01.intoArray(l1, o); c02.intoArray(l2, o); c03.intoArray(l3, o);
        int o1 = LaneSums.at(i + 1, t);
        c10.intoArray(l0, o1); c11.intoArray(l1, o1); c12.intoArray(l2, o1); c13.intoArray(l3, o1);
        int o2 = LaneSums.at(i + 2, t);
        c20.intoArray(l0, o2); c21.intoArray(l1, o2); c22.intoArray(l2, o2); c23.intoArray(l3, o2);
        int o3 = LaneSums.at(i + 3, t);
        c30.intoArray(l0, o3); c31.intoArray(l1, o3); c32.intoArray(l2, o3); c33.intoArray(l3, o3);
        int o4 = LaneSums.at(i + 4, t);
        c40.intoArray(l0, o4); c41.intoArray(l1, o4); c42.intoArray(l2, o4); c43.intoArray(l3, o4);
        int o5 = LaneSums.at(i + 5, t);
        c50.intoArray(l0, o5); c51.intoArray(l1, o5); c52.intoArray(l2, o5); c53.intoArray(l3, o5);
    }

    private static void tileBf16(X x, int i, short[] w, int k, int[] row, LaneSums[] sums, int t) {
        float[] l0 = sums[0].lanes(), l1 = sums[1].lanes(), l2 = sums[2].lanes(), l3 = sums[3].lanes(); // each stream's partial sums
        float[] xs = x.data();
        int x0 = x.at()[i], x1 = x.at()[i + 1], x2 = x.at()[i + 2], x3 = x.at()[i + 3];
        int r0 = row[0] * k, r1 = row[1] * k, r2 = row[2] * k, r3 = row[3] * k, kv = k - k % L;
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
        FloatVector c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
        for (int p = 0; p < kv; p += L) {
            FloatVector a0 = FloatVector.fromArray(S, xs, x0 + p), a1 = FloatVector.fromArray(S, xs, x1 + p);
            FloatVector a2 = FloatVector.fromArray(S, xs, x2 + p), a3 = FloatVector.fromArray(S, xs, x3 + p);
            FloatVector w0 = Gemm.bf16(w, r0 + p);
            c00 = w0.fma(a0, c00); c10 = w0.fma(a1, c10); c20 = w0.fma(a2, c20); c30 = w0.fma(a3, c30);
            FloatVector w1 = Gemm.bf16(w, r1 + p);
            c01 = w1.fma(a0, c01); c11 = w1.fma(a1, c11); c21 = w1.fma(a2, c21); c31 = w1.fma(a3, c31);
            FloatVector w2 = Gemm.bf16(w, r2 + p);
            c02 = w2.fma(a0, c02); c12 = w2.fma(a1, c12); c22 = w2.fma(a2, c22); c32 = w2.fma(a3, c32);
            FloatVector w3 = Gemm.bf16(w, r3 + p);
            c03 = w3.fma(a0, c03); c13 = w3.fma(a1, c13); c23 = w3.fma(a2, c23); c33 = w3.fma(a3, c33);
        }
        int o = LaneSums.at(i, t);
        c00.intoArray(l0, o); c01.intoArray(l1, o); c02.intoArray(l2, o); c03.intoArray(l3, o);
        int o1 = LaneSums.at(i + 1, t);
        c10.intoArray(l0, o1); c11.intoArray(l1, o1); c12.intoArray(l2, o1); c13.intoArray(l3, o1);
        int o2 = LaneSums.at(i + 2, t);
        c20.intoArray(l0, o2); c21.intoArray(l1, o2); c22.intoArray(l2, o2); c23.intoArray(l3, o2);
        int o3 = LaneSums.at(i + 3, t);
        c30.intoArray(l0, o3); c31.intoArray(l1, o3); c32.intoArray(l2, o3); c33.intoArray(l3, o3);
    }

    private static void columnBf16(X x, int i, short[] w, int k, int[] row, LaneSums[] sums, int t) {
        float[] l0 = sums[0].lanes(), l1 = sums[1].lanes(), l2 = sums[2].lanes(), l3 = sums[3].lanes(); // each stream's partial sums
        float[] xs = x.data();
        int xi = x.at()[i];
        int r0 = row[0] * k, r1 = row[1] * k, r2 = row[2] * k, r3 = row[3] * k, kv = k - k % L;
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int p = 0; p < kv; p += L) {
            FloatVector a = FloatVector.fromArray(S, xs, xi + p);
            c0 = Gemm.bf16(w, r0 + p).fma(a, c0);
            c1 = Gemm.bf16(w, r1 + p).fma(a, c1);
            c2 = Gemm.bf16(w, r2 + p).fma(a, c2);
            c3 = Gemm.bf16(w, r3 + p).fma(a, c3);
        }
        int o = LaneSums.at(i, t);
        c0.intoArray(l0, o); c1.intoArray(l1, o); c2.intoArray(l2, o); c3.intoArray(l3, o);
    }
}
