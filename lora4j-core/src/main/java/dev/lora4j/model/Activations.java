package dev.lora4j.model;

/**
 * The buffers of one forward (and backward) pass over a (B, T) batch, allocated once and reused:
 * page faults are expensive on this kind of machine, so nothing is allocated per step.
 *
 * <p>For inference one set of layer buffers serves every layer. For training each layer keeps what
 * its backward pass needs (the block input, the norm statistics, qkv, the attention output, the
 * mid-block residual, the MLP pre-activation). Normalised inputs, MLP activations and attention
 * probabilities are recomputed in backward instead of kept: cheap next to the matmuls, and for
 * GPT-2 small a few hundred MB less to hold (docs/performance-notes.md).
 *
 * <p>With gradient checkpointing ({@link #recomputing}) a layer keeps only its input; the rest is one set
 * of buffers that every layer's forward pass overwrites, and the backward pass runs each block's forward
 * again from its kept input just before its backward. The same operations on the same inputs give the
 * same bits, so the gradients are those of the ordinary pass, for one more forward pass of the blocks.
 */
public final class Activations {
    /** What one layer keeps. In inference mode all layers share one instance and xIn == xMid. */
    public record Layer(float[] xIn /* (BT, C) */, float[] stats1 /* (BT, 2) */, float[] qkv /* (BT, W) */,
                        float[] att /* (BT, H·D) */, float[] xMid /* (BT, C) */,
                        float[] stats2 /* (BT, 2) */, float[] pre /* (BT, F or 2F) */,
                        float[] qkPre /* (BT, (H + KV)·D): q and k before their head norms; null without them or in inference */,
                        Sandwich sandwich /* null without sandwich norms */) {}

    /** With sandwich norms (Gemma 2, 3): each half's output before its norm (BT, C), and that norm's stats (BT, 2). */
    public record Sandwich(float[] attOut, float[] attStats, float[] mlpOut, float[] mlpStats) {
        static Sandwich of(int bt, int dim) {
            return new Sandwich(new float[bt * dim], new float[bt * 2], new float[bt * dim], new float[bt * 2]);
        }

        long floats() {
            return 2L * attOut.length + 2L * attStats.length;
        }
    }

    /**
     * The (B·T, V) logits never exist whole: the logits buffer takes LOGIT_ROWS rows at a time (full
     * fine-tuning), or a block of at most VOCAB_BLOCK tokens of the vocabulary for every row (a frozen head).
     */
    public static final int LOGIT_ROWS = 128, VOCAB_BLOCK = 4096;

    final int b, t;
    final boolean training;
    final boolean recompute; // gradient checkpointing: the layers share every buffer but their input
    final Layer[] layers;
    final float[] xFinal, statsFinal;             // final residual stream (BT, C) and its norm stats
    final float[] h, act;                         // scratch: a normalised input (BT, C); MLP activation (BT, F)
    private float[] logits;                       // what the head's pass asks for, at most LOGIT_ROWS × V floats
    final float[] dx, dh, datt, dqkv, dact, dpre; // backward scratch (training only)
    final float[] dOut;                           // backward scratch with sandwich norms: dL/d(a half's output before its norm)

    /** Buffers for b sequences of t tokens, and the model's virtual tokens before each ({@link ModelConfig#virtualTokens()}). */
    public Activations(ModelConfig c, int b, int t, boolean training) {
        this(c, b, t, training, false);
    }

    /** Training buffers with gradient checkpointing: each layer keeps its input only, and backward recomputes the rest. */
    public static Activations recomputing(ModelConfig c, int b, int t) {
        return new Activations(c, b, t, true, true);
    }

    private Activations(ModelConfig c, int b, int t, boolean training, boolean recompute) {
        this.b = b;
        this.t = t + c.virtualTokens();
        this.training = training;
        this.recompute = recompute;
        int bt = b * this.t, dim = c.dim(), pre = (c.gatedMlp() ? 2 : 1) * c.hidden();
        int n = training ? c.layers() : 1;
        layers = new Layer[n];
        Layer shared = null;
        for (int l = 0; l < n; l++) {
            float[] xIn = new float[bt * dim];
            if (shared != null) {
                layers[l] = new Layer(xIn, shared.stats1(), shared.qkv(), shared.att(), shared.xMid(), shared.stats2(), shared.pre(), shared.qkPre(), shared.sandwich());
                continue;
            }
            float[] qkPre = training && c.qkNorm() ? new float[bt * (c.heads() + c.kvHeads()) * c.headDim()] : null;
            layers[l] = new Layer(xIn, new float[bt * 2], new float[bt * c.qkvWidth()], new float[bt * c.heads() * c.headDim()], training ? new float[bt * dim] : xIn, new float[bt * 2], new float[bt * pre], qkPre,
                    c.gemma().sandwichNorms() ? Sandwich.of(bt, dim) : null);
            if (recompute) shared = layers[l];
        }
        xFinal = training ? new float[bt * dim] : layers[0].xIn();
        statsFinal = new float[bt * 2];
        h = new float[bt * dim];
        act = new float[bt * c.hidden()];
        dx = training ? new float[bt * dim] : null;
        dh = training ? new float[bt * dim] : null;
        datt = training ? new float[bt * c.heads() * c.headDim()] : null;
        dqkv = training ? new float[bt * c.qkvWidth()] : null;
        dact = training ? new float[bt * c.hidden()] : null;
        dpre = training && c.gatedMlp() ? new float[bt * pre] : null;
        dOut = training && c.gemma().sandwichNorms() ? new float[bt * dim] : null;
    }

    /** The logits buffer, at least {@code floats} long: allocated at the first pass, kept for the next. */
    float[] logits(int floats) {
        if (logits == null || logits.length < floats) logits = new float[floats];
        return logits;
    }

    Layer layer(int l) {
        return layers[training ? l : 0];
    }

    /** Whether these buffers take b sequences of t positions (virtual tokens included). */
    public boolean fits(int b, int t) {
        return this.b == b && this.t == t;
    }

    public int batch() {
        return b;
    }

    /** Positions per sequence, virtual tokens included. */
    public int seqLen() {
        return t;
    }

    public boolean training() {
        return training;
    }

    /** Whether backward recomputes each block's activations from its input (gradient checkpointing). */
    public boolean recomputing() {
        return recompute;
    }

    /** Bytes held, for memory reports. */
    public long bytes() {
        long n = (long) xFinal.length + statsFinal.length + h.length + act.length + (logits == null ? 0 : logits.length);
        for (int i = 0; i < layers.length; i++) {
            Layer l = layers[i];
            n += l.xIn().length;
            if (recompute && i > 0) continue;
            n += l.stats1().length + l.qkv().length + l.att().length + l.stats2().length + l.pre().length;
            if (l.xMid() != l.xIn()) n += l.xMid().length;
            if (l.qkPre() != null) n += l.qkPre().length;
            if (l.sandwich() != null) n += l.sandwich().floats();
        }
        if (dOut != null) n += dOut.length;
        if (training) n += dx.length + dh.length + datt.length + dqkv.length + dact.length + (dpre == null ? 0 : dpre.length);
        return 4 * n;
    }
}
