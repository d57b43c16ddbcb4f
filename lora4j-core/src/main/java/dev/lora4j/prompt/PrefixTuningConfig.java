package dev.lora4j.prompt;

import dev.lora4j.Lora4jException;

/**
 * Prefix tuning (Li and Liang 2021, "Prefix-Tuning: Optimizing Continuous Prompts for Generation"), as PEFT's
 * PrefixTuningConfig describes it without the reparameterisation: at every layer, n learned keys and values that each
 * sequence's tokens attend to before their own; they start as torch.nn.Embedding does, normal draws.
 *
 * @param virtualTokens n (num_virtual_tokens); they take n positions of the context
 */
public record PrefixTuningConfig(int virtualTokens) {
    public PrefixTuningConfig {
        if (virtualTokens < 1 || virtualTokens > 100_000) throw new Lora4jException("--prefix-tuning takes 1 to 100000 virtual tokens, got " + virtualTokens);
    }
}
