package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.FiniteDifferences;
import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraReferenceTestAccess;
import dev.lora4j.train.Parameter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

/**
 * Sequence classification against a float64 PyTorch rendering of BertForSequenceClassification
 * (reference/make_fixtures.py bert-seq-cls): pooler + LoRA from PEFT's SEQ_CLS files, mean pooling with every weight
 * trained; finite differences through the pooler and the embeddings; save and load of each method.
 */
class SequenceClassifierTest {
    static final Path DIR = TestPaths.fixture("bert-tiny-cls");

    static JsonNode ref() throws IOException {
        return new ObjectMapper().readTree(DIR.resolve("reference.json").toFile());
    }

    static List<int[]> sequences(JsonNode ref) {
        List<int[]> out = new ArrayList<>();
        for (JsonNode s : ref.get("sequences")) out.add(new ObjectMapper().convertValue(s, int[].class));
        return out;
    }

    static int[] labels(JsonNode ref) {
        return new ObjectMapper().convertValue(ref.get("labels"), int[].class);
    }

    static Map<String, Parameter> byName(SequenceClassifier c) {
        Map<String, Parameter> m = new HashMap<>();
        for (Parameter p : c.parameters()) m.put(p.name(), p);
        return m;
    }

    @Test
    void poolerHeadWithLoraFromPeftFilesMatchesPyTorch() throws IOException {
        JsonNode ref = ref();
        try (Bert base = Bert.load(DIR); SafeTensors grads = SafeTensors.open(DIR.resolve("grads.safetensors"))) {
            SequenceClassifier c = SequenceClassifier.load(base, DIR, DIR.resolve("adapter"));
            assertThat(c.method()).isEqualTo(SequenceClassifier.Method.LORA);
            assertThat(c.pooling()).isEqualTo(SequenceClassifier.HeadPooling.POOLER);
            assertThat(c.classes()).containsExactly("apple", "banana", "cherry");
            double[] logits = c.logits(sequences(ref));
            for (int i = 0; i < logits.length; i++)
                assertThat(logits[i]).isCloseTo(ref.get("logits_pooler_lora").get(i / 3).get(i % 3).asDouble(), offset(2e-5));
            double loss = c.lossAndGradients(sequences(ref), labels(ref));
            assertThat(loss).isCloseTo(ref.get("loss_pooler_lora").asDouble(), offset(2e-5));
            int checked = 0;
            for (Parameter p : c.parameters()) {
                String key = "base_model.model." + (p.name().startsWith("classifier") ? p.name() : "bert." + p.name() + ".weight");
                assertThat(LoraReferenceTestAccess.relativeError(p.grad(), grads.tensor(key).toArray())).as(p.name()).isLessThan(1e-4);
                checked++;
            }
            assertThat(checked).isEqualTo(grads.entries().size()).isEqualTo(10);
        }
    }

    /**
     * RoBERTa: a RobertaForSequenceClassification checkpoint (roberta.* names, positions after the padding id, the head's own
     * dense + tanh over &lt;s&gt;, labels from id2label) scores as PyTorch does; a SEQ_CLS LoRA adapter over it trains the
     * head's four tensors and A, B with PyTorch's gradients.
     */
    @Test
    void robertaCheckpointAndLoraAdapterMatchPyTorch() throws IOException {
        Path dir = TestPaths.fixture("roberta-tiny-cls");
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (Bert base = Bert.load(dir); SafeTensors grads = SafeTensors.open(dir.resolve("grads.safetensors"));
             SafeTensors expected = SafeTensors.open(dir.resolve("reference.safetensors"))) {
            assertThat(base.config().positionOffset()).isEqualTo(2);
            List<int[]> seqs = sequences(ref);
            float[] hidden = base.hiddenPacked(Bert.Packed.of(seqs)), want = expected.tensor("hidden").toArray();
            for (int i = 0; i < want.length; i++) assertThat(hidden[i]).as("hidden %d", i).isCloseTo(want[i], offset(2e-5f));
            SequenceClassifier checkpoint = SequenceClassifier.load(base, dir, null);
            assertThat(checkpoint.pooling()).isEqualTo(SequenceClassifier.HeadPooling.DENSE);
            assertThat(checkpoint.classes()).containsExactly("neg", "neu", "pos");
            double[] logits = checkpoint.logits(seqs);
            for (int i = 0; i < logits.length; i++) assertThat(logits[i]).isCloseTo(ref.get("logits").get(i / 3).get(i % 3).asDouble(), offset(2e-5));
            SequenceClassifier c = SequenceClassifier.load(base, dir, dir.resolve("adapter"));
            assertThat(c.method()).isEqualTo(SequenceClassifier.Method.LORA);
            assertThat(c.lossAndGradients(seqs, labels(ref))).isCloseTo(ref.get("loss_lora").asDouble(), offset(2e-5));
            for (Parameter p : c.parameters()) {
                String key = "base_model.model." + (p.name().startsWith("classifier") ? p.name() : p.name() + ".weight"); // roberta.* already
                assertThat(LoraReferenceTestAccess.relativeError(p.grad(), grads.tensor(key).toArray())).as(p.name()).isLessThan(1e-4);
            }
            assertThat(c.parameters()).hasSize(grads.entries().size()).hasSize(12);
        }
    }

