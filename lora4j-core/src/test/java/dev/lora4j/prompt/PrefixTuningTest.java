package dev.lora4j.prompt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.FiniteDifferences;
import dev.lora4j.Lora4jException;
import dev.lora4j.ReferenceBatch;
import dev.lora4j.TestPaths;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.lora.AdapterKind;
import dev.lora4j.lora.LoraReferenceTestAccess;
import dev.lora4j.model.Activations;
import dev.lora4j.model.KvCache;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/**
 * Prefix tuning against the PyTorch reference (reference/make_fixtures.py prompt-tuning: PEFT's files with a random
 * table as past_key_values of Llama (rotary with llama3 scaling, GQA), GPT-2 (learned positions), Gemma 2 (soft caps,
 * sliding layers) and Qwen3 (q/k norms)): logits of the caller's positions, the loss and the table's gradient; finite
 * differences through the whole model; generation, which writes the prefix into the cache, against the training pass,
 * which replaces the virtual rows' keys and values.
 */
class PrefixTuningTest {
    @TempDir
    Path tmp;

    static double lossAndGradient(PrefixTuningModel m, ReferenceBatch d) {
        return d.lossAndGradients(dev.lora4j.train.Trainable.prefixTuning(m));
    }

    @ParameterizedTest
    @ValueSource(strings = {"prefix-llama", "prefix-gpt2", "prefix-gemma2", "prefix-qwen3"})
    void logitsLossAndGradientMatchAutogradAndSurviveASaveAndLoad(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = ReferenceBatch.reference(dir);
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText())); SafeTensors want = SafeTensors.open(dir.resolve("prompt_grads.safetensors"))) {
            assertThat(AdapterKind.of(dir)).isEqualTo(AdapterKind.PREFIX_TUNING);
            PrefixTuningModel m = PrefixTuningModel.load(dir, base);
            ReferenceBatch d = ReferenceBatch.of(ref);
            float[] logits = m.model().forward(d.batch().tokens(), d.b(), d.t(), new Activations(m.model().config(), d.b(), d.t(), false));
            float[] wantLogits = want.tensor("logits").toArray();
            assertThat(logits).hasSameSizeAs(wantLogits);
            for (int i = 0; i < logits.length; i++) assertThat(logits[i]).as("logit %d", i).isCloseTo(wantLogits[i], offset(2e-4f));
            assertThat(lossAndGradient(m, d)).isCloseTo(ref.get("loss").asDouble(), offset(1e-4));
            assertThat(LoraReferenceTestAccess.relativeError(m.parameters().getFirst().grad(), want.tensor("prompt_embeddings").toArray())).isLessThan(1e-4);

            m.save(tmp.resolve("copy"), "base");
            PrefixTuningModel again = PrefixTuningModel.load(tmp.resolve("copy"), base);
            assertThat(d.loss(again.model())).isEqualTo(d.loss(m.model()));
            JsonNode conf = new ObjectMapper().readTree(tmp.resolve("copy/adapter_config.json").toFile());
            assertThat(conf.get("peft_type").asText()).isEqualTo("PREFIX_TUNING");
            assertThat(conf.get("token_dim").asInt()).isEqualTo(base.config().kvHeads() * base.config().headDim()); // PEFT's sizing for grouped-query models
            assertThat(conf.get("num_attention_heads").asInt()).isEqualTo(base.config().kvHeads());
        }
    }

    @Test
    void gradientMatchesFiniteDifferences() throws IOException {
        Path dir = TestPaths.fixture("prefix-llama");
        JsonNode ref = ReferenceBatch.reference(dir);
        try (Transformer base = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            PrefixTuningModel m = PrefixTuningModel.load(dir, base);
            ReferenceBatch d = ReferenceBatch.of(ref);
            lossAndGradient(m, d);
            float[] table = m.parameters().getFirst().value(), g = m.parameters().getFirst().grad().clone();
            int[] at = new int[24];
            for (int k = 0; k < at.length; k++) at[k] = (k * 97 + 5) % table.length;
            double[] numeric = FiniteDifferences.numericInPlace(table, at, () -> d.loss(m.model()), 2e-2f);
            FiniteDifferences.assertNear("dL/dprefix", g, at, numeric, 2e-4, 2e-2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"prefix-llama", "prefix-gpt2", "prefix-gemma2", "prefix-qwen3"})
    void cachedStepsGiveTheFullPassLogits(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        JsonNode ref = ReferenceBatch.reference(dir);
        try (Transformer base = Transformer.load(TestPaths.fixture(ref.get("base").asText()))) {
            Transformer model = PrefixTuningModel.load(dir, base).model();
            assertThat(model.config().maxPositions()).isEqualTo(base.config().maxPositions() - model.config().virtualTokens());
            PromptTuningTest.assertCachedStepsGiveTheFullPassLogits(model, ReferenceBatch.of(ref));
        }
    }

    @Test
    void badAdaptersAreRefusedByName() throws IOException {
        Path src = TestPaths.fixture("prefix-gpt2");
        try (Transformer base = Transformer.load(TestPaths.fixture("gpt2-plain")); Transformer llama = Transformer.load(TestPaths.fixture("llama-gqa"))) {
            assertThatThrownBy(() -> PrefixTuningModel.load(src, llama)).isInstanceOf(Lora4jException.class).hasMessageContaining("the model has 2 layers of 2 key/value heads");
            Path dir = tmp.resolve("bad");
            Files.createDirectories(dir);
            Files.copy(src.resolve("adapter_model.safetensors"), dir.resolve("adapter_model.safetensors"));
            String conf = Files.readString(src.resolve("adapter_config.json"));
            Files.writeString(dir.resolve("adapter_config.json"), conf.replace("\"num_virtual_tokens\": 4", "\"num_virtual_tokens\": 3"));
            assertThatThrownBy(() -> PrefixTuningModel.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("prompt_embeddings").hasMessageContaining("has shape [4, 192]");
            Files.writeString(dir.resolve("adapter_config.json"), conf.replace("\"num_layers\": 2", "\"num_layers\": 2.5"));
            assertThatThrownBy(() -> PrefixTuningModel.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("num_layers must be a positive integer");
            Files.writeString(dir.resolve("adapter_config.json"), conf.replace("\"num_virtual_tokens\": 4", "\"num_virtual_tokens\": 32"));
            assertThatThrownBy(() -> PrefixTuningModel.load(dir, base)).isInstanceOf(Lora4jException.class).hasMessageContaining("leave no room");
            assertThatThrownBy(() -> new PrefixTuningConfig(0)).isInstanceOf(Lora4jException.class).hasMessageContaining("1 to 100000");
            Transformer prompted = PromptTuningModel.inject(base, PromptTuningConfig.random(2), null, 1).model();
            assertThatThrownBy(() -> PrefixTuningModel.inject(prompted, new PrefixTuningConfig(2), 1)).isInstanceOf(Lora4jException.class).hasMessageContaining("already has");
        }
    }
}
