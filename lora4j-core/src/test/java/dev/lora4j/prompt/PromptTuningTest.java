package dev.lora4j.prompt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.FiniteDifferences;
import dev.lora4j.Lora4jException;
import dev.lora4j.ReferenceBatch;
import dev.lora4j.TestPaths;
import dev.lora4j.data.Batch;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.lora.AdapterKind;
import dev.lora4j.lora.LoraReferenceTestAccess;
import dev.lora4j.model.Activations;
import dev.lora4j.model.KvCache;
import dev.lora4j.model.Transformer;
import dev.lora4j.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/**
 * Prompt tuning against the PyTorch reference (reference/make_fixtures.py prompt-tuning: PEFT's files with random
 * embeddings before Llama's (rotary, GQA, untied head), GPT-2's (learned positions, tied head) and Gemma 2's (embeddings
 * scaled by √C, soft caps) inputs): logits of the caller's positions, the loss and the embeddings' gradient; finite
 * differences through the whole model; the cached path of generation against the full pass.
 */
class PromptTuningTest {
    @TempDir
    Path tmp;

    /** The loss and the backward pass into the soft prompt's gradient. */
    static double lossAndGradient(PromptTuningModel m, ReferenceBatch d) {
        return d.lossAndGradients(dev.lora4j.train.Trainable.promptTuning(m));
    }

