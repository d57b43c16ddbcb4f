package dev.lora4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.nio.file.Path;

/**
 * What a transformer is, read from config.json. Architecture differences are values here
 * (which norm, which position encoding, which MLP), never flags scattered through the code.
 *
 * <p>Dimension letters used across the model package: B batch, T sequence length, C model width
 * ({@code dim}), H query heads, KV key/value heads, D head size, F MLP width ({@code hidden}), V vocabulary.
 */
public record ModelConfig(
        String modelType,
        int vocabSize,        // V
        int dim,              // C
        int layers,
        int heads,            // H
        int kvHeads,          // KV; H % KV == 0, each k/v head serves H/KV consecutive query heads
        int headDim,          // D
        int hidden,           // F
        int maxPositions,
        NormKind norm,
        PositionKind positions,
        MlpKind mlp,
        boolean tiedHead,     // LM head shares the token embedding
        int slidingWindow,    // 0 = full causal attention
        boolean qkNorm) {     // RMSNorm on each head of q and k before the rotation (Qwen3)

    public sealed interface NormKind {
        float eps();
    }

    /** (x − mean)/√(var + eps)·γ + β (GPT-2). */
    public record LayerNormKind(float eps) implements NormKind {}

    /** x/√(mean(x²) + eps)·γ (Llama family). */
    public record RmsNormKind(float eps) implements NormKind {}

    public sealed interface PositionKind {}

    /** A learned table of position embeddings added to the token embeddings (GPT-2's wpe). */
    public record LearnedPositions() implements PositionKind {}

    /** Rotary embeddings on q and k, HF rotate-half convention, with optional Llama-3 frequency scaling or LongRoPE. */
    public record Rotary(double theta, Llama3Scaling scaling, LongRope longRope) implements PositionKind {
        public Rotary(double theta, Llama3Scaling scaling) {
            this(theta, scaling, null);
        }
    }

    /**
     * rope_scaling of type "longrope" (Phi-3 128k, Phi-3.5): per-frequency divisors, the short ones while a forward pass
     * covers at most originalMaxPositions positions and the long ones beyond, and cos and sin scaled by attentionFactor.
     */
    public record LongRope(double[] shortFactor, double[] longFactor, int originalMaxPositions, double attentionFactor) {}

    /** rope_scaling of type "llama3" (Llama 3.1+). */
    public record Llama3Scaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {}

    public sealed interface MlpKind {}

    /** c_proj(gelu_tanh(c_fc(x))). */
    public record GeluMlp() implements MlpKind {}

    /** down(silu(gate(x))·up(x)). */
    public record SwiGluMlp() implements MlpKind {}

    public int qkvWidth() {
        return (heads + 2 * kvHeads) * headDim;
    }

    public static ModelConfig parse(Path file, JsonNode c) {
        String type = text(file, c, "model_type");
        return switch (type) {
            case "gpt2" -> gpt2(file, c);
            case "llama", "mistral", "qwen2", "qwen3", "phi3" -> llama(file, c, type);
            default -> throw new Lora4jException(file + ": model_type '" + type + "' is not supported (expected gpt2, llama, mistral, qwen2, qwen3 or phi3)");
        };
    }

    private static ModelConfig gpt2(Path file, JsonNode c) {
        int dim = integer(file, c, "n_embd");
        int heads = integer(file, c, "n_head");
        if (dim % heads != 0) throw new Lora4jException(file + ": n_embd " + dim + " is not divisible by n_head " + heads);
        String act = c.path("activation_function").asText("gelu_new");
        if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh"))
            throw new Lora4jException(file + ": activation_function '" + act + "' is not supported (expected gelu_new)");
        if (c.path("scale_attn_by_inverse_layer_idx").asBoolean(false) || c.path("reorder_and_upcast_attn").asBoolean(false))
            throw new Lora4jException(file + ": scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported");
        int hidden = c.hasNonNull("n_inner") ? integer(file, c, "n_inner") : 4 * dim;
        int maxPos = c.has("n_positions") ? integer(file, c, "n_positions") : integer(file, c, "n_ctx");
        return new ModelConfig("gpt2", integer(file, c, "vocab_size"), dim, integer(file, c, "n_layer"), heads, heads,
                dim / heads, hidden, maxPos, new LayerNormKind((float) positive(file, c, "layer_norm_epsilon", 1e-5)),
                new LearnedPositions(), new GeluMlp(), true, 0, false);
    }

    private static ModelConfig llama(Path file, JsonNode c, String type) {
        int dim = integer(file, c, "hidden_size");
        int heads = integer(file, c, "num_attention_heads");
        int kvHeads = c.hasNonNull("num_key_value_heads") ? integer(file, c, "num_key_value_heads") : heads;
        if (heads % kvHeads != 0)
            throw new Lora4jException(file + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        int headDim;
        if (c.hasNonNull("head_dim")) headDim = integer(file, c, "head_dim");
        else if (dim % heads != 0) throw new Lora4jException(file + ": hidden_size " + dim + " is not divisible by num_attention_heads " + heads);
        else headDim = dim / heads;
        if (headDim % 2 != 0) throw new Lora4jException(file + ": head size " + headDim + " must be even for rotary embeddings");
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) throw new Lora4jException(file + ": hidden_act '" + act + "' is not supported (expected silu)");
        Llama3Scaling scaling = null;
        // transformers 5 writes rope_theta and any scaling inside rope_parameters; earlier versions at the top
        // level and in rope_scaling.
        JsonNode rp = c.get("rope_parameters");
        if (rp != null && !rp.isNull() && !rp.isObject()) throw new Lora4jException(file + ": rope_parameters must be an object");
        boolean v5 = rp != null && rp.isObject();
        double theta = v5 && rp.has("rope_theta") ? positive(file, rp, "rope_theta", 10000.0) : positive(file, c, "rope_theta", 10000.0);
        JsonNode rs = c.get("rope_scaling");
        if ((rs == null || rs.isNull()) && v5 && !rp.path("rope_type").asText("default").equals("default")) rs = rp;
        LongRope longRope = null;
        if (rs != null && !rs.isNull()) {
            String kind = rs.path("rope_type").asText(rs.path("type").asText(""));
            if (kind.equals("longrope") || kind.equals("su")) longRope = longRope(file, c, rs, headDim);
            else {
                if (!kind.equals("llama3"))
                    throw new Lora4jException(file + ": rope scaling type '" + kind + "' is not supported (expected llama3, longrope or none)");
                try {
                    scaling = new Llama3Scaling(positive(file, rs, "factor"), positive(file, rs, "low_freq_factor"),
                            positive(file, rs, "high_freq_factor"), integer(file, rs, "original_max_position_embeddings"));
                } catch (Lora4jException e) {
                    throw new Lora4jException(e.getMessage().replace("field '", "field 'rope_scaling."));
                }
                if (!(scaling.highFreqFactor() > scaling.lowFreqFactor()))
                    throw new Lora4jException(file + ": rope_scaling high_freq_factor must be greater than low_freq_factor, got "
                            + scaling.highFreqFactor() + " and " + scaling.lowFreqFactor());
            }
        }
        int window = 0;
        // Mistral and Phi-3 apply the window config.json names; Qwen2 only when use_sliding_window says so
        boolean windowOn = type.equals("mistral") || type.equals("phi3") || c.path("use_sliding_window").asBoolean(false);
        if (c.hasNonNull("partial_rotary_factor") && c.get("partial_rotary_factor").asDouble() != 1.0)
            throw new Lora4jException(file + ": partial_rotary_factor " + c.get("partial_rotary_factor") + " is not supported (rotary over the whole head only)");
        if (windowOn && c.hasNonNull("sliding_window")) window = integer(file, c, "sliding_window");
        return new ModelConfig(type, integer(file, c, "vocab_size"), dim, integer(file, c, "num_hidden_layers"), heads, kvHeads,
                headDim, integer(file, c, "intermediate_size"), c.hasNonNull("max_position_embeddings") ? integer(file, c, "max_position_embeddings") : 2048,
                new RmsNormKind((float) positive(file, c, "rms_norm_eps", 1e-6)),
                new Rotary(theta, scaling, longRope), new SwiGluMlp(),
                c.path("tie_word_embeddings").asBoolean(false), window, type.equals("qwen3"));
    }

    /**
     * LongRoPE as transformers reads it: original_max_position_embeddings from config.json (else max_position_embeddings),
     * the attention factor given, or √(1 + ln(factor)/ln(original)) with factor = max_position_embeddings / original.
     */
    private static LongRope longRope(Path file, JsonNode c, JsonNode rs, int headDim) {
        double[] shortF = factors(file, rs, "short_factor", headDim), longF = factors(file, rs, "long_factor", headDim);
        int max = c.hasNonNull("max_position_embeddings") ? integer(file, c, "max_position_embeddings") : 2048;
        int original = c.hasNonNull("original_max_position_embeddings") ? integer(file, c, "original_max_position_embeddings") : max;
        double factor = (double) max / original, attention;
        if (rs.hasNonNull("attention_factor")) attention = positive(file, rs, "attention_factor");
        else attention = factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original));
        return new LongRope(shortF, longF, original, attention);
    }

    private static double[] factors(Path file, JsonNode rs, String name, int headDim) {
        JsonNode a = rs.get(name);
        if (a == null || !a.isArray() || a.size() != headDim / 2)
            throw new Lora4jException(file + ": rope_scaling." + name + " must be an array of " + headDim / 2 + " numbers (head size / 2), got "
                    + (a == null ? "nothing" : a.isArray() ? a.size() + " entries" : a.toString()));
        double[] f = new double[a.size()];
        for (int i = 0; i < f.length; i++) {
            if (!a.get(i).isNumber() || !(a.get(i).asDouble() > 0) || !Double.isFinite(a.get(i).asDouble()))
                throw new Lora4jException(file + ": rope_scaling." + name + "[" + i + "] must be a positive number, got " + a.get(i));
            f[i] = a.get(i).asDouble();
        }
        return f;
    }

    private static JsonNode field(Path file, JsonNode c, String name) {
        JsonNode v = c.get(name);
        if (v == null || v.isNull()) throw new Lora4jException(file + ": missing field '" + name + "'");
        return v;
    }

    private static String text(Path file, JsonNode c, String name) {
        JsonNode v = field(file, c, name);
        if (!v.isTextual()) throw new Lora4jException(file + ": field '" + name + "' must be a string, got " + v);
        return v.asText();
    }

    private static int integer(Path file, JsonNode c, String name) {
        JsonNode v = field(file, c, name);
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0)
            throw new Lora4jException(file + ": field '" + name + "' must be a positive integer, got " + v);
        return v.asInt();
    }

    /** A positive finite number (in float range: norms and rotary run in fp32). */
    private static double positive(Path file, JsonNode c, String name) {
        JsonNode v = field(file, c, name);
        if (!v.isNumber() || !(v.asDouble() > 0) || !Float.isFinite((float) v.asDouble()) || (float) v.asDouble() == 0f)
            throw new Lora4jException(file + ": field '" + name + "' must be a positive finite number, got " + v);
        return v.asDouble();
    }

    private static double positive(Path file, JsonNode c, String name, double absent) {
        return c.hasNonNull(name) ? positive(file, c, name) : absent;
    }
}
