package dev.lora4j.tokenizer;

import dev.lora4j.Lora4jException;

import java.util.Map;

/**
 * A model's vocabulary (model.vocab): each entry a token's text and its id, found by text and by id. The
 * entries' text lies end to end in one char array and the lookup is an open-addressing table over
 * {@link String#hashCode} (a hash Java defines exactly), so the whole table is a handful of flat arrays:
 * {@link TokenizerCache} saves and maps them back without rebuilding a map of strings. Two entries may
 * share an id; a text maps to one id (the last given).
 */
final class TokenTable {
    final char[] chars;         // entry e's text is chars[start(e), ends[e])
    final int[] ends;
    final int[] ids;            // entry e's id
    final int[] entryOfId;      // id → its entry, or -1; an id shared by entries takes the last
    final int[] slots;          // hash of the text → entry + 1; 0 is empty; a power of two, at most half full
    private final String[] strings; // entries' text as strings, made on first use (a race only makes one twice)

    TokenTable(char[] chars, int[] ends, int[] ids, int[] entryOfId, int[] slots) {
        this.chars = chars;
        this.ends = ends;
        this.ids = ids;
        this.entryOfId = entryOfId;
        this.slots = slots;
        this.strings = new String[ends.length];
    }

    /** The table of a text → id map; ids above idLimit - 1 are refused by the caller before. */
    static TokenTable of(Map<String, Integer> vocab) {
        int n = vocab.size(), length = 0;
        for (String s : vocab.keySet()) length = Math.addExact(length, s.length());
        char[] chars = new char[length];
        int[] ends = new int[n], ids = new int[n];
        int e = 0, at = 0;
        for (var entry : vocab.entrySet()) {
            String s = entry.getKey();
            s.getChars(0, s.length(), chars, at);
            at += s.length();
            ends[e] = at;
            ids[e++] = entry.getValue();
        }
        return indexed(chars, ends, ids, true);
    }

    /**
     * The table of entries given as their text end to end and their ids (non-negative, bounded by the caller),
     * or null where a text is given twice or two entries share an id.
     */
    static TokenTable distinct(char[] chars, int[] ends, int[] ids) {
        return indexed(chars, ends, ids, false);
    }

    private static TokenTable indexed(char[] chars, int[] ends, int[] ids, boolean sharedIds) {
        int n = ends.length, maxId = -1;
        for (int id : ids) maxId = Math.max(maxId, id);
        int[] entryOfId = new int[maxId + 1];
        java.util.Arrays.fill(entryOfId, -1);
        int[] slots = new int[capacity(n)];
        TokenTable t = new TokenTable(chars, ends, ids, entryOfId, slots);
        int mask = slots.length - 1;
        for (int e = 0; e < n; e++) {
            if (entryOfId[ids[e]] >= 0 && !sharedIds) return null;
            entryOfId[ids[e]] = e;
            int from = t.start(e), i = slot(hash(chars, from, ends[e]), mask);
            for (; slots[i] != 0; i = (i + 1) & mask)
                if (t.textEquals(slots[i] - 1, chars, from, ends[e])) return null; // a map's keys are distinct
            slots[i] = e + 1;
        }
        return t;
    }

    /**
     * Arrays read back from a file whose checksum held: their sizes are checked here (walking every element
     * would cost as much as the rest of a cached load), and a lookup probes at most the whole table.
     */
    static TokenTable checked(char[] chars, int[] ends, int[] ids, int[] entryOfId, int[] slots) {
        int n = ends.length;
        if (ids.length != n || Integer.bitCount(slots.length) != 1 || slots.length < 2L * n || n > 0 && ends[n - 1] != chars.length)
            throw new Lora4jException("token table: inconsistent sizes");
        return new TokenTable(chars, ends, ids, entryOfId, slots);
    }

    /** The id of a token's text, or -1. */
    int id(String s) {
        int mask = slots.length - 1;
        for (int i = slot(s.hashCode(), mask), probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
            int e = slots[i] - 1;
            if (e < 0) return -1;
            if (textEquals(e, s)) return ids[e];
        }
        return -1;
    }

    /** The id of the text {@code s[from, to)}, or -1. */
    int id(char[] s, int from, int to) {
        int mask = slots.length - 1;
        for (int i = slot(hash(s, from, to), mask), probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
            int e = slots[i] - 1;
            if (e < 0) return -1;
            if (textEquals(e, s, from, to)) return ids[e];
        }
        return -1;
    }

    /** The text of an id, or null. */
    String token(int id) {
        if (id < 0 || id >= entryOfId.length || entryOfId[id] < 0) return null;
        return text(entryOfId[id]);
    }

    int size() {
        return ends.length;
    }

    /** One past the largest id. */
    int idLimit() {
        return entryOfId.length;
    }

    String text(int entry) {
        String s = strings[entry];
        if (s == null) strings[entry] = s = new String(chars, start(entry), ends[entry] - start(entry));
        return s;
    }

    int entryId(int entry) {
        return ids[entry];
    }

    private int start(int entry) {
        return entry == 0 ? 0 : ends[entry - 1];
    }

    private boolean textEquals(int entry, String s) {
        int from = start(entry);
        if (ends[entry] - from != s.length()) return false;
        for (int i = 0; i < s.length(); i++) if (chars[from + i] != s.charAt(i)) return false;
        return true;
    }

    private boolean textEquals(int entry, char[] s, int from, int to) {
        int at = start(entry);
        return java.util.Arrays.equals(chars, at, ends[entry], s, from, to);
    }

    /** {@link String#hashCode} of {@code s[from, to)}, as Java defines it. */
    private static int hash(char[] s, int from, int to) {
        int h = 0;
        for (int i = from; i < to; i++) h = 31 * h + s[i];
        return h;
    }

    private static int capacity(int n) {
        return Math.max(16, Integer.highestOneBit(Math.max(1, 2 * n - 1)) << 1);
    }

    /** Fibonacci hashing: the top bits of the product, as many as the mask has. */
    private static int slot(int hash, int mask) {
        return (hash * 0x9E3779B1) >>> Integer.numberOfLeadingZeros(mask);
    }
}
