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
            case ModelConfig.RmsNormKind r -> "RMSNorm (eps " + r.eps() + (r.offset() == 0f ? "" : ", weight stored as gain − " + r.offset()) + ")";
        };
    }

    static String describe(ModelConfig.PositionKind p) {
        return switch (p) {
            case ModelConfig.LearnedPositions l -> "learned";
            case ModelConfig.Rotary r -> "rotary (theta " + r.theta() + (r.scaling() == null ? "" : ", Llama 3 scaling factor " + r.scaling().factor())
                    + (r.longRope() == null ? "" : ", LongRoPE from " + r.longRope().originalMaxPositions() + " positions")
                    + (r.linearFactor() == 1.0 ? "" : ", linear scaling factor " + r.linearFactor()) + ")";
        };
    }

    /** Gemma's departures from the Llama block, or "" for other models. */
    static String describe(ModelConfig c) {
        ModelConfig.Gemma g = c.gemma();
        if (g == ModelConfig.Gemma.NONE) return "";
        java.util.List<String> parts = new java.util.ArrayList<>();
        parts.add(String.format(Locale.ROOT, "embeddings × %.4f", g.embeddingScale()));
        if (g.queryScale() != 0f) parts.add(String.format(Locale.ROOT, "scores × %.6f", g.queryScale()));
        if (g.attentionSoftcap() != 0f) parts.add("attention soft cap " + g.attentionSoftcap());
        if (g.logitSoftcap() != 0f) parts.add("logit soft cap " + g.logitSoftcap());
        if (g.sandwichNorms()) parts.add("norms before and after attention and MLP");
        if (g.slidingLayers() != null) {
            int n = 0;
            for (boolean b : g.slidingLayers()) if (b) n++;
            parts.add(n + " of " + c.layers() + " layers sliding-window");
        }
        if (g.localRope() != null) parts.add("sliding layers' rotary theta " + g.localRope().theta());
        return String.join(", ", parts);
    }

    static String describe(ModelConfig.MlpKind m) {
        return switch (m) {
            case ModelConfig.GeluMlp g -> "GELU";
            case ModelConfig.SwiGluMlp g -> "SwiGLU";
            case ModelConfig.GeGluMlp g -> "GeGLU (gelu_tanh)";
        };
    }

    @Override
    public Integer call() throws Exception {
        if (java.nio.file.Files.isDirectory(model) && java.nio.file.Files.exists(model.resolve("config.json"))
                && dev.lora4j.io.ModelFiles.readJson(model.resolve("config.json")).path("model_type").asText("").matches("bert|roberta|xlm-roberta"))
            return inspectEncoder();
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
            String gemma = describe(c);
            if (!gemma.isEmpty()) System.out.printf(Locale.ROOT, "gemma        %s%n", gemma);
            System.out.printf(Locale.ROOT, "parameters   %,d%n", m.parameterCount());
            Map<String, Long> dtypes = new TreeMap<>();
            Map<String, Stored> all = stored(m);
            for (Stored e : all.values()) dtypes.merge(e.dtype(), e.numel(), Long::sum);
            StringBuilder sb = new StringBuilder();
            dtypes.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ", ").append(k).append(String.format(Locale.ROOT, " %,d", v)));
            int files = m.source() instanceof dev.lora4j.io.ModelFiles mf ? mf.files().size() : 1;
            System.out.printf(Locale.ROOT, "dtypes       %s (%d tensors in %d file%s)%n", sb, all.size(), files, files == 1 ? "" : "s");
            if (!noTensors) {
                int w = all.keySet().stream().mapToInt(String::length).max().orElse(4);
                System.out.printf(Locale.ROOT, "%n%-" + w + "s  %-5s  %-16s  %s%n", "tensor", "dtype", "shape", "elements");
                for (Stored e : all.values())
                    System.out.printf(Locale.ROOT, "%-" + w + "s  %-5s  %-16s  %,d%n", e.name(), e.dtype(), Arrays.toString(e.shape()), e.numel());
            }
        }
        return 0;
    }

    /** A BERT-family encoder: its shape and pooling (the tensor table as for decoders). */
    private int inspectEncoder() throws Exception {
        try (dev.lora4j.encoder.Bert b = dev.lora4j.encoder.Bert.load(model); dev.lora4j.io.ModelFiles mf = dev.lora4j.io.ModelFiles.open(model)) {
            dev.lora4j.encoder.BertConfig c = b.config();
            long params = 0;
            for (String n : mf.names()) params += mf.entry(n).numel();
            if (json) {
                com.fasterxml.jackson.databind.node.ObjectNode o = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode();
                o.put("model", model.toString()).put("model_type", c.modelType()).put("layers", c.layers()).put("hidden_size", c.dim())
                        .put("heads", c.heads()).put("intermediate_size", c.hidden()).put("vocab_size", c.vocabSize())
                        .put("max_positions", c.maxLength()).put("pooling", c.pooling().name().toLowerCase(Locale.ROOT))
                        .put("normalize", c.normalize()).put("parameters", params);
                System.out.println(o);
                return 0;
            }
            System.out.printf(Locale.ROOT, "model        %s%n", model);
            System.out.printf(Locale.ROOT, "architecture %s (encoder): %d layers, width %d, %d heads (head size %d), MLP %d, vocabulary %d, %d positions, %d token types%n",
                    c.modelType(), c.layers(), c.dim(), c.heads(), c.headDim(), c.hidden(), c.vocabSize(), c.maxLength(), c.typeVocabSize());
            System.out.printf(Locale.ROOT, "parts        LayerNorm (eps %s) after each half, exact GELU, bidirectional attention; sentence vectors: %s pooling%s%n",
                    c.layerNormEps(), c.pooling().name().toLowerCase(Locale.ROOT), c.normalize() ? ", normalised" : "");
            System.out.printf(Locale.ROOT, "parameters   %,d%n", params);
            if (!noTensors)
                for (String n : new java.util.TreeSet<>(mf.names()))
                    System.out.printf(Locale.ROOT, "%s  %s%n", n, Arrays.toString(mf.entry(n).shape()));
        }
        return 0;
    }

    /** A tensor as its file stores it: name, dtype (safetensors' or ggml's), shape outermost first. */
    private record Stored(String name, String dtype, long[] shape, long numel) {}

    /** The stored tensors of a checkpoint directory's safetensors files, or of a GGUF file, by name. */
    private static Map<String, Stored> stored(Transformer m) {
        Map<String, Stored> all = new TreeMap<>();
        if (m.source() instanceof dev.lora4j.io.ModelFiles mf) {
            for (SafeTensors f : mf.files())
                for (SafeTensors.Entry e : f.entries().values())
                    all.put(e.name(), new Stored(e.name(), e.dtype().name(), Arrays.stream(e.shape()).asLongStream().toArray(), e.numel()));
        } else if (m.source() instanceof dev.lora4j.io.gguf.GgufWeights g) {
            for (var t : g.file().tensors().values()) {
                long[] shape = new long[t.dims().length];
                for (int i = 0; i < shape.length; i++) shape[i] = t.dims()[shape.length - 1 - i];
                all.put(t.name(), new Stored(t.name(), t.type().name(), shape, t.numel()));
            }
        }
        return all;
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
        if (!describe(c).isEmpty()) o.put("gemma", describe(c));
        var dtypes = o.putObject("dtypes");
        var tensors = o.putArray("tensors");
        Map<String, Long> byDtype = new TreeMap<>();
        for (Stored e : stored(m).values()) {
            byDtype.merge(e.dtype(), e.numel(), Long::sum);
            if (noTensors) continue;
            var t = tensors.addObject().put("name", e.name()).put("dtype", e.dtype()).put("elements", e.numel());
            var shape = t.putArray("shape");
            for (long d : e.shape()) shape.add(d);
        }
        byDtype.forEach(dtypes::put);
        System.out.println(om.writeValueAsString(o));
    }
}
