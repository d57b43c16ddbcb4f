package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import dev.lora4j.io.gguf.GgmlType;
import dev.lora4j.io.gguf.GgufExport;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Transformer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "export-gguf", mixinStandardHelpOptions = true,
        description = {"Write a model, or a LoRA adapter, as a GGUF file for llama.cpp (and Ollama, LM Studio...).",
                "  --model DIR --out F.gguf [--type T]            the model, with its tokenizer",
                "  --model DIR --adapter A --merge --out F.gguf   the model with the adapter merged in",
                "  --model DIR --adapter A --out A.gguf           the adapter alone (llama-cli --lora A.gguf)",
                "llama.cpp's llama architecture (Llama, Llama 3.1+, Mistral without a sliding window) and qwen2. Norms stay f32."})
final class ExportGgufCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "PEFT adapter directory: written alone, or merged with --merge.")
    Path adapter;

    @Option(names = "--merge", description = "Merge --adapter into the model and write the model.")
    boolean merge;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The GGUF file to write (replaced atomically).")
    Path out;

    @Option(names = "--type", defaultValue = "f16", paramLabel = "f32|f16|q8_0|q4_0",
            description = "Weight type of a model's matrices (default: ${DEFAULT-VALUE}); q8_0 and q4_0 keep rows that are not whole 32-blocks in f16. Adapters are f32.")
    String type;

    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();

    @Override
    public Integer call() throws Exception {
        threads.apply();
        GgmlType t = switch (type) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "q8_0" -> GgmlType.Q8_0;
            case "q4_0" -> GgmlType.Q4_0;
            default -> throw new Lora4jException("--type must be f32, f16, q8_0 or q4_0, got '" + type + "'");
        };
        if (merge && adapter == null) throw new Lora4jException("--merge needs --adapter");
        if (!out.getFileName().toString().endsWith(".gguf")) throw new Lora4jException("--out " + out + ": a GGUF file name ends in .gguf");
        if (Files.isDirectory(out)) throw new Lora4jException("--out " + out + ": is a directory");
        String name = model.toAbsolutePath().normalize().getFileName().toString();
        try (Transformer base = Transformer.load(model)) {
            if (adapter == null) {
                GgufExport.writeModel(base, model, out, t, name);
                System.out.println("wrote " + out + " (" + type + ")");
                return 0;
            }
            LoraModel lm = PeftAdapter.load(adapter, base);
            if (merge) {
                GgufExport.writeModel(Merger.mergeInMemory(lm, 1.0), model, out, t, name);
                System.out.println("wrote " + out + " (" + type + ", " + adapter + " merged)");
            } else {
                if (lm.embeddings() != null)
                    throw new Lora4jException(adapter + ": trains the embedding or the LM head too (modules_to_save, trainable tokens), which a llama.cpp LoRA"
                            + " adapter cannot hold; export the merged model instead (--merge)");
                GgufExport.writeAdapter(lm, out);
                System.out.println("wrote " + out + " (LoRA adapter, " + lm.modules().size() + " modules)");
            }
        }
        return 0;
    }
}
