package dev.lora4j.tokenizer;

import java.util.Arrays;

/**
 * The fast path of a first load: model.vocab (an object of token: id) and model.merges read from the file's
 * bytes by loops written for exactly those two shapes, straight into a {@link TokenTable} and the merge
 * table, with no string or boxed id per entry. In a fresh JVM a general parser's many small methods run
 * interpreted for most of the file, while a few tight loops are compiled after a few thousand entries
 * (docs/performance-notes.md). The rest of the file (small) is still parsed by the JSON library.
 *
 * <p>Strict: anything this does not read exactly as JSON defines it (malformed UTF-8, an unknown escape, a
 * control character in a string, an id that is not a non-negative int, a key given twice, an id shared by two
 * tokens, a merge naming an unknown token) answers null, and the caller parses the file the general way,
 * whose checks name the problem. So this path never accepts a file the general one refuses, and where both
 * accept one they build the same tables.
 */
final class TableScanner {
    /** Room for a merge's text; a longer one (none in real files) sends the file the general way. */
    private static final int MERGE_CHARS = 4096;

    private final byte[] b;
    private int pos;

    private TableScanner(byte[] json) {
        this.b = json;
    }

    /**
     * A file whose model.vocab is an object (BPE, WordPiece): where model.vocab and model.merges lie in it
     * (merges: -1 when absent), found by walking its structure.
     */
    record Found(byte[] json, int vocabFrom, int vocabTo, int mergesFrom, int mergesTo) {
        /** The file with both values replaced by 0 (the caller drops the two fields): small, for the JSON library. */
        byte[] rest() {
            var out = new java.io.ByteArrayOutputStream(json.length - (vocabTo - vocabFrom) - Math.max(0, mergesTo - mergesFrom) + 2);
            int[][] cuts = mergesFrom < 0 ? new int[][] {{vocabFrom, vocabTo}}
                    : mergesFrom < vocabFrom ? new int[][] {{mergesFrom, mergesTo}, {vocabFrom, vocabTo}}
                    : new int[][] {{vocabFrom, vocabTo}, {mergesFrom, mergesTo}};
            int at = 0;
            for (int[] cut : cuts) {
                out.write(json, at, cut[0] - at);
                out.write('0');
                at = cut[1];
            }
            out.write(json, at, json.length - at);
            return out.toByteArray();
        }

        /** The two tables, or null; ids above {@code maxId} are refused (the caller's bound on the id table). */
        TokenizerCache.Tables tables(long maxId) {
            TableScanner s = new TableScanner(json);
            TokenTable tokens = s.vocab(vocabFrom, vocabTo, maxId);
            if (tokens == null) return null;
            LongLongMap merges = new LongLongMap();
            if (mergesFrom >= 0 && json[mergesFrom] == '[' && !s.merges(mergesFrom, mergesTo, tokens, merges)) return null;
            return new TokenizerCache.Tables(tokens, merges, null, null);
        }
    }

    /** Where the tables lie, or null: a Unigram vocabulary (an array), no vocabulary, or not this shape of JSON. */
    static Found find(byte[] json) {
        TableScanner s = new TableScanner(json);
        if (!s.locate()) return null;
        if (s.vocabFrom < 0 || json[s.vocabFrom] != '{') return null;
        if (s.mergesFrom >= 0 && json[s.mergesFrom] != '[' && !s.literal(s.mergesFrom, "null")) return null;
        return new Found(json, s.vocabFrom, s.vocabTo, s.mergesFrom, s.mergesTo);
    }

    // ---- the structure: only the top object's "model" and the model's "vocab" and "merges" matter ----

    private int vocabFrom = -1, vocabTo = -1, mergesFrom = -1, mergesTo = -1;

    private boolean locate() {
        boolean modelSeen = false;
        ws();
        if (!take('{')) return false;
        ws();
        if (peek() == '}') return false; // no model
        do {
            int key = key();
            if (key < 0) return false;
            if (isKey(key, "model")) {
                if (modelSeen || peek() != '{') return false;
                modelSeen = true;
                pos++;
                ws();
                if (peek() == '}') {
                    pos++;
                } else {
                    do {
                        int field = key();
                        if (field < 0) return false;
                        int from = pos;
                        if (!skipValue()) return false;
                        if (isKey(field, "vocab")) {
                            if (vocabFrom >= 0) return false;
                            vocabFrom = from;
                            vocabTo = pos;
                        } else if (isKey(field, "merges")) {
                            if (mergesFrom >= 0) return false;
                            mergesFrom = from;
                            mergesTo = pos;
                        } else if (isEscaped(field)) {
                            return false; // an escaped key might spell one of the two
                        }
                        ws();
                    } while (take(','));
                    if (!take('}')) return false;
                }
            } else {
                if (isEscaped(key)) return false;
                if (!skipValue()) return false;
            }
            ws();
        } while (take(','));
        if (!take('}')) return false;
        ws();
        return pos == b.length && modelSeen;
    }

