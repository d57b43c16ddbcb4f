package dev.lora4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/**
 * LoRA with modules_to_save and trainable tokens through the commands: train (and resume), eval and generate with the
 * adapter, merge where a checkpoint can hold the result (equal to the adapter unmerged), refused by name where not.
 */
class EmbeddingTrainingCliTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "llama-gqa | --modules-to-save=lm_head,embed_tokens | true",
            "llama-gqa | --trainable-token-indices=3,7,11 | true",
            "qwen2-tied-bias | --trainable-token-indices=4,10 | true",      // tied: the head's rows follow
            "qwen2-tied-bias | --modules-to-save=lm_head | false"})         // a copy unties a tied model: no merged checkpoint
    void trainResumeEvalGenerateMerge(String fixture, String option, boolean merges) throws IOException {
        Path model = TestPaths.fixture(fixture), data = model.resolve("eval.jsonl"), adapter = tmp.resolve("a"), merged = tmp.resolve("m");
        double before = JSON.readTree(model.resolve("reference.json").toFile()).get("eval_loss").asDouble();
        CliRunner.Run train = CliRunner.run("train", "--model", model.toString(), "--data", data.toString(), "--out", adapter.toString(), option,
                "--steps", "4", "--lr", "1e-2", "--save-every", "2");
        assertThat(train.code()).as(train.err()).isZero();
        JsonNode conf = JSON.readTree(adapter.resolve("adapter_config.json").toFile());
        if (option.contains("modules")) assertThat(conf.get("modules_to_save").toString()).isEqualTo(option.contains("embed") ? "[\"lm_head\",\"embed_tokens\"]" : "[\"lm_head\"]");
        else assertThat(conf.get("trainable_token_indices").get("embed_tokens")).hasSize(option.split(",").length);
        CliRunner.Run resume = CliRunner.run("train", "--resume", adapter.toString(), "--steps", "6");
        assertThat(resume.code()).as(resume.err()).isZero();
        double adapted = ArchitecturesCliTest.evalLoss(model, adapter, data);
        assertThat(adapted).isLessThan(before);
        String answer = ArchitecturesCliTest.generate(model, adapter);
        CliRunner.Run merge = CliRunner.run("merge", "--model", model.toString(), "--adapter", adapter.toString(), "--out", merged.toString());
        if (merges) {
            assertThat(merge.code()).as(merge.err()).isZero();
            assertThat(ArchitecturesCliTest.evalLoss(merged, null, data)).isCloseTo(adapted, offset(1e-4));
            assertThat(ArchitecturesCliTest.generate(merged, null)).isEqualTo(answer);
        } else {
            assertThat(merge.code()).isNotZero();
            assertThat(merge.err()).contains("lora4j: error:").contains("unties").doesNotContain("Exception");
        }
        for (String[] bad : new String[][] {{"--modules-to-save", "score"}, {"--trainable-token-indices", "-1"}, {"--trainable-token-indices", "100000"},
                {"--modules-to-save", "lm_head", "--full"}, {"--trainable-token-indices", "1", "--ia3"}, {"--trainable-token-indices", "1,1"}}) {
            List<String> args = new ArrayList<>(List.of("train", "--model", model.toString(), "--data", data.toString(), "--out", tmp.resolve("bad").toString(), "--steps", "1"));
            args.addAll(List.of(bad));
            CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
            assertThat(r.code()).as(String.join(" ", bad)).isNotZero();
            assertThat(r.err()).as(String.join(" ", bad)).contains("lora4j: error:").doesNotContain("Exception");
        }
    }
}
