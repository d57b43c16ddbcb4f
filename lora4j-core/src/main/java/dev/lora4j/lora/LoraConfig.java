package dev.lora4j.lora;

import dev.lora4j.Lora4jException;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A LoRA configuration with PEFT's semantics (PEFT's LoraConfig, the fields lora4j supports).
 *
 * @param r                default rank
 * @param alpha            default lora_alpha; scale s = alpha/r, or alpha/√r with rsLoRA
 * @param dropout          lora_dropout, applied to the adapter's input while training
 * @param targets          which modules get an adapter; null: the model type's default ({@link #defaultTargets})
 * @param layersToTransform layer indices to adapt, or null for all
 * @param rankPattern      module-name pattern → rank, overriding r (PEFT's rank_pattern)
 * @param alphaPattern     module-name pattern → alpha, overriding alpha (PEFT's alpha_pattern)
 * @param init             initialisation: of A (B starts at zero), or PiSSA / OLoRA (A and B from W0, the residual frozen)
 * @param pissaNiter       PiSSA from a randomized SVD with this many power iterations (PEFT's "pissa_niter_N"); 0 = exact
 * @param rslora           rank-stabilised scaling
 * @param dora             DoRA (PEFT's use_dora): a trained magnitude per output over the normalised W0 + s·B·A
 * @param loraBias         a trained bias on B (PEFT's lora_bias): the adapter adds s·(B·A·x + b_B)
 * @param embeddings       what trains beside the adapters in the input embedding and LM head ({@link Embeddings#NONE}: nothing)
 */
public record LoraConfig(int r, double alpha, double dropout, Targets targets, List<Integer> layersToTransform,
                         Map<String, Integer> rankPattern, Map<String, Double> alphaPattern, Init init, int pissaNiter, boolean rslora, boolean dora,
                         boolean loraBias, Embeddings embeddings)
        implements java.io.Serializable /* shipped to the workers of a distributed run */ {

    /**
     * What LoRA trains beside its adapters outside the linear layers, as PEFT's LoraConfig names it: whole copies of the
     * input embedding or the LM head (modules_to_save), and rows of them (trainable_token_indices: the rows of those
     * token ids alone, e.g. new tokens; in a tied model the head's rows follow the embedding's).
     *
     * @param modulesToSave module names: the input embedding ("embed_tokens", GPT-2's "wte") and/or "lm_head"
     * @param tokenIndices  module name → token ids: the input embedding, or an untied "lm_head"
     */
    public record Embeddings(List<String> modulesToSave, Map<String, List<Integer>> tokenIndices) implements java.io.Serializable {
        public static final Embeddings NONE = new Embeddings(List.of(), Map.of());

        public Embeddings {
            modulesToSave = List.copyOf(modulesToSave);
            Map<String, List<Integer>> ids = new java.util.LinkedHashMap<>();
            List<String> whole = modulesToSave;
            tokenIndices.forEach((k, v) -> {
                if (v == null || v.isEmpty()) throw new Lora4jException("trainable_token_indices '" + k + "' lists no token id");
                java.util.Set<Integer> seen = new java.util.HashSet<>();
                for (Integer id : v)
                    if (id == null || id < 0 || !seen.add(id))
                        throw new Lora4jException("trainable_token_indices '" + k + "': " + id + (id != null && id >= 0 ? " is listed twice" : " is not a token id (0 or more)"));
                if (whole.contains(k)) throw new Lora4jException("'" + k + "' is both in modules_to_save (trained whole) and in trainable_token_indices (some rows)");
                ids.put(k, List.copyOf(v));
            });
            tokenIndices = java.util.Collections.unmodifiableMap(ids);
        }

        public boolean none() {
            return modulesToSave.isEmpty() && tokenIndices.isEmpty();
        }
    }

    public enum Init {
        KAIMING, GAUSSIAN, PISSA, OLORA;

        /** Whether A and B start as part of W0, leaving the residual as the frozen base. */
        public boolean residual() {
            return this == PISSA || this == OLORA;
        }
    }

    /** PEFT's init_lora_weights name: true (kaiming), "gaussian", "pissa", "pissa_niter_N", "olora". */
    public String initName() {
        return switch (init) {
            case KAIMING -> "kaiming";
            case GAUSSIAN -> "gaussian";
            case OLORA -> "olora";
            case PISSA -> pissaNiter > 0 ? "pissa_niter_" + pissaNiter : "pissa";
        };
    }

    /** Which modules to adapt. */
    public sealed interface Targets extends java.io.Serializable {
        boolean matches(String module);
    }

    /** A list: a module matches an entry when its full name equals it or ends with "." + entry. */
    public record TargetList(List<String> names) implements Targets {
        @Override
        public boolean matches(String module) {
            for (String n : names) if (module.equals(n) || module.endsWith("." + n)) return true;
            return false;
        }
    }

    /** Targets as the command line writes them: "all-linear", or a comma-separated list of names or .suffixes. */
    public static Targets parseTargets(String spec) {
        if (spec.strip().equals("all-linear")) return new AllLinear();
        List<String> names = java.util.Arrays.stream(spec.split(",")).map(String::strip).filter(n -> !n.isEmpty()).toList();
        if (names.isEmpty()) throw new Lora4jException("no target modules in '" + spec + "'");
        return new TargetList(names);
    }

    /** A regular expression that must match the whole module name. */
    public record TargetRegex(String regex) implements Targets {
        public TargetRegex {
            compile(regex, "the target regex");
        }

        @Override
        public boolean matches(String module) {
            return Pattern.compile(regex).matcher(module).matches();
        }
    }

    /** Every linear layer but the output head (PEFT's "all-linear"). */
    public record AllLinear() implements Targets {
        @Override
        public boolean matches(String module) {
            return true;
        }
    }

    public LoraConfig {
        if (embeddings == null) embeddings = Embeddings.NONE;
        if (r < 1 || r > MAX_RANK) throw new Lora4jException("r (--r) must be in [1, " + MAX_RANK + "], got " + r);
        if (init == null) throw new Lora4jException("init must be given (kaiming, gaussian, pissa, pissa_niter_N or olora)");
        if (pissaNiter < 0 || pissaNiter > 1000 || pissaNiter > 0 && init != Init.PISSA)
            throw new Lora4jException("pissa_niter_N takes N in [1, 1000] with PiSSA only, got " + pissaNiter + " with " + init);
        if (init.residual() && dora) throw new Lora4jException("PiSSA and OLoRA initialisations are for plain LoRA here, not with use_dora");
        if (loraBias && (dora || init.residual())) throw new Lora4jException("lora_bias goes with plain LoRA here, not with use_dora, PiSSA or OLoRA");
        if (!(dropout >= 0 && dropout < 1)) throw new Lora4jException("lora_dropout (--dropout) must be in [0, 1), got " + dropout);
        if (!(alpha > 0) || !Double.isFinite(alpha)) throw new Lora4jException("lora_alpha (--alpha) must be a positive finite number, got " + alpha);
        rankPattern = rankPattern == null ? Map.of() : Map.copyOf(rankPattern);
        alphaPattern = alphaPattern == null ? Map.of() : Map.copyOf(alphaPattern);
        rankPattern.forEach((k, v) -> {
            compile("(.*\\.)?(" + k + ")$", "rank_pattern key '" + k + "'");
            if (v == null || v < 1 || v > MAX_RANK) throw new Lora4jException("rank_pattern '" + k + "' (--rank-pattern " + k + "=R) must be in [1, " + MAX_RANK + "], got " + v);
        });
        alphaPattern.forEach((k, v) -> {
            compile("(.*\\.)?(" + k + ")$", "alpha_pattern key '" + k + "'");
            if (v == null || !(v > 0) || !Double.isFinite(v)) throw new Lora4jException("alpha_pattern '" + k + "' (--alpha-pattern " + k + "=A) must be a positive finite number, got " + v);
        });
        if (layersToTransform != null) for (Integer l : layersToTransform)
            if (l == null || l < 0) throw new Lora4jException("layers_to_transform (--layers) holds " + l + "; layer indices are 0 or more");
        layersToTransform = layersToTransform == null ? null : List.copyOf(layersToTransform);
    }

    /** The largest rank accepted (far above any useful one; it bounds what a file or option can make us allocate). */
    public static final int MAX_RANK = 1 << 16;

    public LoraConfig withDropout(double p) {
        return toBuilder().dropout(p).build();
    }

    /** This configuration with the model type's default targets when it names none. */
    public LoraConfig withTargetsFor(String modelType) {
        return targets != null ? this : toBuilder().targets(defaultTargets(modelType)).build();
    }

    /**
     * A builder with PEFT's defaults: r 8, alpha 8, no dropout, the model type's default targets,
     * every layer, no patterns, Kaiming-uniform A, plain scaling alpha/r.
     */
    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().r(r).alpha(alpha).dropout(dropout).targets(targets).layers(layersToTransform)
                .rankPattern(rankPattern).alphaPattern(alphaPattern).init(init).pissaNiter(pissaNiter).rslora(rslora).dora(dora).loraBias(loraBias)
                .embeddings(embeddings);
    }

    /** LoraConfig by name; see {@link #builder()} for the defaults. */
    public static final class Builder {
        private int r = 8;
        private double alpha = 8;
        private double dropout;
        private Targets targets;
        private List<Integer> layers;
        private Map<String, Integer> rankPattern = Map.of();
        private Map<String, Double> alphaPattern = Map.of();
        private Init init = Init.KAIMING;
        private int pissaNiter;
        private boolean rslora, dora, loraBias;
        private Embeddings embeddings = Embeddings.NONE;

        /** Copies or rows of the input embedding and LM head that train too (default: none). */
        public Builder embeddings(Embeddings v) {
            embeddings = v == null ? Embeddings.NONE : v;
            return this;
        }

        private Builder() {}

        /** Rank of every adapted module (unless rankPattern says otherwise). */
        public Builder r(int v) {
            r = v;
            return this;
        }

        /** lora_alpha (default 8, as PEFT's); the scale is alpha/r. */
        public Builder alpha(double v) {
            alpha = v;
            return this;
        }

        public Builder dropout(double v) {
            dropout = v;
            return this;
        }

        /** null: the model type's default targets. */
        public Builder targets(Targets v) {
            targets = v;
            return this;
        }

        /** Targets as the command line writes them: "all-linear" or a comma-separated list. */
        public Builder targets(String spec) {
            return targets(parseTargets(spec));
        }

        /** Layer indices to adapt (layers_to_transform); null: all. */
        public Builder layers(List<Integer> v) {
            layers = v;
            return this;
        }

        public Builder rankPattern(Map<String, Integer> v) {
            rankPattern = v;
            return this;
        }

        public Builder alphaPattern(Map<String, Double> v) {
            alphaPattern = v;
            return this;
        }

        public Builder init(Init v) {
            init = v;
            return this;
        }

        /** Power iterations of PiSSA's randomized SVD; 0 = the exact SVD. */
        public Builder pissaNiter(int v) {
            pissaNiter = v;
            return this;
        }

        /** As PEFT's init_lora_weights names it: kaiming (true), gaussian, pissa, pissa_niter_N, olora. */
        public Builder init(String spec) {
            String v = spec.strip().toLowerCase(java.util.Locale.ROOT);
            if (v.startsWith("pissa_niter_")) {
                int n;
                try {
                    n = Integer.parseInt(v.substring("pissa_niter_".length()));
                } catch (NumberFormatException e) {
                    throw new Lora4jException("init '" + spec + "': pissa_niter_N needs a whole number N");
                }
                return init(Init.PISSA).pissaNiter(n);
            }
            for (Init i : Init.values())
                if (i.name().equalsIgnoreCase(v) || v.equals("true") && i == Init.KAIMING) return init(i).pissaNiter(0);
            throw new Lora4jException("init '" + spec + "' is not known (expected kaiming, gaussian, pissa, pissa_niter_N or olora)");
        }

        public Builder rslora(boolean v) {
            rslora = v;
            return this;
        }

        /** A trained bias on B (PEFT's lora_bias), starting at 0. */
        public Builder loraBias(boolean v) {
            loraBias = v;
            return this;
        }

        /** DoRA: weight-decomposed LoRA (PEFT's use_dora). */
        public Builder dora(boolean v) {
            dora = v;
            return this;
        }

        public LoraConfig build() {
            return new LoraConfig(r, alpha, dropout, targets, layers, rankPattern, alphaPattern, init, pissaNiter, rslora, dora, loraBias, embeddings);
        }
    }

    /** PEFT's defaults for a model type: c_attn for GPT-2, q_proj and v_proj for the Llama family. */
    public static Targets defaultTargets(String modelType) {
        return new TargetList(switch (modelType) {
            case "gpt2" -> List.of("c_attn");
            case "phi3" -> List.of("qkv_proj"); // fused q, k, v: the counterpart of q_proj, v_proj
            default -> List.of("q_proj", "v_proj");
        });
    }

    public int rankFor(String module) {
        String key = patternKey(rankPattern.keySet(), module);
        return key == null ? r : rankPattern.get(key);
    }

    public double alphaFor(String module) {
        String key = patternKey(alphaPattern.keySet(), module);
        return key == null ? alpha : alphaPattern.get(key);
    }

    public double scaling(String module) {
        int rank = rankFor(module);
        return rslora ? alphaFor(module) / Math.sqrt(rank) : alphaFor(module) / rank;
    }

    private static Pattern compile(String regex, String what) {
        try {
            return Pattern.compile(regex);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new Lora4jException(what + " is not a valid regular expression: " + e.getDescription() + " near index " + e.getIndex()
                    + " of '" + e.getPattern() + "'");
        }
    }

    /** PEFT's pattern lookup: a key matches when the name is key, or ends with "." + key (key may be a regex). */
    static String patternKey(Iterable<String> keys, String module) {
        for (String k : keys) if (Pattern.compile("(.*\\.)?(" + k + ")$").matcher(module).matches()) return k;
        return null;
    }

    /** The layer index in a module name (".layers.N." or ".h.N."), or -1. */
    static int layerIndex(String module) {
        var m = Pattern.compile(".*\\.(?:layers|h)\\.(\\d+)\\..*").matcher(module);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    public boolean adapts(String module) {
        if (targets == null) throw new IllegalStateException("targets not resolved: call withTargetsFor(modelType) first");
        if (!targets.matches(module)) return false;
        return layersToTransform == null || layersToTransform.contains(layerIndex(module));
    }
}
