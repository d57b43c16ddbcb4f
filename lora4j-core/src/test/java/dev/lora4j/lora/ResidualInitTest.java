package dev.lora4j.lora;

import dev.lora4j.TestPaths;
import dev.lora4j.data.Batch;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/**
 * PiSSA and OLoRA starts (PEFT's init_lora_weights "pissa", "pissa_niter_N", "olora"): the part taken out of W0 equals
 * PyTorch's rendering of PEFT's pissa_init and olora_init; the model starts at the base; a trained adapter is saved as
 * PEFT converts it and gives, over the original base, the trained model; a run resumes from that file exactly.
 */
class ResidualInitTest {
    @TempDir
    Path tmp;

    static final int[] TOKENS = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};

    static float[] logits(Transformer m) {
        return m.forward(TOKENS, 1, TOKENS.length, new Activations(m.config(), 1, TOKENS.length, false));
    }

    static double maxDiff(float[] a, float[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
        return d;
    }

    /** s·B0·A0 as (out, in). */
    static double[] product(LoraLinear l, float[][] init) {
        int r = l.rank(), in = l.in(), out = l.out();
        double[] p = new double[out * in];
        for (int o = 0; o < out; o++)
            for (int j = 0; j < in; j++) {
                double s = 0;
                for (int k = 0; k < r; k++) s += (double) init[1][o * r + k] * init[0][k * in + j];
                p[o * in + j] = l.scale() * s;
            }
        return p;
    }

    @ParameterizedTest
    @CsvSource({"pissa, llama-gqa, model.layers.0.self_attn.q_proj", "olora, llama-gqa, model.layers.0.self_attn.q_proj",
                "pissa, gpt2-plain, transformer.h.0.attn.c_attn", "olora, gpt2-plain, transformer.h.0.attn.c_attn"})
    void theStartEqualsPeftsAndTheModelStartsAtTheBase(String init, String model, String module) throws IOException {
        try (Transformer base = Transformer.load(TestPaths.fixture(model));
             SafeTensors ref = SafeTensors.open(TestPaths.fixture("residual_init.safetensors"))) {
            LoraConfig c = LoraConfig.builder().r(4).alpha(8).targets(module.substring(module.lastIndexOf('.') + 1)).init(init).build();
            LoraModel lm = LoraModel.inject(base, c, 1);
            LoraLinear l = lm.modules().get(module);
            float[] expected = ref.tensor(init + "." + module).toArray();
            double[] got = product(l, lm.initialFactors().get(module));
            double num = 0, den = 0;
            for (int i = 0; i < got.length; i++) {
                num += (got[i] - expected[i]) * (got[i] - expected[i]);
                den += (double) expected[i] * expected[i];
            }
            assertThat(Math.sqrt(num / den)).as("relative difference of s·B0·A0 from PEFT's").isLessThan(1e-5);
            assertThat(maxDiff(logits(lm.model()), logits(base))).as("the start is the base").isLessThan(1e-4);
            // the trainable factors start as the initial ones
            assertThat(l.a()).containsExactly(lm.initialFactors().get(module)[0]);
        }
    }

    /** A randomized SVD with a few power iterations finds nearly the exact top-r part of a weight with a decaying spectrum. */
    @org.junit.jupiter.api.Test
    void randomizedPissaIsCloseToTheExactOne() {
        int out = 40, in = 30, r = 4;
        SplittableRandom rnd = new SplittableRandom(3);
        float[] w = new float[out * in];
        for (int k = 0; k < 12; k++) { // Σ 2^-k·u_k·v_kᵀ
            double[] u = rnd.doubles(out, -1, 1).toArray(), v = rnd.doubles(in, -1, 1).toArray();
            for (int o = 0; o < out; o++) for (int j = 0; j < in; j++) w[o * in + j] += (float) (Math.pow(0.5, k) * u[o] * v[j]);
        }
        Linear lin = new Linear("m", Tensor.of("m.weight", w, out, in), null, in, out, false);
        ResidualInit.Factors exact = ResidualInit.of(LoraConfig.Init.PISSA, 0, lin, r, 2.0, rnd);
        ResidualInit.Factors approx = ResidualInit.of(LoraConfig.Init.PISSA, 4, lin, r, 2.0, rnd);
        double num = 0, den = 0;
        for (int o = 0; o < out; o++)
            for (int j = 0; j < in; j++) {
                double e = 0, a = 0;
                for (int k = 0; k < r; k++) {
                    e += exact.b()[o * r + k] * exact.a()[k * in + j];
                    a += approx.b()[o * r + k] * approx.a()[k * in + j];
                }
                num += (e - a) * (e - a);
                den += e * e;
            }
        assertThat(Math.sqrt(num / den)).isLessThan(1e-3);
    }

    /**
     * Train a few steps, save (PEFT's conversion: rank 2r over the original base), and the saved adapter over the original
     * base gives the trained model's logits; reading the file back as the run's own gives A, B and the residual bit for bit.
     */
    @ParameterizedTest
    @ValueSource(strings = {"pissa", "olora"})
    void savedAsPeftConvertsAndResumesExactly(String init) throws IOException {
        try (Transformer base = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            LoraConfig c = LoraConfig.builder().r(3).alpha(5).targets("q_proj,v_proj,down_proj").init(init).build();
            LoraModel lm = LoraModel.inject(base, c, 7);
            trainSteps(lm, 3);
            Path dir = tmp.resolve(init);
            PeftAdapter.save(dir, lm, "llama-gqa");
            LoraConfig saved = PeftAdapter.readConfig(dir);
            assertThat(saved.r()).isEqualTo(6);
            assertThat(saved.alpha()).isEqualTo(10);
            assertThat(saved.init()).isEqualTo(LoraConfig.Init.KAIMING);
            assertThat(Files.readString(dir.resolve("adapter_config.json"))).contains("\"init_lora_weights\" : true");
            LoraModel converted = PeftAdapter.load(dir, base);
            assertThat(maxDiff(logits(converted.model()), logits(lm.model()))).as("converted over the original base vs trained").isLessThan(2e-4);
            LoraModel resumed = LoraModel.fromConverted(base, c, converted);
            for (var e : lm.modules().entrySet()) {
                LoraLinear a = e.getValue(), b = resumed.modules().get(e.getKey());
                assertThat(b.a()).containsExactly(a.a());
                assertThat(b.b()).containsExactly(a.b());
                assertThat(b.base().weight().toArray()).containsExactly(a.base().weight().toArray());
            }
        }
    }

    static void trainSteps(LoraModel lm, int steps) {
        int b = 2, t = 8;
        List<int[]> rows = List.of(new int[] {1, 2, 3, 4, 5, 6, 7, 8}, new int[] {9, 8, 7, 6, 5, 4, 3, 2});
        Batch batch = Batch.of(rows, 0, b, t);
        Activations act = new Activations(lm.model().config(), b, t, true);
        lm.setTraining(true, 0);
        for (int s = 0; s < steps; s++) {
            lm.zeroGrad();
            lm.model().loss(batch.tokens(), batch.targets(), b, t, act, 1f / batch.targetCount());
            for (LoraLinear l : lm.modules().values()) {
                for (int i = 0; i < l.a().length; i++) l.a()[i] -= 0.05f * l.gradA()[i];
                for (int i = 0; i < l.b().length; i++) l.b()[i] -= 0.05f * l.gradB()[i];
            }
        }
        lm.setTraining(false, 0);
    }

    /** PEFT's unconverted PiSSA file (A and B over the residual, init_lora_weights "pissa") loads over a residual made again. */
    @org.junit.jupiter.api.Test
    void anUnconvertedPissaFileRebuildsItsResidual() throws IOException {
        try (Transformer base = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            LoraConfig c = LoraConfig.builder().r(2).alpha(4).targets("q_proj").init("pissa").build();
            LoraModel lm = LoraModel.inject(base, c, 3);
            trainSteps(lm, 2);
            Path dir = tmp.resolve("unconverted");
            Files.createDirectories(dir);
            java.util.Map<String, Tensor> t = new java.util.LinkedHashMap<>();
            for (LoraLinear l : lm.modules().values()) {
                t.put("base_model.model." + l.name() + ".lora_A.weight", Tensor.of("a", l.a(), l.rank(), l.in()));
                t.put("base_model.model." + l.name() + ".lora_B.weight", Tensor.of("b", l.b(), l.out(), l.rank()));
            }
            dev.lora4j.io.SafeTensorsWriter.write(dir.resolve("adapter_model.safetensors"), t, dev.lora4j.tensor.DType.F32, java.util.Map.of());
            Files.writeString(dir.resolve("adapter_config.json"), PeftAdapter.configJson(c, base, "x").toString());
            assertThat(Files.readString(dir.resolve("adapter_config.json"))).contains("\"init_lora_weights\":\"pissa\"");
            assertThat(maxDiff(logits(PeftAdapter.load(dir, base).model()), logits(lm.model()))).isLessThan(1e-5);
            Files.writeString(dir.resolve("adapter_config.json"), PeftAdapter.configJson(c.toBuilder().init("pissa_niter_4").build(), base, "x").toString());
            assertThatThrownBy(() -> PeftAdapter.load(dir, base)).hasMessageContaining("path_initial_model_for_weight_conversion");
        }
    }
}
