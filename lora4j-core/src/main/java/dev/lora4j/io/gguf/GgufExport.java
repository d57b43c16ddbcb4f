package dev.lora4j.io.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.Block;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.Projection;
import dev.lora4j.model.Transformer;
import dev.lora4j.quant.GgmlMatrix;
import dev.lora4j.quant.QuantizedMatrix;
import dev.lora4j.tensor.Mat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes what llama.cpp loads: a model of its "llama" or "qwen2" architecture (F32, F16, Q8_0 or Q4_0; norms stay F32,
 * and rows that are not whole 32-element blocks fall back to F16, as its converter does), and a
 * LoRA adapter (general.type "adapter", lora_a / lora_b tensors per target, q and k rows permuted as
 * for the model). The tokenizer goes into the model's metadata ({@link GgufVocab}).
 */
public final class GgufExport {
    private GgufExport() {}

    /**
     * llama.cpp's architecture for this model: "llama" (Llama, Mistral without a sliding window) or "qwen2"
     * (Qwen2 without one); anything else is refused by name.
     */
    static String architecture(Transformer m, JsonNode config) {
        ModelConfig c = m.config();
        boolean plain = c.slidingWindow() == 0 && !c.qkNorm() && !config.path("attention_bias").asBoolean(false) && !config.path("mlp_bias").asBoolean(false);
        String arch = switch (c.modelType()) {
            case "llama", "mistral" -> "llama";
            case "qwen2" -> "qwen2";
            default -> null;
        };
        if (arch == null || !plain)
            throw new Lora4jException("export-gguf writes llama.cpp's llama architecture (Llama, Mistral without a sliding window) and qwen2 (Qwen2 without one);"
                    + " this one is " + c.modelType() + (arch != null ? " with a sliding window or extra biases" : ""));
        if (c.positions() instanceof ModelConfig.Rotary r && r.longRope() != null)
            throw new Lora4jException("export-gguf: LongRoPE (rope_scaling longrope) is not written to GGUF yet; llama3 scaling is");
        return arch;
    }

    /** The model (its weights as they are now: a merged model passes its merged weights) as a GGUF file. */
    public static void writeModel(Transformer m, Path modelDir, Path out, GgmlType type, String name) throws IOException {
        if (type != GgmlType.F32 && type != GgmlType.F16 && type != GgmlType.Q8_0 && type != GgmlType.Q4_0)
            throw new Lora4jException("--type must be f32, f16, q8_0 or q4_0, got " + type);
        JsonNode config = m.source() != null ? m.source().config() : null;
        if (config == null) throw new Lora4jException("export-gguf needs a model loaded from files");
        String arch = architecture(m, config), p0 = arch + ".";
        ModelConfig c = m.config();
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", arch).put("general.type", "model").put("general.name", name);
        w.put("general.file_type", switch (type) { case F16 -> 1; case Q8_0 -> 7; case Q4_0 -> 2; default -> 0; });
        w.put(p0 + "context_length", c.maxPositions()).put(p0 + "embedding_length", c.dim()).put(p0 + "block_count", c.layers());
        w.put(p0 + "feed_forward_length", c.hidden()).put(p0 + "attention.head_count", c.heads()).put(p0 + "attention.head_count_kv", c.kvHeads());
        w.put(p0 + "rope.dimension_count", c.headDim()).put(p0 + "vocab_size", c.vocabSize());
        w.put(p0 + "rope.freq_base", (float) ((ModelConfig.Rotary) c.positions()).theta());
        w.put(p0 + "attention.layer_norm_rms_epsilon", c.norm().eps());
        GgufVocab.of(modelDir, config, c.vocabSize()).writeTo(w);
        matrix(w, "token_embd.weight", m.tokenEmbedding().mat(), 0, type);
        ModelConfig.Rotary rotary = (ModelConfig.Rotary) c.positions();
        if (rotary.scaling() != null) // Llama 3.1+: llama.cpp divides each frequency by rope_freqs
            vector(w, "rope_freqs.weight", dev.lora4j.model.Rope.llama3Divisors(rotary.theta(), c.headDim(), rotary.scaling()));
        vector(w, "output_norm.weight", m.finalNorm().weight());
        if (!c.tiedHead()) matrix(w, "output.weight", m.head().mat(), 0, type);
        for (Block b : m.blocks()) {
            String p = "blk." + b.index() + ".";
            vector(w, p + "attn_norm.weight", b.norm1().weight());
            vector(w, p + "ffn_norm.weight", b.norm2().weight());
            for (Projection proj : b.projections()) {
                String hf = proj.name() + ".weight", g = LlamaLayout.ggufName(hf);
                matrix(w, g, proj.base().wT().t(), LlamaLayout.permutedHeads(arch, hf, c.heads(), c.kvHeads()), type);
                if (proj.base().bias() != null) vector(w, LlamaLayout.ggufName(proj.name() + ".bias"), proj.base().bias());
            }
        }
        w.write(out);
    }

