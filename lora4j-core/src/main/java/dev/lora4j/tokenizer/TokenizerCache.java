package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.io.AtomicFiles;
import dev.lora4j.io.ModelFiles;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32;
import java.util.zip.CRC32C;
import java.util.zip.CheckedOutputStream;

/**
 * The tables a tokenizer.json's vocabulary and merges become, kept on disk so that the next load reads them
 * back in a few bulk copies instead of parsing JSON and rebuilding maps: parsing is most of a load, and in a
 * fresh JVM it runs interpreted. One entry per file as it stands (its real path, size, modification time and
 * inode: an edited file is a new entry), in {@code $LORA4J_CACHE/tokenizers} (the system property
 * {@code lora4j.cache} first; by default {@code $XDG_CACHE_HOME/lora4j} or {@code ~/.cache/lora4j};
 * {@code off} turns it off). An entry that cannot be read or does not check out (format, identity, sizes, its
 * CRC32C) is ignored and written again; one that cannot be written is skipped: the cache only ever saves
 * time. The checksum guards against damage; the directory is trusted as the user's own files are.
 */
final class TokenizerCache {
    private TokenizerCache() {}

    /**
     * What model.vocab and model.merges become; scores and prefixes are a Unigram model's, else null (prefixes
     * also when the tables come from {@link TokenizerJson}: the model then builds them).
     */
    record Tables(TokenTable tokens, LongLongMap merges, double[] scores, LongLongMap prefixes) {}

    /** A tokenizer whose tables can be saved. */
    interface Cacheable {
        Tables tables();
    }

    /** A tokenizer and whether it came from the cache (for tests and benchmarks). */
    record Loaded(Tokenizer tokenizer, boolean fromCache) {}

    /** Bumped whenever the tables' layout or meaning changes, so older entries are not read. */
    private static final int FORMAT = 2;
    private static final long MAGIC = 0x4C_34_4A_54_4F_4B_31_00L; // "L4JTOK1\0"
    private static final int HEADER = 8 + 4 + 4, TRAILER = 8;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The cache's directory as configured, or null when it is off. */
    static Path directory() {
        String configured = System.getProperty("lora4j.cache", System.getenv("LORA4J_CACHE"));
        if (configured != null && !configured.isBlank()) return configured.equals("off") ? null : Path.of(configured).resolve("tokenizers");
        String xdg = System.getenv("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Path.of(xdg, "lora4j", "tokenizers");
        String home = System.getProperty("user.home");
        return home == null || home.isBlank() ? null : Path.of(home, ".cache", "lora4j", "tokenizers");
    }

    /** A tokenizer.json through the cache in {@code dir} (null: no cache). */
    static Loaded load(Path file, Path dir) {
        byte[] key = dir == null ? null : identity(file);
        Path entry = key == null ? null : dir.resolve(name(key));
        if (entry != null) awaitWrite(entry);
        if (entry != null && Files.isRegularFile(entry)) {
            try {
                return new Loaded(read(file, entry, key), true);
            } catch (IOException | RuntimeException unreadable) {
                // written again below
            }
        }
        var streamed = TokenizerJson.read(file);
        JsonNode j = streamed != null ? streamed.rest() : ModelFiles.readJson(file);
        Tokenizer t = TokenizerBuilder.build(file, j, streamed != null ? streamed.tables() : null);
        if (entry != null && t instanceof Cacheable c) writeLater(entry, key, withoutTables(j), c.tables());
        return new Loaded(t, false);
    }

    /** Entries being written, by path: a load of the same entry waits for its write first. */
    private static final Map<Path, Thread> WRITING = new ConcurrentHashMap<>();
    /** How long the JVM's exit waits for writes still running (System.exit does not wait for threads). */
    private static final long EXIT_WAIT_MILLIS = 10_000;

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            long deadline = System.currentTimeMillis() + EXIT_WAIT_MILLIS;
            for (Thread w : WRITING.values()) {
                try {
                    w.join(Math.max(1, deadline - System.currentTimeMillis()));
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "lora4j-tokenizer-cache-exit"));
    }

    /**
     * Writes an entry on a thread of its own: the caller has its tokenizer meanwhile (a first load is where a
     * short command spends its time, and the write would add a third to it). The thread is not a daemon and the
     * JVM's exit waits for it, so an entry is whole or absent; one that cannot be written is skipped (a
     * read-only or full disk: the next load parses again).
     */
    private static void writeLater(Path entry, byte[] key, JsonNode rest, Tables t) {
        Thread w = Thread.ofPlatform().name("lora4j-tokenizer-cache").unstarted(() -> {
            try {
                write(entry, key, rest, t);
            } catch (IOException | RuntimeException unwritable) {
                // the cache only ever saves time
            } finally {
                WRITING.remove(entry, Thread.currentThread());
            }
        });
        if (WRITING.putIfAbsent(entry, w) == null) w.start();
    }

