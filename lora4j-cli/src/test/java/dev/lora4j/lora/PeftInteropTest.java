package dev.lora4j.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

/**
 * Adapters made by Hugging Face PEFT 0.21 on models saved by transformers 5, and adapters made by lora4j
 * that PEFT read back, against the loss PEFT computed with each (reference/peft/make_peft_fixtures.py).
 */
class PeftInteropTest {
    static final Path DIR = TestPaths.fixture("peft");

    static JsonNode expected(String adapter) throws IOException {
        return new ObjectMapper().readTree(DIR.resolve("expected.json").toFile()).get(adapter);
    }

    static double evalLoss(String model, String... extra) throws IOException {
        String[] args = {"eval", "--model", model, "--data", DIR.resolve("data.jsonl").toString(), "--seq-len", "12", "--json"};
        String[] all = java.util.Arrays.copyOf(args, args.length + extra.length);
        System.arraycopy(extra, 0, all, args.length, extra.length);
        CliRunner.Run r = CliRunner.run(all);
        assertThat(r.code()).as(r.err()).isZero();
        return new ObjectMapper().readTree(r.lastLine()).get("loss").asDouble();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-c_attn", "gpt2-rslora-patterns", "llama-q-v", "llama-all-linear", "llama-layer1", "lora4j-llama", "lora4j-gpt2"})
    void lossWithTheAdapterEqualsPefts(String adapter) throws IOException {
        JsonNode e = expected(adapter);
        String model = DIR.resolve(e.get("model").asText()).toString();
        assertThat(evalLoss(model)).as("base").isCloseTo(e.get("base_loss").asDouble(), offset(1e-5));
        double withAdapter = evalLoss(model, "--adapter", DIR.resolve(adapter).toString());
        assertThat(withAdapter).isCloseTo(e.get("loss").asDouble(), offset(1e-5));
        assertThat(Math.abs(withAdapter - e.get("base_loss").asDouble())).as("the adapter changes the loss").isGreaterThan(1e-3);
    }

    @Test
    void aPeftAdapterMergedGivesPeftsLoss(@TempDir Path tmp) throws IOException {
        JsonNode e = expected("gpt2-rslora-patterns");
        Path merged = tmp.resolve("merged");
        CliRunner.Run r = CliRunner.run("merge", "--model", DIR.resolve("gpt2").toString(), "--adapter",
                DIR.resolve("gpt2-rslora-patterns").toString(), "--out", merged.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(evalLoss(merged.toString())).isCloseTo(e.get("loss").asDouble(), offset(1e-5));
    }

    @Test
    void trainingStartsFromAPeftAdapter(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("out");
        CliRunner.Run r = CliRunner.run("train", "--model", DIR.resolve("llama").toString(), "--data", DIR.resolve("data.jsonl").toString(),
                "--init-adapter", DIR.resolve("llama-all-linear").toString(), "--optimizer", "sgd", "--lr", "0.05", "--steps", "1",
                "--batch-size", "6", "--seq-len", "12", "--no-shuffle", "--dropout", "0", "--max-grad-norm", "0", "--weight-decay", "0",
                "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode config = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertThat(config.get("rank_pattern").get("down_proj").asInt()).isEqualTo(2);
        assertThat(config.get("alpha_pattern").get("k_proj").asInt()).isEqualTo(2);
        assertThat(evalLoss(DIR.resolve("llama").toString(), "--adapter", out.toString())).as("one SGD step lowers the loss")
                .isLessThan(expected("llama-all-linear").get("loss").asDouble());
    }
}
