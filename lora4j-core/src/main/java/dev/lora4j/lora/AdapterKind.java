package dev.lora4j.lora;

import dev.lora4j.Lora4jException;
import dev.lora4j.bottleneck.BottleneckModel;
import dev.lora4j.ia3.Ia3Model;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.model.Transformer;
import dev.lora4j.prompt.PromptTuningModel;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What an adapter directory holds, by adapter_config.json's peft_type: LoRA (many may serve side by side, mixed per
 * request), or IA³ or bottleneck adapters, a soft prompt or a prefix, which change the model every request runs ({@link #apply}).
 */
public enum AdapterKind {
    LORA, IA3, BOTTLENECK, PROMPT_TUNING, PREFIX_TUNING;

    public static AdapterKind of(Path dir) {
        Path file = dir.resolve(PeftAdapter.CONFIG);
        if (!Files.isRegularFile(file)) return LORA; // PeftAdapter.load names what is missing
        return switch (ModelFiles.readJson(file).path("peft_type").asText("LORA")) {
            case "IA3" -> IA3;
            case "BOTTLENECK" -> BOTTLENECK;
            case "PROMPT_TUNING" -> PROMPT_TUNING;
            case "PREFIX_TUNING" -> PREFIX_TUNING;
            default -> LORA;
        };
    }

    /** Whether the adapter applies to the whole model (IA³, bottleneck, soft prompt, prefix), not per request. */
    public boolean whole() {
        return this != LORA;
    }

    /**
     * Whether the adapter in dir applies to the whole model: IA³, bottleneck, prompt or prefix tuning, or LoRA that also
     * trains the input embedding or the LM head (modules_to_save, trainable tokens), which every row of a batch shares.
     */
    public static boolean appliesWhole(Path dir) {
        AdapterKind k = of(dir);
        return k.whole() || k == LORA && !PeftAdapter.readConfig(dir).embeddings().none();
    }

    /** What the adapter is, in words, for messages. */
    public String description() {
        return switch (this) {
            case LORA -> "a LoRA adapter";
            case IA3 -> "IA³ vectors";
            case BOTTLENECK -> "bottleneck adapters";
            case PROMPT_TUNING -> "a soft prompt (prompt tuning)";
            case PREFIX_TUNING -> "learned keys and values (prefix tuning)";
        };
    }

    /** base with the adapter in dir on it, unmerged (the loaded weights shared). */
    public static Transformer apply(Path dir, Transformer base) {
        return switch (of(dir)) {
            case IA3 -> Ia3Model.load(dir, base).model();
            case BOTTLENECK -> BottleneckModel.load(dir, base).model();
            case PROMPT_TUNING -> PromptTuningModel.load(dir, base).model();
            case PREFIX_TUNING -> dev.lora4j.prompt.PrefixTuningModel.load(dir, base).model();
            case LORA -> PeftAdapter.load(dir, base).model();
        };
    }
}
