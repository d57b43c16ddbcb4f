package dev.lora4j.model;

import dev.lora4j.tensor.Mat;

/**
 * A linear map inside a block, by its Hugging Face module name: a frozen {@link Linear}, or a
 * wrapper around one (a LoRA adapter). Forward and backward stand side by side; backward gives the
 * gradient to the input and accumulates gradients of whatever the projection trains (nothing, for a
 * frozen linear: no weight gradient is computed or stored).
 */
public interface Projection {
    /** The Hugging Face module path, e.g. model.layers.0.self_attn.q_proj. */
    default String name() {
        return base().name();
    }

    default int in() {
        return base().in();
    }

    default int out() {
        return base().out();
    }

    /** The frozen linear underneath. */
    Linear base();

    /** y(rows, out) at y[yOff] (row stride ldy) = x·Wᵀ + b, or y += ... when accumulate. */
    void forward(Mat x /* (rows, in) */, float[] y, int yOff, int ldy, boolean accumulate);

    /**
     * dx(rows, in) = dy·W (or += when accumulate), given the forward input x and dy = dL/dy; accumulates
     * parameter gradients. Must follow the forward pass of the same rows.
     */
    void backward(Mat x /* (rows, in) */, Mat dy /* (rows, out) */, float[] dx, int dxOff, int lddx, boolean accumulate);

    /**
     * The next forward pass repeats the last one on the same input (gradient checkpointing recomputes a
     * block before its backward): whatever the last one drew at random (dropout masks) is used again.
     */
    default void repeatNextForward() {}
}
