package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraReferenceTestAccess;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/**
 * The encoder's forward and backward against a float64 PyTorch rendering of BertModel (reference/make_fixtures.py
 * bert): two sequences of different lengths packed together, LoRA on query and value, the hidden states and
 * autograd's gradients of L = Σ w·hidden for every A and B.
 */
class BertReferenceTest {
    @Test
    void packedForwardAndLoraGradientsMatchPyTorch() throws IOException {
        Path dir = TestPaths.fixture("bert-tiny");
        JsonNode ref = new ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        try (Bert base = Bert.load(dir); SafeTensors adapter = SafeTensors.open(dir.resolve("adapter_model.safetensors"));
             SafeTensors grads = SafeTensors.open(dir.resolve("lora_grads.safetensors")); SafeTensors expected = SafeTensors.open(dir.resolve("reference.safetensors"))) {
            Map<String, LoraLinear> modules = new LinkedHashMap<>();
            Bert bert = base.withLora(LoraConfig.builder().r(4).alpha(8).build(), 1, modules);
            assertThat(modules.keySet()).containsExactly("encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value",
                    "encoder.layer.1.attention.self.query", "encoder.layer.1.attention.self.value");
            for (LoraLinear l : modules.values()) {
                System.arraycopy(adapter.tensor("base_model.model." + l.name() + ".lora_A.weight").toArray(), 0, l.a(), 0, l.a().length);
                System.arraycopy(adapter.tensor("base_model.model." + l.name() + ".lora_B.weight").toArray(), 0, l.b(), 0, l.b().length);
                l.setTraining(true, null);
            }
            int[][] seqs = new ObjectMapper().convertValue(ref.get("sequences"), int[][].class), types = new ObjectMapper().convertValue(ref.get("types"), int[][].class);
            int n = seqs[0].length + seqs[1].length;
            int[] ids = new int[n], ty = new int[n], pos = new int[n], start = {0, seqs[0].length, n};
            for (int s = 0, r = 0; s < 2; s++)
                for (int j = 0; j < seqs[s].length; j++, r++) {
                    ids[r] = seqs[s][j];
                    ty[r] = types[s][j];
                    pos[r] = j;
                }
            Bert.Pass pass = bert.forwardTraining(ids, ty, pos, start);
            float[] want = expected.tensor("hidden").toArray(), w = expected.tensor("loss_weights").toArray();
            for (int i = 0; i < want.length; i++) assertThat(pass.hidden()[i]).as("hidden %d", i).isCloseTo(want[i], offset(2e-5f));
            bert.backward(pass, w);
            for (LoraLinear l : modules.values()) {
                assertThat(LoraReferenceTestAccess.relativeError(l.gradA(), grads.tensor("base_model.model." + l.name() + ".lora_A.weight").toArray()))
                        .as("%s lora_A grad", l.name()).isLessThan(1e-4);
                assertThat(LoraReferenceTestAccess.relativeError(l.gradB(), grads.tensor("base_model.model." + l.name() + ".lora_B.weight").toArray()))
                        .as("%s lora_B grad", l.name()).isLessThan(1e-4);
            }
            for (LoraLinear l : modules.values()) l.setTraining(false, null);
            assertThat(bert.hiddenPacked(ids, ty, pos, start)).containsExactly(pass.hidden()); // the inference pass computes the same
        }
    }
}
