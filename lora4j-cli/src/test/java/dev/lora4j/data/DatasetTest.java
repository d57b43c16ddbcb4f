package dev.lora4j.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** input_ids with labels (−100 ignored), packing, held-out splits, and skipping bad lines. */
class DatasetTest {
    @TempDir
    Path tmp;

    @Test
    void labelsChooseWhichTargetsCount() throws IOException {
        Path base = TestPaths.fixture("llama-gqa");
        int[] ids = {5, 9, 2, 33, 17, 8, 41};
        Path d = tmp.resolve("d.jsonl");
        Files.writeString(d, "{\"input_ids\": [5, 9, 2, 33, 17, 8, 41], \"labels\": [-100, -100, -100, -100, 17, 8, 41]}\n");
        CliRunner.Run r = CliRunner.run("eval", "--model", base.toString(), "--data", d.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        var j = new ObjectMapper().readTree(r.lastLine());
        assertThat(j.get("tokens").asLong()).isEqualTo(3);
        try (Transformer m = Transformer.load(base)) {
            float[] logits = m.forward(ids, 1, ids.length, new Activations(m.config(), 1, ids.length, false));
            int v = m.config().vocabSize();
            double sum = 0;
            for (int i = 3; i < 6; i++) sum += dev.lora4j.kernels.Kernels.ops().crossEntropy(logits, i * v, v, ids[i + 1]);
            assertThat(j.get("loss").asDouble()).isCloseTo(sum / 3, offset(1e-5));
        }
    }

    @Test
    void packingSplittingAndSkipping() throws IOException {
        Path d = tmp.resolve("d.jsonl");
        Files.writeString(d, """
                {"input_ids": [1, 2, 3, 4, 5]}
                {"input_ids": [6, 7, 8]}
                not json
                {"input_ids": [9, 10, 11, 12, 13, 14]}
                {"input_ids": [15, 999]}
                """);
        assertThatThrownBy(() -> TokenDataset.readJsonl(d, 100)).isInstanceOf(Lora4jException.class).hasMessageContaining("d.jsonl:3");
        TokenDataset ds = TokenDataset.readJsonl(d, 100, true);
        assertThat(ds.skipped()).isEqualTo(2);
        assertThat(ds.examples()).hasSize(3);
        TokenDataset packed = ds.packed(4); // 14 tokens → 3 blocks of 4, the remainder dropped
        assertThat(packed.examples()).hasSize(3);
        assertThat(packed.examples().get(1)).containsExactly(5, 6, 7, 8);
        TokenDataset[] parts = ds.split(0.34, 1);
        assertThat(parts[0].examples()).hasSize(2);
        assertThat(parts[1].examples()).hasSize(1);
        assertThatThrownBy(() -> ds.split(0.01, 1)).hasMessageContaining("leaves no");
    }

    @Test
    void trainWithPackAndEvalSplit() throws IOException {
        Path base = TestPaths.fixture("llama-gqa"), out = tmp.resolve("o");
        CliRunner.Run r = CliRunner.run("train", "--model", base.toString(), "--data", base.resolve("eval.jsonl").toString(), "--out", out.toString(),
                "--steps", "2", "--pack", "--seq-len", "8", "--eval-split", "0.34", "--batch-size", "2");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("eval at step 2");
        assertThat(Files.readString(out.resolve("metrics.jsonl"))).contains("eval_loss");
    }
}
