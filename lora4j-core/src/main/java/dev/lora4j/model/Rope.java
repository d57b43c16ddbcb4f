package dev.lora4j.model;

import dev.lora4j.model.ModelConfig.Llama3Scaling;
import dev.lora4j.model.ModelConfig.Rotary;

/**
 * Rotary position tables: cos and sin of position·invFreq[i], (positions, D/2), computed as HF does
 * (inverse frequencies in fp32, the angle as an fp32 product), including Llama 3's frequency scaling.
 */
public final class Rope {
    private final float[] invFreq; // (D/2)
    private float[] cos = new float[0], sin = new float[0]; // (positions, D/2)
    private int positions;

    public Rope(Rotary kind, int headDim) {
        int half = headDim / 2;
        invFreq = new float[half];
        for (int i = 0; i < half; i++) invFreq[i] = (float) (1.0 / Math.pow(kind.theta(), (float) (2 * i) / headDim));
        if (kind.scaling() != null) scaleLlama3(invFreq, kind.scaling());
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
        int half = invFreq.length;
        float[] c = new float[n * half], s = new float[n * half];
        for (int p = 0; p < n; p++)
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i];
                c[p * half + i] = (float) Math.cos(angle);
                s[p * half + i] = (float) Math.sin(angle);
            }
        cos = c;
        sin = s;
        positions = n;
    }

    public float[] cos() {
        return cos;
    }

    public float[] sin() {
        return sin;
    }

    public int half() {
        return invFreq.length;
    }
}
