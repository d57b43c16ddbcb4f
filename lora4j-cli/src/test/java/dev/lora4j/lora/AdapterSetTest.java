package dev.lora4j.lora;

import dev.lora4j.Lora4jException;
import dev.lora4j.generate.Generator;
import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** Many adapters over one base; a mixed batch equals running each sequence alone with its adapter. */
class AdapterSetTest {
    @TempDir
    Path tmp;

    @Test
    void mixedBatchEqualsEachRowAlone() {
        Path base = TestPaths.fixture("llama-gqa");
        Path second = tmp.resolve("second");
        CliRunner.Run r = CliRunner.run("train", "--model", base.toString(), "--data", base.resolve("eval.jsonl").toString(),
                "--out", second.toString(), "--steps", "3", "--lr", "0.05", "--target", "q_proj,o_proj", "--r", "3", "--batch-size", "2");
        assertThat(r.code()).as(r.err()).isZero();
        try (Transformer b = Transformer.load(base)) {
            AdapterSet set = new AdapterSet(b);
            set.load("all", TestPaths.fixture("lora-llama-all-linear"));
            set.load("qo", second);
            assertThatThrownBy(() -> set.load("qo", second)).isInstanceOf(Lora4jException.class).hasMessageContaining("already loaded");
            int t = 7;
            int[][] seqs = {{1, 2, 3, 4, 5, 6, 7}, {9, 8, 7, 6, 5, 4, 3}, {11, 12, 13, 14, 15, 16, 17}, {5, 5, 5, 5, 5, 5, 5}};
            String[] route = {"qo", null, "all", "qo"};
            int[] flat = new int[seqs.length * t];
            for (int i = 0; i < seqs.length; i++) System.arraycopy(seqs[i], 0, flat, i * t, t);
            AdapterSet.Mixed mixed = set.mixed();
            int v = b.config().vocabSize();
            float[] together = mixed.call(route, () -> mixed.model().forward(flat, seqs.length, t, new Activations(b.config(), seqs.length, t, false)));
            for (int i = 0; i < seqs.length; i++) {
                Transformer alone = set.model(route[i]);
                float[] one = alone.forward(seqs[i], 1, t, new Activations(b.config(), 1, t, false));
                for (int j = 0; j < t * v; j++)
                    assertThat(together[i * t * v + j]).as("sequence %d (%s), logit %d", i, route[i], j).isCloseTo(one[j], offset(1e-4f));
            }
            // switching really changes the output, and unloading removes the name
            float[] a = set.model("all").forward(seqs[0], 1, t, new Activations(b.config(), 1, t, false));
            float[] q = set.model("qo").forward(seqs[0], 1, t, new Activations(b.config(), 1, t, false));
            assertThat(a).isNotEqualTo(q);
            set.unload("qo");
            assertThat(set.names()).containsExactly("all");
            assertThatThrownBy(() -> set.model("qo")).isInstanceOf(Lora4jException.class).hasMessageContaining("no adapter named 'qo'");
        }
    }

    @Test
    void evalRoutesEachExampleToItsAdapter() throws java.io.IOException {
        Path base = TestPaths.fixture("llama-gqa"), all = TestPaths.fixture("lora-llama-all-linear");
        Path data = tmp.resolve("mixed.jsonl"), plain = tmp.resolve("plain.jsonl"), onlyAll = tmp.resolve("all.jsonl");
        java.nio.file.Files.writeString(data, "{\"input_ids\": [1, 2, 3, 4, 5], \"adapter\": \"a\"}\n{\"input_ids\": [5, 4, 3, 2, 1, 0]}\n");
        java.nio.file.Files.writeString(onlyAll, "{\"input_ids\": [1, 2, 3, 4, 5]}\n");
        java.nio.file.Files.writeString(plain, "{\"input_ids\": [5, 4, 3, 2, 1, 0]}\n");
        var mixed = CliRunner.run("eval", "--model", base.toString(), "--data", data.toString(), "--adapter", "a=" + all, "--batch-size", "2", "--json");
        var a = CliRunner.run("eval", "--model", base.toString(), "--data", onlyAll.toString(), "--adapter", all.toString(), "--json");
        var b = CliRunner.run("eval", "--model", base.toString(), "--data", plain.toString(), "--json");
        assertThat(mixed.code()).as(mixed.err()).isZero();
        var om = new com.fasterxml.jackson.databind.ObjectMapper();
        double la = om.readTree(a.lastLine()).get("loss").asDouble(), lb = om.readTree(b.lastLine()).get("loss").asDouble();
        // 4 targets with the adapter, 5 without: the token-weighted mean of the two runs
        assertThat(om.readTree(mixed.lastLine()).get("loss").asDouble()).isCloseTo((4 * la + 5 * lb) / 9, offset(1e-4));
        var unknown = CliRunner.run("eval", "--model", base.toString(), "--data", data.toString(), "--adapter", "b=" + all);
        assertThat(unknown.err()).contains("no adapter named 'a'");
    }

    @Test
    void generationServesMixedBatches() {
        try (Transformer b = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            AdapterSet set = new AdapterSet(b);
            set.load("all", TestPaths.fixture("lora-llama-all-linear"));
            AdapterSet.Mixed mixed = set.mixed();
            String[] route = {"all", null};
            int[][] prompts = {{4, 8, 15, 16}, {23, 42, 4, 8}};
            var greedy = new dev.lora4j.generate.Sampler(0, 0, 1, 1, new java.util.SplittableRandom(0));
            int[][] together = dev.lora4j.generate.Generator.generate(mixed.model(), List.of(
                    new Generator.Sequence(prompts[0], 8, greedy, new int[0], Generator.StopCondition.NEVER, id -> {}),
                    new Generator.Sequence(prompts[1], 8, greedy, new int[0], Generator.StopCondition.NEVER, id -> {})),
                    Generator.Scope.routed(mixed, route)).stream().map(Generator.Output::ids).toArray(int[][]::new);
            for (int i = 0; i < 2; i++) {
                int[] alone = Generator.generate(set.model(route[i]), new int[][] {prompts[i]}, 8, greedy, -1, id -> {})[0];
                assertThat(together[i]).as("sequence %d", i).containsExactly(alone);
            }
        }
    }
}
