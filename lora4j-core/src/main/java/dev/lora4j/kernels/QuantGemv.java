package dev.lora4j.kernels;

import dev.lora4j.quant.QuantizedMatrix;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import jdk.incubator.vector.FloatVector;

/**
 * C(m, out) (+)= A(m, in)·Wᵀ for a quantized weight: a decode step of one to a few dozen sequences.
 * With one or two rows of A, each weight row is decoded straight into the dot products
 * ({@link QuantizedMatrix#dot}); with more, once into a row buffer that stays in L1 and is dotted with
 * every row of A. Only the quantized bytes stream from memory, so fewer bytes a weight, a faster step.
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
        int streams = reads.streams();
        Parallel.RangeBody body = (j0, j1) -> {
            float[] row = ROW.get(), lanes = LANES.get();
            if (row.length < k) ROW.set(row = new float[k]);
            int q = (j1 - j0 + streams - 1) / streams;
            for (int step = 0; step < streams * q; step++) { // rows taken in turn from `streams` parts of the range
                int j = j0 + (step % streams) * q + step / streams;
                if (j >= j1) continue;
                if (m > FUSED_ROWS) w.dequantize(j, 0, row, 0, k, true);
                for (int i = 0; i < m; i++) {
                    float sum = m > FUSED_ROWS ? QuantizedMatrix.dotRow(row, x, i * k, k, lanes) : w.dot(j, x, i * k, row, lanes);
                    int at = cOff + i * ldc + j;
                    c[at] = accumulate ? c[at] + sum : sum;
                }
            }
        };
        // more rows of A are bound by arithmetic more than by reads: then the usual number of ranges
        if (m > FUSED_ROWS) Parallel.forRange(w.rows(), 16, body);
        else Parallel.forRange(w.rows(), 16, reads.rangesPerThread(), body);
    }
}
