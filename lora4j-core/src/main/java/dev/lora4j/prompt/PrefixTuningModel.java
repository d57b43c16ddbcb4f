package dev.lora4j.prompt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.KvPrefix;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.Transformer;
import dev.lora4j.train.Parameter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A frozen base with learned keys and values before every sequence at every layer ({@link KvPrefix}), in PEFT's files:
 * adapter_config.json with peft_type PREFIX_TUNING, and adapter_model.safetensors with {@code prompt_embeddings}
 * (n, L·2·KV·D), the table PEFT turns into past_key_values. For grouped-query models PEFT sizes the entries by the
 * key/value heads (token_dim = KV·D, num_attention_heads = KV), as here. Files written with PEFT's
 * prefix_projection hold the projected table too, and load the same way; training through the projection is not built.
 */
public final class PrefixTuningModel {
    private final Transformer base, model;
    private final PrefixTuningConfig config;
    private final KvPrefix prefix;

    private PrefixTuningModel(Transformer base, PrefixTuningConfig config, float[] table) {
        ModelConfig c = base.config();
        this.base = base;
        this.config = config;
        this.prefix = new KvPrefix(table, new float[table.length], config.virtualTokens(), c.layers(), c.kvHeads() * c.headDim());
        this.model = base.withKvPrefix(prefix);
    }

    /** A fresh prefix of normal draws (torch.nn.Embedding's start, as PEFT's PrefixEncoder has it), from seed. */
    public static PrefixTuningModel inject(Transformer base, PrefixTuningConfig config, long seed) {
        float[] t = new float[Math.multiplyExact(config.virtualTokens(), width(base.config()))];
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < t.length; i++) t[i] = (float) rnd.nextGaussian();
        return new PrefixTuningModel(base, config, t);
    }

    private static int width(ModelConfig c) {
        return Math.multiplyExact(c.layers() * 2, c.kvHeads() * c.headDim());
    }

    public Transformer base() {
        return base;
    }

    /** The base with the prefix before every sequence (the base's weights shared). */
    public Transformer model() {
        return model;
    }

    public PrefixTuningConfig config() {
        return config;
    }

    /** The table (n, L·2·KV·D) and its gradient, named as PEFT saves it. */
    public List<Parameter> parameters() {
        return List.of(new Parameter(PromptLearningFiles.KEY, prefix.table(), prefix.grad()));
    }

    public long trainableParameters() {
        return prefix.table().length;
    }

    /** PEFT's print_trainable_parameters line, and the context the virtual tokens leave. */
    public String trainableLine() {
        long all = base.parameterCount() + trainableParameters();
        return String.format(Locale.ROOT, "prefix tuning, %d virtual tokens at %d layers (context left: %d of %d positions): trainable params: %,d || all params: %,d || trainable%%: %.4f",
                config.virtualTokens(), base.config().layers(), model.config().maxPositions(), base.config().maxPositions(), trainableParameters(), all,
                100.0 * trainableParameters() / all);
    }

    // ------------------------------------------------------------------ files

    public void save(Path dir, String baseModel) throws IOException {
        ModelConfig c = base.config();
        ObjectNode o = PromptLearningFiles.config("PREFIX_TUNING", baseModel, config.virtualTokens(), c.kvHeads() * c.headDim(), c.kvHeads(), c.layers());
        o.put("encoder_hidden_size", c.dim()).put("prefix_projection", false);
        PromptLearningFiles.write(dir, prefix.table(), config.virtualTokens(), width(c), o);
    }

    /** A prefix-tuning adapter in PEFT's files over base, its shape (layers, key/value heads, head size) and values checked. */
    public static PrefixTuningModel load(Path dir, Transformer base) {
        ModelConfig c = base.config();
        JsonNode j = PromptLearningFiles.readConfig(dir, "PREFIX_TUNING");
        int n = j.get("num_virtual_tokens").asInt();
        int layers = PromptLearningFiles.positive(dir, j, "num_layers"), heads = PromptLearningFiles.positive(dir, j, "num_attention_heads"),
                tokenDim = PromptLearningFiles.positive(dir, j, "token_dim");
        if (layers != c.layers() || heads != c.kvHeads() || tokenDim != c.kvHeads() * c.headDim())
            throw new Lora4jException(dir.resolve(PeftAdapter.CONFIG) + ": a prefix for " + layers + " layers of " + heads + " key/value heads, token_dim " + tokenDim
                    + "; the model has " + c.layers() + " layers of " + c.kvHeads() + " key/value heads of " + c.headDim() + " (token_dim " + c.kvHeads() * c.headDim() + ")");
        float[] t = PromptLearningFiles.readTable(dir, n, width(c), "layers · 2 · key/value heads · head size", c.maxPositions());
        return new PrefixTuningModel(base, new PrefixTuningConfig(n), t);
    }
}
