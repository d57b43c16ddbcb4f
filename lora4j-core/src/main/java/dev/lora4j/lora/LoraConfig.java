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
 * @param targets          which modules get an adapter
 * @param layersToTransform layer indices to adapt, or null for all
 * @param rankPattern      module-name pattern → rank, overriding r (PEFT's rank_pattern)
 * @param alphaPattern     module-name pattern → alpha, overriding alpha (PEFT's alpha_pattern)
 * @param init             initialisation of A (B always starts at zero)
 * @param rslora           rank-stabilised scaling
 */
public record LoraConfig(int r, double alpha, double dropout, Targets targets, List<Integer> layersToTransform,
                         Map<String, Integer> rankPattern, Map<String, Double> alphaPattern, Init init, boolean rslora) {

    public enum Init { KAIMING, GAUSSIAN }

    /** Which modules to adapt. */
    public sealed interface Targets {
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
        if (r < 1) throw new Lora4jException("r must be >= 1, got " + r);
        if (!(dropout >= 0 && dropout < 1)) throw new Lora4jException("lora_dropout must be in [0, 1), got " + dropout);
        if (!(alpha > 0) || !Double.isFinite(alpha)) throw new Lora4jException("lora_alpha must be a positive finite number, got " + alpha);
        rankPattern = rankPattern == null ? Map.of() : Map.copyOf(rankPattern);
        alphaPattern = alphaPattern == null ? Map.of() : Map.copyOf(alphaPattern);
        rankPattern.forEach((k, v) -> {
            compile("(.*\\.)?(" + k + ")$", "rank_pattern key '" + k + "'");
            if (v < 1) throw new Lora4jException("rank_pattern '" + k + "' must be >= 1, got " + v);
        });
        alphaPattern.forEach((k, v) -> {
            compile("(.*\\.)?(" + k + ")$", "alpha_pattern key '" + k + "'");
            if (!(v > 0) || !Double.isFinite(v)) throw new Lora4jException("alpha_pattern '" + k + "' must be a positive finite number, got " + v);
        });
        layersToTransform = layersToTransform == null ? null : List.copyOf(layersToTransform);
    }

    public LoraConfig withDropout(double p) {
        return new LoraConfig(r, alpha, p, targets, layersToTransform, rankPattern, alphaPattern, init, rslora);
    }

    /** PEFT's defaults for a model type: c_attn for GPT-2, q_proj and v_proj for the Llama family. */
    public static Targets defaultTargets(String modelType) {
        return new TargetList(modelType.equals("gpt2") ? List.of("c_attn") : List.of("q_proj", "v_proj"));
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
        if (!targets.matches(module)) return false;
        return layersToTransform == null || layersToTransform.contains(layerIndex(module));
    }
}
