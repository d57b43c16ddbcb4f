package dev.lora4j.spark;

import dev.lora4j.Lora4jException;
import dev.lora4j.generate.Completion;
import dev.lora4j.generate.GenerationConfig;
import dev.lora4j.generate.TextGenerator;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Batch inference over a DataFrame: generate a completion, or score a text (mean log-likelihood and
 * perplexity), for every row of a column, with the base model or a LoRA adapter named per row; every
 * other column is kept. Each partition is run on its executor with the model loaded once per JVM (the
 * base memory-mapped, the adapters beside it), in mixed-adapter batches of up to {@code batchSize} rows.
 *
 * <pre>{@code
 * Dataset<Row> out = BatchInference.generate(prompts, "prompt",
 *         BatchInference.Settings.of("/mnt/nfs/models/gpt2").adapter("sql", "/mnt/nfs/adapters/sql").adapterColumn("adapter"));
 * }</pre>
 */
public final class BatchInference {
    /** The generated text's column, added by {@link #generate}. */
    public static final String COMPLETION = "completion", COMPLETION_TOKENS = "completion_tokens", FINISH_REASON = "finish_reason";
    /** The columns {@link #score} adds: mean log-likelihood per predicted token, its perplexity, and how many tokens were predicted. */
    public static final String LOG_LIKELIHOOD = "mean_log_likelihood", PERPLEXITY = "perplexity", SCORED_TOKENS = "scored_tokens";

    private BatchInference() {}

    /**
     * What the executors load and how they run it.
     *
     * @param model         the base model directory as the executors see it (shared storage), or what {@link #shipModel} returned
     * @param shipped       the model's files were sent with the job ({@link #shipModel}, {@code --ship-model})
     * @param adapters      adapter name → PEFT adapter directory (as the executors see it)
     * @param adapterColumn the column naming each row's adapter (null, or a null value: the base alone)
     * @param batchSize     rows run together
     * @param maxNewTokens  generation: tokens to generate at most
     * @param temperature   generation: 0 for greedy
     * @param topP          generation: nucleus sampling
     * @param seed          generation: the sampler's seed (each row's draws depend on it alone, not on its partition)
     * @param seqLen        scoring: texts are cut to this many tokens
     */
    public record Settings(String model, boolean shipped, Map<String, String> adapters, String adapterColumn, int batchSize, int maxNewTokens,
                           double temperature, double topP, long seed, int seqLen) implements Serializable {
        public Settings {
            if (model == null || model.isBlank()) throw new Lora4jException("--model is required");
            adapters = Map.copyOf(adapters);
            if (batchSize < 1 || batchSize > 4096) throw new Lora4jException("--batch-size must be in [1, 4096], got " + batchSize);
            if (maxNewTokens < 1 || maxNewTokens > 1 << 20) throw new Lora4jException("--max-new-tokens must be in [1, 1048576], got " + maxNewTokens);
            if (!(temperature >= 0) || Double.isInfinite(temperature)) throw new Lora4jException("--temperature must be a finite number >= 0, got " + temperature);
            if (!(topP > 0 && topP <= 1)) throw new Lora4jException("--top-p must be in (0, 1], got " + topP);
            if (seqLen < 2 || seqLen > 1 << 20) throw new Lora4jException("--seq-len must be in [2, 1048576], got " + seqLen);
        }

        /** Greedy decoding of up to 64 tokens, 16 rows a batch, the base model alone. */
        public static Settings of(String model) {
            return new Settings(model, false, Map.of(), null, 16, 64, 0, 1, 42, 1024);
        }

        public Settings adapter(String name, String dir) {
            Map<String, String> a = new LinkedHashMap<>(adapters);
            a.put(name, dir);
            return new Settings(model, shipped, a, adapterColumn, batchSize, maxNewTokens, temperature, topP, seed, seqLen);
        }

        public Settings adapterColumn(String column) {
            return new Settings(model, shipped, adapters, column, batchSize, maxNewTokens, temperature, topP, seed, seqLen);
        }

        public Settings batchSize(int n) {
            return new Settings(model, shipped, adapters, adapterColumn, n, maxNewTokens, temperature, topP, seed, seqLen);
        }

        public Settings sampling(int maxNewTokens, double temperature, double topP, long seed) {
            return new Settings(model, shipped, adapters, adapterColumn, batchSize, maxNewTokens, temperature, topP, seed, seqLen);
        }

        public Settings seqLen(int n) {
            return new Settings(model, shipped, adapters, adapterColumn, batchSize, maxNewTokens, temperature, topP, seed, n);
        }

        public Settings shipped(boolean s) {
            return new Settings(model, s, adapters, adapterColumn, batchSize, maxNewTokens, temperature, topP, seed, seqLen);
        }

        GenerationConfig generation() {
            return GenerationConfig.builder().maxNewTokens(maxNewTokens).temperature(temperature).topP(topP).seed(seed).build();
        }

        String modelDir() {
            return shipped ? ShippedModel.find(model) : model;
        }
    }

