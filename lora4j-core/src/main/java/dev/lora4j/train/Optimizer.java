package dev.lora4j.train;

import java.util.List;

/**
 * Optimizers with PyTorch's exact update rules. State lives in flat arrays beside each parameter,
 * so it can be saved and restored bit for bit ({@link #state()}).
 */
public sealed interface Optimizer {
    /** One update of every parameter from its gradient, at learning rate lr. */
    void step(List<Parameter> params, float lr);

    /** The optimizer's state arrays, in parameter order (for checkpoints), and its step count. */
    List<float[]> state();

    long steps();

    void restore(List<float[]> state, long steps);

    /**
     * Per-parameter multipliers of the learning rate for LoRA+ (Hayou et al. 2024, PEFT's create_loraplus_optimizer):
     * LoRA's B matrices (names ending ".lora_B"), their lora_bias and DoRA's magnitudes (both one-dimensional, which PEFT puts in B's group)
     * learn at ratio times the rate of everything else.
     */
    static float[] loraPlus(List<Parameter> params, double ratio) {
        float[] scale = new float[params.size()];
        for (int k = 0; k < scale.length; k++) {
            String n = params.get(k).name();
            scale[k] = n.endsWith(".lora_B") || n.endsWith(".lora_B.bias") || n.endsWith(".lora_magnitude_vector") ? (float) ratio : 1f;
        }
        return scale;
    }

    private static float[] ones(int n) {
        float[] f = new float[n];
        java.util.Arrays.fill(f, 1f);
        return f;
    }

    /**
     * AdamW (torch.optim.AdamW): p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
     * p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps).
     */
    final class AdamW implements Optimizer {
        private final float beta1, beta2, eps, weightDecay;
        private final float[] lrScale;
        private final float[][] m, v;
        private long t;

        public AdamW(List<Parameter> params, float beta1, float beta2, float eps, float weightDecay) {
            this(params, beta1, beta2, eps, weightDecay, ones(params.size()));
        }

        /** With parameter k at learning rate lr · lrScale[k] (its own parameter group, in PyTorch's terms). */
        public AdamW(List<Parameter> params, float beta1, float beta2, float eps, float weightDecay, float[] lrScale) {
            if (lrScale.length != params.size()) throw new IllegalArgumentException(lrScale.length + " learning-rate scales for " + params.size() + " parameters");
            this.lrScale = lrScale.clone();
            this.beta1 = beta1;
            this.beta2 = beta2;
            this.eps = eps;
            this.weightDecay = weightDecay;
            m = new float[params.size()][];
            v = new float[params.size()][];
            for (int i = 0; i < params.size(); i++) {
                m[i] = new float[params.get(i).value().length];
                v[i] = new float[params.get(i).value().length];
            }
        }

        @Override
        public void step(List<Parameter> params, float lr) {
            t++;
            double bc1 = 1 - Math.pow(beta1, t), bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, t));
            for (int k = 0; k < params.size(); k++) {
                float[] p = params.get(k).value(), g = params.get(k).grad(), mk = m[k], vk = v[k];
                float lrk = lr * lrScale[k], stepSize = (float) (lrk / bc1), decay = 1f - lrk * weightDecay;
                for (int i = 0; i < p.length; i++) {
                    if (weightDecay != 0f) p[i] *= decay;
                    mk[i] = beta1 * mk[i] + (1 - beta1) * g[i];
                    vk[i] = beta2 * vk[i] + (1 - beta2) * g[i] * g[i];
                    float denom = (float) (Math.sqrt(vk[i]) / bc2Sqrt) + eps;
                    p[i] -= stepSize * mk[i] / denom;
                }
            }
        }

        @Override
        public List<float[]> state() {
            List<float[]> s = new java.util.ArrayList<>();
            for (int i = 0; i < m.length; i++) {
                s.add(m[i]);
                s.add(v[i]);
            }
            return s;
        }

        @Override
        public long steps() {
            return t;
        }

        @Override
        public void restore(List<float[]> state, long steps) {
            for (int i = 0; i < m.length; i++) {
                System.arraycopy(state.get(2 * i), 0, m[i], 0, m[i].length);
                System.arraycopy(state.get(2 * i + 1), 0, v[i], 0, v[i].length);
            }
            t = steps;
        }
    }

    /**
     * SGD (torch.optim.SGD, dampening 0, no Nesterov): g ← g + wd·p; with momentum μ,
     * b ← g on the first step, then b ← μ·b + g, and g ← b; p ← p − lr·g.
     */
    final class Sgd implements Optimizer {
        private final float momentum, weightDecay;
        private final float[] lrScale;
        private final float[][] buf;
        private long t;

        public Sgd(List<Parameter> params, float momentum, float weightDecay) {
            this(params, momentum, weightDecay, ones(params.size()));
        }

        /** With parameter k at learning rate lr · lrScale[k]. */
        public Sgd(List<Parameter> params, float momentum, float weightDecay, float[] lrScale) {
            if (lrScale.length != params.size()) throw new IllegalArgumentException(lrScale.length + " learning-rate scales for " + params.size() + " parameters");
            this.lrScale = lrScale.clone();
            this.momentum = momentum;
            this.weightDecay = weightDecay;
            buf = new float[params.size()][];
            if (momentum != 0f) for (int i = 0; i < params.size(); i++) buf[i] = new float[params.get(i).value().length];
        }

        @Override
        public void step(List<Parameter> params, float lr) {
            for (int k = 0; k < params.size(); k++) {
                float[] p = params.get(k).value(), g = params.get(k).grad(), b = buf[k];
                float lrk = lr * lrScale[k];
                for (int i = 0; i < p.length; i++) {
                    float d = g[i] + weightDecay * p[i];
                    if (momentum != 0f) {
                        b[i] = t == 0 ? d : momentum * b[i] + d;
                        d = b[i];
                    }
                    p[i] -= lrk * d;
                }
            }
            t++;
        }

        @Override
        public List<float[]> state() {
            return momentum == 0f ? List.of() : List.of(buf);
        }

        @Override
        public long steps() {
            return t;
        }

        @Override
        public void restore(List<float[]> state, long steps) {
            for (int i = 0; i < state.size(); i++) System.arraycopy(state.get(i), 0, buf[i], 0, buf[i].length);
            t = steps;
        }
    }

    /** Scales all gradients so their global L2 norm is at most max (torch.nn.utils.clip_grad_norm_); returns the norm before. */
    static double clipGradNorm(List<Parameter> params, double max) {
        double sq = 0;
        for (Parameter p : params) for (float g : p.grad()) sq += (double) g * g;
        double norm = Math.sqrt(sq);
        if (max > 0 && norm > max) {
            float c = (float) (max / (norm + 1e-6));
            for (Parameter p : params) {
                float[] g = p.grad();
                for (int i = 0; i < g.length; i++) g[i] *= c;
            }
        }
        return norm;
    }
}
