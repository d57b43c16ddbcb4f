package example;

import dev.lora4j.data.TextEncoder;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.generate.Completion;
import dev.lora4j.generate.GenerationConfig;
import dev.lora4j.generate.TextGenerator;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.Trainer;

import java.nio.file.Path;

/** Trains a LoRA adapter, measures what it changed and generates with it: lora4j as a library. */
public class TrainAndGenerate {
    public static void main(String[] args) {
        Path model = Path.of(args[0]), data = Path.of(args[1]), adapter = Path.of(args[2]);

        // 1. train: r = 8 on the default targets, 60 AdamW steps at 1e-3; a PEFT adapter lands in `adapter`
        Trainer.train(TrainOptions.lora(model, data, adapter, 8, 60, 1e-3), System.err);

        try (TextGenerator generator = TextGenerator.builder(model).adapter("past-tense", adapter).build()) {
            // 2. evaluate: the mean loss over the data's targets, on the base alone and with the adapter
            TokenDataset ds = TokenDataset.read(data, generator.config().vocabSize(), false, TextEncoder.ofModel(model, null));
            double before = Evaluator.evaluate(generator.base(), ds.examples(), ds.labels(), 128, 8).loss();
            double after = Evaluator.evaluate(PeftAdapter.load(adapter, generator.base()).model(), ds.examples(), ds.labels(), 128, 8).loss();
            System.out.printf("loss: base %.4f, with the adapter %.4f%n", before, after);

            // 3. generate: text in, text out, streamed as it comes, on the base and with the adapter
            GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(16).stop("\n").build();
            String prompt = "Present: Tom looks at Anna and smiles.\nIn the past:";
            Completion base = generator.generate(TextGenerator.Request.text(prompt).config(greedy));
            Completion tuned = generator.generate(TextGenerator.Request.text(prompt).adapter("past-tense").config(greedy)
                    .listener(piece -> System.out.print(piece)));
            System.out.printf("%nbase: %s | with the adapter: %s%n", base.text().strip(), tuned.text().strip());

            if (!(after < before)) throw new IllegalStateException("the adapter did not lower the loss");
        }
    }
}
