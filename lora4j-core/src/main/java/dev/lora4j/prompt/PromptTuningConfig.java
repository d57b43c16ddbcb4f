package dev.lora4j.prompt;

import dev.lora4j.Lora4jException;

import java.util.Locale;

/**
 * Prompt tuning (Lester et al. 2021, "The Power of Scale for Parameter-Efficient Prompt Tuning"), as PEFT's
 * PromptTuningConfig describes it: n learned embeddings before every sequence, the base model frozen.
 *
 * @param virtualTokens n, the virtual tokens (num_virtual_tokens); they take n positions of the context
 * @param init          how the embeddings start (prompt_tuning_init)
 * @param initText      with {@link Init#TEXT}: the text whose token embeddings (with the tokenizer's special tokens,
 *                      repeated or cut to n) they start from (prompt_tuning_init_text); otherwise null
 */
public record PromptTuningConfig(int virtualTokens, Init init, String initText) {
    /** PEFT's PromptTuningInit. */
    public enum Init {
        /** Normal(0, 1) draws, torch.nn.Embedding's own start. */
        RANDOM,
        /** The embeddings of n token ids drawn uniformly from the vocabulary. */
        SAMPLE_VOCAB,
        /** The embeddings of initText's tokens. */
        TEXT;

        public static Init parse(String s) {
            try {
                return valueOf(s.strip().toUpperCase(Locale.ROOT).replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw new Lora4jException("prompt tuning init '" + s + "': expected random, sample-vocab or text");
            }
        }
    }

    public PromptTuningConfig {
        if (virtualTokens < 1 || virtualTokens > 100_000) throw new Lora4jException("--prompt-tuning takes 1 to 100000 virtual tokens, got " + virtualTokens);
        if (init == null) init = initText == null ? Init.RANDOM : Init.TEXT;
        if (init == Init.TEXT && (initText == null || initText.isEmpty()))
            throw new Lora4jException("prompt tuning init 'text' needs the text (--prompt-init-text)");
        if (init != Init.TEXT && initText != null) throw new Lora4jException("--prompt-init-text goes with init 'text', not '" + init.name().toLowerCase(Locale.ROOT) + "'");
    }

    public static PromptTuningConfig random(int virtualTokens) {
        return new PromptTuningConfig(virtualTokens, Init.RANDOM, null);
    }

    public static PromptTuningConfig text(int virtualTokens, String text) {
        return new PromptTuningConfig(virtualTokens, Init.TEXT, text);
    }
}
