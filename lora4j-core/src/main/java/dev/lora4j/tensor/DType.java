package dev.lora4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Storage types lora4j reads and writes; all compute is fp32. */
public enum DType {
    F32(4), F16(2), BF16(2);

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** The safetensors dtype string ("F32", "F16", "BF16") to a DType, or null if unsupported. */
    public static DType parse(String s) {
        return switch (s) {
            case "F32" -> F32;
            case "F16" -> F16;
            case "BF16" -> BF16;
            default -> null;
        };
    }

    /** A command line's name for a storage type ("f32", "bf16", "f16"), or null if it names none. */
    public static DType ofOption(String name) {
        return switch (name) {
            case "f32" -> F32;
            case "bf16" -> BF16;
            case "f16" -> F16;
            default -> null;
        };
    }

    /** The bf16 element at element index i of a little-endian segment, as fp32 (exact: bf16 is fp32's top half). */
    public static float bf16At(MemorySegment s, long i) {
        return Float.intBitsToFloat((s.getAtIndex(U16, i) & 0xffff) << 16);
    }

    /** Widens n elements at byte offset {@code from} of {@code src} into dst[0:n]. */
    public void toFloats(MemorySegment src, long from, float[] dst, int n) {
        switch (this) {
            case F32 -> MemorySegment.copy(src, Mat.F32, from, dst, 0, n);
            case F16 -> {
                for (int i = 0; i < n; i++) dst[i] = Float.float16ToFloat(src.get(U16, from + 2L * i));
            }
            case BF16 -> {
                MemorySegment s = src.asSlice(from);
                for (int i = 0; i < n; i++) dst[i] = bf16At(s, i);
            }
        }
    }

    /** Narrows one float to this dtype's bits (round to nearest even), as 16 or 32 bits. */
    public int fromFloat(float v) {
        return switch (this) {
            case F32 -> Float.floatToRawIntBits(v);
            case F16 -> Float.floatToFloat16(v) & 0xffff;
            case BF16 -> {
                int bits = Float.floatToRawIntBits(v);
                if (Float.isNaN(v)) yield (bits >>> 16) | 0x40;
                yield ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
            }
        };
    }
}
