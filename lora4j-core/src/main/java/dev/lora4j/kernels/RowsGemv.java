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
 * accumulator over the vectors in order, its lanes added as {@link LaneSums}' tree, then the last k % L
 * products in order. A sequence's logits therefore do not depend on what else is in the batch. A tile
 * takes the first two rounds of the tree at once, while its accumulators are in registers: the four
 * streams' vectors for one output of one row of A fold into one vector (four quarters, one a stream),
 * which is all it stores; {@link #finish} takes the remaining rounds over groups of outputs. Storing
 * the four vectors and folding them later took a third of a 16-row step at k = 768 (their storage did
 * not fit in L1 beside A). The scalar twin is {@link ScalarGemm#matmul(Mat, WeightRows, float[], int, int, boolean)}.
 */
final class RowsGemv {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /**
     * Weight rows (streams) and rows of A in one register tile; rows of A go six at a time first (24
     * accumulators, fewer loads a multiply-add), then four, then one.
     */
    private static final int TW = 4, TA = 4;
    /**
     * Bytes of A (six rows) that leave room in a core's L1 data cache (32–48 KiB) for the tile's weight
     * rows: up to k = 1024 in fp32.
     */
    private static final int A_TILE_IN_L1 = 24 * 1024;
    /** Outputs of each stream finished together. */
    private static final int GROUP = LaneSums.GROUP;
    /**
     * Rounds 0 and 1 of the tree (L ≥ 4 always), then 2 and 3 where L has them. Written out in each tile:
     * a helper taking its vectors is not inlined into a tile that large and boxes them (ten times slower).
     */
    private static final FloatVector LO0 = LaneSums.LOW[0], HI0 = LaneSums.HIGH[0], LO1 = LaneSums.LOW[1], HI1 = LaneSums.HIGH[1];
    private static final FloatVector LO2 = L >= 8 ? LaneSums.LOW[2] : null, HI2 = L >= 8 ? LaneSums.HIGH[2] : null;
    private static final FloatVector LO3 = L >= 16 ? LaneSums.LOW[3] : null, HI3 = L >= 16 ? LaneSums.HIGH[3] : null;

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

    /**
     * A thread's folded partial sums, kept between calls (allocating them per range was a visible part of
     * a step): (rows of A, GROUP, L), where the vector for (row i, output t of the group) holds the four
     * streams' partial sums, L/4 each; then the finished sums of one row, (GROUP, TW).
     */
    private record Folded(float[] lanes, float[] total) {
        static int at(int i, int t) {
            return (i * GROUP + t) * L;
        }
    }

    private static final ThreadLocal<Folded> FOLDED = new ThreadLocal<>();

    private static Folded folded(int m) {
        Folded f = FOLDED.get();
        if (f == null || f.lanes().length < m * GROUP * L) {
            f = new Folded(new float[Math.max(m, 4) * GROUP * L], new float[GROUP * TW]);
            FOLDED.set(f);
        }
        return f;
    }

    /**
     * Outputs [j0, j1): stream s is [j0 + s·q, j0 + (s+1)·q) clipped to j1, walked in groups of
     * {@link #GROUP} outputs. A tile whose stream has run out reads stream 0's row again and
     * drops the result (at most three such tiles per range).
     *
     * <p>Inside a group the order of the tiles changes no sum (each tile writes its own folded slots). Where
     * a tile's rows of A fit in L1 beside its weight rows, each tile of A runs against all the group's
     * outputs before the next (A stays in L1, the group's weight rows in L2); otherwise each output runs
     * against all the tiles of A before the next (its weight rows stay in L1).
     */
    private static void range(X x, WeightRows w, int j0, int j1, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = x.rows(), k = w.cols(), q = (j1 - j0 + TW - 1) / TW;
        boolean aInL1 = 6L * k * Float.BYTES <= A_TILE_IN_L1;
        Folded sums = folded(m);
        int[] count = new int[TW], row = new int[TW];
        for (int g = 0; g < q; g += GROUP) {
            for (int s = 0; s < TW; s++) count[s] = Math.clamp(Math.min(j1, j0 + (s + 1) * q) - (j0 + s * q + g), 0, GROUP);
            int outputs = aInL1 ? count[0] : 1;
            for (int t0 = 0; t0 < count[0]; t0 += outputs) {
                int t1 = Math.min(count[0], t0 + outputs), i = 0;
                for (; i + 6 <= m && m - i != 8; i += 6)
                    for (int t = t0; t < t1; t++) {
                        rows(row, count, j0, q, g, t);
                        if (w.f32() != null) tile6F32(x, i, w.f32(), k, row, sums, t);
                        else tile6Bf16(x, i, w.bf16(), k, row, sums, t);
                    }
                for (; i + TA <= m; i += TA)
                    for (int t = t0; t < t1; t++) {
                        rows(row, count, j0, q, g, t);
                        if (w.f32() != null) tileF32(x, i, w.f32(), k, row, sums, t);
                        else tileBf16(x, i, w.bf16(), k, row, sums, t);
                    }
                for (; i < m; i++)
                    for (int t = t0; t < t1; t++) {
                        rows(row, count, j0, q, g, t);
                        if (w.f32() != null) columnF32(x, i, w.f32(), k, row, sums, t);
                        else columnBf16(x, i, w.bf16(), k, row, sums, t);
                    }
            }
            for (int i = 0; i < m; i++) finish(sums, i, x, w, j0, q, g, count, c, cOff, ldc, accumulate);
        }
    }

    /** The weight rows of output t of group g, one a stream (stream 0's row where a stream has run out). */
    private static void rows(int[] row, int[] count, int j0, int q, int g, int t) {
        for (int s = 0; s < TW; s++) row[s] = t < count[s] ? j0 + s * q + g + t : j0 + g + t;
    }

    /**
     * Stores row i's outputs of the group: rounds 2 and 3 of the tree over the folded vectors (those of
     * four consecutive outputs fold into one vector of their 16 sums at L = 16, two at L = 8), 0 + the
     * sum, then the row's last k % L products.
     */
    private static void finish(Folded sums, int i, X x, WeightRows w, int j0, int q, int g, int[] count, float[] c, int cOff, int ldc, boolean accumulate) {
        float[] f = sums.lanes(), total = sums.total(); // total[t·TW + s]: output t of stream s
        int base = Folded.at(i, 0);
        FloatVector zero = FloatVector.zero(S);
        if (L == 16) {
            for (int t = 0; t < count[0]; t += 4) {
                int o = base + t * L;
                FloatVector a = FloatVector.fromArray(S, f, o), b = FloatVector.fromArray(S, f, o + L);
                FloatVector u = LO2.selectFrom(a, b).add(HI2.selectFrom(a, b));
                a = FloatVector.fromArray(S, f, o + 2 * L);
                b = FloatVector.fromArray(S, f, o + 3 * L);
                FloatVector v = LO2.selectFrom(a, b).add(HI2.selectFrom(a, b));
                zero.add(LO3.selectFrom(u, v).add(HI3.selectFrom(u, v))).intoArray(total, t * TW);
            }
        } else if (L == 8) {
            for (int t = 0; t < count[0]; t += 2) {
                FloatVector a = FloatVector.fromArray(S, f, base + t * L), b = FloatVector.fromArray(S, f, base + (t + 1) * L);
                zero.add(LO2.selectFrom(a, b).add(HI2.selectFrom(a, b))).intoArray(total, t * TW);
            }
        } else {
            for (int t = 0; t < count[0]; t++)
                for (int s = 0; s < TW; s++) total[t * TW + s] = treeSum(f, base + t * L + s * (L / TW), L / TW);
        }
        int k = w.cols(), kv = k - k % L;
        for (int s = 0; s < TW; s++) {
            int first = j0 + s * q + g;
            for (int t = 0; t < count[s]; t++) {
                float sum = total[t * TW + s];
                for (int p = kv; p < k; p++) sum += x.data()[x.at()[i] + p] * w.get(first + t, p);
                int at = cOff + i * ldc + first + t;
                c[at] = accumulate ? c[at] + sum : sum;
            }
        }
    }

    /** 0 + the tree sum of n partial sums (n a power of two), for vector widths the cases above do not cover. */
    private static float treeSum(float[] a, int off, int n) {
        float[] v = java.util.Arrays.copyOfRange(a, off, off + n);
        for (int h = n / 2; h > 0; h /= 2)
            for (int l = 0; l < h; l++) v[l] = v[l] + v[l + h];
        return 0f + v[0];
    }

    // The fp32 and bf16 tiles are kept apart on purpose: choosing the load inside the loop (the choice
    // is loop-invariant) decoded bf16 slower. Each folds and stores its accumulators itself: passing
    // its vectors to a helper that C2 does not inline boxes them (several times slower).

    /** Rows i..i+5 of A against the tile's four weight rows (24 accumulators). */
    private static void tile6F32(X x, int i, float[] w, int k, int[] row, Folded sums, int t) {
        float[] f = sums.lanes();
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
        FloatVector h01, h23; // the stream pairs (0, 1) and (2, 3) after round 0
        int o = Folded.at(i, t);
        h01 = LO0.selectFrom(c00, c01).add(HI0.selectFrom(c00, c01)); h23 = LO0.selectFrom(c02, c03).add(HI0.selectFrom(c02, c03));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o);
        int o1 = Folded.at(i + 1, t);
        h01 = LO0.selectFrom(c10, c11).add(HI0.selectFrom(c10, c11)); h23 = LO0.selectFrom(c12, c13).add(HI0.selectFrom(c12, c13));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o1);
        int o2 = Folded.at(i + 2, t);
        h01 = LO0.selectFrom(c20, c21).add(HI0.selectFrom(c20, c21)); h23 = LO0.selectFrom(c22, c23).add(HI0.selectFrom(c22, c23));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o2);
        int o3 = Folded.at(i + 3, t);
        h01 = LO0.selectFrom(c30, c31).add(HI0.selectFrom(c30, c31)); h23 = LO0.selectFrom(c32, c33).add(HI0.selectFrom(c32, c33));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o3);
        int o4 = Folded.at(i + 4, t);
        h01 = LO0.selectFrom(c40, c41).add(HI0.selectFrom(c40, c41)); h23 = LO0.selectFrom(c42, c43).add(HI0.selectFrom(c42, c43));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o4);
        int o5 = Folded.at(i + 5, t);
        h01 = LO0.selectFrom(c50, c51).add(HI0.selectFrom(c50, c51)); h23 = LO0.selectFrom(c52, c53).add(HI0.selectFrom(c52, c53));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o5);
    }

    /** Rows i..i+3 of A against the tile's four weight rows. */
    private static void tileF32(X x, int i, float[] w, int k, int[] row, Folded sums, int t) {
        float[] f = sums.lanes();
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
        FloatVector h01, h23; // the stream pairs (0, 1) and (2, 3) after round 0
        int o = Folded.at(i, t);
        h01 = LO0.selectFrom(c00, c01).add(HI0.selectFrom(c00, c01)); h23 = LO0.selectFrom(c02, c03).add(HI0.selectFrom(c02, c03));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o);
        int o1 = Folded.at(i + 1, t);
        h01 = LO0.selectFrom(c10, c11).add(HI0.selectFrom(c10, c11)); h23 = LO0.selectFrom(c12, c13).add(HI0.selectFrom(c12, c13));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o1);
        int o2 = Folded.at(i + 2, t);
        h01 = LO0.selectFrom(c20, c21).add(HI0.selectFrom(c20, c21)); h23 = LO0.selectFrom(c22, c23).add(HI0.selectFrom(c22, c23));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o2);
        int o3 = Folded.at(i + 3, t);
        h01 = LO0.selectFrom(c30, c31).add(HI0.selectFrom(c30, c31)); h23 = LO0.selectFrom(c32, c33).add(HI0.selectFrom(c32, c33));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o3);
    }

    /** One row of A (a leftover, or the only one) against the tile's four weight rows. */
    private static void columnF32(X x, int i, float[] w, int k, int[] row, Folded sums, int t) {
        float[] f = sums.lanes();
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
        FloatVector h01, h23; // the stream pairs (0, 1) and (2, 3) after round 0
        int o = Folded.at(i, t);
        h01 = LO0.selectFrom(c0, c1).add(HI0.selectFrom(c0, c1)); h23 = LO0.selectFrom(c2, c3).add(HI0.selectFrom(c2, c3));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o);
    }

    private static void tile6Bf16(X x, int i, short[] w, int k, int[] row, Folded sums, int t) {
        float[] f = sums.lanes();
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
        FloatVector h01, h23; // the stream pairs (0, 1) and (2, 3) after round 0
        int o = Folded.at(i, t);
        h01 = LO0.selectFrom(c00, c01).add(HI0.selectFrom(c00, c01)); h23 = LO0.selectFrom(c02, c03).add(HI0.selectFrom(c02, c03));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o);
        int o1 = Folded.at(i + 1, t);
        h01 = LO0.selectFrom(c10, c11).add(HI0.selectFrom(c10, c11)); h23 = LO0.selectFrom(c12, c13).add(HI0.selectFrom(c12, c13));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o1);
        int o2 = Folded.at(i + 2, t);
        h01 = LO0.selectFrom(c20, c21).add(HI0.selectFrom(c20, c21)); h23 = LO0.selectFrom(c22, c23).add(HI0.selectFrom(c22, c23));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o2);
        int o3 = Folded.at(i + 3, t);
        h01 = LO0.selectFrom(c30, c31).add(HI0.selectFrom(c30, c31)); h23 = LO0.selectFrom(c32, c33).add(HI0.selectFrom(c32, c33));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o3);
        int o4 = Folded.at(i + 4, t);
        h01 = LO0.selectFrom(c40, c41).add(HI0.selectFrom(c40, c41)); h23 = LO0.selectFrom(c42, c43).add(HI0.selectFrom(c42, c43));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o4);
        int o5 = Folded.at(i + 5, t);
        h01 = LO0.selectFrom(c50, c51).add(HI0.selectFrom(c50, c51)); h23 = LO0.selectFrom(c52, c53).add(HI0.selectFrom(c52, c53));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o5);
    }

    private static void tileBf16(X x, int i, short[] w, int k, int[] row, Folded sums, int t) {
        float[] f = sums.lanes();
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
        FloatVector h01, h23; // the stream pairs (0, 1) and (2, 3) after round 0
        int o = Folded.at(i, t);
        h01 = LO0.selectFrom(c00, c01).add(HI0.selectFrom(c00, c01)); h23 = LO0.selectFrom(c02, c03).add(HI0.selectFrom(c02, c03));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o);
        int o1 = Folded.at(i + 1, t);
        h01 = LO0.selectFrom(c10, c11).add(HI0.selectFrom(c10, c11)); h23 = LO0.selectFrom(c12, c13).add(HI0.selectFrom(c12, c13));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o1);
        int o2 = Folded.at(i + 2, t);
        h01 = LO0.selectFrom(c20, c21).add(HI0.selectFrom(c20, c21)); h23 = LO0.selectFrom(c22, c23).add(HI0.selectFrom(c22, c23));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o2);
        int o3 = Folded.at(i + 3, t);
        h01 = LO0.selectFrom(c30, c31).add(HI0.selectFrom(c30, c31)); h23 = LO0.selectFrom(c32, c33).add(HI0.selectFrom(c32, c33));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o3);
    }

    private static void columnBf16(X x, int i, short[] w, int k, int[] row, Folded sums, int t) {
        float[] f = sums.lanes();
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
        FloatVector h01, h23; // the stream pairs (0, 1) and (2, 3) after round 0
        int o = Folded.at(i, t);
        h01 = LO0.selectFrom(c0, c1).add(HI0.selectFrom(c0, c1)); h23 = LO0.selectFrom(c2, c3).add(HI0.selectFrom(c2, c3));
        LO1.selectFrom(h01, h23).add(HI1.selectFrom(h01, h23)).intoArray(f, o);
    }
}
