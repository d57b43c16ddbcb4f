package dev.lora4j.ia3;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.lora.LoraConfig;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;
import dev.lora4j.train.Parameter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * A base model with IA³ vectors on its target modules ({@link Ia3Linear}), and the vectors in PEFT's files:
 * adapter_config.json with peft_type IA3, and adapter_model.safetensors with {@code base_model.model.<module>.ia3_l}
 * shaped (out, 1), or (1, in) for a feed-forward module, as PEFT's IA3 layers hold them.
 */
public final class Ia3Model {
    private static final String PREFIX = "base_model.model.", SUFFIX = ".ia3_l";

    private final Transformer base, model;
    private final Ia3Config config;
    private final Map<String, Ia3Linear> modules;

    private Ia3Model(Transformer base, Transformer model, Ia3Config config, Map<String, Ia3Linear> modules) {
        this.base = base;
        this.model = model;
        this.config = config;
        this.modules = modules;
    }

    /** Vectors of ones on every module config targets: the model computes exactly what base does. */
    public static Ia3Model inject(Transformer base, Ia3Config config) {
        return wrap(base, config, (lin, ff) -> {
            float[] ones = new float[ff ? lin.in() : lin.out()];
            Arrays.fill(ones, 1f);
            return ones;
        });
    }

    private interface Vectors {
        float[] of(Linear lin, boolean feedforward);
    }

    private static Ia3Model wrap(Transformer base, Ia3Config config, Vectors vectors) {
        List<String> names = LoraModel.moduleNames(base);
        for (String f : config.feedforward())
            if (names.stream().noneMatch(m -> (m.equals(f) || m.endsWith("." + f)) && config.adapts(m)))
                throw new Lora4jException("IA³ feed-forward module '" + f + "' is not among the target modules");
        Map<String, Ia3Linear> modules = new LinkedHashMap<>();
        Transformer adapted = base.mapProjections(p -> {
            if (!config.adapts(p.name())) return p;
            if (!(p instanceof Linear lin)) throw new Lora4jException(p.name() + ": IA³ goes on a plain linear of the base, not on one already adapted");
            boolean ff = config.isFeedforward(lin.name());
            Ia3Linear l = new Ia3Linear(lin, ff, vectors.of(lin, ff));
            modules.put(lin.name(), l);
            return l;
        });
        if (modules.isEmpty())
            throw new Lora4jException("IA³ targets match no module of this model (its modules look like " + LoraModel.moduleNames(base).getFirst() + ")");
        return new Ia3Model(base, adapted, config, modules);
    }

    public Transformer base() {
        return base;
    }

    public Transformer model() {
        return model;
    }

    public Ia3Config config() {
        return config;
    }

    public Map<String, Ia3Linear> modules() {
        return modules;
    }

