/**
 * lora4j's engine: Hugging Face GPT-2 and Llama-family checkpoints loaded and run on the CPU, LoRA
 * adapters trained, saved and loaded in PEFT's format, merged and analysed, and text generated with
 * any number of adapters over one base ({@link dev.lora4j.generate.TextGenerator}).
 *
 * <p>The SIMD kernels ({@code dev.lora4j.kernels}) stay inside the module; they need the incubating
 * Vector API, so run with {@code --add-modules jdk.incubator.vector} (without it lora4j falls back to
 * scalar kernels, about ten times slower, and says so once).
 */
module dev.lora4j.core {
    requires jdk.incubator.vector;
    requires com.fasterxml.jackson.databind;
    requires jinjava;
    requires ejml.ddense;
    requires ejml.core;
    requires com.google.protobuf;
    requires java.desktop; // java.beans.FeatureDescriptor, in Jinjava's expression resolver API

    exports dev.lora4j;
    exports dev.lora4j.analysis;
    exports dev.lora4j.data;
    exports dev.lora4j.eval;
    exports dev.lora4j.generate;
    exports dev.lora4j.io;
    exports dev.lora4j.io.onnx;
    exports dev.lora4j.encoder;
    exports dev.lora4j.lora;
    exports dev.lora4j.merge;
    exports dev.lora4j.model;
    exports dev.lora4j.tensor;
    exports dev.lora4j.tokenizer;
    exports dev.lora4j.train;
}
