package dev.lora4j.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.FiniteDifferences;
import dev.lora4j.Lora4jException;
import dev.lora4j.ReferenceBatch;
import dev.lora4j.TestPaths;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Activations;
import dev.lora4j.model.KvCache;
import dev.lora4j.model.Transformer;
import dev.lora4j.train.Parameter;
import dev.lora4j.train.Trainable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/**
 * LoRA that also trains the input embedding or the LM head, against the PyTorch reference (reference/make_fixtures.py
 * embeddings: PEFT's files with modules_to_save copies and trainable token rows, each moved away from the base, on an
 * untied Llama, a tied Qwen2 (rows shared by the head; a head copy that unties it), Gemma 2 (embeddings scaled by √C,
 * soft-capped logits) and GPT-2 (an embedding copy that leaves the tied head as it was)): the loss and the gradient of
 * every trained tensor, a save and load, the merged model, generation's cached path, finite differences.
 */
class TrainedEmbeddingsTest {
    @TempDir
    Path tmp;

    /** The PEFT key of a parameter: LoRA's are module.lora_A (file: .lora_A.weight); the embeddings' are their keys already. */
    static String key(Parameter p) {
        return "base_model.model." + (p.name().endsWith(".lora_A") || p.name().endsWith(".lora_B") ? p.name() + ".weight" : p.name());
    }

