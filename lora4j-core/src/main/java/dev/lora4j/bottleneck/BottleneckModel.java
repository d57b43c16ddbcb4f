package dev.lora4j.bottleneck;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * A base model with Houlsby bottleneck adapters after its target modules ({@link BottleneckLinear}). PEFT has no such
 * method, so the files are lora4j's own, in PEFT's layout: adapter_config.json with peft_type BOTTLENECK,
 * bottleneck_size and target_modules, and adapter_model.safetensors with
 * {@code base_model.model.<module>.adapter_down.weight} (m, d), {@code .adapter_down.bias} (m),
 * {@code .adapter_up.weight} (d, m) and {@code .adapter_up.bias} (d).
 */
public final class BottleneckModel {
    private static final String PREFIX = "base_model.model.";
    private static final List<String> PARTS = List.of(".adapter_down.weight", ".adapter_down.bias", ".adapter_up.weight", ".adapter_up.bias");

    private final Transformer base, model;
    private final BottleneckConfig config;
    private final Map<String, BottleneckLinear> modules;

    private BottleneckModel(Transformer base, Transformer model, BottleneckConfig config, Map<String, BottleneckLinear> modules) {
        this.base = base;
        this.model = model;
        this.config = config;
        this.modules = modules;
    }

    private interface Tensors {
        /** {D, b_D, U, b_U} of the adapter after lin. */
        float[][] of(Linear lin);
    }

    /** Fresh adapters: D drawn from N(0, 0.01²) as Houlsby et al. start them, b_D, U, b_U zero, so the model computes what base does. */
    public static BottleneckModel inject(Transformer base, BottleneckConfig config, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int m = config.size();
        return wrap(base, config, lin -> {
            float[] down = new float[m * lin.out()];
            for (int i = 0; i < down.length; i++) down[i] = (float) (rng.nextGaussian() * 0.01);
            return new float[][] {down, new float[m], new float[lin.out() * m], new float[lin.out()]};
        });
    }

    private static BottleneckModel wrap(Transformer base, BottleneckConfig config, Tensors tensors) {
        Map<String, BottleneckLinear> modules = new LinkedHashMap<>();
        Transformer adapted = base.mapProjections(p -> {
            if (!config.targets().matches(p.name())) return p;
            if (!(p instanceof Linear lin)) throw new Lora4jException(p.name() + ": a bottleneck adapter goes after a plain linear of the base, not one already adapted");
            float[][] t = tensors.of(lin);
            BottleneckLinear b = new BottleneckLinear(lin, config.size(), t[0], t[1], t[2], t[3]);
            modules.put(lin.name(), b);
            return b;
        });
        if (modules.isEmpty())
            throw new Lora4jException("bottleneck-adapter targets match no module of this model (its modules look like " + LoraModel.moduleNames(base).getFirst() + ")");
        return new BottleneckModel(base, adapted, config, modules);
    }

    public Transformer base() {
        return base;
    }

    public Transformer model() {
        return model;
    }

    public BottleneckConfig config() {
        return config;
    }

    public Map<String, BottleneckLinear> modules() {
        return modules;
    }

