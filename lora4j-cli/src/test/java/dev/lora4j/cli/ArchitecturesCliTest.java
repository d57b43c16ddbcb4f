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

    /** Prompt and prefix tuning through the commands: train (and resume), eval and generate with them; merge refuses them by name. */
    @ParameterizedTest
    @CsvSource({"gpt2-plain, 28, prompt", "gemma2-softcap, 60, prompt", "gpt2-plain, 28, prefix", "qwen3-qknorm, 60, prefix"}) // the context 4 virtual tokens leave
    void promptAndPrefixTuningTrainResumeEvalGenerate(String fixture, int contextLeft, String method) throws IOException {
        Path model = TestPaths.fixture(fixture), data = model.resolve("eval.jsonl");
        double before = JSON.readTree(model.resolve("reference.json").toFile()).get("eval_loss").asDouble();
        Path adapter = tmp.resolve(method);
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train", "--model", model.toString(), "--data", data.toString(),
                "--out", adapter.toString(), "--" + method + "-tuning", "4", "--steps", "4", "--save-every", "2"));
        if (method.equals("prompt")) args.addAll(java.util.List.of("--prompt-init", "sample-vocab"));
        CliRunner.Run train = CliRunner.run(args.toArray(String[]::new));
        assertThat(train.code()).as(train.err()).isZero();
        assertThat(train.err()).contains(method + " tuning, 4 virtual tokens").contains("(context left: " + contextLeft + " of " + (contextLeft + 4) + " positions)");
        JsonNode config = JSON.readTree(adapter.resolve("adapter_config.json").toFile());
        assertThat(config.get("peft_type").asText()).isEqualTo(method.equals("prompt") ? "PROMPT_TUNING" : "PREFIX_TUNING");
        if (method.equals("prompt")) assertThat(config.get("prompt_tuning_init").asText()).isEqualTo("SAMPLE_VOCAB");
        JsonNode state = JSON.readTree(adapter.resolve("checkpoint-2/trainer_state.json").toFile());
        assertThat(state.at("/options/train/optimizer/lr").asDouble()).isEqualTo(3e-2); // their default rate
        CliRunner.Run resume = CliRunner.run("train", "--resume", adapter.toString(), "--steps", "6");
        assertThat(resume.code()).as(resume.err()).isZero();
        assertThat(evalLoss(model, adapter, data)).isLessThan(before);
        assertThat(generate(model, adapter)).isNotEmpty().isNotEqualTo(generate(model, null));
        CliRunner.Run merge = CliRunner.run("merge", "--model", model.toString(), "--adapter", adapter.toString(), "--out", tmp.resolve("m").toString());
        assertThat(merge.code()).isNotZero();
        assertThat(merge.err()).contains("nothing to merge").doesNotContain("Exception");
        String tuning = "--" + method + "-tuning";
        for (String[] bad : new String[][] {{tuning, "4", "--ia3"}, {"--prompt-init-text", "hello"}, {tuning, "0"}, {tuning, "4", "--target", "q_proj"},
                {"--prompt-tuning", "4", "--prompt-init", "text"}, {"--prompt-tuning", "4", "--prompt-init-text", "hi"}, {"--prompt-tuning", "4", "--prompt-init", "words"},
                {tuning, String.valueOf(contextLeft + 4)}, {"--prompt-tuning", "4", "--prefix-tuning", "4"}, {tuning, "4", "--dora"}}) {
            java.util.List<String> a = new java.util.ArrayList<>(java.util.List.of("train", "--model", model.toString(), "--data", data.toString(),
                    "--out", tmp.resolve("bad").toString(), "--steps", "1"));
            a.addAll(java.util.List.of(bad));
            CliRunner.Run r = CliRunner.run(a.toArray(String[]::new));
            assertThat(r.code()).as(String.join(" ", bad)).isNotZero();
            assertThat(r.err()).as(String.join(" ", bad)).contains("lora4j: error:").doesNotContain("Exception");
        }
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
