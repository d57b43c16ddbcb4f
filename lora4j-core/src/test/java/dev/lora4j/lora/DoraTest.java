package dev.lora4j.lora;

import dev.lora4j.TestPaths;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.lora4j.FiniteDifferences.assertClose;
import static dev.lora4j.FiniteDifferences.d;
import static dev.lora4j.FiniteDifferences.numeric;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/**
 * DoRA (PEFT's use_dora) beside its definition: gradients against central differences of a double-precision
 * forward with the norm held constant (as DoRA and PEFT detach it), with and without dropout and for both weight
 * orientations; merging equal to the unmerged layer; mixed-adapter serving equal to the layer; PEFT's key spellings.
 */
class DoraTest {
    final SplittableRandom rnd = new SplittableRandom(17);

    @TempDir
    Path tmp;

    float[] random(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-scale, scale);
        return a;
    }

    /** W0 as (out, in), whatever the storage. */
    static double[] weightOutIn(Linear l) {
        double[] w = new double[l.out() * l.in()];
        Mat m = l.weight().mat();
        for (int o = 0; o < l.out(); o++)
            for (int j = 0; j < l.in(); j++) w[o * l.in() + j] = l.fanInFanOut() ? m.get(j, o) : m.get(o, j);
        return w;
    }

    /**
     * Σ w·y for y = W0·x + b + (g − 1)⊙W0·x̃ + g⊙s·B·A·x̃, g = m/n with n given (held constant), x̃ = mask⊙x
     * (mask null: x̃ = x), in double.
     */
    static double loss(double[] x, double[] a, double[] b, double[] m, double[] n, double[] w0, float[] bias, float[] mask,
                       double s, int rows, int in, int out, int r, double[] wts) {
        double total = 0;
        for (int i = 0; i < rows; i++) {
            double[] xd = new double[in];
            for (int j = 0; j < in; j++) xd[j] = x[i * in + j] * (mask == null ? 1 : mask[i * in + j]);
            double[] u = new double[r];
            for (int k = 0; k < r; k++) for (int j = 0; j < in; j++) u[k] += a[k * in + j] * xd[j];
            for (int o = 0; o < out; o++) {
                double base = 0, based = 0, low = 0;
                for (int j = 0; j < in; j++) {
                    base += w0[o * in + j] * x[i * in + j];
                    based += w0[o * in + j] * xd[j];
                }
                for (int k = 0; k < r; k++) low += b[o * r + k] * u[k];
                double g = m[o] / n[o];
                double y = base + (bias == null ? 0 : bias[o]) + (g - 1) * based + g * s * low;
                total += wts[i * out + o] * y;
            }
        }
        return total;
    }

    @ParameterizedTest(name = "conv1d {0}, dropout {1}")
    @CsvSource({"false, 0", "true, 0", "false, 0.3", "true, 0.3"})
    void gradientsMatchFiniteDifferencesWithTheNormHeldConstant(boolean conv1d, float dropout) {
        int rows = 5, in = 7, out = 6, r = 3;
        float s = 1.7f;
        Tensor w = conv1d ? Tensor.of("w", random(in * out, 0.5), in, out) : Tensor.of("w", random(out * in, 0.5), out, in);
        Linear base = new Linear("m", w, random(out, 0.2), in, out, conv1d);
        LoraLinear l = LoraLinear.dora(base, r, s, dropout, random(r * in, 0.5), random(out * r, 0.5));
        for (int o = 0; o < out; o++) l.magnitude()[o] *= (float) (1 + rnd.nextDouble(-0.3, 0.3)); // g ≠ 1
        l.setTraining(true, new SplittableRandom(5));
        float[] x = random(rows * in, 1.5), wts = random(rows * out, 1), y = new float[rows * out], dx = new float[rows * in];
        l.forward(Mat.of(x, 0, rows, in), y, 0, out, false);
        l.backward(Mat.of(x, 0, rows, in), Mat.of(wts, 0, rows, out), dx, 0, in, false);
        float[] mask = dropout > 0 ? l.dropoutMask().clone() : null;
        double[] n = d(l.weightNorm()), w0 = weightOutIn(base), xd = d(x), a = d(l.a()), b = d(l.b()), m = d(l.magnitude()), wd = d(wts);
        assertThat(loss(xd, a, b, m, n, w0, base.bias(), mask, s, rows, in, out, r, wd)).as("forward")
                .isCloseTo(dot(wts, y), offset(1e-4 * Math.abs(dot(wts, y)) + 1e-5));
        assertClose("dx", dx, numeric(xx -> loss(xx, a, b, m, n, w0, base.bias(), mask, s, rows, in, out, r, wd), xd.clone()));
        assertClose("dA", l.gradA(), numeric(aa -> loss(xd, aa, b, m, n, w0, base.bias(), mask, s, rows, in, out, r, wd), a.clone()));
        assertClose("dB", l.gradB(), numeric(bb -> loss(xd, a, bb, m, n, w0, base.bias(), mask, s, rows, in, out, r, wd), b.clone()));
        assertClose("dm", l.gradMagnitude(), numeric(mm -> loss(xd, a, b, mm, n, w0, base.bias(), mask, s, rows, in, out, r, wd), m.clone()));
    }

    public static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    @Test
    void normMatchesTheDenseDefinitionAndMagnitudeStartsThere() {
        int in = 9, out = 5, r = 2;
        Linear base = new Linear("m", Tensor.of("w", random(in * out, 0.5), in, out), null, in, out, true);
        LoraLinear l = LoraLinear.dora(base, r, 0.8f, 0f, random(r * in, 0.5), random(out * r, 0.5));
        double[] w0 = weightOutIn(base);
        for (int o = 0; o < out; o++) {
            double sq = 0;
            for (int j = 0; j < in; j++) {
                double ba = 0;
                for (int k = 0; k < r; k++) ba += l.b()[o * r + k] * l.a()[k * in + j];
                double v = w0[o * in + j] + 0.8 * ba;
                sq += v * v;
            }
            assertThat((double) l.weightNorm()[o]).isCloseTo(Math.sqrt(sq), offset(1e-5 * Math.sqrt(sq)));
            assertThat(l.magnitude()[o]).isEqualTo(l.weightNorm()[o]);
        }
    }

    /** The merged model (W' = g⊙(W0 + s·B·A)) gives the unmerged adapter's logits; the base itself is untouched. */
    @ParameterizedTest
    @CsvSource({"dora-llama, llama-gqa", "dora-gpt2, gpt2-plain"})
    void mergeEqualsTheUnmergedAdapter(String adapter, String model) {
        try (Transformer base = Transformer.load(TestPaths.fixture(model))) {
            LoraModel lm = PeftAdapter.load(TestPaths.fixture(adapter), base);
            int[] tokens = {3, 1, 4, 1, 5, 9, 2, 6};
            float[] before = base.forward(tokens, 1, tokens.length, new Activations(base.config(), 1, tokens.length, false));
            float[] unmerged = lm.model().forward(tokens, 1, tokens.length, new Activations(base.config(), 1, tokens.length, false));
            Transformer merged = Merger.mergeInMemory(lm, 1.0);
            float[] m = merged.forward(tokens, 1, tokens.length, new Activations(base.config(), 1, tokens.length, false));
            double maxDiff = 0, moved = 0;
            for (int i = 0; i < m.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(m[i] - unmerged[i]));
                moved = Math.max(moved, Math.abs(unmerged[i] - before[i]));
            }
            assertThat(moved).as("the adapter changes the logits").isGreaterThan(0.1);
            assertThat(maxDiff).as("merged vs unmerged").isLessThan(2e-4);
            assertThat(base.forward(tokens, 1, tokens.length, new Activations(base.config(), 1, tokens.length, false))).containsExactly(before);
            assertThatThrownBy(() -> Merger.mergedWeights(base, List.of(lm), List.of(0.5)))
                    .hasMessageContaining("merges alone and at weight 1");
        }
    }

    /** A mixed batch: the DoRA adapter's rows equal the DoRA layer's own output, the base's rows equal the base. */
    @Test
    void mixedServingGivesEachRowItsAdapter() {
        try (Transformer base = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            LoraModel lm = PeftAdapter.load(TestPaths.fixture("dora-llama"), base);
            AdapterSet set = new AdapterSet(base);
            set.add("dora", lm);
            AdapterSet.Mixed mixed = set.mixed();
            int[] tokens = {3, 1, 4, 1, 5, 9, 2, 6};
            float[] alone = lm.model().forward(tokens, 1, tokens.length, new Activations(base.config(), 1, tokens.length, false));
            float[] plain = base.forward(tokens, 1, tokens.length, new Activations(base.config(), 1, tokens.length, false));
            int[] two = new int[2 * tokens.length];
            System.arraycopy(tokens, 0, two, 0, tokens.length);
            System.arraycopy(tokens, 0, two, tokens.length, tokens.length);
            float[] both = mixed.call(new String[] {"dora", null},
                    () -> mixed.model().forward(two, 2, tokens.length, new Activations(base.config(), 2, tokens.length, false)));
            for (int i = 0; i < alone.length; i++) {
                assertThat(both[i]).as("DoRA row logit %d", i).isCloseTo(alone[i], offset(1e-4f));
                assertThat(both[alone.length + i]).as("base row logit %d", i).isCloseTo(plain[i], offset(1e-4f));
            }
        }
    }

    /** PEFT before 0.12 saved the magnitude as ".lora_magnitude_vector" (no ".weight"); both load alike. */
    @Test
    void oldPeftMagnitudeKeysLoad() throws IOException {
        Path src = TestPaths.fixture("dora-llama"), dir = tmp.resolve("old");
        Files.createDirectories(dir);
        Files.copy(src.resolve(PeftAdapter.CONFIG), dir.resolve(PeftAdapter.CONFIG));
        Map<String, Tensor> renamed = new java.util.LinkedHashMap<>();
        try (var st = dev.lora4j.io.SafeTensors.open(src.resolve(PeftAdapter.WEIGHTS))) {
            for (String k : st.entries().keySet())
                renamed.put(k.replace(".lora_magnitude_vector.weight", ".lora_magnitude_vector"), Tensor.of(k, st.tensor(k).toArray().clone(), st.entry(k).shape()));
        }
        dev.lora4j.io.SafeTensorsWriter.write(dir.resolve(PeftAdapter.WEIGHTS), renamed, dev.lora4j.tensor.DType.F32, Map.of("format", "pt"));
        try (Transformer base = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            LoraModel a = PeftAdapter.load(src, base), b = PeftAdapter.load(dir, base);
            for (String module : a.modules().keySet())
                assertThat(b.modules().get(module).magnitude()).containsExactly(a.modules().get(module).magnitude());
        }
    }

    @Test
    void aMagnitudeWithoutUseDoraIsRefused() throws IOException {
        Path src = TestPaths.fixture("dora-llama"), dir = tmp.resolve("nodora");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve(PeftAdapter.CONFIG), Files.readString(src.resolve(PeftAdapter.CONFIG)).replace("\"use_dora\": true", "\"use_dora\": false"));
        Files.copy(src.resolve(PeftAdapter.WEIGHTS), dir.resolve(PeftAdapter.WEIGHTS));
        try (Transformer base = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            assertThatThrownBy(() -> PeftAdapter.load(dir, base)).hasMessageContaining("does not set use_dora");
        }
    }
}
