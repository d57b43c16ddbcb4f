package dev.lora4j.cli;

import dev.lora4j.merge.Merger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "merge", mixinStandardHelpOptions = true,
        description = {"Merge LoRA adapters into a complete HF checkpoint.",
                "Each targeted weight becomes W0 + sum of weight·s·B·A (fp32, rounded once); every other tensor is the",
                "base's, bit for bit."})
final class MergeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Base checkpoint directory.")
    Path model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR[:WEIGHT]", description = "PEFT adapter, optionally weighted (repeatable).")
    List<String> adapters;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "New checkpoint directory (must not exist, or be empty).")
    Path out;

    @Option(names = "--dtype", defaultValue = "same", description = "same, f32, bf16 or f16 (default: ${DEFAULT-VALUE}: each tensor keeps its dtype).")
    String dtype;

    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();

    @Override
    public Integer call() throws Exception {
        threads.apply();
        Merger.merge(model, adapters.stream().map(Merger.Weighted::parse).toList(), out, dtype);
        System.out.println("merged " + adapters.size() + " adapter" + (adapters.size() == 1 ? "" : "s") + " into " + out);
        return 0;
    }
}
