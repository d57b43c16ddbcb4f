package dev.lora4j.api;

import dev.lora4j.TestPaths;
import dev.lora4j.data.TextEncoder;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.generate.Completion;
import dev.lora4j.generate.GenerationConfig;
import dev.lora4j.generate.TextGenerator;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's Java example (examples/library-user), run on the bundled model: the adapter must lower the
 * loss and change the answer; and the README shows the example's code as it is.
 */
class ReadmeExampleTest {
    @TempDir
    Path tmp;

    @Test
    void theReadmeExampleTrainsAnAdapterThatChangesTheModel() throws IOException {
        Path model = TestPaths.bundledModel(), data = TestPaths.repo("examples/past-tense.jsonl"), adapter = tmp.resolve("mine");
        Trainer.train(TrainOptions.lora(model, data, adapter, 8, 60, 1e-3), new PrintStream(new ByteArrayOutputStream()));
        try (TextGenerator generator = TextGenerator.builder(model).adapter("past-tense", adapter).build()) {
            TokenDataset ds = TokenDataset.read(data, generator.config().vocabSize(), false, TextEncoder.ofModel(model, null));
            double before = Evaluator.evaluate(generator.base(), ds.examples(), ds.labels(), 128, 8).loss();
            double after = Evaluator.evaluate(PeftAdapter.load(adapter, generator.base()).model(), ds.examples(), ds.labels(), 128, 8).loss();
            assertThat(after).isLessThan(before - 1);
            GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(16).stop("\n").build();
            String prompt = "Present: Tom looks at Anna and smiles.\nIn the past:";
            Completion base = generator.generate(TextGenerator.Request.text(prompt).config(greedy));
            Completion tuned = generator.generate(TextGenerator.Request.text(prompt).adapter("past-tense").config(greedy));
            assertThat(tuned.text()).isNotEqualTo(base.text());
        }
    }

    @Test
    void theReadmeShowsTheExampleAsItIs() throws IOException {
        String example = Files.readString(TestPaths.repo("examples/library-user/src/main/java/example/TrainAndGenerate.java"));
        String body = example.substring(example.indexOf("import "));
        assertThat(Files.readString(TestPaths.repo("README.md"))).contains(body.strip());
    }
}
