package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.encoder.Bert;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "embed", mixinStandardHelpOptions = true,
        description = {"Sentence embeddings from a BERT-family encoder (e.g. all-MiniLM-L6-v2 from import-onnx).",
                "One JSON line per text: {\"text\", \"embedding\"}; with two or more texts, their cosine similarities to the first on stderr."})
final class EmbedCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Encoder directory (config.json with model_type bert, roberta or xlm-roberta, safetensors, tokenizer.json).")
    Path model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "A LoRA adapter from tune-embeddings (PEFT's files).")
    Path adapter;

    @Option(names = "--text", paramLabel = "TEXT", description = "A text to embed (repeatable).")
    List<String> texts = new ArrayList<>();

    @Option(names = "--file", paramLabel = "FILE", description = "Texts to embed, one a line.")
    Path file;

    @Option(names = "--max-tokens", defaultValue = "256", paramLabel = "N", description = "Tokens kept per text, special tokens included (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--batch-size", defaultValue = "32", paramLabel = "B", description = "Texts per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Mixin
    ThreadsOption threads;

    @Override
    public Integer call() throws Exception {
        threads.apply();
        List<String> all = new ArrayList<>(texts);
        if (file != null) {
            if (!Files.isRegularFile(file)) throw new Lora4jException(file + ": file not found");
            for (String l : Files.readAllLines(file)) if (!l.isBlank()) all.add(l);
        }
        if (all.isEmpty()) throw new Lora4jException("give --text TEXT or --file FILE");
        if (maxTokens < 2) throw new Lora4jException("--max-tokens must be at least 2 (the special tokens), got " + maxTokens);
        if (batchSize < 1) throw new Lora4jException("--batch-size must be at least 1, got " + batchSize);
        try (Bert base = Bert.load(model)) {
            Bert bert = adapter == null ? base : dev.lora4j.encoder.EmbeddingTuner.load(base, adapter);
            if (maxTokens > bert.config().maxLength()) throw new Lora4jException("--max-tokens " + maxTokens + " exceeds the model's " + bert.config().maxLength() + " positions");
            int c = bert.config().dim();
            float[] first = null;
            ObjectMapper json = new ObjectMapper();
            for (int s = 0; s < all.size(); s += batchSize) {
                List<String> batch = all.subList(s, Math.min(all.size(), s + batchSize));
                float[] e = bert.embed(batch, maxTokens);
                for (int i = 0; i < batch.size(); i++) {
                    ObjectNode o = json.createObjectNode().put("text", batch.get(i));
                    ArrayNode a = o.putArray("embedding");
                    for (int d = 0; d < c; d++) a.add(e[i * c + d]);
                    System.out.println(json.writeValueAsString(o));
                    float[] v = java.util.Arrays.copyOfRange(e, i * c, (i + 1) * c);
                    if (first == null) first = v;
                    else if (all.size() <= 64) System.err.printf(java.util.Locale.ROOT, "cosine to the first: %.4f  %s%n", cosine(first, v), batch.get(i));
                }
            }
        }
        return 0;
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
