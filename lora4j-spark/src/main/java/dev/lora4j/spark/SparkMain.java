package dev.lora4j.spark;

import dev.lora4j.cli.TrainCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * lora4j on Apache Spark: {@code spark-submit --class dev.lora4j.spark.SparkMain lora4j-spark.jar
 * train|generate|score ...}, or locally {@code bin/lora4j spark train --master 'local[2]' ...}.
 * {@code train} takes every option of {@code lora4j train} and writes the same run directory.
 */
@Command(name = "lora4j spark", mixinStandardHelpOptions = true, version = "lora4j 0.1.0",
        description = {"lora4j on Apache Spark: data-parallel LoRA training, and batch generation and scoring of JSONL or Parquet.",
                "Run under spark-submit, or locally with --master 'local[N]'."})
public final class SparkMain {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command and returns its exit code (0 ok, 1 failure, 2 bad usage); the Spark session it made is stopped. */
    public static int run(String... args) {
        SparkOptions spark = new SparkOptions();
        CommandLine cli = new CommandLine(new SparkMain());
        TrainCommand train = new TrainCommand();
        CommandLine trainCli = new CommandLine(train);
        trainCli.addMixin("spark", spark);
        trainCli.getCommandSpec().usageMessage().description(
                "Fine-tune a LoRA adapter with the forward and backward passes spread over a Spark cluster; every option of 'lora4j train',",
                "the same --out (PEFT adapter, metrics.jsonl, loss.png, checkpoint-N for --resume). Each step is one Spark job.");
        train.engine(() -> new SparkTraining(spark.context("lora4j train"), spark.training(), System.err));
        cli.addSubcommand("train", trainCli);
        cli.addSubcommand("generate", new CommandLine(new BatchCommand.Generate(spark)));
        cli.addSubcommand("score", new CommandLine(new BatchCommand.Score(spark)));
        try {
            return dev.lora4j.cli.Main.execute(cli, args);
        } finally {
            spark.stop();
        }
    }
}