    /** Sends the model directory's files with the session's jobs, for {@link Settings#shipped}; returns the name to give {@link Settings#of}. */
    public static String shipModel(org.apache.spark.sql.SparkSession session, Path dir) {
        return ShippedModel.ship(session, dir);
    }

    /** in with {@value #COMPLETION}, {@value #COMPLETION_TOKENS} and {@value #FINISH_REASON} added: the text generated after each row's prompt. */
    public static Dataset<Row> generate(Dataset<Row> in, String promptColumn, Settings s) {
        int prompt = column(in, promptColumn), adapter = s.adapterColumn() == null ? -1 : column(in, s.adapterColumn());
        StructType out = in.schema().add(COMPLETION, DataTypes.StringType, false).add(COMPLETION_TOKENS, DataTypes.IntegerType, false)
                .add(FINISH_REASON, DataTypes.StringType, false);
        return perBatch(in, s, out, (gen, batch) -> {
            List<TextGenerator.Request> requests = new ArrayList<>();
            for (Row r : batch) {
                if (r.isNullAt(prompt)) throw new Lora4jException("column '" + promptColumn + "' is null in a row; every row needs a prompt");
                requests.add(TextGenerator.Request.text(r.getString(prompt)).adapter(adapterOf(r, adapter)).config(s.generation()));
            }
            List<Completion> done = gen.generate(requests);
            List<Row> result = new ArrayList<>();
            for (int i = 0; i < batch.size(); i++) {
                Completion c = done.get(i);
                result.add(append(batch.get(i), c.text(), c.completionTokens(), c.finishReason().name().toLowerCase(java.util.Locale.ROOT)));
            }
            return result;
        });
    }

    /**
     * in with {@value #LOG_LIKELIHOOD}, {@value #PERPLEXITY} and {@value #SCORED_TOKENS} added: how likely the model (with the row's
     * adapter) finds each row's text, over every token after the first (cut to seqLen tokens). A text of one token scores NaN.
     */
    public static Dataset<Row> score(Dataset<Row> in, String textColumn, Settings s) {
        int text = column(in, textColumn), adapter = s.adapterColumn() == null ? -1 : column(in, s.adapterColumn());
        StructType out = in.schema().add(LOG_LIKELIHOOD, DataTypes.DoubleType, false).add(PERPLEXITY, DataTypes.DoubleType, false)
                .add(SCORED_TOKENS, DataTypes.IntegerType, false);
        return perBatch(in, s, out, (gen, batch) -> {
            if (gen.tokenizer() == null) throw new Lora4jException(s.model() + ": no tokenizer.json, so text cannot be scored");
            Row[] result = new Row[batch.size()];
            // the batch's rows grouped by adapter, each group one forward pass of its rows side by side
            Map<String, List<Integer>> groups = new LinkedHashMap<>();
            for (int i = 0; i < batch.size(); i++) {
                Row r = batch.get(i);
                if (r.isNullAt(text)) throw new Lora4jException("column '" + textColumn + "' is null in a row; every row needs a text");
                groups.computeIfAbsent(adapterOf(r, adapter), k -> new ArrayList<>()).add(i);
            }
            for (var g : groups.entrySet()) {
                Transformer m = g.getKey() == null ? gen.base() : gen.adapter(g.getKey()).model();
                int cap = Math.min(s.seqLen(), m.config().maxPositions()), longest = 2;
                List<int[]> ids = new ArrayList<>();
                for (int i : g.getValue()) {
                    int[] e = gen.tokenizer().encodeWithSpecialTokens(batch.get(i).getString(text));
                    ids.add(java.util.Arrays.copyOf(e, Math.min(e.length, cap)));
                    longest = Math.max(longest, ids.getLast().length);
                }
                // padded to a power of two (at most the cap): few distinct shapes; the padding comes after each text and
                // counts in nothing (attention is causal, rows are independent)
                int rows = ids.size(), t = Math.min(cap, Integer.highestOneBit(longest - 1) << 1);
                dev.lora4j.data.Batch b = dev.lora4j.data.Batch.of(ids, 0, rows, t);
                double[] losses = m.positionLosses(b.tokens(), b.targets(), rows, t, new Activations(m.config(), rows, t, false));
                for (int k = 0; k < rows; k++) {
                    int n = ids.get(k).length, at = g.getValue().get(k);
                    if (n < 2) {
                        result[at] = append(batch.get(at), Double.NaN, Double.NaN, 0);
                        continue;
                    }
                    double sum = 0;
                    for (int j = 0; j < n - 1; j++) sum += losses[k * t + j];
                    double mean = sum / (n - 1);
                    result[at] = append(batch.get(at), -mean, Math.exp(mean), n - 1);
                }
            }
            return java.util.Arrays.asList(result);
        });
    }