    @ParameterizedTest
    @ValueSource(strings = {"emb-llama-save", "emb-llama-rows", "emb-qwen2-rows", "emb-qwen2-head", "emb-gemma2-rows", "emb-gpt2-save"})
    void lossAndEveryGradientMatchAutogradAndSurviveASaveAndLoad(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = ReferenceBatch.reference(dir);
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText())); SafeTensors want = SafeTensors.open(dir.resolve("lora_grads.safetensors"))) {
            LoraModel lm = PeftAdapter.load(dir, base);
            assertThat(lm.embeddings()).isNotNull();
            Trainable t = Trainable.lora(lm);
            ReferenceBatch d = ReferenceBatch.of(ref);
            assertThat(d.lossAndGradients(t)).isCloseTo(ref.get("loss").asDouble(), offset(1e-4));
            assertThat(t.parameters()).extracting(TrainedEmbeddingsTest::key).containsExactlyInAnyOrderElementsOf(want.entries().keySet());
            for (Parameter p : t.parameters())
                assertThat(LoraReferenceTestAccess.relativeError(p.grad(), want.tensor(key(p)).toArray())).as(p.name()).isLessThan(1e-4);

            PeftAdapter.save(tmp.resolve("copy"), lm, "base");
            try (SafeTensors saved = SafeTensors.open(tmp.resolve("copy").resolve(PeftAdapter.WEIGHTS))) { // a tied head's rows written again, as PEFT does
                assertThat(saved.entries().containsKey("base_model.model.lm_head.token_adapter.trainable_tokens_delta"))
                        .isEqualTo(name.equals("emb-qwen2-rows") || name.equals("emb-gemma2-rows") || name.equals("emb-llama-rows"));
            }
            LoraModel again = PeftAdapter.load(tmp.resolve("copy"), base);
            assertThat(d.loss(again.model())).isEqualTo(d.loss(lm.model()));
            JsonNode conf = new ObjectMapper().readTree(tmp.resolve("copy/adapter_config.json").toFile());
            JsonNode orig = new ObjectMapper().readTree(dir.resolve("adapter_config.json").toFile());
            assertThat(conf.get("modules_to_save").isNull() ? null : conf.get("modules_to_save")).isEqualTo(orig.get("modules_to_save").isNull() ? null : orig.get("modules_to_save"));
            assertThat(conf.get("trainable_token_indices").isNull() ? null : conf.get("trainable_token_indices"))
                    .isEqualTo(orig.get("trainable_token_indices").isNull() ? null : orig.get("trainable_token_indices"));

            if (name.equals("emb-qwen2-head") || name.equals("emb-gpt2-save")) // a copy in a tied model unties it: a tied checkpoint cannot hold that
                assertThatThrownBy(() -> Merger.mergeInMemory(lm, 1.0)).isInstanceOf(Lora4jException.class).hasMessageContaining("ties its head to its input embedding");
            else assertThat(d.loss(Merger.mergeInMemory(lm, 1.0))).isCloseTo(d.loss(lm.model()), offset(2e-5));
        }
    }

    /** Generation's path (trained rows in the head's decode logits, a copied head) against the full pass. */
    @ParameterizedTest
    @ValueSource(strings = {"emb-llama-rows", "emb-qwen2-head", "emb-gemma2-rows"})
    void cachedStepsGiveTheFullPassLogits(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = ReferenceBatch.reference(dir);
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText()))) {
            Transformer model = PeftAdapter.load(dir, base).model();
            ReferenceBatch d = ReferenceBatch.of(ref);
            int t = d.t(), v = model.config().vocabSize();
            int[] row = Arrays.copyOf(d.batch().tokens(), t);
            float[] full = model.forward(row, 1, t, new Activations(model.config(), 1, t, false));
            KvCache cache = new KvCache(model.config(), 1, t);
            float[] logits = model.forwardCached(Arrays.copyOf(row, 4), 1, 4, cache);
            for (int j = 3; j < t; j++) {
                if (j > 3) logits = model.forwardCached(new int[] {row[j]}, 1, 1, cache);
                for (int i = 0; i < v; i++) assertThat(logits[i]).as("position %d, logit %d", j, i).isCloseTo(full[j * v + i], offset(2e-4f));
            }
        }
    }

    /** Central differences of the whole model's loss at entries of the trained rows: the head's part (soft-capped for Gemma 2) and the embedding's. */
    @ParameterizedTest
    @ValueSource(strings = {"emb-gemma2-rows", "emb-llama-rows"})
    void rowGradientsMatchFiniteDifferences(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = ReferenceBatch.reference(dir);
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText()))) {
            LoraModel lm = PeftAdapter.load(dir, base);
            Trainable t = Trainable.lora(lm);
            ReferenceBatch d = ReferenceBatch.of(ref);
            d.lossAndGradients(t);
            for (Parameter p : lm.embeddingParameters()) {
                float[] g = p.grad().clone();
                int[] at = new int[12];
                for (int k = 0; k < at.length; k++) at[k] = (k * 37 + 3) % p.value().length;
                double[] numeric = FiniteDifferences.numericInPlace(p.value(), at, () -> d.loss(lm.model()), 1e-2f);
                FiniteDifferences.assertNear(p.name(), g, at, numeric, 3e-4, 2e-2);
            }
        }
    }

    @Test
    void freshCopiesAndRowsStartAtTheBaseAndBadChoicesAreRefusedByName() throws IOException {
        try (Transformer llama = Transformer.load(TestPaths.fixture("llama-gqa")); Transformer qwen = Transformer.load(TestPaths.fixture("qwen2-tied-bias"))) {
            JsonNode ref = ReferenceBatch.reference(TestPaths.fixture("emb-llama-rows"));
            ReferenceBatch d = ReferenceBatch.of(ref);
            LoraConfig c = LoraConfig.builder().r(2).alpha(4).embeddings(new LoraConfig.Embeddings(List.of("lm_head"), Map.of("embed_tokens", List.of(1, 2, 3)))).build();
            LoraModel fresh = LoraModel.inject(llama, c, 5);
            assertThat(d.loss(fresh.model())).isCloseTo(d.loss(llama), offset(1e-6)); // the copied head's loss sums in another order
            assertThat(fresh.trainableParameters()).isEqualTo(2L * 2 * (64 + 64 + 64 + 32) + 97L * 64 + 3L * 64); // q, v LoRA; the head; 3 rows

            assertThatThrownBy(() -> LoraModel.inject(qwen, LoraConfig.builder().embeddings(new LoraConfig.Embeddings(List.of(), Map.of("lm_head", List.of(1)))).build(), 1))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("ties its head to the input embedding");
            assertThatThrownBy(() -> LoraModel.inject(llama, LoraConfig.builder().embeddings(new LoraConfig.Embeddings(List.of(), Map.of("embed_tokens", List.of(97)))).build(), 1))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("token id 97 is outside the vocabulary");
            assertThatThrownBy(() -> LoraModel.inject(llama, LoraConfig.builder().embeddings(new LoraConfig.Embeddings(List.of("score"), Map.of())).build(), 1))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("modules_to_save 'score' is not supported");
            assertThatThrownBy(() -> new LoraConfig.Embeddings(List.of("lm_head"), Map.of("lm_head", List.of(1))))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("both in modules_to_save");
            assertThatThrownBy(() -> new LoraConfig.Embeddings(List.of(), Map.of("embed_tokens", List.of(1, 1))))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("listed twice");
            LoraModel withRows = PeftAdapter.load(TestPaths.fixture("emb-llama-rows"), llama);
            assertThatThrownBy(() -> new AdapterSet(llama).add("rows", withRows)).isInstanceOf(Lora4jException.class).hasMessageContaining("mixed batch");
        }
    }
}
