package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;

/**
 * Byte-level BPE (GPT-2 and its descendants), as tokenizer.json defines it: added tokens are split out
 * first (exact matches, longest first); the rest is normalized (Unicode forms, lowercase) and cut into
 * pieces by the pre-tokenizer's steps (Split patterns, Digits, ByteLevel with GPT-2's pattern), each piece's UTF-8 bytes
 * mapped to printable characters (the byte-to-unicode table), then merged pair by pair, lowest merge
 * rank first. Decoding maps the characters back to bytes and reads them as UTF-8 (invalid sequences
 * become U+FFFD, as Rust's from_utf8_lossy does).
 */
public final class ByteLevelBpe implements Tokenizer, TokenizerCache.Cacheable {
    /** GPT-2's split pattern; (?U) gives \s and friends their Unicode meaning, as in Rust's regex. */
    static final Pattern GPT2 = Pattern.compile("(?U)'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    private final List<UnaryOperator<List<String>>> preTokenizer; // pieces to pieces, step by step
    private final BpeVocab v;
    private static final char[] BYTE_TO_CHAR = byteToUnicode();
    private final Map<Character, Integer> charToByte = new HashMap<>();
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private final String origin;                 // the file, for errors
    private final boolean piecesMapped;          // the pre-tokenizer hands over byte-level text (steps follow ByteLevel)
    private final UnicodeNormalizer normalizer;  // NFC (Qwen3) and the like, applied to each segment between added tokens
    private final PostProcessor post;            // the special tokens of encode(add_special_tokens=True)

    private ByteLevelBpe(String origin, List<UnaryOperator<List<String>>> preTokenizer, BpeVocab v, UnicodeNormalizer normalizer, PostProcessor post,
                         boolean piecesMapped) {
        this.origin = origin;
        this.piecesMapped = piecesMapped;
        this.preTokenizer = preTokenizer;
        this.normalizer = normalizer;
        this.post = post;
        this.v = v;
        for (int b = 0; b < 256; b++) charToByte.put(BYTE_TO_CHAR[b], b);
    }

    /** GPT-2's byte-to-unicode table: printable bytes map to themselves, the others to 256, 257, ... */
    static char[] byteToUnicode() {
        char[] t = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            t[b] = (char) (printable ? b : 256 + n++);
        }
        return t;
    }

    static ByteLevelBpe of(Path file, JsonNode j, TokenizerCache.Tables cached) {
        JsonNode model = j.get("model");
        if (model.path("byte_fallback").asBoolean(false) || !model.path("continuing_subword_prefix").asText("").isEmpty()
                || !model.path("end_of_word_suffix").asText("").isEmpty())
            throw new Lora4jException(file + ": BPE with byte_fallback, continuing_subword_prefix or end_of_word_suffix is not supported yet");
        UnicodeNormalizer normalizer = UnicodeNormalizer.of(file.toString(), j.path("normalizer"));
        List<UnaryOperator<List<String>>> steps = new ArrayList<>();
        int[] byteLevelAt = {-1};
        boolean[] mapInStep = new boolean[1];
        preTokenizer(file.toString(), j.get("pre_tokenizer"), steps, byteLevelAt, mapInStep);
        if (byteLevelAt[0] < 0) throw new Lora4jException(file + ": a byte-level BPE needs a ByteLevel pre-tokenizer; this one has none");
        // Steps after ByteLevel see its byte characters, as in Rust (Falcon's Digits and Split): the step then maps
        // its pieces. When it is the last step the mapping waits for the merges, and only a piece not in the cache pays it.
        mapInStep[0] = byteLevelAt[0] < steps.size() - 1;
        return new ByteLevelBpe(file.toString(), steps, vocab(file, j, cached), normalizer, PostProcessor.of(file.toString(), j.path("post_processor")),
                mapInStep[0]);
    }

