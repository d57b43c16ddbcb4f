package dev.lora4j.train;

import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.model.Attention;
import dev.lora4j.model.Block;
import dev.lora4j.model.Linear;
import dev.lora4j.model.Mlp;
import dev.lora4j.model.Norm;
import dev.lora4j.model.Projection;
import dev.lora4j.model.TrainableLinear;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Full fine-tuning, the baseline LoRA is measured against: every weight copied to the heap, each with
 * a gradient; saved back as a complete Hugging Face checkpoint under the base's own tensor names.
 */
public final class FullModel implements Trainable {
    private final Transformer model;
    private final List<Parameter> params;
    private final Map<String, Tensor> tensors; // checkpoint name → live weight, in file order

    private FullModel(Transformer model, List<Parameter> params, Map<String, Tensor> tensors) {
        this.model = model;
        this.params = params;
        this.tensors = tensors;
    }

    public static FullModel of(Transformer base) {
        if (base.source() != null && !(base.source() instanceof ModelFiles))
            throw new dev.lora4j.Lora4jException(base.source().dir() + ": --full writes a Hugging Face checkpoint, from one; over a GGUF model, train LoRA");
        List<Parameter> params = new ArrayList<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Tensor wte = copy(base.tokenEmbedding());
        Tensor wpe = base.positionEmbedding() == null ? null : copy(base.positionEmbedding());
        boolean tied = base.head() == base.tokenEmbedding();
        Tensor head = tied ? wte : copy(base.head());
        Transformer.EmbeddingGrads g = new Transformer.EmbeddingGrads(new float[wte.heapArray().length],
                wpe == null ? null : new float[wpe.heapArray().length], tied ? null : new float[head.heapArray().length]);
        add(params, tensors, wte, g.token());
        if (wpe != null) add(params, tensors, wpe, g.position());
        UnaryOperator<Projection> train = p -> {
            TrainableLinear t = TrainableLinear.of((Linear) p);
            add(params, tensors, t.base().weight(), t.weightGrad());
            if (t.biasGrad() != null) addArray(params, tensors, t.base().biasName(), t.base().bias(), t.biasGrad());
            return t;
        };
        UnaryOperator<Norm> norm = n -> {
            Norm t = n.trainable();
            addArray(params, tensors, n.name() + ".weight", t.weight(), t.weightGrad());
            if (t.bias() != null) addArray(params, tensors, n.name() + ".bias", t.bias(), t.biasGrad());
            return t;
        };
        List<Block> blocks = new ArrayList<>();
        for (Block b : base.blocks()) blocks.add(b.map(norm, train));
        Norm fin = norm.apply(base.finalNorm());
        if (!tied) add(params, tensors, head, g.head());
        Transformer model = new Transformer(base.config(), wte, wpe, blocks, fin, head, null, g);
        return new FullModel(model, params, tensors);
    }

    private static Tensor copy(Tensor t) {
        return Tensor.of(t.name(), t.toArray().clone(), t.shape());
    }

    private static void add(List<Parameter> params, Map<String, Tensor> tensors, Tensor t, float[] grad) {
        params.add(new Parameter(t.name(), t.heapArray(), grad));
        tensors.put(t.name(), t);
    }

    private static void addArray(List<Parameter> params, Map<String, Tensor> tensors, String name, float[] values, float[] grad) {
        params.add(new Parameter(name, values, grad));
        tensors.put(name, Tensor.of(name, values, values.length));
    }

    public Transformer model() {
        return model;
    }

    public List<Parameter> parameters() {
        return params;
    }

    public void zeroGrad() {
        for (Parameter p : params) java.util.Arrays.fill(p.grad(), 0f);
    }

    @Override
    public void setTraining(boolean training, long seed) {
        // no dropout in full fine-tuning
    }

    @Override
    public String summary() {
        return Trainable.fullSummary(parameterCount());
    }

    public long parameterCount() {
        return params.stream().mapToLong(p -> p.value().length).sum();
    }

    /** Writes a complete HF checkpoint: model.safetensors under the base's names, and the base's other files copied. */
    public void save(Path dir, Path baseDir) throws IOException {
        Files.createDirectories(dir);
        // configuration and tokenizer first, the weights last: a save killed half-way never leaves weights without config.json
        try (var files = Files.list(baseDir)) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                if (ModelFiles.CARRIED.contains(n) && Files.isRegularFile(f, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                    AtomicFiles.write(dir.resolve(n), out -> Files.copy(f, out));
            }
        }
        SafeTensorsWriter.write(dir.resolve("model.safetensors"), tensors, DType.F32, Map.of("format", "pt"));
    }
}
