package dev.lora4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A 2-D fp32 matrix view: element (i, j) lives at float index {@code offset + i·rowStride + j·colStride}
 * of either a heap array or a memory segment (e.g. a memory-mapped safetensors file).
 * Exactly one of {@code array} and {@code segment} is non-null. Transposing is free ({@link #t()}),
 * which is how matmul gets every layout forward and backward need from one kernel.
 */
public record Mat(float[] array, MemorySegment segment, long offset, int rows, int cols, int rowStride, int colStride) {

    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

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

    public Mat t() {
        return new Mat(array, segment, offset, cols, rows, colStride, rowStride);
    }

    public float get(int i, int j) {
        long idx = offset + (long) i * rowStride + (long) j * colStride;
        return array != null ? array[(int) idx] : segment.getAtIndex(F32, idx);
    }

    /** Copies {@code n} consecutive elements of row i starting at column j (colStride must be 1). */
    public void copyRow(int i, int j, float[] dst, int dstOff, int n) {
        long idx = offset + (long) i * rowStride + j;
        if (array != null) System.arraycopy(array, (int) idx, dst, dstOff, n);
        else MemorySegment.copy(segment, F32, idx * 4, dst, dstOff, n);
    }
}
