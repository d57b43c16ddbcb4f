package dev.lora4j.quant;

import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * int8 with one absmax scale per output row: s = max|w|/127, q = roundf(w · (1/s)), w = q · s
 * (LLM.int8()'s vector-wise quantization, without its outlier split). One byte a weight.
 */
public final class Int8Matrix extends QuantizedMatrix {
    private final MemorySegment values; // (rows, cols) int8
    private final byte[] array;         // values' heap array, read by the decode kernel (faster than through the segment)
    private final float[] scales;       // (rows)

    Int8Matrix(int rows, int cols, MemorySegment values, float[] scales) {
        super(rows, cols, QuantType.INT8);
        if (values.byteSize() != (long) rows * cols || scales.length != rows) throw new IllegalArgumentException("int8: storage does not hold " + rows + "x" + cols);
        this.values = values;
        this.scales = scales;
        this.array = values.heapBase().orElse(null) instanceof byte[] a && values.address() == 0 && a.length == values.byteSize() ? a : null;
    }

    static Int8Matrix quantizeRows(int rows, int cols, RowSource w) {
        byte[] q = new byte[Math.multiplyExact(rows, cols)];
        float[] scales = new float[rows], row = new float[cols];
        for (int r = 0; r < rows; r++) {
            w.row(r, row);
            float amax = 0;
            for (float v : row) amax = Math.max(amax, Math.abs(v));
            float d = amax / 127f, inv = d != 0 ? 1f / d : 0f;
            scales[r] = d;
            for (int c = 0; c < cols; c++) q[r * cols + c] = (byte) Math.clamp(roundAway(row[c] * inv), -127, 127);
        }
        return new Int8Matrix(rows, cols, MemorySegment.ofArray(q), scales);
    }

    @Override
    public QuantType type() {
        return QuantType.INT8;
    }

    @Override
    public long byteSize() {
        return values.byteSize() + 4L * scales.length;
    }

    float scale(int r) {
        return scales[r];
    }

    MemorySegment values() {
        return values;
    }

    @Override
    void decode(int r, int c, int n, float[] dst, int off, boolean simd) {
        float s = scales[r];
        long base = (long) r * cols() + c;
        int i = 0;
        if (simd) for (; i + QuantVectors.L <= n; i += QuantVectors.L) QuantVectors.bytes(values, base + i).mul(s).intoArray(dst, off + i);
        for (; i < n; i++) dst[off + i] = values.get(ValueLayout.JAVA_BYTE, base + i) * s;
    }

    /** {@link QuantizedMatrix#dot} straight from the bytes: each vector widened, scaled and multiplied as the row buffer would be. */
    @Override
    public float dot(int r, float[] x, int xOff, float[] row, float[] lanes) {
        if (!QuantVectors.AVAILABLE || array == null) return super.dot(r, x, xOff, row, lanes);
        int k = cols(), l = QuantVectors.L;
        float s = scales[r];
        int base = r * k;
        byte[] values = array;
        var s0 = FloatVector.zero(QuantVectors.S);
        var s1 = s0;
        var s2 = s0;
        var s3 = s0;
        int p = 0;
        for (; p + 4 * l <= k; p += 4 * l) {
            s0 = QuantVectors.bytes(values, base + p).mul(s).fma(FloatVector.fromArray(QuantVectors.S, x, xOff + p), s0);
            s1 = QuantVectors.bytes(values, base + p + l).mul(s).fma(FloatVector.fromArray(QuantVectors.S, x, xOff + p + l), s1);
            s2 = QuantVectors.bytes(values, base + p + 2 * l).mul(s).fma(FloatVector.fromArray(QuantVectors.S, x, xOff + p + 2 * l), s2);
            s3 = QuantVectors.bytes(values, base + p + 3 * l).mul(s).fma(FloatVector.fromArray(QuantVectors.S, x, xOff + p + 3 * l), s3);
        }
        for (; p + l <= k; p += l) s0 = QuantVectors.bytes(values, base + p).mul(s).fma(FloatVector.fromArray(QuantVectors.S, x, xOff + p), s0);
        float sum = QuantVectors.finish(s0, s1, s2, s3, lanes);
        for (; p < k; p++) sum += values[base + p] * s * x[xOff + p];
        return sum;
    }

    @Override
    float element(int r, int c) {
        return values.get(ValueLayout.JAVA_BYTE, (long) r * cols() + c) * scales[r];
    }
}
