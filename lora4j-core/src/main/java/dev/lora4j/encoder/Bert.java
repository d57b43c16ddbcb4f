package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.kernels.Kernels;
import dev.lora4j.kernels.Ops;
import dev.lora4j.model.Linear;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.Norm;
import dev.lora4j.model.Projection;
import dev.lora4j.model.TrainableLinear;
import dev.lora4j.train.Parameter;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import dev.lora4j.tensor.Tensor;
import dev.lora4j.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A BERT-family encoder (BERT, MiniLM) over a Hugging Face checkpoint, and sentence embeddings from it as
 * sentence-transformers makes them (pooling, then optionally length 1). Inference; bidirectional attention
 * with a padding mask.
 *
 * <pre>
 *   x = LN(word[ids] + type[types] + pos[0..T))                 (B·T, C)
 *   for each layer:  x = LN(x + Wo·attention(x));  x = LN(x + W2·gelu(W1·x))
 *   embedding = pool(x over the sequence's tokens) (/ ‖·‖)     (B, C)
 * </pre>
 */
public final class Bert implements AutoCloseable {
    /** One post-norm block; names are BertModel's. Projections may carry LoRA adapters ({@link #withLora}). */
    record Layer(Projection query, Projection key, Projection value, Projection attentionOut, Norm attentionNorm, Projection intermediate,
                 Projection output, Norm outputNorm) {
        Layer map(java.util.function.UnaryOperator<Projection> f) {
            return new Layer(f.apply(query), f.apply(key), f.apply(value), f.apply(attentionOut), attentionNorm, f.apply(intermediate), f.apply(output), outputNorm);
        }
    }

    private final BertConfig config;
    private final Tensor word, position, type; // (V, C), (P, C), (types, C)
    private final Norm embeddingNorm;
    private final List<Layer> layers;
    private final Projection pooler;    // BertPooler's dense (tanh(W·h[CLS] + b)), null when the checkpoint has none
    private final EmbeddingGrads embeddingGrads; // null unless the embeddings are trained ({@link #trainable})
    private final ModelFiles source;
    private final Tokenizer tokenizer; // null when the directory has none
    private final boolean ownsSource;   // false for a copy with adapters: the base it shares closes the mapping

    /** The gradients of the three embedding tables, each shaped as its table. */
    record EmbeddingGrads(float[] word, float[] position, float[] type) {}

    private Bert(BertConfig config, Tensor word, Tensor position, Tensor type, Norm embeddingNorm, List<Layer> layers, Projection pooler,
                 EmbeddingGrads embeddingGrads, ModelFiles source, Tokenizer tokenizer, boolean ownsSource) {
        this.ownsSource = ownsSource;
        this.pooler = pooler;
        this.embeddingGrads = embeddingGrads;
        this.config = config;
        this.word = word;
        this.position = position;
        this.type = type;
        this.embeddingNorm = embeddingNorm;
        this.layers = List.copyOf(layers);
        this.source = source;
        this.tokenizer = tokenizer;
    }

    /** A checkpoint directory (config.json, safetensors, and tokenizer.json and sentence-transformers' pooling files if there). */
    public static Bert load(Path dir) {
        ModelFiles ck = ModelFiles.open(dir);
        try {
            BertConfig c = BertConfig.parse(dir.resolve("config.json"), ck.config());
            c = withSentenceTransformersPooling(dir, c);
            // the base model's weights, under its own names or a task model's prefix (BertForSequenceClassification saves bert.*)
            String p = ck.has("bert.embeddings.word_embeddings.weight") ? "bert." : ck.has("roberta.embeddings.word_embeddings.weight") ? "roberta." : "";
            int C = c.dim(), F = c.hidden();
            ModelConfig.LayerNormKind ln = new ModelConfig.LayerNormKind(c.layerNormEps());
            List<Layer> layers = new ArrayList<>();
            for (int i = 0; i < c.layers(); i++) {
                String l = p + "encoder.layer." + i + ".";
                layers.add(new Layer(linear(ck, l + "attention.self.query", C, C), linear(ck, l + "attention.self.key", C, C),
                        linear(ck, l + "attention.self.value", C, C), linear(ck, l + "attention.output.dense", C, C),
                        norm(ck, l + "attention.output.LayerNorm", C, ln), linear(ck, l + "intermediate.dense", C, F),
                        linear(ck, l + "output.dense", F, C), norm(ck, l + "output.LayerNorm", C, ln)));
            }
            Tokenizer tok = Files.exists(dir.resolve("tokenizer.json")) ? Tokenizer.ofModel(dir) : null;
            Projection pooler = ck.has(p + "pooler.dense.weight") ? linear(ck, p + "pooler.dense", C, C) : null;
            return new Bert(c, ck.tensor(p + "embeddings.word_embeddings.weight", c.vocabSize(), C),
                    ck.tensor(p + "embeddings.position_embeddings.weight", c.maxPositions(), C),
                    ck.tensor(p + "embeddings.token_type_embeddings.weight", c.typeVocabSize(), C),
                    norm(ck, p + "embeddings.LayerNorm", C, ln), layers, pooler, null, ck, tok, true);
        } catch (RuntimeException e) {
            ck.close();
            throw e;
        }
    }

    /** sentence-transformers' modules.json and its Pooling module's config, when the directory has them. */
    private static BertConfig withSentenceTransformersPooling(Path dir, BertConfig c) {
        Path modules = dir.resolve("modules.json");
        if (!Files.exists(modules)) return c;
        JsonNode list;
        try {
            list = new com.fasterxml.jackson.databind.ObjectMapper().readTree(modules.toFile());
        } catch (java.io.IOException e) {
            throw new Lora4jException(modules + ": not readable JSON (" + e.getMessage() + ")");
        }
        if (!list.isArray()) throw new Lora4jException(modules + ": expected a JSON array of modules");
        BertConfig.Pooling pooling = BertConfig.Pooling.MEAN;
        boolean normalize = false;
        for (JsonNode m : list) {
            String type = m.path("type").asText("");
            if (type.endsWith("Normalize")) normalize = true;
            if (type.endsWith("Pooling")) {
                Path cfg = dir.resolve(m.path("path").asText("")).resolve("config.json");
                JsonNode pc = ModelFiles.readJson(cfg);
                if (pc.path("pooling_mode_cls_token").asBoolean(false)) pooling = BertConfig.Pooling.CLS;
                else if (!pc.path("pooling_mode_mean_tokens").asBoolean(false))
                    throw new Lora4jException(cfg + ": only mean and CLS pooling are supported (pooling_mode_mean_tokens or pooling_mode_cls_token)");
            }
        }
        return c.withPooling(pooling, normalize);
    }

    private static Linear linear(ModelFiles ck, String name, int in, int out) {
        return new Linear(name, ck.tensor(name + ".weight", out, in), ck.tensor(name + ".bias", out).toArray(), in, out, false);
    }

    private static Norm norm(ModelFiles ck, String name, int c, ModelConfig.LayerNormKind kind) {
        return new Norm(name, kind, ck.tensor(name + ".weight", c).toArray(), ck.tensor(name + ".bias", c).toArray());
    }

    /** The checkpoint this encoder's weights come from (shared by its copies with adapters). */
    ModelFiles source() {
        return source;
    }

    public BertConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * The last hidden states (B·T, C) of ids (B·T, row-major) with their token types and attention mask (1 = a token,
     * 0 = padding; a sequence needs at least one token). Only the tokens run ({@link #hiddenPacked}); padding rows
     * come back as zeros.
     */
    public float[] hidden(int[] ids, int[] types, int[] mask, int b, int t) {
        int rows = b * t, C = config.dim();
        if (ids.length != rows || types.length != rows || mask.length != rows)
            throw new IllegalArgumentException("ids, types and mask must each hold " + b + " × " + t + " entries");
        if (t > config.maxLength()) throw new Lora4jException("sequence length " + t + " exceeds the model's " + config.maxLength() + " positions");
        int[] start = new int[b + 1];
        for (int s = 0; s < b; s++) {
            int n = 0;
            for (int j = 0; j < t; j++) if (mask[s * t + j] != 0) n++;
            if (n == 0) throw new Lora4jException("sequence " + s + " has no tokens (its attention mask is all 0)");
            start[s + 1] = start[s] + n;
        }
        int[] pid = new int[start[b]], ptype = new int[start[b]], pos = new int[start[b]], from = new int[start[b]];
        for (int s = 0, r = 0; s < b; s++)
            for (int j = 0; j < t; j++)
                if (mask[s * t + j] != 0) {
                    pid[r] = ids[s * t + j];
                    ptype[r] = types[s * t + j];
                    pos[r] = j; // a token keeps its position whatever is masked around it
                    from[r++] = s * t + j;
                }
        float[] packed = hiddenPacked(pid, ptype, pos, start), out = new float[rows * C];
        for (int r = 0; r < from.length; r++) System.arraycopy(packed, r * C, out, from[r] * C, C);
        return out;
    }

    /**
     * The last hidden states (N, C) of sequences packed one after another, no padding: sequence s is rows
     * [start[s], start[s + 1]), each row with its token id, type and position. Every row-wise step (projections,
     * norms, GELU) runs over the N real tokens only, and attention over each sequence's own tokens.
     */
    public float[] hiddenPacked(int[] ids, int[] types, int[] positions, int[] start) {
        return run(ids, types, positions, start, null);
    }

    /**
     * What a training pass keeps for its backward pass, per layer (the pass's own, not the model's): the block's
     * input, q, k and v, the attention output, the sums before each LayerNorm with their statistics, the first
     * norm's output and the MLP's pre-activation. {@link #hidden()} is the pass's output (N, C).
     */
    public static final class Pass {
        final int[] ids, types, positions, start;
        final int rows;
        final float[][] xIn, q, k, v, att, h1, stats1, x1, inter, h2, stats2;
        float[] embedded, embeddedStats, out; // the embeddings' sum before their LayerNorm, with its statistics

        Pass(int layers, int[] ids, int[] types, int[] positions, int[] start) {
            this.ids = ids;
            this.types = types;
            this.positions = positions;
            this.start = start;
            this.rows = ids.length;
            xIn = new float[layers][]; q = new float[layers][]; k = new float[layers][]; v = new float[layers][]; att = new float[layers][];
            h1 = new float[layers][]; stats1 = new float[layers][]; x1 = new float[layers][]; inter = new float[layers][];
            h2 = new float[layers][]; stats2 = new float[layers][];
        }

        public float[] hidden() {
            return out;
        }

        /** The packed sequences' boundaries: sequence s is rows [start[s], start[s + 1]). */
        public int[] start() {
            return start.clone();
        }
    }

    /** Sequences packed one after another, no padding: ids, token types and positions per row, sequence s at rows [start[s], start[s + 1]). */
    public record Packed(int[] ids, int[] types, int[] positions, int[] start) {
        /** Token id sequences (types 0, positions from 0) packed in order. */
        public static Packed of(List<int[]> sequences) {
            int b = sequences.size();
            int[] start = new int[b + 1];
            for (int i = 0; i < b; i++) start[i + 1] = start[i] + sequences.get(i).length;
            int[] ids = new int[start[b]], pos = new int[start[b]];
            for (int i = 0; i < b; i++) {
                int[] s = sequences.get(i);
                System.arraycopy(s, 0, ids, start[i], s.length);
                for (int j = 0; j < s.length; j++) pos[start[i] + j] = j;
            }
            return new Packed(ids, new int[start[b]], pos, start);
        }
    }

    public float[] hiddenPacked(Packed p) {
        return run(p.ids(), p.types(), p.positions(), p.start(), null);
    }

    public Pass forwardTraining(Packed p) {
        return forwardTraining(p.ids(), p.types(), p.positions(), p.start());
    }

    /** A forward pass over packed sequences (as {@link #hiddenPacked}) that keeps what {@link #backward} needs. */
    public Pass forwardTraining(int[] ids, int[] types, int[] positions, int[] start) {
        Pass p = new Pass(layers.size(), ids.clone(), types.clone(), positions.clone(), start.clone());
        p.out = run(ids, types, positions, start, p);
        return p;
    }

    /** The forward pass; with keep, every layer's activations go there (fresh arrays) instead of reused buffers. */
    private float[] run(int[] ids, int[] types, int[] positions, int[] start, Pass keep) {
        BertConfig c = config;
        int rows = ids.length, C = c.dim(), F = c.hidden();
        float[] x = new float[rows * C], h = new float[rows * C];
        embed(ids, types, positions, h);
        float[] embStats = keep != null ? new float[rows * 2] : null;
        embeddingNorm.forward(x, h, rows, C, embStats);
        if (keep != null) {
            keep.embedded = h;
            keep.embeddedStats = embStats;
            h = new float[rows * C];
        }
        float[] q = new float[rows * C], k = new float[rows * C], v = new float[rows * C], att = new float[rows * C];
        float[] inter = new float[rows * F], act = new float[rows * F];
        for (int li = 0; li < layers.size(); li++) {
            Layer l = layers.get(li);
            float[] stats1 = null, stats2 = null, h2 = h;
            if (keep != null) {
                keep.xIn[li] = x.clone();
                q = keep.q[li] = new float[rows * C];
                k = keep.k[li] = new float[rows * C];
                v = keep.v[li] = new float[rows * C];
                att = keep.att[li] = new float[rows * C];
                h = keep.h1[li] = new float[rows * C];
                stats1 = keep.stats1[li] = new float[rows * 2];
                inter = keep.inter[li] = new float[rows * F];
                h2 = keep.h2[li] = new float[rows * C];
                stats2 = keep.stats2[li] = new float[rows * 2];
            }
            Mat xm = Mat.of(x, 0, rows, C);
            l.query().forward(xm, q, 0, C, false);
            l.key().forward(xm, k, 0, C, false);
            l.value().forward(xm, v, 0, C, false);
            attend(q, k, v, start, att);
            System.arraycopy(x, 0, h, 0, rows * C);
            l.attentionOut().forward(Mat.of(att, 0, rows, C), h, 0, C, true);       // h1 = x + Wo·att
            x = keep != null ? new float[rows * C] : x;
            l.attentionNorm().forward(x, h, rows, C, stats1);
            if (keep != null) keep.x1[li] = x;
            l.intermediate().forward(Mat.of(x, 0, rows, C), inter, 0, F, false);
            float[] in = inter, ac = act;
            Parallel.forRange(rows, 16, (r0, r1) -> Kernels.ops().geluErf(ac, r0 * F, in, r0 * F, (r1 - r0) * F));
            System.arraycopy(x, 0, h2, 0, rows * C);
            l.output().forward(Mat.of(act, 0, rows, F), h2, 0, C, true);             // h2 = x1 + W2·gelu(W1·x1)
            x = keep != null ? new float[rows * C] : x;
            l.outputNorm().forward(x, h2, rows, C, stats2);
        }
        return x;
    }

    /**
     * Backward of {@link #forwardTraining} from dL/d(output) (N, C): accumulates the gradients of every trainable
     * projection (LoRA's A and B, or whole weights after {@link #trainable}), of trainable norms and embeddings;
     * frozen weights get none.
     */
    public void backward(Pass p, float[] dOut) {
        BertConfig c = config;
        int rows = p.rows, C = c.dim(), F = c.hidden();
        float[] dx = dOut.clone(), dh = new float[rows * C], datt = new float[rows * C], dq = new float[rows * C], dk = new float[rows * C],
                dv = new float[rows * C], dact = new float[rows * F], act = new float[rows * F];
        for (int li = layers.size() - 1; li >= 0; li--) {
            Layer l = layers.get(li);
            // x_out = LN2(h2), h2 = x1 + W2·gelu(W1·x1)
            java.util.Arrays.fill(dh, 0f);
            l.outputNorm().backward(dh, dx, p.h2[li], rows, C, p.stats2[li]);
            float[] inter = p.inter[li];
            Parallel.forRange(rows, 16, (r0, r1) -> Kernels.ops().geluErf(act, r0 * F, inter, r0 * F, (r1 - r0) * F));
            l.output().backward(Mat.of(act, 0, rows, F), Mat.of(dh, 0, rows, C), dact, 0, F, false);
            Parallel.forRange(rows, 16, (r0, r1) -> Kernels.ops().geluErfBackward(dact, r0 * F, dact, r0 * F, inter, r0 * F, (r1 - r0) * F));
            System.arraycopy(dh, 0, dx, 0, rows * C);                                   // dx1 = dh2 + W1ᵀ·dinter
            l.intermediate().backward(Mat.of(p.x1[li], 0, rows, C), Mat.of(dact, 0, rows, F), dx, 0, C, true);
            // x1 = LN1(h1), h1 = xIn + Wo·attention(xIn)
            java.util.Arrays.fill(dh, 0f);
            l.attentionNorm().backward(dh, dx, p.h1[li], rows, C, p.stats1[li]);
            l.attentionOut().backward(Mat.of(p.att[li], 0, rows, C), Mat.of(dh, 0, rows, C), datt, 0, C, false);
            attendBackward(p.q[li], p.k[li], p.v[li], p.start, datt, dq, dk, dv);
            System.arraycopy(dh, 0, dx, 0, rows * C);                                   // dxIn = dh1 + the projections' inputs
            Mat xIn = Mat.of(p.xIn[li], 0, rows, C);
            l.query().backward(xIn, Mat.of(dq, 0, rows, C), dx, 0, C, true);
            l.key().backward(xIn, Mat.of(dk, 0, rows, C), dx, 0, C, true);
            l.value().backward(xIn, Mat.of(dv, 0, rows, C), dx, 0, C, true);
        }
        if (embeddingGrads == null) return;
        // x0 = LN(word[id] + type[type] + pos[position]): each table's row gets the sum's gradient, rows in order (deterministic)
        java.util.Arrays.fill(dh, 0f);
        embeddingNorm.backward(dh, dx, p.embedded, rows, C, p.embeddedStats);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < C; j++) {
                float g = dh[r * C + j];
                embeddingGrads.word()[p.ids[r] * C + j] += g;
                embeddingGrads.position()[(p.positions[r] + config.positionOffset()) * C + j] += g;
                embeddingGrads.type()[p.types[r] * C + j] += g;
            }
    }

    /**
     * dq, dk, dv from datt, per sequence and head, P recomputed: dV = Pᵀ·dO; dP = dO·Vᵀ; dS = softmax'(dP)·scale;
     * dQ = dS·K; dK = dSᵀ·Q.
     */
    private void attendBackward(float[] q, float[] k, float[] v, int[] start, float[] datt, float[] dq, float[] dk, float[] dv) {
        int C = config.dim(), heads = config.heads(), D = config.headDim(), b = start.length - 1;
        float scale = (float) (1.0 / Math.sqrt(D));
        Parallel.forRange(b * heads, 1, (u0, u1) -> {
            Ops ops = Kernels.ops();
            for (int u = u0; u < u1; u++) {
                int s = u / heads, hd = u % heads, n = start[s + 1] - start[s], base = start[s] * C + hd * D;
                float[] p = new float[n * n], dp = new float[n * n];
                Kernels.matmul(Mat.of(q, base, n, D, C), Mat.of(k, base, n, D, C).t(), p, 0, n, false);
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) p[i * n + j] *= scale;
                    ops.softmax(p, i * n, n);
                }
                Mat dO = Mat.of(datt, base, n, D, C);
                Kernels.matmul(Mat.of(p, 0, n, n).t(), dO, dv, base, C, false);
                Kernels.matmul(dO, Mat.of(v, base, n, D, C).t(), dp, 0, n, false);
                for (int i = 0; i < n; i++) {
                    ops.softmaxBackward(dp, i * n, p, i * n, n);
                    for (int j = 0; j < n; j++) dp[i * n + j] *= scale;
                }
                Kernels.matmul(Mat.of(dp, 0, n, n), Mat.of(k, base, n, D, C), dq, base, C, false);
                Kernels.matmul(Mat.of(dp, 0, n, n).t(), Mat.of(q, base, n, D, C), dk, base, C, false);
            }
        });
    }

    /** The LoRA adapters this encoder carries, by module name, into modules. */
    public void loraModules(java.util.Map<String, LoraLinear> modules) {
        for (Layer l : layers)
            for (Projection p : List.of(l.query(), l.key(), l.value(), l.attentionOut(), l.intermediate(), l.output()))
                if (p instanceof LoraLinear lora) modules.put(lora.name(), lora);
    }

    /**
     * This encoder with LoRA adapters on the modules config adapts (PEFT's default for BERT: query and value),
     * freshly initialised (A random, B zero); the weights are shared (close the base, not this copy). modules receives them by name.
     */
    public Bert withLora(LoraConfig config, long seed, java.util.Map<String, LoraLinear> modules) {
        LoraConfig c = config.targets() != null ? config : config.toBuilder().targets(new LoraConfig.TargetList(List.of("query", "value"))).build();
        java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
        List<Layer> adapted = new ArrayList<>();
        for (Layer l : layers)
            adapted.add(l.map(p -> {
                if (!(p instanceof Linear lin) || !c.adapts(lin.name())) return p;
                int r = c.rankFor(lin.name());
                LoraLinear lora = new LoraLinear(lin, r, (float) c.scaling(lin.name()), (float) c.dropout(),
                        dev.lora4j.lora.LoraModel.freshA(c, r, lin.in(), rng), new float[lin.out() * r]);
                modules.put(lin.name(), lora);
                return lora;
            }));
        if (modules.isEmpty()) throw new Lora4jException("LoRA targets match no module of this encoder (its modules: query, key, value, attention.output.dense, intermediate.dense, output.dense)");
        return new Bert(this.config, word, position, type, embeddingNorm, adapted, pooler, null, source, tokenizer, false);
    }

    /**
     * A copy of this encoder for full fine-tuning: every weight (embeddings, norms, projections, the pooler) its own heap
     * copy with a gradient; params receives them under their checkpoint names, in checkpoint order.
     */
    public Bert trainable(java.util.Map<String, Parameter> params) {
        Tensor w = trainableCopy(word, params), pos = trainableCopy(position, params), ty = trainableCopy(type, params);
        EmbeddingGrads grads = new EmbeddingGrads(params.get(w.name()).grad(), params.get(pos.name()).grad(), params.get(ty.name()).grad());
        java.util.function.UnaryOperator<Norm> norm = n -> {
            Norm t = n.trainable();
            params.put(n.name() + ".weight", new Parameter(n.name() + ".weight", t.weight(), t.weightGrad()));
            params.put(n.name() + ".bias", new Parameter(n.name() + ".bias", t.bias(), t.biasGrad()));
            return t;
        };
        java.util.function.UnaryOperator<Projection> train = p -> {
            if (!(p instanceof Linear lin)) throw new Lora4jException("full fine-tuning starts from the plain encoder, not one with adapters");
            TrainableLinear t = TrainableLinear.of(lin);
            params.put(lin.name() + ".weight", new Parameter(lin.name() + ".weight", t.base().weight().heapArray(), t.weightGrad()));
            params.put(lin.biasName(), new Parameter(lin.biasName(), t.base().bias(), t.biasGrad()));
            return t;
        };
        Norm embNorm = norm.apply(embeddingNorm);
        List<Layer> trained = new ArrayList<>();
        for (Layer l : layers) {
            Layer t = l.map(train);
            trained.add(new Layer(t.query(), t.key(), t.value(), t.attentionOut(), norm.apply(l.attentionNorm()), t.intermediate(), t.output(),
                    norm.apply(l.outputNorm())));
        }
        Projection pool = pooler == null ? null : train.apply(pooler);
        return new Bert(config, w, pos, ty, embNorm, trained, pool, grads, source, tokenizer, false);
    }

    private static Tensor trainableCopy(Tensor t, java.util.Map<String, Parameter> params) {
        Tensor copy = Tensor.of(t.name(), t.toArray().clone(), t.shape());
        params.put(t.name(), new Parameter(t.name(), copy.heapArray(), new float[copy.heapArray().length]));
        return copy;
    }

    /** BertPooler's dense layer (applied to the [CLS] row, then tanh), or null when the checkpoint has none. */
    public Projection pooler() {
        return pooler;
    }

    /** h(N, C) = (word[id] + type[type]) + pos[offset + position], in the order transformers adds them. */
    private void embed(int[] ids, int[] types, int[] positions, float[] h) {
        int C = config.dim();
        Mat wm = word.mat(), pm = position.mat(), tm = type.mat();
        Parallel.forRange(ids.length, 64, (r0, r1) -> {
            float[] tmp = new float[C], pos = new float[C];
            for (int r = r0; r < r1; r++) {
                int id = ids[r], ty = types[r], p = positions[r];
                if (id < 0 || id >= config.vocabSize()) throw new Lora4jException("token id " + id + " is outside the vocabulary [0, " + config.vocabSize() + ")");
                if (ty < 0 || ty >= config.typeVocabSize()) throw new Lora4jException("token type " + ty + " is outside [0, " + config.typeVocabSize() + ")");
                if (p < 0 || p >= config.maxLength()) throw new Lora4jException("position " + p + " is outside the model's " + config.maxLength() + " positions");
                wm.copyRow(id, 0, h, r * C, C);
                tm.copyRow(ty, 0, tmp, 0, C);
                pm.copyRow(p + config.positionOffset(), 0, pos, 0, C);
                for (int j = 0; j < C; j++) h[r * C + j] = (h[r * C + j] + tmp[j]) + pos[j];
            }
        });
    }

    /** att(N, C) = softmax(q·kᵀ/√D)·v per sequence (rows [start[s], start[s + 1])) and head. */
    private void attend(float[] q, float[] k, float[] v, int[] start, float[] att) {
        int C = config.dim(), heads = config.heads(), D = config.headDim(), b = start.length - 1;
        float scale = (float) (1.0 / Math.sqrt(D));
        Parallel.forRange(b * heads, 1, (u0, u1) -> {
            float[] p = new float[0];
            Ops ops = Kernels.ops();
            for (int u = u0; u < u1; u++) {
                int s = u / heads, hd = u % heads, n = start[s + 1] - start[s], base = start[s] * C + hd * D;
                if (p.length < n * n) p = new float[n * n];
                Kernels.matmul(Mat.of(q, base, n, D, C), Mat.of(k, base, n, D, C).t(), p, 0, n, false);
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) p[i * n + j] *= scale;
                    ops.softmax(p, i * n, n);
                }
                Kernels.matmul(Mat.of(p, 0, n, n), Mat.of(v, base, n, D, C), att, base, C, false);
            }
        });
    }

    /** Sentence embeddings (B, C) from hidden states: mean over the tokens (or the first token), then to length 1 when configured. */
    public float[] pool(float[] hidden, int[] mask, int b, int t) {
        int C = config.dim();
        float[] out = new float[b * C];
        for (int s = 0; s < b; s++) {
            double[] sum = new double[C];
            int n = 0;
            for (int j = 0; j < t; j++) {
                if (config.pooling() == BertConfig.Pooling.CLS ? j != 0 : mask[s * t + j] == 0) continue;
                for (int d = 0; d < C; d++) sum[d] += hidden[(s * t + j) * C + d];
                n++;
            }
            finishPool(sum, n, out, s * C);
        }
        return out;
    }

    /**
     * Embeddings (texts.size(), C) of texts, through the directory's tokenizer with its special tokens (at most maxTokens,
     * longer texts cut keeping the final special token), the texts packed without padding.
     */
    public float[] embed(List<String> texts, int maxTokens) {
        if (tokenizer == null) throw new Lora4jException("this model directory has no tokenizer.json");
        List<int[]> enc = new ArrayList<>();
        for (String text : texts) enc.add(truncate(tokenizer.encodeWithSpecialTokens(text), maxTokens));
        Packed p = Packed.of(enc);
        return poolPacked(hiddenPacked(p), p.start());
    }

    /** ids cut to at most max tokens the way sentence-transformers cuts them: [CLS] … kept, and the final [SEP]. */
    public static int[] truncate(int[] ids, int max) {
        if (ids.length <= max) return ids;
        int[] out = Arrays.copyOf(ids, max);
        out[max - 1] = ids[ids.length - 1];
        return out;
    }

    /** Sentence embeddings (B, C) from packed hidden states (sequence s at rows [start[s], start[s + 1])). */
    public float[] poolPacked(float[] hidden, int[] start) {
        int b = start.length - 1, C = config.dim();
        float[] out = new float[b * C];
        for (int s = 0; s < b; s++) {
            double[] sum = new double[C];
            int first = start[s], last = config.pooling() == BertConfig.Pooling.CLS ? first + 1 : start[s + 1];
            for (int r = first; r < last; r++) for (int d = 0; d < C; d++) sum[d] += hidden[r * C + d];
            finishPool(sum, last - first, out, s * C);
        }
        return out;
    }

    private void finishPool(double[] sum, int n, float[] out, int at) {
        int C = sum.length;
        double norm = 0;
        for (int d = 0; d < C; d++) {
            sum[d] /= Math.max(n, 1);
            norm += sum[d] * sum[d];
        }
        double div = config.normalize() ? Math.max(Math.sqrt(norm), 1e-12) : 1;
        for (int d = 0; d < C; d++) out[at + d] = (float) (sum[d] / div);
    }

    @Override
    public void close() {
        if (ownsSource) source.close();
    }
}