    /** XLM-R (model_type xlm-roberta) is RoBERTa's network under other class names: the same checkpoint gives the same bits. */
    @Test
    void xlmRobertaRunsAsRoberta(@TempDir Path tmp) throws IOException {
        Path dir = TestPaths.fixture("roberta-tiny-cls"), xlmr = tmp.resolve("xlmr");
        Files.createDirectories(xlmr);
        for (String f : new String[] {"model.safetensors", "reference.json"}) Files.copy(dir.resolve(f), xlmr.resolve(f));
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        config.put("model_type", "xlm-roberta").putArray("architectures").add("XLMRobertaForSequenceClassification");
        Files.writeString(xlmr.resolve("config.json"), config.toString());
        List<int[]> seqs = sequences(new ObjectMapper().readTree(dir.resolve("reference.json").toFile()));
        try (Bert roberta = Bert.load(dir); Bert x = Bert.load(xlmr)) {
            assertThat(x.config().roberta()).isTrue();
            assertThat(x.config().toJson().get("architectures").get(0).asText()).isEqualTo("XLMRobertaModel");
            assertThat(x.hiddenPacked(Bert.Packed.of(seqs))).isEqualTo(roberta.hiddenPacked(Bert.Packed.of(seqs)));
            assertThat(SequenceClassifier.load(x, xlmr, null).logits(seqs)).isEqualTo(SequenceClassifier.load(roberta, dir, null).logits(seqs));
        }
    }

    @Test
    void meanHeadWithEveryWeightTrainedMatchesPyTorch() throws IOException {
        JsonNode ref = ref();
        try (Bert base = Bert.load(TestPaths.fixture("bert-tiny")); SafeTensors grads = SafeTensors.open(DIR.resolve("full_grads.safetensors"));
             SafeTensors head = SafeTensors.open(DIR.resolve("full_head.safetensors"))) {
            SequenceClassifier c = SequenceClassifier.create(base, SequenceClassifier.Method.FULL, List.of("apple", "banana", "cherry"), null, 1);
            assertThat(c.pooling()).isEqualTo(SequenceClassifier.HeadPooling.MEAN);
            Map<String, Parameter> params = byName(c);
            for (String n : List.of("classifier.weight", "classifier.bias"))
                System.arraycopy(head.tensor(n).toArray(), 0, params.get(n).value(), 0, params.get(n).value().length);
            double loss = c.lossAndGradients(sequences(ref), labels(ref));
            assertThat(loss).isCloseTo(ref.get("loss_mean_full").asDouble(), offset(5e-5));
            assertThat(params.keySet()).isEqualTo(grads.entries().keySet());
            for (Parameter p : c.parameters()) {
                float[] want = grads.tensor(p.name()).toArray();
                if (norm(want) < 1e-9) // the keys' bias: softmax ignores a shift that is the same for every key, so its gradient is 0
                    assertThat(norm(p.grad())).as(p.name()).isLessThan(1e-6);
                else assertThat(LoraReferenceTestAccess.relativeError(p.grad(), want)).as(p.name()).isLessThan(2e-4);
            }
            // the frozen base is untouched: training changed the copy's weights only
            c.parameters().forEach(p -> Arrays.fill(p.value(), 0f));
            assertThat(base.hiddenPacked(Bert.Packed.of(sequences(ref)))).isNotEqualTo(new float[13 * 24]);
        }
    }

    static double norm(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        return Math.sqrt(s);
    }

