package dev.lora4j.ia3;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.FiniteDifferences;
import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import dev.lora4j.data.Batch;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraReferenceTestAccess;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/**
 * IA³ against the PyTorch reference (reference/make_fixtures.py ia3: PEFT's files with random vectors on Qwen2's
 * biased k/v and down_proj, GPT-2's fused Conv1D c_attn and mlp.c_proj): the loss and every vector's gradient; the
 * merged model computes what the unmerged one does; finite differences of the layer itself.
 */
class Ia3Test {
    @TempDir
    Path tmp;

    record Run(double loss, List<float[]> grads) {}

    static Run run(Ia3Model m, JsonNode ref) {
        List<int[]> rows = new ArrayList<>();
        for (JsonNode row : ref.get("input_ids")) rows.add(new ObjectMapper().convertValue(row, int[].class));
        int b = rows.size(), t = rows.getFirst().length;
        Batch batch = Batch.of(rows, 0, b, t);
        for (Ia3Linear l : m.modules().values()) java.util.Arrays.fill(l.grad(), 0f);
        Transformer.LossSum ls = m.model().loss(batch.tokens(), batch.targets(), b, t, new Activations(m.model().config(), b, t, true), 1f / batch.targetCount());
        List<float[]> grads = new ArrayList<>();
        for (Ia3Linear l : m.modules().values()) grads.add(l.grad().clone());
        return new Run(ls.sum() / ls.count(), grads);
    }

