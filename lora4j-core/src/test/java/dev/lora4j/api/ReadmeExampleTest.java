package dev.lora4j.api;

import dev.lora4j.TestPaths;
import dev.lora4j.data.TextFormat;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.Sampler;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Transformer;
import dev.lora4j.tokenizer.Tokenizer;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's Java API example, run as written (on the bundled model instead of a downloaded one). */
class ReadmeExampleTest {
    @TempDir
    Path tmp;

    @Test
    void theReadmeExampleRuns() throws IOException {
        Path model = TestPaths.bundledModel(), data = tmp.resolve("data.jsonl"), adapter = tmp.resolve("mine");
        Files.writeString(data, "{\"text\": \"Tom sees Anna. Anna is happy.\"}\n".repeat(16));
        PrintStream progress = new PrintStream(new ByteArrayOutputStream());
        String text;
        double loss;
        // ---- as in the README ----
        Trainer.train(TrainOptions.lora(model, data, adapter, 8, 20, 1e-3), progress);   // what `lora4j train` does
        try (Transformer base = Transformer.load(model)) {
            TokenDataset ds = TokenDataset.read(data, base.config().vocabSize(), false, TextFormat.ofModel(model, null));
            LoraModel lora = PeftAdapter.load(adapter, base);                            // over the same frozen base
            loss = Evaluator.evaluate(lora.model(), ds.examples(), ds.labels(), 128, 8).loss();
            Transformer merged = Merger.mergeInMemory(lora, 1.0);                        // W + s·B·A, in memory
            Tokenizer tok = Tokenizer.load(model);
            int[][] ids = Generator.generate(merged, new int[][] {tok.encodeWithSpecialTokens("Tom sees")}, 8,
                    new Sampler(0, 0, 1, 1, new SplittableRandom(0)), base.config().vocabSize() - 1, id -> {});
            text = tok.decode(ids[0]);
        }
        // ----
        assertThat(loss).isBetween(0.0, 3.0);
        assertThat(text).isNotBlank();
    }
}
