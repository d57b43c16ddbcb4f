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
