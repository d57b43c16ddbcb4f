package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.model.ModelConfig.LayerNormKind;
import dev.lora4j.model.ModelConfig.NormKind;
import dev.lora4j.model.ModelConfig.RmsNormKind;
import dev.lora4j.tensor.Parallel;

/** A normalisation layer with its weights: LayerNorm (γ, β) or RMSNorm (γ). */
public record Norm(String name, NormKind kind, float[] weight /* (C) */, float[] bias /* (C) or null */) {

    /**
     * out(rows, C) = norm(x(rows, C)), row by row. {@code stats} (rows × 2: mean, rstd) receives the
     * statistics the backward pass needs; may be null.
     */
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
}
