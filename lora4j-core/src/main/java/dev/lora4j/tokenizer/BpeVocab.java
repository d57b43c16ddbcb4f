package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
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
    private final AddedTokens addedTokens;               // finds them in text in one pass
    final String[] byId;

    /** Ids beyond this many entries past the vocabulary would only ever allocate memory for nothing. */
    private static final int MAX_ID_GAP = 1 << 20;

    BpeVocab(JsonNode j) {
        JsonNode model = j.get("model");
        model.get("vocab").properties().forEach(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        int r = 0;
        for (JsonNode m : model.get("merges")) ranks.putIfAbsent(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText(), r++);
        for (JsonNode t : j.path("added_tokens")) addedIds.put(t.get("content").asText(), t.get("id").asInt());
        addedTokens = new AddedTokens(addedIds.keySet());
        int max = 0;
        String maxToken = null;
        for (var e : vocab.entrySet()) if (e.getValue() >= max) { max = e.getValue(); maxToken = e.getKey(); }
        for (var e : addedIds.entrySet()) if (e.getValue() >= max) { max = e.getValue(); maxToken = e.getKey(); }
        for (var e : vocab.entrySet()) if (e.getValue() < 0) throw new dev.lora4j.Lora4jException("token '" + e.getKey() + "' has a negative id " + e.getValue());
        for (var e : addedIds.entrySet()) if (e.getValue() < 0) throw new dev.lora4j.Lora4jException("added token '" + e.getKey() + "' has a negative id " + e.getValue());
        long entries = (long) vocab.size() + addedIds.size();
        if (max > entries + MAX_ID_GAP)
            throw new dev.lora4j.Lora4jException("token '" + maxToken + "' has id " + max + ", far beyond a vocabulary of " + entries + " entries");
        byId = new String[max + 1];
        vocab.forEach((k, v) -> byId[v] = k);
        addedIds.forEach((k, v) -> byId[v] = k);
    }

    /** Receives the pieces of a text: ordinary segments (to normalise and merge) and added tokens' ids. */
    interface Pieces {
        void segment(String s, boolean first);

        void added(int id);
    }

    /** Splits text at added tokens (leftmost match, longest first), in order, in one pass over the text. */
    void split(String text, Pieces out) {
        int pos = 0;
        while (pos <= text.length()) {
            long found = addedTokens.next(text, pos);
            int next = found < 0 ? text.length() : (int) (found >>> 32), length = (int) found;
            if (next > pos) out.segment(text.substring(pos, next), pos == 0);
            if (found < 0) break;
            out.added(addedIds.get(text.substring(next, next + length)));
            pos = next + length;
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