    @ParameterizedTest
    @ValueSource(strings = {"prompt-llama", "prompt-gpt2", "prompt-gemma2"})
    void logitsLossAndGradientMatchAutogradAndSurviveASaveAndLoad(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = ReferenceBatch.reference(dir);
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText())); SafeTensors want = SafeTensors.open(dir.resolve("prompt_grads.safetensors"))) {
            assertThat(AdapterKind.of(dir)).isEqualTo(AdapterKind.PROMPT_TUNING);
            PromptTuningModel m = PromptTuningModel.load(dir, base);
            ReferenceBatch d = ReferenceBatch.of(ref);
            float[] logits = m.model().forward(d.batch().tokens(), d.b(), d.t(), new Activations(m.model().config(), d.b(), d.t(), false));
            float[] wantLogits = want.tensor("logits").toArray();
            assertThat(logits).hasSameSizeAs(wantLogits);
            for (int i = 0; i < logits.length; i++) assertThat(logits[i]).as("logit %d", i).isCloseTo(wantLogits[i], offset(2e-4f));
            double loss = lossAndGradient(m, d);
            assertThat(loss).isCloseTo(ref.get("loss").asDouble(), offset(1e-4));
            assertThat(LoraReferenceTestAccess.relativeError(m.parameters().getFirst().grad(), want.tensor("prompt_embeddings").toArray())).isLessThan(1e-4);
            assertThat(d.loss(m.model())).isNotCloseTo(d.loss(base), offset(1e-3)); // the prompt changes the model

            m.save(tmp.resolve("copy"), "base");
            PromptTuningModel again = PromptTuningModel.load(tmp.resolve("copy"), base);
            assertThat(d.loss(again.model())).isEqualTo(d.loss(m.model()));
            JsonNode conf = new ObjectMapper().readTree(tmp.resolve("copy/adapter_config.json").toFile());
            assertThat(conf.get("peft_type").asText()).isEqualTo("PROMPT_TUNING");
            assertThat(conf.get("num_virtual_tokens").asInt()).isEqualTo(m.config().virtualTokens());
            assertThat(conf.get("token_dim").asInt()).isEqualTo(base.config().dim());
        }
    }

    /** Central differences of the whole model's loss at a spread of the embeddings' entries. */
    @Test
    void gradientMatchesFiniteDifferences() throws IOException {
        Path dir = TestPaths.fixture("prompt-llama");
        JsonNode ref = ReferenceBatch.reference(dir);
        try (Transformer base = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            PromptTuningModel m = PromptTuningModel.load(dir, base);
            ReferenceBatch d = ReferenceBatch.of(ref);
            lossAndGradient(m, d);
            float[] e = m.parameters().getFirst().value(), g = m.parameters().getFirst().grad().clone();
            int[] at = new int[24];
            for (int k = 0; k < at.length; k++) at[k] = (k * 53) % e.length;
            double[] numeric = FiniteDifferences.numericInPlace(e, at, () -> d.loss(m.model()), 2e-2f);
            FiniteDifferences.assertNear("dL/dprompt", g, at, numeric, 2e-4, 2e-2);
        }
    }

    /** Generation's path (the virtual tokens run into the cache first, then prompt and decode steps) against the full pass. */
    @ParameterizedTest
    @ValueSource(strings = {"prompt-llama", "prompt-gpt2", "prompt-gemma2"})
    void cachedStepsGiveTheFullPassLogits(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = ReferenceBatch.reference(dir);
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText()))) {
            Transformer model = PromptTuningModel.load(dir, base).model();
            assertThat(model.config().maxPositions()).isEqualTo(base.config().maxPositions() - model.config().virtualTokens());
            assertCachedStepsGiveTheFullPassLogits(model, ReferenceBatch.of(ref));
        }
    }

    /**
     * Sequence 0: a prompt of 5 then one token a step; sequence 1 joins later, in a ragged batch: each step's logits those of the
     * full pass at that position, the cache holding the virtual tokens first.
     */
    static void assertCachedStepsGiveTheFullPassLogits(Transformer model, ReferenceBatch d) {
        int n = model.config().virtualTokens(), v = model.config().vocabSize(), t = d.t();
        int[] row0 = Arrays.copyOf(d.batch().tokens(), t), row1 = Arrays.copyOfRange(d.batch().tokens(), t, 2 * t);
        float[] full0 = model.forward(row0, 1, t, new Activations(model.config(), 1, t, false));
        float[] full1 = model.forward(row1, 1, t, new Activations(model.config(), 1, t, false));
        KvCache cache = new KvCache(model.config(), 2, t);
        assertThat(cache.capacity()).isEqualTo(t + n);
        float[] logits = model.forwardCached(Arrays.copyOf(row0, 5), new int[] {0}, 5, cache);
        assertRow(logits, 0, full0, 4, v);
        assertThat(cache.length(0)).isEqualTo(n + 5);
        for (int j = 5; j < 8; j++) assertRow(model.forwardCached(new int[] {row0[j]}, new int[] {0}, 1, cache), 0, full0, j, v);
        int[] both = new int[1 + 9];
        both[0] = row0[8];
        System.arraycopy(row1, 0, both, 1, 9);
        logits = model.forwardRagged(both, new int[] {0, 1}, new int[] {1, 9}, cache);
        assertRow(logits, 0, full0, 8, v);
        assertRow(logits, 1, full1, 8, v);
    }

    static void assertRow(float[] logits, int row, float[] full, int position, int v) {
        for (int i = 0; i < v; i++)
            assertThat(logits[row * v + i]).as("position %d, logit %d", position, i).isCloseTo(full[position * v + i], offset(2e-4f));
    }

    @Test
    void theStartsArePeftsAndCallersCannotReachTheVirtualIds() throws IOException {
        try (Transformer base = Transformer.load(TestPaths.fixture("gpt2-plain"))) {
            int dim = base.config().dim(), v = base.config().vocabSize();
            float[] wte = base.tokenEmbedding().toArray();
            Tokenizer twoTokens = new Tokenizer() {
                public int[] encode(String text) { return new int[] {7, 3}; }
                public String decode(int[] ids) { return ""; }
                public String decode(int[] ids, boolean skip) { return ""; }
                public int vocabSize() { return v; }
            };
            float[] text = PromptTuningModel.inject(base, PromptTuningConfig.text(5, "anything"), twoTokens, 1).parameters().getFirst().value();
            int[] rows = {7, 3, 7, 3, 7}; // repeated to n, as PEFT does
            for (int j = 0; j < 5; j++) assertThat(Arrays.copyOfRange(text, j * dim, (j + 1) * dim)).containsExactly(Arrays.copyOfRange(wte, rows[j] * dim, (rows[j] + 1) * dim));
            float[] sampled = PromptTuningModel.inject(base, new PromptTuningConfig(3, PromptTuningConfig.Init.SAMPLE_VOCAB, null), null, 2).parameters().getFirst().value();
            for (int j = 0; j < 3; j++) {
                float[] row = Arrays.copyOfRange(sampled, j * dim, (j + 1) * dim);
                boolean found = false;
                for (int id = 0; id < v && !found; id++) found = Arrays.equals(row, Arrays.copyOfRange(wte, id * dim, (id + 1) * dim));
                assertThat(found).as("sampled row %d is a vocabulary row", j).isTrue();
            }
            float[] random = PromptTuningModel.inject(base, PromptTuningConfig.random(20), null, 3).parameters().getFirst().value();
            double mean = 0, sq = 0;
            for (float x : random) { mean += x; sq += x * x; }
            mean /= random.length;
            assertThat(mean).isCloseTo(0, offset(0.1));
            assertThat(Math.sqrt(sq / random.length - mean * mean)).isCloseTo(1, offset(0.1)); // torch.nn.Embedding's N(0, 1)

            Transformer model = PromptTuningModel.inject(base, PromptTuningConfig.random(4), null, 3).model();
            assertThatThrownBy(() -> model.forward(new int[] {1, v, 2}, 1, 3, new Activations(model.config(), 1, 3, false)))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("token id " + v).hasMessageContaining("outside the vocabulary");
            KvCache cache = new KvCache(model.config(), 1, 4);
            assertThatThrownBy(() -> model.forwardCached(new int[] {v + 1}, 1, 1, cache)).isInstanceOf(Lora4jException.class).hasMessageContaining("outside the vocabulary");
            int room = model.config().maxPositions();
            assertThatThrownBy(() -> model.forward(new int[room + 1], 1, room + 1, new Activations(model.config(), 1, room + 1, false)))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("4 virtual tokens leave");
            assertThatThrownBy(() -> PromptTuningModel.inject(base, PromptTuningConfig.random(base.config().maxPositions()), null, 1))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("do not fit");
            assertThatThrownBy(() -> new PromptTuningConfig(0, null, null)).isInstanceOf(Lora4jException.class).hasMessageContaining("1 to 100000");
            assertThatThrownBy(() -> new PromptTuningConfig(3, PromptTuningConfig.Init.TEXT, "")).isInstanceOf(Lora4jException.class).hasMessageContaining("needs the text");
            assertThatThrownBy(() -> PromptTuningConfig.Init.parse("vocab")).isInstanceOf(Lora4jException.class).hasMessageContaining("sample-vocab");
        }
    }

    @Test
    void badAdaptersAreRefusedByName() throws IOException {
        Path src = TestPaths.fixture("prompt-gpt2");
        try (Transformer base = Transformer.load(TestPaths.fixture("gpt2-plain")); Transformer llama = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            assertThatThrownBy(() -> PromptTuningModel.load(src, llama)).isInstanceOf(Lora4jException.class).hasMessageContaining("token_dim 48");
            Path dir = tmp.resolve("bad");
            Files.createDirectories(dir);
            Files.copy(src.resolve("adapter_model.safetensors"), dir.resolve("adapter_model.safetensors"));
            String conf = Files.readString(src.resolve("adapter_config.json"));
            Files.writeString(dir.resolve("adapter_config.json"), conf.replace("\"num_virtual_tokens\": 4", "\"num_virtual_tokens\": 5"));
            assertThatThrownBy(() -> PromptTuningModel.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("prompt_embeddings").hasMessageContaining("has shape [4, 48]");
            Files.writeString(dir.resolve("adapter_config.json"), conf.replace("\"num_virtual_tokens\": 4", "\"num_virtual_tokens\": -4"));
            assertThatThrownBy(() -> PromptTuningModel.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("num_virtual_tokens must be a positive integer");
            Files.writeString(dir.resolve("adapter_config.json"), conf.replace("\"num_transformer_submodules\": 1", "\"num_transformer_submodules\": 2"));
            assertThatThrownBy(() -> PromptTuningModel.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("num_transformer_submodules 2");
            Files.writeString(dir.resolve("adapter_config.json"), conf.replace("\"task_type\": \"CAUSAL_LM\"", "\"task_type\": \"SEQ_2_SEQ_LM\""));
            assertThatThrownBy(() -> PromptTuningModel.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("SEQ_2_SEQ_LM");
        }
    }
}
