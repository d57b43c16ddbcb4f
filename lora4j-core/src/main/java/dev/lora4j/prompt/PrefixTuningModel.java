package dev.lora4j.prompt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.KvPrefix;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;
import dev.lora4j.train.Parameter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
        return List.of(new Parameter(PromptTuningModel.KEY, prefix.table(), prefix.grad()));
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
        Files.createDirectories(dir);
        ModelConfig c = base.config();
        int n = config.virtualTokens();
        SafeTensorsWriter.write(dir.resolve(PeftAdapter.WEIGHTS),
                Map.of(PromptTuningModel.KEY, Tensor.of(PromptTuningModel.KEY, prefix.table(), new int[] {n, width(c)})), DType.F32, Map.of("format", "pt"));
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode o = json.createObjectNode();
        o.put("peft_type", "PREFIX_TUNING").put("task_type", "CAUSAL_LM").put("base_model_name_or_path", baseModel);
        o.put("num_virtual_tokens", n).put("token_dim", c.kvHeads() * c.headDim()).put("num_transformer_submodules", 1)
                .put("num_attention_heads", c.kvHeads()).put("num_layers", c.layers()).put("encoder_hidden_size", c.dim()).put("prefix_projection", false);
        o.put("inference_mode", true);
        AtomicFiles.writeString(dir.resolve(PeftAdapter.CONFIG), json.writeValueAsString(o) + "\n");
    }

    /** A prefix-tuning adapter in PEFT's files over base, its shape (layers, key/value heads, head size) and values checked. */
    public static PrefixTuningModel load(Path dir, Transformer base) {
        ModelConfig c = base.config();
        Path file = dir.resolve(PeftAdapter.CONFIG);
        JsonNode j = ModelFiles.readJson(file);
        if (!j.path("peft_type").asText("").equals("PREFIX_TUNING")) throw new Lora4jException(file + ": peft_type must be PREFIX_TUNING, got " + j.get("peft_type"));
        if (!j.path("task_type").asText("CAUSAL_LM").equals("CAUSAL_LM"))
            throw new Lora4jException(file + ": task_type " + j.get("task_type") + " is not supported (expected CAUSAL_LM)");
        int n = positive(file, j, "num_virtual_tokens");
        JsonNode sub = j.get("num_transformer_submodules");
        if (sub != null && !sub.isNull() && sub.asInt() != 1)
            throw new Lora4jException(file + ": num_transformer_submodules " + sub + " (an encoder-decoder prefix) is not supported; a decoder has 1");
        int layers = positive(file, j, "num_layers"), heads = positive(file, j, "num_attention_heads"), tokenDim = positive(file, j, "token_dim");
        if (layers != c.layers() || heads != c.kvHeads() || tokenDim != c.kvHeads() * c.headDim())
            throw new Lora4jException(file + ": a prefix for " + layers + " layers of " + heads + " key/value heads, token_dim " + tokenDim + "; the model has "
                    + c.layers() + " layers of " + c.kvHeads() + " key/value heads of " + c.headDim() + " (token_dim " + c.kvHeads() * c.headDim() + ")");
        if (n >= c.maxPositions()) throw new Lora4jException(file + ": " + n + " virtual tokens leave no room in the model's context of " + c.maxPositions());
        Path weights = dir.resolve(PeftAdapter.WEIGHTS);
        if (!Files.isRegularFile(weights)) throw new Lora4jException(weights + ": file not found");
        try (SafeTensors st = SafeTensors.open(weights)) {
            String key = PromptTuningModel.KEY;
            if (!st.entries().containsKey(key) || st.entries().size() != 1)
                throw new Lora4jException(weights + ": a prefix-tuning adapter holds one tensor, '" + key + "'; found " + st.entries().keySet());
            int[] shape = st.entry(key).shape(), want = {n, width(c)};
            if (!Arrays.equals(shape, want))
                throw new Lora4jException(weights + ": tensor '" + key + "' has shape " + Arrays.toString(shape) + ", expected " + Arrays.toString(want)
                        + " (num_virtual_tokens × layers · 2 · key/value heads · head size)");
            float[] t = st.tensor(key).toArray().clone();
            for (float x : t) if (!Float.isFinite(x)) throw new Lora4jException(weights + ": tensor '" + key + "' holds " + x);
            return new PrefixTuningModel(base, new PrefixTuningConfig(n), t);
        }
    }

    private static int positive(Path file, JsonNode j, String field) {
        JsonNode v = j.get(field);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 1)
            throw new Lora4jException(file + ": " + field + " must be a positive integer, got " + v);
        return v.asInt();
    }
}
