package dev.lora4j.io.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.WeightSource;
import dev.lora4j.quant.GgmlMatrix;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A GGUF model of llama.cpp's "llama" or "qwen2" architecture read as a Hugging Face checkpoint: its
 * metadata becomes config.json's fields, its tensors answer to HF names. F32 and BF16 tensors are read
 * in place from the mapping; quantized ones (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) are copied once to the heap in their
 * own format (never widened); F16 ones are widened to fp32 on the heap (lora4j computes in fp32 and keeps
 * no F16 weights). q and k come back to HF's row order: their rows are copied once, in the file's format.
 */
public final class GgufWeights implements WeightSource {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GgufFile file;
    private final ObjectNode config;
    private final String arch;
    private final int heads, kvHeads;

    private GgufWeights(GgufFile file, ObjectNode config) {
        this.file = file;
        this.config = config;
        this.arch = config.get("model_type").asText();
        this.heads = config.get("num_attention_heads").asInt();
        this.kvHeads = config.get("num_key_value_heads").asInt();
    }

    public static GgufWeights open(Path path) {
        GgufFile f = GgufFile.open(path);
        try {
            return new GgufWeights(f, config(f));
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** config.json as Hugging Face would write it for this model. */
    static ObjectNode config(GgufFile f) {
        String arch = f.require("general.architecture", String.class);
        if (!LlamaLayout.ARCHITECTURES.contains(arch))
            throw new Lora4jException(f.path() + ": general.architecture is '" + arch + "'; lora4j reads GGUF models of the 'llama' and 'qwen2' architectures");
        if (f.metadata().containsKey("general.type") && !"model".equals(f.metadata().get("general.type")))
            throw new Lora4jException(f.path() + ": general.type is '" + f.metadata().get("general.type") + "', not a model (a LoRA adapter GGUF goes with --adapter)");
        Object scaling = f.metadata().get(arch + ".rope.scaling.type");
        if (scaling != null && !"none".equals(scaling))
            throw new Lora4jException(f.path() + ": RoPE scaling '" + scaling + "' is not read from GGUF yet (rope_freqs is)");
        ObjectNode c = new ObjectMapper().createObjectNode();
        int dim = f.integer(arch + ".embedding_length"), heads = f.integer(arch + ".attention.head_count");
        int kv = f.metadata().containsKey(arch + ".attention.head_count_kv") ? f.integer(arch + ".attention.head_count_kv") : heads;
        GgufFile.TensorInfo embed = f.tensors().get("token_embd.weight");
        if (embed == null) throw new Lora4jException(f.path() + ": missing tensor 'token_embd.weight'");
        c.put("model_type", arch);
        c.put("hidden_size", dim);
        c.put("intermediate_size", f.integer(arch + ".feed_forward_length"));
        c.put("num_hidden_layers", f.integer(arch + ".block_count"));
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kv);
        if (f.metadata().containsKey(arch + ".rope.dimension_count") && heads > 0 && f.integer(arch + ".rope.dimension_count") != dim / heads)
            c.put("head_dim", f.integer(arch + ".rope.dimension_count"));
        c.put("vocab_size", embed.dims()[1]);
        c.put("max_position_embeddings", f.integer(arch + ".context_length"));
        c.put("rms_norm_eps", ((Number) f.require(arch + ".attention.layer_norm_rms_epsilon", Number.class)).doubleValue());
        c.put("rope_theta", f.metadata().get(arch + ".rope.freq_base") instanceof Number n ? n.doubleValue() : 10000.0);
        c.put("tie_word_embeddings", !f.tensors().containsKey("output.weight"));
        c.put("hidden_act", "silu");
        GgufFile.TensorInfo freqs = f.tensors().get("rope_freqs.weight");
        if (freqs != null) { // per-frequency divisors (Llama 3.1+): LongRoPE's short factors, with one table and no attention factor
            int headDim = c.has("head_dim") ? c.get("head_dim").asInt() : dim / heads;
            if (freqs.type() != GgmlType.F32 || freqs.dims().length != 1 || freqs.dims()[0] != headDim / 2)
                throw new Lora4jException(f.path() + ": rope_freqs.weight must be " + headDim / 2 + " F32 values, got " + freqs.type() + " " + Arrays.toString(freqs.dims()));
            ObjectNode rs = c.putObject("rope_scaling").put("rope_type", "longrope").put("attention_factor", 1.0);
            var shortF = rs.putArray("short_factor");
            var longF = rs.putArray("long_factor");
            for (int i = 0; i < headDim / 2; i++) {
                float v = freqs.data().getAtIndex(GgufFile.F32, i);
                shortF.add(v);
                longF.add(v);
            }
        }
        if (f.metadata().get("tokenizer.ggml.bos_token_id") instanceof Number n) c.put("bos_token_id", n.intValue());
        if (f.metadata().get("tokenizer.ggml.eos_token_id") instanceof Number n) c.put("eos_token_id", n.intValue());
        return c;
    }

    public GgufFile file() {
        return file;
    }

    @Override
    public Path dir() {
        return file.path();
    }

    @Override
    public JsonNode config() {
        return config;
    }

    @Override
    public boolean has(String name) {
        String g = LlamaLayout.ggufName(name);
        return g != null && file.tensors().containsKey(g);
    }

    @Override
    public Tensor tensor(String name, int... shape) {
        String g = LlamaLayout.ggufName(name);
        GgufFile.TensorInfo t = g == null ? null : file.tensors().get(g);
        if (t == null) throw new Lora4jException(file.path() + ": missing tensor '" + (g == null ? name : g) + "' (" + name + ")");
        long[] want = new long[shape.length];
        for (int i = 0; i < shape.length; i++) want[i] = shape[shape.length - 1 - i];
        if (!Arrays.equals(t.dims(), want))
            throw new Lora4jException(file.path() + ": tensor '" + g + "' has dims " + Arrays.toString(t.dims()) + ", expected " + Arrays.toString(want));
        int cols = shape[shape.length - 1], rows = (int) (t.numel() / cols);
        MemorySegment data = inHfOrder(t.data(), rows, t.type().bytes(cols), LlamaLayout.permutedHeads(arch, name, heads, kvHeads));
        return switch (t.type()) {
            case F32 -> new Tensor(name, shape, data, DType.F32);
            case BF16 -> new Tensor(name, shape, data, DType.BF16);
            case F16 -> {
                float[] a = new float[Math.toIntExact(t.numel())];
                for (int i = 0; i < a.length; i++) a[i] = Float.float16ToFloat(data.getAtIndex(U16, i));
                yield Tensor.of(name, a, shape);
            }
            default -> {
                if (shape.length != 2) throw new Lora4jException(file.path() + ": tensor '" + g + "' is " + t.type() + " but not a matrix");
                // copied once to the heap, in its own format: vector loads from a heap array ran about 3x faster than from the mapping
                MemorySegment heap = data.heapBase().isPresent() ? data : MemorySegment.ofArray(data.toArray(ValueLayout.JAVA_BYTE));
                yield Tensor.quantized(name, new GgmlMatrix(t.type().quant, rows, cols, heap));
            }
        };
    }

    /** The rows of a q or k tensor in HF's order (a heap copy); any other tensor as it lies. */
    private static MemorySegment inHfOrder(MemorySegment data, int rows, long rowBytes, int heads) {
        if (heads == 0) return data;
        byte[] out = new byte[Math.toIntExact(data.byteSize())];
        MemorySegment o = MemorySegment.ofArray(out);
        for (int g = 0; g < rows; g++) MemorySegment.copy(data, g * rowBytes, o, LlamaLayout.hfRow(g, rows, heads) * rowBytes, rowBytes);
        return o;
    }

    @Override
    public String firstNonFinite() {
        return null; // quantized blocks hold no NaN by construction; F32 weights are not scanned here
    }

    @Override
    public void close() {
        file.close();
    }
}
