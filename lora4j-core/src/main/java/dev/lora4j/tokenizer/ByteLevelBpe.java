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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte-level BPE (GPT-2 and its descendants), as tokenizer.json defines it: added tokens are split out
 * first (exact matches, longest first); the rest is normalized (Unicode forms, lowercase), cut by the GPT-2 pattern (or the Split regex), each piece's UTF-8 bytes
 * mapped to printable characters (the byte-to-unicode table), then merged pair by pair, lowest merge
 * rank first. Decoding maps the characters back to bytes and reads them as UTF-8 (invalid sequences
 * become U+FFFD, as Rust's from_utf8_lossy does).
 */
public final class ByteLevelBpe implements Tokenizer {
    /** GPT-2's split pattern; (?U) gives \s and friends their Unicode meaning, as in Rust's regex. */
    static final Pattern GPT2 = Pattern.compile("(?U)'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

    private final Pattern split;                 // the pre-tokenizer's pattern: GPT-2's, or a Split regex (Llama 3, Qwen2)
    private final BpeVocab v;
    private final boolean addPrefixSpace;
    private final char[] byteToChar = new char[256];
    private final Map<Character, Integer> charToByte = new HashMap<>();
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private final String origin;                 // the file, for errors
    private final UnicodeNormalizer normalizer;  // NFC (Qwen3) and the like, applied to each segment between added tokens
    private final PostProcessor post;            // the special tokens of encode(add_special_tokens=True)

    private ByteLevelBpe(String origin, Pattern split, BpeVocab v, boolean addPrefixSpace, UnicodeNormalizer normalizer, PostProcessor post) {
        this.origin = origin;
        this.normalizer = normalizer;
        this.post = post;
        this.split = split;
        this.v = v;
        this.addPrefixSpace = addPrefixSpace;
        char[] table = byteToUnicode();
        for (int b = 0; b < 256; b++) {
            byteToChar[b] = table[b];
            charToByte.put(table[b], b);
        }
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

    static ByteLevelBpe of(Path file, JsonNode j) {
        JsonNode model = j.get("model");
        if (model.path("byte_fallback").asBoolean(false) || !model.path("continuing_subword_prefix").asText("").isEmpty()
                || !model.path("end_of_word_suffix").asText("").isEmpty())
            throw new Lora4jException(file + ": BPE with byte_fallback, continuing_subword_prefix or end_of_word_suffix is not supported yet");
        UnicodeNormalizer normalizer = UnicodeNormalizer.of(file.toString(), j.path("normalizer"));
        JsonNode pre = j.get("pre_tokenizer");
        Pattern split = GPT2;
        JsonNode byteLevel = pre;
        if (pre.path("type").asText().equals("Sequence")) { // Split(regex, Isolated), then ByteLevel without its regex
            JsonNode steps = pre.get("pretokenizers");
            JsonNode sp = steps.get(0);
            byteLevel = steps.get(steps.size() - 1);
            if (steps.size() != 2 || !sp.path("type").asText().equals("Split") || !sp.path("pattern").has("Regex")
                    || !sp.path("behavior").asText().equals("Isolated") || sp.path("invert").asBoolean(false)
                    || !byteLevel.path("type").asText().equals("ByteLevel") || byteLevel.path("use_regex").asBoolean(true))
                throw new Lora4jException(file + ": pre-tokenizer sequence " + steps + " is not supported yet (expected Split(regex, Isolated) then ByteLevel)");
            try {
                split = Pattern.compile("(?U)" + sp.get("pattern").get("Regex").asText());
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new Lora4jException(file + ": the Split pattern is not a regex Java reads: " + e.getDescription());
            }
        }
        return new ByteLevelBpe(file.toString(), split, vocab(file, j), byteLevel.path("add_prefix_space").asBoolean(false), normalizer,
                PostProcessor.of(file.toString(), j.path("post_processor")));
    }

    /** The vocabulary, its errors naming the file. */
    static BpeVocab vocab(Path file, JsonNode j) {
        try {
            return new BpeVocab(j);
        } catch (Lora4jException e) {
            throw new Lora4jException(file + ": " + e.getMessage());
        }
    }

    @Override
    public int vocabSize() {
        return v.byId.length;
    }

    @Override
    public int[] encode(String text) {
        List<Integer> out = new ArrayList<>();
        v.split(text, new BpeVocab.Pieces() {
            public void segment(String s, boolean first) {
                encodeSegment(s, first, out);
            }

            public void added(int id) {
                out.add(id);
            }
        });
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public int[] encodeWithSpecialTokens(String text) {
        return post.apply(encode(text));
    }

    private void encodeSegment(String s, boolean first, List<Integer> out) {
        s = normalizer.apply(s);
        if (s.isEmpty()) return;
        if (addPrefixSpace && first && !s.startsWith(" ")) s = " " + s;
        Matcher m = split.matcher(new BoundedText(s, origin));
        int last = 0;
        while (m.find()) { // Isolated: the matches are pieces, and so is any text between them
            if (m.start() > last) for (int id : bpe(s.substring(last, m.start()))) out.add(id);
            if (m.end() > m.start()) for (int id : bpe(m.group())) out.add(id);
            last = m.end();
        }
        if (last < s.length()) for (int id : bpe(s.substring(last))) out.add(id);
    }

    /** One pre-tokenized piece through the byte map and the merges. */
    private int[] bpe(String piece) {
        int[] cached = cache.get(piece);
        if (cached != null) return cached;
        byte[] bytes = piece.getBytes(StandardCharsets.UTF_8);
        List<String> word = new ArrayList<>(bytes.length);
        for (byte b : bytes) word.add(String.valueOf(byteToChar[b & 0xff]));
        word = v.merge(word);
        int[] ids = new int[word.size()];
        for (int i = 0; i < ids.length; i++) {
            Integer id = v.vocab.get(word.get(i));
            if (id == null) throw new Lora4jException("text piece '" + piece + "' has a symbol '" + word.get(i) + "' outside the vocabulary");
            ids[i] = id;
        }
        if (cache.size() < 100_000) cache.put(piece, ids);
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        StringBuilder text = new StringBuilder();
        for (int id : ids) {
            v.checkId(id);
            String tok = v.byId[id];
            if (v.addedIds.containsKey(tok)) { // added tokens are text as they are
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
