package example;

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

import java.io.IOException;
import java.nio.file.Path;

/** Trains a LoRA adapter, measures what it changed and generates with it: lora4j as a library. */
public class TrainAndGenerate {
    public static void main(String[] args) throws IOException {
        Path model = Path.of(args[0]), data = Path.of(args[1]), adapter = Path.of(args[2]);

        try (Transformer base = Transformer.load(model)) {
            // 1. data: prompt + completion lines, encoded by the model's tokenizer (the loss counts the completions)
            TokenDataset examples = TokenDataset.read(data, base.config().vocabSize(), false, TextEncoder.ofModel(model, null));

            // 2. train: r = 8 on the model type's default targets, 60 AdamW steps at 1e-3, a line every 20 steps
            LoraModel lora = LoraModel.inject(base, LoraConfig.builder().r(8).build(), 42);
            TrainConfig config = TrainConfig.builder().steps(60).lr(1e-3).build();
            Trainer.fit(Trainable.lora(lora), examples, null, config, new TrainListener() {
                @Override
                public void onStep(Step s) {
                    if (s.step() % 20 == 0) System.err.printf("step %d/%d loss %.4f%n", s.step(), s.totalSteps(), s.loss());
                }
            });

            // 3. evaluate: the mean loss over the data's targets, on the base alone and with the adapter; save it for PEFT
            double before = Evaluator.evaluate(base, examples.examples(), examples.labels(), 128, 8).loss();
            double after = Evaluator.evaluate(lora.model(), examples.examples(), examples.labels(), 128, 8).loss();
            System.out.printf("loss: base %.4f, with the adapter %.4f%n", before, after);
            if (!(after < before)) throw new IllegalStateException("the adapter did not lower the loss");
            PeftAdapter.save(adapter, lora, model.toString());
        }

        // 4. generate: text in, text out, streamed as it comes, on the base and with the saved adapter
        try (TextGenerator generator = TextGenerator.builder(model).adapter("past-tense", adapter).build()) {
            GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(16).stop("\n").build();
            String prompt = "Present: Tom looks at Anna and smiles.\nIn the past:";
            Completion plain = generator.generate(TextGenerator.Request.text(prompt).config(greedy));
            Completion tuned = generator.generate(TextGenerator.Request.text(prompt).adapter("past-tense").config(greedy)
                    .listener(piece -> System.out.print(piece)));
            System.out.printf("%nbase: %s | with the adapter: %s%n", plain.text().strip(), tuned.text().strip());
        }
    }
}
