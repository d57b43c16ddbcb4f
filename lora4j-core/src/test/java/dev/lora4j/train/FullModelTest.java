package dev.lora4j.train;

import dev.lora4j.TestPaths;
import dev.lora4j.data.Batch;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Full fine-tuning gradients of every weight (linears, biases, norms, embeddings, tied and untied
 * heads) against PyTorch autograd, and the saved checkpoint loading back as the same model.
 */
class FullModelTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-plain", "llama-gqa", "qwen3-qknorm", "phi3-fused", "gemma2-softcap", "gemma3-local-global"})
    void gradientsMatchAutograd(String name) throws IOException {
        Path dir = TestPaths.fixture(name);
        var ref = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("reference.json").toFile());
        List<int[]> rows = new ArrayList<>();
        for (var row : ref.get("input_ids")) rows.add(new com.fasterxml.jackson.databind.ObjectMapper().convertValue(row, int[].class));
        int b = rows.size(), t = rows.getFirst().length;
        try (Transformer base = Transformer.load(dir); SafeTensors grads = SafeTensors.open(dir.resolve("full_grads.safetensors"))) {
            FullModel full = FullModel.of(base);
            Batch batch = Batch.of(rows, 0, b, t);
            full.zeroGrad();
            full.model().loss(batch.tokens(), batch.targets(), b, t, new Activations(base.config(), b, t, true), 1f / batch.targetCount());
            assertThat(full.parameters()).extracting(Parameter::name).containsExactlyInAnyOrderElementsOf(grads.entries().keySet());
            for (Parameter p : full.parameters()) {
                float[] expected = grads.tensor(p.name()).toArray();
                assertThat(dev.lora4j.lora.LoraReferenceTestAccess.relativeError(p.grad(), expected))
                        .as("relative error of the gradient of %s", p.name()).isLessThan(1e-4);
            }
            // the saved checkpoint is the same model
            full.save(tmp.resolve("ckpt"), dir);
            try (Transformer again = Transformer.load(tmp.resolve("ckpt"))) {
                var act = new Activations(base.config(), b, t, false);
                float[] l1 = base.forward(batch.tokens(), b, t, act), l2 = again.forward(batch.tokens(), b, t, act);
                assertThat(l2).containsExactly(l1);
            }
        }
    }
}
