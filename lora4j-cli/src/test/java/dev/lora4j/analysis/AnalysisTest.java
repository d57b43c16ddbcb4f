package dev.lora4j.analysis;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Percentage.withPercentage;

/** analyze, factorize and subspace similarity against PyTorch (reference/make_fixtures.py → analysis.json). */
class AnalysisTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode reference() throws IOException {
        return JSON.readTree(TestPaths.fixture("analysis.json").toFile());
    }

    @Test
    void analyzeMatchesTorch() throws IOException {
        CliRunner.Run r = CliRunner.run("analyze", "--model", TestPaths.fixture("llama-gqa").toString(), "--adapter",
                TestPaths.fixture("lora-llama-all-linear").toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode got = JSON.readTree(r.lastLine()), ref = reference().get("modules");
        assertThat(got.get("modules")).hasSize(ref.size());
        for (JsonNode m : got.get("modules")) {
            JsonNode e = ref.get(m.get("name").asText());
            assertThat(e).as(m.get("name").asText()).isNotNull();
            assertThat(m.get("rank").asInt()).isEqualTo(e.get("rank").asInt());
            for (String f : new String[] {"delta_fro", "w_fro", "proj_delta", "proj_w", "amplification"})
                assertThat(m.get(f).asDouble()).as("%s %s", m.get("name").asText(), f).isCloseTo(e.get(f).asDouble(), withPercentage(1e-3));
            for (int i = 0; i < e.get("singular_values").size(); i++)
                assertThat(m.get("singular_values").get(i).asDouble()).isCloseTo(e.get("singular_values").get(i).asDouble(), withPercentage(1e-3));
            assertThat(m.get("proj_random").asDouble()).isPositive();
        }
    }

    @Test
    void factorizeMatchesTorch() throws IOException {
        JsonNode ref = reference().get("factorize");
        CliRunner.Run r = CliRunner.run("factorize", "--model", TestPaths.fixture("llama-gqa").toString(), "--tensor", ref.get("tensor").asText(),
                "--ranks", "1,4,16", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode got = JSON.readTree(r.lastLine());
        assertThat(got.get("effective_rank").asDouble()).isCloseTo(ref.get("effective_rank").asDouble(), withPercentage(1e-4));
        for (JsonNode row : got.get("ranks"))
            assertThat(row.get("relative_error").asDouble()).isCloseTo(ref.get("relative_error").get(row.get("rank").asText()).asDouble(), withPercentage(1e-4));
        // named as a module, as every other command names it: the same weight
        String tensor = ref.get("tensor").asText();
        if (tensor.endsWith(".weight")) {
            CliRunner.Run m = CliRunner.run("factorize", "--model", TestPaths.fixture("llama-gqa").toString(),
                    "--module", tensor.substring(0, tensor.length() - ".weight".length()), "--ranks", "1,4,16", "--json");
            assertThat(m.code()).as(m.err()).isZero();
            assertThat(JSON.readTree(m.lastLine()).get("ranks")).isEqualTo(got.get("ranks"));
        }
    }

    @Test
    void similarityMatchesTorch() throws IOException {
        JsonNode sim = reference().get("similarity");
        int in = sim.get("A2").get(0).size();
        float[] a2 = new float[3 * in];
        for (int i = 0; i < 3; i++) for (int j = 0; j < in; j++) a2[i * in + j] = (float) sim.get("A2").get(i).get(j).asDouble();
        try (var st = dev.lora4j.io.SafeTensors.open(TestPaths.fixture("lora-llama-all-linear").resolve("adapter_model.safetensors"))) {
            float[] a1 = st.tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").toArray();
            double[][] phi = Analysis.similarity(a1, 4, a2, 3, in);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 3; j++)
                    assertThat(phi[i][j]).as("phi(%d,%d)", i + 1, j + 1).isCloseTo(sim.get("phi").get(i).get(j).asDouble(), withPercentage(1e-2));
            double[][] self = Analysis.similarity(a1, 4, a1, 4, in);
            for (int i = 0; i < 4; i++) assertThat(self[i][i]).isCloseTo(1.0, withPercentage(1e-6));
        }
    }

    @Test
    void badRequestsAreClearErrors() {
        CliRunner.Run missing = CliRunner.run("factorize", "--model", TestPaths.fixture("llama-gqa").toString(), "--tensor", "model.layers.0.q_proj.weight");
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).contains("no tensor 'model.layers.0.q_proj.weight'", "closest: model.layers.0.self_attn.q_proj.weight");
        CliRunner.Run rank = CliRunner.run("factorize", "--model", TestPaths.fixture("llama-gqa").toString(), "--tensor",
                "model.layers.0.self_attn.k_proj.weight", "--ranks", "33");
        assertThat(rank.err()).contains("rank 33 is not possible", "(32 x 64)");
        CliRunner.Run other = CliRunner.run("analyze", "--model", TestPaths.fixture("gpt2-plain").toString(), "--adapter",
                TestPaths.fixture("lora-llama-all-linear").toString());
        assertThat(other.code()).isEqualTo(1);
        assertThat(other.err()).contains("does not exist in the base model");
    }

    @org.junit.jupiter.api.io.TempDir
    java.nio.file.Path tmp;

    @Test
    void reportsAreSelfContainedPages() throws IOException {
        java.nio.file.Path rep = tmp.resolve("analyze"), fac = tmp.resolve("factorize");
        CliRunner.Run r = CliRunner.run("analyze", "--model", TestPaths.fixture("llama-gqa").toString(), "--adapter",
                TestPaths.fixture("lora-llama-all-linear").toString(), "--compare", TestPaths.fixture("lora-llama-all-linear").toString(),
                "--report", rep.toString());
        assertThat(r.code()).as(r.err()).isZero();
        String html = java.nio.file.Files.readString(rep.resolve("index.html"));
        assertThat(html).contains("<table>", "model.layers.1.mlp.down_proj", "data:image/png;base64,", "Subspace similarity");
        assertThat(rep.resolve("amplification.png")).exists();
        assertThat(rep.resolve("similarity-model.layers.0.self_attn.q_proj.png")).exists();
        CliRunner.Run f = CliRunner.run("factorize", "--model", TestPaths.fixture("llama-gqa").toString(), "--tensor",
                "model.layers.0.mlp.up_proj.weight", "--ranks", "1,8", "--report", fac.toString(), "--out", fac.toString());
        assertThat(f.code()).as(f.err()).isZero();
        assertThat(java.nio.file.Files.readString(fac.resolve("index.html"))).contains("relative Frobenius error", "data:image/png;base64,");
        try (var st = dev.lora4j.io.SafeTensors.open(fac.resolve("factors.safetensors"))) {
            assertThat(st.entry("A_8").shape()).containsExactly(96, 8);
            assertThat(st.entry("B_8").shape()).containsExactly(8, 64);
        }
    }
}
