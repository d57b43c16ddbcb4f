package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * WordPiece as BERT-family tokenizer.json files define it (all-MiniLM-L6-v2, BERT, DistilBERT): added
 * tokens split out first; BertNormalizer (control characters dropped and whitespace made ' ', spaces
 * around CJK characters, accents stripped and text lowercased when asked); BertPreTokenizer (split at
 * whitespace, which goes, and at punctuation, which stays as pieces); then each word greedily as the
 * longest vocabulary entries from the left, continuations prefixed "##", the unknown token for a word
 * that cannot be covered or is too long. The post-processor adds [CLS] and [SEP]. Decoding (the
 * WordPiece decoder) joins with spaces, glues "##" continuations, and tidies spaces before punctuation;
 * special tokens are left out.
 */
public final class WordPiece implements Tokenizer, TokenizerCache.Cacheable {
    private final BpeVocab v;           // vocabulary and added tokens (no merges)
    private final PostProcessor post;
    private final boolean cleanText, chineseChars, stripAccents, lowercase;
    private final String prefix, decodePrefix;
    private final int unk, maxChars;
    private final boolean cleanup;

    private WordPiece(BpeVocab v, PostProcessor post, JsonNode norm, JsonNode model, JsonNode decoder, String origin) {
        this.v = v;
        this.post = post;
        cleanText = norm.path("clean_text").asBoolean(true);
        chineseChars = norm.path("handle_chinese_chars").asBoolean(true);
        lowercase = norm.path("lowercase").asBoolean(true);
        stripAccents = norm.path("strip_accents").isBoolean() ? norm.get("strip_accents").asBoolean() : lowercase;
        prefix = model.path("continuing_subword_prefix").asText("##");
        maxChars = model.path("max_input_chars_per_word").asInt(100);
        int u = v.id(model.path("unk_token").asText("[UNK]"));
        if (u < 0) throw new Lora4jException(origin + ": WordPiece unk_token '" + model.path("unk_token").asText("[UNK]") + "' is not in the vocabulary");
        unk = u;
        decodePrefix = decoder.path("prefix").asText(prefix);
        cleanup = decoder.path("cleanup").asBoolean(true);
    }

    static WordPiece of(Path file, JsonNode j, TokenizerCache.Tables cached) {
        String origin = file.toString();
        JsonNode norm = j.path("normalizer"), pre = j.path("pre_tokenizer"), dec = j.path("decoder");
        if (!norm.isMissingNode() && !norm.isNull() && !norm.path("type").asText().equals("BertNormalizer"))
            throw new Lora4jException(origin + ": normalizer '" + norm.path("type").asText() + "' is not supported yet for WordPiece (supported: BertNormalizer)");
        if (!pre.path("type").asText().equals("BertPreTokenizer"))
            throw new Lora4jException(origin + ": pre-tokenizer '" + pre.path("type").asText("none") + "' is not supported yet for WordPiece (supported: BertPreTokenizer)");
        if (!dec.isMissingNode() && !dec.isNull() && !dec.path("type").asText().equals("WordPiece"))
            throw new Lora4jException(origin + ": decoder '" + dec.path("type").asText() + "' is not supported yet for WordPiece (supported: WordPiece)");
        return new WordPiece(ByteLevelBpe.vocab(file, j, cached), PostProcessor.of(origin, j.path("post_processor")), norm, j.get("model"), dec, origin);
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
        return v.encode(text, (s, first, out) -> {
            for (String word : preTokenize(normalize(s))) encodeWord(word, out);
        });
    }

    @Override
    public int[] encodeWithSpecialTokens(String text) {
        return post.apply(encode(text));
    }

