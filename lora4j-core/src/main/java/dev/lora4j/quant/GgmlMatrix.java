package dev.lora4j.quant;

import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * GGML's block formats as ggml-quants.c lays them out, over a segment that is a GGUF file's mapped
 * tensor data (read in place) or a heap array: Q8_0, Q4_0, Q4_K, Q5_K and Q6_K. Block b of row r starts at
 * byte (r · blocksPerRow + b) · blockBytes. Values are computed as llama.cpp's reference dequantizers
 * write them, one float32 operation at a time.
 */
public final class GgmlMatrix extends QuantizedMatrix {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final QuantType type;
    private final MemorySegment data;
    private final int blocksPerRow;

    public GgmlMatrix(QuantType type, int rows, int cols, MemorySegment data) {
        super(rows, cols, type);
        if (type != QuantType.Q8_0 && type != QuantType.Q4_0 && type != QuantType.Q4_K && type != QuantType.Q5_K && type != QuantType.Q6_K)
            throw new IllegalArgumentException(type.label + " is not a GGML block format");
        this.type = type;
        this.blocksPerRow = cols / type.blockSize;
        if (data.byteSize() != (long) rows * blocksPerRow * type.blockBytes)
            throw new IllegalArgumentException(type.label + ": " + data.byteSize() + " bytes for " + rows + "x" + cols + ", expected " + (long) rows * blocksPerRow * type.blockBytes);
        this.data = data;
    }

