package dev.lora4j.kernels;

import dev.lora4j.tensor.Mat;

/**
 * A weight copied onto the Java heap as one row per output, (out, in) row-major, for decoding: a
 * decode step multiplies one row of activations by every weight, so its speed is the speed at which
 * weights stream from memory, and they stream fastest as rows read front to back. GPT-2 stores its
 * weights (in, out) (Conv1D), which a decode step would read across rows, and bf16 ones stream from
 * the heap faster than from the mapped file (figures: docs/performance-notes.md). fp32 weights are kept as floats,
 * bf16 ones as their 16-bit patterns (half the bytes; widened exactly when read). Exactly one of the
 * arrays is set.
 */
public record WeightRows(float[] f32, short[] bf16, int rows /* out */, int cols /* in */) {

    public WeightRows {
        if ((f32 == null) == (bf16 == null)) throw new IllegalArgumentException("exactly one of f32 and bf16");
        long n = (long) rows * cols;
        if ((f32 != null ? f32.length : bf16.length) != n) throw new IllegalArgumentException("storage does not hold " + rows + "x" + cols);
    }

    /** Bytes the copy takes on the heap. */
    public static long bytes(Mat wT) {
        return (long) wT.rows() * wT.cols() * (wT.bf16() ? 2 : 4);
    }

    /** Copies the B operand of y = x·B, wT (in, out), into rows of outputs (out, in), keeping its dtype. */
    public static WeightRows copyOf(Mat wT) {
        int out = wT.cols(), in = wT.rows();
        Mat w = wT.t(); // (out, in), in whatever strides it is stored
        float[] f = w.bf16() ? null : new float[Math.multiplyExact(out, in)];
        short[] h = w.bf16() ? new short[Math.multiplyExact(out, in)] : null;
        if (f != null && w.colStride() == 1) {
            for (int j = 0; j < out; j++) w.copyRow(j, 0, f, j * in, in);
        } else {
            // 64x64 tiles: a Conv1D weight is read down its columns here, which must not walk the whole matrix per row.
            for (int j0 = 0; j0 < out; j0 += 64)
                for (int p0 = 0; p0 < in; p0 += 64)
                    for (int j = j0; j < Math.min(out, j0 + 64); j++)
                        for (int p = p0; p < Math.min(in, p0 + 64); p++) {
                            float v = w.get(j, p);
                            if (f != null) f[j * in + p] = v;
                            else h[j * in + p] = bf16Bits(v);
                        }
        }
        return new WeightRows(f, h, out, in);
    }

    /** A bf16 value widened to fp32 has zero low bits: its top half is the bf16 pattern itself. */
    private static short bf16Bits(float widened) {
        return (short) (Float.floatToRawIntBits(widened) >>> 16);
    }

    /** Weight (j, p): output j, input p, as fp32. */
    public float get(int j, int p) {
        int i = j * cols + p;
        return f32 != null ? f32[i] : Float.intBitsToFloat((bf16[i] & 0xffff) << 16);
    }
}
