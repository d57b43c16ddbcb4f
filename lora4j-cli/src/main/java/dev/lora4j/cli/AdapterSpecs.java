package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import dev.lora4j.lora.AdapterSet;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.merge.Combiner;
import dev.lora4j.merge.Merger;
import dev.lora4j.model.Transformer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The CLI's adapter arguments, "[NAME=]DIR[:WEIGHT]", turned into models (shared by eval and generate). */
final class AdapterSpecs {
    private AdapterSpecs() {}

    private static String withoutName(String spec) {
        int eq = spec.indexOf('=');
        return eq < 0 ? spec : spec.substring(eq + 1);
    }

    /** The base with every adapter applied unmerged at once: their weighted sum of updates (one adapter: itself). */
    static Transformer weightedSum(Transformer base, List<String> specs) {
        Path whole = wholeModel(specs, false);
        if (whole != null) return dev.lora4j.lora.AdapterKind.apply(whole, base);
        return specs.isEmpty() ? base : weightedSumModel(base, specs).model();
    }

    /**
     * The one adapter among specs that applies to the whole model (IA³, bottleneck, prompt or prefix tuning, LoRA that trains
     * the embedding or head: {@link dev.lora4j.lora.AdapterKind#appliesWhole}), which every request runs, so given alone,
     * without a name, weight or routing; or null when all are plain LoRA adapters.
     */
    static Path wholeModel(List<String> specs, boolean routed) {
        for (String s : specs) {
            Path dir = Merger.Weighted.parse(withoutName(s)).dir();
            if (!dev.lora4j.lora.AdapterKind.appliesWhole(dir)) continue;
            dev.lora4j.lora.AdapterKind kind = dev.lora4j.lora.AdapterKind.of(dir);
            if (specs.size() != 1 || routed || s.contains("=") || !dir.equals(Path.of(s)))
                throw new Lora4jException("--adapter " + s + " holds " + (kind.whole() ? kind.description() : "a LoRA adapter that trains the embedding or the LM head too")
                        + ": give it alone, without a name, weight or --route; it applies to every prompt");
            return dir;
        }
        return null;
    }

    /** The adapters' weighted sum of updates as one adapter over base (one adapter of weight 1: itself). */
    static LoraModel weightedSumModel(Transformer base, List<String> specs) {
        List<Merger.Weighted> ws = specs.stream().map(s -> Merger.Weighted.parse(withoutName(s))).toList();
        if (ws.size() == 1 && ws.getFirst().weight() == 1.0) return PeftAdapter.load(ws.getFirst().dir(), base);
        List<LoraModel> loaded = new ArrayList<>();
        for (Merger.Weighted w : ws) loaded.add(PeftAdapter.load(w.dir(), base));
        return Combiner.combine(base, loaded, ws.stream().map(Merger.Weighted::weight).toList(), Combiner.Method.CAT, 0);
    }

    /** The adapters loaded under their names (NAME defaults to the directory's name), for mixed batches. */
    static AdapterSet named(Transformer base, List<String> specs) {
        AdapterSet set = new AdapterSet(base);
        for (String spec : specs) {
            int eq = spec.indexOf('=');
            Merger.Weighted w = Merger.Weighted.parse(withoutName(spec));
            if (w.weight() != 1.0) throw new Lora4jException("--adapter " + spec + ": weights are not supported with per-sequence adapters");
            Path dir = w.dir();
            set.load(eq < 0 ? dir.getFileName().toString() : spec.substring(0, eq), dir);
        }
        return set;
    }
}
