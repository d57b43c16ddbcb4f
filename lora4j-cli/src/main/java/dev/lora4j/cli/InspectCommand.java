package dev.lora4j.cli;

import dev.lora4j.io.SafeTensors;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.Transformer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Architecture, parameter count, dtypes and tensor table of a checkpoint.")
final class InspectCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;

    @Option(names = "--no-tensors", description = "Leave out the tensor table.")
    boolean noTensors;

    @Option(names = "--json", description = "Print one JSON object instead (architecture, parameters, dtypes, tensors).")
    boolean json;

    static String describe(ModelConfig.NormKind n) {
        return switch (n) {
            case ModelConfig.LayerNormKind l -> "LayerNorm (eps " + l.eps() + ")";
            case ModelConfig.RmsNormKind r -> "RMSNorm (eps " + r.eps() + ")";
        };
    }

    static String describe(ModelConfig.PositionKind p) {
        return switch (p) {
            case ModelConfig.LearnedPositions l -> "learned";
            case ModelConfig.Rotary r -> "rotary (theta " + r.theta() + (r.scaling() == null ? "" : ", Llama 3 scaling factor " + r.scaling().factor())
                    + (r.longRope() == null ? "" : ", LongRoPE from " + r.longRope().originalMaxPositions() + " positions") + ")";
        };
    }

    static String describe(ModelConfig.MlpKind m) {
        return switch (m) {
            case ModelConfig.GeluMlp g -> "GELU";
            case ModelConfig.SwiGluMlp g -> "SwiGLU";
        };
    }

    @Override
    public Integer call() throws Exception {
        try (Transformer m = Transformer.load(model)) {
            ModelConfig c = m.config();
            if (json) {
                printJson(m, c);
                return 0;
            }
            System.out.printf(Locale.ROOT, "model        %s%n", model);
            System.out.printf(Locale.ROOT, "architecture %s: %d layers, width %d, %d heads (%d key/value heads, head size %d), MLP %d, vocabulary %d, %d positions%n",
                    c.modelType(), c.layers(), c.dim(), c.heads(), c.kvHeads(), c.headDim(), c.hidden(), c.vocabSize(), c.maxPositions());
            System.out.printf(Locale.ROOT, "parts        norm %s, positions %s, MLP %s, head %s%s%n", describe(c.norm()), describe(c.positions()), describe(c.mlp()),
                    c.tiedHead() ? "tied to embeddings" : "separate", c.slidingWindow() > 0 ? ", sliding window " + c.slidingWindow() : "");
            System.out.printf(Locale.ROOT, "parameters   %,d%n", m.parameterCount());
            Map<String, Long> dtypes = new TreeMap<>();
            Map<String, SafeTensors.Entry> all = new TreeMap<>();
            for (SafeTensors f : files(m))
                for (SafeTensors.Entry e : f.entries().values()) {
                    dtypes.merge(e.dtype().name(), e.numel(), Long::sum);
                    all.put(e.name(), e);
                }
            StringBuilder sb = new StringBuilder();
            dtypes.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ", ").append(k).append(String.format(Locale.ROOT, " %,d", v)));
            System.out.printf(Locale.ROOT, "dtypes       %s (%d tensors in %d file%s)%n", sb, all.size(), files(m).size(),
                    files(m).size() == 1 ? "" : "s");
            if (!noTensors) {
                int w = all.keySet().stream().mapToInt(String::length).max().orElse(4);
                System.out.printf(Locale.ROOT, "%n%-" + w + "s  %-5s  %-16s  %s%n", "tensor", "dtype", "shape", "elements");
                for (SafeTensors.Entry e : all.values())
                    System.out.printf(Locale.ROOT, "%-" + w + "s  %-5s  %-16s  %,d%n", e.name(), e.dtype(), Arrays.toString(e.shape()), e.numel());
            }
        }
        return 0;
    }

    /** The safetensors files of a checkpoint directory (none for a GGUF file). */
    private static java.util.List<SafeTensors> files(Transformer m) {
        return m.source() instanceof dev.lora4j.io.ModelFiles mf ? mf.files() : java.util.List.of();
    }

    private void printJson(Transformer m, ModelConfig c) throws com.fasterxml.jackson.core.JsonProcessingException {
        var om = new com.fasterxml.jackson.databind.ObjectMapper();
        var o = om.createObjectNode();
        o.put("model", model.toString());
        o.put("model_type", c.modelType());
        o.put("layers", c.layers()).put("hidden_size", c.dim()).put("heads", c.heads()).put("kv_heads", c.kvHeads()).put("head_dim", c.headDim());
        o.put("intermediate_size", c.hidden()).put("vocab_size", c.vocabSize()).put("max_positions", c.maxPositions());
        o.put("norm", describe(c.norm())).put("positions", describe(c.positions())).put("mlp", describe(c.mlp()));
        o.put("tied_head", c.tiedHead()).put("sliding_window", c.slidingWindow()).put("parameters", m.parameterCount());
        var dtypes = o.putObject("dtypes");
        var tensors = o.putArray("tensors");
        Map<String, SafeTensors.Entry> all = new TreeMap<>();
        for (SafeTensors f : files(m)) all.putAll(f.entries());
        Map<String, Long> byDtype = new TreeMap<>();
        for (SafeTensors.Entry e : all.values()) {
            byDtype.merge(e.dtype().name(), e.numel(), Long::sum);
            if (noTensors) continue;
            var t = tensors.addObject().put("name", e.name()).put("dtype", e.dtype().name()).put("elements", e.numel());
            var shape = t.putArray("shape");
            for (int d : e.shape()) shape.add(d);
        }
        byDtype.forEach(dtypes::put);
        System.out.println(om.writeValueAsString(o));
    }
}
