package dev.lora4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.tensor.Tensor;

import java.nio.file.Path;

/**
 * Where a model's weights come from, by their Hugging Face names: a checkpoint directory
 * ({@link ModelFiles}) or a GGUF file read as one ({@code GgufWeights}). Keeps the mapping alive until closed.
 */
public interface WeightSource extends AutoCloseable {
    /** The checkpoint directory, or the GGUF file. */
    Path dir();

    /** The model's configuration as config.json holds it. */
    JsonNode config();

    boolean has(String name);

    /** The tensor, checked to have exactly the expected shape (outermost first). */
    Tensor tensor(String name, int... shape);

    /** The first NaN or infinite weight, as "tensor[index] = value", or null when every weight is finite. */
    String firstNonFinite();

    @Override
    void close();
}