    /** Q8_0 and Q4_0 as ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref compute them. */
    static GgmlMatrix quantizeBlocks(QuantType type, int rows, int cols, RowSource w) {
        int per = cols / type.blockSize;
        byte[] out = new byte[Math.toIntExact((long) rows * per * type.blockBytes)];
        MemorySegment seg = MemorySegment.ofArray(out);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            w.row(r, row);
            for (int b = 0; b < per; b++) {
                long o = ((long) r * per + b) * type.blockBytes;
                int c0 = b * 32;
                if (type == QuantType.Q8_0) {
                    float amax = 0;
                    for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(row[c0 + j]));
                    float d = amax / 127f, inv = d != 0 ? 1f / d : 0f;
                    seg.set(U16, o, Float.floatToFloat16(d));
                    for (int j = 0; j < 32; j++) out[(int) o + 2 + j] = (byte) roundAway(row[c0 + j] * inv);
                } else {
                    float amax = 0, max = 0;
                    for (int j = 0; j < 32; j++) {
                        float v = row[c0 + j];
                        if (amax < Math.abs(v)) {
                            amax = Math.abs(v);
                            max = v;
                        }
                    }
                    float d = max / -8f, inv = d != 0 ? 1f / d : 0f;
                    seg.set(U16, o, Float.floatToFloat16(d));
                    for (int j = 0; j < 16; j++) {
                        int lo = Math.min(15, (int) (row[c0 + j] * inv + 8.5f)), hi = Math.min(15, (int) (row[c0 + 16 + j] * inv + 8.5f));
                        out[(int) o + 2 + j] = (byte) (lo | hi << 4);
                    }
                }
            }
        }
        return new GgmlMatrix(type, rows, cols, seg);
    }

    @Override
    public QuantType type() {
        return type;
    }

    @Override
    public long byteSize() {
        return data.byteSize();
    }

    /** The blocks, as a GGUF file stores them. */
    public MemorySegment data() {
        return data;
    }

    private long block(int r, int b) {
        return ((long) r * blocksPerRow + b) * type.blockBytes;
    }

    @Override
    void decode(int r, int block0, int blocks, float[] dst, int off, boolean simd) {
        int bs = type.blockSize;
        for (int b = 0; b < blocks; b++) {
            long o = block(r, block0 + b);
            int at = off + b * bs;
            switch (type) {
                case Q8_0 -> q8_0(o, dst, at, simd);
                case Q4_0 -> q4_0(o, dst, at, simd);
                case Q4_K -> q4_k(o, dst, at, simd);
                case Q5_K -> q5_k(o, dst, at, simd);
                case Q6_K -> q6_k(o, dst, at, simd);
                default -> throw new AssertionError(type);
            }
        }
    }

    private void q8_0(long o, float[] dst, int at, boolean simd) {
        float d = half(data, o);
        int j = 0;
        if (simd) for (; j < 32; j += QuantVectors.L) QuantVectors.bytes(data, o + 2 + j).mul(d).intoArray(dst, at + j);
        for (; j < 32; j++) dst[at + j] = data.get(ValueLayout.JAVA_BYTE, o + 2 + j) * d;
    }

    private void q4_0(long o, float[] dst, int at, boolean simd) {
        float d = half(data, o);
        int j = 0;
        if (simd) {
            for (; j < 16; j += QuantVectors.L) {
                QuantVectors.nibbles(data, o + 2 + j, false).sub(8f).mul(d).intoArray(dst, at + j);
                QuantVectors.nibbles(data, o + 2 + j, true).sub(8f).mul(d).intoArray(dst, at + 16 + j);
            }
        }
        for (; j < 16; j++) {
            int q = data.get(ValueLayout.JAVA_BYTE, o + 2 + j) & 0xff;
            dst[at + j] = ((q & 0x0f) - 8) * d;
            dst[at + 16 + j] = ((q >>> 4) - 8) * d;
        }
    }

    /** ggml's get_scale_min_k4: sub-block j's 6-bit scale (which = 0) or minimum (which = 1). */
    private int scaleMin(long scales, int j, int which) {
        int qj = data.get(ValueLayout.JAVA_BYTE, scales + j) & 0xff, qj4 = data.get(ValueLayout.JAVA_BYTE, scales + j + 4) & 0xff;
        if (j < 4) return which == 0 ? qj & 63 : qj4 & 63;
        int qjm4 = data.get(ValueLayout.JAVA_BYTE, scales + j - 4) & 0xff;
        return which == 0 ? (qj4 & 0x0f) | ((qjm4 >>> 6) << 4) : (qj4 >>> 4) | ((qj >>> 6) << 4);
    }

    /**
     * Q4_K: sub-block pairs of 64, the low nibbles of 32 bytes then their high nibbles, each sub-block its scale and
     * minimum. The vector path reads the twelve scale bytes as a long and an int ({@link #kScales}, {@link #kMins}):
     * a memory-segment read per byte made the fused dot too large for C2 to keep its vector operations intrinsic.
     */
    private void q4_k(long o, float[] dst, int at, boolean simd) {
        if (!simd) {
            q4kScalar(o, dst, at);
            return;
        }
        int dd = data.get(I32, o);
        float d = Float.float16ToFloat((short) dd), dmin = Float.float16ToFloat((short) (dd >>> 16));
        long lo = data.get(I64, o + 4);
        int hi = data.get(I32, o + 12);
        long scales = kScales(lo, hi), mins = kMins(lo, hi);
        for (int j = 0; j < 4; j++, scales >>>= 16, mins >>>= 16) {
            float d1 = d * ((int) scales & 0xff), m1 = dmin * ((int) mins & 0xff);
            float d2 = d * ((int) (scales >>> 8) & 0xff), m2 = dmin * ((int) (mins >>> 8) & 0xff);
            long qs = o + 16 + 32L * j;
            for (int l = 0; l < 32; l += QuantVectors.L) {
                QuantVectors.nibbles(data, qs + l, false).mul(d1).sub(m1).intoArray(dst, at + 64 * j + l);
                QuantVectors.nibbles(data, qs + l, true).mul(d2).sub(m2).intoArray(dst, at + 64 * j + 32 + l);
            }
        }
    }

    private void q4kScalar(long o, float[] dst, int at) {
        float d = half(data, o), dmin = half(data, o + 2);
        long scales = o + 4, qs = o + 16;
        for (int j = 0; j < 4; j++) {
            float d1 = d * scaleMin(scales, 2 * j, 0), m1 = dmin * scaleMin(scales, 2 * j, 1);
            float d2 = d * scaleMin(scales, 2 * j + 1, 0), m2 = dmin * scaleMin(scales, 2 * j + 1, 1);
            for (int l = 0; l < 32; l++) {
                int q = data.get(ValueLayout.JAVA_BYTE, qs + 32L * j + l) & 0xff;
                dst[at + 64 * j + l] = d1 * (q & 0x0f) - m1;
                dst[at + 64 * j + 32 + l] = d2 * (q >>> 4) - m2;
            }
        }
    }

    /**
     * Q5_K: Q4_K's scales and nibbles (at byte 48), and each value's fifth bit in the 32 bytes at 16: bit s of byte
     * l for value l of sub-block s.
     */
    private void q5_k(long o, float[] dst, int at, boolean simd) {
        if (!simd) {
            for (int e = 0; e < 256; e++) dst[at + e] = q5kElement(o, e);
            return;
        }
        int dd = data.get(I32, o);
        float d = Float.float16ToFloat((short) dd), dmin = Float.float16ToFloat((short) (dd >>> 16));
        long lo = data.get(I64, o + 4);
        int hi = data.get(I32, o + 12);
        long scales = kScales(lo, hi), mins = kMins(lo, hi);
        for (int j = 0; j < 4; j++, scales >>>= 16, mins >>>= 16) {
            float d1 = d * ((int) scales & 0xff), m1 = dmin * ((int) mins & 0xff);
            float d2 = d * ((int) (scales >>> 8) & 0xff), m2 = dmin * ((int) (mins >>> 8) & 0xff);
            for (int l = 0; l < 32; l += QuantVectors.L) {
                long qs = o + 48 + 32L * j + l, qh = o + 16 + l;
                QuantVectors.fiveBits(data, qs, false, qh, 2 * j).mul(d1).sub(m1).intoArray(dst, at + 64 * j + l);
                QuantVectors.fiveBits(data, qs, true, qh, 2 * j + 1).mul(d2).sub(m2).intoArray(dst, at + 64 * j + 32 + l);
            }
        }
    }

    private float q5kElement(long o, int e) {
        int pair = e / 64, l = e % 32, sub = 2 * pair + (e % 64) / 32;
        float d = half(data, o) * scaleMin(o + 4, sub, 0), m = half(data, o + 2) * scaleMin(o + 4, sub, 1);
        int q = data.get(ValueLayout.JAVA_BYTE, o + 48 + 32L * pair + l) & 0xff;
        int high = data.get(ValueLayout.JAVA_BYTE, o + 16 + l) >>> sub & 1;
        return d * (((e % 64) < 32 ? q & 0x0f : q >>> 4) | high << 4) - m;
    }

    /** The eight 6-bit scales of a Q4_K block ({@link #scaleMin}(j, 0)), one a byte, from its scale bytes 0-7 (lo) and 8-11 (hi). */
    private static long kScales(long lo, int hi) {
        int upper = hi & 0x0f0f0f0f | ((int) (lo >>> 6) & 0x03030303) << 4;
        return lo & 0x3f3f3f3fL | (upper & 0xffffffffL) << 32;
    }

    /** The eight 6-bit minimums of a Q4_K block ({@link #scaleMin}(j, 1)), one a byte. */
    private static long kMins(long lo, int hi) {
        int upper = hi >>> 4 & 0x0f0f0f0f | ((int) (lo >>> 38) & 0x03030303) << 4;
        return lo >>> 32 & 0x3f3f3f3fL | (upper & 0xffffffffL) << 32;
    }

    /**
     * Q6_K: two halves of 128, each four quarters of 32; a value's low four bits are a nibble of ql, its high two
     * a bit pair of qh, and every 16 values share a signed 8-bit scale: d·scale·(q − 32).
     */
    private void q6_k(long o, float[] dst, int at, boolean simd) {
        if (!simd) {
            for (int e = 0; e < 256; e++) dst[at + e] = q6kElement(o, e);
            return;
        }
        float d = half(data, o + 208);
        for (int n = 0; n < 2; n++) {
            long scales = data.get(I64, o + 192 + 8 * n); // the half's eight signed scales, two a quarter
            for (int l = 0; l < 32; l += QuantVectors.L) {
                int sc = l / 16;
                QuantVectors.sixBitQuarters(data, o + 64L * n + l, o + 128 + 32L * n + l, dst, at + 128 * n + l,
                        d * (byte) (scales >>> 8 * sc), d * (byte) (scales >>> 8 * (2 + sc)), d * (byte) (scales >>> 8 * (4 + sc)), d * (byte) (scales >>> 8 * (6 + sc)));
            }
        }
    }

    private float q6kElement(long o, int e) {
        float d = half(data, o + 208);
        int n = e / 128, quarter = (e % 128) / 32, l = e % 32;
        int ql = data.get(ValueLayout.JAVA_BYTE, o + n * 64L + l + (quarter % 2) * 32) & 0xff;
        int qh = data.get(ValueLayout.JAVA_BYTE, o + 128 + n * 32L + l) & 0xff;
        int low = quarter < 2 ? ql & 0x0f : ql >>> 4;
        int q = (low | ((qh >>> (2 * quarter)) & 3) << 4) - 32;
        int sc = data.get(ValueLayout.JAVA_BYTE, o + 192 + e / 16);
        return d * sc * q;
    }

    /**
     * {@link QuantizedMatrix#dot} straight from the blocks, with 16-lane vectors, each vector dequantized as
     * {@link #decode} does. Q8_0 / Q4_0: a run of four vectors is two blocks; Q4_K: a sub-block pair. Q6_K goes
     * through the dequantized row: a fused loop grew too large for C2 to keep its vector operations intrinsic, and
     * ran slower (docs/performance-notes.md).
     */
    @Override
    public float dot(int r, float[] x, int xOff, float[] row, float[] lanes) {
        if (QuantVectors.L != 16) return super.dot(r, x, xOff, row, lanes);
        return switch (type) {
            case Q8_0, Q4_0 -> dotQ8Q4(r, x, xOff, lanes);
            case Q4_K -> dotQ4K(r, x, xOff, lanes);
            case Q5_K, Q6_K -> super.dot(r, x, xOff, row, lanes);
            default -> throw new AssertionError(type);
        };
    }

    private float dotQ8Q4(int r, float[] x, int xOff, float[] lanes) {
        var S = QuantVectors.S;
        var s0 = FloatVector.zero(S);
        var s1 = s0;
        var s2 = s0;
        var s3 = s0;
        boolean q8 = type == QuantType.Q8_0;
        int k = cols(), p = 0;
        long o = block(r, 0);
        for (; p + 64 <= k; p += 64, o += 2L * type.blockBytes) {
            long o2 = o + type.blockBytes;
            float d = half(data, o), d2 = half(data, o2);
            s0 = (q8 ? QuantVectors.bytes(data, o + 2) : QuantVectors.nibbles(data, o + 2, false).sub(8f)).mul(d).fma(FloatVector.fromArray(S, x, xOff + p), s0);
            s1 = (q8 ? QuantVectors.bytes(data, o + 18) : QuantVectors.nibbles(data, o + 2, true).sub(8f)).mul(d).fma(FloatVector.fromArray(S, x, xOff + p + 16), s1);
            s2 = (q8 ? QuantVectors.bytes(data, o2 + 2) : QuantVectors.nibbles(data, o2 + 2, false).sub(8f)).mul(d2).fma(FloatVector.fromArray(S, x, xOff + p + 32), s2);
            s3 = (q8 ? QuantVectors.bytes(data, o2 + 18) : QuantVectors.nibbles(data, o2 + 2, true).sub(8f)).mul(d2).fma(FloatVector.fromArray(S, x, xOff + p + 48), s3);
        }
        if (p < k) { // one block left: both vectors into the first accumulator, as the tail of the plain dot
            float d = half(data, o);
            s0 = (q8 ? QuantVectors.bytes(data, o + 2) : QuantVectors.nibbles(data, o + 2, false).sub(8f)).mul(d).fma(FloatVector.fromArray(S, x, xOff + p), s0);
            s0 = (q8 ? QuantVectors.bytes(data, o + 18) : QuantVectors.nibbles(data, o + 2, true).sub(8f)).mul(d).fma(FloatVector.fromArray(S, x, xOff + p + 16), s0);
        }
        return QuantVectors.finish(s0, s1, s2, s3, lanes);
    }

    /** Q4_K: a run of 64 inputs is one sub-block pair, its 32 bytes' low nibbles (s0, s1) then high nibbles (s2, s3). */
    private float dotQ4K(int r, float[] x, int xOff, float[] lanes) {
        var S = QuantVectors.S;
        var s0 = FloatVector.zero(S);
        var s1 = s0;
        var s2 = s0;
        var s3 = s0;
        int p = xOff;
        long o = block(r, 0);
        for (int b = 0; b < blocksPerRow; b++, o += type.blockBytes) {
            int dd = data.get(I32, o);
            float d = Float.float16ToFloat((short) dd), dmin = Float.float16ToFloat((short) (dd >>> 16));
            long lo = data.get(I64, o + 4), qs = o + 16;
            int hi = data.get(I32, o + 12);
            long scales = kScales(lo, hi), mins = kMins(lo, hi);
            for (int j = 0; j < 4; j++, p += 64, qs += 32, scales >>>= 16, mins >>>= 16) {
                float d1 = d * ((int) scales & 0xff), m1 = dmin * ((int) mins & 0xff);
                float d2 = d * ((int) (scales >>> 8) & 0xff), m2 = dmin * ((int) (mins >>> 8) & 0xff);
                s0 = QuantVectors.nibbles(data, qs, false).mul(d1).sub(m1).fma(FloatVector.fromArray(S, x, p), s0);
                s1 = QuantVectors.nibbles(data, qs + 16, false).mul(d1).sub(m1).fma(FloatVector.fromArray(S, x, p + 16), s1);
                s2 = QuantVectors.nibbles(data, qs, true).mul(d2).sub(m2).fma(FloatVector.fromArray(S, x, p + 32), s2);
                s3 = QuantVectors.nibbles(data, qs + 16, true).mul(d2).sub(m2).fma(FloatVector.fromArray(S, x, p + 48), s3);
            }
        }
        return QuantVectors.finish(s0, s1, s2, s3, lanes);
    }

    @Override
    float element(int r, int c) {
        int bs = type.blockSize, j = c % bs;
        long o = block(r, c / bs);
        return switch (type) {
            case Q8_0 -> data.get(ValueLayout.JAVA_BYTE, o + 2 + j) * half(data, o);
            case Q4_0 -> {
                int q = data.get(ValueLayout.JAVA_BYTE, o + 2 + j % 16) & 0xff;
                yield ((j < 16 ? q & 0x0f : q >>> 4) - 8) * half(data, o);
            }
            case Q4_K -> {
                int pair = j / 64, l = j % 32, sub = 2 * pair + (j % 64) / 32;
                float d = half(data, o) * scaleMin(o + 4, sub, 0), m = half(data, o + 2) * scaleMin(o + 4, sub, 1);
                int q = data.get(ValueLayout.JAVA_BYTE, o + 16 + 32L * pair + l) & 0xff;
                yield d * ((j % 64) < 32 ? q & 0x0f : q >>> 4) - m;
            }
            case Q5_K -> q5kElement(o, j);
            case Q6_K -> q6kElement(o, j);
            default -> throw new AssertionError(type);
        };
    }

}
