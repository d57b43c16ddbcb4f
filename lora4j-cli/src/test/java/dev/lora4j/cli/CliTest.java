package dev.lora4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/** The CLI end to end: exit codes, --json output, and one-line errors that name file and line. */
class CliTest {
    @TempDir
    Path dir;

    static CliRunner.Run run(String... args) {
        return CliRunner.run(args);
    }

    /** The matmul benchmark's driver mode: one JSON answer per case line; a malformed line is a clear error. */
    /** A bad-input error raised on another thread (a batcher's, through its future) is still one line and exit 1; a bug keeps its trace. */
    @Test
    void errorsFromOtherThreadsAreReportedByTheirCause() {
        @picocli.CommandLine.Command(name = "fails")
        class Fails implements java.util.concurrent.Callable<Integer> {
            final Exception thrown;

            Fails(Exception thrown) {
                this.thrown = thrown;
            }

            @Override
            public Integer call() throws Exception {
                throw thrown;
            }
        }
        java.io.StringWriter err = new java.io.StringWriter();
        var wrapped = new java.util.concurrent.ExecutionException(new java.util.concurrent.CompletionException(new dev.lora4j.Lora4jException("token id 9 is outside the vocabulary [0, 5)")));
        var cli = new picocli.CommandLine(new Fails(wrapped)).setErr(new java.io.PrintWriter(err));
        assertThat(Main.execute(cli)).isEqualTo(1);
        assertThat(err.toString()).isEqualTo("lora4j: error: token id 9 is outside the vocabulary [0, 5)" + System.lineSeparator());
        java.io.StringWriter bug = new java.io.StringWriter();
        var cli2 = new picocli.CommandLine(new Fails(new java.util.concurrent.ExecutionException(new IllegalStateException("boom")))).setErr(new java.io.PrintWriter(bug));
        assertThat(Main.execute(cli2)).isEqualTo(1);
        assertThat(bug.toString()).startsWith("lora4j: internal error: java.util.concurrent.ExecutionException").contains("\tat ", "boom");
    }

    @Test
    void benchMatmulAnswersCasesFromStdin() throws IOException {
        java.io.InputStream old = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream("24 13 40 TN\n\n7 5 9 NT\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            CliRunner.Run r = CliRunner.run("bench", "matmul", "--cases-from-stdin", "--seconds", "0.01", "--threads", "1");
            assertThat(r.code()).as(r.err()).isZero();
            String[] lines = r.out().strip().split("\n");
            assertThat(lines).hasSize(2);
            JsonNode first = new ObjectMapper().readTree(lines[0]);
            assertThat(first.get("m").asInt()).isEqualTo(24);
            assertThat(first.get("layout").asText()).isEqualTo("TN");
            assertThat(first.get("gflops").asDouble()).isPositive();
            System.setIn(new java.io.ByteArrayInputStream("24 x 40 NN\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            CliRunner.Run bad = CliRunner.run("bench", "matmul", "--cases-from-stdin", "--seconds", "0.01");
            assertThat(bad.code()).isEqualTo(1);
            assertThat(bad.err()).contains("stdin").contains("'24 x 40 NN'");
        } finally {
            System.setIn(old);
        }
    }

    @Test
    void evalPrintsJsonMatchingTheReference() throws IOException {
        Path fx = TestPaths.fixture("llama-gqa");
        CliRunner.Run r = run("eval", "--model", fx.toString(), "--data", fx.resolve("eval.jsonl").toString(), "--json", "--batch-size", "2");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.lastLine());
        JsonNode ref = new ObjectMapper().readTree(fx.resolve("reference.json").toFile());
        assertThat(j.get("loss").asDouble()).isCloseTo(ref.get("eval_loss").asDouble(), offset(1e-4));
        assertThat(j.get("perplexity").asDouble()).isCloseTo(Math.exp(ref.get("eval_loss").asDouble()), org.assertj.core.data.Percentage.withPercentage(0.01));
        assertThat(j.get("tokens").asLong()).isEqualTo(ref.get("eval_tokens").asLong());
    }

    @Test
    void inspectDescribesTheModel() {
        CliRunner.Run r = run("inspect", "--model", TestPaths.stories260k().toString());
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("llama", "260,032", "F32", "model.layers.4.self_attn.k_proj.weight", "[32, 64]",
                "RMSNorm", "rotary", "SwiGLU").doesNotContain("Kind[", "Mlp[]");
        CliRunner.Run j = run("inspect", "--model", TestPaths.stories260k().toString(), "--json");
        assertThat(j.code()).isZero();
        try {
            var o = new com.fasterxml.jackson.databind.ObjectMapper().readTree(j.lastLine());
            assertThat(o.get("parameters").asLong()).isEqualTo(260_032);
            assertThat(o.get("kv_heads").asInt()).isEqualTo(4);
            assertThat(o.get("tensors").size()).isPositive();
        } catch (IOException e) {
            throw new AssertionError(j.out(), e);
        }
    }

    CliRunner.Run evalWithData(String data) throws IOException {
        Path f = dir.resolve("data.jsonl");
        Files.writeString(f, data);
        return run("eval", "--model", TestPaths.fixture("gpt2-plain").toString(), "--data", f.toString());
    }

    static void assertOneLineError(CliRunner.Run r, String... fragments) {
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err().strip()).doesNotContain("\n").doesNotContain("Exception").startsWith("lora4j: error:").contains(fragments);
    }

