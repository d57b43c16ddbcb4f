package dev.lora4j.kernels;

import dev.lora4j.tensor.Mat;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The SIMD GEMM against its scalar twin, on awkward sizes and every layout, with strided output. */
class GemmTest {
    static final int[] SIZES = {1, 7, 13, 63, 65, 207};

    static Stream<Arguments> shapes() {
        List<Arguments> out = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(7);
        for (int m : SIZES) for (int n : SIZES) {
            int k = SIZES[r.nextInt(SIZES.length)];
            for (String layout : List.of("NN", "NT", "TN", "TT")) out.add(Arguments.of(m, k, n, layout));
        }
        out.add(Arguments.of(3, 4097, 5, "NN"));
        out.add(Arguments.of(9, 4097, 50, "NT"));
        out.add(Arguments.of(4097, 13, 7, "TN"));
        out.add(Arguments.of(100, 800, 97, "NN")); // k spans more than one KC block
        return out.stream();
    }

    /**
     * A quantized weight W (out, in) as B = Wᵀ (the forward pass: panels packed from W's rows) and as
     * B = W (backward), against the scalar twin over the same dequantizing view; and a decode step of a
     * few rows ({@link QuantGemv}). Shapes cross KC (768) and NC (3072) and end in partial panels.
     */
    @ParameterizedTest(name = "{0} {1}x{2}x{3}")
    @MethodSource("quantizedShapes")
    void quantizedWeightsMatchScalar(dev.lora4j.quant.QuantType type, int m, int in, int out) {
        float[] w = random(out * in, 4);
        var q = dev.lora4j.quant.QuantizedMatrix.quantize(type, out, in, (r, dst) -> System.arraycopy(w, r * in, dst, 0, in));
        Mat wq = Mat.of(q);
        for (boolean backward : new boolean[] {false, true}) {
            int k = backward ? out : in, n = backward ? in : out;
            Mat a = Mat.of(random(m * k, 5), 0, m, k), b = backward ? wq : wq.t();
            float[] c1 = new float[m * n], c2 = new float[m * n];
            Gemm.matmul(a, b, c1, 0, n, false);
            ScalarGemm.matmul(a, b, c2, 0, n, false);
            for (int i = 0; i < c1.length; i++)
                assertThat(c1[i]).as("%s element %d", backward ? "backward" : "forward", i).isCloseTo(c2[i], org.assertj.core.data.Offset.offset(1e-6f * k));
        }
        int rows = Math.min(m, 5);
        Mat a = Mat.of(random(rows * in, 6), 0, rows, in);
        float[] c1 = random(rows * out, 7), c2 = c1.clone(), c3 = c1.clone();
        QuantGemv.multiply(a, q, c1, 0, out, true, new QuantGemv.Reads(1, 1));
        ScalarGemm.matmul(a, wq.t(), c2, 0, out, true);
        QuantGemv.multiply(a, q, c3, 0, out, true, new QuantGemv.Reads(4, 8));
        for (int i = 0; i < c1.length; i++) {
            assertThat(c1[i]).as("decode element %d", i).isCloseTo(c2[i], org.assertj.core.data.Offset.offset(1e-6f * in));
            assertThat(Float.floatToRawIntBits(c3[i])).as("decode element %d, four ranges a thread and eight streams against one of each", i).isEqualTo(Float.floatToRawIntBits(c1[i]));
        }
    }

