package dev.lora4j.train;

import dev.lora4j.Lora4jException;
import dev.lora4j.data.TokenDataset;

import java.nio.file.Path;

/**
 * Where a run's examples come from and how they are read.
 *
 * @param train        training data: JSONL (input_ids (+ labels), text, prompt + completion, or messages per line) or .txt
 * @param eval         evaluation data in the same formats, or null
 * @param evalSplit    fraction of the training data held out for evaluation when eval is null (default 0: none)
 * @param pack         concatenate the examples into seq-len blocks (Hugging Face's group_texts) instead of one per row
 * @param skipBadLines count and skip lines that are not valid examples instead of stopping
 * @param chatTemplate a Jinja file overriding the model's chat template for "messages" data (null: the model's)
 * @param appendEos    end "text" and "completion" examples with the tokenizer's EOS token unless they end
 *                     with it already, as TRL's SFTTrainer does, so that a trained model learns to stop (default true)
 * @param truncation   what happens to an example longer than seq-len when examples are not packed: keep its
 *                     first tokens (RIGHT, the default), its last (LEFT), or leave it out (DROP)
 */
public record DataConfig(Path train, Path eval, double evalSplit, boolean pack, boolean skipBadLines, Path chatTemplate, boolean appendEos,
                         TokenDataset.Truncation truncation) {
    public DataConfig {
        if (train == null) throw new Lora4jException("--data must be given");
        Check.inUnit("--eval-split", evalSplit);
        if (evalSplit > 0 && eval != null) throw new Lora4jException("give --eval-data or --eval-split, not both");
        if (truncation == null) throw new Lora4jException("--truncation must be right, left or drop");
    }

    /** Training data only, read strictly, one example a row, EOS appended. */
    public static DataConfig of(Path train) {
        return builder(train).build();
    }

    public static Builder builder(Path train) {
        return new Builder(train);
    }

    public Builder toBuilder() {
        return new Builder(train).eval(eval).evalSplit(evalSplit).pack(pack).skipBadLines(skipBadLines).chatTemplate(chatTemplate).appendEos(appendEos)
                .truncation(truncation);
    }

    public DataConfig withEval(Path v) {
        return toBuilder().eval(v).build();
    }

    public static final class Builder {
        private Path train, eval, chatTemplate;
        private double evalSplit;
        private boolean pack, skipBadLines, appendEos = true;
        private TokenDataset.Truncation truncation = TokenDataset.Truncation.RIGHT;

        private Builder(Path train) {
            this.train = train;
        }

        public Builder train(Path v) {
            train = v;
            return this;
        }

        public Builder eval(Path v) {
            eval = v;
            return this;
        }

        public Builder evalSplit(double v) {
            evalSplit = v;
            return this;
        }

        public Builder pack(boolean v) {
            pack = v;
            return this;
        }

        public Builder skipBadLines(boolean v) {
            skipBadLines = v;
            return this;
        }

        public Builder chatTemplate(Path v) {
            chatTemplate = v;
            return this;
        }

        public Builder appendEos(boolean v) {
            appendEos = v;
            return this;
        }

        public Builder truncation(TokenDataset.Truncation v) {
            truncation = v;
            return this;
        }

        public DataConfig build() {
            return new DataConfig(train, eval, evalSplit, pack, skipBadLines, chatTemplate, appendEos, truncation);
        }
    }
}