    /**
     * A PEFT LoRA adapter as llama.cpp's adapter GGUF. llama.cpp scales each pair by alpha / rank: with one
     * rank and scale throughout, alpha = scale · rank; otherwise each B carries its own scale and alpha is 0
     * (llama.cpp then applies the user's scale alone).
     */
    public static void writeAdapter(LoraModel lm, Path out) throws IOException {
        if (lm.config().loraBias())
            throw new dev.lora4j.Lora4jException("llama.cpp's LoRA adapters have no lora_B bias; export the merged model instead (export-gguf --model BASE --adapter A --merge --out F.gguf)");
        if (lm.config().dora())
            throw new dev.lora4j.Lora4jException("llama.cpp's LoRA adapters have no DoRA magnitudes; export the merged model instead (export-gguf --model BASE --adapter A --merge --out F.gguf)");
        Transformer base = lm.base();
        String arch = architecture(base, base.source() != null ? base.source().config() : com.fasterxml.jackson.databind.node.MissingNode.getInstance());
        ModelConfig c = base.config();
        List<LoraLinear> modules = new ArrayList<>(lm.modules().values());
        boolean uniform = modules.stream().allMatch(l -> l.rank() == modules.getFirst().rank() && l.scale() == modules.getFirst().scale());
        GgufWriter w = new GgufWriter();
        w.put("general.architecture", arch).put("general.type", "adapter").put("adapter.type", "lora");
        w.put("adapter.lora.alpha", uniform ? modules.getFirst().scale() * modules.getFirst().rank() : 0f);
        for (LoraLinear l : modules) {
            String hf = l.name() + ".weight", g = LlamaLayout.ggufName(hf);
            if (g == null) throw new Lora4jException("export-gguf: llama.cpp has no tensor for the adapted module " + l.name());
            int in = l.base().in(), outDim = l.base().out(), r = l.rank(), heads = LlamaLayout.permutedHeads(arch, hf, c.heads(), c.kvHeads());
            float scale = uniform ? 1f : l.scale();
            matrix(w, g + ".lora_a", Mat.of(l.a(), 0, r, in), 0, GgmlType.F32);
            float[] b = l.b().clone();
            for (int i = 0; i < b.length; i++) b[i] *= scale;
            matrix(w, g + ".lora_b", Mat.of(b, 0, outDim, r), heads, GgmlType.F32);
        }
        w.write(out);
    }

    private static void vector(GgufWriter w, String name, float[] v) {
        w.tensor(name, new long[] {v.length}, GgmlType.F32, () -> floats(v, 0, v.length));
    }

    /** A (rows, cols) matrix, rows in llama.cpp's order (q and k permuted by head), in the requested type. */
    private static void matrix(GgufWriter w, String name, Mat m, int heads, GgmlType type) {
        int rows = m.rows(), cols = m.cols();
        GgmlType t = type.quant != null && cols % type.blockSize != 0 ? GgmlType.F16 : type;
        QuantizedMatrix.RowSource row = (g, dst) -> {
            int r = LlamaLayout.hfRow(g, rows, heads);
            if (m.colStride() == 1) m.copyRow(r, 0, dst, 0, cols);
            else for (int p = 0; p < cols; p++) dst[p] = m.get(r, p);
        };
        w.tensor(name, new long[] {rows, cols}, t, () -> {
            if (t.quant != null)
                return ((GgmlMatrix) QuantizedMatrix.quantize(t.quant, rows, cols, row)).data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
            ByteBuffer out = ByteBuffer.allocate(Math.toIntExact((long) rows * cols * (t == GgmlType.F32 ? 4 : 2))).order(ByteOrder.LITTLE_ENDIAN);
            float[] v = new float[cols];
            for (int g = 0; g < rows; g++) {
                row.row(g, v);
                for (float x : v) {
                    if (t == GgmlType.F32) out.putFloat(x);
                    else out.putShort(Float.floatToFloat16(x));
                }
            }
            return out.array();
        });
    }

    private static byte[] floats(float[] v, int from, int n) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) b.putFloat(v[from + i]);
        return b.array();
    }
}
