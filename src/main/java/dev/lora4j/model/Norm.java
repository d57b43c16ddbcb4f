package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.model.ModelConfig.LayerNormKind;
import dev.lora4j.model.ModelConfig.NormKind;
import dev.lora4j.model.ModelConfig.RmsNormKind;
import dev.lora4j.tensor.Parallel;

/** A normalisation layer with its (frozen) weights, forward and backward: LayerNorm (γ, β) or RMSNorm (γ). */
public record Norm(String name, NormKind kind, float[] weight /* (C) */, float[] bias /* (C) or null */) {

    /** out(rows, C) = norm(x(rows, C)); stats (rows, 2) receives {mean, rstd} per row when not null. */
    public void forward(float[] out, float[] x, int rows, int c, float[] stats) {
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
                        float rstd = Kernels.ops().rmsNorm(out, r * c, x, r * c, weight, c, rms.eps());
                        if (stats != null) {
                            stats[2 * r] = 0f;
                            stats[2 * r + 1] = rstd;
                        }
                    }
                }
            }
        });
    }

    /** dx(rows, C) += dL/dx given dout = dL/d(out), the forward input x and its stats. */
    public void backward(float[] dx, float[] dout, float[] x, int rows, int c, float[] stats) {
        Parallel.forRange(rows, 16, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                switch (kind) {
                    case LayerNormKind ln -> Kernels.ops().layerNormBackward(dx, r * c, dout, r * c, x, r * c,
                            stats[2 * r], stats[2 * r + 1], weight, null, null, c);
                    case RmsNormKind rms -> Kernels.ops().rmsNormBackward(dx, r * c, dout, r * c, x, r * c,
                            stats[2 * r + 1], weight, null, c);
                }
            }
        });
    }
}
