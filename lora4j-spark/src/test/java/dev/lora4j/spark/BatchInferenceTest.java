package dev.lora4j.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.generate.GenerationConfig;
import dev.lora4j.generate.TextGenerator;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.train.TrainConfig;
import dev.lora4j.train.TrainListener;
import dev.lora4j.train.TrainOptions;
import dev.lora4j.train.TrainingRun;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Batch generation and scoring on Spark against the same model run directly, and the spark-submit jobs over JSONL. */
class BatchInferenceTest {
    @TempDir
    static Path tmp;
    static Path adapter;
    static SparkSession spark;
    static final Path MODEL = TestPaths.bundledModel();
    static final String[] PROMPTS = {"Present: Max likes Ella.\nIn the past:", "Present: Zoe sees a dog.\nIn the past:", "Once upon a time",
            "Present: Leo eats a cake.\nIn the past:", "The cat", "Present: Ella finds Leo in the park.\nIn the past:"};
    static final String[] ADAPTERS = {"tense", null, "tense", null, "tense", "tense"};

    @BeforeAll
    static void setUp() {
        adapter = tmp.resolve("tense");
        TrainOptions o = TrainOptions.builder(MODEL, TestPaths.repo("examples/past-tense.jsonl"), adapter)
                .lora(LoraConfig.builder().r(4).alpha(8).build())
                .train(TrainConfig.builder().steps(15).batchSize(8).lr(3e-3).seqLen(64).build()).build();
        TrainingRun.start(o, new PrintStream(new ByteArrayOutputStream()), false, TrainListener.NONE);
        spark = SparkSession.builder().master("local[2]").appName("lora4j-test").config("spark.ui.enabled", "false").getOrCreate();
        spark.sparkContext().setLogLevel("ERROR");
    }

    @AfterAll
    static void tearDown() {
        if (spark != null) spark.stop();
    }

