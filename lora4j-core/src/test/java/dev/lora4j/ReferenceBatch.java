package dev.lora4j;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.data.Batch;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import dev.lora4j.train.Trainable;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The token ids a fixture's reference.json was computed on, as one batch, and the losses the tests compare with it. */
public record ReferenceBatch(Batch batch, int b, int t) {
    public static JsonNode reference(Path fixtureDir) throws IOException {
        return new ObjectMapper().readTree(fixtureDir.resolve("reference.json").toFile());
    }

    public static ReferenceBatch of(JsonNode ref) {
        List<int[]> rows = new ArrayList<>();
        for (JsonNode row : ref.get("input_ids")) rows.add(new ObjectMapper().convertValue(row, int[].class));
        return new ReferenceBatch(Batch.of(rows, 0, rows.size(), rows.getFirst().length), rows.size(), rows.getFirst().length);
    }

    /** The batch-mean loss, with the backward pass into m's gradients (zeroed first, in training mode). */
    public double lossAndGradients(Trainable m) {
        m.zeroGrad();
        m.setTraining(true, 0);
        Transformer.LossSum ls = m.model().loss(batch.tokens(), batch.targets(), b, t, new Activations(m.model().config(), b, t, true), 1f / batch.targetCount());
        return ls.sum() / ls.count();
    }

    /** The batch-mean loss, forward only. */
    public double loss(Transformer model) {
        return model.loss(batch.tokens(), batch.targets(), b, t, new Activations(model.config(), b, t, false), 0f).sum() / batch.targetCount();
    }
}
