package dev.lora4j.model;

import dev.lora4j.Lora4jException;
import dev.lora4j.io.WeightSource;
import dev.lora4j.kernels.Kernels;
import dev.lora4j.kernels.WeightPanels;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;
import dev.lora4j.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
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
    private final WeightSource source;      // keeps the mapping alive; null for in-memory models
    private final EmbeddingGrads grads;     // null unless the embeddings and head are trained (full fine-tuning)
    private final SoftPrompt prompt;        // virtual tokens before every sequence (prompt or prefix tuning), or null
    private final KvPrefix kvPrefix;        // their keys and values at every layer (prefix tuning), or null
    private final TokenRows embedRows;      // trained rows of the token embedding (trainable tokens), or null
    private final TokenRows headRows;       // trained rows of the LM head (the same as embedRows when tied), or null

    /** What an adapter adds around the blocks: virtual tokens, their keys and values, trained rows; each may be null. */
    private record Additions(SoftPrompt prompt, KvPrefix kvPrefix, TokenRows embedRows, TokenRows headRows) {
        static final Additions NONE = new Additions(null, null, null, null);
    }

    private Additions additions() {
        return new Additions(prompt, kvPrefix, embedRows, headRows);
    }

    /** Gradients of the token embedding (V, C), position embedding (P, C) or null, and untied head (V, C) or null. */
    public record EmbeddingGrads(float[] token, float[] position, float[] head) {}

    public Transformer(ModelConfig config, Tensor tokenEmbedding, Tensor positionEmbedding, List<Block> blocks,
                       Norm finalNorm, Tensor head, WeightSource source) {
        this(config, tokenEmbedding, positionEmbedding, blocks, finalNorm, head, source, null);
    }

    public Transformer(ModelConfig config, Tensor tokenEmbedding, Tensor positionEmbedding, List<Block> blocks,
                       Norm finalNorm, Tensor head, WeightSource source, EmbeddingGrads grads) {
        this(config, tokenEmbedding, positionEmbedding, blocks, finalNorm, head, source, grads, Additions.NONE);
    }

    private Transformer(ModelConfig config, Tensor tokenEmbedding, Tensor positionEmbedding, List<Block> blocks,
                        Norm finalNorm, Tensor head, WeightSource source, EmbeddingGrads grads, Additions add) {
        this.config = config;
        this.tokenEmbedding = tokenEmbedding;
        this.positionEmbedding = positionEmbedding;
        this.blocks = List.copyOf(blocks);
        this.finalNorm = finalNorm;
        this.head = head;
        this.source = source;
        this.grads = grads;
        this.prompt = add.prompt();
        this.kvPrefix = add.kvPrefix();
        this.embedRows = add.embedRows();
        this.headRows = add.headRows();
    }

    /** Loads a Hugging Face checkpoint directory (config.json + safetensors), or a GGUF file of the llama or qwen2 architecture. */
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

    public WeightSource source() {
        return source;
    }

    /** The virtual tokens before every sequence, or null. */
    public SoftPrompt softPrompt() {
        return prompt;
    }

    /**
     * This model (weights shared) with prompt's virtual tokens before every sequence, which take the first positions
     * of the context: its config says how many ({@link ModelConfig#virtualTokens()}) and how many remain.
     */
    public Transformer withSoftPrompt(SoftPrompt prompt) {
        if (this.prompt != null) throw new Lora4jException("this model already has a soft prompt");
        if (prompt.embeddings().length != prompt.tokens() * config.dim())
            throw new Lora4jException("soft prompt of " + prompt.embeddings().length + " floats; " + prompt.tokens() + " embeddings of " + config.dim() + " expected");
        Transformer t = new Transformer(config.withVirtualTokens(prompt.tokens()), tokenEmbedding, positionEmbedding, blocks, finalNorm, head, source, grads,
                new Additions(prompt, null, embedRows, headRows));
        t.headDecodeCopy = headDecodeCopy;
        return t;
    }

    /**
     * This model (blocks shared) with other input embeddings and LM head: trained copies (PEFT's modules_to_save; their
     * gradients in grads, whose token or head array is null for the one not trained), and rows of them replaced by
     * trained values (trainable tokens; embedRows and headRows the same for a tied model, or null). A copy of a tied
     * model's head that is not its embedding makes the head its own, as PEFT's copy does.
     */
    public Transformer withEmbeddings(Tensor newTokenEmbedding, Tensor newHead, EmbeddingGrads newGrads, TokenRows newEmbedRows, TokenRows newHeadRows) {
        if (this.grads != null || embedRows != null || headRows != null || prompt != null)
            throw new Lora4jException("this model's embeddings are already trained or replaced");
        return new Transformer(config, newTokenEmbedding, positionEmbedding, blocks, finalNorm, newHead, source, newGrads,
                new Additions(null, null, newEmbedRows, newHeadRows));
    }

    /** The trained rows of the token embedding, and of the LM head (the same object when tied), or null. */
    public TokenRows embedRows() {
        return embedRows;
    }

    public TokenRows headRows() {
        return headRows;
    }

    /** The gradients of trained embeddings and head, or null. */
    public EmbeddingGrads embeddingGrads() {
        return grads;
    }

    /** The learned keys and values of prefix tuning, or null. */
    public KvPrefix kvPrefix() {
        return kvPrefix;
    }

    /**
     * This model (weights shared) with prefix's keys and values before every sequence at every layer: n virtual tokens
     * whose own inputs do not matter (zeros), taking the first positions of the context as a soft prompt's do.
     */
    public Transformer withKvPrefix(KvPrefix prefix) {
        if (this.prompt != null) throw new Lora4jException("this model already has a soft prompt or a prefix");
        if (prefix.layers() != blocks.size() || prefix.kvWidth() != config.kvHeads() * config.headDim())
            throw new Lora4jException("a prefix of " + prefix.layers() + " layers' keys and values of " + prefix.kvWidth() + " for a model of " + blocks.size()
                    + " layers of " + config.kvHeads() * config.headDim());
        SoftPrompt rows = new SoftPrompt(new float[prefix.tokens() * config.dim()], null, prefix.tokens());
        Transformer t = new Transformer(config.withVirtualTokens(prefix.tokens()), tokenEmbedding, positionEmbedding, blocks, finalNorm, head, source, grads,
                new Additions(rows, prefix, embedRows, headRows));
        t.headDecodeCopy = headDecodeCopy;
        return t;
    }

    /**
     * Runs the blocks over tokens (B·T, row-major) and leaves the final normalised hidden states in
     * a.h (B·T, C), or with virtual tokens (B·(n+T), C), each sequence's n virtual rows first. Rows shorter
     * than T are padded by the caller; causality keeps padding out of real rows.
     */
    public void forwardHidden(int[] tokens, int b, int t, Activations a) {
        if (prompt == null) {
            runBlocks(tokens, b, t, a);
            return;
        }
        requireRoomAfterPrompt(t);
        runBlocks(prompt.extend(tokens, b, t, config.vocabSize()), b, prompt.tokens() + t, a);
    }

    /** A learned position table ends where it ends: the virtual tokens take its first positions. */
    private void requireRoomAfterPrompt(int t) {
        if (positionEmbedding != null && t > config.maxPositions())
            throw new Lora4jException("sequence length " + t + " exceeds the " + config.maxPositions() + " positions the model's "
                    + prompt.tokens() + " virtual tokens leave of its " + positionEmbedding.dim(0));
    }

    /** forwardHidden over tokens that hold any virtual ids already (t positions each). */
    private void runBlocks(int[] tokens, int b, int t, Activations a) {
        ModelConfig c = config;
        if (!a.fits(b, t)) throw new IllegalArgumentException("activations sized for " + a.b + "x" + a.t + ", not " + b + "x" + t);
        if (positionEmbedding != null && t > positionEmbedding.dim(0))
            throw new Lora4jException("sequence length " + t + " exceeds the model's " + positionEmbedding.dim(0) + " positions");
        embed(tokens, b, t, new int[b], a.layer(0).xIn());
        for (int l = 0; l < blocks.size(); l++) forwardBlock(l, b, t, a);
        finalNorm.forward(a.h, a.xFinal, b * t, c.dim(), a.statsFinal);
    }

    /**
     * Block l over its input a.layer(l).xIn() (B·T, C): what its backward needs goes to a.layer(l), its
     * output to the next layer's input (a.xFinal after the last). Deterministic, so gradient
     * checkpointing can run it again and get the same bits.
     */
    private void forwardBlock(int l, int b, int t, Activations a) {
        int bt = b * t, dim = config.dim();
        Block blk = blocks.get(l);
        Activations.Layer s = a.layer(l);
        Activations.Sandwich sw = s.sandwich();
        blk.norm1().forward(a.h, s.xIn(), bt, dim, s.stats1());
        if (s.xMid() != s.xIn()) System.arraycopy(s.xIn(), 0, s.xMid(), 0, bt * dim);
        KvPrefix.Layer pre = kvPrefix == null ? null : kvPrefix.layer(l);
        if (sw == null) blk.attention().forward(a.h, b, t, dim, s.qkv(), s.qkPre(), s.att(), s.xMid(), pre);
        else {
            java.util.Arrays.fill(sw.attOut(), 0, bt * dim, 0f);
            blk.attention().forward(a.h, b, t, dim, s.qkv(), s.qkPre(), s.att(), sw.attOut(), pre);
            addNormed(blk.postAttentionNorm(), sw.attOut(), sw.attStats(), a.h, s.xMid(), bt);
        }
        blk.norm2().forward(a.h, s.xMid(), bt, dim, s.stats2());
        float[] x = l + 1 < blocks.size() ? a.layer(l + 1).xIn() : a.xFinal;
        if (x != s.xMid()) System.arraycopy(s.xMid(), 0, x, 0, bt * dim);
        if (sw == null) blk.mlp().forward(a.h, bt, dim, s.pre(), a.act, x);
        else {
            java.util.Arrays.fill(sw.mlpOut(), 0, bt * dim, 0f);
            blk.mlp().forward(a.h, bt, dim, s.pre(), a.act, sw.mlpOut());
            addNormed(blk.postMlpNorm(), sw.mlpOut(), sw.mlpStats(), a.h, x, bt);
        }
    }

    /** x(rows, C) += norm(out) (a sandwich norm), through scratch; stats (rows, 2) or null. */
    private void addNormed(Norm norm, float[] out, float[] stats, float[] scratch, float[] x, int rows) {
        int dim = config.dim();
        norm.forward(scratch, out, rows, dim, stats);
        Parallel.forRange(rows, 64, (r0, r1) -> Kernels.ops().axpy(1f, scratch, r0 * dim, x, r0 * dim, (r1 - r0) * dim));
    }

    /**
     * Generation step: n new tokens per sequence (B·n, row-major), each after what the cache holds of
     * its sequence; returns the logits (B, V) of each sequence's last new token, and advances the cache.
     */
    public float[] forwardCached(int[] tokens, int b, int n, KvCache cache) {
        if (cache.batch() != b) throw new IllegalArgumentException("cache holds " + cache.batch() + " sequences, not " + b);
        int[] seqs = new int[b];
        for (int i = 0; i < b; i++) seqs[i] = i;
        return forwardCached(tokens, seqs, n, cache);
    }

    /**
     * Generation step for some of a cache's sequences: n new tokens for each sequence seqs[i] of the
     * cache ((B·n), row-major), each at the position where its own sequence stands: the sequences of a
     * batch may have different lengths (a ragged batch). Returns the logits (B, V) of each one's last new
     * token, and advances those sequences of the cache. Per-call state lives in the call and the cache, so
     * threads with caches of their own may share the model.
     */
    public float[] forwardCached(int[] tokens, int[] seqs, int n, KvCache cache) {
        int b = seqs.length;
        if (tokens.length != b * n) throw new IllegalArgumentException(tokens.length + " tokens for " + b + " sequences of " + n);
        int[] start = new int[b + 1];
        for (int i = 0; i <= b; i++) start[i] = i * n;
        return forwardCached(tokens, seqs, start, cache, false, null);
    }

    /**
     * One pass over sequences that each bring their own number of new tokens, lengths[i] for sequence
     * seqs[i] (tokens: theirs one after another): decode steps (one token) and prompts (many) together,
     * the ragged batch of continuous batching. Each sequence's logits are those of a pass of its own:
     * the rows of sequences of up to {@link Linear#DECODE_ROWS} tokens go through the decode kernels and
     * the rest through the GEMM, and each kernel sums a row the same way whatever shares its call. For
     * that, such short sequences must come first. Returns the logits (B, V) of each one's last new token.
     */
    public float[] forwardRagged(int[] tokens, int[] seqs, int[] lengths, KvCache cache) {
        return forwardRagged(tokens, seqs, lengths, cache, null);
    }

    /**
     * {@link #forwardRagged(int[], int[], int[], KvCache)} with the logits written to the front of {@code logits}
     * (at least B·V floats; null: a new array), which it returns: a decode loop that keeps one buffer leaves no
     * B·V floats of garbage a step.
     */
    public float[] forwardRagged(int[] tokens, int[] seqs, int[] lengths, KvCache cache, float[] logits) {
        int b = seqs.length;
        if (logits != null && logits.length < (long) b * config.vocabSize())
            throw new IllegalArgumentException("a logits buffer of " + logits.length + " floats for " + b + " sequences of " + config.vocabSize() + " logits");
        if (lengths.length != b) throw new IllegalArgumentException(lengths.length + " lengths for " + b + " sequences");
        int[] start = new int[b + 1];
        boolean longSeen = false;
        for (int i = 0; i < b; i++) {
            if (lengths[i] < 1) throw new IllegalArgumentException("sequence " + seqs[i] + " brings " + lengths[i] + " tokens; at least 1 expected");
            boolean isLong = lengths[i] > Linear.DECODE_ROWS;
            if (longSeen && !isLong)
                throw new IllegalArgumentException("sequence " + seqs[i] + " (" + lengths[i] + " tokens) follows one of more than " + Linear.DECODE_ROWS + "; short ones come first");
            longSeen |= isLong;
            start[i + 1] = Math.addExact(start[i], lengths[i]);
        }
        if (tokens.length != start[b]) throw new IllegalArgumentException(tokens.length + " tokens for sequences of " + start[b] + " in all");
        return forwardCached(tokens, seqs, start, cache, true, logits);
    }

    /**
     * Sequence i's new tokens are rows [start[i], start[i + 1]); ragged: each sequence on the kernels it would get alone;
     * logits into logitsOut (null: a new array).
     */
    private float[] forwardCached(int[] tokens, int[] seqs, int[] start, KvCache cache, boolean ragged, float[] logitsOut) {
        if (prompt != null) startWithPrompt(tokens, seqs, cache);
        return cachedPass(tokens, seqs, start, cache, ragged, logitsOut);
    }

    private float[] cachedPass(int[] tokens, int[] seqs, int[] start, KvCache cache, boolean ragged, float[] logitsOut) {
        ModelConfig c = config;
        int b = seqs.length, dim = c.dim(), rows = start[b], decodeRows = 0;
        int[] pos = new int[b], rowPos = new int[rows];
        for (int i = 0; i < b; i++) {
            int n = start[i + 1] - start[i];
            pos[i] = cache.length(seqs[i]);
            if (pos[i] + n > cache.capacity())
                throw new Lora4jException("sequence of " + (pos[i] + n) + " tokens exceeds the context of " + cache.capacity());
            for (int r = start[i]; r < start[i + 1]; r++) rowPos[r] = pos[i] + r - start[i];
            if (n <= Linear.DECODE_ROWS) decodeRows = start[i + 1];
        }
        float[] x = new float[rows * dim], h = new float[rows * dim], qkv = new float[rows * c.qkvWidth()];
        float[] att = new float[rows * c.heads() * c.headDim()];
        float[] pre = new float[rows * (c.gatedMlp() ? 2 : 1) * c.hidden()], act = new float[rows * c.hidden()];
        embed(tokens, rowPos, x);
        float[] out = c.gemma().sandwichNorms() ? new float[rows * dim] : null; // a half's output before its norm
        Runnable blocksPass = () -> {
            for (int l = 0; l < blocks.size(); l++) {
                Block blk = blocks.get(l);
                blk.norm1().forward(h, x, rows, dim, null);
                if (out == null) blk.attention().forwardCached(h, seqs, pos, start, dim, qkv, att, x, cache.layer(l));
                else {
                    java.util.Arrays.fill(out, 0f);
                    blk.attention().forwardCached(h, seqs, pos, start, dim, qkv, att, out, cache.layer(l));
                    addNormed(blk.postAttentionNorm(), out, null, h, x, rows);
                }
                blk.norm2().forward(h, x, rows, dim, null);
                if (out == null) blk.mlp().forward(h, rows, dim, pre, act, x);
                else {
                    java.util.Arrays.fill(out, 0f);
                    blk.mlp().forward(h, rows, dim, pre, act, out);
                    addNormed(blk.postMlpNorm(), out, null, h, x, rows);
                }
            }
        };
        if (ragged) ScopedValue.where(Linear.DECODE_KERNEL_ROWS, decodeRows).run(blocksPass);
        else blocksPass.run();
        for (int i = 0; i < b; i++) cache.advance(seqs[i], start[i + 1] - start[i]);
        float[] last = new float[b * dim];
        for (int bi = 0; bi < b; bi++) System.arraycopy(x, (start[bi + 1] - 1) * dim, last, bi * dim, dim);
        finalNorm.forward(h, last, b, dim, null);
        float[] logits = logitsOut != null ? logitsOut : new float[b * c.vocabSize()];
        WeightPanels headCopy = headDecodeCopy;
        boolean decodeHead = ragged || b <= Linear.DECODE_ROWS; // ragged: every sequence's head row as it would be alone
        if (head.quant() != null && decodeHead) Kernels.matmulTransposed(Mat.of(h, 0, b, dim), head.quant(), logits, 0, c.vocabSize(), false);
        else if (headCopy != null && decodeHead) Kernels.matmulTransposed(Mat.of(h, 0, b, dim), headCopy, logits, 0, c.vocabSize(), false);
        else Kernels.matmul(Mat.of(h, 0, b, dim), head.mat().t(), logits, 0, c.vocabSize(), false);
        if (headRows != null) headRows.fixLogits(h, b, logits, c.vocabSize());
        softcapLogits(logits, b * c.vocabSize());
        return logits;
    }

    /** Puts the virtual tokens into the cache of each sequence of seqs that is still empty, after checking the caller's tokens. */
    private void startWithPrompt(int[] tokens, int[] seqs, KvCache cache) {
        int v = config.vocabSize();
        for (int tok : tokens)
            if (tok < 0 || tok >= v) throw new Lora4jException("token id " + tok + " is outside the vocabulary [0, " + v + ")");
        int[] ids = prompt.ids(v);
        for (int seq : seqs) {
            if (cache.length(seq) > 0) continue;
            if (kvPrefix != null) kvPrefix.fill(cache, seq); // the keys and values are given: nothing to compute
            else cachedPass(ids, new int[] {seq}, new int[] {0, ids.length}, cache, false, null);
        }
    }

    /** Gemma 2's final soft cap, z = cap·tanh(z/cap), in place (nothing for other models). */
    private void softcapLogits(float[] logits, int n) {
        float cap = config.gemma().logitSoftcap();
        if (cap == 0f) return;
        Parallel.forRange(n, 4096, (i0, i1) -> {
            for (int i = i0; i < i1; i++) logits[i] = cap * (float) Math.tanh(logits[i] / cap);
        });
    }

    /** Logits (B·T, V) for tokens (B·T, row-major): for tests and generation; training never holds them whole. */
    public float[] forward(int[] tokens, int b, int t, Activations a) {
        forwardHidden(tokens, b, t, a);
        int v = config.vocabSize(), bt = b * a.t;
        float[] logits = new float[Math.multiplyExact(bt, v)];
        Kernels.matmul(Mat.of(a.h, 0, bt, config.dim()), head.mat().t(), logits, 0, v, false);
        if (headRows != null) headRows.fixLogits(a.h, bt, logits, v);
        softcapLogits(logits, logits.length);
        return prompt == null ? logits : prompt.strip(logits, b, t, v);
    }

    /** Sum of cross-entropies and the number of targets counted. */
    public record LossSum(double sum, long count) {}

    /**
     * Causal-LM loss: forward, then cross-entropy of each row against targets (B·T; the token each
     * position must predict, or −100 to ignore). With gradScale ≠ 0 it also runs the backward pass for
     * the loss gradScale·Σ CE, accumulating the gradients of every trainable projection (use
     * 1/targets-counted for the mean). The (B·T, V) logits never exist whole ({@link HeadLoss}).
     */
    public LossSum loss(int[] tokens, int[] targets, int b, int t, Activations a, float gradScale) {
        boolean backward = gradScale != 0f;
        if (backward && !a.training) throw new IllegalArgumentException("backward needs training activations");
        if (prompt != null) {
            requireRoomAfterPrompt(t);
            tokens = prompt.extend(tokens, b, t, config.vocabSize());
            targets = prompt.extendTargets(targets, b, t);
            t += prompt.tokens();
        }
        runBlocks(tokens, b, t, a);
        int bt = b * t;
        requireTargetsInVocabulary(targets, bt);
        float cap = config.gemma().logitSoftcap();
        float[] headGrad = grads == null ? null : grads.head() != null ? grads.head() : head == tokenEmbedding ? grads.token() : null;
        LossSum loss = headGrad == null ? HeadLoss.byVocabularyBlocks(head.mat(), cap, targets, bt, a, gradScale, null, headRows)
                : HeadLoss.byRowChunks(head.mat(), cap, headGrad, targets, bt, a, gradScale);
        if (backward) {
            backward(b, t, a);
            InputEmbedding in = input();
            if (in.trains(grads)) in.backward(tokens, b, t, a.dx, grads);
        }
        return loss;
    }

    /**
     * Inference: the cross-entropy of every position against its target (B·T; 0 where the target is −100), for scoring
     * each row of a batch on its own. The rows do not affect each other.
     */
    public double[] positionLosses(int[] tokens, int[] targets, int b, int t, Activations a) {
        if (grads != null && (grads.head() != null || head == tokenEmbedding)) throw new IllegalStateException("positionLosses is for inference over a frozen head");
        forwardHidden(tokens, b, t, a);
        int bt = b * a.t;
        if (prompt != null) targets = prompt.extendTargets(targets, b, t);
        requireTargetsInVocabulary(targets, bt);
        double[] out = new double[bt];
        HeadLoss.byVocabularyBlocks(head.mat(), config.gemma().logitSoftcap(), targets, bt, a, 0f, out, headRows);
        return prompt == null ? out : prompt.strip(out, b, t);
    }

    private void requireTargetsInVocabulary(int[] targets, int bt) {
        int v = config.vocabSize();
        for (int i = 0; i < bt; i++)
            if (targets[i] >= v) throw new Lora4jException("target id " + targets[i] + " is outside the vocabulary [0, " + v + ")");
    }

    /** Backward through the final norm and every block, from dL/d(final hidden) in a.dh. */
    private void backward(int b, int t, Activations a) {
        int bt = b * t, dim = config.dim();
        java.util.Arrays.fill(a.dx, 0f);
        finalNorm.backward(a.dx, a.dh, a.xFinal, bt, dim, a.statsFinal);
        for (int l = blocks.size() - 1; l >= 0; l--) {
            Block blk = blocks.get(l);
            if (a.recompute && l < blocks.size() - 1) { // the last block's buffers still hold its forward pass
                for (Projection p : blk.projections()) p.repeatNextForward();
                forwardBlock(l, b, t, a);
            }
            Activations.Layer s = a.layer(l);
            Activations.Sandwich sw = s.sandwich();
            // x_next = xMid + [postMlp](mlp(norm2(xMid)))
            float[] dy = sw == null ? a.dx : normedBackward(blk.postMlpNorm(), sw.mlpOut(), sw.mlpStats(), a, bt);
            blk.norm2().forward(a.h, s.xMid(), bt, dim, null);
            blk.mlp().backward(a.h, bt, dim, s.pre(), a.act, dy, a.dact, a.dpre, a.dh);
            blk.norm2().backward(a.dx, a.dh, s.xMid(), bt, dim, s.stats2());
            // xMid = xIn + [postAttention](attention(norm1(xIn)))
            dy = sw == null ? a.dx : normedBackward(blk.postAttentionNorm(), sw.attOut(), sw.attStats(), a, bt);
            blk.norm1().forward(a.h, s.xIn(), bt, dim, null);
            blk.attention().backward(a.h, b, t, dim, s.qkv(), s.qkPre(), s.att(), dy, a.datt, a.dqkv, a.dh, kvPrefix == null ? null : kvPrefix.layer(l));
            blk.norm1().backward(a.dx, a.dh, s.xIn(), bt, dim, s.stats1());
        }
    }

    /** dL/d(out) in a.dOut for x += norm(out) (a sandwich norm), from dL/dx in a.dx. */
    private float[] normedBackward(Norm norm, float[] out, float[] stats, Activations a, int bt) {
        java.util.Arrays.fill(a.dOut, 0f);
        norm.backward(a.dOut, a.dx, out, bt, config.dim(), stats);
        return a.dOut;
    }

    private volatile WeightPanels headDecodeCopy; // the LM head's heap copy for decoding, or null

    /**
     * Copies every frozen projection's weight, and the LM head, onto the heap in panels of outputs, so that
     * decoding (a few rows at a time) streams them at the heap's full read speed ({@link WeightPanels}); the
     * prompt's pass still reads the weights where they live. Trained weights (full fine-tuning) are left
     * alone: they change. Returns false, copying nothing, when the copies would take more than half of
     * the free heap (decoding then reads the weights where they live, only slower). Idempotent.
     */
    public synchronized boolean copyWeightsForDecoding() {
        List<Linear> frozen = new ArrayList<>();
        for (Block blk : blocks)
            for (Projection p : blk.projections())
                if (!(p instanceof TrainableLinear) && p.base().weight().quant() == null && p.base().decodeCopy().panels() == null) frozen.add(p.base());
        boolean copyHead = grads == null && headDecodeCopy == null && head.quant() == null; // quantized weights decode as they are
        long need = copyHead ? WeightPanels.bytes(head.mat().t()) : 0;
        for (Linear l : frozen) need += WeightPanels.bytes(l.wT());
        Runtime rt = Runtime.getRuntime();
        if (need > (rt.maxMemory() - (rt.totalMemory() - rt.freeMemory())) / 2) return false;
        Parallel.forChunks(frozen.size(), i -> frozen.get(i).decodeCopy().set(WeightPanels.copyOf(frozen.get(i).wT())));
        if (copyHead) headDecodeCopy = WeightPanels.copyOf(head.mat().t());
        return true;
    }

    /** This model with every block projection replaced by f(projection) (e.g. LoRA-wrapped), in module order; the weights shared. */
    public Transformer mapProjections(java.util.function.UnaryOperator<Projection> f) {
        List<Block> mapped = new ArrayList<>();
        for (Block b : blocks) mapped.add(b.map(n -> n, f));
        return withBlocks(mapped);
    }

    public Transformer withBlocks(List<Block> newBlocks) {
        Transformer t = new Transformer(config, tokenEmbedding, positionEmbedding, newBlocks, finalNorm, head, source, grads, additions());
        t.headDecodeCopy = headDecodeCopy;
        return t;
    }

    /** x(B·T, C) = wte[token] (+ wpe[pos0[sequence] + position]). */
    private void embed(int[] tokens, int b, int t, int[] pos0, float[] x) {
        int[] rowPos = new int[b * t];
        for (int r = 0; r < b * t; r++) rowPos[r] = pos0[r / t] + r % t;
        embed(tokens, rowPos, x);
    }

    /** x(rows, C) = the embeddings of tokens[r] at position rowPos[r] ({@link InputEmbedding}). */
    private void embed(int[] tokens, int[] rowPos, float[] x) {
        input().forward(tokens, rowPos, x);
    }

    private InputEmbedding input() {
        return new InputEmbedding(config, tokenEmbedding, positionEmbedding, embedRows, prompt);
    }

    public long parameterCount() {
        long n = tokenEmbedding.numel() + (positionEmbedding == null ? 0 : positionEmbedding.numel());
        for (Block blk : blocks) {
            n += normParams(blk.norm1()) + normParams(blk.norm2());
            if (blk.sandwich()) n += normParams(blk.postAttentionNorm()) + normParams(blk.postMlpNorm());
            if (blk.attention().normalisesHeads()) n += normParams(blk.attention().qNorm()) + normParams(blk.attention().kNorm());
            for (Projection p : blk.projections()) n += p.base().parameterCount();
        }
        n += normParams(finalNorm);
        if (head != tokenEmbedding) n += head.numel();
        return n;
    }

    private static long normParams(Norm n) {
        return n.weight().length + (n.bias() == null ? 0 : n.bias().length);
    }

    private boolean closed;

    /** Releases the checkpoint mapping (idempotent). Tensors viewing it must not be used afterwards. */
    @Override
    public synchronized void close() {
        if (source != null && !closed) source.close();
        closed = true;
    }
}
