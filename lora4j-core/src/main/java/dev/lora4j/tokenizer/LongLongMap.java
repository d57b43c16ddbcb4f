package dev.lora4j.tokenizer;

/**
 * An open-addressing map from long to non-negative long, for the merge table a BPE consults for every
 * adjacent pair of every word: boxed keys cost more than the lookups themselves.
 */
final class LongLongMap {
    private static final long EMPTY = Long.MIN_VALUE;
    private long[] keys = new long[16], values = new long[16];
    private int size;

    LongLongMap() {
        java.util.Arrays.fill(keys, EMPTY);
    }

    /**
     * A map over the arrays of {@link #keys()} and {@link #values()} (and {@link #size()}) read back from a
     * file whose checksum held: the sizes are checked here, and a lookup probes at most the whole table.
     */
    static LongLongMap of(long[] keys, long[] values, int size) {
        if (keys.length != values.length || keys.length < 16 || Integer.bitCount(keys.length) != 1 || size < 0 || 2L * size > keys.length)
            throw new dev.lora4j.Lora4jException("map: a table of " + keys.length + " keys, " + values.length + " values and " + size + " entries");
        LongLongMap m = new LongLongMap();
        m.keys = keys;
        m.values = values;
        m.size = size;
        return m;
    }

    int size() {
        return size;
    }

    /** The table's slots, for saving (empty slots hold Long.MIN_VALUE); not to be changed. */
    long[] keys() {
        return keys;
    }

    long[] values() {
        return values;
    }

    /** The value of key, or -1. */
    long get(long key) {
        if (key == EMPTY) return -1;
        int mask = keys.length - 1;
        for (int i = slot(key, mask), probes = 0; probes <= mask; i = (i + 1) & mask, probes++) {
            if (keys[i] == key) return values[i];
            if (keys[i] == EMPTY) return -1;
        }
        return -1;
    }

    void put(long key, long value) {
        if (key == EMPTY || value < 0) throw new IllegalArgumentException("key " + key + ", value " + value);
        if (2 * (size + 1) > keys.length) grow();
        int mask = keys.length - 1;
        int i = slot(key, mask);
        while (keys[i] != EMPTY && keys[i] != key) i = (i + 1) & mask;
        if (keys[i] == EMPTY) size++;
        keys[i] = key;
        values[i] = value;
    }

    private static int slot(long key, int mask) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    private void grow() {
        long[] k = keys, v = values;
        keys = new long[k.length * 2];
        values = new long[k.length * 2];
        java.util.Arrays.fill(keys, EMPTY);
        size = 0;
        for (int i = 0; i < k.length; i++) if (k[i] != EMPTY) put(k[i], v[i]);
    }
}