    /**
     * The pre-tokenizer as steps over the list of pieces, in order: Split (any behavior), Digits, Punctuation,
     * Whitespace, WhitespaceSplit, and
     * ByteLevel (a space before each piece that lacks one, when add_prefix_space; then GPT-2's pattern,
     * when use_regex), nested in Sequences.
     */
    private static void preTokenizer(String origin, JsonNode pre, List<UnaryOperator<List<String>>> steps, int[] byteLevelAt, boolean[] mapInStep) {
        switch (pre.path("type").asText("")) {
            case "Sequence" -> { for (JsonNode step : pre.path("pretokenizers")) preTokenizer(origin, step, steps, byteLevelAt, mapInStep); }
            case "Split" -> steps.add(each(Split.of(origin, pre)::apply));
            case "Digits" -> steps.add(each(Split.digits(pre.path("individual_digits").asBoolean(false), origin)::apply));
            case "Punctuation" -> steps.add(each(Split.punctuation(Split.behavior(origin, pre.path("behavior").asText("Isolated")), origin)::apply));
            case "Whitespace" -> steps.add(each(Split.whitespace(origin)::apply));
            case "WhitespaceSplit" -> steps.add(each(Split.whitespaceSplit(origin)::apply));
            case "ByteLevel" -> {
                byteLevelAt[0] = steps.size();
                boolean prefix = pre.path("add_prefix_space").asBoolean(false), regex = pre.path("use_regex").asBoolean(true);
                Split gpt2 = new Split(GPT2, Split.Behavior.ISOLATED, false, origin);
                steps.add(each(piece -> {
                    String p = prefix && !piece.startsWith(" ") ? " " + piece : piece;
                    List<String> split = regex ? gpt2.apply(p) : List.of(p);
                    if (!mapInStep[0]) return split;
                    List<String> out = new ArrayList<>(split.size());
                    for (String q : split) out.add(toByteLevel(q));
                    return out;
                }));
            }
            default -> throw new Lora4jException(origin + ": pre-tokenizer '" + pre.path("type").asText("") + "' is not supported yet for byte-level BPE"
                    + " (supported: ByteLevel, Split, Digits, Punctuation, Whitespace, WhitespaceSplit, Sequence)");
        }
    }

    private static UnaryOperator<List<String>> each(java.util.function.Function<String, List<String>> f) {
        return pieces -> {
            List<String> out = new ArrayList<>();
            for (String p : pieces) out.addAll(f.apply(p));
            return out;
        };
    }

    /** The vocabulary, its errors naming the file. */
    static BpeVocab vocab(Path file, JsonNode j, TokenizerCache.Tables cached) {
        try {
            return new BpeVocab(j, cached);
        } catch (Lora4jException e) {
            throw new Lora4jException(file + ": " + e.getMessage());
        }
    }

    @Override
    public TokenizerCache.Tables tables() {
        return new TokenizerCache.Tables(v.tokens, v.mergeTable, null, null);
    }

    @Override
    public int vocabSize() {
        return v.size();
    }

    @Override
    public int[] encode(String text) {
        return v.encode(text, (s, first, out) -> encodeSegment(s, out));
    }

    @Override
    public int[] encodeWithSpecialTokens(String text) {
        return post.apply(encode(text));
    }

    private void encodeSegment(String s, List<Integer> out) {
        List<String> pieces = List.of(normalizer.apply(s));
        for (UnaryOperator<List<String>> step : preTokenizer) pieces = step.apply(pieces);
        for (String piece : pieces) for (int id : bpe(piece)) out.add(id);
    }

    /** A piece's UTF-8 bytes as GPT-2's byte-level characters, one a byte. */
    private static String toByteLevel(String piece) {
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        char[] out = new char[bytes.length];
        for (int i = 0; i < bytes.length; i++) out[i] = BYTE_TO_CHAR[bytes[i] & 0xff];
        return new String(out);
    }

    /** One pre-tokenized piece through the byte map (unless the pre-tokenizer applied it) and the merges. */
    private int[] bpe(String piece) {
        int[] cached = cache.get(piece);
        if (cached != null) return cached;
        String chars = piecesMapped ? piece : toByteLevel(piece);
        List<String> word = new ArrayList<>(chars.length());
        for (int i = 0; i < chars.length(); i++) word.add(String.valueOf(chars.charAt(i)));
        word = v.merge(word);
        int[] ids = new int[word.size()];
        for (int i = 0; i < ids.length; i++) {
            int id = v.id(word.get(i));
            if (id < 0) throw new Lora4jException("text piece '" + piece + "' has a symbol '" + word.get(i) + "' outside the vocabulary");
            ids[i] = id;
        }
        if (cache.size() < 100_000) cache.put(piece, ids);
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringBuilder text = new StringBuilder();
        for (int id : ids) {
            v.checkId(id);
            String tok = v.token(id);
            if (v.addedIds.containsKey(tok)) { // added tokens are text as they are
                if (skipSpecialTokens && v.special.contains(tok)) continue;
                text.append(new String(bytes.toByteArray(), StandardCharsets.UTF_8));
                bytes.reset();
                text.append(tok);
                continue;
            }
            for (int i = 0; i < tok.length(); i++) {
                Integer b = charToByte.get(tok.charAt(i));
                if (b != null) bytes.write(b);
                else bytes.writeBytes(String.valueOf(tok.charAt(i)).getBytes(StandardCharsets.UTF_8));
            }
        }
        text.append(new String(bytes.toByteArray(), StandardCharsets.UTF_8));
        return text.toString();
    }
}
