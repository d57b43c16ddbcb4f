package dev.lora4j.train;

import dev.lora4j.ReferenceBatch;
import dev.lora4j.TestPaths;
import dev.lora4j.bottleneck.BottleneckModel;
import dev.lora4j.ia3.Ia3Model;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import dev.lora4j.prompt.PrefixTuningModel;
import dev.lora4j.prompt.PromptTuningModel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gradient checkpointing recomputes each block's activations before its backward pass: the loss and
 * every gradient must be the ordinary pass's to the bit (same operations, same inputs, the same dropout
 * masks), on every architecture's block shape and with every adapter method, while the buffers kept per
 * layer shrink to the block inputs.
 */
class GradientCheckpointingTest {

    /** Loss and gradients of one batch with ordinary and with recomputing activations, in a fresh gradient state each. */
    private static void assertSameGradients(Trainable m, Path fixture) throws Exception {
        ReferenceBatch d = ReferenceBatch.of(ReferenceBatch.reference(fixture));
        Transformer model = m.model();
        List<float[]> ordinary = new ArrayList<>();
        double lossOrdinary = run(m, d, new Activations(model.config(), d.b(), d.t(), true), ordinary);
        List<float[]> recomputed = new ArrayList<>();
        double lossRecomputed = run(m, d, Activations.recomputing(model.config(), d.b(), d.t()), recomputed);
        assertThat(lossRecomputed).isEqualTo(lossOrdinary);
        boolean anyNonZero = false;
        for (int i = 0; i < ordinary.size(); i++) {
            assertThat(recomputed.get(i)).as(m.parameters().get(i).name()).isEqualTo(ordinary.get(i));
            for (float g : ordinary.get(i)) anyNonZero |= g != 0f;
        }
        assertThat(anyNonZero).as("some gradient is non-zero").isTrue();
    }

    private static double run(Trainable m, ReferenceBatch d, Activations a, List<float[]> grads) {
        m.zeroGrad();
        m.setTraining(true, 7); // the same seed: the same dropout masks in both runs
        Transformer.LossSum ls = m.model().loss(d.batch().tokens(), d.batch().targets(), d.b(), d.t(), a, 1f / d.batch().targetCount());
        for (Parameter p : m.parameters()) grads.add(p.grad().clone());
        return ls.sum();
    }

    /** LoRA with dropout on every linear layer, B random (so A's gradient is not zero), DoRA and lora_bias where asked. */
    private static Trainable lora(Transformer base, boolean dora) {
        LoraConfig c = LoraConfig.builder().r(4).alpha(8).dropout(0.25).targets("all-linear").dora(dora).loraBias(!dora).build();
        LoraModel lm = LoraModel.inject(base, c, 3);
        SplittableRandom rnd = new SplittableRandom(5);
        for (LoraLinear l : lm.modules().values())
            for (int i = 0; i < l.b().length; i++) l.b()[i] = (float) rnd.nextDouble(-0.1, 0.1);
        return Trainable.lora(lm);
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-plain", "llama-gqa", "gemma2-softcap", "gemma3-local-global", "qwen3-qknorm", "phi3-fused", "mistral-window"})
    void loraWithDropoutGivesTheOrdinaryGradients(String fixture) throws Exception {
        try (Transformer base = Transformer.load(TestPaths.fixture(fixture))) {
            assertSameGradients(lora(base, false), TestPaths.fixture(fixture));
            assertSameGradients(lora(base, true), TestPaths.fixture(fixture));
        }
    }

    @Test
    void fullFineTuningGivesTheOrdinaryGradients() throws Exception {
        Path dir = TestPaths.fixture("llama-gqa");
        try (Transformer base = Transformer.load(dir)) {
            assertSameGradients(FullModel.of(base), dir);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ia3-gpt2", "bottleneck-llama", "prefix-gemma2", "prefix-qwen3", "prompt-llama"})
    void otherMethodsGiveTheOrdinaryGradients(String name) throws Exception {
        Path dir = TestPaths.fixture(name);
        try (Transformer base = Transformer.load(TestPaths.fixture(ReferenceBatch.reference(dir).get("base").asText()))) {
            Trainable m = switch (name.substring(0, name.indexOf('-'))) {
                case "ia3" -> Trainable.ia3(Ia3Model.load(dir, base));
                case "bottleneck" -> Trainable.bottleneck(BottleneckModel.load(dir, base));
                case "prefix" -> Trainable.prefixTuning(PrefixTuningModel.load(dir, base));
                default -> Trainable.promptTuning(PromptTuningModel.load(dir, base));
            };
            assertSameGradients(m, dir);
        }
    }

    @Test
    void aLayerKeepsOnlyItsInput() throws Exception {
        try (Transformer base = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            var c = base.config();
            long ordinary = new Activations(c, 2, 32, true).bytes(), recomputed = Activations.recomputing(c, 2, 32).bytes();
            long perLayerSaved = ordinary - recomputed, perLayerInput = 4L * 2 * 32 * c.dim();
            // every layer but the first (whose buffers the others share) keeps its input only
            assertThat(perLayerSaved).isPositive();
            assertThat(perLayerSaved % (c.layers() - 1)).isZero();
            assertThat(perLayerSaved / (c.layers() - 1)).isGreaterThan(3 * perLayerInput);
        }
    }
}
