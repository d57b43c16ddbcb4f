package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import dev.lora4j.demo.MethodComparison;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "compare-methods", mixinStandardHelpOptions = true,
        description = {"Train LoRA, IA³, Houlsby bottleneck adapters, prompt and prefix tuning and full fine-tuning on the same data, steps and batches,",
                "and measure each: trainable parameters, file size, training state, peak memory (each trains in a JVM of its own) and speed,",
                "eval loss, the task's score, the context left, and milliseconds per generated token at batch 1, unmerged and merged, beside",
                "the base model. Default: the demo's task on the bundled model",
                "(about 4 minutes on 2 cores). Writes compare.md, compare.json, report/index.html and each method's output."})
final class CompareMethodsCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "runs/compare", paramLabel = "DIR", description = "Output directory: new, empty, or an earlier comparison's (default: ${DEFAULT-VALUE}).")
    Path out;
    @Option(names = "--model", paramLabel = "DIR", description = "Base model (default: the bundled one).")
    Path model;
    @Option(names = "--data", paramLabel = "FILE", description = "Training data, as train reads it (default: the demo's task, made here).")
    Path data;
    @Option(names = "--eval-data", paramLabel = "FILE", description = "Evaluation data (needed with --data).")
    Path evalData;
    @Option(names = "--methods", defaultValue = "lora,ia3,bottleneck,prompt,prefix,full", split = ",", paramLabel = "LIST", description = "Which to train (default: ${DEFAULT-VALUE}).")
    List<String> methods;
    @Option(names = "--steps", defaultValue = "600", description = "Training steps for every method (default: ${DEFAULT-VALUE}).")
    long steps;
    @Option(names = "--r", defaultValue = "4", description = "LoRA rank, on q_proj and v_proj (default: ${DEFAULT-VALUE}).")
    int rank;
    @Option(names = "--bottleneck-size", defaultValue = "16", paramLabel = "M", description = "Bottleneck adapters' width (default: ${DEFAULT-VALUE}).")
    int bottleneckSize;
    @Option(names = "--virtual-tokens", defaultValue = "16", paramLabel = "N", description = "Prompt and prefix tuning's virtual tokens (the soft"
            + " prompt started from sampled vocabulary rows) (default: ${DEFAULT-VALUE}).")
    int virtualTokens;
    @Option(names = "--latency-tokens", defaultValue = "128", paramLabel = "N", description = "Tokens generated per latency measurement (default: ${DEFAULT-VALUE}).")
    int latencyTokens;
    @Option(names = "--seed", defaultValue = "7", description = "Seed of the task data and training (default: ${DEFAULT-VALUE}).")
    long seed;
    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();

    @Override
    public Integer call() throws Exception {
        threads.apply();
        if (steps < 1) throw new Lora4jException("--steps must be positive, got " + steps);
        Options.positive("--r", rank);
        Options.positive("--bottleneck-size", bottleneckSize);
        Options.positive("--latency-tokens", latencyTokens);
        Options.positive("--virtual-tokens", virtualTokens);
        if (evalData != null && data == null) throw new Lora4jException("--eval-data goes with --data");
        MethodComparison.run(new MethodComparison.Options(out, model, data, evalData, MethodComparison.methods(methods), steps, rank, bottleneckSize, virtualTokens, seed,
                latencyTokens), System.out, System.err);
        return 0;
    }
}
