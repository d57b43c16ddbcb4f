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
 * {@link Unigram} uses it for its pieces (model.vocab as [piece, score] pairs, an id each by position) and
 * its added tokens, without merges.
 */
final class BpeVocab {
    final TokenTable tokens;                             // model.vocab
    final LongLongMap mergeTable;                        // (id a, id b) → (rank, id of a + b)
    final Map<String, Integer> addedIds = new HashMap<>();
    final java.util.Set<String> special = new java.util.HashSet<>(); // added tokens marked "special"
    private final Map<String, Integer> addedFlags = new HashMap<>();  // LSTRIP | RSTRIP | SINGLE_WORD of an added token
    private static final int LSTRIP = 1, RSTRIP = 2, SINGLE_WORD = 4;
    private final AddedTokens addedTokens;               // finds them in text in one pass
    private final String[] addedById;                    // an added token's text at its id, else null
    /** model.ignore_merges (Llama 3): a pre-token that is itself in the vocabulary is that one token. */
    final boolean ignoreMerges;

    /** Ids beyond this many entries past the vocabulary would only ever allocate memory for nothing. */
    static final int MAX_ID_GAP = 1 << 20;

    /**
     * Reads model.vocab, model.merges and added_tokens as strictly as Rust tokenizers' BPE builder does; with
     * {@code cached}, the vocabulary and merges are those tables (model.vocab and model.merges are not read).
     */
    BpeVocab(JsonNode j, TokenizerCache.Tables cached) {
        JsonNode model = j.get("model");
        ignoreMerges = model.path("ignore_merges").asBoolean(false);
        readAdded(j.path("added_tokens"));
        if (cached != null) {
            tokens = cached.tokens();
            mergeTable = cached.merges();
            int last = tokens.idLimit() - 1;
            checkIdGap(last < 0 ? Map.of() : Map.of(tokens.token(last), last), tokens.size()); // the added tokens' ids
        } else {
            Map<String, Integer> vocab = readVocab(model);
            checkIdGap(vocab, vocab.size());
            tokens = TokenTable.of(vocab);
            mergeTable = readMerges(model.get("merges"), vocab);
        }
        addedTokens = new AddedTokens(addedIds.keySet());
        int limit = tokens.idLimit();
        for (int id : addedIds.values()) limit = Math.max(limit, id + 1);
        addedById = new String[limit];
        addedIds.forEach((k, v) -> addedById[v] = k);
    }

    private static Map<String, Integer> readVocab(JsonNode model) {
        JsonNode vocabNode = model.get("vocab");
        Map<String, Integer> vocab = new HashMap<>();
        if (model.path("type").asText().equals("Unigram")) {
            if (vocabNode == null || !vocabNode.isArray()) throw new Lora4jException("model.vocab must be an array of [piece, score], got " + kind(vocabNode));
            for (int i = 0; i < vocabNode.size(); i++) {
                JsonNode e = vocabNode.get(i);
                if (!e.isArray() || e.size() != 2 || !e.get(0).isTextual() || !e.get(1).isNumber())
                    throw new Lora4jException("model.vocab[" + i + "] must be [piece, score], got " + e);
                vocab.put(e.get(0).asText(), i); // a repeated piece takes its last id, as Rust's Unigram does
            }
        } else {
            if (vocabNode == null || !vocabNode.isObject()) throw new Lora4jException("model.vocab must be an object of token: id, got " + kind(vocabNode));
            vocabNode.properties().forEach(e -> vocab.put(e.getKey(), id("model.vocab '" + e.getKey() + "'", e.getValue())));
        }
        return vocab;
    }

