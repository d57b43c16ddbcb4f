package dev.lora4j.cli;

import dev.lora4j.tensor.Parallel;
import picocli.CommandLine.Option;

/** The --threads option every command shares (a picocli mixin); {@link #apply()} sets the pool's size. */
final class ThreadsOption {
    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    void apply() {
        if (threads != null) Parallel.setThreads(Options.positive("--threads", threads));
    }
}
