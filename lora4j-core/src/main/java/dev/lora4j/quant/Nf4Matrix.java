package dev.lora4j.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * QLoRA's NF4 (Dettmers et al. 2023): blocks of 64 weights, each stored as the index of the nearest of
 * the 16 NormalFloat levels to w / absmax (4 bits), and the block absmaxes themselves double quantized:
 * their mean is subtracted, and the rest is stored as the index of the nearest value of bitsandbytes'
 * signed 8-bit dynamic map, scaled by one fp32 absmax per group of 256 blocks. A weight decodes as
 * {@code NF4[code] · (DYNAMIC[absmaxCode] · groupScale + mean)}: about 4.13 bits a weight.
 *
 * <p>In memory, byte j of a block holds weight j in its low half and weight j + 32 in its high half, so
 * that both halves decode as runs of consecutive weights (a layout of lora4j's own; NF4 is made at
 * load and never read from a file).
 */
public final class Nf4Matrix extends QuantizedMatrix {
    /** The NF4 code book (QLoRA's appendix; bitsandbytes' table), ascending. */
    static final float[] LEVELS = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
            -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
            0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
    static final float[] DYNAMIC = dynamicMap();
    static final int GROUP = 256;

    private final MemorySegment codes;   // (rows · cols / 2) bytes
    private final byte[] absmaxCodes;    // one a block
    private final float[] groupScales;   // one per GROUP blocks
    private final float mean;

    Nf4Matrix(int rows, int cols, MemorySegment codes, byte[] absmaxCodes, float[] groupScales, float mean) {
        super(rows, cols, QuantType.NF4);
        long blocks = (long) rows * cols / 64;
        if (codes.byteSize() != blocks * 32 || absmaxCodes.length != blocks || groupScales.length != (blocks + GROUP - 1) / GROUP)
            throw new IllegalArgumentException("nf4: storage does not hold " + rows + "x" + cols);
        this.codes = codes;
        this.absmaxCodes = absmaxCodes;
        this.groupScales = groupScales;
        this.mean = mean;
    }

    /**
     * bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for exponents
     * 10^-6 .. 10^0, the midpoints of 2^i + 1 evenly spaced points in [0.1, 1], both signs, then 0 and 1.
     */
    static float[] dynamicMap() {
        double[] powers = {1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0};
        double[] data = new double[256];
        int n = 0;
        for (int i = 0; i < 7; i++) {
            int points = (1 << i) + 1;
            double step = (1.0 - 0.1) / (points - 1);
            double[] b = new double[points];
            for (int k = 0; k < points - 1; k++) b[k] = 0.1 + k * step;
            b[points - 1] = 1.0;
            for (int k = 0; k < points - 1; k++) {
                double mid = (b[k] + b[k + 1]) / 2.0;
                data[n++] = powers[i] * mid;
                data[n++] = -powers[i] * mid;
            }
        }
        data[n++] = 0.0;
        data[n] = 1.0;
        Arrays.sort(data);
        float[] out = new float[256];
        for (int i = 0; i < 256; i++) out[i] = (float) data[i];
        return out;
    }

    /** Index of the table value nearest v (compared in double), the lower index on a tie. */
    static int nearest(float[] table, float v) {
        int best = 0;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (int i = 0; i < table.length; i++) {
            double d = Math.abs((double) table[i] - v);
            if (d < bestDistance) {
                bestDistance = d;
                best = i;
            }
        }
        return best;
    }

    static Nf4Matrix quantizeBlocks(int rows, int cols, RowSource w) {
        int perRow = cols / 64;
        int blocks = Math.multiplyExact(rows, perRow);
        byte[] codes = new byte[Math.multiplyExact(blocks, 32)];
        float[] absmax = new float[blocks], row = new float[cols];
        int[] q = new int[64];
        for (int r = 0; r < rows; r++) {
            w.row(r, row);
            for (int b = 0; b < perRow; b++) {
                int c0 = b * 64, at = r * perRow + b;
                float a = 0;
                for (int j = 0; j < 64; j++) a = Math.max(a, Math.abs(row[c0 + j]));
                absmax[at] = a;
                for (int j = 0; j < 64; j++) q[j] = a == 0 ? 7 : nearest(LEVELS, row[c0 + j] / a);
                for (int j = 0; j < 32; j++) codes[at * 32 + j] = (byte) (q[j] | q[j + 32] << 4);
            }
        }
        double sum = 0;
        for (float a : absmax) sum += a;
        float mean = (float) (sum / blocks);
        float[] scales = new float[(blocks + GROUP - 1) / GROUP];
        byte[] absmaxCodes = new byte[blocks];
        for (int g = 0; g < scales.length; g++) {
            int b0 = g * GROUP, b1 = Math.min(blocks, b0 + GROUP);
            float s = 0;
            for (int b = b0; b < b1; b++) s = Math.max(s, Math.abs(absmax[b] - mean));
            scales[g] = s;
            for (int b = b0; b < b1; b++) absmaxCodes[b] = (byte) nearest(DYNAMIC, s == 0 ? 0f : (absmax[b] - mean) / s);
        }
        return new Nf4Matrix(rows, cols, MemorySegment.ofArray(codes), absmaxCodes, scales, mean);
    }

