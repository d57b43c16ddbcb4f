package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Unigram model of SentencePiece as Hugging Face's tokenizers runs it (T5, mT5, XLM-R, ALBERT files):
 * added tokens split out first; each remaining segment normalised (typically Precompiled rules, then runs
 * of spaces collapsed), pre-tokenized (Metaspace, optionally after WhitespaceSplit), and each word cut into
 * the pieces whose scores (log probabilities) sum highest (Viterbi over code points). A code point that
 * starts no piece of one code point is unknown, scored as the lowest piece score minus 10, and consecutive
 * unknowns fuse into one; an unknown becomes its UTF-8 bytes as {@code <0xXX>} pieces with byte_fallback,
 * else the unk id. Ties keep the earlier candidate (a shorter piece, or one starting earlier), as Rust does.
 * Decoding: "▁" back to spaces, byte pieces to bytes, the first space stripped.
 */
final class Unigram implements Tokenizer, TokenizerCache.Cacheable {
    private static final double UNKNOWN_PENALTY = 10.0;
    /** Longer pieces are refused at load: the lattice's work per code point grows with the longest piece. */
    static final int MAX_PIECE_CODE_POINTS = 1024;
    private static final long SEED = 0x2545F4914F6CDD1DL;

    private final BpeVocab v;            // pieces by id, and the added tokens
    private final double[] scores;       // by id
    private final int unkId;             // -1: none
    private final double unknownScore;
    private final boolean byteFallback;
    private final LongLongMap prefixes;  // hash of every prefix of every piece: its id + 1 when it is a piece, else 0
    private final UnicodeNormalizer normalizer;
    private final List<PreStep> preTokenizer;
    private final PostProcessor post;
    private final SentencePieceBpe.PieceDecoder decoder;

    /** One pre-tokenizer step: WhitespaceSplit (metaspace null) or Metaspace. */
    private record PreStep(SentencePieceBpe.Metaspace metaspace) {}

    private Unigram(BpeVocab v, double[] scores, LongLongMap prefixes, int unkId, boolean byteFallback, UnicodeNormalizer normalizer,
                    List<PreStep> preTokenizer, PostProcessor post, SentencePieceBpe.PieceDecoder decoder) {
        this.v = v;
        this.scores = scores;
        this.unkId = unkId;
        this.byteFallback = byteFallback;
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.post = post;
        this.decoder = decoder;
        double min = Double.POSITIVE_INFINITY;
        for (double s : scores) min = Math.min(min, s);
        this.unknownScore = min - UNKNOWN_PENALTY;
        this.prefixes = prefixes;
    }

    /**
     * The pieces as a trie of hashes: walking a word from a position, the hash of each longer prefix says whether
     * some piece goes on (else the walk stops, as a trie's would) and which piece it is. A hash shared by two
     * strings is caught by comparing the piece with the text (then the exact map decides).
     */
    private static LongLongMap prefixHashes(BpeVocab v) {
        LongLongMap m = new LongLongMap();
        for (int entry = 0; entry < v.tokens.size(); entry++) {
            String piece = v.tokens.text(entry);
            int id = v.tokens.entryId(entry);
            long h = SEED;
            for (int i = 0; i < piece.length(); ) {
                int cp = piece.codePointAt(i);
                i += Character.charCount(cp);
                h = extend(h, cp);
                if (i == piece.length()) m.put(h, id + 1L);
                else if (m.get(h) < 0) m.put(h, 0);
            }
        }
        return m;
    }

    private static long extend(long h, int cp) {
        h = (h ^ cp) * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L;
        h ^= h >>> 29;
        return h == Long.MIN_VALUE ? 0 : h;
    }

    static Unigram of(Path file, JsonNode j, TokenizerCache.Tables cached) {
        JsonNode model = j.get("model");
        BpeVocab v = ByteLevelBpe.vocab(file, j, cached);
        double[] scores = cached != null ? cached.scores() : scores(file, model.get("vocab"));
        LongLongMap prefixes = cached != null && cached.prefixes() != null ? cached.prefixes() : prefixHashes(v);
        JsonNode unk = model.path("unk_id");
        int unkId = -1;
        if (!unk.isMissingNode() && !unk.isNull()) {
            if (!unk.canConvertToInt() || unk.asInt() < 0 || unk.asInt() >= scores.length)
                throw new Lora4jException(file + ": model.unk_id must be the id of a piece in [0, " + scores.length + "), got " + unk);
            unkId = unk.asInt();
        }
        List<PreStep> pre = new ArrayList<>();
        preSteps(file, j.path("pre_tokenizer"), pre);
        return new Unigram(v, scores, prefixes, unkId, model.path("byte_fallback").asBoolean(false), UnicodeNormalizer.of(file.toString(), j.path("normalizer")),
                pre, PostProcessor.of(file.toString(), j.path("post_processor")), SentencePieceBpe.PieceDecoder.of(file, j));
    }

