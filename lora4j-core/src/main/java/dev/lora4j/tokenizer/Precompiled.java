package dev.lora4j.tokenizer;

import dev.lora4j.Lora4jException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.text.BreakIterator;
import java.util.Base64;
import java.util.function.UnaryOperator;

/**
 * SentencePiece's compiled normalization rules (the {@code Precompiled} normalizer of T5, XLM-R and ALBERT
 * files, {@code precompiled_charsmap}): a little-endian u32 giving the trie's size in bytes, the trie as
 * darts-clone double-array units (u32), then the replacements, each UTF-8 and NUL-terminated. A key's value
 * is the offset of its replacement.
 *
 * <p>Applied as Rust tokenizers applies it: text is cut into extended grapheme clusters; a cluster shorter
 * than 6 UTF-8 bytes is replaced whole when some prefix of it is a key, by the replacement of the shortest
 * such prefix; otherwise each of its code points is replaced when it is a key itself, and kept when not.
 */
final class Precompiled implements UnaryOperator<String> {
    private final int[] units;
    private final byte[] replacements;

    private Precompiled(int[] units, byte[] replacements) {
        this.units = units;
        this.replacements = replacements;
    }

    /** Reads a base64 precompiled_charsmap; origin names the file in errors. */
    static Precompiled of(String origin, String base64) {
        byte[] blob;
        try {
            blob = Base64.getDecoder().decode(base64);
        } catch (IllegalArgumentException e) {
            throw new Lora4jException(origin + ": Precompiled normalizer: precompiled_charsmap is not base64 (" + e.getMessage() + ")");
        }
        ByteBuffer b = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        if (blob.length < 4) throw new Lora4jException(origin + ": Precompiled normalizer: precompiled_charsmap holds " + blob.length + " bytes, not even the trie's size");
        long trieBytes = Integer.toUnsignedLong(b.getInt(0));
        if (trieBytes % 4 != 0 || trieBytes == 0 || trieBytes > blob.length - 4L)
            throw new Lora4jException(origin + ": Precompiled normalizer: a trie of " + trieBytes + " bytes does not fit the " + blob.length + "-byte precompiled_charsmap");
        int[] units = new int[(int) (trieBytes / 4)];
        for (int i = 0; i < units.length; i++) units[i] = b.getInt(4 + 4 * i);
        byte[] replacements = new byte[blob.length - 4 - (int) trieBytes];
        System.arraycopy(blob, 4 + (int) trieBytes, replacements, 0, replacements.length);
        return new Precompiled(units, replacements);
    }

    @Override
    public String apply(String s) {
        if (s.isEmpty()) return s;
        StringBuilder out = new StringBuilder(s.length());
        BreakIterator graphemes = BreakIterator.getCharacterInstance();
        graphemes.setText(s);
        for (int start = graphemes.first(), end = graphemes.next(); end != BreakIterator.DONE; start = end, end = graphemes.next()) {
            String g = s.substring(start, end);
            byte[] bytes = g.getBytes(StandardCharsets.UTF_8);
            String whole = bytes.length < 6 ? replacement(bytes) : null;
            if (whole != null) {
                out.append(whole);
                continue;
            }
            for (int i = 0; i < g.length(); ) {
                int cp = g.codePointAt(i), n = Character.charCount(cp);
                String one = replacement(g.substring(i, i + n).getBytes(StandardCharsets.UTF_8));
                out.append(one != null ? one : g.substring(i, i + n));
                i += n;
            }
        }
        return out.toString();
    }

    /** The replacement of the shortest prefix of key that the trie holds, or null when none does. */
    private String replacement(byte[] key) {
        int value = firstPrefixValue(key);
        if (value < 0) return null;
        int end = value;
        while (end < replacements.length && replacements[end] != 0) end++;
        return new String(replacements, value, end - value, StandardCharsets.UTF_8);
    }

    // darts-clone units: label in bits 0-7 (bit 31 set on a leaf, so no label matches it), has-leaf bit 8,
    // offset from bit 10 (shifted left by 8 more when bit 9 is set); a child with label c sits at pos ^ offset ^ c,
    // the node's own value (a leaf unit) at pos ^ offset.
    private int firstPrefixValue(byte[] key) {
        int pos = 0;
        if (units.length == 0) return -1;
        pos ^= offset(units[0]);
        for (byte kb : key) {
            int c = kb & 0xff;
            if (c == 0) return -1;
            pos ^= c;
            if (pos < 0 || pos >= units.length) return -1;
            int unit = units[pos];
            if ((unit & (0x80000000 | 0xff)) != c) return -1;
            pos ^= offset(unit);
            if ((unit >>> 8 & 1) == 1) {
                if (pos < 0 || pos >= units.length) return -1;
                int value = units[pos] & 0x7fffffff;
                return value < replacements.length ? value : -1;
            }
        }
        return -1;
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }
}
