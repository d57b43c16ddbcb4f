package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;

/** The lora4j command line: a thin layer over the Java API; each subcommand is one class. */
@Command(name = "lora4j", mixinStandardHelpOptions = true, version = "lora4j 0.1.0",
        description = "LoRA fine-tuning and inference of Hugging Face transformer checkpoints (GPT-2, Llama, Qwen2, Qwen3, Mistral, Phi-3) in pure Java.",
        subcommands = {DemoCommand.class, TrainCommand.class, PretrainCommand.class, EvalCommand.class, GenerateCommand.class, ServeCommand.class, MergeCommand.class, ExportGgufCommand.class, CombineCommand.class, AnalyzeCommand.class, FactorizeCommand.class, SweepCommand.class, CompareMethodsCommand.class, InspectCommand.class, ImportOnnxCommand.class, EmbedCommand.class, TuneEmbeddingsCommand.class, ExportOnnxCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code: 0 ok, 1 bad input or failure, 2 bad usage. */
    public static int run(String... args) {
        return execute(new CommandLine(new Main()), args);
    }

    /**
     * Runs a command line (this one, or another launcher's built from these commands) with lora4j's error
     * handling: bad input and file-system refusals print one line and exit 1; anything else is a bug and
     * prints its stack trace.
     */
    public static int execute(CommandLine cli, String... args) {
        cli.setExecutionExceptionHandler((thrown, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            Throwable ex = thrown;
            // work handed to another thread (a batcher, an executor) fails through its future: the cause is what went wrong
            while ((ex instanceof java.util.concurrent.ExecutionException || ex instanceof java.util.concurrent.CompletionException) && ex.getCause() != null)
                ex = ex.getCause();
            IOException io = ex instanceof IOException e ? e : ex instanceof UncheckedIOException u ? u.getCause() : null;
            if (ex instanceof Lora4jException) {
                err.println("lora4j: error: " + ex.getMessage());
            } else if (io != null) {
                // a file system's refusal (full disk, permissions, a path that is a file) is the user's to fix, not a bug
                err.println("lora4j: error: " + describe(io));
            } else {
                err.println("lora4j: internal error: " + thrown);
                thrown.printStackTrace(err);
            }
            err.flush();
            return 1;
        });
        return cli.execute(args);
    }

    static String describe(IOException e) {
        if (e instanceof java.nio.file.NoSuchFileException f) return f.getFile() + ": no such file or directory";
        if (e instanceof java.nio.file.AccessDeniedException f) return f.getFile() + ": permission denied";
        if (e instanceof java.nio.file.FileSystemException f && f.getFile() != null)
            return f.getFile() + ": " + (f.getReason() != null ? f.getReason() : f.getClass().getSimpleName().replace("Exception", ""));
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }
}