    /** The pieces' scores, by id, each checked, as are the pieces' lengths. */
    private static double[] scores(Path file, JsonNode vocab) {
        double[] scores = new double[vocab.size()];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = vocab.get(i).get(1).asDouble();
            if (!Double.isFinite(scores[i])) throw new Lora4jException(file + ": model.vocab[" + i + "] has score " + vocab.get(i).get(1) + ", expected a finite number");
        }
        if (scores.length == 0) throw new Lora4jException(file + ": a Unigram model needs at least one piece in model.vocab");
        for (int i = 0; i < scores.length; i++) {
            String piece = vocab.get(i).get(0).asText();
            if (piece.isEmpty() || piece.codePointCount(0, piece.length()) > MAX_PIECE_CODE_POINTS)
                throw new Lora4jException(file + ": model.vocab[" + i + "] is a piece of " + piece.codePointCount(0, piece.length())
                        + " code points; lora4j reads pieces of 1 to " + MAX_PIECE_CODE_POINTS);
        }
        return scores;
    }

    @Override
    public TokenizerCache.Tables tables() {
        return new TokenizerCache.Tables(v.tokens, v.mergeTable, scores, prefixes);
    }

    private static void preSteps(Path file, JsonNode n, List<PreStep> out) {
        if (n.isMissingNode() || n.isNull()) return;
        switch (n.path("type").asText("")) {
            case "Metaspace" -> out.add(new PreStep(SentencePieceBpe.Metaspace.of(file, n)));
            case "WhitespaceSplit" -> out.add(new PreStep(null));
            case "Sequence" -> {
                for (JsonNode step : n.path("pretokenizers")) preSteps(file, step, out);
            }
            default -> throw new Lora4jException(file + ": pre-tokenizer '" + n.path("type").asText("") + "' is not supported yet with a Unigram model"
                    + " (supported: Metaspace, WhitespaceSplit, and a Sequence of them)");
        }
    }

    @Override
    public int vocabSize() {
        return v.size();
    }

    @Override
    public int[] encode(String text) {
        return v.encode(text, (segment, first, out) -> {
            List<String> words = List.of(normalizer.apply(segment));
            for (PreStep step : preTokenizer) {
                List<String> next = new ArrayList<>();
                for (int i = 0; i < words.size(); i++) {
                    if (step.metaspace() == null) whitespaceSplit(words.get(i), next);
                    else next.addAll(step.metaspace().words(words.get(i), first && i == 0));
                }
                words = next;
            }
            for (String w : words) encodeWord(w, out);
        });
    }

    @Override
    public int[] encodeWithSpecialTokens(String text) {
        return post.apply(encode(text));
    }

    /** Rust's WhitespaceSplit: the runs of non-whitespace. */
    private static void whitespaceSplit(String s, List<String> out) {
        int start = -1;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            boolean space = BpeVocab.isWhitespace(cp);
            if (!space && start < 0) start = i;
            if (space && start >= 0) {
                out.add(s.substring(start, i));
                start = -1;
            }
            i += Character.charCount(cp);
        }
        if (start >= 0) out.add(s.substring(start));
    }

    /** The best-scoring pieces of one word, as ids. */
    private void encodeWord(String w, List<Integer> out) {
        int n = w.codePointCount(0, w.length());
        if (n == 0) return;
        int[] at = new int[n + 1]; // char offset of each code point
        for (int i = 0, c = 0; i < n; i++) {
            c += Character.charCount(w.codePointAt(c));
            at[i + 1] = c;
        }
        double[] best = new double[n + 1];
        int[] from = new int[n + 1], id = new int[n + 1];
        Arrays.fill(from, -1);
        for (int s = 0; s < n; s++) {
            double here = best[s];
            boolean single = false;
            long h = SEED;
            for (int e = s + 1; e <= n; e++) {
                h = extend(h, w.codePointAt(at[e - 1]));
                long found = prefixes.get(h);
                if (found < 0) break;  // no piece goes on with this prefix
                if (found == 0) continue;
                int piece = (int) (found - 1);
                String p = v.token(piece);
                if (p.length() != at[e] - at[s] || !w.regionMatches(at[s], p, 0, p.length())) { // two strings, one hash
                    int exact = v.id(w.substring(at[s], at[e]));
                    if (exact < 0) continue;
                    piece = exact;
                }
                double candidate = scores[piece] + here;
                if (from[e] < 0 || candidate > best[e]) {
                    best[e] = candidate;
                    from[e] = s;
                    id[e] = piece;
                }
                if (e == s + 1) single = true;
            }
            if (!single) {
                double candidate = unknownScore + here;
                if (from[s + 1] < 0 || candidate > best[s + 1]) {
                    if (unkId < 0) throw new Lora4jException("'" + w.substring(at[s], at[s + 1]) + "' is in no piece and the Unigram model has no unk_id");
                    best[s + 1] = candidate;
                    from[s + 1] = s;
                    id[s + 1] = unkId;
                }
            }
        }
        List<String> pieces = new ArrayList<>();
        int end = n, unknownEnd = -1;
        while (end > 0) { // back from the end; consecutive unknowns fuse into one piece
            int start = from[end];
            boolean unknown = id[end] == unkId;
            if (!unknown && unknownEnd >= 0) {
                pieces.add(w.substring(at[end], at[unknownEnd]));
                unknownEnd = -1;
            }
            if (unknown && unknownEnd < 0) unknownEnd = end;
            if (!unknown) pieces.add(w.substring(at[start], at[end]));
            end = start;
        }
        if (unknownEnd >= 0) pieces.add(w.substring(0, at[unknownEnd]));
        for (int i = pieces.size() - 1; i >= 0; i--) appendIds(pieces.get(i), out);
    }

    private void appendIds(String piece, List<Integer> out) {
        int id = v.id(piece);
        if (id >= 0) {
            out.add(id);
            return;
        }
        if (byteFallback) {
            byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
            List<Integer> ids = new ArrayList<>(bytes.length);
            for (byte b : bytes) ids.add(SentencePieceBpe.byteId(v, b));
            if (!ids.contains(null)) {
                out.addAll(ids);
                return;
            }
        }
        if (unkId < 0) throw new Lora4jException("'" + piece + "' is in no piece and the Unigram model has no unk_id");
        out.add(unkId);
    }

    /** Decodes as decode(ids, skip_special_tokens=True) does. */
    @Override
    public String decode(int[] ids) {
        return decode(ids, true);
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        return decoder.decode(v, ids, skipSpecialTokens);
    }
}