    /** Past a member's key and its colon to the value: where the key's string starts, or -1. */
    private int key() {
        ws();
        int at = pos;
        if (!skipString()) return -1;
        ws();
        if (!take(':')) return -1;
        ws();
        return at;
    }

    /** Whether the string at {@code at} (its opening quote) is {@code name} exactly, unescaped. */
    private boolean isKey(int at, String name) {
        if (at + name.length() + 1 >= b.length || b[at + name.length() + 1] != '"') return false;
        for (int i = 0; i < name.length(); i++) if (b[at + 1 + i] != name.charAt(i)) return false;
        return true;
    }

    /** Whether the string at {@code at} holds a backslash. */
    private boolean isEscaped(int at) {
        for (int i = at + 1; b[i] != '"'; i++) if (b[i] == '\\') return true;
        return false;
    }

    private boolean literal(int at, String word) {
        if (at + word.length() > b.length) return false;
        for (int i = 0; i < word.length(); i++) if (b[at + i] != word.charAt(i)) return false;
        return true;
    }

    /** Past one value; its content is checked by the JSON library (the rest) or by the table readers. */
    private boolean skipValue() {
        if (pos >= b.length) return false;
        byte c = b[pos];
        if (c == '"') return skipString();
        if (c == '{' || c == '[') {
            int depth = 0;
            while (pos < b.length) {
                byte d = b[pos];
                if (d == '"') {
                    if (!skipString()) return false;
                    continue;
                }
                if (d == '{' || d == '[') depth++;
                else if (d == '}' || d == ']') depth--;
                pos++;
                if (depth == 0) return true;
            }
            return false;
        }
        int from = pos;
        while (pos < b.length && "truefalsn0123456789+-.eE".indexOf(b[pos]) >= 0) pos++;
        return pos > from;
    }

    private boolean skipString() {
        if (!take('"')) return false;
        while (pos < b.length) {
            byte c = b[pos++];
            if (c == '"') return true;
            if (c == '\\') pos++;
        }
        return false;
    }

    private void ws() {
        while (pos < b.length && (b[pos] == ' ' || b[pos] == '\n' || b[pos] == '\r' || b[pos] == '\t')) pos++;
    }

    private int peek() {
        return pos < b.length ? b[pos] : -1;
    }

    private boolean take(char c) {
        if (pos < b.length && b[pos] == c) {
            pos++;
            return true;
        }
        return false;
    }

    // ---- the tables ----

    /** An object of "token": id as a table: the text decoded into one char array end to end. */
    private TokenTable vocab(int from, int to, long maxId) {
        pos = from + 1;
        char[] chars = new char[to - from]; // a JSON string never has more UTF-16 units than bytes
        int[] ends = new int[1024], ids = new int[1024];
        int n = 0, at = 0;
        ws();
        if (peek() != '}') {
            do {
                ws();
                if (!take('"')) return null;
                at = string(chars, at);
                if (at < 0) return null;
                ws();
                if (!take(':')) return null;
                ws();
                long id = id();
                if (id < 0 || id > maxId) return null;
                if (n == ends.length) {
                    ends = Arrays.copyOf(ends, 2 * n);
                    ids = Arrays.copyOf(ids, 2 * n);
                }
                ends[n] = at;
                ids[n++] = (int) id;
                ws();
            } while (take(','));
        }
        if (!take('}') || pos != to) return null;
        return TokenTable.distinct(Arrays.copyOf(chars, at), Arrays.copyOf(ends, n), Arrays.copyOf(ids, n));
    }

