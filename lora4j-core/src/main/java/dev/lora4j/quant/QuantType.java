package dev.lora4j.quant;

/**
 * Formats of a frozen weight quantized along its rows (one row per output, blocks along the inputs).
 * {@code int8} and {@code nf4} are what {@code --quantize} makes at load; the GGML block formats are
 * what GGUF files hold (llama.cpp's ggml-quants.c layouts, read in place from the mapped file).
 */
public enum QuantType {
    /** One int8 a weight, one fp32 absmax scale a row: w = q · s. */
    INT8("int8", 1, 1),
    /** QLoRA's 4-bit NormalFloat: blocks of 64 with an absmax each, the absmaxes double quantized (8 bits, groups of 256). */
    NF4("nf4", 64, 32),
    /** GGML Q8_0: blocks of 32 int8 with an fp16 scale (34 bytes). */
    Q8_0("q8_0", 32, 34),
    /** GGML Q4_0: blocks of 32 4-bit values with an fp16 scale, w = (q − 8) · d (18 bytes). */
    Q4_0("q4_0", 32, 18),
    /** GGML Q4_K: super-blocks of 256, eight sub-blocks with 6-bit scales and minimums (144 bytes). */
    Q4_K("q4_k", 256, 144),
    /** GGML Q5_K: Q4_K's layout with each value's fifth bit in 32 more bytes (176 bytes). */
    Q5_K("q5_k", 256, 176),
    /** GGML Q6_K: super-blocks of 256, sixteen sub-blocks with int8 scales, 6-bit values (210 bytes). */
    Q6_K("q6_k", 256, 210);

    /** The name options and files use. */
    public final String label;
    /** Elements a block holds (a row's length must be a multiple of it). */
    public final int blockSize;
    /** Bytes a block's values take (NF4's absmax codes and the int8 row scales are held beside them). */
    public final int blockBytes;

    QuantType(String label, int blockSize, int blockBytes) {
        this.label = label;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** The format {@code --quantize} names ("int8", "nf4"), or null if it names none of those. */
    public static QuantType ofOption(String name) {
        return switch (name) {
            case "int8" -> INT8;
            case "nf4" -> NF4;
            default -> null;
        };
    }

    /** Whether rows of this many columns split into whole blocks. */
    public boolean fits(int cols) {
        return cols > 0 && cols % blockSize == 0;
    }
}