    /** BertNormalizer: clean, space out CJK, strip accents, lowercase, in that order. */
    String normalize(String s) {
        StringBuilder b = new StringBuilder(s.length());
        s.codePoints().forEach(c -> {
            if (cleanText) {
                if (c == 0 || c == 0xFFFD || isControl(c)) return;
                if (BpeVocab.isWhitespace(c)) {
                    b.append(' ');
                    return;
                }
            }
            if (chineseChars && isChinese(c)) b.append(' ').appendCodePoint(c).append(' ');
            else b.appendCodePoint(c);
        });
        String t = b.toString();
        if (stripAccents) {
            StringBuilder a = new StringBuilder(t.length());
            Normalizer.normalize(t, Normalizer.Form.NFD).codePoints()
                    .filter(c -> Character.getType(c) != Character.NON_SPACING_MARK).forEach(a::appendCodePoint);
            t = a.toString();
        }
        return lowercase ? t.toLowerCase(Locale.ROOT) : t;
    }

    /** BertPreTokenizer: whitespace separates (and goes), punctuation is a piece of its own. */
    static List<String> preTokenize(String s) {
        List<String> out = new ArrayList<>();
        StringBuilder word = new StringBuilder();
        s.codePoints().forEach(c -> {
            if (BpeVocab.isWhitespace(c)) {
                if (!word.isEmpty()) out.add(word.toString());
                word.setLength(0);
            } else if (isPunctuation(c)) {
                if (!word.isEmpty()) out.add(word.toString());
                word.setLength(0);
                out.add(new String(Character.toChars(c)));
            } else {
                word.appendCodePoint(c);
            }
        });
        if (!word.isEmpty()) out.add(word.toString());
        return out;
    }

    /** Greedy longest match from the left; the whole word is the unknown token if any part cannot be matched. */
    private void encodeWord(String word, List<Integer> out) {
        if (word.codePointCount(0, word.length()) > maxChars) {
            out.add(unk);
            return;
        }
        List<Integer> ids = new ArrayList<>();
        int start = 0;
        while (start < word.length()) {
            int end = word.length();
            Integer found = null;
            while (start < end) {
                String piece = word.substring(start, end);
                int id = v.id(start > 0 ? prefix + piece : piece);
                found = id < 0 ? null : id;
                if (found != null) break;
                end = word.offsetByCodePoints(end, -1);
            }
            if (found == null) {
                out.add(unk);
                return;
            }
            ids.add(found);
            start = end;
        }
        out.addAll(ids);
    }

    @Override
    public String decode(int[] ids) {
        return decode(ids, true);
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        StringBuilder text = new StringBuilder();
        int n = 0;
        for (int id : ids) {
            v.checkId(id);
            String tok = v.token(id);
            if (skipSpecialTokens && v.special.contains(tok)) continue;
            if (n > 0) tok = tok.startsWith(decodePrefix) ? tok.substring(decodePrefix.length()) : " " + tok;
            text.append(cleanup ? cleanup(tok) : tok);
            n++;
        }
        return text.toString();
    }

    /** The WordPiece decoder's cleanup of each token, as Rust tokenizers does it. */
    private static String cleanup(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",").replace(" ' ", "'")
                .replace(" n't", "n't").replace(" 'm", "'m").replace(" do not", " don't").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    /** Rust's char::is_other (Cc, Cf, Cs, Co, Cn), except tab, newline and carriage return. */
    private static boolean isControl(int c) {
        if (c == '\t' || c == '\n' || c == '\r') return false;
        int t = Character.getType(c);
        return t == Character.CONTROL || t == Character.FORMAT || t == Character.SURROGATE || t == Character.PRIVATE_USE || t == Character.UNASSIGNED;
    }

    private static boolean isChinese(int c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F)
                || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }

    /** ASCII punctuation, or any Unicode punctuation category (Pc, Pd, Ps, Pe, Pi, Pf, Po). */
    private static boolean isPunctuation(int c) {
        if (c < 128) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
        int t = Character.getType(c);
        return t == Character.CONNECTOR_PUNCTUATION || t == Character.DASH_PUNCTUATION || t == Character.START_PUNCTUATION
                || t == Character.END_PUNCTUATION || t == Character.INITIAL_QUOTE_PUNCTUATION || t == Character.FINAL_QUOTE_PUNCTUATION
                || t == Character.OTHER_PUNCTUATION;
    }
}