    private static Dataset<Row> prompts(String column) {
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add(column, DataTypes.StringType).add("adapter", DataTypes.StringType);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < PROMPTS.length; i++) rows.add(RowFactory.create(i, PROMPTS[i], ADAPTERS[i]));
        return spark.createDataFrame(rows, schema).repartition(2);
    }

    private static BatchInference.Settings settings() {
        return BatchInference.Settings.of(MODEL.toString()).adapter("tense", adapter.toString()).adapterColumn("adapter").batchSize(4)
                .sampling(12, 0, 1, 42);
    }

    @Test
    void generatesWhatTheModelGeneratesAloneRowByRow() {
        List<Row> out = BatchInference.generate(prompts("prompt"), "prompt", settings()).collectAsList();
        assertThat(out).hasSize(PROMPTS.length);
        try (TextGenerator gen = TextGenerator.builder(MODEL).adapter("tense", adapter).build()) {
            for (Row r : out) {
                int i = r.getInt(0);
                assertThat(r.getString(1)).isEqualTo(PROMPTS[i]);
                String alone = gen.generate(TextGenerator.Request.text(PROMPTS[i]).adapter(ADAPTERS[i])
                        .config(GenerationConfig.builder().maxNewTokens(12).temperature(0).build())).text();
                assertThat(r.getString(r.fieldIndex(BatchInference.COMPLETION))).as("row %d", i).isEqualTo(alone);
            }
            // the adapter is applied per row: the tense adapter changes the first prompt's answer from the base's
            String base = gen.generate(TextGenerator.Request.text(PROMPTS[0]).config(GenerationConfig.builder().maxNewTokens(12).temperature(0).build())).text();
            Row first = out.stream().filter(r -> r.getInt(0) == 0).findFirst().orElseThrow();
            assertThat(first.getString(first.fieldIndex(BatchInference.COMPLETION))).isNotEqualTo(base);
        }
    }

    @Test
    void scoresEqualTheEvaluatorsLossPerRow() {
        List<Row> out = BatchInference.score(prompts("text"), "text", settings()).collectAsList();
        try (TextGenerator gen = TextGenerator.builder(MODEL).adapter("tense", adapter).build()) {
            for (Row r : out) {
                int i = r.getInt(0);
                int[] ids = gen.tokenizer().encodeWithSpecialTokens(PROMPTS[i]);
                var model = ADAPTERS[i] == null ? gen.base() : gen.adapter(ADAPTERS[i]).model();
                Evaluator.Result e = Evaluator.evaluate(model, List.<int[]>of(ids), 64, 1);
                assertThat(r.getDouble(r.fieldIndex(BatchInference.LOG_LIKELIHOOD))).as("row %d", i).isCloseTo(-e.loss(), within(1e-6 * e.loss()));
                assertThat(r.getDouble(r.fieldIndex(BatchInference.PERPLEXITY))).isCloseTo(e.perplexity(), within(1e-5 * e.perplexity()));
                assertThat(r.getInt(r.fieldIndex(BatchInference.SCORED_TOKENS))).isEqualTo(ids.length - 1);
            }
        }
    }

    @Test
    void generateJobReadsJsonlAndWritesItsColumnsBack() throws IOException {
        Path in = tmp.resolve("prompts.jsonl"), out = tmp.resolve("generated");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < PROMPTS.length; i++)
            lines.add(new ObjectMapper().createObjectNode().put("id", i).put("prompt", PROMPTS[i]).put("adapter", ADAPTERS[i]).toString());
        Files.write(in, lines);
        int rc = SparkMain.run("generate", "--master", "local[2]", "--model", MODEL.toString(), "--adapter", "tense=" + adapter,
                "--input", in.toString(), "--output", out.toString(), "--max-new-tokens", "12");
        assertThat(rc).isZero();
        assertThat(out.resolve("_SUCCESS")).exists();
        List<JsonNode> rows = new ArrayList<>();
        try (var files = Files.list(out)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".json")).toList())
                for (String line : Files.readAllLines(f)) rows.add(new ObjectMapper().readTree(line));
        }
        assertThat(rows).hasSize(PROMPTS.length);
        for (JsonNode r : rows) assertThat(r.get("completion").isTextual()).isTrue();
    }

    @Test
    void scoreJobReadsAndWritesParquet() {
        Path in = tmp.resolve("texts.parquet"), out = tmp.resolve("scored.parquet");
        prompts("text").write().parquet(in.toString());
        int rc = SparkMain.run("score", "--master", "local[2]", "--model", MODEL.toString(), "--adapter", "tense=" + adapter,
                "--input", in.toString(), "--output", out.toString(), "--ship-model");
        assertThat(rc).isZero();
        List<Row> rows = spark.read().parquet(out.toString()).collectAsList();
        assertThat(rows).hasSize(PROMPTS.length);
        for (Row r : rows) {
            assertThat(r.getString(r.fieldIndex("text"))).isEqualTo(PROMPTS[r.getInt(r.fieldIndex("id"))]);
            assertThat(r.getDouble(r.fieldIndex(BatchInference.PERPLEXITY))).isGreaterThan(1);
        }
    }

    @Test
    void aBadJsonlLineFailsTheJobNamingFileAndLine() throws IOException {
        Path in = tmp.resolve("bad.jsonl");
        Files.writeString(in, "{\"prompt\": \"Once\"}\n{\"prompt\": 7}\n");
        String err = stderrOf(() -> assertThat(SparkMain.run("score", "--master", "local[2]", "--model", MODEL.toString(), "--column", "prompt",
                "--input", in.toString(), "--output", tmp.resolve("never").toString())).isEqualTo(1));
        assertThat(err).contains("lora4j: error: " + in + ":2: expected \"prompt\" as a string").doesNotContain("\tat ");
        assertThat(tmp.resolve("never")).doesNotExist();
    }

    @Test
    void trainCommandTakesTheCliOptionsAndWritesTheRunDirectory() throws IOException {
        Path out = tmp.resolve("cli-run");
        int rc = SparkMain.run("train", "--master", "local[2]", "--partitions", "2", "--model", MODEL.toString(),
                "--data", TestPaths.repo("examples/past-tense.jsonl").toString(), "--out", out.toString(), "--steps", "3", "--batch-size", "4");
        assertThat(rc).isZero();
        assertThat(out.resolve("adapter_model.safetensors")).exists();
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).hasSize(3);

        Path bad = tmp.resolve("bad-train.jsonl");
        Files.writeString(bad, "{\"text\": \"fine\"}\nnot json\n");
        String err = stderrOf(() -> assertThat(SparkMain.run("train", "--master", "local[2]", "--model", MODEL.toString(), "--data", bad.toString(),
                "--out", tmp.resolve("bad-run").toString(), "--steps", "2")).isEqualTo(1));
        assertThat(err).contains(bad + ":2").doesNotContain("\tat ");
    }

    private static String stderrOf(Runnable r) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            r.run();
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