    /** The rows of each partition through run, batchSize at a time as they are read, with the executor's model; out: the result's schema. */
    private static Dataset<Row> perBatch(Dataset<Row> in, Settings s, StructType out, BatchRun run) {
        MapPartitionsFunction<Row, Row> f = rows -> new Batched(rows, s.batchSize(), batch -> run.apply(generator(s), batch));
        return in.mapPartitions(f, Encoders.row(out));
    }

    /** What a batch of rows becomes: the rows with their results appended. */
    private interface BatchRun extends Serializable {
        List<Row> apply(TextGenerator generator, List<Row> batch);
    }

    private static int column(Dataset<Row> in, String name) {
        List<String> names = List.of(in.schema().fieldNames());
        int i = names.indexOf(name);
        if (i < 0) throw new Lora4jException("no column '" + name + "' (the columns are " + names + ")");
        StructField f = in.schema().fields()[i];
        if (!f.dataType().equals(DataTypes.StringType)) throw new Lora4jException("column '" + name + "' must hold strings, it holds " + f.dataType().simpleString());
        return i;
    }

    private static String adapterOf(Row r, int column) {
        return column < 0 || r.isNullAt(column) ? null : r.getString(column);
    }

    private static Row append(Row r, Object... values) {
        Object[] all = new Object[r.length() + values.length];
        for (int i = 0; i < r.length(); i++) all[i] = r.get(i);
        System.arraycopy(values, 0, all, r.length(), values.length);
        return RowFactory.create(all);
    }

    private static final Map<String, TextGenerator> GENERATORS = new ConcurrentHashMap<>();

    /** The executor JVM's generator for these settings: the base and every adapter, loaded once. */
    private static TextGenerator generator(Settings s) {
        return GENERATORS.computeIfAbsent(s.modelDir() + "|" + new java.util.TreeMap<>(s.adapters()), k -> {
            TextGenerator.Builder b = TextGenerator.builder(Path.of(s.modelDir()));
            s.adapters().forEach((name, dir) -> b.adapter(name, Path.of(dir)));
            return b.build();
        });
    }

    /** A partition's rows, run batchSize at a time as they are read. */
    private static final class Batched implements Iterator<Row> {
        private final Iterator<Row> rows;
        private final int size;
        private final java.util.function.Function<List<Row>, List<Row>> run;
        private Iterator<Row> ready = java.util.Collections.emptyIterator();

        Batched(Iterator<Row> rows, int size, java.util.function.Function<List<Row>, List<Row>> run) {
            this.rows = rows;
            this.size = size;
            this.run = run;
        }

        @Override
        public boolean hasNext() {
            if (ready.hasNext()) return true;
            if (!rows.hasNext()) return false;
            List<Row> batch = new ArrayList<>(size);
            while (rows.hasNext() && batch.size() < size) batch.add(rows.next());
            ready = run.apply(batch).iterator();
            return ready.hasNext();
        }

        @Override
        public Row next() {
            if (!hasNext()) throw new java.util.NoSuchElementException();
            return ready.next();
        }
    }
}