    /** Waits for the write of an entry, if one runs. */
    private static void awaitWrite(Path entry) {
        Thread w = WRITING.get(entry);
        if (w == null) return;
        try {
            w.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits for every write that runs (tests). */
    static void awaitWrites() {
        WRITING.keySet().forEach(TokenizerCache::awaitWrite);
    }

    /**
     * What stands for the file's content without reading it: its real path, size, modification time and
     * file key (device and inode), as Python's .pyc files and ccache's direct mode do; null when the file
     * cannot be read (the parse then names the problem).
     */
    private static byte[] identity(Path file) {
        try {
            Path real = file.toRealPath();
            var a = Files.readAttributes(real, java.nio.file.attribute.BasicFileAttributes.class);
            return (real + "\n" + a.size() + "\n" + a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS) + "\n" + a.fileKey())
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The entry's file name: two CRCs of the identity (the entry holds the identity itself, compared in full). */
    private static String name(byte[] identity) {
        CRC32C c = new CRC32C();
        c.update(identity);
        CRC32 d = new CRC32();
        d.update(identity);
        String hex = Long.toHexString(c.getValue() << 32 | d.getValue());
        return "0".repeat(16 - hex.length()) + hex + ".tables";
    }

    /** The tokenizer.json without model.vocab and model.merges (the rest is small: it is parsed again on a cache hit). */
    private static JsonNode withoutTables(JsonNode j) {
        ObjectNode rest = JSON.createObjectNode(), model = JSON.createObjectNode();
        j.properties().forEach(e -> rest.set(e.getKey(), e.getValue()));
        j.get("model").properties().forEach(e -> {
            if (!e.getKey().equals("vocab") && !e.getKey().equals("merges")) model.set(e.getKey(), e.getValue());
        });
        rest.set("model", model);
        return rest;
    }

    private static void write(Path entry, byte[] key, JsonNode rest, Tables t) throws IOException {
        byte[] json = JSON.writeValueAsBytes(rest);
        AtomicFiles.write(entry, raw -> {
            CRC32C crc = new CRC32C();
            var out = new LittleEndianOut(new CheckedOutputStream(raw, crc));
            out.longs(MAGIC);
            out.ints(FORMAT);
            out.array(key);
            out.array(json);
            out.array(t.tokens().chars);
            out.array(t.tokens().ends);
            out.array(t.tokens().ids);
            out.array(t.tokens().entryOfId);
            out.array(t.tokens().slots);
            out.array(t.merges().keys());
            out.array(t.merges().values());
            out.ints(t.merges().size());
            out.ints(t.scores() == null ? 0 : 1);
            if (t.scores() != null) {
                out.array(t.scores());
                out.array(t.prefixes().keys());
                out.array(t.prefixes().values());
                out.ints(t.prefixes().size());
            }
            out.flush();
            new DataOutputStream(raw).writeLong(Long.reverseBytes(crc.getValue()));
        });
    }

    private static Tokenizer read(Path file, Path entry, byte[] key) throws IOException {
        ByteBuffer m = ByteBuffer.wrap(readAll(entry)).order(ByteOrder.LITTLE_ENDIAN);
        int size = m.capacity();
        if (size < HEADER + TRAILER) throw new IOException("size " + size);
        CRC32C crc = new CRC32C();
        crc.update(m.slice(0, size - TRAILER));
        if (crc.getValue() != m.getLong(size - TRAILER)) throw new IOException("checksum");
        var in = new Reader(m.limit(size - TRAILER));
        if (in.oneLong() != MAGIC || in.oneInt() != FORMAT || !java.util.Arrays.equals(in.bytes(), key)) throw new IOException("another file or format");
        JsonNode rest = JSON.readTree(in.bytes());
        TokenTable tokens = TokenTable.checked(in.chars(), in.ints(), in.ints(), in.ints(), in.ints());
        LongLongMap merges = LongLongMap.of(in.longs(), in.longs(), in.oneInt());
        Tables t;
        if (in.oneInt() == 0) {
            t = new Tables(tokens, merges, null, null);
        } else {
            double[] scores = in.doubles();
            if (scores.length != tokens.idLimit()) throw new IOException("scores");
            t = new Tables(tokens, merges, scores, LongLongMap.of(in.longs(), in.longs(), in.oneInt()));
        }
        if (!in.atEnd()) throw new IOException("trailing bytes");
        return TokenizerBuilder.build(file, rest, t);
    }

    /**
     * The file's bytes, read 64 KiB at a time: one large read has the JDK allocate a native buffer of the
     * whole size, and touching it the first time costs more than the read (docs/performance-notes.md).
     */
    static byte[] readAll(Path file) throws IOException {
        try (var in = new java.io.FileInputStream(file.toFile())) {
            long size = in.getChannel().size();
            if (size > Integer.MAX_VALUE - 8) throw new IOException("size " + size);
            byte[] bytes = new byte[(int) size];
            for (int n = 0, r; n < bytes.length; n += r) {
                r = in.read(bytes, n, Math.min(1 << 16, bytes.length - n));
                if (r < 0) throw new IOException("changed while read");
            }
            if (in.read() >= 0) throw new IOException("changed while read");
            return bytes;
        }
    }

    /** Reads arrays, each an int length then its elements, little-endian, never past the end. */
    private static final class Reader {
        private final ByteBuffer m;

        Reader(ByteBuffer m) {
            this.m = m;
        }

        boolean atEnd() {
            return !m.hasRemaining();
        }

        private void need(long bytes) throws IOException {
            if (bytes > m.remaining()) throw new IOException("truncated");
        }

        int oneInt() throws IOException {
            need(4);
            return m.getInt();
        }

        long oneLong() throws IOException {
            need(8);
            return m.getLong();
        }

        private int length(int width) throws IOException {
            int n = oneInt();
            if (n < 0) throw new IOException("array of " + n);
            need((long) n * width);
            return n;
        }

        byte[] bytes() throws IOException {
            byte[] a = new byte[length(1)];
            m.get(a);
            return a;
        }

        char[] chars() throws IOException {
            char[] a = new char[length(2)];
            m.asCharBuffer().get(a);
            m.position(m.position() + 2 * a.length);
            return a;
        }

        int[] ints() throws IOException {
            int[] a = new int[length(4)];
            m.asIntBuffer().get(a);
            m.position(m.position() + 4 * a.length);
            return a;
        }

        long[] longs() throws IOException {
            long[] a = new long[length(8)];
            m.asLongBuffer().get(a);
            m.position(m.position() + 8 * a.length);
            return a;
        }

        double[] doubles() throws IOException {
            double[] a = new double[length(8)];
            m.asDoubleBuffer().get(a);
            m.position(m.position() + 8 * a.length);
            return a;
        }
    }

    /** Writes what {@link Reader} reads, through a buffer of 1 MiB. */
    private static final class LittleEndianOut {
        private final OutputStream out;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);

        LittleEndianOut(OutputStream out) {
            this.out = out;
        }

        private void room(int bytes) throws IOException {
            if (buf.remaining() < bytes) flush();
        }

        void flush() throws IOException {
            out.write(buf.array(), 0, buf.position());
            buf.clear();
            out.flush();
        }

        void ints(int... v) throws IOException {
            bulk(v.length, 4, (at, n) -> buf.asIntBuffer().put(v, at, n));
        }

        void longs(long... v) throws IOException {
            bulk(v.length, 8, (at, n) -> buf.asLongBuffer().put(v, at, n));
        }

        void array(byte[] a) throws IOException {
            ints(a.length);
            flush();
            out.write(a);
        }

        void array(char[] a) throws IOException {
            ints(a.length);
            bulk(a.length, 2, (at, n) -> buf.asCharBuffer().put(a, at, n));
        }

        void array(int[] a) throws IOException {
            ints(a.length);
            ints(a);
        }

        void array(long[] a) throws IOException {
            ints(a.length);
            longs(a);
        }

        void array(double[] a) throws IOException {
            ints(a.length);
            bulk(a.length, 8, (at, n) -> buf.asDoubleBuffer().put(a, at, n));
        }

        /** Elements [at, at + n) of an array into the buffer through one of its typed views, at its position. */
        private interface Part {
            void put(int at, int n);
        }

        /**
         * An array of {@code length} elements {@code width} bytes wide, as many at a time as the buffer has room
         * for: bulk copies, where a loop of single puts would run interpreted in a fresh JVM.
         */
        private void bulk(int length, int width, Part part) throws IOException {
            for (int at = 0, n; at < length; at += n) {
                room(width);
                n = Math.min(length - at, buf.remaining() / width);
                part.put(at, n);
                buf.position(buf.position() + width * n);
            }
        }
    }
}
