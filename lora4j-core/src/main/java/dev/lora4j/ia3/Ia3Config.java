package dev.lora4j.ia3;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;

import java.util.List;

/**
 * IA³ (Liu et al. 2022, "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than In-Context Learning"), as
 * PEFT's IA3Config describes it: a learned vector rescales the output of each target module (attention keys and values),
 * or the input of each feed-forward one (the MLP's down projection). Vectors start at 1: training starts at the base.
 *
 * @param targets     modules to rescale (names or .suffixes, as LoRA's target_modules); null: the model type's defaults
 * @param feedforward those of the targets whose input is rescaled, not their output; a subset of targets
 */
public record Ia3Config(LoraConfig.Targets targets, List<String> feedforward) {
    public Ia3Config {
        feedforward = List.copyOf(feedforward);
    }

    /** PEFT's defaults for a model type (its TRANSFORMERS_MODELS_TO_IA3_*_MODULES_MAPPING). */
    public static Ia3Config defaultsFor(String modelType) {
        return switch (modelType) {
            case "gpt2" -> new Ia3Config(new LoraConfig.TargetList(List.of("c_attn", "mlp.c_proj")), List.of("mlp.c_proj"));
            case "phi3" -> new Ia3Config(new LoraConfig.TargetList(List.of("qkv_proj", "down_proj")), List.of("down_proj"));
            case "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text" ->
                    new Ia3Config(new LoraConfig.TargetList(List.of("k_proj", "v_proj", "down_proj")), List.of("down_proj"));
            default -> throw new Lora4jException("no IA³ defaults for model_type '" + modelType + "'; name the modules (--target and --feedforward)");
        };
    }

    /** This configuration with the model type's defaults where it names no targets. */
    public Ia3Config resolvedFor(String modelType) {
        if (targets != null) return this;
        Ia3Config d = defaultsFor(modelType);
        return new Ia3Config(d.targets(), feedforward.isEmpty() ? d.feedforward() : feedforward);
    }

    public boolean adapts(String module) {
        return targets.matches(module);
    }

    /** Whether a target's input (true) or output (false) is rescaled: its name equals or ends with "." + a feed-forward entry. */
    public boolean isFeedforward(String module) {
        for (String f : feedforward) if (module.equals(f) || module.endsWith("." + f)) return true;
        return false;
    }
}
