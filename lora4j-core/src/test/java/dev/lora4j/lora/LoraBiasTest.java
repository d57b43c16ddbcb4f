package dev.lora4j.lora;

import dev.lora4j.TestPaths;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static dev.lora4j.FiniteDifferences.assertClose;
import static dev.lora4j.FiniteDifferences.d;
import static dev.lora4j.FiniteDifferences.numeric;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/** lora_bias (PEFT: the adapter adds s·(B·A·x + b_B)): its gradient, merging into the base's bias, and mixed-adapter serving. */
class LoraBiasTest {
    final SplittableRandom rnd = new SplittableRandom(23);

    float[] random(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-scale, scale);
        return a;
    }

    @Test
    void biasGradientMatchesFiniteDifferencesThroughDropout() {
        int rows = 4, in = 6, out = 5, r = 2;
        float s = 1.3f;
        Linear base = new Linear("m", Tensor.of("w", random(out * in, 0.5), out, in), random(out, 0.2), in, out, false);
        LoraLinear l = new LoraLinear(base, r, s, 0.3f, random(r * in, 0.5), random(out * r, 0.5), null, random(out, 0.5));
        l.setTraining(true, new SplittableRandom(2));
        float[] x = random(rows * in, 1.5), w = random(rows * out, 1), y = new float[rows * out], dx = new float[rows * in];
        l.forward(Mat.of(x, 0, rows, in), y, 0, out, false);
        l.backward(Mat.of(x, 0, rows, in), Mat.of(w, 0, rows, out), dx, 0, in, false);
        float[] mask = l.dropoutMask().clone();
        double[] w0 = d(base.weight().toArray()), a = d(l.a()), b = d(l.b()), wd = d(w);
        java.util.function.ToDoubleFunction<double[]> loss = bb -> {
            double total = 0;
            for (int i = 0; i < rows; i++)
                for (int o = 0; o < out; o++) {
                    double v = base.bias()[o], low = bb[o];
                    for (int j = 0; j < in; j++) v += w0[o * in + j] * x[i * in + j];
                    for (int k = 0; k < r; k++) {
                        double u = 0;
                        for (int j = 0; j < in; j++) u += a[k * in + j] * x[i * in + j] * mask[i * in + j];
                        low += b[o * r + k] * u;
                    }
                    total += wd[i * out + o] * (v + s * low);
                }
            return total;
        };
        double[] bias = d(l.biasB());
        assertThat(loss.applyAsDouble(bias)).isCloseTo(dev.lora4j.lora.DoraTest.dot(w, y), offset(1e-4));
        assertClose("d b_B", l.gradBiasB(), numeric(loss, bias.clone()));
    }

    @Test
    void mergeAddsTheScaledBiasAndServingGivesEachRowItsAdapter() {
        try (Transformer base = Transformer.load(TestPaths.fixture("gpt2-plain"))) {
            LoraModel lm = PeftAdapter.load(TestPaths.fixture("lora-gpt2-bias"), base);
            int[] tokens = {3, 1, 4, 1, 5, 9, 2, 6};
            float[] unmerged = lm.model().forward(tokens, 1, tokens.length, new Activations(base.config(), 1, tokens.length, false));
            float[] merged = Merger.mergeInMemory(lm, 1.0).forward(tokens, 1, tokens.length, new Activations(base.config(), 1, tokens.length, false));
            for (int i = 0; i < merged.length; i++) assertThat(merged[i]).isCloseTo(unmerged[i], offset(2e-4f));
            AdapterSet set = new AdapterSet(base);
            set.add("biased", lm);
            AdapterSet.Mixed mixed = set.mixed();
            float[] viaMixed = mixed.call(new String[] {"biased"}, () -> mixed.model().forward(tokens, 1, tokens.length, new Activations(base.config(), 1, tokens.length, false)));
            for (int i = 0; i < merged.length; i++) assertThat(viaMixed[i]).isCloseTo(unmerged[i], offset(1e-4f));
        }
        try (Transformer llama = Transformer.load(TestPaths.fixture("llama-gqa"))) { // q_proj has no bias to merge into
            LoraModel lm = LoraModel.inject(llama, LoraConfig.builder().r(2).targets("q_proj").loraBias(true).build(), 1);
            assertThatThrownBy(() -> Merger.mergedWeights(llama, List.of(lm), List.of(1.0))).hasMessageContaining("no bias in the base model");
        }
    }
}