    /**
     * A quantized decode step gives each row of A the bits it gets alone (the fused one-row path) whatever
     * the number of rows: 17 rows go through the two-by-three register tiles and their leftovers, over an
     * odd number of weight rows (the last one alone) and a k with a leftover vector and scalar tail.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.EnumSource(value = dev.lora4j.quant.QuantType.class, names = {"INT8", "NF4", "Q8_0", "Q4_0"})
    void quantizedDecodeGivesEachRowItsBitsAloneWhateverTheRowCount(dev.lora4j.quant.QuantType type) {
        int in = switch (type) {
            case INT8 -> 3 * 64 + 16 + 5; // runs of four vectors, one more vector, a scalar tail
            case NF4 -> 5 * 64;
            default -> 4 * 64 + 32;       // a vector more than the runs of four
        }, out = 37, m = 17;
        float[] w = random(out * in, 24);
        var q = dev.lora4j.quant.QuantizedMatrix.quantize(type, out, in, (r, dst) -> System.arraycopy(w, r * in, dst, 0, in));
        float[] a = random(m * in, 25), all = new float[m * out], one = new float[out];
        QuantGemv.multiply(Mat.of(a, 0, m, in), q, all, 0, out, false);
        for (int i = 0; i < m; i++) {
            QuantGemv.multiply(Mat.of(a, i * in, 1, in), q, one, 0, out, false);
            assertThat(java.util.Arrays.copyOfRange(all, i * out, i * out + out)).as("row %d", i).containsExactly(one);
        }
    }

    static Stream<Arguments> quantizedShapes() {
        List<Arguments> out = new ArrayList<>();
        for (var t : List.of(dev.lora4j.quant.QuantType.INT8, dev.lora4j.quant.QuantType.NF4, dev.lora4j.quant.QuantType.Q8_0, dev.lora4j.quant.QuantType.Q4_0)) {
            out.add(Arguments.of(t, 30, 64, 70));
            out.add(Arguments.of(t, 13, 896, 3100));
        }
        out.add(Arguments.of(dev.lora4j.quant.QuantType.INT8, 13, 50, 9));
        return out.stream();
    }

    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextDouble(-1, 1);
        return a;
    }

    static Mat view(float[] data, int rows, int cols, boolean transposed) {
        return transposed ? Mat.of(data, 0, cols, rows).t() : Mat.of(data, 0, rows, cols);
    }

    @ParameterizedTest(name = "{0}x{1}x{2} {3}")
    @MethodSource("shapes")
    void simdMatchesScalar(int m, int k, int n, String layout) {
        Mat a = view(random(m * k, 1), m, k, layout.charAt(0) == 'T');
        Mat b = view(random(k * n, 2), k, n, layout.charAt(1) == 'T');
        int ldc = n + 3;
        for (boolean acc : new boolean[] {false, true}) {
            float[] c1 = random(m * ldc + 2, 3), c2 = c1.clone();
            Gemm.matmul(a, b, c1, 2, ldc, acc);
            ScalarGemm.matmul(a, b, c2, 2, ldc, acc);
            float tol = 1e-6f * k + 1e-6f;
            for (int i = 0; i < c1.length; i++)
                assertThat(c1[i]).as("element %d (acc=%s)", i, acc).isCloseTo(c2[i], org.assertj.core.data.Offset.offset(tol));
        }
    }

    @Test
    void scalarIsTheDefinition() {
        float[] a = {1, 2, 3, 4, 5, 6}; // (2,3)
        float[] b = {1, 0, 0, 1, 1, 1}; // (3,2)
        float[] c = new float[4];
        ScalarGemm.matmul(Mat.of(a, 0, 2, 3), Mat.of(b, 0, 3, 2), c, 0, 2, false);
        assertThat(c).containsExactly(4, 5, 10, 11);
        Gemm.matmul(Mat.of(a, 0, 2, 3), Mat.of(b, 0, 3, 2), c, 0, 2, true);
        assertThat(c).containsExactly(8, 10, 20, 22);
    }

    @Test
    void readsMemorySegments() {
        int m = 33, k = 70, n = 51;
        float[] a = random(m * k, 4), b = random(n * k, 5);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = arena.allocate(4L * b.length + 4);
            MemorySegment.copy(b, 0, seg, Mat.F32, 4, b.length); // unaligned, 4 bytes in
            float[] c1 = new float[m * n], c2 = new float[m * n];
            Gemm.matmul(Mat.of(a, 0, m, k), new Mat(null, seg, 1, n, k, k, 1).t(), c1, 0, n, false);
            ScalarGemm.matmul(Mat.of(a, 0, m, k), Mat.of(b, 0, n, k).t(), c2, 0, n, false);
            for (int i = 0; i < c1.length; i++) assertThat(c1[i]).isCloseTo(c2[i], org.assertj.core.data.Offset.offset(1e-4f));
        }
    }

    static Stream<Arguments> segmentShapes() {
        List<Arguments> out = new ArrayList<>();
        for (int m : new int[] {1, 2, 4, 9}) // up to 4 rows streams B (Gemv); 9 packs it
            for (int[] kn : new int[][] {{1, 7}, {13, 65}, {63, 1}, {207, 13}, {65, 207}, {4097, 7}, {7, 4097}})
                for (String dtype : List.of("F32", "BF16"))
                    for (boolean t : new boolean[] {false, true}) out.add(Arguments.of(m, kn[0], kn[1], dtype, t));
        return out.stream();
    }

    /**
     * B in a memory segment (a mapped weight), fp32 or bf16 kept as stored, in both orientations
     * (Conv1D row-major, nn.Linear transposed), one element into the segment so nothing is aligned:
     * the streaming path for a few rows and the packing path both equal the scalar twin.
     */
    @ParameterizedTest(name = "{0}x{1}x{2} {3} transposed={4}")
    @MethodSource("segmentShapes")
    void segmentOperandsMatchScalar(int m, int k, int n, String dtype, boolean transposed) {
        dev.lora4j.tensor.DType dt = dev.lora4j.tensor.DType.valueOf(dtype);
        float[] a = random(m * k, 11), b = random(k * n, 12);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = arena.allocate((long) dt.bytes * (b.length + 1));
            for (int i = 0; i < b.length; i++) {
                long at = (long) dt.bytes * (i + 1);
                if (dt == dev.lora4j.tensor.DType.F32) seg.set(Mat.F32, at, b[i]);
                else seg.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, at, (short) dt.fromFloat(b[i]));
            }
            Mat bm = transposed ? Mat.of(seg, 1, n, k, dt).t() : Mat.of(seg, 1, k, n, dt);
            int ldc = n + 1;
            for (boolean acc : new boolean[] {false, true}) {
                float[] c1 = random(m * ldc, 13), c2 = c1.clone();
                Gemm.matmul(Mat.of(a, 0, m, k), bm, c1, 0, ldc, acc);
                ScalarGemm.matmul(Mat.of(a, 0, m, k), bm, c2, 0, ldc, acc);
                float tol = 1e-6f * k + 1e-6f;
                for (int i = 0; i < c1.length; i++)
                    assertThat(c1[i]).as("element %d (acc=%s)", i, acc).isCloseTo(c2[i], org.assertj.core.data.Offset.offset(tol));
            }
            if (m <= Gemm.SMALL_M) heapPanelsMatchScalar(Mat.of(a, 0, m, k), bm);
        }
    }

    /**
     * The decoding copy ({@link WeightPanels}) of B holds exactly B's values, in B's dtype, and the
     * kernel over it equals the scalar twin and the plain product.
     */
    private static void heapPanelsMatchScalar(Mat a, Mat b) {
        WeightPanels panels = WeightPanels.copyOf(b);
        assertThat(panels.bf16() != null).isEqualTo(b.bf16());
        for (int p = 0; p < b.rows(); p++)
            for (int j = 0; j < b.cols(); j++) assertThat(panels.get(j, p)).isEqualTo(b.get(p, j));
        int m = a.rows(), n = b.cols(), ldc = n + 2;
        for (boolean acc : new boolean[] {false, true}) {
            float[] c1 = random(m * ldc, 14), c2 = c1.clone(), c3 = c1.clone();
            PanelGemv.multiply(a, panels, c1, 1, ldc, acc);
            ScalarGemm.matmul(a, panels, c2, 1, ldc, acc);
            ScalarGemm.matmul(a, b, c3, 1, ldc, acc);
            float tol = 1e-6f * a.cols() + 1e-6f;
            assertThat(c1).as("acc=%s", acc).containsExactly(c2); // the twin sums in the kernel's order
            for (int i = 0; i < c1.length; i++) {
                assertThat(c2[i]).as("element %d (acc=%s)", i, acc).isCloseTo(c3[i], org.assertj.core.data.Offset.offset(tol));
            }
        }
    }

    static Stream<Arguments> decodeShapes() {
        List<Arguments> out = new ArrayList<>();
        for (int m : new int[] {1, 3, 4, 5, 16, 17, 32})
            for (int[] kn : new int[][] {{7, 3}, {95, 65}, {773, 130}, {16, 1}, {1037, 70}})
                for (String dtype : List.of("F32", "BF16")) out.add(Arguments.of(m, kn[0], kn[1], dtype));
        return out.stream();
    }

    /** The decode kernel over heap panels, for as many rows as a continuous batch holds, fp32 and bf16. */
    @ParameterizedTest(name = "{0}x{1}x{2} {3}")
    @MethodSource("decodeShapes")
    void heapPanelsMatchScalarForDecodeBatches(int m, int k, int n, String dtype) {
        float[] b = random(k * n, 22);
        Mat bm = Mat.of(b, 0, k, n);
        if (dtype.equals("BF16")) {
            short[] bits = new short[b.length];
            for (int i = 0; i < b.length; i++) bits[i] = (short) dev.lora4j.tensor.DType.BF16.fromFloat(b[i]);
            MemorySegment seg = MemorySegment.ofArray(bits);
            bm = Mat.of(seg, 0, k, n, dev.lora4j.tensor.DType.BF16);
        }
        heapPanelsMatchScalar(Mat.of(random(m * k, 23), 0, m, k), bm);
    }

    /**
     * A sequence's outputs must not depend on what else is in its decode batch: row i alone (the one-row tile) =
     * row i among 17 (eight-, four- and one-row tiles), at a short and a long k.
     */
    @ParameterizedTest(name = "{0} k={1}")
    @org.junit.jupiter.params.provider.CsvSource({"F32, 207", "BF16, 207", "F32, 1037", "BF16, 1037"})
    void heapPanelsGiveEachOutputTheSameSumWhateverTheRowCount(String dtype, int k) {
        int n = 67, m = 17;
        float[] b = random(k * n, 15);
        Mat bm = Mat.of(b, 0, k, n);
        if (dtype.equals("BF16")) {
            short[] bits = new short[b.length];
            for (int i = 0; i < b.length; i++) bits[i] = (short) dev.lora4j.tensor.DType.BF16.fromFloat(b[i]);
            bm = Mat.of(MemorySegment.ofArray(bits), 0, k, n, dev.lora4j.tensor.DType.BF16);
        }
        WeightPanels panels = WeightPanels.copyOf(bm);
        float[] a = random(m * k, 16), all = new float[m * n], one = new float[n];
        PanelGemv.multiply(Mat.of(a, 0, m, k), panels, all, 0, n, false);
        for (int i = 0; i < m; i++) {
            PanelGemv.multiply(Mat.of(a, i * k, 1, k), panels, one, 0, n, false);
            assertThat(java.util.Arrays.copyOfRange(all, i * n, i * n + n)).as("row %d", i).containsExactly(one);
        }
    }

    /**
     * Each output is the order PanelGemv documents, written out in scalars: one fused multiply-add chain
     * over the inputs in order, from 0, bit for bit, whatever the output's place in its panel.
     */
    @Test
    void heapPanelsSumInTheDocumentedOrder() {
        int k = 3 * 64 + 5, n = 83, m = 7;
        float[] b = random(k * n, 21), a = random(m * k, 22), c = new float[m * n];
        WeightPanels panels = WeightPanels.copyOf(Mat.of(b, 0, k, n));
        PanelGemv.multiply(Mat.of(a, 0, m, k), panels, c, 0, n, false);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float sum = 0f;
                for (int p = 0; p < k; p++) sum = Math.fma(b[p * n + j], a[i * k + p], sum);
                assertThat(Float.floatToRawIntBits(c[i * n + j])).as("row %d, output %d", i, j).isEqualTo(Float.floatToRawIntBits(sum));
            }
    }

    /** Panels are shared out among the threads in ranges; how they are shared must not change any output. */
    @Test
    void heapPanelsGiveTheSameBitsWhateverTheThreadCount() {
        int k = 95, n = 601; // a last panel part padding, and ranges of unequal sizes
        WeightPanels panels = WeightPanels.copyOf(Mat.of(random(k * n, 17), 0, k, n));
        float[] a = random(9 * k, 18), two = new float[9 * n], one = new float[9 * n];
        int threads = dev.lora4j.tensor.Parallel.threads();
        try {
            dev.lora4j.tensor.Parallel.setThreads(2);
            PanelGemv.multiply(Mat.of(a, 0, 9, k), panels, two, 0, n, false);
            dev.lora4j.tensor.Parallel.setThreads(1);
            PanelGemv.multiply(Mat.of(a, 0, 9, k), panels, one, 0, n, false);
        } finally {
            dev.lora4j.tensor.Parallel.setThreads(threads);
        }
        assertThat(two).containsExactly(one);
    }

    /**
     * A narrow product (a LoRA rank's worth of columns) is computed as its transpose; each output must
     * still be the very same sum as in a wide product whose first columns are the narrow one's.
     */
    @ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"NN", "NT", "TN", "TT"})
    void narrowProductsGiveTheSameBitsAsColumnsOfAWideOne(String layout) {
        int m = 300, k = 800, narrow = 8, wide = 3 * Gemm.NR;
        Mat a = view(random(m * k, 19), m, k, layout.charAt(0) == 'T');
        float[] bw = random(k * wide, 20), bn = new float[k * narrow];
        boolean bt = layout.charAt(1) == 'T';
        for (int p = 0; p < k; p++)
            for (int j = 0; j < narrow; j++) bn[bt ? j * k + p : p * narrow + j] = bw[bt ? j * k + p : p * wide + j];
        Mat bWide = view(bw, k, wide, bt), bNarrow = view(bn, k, narrow, bt);
        for (boolean acc : new boolean[] {false, true}) {
            float[] cw = random(m * wide, 21), cn = new float[m * narrow];
            for (int i = 0; i < m; i++) System.arraycopy(cw, i * wide, cn, i * narrow, narrow);
            Gemm.matmul(a, bWide, cw, 0, wide, acc);
            Gemm.matmul(a, bNarrow, cn, 0, narrow, acc);
            for (int i = 0; i < m; i++)
                assertThat(java.util.Arrays.copyOfRange(cn, i * narrow, i * narrow + narrow))
                        .as("row %d (acc=%s)", i, acc).containsExactly(java.util.Arrays.copyOfRange(cw, i * wide, i * wide + narrow));
        }
    }

    @Test
    void bf16IsWidenedExactly() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment seg = arena.allocate(8);
            seg.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) 0x3fc0); // 1.5
            seg.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 2, (short) 0xc020); // -2.5
            Mat w = Mat.of(seg, 0, 2, 1, dev.lora4j.tensor.DType.BF16);
            float[] c = new float[1];
            Gemm.matmul(Mat.of(new float[] {2f, 4f}, 0, 1, 2), w, c, 0, 1, false);
            assertThat(c[0]).isEqualTo(2f * 1.5f + 4f * -2.5f);
            assertThat(w.get(1, 0)).isEqualTo(-2.5f);
        }
    }
}