    /** Central differences of the loss against the backward pass, through the pooler, the norms and the embedding tables. */
    @Test
    void gradientsThroughPoolerAndEmbeddingsMatchFiniteDifferences() throws IOException {
        JsonNode ref = ref();
        try (Bert base = Bert.load(DIR)) {
            SequenceClassifier c = SequenceClassifier.create(base, SequenceClassifier.Method.FULL, List.of("a", "b", "c"), null, 3);
            Map<String, Parameter> params = byName(c);
            for (float[] w : List.of(params.get("classifier.weight").value()))
                for (int i = 0; i < w.length; i++) w[i] *= 25; // a head large enough that the encoder's gradients are not tiny
            c.lossAndGradients(sequences(ref), labels(ref));
            Map<String, float[]> analytic = new HashMap<>();
            params.forEach((n, p) -> analytic.put(n, p.grad().clone()));
            for (String name : List.of("pooler.dense.weight", "pooler.dense.bias", "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                    "embeddings.LayerNorm.weight", "encoder.layer.1.intermediate.dense.weight", "encoder.layer.0.attention.self.key.bias", "classifier.bias")) {
                float[] v = params.get(name).value();
                // rows of the word table that the sequences use (token ids 7 and 2), elsewhere the first, middle and last entries
                int[] at = name.startsWith("embeddings.word") ? new int[] {2 * 24 + 5, 7 * 24 + 1} : new int[] {0, v.length / 2, v.length - 1};
                FiniteDifferences.assertNear(name, analytic.get(name), at, FiniteDifferences.numericInPlace(v, at, () -> lossOnly(c, ref), 1e-2f), 2e-3, 2e-2);
            }
        }
    }

    private static double lossOnly(SequenceClassifier c, JsonNode ref) {
        double loss = c.lossAndGradients(sequences(ref), labels(ref));
        c.parameters().forEach(p -> Arrays.fill(p.grad(), 0f));
        return loss;
    }

    /** A task the tiny model can learn: the label is whether token 7 appears. */
    static List<int[]> toySequences(int n, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] s = new int[3 + r.nextInt(6)];
            for (int j = 0; j < s.length; j++) s[j] = 10 + r.nextInt(50);
            if (i % 2 == 1) s[r.nextInt(s.length)] = 7;
            out.add(s);
        }
        return out;
    }

    static int[] toyLabels(List<int[]> seqs) {
        return seqs.stream().mapToInt(s -> Arrays.stream(s).anyMatch(t -> t == 7) ? 1 : 0).toArray();
    }

    @Test
    void eachMethodTrainsSavesAndLoadsBack(@TempDir Path tmp) throws IOException {
        List<int[]> train = toySequences(64, 1);
        int[] y = toyLabels(train);
        for (SequenceClassifier.Method m : SequenceClassifier.Method.values()) {
            try (Bert base = Bert.load(DIR)) {
                SequenceClassifier c = SequenceClassifier.create(base, m, List.of("absent", "present"), LoraConfig.builder().r(4).alpha(8).build(), 5);
                double before = c.evaluate(train, y).loss();
                List<Double> losses = new ArrayList<>();
                c.train(train, y, SequenceClassifier.Training.builder().epochs(8).batchSize(16).lr(switch (m) { case PROBE -> 1e-1; case LORA -> 1e-2; case FULL -> 1e-3; }).build(),
                        s -> losses.add(s.loss()));
                assertThat(losses).hasSize(32);
                SequenceClassifier.Evaluation after = c.evaluate(train, y);
                assertThat(after.loss()).as(m + " loss").isLessThan(before);
                assertThat(after.accuracy()).as(m + " accuracy (half the examples are each class)").isGreaterThan(0.7);
                Path out = tmp.resolve(m.label());
                c.save(out, DIR);
                SequenceClassifier back = switch (m) {
                    case FULL -> {
                        Bert full = Bert.load(out);
                        yield SequenceClassifier.load(full, out, null);
                    }
                    default -> SequenceClassifier.load(base, DIR, out);
                };
                assertThat(back.method()).isEqualTo(m);
                assertThat(back.logits(train)).as(m + " logits after loading").containsExactly(c.logits(train));
                if (m != SequenceClassifier.Method.FULL) {
                    JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
                    assertThat(cfg.get("task_type").asText()).isEqualTo("SEQ_CLS");
                    assertThat(cfg.get("modules_to_save").toString()).isEqualTo("[\"classifier\",\"score\"]");
                    try (SafeTensors st = SafeTensors.open(out.resolve("adapter_model.safetensors"))) {
                        assertThat(st.has("base_model.model.classifier.weight")).isTrue();
                        // PEFT wraps BertForSequenceClassification, whose encoder modules are bert.*
                        if (m == SequenceClassifier.Method.LORA)
                            assertThat(st.has("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight")).isTrue();
                        assertThat(st.entries().size()).isEqualTo(m == SequenceClassifier.Method.LORA ? 2 + 2 * 4 : 2);
                    }
                } else {
                    JsonNode cfg = new ObjectMapper().readTree(out.resolve("config.json").toFile());
                    assertThat(cfg.get("architectures").get(0).asText()).isEqualTo("BertForSequenceClassification");
                    assertThat(cfg.get("id2label").get("1").asText()).isEqualTo("present");
                }
            }
        }
    }

    @Test
    void aClassifierOverAnotherPoolingIsRefusedByName(@TempDir Path tmp) throws IOException {
        try (Bert pooled = Bert.load(DIR); Bert mean = Bert.load(TestPaths.fixture("bert-tiny"))) {
            SequenceClassifier.create(pooled, SequenceClassifier.Method.PROBE, List.of("x", "y"), null, 1).save(tmp.resolve("a"), DIR);
            assertThatThrownBy(() -> SequenceClassifier.load(mean, TestPaths.fixture("bert-tiny"), tmp.resolve("a")))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("classifier_config.json").hasMessageContaining("'pooler'").hasMessageContaining("'mean'");
            Files.delete(tmp.resolve("a").resolve("classifier_config.json"));
            assertThatThrownBy(() -> SequenceClassifier.load(pooled, DIR, tmp.resolve("a")))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("labels");
            assertThatThrownBy(() -> SequenceClassifier.create(mean, SequenceClassifier.Method.PROBE, List.of("only"), null, 1))
                    .isInstanceOf(Lora4jException.class).hasMessageContaining("at least 2 classes");
        }
    }
}
