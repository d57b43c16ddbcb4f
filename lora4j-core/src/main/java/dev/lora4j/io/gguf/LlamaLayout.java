package dev.lora4j.io.gguf;

import java.util.Map;

/**
 * How llama.cpp's "llama" architecture names and lays out what Hugging Face's Llama checkpoints hold:
 * tensor names, and the per-head row order of q and k. llama.cpp rotates pairs of adjacent rows of a
 * head (GPT-J style); HF rotates its two halves, so a head's rows go from [half][i] to [i][half]
 * (convert_hf_to_gguf.py's permute). Only rows move, so the same holds for any row-wise format.
 */
public final class LlamaLayout {
    private LlamaLayout() {}

    /** HF name after "model.layers.N." → GGUF name after "blk.N.". */
    static final Map<String, String> LAYER = Map.of(
            "input_layernorm.weight", "attn_norm.weight",
            "post_attention_layernorm.weight", "ffn_norm.weight",
            "self_attn.q_proj.weight", "attn_q.weight",
            "self_attn.k_proj.weight", "attn_k.weight",
            "self_attn.v_proj.weight", "attn_v.weight",
            "self_attn.o_proj.weight", "attn_output.weight",
            "mlp.gate_proj.weight", "ffn_gate.weight",
            "mlp.up_proj.weight", "ffn_up.weight",
            "mlp.down_proj.weight", "ffn_down.weight");

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

    /** Heads whose rows llama.cpp reorders for this HF tensor: query heads for q_proj, key/value heads for k_proj, else 0. */
    static int permutedHeads(String hf, int heads, int kvHeads) {
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
