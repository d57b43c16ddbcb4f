package dev.lora4j.io.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.KvCache;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * llama.cpp itself (node-llama-cpp 3.21.1's prebuilt CPU build, reference/llamacpp) reads the GGUF files
 * lora4j writes, and lora4j reads GGUF files it did not write (reference/gguf_fixture.py): with an F32 KV
 * cache and flash attention off, greedy tokens are identical for F32 and F16 models, with and without an
 * exported LoRA adapter; for Q8_0, Q4_0 and Q4_K, where llama.cpp also rounds the activations inside its
 * dot products, teacher-forced next-token log-probabilities agree closely and their argmax almost always.
 *
 * <p>bin/test installs the package and requires these tests ({@code -Dlora4j.llamacpp=required}); elsewhere
 * they are skipped when it is not installed.
 */
class LlamaCppTest {
    static final Path SCRIPT = TestPaths.repo("reference/llamacpp/llamacpp.mjs");
    static final ObjectMapper JSON = new ObjectMapper();
    static final int[][] PROMPTS = {{510, 100, 200, 300}, {510, 57, 265, 12, 400, 401, 33}, {42}};

    @TempDir
    static Path tmp;
    static Transformer base;

    @BeforeAll
    static void needsLlamaCpp() {
        boolean installed = Files.isDirectory(TestPaths.repo("reference/llamacpp/node_modules/node-llama-cpp"));
        if (!"required".equals(System.getProperty("lora4j.llamacpp")))
            Assumptions.assumeTrue(installed, "node-llama-cpp is not installed in reference/llamacpp (bin/test installs it)");
        assertThat(installed).as("reference/llamacpp/node_modules/node-llama-cpp (npm ci in reference/llamacpp)").isTrue();
        base = Transformer.load(TestPaths.bundledModel());
    }

    static JsonNode llamaCpp(Map<String, Object> request) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("node", SCRIPT.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        p.getOutputStream().write(JSON.writeValueAsBytes(request));
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("llama.cpp finished").isTrue();
        assertThat(p.exitValue()).as("llama.cpp's exit status").isZero();
        return JSON.readTree(new String(out, StandardCharsets.UTF_8));
    }

    static int[] llamaCppGreedy(Path model, Path adapter, int[] prompt, int n) throws IOException, InterruptedException {
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("model", model.toString());
        req.put("adapter", adapter == null ? null : adapter.toString());
        req.put("ids", prompt);
        req.put("greedy", n);
        return JSON.convertValue(llamaCpp(req).get("tokens"), int[].class);
    }

    /** lora4j's greedy continuation, EOS included (llama.cpp is asked to yield it too). */
    static int[] greedy(Transformer m, int[] prompt, int n) {
        KvCache cache = new KvCache(m.config(), 1, prompt.length + n);
        float[] logits = m.forwardCached(prompt, new int[] {0}, prompt.length, cache);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
            out[i] = best;
            if (i + 1 < n) logits = m.forwardCached(new int[] {best}, new int[] {0}, 1, cache);
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16"})
    void greedyTokensEqualLlamaCpp(String type) throws Exception {
        Path file = tmp.resolve("stories-" + type + ".gguf");
        GgufExport.writeModel(base, TestPaths.bundledModel(), file, GgmlType.valueOf(type), "stories");
        try (Transformer fromGguf = Transformer.load(file)) {
            for (int[] prompt : PROMPTS) {
                int[] want = llamaCppGreedy(file, null, prompt, 32);
                assertThat(greedy(fromGguf, prompt, 32)).as("%s prompt %s: lora4j reading the GGUF", type, Arrays.toString(prompt)).containsExactly(want);
                if (type.equals("F32")) assertThat(greedy(base, prompt, 32)).as("lora4j reading the safetensors").containsExactly(want);
            }
        }
    }

    /**
     * Llama 3.1's RoPE scaling: export-gguf writes it as llama.cpp's rope_freqs tensor, lora4j reads that
     * back, and greedy tokens agree three ways (past the original context of 32, so every band is scaled).
     */
    @Test
    void llama3RopeScalingThroughRopeFreqs() throws Exception {
        Path dir = tmp.resolve("llama31");
        Files.createDirectories(dir);
        for (String f : List.of("model.safetensors", "tokenizer.json", "tokenizer_config.json"))
            Files.copy(TestPaths.bundledModel().resolve(f), dir.resolve(f));
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(TestPaths.bundledModel().resolve("config.json").toFile());
        config.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0).put("low_freq_factor", 1.0)
                .put("high_freq_factor", 4.0).put("original_max_position_embeddings", 32);
        Files.writeString(dir.resolve("config.json"), config.toString());
        Path file = tmp.resolve("llama31.gguf");
        int[] prompt = {510, 100, 200, 300, 17, 99, 45, 46, 47, 48};
        try (Transformer hf = Transformer.load(dir)) {
            GgufExport.writeModel(hf, dir, file, GgmlType.F32, "llama31");
            int[] want = greedy(hf, prompt, 40);
            assertThat(want).as("the scaling changes the answer").isNotEqualTo(greedy(base, prompt, 40));
            try (Transformer fromGguf = Transformer.load(file)) {
                assertThat(greedy(fromGguf, prompt, 40)).as("lora4j reading rope_freqs").containsExactly(want);
            }
            assertThat(llamaCppGreedy(file, null, prompt, 40)).as("llama.cpp").containsExactly(want);
        }
    }

    /**
     * llama.cpp's qwen2 architecture: q, k and v with biases, halves rotated as HF does (no row permutation).
     * The bundled model given random q/k/v biases and called Qwen2; greedy tokens agree three ways.
     */
    @Test
    void qwen2WithBiases() throws Exception {
        Path dir = tmp.resolve("qwen2");
        Files.createDirectories(dir);
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) Files.copy(TestPaths.bundledModel().resolve(f), dir.resolve(f));
        Map<String, dev.lora4j.tensor.Tensor> weights = new LinkedHashMap<>();
        SplittableRandom rnd = new SplittableRandom(5);
        try (dev.lora4j.io.SafeTensors st = dev.lora4j.io.SafeTensors.open(TestPaths.bundledModel().resolve("model.safetensors"))) {
            for (String name : st.entries().keySet()) {
                weights.put(name, dev.lora4j.tensor.Tensor.of(name, st.tensor(name).toArray(), st.entry(name).shape()));
                if (name.matches(".*self_attn\\.[qkv]_proj\\.weight")) {
                    int out = st.entry(name).shape()[0];
                    float[] b = new float[out];
                    for (int i = 0; i < out; i++) b[i] = (float) (rnd.nextGaussian() * 0.5);
                    String bias = name.replace(".weight", ".bias");
                    weights.put(bias, dev.lora4j.tensor.Tensor.of(bias, b, out));
                }
            }
        }
        dev.lora4j.io.SafeTensorsWriter.write(dir.resolve("model.safetensors"), weights, dev.lora4j.tensor.DType.F32, null);
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(TestPaths.bundledModel().resolve("config.json").toFile());
        config.put("model_type", "qwen2").put("use_sliding_window", false).putArray("architectures").add("Qwen2ForCausalLM");
        Files.writeString(dir.resolve("config.json"), config.toString());
        Path file = tmp.resolve("qwen2.gguf");
        int[] prompt = {510, 100, 200, 300, 17, 99};
        try (Transformer hf = Transformer.load(dir)) {
            GgufExport.writeModel(hf, dir, file, GgmlType.F32, "qwen2");
            int[] want = greedy(hf, prompt, 32);
            assertThat(want).as("the biases change the answer").isNotEqualTo(greedy(base, prompt, 32));
            try (Transformer fromGguf = Transformer.load(file)) {
                assertThat(fromGguf.config().modelType()).isEqualTo("qwen2");
                assertThat(greedy(fromGguf, prompt, 32)).as("lora4j reading the qwen2 GGUF").containsExactly(want);
            }
            assertThat(llamaCppGreedy(file, null, prompt, 32)).as("llama.cpp").containsExactly(want);
        }
    }

    /** llama.cpp tokenizes text with the vocabulary export-gguf wrote as lora4j does (byte-level BPE, the bundled model's). */
    @Test
    void exportedVocabularyTokenizesAsLora4j() throws Exception {
        Path file = tmp.resolve("stories-vocab.gguf");
        GgufExport.writeModel(base, TestPaths.bundledModel(), file, GgmlType.Q8_0, "stories");
        List<String> texts = List.of("Once upon a time, Mia saw a big dog.", "  two  spaces\nnew line", "The cat's hat isn't red; it's 42% blue!");
        JsonNode theirs = llamaCpp(Map.of("model", file.toString(), "tokenize", texts)).get("ids");
        dev.lora4j.tokenizer.Tokenizer mine = dev.lora4j.tokenizer.Tokenizer.ofModel(file);
        for (int i = 0; i < texts.size(); i++)
            assertThat(mine.encode(texts.get(i))).as(texts.get(i)).containsExactly(JSON.convertValue(theirs.get(i), int[].class));
    }

    @Test
    void exportedAdapterActsTheSameInLlamaCpp() throws Exception {
        LoraConfig cfg = LoraConfig.builder().r(8).alpha(16).targets("all-linear").build();
        LoraModel lm = LoraModel.inject(base, cfg, 3);
        SplittableRandom rnd = new SplittableRandom(4);
        for (LoraLinear l : lm.modules().values())
            for (int i = 0; i < l.b().length; i++) l.b()[i] = (float) (rnd.nextGaussian() * 0.3);
        Path peft = tmp.resolve("adapter"), gguf = tmp.resolve("adapter.gguf"), f32 = tmp.resolve("base-f32.gguf"), f16 = tmp.resolve("base-f16.gguf");
        PeftAdapter.save(peft, lm, "stories");
        GgufExport.writeAdapter(PeftAdapter.load(peft, base), gguf);
        GgufExport.writeModel(base, TestPaths.bundledModel(), f32, GgmlType.F32, "stories");
        GgufExport.writeModel(base, TestPaths.bundledModel(), f16, GgmlType.F16, "stories");
        try (Transformer half = Transformer.load(f16)) {
            LoraModel onHalf = PeftAdapter.load(peft, half);
            int changed = 0;
            for (int[] prompt : PROMPTS) {
                int[] adapted = greedy(lm.model(), prompt, 24);
                if (!Arrays.equals(adapted, greedy(base, prompt, 24))) changed++;
                assertThat(llamaCppGreedy(f32, gguf, prompt, 24)).as("F32 base + adapter, prompt %s", Arrays.toString(prompt)).containsExactly(adapted);
                assertThat(llamaCppGreedy(f16, gguf, prompt, 24)).as("F16 base + adapter").containsExactly(greedy(onHalf.model(), prompt, 24));
            }
            assertThat(changed).as("prompts whose answer the adapter changes").isEqualTo(PROMPTS.length);
        }
    }

    /**
     * Teacher-forced next-token log-probabilities of a 96-token sequence, lora4j and llama.cpp reading the
     * same quantized GGUF of the bundled (trained) model: written by lora4j, or by reference/gguf_fixture.py.
     */
    @ParameterizedTest
    @ValueSource(strings = {"Q8_0", "Q4_0", "stories-q4_0.gguf"})
    void quantizedLogProbabilitiesAgree(String which) throws Exception {
        Path file = which.endsWith(".gguf") ? TestPaths.fixture("gguf").resolve(which) : tmp.resolve("stories-" + which + ".gguf");
        if (!which.endsWith(".gguf")) GgufExport.writeModel(base, TestPaths.bundledModel(), file, GgmlType.valueOf(which), "stories");
        Agreement a = agreement(file);
        assertThat(a.mean).as("%s mean |diff| in nats", which).isLessThan(0.05);
        assertThat(a.max).as("%s max |diff| in nats", which).isLessThan(0.3);
        assertThat(a.argmax).as("%s argmax agreement", which).isGreaterThanOrEqualTo(0.95);
    }

    /**
     * K-quants (Q4_K or Q5_K matrices, Q6_K embeddings) in files lora4j did not write. The random model's next-token
     * distributions are flat, so its log-probabilities are compared, not its argmax; greedy tokens may part at a
     * near-tie that llama.cpp's rounding of the activations (to 8 bits, in its K-quant dot products) tips the other
     * way (one token of 48 for the Q5_K file), and otherwise equal llama.cpp's.
     */
    @ParameterizedTest
    @ValueSource(strings = {"random-llama-q4_k.gguf", "random-llama-q5_k.gguf"})
    void kQuantsReadAsLlamaCppReadsThem(String name) throws Exception {
        Path file = TestPaths.fixture("gguf").resolve(name);
        Agreement a = agreement(file);
        assertThat(a.mean).as("mean |diff| in nats").isLessThan(0.05);
        assertThat(a.max).as("max |diff| in nats").isLessThan(0.3);
        int same = 0, all = 0;
        try (Transformer m = Transformer.load(file)) {
            for (int[] prompt : PROMPTS) {
                int[] mine = greedy(m, prompt, 16), theirs = llamaCppGreedy(file, null, prompt, 16);
                for (int i = 0; i < mine.length; i++, all++) if (mine[i] == theirs[i]) same++;
            }
        }
        assertThat(same).as("greedy tokens equal to llama.cpp's, of %d", all).isGreaterThanOrEqualTo(all - 1);
    }

    record Agreement(double mean, double max, double argmax) {}

    static Agreement agreement(Path file) throws Exception {
        String which = file.getFileName().toString();
        try (Transformer m = Transformer.load(file)) {
            int v = m.config().vocabSize(), t = 96;
            int[] ids = new int[t];
            SplittableRandom rnd = new SplittableRandom(9);
            for (int i = 0; i < t; i++) ids[i] = rnd.nextInt(v - 1);
            float[] logits = m.forward(ids, 1, t, new dev.lora4j.model.Activations(m.config(), 1, t, false));
            JsonNode ref = llamaCpp(Map.of("model", file.toString(), "ids", ids, "logprobs", true)).get("logprobs");
            double sum = 0, max = 0;
            int agree = 0;
            for (int i = 0; i + 1 < t; i++) {
                double lse = logSumExp(logits, i * v, v);
                double mine = logits[i * v + ids[i + 1]] - lse, theirs = ref.get(i).get(ids[i + 1]).asDouble();
                sum += Math.abs(mine - theirs);
                max = Math.max(max, Math.abs(mine - theirs));
                int a = argmax(logits, i * v, v), b = 0;
                for (int k = 1; k < v; k++) if (ref.get(i).get(k).asDouble(-1e30) > ref.get(i).get(b).asDouble(-1e30)) b = k;
                if (a == b) agree++;
            }
            double mean = sum / (t - 1), agreement = agree / (double) (t - 1);
            System.out.printf("llama.cpp vs lora4j, %s: next-token log-probability |diff| mean %.5f max %.5f nats, argmax agrees at %.1f%% of %d positions%n",
                    which, mean, max, 100 * agreement, t - 1);
            return new Agreement(mean, max, agreement);
        }
    }

    static double logSumExp(float[] x, int off, int n) {
        double m = Double.NEGATIVE_INFINITY, s = 0;
        for (int i = 0; i < n; i++) m = Math.max(m, x[off + i]);
        for (int i = 0; i < n; i++) s += Math.exp(x[off + i] - m);
        return m + Math.log(s);
    }

    static int argmax(float[] x, int off, int n) {
        int b = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + b]) b = i;
        return b;
    }
}
