package dev.lora4j.lora;

import dev.lora4j.Lora4jException;
import dev.lora4j.model.Block;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Projection;
import dev.lora4j.model.Transformer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * A frozen base model with LoRA adapters injected by composition: every targeted projection is
 * wrapped in a {@link LoraLinear} (a DoRA one when the config says use_dora); the base's weights are
 * shared, never copied or changed.
 */
public final class LoraModel {
    private final Transformer base;
    private final Transformer model;
    private final LoraConfig config;
    private final Map<String, LoraLinear> modules;

    private LoraModel(Transformer base, Transformer model, LoraConfig config, Map<String, LoraLinear> modules) {
        this.base = base;
        this.model = model;
        this.config = config;
        this.modules = modules;
    }

    /** Every projection name of a model, in order (what targets can match). */
    public static List<String> moduleNames(Transformer t) {
        List<String> names = new ArrayList<>();
        for (Block b : t.blocks()) for (Projection p : b.projections()) names.add(p.name());
        return names;
    }

    /** Injects freshly initialised adapters (A random, B zero). */
    public static LoraModel inject(Transformer base, LoraConfig config, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        return wrap(base, config, lin -> {
            int r = config.rankFor(lin.name());
            float[] a = new float[r * lin.in()];
            if (config.init() == LoraConfig.Init.KAIMING) {
                double bound = 1.0 / Math.sqrt(lin.in()); // kaiming_uniform(a=√5) on (r, in)
                for (int i = 0; i < a.length; i++) a[i] = (float) rng.nextDouble(-bound, bound);
            } else {
                double std = 1.0 / r;
                for (int i = 0; i < a.length; i++) a[i] = (float) (rng.nextGaussian() * std);
            }
            return new float[][] {a, new float[lin.out() * r]};
        });
    }

    /**
     * Adapters with given factors: {@code weights} returns {A (r, in), B (out, r)} for each adapted linear, and
     * for DoRA optionally m (out) third (else m starts at ‖W0 + s·B·A‖).
     */
    public static LoraModel of(Transformer base, LoraConfig config, Function<Linear, float[][]> weights) {
        return wrap(base, config, weights);
    }

    /**
     * Wraps every module the config adapts; {@code weights} gives {A, B} for a linear.
     * A config that adapts nothing is an error listing the modules that exist.
     */
    static LoraModel wrap(Transformer base, LoraConfig requested, Function<Linear, float[][]> weights) {
        LoraConfig config = requested.withTargetsFor(base.config().modelType());
        Map<String, LoraLinear> modules = new LinkedHashMap<>();
        Transformer adapted = base.mapProjections(p -> {
            if (!config.adapts(p.name())) return p;
            Linear lin = p.base();
            float[][] ab = weights.apply(lin);
            int r = config.rankFor(lin.name());
            float s = (float) config.scaling(lin.name()), p0 = (float) config.dropout();
            LoraLinear l = !config.dora() ? new LoraLinear(lin, r, s, p0, ab[0], ab[1])
                    : ab.length > 2 && ab[2] != null ? new LoraLinear(lin, r, s, p0, ab[0], ab[1], ab[2])
                    : LoraLinear.dora(lin, r, s, p0, ab[0], ab[1]);
            modules.put(lin.name(), l);
            return l;
        });
        if (modules.isEmpty())
            throw new Lora4jException("LoRA targets " + describe(config) + " match no module; the model's modules are: "
                    + String.join(", ", distinctSuffixes(moduleNames(base))) + " (full names like " + moduleNames(base).getFirst() + ")");
        return new LoraModel(base, adapted, config, modules);
    }

    private static String describe(LoraConfig c) {
        return switch (c.targets()) {
            case LoraConfig.TargetList l -> l.names().toString();
            case LoraConfig.TargetRegex r -> "regex '" + r.regex() + "'";
            case LoraConfig.AllLinear a -> "all-linear";
        } + (c.layersToTransform() == null ? "" : " in layers " + c.layersToTransform());
    }

    private static List<String> distinctSuffixes(List<String> names) {
        return names.stream().map(n -> n.replaceAll("^.*\\.\\d+\\.", "")).distinct().toList();
    }

    public Transformer base() {
        return base;
    }

    /** The model with adapters: run forward/backward on this one. */
    public Transformer model() {
        return model;
    }

    public LoraConfig config() {
        return config;
    }

    public Map<String, LoraLinear> modules() {
        return modules;
    }

    public long trainableParameters() {
        return modules.values().stream().mapToLong(LoraLinear::parameterCount).sum();
    }

    /** PEFT's line: "trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364". */
    public String trainableLine() {
        long trainable = trainableParameters(), all = base.parameterCount() + trainable;
        return String.format(java.util.Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f", trainable, all, 100.0 * trainable / all);
    }

    public void setTraining(boolean training, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        for (LoraLinear l : modules.values()) l.setTraining(training, rng.split());
    }

    public void zeroGrad() {
        modules.values().forEach(LoraLinear::zeroGrad);
    }
}
