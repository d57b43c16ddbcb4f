package dev.lora4j.io.gguf;

import dev.lora4j.quant.QuantType;

/** The ggml tensor types lora4j reads and writes, with their numbers in GGUF files. */
public enum GgmlType {
    F32(0, 1, 4, null), F16(1, 1, 2, null), Q4_0(2, 32, 18, QuantType.Q4_0), Q8_0(8, 32, 34, QuantType.Q8_0),
    Q4_K(12, 256, 144, QuantType.Q4_K), Q5_K(13, 256, 176, QuantType.Q5_K), Q6_K(14, 256, 210, QuantType.Q6_K), BF16(30, 1, 2, null);

    public final int id, blockSize, blockBytes;
    /** The block format, for the quantized types; null for F32, F16 and BF16. */
    public final QuantType quant;

    GgmlType(int id, int blockSize, int blockBytes, QuantType quant) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.quant = quant;
    }

    /** The type numbered {@code id}, or null if lora4j does not read it. */
    public static GgmlType of(long id) {
        for (GgmlType t : values()) if (t.id == id) return t;
        return null;
    }

    /** Bytes of a tensor of n elements (n a multiple of the block size). */
    public long bytes(long n) {
        return n / blockSize * blockBytes;
    }
}
