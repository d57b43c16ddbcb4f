package dev.lora4j.io.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.ModelFiles;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A tokenizer as GGUF metadata holds it ({@code tokenizer.ggml.*}), to and from a Hugging Face
 * tokenizer.json of the two BPE kinds: byte-level ("gpt2": tokens and merges) and SentencePiece-style
 * with byte fallback ("llama": tokens, scores, and the 256 {@code <0xNN>} byte tokens llama.cpp needs).
 * llama.cpp's llama vocabulary merges by score, so a merge's rank becomes its result's score (−rank),
 * and back: the merges are every split of a token into two tokens, ranked by that score.
 *
 * @param model  "gpt2" or "llama"
 * @param pre    llama.cpp's pre-tokenizer name for gpt2 vocabularies ("gpt-2", "llama-bpe"), or null
 * @param types  llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
 */
public record GgufVocab(String model, String pre, String[] tokens, int[] types, float[] scores, String[] merges,
                        int bos, int eos, int unk) {
    static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER = 4, UNUSED = 5, BYTE = 6;
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Llama 3's pre-tokenizer split pattern (tokenizer.json's Split regex; llama.cpp's "llama-bpe"). */
    /** Qwen2's pre-tokenizer split pattern (llama.cpp's "qwen2"): Llama 3's with single digits. */
    static final String QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** The vocabulary of a model directory's tokenizer.json, padded with unused tokens to the model's vocabulary size. */
    public static GgufVocab of(Path modelDir, JsonNode config, int vocabSize) {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) throw new Lora4jException(modelDir + ": no tokenizer.json; llama.cpp needs the vocabulary in the GGUF file");
        JsonNode j = ModelFiles.readJson(file), m = j.path("model");
        if (!m.path("type").asText("").equals("BPE")) throw new Lora4jException(file + ": export-gguf writes BPE vocabularies, not " + m.path("type").asText("?"));
        boolean byteLevel = j.toString().contains("\"ByteLevel\"");
        String[] tokens = new String[vocabSize];
        int[] types = new int[vocabSize];
        Arrays.fill(types, UNUSED);
        for (var e : m.path("vocab").properties()) put(file, tokens, types, e.getValue().asInt(), e.getKey(), NORMAL);
        for (JsonNode a : j.path("added_tokens")) put(file, tokens, types, a.path("id").asInt(), a.path("content").asText(), a.path("special").asBoolean() ? CONTROL : USER);
        for (int i = 0; i < vocabSize; i++) if (tokens[i] == null) tokens[i] = "[PAD" + i + "]";
        List<String> merges = new ArrayList<>();
        for (JsonNode mg : m.path("merges")) merges.add(mg.isArray() ? mg.get(0).asText() + " " + mg.get(1).asText() : mg.asText());
        int unk = m.path("unk_token").isTextual() ? indexOf(tokens, m.path("unk_token").asText()) : -1;
        int bos = config.path("bos_token_id").isInt() ? config.get("bos_token_id").asInt() : -1;
        int eos = config.path("eos_token_id").isInt() ? config.get("eos_token_id").asInt() : config.path("eos_token_id").path(0).asInt(-1);
        if (byteLevel) {
            String split = j.path("pre_tokenizer").findPath("Regex").asText("");
            String pre = split.equals(QWEN2_SPLIT) ? "qwen2" : j.toString().contains("\"Split\"") ? "llama-bpe" : "gpt-2";
            return new GgufVocab("gpt2", pre, tokens, types, null, merges.toArray(String[]::new), bos, eos, unk);
        }
        if (!m.path("byte_fallback").asBoolean(false))
            throw new Lora4jException(file + ": a SentencePiece-style vocabulary needs byte_fallback for llama.cpp (its 256 <0xNN> tokens)");
        float[] scores = new float[vocabSize];
        // tokens no merge makes would otherwise tie with the best merge: below every merge, as BPE never reaches them
        for (int i = 0; i < vocabSize; i++) if (tokens[i].codePointCount(0, tokens[i].length()) > 1) scores[i] = -1e6f - i;
        for (int r = 0; r < merges.size(); r++) {
            int id = indexOf(tokens, merges.get(r).replace(" ", ""));
            if (id >= 0 && scores[id] <= -1e6f) scores[id] = -(r + 1);
        }
        for (int i = 0; i < vocabSize; i++) {
            if (tokens[i].matches("<0x[0-9A-F]{2}>")) types[i] = BYTE;
            if (i == unk) types[i] = UNKNOWN;
        }
        return new GgufVocab("llama", null, tokens, types, scores, null, bos, eos, unk);
    }

    private static void put(Path file, String[] tokens, int[] types, int id, String text, int type) {
        if (id < 0 || id >= tokens.length) throw new Lora4jException(file + ": token '" + text + "' has id " + id + ", outside the model's vocabulary of " + tokens.length);
        tokens[id] = text;
        types[id] = type;
    }

    private static int indexOf(String[] tokens, String t) {
        for (int i = 0; i < tokens.length; i++) if (t.equals(tokens[i])) return i;
        return -1;
    }

    void writeTo(GgufWriter w) {
        w.put("tokenizer.ggml.model", model);
        if (pre != null) w.put("tokenizer.ggml.pre", pre);
        w.put("tokenizer.ggml.tokens", tokens).put("tokenizer.ggml.token_type", types);
        if (scores != null) w.put("tokenizer.ggml.scores", scores);
        if (merges != null) w.put("tokenizer.ggml.merges", merges);
        if (bos >= 0) w.put("tokenizer.ggml.bos_token_id", bos);
        if (eos >= 0) w.put("tokenizer.ggml.eos_token_id", eos);
        if (unk >= 0) w.put("tokenizer.ggml.unknown_token_id", unk);
        w.put("tokenizer.ggml.add_bos_token", false);
    }

    /** The vocabulary a GGUF file holds, or null when it has none. */
    public static GgufVocab read(GgufFile f) {
        Map<String, Object> md = f.metadata();
        if (!(md.get("tokenizer.ggml.model") instanceof String model)) return null;
        String[] tokens = f.require("tokenizer.ggml.tokens", String[].class);
        int[] types = new int[tokens.length];
        Arrays.fill(types, NORMAL);
        if (md.get("tokenizer.ggml.token_type") instanceof long[] t && t.length == tokens.length)
            for (int i = 0; i < t.length; i++) types[i] = (int) t[i];
        float[] scores = md.get("tokenizer.ggml.scores") instanceof float[] s && s.length == tokens.length ? s : null;
        String[] merges = md.get("tokenizer.ggml.merges") instanceof String[] mg ? mg : null;
        return new GgufVocab(model, md.get("tokenizer.ggml.pre") instanceof String p ? p : null, tokens, types, scores, merges,
                id(md, "tokenizer.ggml.bos_token_id"), id(md, "tokenizer.ggml.eos_token_id"), id(md, "tokenizer.ggml.unknown_token_id"));
    }

    private static int id(Map<String, Object> md, String key) {
        return md.get(key) instanceof Number n ? n.intValue() : -1;
    }

    /** The equivalent tokenizer.json; {@code where} names the file in messages. */
    public ObjectNode toTokenizerJson(Path where) {
        ObjectNode j = JSON.createObjectNode();
        ArrayNode added = j.putArray("added_tokens");
        for (int i = 0; i < tokens.length; i++)
            if (types[i] == CONTROL || types[i] == USER || types[i] == UNKNOWN)
                added.addObject().put("id", i).put("content", tokens[i]).put("single_word", false).put("lstrip", false).put("rstrip", false)
                        .put("normalized", false).put("special", types[i] != USER);
        ObjectNode m = j.putObject("model");
        m.put("type", "BPE");
        ObjectNode vocab = m.putObject("vocab");
        for (int i = 0; i < tokens.length; i++) if (types[i] != UNUSED && !vocab.has(tokens[i])) vocab.put(tokens[i], i);
        ArrayNode merges = m.putArray("merges");
        switch (model) {
            case "gpt2" -> {
                if (this.merges == null) throw new Lora4jException(where + ": a gpt2 vocabulary without tokenizer.ggml.merges");
                for (String mg : this.merges) merges.add(mg);
                ObjectNode byteLevel = JSON.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true);
                if (pre == null || pre.equals("gpt-2") || pre.equals("default")) j.set("pre_tokenizer", byteLevel.deepCopy().put("use_regex", true));
                else if (pre.equals("llama-bpe") || pre.equals("llama3") || pre.equals("qwen2")) {
                    ObjectNode seq = j.putObject("pre_tokenizer").put("type", "Sequence");
                    seq.putArray("pretokenizers").add(JSON.createObjectNode().put("type", "Split").put("behavior", "Isolated").put("invert", false)
                            .set("pattern", JSON.createObjectNode().put("Regex", pre.equals("qwen2") ? QWEN2_SPLIT : LLAMA3_SPLIT)))
                            .add(byteLevel.deepCopy().put("use_regex", false));
                    if (pre.equals("qwen2")) j.putObject("normalizer").put("type", "NFC");
                } else throw new Lora4jException(where + ": tokenizer.ggml.pre '" + pre + "' is not read yet (gpt-2, llama-bpe and qwen2 are)");
                j.set("decoder", byteLevel.deepCopy().put("use_regex", true));
            }
            case "llama" -> {
                if (scores == null) throw new Lora4jException(where + ": a llama vocabulary without tokenizer.ggml.scores");
                for (String[] mg : mergesFromScores()) merges.addArray().add(mg[0]).add(mg[1]);
                m.put("byte_fallback", true).put("fuse_unk", true);
                if (unk >= 0) m.put("unk_token", tokens[unk]);
                ObjectNode norm = j.putObject("normalizer").put("type", "Sequence");
                norm.putArray("normalizers").add(JSON.createObjectNode().put("type", "Prepend").put("prepend", "▁"))
                        .add(JSON.createObjectNode().put("type", "Replace").put("content", "▁").set("pattern", JSON.createObjectNode().put("String", " ")));
                ObjectNode dec = j.putObject("decoder").put("type", "Sequence");
                dec.putArray("decoders").add(JSON.createObjectNode().put("type", "Replace").put("content", " ").set("pattern", JSON.createObjectNode().put("String", "▁")))
                        .add(JSON.createObjectNode().put("type", "ByteFallback")).add(JSON.createObjectNode().put("type", "Fuse"))
                        .add(JSON.createObjectNode().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0));
            }
            default -> throw new Lora4jException(where + ": tokenizer.ggml.model '" + model + "' is not read yet (gpt2 and llama are)");
        }
        return j;
    }

    /** Every split of a normal token into two tokens, the best-scored results first (ties: lower ids first). */
    private List<String[]> mergesFromScores() {
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < tokens.length; i++) if (types[i] == NORMAL) ids.putIfAbsent(tokens[i], i);
        List<int[]> found = new ArrayList<>(); // {result, left, right}
        for (int i = 0; i < tokens.length; i++) {
            if (types[i] != NORMAL) continue;
            String t = tokens[i];
            for (int k = t.offsetByCodePoints(0, 1); k < t.length(); k = t.offsetByCodePoints(k, 1)) {
                Integer l = ids.get(t.substring(0, k)), r = ids.get(t.substring(k));
                if (l != null && r != null) found.add(new int[] {i, l, r});
            }
        }
        found.sort(Comparator.<int[]>comparingDouble(f -> -scores[f[0]]).thenComparingInt(f -> f[0]).thenComparingInt(f -> f[1]));
        List<String[]> out = new ArrayList<>();
        for (int[] f : found) out.add(new String[] {tokens[f[1]], tokens[f[2]]});
        return out;
    }
}
