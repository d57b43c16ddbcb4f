package dev.lora4j.lora;

/** Shares the gradient comparison of {@link LoraReferenceTest} with other test packages. */
public final class LoraReferenceTestAccess {
    private LoraReferenceTestAccess() {}

    public static double relativeError(float[] actual, float[] expected) {
        return LoraReferenceTest.relativeError(actual, expected);
    }
}
