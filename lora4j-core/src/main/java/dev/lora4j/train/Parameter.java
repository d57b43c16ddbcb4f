package dev.lora4j.train;

/** One trainable tensor: its values and its gradient (same length), updated in place by an optimizer. */
public record Parameter(String name, float[] value, float[] grad) {
    public Parameter {
        if (value.length != grad.length) throw new IllegalArgumentException(name + ": value and grad differ in length");
    }
}
