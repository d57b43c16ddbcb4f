package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.tensor.Parallel;
import dev.lora4j.train.Optimizer;
import dev.lora4j.train.Parameter;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * LoRA embedding fine-tuning throughput on all-MiniLM-L6-v2 (r = 8 on query and value, the in-batch contrastive
 * loss, AdamW), tokens a second over steps of 16 pairs. Writes the model directory and the steps' token ids so that
 * bench/embed_train_torch.py runs PyTorch on the same model and the same ids. A benchmark: bench/embed-train.sh
 * runs both. Arguments: OUT_DIR TEXTS_FILE THREADS STEPS.
 */
public final class EmbedTrainBench {
    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        int threads = Integer.parseInt(args[2]), steps = Integer.parseInt(args[3]), batch = 16;
        Parallel.setThreads(threads);
        Path dir = out.resolve("minilm");
        if (!Files.exists(dir.resolve("model.safetensors"))) {
            Files.createDirectories(out);
            try (InputStream in = EmbedTrainBench.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2.onnx")) {
                Files.copy(in, out.resolve("m.onnx"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            try (InputStream in = EmbedTrainBench.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2-tokenizer.json")) {
                Files.copy(in, out.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            BertOnnx.convert(out.resolve("m.onnx"), dir, null, BertConfig.Pooling.MEAN, true);
        }
        List<String> lines = new ArrayList<>();
        for (String l : Files.readAllLines(Path.of(args[1]))) if (l.length() > 60) lines.add(l.length() > 240 ? l.substring(0, 240) : l);
        try (Bert base = Bert.load(dir)) {
            List<int[][]> a = new ArrayList<>(), p = new ArrayList<>(); // per step: batch anchors, batch positives
            long tokens = 0;
            for (int s = 0; s < steps + 2; s++) {
                int[][] as = new int[batch][], ps = new int[batch][];
                for (int i = 0; i < batch; i++) {
                    String l = lines.get((s * batch + i) % lines.size());
                    as[i] = Bert.truncate(base.tokenizer().encodeWithSpecialTokens(l.substring(0, l.length() / 2)), 64);
                    ps[i] = Bert.truncate(base.tokenizer().encodeWithSpecialTokens(l.substring(l.length() / 2)), 64);
                    if (s >= 2) tokens += as[i].length + ps[i].length;
                }
                a.add(as);
                p.add(ps);
            }
            new ObjectMapper().writeValue(out.resolve("steps.json").toFile(), List.of(a, p));
            EmbeddingTuner t = new EmbeddingTuner(base, LoraConfig.builder().r(8).alpha(16).build(), 1);
            Optimizer opt = new Optimizer.AdamW(t.parameters(), 0.9f, 0.999f, 1e-8f, 0f);
            long t0 = 0;
            for (int s = 0; s < steps + 2; s++) {
                if (s == 2) t0 = System.nanoTime(); // two steps warm up
                for (Parameter x : t.parameters()) Arrays.fill(x.grad(), 0f);
                t.lossAndGradients(Arrays.asList(a.get(s)), Arrays.asList(p.get(s)));
                opt.step(t.parameters(), 1e-4f);
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf(java.util.Locale.ROOT, "lora4j   %.0f tokens/s (%d steps of %d pairs, %d threads)%n", tokens / secs, steps, batch, threads);
        }
    }
}