    private static LongLongMap readMerges(JsonNode merges, Map<String, Integer> vocab) {
        if (merges != null && !merges.isNull() && !merges.isArray()) throw new Lora4jException("model.merges must be an array, got " + kind(merges));
        LongLongMap table = new LongLongMap();
        int r = 0;
        for (JsonNode m : merges == null ? List.<JsonNode>of() : merges) {
            String a, b;
            if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                a = m.get(0).asText();
                b = m.get(1).asText();
            } else if (m.isTextual() && isMergeString(m.asText())) {
                a = m.asText().substring(0, m.asText().indexOf(' '));
                b = m.asText().substring(m.asText().indexOf(' ') + 1);
            } else {
                throw new Lora4jException("model.merges[" + r + "] must be \"a b\" or [\"a\", \"b\"], got " + m);
            }
            if (!addMerge(table, vocab, a, b, r)) {
                String missing = !vocab.containsKey(a) ? a : !vocab.containsKey(b) ? b : a + b;
                throw new Lora4jException("model.merges[" + r + "] " + m + ": '" + missing + "' is not in the vocabulary");
            }
            r++;
        }
        return table;
    }

    /** Adds the merge of a and b at rank r; false when a, b or a + b is not in the vocabulary. A repeated pair keeps its first rank. */
    static boolean addMerge(LongLongMap table, Map<String, Integer> vocab, String a, String b, int r) {
        Integer ia = vocab.get(a), ib = vocab.get(b), iab = vocab.get(a.concat(b));
        if (ia == null || ib == null || iab == null) return false;
        addMerge(table, ia, ib, iab, r);
        return true;
    }

    /** Adds the merge of ids ia and ib into iab at rank r, unless the pair has a rank already (ids non-negative). */
    static void addMerge(LongLongMap table, int ia, int ib, int iab, int r) {
        long key = pair(ia, ib);
        if (table.get(key) < 0) table.put(key, (long) r << 32 | iab);
    }

    /** Whether a merge written "a b" splits into two tokens as Rust reads it: one space, neither side empty. */
    static boolean isMergeString(String m) {
        int space = m.indexOf(' ');
        return space > 0 && space == m.lastIndexOf(' ') && space < m.length() - 1;
    }

    private void readAdded(JsonNode added) {
        if (!added.isMissingNode() && !added.isNull() && !added.isArray()) throw new Lora4jException("added_tokens must be an array, got " + kind(added));
        for (JsonNode t : added) {
            JsonNode content = t.get("content");
            if (content == null || !content.isTextual() || content.asText().isEmpty())
                throw new Lora4jException("added_tokens: every token needs a non-empty string \"content\", got " + t);
            addedIds.put(content.asText(), id("added token '" + content.asText() + "'", t.get("id")));
            if (t.path("special").asBoolean(false)) special.add(content.asText());
            int flags = (t.path("lstrip").asBoolean(false) ? LSTRIP : 0) | (t.path("rstrip").asBoolean(false) ? RSTRIP : 0)
                    | (t.path("single_word").asBoolean(false) ? SINGLE_WORD : 0);
            if (flags != 0) addedFlags.put(content.asText(), flags);
        }
    }

    /**
     * Refuses an id so far past the vocabulary's size that its tables would only be memory for nothing;
     * {@code vocab} holds at least the vocabulary's largest id.
     */
    private void checkIdGap(Map<String, Integer> vocab, int vocabSize) {
        int max = 0;
        String maxToken = null;
        for (var e : vocab.entrySet()) if (e.getValue() >= max) { max = e.getValue(); maxToken = e.getKey(); }
        for (var e : addedIds.entrySet()) if (e.getValue() >= max) { max = e.getValue(); maxToken = e.getKey(); }
        long entries = (long) vocabSize + addedIds.size();
        if (max > entries + MAX_ID_GAP)
            throw new Lora4jException("token '" + maxToken + "' has id " + max + ", far beyond a vocabulary of " + entries + " entries");
    }

    /** The id of a model.vocab token's text, or -1 (added tokens are found in the text before). */
    int id(String token) {
        return tokens.id(token);
    }

    /** The text of an id (an added token's, else the vocabulary's), or null. */
    String token(int id) {
        if (id >= 0 && id < addedById.length && addedById[id] != null) return addedById[id];
        return tokens.token(id);
    }

    /** One past the largest id. */
    int size() {
        return addedById.length;
    }

    /** Encodes one segment of text between added tokens, appending its ids. */
    interface SegmentEncoder {
        void encode(String segment, boolean first, List<Integer> out);
    }

    /** The ids of text: each added token's id, every other segment through the tokenizer's own steps. */
    int[] encode(String text, SegmentEncoder segments) {
        List<Integer> out = new ArrayList<>();
        split(text, new Pieces() {
            public void segment(String s, boolean first) {
                segments.encode(s, first, out);
            }

            public void added(int id) {
                out.add(id);
            }
        });
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Receives the pieces of a text: ordinary segments (to normalise and merge) and added tokens' ids. */
    interface Pieces {
        void segment(String s, boolean first);

        void added(int id);
    }

    /**
     * Splits text at added tokens (leftmost match, longest first), in order, in one pass over the text,
     * as Rust's added vocabulary does: a single_word token matches only between non-word characters (a
     * match inside a word stays text), and lstrip / rstrip tokens take the whitespace before / after them.
     */
    void split(String text, Pieces out) {
        int pos = 0, from = 0;
        while (from <= text.length()) {
            long found = addedTokens.next(text, from);
            if (found < 0) break;
            int start = (int) (found >>> 32), stop = start + (int) found;
            String token = text.substring(start, stop);
            int flags = addedFlags.getOrDefault(token, 0);
            if ((flags & SINGLE_WORD) != 0 && (start > 0 && isWordChar(text.codePointBefore(start)) || stop < text.length() && isWordChar(text.codePointAt(stop)))) {
                from = stop;
                continue;
            }
            int first = start, last = stop;
            if ((flags & LSTRIP) != 0) while (first > pos && isWhitespace(text.codePointBefore(first))) first = text.offsetByCodePoints(first, -1);
            if ((flags & RSTRIP) != 0) while (last < text.length() && isWhitespace(text.codePointAt(last))) last = text.offsetByCodePoints(last, 1);
            if (first > pos) out.segment(text.substring(pos, first), pos == 0);
            out.added(addedIds.get(token));
            pos = from = last;
        }
        if (pos < text.length()) out.segment(text.substring(pos), pos == 0);
    }

    /** Rust's char::is_alphanumeric, or '_'. */
    private static boolean isWordChar(int c) {
        return Character.isLetterOrDigit(c) || c == '_' || Character.getType(c) == Character.LETTER_NUMBER || Character.getType(c) == Character.OTHER_NUMBER;
    }

    /** Rust's char::is_whitespace: the Unicode White_Space property. */
    static boolean isWhitespace(int c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == 0x85;
    }

    /**
     * Merges a word's symbols as Rust tokenizers' BPE does: always the pair of lowest rank, leftmost
     * first, one occurrence at a time, so a pair the merge just formed competes at once with the rest
     * (Gemma's ranks are not ordered by length, and merging every occurrence of the best pair in one
     * sweep gives other ids). A heap of (rank, position) keeps it O(n log n): the text between two added
     * tokens of a SentencePiece-style tokenizer is one long word. Symbols outside the vocabulary take
     * part in no merge and come back as they were; with ignore_merges, a word that is itself in the
     * vocabulary is that one token.
     */
    List<String> merge(List<String> word) {
        int n = word.size();
        if (n == 0) return word;
        if (ignoreMerges && n > 1) {
            String whole = String.join("", word);
            if (id(whole) >= 0) return List.of(whole);
        }
        if (n == 1) return word;
        int[] sym = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0; i < n; i++) {
            sym[i] = id(word.get(i));
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongHeap heap = new LongHeap(n);
        for (int i = 0; i + 1 < n; i++) push(heap, sym[i], sym[i + 1], i);
        boolean[] gone = new boolean[n];
        while (!heap.isEmpty()) {
            long top = heap.pop();
            int rank = (int) (top >>> 32), pos = (int) top;
            if (gone[pos] || next[pos] < 0) continue;
            int right = next[pos];
            long merge = mergeTable.get(pair(sym[pos], sym[right]));
            if (merge < 0 || (int) (merge >>> 32) != rank) continue; // stale: one of the two has changed since
            sym[pos] = (int) merge;
            gone[right] = true;
            next[pos] = next[right];
            if (next[right] >= 0) prev[next[right]] = pos;
            if (prev[pos] >= 0) push(heap, sym[prev[pos]], sym[pos], prev[pos]);
            if (next[pos] >= 0) push(heap, sym[pos], sym[next[pos]], pos);
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i >= 0; i = next[i]) out.add(sym[i] >= 0 && token(sym[i]) != null ? token(sym[i]) : word.get(i));
        return out;
    }

    private void push(LongHeap heap, int a, int b, int pos) {
        long merge = mergeTable.get(pair(a, b));
        if (merge >= 0) heap.push((merge >>> 32) << 32 | pos);
    }

    private static long pair(int a, int b) {
        return a < 0 || b < 0 ? -1 : (long) a << 32 | b;
    }

    /** (rank, position) keys, smallest first: lower rank wins, then the leftmost position. */
    private static final class LongHeap {
        private long[] a;
        private int size;

        LongHeap(int capacity) {
            a = new long[Math.max(4, capacity)];
        }

        boolean isEmpty() {
            return size == 0;
        }

        void push(long v) {
            if (size == a.length) a = java.util.Arrays.copyOf(a, 2 * size);
            int i = size++;
            while (i > 0 && a[(i - 1) / 2] > v) {
                a[i] = a[(i - 1) / 2];
                i = (i - 1) / 2;
            }
            a[i] = v;
        }

        long pop() {
            long top = a[0], last = a[--size];
            int i = 0;
            while (2 * i + 1 < size) {
                int c = 2 * i + 1;
                if (c + 1 < size && a[c + 1] < a[c]) c++;
                if (a[c] >= last) break;
                a[i] = a[c];
                i = c;
            }
            a[i] = last;
            return top;
        }
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
        if (token(id) == null)
            throw new Lora4jException("token id " + id + " is outside the vocabulary [0, " + size() + ")");
    }

    /** The decoders lora4j's tokenizers implement; any other would decode text wrongly, so it is refused up front. */
    private static final java.util.Set<String> DECODERS = java.util.Set.of("ByteLevel", "Metaspace", "Sequence", "Replace", "ByteFallback", "Fuse", "Strip", "WordPiece");

    static void checkDecoder(java.nio.file.Path file, JsonNode d) {
        if (d == null || d.isNull()) return;
        String type = d.path("type").asText("");
        if (!DECODERS.contains(type)) throw new Lora4jException(file + ": decoder '" + type + "' is not supported yet (supported: " + String.join(", ", new java.util.TreeSet<>(DECODERS)) + ")");
        if (type.equals("Sequence")) for (JsonNode step : d.path("decoders")) checkDecoder(file, step);
    }
}
