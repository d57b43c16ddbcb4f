package dev.lora4j.generate;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Generation with the KV cache equals recomputing the whole sequence, and stories260k equals llama2.c. */
class GenerateTest {
    static final Sampler GREEDY = new Sampler(0, 0, 1, 1, new SplittableRandom(0));

    /** Greedy decoding by running the full forward pass over the growing sequence each step. */
    static int[] naiveGreedy(Transformer m, int[] prompt, int n) {
        int[] seq = Arrays.copyOf(prompt, prompt.length + n);
        int v = m.config().vocabSize();
        for (int len = prompt.length; len < prompt.length + n; len++) {
            float[] logits = m.forward(Arrays.copyOf(seq, len), 1, len, new Activations(m.config(), 1, len, false));
            int best = 0, off = (len - 1) * v;
            for (int j = 1; j < v; j++) if (logits[off + j] > logits[off + best]) best = j;
            seq[len] = best;
        }
        return Arrays.copyOfRange(seq, prompt.length, seq.length);
    }

    @Test
    void stories260kGreedyMatchesLlama2cAndTheFullRecompute() throws IOException {
        CliRunner.Run r = CliRunner.run("generate", "--model", TestPaths.stories260k().toString(), "--prompt-ids", "1",
                "--max-new-tokens", "99", "--temperature", "0", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        int[] ids = new ObjectMapper().convertValue(new ObjectMapper().readTree(r.lastLine()).get("ids"), int[].class);
        assertThat(ids).hasSize(99);
        assertThat(Arrays.copyOf(ids, 20)).containsExactly(461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299, 362, 409, 283, 264, 283, 452, 288, 13);
        try (Transformer m = Transformer.load(TestPaths.stories260k())) {
            assertThat(ids).containsExactly(naiveGreedy(m, new int[] {1}, 99));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-prefixed", "mistral-window", "qwen2-tied-bias", "qwen3-qknorm", "phi3-fused", "gemma2-softcap", "gemma3-local-global", "llama-gqa"})
    void cachedEqualsRecomputedOnEveryArchitecture(String name) {
        try (Transformer m = Transformer.load(TestPaths.fixture(name))) {
            int[] prompt = {3, 14, 15, 9, 2};
            int[][] got = Generator.generate(m, new int[][] {prompt, {7, 7, 7, 7, 7}}, 12, GREEDY, -1, id -> {});
            assertThat(got[0]).containsExactly(naiveGreedy(m, prompt, 12));
            assertThat(got[1]).containsExactly(naiveGreedy(m, new int[] {7, 7, 7, 7, 7}, 12));
        }
    }

    /**
     * Each decode step's logits (weights copied to the heap, keys and values cached per head, one token of
     * two sequences at a time) equal the full forward pass over the whole sequence, position by position.
     */
    @ParameterizedTest
    @ValueSource(strings = {"gpt2-prefixed", "mistral-window", "qwen2-tied-bias", "qwen3-qknorm", "phi3-fused", "phi3-longrope-short", "gemma2-softcap",
            "gemma3-local-global", "llama-gqa", "llama-bf16"})
    void decodeStepLogitsEqualTheFullForward(String name) {
        try (Transformer m = Transformer.load(TestPaths.fixture(name))) {
            assertThat(m.copyWeightsForDecoding()).isTrue();
            int v = m.config().vocabSize(), t = 9;
            int[][] seqs = {{3, 14, 15, 9, 2, 6, 5, 3, 5}, {7, 1, 8, 2, 8, 1, 8, 2, 8}};
            dev.lora4j.model.KvCache cache = new dev.lora4j.model.KvCache(m.config(), 2, t);
            float[] step = m.forwardCached(new int[] {seqs[0][0], seqs[0][1], seqs[0][2], seqs[1][0], seqs[1][1], seqs[1][2]}, 2, 3, cache);
            for (int pos = 3; pos <= t; pos++) {
                for (int s = 0; s < 2; s++) {
                    float[] full = m.forward(Arrays.copyOf(seqs[s], pos), 1, pos, new Activations(m.config(), 1, pos, false));
                    for (int j = 0; j < v; j++)
                        assertThat(step[s * v + j]).as("%s seq %d pos %d logit %d", name, s, pos, j)
                                .isCloseTo(full[(pos - 1) * v + j], org.assertj.core.data.Offset.offset(1e-4f));
                }
                if (pos < t) step = m.forwardCached(new int[] {seqs[0][pos], seqs[1][pos]}, 2, 1, cache);
            }
        }
    }

    /**
     * A prompt longer than one block of rows (64), given in two pieces and then one decode step:
     * each call's logits equal the full forward pass (the fixture's context raised to fit; RoPE has no
     * table to outgrow). The sliding window (5) starts inside earlier blocks.
     */
    @ParameterizedTest
    @ValueSource(strings = {"llama-gqa", "mistral-window", "gemma2-softcap", "gemma3-local-global"})
    void longPromptLogitsEqualTheFullForward(String name, @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws IOException {
        try (var files = java.nio.file.Files.list(TestPaths.fixture(name))) {
            for (java.nio.file.Path f : files.toList()) java.nio.file.Files.copy(f, dir.resolve(f.getFileName()));
        }
        java.nio.file.Path config = dir.resolve("config.json");
        java.nio.file.Files.writeString(config, java.nio.file.Files.readString(config).replace("\"max_position_embeddings\": 64", "\"max_position_embeddings\": 160"));
        try (Transformer m = Transformer.load(dir)) {
            int v = m.config().vocabSize(), t = 151, first = 70;
            int[] ids = new SplittableRandom(3).ints(t, 0, v).toArray();
            dev.lora4j.model.KvCache cache = new dev.lora4j.model.KvCache(m.config(), 1, t);
            float[][] cached = {
                    m.forwardCached(Arrays.copyOf(ids, first), 1, first, cache),
                    m.forwardCached(Arrays.copyOfRange(ids, first, t - 1), 1, t - 1 - first, cache),
                    m.forwardCached(new int[] {ids[t - 1]}, 1, 1, cache)};
            float[] full = m.forward(ids, 1, t, new Activations(m.config(), 1, t, false));
            int[] positions = {first - 1, t - 2, t - 1};
            for (int s = 0; s < 3; s++)
                for (int j = 0; j < v; j++)
                    assertThat(cached[s][j]).as("%s position %d logit %d", name, positions[s], j)
                            .isCloseTo(full[positions[s] * v + j], org.assertj.core.data.Offset.offset(1e-4f));
        }
    }

    @Test
    void samplingIsSeededAndTopKOneIsGreedy() {
        try (Transformer m = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            int[][] p = {{1, 2, 3}};
            int[] a = Generator.generate(m, p, 10, new Sampler(0.9, 20, 0.9, 1.1, new SplittableRandom(5)), -1, i -> {})[0];
            int[] b = Generator.generate(m, p, 10, new Sampler(0.9, 20, 0.9, 1.1, new SplittableRandom(5)), -1, i -> {})[0];
            int[] k1 = Generator.generate(m, p, 10, new Sampler(1.3, 1, 1.0, 1.0, new SplittableRandom(9)), -1, i -> {})[0];
            assertThat(a).containsExactly(b);
            assertThat(k1).containsExactly(Generator.generate(m, p, 10, GREEDY, -1, i -> {})[0]);
        }
    }

    @Test
    void badPromptsAreClearErrors() {
        CliRunner.Run r = CliRunner.run("generate", "--model", TestPaths.fixture("llama-gqa").toString(), "--prompt-ids", "1,500");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("token id 500 is outside the vocabulary [0, 97)");
        CliRunner.Run t = CliRunner.run("generate", "--model", TestPaths.fixture("llama-gqa").toString(), "--prompt-ids", "1", "--prompt", "hi");
        assertThat(t.err()).contains("give one of --prompt TEXT, --prompt-ids or --chat");
        CliRunner.Run none = CliRunner.run("generate", "--model", TestPaths.fixture("llama-gqa").toString(), "--prompt", "hi");
        assertThat(none.err()).contains("no tokenizer.json");
        CliRunner.Run nan = CliRunner.run("generate", "--model", TestPaths.fixture("llama-gqa").toString(), "--prompt-ids", "1", "--top-p", "NaN");
        assertThat(nan.code()).isEqualTo(1);
        assertThat(nan.err()).contains("--top-p must be in (0, 1]");
    }

    @Test
    void cliServesAMixedBatch() throws IOException {
        String base = TestPaths.fixture("llama-gqa").toString(), all = TestPaths.fixture("lora-llama-all-linear").toString();
        CliRunner.Run mixed = CliRunner.run("generate", "--model", base, "--prompt-ids", "1,2,3", "--prompt-ids", "4,5,6",
                "--adapter", "x=" + all, "--route", "x,-", "--max-new-tokens", "6", "--temperature", "0", "--json");
        CliRunner.Run withX = CliRunner.run("generate", "--model", base, "--prompt-ids", "1,2,3", "--adapter", all,
                "--max-new-tokens", "6", "--temperature", "0", "--json");
        CliRunner.Run plain = CliRunner.run("generate", "--model", base, "--prompt-ids", "4,5,6", "--max-new-tokens", "6", "--temperature", "0", "--json");
        assertThat(mixed.code()).as(mixed.err()).isZero();
        var om = new ObjectMapper();
        var ids = om.readTree(mixed.lastLine()).get("ids");
        assertThat(ids.get(0)).isEqualTo(om.readTree(withX.lastLine()).get("ids"));
        assertThat(ids.get(1)).isEqualTo(om.readTree(plain.lastLine()).get("ids"));
    }

    @org.junit.jupiter.api.io.TempDir
    java.nio.file.Path tmp;

    @Test
    void textDatasetsCountOnlyWhatTheyShould() throws IOException {
        java.nio.file.Path m = tinyGpt2();
        java.nio.file.Path pc = tmp.resolve("pc.jsonl"), txt = tmp.resolve("lines.txt");
        java.nio.file.Files.writeString(pc, "{\"prompt\": \"Question: what is 2+2?\", \"completion\": \" Four.\"}\n{\"text\": \"Hello, world!\"}\n");
        java.nio.file.Files.writeString(txt, "Hello, world!\n\nThe quick brown fox.\n");
        CliRunner.Run r = CliRunner.run("eval", "--model", m.toString(), "--data", pc.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        var tok = dev.lora4j.tokenizer.Tokenizer.load(m);
        // completion tokens only, plus every predicted token of the text line; each ends with EOS (TRL's way)
        long expected = tok.encode(" Four.").length + tok.encode("Hello, world!").length - 1;
        assertThat(new ObjectMapper().readTree(r.lastLine()).get("tokens").asLong()).isEqualTo(expected + 2);
        CliRunner.Run noEos = CliRunner.run("eval", "--model", m.toString(), "--data", pc.toString(), "--no-eos", "--json");
        assertThat(noEos.code()).as(noEos.err()).isZero();
        assertThat(new ObjectMapper().readTree(noEos.lastLine()).get("tokens").asLong()).isEqualTo(expected);
        CliRunner.Run t = CliRunner.run("eval", "--model", m.toString(), "--data", txt.toString(), "--json");
        assertThat(t.code()).as(t.err()).isZero();
        assertThat(new ObjectMapper().readTree(t.lastLine()).get("examples").asInt()).isEqualTo(2);
        CliRunner.Run chat = CliRunner.run("eval", "--model", m.toString(), "--data", write("c.jsonl", "{\"messages\": [], \"text\": \"x\"}\n").toString());
        assertThat(chat.err()).contains("c.jsonl:1", "\"messages\" must be a non-empty array");
    }

    java.nio.file.Path write(String name, String content) throws IOException {
        java.nio.file.Path p = tmp.resolve(name);
        java.nio.file.Files.writeString(p, content);
        return p;
    }

    /** A tiny random GPT-2 with the real GPT-2 vocabulary and tokenizer, so that the tokenizer's ids fit. */
    java.nio.file.Path tinyGpt2() throws IOException {
        java.nio.file.Path m = tmp.resolve("gpt2-tiny");
        if (java.nio.file.Files.exists(m)) return m;
        java.nio.file.Files.createDirectories(m);
        int v = 50257, c = 8, p = 64;
        SplittableRandom rnd = new SplittableRandom(3);
        java.util.Map<String, dev.lora4j.tensor.Tensor> w = new java.util.LinkedHashMap<>();
        java.util.function.BiConsumer<String, int[]> put = (name, shape) -> {
            float[] a = new float[(int) dev.lora4j.tensor.Tensor.numel(shape)];
            for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian() * 0.3f;
            w.put(name, dev.lora4j.tensor.Tensor.of(name, a, shape));
        };
        put.accept("wte.weight", new int[] {v, c});
        put.accept("wpe.weight", new int[] {p, c});
        for (String ln : new String[] {"h.0.ln_1", "h.0.ln_2", "ln_f"}) {
            put.accept(ln + ".weight", new int[] {c});
            put.accept(ln + ".bias", new int[] {c});
        }
        for (String[] l : new String[][] {{"h.0.attn.c_attn", "8", "24"}, {"h.0.attn.c_proj", "8", "8"}, {"h.0.mlp.c_fc", "8", "32"}, {"h.0.mlp.c_proj", "32", "8"}}) {
            put.accept(l[0] + ".weight", new int[] {Integer.parseInt(l[1]), Integer.parseInt(l[2])});
            put.accept(l[0] + ".bias", new int[] {Integer.parseInt(l[2])});
        }
        dev.lora4j.io.SafeTensorsWriter.write(m.resolve("model.safetensors"), w, dev.lora4j.tensor.DType.F32, null);
        java.nio.file.Files.writeString(m.resolve("config.json"), "{\"model_type\": \"gpt2\", \"n_embd\": 8, \"n_head\": 2, \"n_layer\": 1, "
                + "\"n_positions\": 64, \"vocab_size\": 50257, \"eos_token_id\": 50256}");
        java.nio.file.Files.copy(TestPaths.fixture("tokenizers").resolve("gpt2").resolve("tokenizer.json"), m.resolve("tokenizer.json"));
        return m;
    }

    @Test
    void textPromptsThroughTheModelsTokenizer() throws IOException {
        java.nio.file.Path m = tinyGpt2();
        CliRunner.Run r = CliRunner.run("generate", "--model", m.toString(), "--prompt", "Hello, world!", "--max-new-tokens", "5",
                "--temperature", "0", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        var j = new ObjectMapper().readTree(r.lastLine());
        int[] ids = new ObjectMapper().convertValue(j.get("ids"), int[].class);
        assertThat(ids).hasSizeBetween(1, 5);
        assertThat(j.get("text").asText()).isEqualTo(dev.lora4j.tokenizer.Tokenizer.load(m).decode(ids));
        try (Transformer t = Transformer.load(m)) {
            assertThat(ids).containsExactly(Arrays.copyOf(naiveGreedy(t, new int[] {15496, 11, 995, 0}, 5), ids.length));
        }
        // --stop: the first produced token's text stops it at once
        String first = dev.lora4j.tokenizer.Tokenizer.load(m).decode(new int[] {ids[0]});
        if (!first.isEmpty() && ids[0] != 50256) {
            CliRunner.Run s = CliRunner.run("generate", "--model", m.toString(), "--prompt", "Hello, world!", "--max-new-tokens", "5",
                    "--temperature", "0", "--stop", first, "--json");
            assertThat(new ObjectMapper().convertValue(new ObjectMapper().readTree(s.lastLine()).get("ids"), int[].class)).containsExactly(ids[0]);
        }
    }

    /** --chat: each stdin line a user turn, the history through the chat template, greedy replies as a plain loop computes them. */
    @Test
    void chatSessionRendersTheHistoryThroughTheTemplate() throws IOException {
        java.nio.file.Path m = tinyGpt2();
        java.nio.file.Path tpl = m.resolve("chat.jinja");
        java.nio.file.Files.writeString(tpl, "{% for message in messages %}{{ message['role'] + ': ' + message['content'] + '\\n' }}{% endfor %}"
                + "{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}");
        java.io.InputStream oldIn = System.in;
        CliRunner.Run r;
        try {
            System.setIn(new java.io.ByteArrayInputStream("Hi there\n\n/exit\nnever read\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            r = CliRunner.run("generate", "--model", m.toString(), "--chat", "--chat-template", tpl.toString(), "--system", "Be kind.",
                    "--max-new-tokens", "3", "--temperature", "0");
        } finally {
            System.setIn(oldIn);
        }
        assertThat(r.code()).as(r.err()).isZero();
        var tok = dev.lora4j.tokenizer.Tokenizer.load(m);
        int[] prompt = tok.encode("system: Be kind.\nuser: Hi there\nassistant:");
        try (Transformer t = Transformer.load(m)) {
            int[] want = naiveGreedy(t, prompt, 3);
            int n = 0;
            while (n < want.length && want[n] != 50256) n++;
            assertThat(r.out().strip()).isEqualTo(tok.decode(Arrays.copyOf(want, n)).strip());
        }
        CliRunner.Run none = CliRunner.run("generate", "--model", m.toString(), "--chat");
        assertThat(none.code()).isNotZero();
        assertThat(none.err()).contains("no chat_template", "--chat-template");
    }

    /** Several text prompts: equal lengths share a batch, others run apart; each answer equals that prompt run alone. */
    @Test
    void severalTextPromptsEachAsIfAlone() throws IOException {
        java.nio.file.Path m = tinyGpt2();
        String[] texts = {"Hello, world!", "One two", "Hi there"};
        CliRunner.Run all = CliRunner.run("generate", "--model", m.toString(), "--prompt", texts[0], "--prompt", texts[1], "--prompt", texts[2],
                "--max-new-tokens", "4", "--temperature", "0", "--json");
        assertThat(all.code()).as(all.err()).isZero();
        var ids = new ObjectMapper().readTree(all.lastLine()).get("ids");
        assertThat(ids.size()).isEqualTo(3);
        for (int i = 0; i < 3; i++) {
            CliRunner.Run one = CliRunner.run("generate", "--model", m.toString(), "--prompt", texts[i], "--max-new-tokens", "4", "--temperature", "0", "--json");
            assertThat(ids.get(i)).as(texts[i]).isEqualTo(new ObjectMapper().readTree(one.lastLine()).get("ids"));
        }
    }
}
