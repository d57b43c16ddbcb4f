package dev.lora4j.prompt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * The files of PEFT's prompt-learning methods (prompt and prefix tuning): adapter_config.json with the fields they share,
 * and adapter_model.safetensors holding one tensor, {@code prompt_embeddings} (n, width).
 */
final class PromptLearningFiles {
    static final String KEY = "prompt_embeddings";

    private PromptLearningFiles() {}

    /** adapter_config.json's shared fields, in PEFT's order; the caller adds its own, then {@link #write}. */
    static ObjectNode config(String peftType, String baseModel, int n, int tokenDim, int heads, int layers) {
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("peft_type", peftType).put("task_type", "CAUSAL_LM").put("base_model_name_or_path", baseModel);
        o.put("num_virtual_tokens", n).put("token_dim", tokenDim).put("num_transformer_submodules", 1).put("num_attention_heads", heads).put("num_layers", layers);
        return o;
    }

    /** Writes the table (n, width) and the configuration (inference_mode added last) into dir. */
    static void write(Path dir, float[] table, int n, int width, ObjectNode config) throws IOException {
        Files.createDirectories(dir);
        SafeTensorsWriter.write(dir.resolve(PeftAdapter.WEIGHTS), Map.of(KEY, Tensor.of(KEY, table, new int[] {n, width})), DType.F32, Map.of("format", "pt"));
        config.put("inference_mode", true);
        AtomicFiles.writeString(dir.resolve(PeftAdapter.CONFIG), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(config) + "\n");
    }

    /** dir's adapter_config.json, checked: peft_type, a causal LM's task, one transformer submodule, num_virtual_tokens. */
    static JsonNode readConfig(Path dir, String peftType) {
        Path file = dir.resolve(PeftAdapter.CONFIG);
        JsonNode c = ModelFiles.readJson(file);
        if (!c.path("peft_type").asText("").equals(peftType)) throw new Lora4jException(file + ": peft_type must be " + peftType + ", got " + c.get("peft_type"));
        if (!c.path("task_type").asText("CAUSAL_LM").equals("CAUSAL_LM"))
            throw new Lora4jException(file + ": task_type " + c.get("task_type") + " is not supported (expected CAUSAL_LM)");
        JsonNode sub = c.get("num_transformer_submodules");
        if (sub != null && !sub.isNull() && sub.asInt() != 1)
            throw new Lora4jException(file + ": num_transformer_submodules " + sub + " (an encoder-decoder model's) is not supported; a decoder has 1");
        positive(dir, c, "num_virtual_tokens");
        return c;
    }

    /** A field of dir's adapter_config.json c that must be a positive integer. */
    static int positive(Path dir, JsonNode c, String field) {
        JsonNode v = c.get(field);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 1)
            throw new Lora4jException(dir.resolve(PeftAdapter.CONFIG) + ": " + field + " must be a positive integer, got " + v);
        return v.asInt();
    }

    /**
     * The table (n, width) of dir's adapter_model.safetensors, its name, shape (what: how width is made, for the message)
     * and values checked; n must leave room in a context of maxPositions.
     */
    static float[] readTable(Path dir, int n, int width, String what, int maxPositions) {
        if (n >= maxPositions)
            throw new Lora4jException(dir.resolve(PeftAdapter.CONFIG) + ": " + n + " virtual tokens leave no room in the model's context of " + maxPositions);
        Path file = dir.resolve(PeftAdapter.WEIGHTS);
        if (!Files.isRegularFile(file)) throw new Lora4jException(file + ": file not found");
        try (SafeTensors st = SafeTensors.open(file)) {
            if (!st.entries().containsKey(KEY) || st.entries().size() != 1)
                throw new Lora4jException(file + ": a prompt- or prefix-tuning adapter holds one tensor, '" + KEY + "'; found " + st.entries().keySet());
            int[] shape = st.entry(KEY).shape(), want = {n, width};
            if (!Arrays.equals(shape, want))
                throw new Lora4jException(file + ": tensor '" + KEY + "' has shape " + Arrays.toString(shape) + ", expected " + Arrays.toString(want)
                        + " (num_virtual_tokens × " + what + ")");
            float[] t = st.tensor(KEY).toArray().clone();
            for (float x : t) if (!Float.isFinite(x)) throw new Lora4jException(file + ": tensor '" + KEY + "' holds " + x);
            return t;
        }
    }
}
