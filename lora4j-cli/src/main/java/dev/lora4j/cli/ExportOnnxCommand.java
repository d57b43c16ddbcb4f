package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import dev.lora4j.encoder.Bert;
import dev.lora4j.encoder.BertOnnx;
import dev.lora4j.encoder.EmbeddingTuner;
import dev.lora4j.lora.LoraLinear;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "export-onnx", mixinStandardHelpOptions = true,
        description = {"Write an encoder tuned by tune-embeddings back as ONNX: the model's original ONNX file (kept by import-onnx as",
                "model.onnx) with the adapter merged into its weights, everything else byte for byte, for ONNX Runtime and",
                "LangChain4j's OnnxEmbeddingModel (with the directory's tokenizer.json)."})
final class ExportOnnxCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Encoder directory from import-onnx.")
    Path model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "LoRA adapter from tune-embeddings.")
    Path adapter;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The .onnx file to write.")
    Path out;

    @Override
    public Integer call() throws Exception {
        Path source = model.resolve("model.onnx");
        if (!Files.isRegularFile(source)) throw new Lora4jException(source + ": not found; export-onnx writes into the ONNX file import-onnx keeps there");
        if (Files.isDirectory(out)) throw new Lora4jException(out + ": is a directory; give the .onnx file to write");
        try (Bert base = Bert.load(model)) {
            Bert tuned = EmbeddingTuner.load(base, adapter);
            Map<String, LoraLinear> modules = new LinkedHashMap<>();
            tuned.loraModules(modules);
            BertOnnx.exportMerged(source, modules, out);
        }
        System.out.println("wrote " + out);
        return 0;
    }
}