    /** An array of "a b" or ["a", "b"] into {@code table}, rank by rank, as {@link BpeVocab#addMerge} does. */
    private boolean merges(int from, int to, TokenTable tokens, LongLongMap table) {
        pos = from + 1;
        char[] text = new char[MERGE_CHARS];
        ws();
        if (peek() == ']') return take(']') && pos == to;
        int r = 0;
        do {
            ws();
            int ia, ib, iab;
            if (take('"')) {
                int n = string(text, 0);
                if (n < 0) return false;
                int space = -1;
                for (int i = 0; i < n; i++) {
                    if (text[i] != ' ') continue;
                    if (space >= 0) return false;
                    space = i;
                }
                if (space <= 0 || space == n - 1) return false;
                ia = tokens.id(text, 0, space);
                ib = tokens.id(text, space + 1, n);
                System.arraycopy(text, space + 1, text, space, n - space - 1);
                iab = tokens.id(text, 0, n - 1);
            } else if (take('[')) {
                ws();
                if (!take('"')) return false;
                int na = string(text, 0);
                if (na < 0) return false;
                ws();
                if (!take(',')) return false;
                ws();
                if (!take('"')) return false;
                int n = string(text, na);
                if (n < 0) return false;
                ws();
                if (!take(']')) return false;
                ia = tokens.id(text, 0, na);
                ib = tokens.id(text, na, n);
                iab = tokens.id(text, 0, n);
            } else {
                return false;
            }
            if (ia < 0 || ib < 0 || iab < 0) return false;
            BpeVocab.addMerge(table, ia, ib, iab, r++);
            ws();
        } while (take(','));
        return take(']') && pos == to;
    }

    /** A non-negative JSON integer that fits an int, or -1. */
    private long id() {
        int from = pos;
        long v = 0;
        while (pos < b.length && b[pos] >= '0' && b[pos] <= '9') {
            v = 10 * v + (b[pos++] - '0');
            if (v > Integer.MAX_VALUE) return -1;
        }
        int digits = pos - from;
        if (digits == 0 || digits > 1 && b[from] == '0') return -1;
        if (pos < b.length && (b[pos] == '.' || b[pos] == 'e' || b[pos] == 'E')) return -1;
        return v;
    }

    /**
     * The string after its opening quote decoded into {@code out} from {@code at}: where its text ends, or -1
     * where it is not well-formed (RFC 8259 escapes; UTF-8 as RFC 3629 defines it, no overlong forms or
     * encoded surrogates), or where it runs out of room in {@code out}.
     */
    private int string(char[] out, int at) {
        while (pos < b.length && at < out.length - 1) {
            int c = b[pos++];
            if (c >= 0x20 && c != '"' && c != '\\') {
                out[at++] = (char) c;
            } else if (c == '"') {
                return at;
            } else if (c == '\\') {
                if (pos >= b.length) return -1;
                switch (b[pos++]) {
                    case '"' -> out[at++] = '"';
                    case '\\' -> out[at++] = '\\';
                    case '/' -> out[at++] = '/';
                    case 'b' -> out[at++] = '\b';
                    case 'f' -> out[at++] = '\f';
                    case 'n' -> out[at++] = '\n';
                    case 'r' -> out[at++] = '\r';
                    case 't' -> out[at++] = '\t';
                    case 'u' -> {
                        if (pos + 4 > b.length) return -1;
                        int u = 0;
                        for (int i = 0; i < 4; i++) {
                            int h = Character.digit(b[pos++], 16);
                            if (h < 0) return -1;
                            u = u << 4 | h;
                        }
                        out[at++] = (char) u;
                    }
                    default -> {
                        return -1;
                    }
                }
            } else if (c >= 0 && c < 0x20) {
                return -1;
            } else {
                at = multiByte(c & 0xFF, out, at);
                if (at < 0) return -1;
            }
        }
        return -1;
    }

    /** A UTF-8 sequence whose lead byte {@code lead} was read; where the text ends after it, or -1. */
    private int multiByte(int lead, char[] out, int at) {
        int need, min, max, cp;
        if (lead >= 0xC2 && lead <= 0xDF) {
            need = 1;
            cp = lead & 0x1F;
            min = 0x80;
            max = 0xBF;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            need = 2;
            cp = lead & 0x0F;
            min = lead == 0xE0 ? 0xA0 : 0x80;
            max = lead == 0xED ? 0x9F : 0xBF;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            need = 3;
            cp = lead & 0x07;
            min = lead == 0xF0 ? 0x90 : 0x80;
            max = lead == 0xF4 ? 0x8F : 0xBF;
        } else {
            return -1;
        }
        if (pos + need > b.length) return -1;
        for (int i = 0; i < need; i++) {
            int c = b[pos++] & 0xFF;
            if (c < (i == 0 ? min : 0x80) || c > (i == 0 ? max : 0xBF)) return -1;
            cp = cp << 6 | c & 0x3F;
        }
        if (cp < 0x10000) {
            out[at++] = (char) cp;
        } else {
            out[at++] = Character.highSurrogate(cp);
            out[at++] = Character.lowSurrogate(cp);
        }
        return at;
    }
}
