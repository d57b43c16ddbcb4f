package dev.lora4j.cli;

import dev.lora4j.tensor.Parallel;
import picocli.CommandLine.Option;

/** The --threads option every command shares (a picocli mixin); {@link #apply()} sets the pool's size. */
final class ThreadsOption {
    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    void apply() {
        if (threads == null) return;
        int cores = Runtime.getRuntime().availableProcessors();
        if (threads < 1 || threads > Math.max(256, 4 * cores))
            throw new dev.lora4j.Lora4jException("--threads must be in [1, " + Math.max(256, 4 * cores) + "] (this machine has " + cores + " cores), got " + threads);
        Parallel.setThreads(threads);
    }
}
