package dev.lora4j.kernels;

import dev.lora4j.quant.QuantizedMatrix;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * fp32 matrix multiply C(M,N) = A(M,K)·B(K,N) (or C += A·B), the Vector API path.
 *
 * <p>Layout follows the BLIS/GotoBLAS scheme: B is packed into panels of NR columns (kc×NR, contiguous),
 * A into strips of MR rows (kc×MR), and an MR×NR register tile (6 rows × 4 vectors = 24 accumulators)
 * does MR·NR fused multiply-adds per k with 4 vector loads and 6 broadcasts; with AVX2's 16 registers
 * the tile is 6 × 2 vectors. (An 8×48 tile, 3 loads and 8 broadcasts, runs as fast on a quiet machine
 * but slows down whenever the shared host is busy, where 6×64 and 4×96 hold; docs/performance-notes.md.) Packing reads any {@link Mat} (heap or memory-mapped, any
 * strides), so every transposed layout of forward and backward costs the same as the plain one.
 * Schedules: tall problems pack each B block once, shared by all threads, which then take chunks of M's
 * rows as they come free; otherwise threads split N (or M) into contiguous ranges, each with its own
 * packing buffers (allocated once per thread and reused). A few rows (decoding) skip packing and stream
 * B directly; a C narrower than a tile (a LoRA rank's worth of columns) is computed as its transpose.
 *
 * <p>Operands are fp32, or bf16 kept as stored (widened as they are packed or streamed). Left out:
 * fp16 operands (widened when loaded) and pre-packed weights.
 * The scalar twin is {@link ScalarGemm}; tests hold this one to it.
 */
public final class Gemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    static final int MR = 6;
    /** MR floats: one row of a packed A strip, copied in one masked move when A is stored transposed. */
    private static final VectorSpecies<Float> STRIP = FloatVector.SPECIES_256;
    private static final VectorMask<Float> STRIP_ROW = VectorMask.fromLong(STRIP, (1L << MR) - 1);
    /**
     * Vectors of B a k in the register tile: 4 where the machine has 32 vector registers (AVX-512,
     * Arm's NEON and SVE), 2 with AVX2's 16, where 24 accumulators would spill (measured under -XX:UseAVX=2;
     * docs/performance-notes.md).
     */
    static final int NV = S.vectorBitSize() >= 512 || "aarch64".equals(System.getProperty("os.arch")) ? 4 : 2;
    static final int NR = NV * L;
    static final int KC = 768;
    static final int MC = 12 * MR;
    static final int NC = 3072;

    /** Up to this many rows (a decoding step), matmul streams B without packing it. */
    public static final int SMALL_M = 4;

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    private static final class Buffers {
        final float[] a = new float[MC * KC];
        final float[] b = new float[roundUp(NC, NR) * KC];
        final float[] row = new float[Math.max(KC, NR * L)];
        final float[] tile = new float[MR * NR];
        /** A quantized B's rows dequantized on their way into a panel: L rows of KC, or a row of NC. */
        final float[] dequantized = new float[Math.max(L * KC, NC)];
    }

    private Gemm() {}

    /** C(a.rows, b.cols) at {@code c[cOff]} with row stride {@code ldc}: C = A·B, or C += A·B. */
    public static void matmul(Mat a, Mat b, float[] c, int cOff, int ldc, boolean accumulate) {
        int m = a.rows(), n = b.cols(), k = a.cols();
        if (b.rows() != k) throw new IllegalArgumentException("inner dims differ: A " + a.rows() + "x" + k + ", B " + b.rows() + "x" + n);
        if (m == 0 || n == 0) return;
        if (k == 0) {
            if (!accumulate) for (int i = 0; i < m; i++) java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            return;
        }
        if (m <= SMALL_M && a.colStride() == 1 && b.quant() == null && (b.rowStride() == 1 || b.colStride() == 1)) {
            Gemv.multiply(a, b, c, cOff, ldc, accumulate);
            return;
        }
        if (n < NR && 4 * paddedWork(n, m) < 3 * paddedWork(m, n)) {
            // A narrow C (a LoRA product with r outputs) would fill a tile's NR columns with padding:
            // compute Cᵀ = Bᵀ·Aᵀ instead, written through C's column stride. Same bits: every element
            // is the same chain of fused multiply-adds, the factors of each swapped.
            multiply(b.t(), a.t(), c, cOff, 1, ldc, accumulate);
        } else {
            multiply(a, b, c, cOff, ldc, 1, accumulate);
        }
    }

    /** Multiply-adds a tiling of a rows×cols product performs, padding included. */
    private static long paddedWork(int rows, int cols) {
        return (long) roundUp(rows, MR) * roundUp(cols, NR);
    }

    /** The packed paths; C's element (i, j) is {@code c[cOff + i·rsc + j·csc]}. */
    private static void multiply(Mat a, Mat b, float[] c, int cOff, int rsc, int csc, boolean accumulate) {
        int m = a.rows(), n = b.cols();
        int nPanels = (n + NR - 1) / NR;
        int mStrips = (m + MR - 1) / MR;
        int threads = Parallel.threads();
        if (threads > 1 && !Parallel.inside() && mStrips >= 4 * threads) {
            sharedB(a, b, c, cOff, rsc, csc, accumulate, mStrips);
        } else if (nPanels >= 2 * threads || nPanels >= mStrips) {
            Parallel.forRange(nPanels, 1, (p0, p1) ->
                    block(a, b, c, cOff, rsc, csc, accumulate, 0, m, p0 * NR, Math.min(n, p1 * NR)));
        } else {
            Parallel.forRange(mStrips, 1, (s0, s1) ->
                    block(a, b, c, cOff, rsc, csc, accumulate, s0 * MR, Math.min(m, s1 * MR), 0, n));
        }
    }

    /**
     * The multi-threaded schedule for tall problems: each (jc, pc) block of B is packed once, by all
     * threads together, into the caller's buffer (the caller waits while workers run), then the
     * threads split M, each packing only the rows of A it takes. Nothing is packed twice.
     */
    private static void sharedB(Mat a, Mat b, float[] c, int cOff, int rsc, int csc, boolean accumulate, int mStrips) {
        int m = a.rows(), n = b.cols(), k = a.cols();
        float[] shared = BUFFERS.get().b;
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc), panels = (nc + NR - 1) / NR, jc0 = jc;
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc), pc0 = pc;
                boolean acc = accumulate || pc > 0;
                Parallel.forRange(panels, 1, (q0, q1) -> packB(b, pc0, kc, jc0, nc, q0, q1, shared, BUFFERS.get().row));
                Parallel.forRange(mStrips, 1, (s0, s1) -> { // several ranges a thread: a slower core takes fewer
                    Buffers buf = BUFFERS.get();
                    int m1 = Math.min(m, s1 * MR);
                    for (int ic = s0 * MR; ic < m1; ic += MC) {
                        int mc = Math.min(MC, m1 - ic);
                        packA(a, ic, mc, pc0, kc, buf);
                        macroKernel(buf, shared, kc, mc, nc, c, cOff + ic * rsc + jc0 * csc, rsc, csc, acc);
                    }
                });
            }
        }
    }

    /** The single-threaded blocked multiply of rows [m0, m1) and columns [n0, n1). */
    private static void block(Mat a, Mat b, float[] c, int cOff, int rsc, int csc, boolean accumulate,
                              int m0, int m1, int n0, int n1) {
        Buffers buf = BUFFERS.get();
        int k = a.cols();
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                packB(b, pc, kc, jc, nc, 0, (nc + NR - 1) / NR, buf.b, buf.row);
                boolean acc = accumulate || pc > 0;
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    packA(a, ic, mc, pc, kc, buf);
                    macroKernel(buf, buf.b, kc, mc, nc, c, cOff + ic * rsc + jc * csc, rsc, csc, acc);
                }
            }
        }
    }

    /** Packed A block (mc×kc in buf.a) times packed B block (kc×nc in bp) into C at cOff, tile by tile. */
    private static void macroKernel(Buffers buf, float[] bp, int kc, int mc, int nc, float[] c, int cOff, int rsc, int csc, boolean acc) {
        for (int jr = 0; jr < nc; jr += NR) {
            int cols = Math.min(NR, nc - jr);
            int bOff = (jr / NR) * kc * NR;
            for (int ir = 0; ir < mc; ir += MR) {
                int rows = Math.min(MR, mc - ir), aOff = (ir / MR) * kc * MR, cAt = cOff + ir * rsc + jr * csc;
                if (NV == 4) kernel(buf.a, aOff, bp, bOff, kc, c, cAt, rsc, csc, rows, cols, acc, buf.tile);
                else kernel2(buf.a, aOff, bp, bOff, kc, c, cAt, rsc, csc, rows, cols, acc, buf.tile);
            }
        }
    }

    /** Packs A[ic:ic+mc, pc:pc+kc] into strips of MR rows, k-major inside a strip; pads rows with 0. */
    private static void packA(Mat a, int ic, int mc, int pc, int kc, Buffers buf) {
        float[] ap = buf.a;
        int strips = (mc + MR - 1) / MR;
        float[] arr = a.array();
        if (arr != null && (a.colStride() == 1 || a.rowStride() == 1)) {
            // Heap operands: plain loops, no per-run copy calls (they dominated the transposed case).
            int rs = a.rowStride(), cs = a.colStride(), base0 = (int) a.offset();
            if (rs == 1 && cs != 1) {
                // Aᵀ stored row-major: walk each stored row once (contiguous), never down a column
                // (a 4 KiB stride that thrashes cache sets and the TLB).
                if (mc % MR != 0) java.util.Arrays.fill(ap, 0, strips * kc * MR, 0f);
                int full = mc / MR;
                for (int p = 0; p < kc; p++) {
                    int src = base0 + (pc + p) * cs + ic;
                    for (int s = 0; s < full; s++)
                        FloatVector.fromArray(STRIP, arr, src + s * MR, STRIP_ROW).intoArray(ap, s * kc * MR + p * MR, STRIP_ROW);
                    for (int s = full; s < strips; s++) {
                        int dst = s * kc * MR + p * MR, rows = Math.min(MR, mc - s * MR);
                        for (int ii = 0; ii < rows; ii++) ap[dst + ii] = arr[src + s * MR + ii];
                    }
                }
            } else {
                for (int s = 0; s < strips; s++) {
                    int base = s * kc * MR, rows = Math.min(MR, mc - s * MR);
                    if (rows == MR && cs == 1 && rs == kc) {
                        // The strip's rows lie end to end: read them as one stream, row after row.
                        for (int ii = 0; ii < MR; ii++) {
                            int src = base0 + (ic + s * MR + ii) * rs + pc, dst = base + ii;
                            for (int p = 0; p < kc; p++) ap[dst + p * MR] = arr[src + p];
                        }
                        continue;
                    }
                    if (rows == MR && cs == 1) { // the common case, unrolled: MR row streams read side by side
                        int r0 = base0 + (ic + s * MR) * rs + pc;
                        for (int p = 0; p < kc; p++) {
                            int src = r0 + p, dst = base + p * MR;
                            ap[dst] = arr[src];
                            ap[dst + 1] = arr[src + rs];
                            ap[dst + 2] = arr[src + 2 * rs];
                            ap[dst + 3] = arr[src + 3 * rs];
                            ap[dst + 4] = arr[src + 4 * rs];
                            ap[dst + 5] = arr[src + 5 * rs];
                        }
                        continue;
                    }
                    for (int p = 0; p < kc; p++) {
                        int src = base0 + (ic + s * MR) * rs + (pc + p) * cs, dst = base + p * MR;
                        for (int ii = 0; ii < rows; ii++) ap[dst + ii] = arr[src + ii * rs];
                        for (int ii = rows; ii < MR; ii++) ap[dst + ii] = 0f;
                    }
                }
            }
        } else if (a.colStride() == 1) {
            float[] row = buf.row;
            for (int s = 0; s < strips; s++) {
                int base = s * kc * MR;
                for (int ii = 0; ii < MR; ii++) {
                    int i = s * MR + ii;
                    if (i < mc) {
                        a.copyRow(ic + i, pc, row, 0, kc);
                        for (int p = 0; p < kc; p++) ap[base + p * MR + ii] = row[p];
                    } else {
                        for (int p = 0; p < kc; p++) ap[base + p * MR + ii] = 0f;
                    }
                }
            }
        } else if (a.rowStride() == 1) {
            // A is a transposed row-major matrix: MR consecutive rows of A are contiguous for each k.
            Mat at = a.t();
            for (int s = 0; s < strips; s++) {
                int base = s * kc * MR;
                int rows = Math.min(MR, mc - s * MR);
                for (int p = 0; p < kc; p++) {
                    int dst = base + p * MR;
                    at.copyRow(pc + p, ic + s * MR, ap, dst, rows);
                    for (int ii = rows; ii < MR; ii++) ap[dst + ii] = 0f;
                }
            }
        } else {
            for (int s = 0; s < strips; s++)
                for (int p = 0; p < kc; p++)
                    for (int ii = 0; ii < MR; ii++) {
                        int i = s * MR + ii;
                        ap[s * kc * MR + p * MR + ii] = i < mc ? a.get(ic + i, pc + p) : 0f;
                    }
        }
    }

    /** Packs panels [q0, q1) of B[pc:pc+kc, jc:jc+nc] into bp, NR columns each, k-major inside a panel; pads columns with 0. */
    private static void packB(Mat b, int pc, int kc, int jc, int nc, int q0, int q1, float[] bp, float[] scratch) {
        if (b.quant() != null && b.colStride() == 1) packQuantizedRows(b, pc, kc, jc, nc, q0, q1, bp);
        else if (b.quant() != null && b.rowStride() == 1) packQuantizedColumns(b, pc, kc, jc, nc, q0, q1, bp);
        else if (b.colStride() == 1) packRows(b, pc, kc, jc, nc, q0, q1, bp);
        else if (b.rowStride() == 1) packColumns(b, pc, kc, jc, nc, q0, q1, bp, scratch);
        else {
            for (int q = q0; q < q1; q++)
                for (int p = 0; p < kc; p++)
                    for (int jj = 0; jj < NR; jj++) {
                        int j = q * NR + jj;
                        bp[q * kc * NR + p * NR + jj] = j < nc ? b.get(pc + p, jc + j) : 0f;
                    }
        }
    }

    /** B row-major (a Conv1D weight, an activation): each k gives NR contiguous floats, three vector copies. */
    private static void packRows(Mat b, int pc, int kc, int jc, int nc, int q0, int q1, float[] bp) {
        long rs = b.rowStride();
        for (int q = q0; q < q1; q++) {
            int base = q * kc * NR, cols = Math.min(NR, nc - q * NR);
            for (int p = 0; p < kc; p++) {
                long src = b.offset() + (pc + p) * rs + jc + q * NR;
                int dst = base + p * NR;
                if (cols == NR) {
                    for (int v = 0; v < NR; v += L) load(b, src + v).intoArray(bp, dst + v);
                } else {
                    for (int jj = 0; jj < cols; jj++) bp[dst + jj] = b.at(src + jj);
                    for (int jj = cols; jj < NR; jj++) bp[dst + jj] = 0f;
                }
            }
        }
    }

    /**
     * B = Wᵀ with W row-major (an nn.Linear weight, a tied LM head): each column of B is a row of W.
     * L consecutive k of each of the NR rows are read as vectors into a small L1-resident tile; whole
     * 16×16 blocks of it are then transposed in registers ({@link Transpose16}), edges written out k
     * by k, so both reads and writes stay contiguous.
     */
    private static void packColumns(Mat b, int pc, int kc, int jc, int nc, int q0, int q1, float[] bp, float[] tile) {
        long cs = b.colStride();
        for (int q = q0; q < q1; q++) {
            int base = q * kc * NR, cols = Math.min(NR, nc - q * NR);
            for (int p0 = 0; p0 < kc; p0 += L) {
                int len = Math.min(L, kc - p0);
                for (int jj = 0; jj < cols; jj++) {
                    long src = b.offset() + (jc + q * NR + jj) * cs + pc + p0;
                    if (len == L) load(b, src).intoArray(tile, jj * L);
                    else for (int pp = 0; pp < len; pp++) tile[jj * L + pp] = b.at(src + pp);
                }
                if (Transpose16.AVAILABLE && len == L && cols == NR) { // whole 16×16 blocks, in registers
                    for (int g = 0; g < NR; g += L) Transpose16.block(tile, g * L, L, bp, base + p0 * NR + g, NR);
                    continue;
                }
                for (int pp = 0; pp < len; pp++) {
                    int dst = base + (p0 + pp) * NR;
                    for (int jj = 0; jj < cols; jj++) bp[dst + jj] = tile[jj * L + pp];
                    for (int jj = cols; jj < NR; jj++) bp[dst + jj] = 0f;
                }
            }
        }
    }

    /**
     * B = W with W quantized (the backward pass through a frozen weight): each k is a row of W; the
     * row's span under panels [q0, q1) is dequantized once, whole blocks at a time, then dealt out.
     */
    private static void packQuantizedRows(Mat b, int pc, int kc, int jc, int nc, int q0, int q1, float[] bp) {
        QuantizedMatrix w = b.quant();
        float[] row = BUFFERS.get().dequantized;
        int from = q0 * NR, to = Math.min(nc, q1 * NR);
        for (int p = 0; p < kc; p++) {
            long idx = b.offset() + (long) (pc + p) * b.rowStride() + jc + from;
            w.dequantize((int) (idx / w.cols()), (int) (idx % w.cols()), row, 0, to - from, true);
            for (int q = q0; q < q1; q++) {
                int dst = q * kc * NR + p * NR, cols = Math.min(NR, nc - q * NR);
                System.arraycopy(row, q * NR - from, bp, dst, cols);
                java.util.Arrays.fill(bp, dst + cols, dst + NR, 0f);
            }
        }
    }

    /**
     * B = Wᵀ with W quantized (the forward pass): each column of B is a row of W. L rows' spans of kc
     * are dequantized side by side, then transposed into the panel 16×16 at a time ({@link Transpose16}).
     */
    private static void packQuantizedColumns(Mat b, int pc, int kc, int jc, int nc, int q0, int q1, float[] bp) {
        QuantizedMatrix w = b.quant();
        float[] rows = BUFFERS.get().dequantized;
        for (int q = q0; q < q1; q++) {
            int base = q * kc * NR, cols = Math.min(NR, nc - q * NR);
            for (int g = 0; g < NR; g += L) {
                int n = Math.clamp(cols - g, 0, L);
                for (int ii = 0; ii < n; ii++) {
                    long idx = b.offset() + (long) pc * b.rowStride() + (long) (jc + q * NR + g + ii) * b.colStride();
                    w.dequantize((int) (idx / w.cols()), (int) (idx % w.cols()), rows, ii * kc, kc, true);
                }
                int p = 0;
                if (Transpose16.AVAILABLE && n == L)
                    for (; p + L <= kc; p += L) Transpose16.block(rows, p, kc, bp, base + p * NR + g, NR);
                for (; p < kc; p++)
                    for (int ii = 0; ii < L; ii++) bp[base + p * NR + g + ii] = ii < n ? rows[ii * kc + p] : 0f;
            }
        }
    }

    private static final VectorSpecies<Short> HALF = VectorSpecies.of(short.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> WIDE = VectorSpecies.of(int.class, S.vectorShape());

    /** L elements at element index idx of m's storage, as fp32 (bf16 widened exactly: its bits are fp32's top half). */
    static FloatVector load(Mat m, long idx) {
        if (m.array() != null) return FloatVector.fromArray(S, m.array(), (int) idx);
        if (!m.bf16()) return FloatVector.fromMemorySegment(S, m.segment(), idx * 4, ByteOrder.LITTLE_ENDIAN);
        return bf16(m.segment(), idx * 2);
    }

    /** L bf16 elements at a byte offset of a little-endian segment, widened to fp32 (exact: bf16 is fp32's top half). */
    static FloatVector bf16(MemorySegment s, long byteOffset) {
        return ((IntVector) ShortVector.fromMemorySegment(HALF, s, byteOffset, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, WIDE, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** L bf16 patterns at index i of a heap array, widened to fp32. */
    static FloatVector bf16(short[] a, int i) {
        return ((IntVector) ShortVector.fromArray(HALF, a, i).convertShape(VectorOperators.S2I, WIDE, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * The MR×NR register tile: C[0:rows, 0:cols] (+)= Apanel(MR×kc) · Bpanel(kc×NR).
     * The tile goes through {@code tile} on its way to C.
     */
    private static void kernel(float[] ap, int aOff, float[] bp, int bOff, int kc,
                               float[] c, int cOff, int rsc, int csc, int rows, int cols, boolean acc, float[] tile) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z,
                c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z,
                c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
        for (int p = 0; p < kc; p++) {
            int bi = bOff + p * NR;
            int ai = aOff + p * MR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector b2 = FloatVector.fromArray(S, bp, bi + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, bp, bi + 3 * L);
            FloatVector a;
            a = FloatVector.broadcast(S, ap[ai]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01); c02 = a.fma(b2, c02); c03 = a.fma(b3, c03);
            a = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11); c12 = a.fma(b2, c12); c13 = a.fma(b3, c13);
            a = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21); c22 = a.fma(b2, c22); c23 = a.fma(b3, c23);
            a = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31); c32 = a.fma(b2, c32); c33 = a.fma(b3, c33);
            a = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = a.fma(b0, c40); c41 = a.fma(b1, c41); c42 = a.fma(b2, c42); c43 = a.fma(b3, c43);
            a = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = a.fma(b0, c50); c51 = a.fma(b1, c51); c52 = a.fma(b2, c52); c53 = a.fma(b3, c53);
        }
        // Accumulators leave the loop through one array: passing them to a helper method would make
        // C2 box all 24 (a 20x slowdown once its inlining budget runs out).
        c00.intoArray(tile, 0); c01.intoArray(tile, L); c02.intoArray(tile, 2 * L); c03.intoArray(tile, 3 * L);
        c10.intoArray(tile, NR); c11.intoArray(tile, NR + L); c12.intoArray(tile, NR + 2 * L); c13.intoArray(tile, NR + 3 * L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L); c22.intoArray(tile, 2 * NR + 2 * L); c23.intoArray(tile, 2 * NR + 3 * L);
        c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L); c32.intoArray(tile, 3 * NR + 2 * L); c33.intoArray(tile, 3 * NR + 3 * L);
        c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L); c42.intoArray(tile, 4 * NR + 2 * L); c43.intoArray(tile, 4 * NR + 3 * L);
        c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L); c52.intoArray(tile, 5 * NR + 2 * L); c53.intoArray(tile, 5 * NR + 3 * L);
        writeTile(tile, c, cOff, rsc, csc, rows, cols, acc);
    }

    /** {@link #kernel} for 16 vector registers: 6 rows × 2 vectors, 12 accumulators. */
    private static void kernel2(float[] ap, int aOff, float[] bp, int bOff, int kc,
                                float[] c, int cOff, int rsc, int csc, int rows, int cols, boolean acc, float[] tile) {
        FloatVector z = FloatVector.zero(S);
        FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z;
        for (int p = 0; p < kc; p++) {
            int bi = bOff + p * NR;
            int ai = aOff + p * MR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bi);
            FloatVector b1 = FloatVector.fromArray(S, bp, bi + L);
            FloatVector a;
            a = FloatVector.broadcast(S, ap[ai]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01);
            a = FloatVector.broadcast(S, ap[ai + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11);
            a = FloatVector.broadcast(S, ap[ai + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21);
            a = FloatVector.broadcast(S, ap[ai + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31);
            a = FloatVector.broadcast(S, ap[ai + 4]);
            c40 = a.fma(b0, c40); c41 = a.fma(b1, c41);
            a = FloatVector.broadcast(S, ap[ai + 5]);
            c50 = a.fma(b0, c50); c51 = a.fma(b1, c51);
        }
        c00.intoArray(tile, 0); c01.intoArray(tile, L);
        c10.intoArray(tile, NR); c11.intoArray(tile, NR + L);
        c20.intoArray(tile, 2 * NR); c21.intoArray(tile, 2 * NR + L);
        c30.intoArray(tile, 3 * NR); c31.intoArray(tile, 3 * NR + L);
        c40.intoArray(tile, 4 * NR); c41.intoArray(tile, 4 * NR + L);
        c50.intoArray(tile, 5 * NR); c51.intoArray(tile, 5 * NR + L);
        writeTile(tile, c, cOff, rsc, csc, rows, cols, acc);
    }

    /** C[0:rows, 0:cols] = tile (or += tile); C's element (i, j) at {@code c[cOff + i·rsc + j·csc]}. */
    private static void writeTile(float[] tile, float[] c, int cOff, int rsc, int csc, int rows, int cols, boolean acc) {
        if (cols == NR && csc == 1) {
            for (int i = 0; i < rows; i++) {
                int ci = cOff + i * rsc, ti = i * NR;
                for (int v = 0; v < NR; v += L) {
                    FloatVector t = FloatVector.fromArray(S, tile, ti + v);
                    if (acc) t = t.add(FloatVector.fromArray(S, c, ci + v));
                    t.intoArray(c, ci + v);
                }
            }
        } else {
            for (int i = 0; i < rows; i++) {
                int ci = cOff + i * rsc;
                for (int j = 0; j < cols; j++) {
                    int at = ci + j * csc;
                    c[at] = acc ? c[at] + tile[i * NR + j] : tile[i * NR + j];
                }
            }
        }
    }

    private static int roundUp(int x, int m) {
        return (x + m - 1) / m * m;
    }
}