    /** Every vector and its gradient, named module.ia3_l. */
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        for (Ia3Linear l : modules.values()) out.add(new Parameter(l.name() + SUFFIX, l.scale(), l.grad()));
        return out;
    }

    public long trainableParameters() {
        return modules.values().stream().mapToLong(l -> l.scale().length).sum();
    }

    /** PEFT's print_trainable_parameters line. */
    public String trainableLine() {
        long all = base.parameterCount() + trainableParameters();
        return String.format(Locale.ROOT, "IA³ on %d modules: trainable params: %,d || all params: %,d || trainable%%: %.4f",
                modules.size(), trainableParameters(), all, 100.0 * trainableParameters() / all);
    }

    /** The merged weights (and biases) by checkpoint tensor name: what PEFT's merge_and_unload writes. */
    public Map<String, float[]> mergedWeights() {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Ia3Linear l : modules.values()) {
            float[][] wb = l.merged();
            out.put(l.base().weight().name(), wb[0]);
            if (wb[1] != null && !l.feedforward()) out.put(l.base().biasName(), wb[1]);
        }
        return out;
    }

    /** The base with the vectors folded into its weights (the base itself untouched, so unmerging is going back to it). */
    public Transformer merged() {
        Map<String, float[]> m = mergedWeights();
        return base.mapProjections(p -> {
            Linear l = p.base();
            float[] w = m.get(l.weight().name());
            return w == null ? l : new Linear(l.name(), Tensor.of(l.weight().name(), w, l.weight().shape()), m.getOrDefault(l.biasName(), l.bias()),
                    l.in(), l.out(), l.fanInFanOut());
        });
    }

    // ------------------------------------------------------------------ files

    public void save(Path dir, String baseModel) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Ia3Linear l : modules.values()) {
            int n = l.scale().length;
            tensors.put(PREFIX + l.name() + SUFFIX, Tensor.of(l.name() + SUFFIX, l.scale(), l.feedforward() ? new int[] {1, n} : new int[] {n, 1}));
        }
        SafeTensorsWriter.write(dir.resolve(PeftAdapter.WEIGHTS), tensors, DType.F32, Map.of("format", "pt"));
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode o = json.createObjectNode();
        o.put("peft_type", "IA3").put("task_type", "CAUSAL_LM").put("base_model_name_or_path", baseModel);
        switch (config.targets()) {
            case LoraConfig.TargetList list -> new TreeSet<>(list.names()).forEach(o.putArray("target_modules")::add);
            case LoraConfig.TargetRegex r -> o.put("target_modules", r.regex());
            case LoraConfig.AllLinear a -> o.put("target_modules", "all-linear");
        }
        ArrayNode ff = o.putArray("feedforward_modules");
        new TreeSet<>(config.feedforward()).forEach(ff::add);
        o.put("fan_in_fan_out", base.config().modelType().equals("gpt2")).put("init_ia3_weights", true);
        o.putNull("modules_to_save");
        o.put("inference_mode", true);
        AtomicFiles.writeString(dir.resolve(PeftAdapter.CONFIG), json.writeValueAsString(o) + "\n");
    }

    public static Ia3Config readConfig(Path dir) {
        Path file = dir.resolve(PeftAdapter.CONFIG);
        JsonNode c = ModelFiles.readJson(file);
        if (!c.path("peft_type").asText("").equals("IA3")) throw new Lora4jException(file + ": peft_type must be IA3, got " + c.get("peft_type"));
        for (JsonNode m : c.path("modules_to_save")) throw new Lora4jException(file + ": modules_to_save '" + m.asText() + "' is not supported");
        JsonNode tm = c.get("target_modules");
        LoraConfig.Targets targets;
        if (tm != null && tm.isArray()) {
            List<String> names = new ArrayList<>();
            tm.forEach(n -> names.add(n.asText()));
            targets = new LoraConfig.TargetList(names);
        } else if (tm != null && tm.isTextual()) {
            try {
                targets = tm.asText().equals("all-linear") ? new LoraConfig.AllLinear() : new LoraConfig.TargetRegex(tm.asText());
            } catch (Lora4jException e) {
                throw new Lora4jException(file + ": target_modules: " + e.getMessage());
            }
        } else throw new Lora4jException(file + ": target_modules must be a list or a string, got " + tm);
        JsonNode fm = c.path("feedforward_modules");
        List<String> ff = new ArrayList<>();
        if (fm.isArray()) fm.forEach(n -> ff.add(n.asText()));
        else if (fm.isTextual()) ff.add(fm.asText());
        else if (!fm.isMissingNode() && !fm.isNull()) throw new Lora4jException(file + ": feedforward_modules must be a list or a string, got " + fm);
        return new Ia3Config(targets, ff);
    }

    /** An IA³ adapter in PEFT's files over base, every vector's name and shape checked. */
    public static Ia3Model load(Path dir, Transformer base) {
        Ia3Config config = readConfig(dir);
        Path file = dir.resolve(PeftAdapter.WEIGHTS);
        if (!Files.isRegularFile(file)) throw new Lora4jException(file + ": file not found");
        try (SafeTensors st = SafeTensors.open(file)) {
            Map<String, String> keyOf = new LinkedHashMap<>();
            for (String key : st.entries().keySet()) {
                String module = key.startsWith(PREFIX) && key.endsWith(SUFFIX) ? key.substring(PREFIX.length(), key.length() - SUFFIX.length())
                        : key.startsWith(PREFIX) && key.endsWith(SUFFIX + ".default") ? key.substring(PREFIX.length(), key.length() - SUFFIX.length() - 8) : null;
                if (module == null) throw new Lora4jException(file + ": tensor '" + key + "' is not an IA³ vector (expected base_model.model.<module>.ia3_l)");
                if (keyOf.put(module, key) != null) throw new Lora4jException(file + ": holds two vectors for " + module);
            }
            Ia3Model m = wrap(base, config, (lin, ff) -> {
                String key = keyOf.get(lin.name());
                if (key == null) throw new Lora4jException(file + ": missing " + PREFIX + lin.name() + SUFFIX + " (adapter_config.json targets this module)");
                int n = ff ? lin.in() : lin.out();
                int[] want = ff ? new int[] {1, n} : new int[] {n, 1}, shape = st.entry(key).shape();
                if (!Arrays.equals(shape, want) && !Arrays.equals(shape, new int[] {n}))
                    throw new Lora4jException(file + ": tensor '" + key + "' has shape " + Arrays.toString(shape) + ", expected " + Arrays.toString(want)
                            + " for " + lin.name() + (ff ? " (a feed-forward module: its input is scaled)" : ""));
                float[] v = st.tensor(key).toArray().clone();
                for (float x : v) if (!Float.isFinite(x)) throw new Lora4jException(file + ": tensor '" + key + "' holds " + x);
                return v;
            });
            for (String module : keyOf.keySet())
                if (!m.modules.containsKey(module))
                    throw new Lora4jException(file + ": holds a vector for '" + module + "', which adapter_config.json does not target");
            return m;
        }
    }
}
