package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An encoder's LoRA adapter in PEFT's files: adapter_config.json (the task type PEFT would write for the model:
 * FEATURE_EXTRACTION for a BertModel, SEQ_CLS with its classifier in modules_to_save) and adapter_model.safetensors,
 * the LoRA pairs under {@code base_model.model.<module>.lora_A/B.weight} and whole saved modules under
 * {@code base_model.model.<module>.weight/bias}, as PEFT's get_peft_model_state_dict names them. Module names are
 * those of the model PEFT wraps: a BertModel's own ({@code encoder.layer.0...}) for embeddings, a task model's
 * ({@code bert.encoder.layer.0...}, {@code roberta.…}) for classification, whatever prefix the checkpoint's names carry.
 */
final class EncoderAdapter {
    static final String PREFIX = "base_model.model.";

    private EncoderAdapter() {}

    /** A module's name in the model PEFT wraps: its base-model name (the checkpoint's prefix dropped) after wrapped's prefix ("" or "bert."). */
    static String moduleKey(String module, String wrapped) {
        for (String p : List.of("bert.", "roberta.")) if (module.startsWith(p)) return wrapped + module.substring(p.length());
        return wrapped + module;
    }

    /** The adapters' tensors under PEFT's names for a model whose base-model prefix is wrapped, with extra (whole modules) after them. */
    static Map<String, Tensor> tensors(Map<String, LoraLinear> modules, String wrapped, Map<String, Tensor> extra) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (LoraLinear l : modules.values()) {
            String key = PREFIX + moduleKey(l.name(), wrapped);
            tensors.put(key + ".lora_A.weight", Tensor.of(l.name() + ".lora_A", l.a(), l.rank(), l.in()));
            tensors.put(key + ".lora_B.weight", Tensor.of(l.name() + ".lora_B", l.b(), l.out(), l.rank()));
        }
        tensors.putAll(extra);
        return tensors;
    }

    /** Writes the adapter: tensors first, adapter_config.json last, each atomically. */
    static void save(Path dir, LoraConfig config, String taskType, List<String> modulesToSave, String baseModel, Map<String, Tensor> tensors) throws IOException {
        Files.createDirectories(dir);
        SafeTensorsWriter.write(dir.resolve(PeftAdapter.WEIGHTS), tensors, DType.F32, Map.of("format", "pt"));
        ObjectNode o = PeftAdapter.configJson(config, false, baseModel);
        o.put("task_type", taskType);
        if (modulesToSave.isEmpty()) o.putNull("modules_to_save");
        else modulesToSave.forEach(o.putArray("modules_to_save")::add);
        AtomicFiles.writeString(dir.resolve(PeftAdapter.CONFIG), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(o) + "\n");
    }

    /**
     * base with the adapter in dir on it (modules receives its LoRA layers; none when the adapter targets nothing), its
     * A and B read (under the wrapped model's names, or the base model's) and checked; the file must hold exactly those
     * and the keys in extraKeys.
     */
    static Bert load(Bert base, Path dir, Set<String> savable, Map<String, LoraLinear> modules, String wrapped, Set<String> extraKeys) {
        LoraConfig c = PeftAdapter.readConfig(dir, savable);
        boolean none = c.targets() instanceof LoraConfig.TargetList list && list.names().isEmpty();
        Bert adapted = none ? base : base.withLora(c, 0, modules);
        Path file = dir.resolve(PeftAdapter.WEIGHTS);
        try (SafeTensors st = SafeTensors.open(file)) {
            for (LoraLinear l : modules.values())
                for (String part : List.of("lora_A", "lora_B")) {
                    String key = PREFIX + moduleKey(l.name(), wrapped) + "." + part + ".weight";
                    if (!st.has(key)) key = PREFIX + moduleKey(l.name(), "") + "." + part + ".weight";
                    if (!st.has(key)) throw new Lora4jException(file + ": missing " + PREFIX + moduleKey(l.name(), wrapped) + "." + part + ".weight (adapter_config.json targets this module)");
                    float[] dst = part.equals("lora_A") ? l.a() : l.b();
                    float[] src = st.tensor(key).toArray();
                    if (src.length != dst.length)
                        throw new Lora4jException(file + ": " + key + " holds " + src.length + " values, expected " + dst.length + " for " + l.name());
                    System.arraycopy(src, 0, dst, 0, dst.length);
                }
            for (String key : extraKeys) if (!st.has(key)) throw new Lora4jException(file + ": missing " + key);
            int expected = 2 * modules.size() + extraKeys.size();
            if (st.entries().size() != expected)
                throw new Lora4jException(file + ": holds " + st.entries().size() + " tensors; adapter_config.json's targets and saved modules take " + expected);
        }
        return adapted;
    }
}
