package dev.lora4j.model;

import dev.lora4j.kernels.Kernels;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Parallel;

/** The feed-forward half of a block, forward and backward; its kind decides the shape. */
public sealed interface Mlp {
    /** x(B·T, C) += mlp(h); pre (B·T, F or 2F) keeps what backward needs; act (B·T, F) is scratch. */
    void forward(float[] h, int rows, int c, float[] pre, float[] act, float[] x);

    /**
     * dh(B·T, C) = dL/dh given dy = dL/d(output) and the saved pre; act, dact (B·T, F) and dpre (like
     * pre; SwiGLU only, GELU works in dact) are scratch. act is recomputed from pre (cheaper than keeping
     * it for every layer).
     */
    void backward(float[] h, int rows, int c, float[] pre, float[] act, float[] dy, float[] dact, float[] dpre, float[] dh);

    int hidden();

    /** A gated MLP's activation: act (rows, F) from pre = [gate | up] (rows, 2F), or its backward into dpre. */
    @FunctionalInterface
    interface GateActivation {
        void apply(float[] pre, float[] out, int rows, int f);
    }

    @FunctionalInterface
    interface GateBackward {
        void apply(float[] pre, float[] dact, float[] dpre, int rows, int f);
    }

    /** Gate and up side by side into pre (rows, 2F), the activation into act, then x += down(act). */
    private static void gatedForward(Projection gate, Projection up, Projection down, GateActivation activation,
                                     float[] h, int rows, int c, float[] pre, float[] act, float[] x) {
        int f = gate.out();
        Mat hm = Mat.of(h, 0, rows, c);
        gate.forward(hm, pre, 0, 2 * f, false);
        up.forward(hm, pre, f, 2 * f, false);
        activation.apply(pre, act, rows, f);
        down.forward(Mat.of(act, 0, rows, f), x, 0, c, true);
    }

    /** Backward of {@link #gatedForward}: act recomputed, then down, the activation, and gate and up into dh. */
    private static void gatedBackward(Projection gate, Projection up, Projection down, GateActivation activation, GateBackward activationBackward,
                                      float[] h, int rows, int c, float[] pre, float[] act, float[] dy, float[] dact, float[] dpre, float[] dh) {
        int f = gate.out();
        activation.apply(pre, act, rows, f);
        down.backward(Mat.of(act, 0, rows, f), Mat.of(dy, 0, rows, c), dact, 0, f, false);
        activationBackward.apply(pre, dact, dpre, rows, f);
        Mat hm = Mat.of(h, 0, rows, c);
        gate.backward(hm, Mat.of(dpre, 0, rows, f, 2 * f), dh, 0, c, false);
        up.backward(hm, Mat.of(dpre, f, rows, f, 2 * f), dh, 0, c, true);
    }

    /** GPT-2: c_proj(gelu_tanh(c_fc(h))). pre holds c_fc's output (B·T, F). */
    record Gelu(Projection fc, Projection proj) implements Mlp {
        @Override
        public void forward(float[] h, int rows, int c, float[] pre, float[] act, float[] x) {
            int f = fc.out();
            fc.forward(Mat.of(h, 0, rows, c), pre, 0, f, false);
            activate(pre, act, rows, f);
            proj.forward(Mat.of(act, 0, rows, f), x, 0, c, true);
        }

        static void activate(float[] pre, float[] act, int rows, int f) {
            Parallel.forRange(rows, 16, (r0, r1) -> {
                for (int r = r0; r < r1; r++) Kernels.ops().geluTanh(act, r * f, pre, r * f, f);
            });
        }

        @Override
        public void backward(float[] h, int rows, int c, float[] pre, float[] act, float[] dy, float[] dact, float[] dpre, float[] dh) {
            int f = fc.out();
            activate(pre, act, rows, f);
            proj.backward(Mat.of(act, 0, rows, f), Mat.of(dy, 0, rows, c), dact, 0, f, false);
            Parallel.forRange(rows, 16, (r0, r1) -> { // dpre overwrites dact in place: elementwise, and dact is not needed after
                for (int r = r0; r < r1; r++) Kernels.ops().geluTanhBackward(dact, r * f, dact, r * f, pre, r * f, f);
            });
            fc.backward(Mat.of(h, 0, rows, c), Mat.of(dact, 0, rows, f), dh, 0, c, false);
        }

        @Override
        public int hidden() {
            return fc.out();
        }
    }

    /** Llama family: down(silu(gate(h))·up(h)). pre holds [gate | up] side by side, (B·T, 2F). */
    record SwiGlu(Projection gate, Projection up, Projection down) implements Mlp {
        @Override
        public void forward(float[] h, int rows, int c, float[] pre, float[] act, float[] x) {
            gatedForward(gate, up, down, SwiGlu::activate, h, rows, c, pre, act, x);
        }

