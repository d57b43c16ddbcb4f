package dev.lora4j.kernels;

import dev.lora4j.tensor.Mat;

/**
 * A weight copied onto the Java heap for decoding, in panels of {@link #P} outputs: panel q holds
 * outputs [q·P, q·P + P) and stores, input by input, their P weights side by side, so that element
 * (j, p) is at ((j / P)·in + p)·P + j % P. A decode step multiplies a few rows of activations by every
 * weight; with the panels one vector of weights is P outputs' weights for one input, and each output's
 * dot product runs down its own lane as one chain of multiply-adds (no sum across lanes to finish), and
 * each panel streams from memory front to back. GPT-2 stores its weights (in, out) (Conv1D), the others
 * (out, in); both are copied into panels, fp32 as floats, bf16 as their 16-bit patterns (half the bytes;
 * widened exactly when read). Exactly one of the arrays is set. The panel count is padded with zero
 * weights to a multiple of {@link #GROUP} (the kernel's register tile); padded outputs are never stored.
 */
public record WeightPanels(float[] f32, short[] bf16, int rows /* out */, int cols /* in */) {
    /**
     * Outputs in a panel: one vector of the machine's preferred width (any width serves the scalar twin;
     * without the Vector API module, 16).
     */
    static final int P = Kernels.SIMD ? jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length() : 16;
    /** Panels a register tile reads side by side; the panel count is a multiple of it. */
    static final int GROUP = 3;

    public WeightPanels {
        if ((f32 == null) == (bf16 == null)) throw new IllegalArgumentException("exactly one of f32 and bf16");
        long n = (long) panels(rows) * P * cols;
        if ((f32 != null ? f32.length : bf16.length) != n)
            throw new IllegalArgumentException("storage does not hold " + rows + "x" + cols + " in panels");
    }

    /** Panels for {@code rows} outputs, padded to a multiple of {@link #GROUP}. */
    static int panels(int rows) {
        int panels = (rows + P - 1) / P;
        return (panels + GROUP - 1) / GROUP * GROUP;
    }

    /** Bytes the copy takes on the heap. */
    public static long bytes(Mat wT) {
        return (long) panels(wT.cols()) * P * wT.rows() * (wT.bf16() ? 2 : 4);
    }

    /** Copies the B operand of y = x·B, wT (in, out), into panels of outputs, keeping its dtype. */
    public static WeightPanels copyOf(Mat wT) {
        int out = wT.cols(), in = wT.rows();
        int size = Math.multiplyExact(Math.multiplyExact(panels(out), P), in);
        float[] f = wT.bf16() ? null : new float[size];
        short[] h = wT.bf16() ? new short[size] : null;
        if (f != null && wT.colStride() == 1) { // (in, out) rows: a panel's P weights for input p lie side by side
            for (int p = 0; p < in; p++)
                for (int j = 0; j < out; j += P) wT.copyRow(p, j, f, index(j, p, in), Math.min(P, out - j));
            return new WeightPanels(f, h, out, in);
        }
        // 64x64 tiles: whichever way the weight is stored, neither it nor the panels are walked whole per row
        for (int p0 = 0; p0 < in; p0 += 64)
            for (int j0 = 0; j0 < out; j0 += 64)
                for (int p = p0; p < Math.min(in, p0 + 64); p++)
                    for (int j = j0; j < Math.min(out, j0 + 64); j++) {
                        float v = wT.get(p, j);
                        int at = index(j, p, in);
                        if (f != null) f[at] = v;
                        else h[at] = bf16Bits(v);
                    }
        return new WeightPanels(f, h, out, in);
    }

    private static int index(int j, int p, int in) {
        return ((j / P) * in + p) * P + j % P;
    }

    /** A bf16 value widened to fp32 has zero low bits: its top half is the bf16 pattern itself. */
    private static short bf16Bits(float widened) {
        return (short) (Float.floatToRawIntBits(widened) >>> 16);
    }

    /** Weight (j, p): output j, input p, as fp32. */
    public float get(int j, int p) {
        int i = index(j, p, cols);
        return f32 != null ? f32[i] : Float.intBitsToFloat((bf16[i] & 0xffff) << 16);
    }
}
