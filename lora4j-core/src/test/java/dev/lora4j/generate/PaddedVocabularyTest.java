package dev.lora4j.generate;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.TestPaths;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A model whose embedding is padded past its tokenizer's vocabulary (as many Hugging Face checkpoints are):
 * the ids the tokenizer has no text for are never drawn, whatever their logits.
 */
class PaddedVocabularyTest {
    @TempDir
    Path dir;

    /**
     * The bundled model (511 tokens, tied head) with an untied head of 1022 rows: rows 511.. are rows 0.. doubled, so
     * whenever the best logit is positive a padding id beats it. Greedy and sampled generation, alone and through the
     * continuous batcher, give exactly what the unpadded model gives.
     */
    @Test
    void idsPastTheTokenizerAreNeverDrawn() throws Exception {
        Path src = TestPaths.bundledModel();
        for (String f : List.of("tokenizer.json", "tokenizer_config.json"))
            if (Files.exists(src.resolve(f))) Files.copy(src.resolve(f), dir.resolve(f));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(src.resolve("config.json").toFile());
        int vocab = config.get("vocab_size").asInt(), dim = config.get("hidden_size").asInt();
        config.put("vocab_size", 2 * vocab).put("tie_word_embeddings", false);
        json.writeValue(dir.resolve("config.json").toFile(), config);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try (SafeTensors st = SafeTensors.open(src.resolve("model.safetensors"))) {
            for (String name : st.entries().keySet()) {
                Tensor t = st.tensor(name);
                if (!name.equals("model.embed_tokens.weight")) {
                    tensors.put(name, Tensor.of(name, t.toArray(), t.shape()));
                    continue;
                }
                float[] e = t.toArray(), padded = new float[2 * vocab * dim];
                System.arraycopy(e, 0, padded, 0, e.length);
                for (int i = 0; i < e.length; i++) padded[e.length + i] = 2 * e[i];
                tensors.put(name, Tensor.of(name, padded, 2 * vocab, dim));
                tensors.put("lm_head.weight", Tensor.of("lm_head.weight", padded, 2 * vocab, dim));
            }
        }
        SafeTensorsWriter.write(dir.resolve("model.safetensors"), tensors, DType.F32, Map.of("format", "pt"));

        List<TextGenerator.Request> requests = List.of(
                TextGenerator.Request.text("Once upon a time").config(GenerationConfig.builder().maxNewTokens(24).build()),
                TextGenerator.Request.text("The little dog").config(GenerationConfig.builder().maxNewTokens(24).temperature(1.0).seed(3).build()),
                TextGenerator.Request.text("Lily").config(GenerationConfig.builder().maxNewTokens(24).temperature(0.8).topK(40).repetitionPenalty(1.3).seed(4).build()));
        try (TextGenerator original = TextGenerator.load(src); TextGenerator padded = TextGenerator.load(dir)) {
            assertThat(padded.config().vocabSize()).isEqualTo(2 * vocab);
            for (TextGenerator.Request r : requests) {
                Completion want = original.generate(r), got = padded.generate(r);
                assertThat(got.ids()).as(r.toString()).containsExactly(want.ids());
                assertThat(got.text()).isEqualTo(want.text());
            }
            try (ContinuousBatcher b = new ContinuousBatcher(padded, new ContinuousBatcher.Options(4, 64, 128), (n, prefill, nanos) -> {})) {
                for (TextGenerator.Request r : requests)
                    assertThat(b.submit(r).result().get(60, java.util.concurrent.TimeUnit.SECONDS).ids()).containsExactly(original.generate(r).ids());
            }
            // the ids prompt may still hold padding ids: they are valid input
            Completion fromIds = padded.generate(TextGenerator.Request.ids(1, 2, 2 * vocab - 1).config(GenerationConfig.builder().maxNewTokens(8).repetitionPenalty(1.2).build()));
            assertThat(java.util.Arrays.stream(fromIds.ids()).max().orElse(0)).isLessThan(vocab);
        }
    }
}
