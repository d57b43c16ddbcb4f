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

    /** IA³ through the same commands: train (and resume), eval and generate with the vectors unmerged, merge. */
    @ParameterizedTest
    @CsvSource({"qwen3-qknorm, 6", "gemma3-local-global, 9"})
    void ia3TrainResumeEvalMergeGenerate(String fixture, int modules) throws IOException {
        Path model = TestPaths.fixture(fixture), data = model.resolve("eval.jsonl");
        double before = JSON.readTree(model.resolve("reference.json").toFile()).get("eval_loss").asDouble();
        Path adapter = tmp.resolve("ia3"), merged = tmp.resolve("ia3-merged");
        CliRunner.Run train = CliRunner.run("train", "--model", model.toString(), "--data", data.toString(), "--out", adapter.toString(),
                "--ia3", "--steps", "4", "--lr", "5e-2", "--save-every", "2");
        assertThat(train.code()).as(train.err()).isZero();
        assertThat(train.err()).contains("IA³ on " + modules + " modules"); // k_proj, v_proj and down_proj of every layer
        JsonNode config = JSON.readTree(adapter.resolve("adapter_config.json").toFile());
        assertThat(config.get("peft_type").asText()).isEqualTo("IA3");
        assertThat(config.get("feedforward_modules").toString()).isEqualTo("[\"down_proj\"]");
        CliRunner.Run resume = CliRunner.run("train", "--resume", adapter.toString(), "--steps", "6");
        assertThat(resume.code()).as(resume.err()).isZero();
        double adapted = evalLoss(model, adapter, data);
        assertThat(adapted).isLessThan(before);
        CliRunner.Run merge = CliRunner.run("merge", "--model", model.toString(), "--adapter", adapter.toString(), "--out", merged.toString());
        assertThat(merge.code()).as(merge.err()).isZero();
        assertThat(evalLoss(merged, null, data)).isCloseTo(adapted, offset(1e-4));
        assertThat(generate(merged, null)).isEqualTo(generate(model, adapter));
        for (String[] bad : new String[][] {{"--ia3", "--full"}, {"--feedforward", "down_proj"}, {"--ia3", "--dora"}, {"--ia3", "--target", "q_proj", "--feedforward", "down_proj"}}) {
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train", "--model", model.toString(), "--data", data.toString(),
                    "--out", tmp.resolve("bad").toString(), "--steps", "1"));
            args.addAll(java.util.List.of(bad));
            CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
            assertThat(r.code()).as(String.join(" ", bad)).isNotZero();
            assertThat(r.err()).as(String.join(" ", bad)).contains("lora4j: error:").doesNotContain("Exception");
        }
        CliRunner.Run two = CliRunner.run("merge", "--model", model.toString(), "--adapter", adapter.toString() + ":0.5", "--out", tmp.resolve("bad").toString());
        assertThat(two.err()).contains("IA³");
    }

    /** Bottleneck adapters through the commands: train (and resume), eval and generate unmerged; merge refuses them by name. */
    @ParameterizedTest
    @CsvSource({"qwen3-qknorm, 4", "gemma2-softcap, 6"}) // o_proj and down_proj of each of 2 or 3 layers
    void bottleneckTrainResumeEvalGenerate(String fixture, int modules) throws IOException {
        Path model = TestPaths.fixture(fixture), data = model.resolve("eval.jsonl");
        double before = JSON.readTree(model.resolve("reference.json").toFile()).get("eval_loss").asDouble();
        Path adapter = tmp.resolve("bottleneck");
        CliRunner.Run train = CliRunner.run("train", "--model", model.toString(), "--data", data.toString(), "--out", adapter.toString(),
                "--bottleneck-size", "4", "--steps", "4", "--lr", "1e-2", "--save-every", "2");
        assertThat(train.code()).as(train.err()).isZero();
        assertThat(train.err()).contains("bottleneck adapters (size 4) after " + modules + " modules");
        CliRunner.Run resume = CliRunner.run("train", "--resume", adapter.toString(), "--steps", "6");
        assertThat(resume.code()).as(resume.err()).isZero();
        assertThat(evalLoss(model, adapter, data)).isLessThan(before);
        assertThat(generate(model, adapter)).isNotEmpty();
        CliRunner.Run merge = CliRunner.run("merge", "--model", model.toString(), "--adapter", adapter.toString(), "--out", tmp.resolve("m").toString());
        assertThat(merge.code()).isNotZero();
        assertThat(merge.err()).contains("cannot be merged").doesNotContain("Exception");
        CliRunner.Run both = CliRunner.run("train", "--model", model.toString(), "--data", data.toString(), "--out", tmp.resolve("x").toString(),
                "--bottleneck-size", "4", "--ia3");
        assertThat(both.err()).contains("lora4j: error:").contains("not both");
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
