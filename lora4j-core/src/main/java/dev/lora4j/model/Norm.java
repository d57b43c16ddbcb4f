package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.model.ModelConfig.LayerNormKind;
import dev.lora4j.model.ModelConfig.NormKind;
import dev.lora4j.model.ModelConfig.RmsNormKind;
import dev.lora4j.tensor.Parallel;

/**
 * A normalisation layer with its weights, forward and backward: LayerNorm (γ, β) or RMSNorm (γ).
 * Frozen unless it carries gradient arrays (full fine-tuning). {@code name} is the checkpoint's
 * tensor prefix (e.g. {@code h.0.ln_1}, {@code model.norm}).
 */
public record Norm(String name, NormKind kind, float[] weight /* (C) */, float[] bias /* (C) or null */,
                   float[] weightGrad /* (C) or null: frozen */, float[] biasGrad /* (C) or null */) {

    public Norm(String name, NormKind kind, float[] weight, float[] bias) {
        this(name, kind, weight, bias, null, null);
    }

    /** A trainable copy: own weights, zeroed gradients. */
    public Norm trainable() {
        return new Norm(name, kind, weight.clone(), bias == null ? null : bias.clone(), new float[weight.length],
                bias == null ? null : new float[bias.length]);
    }

    /**
     * What the normalised input is multiplied by: the weight, or offset + weight where the checkpoint stores it
     * shifted (Gemma's 1 + γ, added in fp32 as transformers does). Its gradient is the weight's.
     */
    public float[] gain() {
        if (!(kind instanceof RmsNormKind rms) || rms.offset() == 0f) return weight;
        float[] g = new float[weight.length];
        for (int i = 0; i < g.length; i++) g[i] = rms.offset() + weight[i];
        return g;
    }

    /** out(rows, C) = norm(x(rows, C)); stats (rows, 2) receives {mean, rstd} per row when not null. */
    public void forward(float[] out, float[] x, int rows, int c, float[] stats) {
        float[] gain = gain();
        Parallel.forRange(rows, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                switch (kind) {
                    case LayerNormKind ln -> {
                        float[] s = Kernels.ops().layerNorm(out, r * c, x, r * c, weight, bias, c, ln.eps());
                        if (stats != null) {
                            stats[2 * r] = s[0];
                            stats[2 * r + 1] = s[1];
                        }
                    }
                    case RmsNormKind rms -> {
                        float rstd = Kernels.ops().rmsNorm(out, r * c, x, r * c, gain, c, rms.eps());
                        if (stats != null) {
                            stats[2 * r] = 0f;
                            stats[2 * r + 1] = rstd;
                        }
                    }
                }
            }
        });
    }

    /**
     * dx(rows, C) += dL/dx given dout = dL/d(out), the forward input x and its stats; accumulates the
     * weight gradients when trainable (rows in order, on one thread, so the sum is deterministic).
     */
    public void backward(float[] dx, float[] dout, float[] x, int rows, int c, float[] stats) {
        float[] gain = gain();
        Parallel.forRange(rows, weightGrad == null ? 16 : Integer.MAX_VALUE, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                switch (kind) {
                    case LayerNormKind ln -> Kernels.ops().layerNormBackward(dx, r * c, dout, r * c, x, r * c,
                            stats[2 * r], stats[2 * r + 1], weight, weightGrad, biasGrad, c);
                    case RmsNormKind rms -> Kernels.ops().rmsNormBackward(dx, r * c, dout, r * c, x, r * c,
                            stats[2 * r + 1], gain, weightGrad, c);
                }
            }
        });
    }
}
