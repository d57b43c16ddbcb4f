package dev.lora4j.model;

import dev.lora4j.Lora4jException;
import dev.lora4j.io.Checkpoint;
import dev.lora4j.kernels.Kernels;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import dev.lora4j.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;

/**
 * A decoder-only transformer language model (GPT-2 or the Llama family) over frozen weights that
 * stay memory-mapped where the checkpoint stores fp32.
 *
 * <pre>
 *   x = wte[tokens] (+ wpe[positions])          (B·T, C)
 *   for each block:  x += attn(norm1(x));  x += mlp(norm2(x))
 *   logits = normF(x) · headᵀ                   (B·T, V)
 * </pre>
 */
public final class Transformer implements AutoCloseable {
    private final ModelConfig config;
    private final Tensor tokenEmbedding;    // (V, C)
    private final Tensor positionEmbedding; // (P, C) or null
    private final List<Block> blocks;
    private final Norm finalNorm;
    private final Tensor head;              // (V, C); the token embedding itself when tied
    private final Checkpoint source;        // keeps the mapping alive; null for in-memory models

    public Transformer(ModelConfig config, Tensor tokenEmbedding, Tensor positionEmbedding, List<Block> blocks,
                       Norm finalNorm, Tensor head, Checkpoint source) {
        this.config = config;
        this.tokenEmbedding = tokenEmbedding;
        this.positionEmbedding = positionEmbedding;
        this.blocks = List.copyOf(blocks);
        this.finalNorm = finalNorm;
        this.head = head;
        this.source = source;
    }

    /** Loads a Hugging Face checkpoint directory (config.json + safetensors). */
    public static Transformer load(Path dir) {
        return ModelLoader.load(dir);
    }

    public ModelConfig config() {
        return config;
    }

    public List<Block> blocks() {
        return blocks;
    }

    public Tensor tokenEmbedding() {
        return tokenEmbedding;
    }

    public Tensor positionEmbedding() {
        return positionEmbedding;
    }

    public Norm finalNorm() {
        return finalNorm;
    }

    public Tensor head() {
        return head;
    }

    public Checkpoint source() {
        return source;
    }

    /** Buffers of one forward pass, allocated once per (B, T) and reused (page faults are expensive here). */
    public static final class Activations {
        final int b, t;
        final float[] x, h, qkv, att, pre, act, logits;

        public Activations(ModelConfig c, int b, int t) {
            this.b = b;
            this.t = t;
            int bt = b * t;
            x = new float[bt * c.dim()];
            h = new float[bt * c.dim()];
            qkv = new float[bt * c.qkvWidth()];
            att = new float[bt * c.heads() * c.headDim()];
            pre = new float[bt * 2 * c.hidden()];
            act = new float[bt * c.hidden()];
            logits = new float[Math.multiplyExact(bt, c.vocabSize())];
        }

        public boolean fits(int b, int t) {
            return this.b == b && this.t == t;
        }

        /** (B·T, V) logits of the last forward pass. */
        public float[] logits() {
            return logits;
        }
    }

    /** Logits (B·T, V) for tokens (B·T, row-major). Rows shorter than T are padded by the caller. */
    public float[] forward(int[] tokens, int b, int t, Activations a) {
        ModelConfig c = config;
        if (!a.fits(b, t)) throw new IllegalArgumentException("activations sized for " + a.b + "x" + a.t + ", not " + b + "x" + t);
        if (positionEmbedding != null && t > positionEmbedding.dim(0))
            throw new Lora4jException("sequence length " + t + " exceeds the model's " + positionEmbedding.dim(0) + " positions");
        embed(tokens, b, t, a.x);
        int bt = b * t;
        for (Block blk : blocks) {
            blk.norm1().forward(a.h, a.x, bt, c.dim(), null);
            blk.attention().forward(a.h, b, t, c.dim(), a.qkv, a.att, null, a.x);
            blk.norm2().forward(a.h, a.x, bt, c.dim(), null);
            blk.mlp().forward(a.h, bt, c.dim(), a.pre, a.act, a.x);
        }
        finalNorm.forward(a.h, a.x, bt, c.dim(), null);
        Kernels.matmul(Mat.of(a.h, 0, bt, c.dim()), head.mat().t(), a.logits, 0, c.vocabSize(), false);
        return a.logits;
    }

    /** x(B·T, C) = wte[token] (+ wpe[position]). */
    private void embed(int[] tokens, int b, int t, float[] x) {
        int dim = config.dim(), vocab = config.vocabSize();
        MemorySegment wte = tokenEmbedding.data();
        Parallel.forRange(b * t, 64, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int tok = tokens[r];
                if (tok < 0 || tok >= vocab) throw new Lora4jException("token id " + tok + " is outside the vocabulary [0, " + vocab + ")");
                MemorySegment.copy(wte, Mat.F32, (long) tok * dim * 4, x, r * dim, dim);
                if (positionEmbedding != null) {
                    Mat pos = positionEmbedding.mat();
                    int p = r % t;
                    for (int i = 0; i < dim; i++) x[r * dim + i] += pos.get(p, i);
                }
            }
        });
    }

    public long parameterCount() {
        long n = tokenEmbedding.numel() + (positionEmbedding == null ? 0 : positionEmbedding.numel());
        for (Block blk : blocks) {
            n += normParams(blk.norm1()) + normParams(blk.norm2());
            for (Linear l : blk.attention().inputs()) n += l.parameterCount();
            n += blk.attention().output().parameterCount();
            n += switch (blk.mlp()) {
                case Mlp.Gelu g -> g.fc().parameterCount() + g.proj().parameterCount();
                case Mlp.SwiGlu s -> s.gate().parameterCount() + s.up().parameterCount() + s.down().parameterCount();
            };
        }
        n += normParams(finalNorm);
        if (head != tokenEmbedding) n += head.numel();
        return n;
    }

    private static long normParams(Norm n) {
        return n.weight().length + (n.bias() == null ? 0 : n.bias().length);
    }

    @Override
    public void close() {
        if (source != null) source.close();
    }
}
