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
        if (specs.size() == 1 && !specs.getFirst().contains("=") && dev.lora4j.ia3.Ia3Model.isIa3(Path.of(specs.getFirst())))
            return dev.lora4j.ia3.Ia3Model.load(Path.of(specs.getFirst()), base).model();
        for (String s : specs)
            if (dev.lora4j.ia3.Ia3Model.isIa3(Merger.Weighted.parse(withoutName(s)).dir()))
                throw new Lora4jException("--adapter " + s + " is an IA³ adapter: give it alone, without a name or weight");
        return specs.isEmpty() ? base : weightedSumModel(base, specs).model();
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
