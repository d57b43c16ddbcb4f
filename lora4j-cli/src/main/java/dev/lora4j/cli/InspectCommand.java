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

    @Override
    public Integer call() {
        try (Transformer m = Transformer.load(model)) {
            ModelConfig c = m.config();
            System.out.printf(Locale.ROOT, "model        %s%n", model);
            System.out.printf(Locale.ROOT, "architecture %s: %d layers, width %d, %d heads (%d key/value heads, head size %d), MLP %d, vocabulary %d, %d positions%n",
                    c.modelType(), c.layers(), c.dim(), c.heads(), c.kvHeads(), c.headDim(), c.hidden(), c.vocabSize(), c.maxPositions());
            System.out.printf(Locale.ROOT, "parts        norm %s, positions %s, mlp %s, head %s%s%n", c.norm(), c.positions(), c.mlp(),
                    c.tiedHead() ? "tied to embeddings" : "separate", c.slidingWindow() > 0 ? ", sliding window " + c.slidingWindow() : "");
            System.out.printf(Locale.ROOT, "parameters   %,d%n", m.parameterCount());
            Map<String, Long> dtypes = new TreeMap<>();
            Map<String, SafeTensors.Entry> all = new TreeMap<>();
            for (SafeTensors f : m.source().files())
                for (SafeTensors.Entry e : f.entries().values()) {
                    dtypes.merge(e.dtype().name(), e.numel(), Long::sum);
                    all.put(e.name(), e);
                }
            StringBuilder sb = new StringBuilder();
            dtypes.forEach((k, v) -> sb.append(sb.isEmpty() ? "" : ", ").append(k).append(String.format(Locale.ROOT, " %,d", v)));
            System.out.printf(Locale.ROOT, "dtypes       %s (%d tensors in %d file%s)%n", sb, all.size(), m.source().files().size(),
                    m.source().files().size() == 1 ? "" : "s");
            if (!noTensors) {
                int w = all.keySet().stream().mapToInt(String::length).max().orElse(4);
                System.out.printf(Locale.ROOT, "%n%-" + w + "s  %-5s  %-16s  %s%n", "tensor", "dtype", "shape", "elements");
                for (SafeTensors.Entry e : all.values())
                    System.out.printf(Locale.ROOT, "%-" + w + "s  %-5s  %-16s  %,d%n", e.name(), e.dtype(), Arrays.toString(e.shape()), e.numel());
            }
        }
        return 0;
    }
}
