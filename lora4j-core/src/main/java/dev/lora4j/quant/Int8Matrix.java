package dev.lora4j.quant;

import java.lang.foreign.MemorySegment;

/**
 * int8 with one absmax scale per output row: s = max|w|/127, q = roundf(w · (1/s)), w = q · s
 * (LLM.int8()'s vector-wise quantization, without its outlier split). One byte a weight.
 */
public final class Int8Matrix extends QuantizedMatrix {
    private final MemorySegment values; // (rows, cols) int8
    private final float[] scales;       // (rows)

    Int8Matrix(int rows, int cols, MemorySegment values, float[] scales) {
        super(rows, cols, QuantType.INT8);
        if (values.byteSize() != (long) rows * cols || scales.length != rows) throw new IllegalArgumentException("int8: storage does not hold " + rows + "x" + cols);
        this.values = values;
        this.scales = scales;
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
        for (; i < n; i++) dst[off + i] = values.get(java.lang.foreign.ValueLayout.JAVA_BYTE, base + i) * s;
    }

    @Override
    float element(int r, int c) {
        return values.get(java.lang.foreign.ValueLayout.JAVA_BYTE, (long) r * cols() + c) * scales[r];
    }
}
