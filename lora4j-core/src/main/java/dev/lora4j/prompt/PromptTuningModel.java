package dev.lora4j.prompt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.SoftPrompt;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tokenizer.Tokenizer;
import dev.lora4j.train.Parameter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A frozen base with a soft prompt before every sequence ({@link SoftPrompt}), and the prompt in PEFT's files:
 * adapter_config.json with peft_type PROMPT_TUNING, and adapter_model.safetensors with {@code prompt_embeddings} (n, C).
 * Nothing in the base changes, so there is nothing to merge; the price is n positions of every sequence's context.
 */
public final class PromptTuningModel {
    private final Transformer base, model;
    private final PromptTuningConfig config;
    private final SoftPrompt prompt;

    private PromptTuningModel(Transformer base, PromptTuningConfig config, float[] embeddings) {
        this.base = base;
        this.config = config;
        this.prompt = new SoftPrompt(embeddings, new float[embeddings.length], config.virtualTokens());
        this.model = base.withSoftPrompt(prompt);
    }

    /**
     * A fresh soft prompt as config says: random draws, sampled vocabulary rows, or the embeddings of config's text as
     * tokenizer encodes it with its special tokens (repeated or cut to n), PEFT's three starts. tokenizer may be null
     * unless the start is text; seed drives the random ones.
     */
    public static PromptTuningModel inject(Transformer base, PromptTuningConfig config, Tokenizer tokenizer, long seed) {
        int n = config.virtualTokens(), dim = base.config().dim(), vocab = base.config().vocabSize();
        float[] e = new float[Math.multiplyExact(n, dim)];
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] ids = switch (config.init()) {
            case RANDOM -> null;
            case SAMPLE_VOCAB -> rnd.ints(n, 0, vocab).toArray();
            case TEXT -> {
                if (tokenizer == null) throw new Lora4jException("prompt tuning init 'text' needs the model's tokenizer, and the model has none");
                int[] text = tokenizer.encodeWithSpecialTokens(config.initText());
                if (text.length == 0) throw new Lora4jException("--prompt-init-text '" + config.initText() + "' encodes to no token");
                int[] rep = new int[n];
                for (int j = 0; j < n; j++) rep[j] = text[j % text.length];
                yield rep;
            }
        };
        if (ids == null) for (int i = 0; i < e.length; i++) e[i] = (float) rnd.nextGaussian();
        else {
            Mat wte = base.tokenEmbedding().mat();
            for (int j = 0; j < n; j++) {
                if (ids[j] >= vocab) throw new Lora4jException("--prompt-init-text encodes to id " + ids[j] + ", outside the model's vocabulary of " + vocab);
                wte.copyRow(ids[j], 0, e, j * dim, dim);
            }
        }
        return new PromptTuningModel(base, config, e);
    }

    public Transformer base() {
        return base;
    }

    /** The base with the soft prompt before every sequence (the base's weights shared). */
    public Transformer model() {
        return model;
    }

    public PromptTuningConfig config() {
        return config;
    }

    /** The embeddings (n, C) and their gradient, named as PEFT saves them. */
    public List<Parameter> parameters() {
        return List.of(new Parameter(PromptLearningFiles.KEY, prompt.embeddings(), prompt.grad()));
    }

    public long trainableParameters() {
        return prompt.embeddings().length;
    }

    /** PEFT's print_trainable_parameters line, and the context the virtual tokens leave. */
    public String trainableLine() {
        long all = base.parameterCount() + trainableParameters();
        return String.format(Locale.ROOT, "prompt tuning, %d virtual tokens (context left: %d of %d positions): trainable params: %,d || all params: %,d || trainable%%: %.4f",
                config.virtualTokens(), model.config().maxPositions(), base.config().maxPositions(), trainableParameters(), all, 100.0 * trainableParameters() / all);
    }

    // ------------------------------------------------------------------ files

    public void save(Path dir, String baseModel) throws IOException {
        int n = config.virtualTokens(), dim = base.config().dim();
        ObjectNode o = PromptLearningFiles.config("PROMPT_TUNING", baseModel, n, dim, base.config().heads(), base.config().layers());
        o.put("prompt_tuning_init", config.init().name());
        if (config.initText() == null) o.putNull("prompt_tuning_init_text");
        else o.put("prompt_tuning_init_text", config.initText());
        o.put("tokenizer_name_or_path", baseModel).putNull("tokenizer_kwargs");
        PromptLearningFiles.write(dir, prompt.embeddings(), n, dim, o);
    }

    public static PromptTuningConfig readConfig(Path dir, int dim) {
        JsonNode c = PromptLearningFiles.readConfig(dir, "PROMPT_TUNING");
        JsonNode td = c.get("token_dim");
        if (td != null && !td.isNull() && td.asInt() != dim)
            throw new Lora4jException(dir.resolve(PeftAdapter.CONFIG) + ": token_dim " + td + " does not match the model's width " + dim);
        JsonNode text = c.get("prompt_tuning_init_text");
        PromptTuningConfig.Init kind = PromptTuningConfig.Init.parse(c.path("prompt_tuning_init").asText("RANDOM"));
        return new PromptTuningConfig(c.get("num_virtual_tokens").asInt(), kind, kind == PromptTuningConfig.Init.TEXT && text != null && text.isTextual() ? text.asText() : null);
    }

    /** A prompt-tuning adapter in PEFT's files over base, its tensor's name, shape and values checked. */
    public static PromptTuningModel load(Path dir, Transformer base) {
        int dim = base.config().dim();
        PromptTuningConfig config = readConfig(dir, dim);
        float[] e = PromptLearningFiles.readTable(dir, config.virtualTokens(), dim, "the model's width", base.config().maxPositions());
        return new PromptTuningModel(base, config, e);
    }
}
