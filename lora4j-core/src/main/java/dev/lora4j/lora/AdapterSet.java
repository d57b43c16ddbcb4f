package dev.lora4j.lora;

import dev.lora4j.Lora4jException;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Many adapters over one frozen base, in one process: load under a name, switch, disable (base only),
 * unload, never reloading the base; and one model that serves a batch whose sequences use different
 * adapters ({@link #mixed}).
 */
public final class AdapterSet {
    private final Transformer base;
    private final Map<String, LoraModel> adapters = new LinkedHashMap<>();

    public AdapterSet(Transformer base) {
        this.base = base;
    }

    public Transformer base() {
        return base;
    }

    /** Loads a PEFT adapter under a name; names are unique. */
    public LoraModel load(String name, Path dir) {
        if (adapters.containsKey(name)) throw new Lora4jException("an adapter named '" + name + "' is already loaded");
        LoraModel m = PeftAdapter.load(dir, base);
        add(name, m);
        return m;
    }

    /** Adds an adapter already made over this base (e.g. built in memory) under a name. */
    public void add(String name, LoraModel adapter) {
        if (adapters.containsKey(name)) throw new Lora4jException("an adapter named '" + name + "' is already loaded");
        if (adapter.base() != base) throw new Lora4jException("adapter '" + name + "' was made over another base model");
        if (adapter.embeddings() != null)
            throw new Lora4jException("adapter '" + name + "' trains the input embedding or the LM head too (modules_to_save, trainable tokens), which every"
                    + " row of a mixed batch shares: run it on its own (generate, eval --adapter) or merged");
        adapters.put(name, adapter);
    }

    public void unload(String name) {
        if (adapters.remove(name) == null) throw new Lora4jException("no adapter named '" + name + "' (loaded: " + adapters.keySet() + ")");
    }

    /** The loaded adapters by name, in loading order. */
    public Map<String, LoraModel> adapters() {
        return java.util.Collections.unmodifiableMap(adapters);
    }

    public List<String> names() {
        return List.copyOf(adapters.keySet());
    }

    /** The model with one adapter active (unmerged), or the base alone for null. */
    public Transformer model(String name) {
        if (name == null) return base;
        LoraModel m = adapters.get(name);
        if (m == null) throw new Lora4jException("no adapter named '" + name + "' (loaded: " + adapters.keySet() + ")");
        return m.model();
    }

    /**
     * A model serving mixed batches: every forward pass of it runs inside {@link #call}, which says the
     * adapter of each sequence of that pass. The model is immutable; any number of threads may use it.
     */
    public record Mixed(Transformer model, List<String> order) {
        /** The route ids of sequences named by adapter (null: the base alone); unknown names are refused. */
        public int[] routes(String... perSequence) {
            int[] ids = new int[perSequence.length];
            for (int i = 0; i < perSequence.length; i++) {
                ids[i] = perSequence[i] == null ? -1 : order.indexOf(perSequence[i]);
                if (perSequence[i] != null && ids[i] < 0) throw new Lora4jException("no adapter named '" + perSequence[i] + "' (loaded: " + order + ")");
            }
            return ids;
        }

        /** Runs body (forward passes of {@link #model}) with sequence i of each pass routed to perSequence[i]. */
        public <T> T call(String[] perSequence, java.util.function.Supplier<T> body) {
            return ScopedValue.where(MixedLoraLinear.SEQUENCE_ADAPTERS, routes(perSequence)).call(body::get);
        }

        public void run(String[] perSequence, Runnable body) {
            ScopedValue.where(MixedLoraLinear.SEQUENCE_ADAPTERS, routes(perSequence)).run(body);
        }
    }

    public Mixed mixed() {
        List<String> order = names();
        return new Mixed(base.mapProjections(p -> {
            Linear l = p.base();
            List<LoraLinear> per = new ArrayList<>();
            boolean any = false;
            for (String n : order) {
                LoraLinear a = adapters.get(n).modules().get(l.name());
                per.add(a);
                any |= a != null;
            }
            if (!any) return p; // as the base has it (an IA³-scaled module stays scaled)
            if (p != l) throw new Lora4jException(p.name() + ": LoRA adapters over a base whose module is already adapted (IA³) are not supported");
            return new MixedLoraLinear(l, per);
        }), order);
    }
}
