package dev.lora4j.model;

import dev.lora4j.Lora4jException;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.WeightSource;
import dev.lora4j.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a {@link Transformer} from a Hugging Face checkpoint directory. This is where the two
 * naming schemes live; every tensor's shape is checked against config.json. Module names are the
 * CausalLM model's paths ({@code transformer.h.0.attn.c_attn}, {@code model.layers.0.self_attn.q_proj})
 * whatever prefix the file uses, because PEFT adapter keys are built from those paths.
 */
final class ModelLoader {
    private ModelLoader() {}

    static Transformer load(Path dir) {
        if (java.nio.file.Files.isRegularFile(dir) && dir.getFileName().toString().endsWith(".gguf"))
            return load(dev.lora4j.io.gguf.GgufWeights.open(dir), dir);
        return load(ModelFiles.open(dir), dir.resolve("config.json"));
    }

    /** A model from any weight source (closed again if loading fails); {@code configPath} names its configuration in messages. */
    static Transformer load(WeightSource ck, Path configPath) {
        try {
            ModelConfig c = ModelConfig.parse(configPath, ck.config());
            return switch (c.modelType()) {
                case "gpt2" -> gpt2(ck, c);
                default -> llama(ck, c);
            };
        } catch (RuntimeException e) {
            ck.close();
            throw e;
        }
    }

