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
    private final Map<String, ResidualInit.Factors> initial; // PiSSA/OLoRA: each module's A0, B0 (its base is W0 − s·B0·A0); else empty
    private final TrainedEmbeddings embeddings;             // copies or rows of the embedding and head trained too, or null

    private LoraModel(Transformer base, Transformer model, LoraConfig config, Map<String, LoraLinear> modules,
                      Map<String, ResidualInit.Factors> initial) {
        this(base, model, config, modules, initial, null);
    }

    private LoraModel(Transformer base, Transformer model, LoraConfig config, Map<String, LoraLinear> modules,
                      Map<String, ResidualInit.Factors> initial, TrainedEmbeddings embeddings) {
        this.base = base;
        this.model = model;
        this.config = config;
        this.modules = modules;
        this.initial = initial;
        this.embeddings = embeddings;
    }

    /** These adapters with e's embedding and head trained too (the configuration's {@link LoraConfig#embeddings()}). */
    LoraModel withEmbeddings(TrainedEmbeddings e) {
        if (embeddings != null) throw new IllegalStateException("embeddings already set");
        return e == null ? this : new LoraModel(base, e.applyTo(model), config, modules, initial, e);
    }

    /** What trains in the embedding and head beside the adapters, or null. */
    public TrainedEmbeddings embeddings() {
        return embeddings;
    }

    /** Every projection name of a model, in order (what targets can match). */
    public static List<String> moduleNames(Transformer t) {
        List<String> names = new ArrayList<>();
        for (Block b : t.blocks()) for (Projection p : b.projections()) names.add(p.name());
        return names;
    }

    /**
     * Injects freshly initialised adapters: A random and B zero, or with PiSSA / OLoRA both from W0, each
     * adapted base then being the residual W0 − s·B0·A0.
     */
    public static LoraModel inject(Transformer base, LoraConfig config, long seed) {
        LoraModel m = injectAdapters(base, config, seed);
        return config.embeddings().none() ? m : m.withEmbeddings(TrainedEmbeddings.fresh(base, config.embeddings()));
    }

    private static LoraModel injectAdapters(Transformer base, LoraConfig config, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        if (config.init().residual()) {
            LoraConfig c = config.withTargetsFor(base.config().modelType());
            Map<String, ResidualInit.Factors> init = new LinkedHashMap<>();
            for (Block b : base.blocks())
                for (Projection p : b.projections())
                    if (c.adapts(p.name()))
                        init.put(p.name(), ResidualInit.of(c.init(), c.pissaNiter(), p.base(), c.rankFor(p.name()), c.scaling(p.name()), rng.split()));
            return overResiduals(base, c, init, lin -> new float[][] {init.get(lin.name()).a().clone(), init.get(lin.name()).b().clone()});
        }
        return wrap(base, config, lin -> {
            int r = config.rankFor(lin.name());
            return new float[][] {freshA(config, r, lin.in(), rng), new float[lin.out() * r]};
        });
    }

    /** A fresh A (r, in), as PEFT starts it: kaiming_uniform(a=√5), i.e. U(±1/√in), or N(0, 1/r) for gaussian. */
    public static float[] freshA(LoraConfig config, int r, int in, SplittableRandom rng) {
        float[] a = new float[r * in];
        if (config.init() != LoraConfig.Init.GAUSSIAN) {
            double bound = 1.0 / Math.sqrt(in);
            for (int i = 0; i < a.length; i++) a[i] = (float) rng.nextDouble(-bound, bound);
        } else {
            double std = 1.0 / r;
            for (int i = 0; i < a.length; i++) a[i] = (float) (rng.nextGaussian() * std);
        }
        return a;
    }

    /**
     * Adapters with given factors: {@code weights} returns {A (r, in), B (out, r)} for each adapted linear, and
     * for DoRA optionally m (out) third (else m starts at ‖W0 + s·B·A‖), with lora_bias b_B (out) fourth (else 0).
     */
    public static LoraModel of(Transformer base, LoraConfig config, Function<Linear, float[][]> weights) {
        return wrap(base, config, weights);
    }

    /**
     * Adapters over residual bases W0 − s·B0·A0 (PiSSA, OLoRA): {@code init} holds each module's A0 and B0,
     * {@code weights} its current A and B.
     */
    static LoraModel overResiduals(Transformer base, LoraConfig config, Map<String, ResidualInit.Factors> init, Function<Linear, float[][]> weights) {
        Map<String, LoraLinear> modules = new LinkedHashMap<>();
        Transformer adapted = base.mapProjections(p -> {
            ResidualInit.Factors f = init.get(p.name());
            if (f == null) return p;
            Linear lin = p.base();
            float s = (float) config.scaling(lin.name());
            float[][] ab = weights.apply(lin);
            LoraLinear l = new LoraLinear(ResidualInit.residual(lin, f, s), config.rankFor(lin.name()), s, (float) config.dropout(), ab[0], ab[1]);
            modules.put(lin.name(), l);
            return l;
        });
        if (modules.isEmpty()) return wrap(base, config, lin -> null); // the same refusal, naming the modules
        return new LoraModel(base, adapted, config, modules, Map.copyOf(init));
    }

    /**
     * A PiSSA / OLoRA run's adapter as PEFT converts it for saving, read back: rank 2r over the original base, A' = [A; A0],
     * B' = [B, −B0]. Splits it into the trained A, B over the residual base again (the same residual, bit for bit).
     */
    public static LoraModel fromConverted(Transformer base, LoraConfig config, LoraModel converted) {
        LoraConfig c = config.withTargetsFor(base.config().modelType());
        Map<String, ResidualInit.Factors> init = new LinkedHashMap<>();
        Map<String, float[][]> current = new LinkedHashMap<>();
        for (LoraLinear l : converted.modules().values()) {
            int r = c.rankFor(l.name()), in = l.in(), out = l.out();
            if (l.rank() != 2 * r)
                throw new Lora4jException(l.name() + ": a converted " + c.initName() + " adapter has rank 2r = " + 2 * r + ", this one " + l.rank());
            float[] a = java.util.Arrays.copyOfRange(l.a(), 0, r * in), a0 = java.util.Arrays.copyOfRange(l.a(), r * in, 2 * r * in);
            float[] b = new float[out * r], b0 = new float[out * r];
            for (int o = 0; o < out; o++)
                for (int k = 0; k < r; k++) {
                    b[o * r + k] = l.b()[o * 2 * r + k];
                    b0[o * r + k] = -l.b()[o * 2 * r + r + k];
                }
            init.put(l.name(), new ResidualInit.Factors(a0, b0));
            current.put(l.name(), new float[][] {a, b});
        }
        LoraModel m = overResiduals(base, c, init, lin -> current.get(lin.name()));
        return converted.embeddings == null ? m : m.withEmbeddings(converted.embeddings);
    }

    /** PiSSA / OLoRA: each adapted module's starting A0 (r, in) and B0 (out, r); empty for other initialisations. */
    public Map<String, float[][]> initialFactors() {
        Map<String, float[][]> out = new LinkedHashMap<>();
        initial.forEach((k, f) -> out.put(k, new float[][] {f.a(), f.b()}));
        return out;
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
            LoraLinear l = config.loraBias() ? new LoraLinear(lin, r, s, p0, ab[0], ab[1], null, ab.length > 3 && ab[3] != null ? ab[3] : new float[lin.out()])
                    : !config.dora() ? new LoraLinear(lin, r, s, p0, ab[0], ab[1])
                    : ab.length > 2 && ab[2] != null ? new LoraLinear(lin, r, s, p0, ab[0], ab[1], ab[2])
                    : LoraLinear.dora(lin, r, s, p0, ab[0], ab[1]);
            modules.put(lin.name(), l);
            return l;
        });
        if (modules.isEmpty())
            throw new Lora4jException("LoRA targets " + describe(config) + " match no module; the model's modules are: "
                    + String.join(", ", distinctSuffixes(moduleNames(base))) + " (full names like " + moduleNames(base).getFirst() + ")");
        return new LoraModel(base, adapted, config, modules, Map.of());
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
        return modules.values().stream().mapToLong(LoraLinear::parameterCount).sum() + (embeddings == null ? 0 : embeddings.trainableParameters(base));
    }

    /** The embedding and head tensors trained beside the adapters, under PEFT's names (empty when none). */
    public List<dev.lora4j.train.Parameter> embeddingParameters() {
        return embeddings == null ? List.of() : embeddings.parameters(base);
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
        if (embeddings != null) embeddings.zeroGrad(base);
    }
}
