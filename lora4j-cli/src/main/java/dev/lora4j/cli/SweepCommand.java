package dev.lora4j.cli;

import dev.lora4j.lab.Sweep;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.model.Transformer;
import dev.lora4j.train.Schedule;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.TrainOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "sweep", mixinStandardHelpOptions = true,
        description = {"Train and evaluate every (targets, rank) configuration (LoRA paper, Tables 5 and 6).",
                "--out receives sweep.md, sweep.csv, sweep.jsonl (resumes after an interruption), runs/<config>/ and report/",
                "(index.html and eval-loss-vs-rank.png)."})
final class SweepCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR") Path model;
    @Option(names = "--data", required = true, paramLabel = "FILE", description = "Training data (JSONL: input_ids, text, prompt + completion or messages; or .txt).") Path data;
    @Option(names = "--eval-data", required = true, paramLabel = "FILE", description = "Evaluation data (the same formats as --data).") Path evalData;
    @Option(names = "--out", required = true, paramLabel = "DIR") Path out;
    @Option(names = "--ranks", split = ",", defaultValue = "1,2,4,8,64", description = "Ranks (default: ${DEFAULT-VALUE}).") List<Integer> ranks;
    @Option(names = "--targets", split = ",", defaultValue = "q,v,qv,qkvo", description = "Target sets as letters q, k, v, o, or all (default: ${DEFAULT-VALUE}).") List<String> targets;
    @Option(names = "--budget", paramLabel = "PARAMS", description = "Equal trainable-parameter budget: each target set gets the rank that spends it (ignores --ranks).") Long budget;
    @Option(names = "--alpha", defaultValue = "0", description = "lora_alpha for every run; 0 means 2·r (default).") double alpha;
    @Option(names = "--steps", defaultValue = "100", description = "Steps per configuration (default: ${DEFAULT-VALUE}).") long steps;
    @Option(names = "--lr", defaultValue = "1e-3", description = "Learning rate (default: ${DEFAULT-VALUE}).") double lr;
    @Option(names = "--batch-size", defaultValue = "8") int batchSize;
    @Option(names = "--seq-len", defaultValue = "512") int seqLen;
    @Option(names = "--seed", defaultValue = "42") long seed;
    @Option(names = "--report", paramLabel = "DIR", description = "Where to write the report (default: OUT/report).") Path report;
    @picocli.CommandLine.Mixin ThreadsOption threads = new ThreadsOption();

    @Override
    public Integer call() throws Exception {
        threads.apply();
        List<Sweep.Config> plan;
        try (Transformer base = Transformer.load(model)) {
            plan = Sweep.plan(base, targets, ranks, budget);
        }
        if (!(alpha >= 0) || !Double.isFinite(alpha)) throw new dev.lora4j.Lora4jException("--alpha must be a finite number >= 0 (0: 2·r), got " + alpha);
        TrainOptions template = TrainOptions.builder(model, data, out)
                .train(TrainConfig.builder().lr(lr).steps(steps).batchSize(batchSize).seqLen(seqLen).seed(seed).logEvery(Math.max(1, steps / 4)).build())
                .build();
        var results = Sweep.run(model, evalData, plan, template, alpha, out, System.err);
        System.out.print(java.nio.file.Files.readString(out.resolve("sweep.md")));
        Path rep = report != null ? report : out.resolve("report");
        Sweep.report(results, rep);
        System.out.println("report: " + rep.resolve("index.html"));
        return 0;
    }
}
