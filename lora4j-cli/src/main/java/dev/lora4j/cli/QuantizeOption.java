package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import dev.lora4j.quant.QuantType;
import picocli.CommandLine.Option;

/** The --quantize option of the commands that run a frozen base (a picocli mixin). */
final class QuantizeOption {
    @Option(names = "--quantize", paramLabel = "int8|nf4", description = "Quantize the frozen base at load: int8 (one scale a row) or nf4 (QLoRA's 4-bit NormalFloat,"
            + " blocks of 64, double-quantized scales). The files are untouched; adapters stay fp32 and are ordinary PEFT adapters.")
    String quantize;

    /** The chosen format, or null when the option is not given. */
    QuantType type() {
        if (quantize == null) return null;
        QuantType t = QuantType.ofOption(quantize);
        if (t == null) throw new Lora4jException("--quantize must be int8 or nf4, got '" + quantize + "'");
        return t;
    }
}
