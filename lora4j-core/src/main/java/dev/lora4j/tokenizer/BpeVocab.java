package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

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
    /** model.ignore_merges (Llama 3): a pre-token that is itself in the vocabulary is that one token. */
    final boolean ignoreMerges;

    /** Ids beyond this many entries past the vocabulary would only ever allocate memory for nothing. */
    private static final int MAX_ID_GAP = 1 << 20;

    /** Reads model.vocab, model.merges and added_tokens as strictly as Rust tokenizers' BPE builder does. */
    BpeVocab(JsonNode j) {
        JsonNode model = j.get("model"), vocabNode = model.get("vocab"), merges = model.get("merges");
        ignoreMerges = model.path("ignore_merges").asBoolean(false);
        if (vocabNode == null || !vocabNode.isObject()) throw new Lora4jException("model.vocab must be an object of token: id, got " + kind(vocabNode));
        vocabNode.properties().forEach(e -> vocab.put(e.getKey(), id("model.vocab '" + e.getKey() + "'", e.getValue())));
        if (merges != null && !merges.isNull() && !merges.isArray()) throw new Lora4jException("model.merges must be an array, got " + kind(merges));
        int r = 0;
        for (JsonNode m : merges == null ? List.<JsonNode>of() : merges) {
            String a, b;
            if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                a = m.get(0).asText();
                b = m.get(1).asText();
            } else if (m.isTextual() && m.asText().indexOf(' ') > 0 && m.asText().indexOf(' ') == m.asText().lastIndexOf(' ')
                    && !m.asText().endsWith(" ")) {
                a = m.asText().substring(0, m.asText().indexOf(' '));
                b = m.asText().substring(m.asText().indexOf(' ') + 1);
            } else {
                throw new Lora4jException("model.merges[" + r + "] must be \"a b\" or [\"a\", \"b\"], got " + m);
            }
            for (String t : new String[] {a, b, a + b})
                if (!vocab.containsKey(t)) throw new Lora4jException("model.merges[" + r + "] " + m + ": '" + t + "' is not in the vocabulary");
            ranks.putIfAbsent(a + " " + b, r++);
        }
        JsonNode added = j.path("added_tokens");
        if (!added.isMissingNode() && !added.isNull() && !added.isArray()) throw new Lora4jException("added_tokens must be an array, got " + kind(added));
        for (JsonNode t : added) {
            JsonNode content = t.get("content");
            if (content == null || !content.isTextual() || content.asText().isEmpty())
                throw new Lora4jException("added_tokens: every token needs a non-empty string \"content\", got " + t);
            addedIds.put(content.asText(), id("added token '" + content.asText() + "'", t.get("id")));
        }
        addedTokens = new AddedTokens(addedIds.keySet());
        int max = 0;
        String maxToken = null;
        for (var e : vocab.entrySet()) if (e.getValue() >= max) { max = e.getValue(); maxToken = e.getKey(); }
        for (var e : addedIds.entrySet()) if (e.getValue() >= max) { max = e.getValue(); maxToken = e.getKey(); }
        long entries = (long) vocab.size() + addedIds.size();
        if (max > entries + MAX_ID_GAP)
            throw new Lora4jException("token '" + maxToken + "' has id " + max + ", far beyond a vocabulary of " + entries + " entries");
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

    /** Repeatedly merges the adjacent pair of lowest rank (unless ignore_merges finds the whole word in the vocabulary). */
    List<String> merge(List<String> word) {
        if (ignoreMerges && word.size() > 1) {
            String whole = String.join("", word);
            if (vocab.containsKey(whole)) return List.of(whole);
        }
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

    private static int id(String what, JsonNode v) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0)
            throw new Lora4jException(what + ": the id must be a whole number >= 0, got " + v);
        return v.asInt();
    }

    private static String kind(JsonNode n) {
        return n == null || n.isMissingNode() ? "nothing" : n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
    }

    void checkId(int id) {
        if (id < 0 || id >= byId.length || byId[id] == null)
            throw new Lora4jException("token id " + id + " is outside the vocabulary [0, " + byId.length + ")");
    }

    /** The decoders lora4j's tokenizers implement; any other would decode text wrongly, so it is refused up front. */
    private static final java.util.Set<String> DECODERS = java.util.Set.of("ByteLevel", "Metaspace", "Sequence", "Replace", "ByteFallback", "Fuse", "Strip");

    static void checkDecoder(java.nio.file.Path file, JsonNode d) {
        if (d == null || d.isNull()) return;
        String type = d.path("type").asText("");
        if (!DECODERS.contains(type)) throw new Lora4jException(file + ": decoder '" + type + "' is not supported yet (supported: " + String.join(", ", new java.util.TreeSet<>(DECODERS)) + ")");
        if (type.equals("Sequence")) for (JsonNode step : d.path("decoders")) checkDecoder(file, step);
    }
}
