package dev.lora4j.kernels;

import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * A few rows times a weight matrix (decoding: one token a sequence): C(m, n) (+)= A(m, k)·B(k, n) for
 * m ≤ {@link Gemm#SMALL_M}. There is too little arithmetic per weight for packing to pay, so this is
 * bound by memory bandwidth: B is read exactly once, straight from where it lives (heap or mapped file,
 * fp32 or bf16), each thread streaming its own contiguous part of it, with several independent
 * accumulators so the loads, not the FMA latency, set the pace.
 *
 * <p>Each output is summed in the same order whatever the thread count. The scalar twin is
 * {@link ScalarGemm}; tests hold this one to it.
 */
final class Gemv {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    private Gemv() {}

    /** A's rows must be contiguous (colStride 1); B must have one unit stride. */
    static void multiply(Mat a, Mat b, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = a.rows(), k = a.cols();
        float[][] x = new float[m][k];
        for (int i = 0; i < m; i++) a.copyRow(i, 0, x[i], 0, k);
        if (b.rowStride() == 1) dots(x, b, c, cOff, ldc, accumulate);
        else axpys(x, b, c, cOff, ldc, accumulate);
    }

    /**
     * B = Wᵀ with W's rows contiguous (nn.Linear weights, a tied LM head): output j is a dot product with
     * row j of W, read as one sequential stream into four accumulators. Threads take contiguous runs of
     * rows. Each row is a slice indexed from 0, which lets the JIT drop the bounds checks (indexing
     * the whole segment at an offset ran at half the bandwidth).
     */
    private static void dots(float[][] x, Mat b, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = x.length, k = b.rows(), n = b.cols();
        long ld = b.colStride(), base = b.offset();
        MemorySegment all = storage(b);
        boolean bf16 = b.bf16();
        long es = bf16 ? 2 : 4;
        int k4 = k - k % (4 * L), kv = k - k % L;
        if (b.array() != null) {
            dotsArray(x, b, c, cOff, ldc, accumulate);
            return;
        }
        Parallel.forRange(n, 64, (j0, j1) -> {
            LaneSums sums = new LaneSums(m);
            for (int g = j0; g < j1; g += LaneSums.GROUP) {
                int rows = Math.min(LaneSums.GROUP, j1 - g);
                for (int j = g; j < g + rows; j++) {
                    MemorySegment w = all.asSlice((base + j * ld) * es, k * es);
                    for (int i = 0; i < m; i++) {
                        float[] xi = x[i];
                        FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
                        int p = 0;
                        for (; p < k4; p += 4 * L) {
                            s0 = load(w, p, bf16).fma(FloatVector.fromArray(S, xi, p), s0);
                            s1 = load(w, p + L, bf16).fma(FloatVector.fromArray(S, xi, p + L), s1);
                            s2 = load(w, p + 2 * L, bf16).fma(FloatVector.fromArray(S, xi, p + 2 * L), s2);
                            s3 = load(w, p + 3 * L, bf16).fma(FloatVector.fromArray(S, xi, p + 3 * L), s3);
                        }
                        for (; p < kv; p += L) s0 = load(w, p, bf16).fma(FloatVector.fromArray(S, xi, p), s0);
                        sums.put(i, j - g, s0.add(s1).add(s2.add(s3)));
                    }
                }
                for (int i = 0; i < m; i++) {
                    float[] total = sums.finish(i, rows), xi = x[i];
                    for (int q = 0; q < rows; q++) {
                        MemorySegment w = all.asSlice((base + (g + q) * ld) * es, k * es);
                        float sum = total[q];
                        for (int p = kv; p < k; p++) sum += xi[p] * element(w, p, bf16);
                        store(c, cOff + i * ldc + g + q, sum, accumulate);
                    }
                }
            }
        });
    }

    /** {@link #dots} over a heap array (e.g. a weight being trained, in full fine-tuning). */
    private static void dotsArray(float[][] x, Mat b, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = x.length, k = b.rows(), n = b.cols(), ld = b.colStride(), base = (int) b.offset(), kv = k - k % L;
        float[] w = b.array();
        Parallel.forRange(n, 64, (j0, j1) -> {
            for (int j = j0; j < j1; j++) {
                int r = base + j * ld;
                for (int i = 0; i < m; i++) {
                    FloatVector s0 = FloatVector.zero(S);
                    int p = 0;
                    for (; p < kv; p += L) s0 = FloatVector.fromArray(S, w, r + p).fma(FloatVector.fromArray(S, x[i], p), s0);
                    float sum = VectorMath.sum(s0);
                    for (; p < k; p++) sum += x[i][p] * w[r + p];
                    store(c, cOff + i * ldc + j, sum, accumulate);
                }
            }
        });
    }

    /** Row blocks of a row-major B: fixed, so each output's summation order does not depend on the thread count. */
    private static final int ROW_BLOCKS = 8;

    /**
     * B row-major (GPT-2's Conv1D weights): C's row i is Σ_p x[i][p]·B[p, :]. B's rows are cut into
     * {@link #ROW_BLOCKS} fixed blocks; each block is one long sequential stream into its own partial
     * sum (L1-resident), two rows per pass; partials are added in block order. Splitting columns
     * instead gave every thread short runs of each row, which the prefetcher handles at half speed.
     */
    private static void axpys(float[][] x, Mat b, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = x.length, k = b.rows(), n = b.cols(), nv = n - n % L;
        long ld = b.rowStride(), base = b.offset();
        MemorySegment all = storage(b);
        boolean bf16 = b.bf16();
        long es = bf16 ? 2 : 4;
        int blocks = Math.min(ROW_BLOCKS, k);
        float[][] partial = new float[blocks][m * n];
        Parallel.forRange(blocks, 1, (q0, q1) -> {
            for (int q = q0; q < q1; q++) {
                int p0 = (int) ((long) k * q / blocks), p1 = (int) ((long) k * (q + 1) / blocks);
                float[] acc = partial[q];
                int p = p0;
                for (; p + 4 <= p1; p += 4) {
                    MemorySegment r0 = all.asSlice((base + p * ld) * es, n * es), r1 = all.asSlice((base + (p + 1) * ld) * es, n * es);
                    MemorySegment r2 = all.asSlice((base + (p + 2) * ld) * es, n * es), r3 = all.asSlice((base + (p + 3) * ld) * es, n * es);
                    for (int i = 0; i < m; i++) {
                        float[] xi = x[i];
                        FloatVector x0 = FloatVector.broadcast(S, xi[p]), x1 = FloatVector.broadcast(S, xi[p + 1]);
                        FloatVector x2 = FloatVector.broadcast(S, xi[p + 2]), x3 = FloatVector.broadcast(S, xi[p + 3]);
                        int off = i * n;
                        for (int j = 0; j < nv; j += L) {
                            FloatVector s0 = x1.fma(load(r1, j, bf16), x0.fma(load(r0, j, bf16), FloatVector.fromArray(S, acc, off + j)));
                            x3.fma(load(r3, j, bf16), x2.fma(load(r2, j, bf16), s0)).intoArray(acc, off + j);
                        }
                        for (int j = nv; j < n; j++)
                            acc[off + j] = Math.fma(xi[p + 3], element(r3, j, bf16), Math.fma(xi[p + 2], element(r2, j, bf16),
                                    Math.fma(xi[p + 1], element(r1, j, bf16), Math.fma(xi[p], element(r0, j, bf16), acc[off + j]))));
                    }
                }
                for (; p < p1; p++) {
                    MemorySegment r = all.asSlice((base + p * ld) * es, n * es);
                    for (int i = 0; i < m; i++) {
                        FloatVector xv = FloatVector.broadcast(S, x[i][p]);
                        int off = i * n;
                        for (int j = 0; j < nv; j += L) xv.fma(load(r, j, bf16), FloatVector.fromArray(S, acc, off + j)).intoArray(acc, off + j);
                        for (int j = nv; j < n; j++) acc[off + j] = Math.fma(x[i][p], element(r, j, bf16), acc[off + j]);
                    }
                }
            }
        });
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float sum = partial[0][i * n + j];
                for (int q = 1; q < blocks; q++) sum += partial[q][i * n + j];
                store(c, cOff + i * ldc + j, sum, accumulate);
            }
    }

    private static void store(float[] c, int idx, float v, boolean accumulate) {
        c[idx] = accumulate ? c[idx] + v : v;
    }

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** B's storage as a segment: a heap array is wrapped (no copy). */
    private static MemorySegment storage(Mat b) {
        return b.array() != null ? MemorySegment.ofArray(b.array()) : b.segment();
    }

    /** L elements from element p of a row, as fp32 (bf16's bits are fp32's top half: widening is exact). */
    private static FloatVector load(MemorySegment row, int p, boolean bf16) {
        return bf16 ? Gemm.bf16(row, 2L * p) : FloatVector.fromMemorySegment(S, row, 4L * p, LE);
    }

    private static float element(MemorySegment row, int p, boolean bf16) {
        return bf16 ? DType.bf16At(row, p) : row.getAtIndex(Mat.F32, p);
    }
}
