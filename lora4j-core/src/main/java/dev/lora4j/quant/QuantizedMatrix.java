package dev.lora4j.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A frozen weight (rows = outputs, cols = inputs) held quantized, row-major, each row split into blocks
 * along the inputs. It is never widened whole: kernels dequantize the spans they are about to use
 * (a panel as the matmul packs it, a row as the decode step streams it), so the model's full-precision
 * copy never exists. Immutable and safe to share between threads.
 *
 * <p>Every format has two decoders, the Vector API one and its scalar twin; both compute each value by
 * the format's definition with the same float32 operations in the same order, so they agree bit for bit.
 * Callers choose (the kernels pass {@code Kernels.SIMD}); the vector classes load only when asked for.
 */
public abstract sealed class QuantizedMatrix permits Int8Matrix, Nf4Matrix, GgmlMatrix {
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int rows, cols;

    QuantizedMatrix(int rows, int cols, QuantType type) {
        if (rows <= 0 || !type.fits(cols))
            throw new IllegalArgumentException(type.label + " needs rows of whole " + type.blockSize + "-element blocks, not " + rows + "x" + cols);
        this.rows = rows;
        this.cols = cols;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public abstract QuantType type();

    /** Bytes the quantized weight occupies (values, scales and everything else it needs). */
    public abstract long byteSize();

    /**
     * Quantizes a weight given as a (rows = outputs, cols = inputs) reader into {@code type} (int8, NF4,
     * Q8_0 or Q4_0: the formats lora4j writes).
     */
    public static QuantizedMatrix quantize(QuantType type, int rows, int cols, RowSource w) {
        return switch (type) {
            case INT8 -> Int8Matrix.quantizeRows(rows, cols, w);
            case NF4 -> Nf4Matrix.quantizeBlocks(rows, cols, w);
            case Q8_0, Q4_0 -> GgmlMatrix.quantizeBlocks(type, rows, cols, w);
            default -> throw new IllegalArgumentException("lora4j reads " + type.label + " but does not write it");
        };
    }

    /** Rows of a weight to quantize: fills {@code dst[0:cols]} with row r. */
    @FunctionalInterface
    public interface RowSource {
        void row(int r, float[] dst);
    }

    /** Element (r, c) as fp32. */
    public float get(int r, int c) {
        return element(r, c);
    }

    /**
     * Row r's elements [c, c + n) as fp32 into dst[off:], vectorized when {@code simd}. Spans of whole
     * blocks decode block by block; any other span element by element.
     */
    public final void dequantize(int r, int c, float[] dst, int off, int n, boolean simd) {
        int bs = type().blockSize;
        if (r < 0 || r >= rows || c < 0 || n < 0 || c + n > cols) throw new IndexOutOfBoundsException("row " + r + " [" + c + ", " + (c + n) + ") of " + rows + "x" + cols);
        if (c % bs == 0 && n % bs == 0) decode(r, c / bs, n / bs, dst, off, simd && QuantVectors.AVAILABLE);
        else for (int i = 0; i < n; i++) dst[off + i] = element(r, c + i);
    }

    /**
     * Σ_p W[r, p]·x[xOff + p], vectorized: row r dequantized into {@code row} (at least cols long), then
     * {@link QuantVectors#dot}. Formats that compute it straight from their bytes (no round trip through
     * {@code row}) do the same operations in the same order, so the bits are the same either way.
     * {@code lanes} holds a vector's lanes. The decode kernels' inner loop; SIMD only.
     */
    public float dot(int r, float[] x, int xOff, float[] row, float[] lanes) {
        dequantize(r, 0, row, 0, cols, true);
        return QuantVectors.dot(row, 0, x, xOff, cols, lanes);
    }

    /** {@link QuantVectors#dot} of a dequantized row: what {@link #dot} computes, from a row decoded once for many x. */
    public static float dotRow(float[] row, float[] x, int xOff, int k, float[] lanes) {
        return QuantVectors.dot(row, 0, x, xOff, k, lanes);
    }

    /** {@link #dotRow(float[], float[], int, int, float[])} of a row at row[rowOff:]. */
    public static float dotRow(float[] row, int rowOff, float[] x, int xOff, int k, float[] lanes) {
        return QuantVectors.dot(row, rowOff, x, xOff, k, lanes);
    }

    /** Blocks [block0, block0 + blocks) of row r into dst[off:]. */
    abstract void decode(int r, int block0, int blocks, float[] dst, int off, boolean simd);

    /** Element (r, c) by the format's definition. */
    abstract float element(int r, int c);

    static float half(MemorySegment s, long at) {
        return Float.float16ToFloat(s.get(U16, at));
    }

    /** C's roundf: half away from zero. */
    static float roundAway(float x) {
        return (float) Math.copySign(Math.floor(Math.abs((double) x) + 0.5), x); // exact in double
    }
}
