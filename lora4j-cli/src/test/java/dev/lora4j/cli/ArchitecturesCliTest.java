package dev.lora4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/**
 * The commands users run, on random-weight checkpoints of each architecture added after GPT-2 and Llama:
 * inspect names it, eval equals the reference's loss, a few training steps give an adapter, and the model
 * merged with it evaluates and generates as base + adapter does.
 */
class ArchitecturesCliTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @CsvSource({"qwen3-qknorm, qwen3", "phi3-fused, phi3", "gemma2-softcap, gemma2", "gemma3-local-global, gemma3_text"})
    void inspectEvalTrainMergeGenerate(String fixture, String modelType) throws IOException {
        Path model = TestPaths.fixture(fixture), data = model.resolve("eval.jsonl");
        CliRunner.Run inspect = CliRunner.run("inspect", "--model", model.toString(), "--json");
        assertThat(inspect.code()).as(inspect.err()).isZero();
        assertThat(JSON.readTree(inspect.lastLine()).get("model_type").asText()).isEqualTo(modelType);

        JsonNode reference = JSON.readTree(model.resolve("reference.json").toFile());
        assertThat(evalLoss(model, null, data)).isCloseTo(reference.get("eval_loss").asDouble(), offset(2e-4));

        Path adapter = tmp.resolve("adapter"), merged = tmp.resolve("merged");
        CliRunner.Run train = CliRunner.run("train", "--model", model.toString(), "--data", data.toString(), "--out", adapter.toString(),
                "--steps", "4", "--lr", "1e-2", "--target", "all-linear");
        assertThat(train.code()).as(train.err()).isZero();
        double adapted = evalLoss(model, adapter, data);
        assertThat(adapted).isLessThan(reference.get("eval_loss").asDouble()); // trained on this very data

        CliRunner.Run merge = CliRunner.run("merge", "--model", model.toString(), "--adapter", adapter.toString(), "--out", merged.toString());
        assertThat(merge.code()).as(merge.err()).isZero();
        assertThat(evalLoss(merged, null, data)).isCloseTo(adapted, offset(1e-4));
        assertThat(generate(merged, null)).isEqualTo(generate(model, adapter));
    }

    static double evalLoss(Path model, Path adapter, Path data) throws IOException {
        CliRunner.Run r = adapter == null ? CliRunner.run("eval", "--model", model.toString(), "--data", data.toString(), "--json")
                : CliRunner.run("eval", "--model", model.toString(), "--adapter", adapter.toString(), "--data", data.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        return JSON.readTree(r.lastLine()).get("loss").asDouble();
    }

    static String generate(Path model, Path adapter) {
        CliRunner.Run r = adapter == null ? CliRunner.run("generate", "--model", model.toString(), "--prompt-ids", "3,5,7,2", "--max-new-tokens", "10")
                : CliRunner.run("generate", "--model", model.toString(), "--adapter", adapter.toString(), "--prompt-ids", "3,5,7,2", "--max-new-tokens", "10");
        assertThat(r.code()).as(r.err()).isZero();
        return r.lastLine();
    }
}