    static double loss(Transformer model, JsonNode ref) {
        List<int[]> rows = new ArrayList<>();
        for (JsonNode row : ref.get("input_ids")) rows.add(new ObjectMapper().convertValue(row, int[].class));
        int b = rows.size(), t = rows.getFirst().length;
        Batch batch = Batch.of(rows, 0, b, t);
        Transformer.LossSum ls = model.loss(batch.tokens(), batch.targets(), b, t, new Activations(model.config(), b, t, true), 1f); // loss runs backward too
        return ls.sum() / ls.count();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ia3-qwen2", "ia3-gpt2"})
    void lossAndGradientsMatchAutogradAndSurviveASaveAndLoad(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText())); SafeTensors want = SafeTensors.open(dir.resolve("ia3_grads.safetensors"))) {
            Ia3Model m = Ia3Model.load(dir, base);
            assertThat(m.modules()).hasSize(4 + (name.contains("qwen2") ? 2 : 0));
            Run r = run(m, ref);
            assertThat(r.loss()).isCloseTo(ref.get("loss").asDouble(), offset(1e-4));
            int i = 0;
            for (Ia3Linear l : m.modules().values())
                assertThat(LoraReferenceTestAccess.relativeError(r.grads().get(i++), want.tensor("base_model.model." + l.name() + ".ia3_l").toArray()))
                        .as("%s (%s)", l.name(), l.feedforward() ? "input scaled" : "output scaled").isLessThan(1e-4);
            m.save(tmp.resolve("copy"), "base");
            Ia3Model again = Ia3Model.load(tmp.resolve("copy"), base);
            assertThat(run(again, ref).loss()).isEqualTo(r.loss());
            assertThat(new ObjectMapper().readTree(tmp.resolve("copy/adapter_config.json").toFile()).get("peft_type").asText()).isEqualTo("IA3");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ia3-qwen2", "ia3-gpt2"})
    void mergedWeightsComputeWhatTheVectorsDoAndFreshVectorsAreTheBase(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText()))) {
            Ia3Model m = Ia3Model.load(dir, base);
            assertThat(loss(m.merged(), ref)).isCloseTo(loss(m.model(), ref), offset(2e-5));
            assertThat(loss(m.merged(), ref)).isNotCloseTo(loss(base, ref), offset(1e-3));
            Ia3Model fresh = Ia3Model.inject(base, Ia3Config.defaultsFor(base.config().modelType()));
            assertThat(loss(fresh.model(), ref)).isEqualTo(loss(base, ref));
        }
    }

    /** L = Σ w ⊙ y through one layer, both kinds, (out, in) and Conv1D storage, with and without accumulation. */
    @Test
    void layerGradientsMatchFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(3);
        int in = 6, out = 5, rows = 4;
        for (boolean conv1d : new boolean[] {false, true})
            for (boolean ff : new boolean[] {false, true}) {
                float[] w = new float[in * out], b = new float[out], x = new float[rows * in], wy = new float[rows * out], l = new float[ff ? in : out];
                for (float[] a : List.of(w, b, x, wy)) for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
                for (int i = 0; i < l.length; i++) l[i] = (float) (1 + 0.3 * r.nextGaussian());
                Linear lin = new Linear("m", Tensor.of("m.weight", w, conv1d ? new int[] {in, out} : new int[] {out, in}), b, in, out, conv1d);
                Ia3Linear layer = new Ia3Linear(lin, ff, l);
                float[] dx = new float[rows * in];
                java.util.Arrays.fill(dx, 0.5f);
                layer.backward(Mat.of(x, 0, rows, in), Mat.of(wy, 0, rows, out), dx, 0, in, true);
                java.util.function.DoubleSupplier loss = () -> FiniteDifferences.weightedOutput(layer, x, wy, rows);
                String what = "conv1d " + conv1d + " ff " + ff;
                FiniteDifferences.assertNear(what + " dl", layer.grad(), FiniteDifferences.all(l), FiniteDifferences.numericInPlace(l, FiniteDifferences.all(l), loss, 1e-2f), 2e-3, 0);
                float[] dxOwn = new float[dx.length];
                for (int i = 0; i < dx.length; i++) dxOwn[i] = dx[i] - 0.5f; // accumulated onto 0.5
                FiniteDifferences.assertNear(what + " dx", dxOwn, FiniteDifferences.all(x), FiniteDifferences.numericInPlace(x, FiniteDifferences.all(x), loss, 1e-2f), 3e-3, 0);
                // accumulate adds onto y; the merged weights compute the same map
                float[] y = new float[rows * out], y2 = new float[rows * out];
                java.util.Arrays.fill(y2, 1f);
                layer.forward(Mat.of(x, 0, rows, in), y, 0, out, false);
                layer.forward(Mat.of(x, 0, rows, in), y2, 0, out, true);
                float[][] merged = layer.merged();
                float[] ym = new float[rows * out];
                new Linear("m", Tensor.of("m.weight", merged[0], lin.weight().shape()), merged[1], in, out, conv1d).forward(Mat.of(x, 0, rows, in), ym, 0, out, false);
                for (int i = 0; i < y.length; i++) {
                    assertThat(y2[i]).isCloseTo(y[i] + 1f, offset(1e-5f));
                    assertThat(ym[i]).isCloseTo(y[i], offset(1e-4f));
                }
            }
    }

    @Test
    void badAdaptersAreRefusedByName() throws IOException {
        try (Transformer base = Transformer.load(TestPaths.fixture("gpt2-plain"))) {
            Path dir = tmp.resolve("bad");
            Files.createDirectories(dir);
            Files.copy(TestPaths.fixture("ia3-gpt2").resolve("adapter_model.safetensors"), dir.resolve("adapter_model.safetensors"));
            Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"IA3\", \"target_modules\": [\"c_attn\"], \"feedforward_modules\": []}");
            assertThatThrownBy(() -> Ia3Model.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("mlp.c_proj").hasMessageContaining("does not target");
            Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"IA3\", \"target_modules\": [\"c_attn\", \"mlp.c_proj\"], \"feedforward_modules\": []}");
            assertThatThrownBy(() -> Ia3Model.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("has shape");
            assertThatThrownBy(() -> Ia3Model.inject(base, new Ia3Config(new LoraConfig.TargetList(List.of("q_proj")), List.of())))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("match no module");
            assertThatThrownBy(() -> Ia3Model.inject(base, new Ia3Config(new LoraConfig.TargetList(List.of("c_attn")), List.of("c_fc"))))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("not among the target modules");
        }
    }
}
