package dev.lora4j.merge;

import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/** combine: cat and full-rank svd give exactly the weighted sum of updates; linear is PEFT's weighted sums. */
class CombineTest {
    @TempDir
    Path tmp;

    static final Path BASE = TestPaths.fixture("llama-gqa"), ALL = TestPaths.fixture("lora-llama-all-linear");

    Path second() {
        Path out = tmp.resolve("second");
        CliRunner.Run r = CliRunner.run("train", "--model", BASE.toString(), "--data", BASE.resolve("eval.jsonl").toString(), "--out", out.toString(),
                "--steps", "3", "--lr", "0.05", "--target", "q_proj,v_proj", "--r", "3", "--batch-size", "2");
        assertThat(r.code()).as(r.err()).isZero();
        return out;
    }

    /** Largest difference between the weights two (sets of) adapters merge to. */
    static double mergedDifference(Transformer base, List<LoraModel> a, List<Double> wa, List<LoraModel> b) {
        Map<String, float[]> x = Merger.mergedWeights(base, a, wa), y = Merger.mergedWeights(base, b, List.of(1.0));
        assertThat(y.keySet()).isEqualTo(x.keySet());
        double worst = 0;
        for (String k : x.keySet())
            for (int i = 0; i < x.get(k).length; i++) worst = Math.max(worst, Math.abs(x.get(k)[i] - y.get(k)[i]));
        return worst;
    }

    @Test
    void catAndSvdAreTheExactWeightedSum() throws IOException {
        Path second = second();
        for (String method : List.of("cat", "svd")) {
            Path out = tmp.resolve(method);
            CliRunner.Run r = CliRunner.run("combine", "--model", BASE.toString(), "--adapter", ALL + ":0.7", "--adapter", second + ":1.5",
                    "--method", method, "--out", out.toString());
            assertThat(r.code()).as(r.err()).isZero();
            try (Transformer base = Transformer.load(BASE)) {
                LoraModel a = PeftAdapter.load(ALL, base), b = PeftAdapter.load(second, base), c = PeftAdapter.load(out, base);
                assertThat(mergedDifference(base, List.of(a, b), List.of(0.7, 1.5), List.of(c))).as(method).isLessThan(1e-4);
                assertThat(c.modules().get("model.layers.0.self_attn.q_proj").rank()).isEqualTo(4 + 3);
                assertThat(c.modules().get("model.layers.0.mlp.up_proj").rank()).isEqualTo(method.equals("cat") ? 4 : 7);
            }
        }
    }

    @Test
    void svdTruncatesAndLinearNeedsEqualRanks() throws IOException {
        Path second = second();
        Path svd = tmp.resolve("svd2");
        assertThat(CliRunner.run("combine", "--model", BASE.toString(), "--adapter", ALL.toString(), "--adapter", second.toString(),
                "--method", "svd", "--rank", "2", "--out", svd.toString()).code()).isZero();
        try (Transformer base = Transformer.load(BASE)) {
            assertThat(PeftAdapter.load(svd, base).modules().values()).allSatisfy(l -> assertThat(l.rank()).isEqualTo(2));
        }
        CliRunner.Run lin = CliRunner.run("combine", "--model", BASE.toString(), "--adapter", ALL.toString(), "--adapter", second.toString(),
                "--method", "linear", "--out", tmp.resolve("lin").toString());
        assertThat(lin.code()).isEqualTo(1);
        assertThat(lin.err()).contains("equal ranks");
        assertThat(tmp.resolve("lin")).doesNotExist();
        CliRunner.Run big = CliRunner.run("combine", "--model", BASE.toString(), "--adapter", ALL.toString(), "--adapter", second.toString(),
                "--method", "svd", "--rank", "500", "--out", tmp.resolve("big").toString());
        assertThat(big.err()).contains("--rank 500 is not possible");
        CliRunner.Run nan = CliRunner.run("combine", "--model", BASE.toString(), "--adapter", ALL + ":abc", "--adapter", second.toString(),
                "--out", tmp.resolve("x").toString());
        assertThat(nan.err()).contains("weight 'abc'", "is not a number");
    }

    @Test
    void linearIsPeftsWeightedSumOfFactors() throws IOException {
        Path out = tmp.resolve("lin");
        assertThat(CliRunner.run("combine", "--model", BASE.toString(), "--adapter", ALL + ":0.25", "--adapter", ALL + ":0.25",
                "--method", "linear", "--out", out.toString()).code()).isZero();
        try (Transformer base = Transformer.load(BASE)) {
            LoraModel a = PeftAdapter.load(ALL, base), c = PeftAdapter.load(out, base);
            // A = 2·√0.25·s·A₀ = s·A₀ and B = 2·√0.25·B₀ = B₀ with scale 1: the same update as the source at weight 1
            assertThat(mergedDifference(base, List.of(a), List.of(1.0), List.of(c))).isLessThan(1e-5);
            var l = c.modules().get("model.layers.1.self_attn.o_proj");
            assertThat(l.scale()).isCloseTo(1f, offset(0f));
        }
    }

    @Test
    void aRankForAMethodThatKeepsRanksIsRefused() {
        CliRunner.Run r = CliRunner.run("combine", "--model", BASE.toString(), "--adapter", ALL.toString(), "--method", "linear",
                "--rank", "3", "--out", tmp.resolve("lin").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("--rank applies to --method svd only");
    }
}