    /** D, b_D, U and b_U of every adapter with their gradients, named as in the file (without the prefix). */
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        for (BottleneckLinear b : modules.values()) {
            float[][] v = {b.down, b.downBias, b.up, b.upBias}, g = {b.gDown, b.gDownBias, b.gUp, b.gUpBias};
            for (int i = 0; i < 4; i++) out.add(new Parameter(b.name() + PARTS.get(i), v[i], g[i]));
        }
        return out;
    }

    public long trainableParameters() {
        return parameters().stream().mapToLong(p -> p.value().length).sum();
    }

    public String trainableLine() {
        long all = base.parameterCount() + trainableParameters();
        return String.format(Locale.ROOT, "bottleneck adapters (size %d) after %d modules: trainable params: %,d || all params: %,d || trainable%%: %.4f",
                config.size(), modules.size(), trainableParameters(), all, 100.0 * trainableParameters() / all);
    }

    // ------------------------------------------------------------------ files

    public void save(Path dir, String baseModel) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (BottleneckLinear b : modules.values()) {
            int m = b.size(), d = b.out();
            tensors.put(PREFIX + b.name() + PARTS.get(0), Tensor.of(b.name() + PARTS.get(0), b.down, m, d));
            tensors.put(PREFIX + b.name() + PARTS.get(1), Tensor.of(b.name() + PARTS.get(1), b.downBias, m));
            tensors.put(PREFIX + b.name() + PARTS.get(2), Tensor.of(b.name() + PARTS.get(2), b.up, d, m));
            tensors.put(PREFIX + b.name() + PARTS.get(3), Tensor.of(b.name() + PARTS.get(3), b.upBias, d));
        }
        SafeTensorsWriter.write(dir.resolve(PeftAdapter.WEIGHTS), tensors, DType.F32, Map.of("format", "pt"));
        ObjectNode o = new ObjectMapper().createObjectNode();
        o.put("peft_type", "BOTTLENECK").put("task_type", "CAUSAL_LM").put("base_model_name_or_path", baseModel);
        o.put("bottleneck_size", config.size()).put("non_linearity", "gelu");
        if (!(config.targets() instanceof LoraConfig.TargetList list)) throw new IllegalStateException("bottleneck targets are a list");
        new TreeSet<>(list.names()).forEach(o.putArray("target_modules")::add);
        o.put("format", "lora4j (Houlsby bottleneck adapters; PEFT has no such method)");
        AtomicFiles.writeString(dir.resolve(PeftAdapter.CONFIG), new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(o) + "\n");
    }

    public static BottleneckModel load(Path dir, Transformer base) {
        Path cfgFile = dir.resolve(PeftAdapter.CONFIG), file = dir.resolve(PeftAdapter.WEIGHTS);
        JsonNode c = ModelFiles.readJson(cfgFile);
        JsonNode size = c.get("bottleneck_size");
        if (size == null || !size.canConvertToInt() || size.asInt() < 1) throw new Lora4jException(cfgFile + ": bottleneck_size must be a positive integer, got " + size);
        if (!c.path("target_modules").isArray()) throw new Lora4jException(cfgFile + ": target_modules must be a list");
        if (!c.path("non_linearity").asText("gelu").equals("gelu")) throw new Lora4jException(cfgFile + ": non_linearity must be gelu, got " + c.get("non_linearity"));
        List<String> names = new ArrayList<>();
        c.get("target_modules").forEach(n -> names.add(n.asText()));
        BottleneckConfig config = new BottleneckConfig(size.asInt(), new LoraConfig.TargetList(names));
        if (!Files.isRegularFile(file)) throw new Lora4jException(file + ": file not found");
        try (SafeTensors st = SafeTensors.open(file)) {
            int m = config.size();
            BottleneckModel model = wrap(base, config, lin -> {
                int d = lin.out();
                int[][] shapes = {{m, d}, {m}, {d, m}, {d}};
                float[][] out = new float[4][];
                for (int i = 0; i < 4; i++) {
                    String key = PREFIX + lin.name() + PARTS.get(i);
                    if (!st.has(key)) throw new Lora4jException(file + ": missing " + key + " (adapter_config.json targets this module)");
                    if (!java.util.Arrays.equals(st.entry(key).shape(), shapes[i]))
                        throw new Lora4jException(file + ": tensor '" + key + "' has shape " + java.util.Arrays.toString(st.entry(key).shape()) + ", expected "
                                + java.util.Arrays.toString(shapes[i]) + " (bottleneck_size " + m + " after " + lin.name() + ")");
                    out[i] = st.tensor(key).toArray().clone();
                }
                return out;
            });
            if (st.entries().size() != 4 * model.modules.size())
                throw new Lora4jException(file + ": holds " + st.entries().size() + " tensors; adapter_config.json's targets take " + 4 * model.modules.size());
            return model;
        }
    }
}
