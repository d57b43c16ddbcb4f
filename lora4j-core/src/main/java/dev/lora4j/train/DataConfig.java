package dev.lora4j.train;

import dev.lora4j.Lora4jException;

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
 */
public record DataConfig(Path train, Path eval, double evalSplit, boolean pack, boolean skipBadLines, Path chatTemplate) {
    public DataConfig {
        if (train == null) throw new Lora4jException("--data must be given");
        Check.inUnit("--eval-split", evalSplit);
        if (evalSplit > 0 && eval != null) throw new Lora4jException("give --eval-data or --eval-split, not both");
    }

    /** Training data only, read strictly, one example a row. */
    public static DataConfig of(Path train) {
        return new DataConfig(train, null, 0, false, false, null);
    }

    public DataConfig withEval(Path v) {
        return new DataConfig(train, v, evalSplit, pack, skipBadLines, chatTemplate);
    }
}
