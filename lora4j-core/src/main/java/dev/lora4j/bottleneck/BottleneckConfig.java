package dev.lora4j.bottleneck;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;

import java.util.List;

/**
 * Houlsby bottleneck adapters: after which modules (the attention's and the MLP's output projections by default) and
 * how wide (the bottleneck size m).
 *
 * @param size    the bottleneck's width m
 * @param targets the output projections that get an adapter; null: the model type's attention and MLP outputs
 */
public record BottleneckConfig(int size, LoraConfig.Targets targets) {
    public BottleneckConfig {
        if (size < 1) throw new Lora4jException("--bottleneck-size must be at least 1, got " + size);
    }

    /** Both sub-layers' output projections, where Houlsby puts the adapters. */
    public BottleneckConfig resolvedFor(String modelType) {
        if (targets != null) return this;
        return new BottleneckConfig(size, new LoraConfig.TargetList(switch (modelType) {
            case "gpt2" -> List.of("attn.c_proj", "mlp.c_proj");
            case "llama", "mistral", "qwen2", "qwen3", "phi3", "gemma", "gemma2", "gemma3_text" -> List.of("o_proj", "down_proj");
            default -> throw new Lora4jException("no bottleneck-adapter defaults for model_type '" + modelType + "'; name the modules (--target)");
        }));
    }
}