        static void activate(float[] pre, float[] act, int rows, int f) {
            Parallel.forRange(rows, 16, (r0, r1) -> {
                for (int r = r0; r < r1; r++) Kernels.ops().swiglu(act, r * f, pre, r * 2 * f, pre, r * 2 * f + f, f);
            });
        }

        @Override
        public void backward(float[] h, int rows, int c, float[] pre, float[] act, float[] dy, float[] dact, float[] dpre, float[] dh) {
            gatedBackward(gate, up, down, SwiGlu::activate, SwiGlu::activateBackward, h, rows, c, pre, act, dy, dact, dpre, dh);
        }

        /** dpre ([dgate | dup], rows × 2F) from dact = dL/d(silu(gate)·up). */
        static void activateBackward(float[] pre, float[] dact, float[] dpre, int rows, int f) {
            Parallel.forRange(rows, 16, (r0, r1) -> {
                for (int r = r0; r < r1; r++)
                    Kernels.ops().swigluBackward(dpre, r * 2 * f, dpre, r * 2 * f + f, dact, r * f, pre, r * 2 * f, pre, r * 2 * f + f, f);
            });
        }

        @Override
        public int hidden() {
            return gate.out();
        }
    }

    /**
     * Phi-3: SwiGLU with gate and up fused in one projection whose output is [gate | up] (2F), the layout of pre,
     * so it writes pre directly: down(silu(gate)·up).
     */
    record FusedSwiGlu(Projection gateUp, Projection down) implements Mlp {
        @Override
        public void forward(float[] h, int rows, int c, float[] pre, float[] act, float[] x) {
            int f = hidden();
            gateUp.forward(Mat.of(h, 0, rows, c), pre, 0, 2 * f, false);
            SwiGlu.activate(pre, act, rows, f);
            down.forward(Mat.of(act, 0, rows, f), x, 0, c, true);
        }

        @Override
        public void backward(float[] h, int rows, int c, float[] pre, float[] act, float[] dy, float[] dact, float[] dpre, float[] dh) {
            int f = hidden();
            SwiGlu.activate(pre, act, rows, f);
            down.backward(Mat.of(act, 0, rows, f), Mat.of(dy, 0, rows, c), dact, 0, f, false);
            SwiGlu.activateBackward(pre, dact, dpre, rows, f);
            gateUp.backward(Mat.of(h, 0, rows, c), Mat.of(dpre, 0, rows, 2 * f), dh, 0, c, false);
        }

        @Override
        public int hidden() {
            return gateUp.out() / 2;
        }
    }

    /** Gemma: down(gelu_tanh(gate(h))·up(h)). pre holds [gate | up] side by side, (B·T, 2F), as for SwiGLU. */
    record GeGlu(Projection gate, Projection up, Projection down) implements Mlp {
        @Override
        public void forward(float[] h, int rows, int c, float[] pre, float[] act, float[] x) {
            gatedForward(gate, up, down, GeGlu::activate, h, rows, c, pre, act, x);
        }

        /** act = gelu_tanh(gate)·up, the activation rounded to fp32 before the product (as transformers). */
        static void activate(float[] pre, float[] act, int rows, int f) {
            Parallel.forRange(rows, 16, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    Kernels.ops().geluTanh(act, r * f, pre, r * 2 * f, f);
                    for (int j = 0, a = r * f, u = r * 2 * f + f; j < f; j++) act[a + j] *= pre[u + j];
                }
            });
        }

        @Override
        public void backward(float[] h, int rows, int c, float[] pre, float[] act, float[] dy, float[] dact, float[] dpre, float[] dh) {
            gatedBackward(gate, up, down, GeGlu::activate, GeGlu::activateBackward, h, rows, c, pre, act, dy, dact, dpre, dh);
        }

        /** dpre ([dgate | dup], rows × 2F) from dact = dL/d(gelu(gate)·up). */
        static void activateBackward(float[] pre, float[] dact, float[] dpre, int rows, int f) {
            Parallel.forRange(rows, 16, (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    int g = r * 2 * f, u = g + f, a = r * f;
                    Kernels.ops().geluTanh(dpre, u, pre, g, f);                               // dup = dact·gelu(gate)
                    for (int j = 0; j < f; j++) {
                        dpre[u + j] *= dact[a + j];
                        dpre[g + j] = dact[a + j] * pre[u + j];                               // dL/d(gelu(gate)) = dact·up
                    }
                    Kernels.ops().geluTanhBackward(dpre, g, dpre, g, pre, g, f);              // dgate = that·gelu'(gate)
                }
            });
        }

        @Override
        public int hidden() {
            return gate.out();
        }
    }
}
