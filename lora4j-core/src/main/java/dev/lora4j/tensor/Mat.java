package dev.lora4j.tensor;

import dev.lora4j.quant.QuantizedMatrix;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A 2-D matrix view: element (i, j) lives at element index {@code offset + i·rowStride + j·colStride}
 * of either a heap float array or a memory segment (e.g. a memory-mapped safetensors file).
 * Exactly one of {@code array} and {@code segment} is non-null. Transposing is free ({@link #t()}),
 * which is how matmul gets every layout forward and backward need from one kernel.
 *
 * <p>Elements are fp32, or bf16 in a segment (a bf16 checkpoint's weights, kept as stored: half the
 * memory and half the bytes a decode step reads). Reads widen bf16 to fp32 exactly, so results do
 * not depend on which of the two a weight is kept in.
 *
 * <p>A frozen weight may instead be a {@link QuantizedMatrix} ({@code quant}; element index
 * {@code r·cols + c} of its rows): reads dequantize it, and the kernels dequantize the spans they pack.
 */
public record Mat(float[] array, MemorySegment segment, long offset, int rows, int cols, int rowStride, int colStride, DType dtype,
                  QuantizedMatrix quant) {

    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public Mat {
        if (dtype != DType.F32 && (dtype != DType.BF16 || segment == null))
            throw new IllegalArgumentException("a matrix holds fp32, or bf16 in a segment; not " + dtype + (segment == null ? " in an array" : ""));
        if ((array != null ? 1 : 0) + (segment != null ? 1 : 0) + (quant != null ? 1 : 0) != 1)
            throw new IllegalArgumentException("a matrix views exactly one of an array, a segment and a quantized weight");
    }

    /** A matrix of the given dtype over an array or a segment. */
    public Mat(float[] array, MemorySegment segment, long offset, int rows, int cols, int rowStride, int colStride, DType dtype) {
        this(array, segment, offset, rows, cols, rowStride, colStride, dtype, null);
    }

    /** An fp32 matrix. */
    public Mat(float[] array, MemorySegment segment, long offset, int rows, int cols, int rowStride, int colStride) {
        this(array, segment, offset, rows, cols, rowStride, colStride, DType.F32);
    }

    /** Row-major (rows, cols) matrix at {@code offset} of {@code a}. */
    public static Mat of(float[] a, int offset, int rows, int cols) {
        return new Mat(a, null, offset, rows, cols, cols, 1);
    }

    /** Row-major (rows, cols) matrix with row stride {@code ld} (a column slice of a wider matrix). */
    public static Mat of(float[] a, int offset, int rows, int cols, int ld) {
        return new Mat(a, null, offset, rows, cols, ld, 1);
    }

    public static Mat of(MemorySegment s, long offset, int rows, int cols) {
        return new Mat(null, s, offset, rows, cols, cols, 1);
    }

    /** A row-major (rows, cols) matrix of the given dtype at element {@code offset} of a segment. */
    public static Mat of(MemorySegment s, long offset, int rows, int cols, DType dtype) {
        return new Mat(null, s, offset, rows, cols, cols, 1, dtype);
    }

    /** A quantized weight as its (rows, cols) matrix. */
    public static Mat of(QuantizedMatrix q) {
        return new Mat(null, null, 0, q.rows(), q.cols(), q.cols(), 1, DType.F32, q);
    }

    /** Rows [from, from + count) of this matrix, a view. */
    public Mat rows(int from, int count) {
        return new Mat(array, segment, offset + (long) from * rowStride, count, cols, rowStride, colStride, dtype, quant);
    }

    public Mat t() {
        return new Mat(array, segment, offset, cols, rows, colStride, rowStride, dtype, quant);
    }

    public boolean bf16() {
        return dtype == DType.BF16;
    }

    public float get(int i, int j) {
        return at(offset + (long) i * rowStride + (long) j * colStride);
    }

    /** The element at element index idx of the storage. */
    public float at(long idx) {
        if (array != null) return array[(int) idx];
        if (quant != null) return quant.get((int) (idx / quant.cols()), (int) (idx % quant.cols()));
        return bf16() ? DType.bf16At(segment, idx) : segment.getAtIndex(F32, idx);
    }

    /** Copies {@code n} consecutive elements of row i starting at column j (colStride must be 1). */
    public void copyRow(int i, int j, float[] dst, int dstOff, int n) {
        long idx = offset + (long) i * rowStride + j;
        if (array != null) System.arraycopy(array, (int) idx, dst, dstOff, n);
        else if (quant != null) quant.dequantize((int) (idx / quant.cols()), (int) (idx % quant.cols()), dst, dstOff, n, false);
        else if (bf16()) for (int q = 0; q < n; q++) dst[dstOff + q] = DType.bf16At(segment, idx + q);
        else MemorySegment.copy(segment, F32, idx * 4, dst, dstOff, n);
    }
}