    @Override
    public QuantType type() {
        return QuantType.NF4;
    }

    @Override
    public long byteSize() {
        return codes.byteSize() + absmaxCodes.length + 4L * groupScales.length + 4;
    }

    MemorySegment codes() {
        return codes;
    }

    byte[] absmaxCodes() {
        return absmaxCodes;
    }

    float[] groupScales() {
        return groupScales;
    }

    float mean() {
        return mean;
    }

    /** Block b's absmax as stored: DYNAMIC[code] · groupScale + mean, two float32 roundings. */
    private float absmax(long b) {
        float scaled = DYNAMIC[absmaxCodes[(int) b] & 0xff] * groupScales[(int) (b / GROUP)];
        return scaled + mean;
    }

    @Override
    void decode(int r, int block0, int blocks, float[] dst, int off, boolean simd) {
        long first = (long) r * (cols() / 64) + block0;
        for (int i = 0; i < blocks; i++) {
            long b = first + i, o = b * 32;
            float a = absmax(b);
            int at = off + i * 64, j = 0;
            if (simd && QuantVectors.NF4_LEVELS != null) { // written out, as in dot: profiled training (JFR) showed the helper version running boxed
                var S = QuantVectors.S;
                for (; j < 32; j += 16) {
                    var v = ByteVector.fromMemorySegment(QuantVectors.BYTES, codes, o + j, ByteOrder.LITTLE_ENDIAN);
                    ((FloatVector) v.and((byte) 0x0f).convertShape(VectorOperators.B2F, S, 0)).selectFrom(QuantVectors.NF4_LEVELS).mul(a).intoArray(dst, at + j);
                    ((FloatVector) v.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, S, 0)).selectFrom(QuantVectors.NF4_LEVELS).mul(a).intoArray(dst, at + 32 + j);
                }
            }
            for (; j < 32; j++) {
                int q = codes.get(ValueLayout.JAVA_BYTE, o + j) & 0xff;
                dst[at + j] = LEVELS[q & 0x0f] * a;
                dst[at + 32 + j] = LEVELS[q >>> 4] * a;
            }
        }
    }

    /**
     * {@link QuantizedMatrix#dot} straight from the codes with 16-lane vectors: a block is one run of four
     * vectors, the values those of {@link #decode}. Written out without helpers: with them C2 stopped
     * inlining in this loop and it ran at a quarter of the speed (docs/performance-notes.md).
     */
    @Override
    public float dot(int r, float[] x, int xOff, float[] row, float[] lanes) {
        if (QuantVectors.NF4_LEVELS == null) return super.dot(r, x, xOff, row, lanes);
        var S = QuantVectors.S;
        var B = QuantVectors.BYTES;
        var levels = QuantVectors.NF4_LEVELS;
        var s0 = FloatVector.zero(S);
        var s1 = s0;
        var s2 = s0;
        var s3 = s0;
        long b = (long) r * (cols() / 64);
        for (int p = 0; p < cols(); p += 64, b++) {
            float a = absmax(b);
            var v0 = ByteVector.fromMemorySegment(B, codes, b * 32, ByteOrder.LITTLE_ENDIAN);
            var v1 = ByteVector.fromMemorySegment(B, codes, b * 32 + 16, ByteOrder.LITTLE_ENDIAN);
            var w0 = ((FloatVector) v0.and((byte) 0x0f).convertShape(VectorOperators.B2F, S, 0)).selectFrom(levels);
            var w1 = ((FloatVector) v1.and((byte) 0x0f).convertShape(VectorOperators.B2F, S, 0)).selectFrom(levels);
            var w2 = ((FloatVector) v0.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, S, 0)).selectFrom(levels);
            var w3 = ((FloatVector) v1.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, S, 0)).selectFrom(levels);
            s0 = w0.mul(a).fma(FloatVector.fromArray(S, x, xOff + p), s0);
            s1 = w1.mul(a).fma(FloatVector.fromArray(S, x, xOff + p + 16), s1);
            s2 = w2.mul(a).fma(FloatVector.fromArray(S, x, xOff + p + 32), s2);
            s3 = w3.mul(a).fma(FloatVector.fromArray(S, x, xOff + p + 48), s3);
        }
        return QuantVectors.finish(s0, s1, s2, s3, lanes);
    }

    @Override
    float element(int r, int c) {
        long b = (long) r * (cols() / 64) + c / 64;
        int j = c % 64, q = codes.get(ValueLayout.JAVA_BYTE, b * 32 + j % 32) & 0xff;
        return LEVELS[j < 32 ? q & 0x0f : q >>> 4] * absmax(b);
    }
}
