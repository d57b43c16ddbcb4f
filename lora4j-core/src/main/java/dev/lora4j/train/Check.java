package dev.lora4j.train;

import dev.lora4j.Lora4jException;

/** Domain checks for the numbers a run is configured with; each error names the option and the domain. */
final class Check {
    private Check() {}

    static void atLeast(String option, long value, long min, long max) {
        if (value < min || value > max)
            throw new Lora4jException(option + " must be " + (max == Long.MAX_VALUE || max == Integer.MAX_VALUE ? ">= " + min : "in [" + min + ", " + max + "]")
                    + ", got " + value);
    }

    static void positiveFinite(String option, double value) {
        if (!(value > 0) || !Double.isFinite(value)) throw new Lora4jException(option + " must be a positive finite number, got " + value);
    }

    static void nonNegativeFinite(String option, double value) {
        if (!(value >= 0) || !Double.isFinite(value)) throw new Lora4jException(option + " must be a finite number >= 0, got " + value);
    }

    /** [0, 1): dropout, momentum, Adam's betas, an evaluation fraction. */
    static void inUnit(String option, double value) {
        if (!(value >= 0 && value < 1)) throw new Lora4jException(option + " must be in [0, 1), got " + value);
    }
}