    private static Transformer gpt2(WeightSource ck, ModelConfig c) {
        String file = ck.has("transformer.wte.weight") ? "transformer." : "";
        int C = c.dim(), F = c.hidden();
        Tensor wte = ck.tensor(file + "wte.weight", c.vocabSize(), C);
        Tensor wpe = ck.tensor(file + "wpe.weight", c.maxPositions(), C);
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < c.layers(); i++) {
            String f = file + "h." + i + ".", m = "transformer.h." + i + ".";
            Linear cAttn = conv1d(ck, f + "attn.c_attn", m + "attn.c_attn", C, 3 * C);
            Linear cProj = conv1d(ck, f + "attn.c_proj", m + "attn.c_proj", C, C);
            Attention attn = new Attention(List.of(cAttn), cProj, c.heads(), c.kvHeads(), c.headDim(), null, 0);
            Mlp mlp = new Mlp.Gelu(conv1d(ck, f + "mlp.c_fc", m + "mlp.c_fc", C, F), conv1d(ck, f + "mlp.c_proj", m + "mlp.c_proj", F, C));
            blocks.add(new Block(i, norm(ck, c, f + "ln_1", true), attn, norm(ck, c, f + "ln_2", true), mlp));
        }
        return new Transformer(c, wte, wpe, blocks, norm(ck, c, file + "ln_f", true), wte, ck);
    }

    private static Transformer llama(WeightSource ck, ModelConfig c) {
        int C = c.dim(), F = c.hidden(), q = c.heads() * c.headDim(), kv = c.kvHeads() * c.headDim();
        var json = ck.config();
        boolean qkvBias = c.modelType().equals("qwen2") || json.path("attention_bias").asBoolean(false);
        boolean oBias = json.path("attention_bias").asBoolean(false);
        boolean mlpBias = json.path("mlp_bias").asBoolean(false);
        boolean fused = c.modelType().equals("phi3"), gemma = c.mlp() instanceof ModelConfig.GeGluMlp, sandwich = c.gemma().sandwichNorms();
        Tensor embed = ck.tensor("model.embed_tokens.weight", c.vocabSize(), C);
        List<Block> blocks = new ArrayList<>();
        for (int i = 0; i < c.layers(); i++) {
            String p = "model.layers." + i + ".";
            Rope rope = new Rope(c.rotaryOf(i), c.headDim());
            // Phi-3 fuses q, k and v into qkv_proj ([q | k | v]) and gate and up into gate_up_proj ([gate | up])
            List<Projection> inputs = fused ? List.of(linear(ck, p + "self_attn.qkv_proj", C, q + 2 * kv, qkvBias))
                    : List.of(linear(ck, p + "self_attn.q_proj", C, q, qkvBias), linear(ck, p + "self_attn.k_proj", C, kv, qkvBias),
                              linear(ck, p + "self_attn.v_proj", C, kv, qkvBias));
            Attention attn = new Attention(inputs, linear(ck, p + "self_attn.o_proj", q, C, oBias), c.heads(), c.kvHeads(), c.headDim(), rope,
                    c.windowOf(i), c.qkNorm() ? headNorm(ck, c, p + "self_attn.q_norm") : null, c.qkNorm() ? headNorm(ck, c, p + "self_attn.k_norm") : null,
                    Attention.Scores.of(c.headDim(), c.gemma().queryScale(), c.gemma().attentionSoftcap()));
            Mlp mlp;
            if (fused) mlp = new Mlp.FusedSwiGlu(linear(ck, p + "mlp.gate_up_proj", C, 2 * F, mlpBias), linear(ck, p + "mlp.down_proj", F, C, mlpBias));
            else if (gemma) mlp = new Mlp.GeGlu(linear(ck, p + "mlp.gate_proj", C, F, mlpBias), linear(ck, p + "mlp.up_proj", C, F, mlpBias),
                                                 linear(ck, p + "mlp.down_proj", F, C, mlpBias));
            else mlp = new Mlp.SwiGlu(linear(ck, p + "mlp.gate_proj", C, F, mlpBias), linear(ck, p + "mlp.up_proj", C, F, mlpBias),
                                      linear(ck, p + "mlp.down_proj", F, C, mlpBias));
            // with sandwich norms (Gemma 2, 3) post_attention_layernorm is the attention's own output norm and
            // pre_feedforward_layernorm the MLP's input norm; elsewhere post_attention_layernorm is the MLP's input norm
            if (sandwich) blocks.add(new Block(i, norm(ck, c, p + "input_layernorm", false), attn, norm(ck, c, p + "pre_feedforward_layernorm", false), mlp,
                    norm(ck, c, p + "post_attention_layernorm", false), norm(ck, c, p + "post_feedforward_layernorm", false)));
            else blocks.add(new Block(i, norm(ck, c, p + "input_layernorm", false), attn, norm(ck, c, p + "post_attention_layernorm", false), mlp));
        }
        Tensor head;
        if (c.tiedHead()) head = embed;
        else if (ck.has("lm_head.weight")) head = ck.tensor("lm_head.weight", c.vocabSize(), C);
        else throw new Lora4jException(ck.dir() + ": missing tensor 'lm_head.weight' (config.json has tie_word_embeddings false)");
        return new Transformer(c, embed, null, blocks, norm(ck, c, "model.norm", false), head, ck);
    }

    /** nn.Linear: weight (out, in). */
    private static Linear linear(WeightSource ck, String name, int in, int out, boolean bias) {
        Tensor w = ck.tensor(name + ".weight", out, in);
        float[] b = bias ? ck.tensor(name + ".bias", out).toArray() : null;
        return new Linear(name, w, b, in, out, false);
    }

    /** GPT-2's Conv1D: weight (in, out), always with a bias. */
    private static Linear conv1d(WeightSource ck, String fileName, String moduleName, int in, int out) {
        Tensor w = ck.tensor(fileName + ".weight", in, out);
        return new Linear(moduleName, w, ck.tensor(fileName + ".bias", out).toArray(), in, out, true);
    }

    /** Qwen3's RMSNorm over one head of q or k: weights (D), the model's eps. */
    private static Norm headNorm(WeightSource ck, ModelConfig c, String name) {
        return new Norm(name, c.norm(), ck.tensor(name + ".weight", c.headDim()).toArray(), null);
    }

    private static Norm norm(WeightSource ck, ModelConfig c, String name, boolean bias) {
        float[] w = ck.tensor(name + ".weight", c.dim()).toArray();
        float[] b = bias ? ck.tensor(name + ".bias", c.dim()).toArray() : null;
        return new Norm(name, c.norm(), w, b);
    }
}
