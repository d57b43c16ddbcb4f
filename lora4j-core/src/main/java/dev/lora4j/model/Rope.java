package dev.lora4j.model;

import dev.lora4j.model.ModelConfig.Llama3Scaling;
import dev.lora4j.model.ModelConfig.LongRope;
import dev.lora4j.model.ModelConfig.Rotary;

/**
 * Rotary position tables: cos and sin of position·invFreq[i], (positions, D/2), computed as HF does
 * (inverse frequencies in fp32, the angle as an fp32 product), including Llama 3's frequency scaling.
 * With LongRoPE there are two tables, as transformers builds them for a forward pass: the short one while
 * the pass covers at most the original context, the long one beyond it ({@link #longFor}); both scaled by
 * the attention factor.
 */
public final class Rope {
    private final float[] invFreq, longInvFreq; // (D/2); the long one only with LongRoPE
    private final float attentionFactor;
    private final int originalMax;
    private float[] cos = new float[0], sin = new float[0], longCos = new float[0], longSin = new float[0]; // (positions, D/2)
    private int positions;

    public Rope(Rotary kind, int headDim) {
        int half = headDim / 2;
        invFreq = new float[half];
        for (int i = 0; i < half; i++) invFreq[i] = (float) (1.0 / Math.pow(kind.theta(), (float) (2 * i) / headDim));
        if (kind.scaling() != null) scaleLlama3(invFreq, kind.scaling());
        if (kind.linearFactor() != 1.0) for (int i = 0; i < half; i++) invFreq[i] /= (float) kind.linearFactor(); // in fp32, as transformers
        LongRope lr = kind.longRope();
        longInvFreq = lr == null ? null : new float[half];
        if (lr != null) {
            float[] base = invFreq.clone();
            for (int i = 0; i < half; i++) {
                invFreq[i] = (float) (base[i] / lr.shortFactor()[i]);
                longInvFreq[i] = (float) (base[i] / lr.longFactor()[i]);
            }
        }
        attentionFactor = lr == null ? 1f : (float) lr.attentionFactor();
        originalMax = lr == null ? Integer.MAX_VALUE : lr.originalMaxPositions();
    }

    /**
     * Llama 3's frequency scaling as one divisor per frequency (D/2): what llama.cpp reads as the
     * {@code rope_freqs} tensor (its converter writes the same numbers).
     */
    public static float[] llama3Divisors(double theta, int headDim, Llama3Scaling s) {
        int half = headDim / 2;
        float[] base = new float[half], scaled = new float[half], out = new float[half];
        for (int i = 0; i < half; i++) base[i] = scaled[i] = (float) (1.0 / Math.pow(theta, (float) (2 * i) / headDim));
        scaleLlama3(scaled, s);
        for (int i = 0; i < half; i++) out[i] = base[i] / scaled[i];
        return out;
    }

    /** Whether a forward pass over positions [0, length) uses the long table (LongRoPE past the original context). */
    public boolean longFor(int length) {
        return length > originalMax;
    }

    private static void scaleLlama3(float[] invFreq, Llama3Scaling s) {
        double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor();
        double highWavelen = s.originalMaxPositions() / s.highFreqFactor();
        for (int i = 0; i < invFreq.length; i++) {
            double f = invFreq[i];
            double wavelen = 2 * Math.PI / f;
            double scaled = wavelen > lowWavelen ? f / s.factor() : f;
            if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
                double smooth = (s.originalMaxPositions() / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                scaled = (1 - smooth) * scaled / s.factor() + smooth * scaled;
            }
            invFreq[i] = (float) scaled;
        }
    }

    /** Makes sure the tables cover positions [0, n). */
    public synchronized void ensure(int n) {
        if (n <= positions) return;
        cos = new float[n * half()];
        sin = new float[n * half()];
        fill(invFreq, cos, sin, n);
        if (longInvFreq != null) {
            longCos = new float[n * half()];
            longSin = new float[n * half()];
            fill(longInvFreq, longCos, longSin, n);
        }
        positions = n;
    }

    private void fill(float[] inv, float[] c, float[] s, int n) {
        int half = inv.length;
        for (int p = 0; p < n; p++)
            for (int i = 0; i < half; i++) {
                float angle = (float) p * inv[i];
                c[p * half + i] = (float) Math.cos(angle) * attentionFactor;
                s[p * half + i] = (float) Math.sin(angle) * attentionFactor;
            }
    }

    /** The table a forward pass over length positions uses (the long one with LongRoPE past the original context). */
    public float[] cos(int length) {
        return longFor(length) ? longCos : cos;
    }

    public float[] sin(int length) {
        return longFor(length) ? longSin : sin;
    }

    public int half() {
        return invFreq.length;
    }
}