    @Test
    void dataLineThatIsNotJson() throws IOException {
        assertOneLineError(evalWithData("{\"input_ids\": [1, 2]}\n{oops\n"), "data.jsonl:2", "not valid JSON");
    }

    @Test
    void dataLineWithoutInputIds() throws IOException {
        assertOneLineError(evalWithData("{\"text\": \"hi\"}\n"), "data.jsonl:1", "tokenizer.json");
        assertOneLineError(evalWithData("{\"other\": 1}\n"), "data.jsonl:1", "expected \"input_ids\", \"text\"");
    }

    @Test
    void idsOutsideTheVocabulary() throws IOException {
        assertOneLineError(evalWithData("{\"input_ids\": [1, 2]}\n\n{\"input_ids\": [3, 89]}\n"), "data.jsonl:3", "token id 89", "[0, 89)");
    }

    Path brokenModel(String config) throws IOException {
        Path m = dir.resolve("model");
        Files.createDirectories(m);
        Files.copy(TestPaths.fixture("gpt2-plain").resolve("model.safetensors"), m.resolve("model.safetensors"));
        Files.writeString(m.resolve("config.json"), config);
        return m;
    }

    @Test
    void configWithMissingField() throws IOException {
        Path m = brokenModel("{\"model_type\": \"gpt2\", \"n_embd\": 48, \"n_layer\": 2, \"n_positions\": 32, \"vocab_size\": 89}");
        assertOneLineError(run("inspect", "--model", m.toString()), "config.json", "missing field 'n_head'");
    }

    @Test
    void configWithContradictoryFields() throws IOException {
        Path m = brokenModel("{\"model_type\": \"gpt2\", \"n_embd\": 48, \"n_head\": 5, \"n_layer\": 2, \"n_positions\": 32, \"vocab_size\": 89}");
        assertOneLineError(run("inspect", "--model", m.toString()), "config.json", "not divisible by n_head 5");
    }

    @Test
    void tensorOfTheWrongShape() throws IOException {
        Path m = brokenModel("{\"model_type\": \"gpt2\", \"n_embd\": 48, \"n_head\": 4, \"n_layer\": 2, \"n_positions\": 32, \"vocab_size\": 90}");
        assertOneLineError(run("inspect", "--model", m.toString()), "model.safetensors", "'wte.weight'", "[89, 48]", "expected [90, 48]");
    }

    @Test
    void missingTensor() throws IOException {
        Path m = brokenModel("{\"model_type\": \"gpt2\", \"n_embd\": 48, \"n_head\": 4, \"n_layer\": 3, \"n_positions\": 32, \"vocab_size\": 89}");
        assertOneLineError(run("inspect", "--model", m.toString()), "missing tensor 'h.2.");
    }

    @Test
    void unsupportedModelType() throws IOException {
        Path m = brokenModel("{\"model_type\": \"t5\"}");
        assertOneLineError(run("inspect", "--model", m.toString()), "model_type 't5' is not supported");
        Files.writeString(m.resolve("config.json"), "{\"model_type\": \"bert\"}"); // an encoder: read as one, its missing fields named
        assertOneLineError(run("inspect", "--model", m.toString()), "field 'hidden_size' must be a positive integer");
    }

    @Test
    void badUsageExitsTwo() {
        assertThat(run("eval", "--model").code()).isEqualTo(2);
        assertThat(run("--help").out()).contains("eval", "inspect", "bench");
    }
}
