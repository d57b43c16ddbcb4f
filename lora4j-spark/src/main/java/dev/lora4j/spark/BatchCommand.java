package dev.lora4j.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code generate} and {@code score} as Spark jobs: JSONL or Parquet in, a directory of JSONL or Parquet
 * out (Spark's committer: the directory appears whole, with _SUCCESS, or not at all).
 */
abstract class BatchCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "DIR", required = true, description = "Base model directory (on the driver; the executors read --executor-model, or it is shipped).")
    Path model;
    @Option(names = "--adapter", paramLabel = "NAME=DIR", description = "A PEFT adapter the rows may name (repeatable).")
    Map<String, Path> adapters = new LinkedHashMap<>();
    @Option(names = "--input", paramLabel = "PATH", required = true, description = "JSONL (one object a line) or Parquet (.parquet, or --format parquet).")
    String input;
    @Option(names = "--output", paramLabel = "DIR", required = true, description = "Output directory, must not exist: the input's columns and the results.")
    String output;
    @Option(names = "--format", paramLabel = "jsonl|parquet", description = "Input and output format (default: parquet for a .parquet input, else jsonl).")
    String format;
    @Option(names = "--adapter-column", paramLabel = "NAME", defaultValue = "adapter",
            description = "Column naming each row's adapter, when the input has it (default: ${DEFAULT-VALUE}; null: the base).")
    String adapterColumn;
    @Option(names = "--batch-size", defaultValue = "16", description = "Rows run together (default: ${DEFAULT-VALUE}).")
    int batchSize;
    @Mixin
    SparkOptions spark;

    BatchCommand(SparkOptions spark) {
        this.spark = spark;
    }

    abstract String column();

    abstract BatchInference.Settings configure(BatchInference.Settings s);

    abstract Dataset<Row> run(Dataset<Row> in, BatchInference.Settings s);

    @Override
    public Integer call() {
        if (!Files.isDirectory(model)) throw new Lora4jException(model + ": not a model directory");
        String fmt = format != null ? format.toLowerCase(java.util.Locale.ROOT) : input.endsWith(".parquet") ? "parquet" : "jsonl";
        if (!fmt.equals("jsonl") && !fmt.equals("parquet")) throw new Lora4jException("--format must be jsonl or parquet, got '" + format + "'");
        if (Files.exists(Path.of(output))) throw new Lora4jException(output + ": already exists; --output must name a new directory");
        for (var a : adapters.entrySet())
            if (!Files.isDirectory(a.getValue())) throw new Lora4jException("--adapter " + a.getKey() + "=" + a.getValue() + ": not an adapter directory");
        SparkSession session = spark.session("lora4j " + getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT));
        String modelPath = spark.executorModel != null ? spark.executorModel : model.toAbsolutePath().toString();
        if (spark.shipModel) modelPath = BatchInference.shipModel(session, model);
        BatchInference.Settings s = BatchInference.Settings.of(modelPath).shipped(spark.shipModel).batchSize(batchSize);
        for (var a : adapters.entrySet()) s = s.adapter(a.getKey(), a.getValue().toAbsolutePath().toString());
        s = configure(s);
        Dataset<Row> in = fmt.equals("parquet") ? session.read().parquet(input) : readJsonl(session, input, column());
        if (java.util.List.of(in.schema().fieldNames()).contains(adapterColumn)) s = s.adapterColumn(adapterColumn);
        if (spark.partitions > 0) in = in.repartition(spark.partitions);
        Dataset<Row> out = run(in, s);
        Jobs.onCluster(getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT), () -> {
            if (fmt.equals("parquet")) out.write().parquet(output);
            else out.write().json(output);
            return null;
        });
        System.err.println("wrote " + output);
        return 0;
    }

    /** JSONL read by Spark, after a pass that names the file and line of anything that is not an object with a string column. */
    static Dataset<Row> readJsonl(SparkSession session, String path, String column) {
        JavaRDD<String> lines = Jobs.onCluster("reading " + path, () -> session.read().textFile(path).javaRDD());
        Jobs.onCluster("reading " + path, () -> {
            lines.zipWithIndex().foreach(t -> {
                String line = t._1();
                if (line.isBlank()) return;
                String where = path + ":" + (t._2() + 1);
                JsonNode n;
                try {
                    n = new ObjectMapper().readTree(line);
                } catch (Exception e) {
                    throw new Lora4jException(where + ": not JSON: " + e.getMessage().lines().findFirst().orElse(""));
                }
                if (n == null || !n.isObject()) throw new Lora4jException(where + ": expected a JSON object");
                if (!n.path(column).isTextual()) throw new Lora4jException(where + ": expected \"" + column + "\" as a string");
            });
            return null;
        });
        return session.read().json(path);
    }

    @Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Generate a completion for every row's prompt (column 'prompt'), with the adapter its 'adapter' column names.")
    static final class Generate extends BatchCommand {
        @Option(names = "--column", defaultValue = "prompt", description = "The prompts' column (default: ${DEFAULT-VALUE}).")
        String column;
        @Option(names = "--max-new-tokens", defaultValue = "64", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
        int maxNewTokens;
        @Option(names = "--temperature", defaultValue = "0", description = "0: greedy (default: ${DEFAULT-VALUE}).")
        double temperature;
        @Option(names = "--top-p", defaultValue = "1", description = "Nucleus sampling (default: ${DEFAULT-VALUE}).")
        double topP;
        @Option(names = "--seed", defaultValue = "42", description = "Sampling seed; each row's draws depend on it alone (default: ${DEFAULT-VALUE}).")
        long seed;

        Generate(SparkOptions spark) {
            super(spark);
        }

        String column() {
            return column;
        }

        BatchInference.Settings configure(BatchInference.Settings s) {
            return s.sampling(maxNewTokens, temperature, topP, seed);
        }

        Dataset<Row> run(Dataset<Row> in, BatchInference.Settings s) {
            return BatchInference.generate(in, column, s);
        }
    }

    @Command(name = "score", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Score every row's text (column 'text'): mean log-likelihood per token and perplexity, with the adapter its 'adapter' column names.")
    static final class Score extends BatchCommand {
        @Option(names = "--column", defaultValue = "text", description = "The texts' column (default: ${DEFAULT-VALUE}).")
        String column;
        @Option(names = "--seq-len", defaultValue = "1024", description = "Texts are cut to this many tokens (default: ${DEFAULT-VALUE}).")
        int seqLen;

        Score(SparkOptions spark) {
            super(spark);
        }

        String column() {
            return column;
        }

        BatchInference.Settings configure(BatchInference.Settings s) {
            return s.seqLen(seqLen);
        }

        Dataset<Row> run(Dataset<Row> in, BatchInference.Settings s) {
            return BatchInference.score(in, column, s);
        }
    }
}
