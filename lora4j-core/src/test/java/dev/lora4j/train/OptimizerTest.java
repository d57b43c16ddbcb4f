package dev.lora4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/** Optimizers against PyTorch's (fixtures/optimizers.json), schedules against their definitions. */
class OptimizerTest {
    static float[] floats(JsonNode a) {
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) f[i] = (float) a.get(i).asDouble();
        return f;
    }

    @Test
    void matchPyTorch() throws IOException {
        JsonNode j = new ObjectMapper().readTree(TestPaths.fixture("optimizers.json").toFile());
        for (JsonNode c : j.get("cases")) {
            float[] p = floats(j.get("p0")), g = new float[p.length];
            List<Parameter> params = List.of(new Parameter("p", p, g));
            Optimizer opt = switch (c.get("name").asText()) {
                case "adamw" -> new Optimizer.AdamW(params, 0.8f, 0.95f, 1e-6f, 0.1f);
                case "sgd" -> new Optimizer.Sgd(params, 0f, 0f);
                default -> new Optimizer.Sgd(params, 0.9f, 0.01f);
            };
            float lr = c.get("name").asText().equals("adamw") ? 0.01f : 0.05f;
            for (int s = 0; s < j.get("grads").size(); s++) {
                System.arraycopy(floats(j.get("grads").get(s)), 0, g, 0, g.length);
                opt.step(params, lr);
                float[] expected = floats(c.get("after").get(s));
                for (int i = 0; i < p.length; i++)
                    assertThat(p[i]).as("%s step %d element %d", c.get("name").asText(), s + 1, i).isCloseTo(expected[i], offset(1e-6f));
            }
        }
    }

    /** LoRA+ against PyTorch with PEFT's two parameter groups (reference/loraplus_fixture.py): lora_B at lr · ratio. */
    @Test
    void loraPlusMatchesPyTorchParameterGroups() throws IOException {
        JsonNode j = new ObjectMapper().readTree(TestPaths.fixture("loraplus.json").toFile());
        double ratio = j.get("ratio").asDouble();
        for (JsonNode c : j.get("cases")) {
            float[] a = floats(j.get("a0")), b = floats(j.get("b0")), ga = new float[a.length], gb = new float[b.length];
            List<Parameter> params = List.of(new Parameter("m.lora_A", a, ga), new Parameter("m.lora_B", b, gb));
            OptimizerConfig.Builder cfg = OptimizerConfig.builder().loraplusLrRatio(ratio);
            Optimizer opt = (c.get("name").asText().equals("adamw") ? cfg.betas(0.8, 0.95).eps(1e-6).weightDecay(0.1)
                    : cfg.kind(OptimizerConfig.Kind.SGD).momentum(0.9).weightDecay(0.01)).build().create(params);
            for (int s = 0; s < j.get("grads").size(); s++) {
                System.arraycopy(floats(j.get("grads").get(s).get(0)), 0, ga, 0, ga.length);
                System.arraycopy(floats(j.get("grads").get(s).get(1)), 0, gb, 0, gb.length);
                opt.step(params, (float) c.get("lr").asDouble());
                float[] ea = floats(c.get("after").get(s).get(0)), eb = floats(c.get("after").get(s).get(1));
                for (int i = 0; i < a.length; i++) assertThat(a[i]).as("%s step %d A[%d]", c.get("name").asText(), s + 1, i).isCloseTo(ea[i], offset(2e-6f));
                for (int i = 0; i < b.length; i++) assertThat(b[i]).as("%s step %d B[%d]", c.get("name").asText(), s + 1, i).isCloseTo(eb[i], offset(2e-6f));
            }
        }
        // the ratio does act: B moved 16 times as far as at ratio 1 on AdamW's first step (A the same)
        float[] a = {1f}, b = {1f};
        List<Parameter> one = List.of(new Parameter("m.lora_A", a, new float[] {0.5f}), new Parameter("m.lora_B", b, new float[] {0.5f}));
        OptimizerConfig.builder().loraplusLrRatio(16).build().create(one).step(one, 0.01f);
        assertThat(1 - b[0]).isCloseTo(16 * (1 - a[0]), offset(1e-6f));
    }

    @Test
    void loraPlusRatioIsChecked() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> OptimizerConfig.builder().loraplusLrRatio(Double.NaN).build())
                .hasMessageContaining("--loraplus-lr-ratio");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> OptimizerConfig.builder().loraplusLrRatio(-2).build())
                .hasMessageContaining("--loraplus-lr-ratio");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> OptimizerConfig.builder().loraplusLrRatio(1e9).build())
                .hasMessageContaining("at most 1e4");
        TrainConfig plus = TrainConfig.builder().optimizer(OptimizerConfig.builder().loraplusLrRatio(16).build()).build();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> TrainOptions.builder(java.nio.file.Path.of("m"), java.nio.file.Path.of("d.jsonl"),
                java.nio.file.Path.of("o")).full(true).train(plus).build()).hasMessageContaining("--full trains no adapter");
    }

    @Test
    void clippingScalesToTheMaximumNorm() {
        float[] g = {3f, 4f};
        List<Parameter> params = List.of(new Parameter("p", new float[2], g));
        assertThat(Optimizer.clipGradNorm(params, 1.0)).isCloseTo(5.0, offset(1e-9));
        assertThat(Math.hypot(g[0], g[1])).isCloseTo(1.0, offset(1e-5));
        g[0] = 0.3f;
        g[1] = 0.4f;
        Optimizer.clipGradNorm(params, 0);
        assertThat(g).containsExactly(0.3f, 0.4f);
    }

    @Test
    void schedulesFollowHuggingFace() {
        assertThat(Schedule.LINEAR.factor(0, 10, 110)).isEqualTo(0.0);
        assertThat(Schedule.LINEAR.factor(5, 10, 110)).isEqualTo(0.5);
        assertThat(Schedule.LINEAR.factor(10, 10, 110)).isEqualTo(1.0);
        assertThat(Schedule.LINEAR.factor(60, 10, 110)).isEqualTo(0.5);
        assertThat(Schedule.LINEAR.factor(0, 0, 4)).isEqualTo(1.0);
        assertThat(Schedule.COSINE.factor(60, 10, 110)).isCloseTo(0.5, offset(1e-12));
        assertThat(Schedule.COSINE.factor(110, 10, 110)).isCloseTo(0.0, offset(1e-12));
        assertThat(Schedule.CONSTANT.factor(1000, 10, 110)).isEqualTo(1.0);
    }
}
