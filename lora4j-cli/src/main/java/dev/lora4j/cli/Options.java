package dev.lora4j.cli;

import dev.lora4j.Lora4jException;

/** Checks shared by the subcommands' options. */
final class Options {
    private Options() {}

    static int positive(String option, int value) {
        if (value < 1) throw new Lora4jException(option + " must be a positive integer, got " + value);
        return value;
    }
}
