package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * SentencePiece-style BPE as Hugging Face writes it for Llama 2, TinyLlama and Mistral: added tokens
 * split out first; each remaining segment normalised ({@link UnicodeNormalizer}: Prepend "▁", Replace " " → "▁"), or, in newer
 * conversions, pre-tokenized by Metaspace (spaces to "▁", "▁" prepended to every segment or only to the
 * text's first, optionally split into words before each "▁"); each word a list of code points, merged
 * lowest rank first; symbols outside the vocabulary fall back to their
 * UTF-8 bytes as {@code <0xXX>} tokens (or the unknown token). A TemplateProcessing post-processor adds
 * the special tokens (BOS) when asked. Decoding: Replace "▁" → " ", byte fallback (invalid UTF-8 becomes
 * U+FFFD per byte), fuse, strip one leading space.
 */
public final class SentencePieceBpe implements Tokenizer, TokenizerCache.Cacheable {
    private final BpeVocab v;
    private final UnicodeNormalizer normalizer; // Prepend "▁" and Replace " " → "▁" in Llama 2's layout
    private final PostProcessor post;         // special tokens the template puts around a sequence
    private final boolean byteFallback, fuseUnk;
    private final Integer unk;
    private final Metaspace metaspace; // null when the normalizer does the job
    private final Split split;         // a Split pre-tokenizer (Gemma), applied after the normalizer; or null
    private final PieceDecoder decoder;

    /** The Metaspace pre-tokenizer: prependScheme is always, first or never. */
    record Metaspace(String replacement, String prependScheme, boolean split) {
        static Metaspace of(Path file, JsonNode n) {
            String scheme = n.has("prepend_scheme") ? n.get("prepend_scheme").asText() : n.path("add_prefix_space").asBoolean(true) ? "always" : "never";
            if (!List.of("always", "first", "never").contains(scheme))
                throw new Lora4jException(file + ": Metaspace prepend_scheme '" + scheme + "' (expected always, first or never)");
            return new Metaspace(n.path("replacement").asText("▁"), scheme, n.path("split").asBoolean(true));
        }

        /** The words of a segment (first: it starts the text). */
        List<String> words(String s, boolean first) {
            s = s.replace(" ", replacement);
            if ((prependScheme.equals("always") || prependScheme.equals("first") && first) && !s.startsWith(replacement)) s = replacement + s;
            if (!split) return List.of(s);
            List<String> out = new ArrayList<>();
            int start = 0;
            for (int i = s.indexOf(replacement, 1); i > 0; i = s.indexOf(replacement, i + 1)) {
                out.add(s.substring(start, i));
                start = i;
            }
            out.add(s.substring(start));
            return out;
        }
    }

    /**
     * The decoders of SentencePiece-style files: "▁" back to spaces, byte tokens back to bytes (ByteFallback), and the
     * first token's space stripped (a Metaspace decoder that prepends, or Strip with start 1).
     */
    record PieceDecoder(boolean bytes, int stripStart) {
        static PieceDecoder of(Path file, JsonNode j) {
            int strip = 0;
            boolean bytes = false;
            for (JsonNode d : j.path("decoder").path("decoders")) {
                if (d.path("type").asText().equals("Strip")) strip = d.path("start").asInt(0);
                if (d.path("type").asText().equals("ByteFallback")) bytes = true;
            }
            JsonNode dec = j.path("decoder");
            if (dec.path("type").asText().equals("Metaspace") && !Metaspace.of(file, dec).prependScheme().equals("never")) strip = 1; // the first token's space
            return new PieceDecoder(bytes, strip);
        }

        /**
         * Decodes as decode(ids, skip_special_tokens) does: special added tokens left out when asked, other
         * added tokens (Gemma's "\n", runs of "▁", tags) decoded like any token.
         */
        String decode(BpeVocab v, int[] ids, boolean skipSpecialTokens) {
            StringBuilder text = new StringBuilder();
            ByteArrayOutputStream pending = new ByteArrayOutputStream();
            for (int id : ids) {
                v.checkId(id);
                String tok = v.token(id);
                if (skipSpecialTokens && v.special.contains(tok)) continue; // other added tokens go through the decoder like any token
                if (bytes && tok.length() == 6 && tok.startsWith("<0x") && tok.endsWith(">")) {
                    pending.write(Integer.parseInt(tok.substring(3, 5), 16));
                    continue;
                }
                flushBytes(pending, text);
                text.append(tok.replace("▁", " "));
            }
            flushBytes(pending, text);
            int strip = 0;
            while (strip < stripStart && strip < text.length() && text.charAt(strip) == ' ') strip++;
            return text.substring(strip);
        }
    }

    private SentencePieceBpe(BpeVocab v, UnicodeNormalizer normalizer, PostProcessor post, boolean byteFallback, boolean fuseUnk,
                             Integer unk, Metaspace metaspace, Split split, PieceDecoder decoder) {
        this.metaspace = metaspace;
        this.split = split;
        this.decoder = decoder;
        this.v = v;
        this.normalizer = normalizer;
        this.post = post;
        this.byteFallback = byteFallback;
        this.fuseUnk = fuseUnk;
        this.unk = unk;
    }

    static SentencePieceBpe of(Path file, JsonNode j, TokenizerCache.Tables cached) {
        JsonNode model = j.get("model");
        BpeVocab v = ByteLevelBpe.vocab(file, j, cached);
        UnicodeNormalizer norms = UnicodeNormalizer.of(file.toString(), j.path("normalizer"));
        PostProcessor post = PostProcessor.of(file.toString(), j.path("post_processor"));
        JsonNode pt = j.path("pre_tokenizer");
        Metaspace meta = pt.path("type").asText().equals("Metaspace") ? Metaspace.of(file, pt) : null;
        Split split = pt.path("type").asText().equals("Split") ? Split.of(file.toString(), pt) : null;
        String unkToken = model.path("unk_token").isTextual() ? model.get("unk_token").asText() : null;
        return new SentencePieceBpe(v, norms, post, model.path("byte_fallback").asBoolean(false),
                model.path("fuse_unk").asBoolean(false), unkToken == null || v.id(unkToken) < 0 ? null : v.id(unkToken), meta, split, PieceDecoder.of(file, j));
    }

    /** The names of byte_fallback's byte tokens, <0x00> to <0xFF>. */
    private static final String[] BYTE_TOKENS = byteTokens();

    private static String[] byteTokens() {
        String[] names = new String[256];
        String hex = "0123456789ABCDEF";
        for (int b = 0; b < 256; b++) names[b] = new String(new char[] {'<', '0', 'x', hex.charAt(b >> 4), hex.charAt(b & 15), '>'});
        return names;
    }

    /** The id of a byte's <0xNN> token, or null when the vocabulary has none. */
    static Integer byteId(BpeVocab v, byte b) {
        int id = v.id(BYTE_TOKENS[b & 0xff]);
        return id < 0 ? null : id;
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
            if (metaspace == null) encodeSegment(s, out);
            else for (String w : metaspace.words(s, first)) encodeSegment(w, out);
        });
    }

    @Override
    public int[] encodeWithSpecialTokens(String text) {
        return post.apply(encode(text));
    }

    private void encodeSegment(String s, List<Integer> out) {
        if (s.isEmpty()) return;
        s = normalizer.apply(s);
        if (split == null) encodeWord(s, out);
        else for (String piece : split.apply(s)) encodeWord(piece, out);
    }

    private void encodeWord(String s, List<Integer> out) {
        List<String> word = new ArrayList<>();
        s.codePoints().forEach(cp -> word.add(new String(Character.toChars(cp))));
        List<String> merged = v.merge(word);
        boolean lastUnk = false;
        for (String sym : merged) {
            int id = v.id(sym);
            if (id >= 0) {
                out.add(id);
                lastUnk = false;
            } else if (byteFallback) {
                for (byte b : sym.getBytes(StandardCharsets.UTF_8)) out.add(byteId(v, b));
                lastUnk = false;
            } else {
                if (unk == null) throw new Lora4jException("symbol '" + sym + "' is outside the vocabulary and the tokenizer has no unk_token");
                if (!(fuseUnk && lastUnk)) out.add(unk);
                lastUnk = true;
            }
        }
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

    /** Byte tokens in a row become their UTF-8 text, or one U+FFFD per byte when they are not valid UTF-8. */
    private static void flushBytes(ByteArrayOutputStream bytes, StringBuilder text) {
        if (bytes.size() == 0) return;
        try {
            text.append(StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes.toByteArray())));
        } catch (CharacterCodingException e) {
            text.append("\uFFFD".repeat(bytes.size()));
        }
        bytes.reset();
    }
}
