package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;

/** The feed-forward half of a block; its kind decides the shape (see {@link ModelConfig.MlpKind}). */
public sealed interface Mlp {
    /** x(B·T, C) += mlp(h); pre (B·T, F or 2F) and act (B·T, F) keep what backward needs. */
    void forward(float[] h, int rows, int c, float[] pre, float[] act, float[] x);

    int hidden();

    /** GPT-2: c_proj(gelu_tanh(c_fc(h))). pre holds c_fc's output. */
    record Gelu(Linear fc, Linear proj) implements Mlp {
        @Override
        public void forward(float[] h, int rows, int c, float[] pre, float[] act, float[] x) {
            int f = fc.out();
            fc.forward(Mat.of(h, 0, rows, c), pre, 0, f, false);
            Parallel.forRange(rows, 16, (r0, r1) -> {
                for (int r = r0; r < r1; r++) Kernels.ops().geluTanh(act, r * f, pre, r * f, f);
            });
            proj.forward(Mat.of(act, 0, rows, f), x, 0, c, true);
        }

        @Override
        public int hidden() {
            return fc.out();
        }
    }

    /** Llama family: down(silu(gate(h))·up(h)). pre holds [gate | up] side by side, (B·T, 2F). */
    record SwiGlu(Linear gate, Linear up, Linear down) implements Mlp {
        @Override
        public void forward(float[] h, int rows, int c, float[] pre, float[] act, float[] x) {
            int f = gate.out();
            Mat hm = Mat.of(h, 0, rows, c);
            gate.forward(hm, pre, 0, 2 * f, false);
            up.forward(hm, pre, f, 2 * f, false);
            Parallel.forRange(rows, 16, (r0, r1) -> {
                for (int r = r0; r < r1; r++) Kernels.ops().swiglu(act, r * f, pre, r * 2 * f, pre, r * 2 * f + f, f);
            });
            down.forward(Mat.of(act, 0, rows, f), x, 0, c, true);
        }

        @Override
        public int hidden() {
            return gate.out();
        }
    }
}
