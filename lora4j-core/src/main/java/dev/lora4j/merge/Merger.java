package dev.lora4j.merge;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.kernels.Kernels;
import dev.lora4j.lora.LoraLinear;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Mat;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Merges LoRA adapters into their base: every targeted weight becomes W0 + Σᵢ wᵢ·sᵢ·Bᵢ·Aᵢ (transposed
 * for GPT-2's Conv1D storage), computed in fp32 and rounded once to the output dtype; non-finite
 * results are refused (PEFT's safe merge). The output is a complete checkpoint with the base's tensor
 * names, order and sharding; with dtype "same" every other tensor is copied bit for bit. It is written
 * into a temporary directory and renamed into place, so a failure never leaves a partial output.
 */
public final class Merger {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** An adapter directory with its weight, from "DIR" or "DIR:WEIGHT". */
    public record Weighted(Path dir, double weight) {
        public static Weighted parse(String spec) {
            int colon = spec.lastIndexOf(':');
            if (colon > 0) {
                try {
                    double w = Double.parseDouble(spec.substring(colon + 1));
                    if (!Double.isFinite(w)) throw new Lora4jException("adapter weight in '" + spec + "' must be a finite number");
                    return new Weighted(Path.of(spec.substring(0, colon)), w);
                } catch (NumberFormatException notAWeight) {
                    if (!java.nio.file.Files.exists(Path.of(spec)))
                        throw new Lora4jException("adapter weight '" + spec.substring(colon + 1) + "' in '" + spec + "' is not a number (expected DIR or DIR:WEIGHT)");
                }
            }
            return new Weighted(Path.of(spec), 1.0);
        }
    }

    private Merger() {}

    /** ΔW of one adapter module in the base weight's storage orientation, scaled by weight·s. */
    static float[] delta(LoraLinear l, double weight) {
        Linear base = l.base();
        int in = base.in(), out = base.out(), r = l.rank();
        Mat a = Mat.of(l.a(), 0, r, in), b = Mat.of(l.b(), 0, out, r);
        float[] d = new float[in * out];
        if (base.fanInFanOut()) Kernels.matmul(a.t(), b.t(), d, 0, out, false); // (in, out) = Aᵀ·Bᵀ
        else Kernels.matmul(b, a, d, 0, in, false);                           // (out, in) = B·A
        float s = (float) (weight * l.scale());
        for (int i = 0; i < d.length; i++) d[i] *= s;
        return d;
    }

    /**
     * The merged weights (checkpoint tensor name → fp32 values) of a base with weighted adapters. A DoRA module
     * merges as PEFT merges it, W' = g⊙(W0 + s·B·A) with g = m/‖W0 + s·B·A‖ per output, alone and at weight 1.
     */
    public static Map<String, float[]> mergedWeights(Transformer base, List<LoraModel> adapters, List<Double> weights) {
        Map<String, float[]> merged = new LinkedHashMap<>();
        java.util.Set<String> dora = new java.util.HashSet<>();
        for (int i = 0; i < adapters.size(); i++) {
            for (LoraLinear l : adapters.get(i).modules().values()) {
                Tensor w = l.base().weight();
                if (l.dora() && (weights.get(i) != 1.0 || merged.containsKey(w.name())) || dora.contains(w.name()))
                    throw new Lora4jException("DoRA's " + l.name() + " merges alone and at weight 1 (its magnitude rescales the whole adapted"
                            + " weight); merge that adapter by itself");
                float[] acc = merged.computeIfAbsent(w.name(), k -> w.toArray().clone());
                float[] d = delta(l, weights.get(i));
                for (int j = 0; j < acc.length; j++) acc[j] += d[j];
                if (l.biasB() != null) { // lora_bias: b += weight·s·b_B, as PEFT merges it
                    if (l.base().bias() == null)
                        throw new Lora4jException(l.name() + " has no bias in the base model for lora_B's bias to merge into; use the adapter unmerged");
                    float[] bias = merged.computeIfAbsent(l.base().biasName(), k -> l.base().bias().clone());
                    float sb = (float) (weights.get(i) * l.scale());
                    for (int j = 0; j < bias.length; j++) bias[j] += sb * l.biasB()[j];
                }
                if (l.dora()) {
                    dora.add(w.name());
                    rescaleOutputs(acc, l);
                }
            }
        }
        for (LoraModel a : adapters)
            if (a.embeddings() != null) {
                if (adapters.size() != 1 || weights.getFirst() != 1.0)
                    throw new Lora4jException("an adapter that trains the embedding or the LM head (modules_to_save, trainable tokens) merges alone and at"
                            + " weight 1: its tensors replace the base's");
                merged.putAll(a.embeddings().mergedWeights(base));
            }
        for (var e : merged.entrySet())
            for (float v : e.getValue())
                if (!Float.isFinite(v)) throw new Lora4jException("merging gives non-finite values in '" + e.getKey() + "'; nothing was written");
        return merged;
    }

    /** W (storage orientation) ⊙= m/‖W0 + s·B·A‖ per output: rows of (out, in), columns of Conv1D's (in, out). */
    private static void rescaleOutputs(float[] w, LoraLinear l) {
        float[] n = l.weightNorm(), m = l.magnitude();
        int in = l.in(), out = l.out();
        for (int o = 0; o < out; o++) {
            float g = m[o] / n[o];
            if (l.base().fanInFanOut()) for (int j = 0; j < in; j++) w[j * out + o] *= g;
            else for (int j = 0; j < in; j++) w[o * in + j] *= g;
        }
    }

    /**
     * In-memory merge: a model whose targeted linears carry W0 + s·B·A, sharing every other weight.
     * The base is never modified, so "unmerging" is going back to {@code lora.base()}, exactly W0.
     */
    public static Transformer mergeInMemory(LoraModel lora, double weight) {
        Transformer base = lora.base();
        Map<String, float[]> merged = mergedWeights(base, List.of(lora), List.of(weight));
        Transformer out = base.mapProjections(p -> {
            Linear l = p.base();
            float[] m = merged.get(l.weight().name());
            float[] b = merged.getOrDefault(l.biasName(), l.bias());
            return m == null ? l : new Linear(l.name(), Tensor.of(l.weight().name(), m, l.weight().shape()), b, l.in(), l.out(), l.fanInFanOut());
        });
        Tensor wte = base.tokenEmbedding(), head = base.head();
        if (!merged.containsKey(wte.name()) && !merged.containsKey(head.name())) return out;
        Tensor newWte = merged.containsKey(wte.name()) ? Tensor.of(wte.name(), merged.get(wte.name()), wte.shape()) : wte;
        Tensor newHead = head == wte ? newWte : merged.containsKey(head.name()) ? Tensor.of(head.name(), merged.get(head.name()), head.shape()) : head;
        return out.withEmbeddings(newWte, newHead, null, null, null);
    }

    /** The checkpoint in modelDir written to out (new) with every tensor in dtype, unchanged otherwise (config.json's torch_dtype too). */
    public static void convert(Path modelDir, Path out, DType dtype) throws IOException {
        try (ModelFiles ck = ModelFiles.open(modelDir)) {
            AtomicFiles.writeDirectory(out, dir -> {
                writeWeights(ck, Map.of(), dtype, dir);
                copyOtherFiles(ck.dir(), dir, dtype);
            });
        }
    }

    /** Writes the merged checkpoint to out (which must not exist, or be an empty directory). */
    public static void merge(Path modelDir, List<Weighted> specs, Path out, String dtype) throws IOException {
        if (specs.isEmpty()) throw new Lora4jException("merge needs at least one --adapter");
        DType forced = dtype.equals("same") ? null : DType.ofOption(dtype);
        if (forced == null && !dtype.equals("same")) throw new Lora4jException("--dtype must be same, f32, bf16 or f16, got '" + dtype + "'");
        if (Files.exists(out)) {
            if (!Files.isDirectory(out)) throw new Lora4jException(out + ": exists and is a file; merge writes a new checkpoint directory");
            try (var s = Files.list(out)) {
                if (s.findAny().isPresent())
                    throw new Lora4jException(out + ": exists and is not an empty directory; merge writes a new checkpoint directory");
            }
        }
        try (Transformer base = Transformer.load(modelDir)) {
            Map<String, float[]> merged;
            List<dev.lora4j.lora.AdapterKind> kinds = specs.stream().map(w -> dev.lora4j.lora.AdapterKind.of(w.dir())).toList();
            if (kinds.contains(dev.lora4j.lora.AdapterKind.BOTTLENECK))
                throw new Lora4jException("bottleneck adapters are layers of their own (a nonlinearity between two matrices): they cannot be merged into the"
                        + " base's weights; run them unmerged (eval, generate --adapter)");
            if (kinds.contains(dev.lora4j.lora.AdapterKind.PROMPT_TUNING) || kinds.contains(dev.lora4j.lora.AdapterKind.PREFIX_TUNING))
                throw new Lora4jException("a prompt- or prefix-tuning adapter changes no weight (it puts learned embeddings, or keys and values, before every"
                        + " sequence): there is nothing to merge; run it unmerged (eval, generate --adapter)");
            if (kinds.contains(dev.lora4j.lora.AdapterKind.IA3)) {
                if (specs.size() != 1 || specs.getFirst().weight() != 1.0)
                    throw new Lora4jException("an IA³ adapter merges alone and whole (its vectors multiply the weights): give it as the only --adapter, without a weight");
                merged = dev.lora4j.ia3.Ia3Model.load(specs.getFirst().dir(), base).mergedWeights();
            } else {
                List<LoraModel> adapters = new ArrayList<>();
                List<Double> weights = new ArrayList<>();
                for (Weighted w : specs) {
                    adapters.add(PeftAdapter.load(w.dir(), base));
                    weights.add(w.weight());
                }
                merged = mergedWeights(base, adapters, weights);
            }
            if (!(base.source() instanceof ModelFiles ck))
                throw new Lora4jException(modelDir + ": merge writes a Hugging Face checkpoint from one; for a GGUF model use export-gguf --adapter");
            AtomicFiles.writeDirectory(out, dir -> {
                writeWeights(ck, merged, forced, dir);
                copyOtherFiles(ck.dir(), dir, forced);
            });
        }
    }

    private static void writeWeights(ModelFiles ck, Map<String, float[]> merged, DType forced, Path dir) throws IOException {
        Map<String, String> weightMap = new LinkedHashMap<>();
        long total = 0;
        for (SafeTensors file : ck.files()) {
            Map<String, SafeTensorsWriter.Data> data = new LinkedHashMap<>();
            for (SafeTensors.Entry e : file.entries().values()) {
                DType dt = forced != null ? forced : e.dtype();
                float[] m = merged.get(e.name());
                SafeTensorsWriter.Data d;
                if (m != null) d = new SafeTensorsWriter.Floats(Tensor.of(e.name(), m, e.shape()), dt);
                else if (dt == e.dtype()) d = new SafeTensorsWriter.Raw(file.raw(e.name()), dt, e.shape());
                else d = new SafeTensorsWriter.Floats(file.tensor(e.name()), dt);
                data.put(e.name(), d);
                weightMap.put(e.name(), file.path().getFileName().toString());
                total += d.byteSize();
            }
            SafeTensorsWriter.write(dir.resolve(file.path().getFileName()), data, file.metadata());
        }
        if (ck.sharded()) {
            ObjectNode index = JSON.createObjectNode();
            index.putObject("metadata").put("total_size", total);
            ObjectNode wm = index.putObject("weight_map");
            weightMap.forEach(wm::put);
            AtomicFiles.writeString(dir.resolve("model.safetensors.index.json"), JSON.writeValueAsString(index) + "\n");
        }
    }

    /** config.json (with torch_dtype updated when the dtype changes), tokenizer and generation files; links are never followed. */
    private static void copyOtherFiles(Path from, Path to, DType forced) throws IOException {
        try (var files = Files.list(from)) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (!ModelFiles.CARRIED.contains(n) || !Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS)) continue;
                if (n.equals("config.json") && forced != null) {
                    ObjectNode c = (ObjectNode) ModelFiles.readJson(f);
                    c.put("torch_dtype", switch (forced) {
                        case F32 -> "float32";
                        case BF16 -> "bfloat16";
                        case F16 -> "float16";
                    });
                    AtomicFiles.writeString(to.resolve(n), JSON.writeValueAsString(c) + "\n");
                } else {
                    Files.copy(f, to.resolve(n));
                }
            }
        }
    }

}
