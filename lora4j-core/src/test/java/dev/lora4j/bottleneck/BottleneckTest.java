package dev.lora4j.bottleneck;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.FiniteDifferences;
import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import dev.lora4j.data.Batch;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.lora.LoraReferenceTestAccess;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Tensor;
import dev.lora4j.train.Parameter;
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
 * Houlsby bottleneck adapters against the PyTorch reference (reference/make_fixtures.py bottleneck: random D, b_D, U,
 * b_U after a Llama's o_proj/down_proj and GPT-2's Conv1D c_proj's): the loss and all four tensors' gradients; save and
 * load; fresh adapters compute the base; finite differences of the layer.
 */
class BottleneckTest {
    @TempDir
    Path tmp;

    static double lossAndGradients(Transformer model, JsonNode ref) {
        List<int[]> rows = new ArrayList<>();
        for (JsonNode row : ref.get("input_ids")) rows.add(new ObjectMapper().convertValue(row, int[].class));
        int b = rows.size(), t = rows.getFirst().length;
        Batch batch = Batch.of(rows, 0, b, t);
        Transformer.LossSum ls = model.loss(batch.tokens(), batch.targets(), b, t, new Activations(model.config(), b, t, true), 1f / batch.targetCount());
        return ls.sum() / ls.count();
    }

    @ParameterizedTest
    @ValueSource(strings = {"bottleneck-llama", "bottleneck-gpt2"})
    void lossAndGradientsMatchAutograd(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText()));
             SafeTensors want = SafeTensors.open(dir.resolve("bottleneck_grads.safetensors"))) {
            BottleneckModel m = BottleneckModel.load(dir, base);
            assertThat(m.modules()).hasSize(4);
            assertThat(lossAndGradients(m.model(), ref)).isCloseTo(ref.get("loss").asDouble(), offset(1e-4));
            List<Parameter> params = m.parameters();
            assertThat(params).hasSize(want.entries().size());
            for (Parameter p : params)
                assertThat(LoraReferenceTestAccess.relativeError(p.grad(), want.tensor("base_model.model." + p.name()).toArray())).as(p.name()).isLessThan(1e-4);
            m.save(tmp.resolve("copy"), "base");
            BottleneckModel again = BottleneckModel.load(tmp.resolve("copy"), base);
            assertThat(lossAndGradients(again.model(), ref)).isCloseTo(ref.get("loss").asDouble(), offset(1e-4));
            BottleneckModel fresh = BottleneckModel.inject(base, new BottleneckConfig(4, null).resolvedFor(base.config().modelType()), 1);
            assertThat(fresh.modules()).hasSize(4);
            // U = 0: the base's function (summed in another order: the sub-layer output is added to the residual after the adapter)
            assertThat(lossAndGradients(fresh.model(), ref)).isCloseTo(lossAndGradients(base, ref), offset(1e-6));
        }
    }

    @Test
    void layerGradientsMatchFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(5);
        int in = 6, d = 5, m = 3, rows = 4;
        for (boolean conv1d : new boolean[] {false, true}) {
            float[] w = new float[in * d], b = new float[d], x = new float[rows * in], wy = new float[rows * d];
            float[] down = new float[m * d], downBias = new float[m], up = new float[d * m], upBias = new float[d];
            for (float[] a : List.of(w, b, x, wy, down, downBias, up, upBias)) for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
            Linear lin = new Linear("m", Tensor.of("m.weight", w, conv1d ? new int[] {in, d} : new int[] {d, in}), b, in, d, conv1d);
            BottleneckLinear layer = new BottleneckLinear(lin, m, down, downBias, up, upBias);
            float[] dx = new float[rows * in];
            layer.backward(Mat.of(x, 0, rows, in), Mat.of(wy, 0, rows, d), dx, 0, in, false);
            float[][] values = {down, downBias, up, upBias, x}, grads = {layer.gDown, layer.gDownBias, layer.gUp, layer.gUpBias, dx};
            String[] names = {"D", "b_D", "U", "b_U", "x"};
            for (int k = 0; k < values.length; k++) {
                int[] all = FiniteDifferences.all(values[k]);
                FiniteDifferences.assertNear("conv1d " + conv1d + " " + names[k], grads[k], all,
                        FiniteDifferences.numericInPlace(values[k], all, () -> FiniteDifferences.weightedOutput(layer, x, wy, rows), 1e-2f), 5e-3, 1e-2);
            }
        }
    }

    @Test
    void badAdaptersAreRefusedByName() throws IOException {
        try (Transformer base = Transformer.load(TestPaths.fixture("gpt2-plain"))) {
            Path dir = tmp.resolve("bad");
            Files.createDirectories(dir);
            Files.copy(TestPaths.fixture("bottleneck-gpt2").resolve("adapter_model.safetensors"), dir.resolve("adapter_model.safetensors"));
            Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"BOTTLENECK\", \"bottleneck_size\": 4, \"target_modules\": [\"attn.c_proj\", \"mlp.c_proj\"]}");
            assertThatThrownBy(() -> BottleneckModel.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("has shape").hasMessageContaining("bottleneck_size 4");
            Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"BOTTLENECK\", \"bottleneck_size\": 3, \"target_modules\": [\"attn.c_proj\"]}");
            assertThatThrownBy(() -> BottleneckModel.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("holds 16 tensors");
            assertThatThrownBy(() -> new BottleneckConfig(0, null)).isInstanceOf(Lora4jException.class).hasMessageContaining("--bottleneck-size");
        }
    }
}
