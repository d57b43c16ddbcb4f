package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;

/**
 * Trains a byte-level BPE tokenizer (GPT-2's layout: its split pattern, the byte-to-unicode table, merges)
 * on a text, and writes it as a Hugging Face tokenizer.json that {@link ByteLevelBpe} (and Hugging Face's
 * tokenizers) read. Each round merges the most frequent adjacent pair (ties broken by the pair's text,
 * so training is deterministic) until the vocabulary is full or no pair occurs twice.
 */
public final class BpeTrainer {
    private BpeTrainer() {}

    /**
     * A tokenizer.json with at most vocabSize tokens: the 256 bytes, the merges, then the special tokens
     * (added tokens; the first is the end-of-text token).
     */
    public static ObjectNode train(String text, int vocabSize, List<String> specialTokens) {
        char[] table = ByteLevelBpe.byteToUnicode();
        Map<String, Integer> pieces = new HashMap<>();
        Matcher m = ByteLevelBpe.GPT2.matcher(text);
        while (m.find()) pieces.merge(m.group(), 1, Integer::sum);
        List<List<String>> words = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        pieces.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            List<String> w = new ArrayList<>();
            for (byte b : e.getKey().getBytes(StandardCharsets.UTF_8)) w.add(String.valueOf(table[b & 0xff]));
            words.add(w);
            counts.add(e.getValue());
        });
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(table[b]), b);
        List<String> merges = new ArrayList<>();
        int budget = vocabSize - specialTokens.size();
        while (vocab.size() < budget) {
            Map<String, Integer> pairs = new HashMap<>();
            for (int i = 0; i < words.size(); i++) {
                List<String> w = words.get(i);
                for (int j = 0; j + 1 < w.size(); j++) pairs.merge(w.get(j) + " " + w.get(j + 1), counts.get(i), Integer::sum);
            }
            String best = null;
            int bestCount = 1;
            for (var e : pairs.entrySet())
                if (e.getValue() > bestCount || e.getValue() == bestCount && best != null && e.getKey().compareTo(best) < 0) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            if (best == null) break;
            merges.add(best);
            String a = best.substring(0, best.indexOf(' ')), b = best.substring(best.indexOf(' ') + 1), ab = a + b;
            vocab.putIfAbsent(ab, vocab.size());
            for (List<String> w : words)
                for (int j = 0; j + 1 < w.size(); j++)
                    if (w.get(j).equals(a) && w.get(j + 1).equals(b)) {
                        w.set(j, ab);
                        w.remove(j + 1);
                    }
        }
        ObjectMapper om = new ObjectMapper();
        ObjectNode j = om.createObjectNode();
        j.put("version", "1.0");
        j.putNull("truncation");
        j.putNull("padding");
        ArrayNode added = j.putArray("added_tokens");
        for (String s : specialTokens) {
            int id = vocab.size();
            vocab.put(s, id);
            added.addObject().put("id", id).put("content", s).put("single_word", false).put("lstrip", false).put("rstrip", false)
                    .put("normalized", false).put("special", true);
        }
        j.putNull("normalizer");
        for (String step : List.of("pre_tokenizer", "post_processor", "decoder"))
            j.putObject(step).put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
        ObjectNode model = j.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false).put("byte_fallback", false);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode mg = model.putArray("merges");
        merges.forEach(mg::add);
        return j;
    }
}
