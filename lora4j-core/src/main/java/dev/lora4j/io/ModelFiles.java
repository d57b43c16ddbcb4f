package dev.lora4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face checkpoint directory: config.json plus model.safetensors, or shards listed by
 * model.safetensors.index.json. Tensors are looked up by name across shards and stay memory-mapped.
 */
public final class ModelFiles implements WeightSource {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The files a model made from this one (merged, fully fine-tuned) carries besides its weights:
     * configuration, tokenizer and generation files; never a model card, plots or anything else.
     */
    public static final java.util.Set<String> CARRIED = java.util.Set.of("config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json",
            "chat_template.jinja", "chat_template.json");

    private final Path dir;
    private final JsonNode config;
    private final List<SafeTensors> files;
    private final Map<String, SafeTensors> byName;

    private ModelFiles(Path dir, JsonNode config, List<SafeTensors> files, Map<String, SafeTensors> byName) {
        this.dir = dir;
        this.config = config;
        this.files = files;
        this.byName = byName;
    }

    public static ModelFiles open(Path dir) {
        if (!Files.isDirectory(dir)) throw new Lora4jException(dir + ": not a directory (expected a Hugging Face checkpoint directory)");
        JsonNode config = readJson(dir.resolve("config.json"));
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        List<SafeTensors> files = new ArrayList<>();
        Map<String, SafeTensors> byName = new LinkedHashMap<>();
        try {
            if (Files.exists(index)) {
                JsonNode map = readJson(index).get("weight_map");
                if (map == null || !map.isObject()) throw new Lora4jException(index + ": missing \"weight_map\" object");
                Map<String, SafeTensors> shards = new LinkedHashMap<>();
                for (var it = map.properties().iterator(); it.hasNext(); ) {
                    var e = it.next();
                    String file = e.getValue().asText();
                    Path root = dir.toAbsolutePath().normalize(), p = root.resolve(file).normalize(); // "." normalises to ""
                    if (!p.startsWith(root) || !Files.isRegularFile(p))
                        throw new Lora4jException(index + ": tensor '" + e.getKey() + "' is in shard '" + file + "', which does not exist");
                    SafeTensors st = shards.computeIfAbsent(file, f -> {
                        SafeTensors s = SafeTensors.open(p);
                        files.add(s);
                        return s;
                    });
                    if (!st.has(e.getKey())) throw new Lora4jException(p + ": no tensor '" + e.getKey() + "', which " + index.getFileName() + " places there");
                    byName.put(e.getKey(), st);
                }
            } else if (Files.exists(single)) {
                SafeTensors st = SafeTensors.open(single);
                files.add(st);
                for (String n : st.entries().keySet()) byName.put(n, st);
            } else {
                String pickle = Files.exists(dir.resolve("pytorch_model.bin")) ? " (pytorch_model.bin is a Python pickle, which lora4j never loads:"
                        + " it can run code; convert it to safetensors, e.g. with transformers' save_pretrained(safe_serialization=True))" : "";
                throw new Lora4jException(dir + ": no model.safetensors or model.safetensors.index.json" + pickle);
            }
        } catch (RuntimeException e) {
            files.forEach(SafeTensors::close);
            throw e;
        }
        return new ModelFiles(dir, config, files, byName);
    }

    public static JsonNode readJson(Path p) {
        if (!Files.isRegularFile(p)) throw new Lora4jException(p + ": file not found");
        try {
            JsonNode n = JSON.readTree(p.toFile());
            if (n == null || !n.isObject()) throw new Lora4jException(p + ": expected a JSON object");
            return n;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new Lora4jException(p + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new Lora4jException(p + ": cannot read: " + e.getMessage(), e);
        }
    }

    @Override
    public Path dir() {
        return dir;
    }

    @Override
    public JsonNode config() {
        return config;
    }

    public Set<String> names() {
        return byName.keySet();
    }

    @Override
    public boolean has(String name) {
        return byName.containsKey(name);
    }

    public SafeTensors.Entry entry(String name) {
        return file(name).entry(name);
    }

    /** The file that holds a tensor. */
    public SafeTensors fileOf(String name) {
        return file(name);
    }

    /** Whether the weights come in shards listed by model.safetensors.index.json. */
    public boolean sharded() {
        return java.nio.file.Files.exists(dir.resolve("model.safetensors.index.json"));
    }

    private SafeTensors file(String name) {
        SafeTensors st = byName.get(name);
        if (st == null) throw new Lora4jException(dir + ": missing tensor '" + name + "'");
        return st;
    }

    public Tensor tensor(String name) {
        return file(name).tensor(name);
    }

    /** The tensor, checked to have exactly the expected shape. */
    @Override
    public Tensor tensor(String name, int... shape) {
        SafeTensors.Entry e = entry(name);
        if (!java.util.Arrays.equals(e.shape(), shape))
            throw new Lora4jException(file(name).path() + ": tensor '" + name + "' has shape " + java.util.Arrays.toString(e.shape())
                    + ", expected " + java.util.Arrays.toString(shape) + " from config.json");
        return tensor(name);
    }

    /**
     * The first NaN or infinite weight, as "tensor[index] = value", or null when every weight is finite.
     * One pass over the files (what one decoded token reads anyway), in 64k-element chunks.
     */
    @Override
    public String firstNonFinite() {
        float[] chunk = new float[1 << 16];
        for (String name : names()) {
            Tensor t = tensor(name);
            long n = t.numel();
            for (long at = 0; at < n; at += chunk.length) {
                int k = (int) Math.min(chunk.length, n - at);
                t.dtype().toFloats(t.data(), at * t.dtype().bytes, chunk, k);
                for (int i = 0; i < k; i++) if (!Float.isFinite(chunk[i])) return name + "[" + (at + i) + "] = " + chunk[i];
            }
        }
        return null;
    }

    public List<SafeTensors> files() {
        return files;
    }

    @Override
    public void close() {
        files.forEach(SafeTensors::close);
    }
}
