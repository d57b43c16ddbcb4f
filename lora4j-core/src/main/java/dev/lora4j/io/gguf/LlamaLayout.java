package dev.lora4j.io.gguf;

import java.util.Map;

/**
 * How llama.cpp's "llama" and "qwen2" architectures name and lay out what Hugging Face's Llama-family
 * checkpoints hold: tensor names, and the per-head row order of q and k. For "llama", llama.cpp rotates
 * pairs of adjacent rows of a head (GPT-J style) where HF rotates its two halves, so a head's rows go from
 * [half][i] to [i][half] (convert_hf_to_gguf.py's permute); only rows move, so the same holds for any
 * row-wise format. "qwen2" rotates halves as HF does (NeoX style): nothing moves, and q, k, v have biases.
 */
public final class LlamaLayout {
    private LlamaLayout() {}

    /** HF name after "model.layers.N." → GGUF name after "blk.N.". */
    static final Map<String, String> LAYER = Map.ofEntries(
            Map.entry("self_attn.q_proj.bias", "attn_q.bias"),
            Map.entry("self_attn.k_proj.bias", "attn_k.bias"),
            Map.entry("self_attn.v_proj.bias", "attn_v.bias"),
            Map.entry("input_layernorm.weight", "attn_norm.weight"),
            Map.entry("post_attention_layernorm.weight", "ffn_norm.weight"),
            Map.entry("self_attn.q_proj.weight", "attn_q.weight"),
            Map.entry("self_attn.k_proj.weight", "attn_k.weight"),
            Map.entry("self_attn.v_proj.weight", "attn_v.weight"),
            Map.entry("self_attn.o_proj.weight", "attn_output.weight"),
            Map.entry("mlp.gate_proj.weight", "ffn_gate.weight"),
            Map.entry("mlp.up_proj.weight", "ffn_up.weight"),
            Map.entry("mlp.down_proj.weight", "ffn_down.weight"));

    static final Map<String, String> GLOBAL = Map.of(
            "model.embed_tokens.weight", "token_embd.weight",
            "model.norm.weight", "output_norm.weight",
            "lm_head.weight", "output.weight");

    /** The GGUF name of an HF tensor name, or null if llama.cpp's llama architecture has no such tensor. */
    public static String ggufName(String hf) {
        String g = GLOBAL.get(hf);
        if (g != null) return g;
        if (!hf.startsWith("model.layers.")) return null;
        int dot = hf.indexOf('.', "model.layers.".length());
        if (dot < 0) return null;
        String layer = hf.substring("model.layers.".length(), dot), rest = LAYER.get(hf.substring(dot + 1));
        return rest == null ? null : "blk." + layer + "." + rest;
    }

    /** The llama.cpp architectures lora4j reads and writes; the HF model_type of each is the same name. */
    static final java.util.Set<String> ARCHITECTURES = java.util.Set.of("llama", "qwen2");

    /**
     * Heads whose rows llama.cpp reorders for this HF tensor of architecture {@code arch}: query heads for
     * q_proj, key/value heads for k_proj (llama only), else 0.
     */
    static int permutedHeads(String arch, String hf, int heads, int kvHeads) {
        if (!arch.equals("llama")) return 0;
        if (hf.endsWith("self_attn.q_proj.weight")) return heads;
        if (hf.endsWith("self_attn.k_proj.weight")) return kvHeads;
        return 0;
    }

    /** The HF row stored at GGUF row g of a tensor with {@code heads} heads of {@code rows / heads} rows each. */
    static int hfRow(int g, int rows, int heads) {
        if (heads == 0) return g;
        int d = rows / heads, h = g / d, within = g % d;
        return h * d + (within % 2) * (d / 2) + within / 2;
    }
}
