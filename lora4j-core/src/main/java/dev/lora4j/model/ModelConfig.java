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
        int maxPositions,     // positions a caller's tokens may take: the checkpoint's, less virtualTokens
        NormKind norm,
        PositionKind positions,
        MlpKind mlp,
        boolean tiedHead,     // LM head shares the token embedding
        int slidingWindow,    // 0 = full causal attention
        boolean qkNorm,       // RMSNorm on each head of q and k before the rotation (Qwen3, Gemma 3)
        Gemma gemma,          // what the Gemma families add; Gemma.NONE for the others
        int virtualTokens) {  // learned embeddings before every sequence (prompt tuning); 0 for a checkpoint as loaded

    public ModelConfig(String modelType, int vocabSize, int dim, int layers, int heads, int kvHeads, int headDim, int hidden,
                       int maxPositions, NormKind norm, PositionKind positions, MlpKind mlp, boolean tiedHead, int slidingWindow, boolean qkNorm,
                       Gemma gemma) {
        this(modelType, vocabSize, dim, layers, heads, kvHeads, headDim, hidden, maxPositions, norm, positions, mlp, tiedHead,
                slidingWindow, qkNorm, gemma, 0);
    }

    public ModelConfig(String modelType, int vocabSize, int dim, int layers, int heads, int kvHeads, int headDim, int hidden,
                       int maxPositions, NormKind norm, PositionKind positions, MlpKind mlp, boolean tiedHead, int slidingWindow, boolean qkNorm) {
        this(modelType, vocabSize, dim, layers, heads, kvHeads, headDim, hidden, maxPositions, norm, positions, mlp, tiedHead,
                slidingWindow, qkNorm, Gemma.NONE);
    }

    /**
     * Gemma's departures from the Llama block, as values (each neutral in {@link #NONE}):
     * <ul>
     * <li>embeddingScale: the token embeddings are multiplied by it on the way in (√C; the tied head is not);</li>
     * <li>queryScale: attention scores are q·k times it (query_pre_attn_scalar^−½; 0 = 1/√D);</li>
     * <li>attentionSoftcap, logitSoftcap: s ↦ cap·tanh(s/cap) on the attention scores and the final logits (Gemma 2; 0 = none);</li>
     * <li>sandwichNorms: a norm on the attention's and the MLP's outputs too, before each residual add;</li>
     * <li>slidingLayers: which layers attend within the sliding window (null: all of them, when there is one);</li>
     * <li>localRope: the rotary embedding of the sliding layers (Gemma 3's rope_local_base_freq; null: the model's).</li>
     * </ul>
     */
    public record Gemma(float embeddingScale, float queryScale, float attentionSoftcap, float logitSoftcap,
                        boolean sandwichNorms, boolean[] slidingLayers, Rotary localRope) {
        public static final Gemma NONE = new Gemma(1f, 0f, 0f, 0f, false, null, null);
    }

    /**
     * This model with n virtual tokens (learned embeddings) before every sequence: they take the first n positions,
     * so n fewer remain for the caller's tokens.
     */
    public ModelConfig withVirtualTokens(int n) {
        if (n < 0 || n >= maxPositions + virtualTokens)
            throw new Lora4jException(n + " virtual tokens do not fit a context of " + (maxPositions + virtualTokens) + " positions");
        return new ModelConfig(modelType, vocabSize, dim, layers, heads, kvHeads, headDim, hidden, maxPositions + virtualTokens - n, norm, positions,
                mlp, tiedHead, slidingWindow, qkNorm, gemma, n);
    }

    /** The sliding window of layer l: 0 (full causal attention) unless the layer is one of the sliding ones. */
    public int windowOf(int l) {
        return gemma.slidingLayers() == null || gemma.slidingLayers()[l] ? slidingWindow : 0;
    }

    /** The rotary embedding of layer l (Gemma 3's sliding layers have one of their own). */
    public Rotary rotaryOf(int l) {
        return gemma.localRope() != null && windowOf(l) > 0 ? gemma.localRope() : (Rotary) positions;
    }

    /** Whether the MLP is gated (gate and up side by side in its pre-activation, 2F wide). */
    public boolean gatedMlp() {
        return !(mlp instanceof GeluMlp);
    }

    public sealed interface NormKind {
        float eps();
    }

    /** (x − mean)/√(var + eps)·γ + β (GPT-2). */
    public record LayerNormKind(float eps) implements NormKind {}

    /**
     * x/√(mean(x²) + eps)·(offset + γ): offset 0 for the Llama family, 1 for Gemma, whose checkpoints
     * store the weight as γ − 1.
     */
    public record RmsNormKind(float eps, float offset) implements NormKind {
        public RmsNormKind(float eps) {
            this(eps, 0f);
        }
    }

    public sealed interface PositionKind {}

    /** A learned table of position embeddings added to the token embeddings (GPT-2's wpe). */
    public record LearnedPositions() implements PositionKind {}

    /**
     * Rotary embeddings on q and k, HF rotate-half convention, with optional Llama-3 frequency scaling or LongRoPE,
     * or linear scaling (positions divided by linearFactor; 1 = none).
     */
    public record Rotary(double theta, Llama3Scaling scaling, LongRope longRope, double linearFactor) implements PositionKind {
        public Rotary(double theta, Llama3Scaling scaling) {
            this(theta, scaling, null, 1.0);
        }

        public Rotary(double theta, Llama3Scaling scaling, LongRope longRope) {
            this(theta, scaling, longRope, 1.0);
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

    /** down(gelu_tanh(gate(x))·up(x)) (Gemma). */
    public record GeGluMlp() implements MlpKind {}

    public int qkvWidth() {
        return (heads + 2 * kvHeads) * headDim;
    }

    public static ModelConfig parse(Path file, JsonNode c) {
        String type = text(file, c, "model_type");
        return switch (type) {
            case "gpt2" -> gpt2(file, c);
            case "llama", "mistral", "qwen2", "qwen3", "phi3" -> llama(file, c, type);
            case "gemma", "gemma2", "gemma3_text" -> gemma(file, c, type);
            case "bert", "roberta", "xlm-roberta" -> throw new Lora4jException(file + ": model_type '" + type + "' is an encoder; `lora4j embed`, `inspect`,"
                    + " `tune-embeddings` and `train --task seq-cls` run it (this command needs a decoder: gpt2, llama, mistral, qwen2, qwen3, phi3 or gemma)");
            default -> throw new Lora4jException(file + ": model_type '" + type
                    + "' is not supported (expected gpt2, llama, mistral, qwen2, qwen3, phi3, gemma, gemma2 or gemma3_text)");
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
        boolean gemma = type.startsWith("gemma");
        String act = c.path("hidden_act").asText("silu");
        if (!gemma && !act.equals("silu")) throw new Lora4jException(file + ": hidden_act '" + act + "' is not supported (expected silu)");
        // transformers 5 writes rope_theta and any scaling inside rope_parameters (Gemma 3: one set per layer type);
        // earlier versions at the top level and in rope_scaling
        JsonNode rp = c.get("rope_parameters");
        if (rp != null && !rp.isNull() && !rp.isObject()) throw new Lora4jException(file + ": rope_parameters must be an object");
        if (rp != null && rp.isObject() && rp.has("full_attention")) rp = rp.get("full_attention");
        Rotary rotary = rotary(file, c, rp != null && rp.isObject() ? rp : null, headDim);
        int window = 0;
        // Mistral, Phi-3 and Gemma 2/3 apply the window config.json names; Qwen2 only when use_sliding_window says so
        boolean windowOn = type.equals("mistral") || type.equals("phi3") || type.equals("gemma2") || type.equals("gemma3_text")
                || c.path("use_sliding_window").asBoolean(false);
        if (c.hasNonNull("partial_rotary_factor") && c.get("partial_rotary_factor").asDouble() != 1.0)
            throw new Lora4jException(file + ": partial_rotary_factor " + c.get("partial_rotary_factor") + " is not supported (rotary over the whole head only)");
        if (windowOn && c.hasNonNull("sliding_window")) window = integer(file, c, "sliding_window");
        return new ModelConfig(type, integer(file, c, "vocab_size"), dim, integer(file, c, "num_hidden_layers"), heads, kvHeads,
                headDim, integer(file, c, "intermediate_size"), c.hasNonNull("max_position_embeddings") ? integer(file, c, "max_position_embeddings") : 2048,
                new RmsNormKind((float) positive(file, c, "rms_norm_eps", 1e-6)), rotary, new SwiGluMlp(),
                c.path("tie_word_embeddings").asBoolean(gemma), window, type.equals("qwen3") || type.equals("gemma3_text"));
    }

    /**
     * Gemma (1), Gemma 2 and Gemma 3's text model: the Llama layout with GeGLU, RMSNorm weights stored as γ − 1,
     * embeddings scaled by √C, and for 2 and 3 norms around both halves of the block, sliding-window layers
     * between global ones, and soft-capped scores (2) or q/k norms and a rotary base of their own for the
     * sliding layers (3).
     */
    private static ModelConfig gemma(Path file, JsonNode c, String type) {
        ModelConfig l = llama(file, c, type);
        String act = c.hasNonNull("hidden_activation") ? c.get("hidden_activation").asText() : c.path("hidden_act").asText("gelu_pytorch_tanh");
        // the first Gemma checkpoints say "gelu", which transformers runs as the tanh approximation
        if (!act.equals("gelu_pytorch_tanh") && !(type.equals("gemma") && act.equals("gelu")))
            throw new Lora4jException(file + ": hidden_activation '" + act + "' is not supported (expected gelu_pytorch_tanh)");
        float queryScale = c.hasNonNull("query_pre_attn_scalar") ? (float) (1.0 / Math.sqrt(positive(file, c, "query_pre_attn_scalar"))) : 0f;
        boolean[] sliding = null;
        Rotary local = null;
        if (!type.equals("gemma")) {
            sliding = new boolean[l.layers()];
            JsonNode types = c.get("layer_types");
            int pattern = type.equals("gemma2") ? 2 : c.hasNonNull("sliding_window_pattern") ? integer(file, c, "sliding_window_pattern") : 6;
            for (int i = 0; i < sliding.length; i++) {
                if (types == null || types.isNull()) sliding[i] = (i + 1) % pattern != 0;
                else {
                    String t = types.isArray() && types.size() == sliding.length ? types.get(i).asText("") : "";
                    if (!t.equals("sliding_attention") && !t.equals("full_attention"))
                        throw new Lora4jException(file + ": layer_types must list 'sliding_attention' or 'full_attention' for each of the "
                                + sliding.length + " layers, got " + types);
                    sliding[i] = t.equals("sliding_attention");
                }
                if (sliding[i] && l.slidingWindow() == 0)
                    throw new Lora4jException(file + ": missing field 'sliding_window' (layer " + i + " is a sliding-window layer)");
            }
            if (type.equals("gemma3_text")) {
                JsonNode rp = c.path("rope_parameters").path("sliding_attention");
                double theta = rp.isObject() && rp.hasNonNull("rope_theta") ? positive(file, rp, "rope_theta")
                        : positive(file, c, "rope_local_base_freq", 10000.0);
                local = new Rotary(theta, null);
            }
        }
        Gemma g = new Gemma((float) Math.sqrt(l.dim()), queryScale, (float) positiveOrNone(file, c, "attn_logit_softcapping"),
                (float) positiveOrNone(file, c, "final_logit_softcapping"), !type.equals("gemma"), sliding, local);
        return new ModelConfig(type, l.vocabSize(), l.dim(), l.layers(), l.heads(), l.kvHeads(), l.headDim(), l.hidden(), l.maxPositions(),
                new RmsNormKind(l.norm().eps(), 1f), l.positions(), new GeGluMlp(), l.tiedHead(), l.slidingWindow(), l.qkNorm(), g);
    }

    /** The rotary embedding: theta and any scaling (llama3, longrope, linear), from rope_parameters (transformers 5) or the top level. */
    private static Rotary rotary(Path file, JsonNode c, JsonNode rp, int headDim) {
        double theta = rp != null && rp.has("rope_theta") ? positive(file, rp, "rope_theta", 10000.0) : positive(file, c, "rope_theta", 10000.0);
        JsonNode rs = c.get("rope_scaling");
        if ((rs == null || rs.isNull()) && rp != null && !rp.path("rope_type").asText("default").equals("default")) rs = rp;
        if (rs == null || rs.isNull()) return new Rotary(theta, null);
        String kind = rs.path("rope_type").asText(rs.path("type").asText(""));
        switch (kind) {
            case "longrope", "su" -> {
                return new Rotary(theta, null, longRope(file, c, rs, headDim));
            }
            case "linear" -> {
                return new Rotary(theta, null, null, positive(file, rs, "factor"));
            }
            case "default" -> {
                return new Rotary(theta, null);
            }
            case "llama3" -> {
                Llama3Scaling scaling;
                try {
                    scaling = new Llama3Scaling(positive(file, rs, "factor"), positive(file, rs, "low_freq_factor"),
                            positive(file, rs, "high_freq_factor"), integer(file, rs, "original_max_position_embeddings"));
                } catch (Lora4jException e) {
                    throw new Lora4jException(e.getMessage().replace("field '", "field 'rope_scaling."));
                }
                if (!(scaling.highFreqFactor() > scaling.lowFreqFactor()))
                    throw new Lora4jException(file + ": rope_scaling high_freq_factor must be greater than low_freq_factor, got "
                            + scaling.highFreqFactor() + " and " + scaling.lowFreqFactor());
                return new Rotary(theta, scaling);
            }
            default -> throw new Lora4jException(file + ": rope scaling type '" + kind + "' is not supported (expected llama3, longrope, linear or none)");
        }
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

    /** A positive finite number, or 0 when the field is absent or null (a feature turned off). */
    private static double positiveOrNone(Path file, JsonNode c, String name) {
        return positive(file, c, name, 0.0);
    }
}
