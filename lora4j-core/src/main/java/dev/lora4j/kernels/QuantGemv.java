package dev.lora4j.kernels;

import dev.lora4j.quant.QuantizedMatrix;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * C(m, out) (+)= A(m, in)·Wᵀ for a quantized weight: a decode step of one to a few dozen sequences.
 * With one or two rows of A, each weight row is decoded straight into the dot products
 * ({@link QuantizedMatrix#dot}); with more, two rows at a time into a buffer that stays in L1, then
 * multiplied with three rows of A at a time in registers ({@link #rowsOfA}). Only the quantized bytes
 * stream from memory, so fewer bytes a weight, a faster step.
 * How a thread walks its rows (ranges, streams) depends on the host: {@link #READS}.
 *
 * <p>Each output is one dot product summed the same way (four vector accumulators in order, their
 * lanes, then the tail) whatever m and the thread count, so a sequence's logits do not depend on what
 * else is in the batch. The scalar twin is {@link ScalarGemm#matmul(Mat, Mat, float[], int, int, boolean)}
 * over the weight's dequantizing view.
 */
final class QuantGemv {
    /** Up to this many rows of A, each weight row is decoded once per row of A (fused); more, once into a buffer. */
    private static final int FUSED_ROWS = 2;
    /**
     * How a decode step of one or two rows reads the weight: in {@code rangesPerThread} ranges a thread, the
     * rows of each taken in turn from {@code streams} parts of it. On Intel's cores the hardware prefetcher
     * then follows that many streams, where one row after another left int8 decoding waiting on memory, and
     * several ranges a thread keep a slowed core from holding up the others; on AMD's Zen 4 the interleaved
     * rows decoded at half the speed of one row after another, and one long range a thread was faster than
     * four short ones (docs/performance-notes.md).
     */
    record Reads(int rangesPerThread, int streams) {}

    static final Reads READS = HostCpu.VENDOR == HostCpu.Vendor.AMD ? new Reads(1, 1) : new Reads(4, 8);
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[FloatVector.SPECIES_PREFERRED.length()]);

    private QuantGemv() {}

    static void multiply(Mat a, QuantizedMatrix w, float[] c, int cOff, int ldc, boolean accumulate) {
        multiply(a, w, c, cOff, ldc, accumulate, READS);
    }

    /** With the weight read as {@code reads} says (tests run every host's setting). */
    static void multiply(Mat a, QuantizedMatrix w, float[] c, int cOff, int ldc, boolean accumulate, Reads reads) {
        int m = a.rows(), k = a.cols();
        if (k != w.cols()) throw new IllegalArgumentException("inner dims differ: A " + m + "x" + k + ", W " + w.rows() + "x" + w.cols());
        float[] x = new float[m * k];
        for (int i = 0; i < m; i++) a.copyRow(i, 0, x, i * k, k);
        if (m > FUSED_ROWS) {
            Parallel.forRange(w.rows(), 16, (j0, j1) -> rowsOfA(w, x, m, k, j0, j1, c, cOff, ldc, accumulate));
            return;
        }
        int streams = reads.streams();
        Parallel.RangeBody body = (j0, j1) -> {
            float[] row = ROW.get(), lanes = LANES.get();
            if (row.length < k) ROW.set(row = new float[k]);
            int q = (j1 - j0 + streams - 1) / streams;
            for (int step = 0; step < streams * q; step++) { // rows taken in turn from `streams` parts of the range
                int j = j0 + (step % streams) * q + step / streams;
                if (j >= j1) continue;
                for (int i = 0; i < m; i++) {
                    float sum = w.dot(j, x, i * k, row, lanes);
                    int at = cOff + i * ldc + j;
                    c[at] = accumulate ? c[at] + sum : sum;
                }
            }
        };
        Parallel.forRange(w.rows(), 16, reads.rangesPerThread(), body);
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** A thread's buffer for {@link #rowsOfA}: two dequantized weight rows, their (2, m) combined accumulators, a 16×16 block. */
    private static final ThreadLocal<float[]> PAIR = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * Outputs [j0, j1) for more than {@link #FUSED_ROWS} rows of A, bound by arithmetic: the weight rows are
     * dequantized two at a time into L1, then multiplied with three rows of A at a time (two by three
     * outputs, four accumulators each; the last rows of A one at a time), in {@link QuantizedMatrix#dotRow}'s
     * order, so every output has the bits it has alone. Each vector of a weight row loaded serves three rows
     * of A, each of A two weight rows. The lanes of each output's combined accumulator are then added in
     * lane order, sixteen outputs at once where vectors have 16 lanes (transposed, then added as vectors).
     */
    private static void rowsOfA(QuantizedMatrix w, float[] x, int m, int k, int j0, int j1, float[] c, int cOff, int ldc, boolean accumulate) {
        int sumsAt = 2 * k, columnsAt = sumsAt + 2 * m * L;
        float[] buf = PAIR.get(), lanes = LANES.get();
        if (buf.length < columnsAt + 16 * 16) PAIR.set(buf = new float[columnsAt + 16 * 16]);
        int j = j0;
        for (; j + 2 <= j1; j += 2) {
            w.dequantize(j, 0, buf, 0, k, true);
            w.dequantize(j + 1, 0, buf, k, k, true);
            int i = 0;
            for (; i + 3 <= m; i += 3) tile(buf, k, x, i, m, buf, sumsAt);
            for (; i < m; i++) tile1(buf, k, x, i, m, buf, sumsAt);
            for (int r = 0; r < 2; r++) {
                int a = 0;
                if (Transpose16.AVAILABLE)
                    for (; a + 16 <= m; a += 16) {
                        Transpose16.block(buf, sumsAt + (r * m + a) * L, L, buf, columnsAt, 16);
                        FloatVector sum = FloatVector.zero(S);
                        for (int l = 0; l < 16; l++) sum = sum.add(FloatVector.fromArray(S, buf, columnsAt + l * 16));
                        sum.intoArray(buf, columnsAt);
                        for (int t = 0; t < 16; t++)
                            store(c, cOff + (a + t) * ldc + j + r, tail(buf, columnsAt + t, buf, r * k, x, (a + t) * k, k), accumulate);
                    }
                for (; a < m; a++) {
                    int at = sumsAt + (r * m + a) * L;
                    float sum = 0;
                    for (int l = 0; l < L; l++) sum += buf[at + l];
                    buf[at] = sum;
                    store(c, cOff + a * ldc + j + r, tail(buf, at, buf, r * k, x, a * k, k), accumulate);
                }
            }
        }
        if (j < j1) {
            w.dequantize(j, 0, buf, 0, k, true);
            for (int i = 0; i < m; i++) store(c, cOff + i * ldc + j, QuantizedMatrix.dotRow(buf, 0, x, i * k, k, lanes), accumulate);
        }
    }

    /** The lane sum at sums[at], then the last k % L products of the weight row and the row of A, in order. */
    private static float tail(float[] sums, int at, float[] w, int wOff, float[] x, int xOff, int k) {
        float sum = sums[at];
        for (int p = k - k % L; p < k; p++) sum += w[wOff + p] * x[xOff + p];
        return sum;
    }

    /**
     * Weight rows 0 and 1 of {@code wr} (at 0 and k) against rows i..i+2 of A, each of the six dot products
     * in {@link QuantizedMatrix#dotRow}'s order (four accumulators over runs of 4L, the rest into the first),
     * its accumulators combined as that order's finish does and stored at out[outOff + (row·m + i + a)·L]
     * for the caller to add up lane by lane. s{r}{a}{v}: weight row r, row of A a, accumulator v.
     */
    private static void tile(float[] wr, int k, float[] x, int i, int m, float[] out, int outOff) {
        int x0 = i * k, x1 = x0 + k, x2 = x1 + k;
        FloatVector z = FloatVector.zero(S);
        FloatVector s000 = z, s001 = z, s002 = z, s003 = z;
        FloatVector s010 = z, s011 = z, s012 = z, s013 = z;
        FloatVector s020 = z, s021 = z, s022 = z, s023 = z;
        FloatVector s100 = z, s101 = z, s102 = z, s103 = z;
        FloatVector s110 = z, s111 = z, s112 = z, s113 = z;
        FloatVector s120 = z, s121 = z, s122 = z, s123 = z;
        int p = 0;
        for (; p + 4 * L <= k; p += 4 * L) {
            FloatVector u0, u1, a;
            u0 = FloatVector.fromArray(S, wr, p); u1 = FloatVector.fromArray(S, wr, k + p);
            a = FloatVector.fromArray(S, x, x0 + p); s000 = u0.fma(a, s000); s100 = u1.fma(a, s100);
            a = FloatVector.fromArray(S, x, x1 + p); s010 = u0.fma(a, s010); s110 = u1.fma(a, s110);
            a = FloatVector.fromArray(S, x, x2 + p); s020 = u0.fma(a, s020); s120 = u1.fma(a, s120);
            u0 = FloatVector.fromArray(S, wr, p + L); u1 = FloatVector.fromArray(S, wr, k + p + L);
            a = FloatVector.fromArray(S, x, x0 + p + L); s001 = u0.fma(a, s001); s101 = u1.fma(a, s101);
            a = FloatVector.fromArray(S, x, x1 + p + L); s011 = u0.fma(a, s011); s111 = u1.fma(a, s111);
            a = FloatVector.fromArray(S, x, x2 + p + L); s021 = u0.fma(a, s021); s121 = u1.fma(a, s121);
            u0 = FloatVector.fromArray(S, wr, p + 2 * L); u1 = FloatVector.fromArray(S, wr, k + p + 2 * L);
            a = FloatVector.fromArray(S, x, x0 + p + 2 * L); s002 = u0.fma(a, s002); s102 = u1.fma(a, s102);
            a = FloatVector.fromArray(S, x, x1 + p + 2 * L); s012 = u0.fma(a, s012); s112 = u1.fma(a, s112);
            a = FloatVector.fromArray(S, x, x2 + p + 2 * L); s022 = u0.fma(a, s022); s122 = u1.fma(a, s122);
            u0 = FloatVector.fromArray(S, wr, p + 3 * L); u1 = FloatVector.fromArray(S, wr, k + p + 3 * L);
            a = FloatVector.fromArray(S, x, x0 + p + 3 * L); s003 = u0.fma(a, s003); s103 = u1.fma(a, s103);
            a = FloatVector.fromArray(S, x, x1 + p + 3 * L); s013 = u0.fma(a, s013); s113 = u1.fma(a, s113);
            a = FloatVector.fromArray(S, x, x2 + p + 3 * L); s023 = u0.fma(a, s023); s123 = u1.fma(a, s123);
        }
        for (; p + L <= k; p += L) {
            FloatVector u0 = FloatVector.fromArray(S, wr, p), u1 = FloatVector.fromArray(S, wr, k + p), a;
            a = FloatVector.fromArray(S, x, x0 + p); s000 = u0.fma(a, s000); s100 = u1.fma(a, s100);
            a = FloatVector.fromArray(S, x, x1 + p); s010 = u0.fma(a, s010); s110 = u1.fma(a, s110);
            a = FloatVector.fromArray(S, x, x2 + p); s020 = u0.fma(a, s020); s120 = u1.fma(a, s120);
        }
        s000.add(s001).add(s002.add(s003)).intoArray(out, outOff + i * L);
        s010.add(s011).add(s012.add(s013)).intoArray(out, outOff + (i + 1) * L);
        s020.add(s021).add(s022.add(s023)).intoArray(out, outOff + (i + 2) * L);
        s100.add(s101).add(s102.add(s103)).intoArray(out, outOff + (m + i) * L);
        s110.add(s111).add(s112.add(s113)).intoArray(out, outOff + (m + i + 1) * L);
        s120.add(s121).add(s122.add(s123)).intoArray(out, outOff + (m + i + 2) * L);
    }

    /** {@link #tile} for one row of A, i: the two weight rows' dot products with it. */
    private static void tile1(float[] wr, int k, float[] x, int i, int m, float[] out, int outOff) {
        int x0 = i * k;
        FloatVector z = FloatVector.zero(S);
        FloatVector s00 = z, s01 = z, s02 = z, s03 = z, s10 = z, s11 = z, s12 = z, s13 = z;
        int p = 0;
        for (; p + 4 * L <= k; p += 4 * L) {
            FloatVector a = FloatVector.fromArray(S, x, x0 + p);
            s00 = FloatVector.fromArray(S, wr, p).fma(a, s00); s10 = FloatVector.fromArray(S, wr, k + p).fma(a, s10);
            a = FloatVector.fromArray(S, x, x0 + p + L);
            s01 = FloatVector.fromArray(S, wr, p + L).fma(a, s01); s11 = FloatVector.fromArray(S, wr, k + p + L).fma(a, s11);
            a = FloatVector.fromArray(S, x, x0 + p + 2 * L);
            s02 = FloatVector.fromArray(S, wr, p + 2 * L).fma(a, s02); s12 = FloatVector.fromArray(S, wr, k + p + 2 * L).fma(a, s12);
            a = FloatVector.fromArray(S, x, x0 + p + 3 * L);
            s03 = FloatVector.fromArray(S, wr, p + 3 * L).fma(a, s03); s13 = FloatVector.fromArray(S, wr, k + p + 3 * L).fma(a, s13);
        }
        for (; p + L <= k; p += L) {
            FloatVector a = FloatVector.fromArray(S, x, x0 + p);
            s00 = FloatVector.fromArray(S, wr, p).fma(a, s00); s10 = FloatVector.fromArray(S, wr, k + p).fma(a, s10);
        }
        s00.add(s01).add(s02.add(s03)).intoArray(out, outOff + i * L);
        s10.add(s11).add(s12.add(s13)).intoArray(out, outOff + (m + i) * L);
    }

    private static void store(float[] c, int at, float sum, boolean accumulate) {
        c[at] = accumulate ? c[at] + sum : sum;
    }
}
