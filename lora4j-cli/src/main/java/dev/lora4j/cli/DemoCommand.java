package dev.lora4j.cli;

import dev.lora4j.demo.Demo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The whole LoRA story on the bundled base model, in about a minute.",
                "On models/lora4j-stories: the base model's score on a task it was never asked (a sentence's verbs in the",
                "past tense), LoRA training with a progress bar, the score after, memory and size",
                "against full fine-tuning, merge (merged = base + adapter), and where the adapter,",
                "merged model, plots and report are. 45-70 s on 2 cores (about 150 s with --full)."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--out", defaultValue = "runs/demo", paramLabel = "DIR", description = "Output directory: new, empty, or a finished earlier demo's, whose listed files are replaced (default: ${DEFAULT-VALUE}).")
    Path out;
    @Option(names = "--full", description = "Also run full fine-tuning on the same data and steps, beside LoRA.")
    boolean full;
    @Option(names = "--steps", defaultValue = "1000", description = "Training steps (default: ${DEFAULT-VALUE}).")
    long steps;
    @Option(names = "--r", defaultValue = "4", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int rank;
    @Option(names = "--target", defaultValue = "q_proj,v_proj", split = ",", paramLabel = "MODULES", description = "Modules to adapt (default: ${DEFAULT-VALUE}).")
    java.util.List<String> targets;
    @Option(names = "--model", paramLabel = "DIR", description = "Another base model (default: the bundled one).")
    Path model;
    @Option(names = "--seed", defaultValue = "7", description = "Seed of the task data and training (default: ${DEFAULT-VALUE}).")
    long seed;
    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();

    @Override
    public Integer call() throws Exception {
        threads.apply();
        Options.positive("--r", rank);
        if (steps < 1) throw new dev.lora4j.Lora4jException("--steps must be positive, got " + steps);
        Demo.run(new Demo.Options(out, model, steps, rank, targets, full, seed, 800, 50), System.out, System.err);
        return 0;
    }
}
