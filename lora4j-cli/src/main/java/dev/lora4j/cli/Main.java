package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** The lora4j command line: a thin layer over the Java API; each subcommand is one class. */
@Command(name = "lora4j", mixinStandardHelpOptions = true, version = "lora4j 0.1.0",
        description = "LoRA fine-tuning and inference of Hugging Face transformer checkpoints (GPT-2, Llama, Qwen2, Mistral) in pure Java.",
        subcommands = {DemoCommand.class, TrainCommand.class, PretrainCommand.class, EvalCommand.class, GenerateCommand.class, MergeCommand.class, CombineCommand.class, AnalyzeCommand.class, FactorizeCommand.class, SweepCommand.class, InspectCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code: 0 ok, 1 bad input or failure, 2 bad usage. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            if (ex instanceof Lora4jException) {
                err.println("lora4j: error: " + ex.getMessage());
            } else {
                err.println("lora4j: internal error: " + ex);
                ex.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        return cli.execute(args);
    }
}
