package dev.lora4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.encoder.Bert;
import dev.lora4j.encoder.EmbeddingTuner;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.train.Optimizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "tune-embeddings", mixinStandardHelpOptions = true,
        description = {"Fine-tune a BERT-family encoder's sentence embeddings with LoRA (on query and value) and the in-batch",
                "contrastive loss of sentence-transformers' MultipleNegativesRankingLoss, on {\"anchor\", \"positive\"} pairs.",
                "Writes a PEFT adapter (task_type FEATURE_EXTRACTION) that `embed --adapter` uses."})
final class TuneEmbeddingsCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Encoder directory (e.g. from import-onnx).")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "JSONL, one {\"anchor\": TEXT, \"positive\": TEXT} a line.")
    Path data;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Adapter directory to write (must not exist, or be empty).")
    Path out;

    @Option(names = "--r", defaultValue = "8", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int r;

    @Option(names = "--alpha", defaultValue = "16", description = "lora_alpha (default: ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--lr", defaultValue = "2e-4", description = "AdamW learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--steps", defaultValue = "100", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch-size", defaultValue = "16", description = "Pairs a step; the other pairs' positives are each anchor's negatives (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--max-tokens", defaultValue = "128", description = "Tokens kept per text (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--eval-fraction", defaultValue = "0", paramLabel = "F",
            description = "Hold out this share of the pairs (the last ones) and report their recall@1 before and after: how often an anchor's own positive is the nearest of theirs (default: ${DEFAULT-VALUE}).")
    double evalFraction;

    @Mixin
    ThreadsOption threads;

    @Override
    public Integer call() throws Exception {
        threads.apply();
        if (steps < 1) throw new Lora4jException("--steps must be at least 1, got " + steps);
        if (batchSize < 2) throw new Lora4jException("--batch-size must be at least 2 (in-batch negatives), got " + batchSize);
        if (maxTokens < 2) throw new Lora4jException("--max-tokens must be at least 2, got " + maxTokens);
        if (!(lr > 0) || !Double.isFinite(lr)) throw new Lora4jException("--lr must be a positive finite number, got " + lr);
        if (!(evalFraction >= 0 && evalFraction < 1)) throw new Lora4jException("--eval-fraction must be in [0, 1), got " + evalFraction);
        if (!Files.isRegularFile(data)) throw new Lora4jException(data + ": file not found");
        if (Files.exists(out) && (!Files.isDirectory(out) || Files.list(out).findAny().isPresent()))
            throw new Lora4jException(out + ": exists and is not an empty directory");
        List<String[]> pairs = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        int line = 0;
        for (String l : Files.readAllLines(data)) {
            line++;
            if (l.isBlank()) continue;
            JsonNode o;
            try {
                o = json.readTree(l);
            } catch (Exception e) {
                throw new Lora4jException(data + ":" + line + ": not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
            }
            if (!o.path("anchor").isTextual() || !o.path("positive").isTextual())
                throw new Lora4jException(data + ":" + line + ": expected {\"anchor\": TEXT, \"positive\": TEXT}");
            pairs.add(new String[] {o.get("anchor").asText(), o.get("positive").asText()});
        }
        int held = (int) Math.round(pairs.size() * evalFraction);
        List<String[]> eval = new ArrayList<>(pairs.subList(pairs.size() - held, pairs.size()));
        pairs = new ArrayList<>(pairs.subList(0, pairs.size() - held));
        if (held > 0 && held < 2) throw new Lora4jException("--eval-fraction " + evalFraction + " holds out " + held + " pair; recall@1 needs at least 2");
        try (Bert base = Bert.load(model)) {
            double before = held > 0 ? EmbeddingTuner.recallAt1(base, eval, maxTokens) : Double.NaN;
            EmbeddingTuner tuner = new EmbeddingTuner(base, LoraConfig.builder().r(r).alpha(alpha).build(), 42);
            System.err.printf(Locale.ROOT, "%d pairs, %d steps of %d; LoRA r = %d on %d modules%n", pairs.size(), steps, Math.min(batchSize, pairs.size()), r, tuner.modules().size());
            tuner.train(pairs, steps, batchSize, maxTokens, new Optimizer.AdamW(tuner.parameters(), 0.9f, 0.999f, 1e-8f, 0f), (float) lr,
                    (step, loss) -> {
                        if (step == 1 || step % 10 == 0 || step == steps) System.err.printf(Locale.ROOT, "step %d/%d  loss %.4f%n", step, steps, loss);
                    });
            tuner.save(out, model.toString());
            if (held > 0)
                System.out.printf(Locale.ROOT, "held-out recall@1 over %d pairs: %.3f before, %.3f after%n", held, before, EmbeddingTuner.recallAt1(tuner.model(), eval, maxTokens));
        }
        System.out.println("saved " + out);
        return 0;
    }
}
