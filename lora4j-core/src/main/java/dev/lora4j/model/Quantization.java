package dev.lora4j.model;

import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.WeightSource;
import dev.lora4j.kernels.WeightPanels;
import dev.lora4j.quant.QuantType;
import dev.lora4j.quant.QuantizedMatrix;
import dev.lora4j.tensor.Parallel;
import dev.lora4j.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Quantizes a loaded model's frozen weights at load (QLoRA's frozen base): every block projection, the
 * token embedding and the LM head (one tensor when tied), each to rows of outputs in the chosen format.
 * The checkpoint is read from its files, never written, and its full-precision weights never stay resident. A projection whose input width is not a whole number of
 * blocks stays as it was (llama.cpp's converter does the same), and so do norms, biases and position
 * embeddings: they are small, and LoRA trains beside them in fp32.
 */
public final class Quantization {
    /** What was quantized: weights changed and kept, and their bytes before and after. */
    public record Report(QuantType type, int quantized, int kept, long bytesBefore, long bytesAfter) {
        public String describe() {
            return String.format("quantized %d weights to %s (%.1f MB -> %.1f MB)%s", quantized, type.label, bytesBefore / 1e6, bytesAfter / 1e6,
                    kept == 0 ? "" : ", kept " + kept + " whose rows are not whole " + type.blockSize + "-element blocks");
        }
    }

    /** A quantized model and its report. */
    public record Result(Transformer model, Report report) {}

    private Quantization() {}

    /**
     * Loads a checkpoint, quantized when {@code type} is not null (the report goes to {@code report});
     * the model is closed again if quantizing fails.
     */
    public static Transformer load(java.nio.file.Path dir, QuantType type, java.util.function.Consumer<Report> report) {
        Transformer t = Transformer.load(dir);
        if (type == null) return t;
        try {
            Result r = apply(t, type);
            report.accept(r.report());
            return r.model();
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    public static Result apply(Transformer model, QuantType type) {
        List<Linear> linears = new ArrayList<>();
        for (Block b : model.blocks())
            for (Projection p : b.projections()) {
                if (!(p instanceof Linear l)) throw new IllegalStateException(p.getClass().getSimpleName() + " " + p.name() + ": quantize the base before adapting it");
                linears.add(l);
            }
        Map<Linear, Linear> replaced = new IdentityHashMap<>();
        Linear[] out = new Linear[linears.size()];
        Parallel.forChunks(linears.size(), i -> out[i] = quantize(model.source(), linears.get(i), type));
        long before = 0, after = 0;
        int kept = 0;
        for (int i = 0; i < out.length; i++) {
            replaced.put(linears.get(i), out[i]);
            before += linears.get(i).weight().byteSize();
            after += out[i].weight().byteSize();
            if (out[i] == linears.get(i)) kept++;
        }
        Tensor wte = model.tokenEmbedding(), head = model.head();
        Tensor qWte = quantize(model.source(), wte, type), qHead = head == wte ? qWte : quantize(model.source(), head, type);
        before += wte.byteSize() + (head == wte ? 0 : head.byteSize());
        after += qWte.byteSize() + (head == wte ? 0 : qHead.byteSize());
        kept += (qWte == wte ? 1 : 0) + (head != wte && qHead == head ? 1 : 0);
        List<Block> blocks = new ArrayList<>();
        for (Block b : model.blocks()) blocks.add(b.map(n -> n, p -> replaced.get((Linear) p)));
        Transformer q = new Transformer(model.config(), qWte, model.positionEmbedding(), blocks, model.finalNorm(), qHead, model.source());
        int changed = linears.size() + (head == wte ? 1 : 2) - kept;
        return new Result(q, new Report(type, changed, kept, before, after));
    }

    /**
     * A projection's weight as rows of outputs. From a safetensors checkpoint the rows are read from the file
     * ({@link FileRows}: the mapping stays untouched, so the full-precision weights never become resident);
     * otherwise (a GGUF file, an in-memory model) from the weight itself.
     */
    private static Linear quantize(WeightSource source, Linear l, QuantType type) {
        if (!type.fits(l.in())) return l;
        String name = l.weight().name();
        QuantizedMatrix.RowSource rows;
        if (FileRows.readable(source, name) && !l.fanInFanOut()) {
            rows = new FileRows((ModelFiles) source, name, l.out(), l.in());
        } else if (FileRows.readable(source, name)) { // GPT-2's Conv1D (in, out): a row of outputs is a column
            // The whole tensor as floats, off the heap and freed as soon as it is quantized: on the heap these
            // copies were promoted by the collections during loading and stayed, dead, in the resident set.
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment w = new FileRows((ModelFiles) source, name, l.in(), l.out()).all(l.in(), arena);
                QuantizedMatrix q = QuantizedMatrix.quantize(type, l.out(), l.in(), (r, dst) -> {
                    for (int p = 0; p < l.in(); p++) dst[p] = w.getAtIndex(ValueLayout.JAVA_FLOAT, (long) p * l.out() + r);
                });
                return new Linear(l.name(), Tensor.quantized(name, q), l.bias(), l.in(), l.out(), false);
            }
        } else {
            WeightPanels copy = WeightPanels.copyOf(l.wT()); // (out, in), one tensor at a time
            rows = (r, dst) -> {
                for (int p = 0; p < l.in(); p++) dst[p] = copy.get(r, p);
            };
        }
        return new Linear(l.name(), Tensor.quantized(name, QuantizedMatrix.quantize(type, l.out(), l.in(), rows)), l.bias(), l.in(), l.out(), false);
    }

    /** An embedding or head (V, C): its rows are already rows of outputs. */
    private static Tensor quantize(WeightSource source, Tensor t, QuantType type) {
        if (t.rank() != 2 || !type.fits(t.dim(1))) return t;
        int rows = t.dim(0), cols = t.dim(1);
        QuantizedMatrix.RowSource read;
        if (FileRows.readable(source, t.name())) read = new FileRows((ModelFiles) source, t.name(), rows, cols);
        else {
            var m = t.mat();
            read = (r, dst) -> m.copyRow(r, 0, dst, 0, cols);
        }
        return Tensor.quantized(t.name(), QuantizedMatrix.quantize(type, rows, cols, read));
    }
}
