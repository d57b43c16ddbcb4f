package dev.lora4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** compare-methods on the bundled model and the demo's task, a few steps each: every row measured, written three ways. */
class CompareMethodsCommandTest {
    @TempDir
    Path tmp;

    @Test
    void everyMethodIsTrainedAndMeasured() throws IOException {
        Path out = tmp.resolve("cmp");
        CliRunner.Run r = CliRunner.run("compare-methods", "--out", out.toString(), "--steps", "3", "--latency-tokens", "8");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode rows = new ObjectMapper().readTree(out.resolve("compare.json").toFile());
        assertThat(rows).hasSize(7);
        List<String> methods = new java.util.ArrayList<>();
        rows.forEach(row -> methods.add(row.get("method").asText()));
        assertThat(methods).containsExactly("base model", "LoRA", "IA³", "bottleneck adapters", "prompt tuning", "prefix tuning", "full fine-tuning");
        for (JsonNode row : rows) {
            assertThat(row.get("msPerToken").asDouble()).as(row.get("method").asText()).isPositive();
            assertThat(row.get("evalLoss").asDouble()).isPositive();
            if (!row.get("method").asText().equals("base model"))
                assertThat(row.get("peakRssBytes").asLong()).as(row.get("method").asText()).isGreaterThan(20L << 20); // a JVM of its own, measured
        }
        assertThat(out.resolve("lora-train.log")).content().contains("done: 3 steps");
        long baseParams = rows.get(6).get("trainable").asLong();
        assertThat(rows.get(1).get("trainable").asLong()).isEqualTo(6 * 4 * ((192 + 192) + (192 + 64))); // r = 4 on q_proj (192 → 192) and v_proj (192 → 64), 6 layers
        assertThat(rows.get(1).get("trainable").asLong()).isLessThan(baseParams / 100);
        assertThat(rows.get(1).get("msPerTokenMerged").asDouble()).isPositive();   // LoRA merges
        assertThat(rows.get(2).get("msPerTokenMerged").asDouble()).isPositive();   // IA³ merges
        assertThat(rows.get(3).get("msPerTokenMerged").isNull() || rows.get(3).get("msPerTokenMerged").asText().equals("NaN")).isTrue(); // bottleneck adapters do not
        assertThat(rows.get(4).get("trainable").asLong()).isEqualTo(16 * 192); // 16 virtual tokens of the model's width
        assertThat(rows.get(4).get("msPerTokenMerged").asText()).isEqualTo("NaN"); // nothing to merge
        assertThat(rows.get(5).get("trainable").asLong()).isEqualTo(16 * 6 * 2 * 64); // keys and values (2 heads of 32) of 16 tokens at 6 layers
        for (int i : new int[] {0, 1, 2, 3, 6}) assertThat(rows.get(i).get("context").asInt()).isEqualTo(128);
        for (int i : new int[] {4, 5}) assertThat(rows.get(i).get("context").asInt()).isEqualTo(128 - 16); // the seed's claim: they spend the context
        assertThat(Files.readString(out.resolve("compare.md"))).contains("| bottleneck adapters |").contains("| prompt tuning |").contains("context left");
        assertThat(out.resolve("report/index.html")).exists();
        assertThat(out.resolve("lora/adapter_model.safetensors")).exists();
        assertThat(out.resolve("full/model.safetensors")).exists();
    }

    @Test
    void badOptionsAreCleanErrors() {
        for (String[] args : List.of(new String[] {"compare-methods", "--out", tmp.resolve("a").toString(), "--methods", "lora,p-tuning"},
                new String[] {"compare-methods", "--out", tmp.resolve("e").toString(), "--virtual-tokens", "-1"},
                new String[] {"compare-methods", "--out", tmp.resolve("b").toString(), "--data", "x.jsonl"},
                new String[] {"compare-methods", "--out", tmp.resolve("c").toString(), "--steps", "0"},
                new String[] {"compare-methods", "--out", tmp.resolve("d").toString(), "--methods", "lora,lora"})) {
            CliRunner.Run r = CliRunner.run(args);
            assertThat(r.code()).as(String.join(" ", args)).isNotZero();
            assertThat(r.err()).as(String.join(" ", args)).startsWith("lora4j: error:").doesNotContain("Exception");
        }
    }
}
