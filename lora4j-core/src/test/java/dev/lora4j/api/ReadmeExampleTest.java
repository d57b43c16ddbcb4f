package dev.lora4j.api;

import dev.lora4j.TestPaths;
import dev.lora4j.data.TextEncoder;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.generate.Completion;
import dev.lora4j.generate.GenerationConfig;
import dev.lora4j.generate.TextGenerator;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Transformer;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.TrainListener;
import dev.lora4j.train.Trainable;
import dev.lora4j.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
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
        double before, after;
        try (Transformer base = Transformer.load(model)) {
            TokenDataset examples = TokenDataset.read(data, base.config().vocabSize(), false, TextEncoder.ofModel(model, null));
            LoraModel lora = LoraModel.inject(base, LoraConfig.builder().r(8).build(), 42);
            Trainer.Result r = Trainer.fit(Trainable.lora(lora), examples, null, TrainConfig.builder().steps(60).lr(1e-3).build(), TrainListener.NONE);
            assertThat(r.steps()).isEqualTo(60);
            assertThat(r.train()).hasSize(60);
            before = Evaluator.evaluate(base, examples.examples(), examples.labels(), 128, 8).loss();
            after = Evaluator.evaluate(lora.model(), examples.examples(), examples.labels(), 128, 8).loss();
            PeftAdapter.save(adapter, lora, model.toString());
        }
        assertThat(after).isLessThan(before - 1);
        try (TextGenerator generator = TextGenerator.builder(model).adapter("past-tense", adapter).build()) {
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
