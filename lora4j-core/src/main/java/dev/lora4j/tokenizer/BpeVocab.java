package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What both BPE tokenizer kinds read from tokenizer.json and do alike: the vocabulary and merge ranks,
 * the added (special) tokens that are split out of text before anything else, and the merge loop.
 */
final class BpeVocab {
    final Map<String, Integer> vocab = new HashMap<>();
    final Map<String, Integer> ranks = new HashMap<>(); // "a b" → merge rank
    final Map<String, Integer> addedIds = new HashMap<>();
    final List<String> added;                           // added tokens' contents, longest first
    final String[] byId;

    BpeVocab(JsonNode j) {
        JsonNode model = j.get("model");
        model.get("vocab").properties().forEach(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        int r = 0;
        for (JsonNode m : model.get("merges")) ranks.putIfAbsent(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText(), r++);
        for (JsonNode t : j.path("added_tokens")) addedIds.put(t.get("content").asText(), t.get("id").asInt());
        added = new ArrayList<>(addedIds.keySet());
        added.sort(Comparator.comparingInt(String::length).reversed());
        int max = 0;
        for (int id : vocab.values()) max = Math.max(max, id);
        for (int id : addedIds.values()) max = Math.max(max, id);
        byId = new String[max + 1];
        vocab.forEach((k, v) -> byId[v] = k);
        addedIds.forEach((k, v) -> byId[v] = k);
    }

    /** Receives the pieces of a text: ordinary segments (to normalise and merge) and added tokens' ids. */
    interface Pieces {
        void segment(String s, boolean first);

        void added(int id);
    }

    /** Splits text at added tokens (leftmost match, longest first), in order. */
    void split(String text, Pieces out) {
        int pos = 0;
        while (pos <= text.length()) {
            int next = text.length(), which = -1;
            for (int i = 0; i < added.size(); i++) {
                int at = text.indexOf(added.get(i), pos);
                if (at >= 0 && at < next) {
                    next = at;
                    which = i;
                }
            }
            if (next > pos) out.segment(text.substring(pos, next), pos == 0);
            if (which < 0) break;
            out.added(addedIds.get(added.get(which)));
            pos = next + added.get(which).length();
        }
    }

    /** Repeatedly merges the adjacent pair of lowest rank. */
    List<String> merge(List<String> word) {
        while (word.size() > 1) {
            int best = -1, bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < word.size(); i++) {
                Integer rank = ranks.get(word.get(i) + " " + word.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) break;
            String a = word.get(best), b = word.get(best + 1);
            List<String> next = new ArrayList<>(word.size());
            for (int i = 0; i < word.size(); i++) {
                if (i + 1 < word.size() && word.get(i).equals(a) && word.get(i + 1).equals(b)) {
                    next.add(a + b);
                    i++;
                } else {
                    next.add(word.get(i));
                }
            }
            word = next;
        }
        return word;
    }

    void checkId(int id) {
        if (id < 0 || id >= byId.length || byId[id] == null)
            throw new dev.lora4j.Lora4jException("token id " + id + " is outside the vocabulary [0, " + byId.length + ")");
    }
}
