package dev.lora4j.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.data.Batch;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/**
 * PEFT adapters made by the PyTorch reference (random non-zero A and B on every projection kind):
 * lora4j reads them, its loss equals PyTorch's, and its LoRA gradients equal autograd's
 * (relative error ≤ 1e-4), through GPT-2's fused Conv1D and the Llama family's GQA and RoPE.
 */
class LoraReferenceTest {
    @TempDir
    Path tmp;

    static double relativeError(float[] actual, float[] expected) {
        double num = 0, den = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = actual[i] - expected[i];
            num += d * d;
            den += (double) expected[i] * expected[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-30));
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora-llama-all-linear", "lora-gpt2-rslora", "lora-qwen3-attention", "lora-phi3-fused", "lora-gemma2-softcap", "lora-gemma3-local-global",
            "dora-llama", "dora-gpt2", "lora-gpt2-bias"})
    void gradientsMatchAutograd(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText()))) {
            LoraModel lm = PeftAdapter.load(dir, base);
            checkAgainstReference(lm, dir, ref);
            // and the same after a save → load round trip through the PEFT files lora4j writes
            PeftAdapter.save(tmp.resolve("copy"), lm, "base");
            LoraModel again = PeftAdapter.load(tmp.resolve("copy"), base);
            assertThat(again.config().scaling(again.modules().keySet().iterator().next()))
                    .isEqualTo(lm.config().scaling(lm.modules().keySet().iterator().next()));
            checkAgainstReference(again, dir, ref);
        }
    }

    private static void checkAgainstReference(LoraModel lm, Path dir, JsonNode ref) {
        JsonNode ids = ref.get("input_ids");
        List<int[]> rows = new ArrayList<>();
        for (JsonNode row : ids) rows.add(new ObjectMapper().convertValue(row, int[].class));
        int b = rows.size(), t = rows.getFirst().length;
        Batch batch = Batch.of(rows, 0, b, t);
        Activations act = new Activations(lm.model().config(), b, t, true);
        lm.zeroGrad();
        lm.setTraining(true, 0); // no dropout in these adapters: training mode only keeps what backward needs
        Transformer.LossSum ls = lm.model().loss(batch.tokens(), batch.targets(), b, t, act, 1f / batch.targetCount());
        assertThat(ls.sum() / ls.count()).isCloseTo(ref.get("loss").asDouble(), offset(1e-4));
        try (SafeTensors grads = SafeTensors.open(dir.resolve("lora_grads.safetensors"))) {
            assertThat(grads.entries()).hasSize((lm.config().dora() || lm.config().loraBias() ? 3 : 2) * lm.modules().size());
            for (LoraLinear l : lm.modules().values()) {
                float[] ga = grads.tensor("base_model.model." + l.name() + ".lora_A.weight").toArray();
                float[] gb = grads.tensor("base_model.model." + l.name() + ".lora_B.weight").toArray();
                assertThat(relativeError(l.gradA(), ga)).as("relative error of %s lora_A grad", l.name()).isLessThan(1e-4);
                assertThat(relativeError(l.gradB(), gb)).as("relative error of %s lora_B grad", l.name()).isLessThan(1e-4);
                if (l.biasB() != null) {
                    float[] gbias = grads.tensor("base_model.model." + l.name() + ".lora_B.bias").toArray();
                    assertThat(relativeError(l.gradBiasB(), gbias)).as("relative error of %s lora_B bias grad", l.name()).isLessThan(1e-4);
                }
                if (l.dora()) {
                    float[] gm = grads.tensor("base_model.model." + l.name() + ".lora_magnitude_vector.weight").toArray();
                    assertThat(relativeError(l.gradMagnitude(), gm)).as("relative error of %s magnitude grad", l.name()).isLessThan(1e-4);
                }
            }
        }
    }

    /**
     * A batch of more rows than Activations.LOGIT_ROWS takes the LM head a vocabulary block at a time,
     * with the online rescaling between blocks; sequence by sequence, each fits one block. The loss sum
     * and the LoRA gradients (sums over rows) must agree, ignored targets included.
     */
    @ParameterizedTest
    @ValueSource(strings = {"lora-llama-all-linear", "lora-gpt2-rslora", "lora-qwen3-attention", "lora-phi3-fused", "lora-gemma2-softcap", "lora-gemma3-local-global"})
    void vocabularyBlocksGiveTheSameLossAndGradientsAsOneBlock(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText()))) {
            LoraModel lm = PeftAdapter.load(dir, base);
            int b = 10, t = 30, v = base.config().vocabSize(); // 300 rows: more than LOGIT_ROWS, so several blocks
            assertThat(b * t).isGreaterThan(Activations.LOGIT_ROWS);
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(9);
            int[] tokens = rnd.ints(b * t, 0, v).toArray(), targets = rnd.ints(b * t, 0, v).toArray();
            for (int i = 0; i < targets.length; i += 7) targets[i] = -100;
            lm.zeroGrad();
            lm.setTraining(true, 0);
            Transformer.LossSum all = lm.model().loss(tokens, targets, b, t, new Activations(base.config(), b, t, true), 1f);
            List<float[]> gradsAll = new ArrayList<>();
            for (LoraLinear l : lm.modules().values()) {
                gradsAll.add(l.gradA().clone());
                gradsAll.add(l.gradB().clone());
            }
            lm.zeroGrad();
            double sum = 0;
            long count = 0;
            for (int s = 0; s < b; s++) { // gradients accumulate across calls
                Transformer.LossSum one = lm.model().loss(java.util.Arrays.copyOfRange(tokens, s * t, (s + 1) * t),
                        java.util.Arrays.copyOfRange(targets, s * t, (s + 1) * t), 1, t, new Activations(base.config(), 1, t, true), 1f);
                sum += one.sum();
                count += one.count();
            }
            assertThat(all.count()).isEqualTo(count);
            assertThat(all.sum()).isCloseTo(sum, offset(1e-5 * Math.abs(sum)));
            int i = 0;
            for (LoraLinear l : lm.modules().values()) {
                assertThat(relativeError(gradsAll.get(i++), l.gradA())).as("%s lora_A grad", l.name()).isLessThan(1e-5);
                assertThat(relativeError(gradsAll.get(i++), l.gradB())).as("%s lora_B grad", l.name()).isLessThan(1e-5);
            }
        }
    }

    @org.junit.jupiter.api.Test
    void adapterConfigWithoutRankOrAlphaIsAClearError() throws IOException {
        for (String field : new String[] {"r", "lora_alpha"}) {
            Path dir = tmp.resolve("no-" + field);
            java.nio.file.Files.createDirectories(dir);
            var cfg = (com.fasterxml.jackson.databind.node.ObjectNode) new ObjectMapper().readTree(TestPaths.fixture("lora-llama-all-linear").resolve("adapter_config.json").toFile());
            cfg.remove(field);
            java.nio.file.Files.writeString(dir.resolve("adapter_config.json"), cfg.toString());
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> PeftAdapter.readConfig(dir))
                    .isInstanceOf(dev.lora4j.Lora4jException.class).hasMessageContainingAll("adapter_config.json", "'" + field + "'");
        }
    }
}
